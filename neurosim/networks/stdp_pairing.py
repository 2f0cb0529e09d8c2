"""Spike-pairing protocols for STDP rules: the window and its frequency dependence.

Each condition (repetition frequency ``f``, delay ``delta = t_post - t_pre``)
gets its own presynaptic and postsynaptic spike source and one synapse
between them; the presynaptic source fires ``pairings`` times every ``1/f``
and the postsynaptic one ``delta`` later. The ``training:`` section below is
shorthand: :func:`pairing_network` expands it into an ordinary simulation
protocol (two spike-source populations, a ``one_to_one`` projection with the
rule as its ``plasticity:``, its final weights recorded), which the network
builder runs like any other, all conditions side by side in one Brian2 run.
The result is the weight change of every synapse: ``weight_change`` with dims
``(frequency, delay)``. Weights start at 0 and the rules are additive, so the
change is in units of the rule's amplitudes (``0.1`` = 10 % of a unit
baseline weight).

Spike times are rounded to the simulation step ``dt`` (the protocol's
``dt``); the traces are event-driven and so exact, and with ``dt = 1 ms``
whole-millisecond delays and the periods of 1 to 50 Hz are represented
exactly. Protocol section (``training:``, the free-form section of a
protocol file)::

    training:
      parameters: visual_cortex        # a set of neurosim.plasticity.stdp.PARAMETER_SETS
      pairings: 60
      frequencies: [1 Hz, 10 Hz, 20 Hz, 40 Hz, 50 Hz]
      delays: [-100 ms, -50 ms, -10 ms, 10 ms, 50 ms, 100 ms]
      # or delays: {start: -100 ms, stop: 100 ms, step: 5 ms}   (stop included)
"""

from __future__ import annotations

from pathlib import Path

import brian2 as b2
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from neurosim.errors import NeurosimError
from neurosim.kinds import protocol_kind
from neurosim.plasticity.stdp import PARAMETER_SETS, RULES
from neurosim.plotting import PLOTS, save_figure
from neurosim.protocol import Protocol, protocol_from_data
from neurosim.recording import now
from neurosim.runner import (
    RunResult,
    protocol_provenance,
    simulate_dataset,
    write_outputs,
)
from neurosim.schema import check_keys, expect
from neurosim.units import format_quantity, parse_quantity

__all__ = [
    "PAIRING_BOUND",
    "pairing_network",
    "pairing_spikes",
    "plot_stdp_window",
    "run_pairing",
    "run_stdp_pairing",
]


def pairing_spikes(
    delays: b2.Quantity, frequencies: b2.Quantity, pairings: int, dt: b2.Quantity
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, b2.Quantity]:
    """Spike trains of every (frequency, delay) condition, in steps of ``dt``.

    Condition ``c = f_index * len(delays) + d_index`` is neuron ``c`` of both
    sources. The first presynaptic spike is at ``max(0, -min(delay)) + dt``
    so that no postsynaptic spike falls before time 0.

    Returns
    -------
    pre_i, pre_steps, post_i, post_steps : numpy.ndarray
        Neuron indices and spike times in steps of ``dt``.
    duration : Quantity
        Run length: one step past the last spike.
    """
    d_steps = np.round(np.asarray(delays / dt, float)).astype(np.int64)
    periods = np.round(np.asarray(1 / (frequencies * dt), float)).astype(np.int64)
    start = max(0, -int(d_steps.min())) + 1
    k = np.arange(pairings)
    pre_i, pre_t, post_i, post_t = [], [], [], []
    for fi, period in enumerate(periods):
        for di, d in enumerate(d_steps):
            c = fi * len(d_steps) + di
            times = start + k * period
            pre_i.append(np.full(pairings, c))
            pre_t.append(times)
            post_i.append(np.full(pairings, c))
            post_t.append(times + d)
    pre_steps, post_steps = np.concatenate(pre_t), np.concatenate(post_t)
    last = max(pre_steps.max(), post_steps.max())
    return (
        np.concatenate(pre_i),
        pre_steps,
        np.concatenate(post_i),
        post_steps,
        (last + 2) * dt,
    )


#: Weight bounds of the pairing synapses, far beyond any change of the shipped
#: parameter sets (at most about 3 unit weights).
PAIRING_BOUND = 100.0


