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
  ``n_inputs x rate`` per population, weight as given, delay ``dt``.

Both drop input that reaches a neuron while it is refractory (NEST's
``iaf_psc_delta`` default; Brian2 does not change a variable flagged
``(unless refractory)``, as ``lif``'s ``v`` is, jumps included).
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple

import numpy as np
from brian2 import Quantity, amp, farad, second, siemens, volt

from neurosim.errors import NeurosimError
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
        "V_m": 1e3 * _si(initial.get("v", params["E_L"]), volt, f"{where}.initial.v"),
    }
    if "I" in params:
        out["I_e"] = 1e12 * _si(params["I"], amp, f"{where}.params.I")
    return out


def _constant(spec, where: str) -> float:
    if spec.kind != "constant":
        raise NeurosimError(f"{where}: only constant values translate to NEST here")
    return spec.param("value")


def _conn_spec(proj, where: str) -> dict[str, Any]:
    conn = proj.connector
    if conn.rule not in RULES:
        raise NeurosimError(
            f"{where}.connector: rule {conn.rule!r} does not translate to NEST here"
        )
    rule, params = RULES[conn.rule]
    spec: dict[str, Any] = {"rule": rule}
    spec.update({nest_key: getattr(conn, key) for key, nest_key in params})
    if rule not in ("one_to_one",):
        spec["allow_autapses"] = bool(conn.autapses)
    if rule in _MULTAPSE_RULES:
        spec["allow_multapses"] = bool(conn.multapses)
    return spec


def run_in_nest(protocol: Protocol, seed: int | None = None, threads: int = 1) -> NestRun:
    """Build and simulate a protocol's network in NEST; return every neuron's spikes.

    Parameters
    ----------
    protocol : Protocol
        A loaded ``simulation`` protocol (see the module docstring for what translates).
    seed : int, optional
        NEST's ``rng_seed`` (default: the protocol's seed + 1, NEST refusing 0).
    threads : int
        NEST's ``local_num_threads``.
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
    for name, pop in protocol.populations.items():
        nodes[name] = nest.Create("iaf_psc_delta", pop["n"], params=_neuron_params(protocol, name))
        recorders[name] = nest.Create("spike_recorder")
        nest.Connect(nodes[name], recorders[name])
    for proj in protocol.projections:
        where = protocol.where(f"projections.{proj.name}")
        if proj.variable != "v":
            raise NeurosimError(f"{where}.variable: only 'v' translates to iaf_psc_delta")
        syn = {
            "synapse_model": "static_synapse",
            "weight": 1e3 * _constant(proj.weight, f"{where}.weight"),
            "delay": 1e3 * _constant(proj.delay, f"{where}.delay"),
        }
        nest.Connect(nodes[proj.source], nodes[proj.target], _conn_spec(proj, where), syn)
    for stim in protocol.stimuli:
        if stim.kind != "poisson" or stim.variable != "v":
            raise NeurosimError(f"{stim.where}: only poisson stimuli onto v translate to NEST")
        rate = float(stim.spec["rate"] / (1 / second)) * int(stim.spec.get("n_inputs", 1))
        gen = nest.Create("poisson_generator", params={"rate": rate})
        weight = 1e3 * _si(stim.spec["weight"], volt, f"{stim.where}.weight")
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
    return NestRun(
        spikes,
        {name: int(pop["n"]) for name, pop in protocol.populations.items()},
        built - start,
        done - built,
        str(nest.__version__),
    )
