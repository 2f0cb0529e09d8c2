"""Safe parsing of quantities, unit names and expressions from data files.

Model and protocol files are data. Nothing in them is handed to ``eval``:
quantities and unit expressions are evaluated by walking a Python AST that
admits only numbers, Brian2 unit names and arithmetic, and equation
expressions are checked against an explicit set of identifiers before
Brian2's own parser sees them.
"""

from __future__ import annotations

import ast
import re

import brian2
import brian2.units.allunits as _allunits
import brian2.units.stdunits as _stdunits
import numpy as np
from brian2 import DEFAULT_FUNCTIONS, Quantity, Unit
from brian2.units.fundamentalunits import DIMENSIONLESS, Dimension, get_unit

from neurosim.errors import NeurosimError

__all__ = [
    "DISPLAY_UNITS",
    "UNITS",
    "check_expression",
    "check_statements",
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

#: SI unit name in a recording -> (factor, label) for plots and printed summaries.
DISPLAY_UNITS = {
    "volt": (1e3, "mV"),
    "amp": (1e9, "nA"),
    "siemens": (1e9, "nS"),
    "second": (1e3, "ms"),
    "ohm": (1e-6, "Mohm"),
    "hertz": (1.0, "Hz"),
}

#: Functions an expression may call: Brian2's defaults, nothing else.
FUNCTIONS = frozenset(DEFAULT_FUNCTIONS)

# Names Brian2 provides to every group's code.
_BUILTIN_NAMES = frozenset(
    {"t", "dt", "i", "N", "xi", "True", "False", "lastspike", "not_refractory", "t_in_timesteps"}
)

# "10 nS" means 10 * nS, "1.6 1/pC" 1.6 * 1/pC: a number followed by a unit.
_NUMBER_UNIT = re.compile(
    r"((?<![\w.])(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s+(?=[A-Za-z_(]|1\s*/)"
)

_ARITH = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: lambda a, b: a**b,
}


def _evaluate(node: ast.AST, text: str):
    """Evaluate a numbers-and-units AST; anything else is refused."""
    if isinstance(node, ast.Expression):
        return _evaluate(node.body, text)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        if isinstance(node.value, bool):
            raise ValueError(f"a boolean is not a quantity: {text!r}")
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in UNITS:
            raise ValueError(f"unknown unit {node.id!r} in {text!r}")
        return UNITS[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _evaluate(node.operand, text)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _ARITH:
        left, right = _evaluate(node.left, text), _evaluate(node.right, text)
        if isinstance(node.op, ast.Pow) and not isinstance(right, int | float):
            raise ValueError(f"an exponent must be a plain number in {text!r}")
        try:
            return _ARITH[type(node.op)](left, right)
        except brian2.DimensionMismatchError as err:
            raise ValueError(f"inconsistent units in {text!r}: {err.desc}") from None
    raise ValueError(f"not a quantity: {text!r}")


def parse_quantity(value, where: str, dimension: Dimension | Quantity | None = None):
    """Parse ``"10 nS"``, ``"-70*mV"``, ``"1/ms"`` or a plain number.

    Parameters
    ----------
    value : str, int or float
        The text from a data file. ``"10 nS"`` is read as ``10 * nS``.
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
        If the text is not a quantity or has the wrong dimension.
    """
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise NeurosimError(f"{where}: expected a quantity such as '10 nS', got {value!r}")
    if isinstance(value, str):
        text = value.strip()
        source = _NUMBER_UNIT.sub(r"\1*", text)
        try:
            parsed = _evaluate(ast.parse(source, mode="eval"), text)
        except (SyntaxError, ValueError, TypeError, ZeroDivisionError) as err:
            detail = err.msg if isinstance(err, SyntaxError) else str(err)
            raise NeurosimError(
                f"{where}: cannot read {value!r} as a quantity ({detail})"
            ) from None
    else:
        parsed = value
    if isinstance(parsed, Unit):
        parsed = 1.0 * parsed
    if dimension is not None:
        expected = getattr(dimension, "dim", dimension)
        got = getattr(parsed, "dim", DIMENSIONLESS)
        if got is not expected:
            raise NeurosimError(
                f"{where}: {value!r} has units of {unit_name(got)}, expected {unit_name(expected)}"
            )
    if not isinstance(parsed, Quantity) or parsed.dim is DIMENSIONLESS:
        return float(parsed)
    return parsed


def parse_unit(text: str, where: str) -> Unit | float:
    """Parse a unit expression such as ``volt``, ``siemens/meter**2`` or ``1``."""
    quantity = parse_quantity(text, where)
    if isinstance(quantity, float):
        if quantity != 1.0:
            raise NeurosimError(f"{where}: {text!r} is a number, not a unit")
        return 1.0
    if not np.isclose(float(quantity / get_unit(quantity.dim)), 1.0):
        # Brian2 declares variables in SI units (volt, not 10*mV or mV).
        raise NeurosimError(f"{where}: {text!r} is not an SI unit (write e.g. 'volt', 'siemens')")
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
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError as err:
        raise NeurosimError(f"{where}: malformed expression {expr.strip()!r} ({err.msg})") from None
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
                raise NeurosimError(f"{where}: only numbers are allowed as literals in {expr!r}")
            continue
        if not isinstance(node, allowed):
            kind = type(node).__name__
            raise NeurosimError(f"{where}: {kind} is not allowed in expression {expr.strip()!r}")
        if isinstance(node, ast.Call):
            if (
                not isinstance(node.func, ast.Name)
                or node.func.id not in FUNCTIONS
                or node.keywords
            ):
                name = getattr(node.func, "id", ast.unparse(node.func))
                raise NeurosimError(f"{where}: unknown function {name!r} in {expr.strip()!r}")
        elif isinstance(node, ast.Name):
            names.add(node.id)
    return {n for n in names if n not in FUNCTIONS}


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
        raise NeurosimError(f"{where}: unknown identifier {name!r} in {expr.strip()!r}")
    return used & set(known)


_STATEMENT = re.compile(r"^\s*([A-Za-z_]\w*)\s*(=|\+=|-=|\*=|/=)\s*(.+?)\s*$")


def check_statements(code: str, variables: set[str], known: set[str], where: str) -> set[str]:
    """Check Brian2 statements such as ``v = v_r; w += b`` (reset, on_pre).

    Each statement assigns to one of ``variables``; its right-hand side is
    checked with :func:`check_expression`. Returns the known identifiers used.
    """
    used: set[str] = set()
    for line in re.split(r"[;\n]", code):
        line = line.split("#", 1)[0]
        if not line.strip():
            continue
        match = _STATEMENT.match(line)
        if match is None:
            raise NeurosimError(
                f"{where}: not a statement of the form 'x = expr': {line.strip()!r}"
            )
        target, _, rhs = match.groups()
        if target not in variables:
            raise NeurosimError(f"{where}: unknown variable {target!r} in {line.strip()!r}")
        used |= {target} | check_expression(rhs, known, where)
    return used
