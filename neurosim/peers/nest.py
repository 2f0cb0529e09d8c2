"""Run a protocol's network in NEST: the same data file, a reference simulator.

Validation, not a second core: :func:`run_in_nest` reads a loaded
:class:`~neurosim.protocol.Protocol` (populations, projections, Poisson
stimuli) and builds the network NEST's way, so that neurosim's run and NEST's
can be compared statistic by statistic (``benchmarks/bench_networks.py``,
``tests/test_peers_nest.py``). NEST is an optional dependency (the ``peers``
extra: ``pip install -e ".[peers]"``).

What translates, and what does not (a clear error names the key):

- populations of model ``lif`` -> ``iaf_psc_delta`` (``C_m = C``,
  ``tau_m = C / g_L``, ``E_L``, ``V_th``, ``V_reset``, ``t_ref`` = the
  model's refractory period, ``V_m`` = the initial ``v``, ``I_e = I``);
- projections onto ``v`` with a constant weight (a voltage jump, as
  ``iaf_psc_delta`` takes it) and a constant delay; connectors
  ``all_to_all``, ``one_to_one``, ``fixed_probability``
  (``pairwise_bernoulli``), ``fixed_indegree``, ``fixed_outdegree``,
  ``fixed_total_number`` with the autapse and multapse flags;
- ``poisson`` stimuli onto ``v``: one ``poisson_generator`` of rate
  ``n_inputs x rate`` per population, weight as given, delay ``dt``;
- ``plasticity: {rule: pair}`` with ``w_min = 0`` -> ``stdp_synapse``
  (:func:`_stdp_params`: additive, ``lambda = A2_plus``,
  ``alpha = A2_minus / A2_plus``, ``Wmax = w_max``, the target population's
  ``tau_minus``), relayed through ``parrot_neuron`` s so that the delay is
  axonal, as in neurosim (:func:`_connect_plastic`), and the final weights of
  a sample of its connections when the projection's ``record`` holds ``w``
  (:attr:`NestRun.weights`).

Both drop input that reaches a neuron while it is refractory (NEST's
``iaf_psc_delta`` default; Brian2 does not change a variable flagged
``(unless refractory)``, as ``lif``'s ``v`` is, jumps included).
"""

from __future__ import annotations

import math
import time
from typing import Any, NamedTuple

import numpy as np
from brian2 import Quantity, amp, farad, second, siemens, volt

from neurosim.errors import NeurosimError
from neurosim.networks.connectors import total_number
from neurosim.networks.projections import synapse_count
from neurosim.protocol import Protocol
from neurosim.units import parse_quantity

__all__ = ["NestRun", "nest_version", "run_in_nest"]

#: NEST's connection rules by neurosim connector name.
RULES = {
    "all_to_all": ("all_to_all", ()),
    "one_to_one": ("one_to_one", ()),
    "fixed_probability": ("pairwise_bernoulli", (("p", "p"),)),
    "fixed_indegree": ("fixed_indegree", (("indegree", "indegree"),)),
    "fixed_outdegree": ("fixed_outdegree", (("outdegree", "outdegree"),)),
    "fixed_total_number": ("fixed_total_number", (("n", "N"),)),
    "total_from_probability": ("fixed_total_number", ()),
}
# Rules that can make more than one connection per pair.
_MULTAPSE_RULES = ("fixed_indegree", "fixed_outdegree", "fixed_total_number")


class NestRun(NamedTuple):
    """Spikes and times of one NEST run."""

    spikes: dict[str, tuple[np.ndarray, np.ndarray]]
    """Per population: spike times (s) and neuron indices (0-based)."""
    sizes: dict[str, int]
    """Neurons per population."""
    build_s: float
    """Wall time of creating and connecting (s)."""
    simulate_s: float
    """Wall time of ``nest.Simulate`` (s)."""
    version: str
    """NEST's version."""
    weights: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None
    """Per plastic projection recording ``w``: presynaptic and postsynaptic
    neuron (0-based) and final weight (SI) of about ``record.synapses``
    connections (all of a random set of presynaptic neurons), brought up to
    date as :func:`_up_to_date` says."""


