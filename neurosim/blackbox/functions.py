"""Benchmark functions of black-box optimization (to be minimised), with bounds and optima.

:data:`FUNCTIONS`: Branin, Goldstein-Price, Hartmann3 and Hartmann6 as in the
benchmark suites of Chen et al. (2017) and the Bayesian-optimization
literature. :data:`SUITE`: standard functions of other landscapes (multimodal
Ackley, Rastrigin, Levy, Styblinski-Tang, Shekel, Six-hump camel; the curved
Rosenbrock valley; an ill-conditioned ellipsoid) in 1 to 6 dimensions.
Constants and optima from Surjanovic & Bingham's Virtual Library of
Simulation Experiments (https://www.sfu.ca/~ssurjano/optimization.html).

Many of these have their optimum at the centre of the box, or on a diagonal,
where an optimizer with a bias towards those places looks good for the wrong
reason. :func:`moved` places the optimum at a random point of the box and,
where a function is defined on all of ``R^d``, rotates it at random.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

__all__ = ["FUNCTIONS", "SUITE", "TestFunction", "gp_sample_function", "moved"]


class TestFunction(NamedTuple):
    """A benchmark function with its box and known global minimum."""

    name: str
    f: Callable[[np.ndarray], float]
    bounds: np.ndarray
    """(d, 2): lower and upper bound of each coordinate."""
    minimum: float
    argmin: tuple[float, ...] = ()
    """One global minimiser (what :func:`moved` moves)."""
    rotatable: bool = False
    """Defined on all of ``R^d`` with one minimiser, so a rotation keeps its minimum."""


def _branin(x: np.ndarray) -> float:
    x1, x2 = x
    b, c = 5.1 / (4 * np.pi**2), 5 / np.pi
    r, s, t = 6.0, 10.0, 1 / (8 * np.pi)
    return float((x2 - b * x1**2 + c * x1 - r) ** 2 + s * (1 - t) * np.cos(x1) + s)


def _goldstein_price(x: np.ndarray) -> float:
    x1, x2 = x
    a = 1 + (x1 + x2 + 1) ** 2 * (19 - 14 * x1 + 3 * x1**2 - 14 * x2 + 6 * x1 * x2 + 3 * x2**2)
    b = 30 + (2 * x1 - 3 * x2) ** 2 * (
        18 - 32 * x1 + 12 * x1**2 + 48 * x2 - 36 * x1 * x2 + 27 * x2**2
    )
    return float(a * b)


_H_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_H3_A = np.array([[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]])
_H3_P = 1e-4 * np.array(
    [[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547], [381, 5743, 8828]]
)
_H6_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_H6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)


def _hartmann(A: np.ndarray, P: np.ndarray) -> Callable[[np.ndarray], float]:
    def f(x: np.ndarray) -> float:
        inner = np.sum(A * (np.asarray(x)[None, :] - P) ** 2, axis=1)
        return float(-np.sum(_H_ALPHA * np.exp(-inner)))

    return f


FUNCTIONS = {
    "branin": TestFunction(
        "branin", _branin, np.array([[-5.0, 10.0], [0.0, 15.0]]), 0.397887, (np.pi, 2.275)
    ),
    "goldstein_price": TestFunction(
        "goldstein_price",
        _goldstein_price,
        np.array([[-2.0, 2.0], [-2.0, 2.0]]),
        3.0,
        (0.0, -1.0),
    ),
    "hartmann3": TestFunction(
        "hartmann3",
        _hartmann(_H3_A, _H3_P),
        np.array([[0.0, 1.0]] * 3),
        -3.86278,
        (0.114614, 0.555649, 0.852547),
    ),
    "hartmann6": TestFunction(
        "hartmann6",
        _hartmann(_H6_A, _H6_P),
        np.array([[0.0, 1.0]] * 6),
        -3.32237,
        (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573),
    ),
}
"""The Bayesian-optimization benchmarks of Chen et al. (2017), by name."""


def _ackley(x: np.ndarray) -> float:
    d = len(x)
    return float(
        -20 * np.exp(-0.2 * np.sqrt(np.sum(x**2) / d))
        - np.exp(np.sum(np.cos(2 * np.pi * x)) / d)
        + 20
        + np.e
    )


def _rastrigin(x: np.ndarray) -> float:
    return float(10 * len(x) + np.sum(x**2 - 10 * np.cos(2 * np.pi * x)))


def _rosenbrock(x: np.ndarray) -> float:
    return float(np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))


def _levy(x: np.ndarray) -> float:
    w = 1 + (x - 1) / 4
    return float(
        np.sin(np.pi * w[0]) ** 2
        + np.sum((w[:-1] - 1) ** 2 * (1 + 10 * np.sin(np.pi * w[:-1] + 1) ** 2))
        + (w[-1] - 1) ** 2 * (1 + np.sin(2 * np.pi * w[-1]) ** 2)
    )


def _styblinski_tang(x: np.ndarray) -> float:
    return float(np.sum(x**4 - 16 * x**2 + 5 * x) / 2)


def _six_hump_camel(x: np.ndarray) -> float:
    x1, x2 = x
    return float((4 - 2.1 * x1**2 + x1**4 / 3) * x1**2 + x1 * x2 + (-4 + 4 * x2**2) * x2**2)


_SHEKEL_C = np.array([1, 2, 2, 4, 4, 6, 3, 7, 5, 5]) / 10
_SHEKEL_A = np.array(
    [
        [4.0, 1, 8, 6, 3, 2, 5, 8, 6, 7],
        [4.0, 1, 8, 6, 7, 9, 3, 1, 2, 3.6],
        [4.0, 1, 8, 6, 3, 2, 5, 8, 6, 7],
        [4.0, 1, 8, 6, 7, 9, 3, 1, 2, 3.6],
    ]
)


def _shekel(x: np.ndarray) -> float:
    return float(-np.sum(1 / (np.sum((x[:, None] - _SHEKEL_A) ** 2, axis=0) + _SHEKEL_C)))


def _ellipsoid(x: np.ndarray) -> float:
    # BBOB f2: condition number 1e6 along the axes (before any rotation)
    d = len(x)
    return float(np.sum(10 ** (6 * np.arange(d) / max(d - 1, 1)) * x**2))


def _box(lo: float, hi: float, d: int) -> np.ndarray:
    return np.array([[lo, hi]] * d)


SUITE = {
    f.name: f
    for f in (
        TestFunction("rastrigin1", _rastrigin, _box(-5.12, 5.12, 1), 0.0, (0.0,), True),
        TestFunction("levy1", _levy, _box(-10.0, 10.0, 1), 0.0, (1.0,), True),
        TestFunction("ackley2", _ackley, _box(-32.768, 32.768, 2), 0.0, (0.0,) * 2, True),
        TestFunction("ackley5", _ackley, _box(-32.768, 32.768, 5), 0.0, (0.0,) * 5, True),
        TestFunction("rastrigin2", _rastrigin, _box(-5.12, 5.12, 2), 0.0, (0.0,) * 2, True),
        TestFunction("rastrigin4", _rastrigin, _box(-5.12, 5.12, 4), 0.0, (0.0,) * 4, True),
        TestFunction("rosenbrock2", _rosenbrock, _box(-5.0, 10.0, 2), 0.0, (1.0,) * 2, True),
        TestFunction("rosenbrock4", _rosenbrock, _box(-5.0, 10.0, 4), 0.0, (1.0,) * 4, True),
        TestFunction("levy3", _levy, _box(-10.0, 10.0, 3), 0.0, (1.0,) * 3, True),
        TestFunction("levy6", _levy, _box(-10.0, 10.0, 6), 0.0, (1.0,) * 6, True),
        TestFunction(
            "styblinski_tang2",
            _styblinski_tang,
            _box(-5, 5, 2),
            -78.33233140754285,
            (-2.903534,) * 2,
        ),
        TestFunction(
            "styblinski_tang5",
            _styblinski_tang,
            _box(-5, 5, 5),
            -195.83082851885712,
            (-2.903534,) * 5,
        ),
        TestFunction(
            "six_hump_camel",
            _six_hump_camel,
            np.array([[-3.0, 3.0], [-2.0, 2.0]]),
            -1.0316285,
            (0.0898, -0.7126),
        ),
        TestFunction(
            "shekel4", _shekel, _box(0.0, 10.0, 4), -10.536443153483528, (4.000747, 3.999509) * 2
        ),
        TestFunction("ellipsoid3", _ellipsoid, _box(-5.0, 5.0, 3), 0.0, (0.0,) * 3, True),
        TestFunction("ellipsoid6", _ellipsoid, _box(-5.0, 5.0, 6), 0.0, (0.0,) * 6, True),
    )
}
"""Standard test functions of other landscapes, 1 to 6 dimensions, by name."""


def moved(fn: TestFunction, rng: np.random.Generator, margin: float = 0.1) -> TestFunction:
    """`fn` with its minimiser moved to a random point of its box (and rotated if it can be).

    The new minimiser is uniform in the box shrunk by ``margin`` of its width on
    every side; the minimum value is unchanged. A ``rotatable`` function is
    also rotated about its minimiser by a uniformly random rotation, so that
    neither the axes nor the diagonal are special. Others (whose formulas hold
    other minima elsewhere, e.g. Branin's three) are only shifted: the moved
    minimiser stays in the box and no lower value appears (the formula is the
    same function, translated).

    Parameters
    ----------
    fn : TestFunction
        With ``argmin`` set.
    rng : numpy.random.Generator
    margin : float

    Returns
    -------
    TestFunction
        Named ``<name>_moved``, same bounds and minimum; its ``argmin`` is the new one.
    """
    from scipy.stats import special_ortho_group

    lo, hi = fn.bounds[:, 0], fn.bounds[:, 1]
    width = hi - lo
    target = rng.uniform(lo + margin * width, hi - margin * width)
    old = np.asarray(fn.argmin, float)
    d = len(old)
    if fn.rotatable and d > 1:
        rotation = special_ortho_group.rvs(d, random_state=rng)
    else:
        rotation = np.eye(d)
    f = fn.f

    def g(x: np.ndarray) -> float:
        return f(old + rotation @ (np.asarray(x, float) - target))

    return TestFunction(f"{fn.name}_moved", g, fn.bounds, fn.minimum, tuple(target), fn.rotatable)


def gp_sample_function(
    seed: int,
    dim: int,
    *,
    seed_offset: int = 10**6,
    candidates: int = 20_000,
    starts: int = 10,
) -> TestFunction:
    """A GP-prior sample on ``[-1, 1]^dim`` (float64) with its minimum found by multistart search.

    Seeds ``seed_offset + seed`` lie outside the range training draws from
    (:func:`neurosim.blackbox.learned.train_optimizer` seeds ``seed * 1_000_003 + it``
    with small ``seed``), so the sample is held out. The minimum: L-BFGS-B from the
    ``starts`` best of ``candidates`` uniform points.
    """
    import torch
    from scipy.optimize import minimize

    from neurosim.blackbox.gp import evaluate, sample_gp_functions

    funcs = sample_gp_functions(
        1, dim, generator=torch.Generator().manual_seed(seed_offset + seed), dtype=torch.float64
    )

    def f(x: np.ndarray) -> float:
        return float(evaluate(funcs, torch.as_tensor(np.asarray(x, float))[None])[0])

    cand = np.random.default_rng(seed).uniform(-1, 1, (candidates, dim))
    vals = evaluate(funcs, torch.as_tensor(cand)[None])[0].numpy()
    runs = [
        minimize(f, cand[k], bounds=[(-1, 1)] * dim, method="L-BFGS-B")
        for k in np.argsort(vals)[:starts]
    ]
    best = min(runs, key=lambda r: r.fun)
    return TestFunction(
        f"gp{dim}", f, np.array([[-1.0, 1.0]] * dim), float(best.fun), tuple(best.x)
    )
