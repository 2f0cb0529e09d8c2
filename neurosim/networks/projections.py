"""Projections between populations of a protocol: connector, weights, delays, target variable.

A simulation protocol's ``projections:`` section connects its populations::

    projections:
      exc_to_inh:                       # the projection's name
        source: exc                     # presynaptic population
        target: inh                     # postsynaptic population
        variable: v                     # what a spike changes in the target
        connector: {rule: fixed_indegree, indegree: 100}
        weight: 0.1 mV                  # or a distribution, an expression of the distance
                                        # or an array of the connector's file: networks/values.py
        delay: 1.5 ms                   # optional (default: one time step)

Each presynaptic spike adds ``weight`` to ``variable`` of the postsynaptic
neuron after ``delay`` (a delta, or jump, synapse, as NEST's
``static_synapse`` onto ``iaf_psc_delta``). ``variable`` is any state
variable of the target's model (a variable with a ``d.../dt`` equation), so
the compartment is chosen by name: ``v_s`` (soma) or ``v_a`` (apical
dendrite) of ``bac_pyramidal``; the weight must have that variable's unit.
A projection with ``plasticity:`` may leave ``variable`` out: its synapses
then only learn (a dimensionless weight that changes nothing in the target,
e.g. onto a spike source in a pairing experiment).
Connectors: :mod:`neurosim.networks.connectors`; weights and delays:
:mod:`neurosim.networks.values`. Delays are at least one time step and count
as NEST counts them: an input that arrives at ``t_spike + delay`` can make its
target spike in that same step (Brian2's pathway gets ``delay - dt``, since
Brian2 applies synaptic input after the step's threshold test).

:func:`check_projections` validates the section when the protocol loads
(before anything is built, synapse counts included); :func:`build_projection`
makes the Brian2 ``Synapses`` of one projection.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import brian2
import numpy as np
from brian2 import amp
from brian2.units.fundamentalunits import DIMENSIONLESS

from neurosim.errors import NeurosimError, excerpt
from neurosim.networks.connectors import (
    MAX_SYNAPSES,
    Connector,
    check_connector,
    connect,
    connector_from_spec,
    expected_synapses,
    file_array,
)
from neurosim.networks.positions import largest_distance, make_positions
from neurosim.networks.projection_plasticity import (
    PlasticitySpec,
    RecordSpec,
    check_plasticity,
    check_record,
    rule_code,
)
from neurosim.networks.synapses import (
    SynapseModel,
    input_potential,
    load_synapse_model,
    on_pre_code,
    post_equations,
)
from neurosim.networks.values import ValueSpec, evaluate, synapse_values, value_from_spec
from neurosim.schema import (
    check_identifier,
    check_keys,
    check_mapping,
    check_population,
    key_text,
)
from neurosim.units import unit_name

#: Longest delay a projection may have (s).
MAX_DELAY = 10.0

#: Distances at which an expression's values are checked when the protocol
#: loads, from 0 to the largest possible (every synapse's is checked when built).
_CHECK_DISTANCES = 4097

__all__ = ["MAX_DELAY", "Projection", "build_projection", "check_projections", "synapse_count"]


@dataclass(frozen=True)
class Projection:
    """One validated projection (see the module docstring)."""

    name: str
    source: str
    target: str
    variable: str | None
    """The target's variable a spike changes (None: the synapses only learn)."""
    connector: Connector
    weight: ValueSpec
    delay: ValueSpec
    synapse: SynapseModel | None = None
    """The synapse model (None: a delta synapse, a jump of ``variable``)."""
    synapse_params: dict[str, Any] = field(default_factory=dict, compare=False)
    """The synapse model's parameter values, the projection's overrides applied."""
    plasticity: PlasticitySpec | None = None
    """A plasticity rule on the weights (None: static)."""
    record: RecordSpec | None = None
    """Synapse variables to record (None: none)."""
    receptor: str | None = None
    """The target-side state this projection shares with others (None: its own)."""

    @property
    def state_key(self) -> str:
        """The suffix of the target-side synapse state: the receptor's or the projection's name."""
        return self.receptor or self.name

    @property
    def same_population(self) -> bool:
        """Source and target are one population (autapses are possible)."""
        return self.source == self.target

    @property
    def needs_positions(self) -> bool:
        """Building needs the populations' positions (distance rule or expression)."""
        return self.connector.rule == "distance" or self.weight.spatial or self.delay.spatial


