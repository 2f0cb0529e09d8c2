r"""An LSTM that optimizes black-box functions, trained on GP samples (Chen et al. 2017).

At step ``t`` the network reads the last query :math:`x_{t-1}` and its value
:math:`y_{t-1}` and, with its hidden state :math:`h`, proposes the next query

.. math::  h_t, x_t = \mathrm{LSTM}_\theta(h_{t-1}, x_{t-1}, \tilde y_{t-1}), \qquad
           x_t = \tanh(W h_t + b) \in [-1, 1]^d

where :math:`\tilde y` is the value standardised by the mean and standard
deviation of the values seen so far (so that one network serves functions of
any scale; training applies the same standardisation). The first query is a
given start point. Training minimises, over functions drawn from a GP prior
(:mod:`neurosim.blackbox.gp`) and by backpropagation through the horizon
:math:`T`, one of the paper's losses:

``sum``  :math:`\sum_t f(x_t)`;
``oi``   observed improvement, :math:`\sum_t \min(f(x_t) - \min_{i<t} f(x_i), 0)`;
``ei``   :math:`-\sum_t \mathrm{EI}_t(x_t)`, the expected improvement of each query
         under the GP posterior given the earlier queries (exact, with the
         sampled function's kernel).

:func:`rollout` is the pure step loop; :class:`LSTMOptimizer` is the network;
:func:`train_optimizer` trains it with checkpoints; :func:`load_pretrained`
loads the shipped weights (``data/learned_optimizer/dim<d>.pt``).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from neurosim.blackbox.gp import GPFunctions, evaluate, sample_gp_functions, se_kernel
from neurosim.checkpoints import (
    load_checkpoint,
    missing_checkpoint,
    restore,
    save_checkpoint,
)
from neurosim.errors import NeurosimError
from neurosim.memory import require_memory

__all__ = [
    "LOSSES",
    "LSTMOptimizer",
    "TrainConfig",
    "export_weights",
    "load_pretrained",
    "pretrained_path",
    "rollout",
    "standardize_last",
    "train_optimizer",
]

LOSSES = ("sum", "oi", "ei")
#: Checkpoint kind of training checkpoints and exported weights.
KIND = "learned_optimizer"

PRETRAINED_DIR = Path(__file__).resolve().parents[2] / "data" / "learned_optimizer"


class LSTMOptimizer(nn.Module):
    """LSTM proposing the next query in ``[-1, 1]^dim`` from the last query and value.

    Parameters
    ----------
    dim : int
        Input dimension of the functions it optimizes.
    hidden : int
        LSTM units per layer.
    layers : int
        Stacked LSTM layers.
    """

    def __init__(self, dim: int, hidden: int = 64, layers: int = 2) -> None:
        super().__init__()
        self.dim, self.hidden, self.layers = dim, hidden, layers
        self.lstm = nn.LSTM(dim + 1, hidden, layers)
        self.head = nn.Linear(hidden, dim)

    def preactivation(
        self,
        x: torch.Tensor,
        y_std: torch.Tensor,
        state: tuple[torch.Tensor, torch.Tensor] | None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """``(x_{t-1} (B, d), y~_{t-1} (B,), state) -> (W h_t + b, state)``, before the tanh."""
        inp = torch.cat([x, y_std[:, None]], dim=-1)[None]
        out, state = self.lstm(inp, state)
        return self.head(out[0]), state

    def step(
        self,
        x: torch.Tensor,
        y_std: torch.Tensor,
        state: tuple[torch.Tensor, torch.Tensor] | None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """One proposal: ``(x_{t-1} (B, d), y~_{t-1} (B,), state) -> (x_t, state)``."""
        pre, state = self.preactivation(x, y_std, state)
        return torch.tanh(pre), state


def standardize_last(ys: torch.Tensor) -> torch.Tensor:
    """The last value of each row standardised by the row's mean and s.d. (0 for one value)."""
    if ys.shape[1] < 2:
        return torch.zeros_like(ys[:, -1])
    mean = ys.mean(1)
    std = ys.std(1, unbiased=False)
    return (ys[:, -1] - mean) / (std + 1e-6)