def _nest():
    try:
        import nest
    except ImportError as exc:  # pragma: no cover - depends on the machine
        raise NeurosimError(
            "NEST is not installed: pip install -e '.[peers]' (nest-simulator)"
        ) from exc
    return nest


def nest_version() -> str | None:
    """NEST's version, or None where it is not installed."""
    try:
        return str(_nest().__version__)
    except NeurosimError:
        return None


def _si(value: Any, unit, where: str) -> float:
    q = value if isinstance(value, Quantity) else parse_quantity(value, where, unit)
    return float(q / unit)


def _neuron_params(protocol: Protocol, name: str) -> dict[str, float]:
    """NEST parameters of a ``lif`` population (``V_m`` only when its initial ``v`` is constant)."""
    where = protocol.where(f"populations.{name}")
    model = protocol.models[name]
    if model.name != "lif":
        raise NeurosimError(f"{where}.model: {model.name!r} has no NEST counterpart here (lif)")
    pop = protocol.populations[name]
    params = {k: p.value for k, p in model.parameters.items()}
    params.update(pop.get("params") or {})
    initial = {**model.initial, **(pop.get("initial") or {})}
    c = _si(params["C"], farad, f"{where}.params.C")
    g = _si(params["g_L"], siemens, f"{where}.params.g_L")
    out = {
        "C_m": 1e12 * c,
        "tau_m": 1e3 * c / g,
        "E_L": 1e3 * _si(params["E_L"], volt, f"{where}.params.E_L"),
        "V_th": 1e3 * _si(params["V_th"], volt, f"{where}.params.V_th"),
        "V_reset": 1e3 * _si(params["V_reset"], volt, f"{where}.params.V_reset"),
        "t_ref": 1e3 * _si(model.refractory or 0 * second, second, f"{where}.refractory"),
    }
    v0 = initial.get("v", params["E_L"])
    if not isinstance(v0, dict):
        out["V_m"] = 1e3 * _si(v0, volt, f"{where}.initial.v")
    if "I" in params:
        out["I_e"] = 1e12 * _si(params["I"], amp, f"{where}.params.I")
    return out


def _dc(protocol: Protocol) -> dict[str, float]:
    """Constant currents (pA) per population: ``current_step`` stimuli onto ``I`` for the whole run.

    NEST's ``I_e`` (the DC a scaled network gets, :mod:`neurosim.networks.scaling`).
    """
    out: dict[str, float] = {}
    for stim in protocol.stimuli:
        if stim.kind != "current_step":
            continue
        whole = (
            stim.spec.get("start", 0 * second) == 0 * second
            and stim.spec.get("stop", protocol.duration) == protocol.duration
        )
        amplitude = stim.spec["amplitude"]
        if (
            stim.variable != "I"
            or not whole
            or stim.spec.get("neurons", True) is not True
            or (np.ndim(amplitude) != 0)
        ):
            raise NeurosimError(
                f"{stim.where}: only a current_step onto I of every neuron for the whole run "
                "translates to NEST here (I_e)"
            )
        out[stim.population] = out.get(stim.population, 0.0) + 1e12 * _si(
            amplitude, amp, f"{stim.where}.amplitude"
        )
    return out


def _initial_v(nest, protocol: Protocol, name: str):
    """A distribution of the initial ``v`` as NEST's random parameter (mV); None if constant."""
    where = protocol.where(f"populations.{name}.initial.v")
    v0 = (protocol.populations[name].get("initial") or {}).get("v")
    if not isinstance(v0, dict):
        return None
    a, b = (v0.get(k) for k in (("mean", "std") if v0.get("dist") == "normal" else ("low", "high")))
    a, b = 1e3 * _si(a, volt, where), 1e3 * _si(b, volt, where)
    if v0.get("dist") == "normal":
        return nest.random.normal(mean=a, std=b)
    return nest.random.uniform(min=a, max=b)


