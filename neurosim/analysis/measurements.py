"""Measurements a protocol's ``analysis`` section runs on its recording.

Each measurement reads the recording Dataset and returns new DataArrays that
are stored in it, so the numbers a protocol reports travel with its traces
and provenance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import brian2
import numpy as np
import xarray as xr
from brian2.units.fundamentalunits import DIMENSIONLESS

from neurosim.errors import NeurosimError
from neurosim.units import parse_quantity, parse_unit

__all__ = ["MEASUREMENTS", "Measurement", "measurement", "run_measurements"]


@dataclass(frozen=True)
class Measurement:
    """A named analysis: the optional keys it takes and the function computing it."""

    name: str
    keys: tuple[str, ...]
    compute: Callable[[xr.Dataset, dict[str, Any], str], dict[str, xr.DataArray]]


#: Registry of measurement kinds, filled by :func:`measurement`.
MEASUREMENTS: dict[str, Measurement] = {}


def measurement(name: str, keys: tuple[str, ...]):
    """Register a measurement function under ``name`` (decorator)."""

    def register(fn):
        MEASUREMENTS[name] = Measurement(name, keys, fn)
        return fn

    return register


def run_measurements(ds: xr.Dataset, specs: list[dict[str, Any]], where: str) -> xr.Dataset:
    """Run every measurement of a protocol's ``analysis`` list on ``ds``."""
    for k, spec in enumerate(specs):
        found = MEASUREMENTS[spec["kind"]].compute(ds, spec, f"{where}: analysis[{k}]")
        ds = ds.assign(found)
    return ds


def trace(ds: xr.Dataset, spec: dict[str, Any], where: str) -> xr.DataArray:
    """The recorded variable a measurement refers to (``record`` + ``variable``)."""
    if "variable" not in spec:
        raise NeurosimError(f"{where}: missing required key 'variable'")
    key = f"{spec['record']}_{spec['variable']}"
    if key not in ds:
        raise NeurosimError(f"{where}: nothing recorded as {spec['record']!r}/{spec['variable']!r}")
    return ds[key]


def window(da: xr.DataArray, spec: dict[str, Any], where: str) -> xr.DataArray:
    """Restrict a trace to the ``start``..``stop`` window of ``spec`` (defaults: all)."""
    time = da.dims[0]
    start = parse_quantity(spec.get("start", 0.0 * brian2.second), f"{where}.start", brian2.second)
    stop = spec.get("stop")
    stop = parse_quantity(stop, f"{where}.stop", brian2.second) if stop is not None else None
    sel = da[time] >= float(start) - 1e-12
    if stop is not None:
        sel &= da[time] < float(stop) - 1e-12
    out = da.isel({time: sel.values})
    if out.sizes[time] == 0:
        raise NeurosimError(
            f"{where}: the window {spec.get('start')}..{spec.get('stop')} holds no samples"
        )
    return out


@measurement("steady_state", ("name", "record", "variable", "start", "stop"))
def steady_state(ds: xr.Dataset, spec: dict[str, Any], where: str) -> dict[str, xr.DataArray]:
    """Mean of a recorded variable over a window, per neuron."""
    spec = {"record": _default_record(ds, spec, where), **spec}
    da = window(trace(ds, spec, where), spec, where)
    out = da.mean(da.dims[0])
    out.attrs = {
        **da.attrs,
        "measurement": "steady_state",
        "window": f"{spec.get('start', 0)}..{spec.get('stop', 'end')}",
    }
    return {spec.get("name", f"steady_state_{spec['record']}_{spec['variable']}"): out}


def _default_record(ds: xr.Dataset, spec: dict[str, Any], where: str) -> str:
    if "record" in spec:
        return spec["record"]
    records = sorted(str(d)[: -len("_time")] for d in ds.dims if str(d).endswith("_time"))
    if len(records) != 1:
        raise NeurosimError(f"{where}: say which record to measure (key 'record')")
    return records[0]


def _spikes(ds: xr.Dataset, record: str, where: str) -> tuple[np.ndarray, np.ndarray, int]:
    """Spike times (s), neuron indices and population size of a record."""
    key = f"{record}_spike_time"
    if key not in ds:
        raise NeurosimError(f"{where}: no spikes recorded as {record!r} (set spikes: true)")
    times = ds[key]
    return times.values, ds[f"{record}_spike_neuron"].values, int(times.attrs["population_size"])


def _neuron_coord(ds: xr.Dataset, record: str, size: int) -> tuple[str, np.ndarray]:
    """The neuron dimension of a record: its recorded neurons, or all of them."""
    dim = f"{record}_neuron"
    return dim, (ds[dim].values if dim in ds.coords else np.arange(size))


