"""Benchmark functions of black-box optimization (to be minimised), with bounds and optima.

Branin, Goldstein-Price, Hartmann3 and Hartmann6 as in the benchmark suites
of Chen et al. (2017) and the Bayesian-optimization literature (constants from
Surjanovic & Bingham's Virtual Library of Simulation Experiments).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

__all__ = ["FUNCTIONS", "TestFunction"]


class TestFunction(NamedTuple):
    """A benchmark function with its box and known global minimum."""

    name: str
    f: Callable[[np.ndarray], float]
    bounds: np.ndarray
    """(d, 2): lower and upper bound of each coordinate."""
    minimum: float


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
    "branin": TestFunction("branin", _branin, np.array([[-5.0, 10.0], [0.0, 15.0]]), 0.397887),
    "goldstein_price": TestFunction(
        "goldstein_price", _goldstein_price, np.array([[-2.0, 2.0], [-2.0, 2.0]]), 3.0
    ),
    "hartmann3": TestFunction(
        "hartmann3", _hartmann(_H3_A, _H3_P), np.array([[0.0, 1.0]] * 3), -3.86278
    ),
    "hartmann6": TestFunction(
        "hartmann6", _hartmann(_H6_A, _H6_P), np.array([[0.0, 1.0]] * 6), -3.32237
    ),
}