def _receptors(protocol: Protocol) -> dict[str, dict[str, float]]:
    """``tau_syn_ex``/``tau_syn_in`` (ms) of each population fed through ``exp_current``.

    NEST's ``iaf_psc_exp`` has two receptors and routes a weight by its sign:
    each of neurosim's receptors onto a population must be ``exp_current``
    with weights of one sign, at most one of each sign.
    """
    users = [(p, p.weight, protocol.where(f"projections.{p.name}")) for p in protocol.projections]
    users += [(s, s.spec.get("weight"), s.where) for s in protocol.stimuli if s.synapse]
    taus: dict[str, dict[str, tuple[float, str]]] = {}
    for user, weight, where in users:
        if user.synapse is None:
            continue
        if user.synapse.name != "exp_current" or user.variable != "I":
            raise NeurosimError(
                f"{where}.synapse: only exp_current onto I translates to NEST here (iaf_psc_exp)"
            )
        sign = _sign(weight, where)
        tau = 1e3 * _si(user.synapse_params["tau"], second, f"{where}.synapse.tau")
        kind = "tau_syn_ex" if sign > 0 else "tau_syn_in"
        got = taus.setdefault(user.target, {}).setdefault(kind, (tau, user.state_key))
        if got != (tau, user.state_key):
            raise NeurosimError(
                f"{where}.synapse: iaf_psc_exp has one {'excitatory' if sign > 0 else 'inhibitory'}"
                f" receptor; receptor {got[1]!r} of {user.target!r} already takes that sign"
            )
    out = {}
    for target, kinds in taus.items():
        params = {kind: tau for kind, (tau, _) in kinds.items()}
        params.setdefault("tau_syn_in", params.get("tau_syn_ex", 2.0))
        params.setdefault("tau_syn_ex", params["tau_syn_in"])
        out[target] = params
    return out


def _sign(weight, where: str) -> int:
    """+1 or -1: the sign every value of a weight has (refused if it can have both)."""
    if isinstance(weight, Quantity) or isinstance(weight, int | float):
        value = float(np.asarray(weight))
        return 1 if value >= 0 else -1
    if weight.kind == "constant":
        return 1 if weight.param("value") >= 0 else -1
    if weight.low >= 0:
        return 1
    if weight.high <= 0:
        return -1
    raise NeurosimError(f"{where}.weight: can take both signs (bound it with min: 0 or max: 0)")


_KINDS = {"expression": "an expression of the distance", "from_file": "an array of a file"}


def _constant(spec, where: str) -> float:
    if spec.kind != "constant":
        kind = _KINDS.get(spec.kind, f"a {spec.kind} distribution")
        raise NeurosimError(f"{where}: only constant values translate to NEST here, not {kind}")
    return spec.param("value")


def _value(nest, spec, factor: float, where: str):
    """A weight or delay as NEST takes it (a number, or a random parameter), times ``factor``.

    Normal and uniform distributions translate, bounds as ``nest.math.redraw``.
    """
    if spec.kind == "constant":
        return factor * spec.param("value")
    if spec.kind == "normal":
        value = nest.random.normal(mean=factor * spec.param("mean"), std=factor * spec.param("std"))
    elif spec.kind == "uniform":
        value = nest.random.uniform(min=factor * spec.param("low"), max=factor * spec.param("high"))
    else:
        _constant(spec, where)  # names what does not translate
    if math.isfinite(spec.low) or math.isfinite(spec.high):
        value = nest.math.redraw(value, min=factor * spec.low, max=factor * spec.high)
    return value


