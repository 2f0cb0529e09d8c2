"""Synapse models as data files: what a spike does to its target, beyond a jump.

A projection without ``synapse:`` is a delta synapse (a jump of ``variable``,
see :mod:`neurosim.networks.projections`). With ``synapse: NAME`` (or
``{model: NAME, PARAM: value, ...}``) it uses the synapse model
``models/synapses/NAME.yaml`` and ``variable`` names an input current of the
target's model (``I`` of ``lif``, ``I_a`` of ``bac_pyramidal``'s apical
dendrite): the synapse's current flows into that compartment.

A synapse model file (``models/synapses/exp_conductance.yaml`` is a short
example) holds, besides ``name``, ``description`` and ``citation``: ``weight``
(the unit of the projection's weight), ``post`` (Brian2 equations of the state
kept on the target neuron, one copy per projection, e.g. ``dg/dt = -g / tau :
siemens``), ``current`` (the current into the input variable, in amperes;
``V`` is the compartment's potential, e.g. ``g * (E_rev - V)``), ``on_pre``
(what a spike does, e.g. ``g_post += w``), the ``parameters`` with value and
description, and optionally ``synapse`` (per-synapse state, for short-term
plasticity), ``initial`` (its initial values), ``charge`` (an expression of
the parameters: the time integral of ``current`` after one spike of unit
weight, in seconds, which a scaled network needs to keep its mean input, see
:mod:`neurosim.networks.scaling`) and ``notes``.

Receptors: projections onto one target that name the same ``receptor`` in
their ``synapse:`` share one copy of the target-side state, as the synapses
of a NEST neuron share its receptor port (``iaf_psc_exp``'s excitatory and
inhibitory currents): the sum is exact for kinetics that a spike changes by
adding the weight, and the target then integrates one state per receptor
instead of one per projection. Projections (and ``poisson`` stimuli) that
share a receptor must have the same synapse model, parameters and input.

Linear kinetics live on the target (``post``), summed over all synapses of the
projection, so a synapse costs one add per spike, as in NEST's
``iaf_psc_exp``/``iaf_cond_exp``; only per-synapse state (Tsodyks-Markram's
resources) lives on the synapse. Every name is checked when the file loads:
equations parse, identifiers are declared, units agree; nothing is executed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import brian2
import numpy as np
from brian2 import Equations, Quantity
from brian2.units.fundamentalunits import DIMENSIONLESS

from neurosim.errors import NeurosimError, excerpt
from neurosim.model import (
    MODELS_DIR,
    NeuronModel,
    Parameter,
    _parse_equations,
    _Quiet,
    check_statement_units,
)
from neurosim.schema import (
    check_keys,
    check_mapping,
    check_name,
    check_str,
    describe_files,
    find_file,
    key_text,
    read_yaml,
)
from neurosim.units import (
    check_expression,
    check_rate_constant,
    check_statements,
    format_quantity,
    parse_quantity,
    parse_unit,
    unit_name,
)

__all__ = [
    "SYNAPSES_DIR",
    "SynapseModel",
    "input_potential",
    "list_synapse_models",
    "load_synapse_model",
    "post_equations",
]

#: Shipped synapse models.
SYNAPSES_DIR = MODELS_DIR / "synapses"

_REQUIRED = ("name", "description", "citation", "weight", "post", "current", "on_pre", "parameters")
_OPTIONAL = ("synapse", "initial", "notes", "charge")
#: Names a synapse model may use besides its own: the target compartment's
#: potential, the weight, and time.
_BUILTIN = frozenset({"V", "w", "t"})


@dataclass(frozen=True)
class SynapseModel:
    """A validated synapse model file (see the module docstring)."""

    name: str
    description: str
    weight: Any
    """Unit of the weight (a Brian2 unit)."""
    post: str
    post_variables: tuple[str, ...]
    current: str
    on_pre: str
    parameters: dict[str, Parameter]
    synapse: str = ""
    synapse_variables: tuple[str, ...] = ()
    initial: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    charge: str = ""
    """Time integral of the current per unit weight (an expression of the parameters)."""

    def charge_per_weight(self, params: dict[str, Any], where: str) -> float:
        """The ``charge`` expression's value (s) with ``params``; refused if the file has none."""
        if not self.charge:
            raise NeurosimError(
                f"{where}: synapse model {self.name!r} has no 'charge' (the integral of its "
                "current per unit weight), which keeping the mean input needs"
            )
        return _charge_value(self, params, where)

    def added_variable(self, where: str) -> str:
        """The post variable a spike adds its weight to (``on_pre: X_post += w``)."""
        found = re.fullmatch(r"\s*(\w+)_post\s*\+=\s*w\s*", self.on_pre)
        if not found or found.group(1) not in self.post_variables:
            raise NeurosimError(
                f"{where}: synapse model {self.name!r} does more than add the weight to a "
                f"target variable on a spike ({excerpt(self.on_pre)}): Poisson input cannot use it"
            )
        return found.group(1)

    def params(self, overrides: dict[str, Any], where: str) -> dict[str, Any]:
        """The parameter values with a projection's overrides (unit-checked)."""
        values = {k: p.value for k, p in self.parameters.items()}
        for key, value in overrides.items():
            if key not in values:
                raise NeurosimError(
                    f"{where}.{key_text(key)}: not a parameter of synapse model {self.name!r}"
                    f" (have: {', '.join(values)})"
                )
            default = values[key]
            dim = default.dim if isinstance(default, Quantity) else DIMENSIONLESS
            values[key] = check_rate_constant(
                key, parse_quantity(value, f"{where}.{key}", dim), f"{where}.{key}"
            )
        return values


