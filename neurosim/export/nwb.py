"""Export a recording to Neurodata Without Borders (NWB 2, HDF5) with pynwb.

Mapping:

- spikes: the ``units`` table, one unit per neuron of every record with
  spikes (silent neurons included), with ``record`` and ``neuron`` columns and
  the recorded interval as ``obs_intervals``;
- state variables ``{record}_{var}``: one ``TimeSeries`` each in
  ``acquisition`` (data time x neuron, exact timestamps in s, ``unit`` the SI
  unit name); population, variable, compartment and neuron indices in its
  ``description``, all attributes as JSON in ``comments``;
- a projection's recorded synapses ``{projection}_{var}`` (dims time x
  synapse): one ``TimeSeries`` each in ``acquisition``, each column's
  presynaptic and postsynaptic neuron in ``comments``;
- other numeric variables (measurements, curves, weights): ``scratch`` data,
  dims and attributes as JSON in the description;
- the protocol text in the file's ``protocol`` field, its name and
  description in ``session_description``, all provenance attributes as JSON
  in ``notes``, the command line in ``source_script``.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import xarray as xr

from neurosim._version import __version__
from neurosim.analysis.spikes import spike_records, spike_trains, state_records, t_stop
from neurosim.atomic import atomic_path
from neurosim.errors import NeurosimError

__all__ = ["session_start", "to_nwb"]


def _json(attrs: dict) -> str:
    return json.dumps({str(k): v for k, v in attrs.items()}, default=str, sort_keys=True)


def session_start(ds: xr.Dataset) -> datetime:
    """The run's start (``start_time`` attribute) as an aware datetime; now if absent."""
    try:
        start = datetime.fromisoformat(str(ds.attrs["start_time"]))
    except (KeyError, ValueError):
        return datetime.now(timezone.utc)
    # NWB needs a time zone; recordings store UTC
    return start if start.tzinfo else start.replace(tzinfo=timezone.utc)


def _session_description(ds: xr.Dataset) -> str:
    name = str(ds.attrs.get("protocol_name", "neurosim recording"))
    try:
        import yaml

        description = yaml.safe_load(str(ds.attrs.get("protocol", ""))) or {}
        text = description.get("description", "") if isinstance(description, dict) else ""
    except yaml.YAMLError:
        text = ""
    return f"{name}: {text}" if text else name


def _build(ds: xr.Dataset):
    from pynwb import NWBFile, TimeSeries

    nwb = NWBFile(
        session_description=_session_description(ds),
        identifier=str(uuid.uuid4()),
        session_start_time=session_start(ds),
        experiment_description=f"Brian2 simulation recorded by neurosim {__version__}",
        protocol=str(ds.attrs.get("protocol", "")),
        notes=_json(ds.attrs),
        source_script=str(ds.attrs.get("command", "")),
        source_script_file_name="neurosim",
    )
    used = set()
    records = spike_records(ds)
    if records:
        nwb.add_unit_column("record", "neurosim record (population) the neuron belongs to")
        nwb.add_unit_column("neuron", "index of the neuron in its population")
    for rec in records:
        end = t_stop(ds, rec)
        for st in spike_trains(ds, rec, stop=end):
            nwb.add_unit(
                spike_times=np.asarray(st.magnitude, float),
                obs_intervals=[[0.0, end]],
                record=rec,
                neuron=int(st.annotations["neuron"]),
            )
        used.update({f"{rec}_spike_time", f"{rec}_spike_neuron"})
    for rec, variables in state_records(ds).items():
        for var in variables:
            da = ds[f"{rec}_{var}"]
            neurons = [int(k) for k in da[da.dims[1]].values]
            where = f", compartment {da.attrs['compartment']}" if "compartment" in da.attrs else ""
            nwb.add_acquisition(
                TimeSeries(
                    name=str(da.name),
                    data=np.asarray(da.values),
                    unit=str(da.attrs.get("units", "1")),
                    timestamps=np.asarray(da[da.dims[0]].values, float),
                    description=(
                        f"{da.attrs.get('population', rec)}.{da.attrs.get('variable', var)}"
                        f"{where}; columns: neurons {neurons}"
                    ),
                    comments=_json({**da.attrs, "neurons": neurons, "dims": list(da.dims)}),
                )
            )
            used.add(str(da.name))
    for name, da in ds.data_vars.items():
        dims = [str(d) for d in da.dims]
        if len(dims) != 2 or not dims[1].endswith("_synapse") or "/" in str(name):
            continue
        # a projection's recorded synapses (weights, traces): which pair each column is
        proj = dims[1][: -len("_synapse")]
        pre = [int(k) for k in ds[f"{proj}_pre"].values]
        post = [int(k) for k in ds[f"{proj}_post"].values]
        nwb.add_acquisition(
            TimeSeries(
                name=str(name),
                data=np.asarray(da.values),
                unit=str(da.attrs.get("units", "1")),
                timestamps=np.asarray(da[dims[0]].values, float),
                description=f"projection {proj}.{da.attrs.get('variable', '')}: one column per "
                "synapse; presynaptic and postsynaptic neurons in comments",
                comments=_json({**da.attrs, "pre": pre, "post": post, "dims": dims}),
            )
        )
        used.add(str(name))
    for name, da in ds.data_vars.items():
        if str(name) in used or not np.issubdtype(da.dtype, np.number) or "/" in str(name):
            continue
        nwb.add_scratch(
            np.asarray(da.values),
            name=str(name),
            description=_json({**da.attrs, "dims": [str(d) for d in da.dims]}),
        )
    return nwb


def to_nwb(ds: xr.Dataset, path: str | Path) -> Path:
    """Write a recording as an NWB file (atomically).

    Parameters
    ----------
    ds : xarray.Dataset
        A recording (see :mod:`neurosim.recording`).
    path : str or Path
        The ``.nwb`` file to write.

    Returns
    -------
    Path
        The final path.

    Notes
    -----
    Read back with ``pynwb.NWBHDF5IO(path, "r").read()``: spike times are
    ``nwbfile.units["spike_times"][k]``, a state variable is
    ``nwbfile.acquisition["{record}_{var}"]``.
    """
    from pynwb import NWBHDF5IO

    path = Path(path)
    if path.suffix != ".nwb":
        raise NeurosimError(f"{path}: an NWB file name ends in .nwb")
    nwb = _build(ds)
    with atomic_path(path) as tmp, NWBHDF5IO(str(tmp), "w") as io:
        io.write(nwb)
    return path
