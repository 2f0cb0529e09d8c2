"""Entry points behind ``neurosim rl-train`` and ``neurosim rl-control``.

``rl-train`` builds an algorithm's config from its defaults (the paper's),
the documented per-environment settings of that algorithm (``TUNED``) and
``--set key=value`` overrides, then trains. ``rl-control`` runs a trained
actor as a Brian2 rate network in closed loop, checks its return against the
torch actor's on the same seeds and writes the recording and its plots.
"""

from __future__ import annotations

import dataclasses
import json
from importlib import import_module
from pathlib import Path
from typing import Any

import numpy as np

from neurosim.errors import NeurosimError
from neurosim.schema import load_yaml_text

__all__ = ["ALGORITHMS", "control", "control_out", "make_config", "train"]

#: Algorithm name -> (module, config class).
ALGORITHMS = {"a3c": ("neurosim.rl.a3c", "A3CConfig"), "ddpg": ("neurosim.rl.ddpg", "DDPGConfig")}


def _module(algorithm: str):
    if algorithm not in ALGORITHMS:
        raise NeurosimError(
            f"algorithm: has to be one of {', '.join(ALGORITHMS)}, got {algorithm!r}"
        )
    return import_module(ALGORITHMS[algorithm][0])


def make_config(algorithm: str, env_id: str, overrides: list[str] | None = None) -> Any:
    """The config of ``algorithm`` on ``env_id``: defaults, tuned settings, then overrides.

    Parameters
    ----------
    algorithm : str
        ``a3c`` or ``ddpg``.
    env_id : str
        Gymnasium environment id.
    overrides : list of str
        ``key=value`` (YAML values), keys are the config's fields.
    """
    module = _module(algorithm)
    cls = getattr(module, ALGORITHMS[algorithm][1])
    fields = {f.name for f in dataclasses.fields(cls)}
    defaults = {
        f.name: f.default for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING
    }
    values: dict[str, Any] = {"env_id": env_id, **getattr(module, "TUNED", {}).get(env_id, {})}
    for item in overrides or []:
        if "=" not in item:
            raise NeurosimError(f"--set {item!r}: expected key=value")
        key, text = (s.strip() for s in item.split("=", 1))
        if key not in fields:
            raise NeurosimError(
                f"--set {item!r}: {cls.__name__} has no field {key!r} "
                f"(fields: {', '.join(sorted(fields))})"
            )
        # YAML 1.2 numbers: "1e-3" is 0.001, not the string YAML 1.1 makes of it
        value = load_yaml_text(text, f"--set {key}")
        value = tuple(value) if isinstance(value, list) else value
        if value is None and key in defaults and defaults[key] is None:
            values[key] = None  # null: the field's own default rule (eval_every, stop_return)
        else:
            values[key] = _typed(value, _example(cls, key, defaults.get(key)), item)
    try:
        return cls(**values)
    except TypeError as err:
        raise NeurosimError(f"{cls.__name__}: {err}") from None


def _example(cls: type, key: str, default: Any) -> Any:
    """A value of the field's type: its default, or for an optional number (default None) 0."""
    if default is not None:
        return default
    kind = str(next(f.type for f in dataclasses.fields(cls) if f.name == key))
    return 0.0 if "float" in kind else 0 if "int" in kind else None


def _typed(value: Any, default: Any, item: str) -> Any:
    """``value`` checked against the type of the field's default (ints widen to floats)."""
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise NeurosimError(f"--set {item!r}: expected true or false")
    elif isinstance(default, int | float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise NeurosimError(f"--set {item!r}: expected a number")
        if isinstance(default, int) and not isinstance(value, int):
            raise NeurosimError(f"--set {item!r}: expected an integer")
        return float(value) if isinstance(default, float) else value
    return value


def train(algorithm: str, config: Any, out: Path, *, resume: bool, progress: bool):
    """Train ``algorithm`` with ``config``; returns the metrics Dataset."""
    return _module(algorithm).train(config, out, resume=resume, progress=progress)


def control_out(checkpoint: str | Path) -> Path:
    """Default output folder of ``rl-control``: ``results/NAME/controller``.

    ``NAME`` is the run folder of a ``checkpoint.pt`` written by ``rl-train``
    and the file's stem otherwise (``data/rl/cartpole_a3c.pt`` ->
    ``results/cartpole_a3c/controller``): outputs never land next to a
    shipped checkpoint.
    """
    path = Path(checkpoint)
    name = path.parent.name if path.stem == "checkpoint" and path.parent.name else path.stem
    return Path("results") / name / "controller"


def control(
    checkpoint: str | Path,
    out: str | Path,
    *,
    env_id: str | None = None,
    episodes: int = 5,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, list[Path]]:
    """Run a checkpoint's actor in Brian2 and in torch on the same seeds.

    Returns
    -------
    brian2_returns, torch_returns : np.ndarray
    files : list of Path
        ``closed_loop.nc`` and the plots ``activity``, ``tuning`` and ``pca`` (PNG).
    """
    from neurosim.recording import save_recording
    from neurosim.rl.analysis import plot_activity, plot_pca, plot_tuning
    from neurosim.rl.common import evaluate, load_controller
    from neurosim.rl.controller import run_closed_loop

    controller, config = load_controller(checkpoint)
    env_id = env_id or config.get("env_id")
    if not env_id:
        raise NeurosimError(f"{checkpoint}: no env_id in the checkpoint; pass --env")
    ds = run_closed_loop(controller, env_id, episodes, seed)
    torch_returns = evaluate(controller, env_id, episodes, seed)
    ds["torch_episode_return"] = ("episode", torch_returns, {"units": "1"})
    ds.attrs["checkpoint"] = str(checkpoint)
    ds.attrs["training_config"] = json.dumps(config)
    out = Path(out)
    files = [save_recording(ds, out / "closed_loop.nc")]
    files += [
        plot_activity(ds, out / "activity.png"),
        plot_tuning(ds, out / "tuning.png"),
        plot_pca(ds, out / "pca.png"),
    ]
    return ds.episode_return.values, torch_returns, files