def rollout(
    net: LSTMOptimizer,
    f,
    x0: torch.Tensor,
    horizon: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Run the optimizer for ``horizon`` queries (the start point included).

    Parameters
    ----------
    net : LSTMOptimizer
    f : callable
        Maps queries (B, d) in ``[-1, 1]^d`` to values (B,), differentiably
        for training.
    x0 : torch.Tensor
        Start points (B, d).
    horizon : int

    Returns
    -------
    xs, ys, pre : torch.Tensor
        Queries (B, T, d), values (B, T) and the network's pre-tanh outputs
        (B, T-1, d) (training keeps them away from saturation).
    """
    xs, ys, pre = [x0], [f(x0)], []
    state = None
    x = x0
    for _ in range(horizon - 1):
        y_std = standardize_last(torch.stack(ys, 1))
        a, state = net.preactivation(x, y_std, state)
        x = torch.tanh(a)
        pre.append(a)
        xs.append(x)
        ys.append(f(x))
    return torch.stack(xs, 1), torch.stack(ys, 1), torch.stack(pre, 1)


def _expected_improvement(xs, ys, lengthscale, noise: float = 1e-4) -> torch.Tensor:
    """EI of each query x_t (t >= 1) given the earlier ones, (B, T-1)."""
    out = []
    normal = torch.distributions.Normal(0.0, 1.0)
    for t in range(1, xs.shape[1]):
        X, Y, x = xs[:, :t], ys[:, :t], xs[:, t : t + 1]
        K = se_kernel(X, X, lengthscale) + noise * torch.eye(t, dtype=xs.dtype, device=xs.device)
        k = se_kernel(X, x, lengthscale)  # (B, t, 1)
        L = torch.linalg.cholesky(K)
        alpha = torch.cholesky_solve(Y[..., None], L)
        mu = (k * alpha).sum((1, 2))
        v = torch.cholesky_solve(k, L)
        var = torch.clamp(1.0 - (k * v).sum((1, 2)), min=1e-9)
        sd = var.sqrt()
        best = Y.min(1).values
        z = (best - mu) / sd
        out.append((best - mu) * normal.cdf(z) + sd * torch.exp(normal.log_prob(z)))
    return torch.stack(out, 1)


def loss_value(kind: str, xs, ys, lengthscale) -> torch.Tensor:
    """Training loss of one batch of rollouts (mean over functions, per step)."""
    if kind == "sum":
        per = ys
    elif kind == "oi":
        best = torch.cummin(ys, 1).values
        per = torch.clamp(ys[:, 1:] - best[:, :-1], max=0.0)
    elif kind == "ei":
        per = -_expected_improvement(xs, ys, lengthscale)
    else:
        raise NeurosimError(f"loss: has to be one of {', '.join(LOSSES)}, got {kind!r}")
    return per.mean()


@dataclass(frozen=True)
class TrainConfig:
    """Training of one optimizer network.

    Defaults: the best recipe measured so far (OI loss, 128 functions a batch,
    Adam 3e-4). Shorter or noisier training collapses onto one fixed query.
    """

    dim: int = 2
    """Function dimension (>= 1; weights for 1 to 6 are shipped)."""
    horizon: int = 100
    """Queries per function, start point included (the paper's T)."""
    loss: str = "oi"
    """sum, oi or ei."""
    iterations: int = 10_000
    """Adam steps."""
    batch: int = 128
    """GP functions per step."""
    learning_rate: float = 3e-4
    """Adam step size."""
    hidden: int = 64
    """LSTM units per layer."""
    layers: int = 2
    """LSTM layers."""
    n_features: int = 500
    """Random features per GP sample."""
    seed: int = 0
    """Seed of the network and of the training functions."""

    def __post_init__(self) -> None:
        """Check the values a user can get wrong."""
        if isinstance(self.dim, bool) or not isinstance(self.dim, int) or self.dim < 1:
            raise NeurosimError(f"TrainConfig.dim: has to be an integer >= 1, got {self.dim!r}")
        if self.loss not in LOSSES:
            raise NeurosimError(
                f"TrainConfig.loss: has to be one of {', '.join(LOSSES)}, got {self.loss!r}"
            )
        if self.horizon < 2 or self.iterations < 1 or self.batch < 1:
            raise NeurosimError("TrainConfig: horizon >= 2, iterations >= 1 and batch >= 1")
        # float32 tensors of one iteration: the GP samples' frequencies (B, M, d), and
        # what autograd keeps over the horizon (features (B, M) and LSTM gates per step);
        # x3 for gradients and temporaries.
        floats = self.batch * (
            self.n_features * self.dim
            + self.horizon * (2 * self.n_features + 8 * self.hidden * self.layers + 4 * self.dim)
        )
        require_memory(
            {"training batch": 3 * 4.0 * floats},
            "TrainConfig",
            "use a smaller dim, batch, n_features or horizon",
        )


def train_optimizer(
    config: TrainConfig,
    checkpoint: str | Path | None = None,
    *,
    resume: bool = False,
    checkpoint_every: int = 100,
    progress: bool = False,
    device: str | torch.device = "cpu",
    max_seconds: float | None = None,
) -> tuple[LSTMOptimizer, list[float]]:
    """Train an optimizer network on GP samples; return it and the loss per iteration.

    ``device`` runs the rollouts there (the functions are still drawn on the
    CPU, so a run's functions do not depend on the device); ``max_seconds``
    stops after that much wall time with a checkpoint, to be resumed later.

    The checkpoint (a ``learned_optimizer`` checkpoint of
    :mod:`neurosim.checkpoints`) holds the network, the Adam state, the
    iteration, the losses and the config; ``resume`` continues from it if the
    config is the same but for ``iterations`` (each iteration's functions come
    from its own seeded generator, so a resumed run draws the same functions as
    an uninterrupted one).
    """
    torch.manual_seed(config.seed)
    net = LSTMOptimizer(config.dim, config.hidden, config.layers).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=config.learning_rate)
    losses: list[float] = []
    start = 0
    path = Path(checkpoint) if checkpoint is not None else None
    if resume and path is not None and not path.exists():
        # a silent fresh start would look like a resumed one
        raise missing_checkpoint(path)
    if resume and path is not None:
        state = load_checkpoint(
            path,
            KIND,
            config=dataclasses.asdict(config),
            may_differ=("iterations",),
            keys=("net", "optimizer", "iteration", "losses"),
        )
        restore(path, state, net=net, optimizer=opt)
        start, losses = int(state["iteration"]), list(state["losses"])
    steps = range(start, config.iterations)
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, initial=start, total=config.iterations, desc=f"dim {config.dim}")
    began = time.monotonic()
    for it in steps:
        gen = torch.Generator().manual_seed(config.seed * 1_000_003 + it)
        funcs = sample_gp_functions(
            config.batch, config.dim, n_features=config.n_features, generator=gen
        )
        funcs = GPFunctions(*(t.to(device) for t in funcs))
        x0 = (torch.rand(config.batch, config.dim, generator=gen) * 2 - 1).to(device)
        xs, ys, pre = rollout(net, lambda x, funcs=funcs: evaluate(funcs, x), x0, config.horizon)
        # Queries on the box boundary come from a saturated tanh, whose zero
        # gradient would freeze the network there: keep |pre-activation| < 2.
        saturation = torch.relu(pre.abs() - 2.0).pow(2).mean()
        loss = loss_value(config.loss, xs, ys, funcs.lengthscale) + 0.1 * saturation
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        losses.append(float(loss.detach()))
        if progress:
            steps.set_postfix(loss=f"{losses[-1]:.4f}")
        out_of_time = max_seconds is not None and time.monotonic() - began > max_seconds
        last = it + 1 == config.iterations or out_of_time
        if path is not None and ((it + 1) % checkpoint_every == 0 or last):
            _save(path, net, opt, it + 1, losses, config)
        if out_of_time:
            break
    return net.cpu(), losses


