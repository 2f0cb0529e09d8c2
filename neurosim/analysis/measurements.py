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
import xarray as xr

from neurosim.errors import NeurosimError
from neurosim.units import parse_quantity

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
