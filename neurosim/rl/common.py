"""What the RL agents share: environments, controllers, evaluation and the run log.

A trained agent's policy is kept as a :class:`Controller`: an ``nn.Sequential``
of ``nn.Linear`` layers and element-wise activations mapping an observation to
either action logits (``discrete``: the action is the argmax) or an action
vector (``continuous``: ``clip(out * scale + offset, low, high)``). That one
form is what :mod:`neurosim.rl.controller` turns into a Brian2 network, so every
algorithm stores its actor this way in its checkpoints.

:class:`RunLog` collects episodes, losses and evaluations during training and
writes them as one xarray Dataset (``metrics.nc``, with provenance) and CSV
tables, atomically. :class:`StopSignals` lets a trainer finish an interrupted
run cleanly (metrics and a checkpoint written) on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import json
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr
from torch import nn

from neurosim.atomic import atomic_path
from neurosim.checkpoints import (
    corrupt_checkpoint,
    load_checkpoint,
    missing_checkpoint,
    save_checkpoint,
)
from neurosim.errors import NeurosimError
from neurosim.memory import require_memory

__all__ = [
    "ACTIVATIONS",
    "CONTROLLER_KINDS",
    "Controller",
    "RunLog",
    "StopSignals",
    "checkpoint_path",
    "evaluate",
    "export_controller",
    "load_controller",
    "make_env",
    "mlp",
]

#: Activations a controller may use, by name (the names Brian2 code uses too).
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
}


def make_env(env_id: str, seed: int | None = None, **kwargs):
    """``gymnasium.make(env_id)``, seeded; an unknown id is a :class:`NeurosimError`."""
    import gymnasium as gym

    try:
        env = gym.make(env_id, **kwargs)
    except gym.error.Error as err:
        raise NeurosimError(
            f"env_id: cannot make gymnasium environment {env_id!r} ({err})"
        ) from None
    if seed is not None:
        env.reset(seed=seed)
        env.action_space.seed(seed)
    return env


def mlp(sizes: list[int], activation: str, out_activation: str | None = None) -> nn.Sequential:
    """``Linear -> activation`` for every hidden layer, then the output layer.

    Parameters
    ----------
    sizes : list of int
        Input, hidden and output widths.
    activation : str
        Hidden activation, a key of :data:`ACTIVATIONS`.
    out_activation : str, optional
        Activation after the output layer (none by default).
    """
    for name in (activation, out_activation):
        if name is not None and name not in ACTIVATIONS:
            raise NeurosimError(
                f"activation: has to be one of {', '.join(ACTIVATIONS)}, got {name!r}"
            )
    # Every agent's networks are built here: refuse widths the machine cannot hold
    # (float32 weights x8: gradients, two optimizer moments, a target or shared copy).
    n_params = sum((n_in + 1) * n_out for n_in, n_out in itertools.pairwise(sizes))
    require_memory(
        {"network": 8 * 4.0 * n_params}, f"hidden {list(sizes[1:-1])}", "use narrower layers"
    )
    layers: list[nn.Module] = []
    for k, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(n_in, n_out))
        last = k == len(sizes) - 2
        name = out_activation if last else activation
        if name is not None:
            layers.append(ACTIVATIONS[name]())
    return nn.Sequential(*layers)


@dataclass
class Controller:
    """A policy as a plain network: observation -> logits or action.

    Attributes
    ----------
    net : nn.Sequential
        ``nn.Linear`` layers and activations from :data:`ACTIVATIONS`.
    kind : str
        ``"discrete"`` (action = argmax of the output) or ``"continuous"``.
    scale, offset, low, high : np.ndarray or None
        Continuous actions are ``clip(out * scale + offset, low, high)``.
    """

    net: nn.Sequential
    kind: str
    scale: np.ndarray | None = None
    offset: np.ndarray | None = None
    low: np.ndarray | None = None
    high: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("discrete", "continuous"):
            raise NeurosimError(f"Controller.kind: discrete or continuous, got {self.kind!r}")
        for module in self.net:
            if not isinstance(module, (nn.Linear, *ACTIVATIONS.values())):
                raise NeurosimError(
                    f"Controller: layers have to be nn.Linear or one of "
                    f"{', '.join(ACTIVATIONS)}, got {type(module).__name__}"
                )

    def action(self, out: np.ndarray) -> np.ndarray | int:
        """The action of one network output (used by torch and Brian2 runs alike)."""
        if self.kind == "discrete":
            return int(np.argmax(out))
        return np.clip(out * self.scale + self.offset, self.low, self.high)

    @torch.no_grad()
    def __call__(self, obs: np.ndarray) -> np.ndarray | int:
        """The action for one observation."""
        out = self.net(torch.as_tensor(np.asarray(obs), dtype=torch.float32)[None])[0]
        return self.action(out.double().numpy())

    def layers(self) -> list[tuple[nn.Linear, str | None]]:
        """``(linear layer, name of the activation after it or None)``, input to output."""
        names = {cls: name for name, cls in ACTIVATIONS.items()}
        out: list[tuple[nn.Linear, str | None]] = []
        for module in self.net:
            if isinstance(module, nn.Linear):
                out.append((module, None))
            else:
                out[-1] = (out[-1][0], names[type(module)])
        return out

    def state(self) -> dict[str, Any]:
        """Tensors, numbers and strings only: loads with ``weights_only=True``."""
        layers = self.layers()
        return {
            "kind": self.kind,
            "sizes": [layers[0][0].in_features] + [lin.out_features for lin, _ in layers],
            "activations": [act or "" for _, act in layers],
            "net": self.net.state_dict(),
            **{
                key: torch.as_tensor(getattr(self, key))
                for key in ("scale", "offset", "low", "high")
                if getattr(self, key) is not None
            },
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Controller:
        """Rebuild a controller from :meth:`state`."""
        try:
            acts = state["activations"]
            if len(set(acts[:-1])) > 1:
                raise NeurosimError("Controller: hidden layers with different activations")
            net = mlp(list(state["sizes"]), acts[0] if acts[:-1] else "relu", acts[-1] or None)
            net.load_state_dict(state["net"])
            extra = {
                key: state[key].double().numpy()
                for key in ("scale", "offset", "low", "high")
                if key in state
            }
            return cls(net, state["kind"], **extra)
        except (KeyError, RuntimeError) as err:
            raise NeurosimError(f"not a controller state ({err})") from None


#: Checkpoint kinds that hold an actor: the trainers' and :func:`export_controller`'s.
CONTROLLER_KINDS = ("a3c", "ddpg", "controller")


def checkpoint_path(out: str | Path, resume: bool) -> Path:
    """A trainer's checkpoint in its output folder; ``--resume`` needs it to exist."""
    path = Path(out) / "checkpoint.pt"
    if resume and not path.exists():
        raise missing_checkpoint(path)
    return path