def pairing_network(
    rule: str,
    params: dict,
    delays: b2.Quantity,
    frequencies: b2.Quantity,
    pairings: int,
    dt: b2.Quantity = 1 * b2.ms,
    target: str = "numpy",
    seed: int = 0,
) -> dict:
    """The pairing experiment as an ordinary ``simulation`` protocol (data).

    Two spike-source populations ``pre`` and ``post`` of one neuron per
    condition (:func:`pairing_spikes`), a ``one_to_one`` projection
    ``pairing`` from ``pre`` to ``post`` whose synapses only learn (no
    ``variable``; weight 0, bounds +-:data:`PAIRING_BOUND`, amplitudes as
    fractions of it), recording the weights the run ends with. Saved as YAML,
    ``neurosim run`` runs it.
    """
    pre_i, pre_steps, post_i, post_steps, duration = pairing_spikes(
        delays, frequencies, pairings, dt
    )
    n = len(frequencies) * len(delays)
    step = float(dt)

    def source(indices: np.ndarray, steps: np.ndarray) -> dict:
        return {
            "n": n,
            "spikes": {
                "neurons": indices.tolist(),
                "times": {"unit": "second", "values": (steps * step).tolist()},
            },
        }

    return {
        "name": f"stdp_pairing_{rule}",
        "description": f"{rule} STDP: {pairings} pre/post pairings per (frequency, delay)",
        "seed": seed,
        "kind": "simulation",
        "target": target,
        "dt": format_quantity(dt),
        "duration": format_quantity(duration),
        "populations": {"pre": source(pre_i, pre_steps), "post": source(post_i, post_steps)},
        "projections": {
            "pairing": {
                "source": "pre",
                "target": "post",
                "connector": {"rule": "one_to_one"},
                "weight": 0.0,
                "plasticity": {
                    "rule": rule,
                    **{name: _parameter(params[name]) for name in RULES[rule].parameters},
                    "w_min": -PAIRING_BOUND,
                    "w_max": PAIRING_BOUND,
                },
                "record": {"variables": ["w"], "at": "end"},
            }
        },
        "output": {"formats": []},
    }


def _parameter(value) -> str:
    """A rule parameter for a projection whose ``w_max`` is :data:`PAIRING_BOUND`.

    On a projection every weight change is a fraction of ``w_max``; the
    dimensionless parameters (the amplitudes of pair, triplet and Vogels
    rules) are divided by ``w_max`` so that the weight changes by the
    published amounts of a unit baseline weight.
    """
    if isinstance(value, b2.Quantity) and not value.is_dimensionless:
        return format_quantity(value)
    return format_quantity(float(value) / PAIRING_BOUND)


def run_pairing(
    rule: str,
    params: dict,
    delays: b2.Quantity,
    frequencies: b2.Quantity,
    pairings: int,
    dt: b2.Quantity = 1 * b2.ms,
    target: str = "numpy",
    seed: int = 0,
) -> xr.Dataset:
    """Run every (frequency, delay) pairing condition in one Brian2 run.

    The experiment is built by the network builder from
    :func:`pairing_network`, like any simulation protocol.

    Parameters
    ----------
    rule : {"pair", "triplet"}
        See :data:`neurosim.plasticity.stdp.RULES`.
    params : dict
        The rule's parameters, with units.
    delays, frequencies : Quantity
        ``t_post - t_pre`` of the pairs, and repetition frequencies.
    pairings : int
        Pairs per condition.
    dt : Quantity
        Simulation step (quantises spike times).
    target : str
        Brian2 code-generation target.
    seed : int
        Brian2 seed (the protocol is deterministic; kept for provenance).

    Returns
    -------
    xarray.Dataset
        ``weight_change`` (frequency, delay), coordinates in hertz and seconds.
    """
    data = pairing_network(rule, params, delays, frequencies, pairings, dt, target, seed)
    network = protocol_from_data(data, f"<{data['name']}>")
    recorded = simulate_dataset(network)
    weights = recorded["pairing_w"]
    if float(np.abs(weights).max()) >= PAIRING_BOUND:
        raise NeurosimError(f"{rule}: a weight change reached the bound {PAIRING_BOUND:g}")
    # one synapse per condition, numbered by its presynaptic neuron
    change = np.empty(len(frequencies) * len(delays))
    change[weights["pairing_pre"].values] = weights.values
    return xr.Dataset(
        {
            "weight_change": xr.DataArray(
                change.reshape(len(frequencies), len(delays)),
                dims=("frequency", "delay"),
                attrs={"units": "1", "rule": rule, "pairings": pairings},
            )
        },
        coords={
            "frequency": ("frequency", np.asarray(frequencies / b2.Hz, float), {"units": "hertz"}),
            "delay": ("delay", np.asarray(delays / b2.second, float), {"units": "second"}),
        },
    )


