"""Safe parsing of quantities, unit names and expressions from data files.

Model and protocol files are data. Nothing in them is handed to ``eval``:
quantities and unit expressions are evaluated by walking a Python AST that
admits only numbers, Brian2 unit names and arithmetic, and equation
expressions are checked against an explicit set of identifiers before
Brian2's own parser sees them.

Every text is bounded before it is parsed or evaluated: its length, the
number and nesting depth of its AST nodes and the magnitude of every
exponent (``9**9**9 pA`` would otherwise compute a number of 370 million
digits). Quantities must be finite. In quantities, the SI symbols that Brian2
has no name for are accepted as well (``10 s``, ``5 V``, ``3 kV``, ``1 MOhm``);
equations are handed to Brian2 and must use its names (``second``, ``volt``).
"""

from __future__ import annotations

import ast
import math
import re

import brian2
import brian2.units.allunits as _allunits
import brian2.units.stdunits as _stdunits
import numpy as np
from brian2 import DEFAULT_FUNCTIONS, Quantity, Unit
from brian2.units.fundamentalunits import DIMENSIONLESS, Dimension, get_unit

from neurosim.errors import NeurosimError, excerpt

__all__ = [
    "DISPLAY_UNITS",
    "MAX_DEPTH",
    "MAX_EXPONENT",
    "MAX_EXPRESSION_CHARS",
    "MAX_NODES",
    "MAX_QUANTITY_CHARS",
    "SI_SYMBOLS",
    "UNITS",
    "check_expression",
    "check_rate_constant",
    "check_statements",
    "display_unit",
    "expression_identifiers",
    "format_quantity",
    "parse_quantity",
    "parse_unit",
    "unit_name",
]

#: Every unit name Brian2 knows (``mV``, ``nS``, ``siemens``, ``cm2`` ...).
UNITS: dict[str, Unit] = {
    name: value
    for module in (_allunits, _stdunits, brian2)
    for name, value in vars(module).items()
    if isinstance(value, Unit)
}

# SI symbol -> Brian2's name of the unit (the symbol itself when Brian2 has it).
_SYMBOL_BASES = {
    "s": "second",
    "A": "amp",
    "V": "volt",
    "S": "siemens",
    "F": "farad",
    "Hz": "hertz",
    "Ohm": "ohm",
    "m": "metre",
    "g": "gram",
    "C": "coulomb",
    "K": "kelvin",
    "M": "molar",
    "mol": "mole",
    "L": "liter",
    "l": "liter",
    "W": "watt",
    "J": "joule",
    "N": "newton",
    "Pa": "pascal",
}
_PREFIXES = ("", "p", "n", "u", "m", "c", "k", "M", "G")

#: SI symbols Brian2 has no name for -> Brian2's name (``s`` -> ``second``,
#: ``kV`` -> ``kvolt``, ``MOhm`` -> ``Mohm``, ``m2`` -> ``metre2``). Accepted in
#: quantities; in equations, the error names the Brian2 unit to write.
SI_SYMBOLS: dict[str, str] = {
    f"{prefix}{symbol}{power}": f"{prefix}{base}{power}"
    for symbol, base in _SYMBOL_BASES.items()
    for prefix in _PREFIXES
    for power in ("", "2", "3")
    if f"{prefix}{symbol}{power}" not in UNITS and f"{prefix}{base}{power}" in UNITS
}
# micro written with the micro sign: Python reads it (and Greek mu) as Greek mu
SI_SYMBOLS.update(
    {
        "\u03bc" + name[1:]: SI_SYMBOLS.get(name, name)
        for name in [*UNITS, *SI_SYMBOLS]
        if name.startswith("u") and len(name) > 1
    }
)

#: Longest text read as a quantity (``"-70 mV"``, ``"1.6 1/pC"``).
MAX_QUANTITY_CHARS = 200

#: Longest expression (an equation's right-hand side, a threshold, a reset).
MAX_EXPRESSION_CHARS = 2000

#: Most AST nodes of one expression, and their deepest nesting.
MAX_NODES = 1000
MAX_DEPTH = 60

#: Largest magnitude of a constant exponent (``x**3``, ``mV**-1``).
MAX_EXPONENT = 100

#: SI unit name in a recording -> (factor, label) for plots and printed summaries.
DISPLAY_UNITS = {
    "volt": (1e3, "mV"),
    "amp": (1e9, "nA"),
    "siemens": (1e9, "nS"),
    "second": (1e3, "ms"),
    "ohm": (1e-6, "Mohm"),
    "hertz": (1.0, "Hz"),
}


def display_unit(units: str, dimensionless: str = "") -> tuple[float, str]:
    """Factor and label to show values stored in ``units`` (volt -> 1e3, "mV").

    A dimensionless quantity (``"1"`` or no unit) is labelled ``dimensionless``;
    a unit without a display form keeps its name.
    """
    if units in ("", "1"):
        return 1.0, dimensionless
    return DISPLAY_UNITS.get(units, (1.0, units))