def check_projections(
    spec: Any,
    populations: dict[str, dict],
    models: dict,
    dt,
    where: str,
    folder=None,
    seed: int = 0,
) -> list[Projection]:
    """Validate a ``projections:`` section; every error is one line naming the key.

    Parameters
    ----------
    spec : mapping
        Projection name -> settings, as loaded from the protocol.
    populations, models : dict
        The protocol's validated populations (settings with ``n``) and their
        neuron models.
    dt : Quantity
        The protocol's time step: the shortest possible delay.
    where : str
        Location prefix (the protocol file).
    folder : pathlib.Path, optional
        The protocol's folder: relative paths (``from_file`` connectors) start there.
    seed : int
        The protocol's seed (positions, for the expected count of ``distance``).
    """
    check_mapping(spec, f"{where}: projections", "a mapping of projection name to settings")
    out = []
    for name, proj in spec.items():
        key = f"{where}: projections.{key_text(name)}"
        check_identifier(name, key, "projection name")
        proj = check_keys(
            proj,
            key,
            ("source", "target", "connector", "weight"),
            ("variable", "delay", "synapse", "plasticity", "record"),
        )
        source, target = (
            check_population(proj[k], populations, f"{key}.{k}") for k in ("source", "target")
        )
        model = models[target]
        variable = proj.get("variable")
        synapse, params, receptor = synapse_from_spec(proj.get("synapse"), f"{key}.synapse")
        if variable is None and synapse is None:
            # synapses that only learn: a weight and its rule, no effect on the
            # target (spike-pairing experiments onto spike sources)
            if "plasticity" not in proj:
                raise NeurosimError(
                    f"{key}.variable: missing; only a projection with plasticity may leave "
                    "it out (its synapses then only learn)"
                )
            weight_dim = DIMENSIONLESS
        elif synapse is None:
            var = model.variables.get(variable) if isinstance(variable, str) else None
            if var is None or var.kind != "differential":
                states = [v.name for v in model.variables.values() if v.kind == "differential"]
                raise NeurosimError(
                    f"{key}.variable: {excerpt(variable)} is not a state variable of model "
                    f"{model.name!r} (have: {', '.join(states)})"
                )
            weight_dim = var.dimension
        else:
            inputs = [v for v in model.input_variables if model.variables[v].dimension is amp.dim]
            if variable not in inputs:
                raise NeurosimError(
                    f"{key}.variable: {excerpt(variable)} is not an input current of model "
                    f"{model.name!r}, which synapse model {synapse.name!r} needs "
                    f"(have: {', '.join(inputs) or 'none'})"
                )
            input_potential(model, variable)  # flows into exactly one compartment
            weight_dim = synapse.weight.dim
        connector = connector_from_spec(proj["connector"], f"{key}.connector", folder)
        check_connector(
            connector,
            populations[source]["n"],
            populations[target]["n"],
            source == target,
            f"{key}.connector",
        )
        if connector.rule == "distance":
            spatial = pair_positions(populations, source, target, seed, f"{key}.connector")
            count = expected_synapses(
                connector,
                populations[source]["n"],
                populations[target]["n"],
                source == target,
                spatial,
            )
            if count > MAX_SYNAPSES:
                raise NeurosimError(f"{key}.connector: about {count:.3g} synapses, too many")
        weight = value_from_spec(proj["weight"], f"{key}.weight", weight_dim)
        delay = value_from_spec(proj.get("delay", dt), f"{key}.delay", brian2.second)
        for what, value in (("weight", weight), ("delay", delay)):
            _check_values(
                value, what, proj.get(what), connector, populations, source, target, seed, dt, key
            )
        plasticity = (
            check_plasticity(proj["plasticity"], weight_dim, f"{key}.plasticity")
            if "plasticity" in proj
            else None
        )
        record = None
        if "record" in proj:
            names = {"w", *(synapse.synapse_variables if synapse else ())}
            if plasticity is not None:
                names |= set(_traces(plasticity.rule.model))
            count = expected_synapses(
                connector, populations[source]["n"], populations[target]["n"], source == target
            )
            record = check_record(proj["record"], names, count, dt, f"{key}.record")
        out.append(
            Projection(
                name,
                source,
                target,
                variable,
                connector,
                weight,
                delay,
                synapse,
                params,
                plasticity,
                record,
                receptor,
            )
        )
    return out