def find_synapse_model(name: str | Path) -> Path:
    """Resolve a synapse model name (``"exp_current"``) or path to its file."""
    return find_file(name, SYNAPSES_DIR)


def list_synapse_models() -> list[tuple[str, str]]:
    """``(name, description)`` of every shipped synapse model."""
    return describe_files(SYNAPSES_DIR)


_CACHE: dict[tuple[str, str], SynapseModel] = {}


def load_synapse_model(name: str | Path) -> SynapseModel:
    """Load and validate a synapse model file; every error is one line naming the key."""
    path = find_synapse_model(name)
    if not path.is_file():
        raise NeurosimError(
            f"no synapse model {excerpt(str(name))} (shipped: "
            f"{', '.join(n for n, _ in list_synapse_models())})"
        )
    data, text = read_yaml(path, "synapse model")
    key = (str(path), text)
    if key not in _CACHE:
        _CACHE[key] = _load(path, data)
    return _CACHE[key]


def _load(path: Path, data: dict[str, Any]) -> SynapseModel:
    check_keys(data, str(path), _REQUIRED, _OPTIONAL)
    name = check_name(data["name"], f"{path}: name")
    if name != path.stem:
        raise NeurosimError(f"{path}: name {name!r} does not match the file name {path.stem!r}")
    for k in ("description", "citation", "current", "on_pre"):
        check_str(data[k], f"{path}: {k}")
    weight = parse_unit(check_str(data["weight"], f"{path}: weight", "a unit"), f"{path}: weight")
    post_vars, post_rhs = _parse_equations(
        check_str(data["post"], f"{path}: post"), f"{path}: post"
    )
    syn_text = str(data.get("synapse") or "")
    syn_vars, syn_rhs = _parse_equations(syn_text, f"{path}: synapse")
    parameters: dict[str, Parameter] = {}
    for pname, spec in check_mapping(data["parameters"], f"{path}: parameters").items():
        where = f"{path}: parameters.{key_text(pname)}"
        check_keys(spec, where, ("value", "description"))
        if pname in post_vars or pname in syn_vars or pname in _BUILTIN:
            raise NeurosimError(f"{where}: {pname!r} is also a variable")
        value = check_rate_constant(
            pname, parse_quantity(spec["value"], f"{where}.value"), f"{where}.value"
        )
        parameters[pname] = Parameter(pname, value, str(spec["description"]))
    clash = set(post_vars) & set(syn_vars)
    if clash:
        raise NeurosimError(f"{path}: synapse: {sorted(clash)[0]!r} is also a post variable")
    params = set(parameters)
    for var, rhs in post_rhs.items():
        check_expression(rhs, set(post_vars) | params | {"V"}, f"{path}: post ({var})")
    for var, rhs in syn_rhs.items():
        check_expression(rhs, set(syn_vars) | params, f"{path}: synapse ({var})")
    check_expression(data["current"], set(post_vars) | params | {"V"}, f"{path}: current")
    targets = {f"{v}_post" for v in post_vars} | set(syn_vars)
    check_statements(data["on_pre"], targets, targets | params | _BUILTIN, f"{path}: on_pre")
    initial = {
        k: parse_quantity(v, f"{path}: initial.{k}", syn_vars[k].dimension)
        for k, v in check_mapping(data.get("initial") or {}, f"{path}: initial").items()
        if _known(k, syn_vars, f"{path}: initial")
    }
    model = SynapseModel(
        name=name,
        description=str(data["description"]),
        weight=weight,
        post=str(data["post"]),
        post_variables=tuple(post_vars),
        current=str(data["current"]),
        on_pre=str(data["on_pre"]),
        parameters=parameters,
        synapse=syn_text,
        synapse_variables=tuple(syn_vars),
        initial=initial,
        path=path,
        charge=check_str(data.get("charge", ""), f"{path}: charge"),
    )
    _check_units(model)
    if model.charge:
        _charge_value(model, {k: p.value for k, p in parameters.items()}, f"{path}: charge")
    return model


