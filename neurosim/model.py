"""Neuron models as data: load, validate and build Brian2 groups.

A model file (``models/*.yaml``, format in ``docs/model-format.md``) holds a
model's compartments, its Brian2 equations with units, its parameters with
units and descriptions, and a citation. :func:`load_model` checks all of it
before Brian2 parses anything; :meth:`NeuronModel.neuron_group` turns the model
into one :class:`brian2.NeuronGroup` of any size, with optional per-neuron
parameters (heterogeneity), so that a layer of thousands of neurons is one
object.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import brian2
import numpy as np
from brian2 import Equations, NeuronGroup, Quantity
from brian2.units.fundamentalunits import DIMENSIONLESS, Dimension

from neurosim.errors import NeurosimError, excerpt
from neurosim.schema import (
    check_bool,
    check_keys,
    check_mapping,
    check_name,
    check_str,
    describe_files,
    expect,
    find_file,
    key_text,
    read_yaml,
)
from neurosim.units import (
    MAX_EXPRESSION_CHARS,
    check_expression,
    check_statements,
    parse_quantity,
    parse_unit,
    unit_name,
)

__all__ = [
    "METHODS",
    "MODELS_DIR",
    "Compartment",
    "NeuronModel",
    "Parameter",
    "check_method_name",
    "find_model",
    "list_models",
    "load_model",
]

#: Where the shipped models live (the repository's ``models/`` folder).
MODELS_DIR = Path(__file__).resolve().parent.parent / "models"

_TOP_REQUIRED = ("name", "description", "citation", "compartments", "equations", "parameters")
_TOP_OPTIONAL = ("dimensionless", "initial", "threshold", "reset", "refractory", "method", "notes")
#: Integration methods a model or population may name.
METHODS = ("exact", "linear", "euler", "rk2", "rk4", "exponential_euler", "heun", "milstein")
_FLAGS = {"constant", "shared", "linked", "unless refractory", "constant over dt"}

#: Longest equations text of a model, and most equation lines.
MAX_EQUATIONS_CHARS = 20_000
MAX_EQUATION_LINES = 200

# Parameter and variable names: Brian2 identifiers.
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")

# Capacitance and specific capacitance: a model with C <= 0 integrates backwards.
_POSITIVE_DIMS = (brian2.farad.dim, (brian2.farad / brian2.metre**2).dim)

_EQ_LINE = re.compile(
    r"^\s*(?:d(?P<diff>[A-Za-z_]\w*)\s*/\s*dt|(?P<name>[A-Za-z_]\w*))"
    r"\s*(?:=\s*(?P<rhs>.+?))?\s*:\s*(?P<unit>[^()]+?)\s*(?:\((?P<flags>[^()]*)\))?\s*$"
)


@dataclass(frozen=True)
class Compartment:
    """One compartment of a model: its name and membrane-potential variable."""

    name: str
    potential: str
    description: str


@dataclass(frozen=True)
class Parameter:
    """A model parameter: value (Brian2 quantity or float) and description."""

    name: str
    value: Quantity | float
    description: str

    @property
    def dimension(self) -> Dimension:
        """Physical dimension of the parameter."""
        return getattr(self.value, "dim", DIMENSIONLESS)


@dataclass(frozen=True)
class Variable:
    """A variable declared by the equations (state, subexpression or input)."""

    name: str
    kind: str  # "differential", "subexpression" or "parameter"
    unit: Any
    flags: frozenset[str]

    @property
    def dimension(self) -> Dimension:
        """Physical dimension of the variable."""
        return getattr(self.unit, "dim", DIMENSIONLESS)


@dataclass(frozen=True)
class NeuronModel:
    """A validated neuron model, ready to become Brian2 groups.

    Use :func:`load_model` to create one from a file.
    """

    name: str
    description: str
    citation: str
    compartments: dict[str, Compartment]
    equations: str
    parameters: dict[str, Parameter]
    variables: dict[str, Variable]
    initial: dict[str, Quantity | float] = field(default_factory=dict)
    threshold: str | None = None
    reset: str | None = None
    refractory: Quantity | str | None = None
    method: str | None = None
    dimensionless: bool = False
    notes: str = ""
    path: Path | None = None

    @property
    def input_variables(self) -> list[str]:
        """Variables that stimuli may set: non-constant parameters of the equations."""
        return [
            v.name
            for v in self.variables.values()
            if v.kind == "parameter" and "constant" not in v.flags
        ]

    @property
    def spiking(self) -> bool:
        """Whether the model has a spike threshold."""
        return self.threshold is not None

    def compartment_of(self, variable: str) -> str | None:
        """Name of the compartment whose potential ``variable`` is, if any."""
        for comp in self.compartments.values():
            if comp.potential == variable:
                return comp.name
        return None

    def where(self, key: str) -> str:
        """Location prefix for error messages about ``key`` of this model."""
        return f"{self.path or self.name}: {key}"

    def initial_values(
        self, initial: Any, where: str, n: int = 1, rng: np.random.Generator | None = None
    ) -> dict[str, Any]:
        """Check initial values (a protocol's ``initial:``) against this model.

        ``where`` names the section's owner (``protocols/x.yaml: populations.cell``).
        A value takes the forms of a parameter override (a quantity, a list
        of ``n`` values, ``{dist: normal, mean, std}`` / ``{dist: uniform,
        low, high}``); without ``rng`` a distribution is checked and left out.
        """
        values = {}
        initial = {} if initial is None else initial
        for key, value in check_mapping(initial, f"{where}.initial").items():
            var = self.variables.get(key)
            if var is None or var.kind == "subexpression":
                raise NeurosimError(
                    f"{where}.initial: {excerpt(key)} is not a state variable of {self.name!r}"
                )
            unit = Quantity(1.0, dim=var.dimension) if var.dimension is not DIMENSIONLESS else 1.0
            got = parameter_values(
                value, Parameter(key, unit, "initial value"), n, f"{where}.initial.{key}", rng
            )
            if got is not None:
                values[key] = got
        return values

    def check_method(self, method: str | None, where: str) -> None:
        """Check that Brian2 can integrate the equations with ``method``.

        ``where`` names the key that chose the method. Brian2 itself would
        only find out when a run starts (``exact`` for nonlinear equations).
        """
        with _Quiet():
            self._check_integration(self._scratch_group(method), method, where)

    def _scratch_group(self, method: str | None = None) -> NeuronGroup:
        """A one-neuron group for checks only (call inside :class:`_Quiet`)."""
        group = self.neuron_group(1, method=method)
        # never run: marking it as owned by a network stops Brian2 warning
        # about an unused object when it is freed
        for obj in (group, *group.contained_objects):
            obj._network = 0
        return group

    def _check_integration(self, group: NeuronGroup, method: str | None, where: str) -> None:
        from brian2.stateupdaters.base import StateUpdateMethod, UnsupportedEquationsException

        method = method or self.method
        try:
            StateUpdateMethod.apply_stateupdater(group.equations, group.variables, method)
        except (UnsupportedEquationsException, ValueError, TypeError, KeyError) as err:
            raise NeurosimError(
                f"{where}: Brian2 cannot integrate model {self.name!r} with "
                f"{method!r}: {_one_line(err)}"
            ) from None

    def check_params(self, params: Any, n: int, where: str) -> None:
        """Check parameter overrides (a protocol's ``params:``) without drawing values."""
        params = {} if params is None else params
        for key, value in check_mapping(params, f"{where}.params").items():
            parameter_values(value, self._parameter(key, where), n, f"{where}.params.{key}")

    def _parameter(self, key: Any, where: str) -> Parameter:
        """The parameter ``key`` of an override in ``{where}.params``."""
        param = self.parameters.get(key)
        if param is None:
            raise NeurosimError(
                f"{where}.params: {excerpt(key)} is not a parameter of model {self.name!r}"
            )
        return param

    def neuron_group(
        self,
        n: int,
        *,
        params: Mapping[str, Any] | None = None,
        initial: Mapping[str, Any] | None = None,
        name: str | None = None,
        method: str | None = None,
        rng: np.random.Generator | None = None,
        where: str | None = None,
        extra_equations: str = "",
        dt: Quantity | None = None,
        summed_inputs: Mapping[str, list[str]] | None = None,
        extra_namespace: Mapping[str, Any] | None = None,
    ) -> NeuronGroup:
        """Build a :class:`brian2.NeuronGroup` of ``n`` neurons of this model.

        Parameters
        ----------
        n : int
            Number of neurons.
        params : mapping, optional
            Parameter overrides. A value is a quantity (string or Brian2
            quantity) shared by all neurons, a list or array of ``n`` values
            (one per neuron), or a distribution ``{dist: normal, mean, std}`` /
            ``{dist: uniform, low, high}`` drawn with ``rng``. Parameters given
            per neuron become ``(constant)`` variables of the group; the others
            stay in the group's namespace, which Brian2 compiles as constants.
        initial : mapping, optional
            Initial values overriding the model's ``initial`` section.
        name : str, optional
            Brian2 name of the group.
        method : str, optional
            Integration method overriding the model's.
        rng : numpy.random.Generator, optional
            Random generator for distributions (default: seeded with 0).
        where : str, optional
            Location used in error messages (e.g. the protocol key).
        extra_equations : str, optional
            Further declarations the caller needs on the group (stimulus
            amplitudes, synaptic traces), appended to the model's equations.
        dt : Quantity, optional
            Time step of this group (default: Brian2's default clock).
        summed_inputs : mapping, optional
            Input variable -> currents declared in ``extra_equations``
            (synapses): the input becomes ``X = X_ext + I_1 + ... : unit``, and
            ``X_ext`` is what stimuli set.
        extra_namespace : mapping, optional
            Constants the extra equations use (synapse parameters).

        Returns
        -------
        brian2.NeuronGroup
        """
        where = where or self.name
        expect(n, int, f"{where}.n", "an integer >= 1")
        if n < 1:
            raise NeurosimError(f"{where}.n: has to be an integer >= 1, got {n}")
        rng = rng if rng is not None else np.random.default_rng(0)
        namespace = {p.name: p.value for p in self.parameters.values()}
        per_neuron: dict[str, Any] = {}
        for key, value in (params or {}).items():
            param = self._parameter(key, where)
            values = parameter_values(value, param, n, f"{where}.params.{key}", rng)
            if np.ndim(values) == 0:
                namespace[key] = values
            else:
                per_neuron[key] = values
                del namespace[key]
        declarations = "\n".join(
            f"{key} : {unit_name(self.parameters[key].dimension)} (constant)" for key in per_neuron
        )
        equations = self.equations
        for var, currents in (summed_inputs or {}).items():
            unit = unit_name(self.variables[var].dimension)
            # the input parameter becomes the sum of the stimulus part and the synapses
            equations, count = re.subn(
                rf"^\s*{re.escape(var)}\s*:[^\n]*$",
                f"{var} = {var}_ext + {' + '.join(currents)} : {unit}\n{var}_ext : {unit}",
                equations,
                flags=re.MULTILINE,
            )
            if count != 1:
                raise NeurosimError(f"{where}: {var!r} is not an input parameter of {self.name!r}")
        namespace.update(extra_namespace or {})
        eqs = Equations("\n".join(filter(None, (equations, declarations, extra_equations))))
        kwargs: dict[str, Any] = {"namespace": namespace, "method": method or self.method}
        if self.threshold:
            kwargs["threshold"] = self.threshold
            kwargs["reset"] = self.reset or ""
            if self.refractory is not None:
                kwargs["refractory"] = self.refractory
        if name:
            kwargs["name"] = name
        if dt is not None:
            kwargs["dt"] = dt
        try:
            group = NeuronGroup(n, eqs, **{k: v for k, v in kwargs.items() if v is not None})
        except (brian2.DimensionMismatchError, ValueError, SyntaxError) as err:
            raise NeurosimError(f"{self.where('equations')}: {_one_line(err)}") from None
        for key, values in per_neuron.items():
            setattr(group, key, values)
        values = {**self.initial, **self.initial_values(initial, where, n, rng)}
        for key, value in values.items():
            setattr(group, key, value)
        return group


def check_method_name(method: Any, where: str) -> None:
    """Refuse an integration method (``None``: the default) not in :data:`METHODS`."""
    if method is not None and (not isinstance(method, str) or method not in METHODS):
        raise NeurosimError(
            f"{where}: unknown integration method {excerpt(method)} (use {', '.join(METHODS)})"
        )


def _one_line(err: Exception) -> str:
    text = getattr(err, "desc", None) or str(err)
    text = " ".join(text.split())
    return text if len(text) <= 200 else text[:197] + "..."


def _check_sign(name: str, value, where: str) -> None:
    """Refuse a capacitance <= 0 (of a parameter or an override)."""
    dim = getattr(value, "dim", DIMENSIONLESS)
    if dim in _POSITIVE_DIMS and np.any(np.asarray(value, dtype=float) <= 0):
        raise NeurosimError(f"{where}: capacitance {name!r} has to be > 0, got {excerpt(value)}")


def parameter_values(
    value, param: Parameter, n: int, where: str, rng: np.random.Generator | None = None
):
    """Resolve a parameter override to a scalar or an array of ``n`` values.

    A quantity, a list of ``n`` quantities, or ``{dist: normal, mean, std}`` /
    ``{dist: uniform, low, high}``. Without ``rng`` the override is only
    checked (nothing is drawn) and ``None`` is returned for a distribution.
    """
    value = _override_values(value, param, n, rng, where)
    if value is not None:
        _check_sign(param.name, value, where)
    return value


def _override_values(value, param: Parameter, n: int, rng, where: str):
    dim = param.dimension
    if isinstance(value, Quantity) or (
        isinstance(value, float | int) and not isinstance(value, bool)
    ):
        got = getattr(value, "dim", DIMENSIONLESS)
        if not np.all(np.isfinite(np.asarray(value, dtype=float))):
            raise NeurosimError(f"{where}: {excerpt(value)} is not finite")
        if got is not dim:
            raise NeurosimError(
                f"{where}: {excerpt(value)} has the wrong units for parameter {param.name!r}"
            )
        if np.ndim(value) == 0:
            return value
        value = list(np.asarray(value)) if got is DIMENSIONLESS else value
    if isinstance(value, str):
        return parse_quantity(value, where, dim)
    if isinstance(value, Quantity) and np.ndim(value) == 1:
        if len(value) != n:
            raise NeurosimError(f"{where}: {len(value)} values given for {n} neurons")
        return value
    if isinstance(value, list | tuple | np.ndarray):
        if len(value) != n:
            raise NeurosimError(f"{where}: {len(value)} values given for {n} neurons")
        items = [parse_quantity(v, f"{where}[{k}]", dim) for k, v in enumerate(value)]
        return Quantity(items, dim=dim) if dim is not DIMENSIONLESS else np.asarray(items, float)
    if isinstance(value, Mapping):
        dist = value.get("dist")
        fields = {"normal": ("mean", "std"), "uniform": ("low", "high")}
        if not isinstance(dist, str) or dist not in fields:
            raise NeurosimError(
                f"{where}.dist: expected 'normal' or 'uniform', got {excerpt(dist)}"
            )
        check_keys(value, where, required=("dist", *fields[dist]))
        a, b = (parse_quantity(value[k], f"{where}.{k}", dim) for k in fields[dist])
        unit = Quantity(1.0, dim=dim) if dim is not DIMENSIONLESS else 1.0
        a, b = float(a / unit), float(b / unit)
        if dist == "normal" and b < 0:
            raise NeurosimError(f"{where}.std: has to be >= 0, got {excerpt(value['std'])}")
        if dist == "uniform" and b < a:
            raise NeurosimError(
                f"{where}.high: has to be >= low, got {excerpt(value['high'])} "
                f"< {excerpt(value['low'])}"
            )
        _check_sign(param.name, a * unit, f"{where}.{fields[dist][0]}")
        if rng is None:
            return None
        draw = rng.normal(a, b, n) if dist == "normal" else rng.uniform(a, b, n)
        return draw * unit
    raise NeurosimError(
        f"{where}: expected a quantity, a list of {n} values or a distribution, "
        f"got {excerpt(value)}"
    )


def _parse_equations(text: str, where: str) -> tuple[dict[str, Variable], dict[str, str]]:
    """Split the equation string into declared variables, checking the syntax."""
    variables: dict[str, Variable] = {}
    rhs: dict[str, str] = {}
    if len(text) > MAX_EQUATIONS_CHARS:
        raise NeurosimError(
            f"{where}: {len(text)} characters, longer than the limit of {MAX_EQUATIONS_CHARS}"
        )
    lines = text.splitlines()
    if len(lines) > MAX_EQUATION_LINES:
        raise NeurosimError(
            f"{where}: {len(lines)} lines, more than the limit of {MAX_EQUATION_LINES}"
        )
    for raw in lines:
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if len(line) > MAX_EXPRESSION_CHARS:
            raise NeurosimError(
                f"{where}: an equation of {len(line)} characters is longer than the limit "
                f"of {MAX_EXPRESSION_CHARS}: {excerpt(line)}"
            )
        match = _EQ_LINE.match(line)
        if match is None:
            raise NeurosimError(f"{where}: cannot parse equation {excerpt(line)}")
        name = match.group("diff") or match.group("name")
        kind = (
            "differential"
            if match.group("diff")
            else ("subexpression" if match.group("rhs") is not None else "parameter")
        )
        if name in variables:
            raise NeurosimError(f"{where}: variable {name!r} is declared twice")
        unit_text = match.group("unit").strip()
        unit = (
            unit_text
            if unit_text in ("boolean", "integer")
            else parse_unit(unit_text, f"{where}: {name}")
        )
        flags = frozenset(f.strip() for f in (match.group("flags") or "").split(",") if f.strip())
        unknown = flags - _FLAGS
        if unknown:
            raise NeurosimError(f"{where}: unknown flag {excerpt(sorted(unknown)[0])} for {name!r}")
        variables[name] = Variable(name, kind, unit, flags)
        if match.group("rhs") is not None:
            rhs[name] = match.group("rhs")
    return variables, rhs


def load_model(path: str | Path) -> NeuronModel:
    """Load and validate a model file.

    Parameters
    ----------
    path : str or Path
        A ``.yaml`` file, or the name of a shipped model (``"lif"``).

    Returns
    -------
    NeuronModel

    Raises
    ------
    NeurosimError
        On a missing or malformed file, an unknown or missing key, a
        parameter with a wrong unit, an unknown identifier or function in an
        expression, or equations whose units do not agree. The message names
        the file, the key and the value.
    """
    path = find_model(path)
    data, text = read_yaml(path, "model")
    key = (str(path), text)
    if key not in _LOADED:
        # Brian2's unit check builds a group; a protocol naming a model twice,
        # or a sweep loading it at every point, checks it once
        if len(_LOADED) >= 32:
            _LOADED.pop(next(iter(_LOADED)))
        _LOADED[key] = _load_model(path, data)
    return _LOADED[key]


# (path, text) -> model: models are immutable once loaded
_LOADED: dict[tuple[str, str], NeuronModel] = {}


def _load_model(path: Path, data: dict[str, Any]) -> NeuronModel:
    check_keys(data, str(path), _TOP_REQUIRED, _TOP_OPTIONAL)
    name = check_name(data["name"], f"{path}: name")
    if name != path.stem:
        raise NeurosimError(f"{path}: name {name!r} does not match the file name {path.stem!r}")
    for key in ("description", "citation"):
        check_str(data[key], f"{path}: {key}", "a one-line string")
    dimensionless = check_bool(data.get("dimensionless", False), f"{path}: dimensionless")
    equations = check_str(
        data["equations"],
        f"{path}: equations",
        "a string of Brian2 equations",
        max_length=MAX_EQUATIONS_CHARS,
    )
    variables, rhs = _parse_equations(equations, f"{path}: equations")

    parameters: dict[str, Parameter] = {}
    for key, spec in check_mapping(data["parameters"], f"{path}: parameters").items():
        where = f"{path}: parameters.{key_text(key)}"
        if not _NAME.fullmatch(key):
            raise NeurosimError(f"{where}: not a valid parameter name (letters, digits, '_')")
        check_keys(spec, where, ("value", "description"))
        if key in variables:
            raise NeurosimError(f"{where}: {key!r} is also a variable of the equations")
        value = parse_quantity(spec["value"], f"{where}.value")
        if dimensionless and isinstance(value, Quantity):
            raise NeurosimError(
                f"{where}.value: {excerpt(spec['value'])} has units in a dimensionless model"
            )
        _check_sign(key, value, f"{where}.value")
        parameters[key] = Parameter(
            key,
            value,
            check_str(spec["description"], f"{where}.description", "a one-line string"),
        )

    known = set(variables) | set(parameters)
    used: set[str] = set()
    for var, expr in rhs.items():
        used |= check_expression(expr, known, f"{path}: equations ({var})")
    for key in ("threshold", "reset"):
        if data.get(key) is not None:
            check_str(data[key], f"{path}: {key}", max_length=MAX_EXPRESSION_CHARS)
    threshold, reset = data.get("threshold"), data.get("reset")
    if threshold:
        used |= check_expression(threshold, known, f"{path}: threshold")
    state = {v for v, var in variables.items() if var.kind != "subexpression"}
    if reset:
        used |= check_statements(reset, state, known, f"{path}: reset")
    refractory = data.get("refractory")
    if refractory is not None:
        if isinstance(refractory, str) and any(op in refractory for op in "<>="):
            used |= check_expression(refractory, known, f"{path}: refractory")
        else:
            refractory = parse_quantity(refractory, f"{path}: refractory", brian2.second)
            if refractory < 0 * brian2.second:
                raise NeurosimError(
                    f"{path}: refractory: has to be >= 0, got {excerpt(data['refractory'])}"
                )
    unused = set(parameters) - used
    if unused:
        raise NeurosimError(f"{path}: parameters.{sorted(unused)[0]}: not used by the equations")

    compartments: dict[str, Compartment] = {}
    for key, spec in check_mapping(data["compartments"], f"{path}: compartments").items():
        where = f"{path}: compartments.{key_text(key)}"
        check_keys(spec, where, ("potential", "description"))
        potential = check_str(spec["potential"], f"{where}.potential", "a variable name")
        if potential not in state:
            raise NeurosimError(f"{where}.potential: {excerpt(potential)} is not a state variable")
        description = check_str(spec["description"], f"{where}.description", "a one-line string")
        compartments[key] = Compartment(key, potential, description)
    if not compartments:
        raise NeurosimError(f"{path}: compartments: a model needs at least one compartment")

    initial: dict[str, Any] = {}
    initial_spec = {} if data.get("initial") is None else data["initial"]
    for key, value in check_mapping(initial_spec, f"{path}: initial").items():
        var = variables.get(key)
        if var is None or var.kind == "subexpression":
            raise NeurosimError(
                f"{path}: initial.{key_text(key)}: not a state variable of the equations"
            )
        initial[key] = parse_quantity(value, f"{path}: initial.{key}", var.dimension)

    method = data.get("method")
    check_method_name(method, f"{path}: method")
    check_str(data.get("notes") or "", f"{path}: notes")

    model = NeuronModel(
        name=name,
        description=data["description"],
        citation=data["citation"],
        compartments=compartments,
        equations=equations,
        parameters=parameters,
        variables=variables,
        initial=initial,
        threshold=threshold,
        reset=reset,
        refractory=refractory,
        method=method,
        dimensionless=dimensionless,
        notes=str(data.get("notes") or ""),
        path=path,
    )
    _check_units(model)
    return model


def _check_units(model: NeuronModel) -> None:
    """Let Brian2 check the units of the equations, threshold and reset once."""
    from brian2.parsing.expressions import parse_expression_dimensions

    with _Quiet():
        group = model._scratch_group()
        if model.method is not None:
            model._check_integration(group, None, model.where("method"))
        namespace = {p.name: p.value for p in model.parameters.values()}
        try:
            group.equations.check_units(group, run_namespace=namespace)
            if model.threshold:
                ids = brian2.utils.stringtools.get_identifiers(model.threshold)
                variables = group.resolve_all(ids, run_namespace=namespace)
                dims = parse_expression_dimensions(model.threshold, variables)
                if dims is not DIMENSIONLESS:
                    raise NeurosimError(
                        f"{model.where('threshold')}: is not a condition: {model.threshold!r}"
                    )
            if model.reset:
                check_statement_units(model.reset, group, namespace)
        except brian2.DimensionMismatchError as err:
            raise NeurosimError(
                f"{model.where('equations')}: inconsistent units: {_one_line(err)}"
            ) from None
        except (KeyError, ValueError, TypeError) as err:
            raise NeurosimError(f"{model.where('equations')}: {_one_line(err)}") from None


def check_statement_units(code: str, group, namespace: dict) -> None:
    """Let Brian2 check the units of statements run by ``group`` (a group or synapses).

    Raises Brian2's own errors (``DimensionMismatchError``, ``KeyError`` for an
    unknown name); callers turn them into one line naming their file.
    """
    from brian2.equations.unitcheck import check_units_statements

    ids = brian2.utils.stringtools.get_identifiers(code)
    check_units_statements(code, group.resolve_all(ids, run_namespace=namespace))


class _Quiet:
    """Context for the scratch Brian2 objects of a check: quiet logging, runtime device.

    A model may first be loaded while a standalone device is active (a
    segregated run resumed in a fresh process); a scratch group made there
    would register arrays with that device, and the device's build would
    later fail on the freed group (``ReferenceError``).
    """

    def __enter__(self):
        import logging

        from brian2.devices.device import get_device, set_device

        self._logger = logging.getLogger("brian2")
        self._level = self._logger.level
        self._logger.setLevel(logging.ERROR)
        self._switched = get_device().__class__.__name__ != "RuntimeDevice"
        if self._switched:
            set_device("runtime")
        return self

    def __exit__(self, *exc):
        from brian2.devices.device import reset_device

        if self._switched:
            reset_device()
        self._logger.setLevel(self._level)
        return False


def find_model(name: str | Path) -> Path:
    """Resolve a model name (``"lif"``) or path to the model file's path."""
    return find_file(name, MODELS_DIR)


def list_models(directory: Path = MODELS_DIR) -> list[tuple[str, str]]:
    """Return ``(name, description)`` of every model file in ``directory``."""
    return describe_files(directory)