#: Functions an expression may call: Brian2's defaults, nothing else.
FUNCTIONS = frozenset(DEFAULT_FUNCTIONS)

# Names Brian2 provides to every group's code.
_BUILTIN_NAMES = frozenset(
    {"t", "dt", "i", "N", "xi", "True", "False", "lastspike", "not_refractory", "t_in_timesteps"}
)

# "10 nS" means 10 * nS, "1.6 1/pC" 1.6 * 1/pC: a number followed by a unit.
_NUMBER_UNIT = re.compile(
    r"((?<![\w.])(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s+(?=[^\W\d]|\(|1\s*/)"
)

_ARITH = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: lambda a, b: a**b,
}


def _parse_bounded(text: str, limit: int, what: str) -> ast.Expression:
    """Parse ``text`` as a Python expression within the size limits.

    Raises ``ValueError`` (with a message for the user) beyond
    ``limit`` characters, :data:`MAX_NODES` nodes or :data:`MAX_DEPTH` levels,
    before anything is evaluated.
    """
    if len(text) > limit:
        raise ValueError(f"{what} of {len(text)} characters is longer than the limit of {limit}")
    try:
        tree = ast.parse(text, mode="eval")
    except (RecursionError, MemoryError):
        raise ValueError(f"{what} nests too deep") from None
    count = 0
    stack: list[tuple[ast.AST, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise ValueError(f"{what} has more than {MAX_NODES} terms")
        if depth > MAX_DEPTH:
            raise ValueError(f"{what} nests deeper than {MAX_DEPTH} levels")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return tree


def _number(value) -> float:
    """A literal as a float (ints too: big-int arithmetic could run for hours)."""
    try:
        number = float(value)
    except OverflowError:
        raise ValueError(f"the number {excerpt(value)} is too large") from None
    if not math.isfinite(number):
        raise ValueError(f"the number {excerpt(value)} is not finite")
    return number


def _exponent(value, text: str) -> float:
    """Check a power's exponent: a plain number of magnitude <= MAX_EXPONENT."""
    if isinstance(value, Quantity) and value.dim is DIMENSIONLESS:
        value = float(value)
    if not isinstance(value, int | float):
        raise ValueError(f"an exponent must be a plain number in {excerpt(text)}")
    if abs(value) > MAX_EXPONENT:
        raise ValueError(f"exponent {value:.6g} is larger than {MAX_EXPONENT} in {excerpt(text)}")
    return value


def _unit(name: str, text: str, symbols: bool):
    """Resolve a unit name; SI symbols (``s``, ``V``) only where ``symbols``."""
    if name in UNITS:
        return UNITS[name]
    if name in SI_SYMBOLS:
        if symbols:
            return UNITS[SI_SYMBOLS[name]]
        raise ValueError(f"unknown unit {name!r} (Brian2 calls it {SI_SYMBOLS[name]!r})")
    raise ValueError(f"unknown unit {excerpt(name)} in {excerpt(text)}")


def _evaluate(node: ast.AST, text: str, symbols: bool = True):
    """Evaluate a numbers-and-units AST; anything else is refused.

    Numbers are floats and every exponent is bounded, so evaluation takes
    microseconds whatever the text (its size is bounded by the caller).
    """
    if isinstance(node, ast.Expression):
        return _evaluate(node.body, text, symbols)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        if isinstance(node.value, bool):
            raise ValueError(f"a boolean is not a quantity: {excerpt(text)}")
        return _number(node.value)
    if isinstance(node, ast.Name):
        return _unit(node.id, text, symbols)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _evaluate(node.operand, text, symbols)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _ARITH:
        left, right = _evaluate(node.left, text, symbols), _evaluate(node.right, text, symbols)
        if isinstance(node.op, ast.Pow):
            right = _exponent(right, text)
        try:
            value = _ARITH[type(node.op)](left, right)
        except brian2.DimensionMismatchError as err:
            raise ValueError(f"inconsistent units in {excerpt(text)}: {err.desc}") from None
        except OverflowError:
            raise ValueError(f"{excerpt(text)} is too large") from None
        if isinstance(value, complex) or not np.all(np.isreal(value)):
            raise ValueError(f"{excerpt(text)} is not a real number")
        return value
    raise ValueError(f"not a quantity: {excerpt(text)}")


def parse_quantity(value, where: str, dimension: Dimension | Quantity | None = None):
    """Parse ``"10 nS"``, ``"-70*mV"``, ``"1/ms"`` or a plain number.

    Parameters
    ----------
    value : str, int or float
        The text from a data file. ``"10 nS"`` is read as ``10 * nS``; SI
        symbols Brian2 has no name for are accepted (``"10 s"``, ``"1 MOhm"``,
        see :data:`SI_SYMBOLS`).
    where : str
        Location for error messages, e.g. ``"models/lif.yaml: parameters.g_L"``.
    dimension : Dimension or Quantity, optional
        If given, the parsed value must have this physical dimension.

    Returns
    -------
    Quantity or float
        A Brian2 quantity, or a float when the value is dimensionless.

    Raises
    ------
    NeurosimError
        If the text is not a quantity, is longer than
        :data:`MAX_QUANTITY_CHARS`, is not finite (NaN, infinite, overflowing)
        or has the wrong dimension.
    """
    return _parse_quantity(value, where, dimension, symbols=True)


def _parse_quantity(value, where: str, dimension, symbols: bool):
    if isinstance(value, bool) or not isinstance(value, str | int | float | Quantity):
        raise NeurosimError(f"{where}: expected a quantity such as '10 nS', got {excerpt(value)}")
    if isinstance(value, str):
        text = value.strip()
        try:
            if len(text) > MAX_QUANTITY_CHARS:
                raise ValueError(
                    f"{len(text)} characters, longer than the limit of {MAX_QUANTITY_CHARS}"
                )
            tree = _parse_bounded(
                _NUMBER_UNIT.sub(r"\1*", text), 2 * MAX_QUANTITY_CHARS, "the quantity"
            )
            parsed = _evaluate(tree, text, symbols)
        except (SyntaxError, ValueError, TypeError, ZeroDivisionError) as err:
            detail = err.msg if isinstance(err, SyntaxError) else str(err)
            raise NeurosimError(
                f"{where}: cannot read {excerpt(value)} as a quantity ({detail})"
            ) from None
    else:
        try:
            parsed = value if isinstance(value, Quantity) else _number(value)
        except ValueError as err:
            raise NeurosimError(f"{where}: {err}") from None
    if isinstance(parsed, Unit):
        parsed = 1.0 * parsed
    if not np.all(np.isfinite(np.asarray(parsed, dtype=float))):
        raise NeurosimError(f"{where}: {excerpt(value)} is not finite")
    if dimension is not None:
        expected = getattr(dimension, "dim", dimension)
        got = getattr(parsed, "dim", DIMENSIONLESS)
        if got is not expected:
            raise NeurosimError(
                f"{where}: {excerpt(value)} has units of {unit_name(got)}, "
                f"expected {unit_name(expected)}"
            )
    if not isinstance(parsed, Quantity) or parsed.dim is DIMENSIONLESS:
        return float(parsed)
    return parsed


def parse_unit(text: str, where: str) -> Unit | float:
    """Parse a unit expression such as ``volt``, ``siemens/meter**2`` or ``1``.

    Brian2's names only (``volt``, not ``V``): the unit is handed to Brian2.
    """
    quantity = _parse_quantity(text, where, None, symbols=False)
    if isinstance(quantity, float):
        if quantity != 1.0:
            raise NeurosimError(f"{where}: {excerpt(text)} is a number, not a unit")
        return 1.0
    if not np.isclose(float(quantity / get_unit(quantity.dim)), 1.0):
        # Brian2 declares variables in SI units (volt, not 10*mV or mV).
        raise NeurosimError(
            f"{where}: {excerpt(text)} is not an SI unit (write e.g. 'volt', 'siemens')"
        )
    return quantity


def unit_name(dimension) -> str:
    """Name of the SI unit of a dimension, as stored in recordings (``"1"`` if none)."""
    dim = getattr(dimension, "dim", dimension)
    if dim is DIMENSIONLESS:
        return "1"
    return repr(get_unit(dim))


def format_quantity(value) -> str:
    """Format a quantity so that :func:`parse_quantity` reads it back exactly."""
    if isinstance(value, Quantity) and value.dim is not DIMENSIONLESS:
        return f"{float(value / get_unit(value.dim))!r} * {unit_name(value.dim)}"
    return repr(float(value))


def expression_identifiers(expr: str, where: str) -> set[str]:
    """Return the names an expression uses, refusing anything but arithmetic.

    Admitted: numbers, names, arithmetic, comparisons, ``and``/``or``/``not``,
    and calls of Brian2's default functions. Attribute access, subscripts,
    lambdas, strings and every other construct are refused, so a data file
    cannot reach Python through an expression.
    """
    if not isinstance(expr, str):
        raise NeurosimError(f"{where}: expected an expression, got {excerpt(expr)}")
    text = expr.strip()
    try:
        tree = _parse_bounded(text, MAX_EXPRESSION_CHARS, "the expression")
    except SyntaxError as err:
        raise NeurosimError(f"{where}: malformed expression {excerpt(text)} ({err.msg})") from None
    except ValueError as err:
        raise NeurosimError(f"{where}: {err}: {excerpt(text)}") from None
    names: set[str] = set()
    allowed = (
        ast.Expression,
        ast.BinOp,
        ast.UnaryOp,
        ast.BoolOp,
        ast.Compare,
        ast.Name,
        ast.Load,
        ast.operator,
        ast.unaryop,
        ast.boolop,
        ast.cmpop,
        ast.Call,
    )
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant):
            if not isinstance(node.value, int | float | bool):
                raise NeurosimError(
                    f"{where}: only numbers are allowed as literals in {excerpt(text)}"
                )
            try:
                _number(node.value)
            except ValueError as err:
                raise NeurosimError(f"{where}: {err} in {excerpt(text)}") from None
            continue
        if not isinstance(node, allowed):
            kind = type(node).__name__
            raise NeurosimError(f"{where}: {kind} is not allowed in expression {excerpt(text)}")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            _check_constant_exponent(node.right, text, where)
        if isinstance(node, ast.Call):
            if (
                not isinstance(node.func, ast.Name)
                or node.func.id not in FUNCTIONS
                or node.keywords
            ):
                name = getattr(node.func, "id", None) or ast.unparse(node.func)
                raise NeurosimError(f"{where}: unknown function {excerpt(name)} in {excerpt(text)}")
        elif isinstance(node, ast.Name):
            names.add(node.id)
    return {n for n in names if n not in FUNCTIONS}


def _check_constant_exponent(node: ast.AST, text: str, where: str) -> None:
    """Refuse a constant exponent beyond :data:`MAX_EXPONENT` (``x**9**9``).

    Brian2 simplifies equations with sympy, which computes constant powers
    exactly: ``9**9**9`` would run for hours. Exponents that use names are
    left to Brian2 (they are evaluated numerically).
    """
    if any(isinstance(n, ast.Name | ast.Call) for n in ast.walk(node)):
        return
    try:
        _exponent(_evaluate(node, text), text)
    except (ValueError, TypeError, ZeroDivisionError) as err:
        raise NeurosimError(f"{where}: {err}") from None


def check_expression(expr: str, known: set[str] | frozenset[str], where: str) -> set[str]:
    """Check that every identifier of ``expr`` is known; return the identifiers used.

    ``known`` holds the model's variables and parameters; unit names, Brian2's
    built-in names (``t``, ``dt``, ``i`` ...) and ``xi_*`` noise terms are always
    known.
    """
    used = expression_identifiers(expr, where)
    for name in sorted(used):
        if name in known or name in UNITS or name in _BUILTIN_NAMES or name.startswith("xi_"):
            continue
        hint = f" (Brian2 calls the unit {SI_SYMBOLS[name]!r})" if name in SI_SYMBOLS else ""
        raise NeurosimError(
            f"{where}: unknown identifier {excerpt(name)} in {excerpt(expr.strip())}{hint}"
        )
    return used & set(known)


_STATEMENT = re.compile(r"^\s*([A-Za-z_]\w*)\s*(=|\+=|-=|\*=|/=)\s*(.+?)\s*$")


def check_statements(code: str, variables: set[str], known: set[str], where: str) -> set[str]:
    """Check Brian2 statements such as ``v = v_r; w += b`` (reset, on_pre).

    Each statement assigns to one of ``variables``; its right-hand side is
    checked with :func:`check_expression`. Returns the known identifiers used.
    """
    if not isinstance(code, str):
        raise NeurosimError(f"{where}: expected statements such as 'v = v_r', got {excerpt(code)}")
    if len(code) > MAX_EXPRESSION_CHARS:
        raise NeurosimError(
            f"{where}: {len(code)} characters, longer than the limit of {MAX_EXPRESSION_CHARS}"
        )
    used: set[str] = set()
    for line in re.split(r"[;\n]", code):
        line = line.split("#", 1)[0]
        if not line.strip():
            continue
        match = _STATEMENT.match(line)
        if match is None:
            raise NeurosimError(
                f"{where}: not a statement of the form 'x = expr': {excerpt(line.strip())}"
            )
        target, _, rhs = match.groups()
        if target not in variables:
            raise NeurosimError(
                f"{where}: unknown variable {excerpt(target)} in {excerpt(line.strip())}"
            )
        used |= {target} | check_expression(rhs, known, where)
    return used


def check_rate_constant(name: str, value, where: str):
    """A finite parameter value; a time (a time constant) has to be > 0 as well."""
    number = float(np.asarray(value, dtype=float))
    if not np.isfinite(number):
        raise NeurosimError(f"{where}: has to be finite, got {excerpt(value)}")
    if getattr(value, "dim", DIMENSIONLESS) is brian2.second.dim and number <= 0:
        raise NeurosimError(f"{where}: the time {name!r} has to be > 0, got {excerpt(value)}")
    return value
