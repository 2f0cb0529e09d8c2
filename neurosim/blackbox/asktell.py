"""Ask/tell optimizers for any Python objective (minimisation in a box).

The interface users know from Optuna, nevergrad and scikit-optimize::

    opt = make_optimizer("learned", bounds=[(-5, 10), (0, 15)], seed=0)
    for _ in range(100):
        x = opt.ask()
        opt.tell(x, f(x))
    x_best, y_best = opt.best

Optimizers: ``learned`` (the LSTM of :mod:`neurosim.blackbox.learned`, shipped
weights), ``random`` (uniform search), ``cma`` (CMA-ES, package ``cma``),
``tpe`` (Optuna's tree-structured Parzen estimator), ``ngopt`` (nevergrad's
default, package ``nevergrad``) and ``botorch`` (single-task GP + log expected
improvement, package ``botorch``).
Every optimizer's first query is the same seeded uniform start point, so runs
with equal seeds start alike.

Objective values must be finite: ``tell`` raises :class:`NeurosimError` for
NaN or infinity, and for a point that is not finite or lies outside the
bounds. A failed evaluation is the caller's to handle: tell a penalty, best
the worst value seen so far (what ``neurosim tune`` does). Any finite float
is accepted, even beyond float32's range: values are standardised in float64
before they reach a network; but a penalty far above the other values makes
them all look alike to the optimizers that standardise values (learned,
botorch).

``seed=None`` draws a seed from fresh OS entropy; the optimizer's ``seed``
attribute then holds the drawn seed, so the run can be repeated.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from neurosim.errors import NeurosimError, excerpt

__all__ = ["OPTIMIZERS", "AskTell", "make_optimizer", "standardize_values"]


def check_seed(seed) -> int:
    """An optimizer seed: an integer in ``[0, 2**32)``, or ``None`` for fresh entropy."""
    if seed is None:
        return int(np.random.SeedSequence().entropy % 2**32)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= seed < 2**32:
        raise NeurosimError(
            f"seed: has to be an integer in [0, 2**32) or None (fresh entropy), got {excerpt(seed)}"
        )
    return int(seed)


def check_bounds(bounds) -> np.ndarray:
    """Bounds as a (d, 2) float array with finite ``low < high`` and a finite width."""
    if isinstance(bounds, str | bytes | dict) or not isinstance(bounds, Sequence | np.ndarray):
        raise NeurosimError(
            f"bounds: has to be a list of (low, high) pairs, got {type(bounds).__name__} "
            f"{excerpt(bounds)}"
        )
    try:
        b = np.asarray(bounds, dtype=float)
    except (TypeError, ValueError):
        b = None
    if b is None or b.ndim != 2 or b.shape[1] != 2 or len(b) < 1:
        raise NeurosimError(f"bounds: has to be a list of (low, high) pairs, got {excerpt(bounds)}")
    with np.errstate(over="ignore", invalid="ignore"):
        width = b[:, 1] - b[:, 0]
    # The width must be finite too: the optimizers map the box to [-1, 1]^d.
    if not np.all(np.isfinite(b)) or not np.all(np.isfinite(width)) or np.any(width <= 0):
        raise NeurosimError(
            "bounds: every pair needs finite low < high with a finite width high - low, "
            f"got {excerpt(b.tolist())}"
        )
    return b


def standardize_values(ys: Sequence[float]) -> np.ndarray:
    """Values standardised by their mean and s.d. (float64, safe up to float64's range).

    The same standardisation as :func:`neurosim.blackbox.learned.standardize_last`
    (``(y - mean) / (sd + 1e-6)``, population s.d.; all zeros for one value),
    but values beyond 1e100 in magnitude are first divided by the largest one so
    that the mean and s.d. cannot overflow. The results are finite and at most
    ``sqrt(n)`` in magnitude, whatever finite values were told.
    """
    y = np.asarray(ys, dtype=float)
    if len(y) < 2:
        return np.zeros(len(y))
    scale = float(np.max(np.abs(y)))
    if scale > 1e100:
        y = y / scale
    return (y - y.mean()) / (y.std() + 1e-6)


class AskTell:
    """Base class: box bounds, start point, history and the best point so far.

    Parameters
    ----------
    bounds : sequence of (low, high)
        One pair per dimension, finite ``low < high`` with a finite width.
    seed : int or None
        In ``[0, 2**32)``; ``None`` draws one from fresh entropy (kept in ``seed``).
    """

    def __init__(self, bounds: Sequence[Sequence[float]], seed: int | None = 0) -> None:
        b = check_bounds(bounds)
        self.bounds = b
        self.dim = len(b)
        self.seed = check_seed(seed)
        self.X: list[np.ndarray] = []
        self.y: list[float] = []
        self._start = np.random.default_rng(self.seed).uniform(b[:, 0], b[:, 1])

    # Unit box [-1, 1]^d <-> user box.
    def to_unit(self, x: np.ndarray) -> np.ndarray:
        """Map a point of the user's box to ``[-1, 1]^d``."""
        lo, hi = self.bounds[:, 0], self.bounds[:, 1]
        return 2 * (np.asarray(x, float) - lo) / (hi - lo) - 1

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """Map a point of ``[-1, 1]^d`` to the user's box (clipped to it)."""
        lo, hi = self.bounds[:, 0], self.bounds[:, 1]
        return np.clip(lo + (np.asarray(u, float) + 1) * (hi - lo) / 2, lo, hi)

    def ask(self) -> np.ndarray:
        """The next point to evaluate (inside the bounds)."""
        if not self.X:
            return self._start.copy()
        return self._propose()

    def _propose(self) -> np.ndarray:
        raise NotImplementedError

    def tell(self, x: Sequence[float], y: float) -> None:
        """Report the objective value ``y`` at ``x``.

        Raises
        ------
        NeurosimError
            If ``x`` is not ``dim`` finite numbers inside the bounds or ``y`` is
            not a finite number.
        """
        try:
            x = np.asarray(x, dtype=float).reshape(-1)
        except (TypeError, ValueError):
            raise NeurosimError(f"tell: x has to be {self.dim} numbers, got {excerpt(x)}") from None
        if x.shape != (self.dim,):
            raise NeurosimError(f"tell: x has to have {self.dim} coordinates, got {x.shape[0]}")
        if not np.all(np.isfinite(x)):
            raise NeurosimError(f"tell: x = {excerpt(x.tolist())} is not finite")
        slack = 1e-9 * (self.bounds[:, 1] - self.bounds[:, 0])
        if np.any(x < self.bounds[:, 0] - slack) or np.any(x > self.bounds[:, 1] + slack):
            raise NeurosimError(f"tell: x = {excerpt(x.tolist())} lies outside the bounds")
        try:
            y = float(y)
        except (TypeError, ValueError):
            raise NeurosimError(
                f"tell: the objective value has to be a number, got {excerpt(y)}"
            ) from None
        if not math.isfinite(y):
            raise NeurosimError(
                f"tell: objective value at x = {excerpt(x.tolist())} is {y}; optimizers need "
                "finite values (tell a failed evaluation as a penalty, e.g. the worst value so far)"
            )
        self.X.append(x)
        self.y.append(y)
        self._observe(x, y)

    def _observe(self, x: np.ndarray, y: float) -> None:
        """Hook for optimizers with their own state."""

    @property
    def best(self) -> tuple[np.ndarray, float]:
        """``(x, y)`` of the lowest value told so far."""
        if not self.y:
            raise NeurosimError("best: nothing has been told yet")
        k = int(np.argmin(self.y))
        return self.X[k].copy(), self.y[k]


class RandomSearch(AskTell):
    """Uniform random search."""

    def _propose(self) -> np.ndarray:
        return _uniform(self)


def _uniform(opt: AskTell) -> np.ndarray:
    """A uniform point of the box drawn from ``(seed, number of points told)``.

    A function of what was told, not of how often ``ask`` was called, so that an
    optimizer told the same trials again (a resumed run) continues alike.
    """
    rng = np.random.default_rng([opt.seed, len(opt.X)])
    return rng.uniform(opt.bounds[:, 0], opt.bounds[:, 1])


class LearnedOptimizer(AskTell):
    """The RNN optimizer trained on GP samples (shipped weights for dimensions 1-6).

    The network works in ``[-1, 1]^d`` on standardised values; the user's box
    and value scale are mapped to that. Each ``tell`` advances the network
    by one step with the told point and value. The gated network's noise
    comes from a generator seeded by ``(seed, number of points told)``, so a
    seed repeats a run and a replayed run continues alike.

    Parameters
    ----------
    bounds : sequence of (low, high)
    seed : int or None
        Seed of the start point and of the gated network's noise.
    weights : str or Path, optional
        A checkpoint of :func:`neurosim.blackbox.learned.train_optimizer`
        (default: the shipped weights of this dimension).
    """

    def __init__(self, bounds, seed: int | None = 0, weights=None) -> None:
        from neurosim.blackbox.learned import load_pretrained

        super().__init__(bounds, seed)
        self.net = load_pretrained(self.dim, weights)
        self._state = None
        self._next: np.ndarray | None = None
        self._unit: list[np.ndarray] = []  # the told points in [-1, 1]^d, converted once

    def _observe(self, x: np.ndarray, y: float) -> None:
        from neurosim.blackbox.learned import GatedLSTMOptimizer, gated_inputs

        self._unit.append(self.to_unit(x))

        # Standardise in float64 first: a raw value beyond float32's range
        # (a "large penalty") would become inf, then NaN in every later step.
        z = standardize_values(self.y)
        with torch.no_grad():
            if isinstance(self.net, GatedLSTMOptimizer):
                X = torch.tensor(np.array(self._unit)[None], dtype=torch.float32)
                inputs = gated_inputs(
                    X, torch.tensor(z[None], dtype=torch.float32), self.net.horizon
                )
                rng = np.random.default_rng([self.seed, len(self.X)])
                draw = {
                    "uniform": lambda: rng.uniform(-1, 1, (1, self.dim)),
                    "normal": lambda: rng.standard_normal((1, self.dim)),
                    "logistic": lambda: rng.logistic(size=(1, 1)),
                }
                noise = tuple(
                    torch.tensor(draw[kind](), dtype=torch.float32) for kind in self.net.noises
                )
                u, self._state = self.net.step(inputs, noise, self._state)
            else:
                yt = torch.tensor([z[-1]], dtype=torch.float32)
                xt = torch.tensor(self._unit[-1][None], dtype=torch.float32)
                u, self._state = self.net.step(xt, yt, self._state)
        self._next = self.from_unit(u[0].double().numpy())

    def _propose(self) -> np.ndarray:
        return self._next.copy()


class CMAES(AskTell):
    """CMA-ES (package ``cma``) from the start point, step size 0.3 of the box."""

    def __init__(self, bounds, seed: int | None = 0) -> None:
        import cma

        super().__init__(bounds, seed)
        # cma draws from numpy's global generator unless given its own: two
        # optimizers (or any other user of np.random) would then interleave and
        # change each other's draws. Its own generator gives the stream that
        # np.random.seed(seed + 1) gave before.
        opts = {
            "bounds": [[-1.0] * self.dim, [1.0] * self.dim],
            "randn": np.random.RandomState((self.seed + 1) % 2**32).randn,
            "verbose": -9,
        }
        x0 = self.to_unit(self._start)
        if self.dim == 1:
            x0 = np.append(x0, 0.0)  # cma needs >= 2 dimensions: a dummy coordinate
            opts["bounds"] = [[-1.0, -1.0], [1.0, 1.0]]
        self.es = cma.CMAEvolutionStrategy(x0, 0.6, opts)
        self._queue: list[np.ndarray] = []
        self._told: list[tuple[np.ndarray, float]] = []

    def _propose(self) -> np.ndarray:
        if not self._queue:
            self._queue = list(self.es.ask())
        return self.from_unit(self._queue[0][: self.dim])

    def _observe(self, x: np.ndarray, y: float) -> None:
        if len(self.X) == 1:
            return  # the start point is not part of a CMA generation
        if not self._queue:  # told without asking (e.g. a replayed trial)
            self._queue = list(self.es.ask())
        cand = self._queue.pop(0)
        # Tell CMA the point actually evaluated (it may differ from its own).
        cand[: self.dim] = self.to_unit(x)
        self._told.append((cand, y))
        if not self._queue:
            xs, ys = zip(*self._told, strict=True)
            self.es.tell(list(xs), list(ys))
            self._told = []


class BoTorchEI(AskTell):
    """BoTorch: single-task GP (Matern-5/2, fitted each step) + log expected improvement.

    The first ``n_init`` queries are the start point and seeded uniform
    points; then each query maximises LogEI (``optimize_acqf``, 5 restarts,
    128 raw samples).
    """

    def __init__(self, bounds, seed: int | None = 0, n_init: int = 5) -> None:
        try:
            import botorch  # noqa: F401
        except ImportError:
            raise NeurosimError(
                "optimizer botorch: the package is not installed (pip install -e '.[bo]')"
            ) from None
        super().__init__(bounds, seed)
        self.n_init = n_init

    def _propose(self) -> np.ndarray:
        if len(self.X) < self.n_init:
            return _uniform(self)
        from botorch.acquisition import LogExpectedImprovement
        from botorch.fit import fit_gpytorch_mll
        from botorch.models import SingleTaskGP
        from botorch.optim import optimize_acqf
        from gpytorch.mlls import ExactMarginalLogLikelihood

        X = torch.tensor(np.array([(self.to_unit(x) + 1) / 2 for x in self.X]))
        # float64 standardisation that cannot overflow (values up to 1e308).
        Y = -torch.tensor(standardize_values(self.y), dtype=torch.float64)[:, None]
        gp = SingleTaskGP(X, Y)
        fit_gpytorch_mll(ExactMarginalLogLikelihood(gp.likelihood, gp))
        acq = LogExpectedImprovement(gp, best_f=Y.max())
        box = torch.stack([torch.zeros(self.dim), torch.ones(self.dim)]).double()
        torch.manual_seed(self.seed * 7919 + len(self.X))
        cand, _ = optimize_acqf(acq, bounds=box, q=1, num_restarts=5, raw_samples=128)
        return self.from_unit(cand[0].numpy() * 2 - 1)


def _require(package: str, name: str, extra: str):
    """Import an optional peer package; one line naming the extra that installs it."""
    import importlib

    try:
        return importlib.import_module(package)
    except ImportError:
        raise NeurosimError(
            f"optimizer {name}: the package {package} is not installed "
            f"(pip install -e '.[{extra}]')"
        ) from None


class OptunaTPE(AskTell):
    """Optuna's TPE sampler (its defaults: 10 random start-up trials), seeded.

    The start point is the study's first trial; a point told without being
    asked is added to the study as a finished trial.
    """

    def __init__(self, bounds, seed: int | None = 0) -> None:
        import optuna

        super().__init__(bounds, seed)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self._optuna = optuna
        self.study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=self.seed))
        self._dists = {
            f"x{k}": optuna.distributions.FloatDistribution(float(lo), float(hi))
            for k, (lo, hi) in enumerate(self.bounds)
        }
        self._pending = None

    def _propose(self) -> np.ndarray:
        # asking again before telling repeats the question, as the other optimizers do
        if self._pending is None:
            self._pending = self.study.ask(self._dists)
        return np.array([self._pending.params[f"x{k}"] for k in range(self.dim)])

    def _observe(self, x: np.ndarray, y: float) -> None:
        params = {f"x{k}": float(v) for k, v in enumerate(x)}
        pending, self._pending = self._pending, None
        if pending is not None and np.allclose([pending.params[k] for k in params], x):
            self.study.tell(pending, y)
            return
        if pending is not None:  # asked, but another point was evaluated
            self.study.tell(pending, state=self._optuna.trial.TrialState.FAIL)
        trial = self._optuna.trial.create_trial(params=params, distributions=self._dists, value=y)
        self.study.add_trial(trial)


