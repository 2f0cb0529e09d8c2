"""Recordings: Brian2 monitors to one :class:`xarray.Dataset`, saved atomically.

Layout of a recording (``name`` is a record entry, by default the population):

- ``{name}_{var}`` with dims ``({name}_time, {name}_neuron)``: a state variable,
  in SI units, with ``units``, ``population``, ``variable`` and (for membrane
  potentials) ``compartment`` attributes;
- ``{name}_spike_time`` and ``{name}_spike_neuron`` with dim ``{name}_spike``:
  the spikes as an event table;
- Dataset attributes: provenance (package versions, protocol text, seed,
  start and end time, host).

Files are written to a temporary name next to the target and renamed into
place, so an interrupted write never leaves a corrupt file under the final
name.
"""

from __future__ import annotations

import platform
import socket
import sys
import warnings
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from neurosim._version import __version__
from neurosim.atomic import atomic_path
from neurosim.errors import NeurosimError, unreadable_file

if TYPE_CHECKING:  # Brian2 loads only where monitors are read: RL logs do without it
    from brian2 import SpikeMonitor, StateMonitor

__all__ = [
    "atomic_path",
    "final_synapse_arrays",
    "load_recording",
    "now",
    "provenance",
    "save_recording",
    "spike_table",
    "state_arrays",
]

_FORMATS = {".nc": "netcdf", ".zarr": "zarr"}


