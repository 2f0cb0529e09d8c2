"""Torch training checkpoints shared by the trainers (MLP rules, learned optimizer)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from neurosim.atomic import atomic_path

__all__ = ["resume_torch", "save_torch"]


def save_torch(path: str | Path, state: dict[str, Any]) -> None:
    """Write ``state`` (tensors, numbers, strings, lists, dicts) atomically.

    Such a file loads with ``torch.load(path, weights_only=True)``. Tensors are
    stored on the CPU, so a checkpoint written on a GPU loads anywhere.
    """
    with atomic_path(path) as tmp:
        torch.save(_to_cpu(state), tmp)


def _to_cpu(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_to_cpu(v) for v in value)
    return value


def resume_torch(
    path: str | Path | None,
    resume: bool,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    model_key: str,
) -> dict[str, Any] | None:
    """Restore ``model`` and ``optimizer`` from a checkpoint if asked and present.

    Returns the checkpoint's dictionary (for the trainer's own counters and
    history), or None when there is nothing to resume from.
    """
    if not resume or path is None or not Path(path).exists():
        return None
    state = torch.load(path, weights_only=True, map_location="cpu")
    model.load_state_dict(state[model_key])
    optimizer.load_state_dict(state["optimizer"])
    return state
