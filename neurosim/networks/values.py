"""Per-synapse values (weights, delays) as data: a quantity or a distribution, with units.

A protocol writes a projection's ``weight`` or ``delay`` as

- a quantity: ``weight: 0.1 mV``;
- a distribution, every parameter a quantity of the same dimension::

      weight: {distribution: normal, mean: 87.8 pA, std: 8.8 pA, min: 0 pA}
      delay: {distribution: lognormal, mean: 1.5 ms, std: 0.75 ms}
      delay: {distribution: uniform, low: 1 ms, high: 2 ms}

``normal`` and ``lognormal`` take ``mean`` and ``std`` of the value itself
(a lognormal with a negative ``mean`` is the mirror image of one with
``-mean``, for inhibitory weights); ``uniform`` takes ``low`` and ``high``.
``min`` and ``max`` bound any distribution: values outside are drawn again,
as NEST's ``redraw`` does, so ``min: 0 pA`` keeps every excitatory weight
positive without piling values up at the bound (the cortical microcircuit's
"normal, clipped to keep the sign"). Bounds that leave less than 0.1 % of the
distribution are refused, since redrawing would then take very long.

:func:`value_from_spec` checks a spec when the protocol loads (types, units,
ranges), :func:`draw` makes the values with a seeded generator, in SI units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from neurosim.errors import NeurosimError
from neurosim.schema import check_choice, check_keys
from neurosim.units import parse_quantity, unit_name

__all__ = ["DISTRIBUTIONS", "ValueSpec", "draw", "value_from_spec"]

#: Distributions and their parameters (all of the value's dimension).
DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "normal": ("mean", "std"),
    "lognormal": ("mean", "std"),
    "uniform": ("low", "high"),
}

#: Least probability the bounds ``min``/``max`` may leave to a distribution.
MIN_MASS = 1e-3

#: Redraw rounds before giving up (each round redraws the values still outside).
_ROUNDS = 1000


@dataclass(frozen=True)
class ValueSpec:
    """A constant or a distribution; numbers in SI units of ``dimension``.

    Attributes
    ----------
    kind : str
        ``"constant"`` or one of :data:`DISTRIBUTIONS`.
    params : tuple of (str, float)
        ``(("value", v),)`` for a constant, else the distribution's parameters.
    low, high : float
        Bounds (``-inf``/``inf`` when absent); values outside are redrawn.
    dimension : brian2 Dimension
        Physical dimension of the values (weights: that of the synapse model's
        weight; delays: time).
    """

    kind: str
    params: tuple[tuple[str, float], ...]
    low: float = -math.inf
    high: float = math.inf
    dimension: object = None

    def param(self, name: str) -> float:
        """One parameter by name (SI units)."""
        return dict(self.params)[name]

    def lowest(self) -> float:
        """Lowest value a draw can take (SI units; ``-inf`` if unbounded below)."""
        if self.kind == "constant":
            return self.param("value")
        if self.kind == "uniform":
            return max(self.low, self.param("low"))
        if self.kind == "lognormal" and self.param("mean") > 0:
            return max(self.low, 0.0)
        return self.low

    def mean(self) -> float:
        """Mean of the unbounded distribution (SI units): for memory and rate estimates."""
        if self.kind == "constant":
            return self.param("value")
        if self.kind == "uniform":
            return 0.5 * (self.param("low") + self.param("high"))
        return self.param("mean")


def value_from_spec(spec: object, where: str, dimension) -> ValueSpec:
    """Read a ``weight:`` or ``delay:`` entry (see the module docstring).

    Parameters
    ----------
    spec : str, number or mapping
        The entry as loaded from the protocol file.
    where : str
        Location for error messages (``"p.yaml: projections.ee.weight"``).
    dimension : brian2 Dimension or Quantity
        The dimension every quantity in the entry must have.
    """
    if not isinstance(spec, dict):
        value = float(parse_quantity(spec, where, dimension))
        return ValueSpec("constant", (("value", value),), dimension=_dim(dimension))
    allowed = ("mean", "std", "low", "high", "min", "max")
    spec = check_keys(spec, where, ("distribution",), allowed)
    kind, needed = check_choice(spec, "distribution", DISTRIBUTIONS, "distribution", where)
    values = {k: float(parse_quantity(spec[k], f"{where}.{k}", dimension)) for k in needed}
    low = (
        float(parse_quantity(spec["min"], f"{where}.min", dimension))
        if "min" in spec
        else -math.inf
    )
    high = (
        float(parse_quantity(spec["max"], f"{where}.max", dimension)) if "max" in spec else math.inf
    )
    unit = unit_name(_dim(dimension))
    if kind in ("normal", "lognormal") and values["std"] < 0:
        raise NeurosimError(f"{where}.std: has to be >= 0, got {spec['std']!r}")
    if kind == "lognormal" and values["mean"] == 0:
        raise NeurosimError(f"{where}.mean: a lognormal needs a mean other than 0 {unit}")
    if kind == "uniform" and not values["low"] < values["high"]:
        raise NeurosimError(
            f"{where}: low ({spec['low']!r}) has to be below high ({spec['high']!r})"
        )
    if not low < high:
        raise NeurosimError(f"{where}: min ({spec['min']!r}) has to be below max ({spec['max']!r})")
    out = ValueSpec(kind, tuple(values.items()), low, high, _dim(dimension))
    mass = _mass_inside(out)
    if mass < MIN_MASS:
        raise NeurosimError(
            f"{where}: min/max leave {mass:.2g} of the {kind} distribution "
            f"(at least {MIN_MASS:g} needed to redraw the values outside)"
        )
    return out


def _dim(dimension):
    return getattr(dimension, "dim", dimension)


def _frozen(spec: ValueSpec):
    """The scipy distribution of ``spec`` (unbounded); None for a constant."""
    p = dict(spec.params)
    if spec.kind == "normal":
        return stats.norm(p["mean"], p["std"]) if p["std"] > 0 else None
    if spec.kind == "uniform":
        return stats.uniform(p["low"], p["high"] - p["low"])
    if spec.kind == "lognormal":
        mu, sigma = _lognormal(p["mean"], p["std"])
        return stats.lognorm(s=sigma, scale=math.exp(mu))
    return None


def _lognormal(mean: float, std: float) -> tuple[float, float]:
    """The mu and sigma of log|value| for a lognormal of this mean (its magnitude) and std."""
    sigma2 = math.log1p((std / mean) ** 2)
    return math.log(abs(mean)) - sigma2 / 2, math.sqrt(sigma2)


def _mass_inside(spec: ValueSpec) -> float:
    """Probability of a draw within [low, high]."""
    dist = _frozen(spec)
    if dist is None:  # a constant (or a zero-width normal)
        v = spec.mean()
        return 1.0 if spec.low <= v <= spec.high else 0.0
    low, high = spec.low, spec.high
    if spec.kind == "lognormal" and spec.param("mean") < 0:
        low, high = -high, -low  # mirrored
    return float(dist.cdf(high) - dist.cdf(low))


def draw(spec: ValueSpec, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` values of ``spec`` in SI units (float64), bounds applied by redrawing."""
    if spec.kind == "constant":
        return np.full(n, spec.param("value"))
    values = _sample(spec, n, rng)
    outside = np.flatnonzero((values < spec.low) | (values > spec.high))
    for _ in range(_ROUNDS):
        if not len(outside):
            return values
        values[outside] = _sample(spec, len(outside), rng)
        outside = outside[(values[outside] < spec.low) | (values[outside] > spec.high)]
    raise NeurosimError(f"{spec.kind} distribution: values still outside min/max after redrawing")


def _sample(spec: ValueSpec, n: int, rng: np.random.Generator) -> np.ndarray:
    p = dict(spec.params)
    if spec.kind == "normal":
        return rng.normal(p["mean"], p["std"], size=n)
    if spec.kind == "uniform":
        return rng.uniform(p["low"], p["high"], size=n)
    out = rng.lognormal(*_lognormal(p["mean"], p["std"]), size=n)
    return out if p["mean"] > 0 else -out