def check_receptors(users: list[tuple]) -> None:
    """Users of one receptor of a target must agree on the synapse model, parameters and input.

    ``users``: ``(target, receptor, synapse model, parameters, input variable, where)``.
    """
    seen: dict[tuple[str, str], tuple] = {}
    for target, receptor, model, params, variable, where in users:
        if receptor is None:
            continue
        first = seen.setdefault((target, receptor), (model, params, variable, where))
        if first[0] is not model or first[2] != variable or not _same(first[1], params):
            raise NeurosimError(
                f"{where}.synapse.receptor: receptor {receptor!r} of {target!r} is used by "
                f"{first[3].split(': ')[-1]} with another synapse model, parameters or variable"
            )


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(bool(np.all(a[k] == b[k])) for k in a)


def _check_values(
    value: ValueSpec,
    what: str,
    spec: Any,
    connector: Connector,
    populations: dict[str, dict],
    source: str,
    target: str,
    seed: int,
    dt,
    key: str,
) -> None:
    """Check a weight's or delay's values: finite, and delays within [dt, MAX_DELAY].

    A distribution's range is known from its parameters; an expression's
    values are checked at distances from 0 to the largest the positions allow
    (and again on every synapse when built), a file's array exactly.
    """
    where = f"{key}.{what}"
    if value.kind == "expression":
        spatial = pair_positions(populations, source, target, seed, where, "a distance expression")
        d = np.linspace(0.0, largest_distance(*spatial), _CHECK_DISTANCES)
        values = evaluate(value, d, f"{where}.expression")
        low, high = float(values.min()), float(values.max())
    elif value.kind == "from_file":
        if connector.rule != "from_file":
            raise NeurosimError(
                f"{where}.from_file: reads the connector's file, but the connector's rule is "
                f"{connector.rule!r} (use rule from_file)"
            )
        with np.errstate(over="ignore"):  # an overflow is refused below
            values = file_array(connector, value.source, f"{where}.from_file")
            values = values * value.param("unit")
        if not np.all(np.isfinite(values)):  # finite numbers, but not once in SI units
            raise NeurosimError(f"{where}.unit: values of {value.source!r} overflow in SI units")
        low, high = (float(values.min()), float(values.max())) if len(values) else (dt, dt)
    elif what == "weight":
        return
    else:
        low = value.lowest()
        high = max(value.mean(), value.high if value.high < float("inf") else 0)
    if what == "delay":
        _check_delays(float(low), float(high), value, spec, dt, where)


def _check_delays(low: float, high: float, value: ValueSpec, spec: Any, dt, where: str) -> None:
    """Refuse delays beyond MAX_DELAY or below dt (``low``, ``high``: their range, s)."""
    if high > MAX_DELAY:
        # Brian2 keeps a spike queue as long as the longest delay (in steps)
        if value.kind == "expression":
            shown = f"up to {high:g} s from {excerpt(value.source)}"
        elif value.kind == "from_file":
            shown = f"up to {high:g} s in the file"
        else:
            shown = excerpt(spec)
        raise NeurosimError(f"{where}: at most {MAX_DELAY:g} s, got {shown}")
    if low < float(dt) * (1 - 1e-9):
        if value.kind == "constant":
            got = excerpt(spec)
        elif value.kind == "expression":
            got = (
                f"{low * 1e3:.6g} ms from {excerpt(value.source)} "
                f"(use maximum(..., {float(dt) * 1e3:g} ms))"
            )
        elif value.kind == "from_file":
            got = f"{low * 1e3:.6g} ms in {value.source!r} of the file"
        else:
            got = "no min >= dt"
        raise NeurosimError(f"{where}: delays have to be at least dt ({dt}); got {got}")