def _conn_spec(proj, where: str, nodes: dict | None = None) -> dict[str, Any]:
    """NEST's ``conn_spec`` of a projection.

    ``nodes``: the populations, for ``total_from_probability`` (its count
    depends on their sizes).
    """
    conn = proj.connector
    if conn.rule not in RULES:
        raise NeurosimError(
            f"{where}.connector: rule {conn.rule!r} does not translate to NEST here"
        )
    rule, params = RULES[conn.rule]
    spec: dict[str, Any] = {"rule": rule}
    spec.update({nest_key: getattr(conn, key) for key, nest_key in params})
    if conn.rule == "total_from_probability":
        n_pre, n_post = (len((nodes or {})[p]) for p in (proj.source, proj.target))
        spec["N"] = total_number(conn, n_pre, n_post)
    if rule not in ("one_to_one",):
        spec["allow_autapses"] = bool(conn.autapses)
    if rule in _MULTAPSE_RULES:
        spec["allow_multapses"] = bool(conn.multapses)
    return spec


def _stdp_params(proj, where: str) -> tuple[dict[str, float], float]:
    """``stdp_synapse`` parameters of a plastic projection and its target's ``tau_minus`` (ms).

    neurosim's pair rule (fractions of ``w_max``, clipped to ``[w_min,
    w_max]``): at a presynaptic spike ``w -= A2_minus w_max o1``, at a
    postsynaptic one ``w += A2_plus w_max r1``. NEST's ``stdp_synapse`` with
    ``mu_plus = mu_minus = 0`` changes ``w / Wmax`` by ``+lambda K_plus`` and
    ``-alpha lambda K_minus``, clipped to ``[0, Wmax]``: the same rule with
    ``lambda = A2_plus``, ``alpha = A2_minus / A2_plus``, ``Wmax = w_max``,
    ``w_min = 0`` (the only lower bound NEST has). ``tau_minus`` is a
    parameter of NEST's postsynaptic neuron, not of the synapse.

    What differs, and stays: NEST transmits a spike with the weight after its
    own depression, neurosim with the weight before (a relative difference of
    ``A2_minus w_max o1 / w``, 0.1 % in ``brunel2000_ai_stdp``); a pair one
    step apart in the depressing direction counts in neurosim only (see
    :func:`_connect_plastic`). The delay is handled there.
    """
    spec = proj.plasticity
    if spec.rule.name != "pair":
        raise NeurosimError(
            f"{where}.plasticity.rule: {spec.rule.name!r} does not translate to NEST here (pair)"
        )
    if spec.w_min != 0 or spec.w_max <= 0:
        raise NeurosimError(
            f"{where}.plasticity.w_min: NEST's stdp_synapse bounds weights to [0, Wmax > 0]"
        )
    a_plus, a_minus = float(spec.params["A2_plus"]), float(spec.params["A2_minus"])
    if a_plus <= 0:
        raise NeurosimError(
            f"{where}.plasticity.A2_plus: has to be > 0 in NEST (alpha = A2_minus / A2_plus)"
        )
    params = {
        "tau_plus": 1e3 * _si(spec.params["tau_plus"], second, f"{where}.plasticity.tau_plus"),
        "lambda": a_plus,
        "alpha": a_minus / a_plus,
        "mu_plus": 0.0,  # additive: no weight dependence
        "mu_minus": 0.0,
        "Wmax": 1e3 * spec.w_max,  # the weight's mV, as iaf_psc_delta takes it
    }
    tau_minus = 1e3 * _si(spec.params["tau_minus"], second, f"{where}.plasticity.tau_minus")
    return params, tau_minus