def _bounds(ds: xr.Dataset, spec: dict[str, Any], where: str, record: str) -> tuple[float, float]:
    start = parse_quantity(spec.get("start", 0.0 * brian2.second), f"{where}.start", brian2.second)
    if "stop" in spec:
        stop = parse_quantity(spec["stop"], f"{where}.stop", brian2.second)
    else:
        stop = float(ds.attrs.get("duration", np.nan))
        if not np.isfinite(stop):
            raise NeurosimError(f"{where}: missing required key 'stop'")
    return float(start), float(stop)


@measurement("spike_count", ("name", "record", "start", "stop"))
def spike_count(ds: xr.Dataset, spec: dict[str, Any], where: str) -> dict[str, xr.DataArray]:
    """Number of spikes of each neuron in a window."""
    record = _default_record(ds, spec, where)
    times, neurons, size = _spikes(ds, record, where)
    start, stop = _bounds(ds, spec, where, record)
    inside = (times >= start - 1e-12) & (times < stop - 1e-12)
    counts = np.bincount(neurons[inside], minlength=size)
    dim, index = _neuron_coord(ds, record, size)
    attrs = {"units": "1", "measurement": "spike_count", "window": f"{start}..{stop} s"}
    name = spec.get("name", f"spike_count_{record}")
    return {name: xr.DataArray(counts[index], dims=(dim,), coords={dim: index}, attrs=attrs)}


@measurement("firing_rate", ("name", "record", "start", "stop"))
def firing_rate(ds: xr.Dataset, spec: dict[str, Any], where: str) -> dict[str, xr.DataArray]:
    """Mean firing rate of each neuron in a window (spikes / window length)."""
    record = _default_record(ds, spec, where)
    start, stop = _bounds(ds, spec, where, record)
    counts = next(iter(spike_count(ds, {**spec, "record": record}, where).values()))
    rate = counts.astype(float) / (stop - start)
    rate.attrs = {"units": "hertz", "measurement": "firing_rate", "window": f"{start}..{stop} s"}
    return {spec.get("name", f"firing_rate_{record}"): rate}


@measurement(
    "population_statistics", ("name", "record", "start", "stop", "fano_window", "rate_bin")
)
def population_statistics(
    ds: xr.Dataset, spec: dict[str, Any], where: str
) -> dict[str, xr.DataArray]:
    """Rate, mean ISI CV, mean Fano factor and dominant frequency of a population.

    Spikes are recorded from every neuron of the record's population, silent
    ones counted; see :func:`neurosim.analysis.population.population_statistics`.
    """
    from neurosim.analysis.population import population_statistics as stats

    record = _default_record(ds, spec, where)
    times, neurons, size = _spikes(ds, record, where)
    start, stop = _bounds(ds, spec, where, record)
    options = {
        key: float(parse_quantity(spec[key], f"{where}.{key}", brian2.second))
        for key in ("fano_window", "rate_bin")
        if key in spec
    }
    found = stats(times, neurons.astype(np.int64), size, start, stop, **options)
    name = spec.get("name", f"population_{record}")
    window = f"{start}..{stop} s"
    units = {"rate": "hertz", "cv": "1", "fano": "1", "frequency": "hertz"}
    return {
        f"{name}_{key}": xr.DataArray(
            getattr(found, key),
            attrs={
                "units": unit,
                "measurement": "population_statistics",
                "window": window,
                "neurons": found.neurons,
                "spikes": found.spikes,
            },
        )
        for key, unit in units.items()
    }


@measurement("fi_curve", ("name", "record", "current", "start", "stop"))
def fi_curve(ds: xr.Dataset, spec: dict[str, Any], where: str) -> dict[str, xr.DataArray]:
    """Firing rate against injected current (the recorded ``current`` variable)."""
    record = _default_record(ds, spec, where)
    if "current" not in spec:
        raise NeurosimError(f"{where}: missing required key 'current'")
    current = window(trace(ds, {"record": record, "variable": spec["current"]}, where), spec, where)
    name = spec.get("name", f"fi_{record}")
    rate = next(iter(firing_rate(ds, {**spec, "record": record}, where).values()))
    rate = rate.sel({rate.dims[0]: current[current.dims[1]].values})
    mean_current = current.mean(current.dims[0])
    mean_current.attrs = {"units": current.attrs["units"], "measurement": "fi_curve"}
    rate.attrs["measurement"] = "fi_curve"
    return {f"{name}_rate": rate, f"{name}_current": mean_current}


