"""Train torch MLPs on MNIST with backprop, feedback alignment, DFA or shallow learning.

The model is a plain ``nn.Sequential`` (:func:`build_mlp`); the rule is
applied with :func:`neurosim.bridges.feedback.convert`, so every rule trains
the very same architecture and initial weights (same seed). Online learning is
``batch_size = 1``. Results are an xarray Dataset: test error and training
loss per epoch, wall time per epoch, and the alignment angles of
:mod:`neurosim.bridges.alignment` per layer, measured every ``angle_every``
training steps on the current batch.

The training examples are shown in the order of
:func:`neurosim.datasets.epoch_order` (a seeded permutation per epoch, or
file order), the same definition the segregated-dendrite network uses, so a
comparison with the same seed trains both on the same examples in the same
order (``train_order_sha256`` attribute: the digest of the orders used).

Checkpoints (``mlp`` checkpoints of :mod:`neurosim.checkpoints`, which load
with ``torch.load(..., weights_only=True)``) are written atomically after
every epoch; a resumed run equals an uninterrupted one because each epoch's
shuffle is drawn from its own seeded generator.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import xarray as xr
from torch import nn

from neurosim.bridges.alignment import feedback_angles, update_angles
from neurosim.bridges.feedback import RULES, convert, linear_layers
from neurosim.checkpoints import load_checkpoint, missing_checkpoint, restore, save_checkpoint
from neurosim.datasets import as_rates, epoch_order, order_digest
from neurosim.errors import NeurosimError
from neurosim.recording import provenance

__all__ = ["ACTIVATIONS", "MLPConfig", "build_mlp", "train_mlp"]

#: Hidden-layer activations.
ACTIVATIONS = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU}


@dataclass(frozen=True)
class MLPConfig:
    """An MLP, its learning rule and its SGD schedule.

    Defaults: the feedback-alignment paper's MNIST network (784-1000-10,
    sigmoid hidden units, SGD).
    """

    hidden_sizes: tuple[int, ...] = (1000,)
    """Hidden layer sizes."""
    activation: str = "sigmoid"
    """Hidden activation: sigmoid, tanh or relu."""
    rule: str = "backprop"
    """backprop, fa, dfa or shallow."""
    learning_rate: float = 0.05
    """SGD step size."""
    momentum: float = 0.0
    """SGD momentum."""
    batch_size: int = 32
    """Examples per step (1 = online learning)."""
    epochs: int = 1
    """Passes over the training set."""
    loss: str = "cross_entropy"
    """cross_entropy (softmax outputs) or mse (sigmoid outputs vs one-hot targets)."""
    feedback_scale: float = 1.0
    """Scale of the random feedback matrices (see :func:`~neurosim.bridges.feedback.convert`)."""
    seed: int = 0
    """Seed of the initial weights, the feedback matrices and the shuffles."""
    shuffle: bool = True
    """Shuffle the training examples every epoch (:func:`~neurosim.datasets.epoch_order`);
    False: file order."""
    angle_every: int = 0
    """Measure the alignment angles every this many steps (0: never)."""
    eval_every: int = 0
    """Measure the test error every this many training examples (0: per epoch only)."""

    def __post_init__(self) -> None:
        """Check the values a user can get wrong."""
        checks = [
            (self.rule in RULES, "rule", f"one of {', '.join(RULES)}"),
            (self.activation in ACTIVATIONS, "activation", f"one of {', '.join(ACTIVATIONS)}"),
            (self.loss in ("cross_entropy", "mse"), "loss", "cross_entropy or mse"),
            (all(int(n) >= 1 for n in self.hidden_sizes), "hidden_sizes", "integers >= 1"),
            (self.learning_rate > 0, "learning_rate", "> 0"),
            (0 <= self.momentum < 1, "momentum", "in [0, 1)"),
            (self.batch_size >= 1, "batch_size", "an integer >= 1"),
            (self.epochs >= 1, "epochs", "an integer >= 1"),
            (self.angle_every >= 0, "angle_every", "an integer >= 0"),
            (self.eval_every >= 0, "eval_every", "an integer >= 0"),
        ]
        for ok, key, what in checks:
            if not ok:
                raise NeurosimError(
                    f"MLPConfig.{key}: has to be {what}, got {getattr(self, key)!r}"
                )


def build_mlp(sizes: tuple[int, ...], activation: str = "sigmoid", seed: int = 0) -> nn.Sequential:
    """``Linear -> activation -> ... -> Linear`` with torch's default initialisation.

    Parameters
    ----------
    sizes : tuple of int
        Layer sizes, input first, output last (e.g. ``(784, 1000, 10)``).
    activation : {"sigmoid", "tanh", "relu"}
    seed : int
        Seed of the initial weights.
    """
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for k in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[k], sizes[k + 1]))
        if k < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


def _loss_fn(kind: str):
    if kind == "cross_entropy":
        return nn.functional.cross_entropy

    def mse(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        target = nn.functional.one_hot(y, out.shape[-1]).to(out.dtype)
        return 0.5 * ((torch.sigmoid(out) - target) ** 2).sum(-1).mean()

    return mse


def _predict(model: nn.Module, x: torch.Tensor, batch: int = 2000) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([model(x[a : a + batch]).argmax(-1) for a in range(0, len(x), batch)])


def _error(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    return 100.0 * float((_predict(model, x) != y).float().mean())


def _as_tensors(images: np.ndarray, labels: np.ndarray, name: str):
    images = np.asarray(images)
    if images.ndim >= 3:
        images = images.reshape(len(images), -1)
    if images.ndim != 2 or len(images) != len(labels):
        raise NeurosimError(
            f"{name}: images have to be (N, pixels) or (N, rows, columns) with N labels, "
            f"got {np.shape(images)} and {len(labels)} labels"
        )
    if np.issubdtype(images.dtype, np.integer):
        images = as_rates(images, np.float32)
    x = torch.as_tensor(images, dtype=torch.float32)
    return x, torch.as_tensor(np.asarray(labels), dtype=torch.long)


def train_mlp(
    config: MLPConfig,
    train_images: np.ndarray,
    train_labels: np.ndarray,
    test_images: np.ndarray,
    test_labels: np.ndarray,
    *,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    progress: bool = False,
    n_classes: int | None = None,
) -> xr.Dataset:
    """Train one MLP with one rule; return its learning and alignment curves.

    Parameters
    ----------
    config : MLPConfig
    train_images, test_images : numpy.ndarray
        ``uint8`` (scaled to [0, 1]) or float pixels, (N, 784) or (N, 28, 28).
    train_labels, test_labels : numpy.ndarray
        Class labels 0 .. n_classes - 1.
    checkpoint : str or Path, optional
        Written atomically after every epoch.
    resume : bool
        Continue from ``checkpoint`` (a missing one is an error); its config
        has to be ``config`` but for ``epochs``.
    progress : bool
        Show a progress bar over epochs.
    n_classes : int, optional
        Output units (default: the largest label + 1).

    Returns
    -------
    xarray.Dataset
        ``test_error`` (%, per epoch), ``train_loss`` (epoch mean),
        ``epoch_time`` (s, training only; test-error and angle measurements
        excluded), ``curve_error`` (% at ``curve_examples`` training
        examples, with ``eval_every``), ``update_angle`` and
        ``feedback_angle`` (degrees, dims ``angle_step`` x ``layer``),
        ``final_W<k>`` weights; attributes: config and provenance.
    """
    x, y = _as_tensors(train_images, train_labels, "train")
    xt, yt = _as_tensors(test_images, test_labels, "test")
    if n_classes is None:
        n_classes = int(max(y.max(), yt.max())) + 1
    sizes = (x.shape[1], *config.hidden_sizes, n_classes)
    reference = build_mlp(sizes, config.activation, config.seed)
    model = convert(
        reference, config.rule, seed=config.seed + 1, feedback_scale=config.feedback_scale
    )
    if config.rule == "shallow":
        for layer in linear_layers(reference)[:-1]:
            layer.requires_grad_(False)
    params = [p for p in reference.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=config.learning_rate, momentum=config.momentum)
    loss_fn = _loss_fn(config.loss)
    history: dict[str, list] = {
        k: [] for k in ("test_error", "train_loss", "epoch_time", "curve_at", "curve_error")
    }
    angles: dict[str, list] = {"step": [], "update": [], "feedback": []}
    start, step = 0, 0
    path = Path(checkpoint) if checkpoint is not None else None
    if resume and path is not None:
        if not path.exists():  # a silent fresh start would look like a resumed one
            raise missing_checkpoint(path)
        state = load_checkpoint(
            path,
            "mlp",
            config=dataclasses.asdict(config),
            may_differ=("epochs",),
            keys=("model", "optimizer", "epoch", "step", "history", "angles"),
        )
        restore(path, state, model=model, optimizer=opt)
        start, step = int(state["epoch"]), int(state["step"])
        history, angles = state["history"], state["angles"]
    history.setdefault("order_sha256", [])
    epochs = range(start, config.epochs)
    if progress:
        from neurosim.progress import progress_bar

        epochs = progress_bar(epochs, desc=f"{config.rule}", unit="epoch", initial=start,
                      total=config.epochs)  # fmt: skip
    for epoch in epochs:
        order = torch.from_numpy(epoch_order(len(x), config.seed, epoch, config.shuffle))
        history["order_sha256"].append(order_digest(order.numpy()))
        t0, total, measuring = time.perf_counter(), 0.0, 0.0
        for a in range(0, len(x), config.batch_size):
            idx = order[a : a + config.batch_size]
            xb, yb = x[idx], y[idx]
            if config.angle_every and step % config.angle_every == 0:
                m0 = time.perf_counter()
                angles["step"].append(step)
                angles["update"].append(
                    update_angles(model, reference, xb, lambda out, yb=yb: loss_fn(out, yb))
                )
                angles["feedback"].append(feedback_angles(model))
                measuring += time.perf_counter() - m0
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
            step += 1
            seen = epoch * len(x) + a + len(idx)
            if (
                config.eval_every
                and seen // config.eval_every > (seen - len(idx)) // config.eval_every
            ):
                m0 = time.perf_counter()
                history["curve_at"].append(seen)
                history["curve_error"].append(_error(model, xt, yt))
                measuring += time.perf_counter() - m0
        # Training time only: the measurements above are not part of learning.
        history["epoch_time"].append(time.perf_counter() - t0 - measuring)
        history["train_loss"].append(total / len(x))
        history["test_error"].append(_error(model, xt, yt))
        if path is not None:
            state = {
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                "epoch": epoch + 1,
                "step": step,
                "history": history,
                "angles": angles,
            }
            save_checkpoint(path, "mlp", state, config=dataclasses.asdict(config))
    return _to_dataset(config, model, history, angles)


def _to_dataset(config: MLPConfig, model: nn.Module, history: dict, angles: dict) -> xr.Dataset:
    n_layers = len(linear_layers(model))
    n_ang = len(angles["step"])
    shape = (n_ang, n_layers)
    ds = xr.Dataset(
        {
            "test_error": ("epoch", np.asarray(history["test_error"]), {"units": "%"}),
            "train_loss": ("epoch", np.asarray(history["train_loss"]), {"units": "1"}),
            "epoch_time": ("epoch", np.asarray(history["epoch_time"]), {"units": "s"}),
            "curve_error": ("curve_examples", np.asarray(history["curve_error"]), {"units": "%"}),
            "update_angle": (
                ("angle_step", "layer"),
                np.asarray(angles["update"], dtype=float).reshape(shape),
                {"units": "degree", "long_name": "angle(rule update, backprop update)"},
            ),
            "feedback_angle": (
                ("angle_step", "layer"),
                np.asarray(angles["feedback"], dtype=float).reshape(shape),
                {"units": "degree", "long_name": "angle(forward map, feedback matrix)"},
            ),
        },
        coords={
            "epoch": np.arange(1, len(history["test_error"]) + 1),
            "angle_step": np.asarray(angles["step"], dtype=int),
            "curve_examples": np.asarray(history["curve_at"], dtype=int),
            "layer": np.arange(n_layers),
        },
    )
    for k, layer in enumerate(linear_layers(model)):
        ds[f"final_W{k}"] = (
            (f"out{k}", f"in{k}"),
            layer.weight.detach().numpy().copy(),
            {"units": "1"},
        )
    fields = {
        k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(config).items()
    }
    ds.attrs.update(provenance(config=str(fields), seed=config.seed, rule=config.rule))
    # One digest per epoch (neurosim.datasets.order_digest): what a comparison checks.
    ds.attrs["train_order_sha256"] = ",".join(history.get("order_sha256", []))
    return ds