def population_positions(populations: dict[str, dict], name: str, seed: int) -> np.ndarray:
    """The positions (n, dims) in metres of a population with ``positions:``."""
    index = list(populations).index(name)
    spec = populations[name]["positions"]
    return make_positions(spec, populations[name]["n"], np.random.default_rng([seed, 3, index]))


def pair_positions(
    populations: dict[str, dict],
    source: str,
    target: str,
    seed: int,
    where: str,
    what: str = "the distance rule",
):
    """``(pre, post, period)`` for distances between two populations; one line if they do not fit.

    ``what`` names what needs them in the message (the distance rule, a
    distance expression).
    """
    specs = [populations[p].get("positions") for p in (source, target)]
    if None in specs:
        missing = (source, target)[specs.index(None)]
        raise NeurosimError(f"{where}: {what} needs positions: on population {missing!r}")
    if len(specs[0]["extent"]) != len(specs[1]["extent"]):
        raise NeurosimError(f"{where}: positions of {source!r} and {target!r} differ in dimensions")
    if specs[0]["periodic"] != specs[1]["periodic"] or (
        specs[0]["periodic"] and specs[0]["extent"] != specs[1]["extent"]
    ):
        raise NeurosimError(
            f"{where}: periodic distances need both populations periodic in the same box"
        )
    period = np.asarray(specs[1]["extent"]) if specs[1]["periodic"] else None
    pre = population_positions(populations, source, seed)
    post = population_positions(populations, target, seed)
    return pre, post, period


def _traces(model: str) -> list[str]:
    """Variables a rule's synapse equations declare (``dr1/dt = ...`` -> ``r1``)."""
    return re.findall(r"^\s*d(\w+)/dt", model, flags=re.MULTILINE)


def synapse_from_spec(
    spec: Any, where: str
) -> tuple[SynapseModel | None, dict[str, Any], str | None]:
    """``synapse: NAME`` or ``{model: NAME, receptor: R, PARAM: value, ...}``; None: delta.

    Returns the model, its parameters and the receptor (None: the projection's own state).
    """
    if spec is None or spec == "delta":
        return None, {}, None
    if isinstance(spec, str):
        spec = {"model": spec}
    check_mapping(spec, where, "a synapse model name or {model: NAME, parameters...}")
    name = spec.get("model")
    if not isinstance(name, str) or "/" in name or name.startswith("."):
        raise NeurosimError(
            f"{where}.model: expected a shipped synapse model name, got {excerpt(name)}"
        )
    try:
        model = load_synapse_model(name)
    except NeurosimError as err:
        raise NeurosimError(f"{where}.model: {err}") from None
    receptor = spec.get("receptor")
    if receptor is not None:
        check_identifier(receptor, f"{where}.receptor", "receptor name")
    overrides = {k: v for k, v in spec.items() if k not in ("model", "receptor")}
    return model, model.params(overrides, where), receptor


def target_inputs(
    users: list, models: dict
) -> dict[str, tuple[str, dict[str, list[str]], dict[str, Any]]]:
    """What the synapse models add to each target population.

    ``users``: projections, and stimuli with a synapse model (anything with
    ``target``, ``state_key``, ``synapse``, ``synapse_params`` and ``variable``).
    Returns, per population: the extra equations (the post state and current
    ``I_{key}`` of each projection or receptor, once per receptor), the
    currents summed into each input variable, and the namespace of the
    suffixed synapse parameters.
    """
    out: dict[str, tuple[str, dict[str, list[str]], dict[str, Any]]] = {}
    done: set[tuple[str, str]] = set()
    for user in users:
        if user.synapse is None or (user.target, user.state_key) in done:
            continue
        done.add((user.target, user.state_key))
        eqs, summed, namespace = out.get(user.target, ("", {}, {}))
        potential = input_potential(models[user.target], user.variable)
        more, current, names = post_equations(
            user.synapse, user.state_key, user.synapse_params, potential
        )
        summed.setdefault(user.variable, []).append(current)
        out[user.target] = (eqs + more, summed, {**namespace, **names})
    return out