def load_controller(
    checkpoint: str | Path, kind: str | tuple[str, ...] = CONTROLLER_KINDS
) -> tuple[Controller, dict[str, Any]]:
    """The actor of an RL checkpoint and the config of the run that trained it.

    Parameters
    ----------
    checkpoint : str or Path
        A trainer's ``checkpoint.pt`` or a file of :func:`export_controller`.
    kind : str or tuple of str
        The checkpoint kinds accepted (default: all of :data:`CONTROLLER_KINDS`).

    Raises
    ------
    NeurosimError
        If the file is missing or is not such a checkpoint.
    """
    path = Path(checkpoint)
    state = load_checkpoint(path, kind, keys=("controller",))
    try:
        return Controller.from_state(state["controller"]), dict(state["config"])
    except (NeurosimError, TypeError, ValueError):
        raise corrupt_checkpoint(path) from None


def export_controller(checkpoint: str | Path, path: str | Path) -> Path:
    """Write only the actor and the config of a training checkpoint (a small file to share).

    The result, a ``controller`` checkpoint, loads with :func:`load_controller`
    like the checkpoint itself.
    """
    controller, config = load_controller(checkpoint)
    return save_checkpoint(path, "controller", {"controller": controller.state()}, config=config)


def evaluate(
    policy, env_id: str, episodes: int, seed: int, max_steps: int | None = None
) -> np.ndarray:
    """Returns of ``episodes`` episodes of ``policy`` (obs -> action), seeds ``seed + k``."""
    env = make_env(env_id)
    returns = np.empty(episodes)
    for k in range(episodes):
        obs, _ = env.reset(seed=seed + k)
        total, done, steps = 0.0, False, 0
        while not done:
            obs, reward, terminated, truncated, _ = env.step(policy(obs))
            total += float(reward)
            steps += 1
            done = terminated or truncated or (max_steps is not None and steps >= max_steps)
        returns[k] = total
    env.close()
    return returns