def _save(path, net, opt, iteration, losses, config) -> None:
    """Write a training checkpoint atomically (see :func:`train_optimizer`)."""
    state = {
        "net": net.state_dict(),
        "optimizer": opt.state_dict(),
        "iteration": iteration,
        "losses": list(losses),
    }
    save_checkpoint(path, KIND, state, config=dataclasses.asdict(config))


def export_weights(checkpoint: str | Path, path: str | Path) -> Path:
    """Write the network of a training checkpoint without its optimizer state.

    The result (about 0.2 MB, a ``learned_optimizer`` checkpoint too) is what
    ``data/learned_optimizer/dim<d>.pt`` holds: weights, config, the number of
    training iterations and the mean loss of the last 100 of them.
    """
    state = load_checkpoint(checkpoint, KIND, keys=("net", "iteration"))
    losses = list(state.get("losses", []))[-100:]
    slim = {
        "net": state["net"],
        "iteration": state["iteration"],
        "final_loss": sum(losses) / len(losses) if losses else float("nan"),
    }
    return save_checkpoint(path, KIND, slim, config=state["config"])


def pretrained_path(dim: int) -> Path:
    """Where the shipped weights of dimension ``dim`` lie."""
    return PRETRAINED_DIR / f"dim{dim}.pt"


def load_pretrained(dim: int, path: str | Path | None = None) -> LSTMOptimizer:
    """The trained network for ``dim``-dimensional functions (shipped weights by default).

    Raises
    ------
    NeurosimError
        If no weights exist for ``dim`` or the file does not hold a network.
    """
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise NeurosimError(f"no learned-optimizer weights for dimension {dim} at {path}")
    elif not (path := pretrained_path(dim)).is_file():
        shipped = sorted(
            int(p.stem[3:]) for p in PRETRAINED_DIR.glob("dim*.pt") if p.stem[3:].isdigit()
        )
        raise NeurosimError(
            f"no shipped learned-optimizer weights for dimension {dim} (shipped: "
            f"{', '.join(map(str, shipped)) or 'none'}): train them with `neurosim "
            f"train-optimizer --dim {dim} --export dim{dim}.pt` and pass weights='dim{dim}.pt' "
            f"(neurosim tune: --weights dim{dim}.pt), "
            "or use another optimizer (cma, random, botorch)"
        )
    state = load_checkpoint(path, KIND, keys=("net",))
    try:
        cfg = state["config"]
        net = LSTMOptimizer(int(cfg["dim"]), int(cfg["hidden"]), int(cfg["layers"]))
        net.load_state_dict(state["net"])
    except (KeyError, RuntimeError, ValueError, TypeError) as err:
        raise NeurosimError(f"{path}: not a learned-optimizer checkpoint ({err})") from None
    if net.dim != dim:
        raise NeurosimError(f"{path}: weights for dimension {net.dim}, asked for {dim}")
    net.eval()
    return net