def _connect_plastic(nest, proj, where: str, nodes, syn: dict, dt_ms: float, axonal: bool):
    """Connect a plastic projection; return its presynaptic nodes and their lag (ms).

    NEST's ``stdp_synapse`` takes its whole delay ``D`` as dendritic: the
    presynaptic spike meets the postsynaptic trace when it is emitted, a
    postsynaptic spike reaches the synapse ``D`` later, so the rule sees
    ``t_post - t_pre + D``. neurosim runs a projection's presynaptic code when
    the spike arrives (axonal: Brian2's pathway of ``D - dt``, see
    :mod:`neurosim.networks.projections`) and its postsynaptic code at once,
    so its rule sees ``t_post - t_pre - D + dt``. The windows stand ``2 D -
    dt`` apart (2.9 ms for Brunel's ``D = 1.5 ms``), and that is not small:
    in ``brunel2000_ai_stdp`` at a fifth of the size, NEST's window gave a
    mean change of the exc_exc weights a fifth of neurosim's, and neurosim's
    window evaluated on NEST's own spikes gave about neurosim's (the zero-lag
    synchrony of the network potentiates with one window, depresses with the
    other).

    With ``axonal`` (and ``D >= 2 dt``) the spikes go through one
    ``parrot_neuron`` per presynaptic neuron, delay ``D - dt`` (a parrot
    repeats a spike at its arrival), then ``stdp_synapse`` with delay ``dt``:
    the target still gets the spike ``D`` after it was emitted, and the rule
    sees ``t_post - t_pre - D + 2 dt``, neurosim's window one step later
    (pairs are strictly ordered in NEST, so a pair ``dt`` apart in the
    depressing direction counts in neurosim only). Without ``axonal``:
    ``stdp_synapse`` as NEST users write it, delay ``D``.
    """
    delay = syn["delay"]
    if not axonal or delay < 2 * dt_ms - 1e-9:  # D = dt: the windows already agree
        nest.Connect(nodes[proj.source], nodes[proj.target], _conn_spec(proj, where, nodes), syn)
        return nodes[proj.source], 0.0
    if proj.same_population and not proj.connector.autapses:
        # NEST's flag would compare parrots with targets, never equal
        raise NeurosimError(
            f"{where}.connector.autapses: false does not translate to NEST with plasticity here"
        )
    parrots = nest.Create("parrot_neuron", len(nodes[proj.source]))
    lag = delay - dt_ms
    nest.Connect(nodes[proj.source], parrots, "one_to_one", {"delay": lag})
    nest.Connect(
        parrots, nodes[proj.target], _conn_spec(proj, where, nodes), {**syn, "delay": dt_ms}
    )
    return parrots, lag


def _up_to_date(
    weight: np.ndarray,
    kplus: np.ndarray,
    t_last: np.ndarray,
    post: np.ndarray,
    post_spikes: tuple[np.ndarray, np.ndarray],
    delay: float,
    params: dict[str, float],
    until: float,
    step: float,
) -> np.ndarray:
    """``stdp_synapse`` weights as the rule has them at ``until`` (times in ms).

    NEST applies a postsynaptic spike's potentiation lazily, at the synapse's
    next presynaptic spike, so a weight read after ``Simulate`` lacks the
    potentiation by the postsynaptic spikes that reached the synapse (``D``
    after the spike) since its last delivered presynaptic spike ``t_last``
    (about a fifth of the mean change in the Brunel protocol). This adds it:
    ``lambda Wmax Kplus exp(-(t_post + D - t_last) / tau_plus)`` for each such
    spike (``Kplus``: NEST's presynaptic trace just after ``t_last``), clipped
    at ``Wmax`` (exact: the added terms are all positive). ``post_spikes``:
    times and neuron indices of the target population.
    """
    times, neurons = (np.asarray(a) for a in post_spikes)
    order = np.lexsort((times, neurons))
    times, neurons = times[order], neurons[order]
    # one sorted key for all neurons: neuron * span + time (span > any time used)
    span = until + delay + 10.0
    key = neurons * span + times
    base = post * span
    # pending: t_last - D < t_post <= until - D, half a step against rounding
    low = np.maximum(t_last - delay, -1.0)
    lo = np.searchsorted(key, base + low + step / 2, side="right")
    hi = np.maximum(np.searchsorted(key, base + until - delay + step / 2, side="right"), lo)
    counts = hi - lo
    conn = np.repeat(np.arange(len(weight)), counts)
    pos = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    pos += np.repeat(lo, counts)
    terms = kplus[conn] * np.exp(-(times[pos] + delay - t_last[conn]) / params["tau_plus"])
    gain = params["lambda"] * params["Wmax"] * np.bincount(conn, terms, minlength=len(weight))
    return np.minimum(weight + gain, params["Wmax"])