class RunLog:
    """Episodes, losses and evaluations of one training run.

    Parameters
    ----------
    algorithm : str
    config : dataclass
        The run's config (stored as JSON in the Dataset's attributes).
    """

    def __init__(self, algorithm: str, config: Any) -> None:
        self.algorithm = algorithm
        self.config = config
        self.episodes: list[tuple[int, float, int, float]] = []
        self.losses: list[dict[str, float]] = []
        self.evaluations: list[tuple[int, list[float]]] = []
        self.started = time.monotonic()
        self.elapsed_before = 0.0

    def wall_time(self) -> float:
        """Seconds of training so far, runs before a resume included."""
        return self.elapsed_before + time.monotonic() - self.started

    def episode(self, step: int, episodic_return: float, length: int) -> None:
        """Log a finished training episode at environment step ``step``."""
        self.episodes.append((int(step), float(episodic_return), int(length), self.wall_time()))

    def loss(self, step: int, **values: float) -> None:
        """Log the losses of an update at environment step ``step``."""
        self.losses.append({"step": float(step), **{k: float(v) for k, v in values.items()}})

    def evaluation(self, step: int, returns: np.ndarray) -> None:
        """Log the returns of evaluation episodes at environment step ``step``."""
        self.evaluations.append((int(step), [float(r) for r in returns]))

    def state(self) -> dict[str, Any]:
        """The log as lists of numbers (goes into checkpoints)."""
        return {
            "episodes": [list(e) for e in self.episodes],
            "losses": [dict(v) for v in self.losses],
            "evaluations": [[s, list(r)] for s, r in self.evaluations],
            "wall_time": self.wall_time(),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Continue from :meth:`state` (resume)."""
        self.episodes = [(int(s), float(r), int(n), float(t)) for s, r, n, t in state["episodes"]]
        self.losses = [dict(v) for v in state["losses"]]
        self.evaluations = [(int(s), list(r)) for s, r in state["evaluations"]]
        self.elapsed_before = float(state["wall_time"])
        self.started = time.monotonic()

    def dataset(self, **attrs: Any) -> xr.Dataset:
        """The log as a Dataset: ``episode``, ``update`` and ``evaluation`` dimensions."""
        from neurosim.recording import provenance

        ep = np.array(self.episodes, float).reshape(-1, 4)
        data = {
            "episode_step": ("episode", ep[:, 0].astype(np.int64), {"units": "1"}),
            "episodic_return": ("episode", ep[:, 1], {"units": "1"}),
            "episode_length": ("episode", ep[:, 2].astype(np.int64), {"units": "1"}),
            "episode_wall_time": ("episode", ep[:, 3], {"units": "second"}),
        }
        keys = sorted({k for v in self.losses for k in v} - {"step"})
        data["update_step"] = ("update", [v["step"] for v in self.losses], {"units": "1"})
        for key in keys:
            values = [v.get(key, np.nan) for v in self.losses]
            data[f"losses_{key}"] = ("update", np.asarray(values, float), {"units": "1"})
        n_eval = max((len(r) for _, r in self.evaluations), default=0)
        ret = np.full((len(self.evaluations), n_eval), np.nan)
        for i, (_, r) in enumerate(self.evaluations):
            ret[i, : len(r)] = r
        data["evaluation_step"] = ("evaluation", [s for s, _ in self.evaluations], {"units": "1"})
        data["evaluation_return"] = (("evaluation", "eval_episode"), ret, {"units": "1"})
        config = dataclasses.asdict(self.config)
        ds = xr.Dataset({k: xr.DataArray(v[1], dims=v[0], attrs=v[2]) for k, v in data.items()})
        ds.attrs.update(
            provenance(
                algorithm=self.algorithm,
                config=json.dumps(config),
                seed=int(config.get("seed", 0)),
                training_wall_time=self.wall_time(),
                **attrs,
            )
        )
        return ds

    def write(self, out: str | Path, **attrs: Any) -> list[Path]:
        """Write ``metrics.nc``, ``episodes.csv`` and ``losses.csv`` into ``out``."""
        from neurosim.recording import save_recording

        out = Path(out)
        paths = [save_recording(self.dataset(**attrs), out / "metrics.nc")]
        paths.append(
            _write_csv(
                out / "episodes.csv",
                ["step", "episodic_return", "length", "wall_time"],
                self.episodes,
            )
        )
        keys = sorted({k for v in self.losses for k in v} - {"step"})
        rows = [[v["step"], *(v.get(k, "") for k in keys)] for v in self.losses]
        paths.append(_write_csv(out / "losses.csv", ["step", *keys], rows))
        return paths


def _write_csv(path: Path, header: list[str], rows) -> Path:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


class StopSignals:
    """Turn SIGINT (Ctrl-C) and SIGTERM into a request a training loop checks.

    Inside ``with StopSignals() as stop:`` the first such signal only sets
    ``stop.received`` (the signal's name); the loop stops at its next
    consistent point, writes its checkpoint and raises what
    :meth:`interrupted` returns (it writes the metrics). A second signal interrupts at once
    (``KeyboardInterrupt``). Outside the main thread, where Python cannot
    install handlers, nothing changes.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.received: str | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.received is not None:
            raise KeyboardInterrupt
        self.received = signal.Signals(signum).name

    def interrupted(self, log: RunLog, out: Path, step: int, **attrs: Any) -> KeyboardInterrupt:
        """Write the metrics of the run stopped at ``step`` (its checkpoint is written).

        Returns the exception that ends the run (the CLI prints it, exit 130).
        """
        log.write(out, **attrs, interrupted_at_step=step)
        return KeyboardInterrupt(
            f"{self.received} at step {step}: metrics written to {out}, checkpoint "
            f"{out / 'checkpoint.pt'} (continue with --resume)"
        )
