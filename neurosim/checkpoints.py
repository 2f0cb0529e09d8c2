"""Training checkpoints shared by the trainers (MLP rules, learned optimizer, RL agents).

Torch checkpoints hold tensors, numbers, strings, lists and dicts only, so they
load with ``torch.load(path, weights_only=True)``. Every reader goes through
:func:`load_torch` or :func:`load_npz`, which turn a truncated or foreign file
into one line, ``PATH is truncated or not a neurosim checkpoint``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from neurosim.atomic import atomic_path
from neurosim.errors import NeurosimError

__all__ = [
    "corrupt_checkpoint",
    "load_npz",
    "load_torch",
    "missing_checkpoint",
    "resume_torch",
    "save_torch",
]


def corrupt_checkpoint(path: str | Path) -> NeurosimError:
    """The error for a checkpoint file that does not read as one."""
    return NeurosimError(f"{path} is truncated or not a neurosim checkpoint")


def missing_checkpoint(path: str | Path) -> NeurosimError:
    """The error for ``--resume`` without a checkpoint to resume from."""
    return NeurosimError(
        f"{path}: no checkpoint to resume from (run without --resume to start afresh)"
    )


def save_torch(path: str | Path, state: dict[str, Any]) -> None:
    """Write ``state`` (tensors, numbers, strings, lists, dicts) atomically.

    Such a file loads with ``torch.load(path, weights_only=True)``. Tensors are
    stored on the CPU, so a checkpoint written on a GPU loads anywhere.
    """
    import torch

    with atomic_path(path) as tmp:
        torch.save(_to_cpu(state), tmp)


def _to_cpu(value: Any) -> Any:
    import torch

    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_to_cpu(v) for v in value)
    return value


def load_torch(path: str | Path, keys: tuple[str, ...] = ()) -> dict[str, Any]:
    """Read a torch checkpoint (``weights_only=True``, onto the CPU).

    Parameters
    ----------
    path : str or Path
    keys : tuple of str
        Keys the checkpoint must have.

    Raises
    ------
    NeurosimError
        If the file is missing, truncated, not a torch file, or not a
        dictionary with ``keys``.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise NeurosimError(f"{path}: no such checkpoint file")
    try:
        state = torch.load(path, weights_only=True, map_location="cpu")
    except Exception:  # unpickling and zip errors have no common base class
        raise corrupt_checkpoint(path) from None
    if not isinstance(state, dict) or any(key not in state for key in keys):
        raise corrupt_checkpoint(path)
    return state


def load_npz(path: str | Path, keys: tuple[str, ...] = ()) -> dict[str, Any]:
    """Read every array of an ``.npz`` checkpoint into memory (no pickles).

    Raises
    ------
    NeurosimError
        If the file is missing, truncated, not an ``.npz`` file or lacks ``keys``.
    """
    import numpy as np

    path = Path(path)
    if not path.is_file():
        raise NeurosimError(f"{path}: no such checkpoint file")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except Exception:  # zipfile, zlib, format and pickle errors alike
        raise corrupt_checkpoint(path) from None
    if any(key not in arrays for key in keys):
        raise corrupt_checkpoint(path)
    return arrays


def resume_torch(
    path: str | Path | None,
    resume: bool,
    model: Any,
    optimizer: Any,
    model_key: str,
) -> dict[str, Any] | None:
    """Restore ``model`` and ``optimizer`` from a checkpoint if asked and present.

    Returns the checkpoint's dictionary (for the trainer's own counters and
    history), or None when there is nothing to resume from. A checkpoint that
    does not read, or whose tensors do not fit ``model``, is a
    :class:`NeurosimError`.
    """
    if not resume or path is None or not Path(path).exists():
        return None
    state = load_torch(path, (model_key, "optimizer"))
    try:
        model.load_state_dict(state[model_key])
        optimizer.load_state_dict(state["optimizer"])
    except (KeyError, RuntimeError, ValueError, TypeError):
        raise NeurosimError(
            f"{path}: its tensors do not fit this model (other sizes or settings?)"
        ) from None
    return state