def synapse_count(proj: Projection, populations: dict[str, dict]) -> float:
    """Synapses the projection will have (the mean for random counts)."""
    return expected_synapses(
        proj.connector,
        populations[proj.source]["n"],
        populations[proj.target]["n"],
        proj.same_population,
    )


def pathway_shift(proj: Projection, dt) -> float:
    """How much shorter (s) Brian2's pathway delay is than the nominal, NEST's, delay.

    NEST's delay: a jump of the membrane potential arriving at t can make the
    target spike at t (``iaf_psc_delta``). Brian2 applies synaptic input after
    the threshold test of its step, so the earliest spike it causes is one step
    later; a delta synapse's pathway is one step shorter to match (the Brunel SR
    state's 15-step oscillation with D = 1.5 ms becomes 16 steps otherwise). A
    synapse model's input arriving at t changes the synaptic current, which
    moves the potential from the next step on, in NEST (``iaf_psc_exp``) and in
    Brian2 alike: no shift.
    """
    return 0.0 if proj.synapse is not None else float(dt)


def build_projection(
    proj: Projection,
    groups: dict[str, brian2.NeuronGroup],
    rng: np.random.Generator,
    positions=None,
) -> brian2.Synapses:
    """The Brian2 ``Synapses`` of ``proj``, connected, with weights and delays drawn.

    ``rng`` draws the connections, then the weights, then the delays (an
    expression of the distance or a file's array draws nothing).
    ``positions``: ``(pre, post, period)`` when :attr:`Projection.needs_positions`.
    """
    source, target = groups[proj.source], groups[proj.target]
    unit = brian2.get_unit(proj.weight.dimension)
    model = f"w : {unit_name(proj.weight.dimension)}"
    on_post = None
    if proj.synapse is None:
        # Brian2 drops the jump while the target is refractory when the variable
        # is flagged (unless refractory), as NEST's iaf_psc_delta does.
        on_pre = f"{proj.variable}_post += w" if proj.variable else ""
        namespace = None
    else:
        # the target's state of this projection carries its name or its receptor's (target_inputs)
        model += "\n" + proj.synapse.synapse
        on_pre = on_pre_code(proj.synapse, proj.state_key)
        namespace = dict(proj.synapse_params)
    if proj.plasticity is not None:
        # the spike acts with the weight it finds, then the rule changes it
        rule_model, rule_pre, on_post, rule_names = rule_code(proj.plasticity, unit)
        model += "\n" + rule_model
        on_pre += "\n" + rule_pre
        namespace = {**(namespace or {}), **rule_names}
    syn = brian2.Synapses(
        source,
        target,
        model=model,
        on_pre=on_pre,
        on_post=on_post,
        namespace=namespace,
        name=proj.name,
    )
    i, j = connect(proj.connector, len(source), len(target), rng, proj.same_population, positions)
    # Brian2 cannot tell a standalone Synapses' size before the run; keep the pairs
    syn.add_attribute("neurosim_pairs")
    small = np.int32 if max(len(source), len(target)) < 2**31 else np.int64
    syn.neurosim_pairs = (i.astype(small), j.astype(small))  # 8 bytes a synapse, not 16
    if len(i):
        syn.connect(i=i, j=j)
        where = f"projections.{proj.name}"
        syn.w[:] = (
            synapse_values(proj.weight, i, j, rng, f"{where}.weight", positions, proj.connector)
            * unit
        )
        delays = synapse_values(proj.delay, i, j, rng, f"{where}.delay", positions, proj.connector)
        if proj.delay.spatial:  # checked at sampled distances on load, here on every synapse
            _check_delays(
                delays.min(), delays.max(), proj.delay, None, syn.clock.dt, f"{where}.delay"
            )
        syn.delay[:] = (
            np.maximum(delays - pathway_shift(proj, target.clock.dt), 0.0) * brian2.second
        )
        for var, value in (proj.synapse.initial if proj.synapse else {}).items():
            setattr(syn, var, value)
    return syn