def now() -> str:
    """Current UTC time as ISO 8601 text (what recordings store)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def provenance(**fields) -> dict[str, str | int | float]:
    """Provenance attributes for a recording.

    Package versions, Python version and host are filled in; ``fields`` adds
    the run's own (protocol text, seed, start and end time ...). Values that
    netCDF cannot store as attributes (``None``, booleans) become text.
    """
    attrs: dict[str, str | int | float] = {
        "neurosim_version": __version__,
        "brian2_version": _version("brian2"),
        "numpy_version": np.__version__,
        "torch_version": _version("torch"),
        "xarray_version": xr.__version__,
        "python_version": platform.python_version(),
        "host": socket.gethostname(),
        "command": " ".join(sys.argv),
    }
    for key, value in fields.items():
        attrs[key] = (
            value
            if isinstance(value, int | float | str) and not isinstance(value, bool)
            else str(value)
        )
    return attrs


def _monitor_arrays(
    name: str,
    monitor: StateMonitor,
    variables: list[str],
    unit_dim: str,
    coords: dict,
    attrs: dict[str, dict],
) -> dict[str, xr.DataArray]:
    """DataArrays ``{name}_{var}`` (time x ``unit_dim``, SI values) of a StateMonitor."""
    from neurosim.units import unit_name

    time_dim = f"{name}_time"
    coords = {
        time_dim: (time_dim, np.asarray(monitor.t[:] / 1.0, float).copy(), {"units": "second"}),
        unit_dim: (unit_dim, np.asarray(monitor.record, np.int64).copy()),
        **coords,
    }
    arrays = {}
    for var in variables:
        values = getattr(monitor, var)
        dim = getattr(values, "dim", None)
        arrays[f"{name}_{var}"] = xr.DataArray(
            np.asarray(values, dtype=float).T.copy(),
            dims=(time_dim, unit_dim),
            coords=coords,
            attrs={
                "units": unit_name(dim) if dim is not None else "1",
                "variable": var,
                **attrs.get(var, {}),
            },
        )
    return arrays


def state_arrays(
    name: str,
    monitor: StateMonitor,
    variables: list[str],
    compartments: dict[str, str] | None = None,
) -> dict[str, xr.DataArray]:
    """DataArrays ``{name}_{var}`` (time x neuron, SI units) from a StateMonitor."""
    compartments = compartments or {}
    attrs = {
        var: {
            "population": monitor.source.name,
            **({"compartment": compartments[var]} if var in compartments else {}),
        }
        for var in variables
    }
    return _monitor_arrays(name, monitor, variables, f"{name}_neuron", {}, attrs)


def synapse_arrays(
    name: str, monitor: StateMonitor, variables: list[str], pre: np.ndarray, post: np.ndarray
) -> dict[str, xr.DataArray]:
    """DataArrays ``{name}_{var}`` (time x synapse, SI units) of a projection's synapses.

    ``pre`` and ``post`` are the presynaptic and postsynaptic neuron of each
    recorded synapse (coordinates ``{name}_pre`` / ``{name}_post``).
    """
    dim = f"{name}_synapse"
    coords = {
        f"{name}_pre": (dim, np.asarray(pre, np.int64)),
        f"{name}_post": (dim, np.asarray(post, np.int64)),
    }
    attrs = {var: {"projection": monitor.source.name} for var in variables}
    return _monitor_arrays(name, monitor, variables, dim, coords, attrs)


def final_synapse_arrays(
    name: str,
    synapses,
    variables: list[str],
    chosen: np.ndarray,
    pre: np.ndarray,
    post: np.ndarray,
) -> dict[str, xr.DataArray]:
    """DataArrays ``{name}_{var}`` (synapse, SI units): the values a run ended with.

    ``chosen`` are the recorded synapses' indices, ``pre`` and ``post`` their
    neurons (coordinates ``{name}_pre`` / ``{name}_post``, as in
    :func:`synapse_arrays`, whose arrays have a time axis in addition).
    """
    from neurosim.units import unit_name

    dim = f"{name}_synapse"
    coords = {
        dim: (dim, np.asarray(chosen, np.int64)),
        f"{name}_pre": (dim, np.asarray(pre, np.int64)),
        f"{name}_post": (dim, np.asarray(post, np.int64)),
    }
    arrays = {}
    for var in variables:
        values = getattr(synapses, var)[:]
        dim_of = getattr(values, "dim", None)
        arrays[f"{name}_{var}"] = xr.DataArray(
            np.asarray(values, dtype=float)[chosen].copy(),
            dims=(dim,),
            coords=coords,
            attrs={
                "units": unit_name(dim_of) if dim_of is not None else "1",
                "variable": var,
                "projection": synapses.name,
                "at": "end of run",
            },
        )
    return arrays


def spike_table(name: str, monitor: SpikeMonitor) -> dict[str, xr.DataArray]:
    """The spikes of a SpikeMonitor as an event table along ``{name}_spike``."""
    dim = f"{name}_spike"
    times = np.asarray(monitor.t[:] / 1.0, float).copy()
    order = np.lexsort((np.asarray(monitor.i[:]), times))
    # the population size tells silent neurons apart from unrecorded ones
    attrs = {"population": monitor.source.name, "population_size": len(monitor.source)}
    return {
        f"{name}_spike_time": xr.DataArray(
            times[order], dims=(dim,), attrs={"units": "second", **attrs}
        ),
        f"{name}_spike_neuron": xr.DataArray(
            np.asarray(monitor.i[:], np.int64)[order], dims=(dim,), attrs={"units": "1", **attrs}
        ),
    }


def save_recording(ds: xr.Dataset, path: str | Path) -> Path:
    """Write ``ds`` atomically to ``path`` (``.nc``: NetCDF4/h5netcdf, ``.zarr``: Zarr).

    Returns
    -------
    Path
        The final path.
    """
    path = Path(path)
    fmt = _FORMATS.get(path.suffix)
    if fmt is None:
        raise NeurosimError(f"{path}: unknown recording format {path.suffix!r} (use .nc or .zarr)")
    with atomic_path(path) as tmp:
        if fmt == "netcdf":
            ds.to_netcdf(tmp, engine="h5netcdf")
        else:
            ds.to_zarr(tmp, mode="w", consolidated=False)
    return path


def load_recording(path: str | Path, *, neurosim_only: bool = False) -> xr.Dataset:
    """Load a recording fully into memory (the file is closed afterwards).

    Parameters
    ----------
    path : str or Path
        A ``.nc`` or ``.zarr`` recording.
    neurosim_only : bool
        Also refuse a readable file that neurosim did not write (no
        ``neurosim_version`` or ``source_neurosim_version`` attribute); the
        ``analyze``, ``plot`` and ``export`` commands ask for this.

    Raises
    ------
    NeurosimError
        ``PATH is truncated or not a neurosim recording`` for a file that
        does not read as netCDF/Zarr (or is foreign, with ``neurosim_only``);
        ``PATH: the file is empty ...`` for a file of 0 bytes.
    """
    path = Path(path)
    fmt = _FORMATS.get(path.suffix)
    if fmt is None or not path.exists():
        raise NeurosimError(f"recording not found or not .nc/.zarr: {path}")
    try:
        with warnings.catch_warnings():
            # a plain HDF5 file (no netCDF dimensions) only warns: refuse it
            warnings.filterwarnings("error", message=".*phony_dims", category=UserWarning)
            if fmt == "netcdf":
                with xr.open_dataset(path, engine="h5netcdf") as ds:
                    ds = ds.load()
            else:
                with xr.open_zarr(path, consolidated=False) as ds:
                    ds = ds.load()
    except Exception:  # h5py, h5netcdf, zarr and decoding errors share no base class
        raise unreadable_file(path, "recording") from None
    if neurosim_only and not {"neurosim_version", "source_neurosim_version"} & set(ds.attrs):
        raise NeurosimError(
            f"{path} is truncated or not a neurosim recording (no neurosim provenance)"
        )
    return ds