def _charge_value(model: SynapseModel, params: dict[str, Any], where: str) -> float:
    """Evaluate ``charge`` with the parameters written in as quantities (seconds)."""
    from neurosim.networks.values import _tree, _walk

    names = {key: f"({format_quantity(value)})" for key, value in params.items()}
    text = _rename(model.charge, names)
    value, dim = _walk(_tree(text, where).body, text, np.zeros(1), where)
    if (
        dim is not brian2.second.dim
        or not np.isfinite(value).all()
        or float(np.ravel(value)[0]) <= 0
    ):
        raise NeurosimError(f"{where}: {excerpt(model.charge)} has to be a positive time")
    return float(np.ravel(value)[0])


def _known(name: str, variables: dict, where: str) -> bool:
    if name not in variables:
        raise NeurosimError(f"{where}.{key_text(name)}: not a per-synapse variable")
    return True


def _check_units(model: SynapseModel) -> None:
    """Build a scratch target and synapse once so that Brian2 checks every unit."""
    where = str(model.path)
    namespace = {k: p.value for k, p in model.parameters.items()}
    with _Quiet():  # scratch objects: on the runtime device, never run
        try:
            target = brian2.NeuronGroup(
                1,
                Equations(model.post) + Equations(f"V : volt\nI_check = {model.current} : amp"),
                namespace=namespace,
            )
            target.equations.check_units(target, run_namespace=namespace)
            syn = brian2.Synapses(
                target,
                target,
                model=f"w : {unit_name(model.weight)}\n{model.synapse}",
                namespace=namespace,
            )
            # never run: owned by "a network" so that Brian2 does not warn when they are freed
            for obj in (target, *target.contained_objects, syn, *syn.contained_objects):
                obj._network = 0
            check_statement_units(model.on_pre, syn, namespace)
        except brian2.DimensionMismatchError as err:
            raise NeurosimError(
                f"{where}: inconsistent units: {str(err).splitlines()[0]}"
            ) from None
        except (KeyError, ValueError, TypeError, SyntaxError) as err:
            raise NeurosimError(f"{where}: {str(err).splitlines()[0]}") from None


def input_potential(model: NeuronModel, variable: str) -> str:
    """The potential of the compartment that input current ``variable`` flows into.

    The compartment whose potential's differential equation uses ``variable``
    (``I_a`` flows into ``v_a`` of ``bac_pyramidal``).
    """
    eqs = Equations(model.equations)
    found = [
        c.potential
        for c in model.compartments.values()
        if c.potential in eqs and variable in eqs[c.potential].identifiers
    ]
    if len(found) != 1:
        raise NeurosimError(
            f"model {model.name!r}: input {variable!r} flows into "
            f"{'no' if not found else 'more than one'} compartment"
        )
    return found[0]


def _rename(text: str, names: dict[str, str]) -> str:
    if not names:
        return text
    alternatives = "|".join(map(re.escape, names))
    # "dg/dt": the d is part of the word, so the derivative is renamed on its own
    text = re.sub(rf"\bd({alternatives})/dt\b", lambda m: f"d{names[m.group(1)]}/dt", text)
    return re.sub(rf"\b({alternatives})\b", lambda m: names[m.group(1)], text)


def post_equations(
    model: SynapseModel, projection: str, params: dict[str, Any], potential: str
) -> tuple[str, str, dict[str, Any]]:
    """The target-side equations of one projection's synapses.

    Returns the equations (the post variables and the current ``I_{projection}``,
    every name suffixed with the projection's), the current's name and the
    namespace entries of the suffixed parameters.
    """
    post = {v: f"{v}_{projection}" for v in model.post_variables}
    consts = {p: f"{p}_{projection}" for p in model.parameters}
    names = {**post, **consts, "V": potential}
    current = f"I_{projection}"
    eqs = _rename(model.post, names) + f"\n{current} = {_rename(model.current, names)} : amp\n"
    namespace = {consts[k]: v for k, v in params.items()}
    return eqs, current, namespace


def on_pre_code(model: SynapseModel, projection: str) -> str:
    """The synapse's ``on_pre`` with the target's variables renamed as in :func:`post_equations`."""
    return _rename(
        model.on_pre, {f"{v}_post": f"{v}_{projection}_post" for v in model.post_variables}
    )