def _quantities(value, where: str, unit) -> b2.Quantity:
    """A list of quantities, or ``{start, stop, step}`` (stop included)."""
    if isinstance(value, dict):
        check_keys(value, where, ("start", "stop", "step"))
        start, stop, step = (
            parse_quantity(value[k], f"{where}.{k}", unit) for k in ("start", "stop", "step")
        )
        if step <= 0 * unit or stop < start:
            raise NeurosimError(f"{where}: expected start <= stop and step > 0, got {value!r}")
        count = int(np.floor(float((stop - start) / step) + 1e-9)) + 1
        return start + np.arange(count) * step
    items = expect(value, list, where, "a list of quantities or {start, stop, step}")
    if not items:
        raise NeurosimError(f"{where}: expected at least one value, got []")
    return b2.Quantity([parse_quantity(v, f"{where}[{k}]", unit) for k, v in enumerate(items)])


@protocol_kind("stdp_pairing")
def run_stdp_pairing(
    protocol: Protocol, out_dir: Path, *, progress: bool = True, resume: bool = False
) -> RunResult:
    """Run an ``stdp_pairing`` protocol (see the module docstring for its section).

    ``progress`` and ``resume`` are accepted for the common signature and
    have no effect: a run takes seconds and keeps no checkpoints.
    """
    where = protocol.where("training")
    spec = check_keys(
        protocol.data.get("training"),
        where,
        ("parameters", "pairings", "frequencies", "delays"),
    )
    if spec["parameters"] not in PARAMETER_SETS:
        raise NeurosimError(
            f"{where}.parameters: unknown parameter set {spec['parameters']!r} "
            f"(known: {', '.join(PARAMETER_SETS)})"
        )
    rule, params = PARAMETER_SETS[spec["parameters"]]
    pairings = expect(spec["pairings"], int, f"{where}.pairings", "an integer >= 1")
    if pairings < 1:
        raise NeurosimError(f"{where}.pairings: has to be an integer >= 1, got {pairings}")
    frequencies = _quantities(spec["frequencies"], f"{where}.frequencies", b2.Hz)
    if np.any(frequencies <= 0 * b2.Hz):
        raise NeurosimError(f"{where}.frequencies: have to be > 0, got {spec['frequencies']!r}")
    delays = _quantities(spec["delays"], f"{where}.delays", b2.second)
    if np.any(1 / frequencies < 2 * protocol.dt):
        raise NeurosimError(
            f"{where}.frequencies: a period is shorter than 2 dt = {2 * protocol.dt}"
        )
    started = now()
    ds = run_pairing(
        rule, params, delays, frequencies, pairings, protocol.dt, protocol.target, protocol.seed
    )
    ds.attrs = protocol_provenance(
        protocol,
        started,
        dt=float(protocol.dt),
        rule=rule,
        parameter_set=spec["parameters"],
        parameters="; ".join(f"{k} = {format_quantity(v)}" for k, v in params.items()),
    )
    result = write_outputs(protocol, ds, out_dir)
    wc = ds["weight_change"]
    for f in wc["frequency"].values:
        row = wc.sel(frequency=f)
        result.summary.append(
            f"{f:g} Hz: weight change from {float(row.min()):.3g} to {float(row.max()):.3g}"
        )
    return result


def plot_stdp_window(ds: xr.Dataset, path: str | Path) -> list[Path]:
    """The STDP window per frequency, and the change at about +-10 ms against frequency."""
    if "weight_change" not in ds:
        raise NeurosimError(f"{path}: the recording has no weight_change")
    wc = ds["weight_change"] * 100
    delay_ms = wc["delay"].values * 1e3
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for f in wc["frequency"].values:
        left.plot(delay_ms, wc.sel(frequency=f).values, "o-", ms=3, lw=1, label=f"{f:g} Hz")
    left.axhline(0, color="0.6", lw=0.8)
    left.axvline(0, color="0.6", lw=0.8)
    left.set_xlabel("delay t_post - t_pre (ms)")
    left.set_ylabel("weight change (% of unit weight)")
    left.legend(frameon=False, fontsize=8)
    for sign in (1, -1):
        k = int(np.argmin(np.abs(delay_ms - sign * 10)))
        right.plot(
            wc["frequency"].values,
            wc.isel(delay=k).values,
            "o-",
            label=f"delay {delay_ms[k]:+g} ms",
        )
    right.axhline(0, color="0.6", lw=0.8)
    right.set_xlabel("pairing frequency (Hz)")
    right.set_ylabel("weight change (% of unit weight)")
    right.legend(frameon=False)
    rule = ds["weight_change"].attrs.get("rule", "")
    name = ds.attrs.get("protocol_name")
    fig.suptitle(
        f"Weight change after pairing at each delay and frequency"
        f"{f' ({rule} rule)' if rule else ''}{f', {name}' if name else ''}"
    )
    fig.tight_layout()
    return [save_figure(fig, Path(path))]


PLOTS["stdp_window"] = plot_stdp_window