def _final_weights(nest, protocol: Protocol, k: int, plastic: tuple, nodes, spikes):
    """(pre, post, weight in SI) of a plastic projection's sampled connections at the end.

    ``plastic``: the synapse model's name, its parameters, the presynaptic
    nodes (the parrots where relayed) and their lag behind the population (ms).
    """
    proj = protocol.projections[k]
    model, params, sources, lag = plastic
    n_source = protocol.populations[proj.source]["n"]
    first = sources[0].global_id  # parrots repeat the neurons in order
    if proj.record.synapses is not None:
        # every connection of a random set of presynaptic neurons: reading a
        # random subset of all connections would first list all of them
        per_source = synapse_count(proj, protocol.populations) / n_source
        count = min(n_source, max(1, int(np.ceil(proj.record.synapses / max(per_source, 1e-9)))))
        rng = np.random.default_rng([protocol.seed, 2, k])
        sources = sources[np.sort(rng.choice(n_source, count, replace=False)).tolist()]
    conns = nest.GetConnections(sources, nodes[proj.target], synapse_model=model)
    if len(conns) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    got = {
        key: np.atleast_1d(np.asarray(value))
        for key, value in conns.get(["source", "target", "weight", "Kplus"]).items()
    }
    pre = got["source"].astype(np.int64) - first
    post = got["target"].astype(np.int64) - nodes[proj.target][0].global_id
    step = nest.GetKernelStatus("resolution")
    until = nest.GetKernelStatus("biological_time")
    # spikes of the last min_delay are delivered (send() runs) in the next slice only
    delivered = until - nest.GetKernelStatus("min_delay") + step / 2
    times, neurons = spikes[proj.source]
    times = 1e3 * times + lag  # when the parrots repeat them
    last = np.full(n_source, -np.inf)
    keep = times <= delivered
    np.maximum.at(last, neurons[keep], times[keep])
    post_times, post_neurons = spikes[proj.target]
    weight = _up_to_date(
        got["weight"].astype(float),
        got["Kplus"].astype(float),
        last[pre],
        post,
        (1e3 * post_times, post_neurons),
        float(np.asarray(conns.get("delay")).flat[0]),  # one delay per projection
        params,
        until,
        step,
    )
    return pre, post, 1e-3 * weight