class NGOpt(AskTell):
    """nevergrad's default optimizer, ``NGOpt``, seeded.

    NGOpt picks its algorithm from the dimension and the ``budget`` (number of
    evaluations it is told to expect).
    """

    def __init__(self, bounds, seed: int | None = 0, budget: int = 100) -> None:
        ng = _require("nevergrad", "ngopt", "dev")
        super().__init__(bounds, seed)
        param = ng.p.Array(shape=(self.dim,), lower=-1.0, upper=1.0)
        param.random_state = np.random.RandomState(self.seed)
        self.opt = ng.optimizers.NGOpt(parametrization=param, budget=budget)
        self._pending = None

    def _propose(self) -> np.ndarray:
        if self._pending is None:
            self._pending = self.opt.ask()
        return self.from_unit(np.asarray(self._pending.value, float))

    def _observe(self, x: np.ndarray, y: float) -> None:
        pending, self._pending = self._pending, None
        if pending is not None and np.allclose(self.from_unit(pending.value), x):
            self.opt.tell(pending, y)
            return
        # the start point, or a point told without asking: tell it as a new candidate
        child = self.opt.parametrization.spawn_child(new_value=np.clip(self.to_unit(x), -1, 1))
        self.opt.tell(child, y)


#: Optimizer names of :func:`make_optimizer` and ``neurosim tune --optimizer``.
OPTIMIZERS = {
    "learned": LearnedOptimizer,
    "random": RandomSearch,
    "cma": CMAES,
    "botorch": BoTorchEI,
    "tpe": OptunaTPE,
    "ngopt": NGOpt,
}


def make_optimizer(name: str, bounds, seed: int | None = 0, **kwargs) -> AskTell:
    """An ask/tell optimizer by name (see :data:`OPTIMIZERS`)."""
    if name not in OPTIMIZERS:
        raise NeurosimError(f"optimizer: has to be one of {', '.join(OPTIMIZERS)}, got {name!r}")
    return OPTIMIZERS[name](bounds, seed=seed, **kwargs)
