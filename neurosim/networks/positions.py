"""Positions of a population's neurons in space, and distances between them.

A population's ``positions:`` places its neurons in a box (NEST's spatial
layers)::

    positions: {layout: grid, shape: [100, 100], extent: [1 mm, 1 mm], periodic: true}
    positions: {layout: random, extent: [1 mm, 1 mm, 200 um]}

``grid``: the centres of ``shape`` cells filling ``extent`` (their product is
the population size); ``random``: uniform in the box, drawn from the
protocol's seed (one generator per population). ``periodic``: distances wrap
around the box (a torus), as NEST's ``edge_wrap``. 1 to 3 dimensions.
Distance-dependent connectors (:mod:`neurosim.networks.connectors`, rule
``distance``) and weights or delays given as an expression of the distance
(:mod:`neurosim.networks.values`) use them; both measure distances with
:func:`pair_distances`, so the periodic wrap is the same for both.
"""

from __future__ import annotations

from typing import Any

import brian2
import numpy as np

from neurosim.errors import NeurosimError, excerpt
from neurosim.schema import check_bool, check_keys, check_list
from neurosim.units import parse_quantity

__all__ = ["check_positions", "distances", "largest_distance", "make_positions", "pair_distances"]

LAYOUTS = ("grid", "random")


def check_positions(spec: Any, n: int, where: str) -> dict[str, Any]:
    """Validate a ``positions:`` entry for ``n`` neurons; extents in metres."""
    if not isinstance(spec, dict):
        raise NeurosimError(f"{where}: expected a mapping with 'layout', got {excerpt(spec)}")
    layout = spec.get("layout")
    if layout not in LAYOUTS:
        raise NeurosimError(f"{where}.layout: expected grid or random, got {excerpt(layout)}")
    required = ("layout", "extent", "shape") if layout == "grid" else ("layout", "extent")
    check_keys(spec, where, required, ("periodic",))
    extent = check_list(spec["extent"], f"{where}.extent", "a list of 1-3 lengths", 3)
    if not extent:
        raise NeurosimError(f"{where}.extent: expected 1-3 lengths, got none")
    sizes = [float(parse_quantity(e, f"{where}.extent", brian2.metre)) for e in extent]
    if not all(np.isfinite(x) and x > 0 for x in sizes):
        raise NeurosimError(f"{where}.extent: lengths have to be > 0, got {excerpt(extent)}")
    out = {
        "layout": layout,
        "extent": tuple(sizes),
        "periodic": check_bool(spec.get("periodic", False), f"{where}.periodic"),
    }
    if layout == "grid":
        shape = check_list(spec["shape"], f"{where}.shape", "a list of cell counts", 3)
        if len(shape) != len(sizes) or not all(
            isinstance(k, int) and not isinstance(k, bool) and k >= 1 for k in shape
        ):
            raise NeurosimError(
                f"{where}.shape: expected {len(sizes)} positive integers (one per extent), "
                f"got {excerpt(shape)}"
            )
        if int(np.prod(shape)) != n:
            raise NeurosimError(
                f"{where}.shape: {' x '.join(map(str, shape))} cells for {n} neurons"
            )
        out["shape"] = tuple(shape)
    return out


def make_positions(spec: dict[str, Any], n: int, rng: np.random.Generator) -> np.ndarray:
    """Positions (n, dims) in metres of a validated ``positions:`` entry."""
    extent = np.asarray(spec["extent"], float)
    if spec["layout"] == "random":
        return rng.uniform(0.0, 1.0, size=(n, len(extent))) * extent
    shape = spec["shape"]
    cells = np.stack(np.unravel_index(np.arange(n), shape), axis=1).astype(float)
    return (cells + 0.5) * (extent / np.asarray(shape, float))


def pair_distances(a: np.ndarray, b: np.ndarray, period: np.ndarray | None) -> np.ndarray:
    """Euclidean distances between the positions of ``a`` and ``b``, pair by pair.

    Parameters
    ----------
    a, b : numpy.ndarray
        Positions in metres, the last axis the coordinates; the other axes
        broadcast (``(n, dims)`` and ``(n, dims)``: ``n`` distances).
    period : numpy.ndarray or None
        Size of the periodic box (None: no wrapping). Each coordinate
        difference is taken the short way around the box (NEST's ``edge_wrap``).

    Returns
    -------
    numpy.ndarray
        Distances in metres, the broadcast shape of ``a`` and ``b`` less the last axis.
    """
    d = np.abs(a - b)
    if period is not None:
        d = np.minimum(d, period - d)
    return np.sqrt(np.sum(d * d, axis=-1))


def distances(a: np.ndarray, b: np.ndarray, period: np.ndarray | None) -> np.ndarray:
    """Euclidean distances (len(a), len(b)); ``period``: wrap around a box of that size."""
    return pair_distances(a[:, None, :], b[None, :, :], period)


def largest_distance(a: np.ndarray, b: np.ndarray, period: np.ndarray | None) -> float:
    """An upper bound (m) of the distance between any position of ``a`` and any of ``b``.

    The diagonal of the box holding both (of half the periodic box when it
    wraps): what a check over every possible distance has to cover, at a
    cost of the positions rather than of the pairs.
    """
    if not len(a) or not len(b):
        return 0.0
    both = np.concatenate([a, b])
    span = both.max(axis=0) - both.min(axis=0)
    if period is not None:
        span = np.minimum(span, 0.5 * period)
    return float(np.sqrt(np.sum(span * span)))
