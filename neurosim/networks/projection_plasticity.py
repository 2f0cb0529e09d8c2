"""Plasticity rules by name on any projection, and recording a projection's synapses.

A projection's ``plasticity:`` names a rule of
:data:`neurosim.plasticity.stdp.RULES` (``pair``, ``triplet``, ``vogels``) with
its parameters, and the weight bounds::

    plasticity: {rule: pair, A2_plus: 0.01, w_min: 0 nS, w_max: 2 nS}

The rules are written for a dimensionless weight; on a projection every
change is a fraction of ``w_max`` (``w += A2_plus r1`` becomes ``w =
clip(w + A2_plus r1 w_max, w_min, w_max)``), so the amplitudes keep their
published values and the weight keeps its unit. A spike first acts on the
target with the weight it finds, then the rule changes the weight.

A projection's ``record:`` keeps synapse variables (``w`` and the rule's
traces) of all synapses or a seeded sample, at an interval::

    record: {variables: [w], synapses: 100, dt: 10 ms}

or, with ``at: end`` instead of ``dt``, only the values the run ends with
(no time axis), e.g. the final weights of a spike-pairing experiment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import brian2
from brian2 import Quantity

from neurosim.errors import NeurosimError, excerpt
from neurosim.plasticity.stdp import RULES, STDPRule
from neurosim.schema import check_keys, check_list
from neurosim.units import parse_quantity

__all__ = ["PlasticitySpec", "RecordSpec", "check_plasticity", "check_record", "rule_code"]

#: Most synapses a projection's ``record`` may sample.
MAX_RECORDED = 100_000


@dataclass(frozen=True)
class PlasticitySpec:
    """A rule on a projection: its parameters and the weight bounds (SI floats)."""

    rule: STDPRule
    params: dict[str, Any] = field(compare=False)
    w_min: float = 0.0
    w_max: float = 1.0


@dataclass(frozen=True)
class RecordSpec:
    """Synapse variables to record: all synapses (``synapses=None``) or a sample.

    ``at_end``: only the values after the run's last step (no time axis),
    instead of samples every ``dt``.
    """

    variables: tuple[str, ...]
    synapses: int | None
    dt: Quantity
    at_end: bool = False


def check_plasticity(spec: Any, weight_dim, where: str) -> PlasticitySpec:
    """Validate ``plasticity:`` (the rule name, its parameters' units, the bounds)."""
    if not isinstance(spec, dict):
        raise NeurosimError(f"{where}: expected a mapping with 'rule', got {excerpt(spec)}")
    name = spec.get("rule")
    if name not in RULES:
        raise NeurosimError(
            f"{where}.rule: unknown rule {excerpt(name)} (have: {', '.join(RULES)})"
        )
    rule = RULES[name]
    check_keys(spec, where, ("rule", "w_max"), ("w_min", *rule.parameters))
    params = rule.parameters_from(spec, where)
    top = parse_quantity(spec["w_max"], f"{where}.w_max", weight_dim)
    w_max = float(top)
    w_min = float(parse_quantity(spec.get("w_min", 0 * top), f"{where}.w_min", weight_dim))
    if not w_min < w_max:
        raise NeurosimError(
            f"{where}.w_min: has to be below w_max, got {excerpt(spec.get('w_min'))}"
        )
    return PlasticitySpec(rule, params, w_min, w_max)


_UPDATE = re.compile(r"^\s*w\s*([+-])=\s*(.+?)\s*$")


def _scaled(code: str) -> str:
    """The rule's statements with every weight change scaled by w_max and clipped."""
    out = []
    for line in code.splitlines():
        match = _UPDATE.match(line)
        if match:
            sign, expr = match.groups()
            line = f"w = clip(w {sign} ({expr}) * w_max, w_min, w_max)"
        out.append(line)
    return "\n".join(out)


def rule_code(spec: PlasticitySpec, unit) -> tuple[str, str, str, dict[str, Any]]:
    """Synapse equations (without ``w``), ``on_pre`` and ``on_post`` code, namespace.

    ``unit`` is the Brian2 unit of the weight.
    """
    model = "\n".join(
        line for line in spec.rule.model.splitlines() if not re.match(r"^\s*w\s*:", line)
    )
    bounds = {"w_min": spec.w_min * unit, "w_max": spec.w_max * unit}
    namespace = {**spec.rule.namespace(spec.params), **bounds}
    return model, _scaled(spec.rule.on_pre), _scaled(spec.rule.on_post), namespace


def check_record(
    spec: Any, variables: set[str], n_synapses: float, dt: Quantity, where: str
) -> RecordSpec:
    """Validate a projection's ``record:`` (variables it has, sample size, interval)."""
    if not isinstance(spec, dict):
        raise NeurosimError(f"{where}: expected a mapping, got {excerpt(spec)}")
    check_keys(spec, where, (), ("variables", "synapses", "dt", "at"))
    names = spec.get("variables", ["w"])
    check_list(names, f"{where}.variables", "a list of synapse variables", 100)
    for name in names:
        if name not in variables:
            raise NeurosimError(
                f"{where}.variables: {excerpt(name)} is not a variable of the synapses "
                f"(have: {', '.join(sorted(variables))})"
            )
    count = spec.get("synapses", "all")
    if count == "all":
        if n_synapses > MAX_RECORDED:
            raise NeurosimError(
                f"{where}.synapses: 'all' would record {n_synapses:.3g} synapses, more than "
                f"{MAX_RECORDED}; give a sample size"
            )
        sample = None
    elif isinstance(count, int) and not isinstance(count, bool) and 1 <= count <= MAX_RECORDED:
        sample = count
    else:
        raise NeurosimError(
            f"{where}.synapses: expected 'all' or a sample size 1..{MAX_RECORDED}, got "
            f"{excerpt(count)}"
        )
    if "at" in spec:
        # the values the run ends with (final weights), without a time axis
        if spec["at"] != "end" or "dt" in spec:
            raise NeurosimError(
                f"{where}.at: the only choice is 'end' (and no dt with it), got "
                f"{excerpt(spec['at'])}"
            )
        return RecordSpec(tuple(names), sample, dt, at_end=True)
    rec_dt = parse_quantity(spec.get("dt", dt), f"{where}.dt", brian2.second)
    if rec_dt < dt * (1 - 1e-9):
        raise NeurosimError(f"{where}.dt: has to be at least the time step {dt}")
    return RecordSpec(tuple(names), sample, rec_dt)
