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

- an expression of the distance ``d`` between the pre- and postsynaptic
  neurons' positions (both populations need ``positions:``)::

      weight: {expression: "0.5 mV * exp(-d / (200 um))"}
      delay: {expression: "0.5 ms + d / (0.3 m/s)"}

  Numbers with units (a number followed by a unit is their product, as in a
  quantity: ``200 um`` is ``200*um``, so a division by a quantity needs
  parentheses), ``d`` (metres), ``pi``, ``+ - * / **`` (a constant exponent
  is at most 100 in magnitude; only a dimensionless base may have an exponent
  that depends on ``d``), parentheses and the functions of
  :data:`EXPRESSION_FUNCTIONS`. Nothing else: the text is parsed into a
  Python syntax tree, bounded in length and depth before anything else, and
  walked node by node (:func:`evaluate`); it is never handed to ``eval``.
  The result must have the value's dimension. The distance is
  :func:`neurosim.networks.positions.pair_distances`, the one the
  ``distance`` connector uses (periodic boxes wrap the same way).
- an array of the connector's file (``connector: {rule: from_file, ...}``)::

      weight: {from_file: weight, unit: mV}
      delay: {from_file: delay, unit: ms}

  ``from_file`` names the array in the ``.npz`` file (one number per synapse,
  in the file's order of ``i`` and ``j``), ``unit`` the unit of its numbers
  (``volt`` for SI values); lengths, finiteness and units are checked when
  the protocol loads (:func:`neurosim.networks.connectors.file_array`).

:func:`value_from_spec` checks a spec when the protocol loads (types, units,
ranges), :func:`draw` makes the values of a constant or a distribution with a
seeded generator, in SI units, and :func:`synapse_values` those of any spec
for the synapses of a projection.
"""

from __future__ import annotations

import ast
import math
import warnings
from dataclasses import dataclass

import numpy as np
from brian2 import metre
from brian2.units.fundamentalunits import DIMENSIONLESS
from scipy import stats

from neurosim.errors import NeurosimError, excerpt
from neurosim.networks.connectors import Connector, file_array
from neurosim.networks.positions import pair_distances
from neurosim.schema import check_choice, check_keys, check_str
from neurosim.units import (
    _NUMBER_UNIT,
    SI_SYMBOLS,
    UNITS,
    _exponent,
    _number,
    _parse_bounded,
    _unit,
    parse_quantity,
    unit_name,
)

__all__ = [
    "DISTRIBUTIONS",
    "EXPRESSION_FUNCTIONS",
    "MAX_EXPRESSION_CHARS",
    "ValueSpec",
    "draw",
    "evaluate",
    "synapse_values",
    "value_from_spec",
]

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

#: Functions a distance expression may call, and their number of arguments.
#: ``exp``, ``log``, ``log10``, ``tanh``, ``sin``, ``cos`` take a dimensionless
#: argument; ``sqrt`` and ``abs`` any; ``minimum``, ``maximum`` and ``clip``
#: (value, low, high) arguments of one dimension.
EXPRESSION_FUNCTIONS: dict[str, tuple[int, object]] = {
    "exp": (1, np.exp),
    "log": (1, np.log),
    "log10": (1, np.log10),
    "tanh": (1, np.tanh),
    "sin": (1, np.sin),
    "cos": (1, np.cos),
    "sqrt": (1, np.sqrt),
    "abs": (1, np.abs),
    "minimum": (2, np.minimum),
    "maximum": (2, np.maximum),
    "clip": (3, np.clip),
}
_DIMENSIONLESS_ARGUMENT = ("exp", "log", "log10", "tanh", "sin", "cos")

#: Longest distance expression (characters); its syntax tree is further bounded
#: by :data:`neurosim.units.MAX_NODES` nodes and :data:`neurosim.units.MAX_DEPTH` levels.
MAX_EXPRESSION_CHARS = 500

#: Synapses whose distances are computed at once (memory: a few arrays of this length).
_BLOCK = 1_000_000


@dataclass(frozen=True)
class ValueSpec:
    """A constant or a distribution; numbers in SI units of ``dimension``.

    Attributes
    ----------
    kind : str
        ``"constant"``, one of :data:`DISTRIBUTIONS`, ``"expression"`` (of the
        distance) or ``"from_file"`` (an array of the connector's file).
    params : tuple of (str, float)
        ``(("value", v),)`` for a constant, ``(("unit", u),)`` (SI value of the
        file's unit) for ``from_file``, else the distribution's parameters.
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
    source: str | None = None
    """``expression``: its text; ``from_file``: the array's name in the file."""

    @property
    def spatial(self) -> bool:
        """The values depend on the neurons' positions (an expression of the distance)."""
        return self.kind == "expression"

    def param(self, name: str) -> float:
        """One parameter by name (SI units)."""
        return dict(self.params)[name]

    def lowest(self) -> float:
        """Lowest value a draw can take (SI units; ``-inf`` if unbounded below)."""
        self._drawn("lowest")
        if self.kind == "constant":
            return self.param("value")
        if self.kind == "uniform":
            return max(self.low, self.param("low"))
        if self.kind == "lognormal" and self.param("mean") > 0:
            return max(self.low, 0.0)
        return self.low

    def mean(self) -> float:
        """Mean of the unbounded distribution (SI units): for memory and rate estimates."""
        self._drawn("mean")
        if self.kind == "constant":
            return self.param("value")
        if self.kind == "uniform":
            return 0.5 * (self.param("low") + self.param("high"))
        return self.param("mean")

    def _drawn(self, what: str) -> None:
        # expressions and file arrays have no value of their own: theirs
        # depend on the positions or the file, checked by the projection
        if self.kind in ("expression", "from_file"):
            raise ValueError(f"the {what} of a {self.kind} value depends on the synapses")


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

    Returns
    -------
    ValueSpec
        Checked, numbers in SI units. An expression is parsed and its
        dimension checked here; its values, which depend on the positions,
        are checked by the projection (:func:`evaluate`), as are a file's.
    """
    if isinstance(spec, dict) and "expression" in spec:
        check_keys(spec, where, ("expression",))
        text = check_str(spec["expression"], f"{where}.expression", "an expression of d", 10_000)
        _check_expression(text, _dim(dimension), f"{where}.expression")
        return ValueSpec("expression", (), dimension=_dim(dimension), source=text.strip())
    if isinstance(spec, dict) and "from_file" in spec:
        check_keys(spec, where, ("from_file", "unit"))
        name = check_str(spec["from_file"], f"{where}.from_file", "an array name", 200)
        unit = parse_quantity(spec["unit"], f"{where}.unit", dimension)
        if not float(unit) > 0:
            raise NeurosimError(f"{where}.unit: has to be positive, got {excerpt(spec['unit'])}")
        return ValueSpec(
            "from_file", (("unit", float(unit)),), dimension=_dim(dimension), source=name
        )
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
    spec._drawn("draw")
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


def synapse_values(
    spec: ValueSpec,
    i: np.ndarray,
    j: np.ndarray,
    rng: np.random.Generator,
    where: str,
    positions=None,
    connector: Connector | None = None,
) -> np.ndarray:
    """The values of ``spec`` for the synapses ``(i, j)`` of a projection, in SI units.

    Parameters
    ----------
    spec : ValueSpec
    i, j : numpy.ndarray of int
        Pre- and postsynaptic indices, one entry per synapse.
    rng : numpy.random.Generator
        Draws a distribution (not used by the other kinds).
    where : str
        Location for error messages (the projection's key).
    positions : tuple, optional
        ``(pre, post, period)`` (see :func:`neurosim.networks.connectors.connect`):
        needed by an expression of the distance.
    connector : Connector, optional
        The projection's connector: a ``from_file`` value reads its file.

    Returns
    -------
    numpy.ndarray of float64
        One value per synapse.
    """
    if spec.kind == "from_file":
        if connector is None or connector.rule != "from_file":
            raise NeurosimError(f"{where}.from_file: needs a connector of rule from_file")
        return file_array(connector, spec.source, f"{where}.from_file") * spec.param("unit")
    if spec.kind != "expression":
        return draw(spec, len(i), rng)
    if positions is None:
        raise NeurosimError(f"{where}.expression: needs the populations' positions")
    pre, post, period = positions
    out = np.empty(len(i))
    for start in range(0, len(i), _BLOCK):
        block = slice(start, start + _BLOCK)
        d = pair_distances(pre[i[block]], post[j[block]], period)
        out[block] = evaluate(spec, d, f"{where}.expression")
    return out


def evaluate(spec: ValueSpec, d: np.ndarray, where: str) -> np.ndarray:
    """An expression's values (SI units) at the distances ``d`` (m), all finite.

    Raises
    ------
    NeurosimError
        If a value is not finite (``log(d / um)`` at ``d = 0``), naming the
        first such distance.
    """
    d = np.asarray(d, dtype=float)
    with np.errstate(all="ignore"):  # NaN and inf are refused below, by value
        values, _ = _walk(_tree(spec.source, where).body, spec.source, d, where)
    values = np.broadcast_to(np.asarray(values, dtype=float), d.shape)
    bad = ~np.isfinite(values)
    if bad.any():
        at = float(d[bad].flat[0])
        raise NeurosimError(
            f"{where}: {excerpt(spec.source)} is {values[bad].flat[0]} at d = {at * 1e6:.6g} um"
        )
    return np.array(values, dtype=float)


def _tree(text: str, where: str) -> ast.Expression:
    """The syntax tree of an expression, within the length, node and depth limits."""
    if len(text) > MAX_EXPRESSION_CHARS:
        raise NeurosimError(
            f"{where}: {len(text)} characters, longer than the limit of {MAX_EXPRESSION_CHARS}"
        )
    try:
        # Python's parser warns of texts such as "1if" that are refused anyway
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            # "200 um" is 200*um, as in a quantity
            return _parse_bounded(
                _NUMBER_UNIT.sub(r"\1*", text.strip()), 2 * MAX_EXPRESSION_CHARS, "the expression"
            )
    except SyntaxError as err:
        raise NeurosimError(f"{where}: malformed expression {excerpt(text)} ({err.msg})") from None
    except ValueError as err:
        raise NeurosimError(f"{where}: {err}: {excerpt(text)}") from None


def _check_expression(text: str, dimension, where: str) -> None:
    """Parse ``text`` and check its names, calls and units; one line if anything is wrong."""
    tree = _tree(text, where)
    with np.errstate(all="ignore"):  # the values at this sample distance do not matter
        _, got = _walk(tree.body, text, np.array([1e-4]), where)
    if got is not dimension:
        raise NeurosimError(
            f"{where}: {excerpt(text)} has units of {unit_name(got)}, "
            f"expected {unit_name(dimension)}"
        )


def _walk(node: ast.AST, text: str, d: np.ndarray, where: str = ""):
    """Evaluate a checked node: (values in SI units, Dimension); anything unknown refused.

    Every node type is named here; any other (attributes, subscripts, strings,
    comparisons, lambdas ...) is refused, so no text reaches Python's ``eval``.
    """
    try:
        return _node(node, text, d)
    except ValueError as err:
        raise NeurosimError(f"{where}: {err}") from None


def _node(node: ast.AST, text: str, d: np.ndarray):
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise ValueError(f"only numbers are allowed as literals in {excerpt(text)}")
        return _number(node.value), DIMENSIONLESS
    if isinstance(node, ast.Name):
        return _name(node.id, text, d)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value, dim = _node(node.operand, text, d)
        return (-value if isinstance(node.op, ast.USub) else value), dim
    if isinstance(node, ast.BinOp) and isinstance(
        node.op, ast.Add | ast.Sub | ast.Mult | ast.Div | ast.Pow
    ):
        return _binary(node, text, d)
    if isinstance(node, ast.Call):
        return _call(node, text, d)
    raise ValueError(f"{type(node).__name__} is not allowed in {excerpt(text)}")


def _name(name: str, text: str, d: np.ndarray):
    if name == "d":
        return d, metre.dim
    if name == "pi":
        return math.pi, DIMENSIONLESS
    if name in UNITS or name in SI_SYMBOLS:
        unit = _unit(name, text, symbols=True)
        return float(np.asarray(unit)), unit.dim
    raise ValueError(
        f"unknown name {excerpt(name)} in {excerpt(text)} "
        "(the distance is d; units such as mV, um; functions such as exp(...))"
    )


def _binary(node: ast.BinOp, text: str, d: np.ndarray):
    left, ldim = _node(node.left, text, d)
    if isinstance(node.op, ast.Pow):
        right, rdim = _node(node.right, text, d)
        if rdim is not DIMENSIONLESS:
            raise ValueError(f"an exponent must be dimensionless in {excerpt(text)}")
        if ldim is DIMENSIONLESS and np.ndim(right):
            return np.power(left, right), DIMENSIONLESS
        if np.ndim(right):  # a dimension to a varying power has no unit
            raise ValueError(f"a power of a quantity needs a constant exponent in {excerpt(text)}")
        exponent = _exponent(float(right), text)
        if not math.isfinite(exponent):
            raise ValueError(f"the exponent is {exponent} in {excerpt(text)}")
        return np.power(left, exponent), ldim**exponent
    right, rdim = _node(node.right, text, d)
    if isinstance(node.op, ast.Add | ast.Sub):
        if ldim is not rdim:
            raise ValueError(
                f"cannot add or subtract {unit_name(ldim)} and {unit_name(rdim)} in {excerpt(text)}"
            )
        return (left + right if isinstance(node.op, ast.Add) else left - right), ldim
    if isinstance(node.op, ast.Mult):
        return np.multiply(left, right), ldim * rdim
    return np.divide(left, right), ldim / rdim


def _call(node: ast.Call, text: str, d: np.ndarray):
    if not isinstance(node.func, ast.Name):
        # only a whitelisted name is called: no attribute, subscript or lambda
        raise ValueError(f"{type(node.func).__name__} is not allowed in {excerpt(text)}")
    name = node.func.id
    if node.keywords:
        raise ValueError(f"keyword arguments are not allowed in {excerpt(text)}")
    if name not in EXPRESSION_FUNCTIONS:
        raise ValueError(
            f"unknown function {excerpt(name)} in {excerpt(text)} "
            f"(have: {', '.join(EXPRESSION_FUNCTIONS)})"
        )
    count, function = EXPRESSION_FUNCTIONS[name]
    if len(node.args) != count:
        raise ValueError(f"{name} takes {count} argument(s) in {excerpt(text)}")
    args = [_node(arg, text, d) for arg in node.args]
    dims = {dim for _, dim in args}
    values = [value for value, _ in args]
    if name in _DIMENSIONLESS_ARGUMENT:
        if args[0][1] is not DIMENSIONLESS:
            raise ValueError(
                f"{name} needs a dimensionless argument, got {unit_name(args[0][1])} "
                f"in {excerpt(text)}"
            )
        return function(values[0]), DIMENSIONLESS
    if name == "sqrt":
        return function(values[0]), args[0][1] ** 0.5
    if len(dims) > 1:
        raise ValueError(f"{name} needs arguments of one unit in {excerpt(text)}")
    return function(*values), args[0][1]