def run_in_nest(
    protocol: Protocol, seed: int | None = None, threads: int = 1, axonal: bool = True
) -> NestRun:
    """Build and simulate a protocol's network in NEST; return every neuron's spikes.

    Parameters
    ----------
    protocol : Protocol
        A loaded ``simulation`` protocol (see the module docstring for what translates).
    seed : int, optional
        NEST's ``rng_seed`` (default: the protocol's seed + 1, NEST refusing 0).
    threads : int
        NEST's ``local_num_threads``.
    axonal : bool
        Plastic projections see spike pairs as neurosim does, through a parrot
        relay (default); False: NEST's own dendritic delay
        (:func:`_connect_plastic`).
    """
    nest = _nest()
    if protocol.duration is None:
        raise NeurosimError(f"{protocol.where('duration')}: a simulation needs a duration")
    if hasattr(nest, "VerbosityLevel"):  # NEST >= 3.9; set_verbosity warns there
        nest.verbosity = nest.VerbosityLevel.ERROR
    else:  # pragma: no cover - older NEST
        nest.set_verbosity("M_ERROR")
    nest.ResetKernel()
    dt_ms = 1e3 * float(protocol.dt / second)
    nest.SetKernelStatus(
        {
            "resolution": dt_ms,
            "rng_seed": int(protocol.seed + 1 if seed is None else seed),
            "local_num_threads": int(threads),
            "print_time": False,
        }
    )
    start = time.perf_counter()
    nodes, recorders = {}, {}
    receptors = _receptors(protocol)
    dc = _dc(protocol)
    for name, pop in protocol.populations.items():
        params = {**_neuron_params(protocol, name), **receptors.get(name, {})}
        if name in dc:
            params["I_e"] = params.get("I_e", 0.0) + dc[name]
        model = "iaf_psc_exp" if name in receptors else "iaf_psc_delta"
        nodes[name] = nest.Create(model, pop["n"], params=params)
        v0 = _initial_v(nest, protocol, name)
        if v0 is not None:
            nodes[name].set(V_m=v0)
        recorders[name] = nest.Create("spike_recorder")
        nest.Connect(nodes[name], recorders[name])
    plastic, tau_minus = {}, {}
    for k, proj in enumerate(protocol.projections):
        where = protocol.where(f"projections.{proj.name}")
        if proj.synapse is None and (proj.variable != "v" or proj.target in receptors):
            raise NeurosimError(f"{where}.variable: only 'v' translates to iaf_psc_delta")
        # iaf_psc_exp takes currents in pA, iaf_psc_delta jumps in mV
        factor = 1e12 if proj.synapse is not None else 1e3
        syn = {
            "synapse_model": "static_synapse",
            "weight": _value(nest, proj.weight, factor, f"{where}.weight"),
            "delay": _value(nest, proj.delay, 1e3, f"{where}.delay"),
        }
        if proj.plasticity is not None:
            params, tau = _stdp_params(proj, where)
            # tau_minus belongs to the postsynaptic neuron: one value per population
            if tau_minus.setdefault(proj.target, (tau, proj.name))[0] != tau:
                raise NeurosimError(
                    f"{where}.plasticity.tau_minus: NEST keeps one per target neuron, and "
                    f"projection {tau_minus[proj.target][1]!r} onto {proj.target!r} has another"
                )
            nodes[proj.target].set(tau_minus=tau)
            syn["synapse_model"] = f"neurosim_stdp_{proj.name}"
            nest.CopyModel("stdp_synapse", syn["synapse_model"], params)
            sources, lag = _connect_plastic(nest, proj, where, nodes, syn, dt_ms, axonal)
            if proj.record is not None and "w" in proj.record.variables:
                plastic[k] = (syn["synapse_model"], params, sources, lag)
            continue
        nest.Connect(nodes[proj.source], nodes[proj.target], _conn_spec(proj, where, nodes), syn)
    for stim in protocol.stimuli:
        if stim.kind == "current_step":
            continue  # a DC: I_e (_dc)
        if stim.kind != "poisson" or (stim.variable != "v" and stim.synapse is None):
            raise NeurosimError(
                f"{stim.where}: only poisson stimuli onto v or via exp_current translate to NEST"
            )
        rate = float(stim.spec["rate"] / (1 / second)) * int(stim.spec.get("n_inputs", 1))
        gen = nest.Create("poisson_generator", params={"rate": rate})
        weight = (
            1e12 * _si(stim.spec["weight"], amp, f"{stim.where}.weight")
            if stim.synapse is not None
            else 1e3 * _si(stim.spec["weight"], volt, f"{stim.where}.weight")
        )
        nest.Connect(gen, nodes[stim.population], syn_spec={"weight": weight, "delay": dt_ms})
    built = time.perf_counter()
    nest.Simulate(1e3 * float(protocol.duration / second))
    done = time.perf_counter()
    spikes = {}
    for name, rec in recorders.items():
        events = rec.get("events")
        first = nodes[name][0].global_id
        spikes[name] = (
            np.asarray(events["times"], float) * 1e-3,
            np.asarray(events["senders"], np.int64) - first,
        )
    weights = {
        protocol.projections[k].name: _final_weights(nest, protocol, k, how, nodes, spikes)
        for k, how in plastic.items()
    }
    return NestRun(
        spikes,
        {name: int(pop["n"]) for name, pop in protocol.populations.items()},
        built - start,
        done - built,
        str(nest.__version__),
        weights,
    )