@measurement("passive_response", ("name", "record", "variable", "current", "onset", "stop"))
def passive_response(ds: xr.Dataset, spec: dict[str, Any], where: str) -> dict[str, xr.DataArray]:
    """Input resistance and membrane time constant from a small current step.

    The resistance is the steady-state voltage change (mean over the last 10 %
    of the step) over the current change. The time constant is fitted to the
    charging curve where 5 % to 50 % of the final change remains, i.e. after
    fast redistribution between compartments, where the slowest mode governs:
    ``log(1 - dv(t)/dv_ss) = -(t - onset)/tau``.
    """
    record = _default_record(ds, spec, where)
    for key in ("variable", "current", "onset", "stop"):
        if key not in spec:
            raise NeurosimError(f"{where}: missing required key {key!r}")
    onset = float(parse_quantity(spec["onset"], f"{where}.onset", brian2.second))
    stop = float(parse_quantity(spec["stop"], f"{where}.stop", brian2.second))
    v = trace(ds, {"record": record, "variable": spec["variable"]}, where)
    i = trace(ds, {"record": record, "variable": spec["current"]}, where)
    t = v[v.dims[0]].values
    before = (t < onset - 1e-12) & (t >= onset - 0.1 * (stop - onset))
    late = (t >= stop - 0.1 * (stop - onset) - 1e-12) & (t < stop - 1e-12)
    if not before.any() or not late.any():
        raise NeurosimError(
            f"{where}: the recording does not cover the step and the time before it"
        )
    dv = v.values[late].mean(0) - v.values[before].mean(0)
    di = i.values[late].mean(0) - i.values[before].mean(0)
    taus = []
    charging = (t >= onset - 1e-12) & (t < stop - 1e-12)
    for k in range(v.shape[1]):
        remaining = 1 - (v.values[charging, k] - v.values[before, k].mean()) / dv[k]
        use = (remaining > 0.05) & (remaining < 0.5)
        if use.sum() < 3:
            raise NeurosimError(f"{where}: too few samples to fit the time constant (record finer)")
        slope = np.polyfit(t[charging][use] - onset, np.log(remaining[use]), 1)[0]
        taus.append(-1.0 / slope)
    dims = (v.dims[1],)
    coords = {v.dims[1]: v[v.dims[1]].values}
    name = spec.get("name", f"passive_{record}")
    meta = {"measurement": "passive_response", "variable": spec["variable"]}
    return {
        f"{name}_input_resistance": xr.DataArray(
            dv / di, dims=dims, coords=coords, attrs={"units": "ohm", **meta}
        ),
        f"{name}_tau": xr.DataArray(
            np.array(taus), dims=dims, coords=coords, attrs={"units": "second", **meta}
        ),
    }


@measurement("voltage_transfer", ("name", "record", "source", "target", "start", "stop"))
def voltage_transfer(ds: xr.Dataset, spec: dict[str, Any], where: str) -> dict[str, xr.DataArray]:
    """Steady-state voltage transfer ``(v_target - v_rest) / (v_source - v_rest)``.

    ``v_rest`` is each variable's first recorded value (the cell at rest
    before the stimulus); the steady state is the mean over the window.
    """
    record = _default_record(ds, spec, where)
    for key in ("source", "target"):
        if key not in spec:
            raise NeurosimError(f"{where}: missing required key {key!r}")
    out = []
    for key in ("source", "target"):
        da = trace(ds, {"record": record, "variable": spec[key]}, where)
        out.append(window(da, spec, where).mean(da.dims[0]) - da.isel({da.dims[0]: 0}))
    ratio = out[1] / out[0]
    ratio.attrs = {
        "units": "1",
        "measurement": "voltage_transfer",
        "source": spec["source"],
        "target": spec["target"],
    }
    return {spec.get("name", f"transfer_{spec['source']}_to_{spec['target']}"): ratio}


@measurement("plateau", ("name", "record", "variable", "threshold", "start", "stop"))
def plateau(ds: xr.Dataset, spec: dict[str, Any], where: str) -> dict[str, xr.DataArray]:
    """Longest continuous time a variable stays above ``threshold``, per neuron."""
    record = _default_record(ds, spec, where)
    if "threshold" not in spec:
        raise NeurosimError(f"{where}: missing required key 'threshold'")
    da = window(trace(ds, {"record": record, **spec}, where), spec, where)
    unit = brian2.Quantity(1.0, dim=_dimension(da.attrs["units"], where))
    level = float(parse_quantity(spec["threshold"], f"{where}.threshold", unit) / unit)
    t = da[da.dims[0]].values
    step = float(np.median(np.diff(t))) if len(t) > 1 else 0.0
    longest = []
    for k in range(da.shape[1]):
        above = np.concatenate(([0], (da.values[:, k] > level).astype(np.int8), [0]))
        edges = np.flatnonzero(np.diff(above))
        runs = edges[1::2] - edges[::2]
        longest.append(runs.max() * step if runs.size else 0.0)
    out = xr.DataArray(
        np.array(longest),
        dims=(da.dims[1],),
        coords={da.dims[1]: da[da.dims[1]]},
        attrs={"units": "second", "measurement": "plateau", "threshold": str(spec["threshold"])},
    )
    return {spec.get("name", f"plateau_{record}_{spec['variable']}"): out}


def _dimension(units: str, where: str):
    return getattr(parse_unit(units, where) if units != "1" else 1.0, "dim", DIMENSIONLESS)
