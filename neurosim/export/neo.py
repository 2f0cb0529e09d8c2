"""Export a recording to Neo objects and files.

:func:`to_neo` builds one :class:`neo.Block` with one :class:`neo.Segment`:
a :class:`neo.SpikeTrain` per neuron of every record with spikes (seconds,
``t_stop`` = the run's duration, silent neurons included, annotated with
``record`` and ``neuron``) and an :class:`neo.AnalogSignal` per state variable
(time x neuron, its units, sampling rate from the sample times, neuron indices
as the ``neuron`` array annotation; unevenly sampled variables become an
:class:`neo.IrregularlySampledSignal`). Provenance, the protocol text
included, is the Block's annotations.

:func:`write_neo` writes that Block with one of Neo's writers, chosen by the
file suffix: ``.nix`` (NixIO, needs the optional ``nixio`` package), ``.mat``
(NeoMatlabIO, scipy only) or ``.pkl`` (PickleIO; a pickle runs code when
loaded, so read only files you wrote).
"""

from __future__ import annotations

from pathlib import Path

import neo
import numpy as np
import quantities as pq
import xarray as xr

from neurosim.analysis.spikes import spike_records, spike_trains, state_records, t_stop
from neurosim.atomic import atomic_path
from neurosim.errors import NeurosimError
from neurosim.export.nwb import session_start

__all__ = ["NEO_WRITERS", "to_neo", "write_neo"]

#: File suffix -> name of the neo.io class that writes it.
NEO_WRITERS = {".nix": "NixIO", ".mat": "NeoMatlabIO", ".pkl": "PickleIO"}


def _units(name: str) -> pq.Quantity | pq.UnitQuantity:
    """A recording's SI unit name (``volt``, ``siemens / metre ** 2``) as quantities units."""
    if name in ("1", ""):
        return pq.dimensionless
    try:
        return pq.Quantity(1.0, name).units
    except (ValueError, LookupError, SyntaxError):
        raise NeurosimError(f"unit {name!r} has no equivalent in the quantities package") from None


def _signal(da: xr.DataArray, record: str, variable: str):
    t = np.asarray(da[da.dims[0]].values, float)
    meta = {
        "record": record,
        "variable": str(da.attrs.get("variable", variable)),
        "population": str(da.attrs.get("population", record)),
    }
    if "compartment" in da.attrs:
        meta["compartment"] = str(da.attrs["compartment"])
    neurons = np.asarray(da[da.dims[1]].values, np.int64)
    common = {
        "units": _units(str(da.attrs.get("units", "1"))),
        "name": str(da.name),
        "array_annotations": {"neuron": neurons},
        # also as a plain annotation: NeoMatlabIO drops array annotations
        "neurons": neurons,
        **meta,
    }
    step = np.diff(t)
    if len(t) > 1 and np.allclose(step, step[0], rtol=1e-9, atol=0):
        return neo.AnalogSignal(
            np.asarray(da.values), t_start=t[0] * pq.s, sampling_period=step[0] * pq.s, **common
        )
    return neo.IrregularlySampledSignal(t, np.asarray(da.values), time_units=pq.s, **common)


_BLOCK_FIELDS = ("name", "description", "file_origin", "file_datetime", "rec_datetime", "index")


def to_neo(ds: xr.Dataset) -> neo.Block:
    """The spikes and state variables of a recording as one Neo Block.

    Parameters
    ----------
    ds : xarray.Dataset
        A recording (see :mod:`neurosim.recording`).

    Returns
    -------
    neo.Block
        One Segment holding the spike trains and signals; provenance attributes
        (text and numbers) as the Block's annotations.
    """
    # netCDF hands attributes back as numpy scalars: annotations want plain Python values
    attrs = {
        str(k): v.item() if isinstance(v, np.generic) else v
        for k, v in ds.attrs.items()
        if isinstance(v, str | int | float | np.number) and not isinstance(v, bool | np.bool_)
    }
    block = neo.Block(
        name=str(ds.attrs.get("protocol_name", "neurosim recording")),
        description="Brian2 simulation recorded by neurosim",
        rec_datetime=session_start(ds),
        **{k: v for k, v in attrs.items() if k not in _BLOCK_FIELDS},
    )
    segment = neo.Segment(name="run")
    block.segments.append(segment)
    for rec in spike_records(ds):
        for st in spike_trains(ds, rec, stop=t_stop(ds, rec)):
            st.annotations["population"] = str(ds[f"{rec}_spike_time"].attrs.get("population", rec))
            segment.spiketrains.append(st)
    for rec, variables in state_records(ds).items():
        for var in variables:
            segment.analogsignals.append(_signal(ds[f"{rec}_{var}"], rec, var))
    if not segment.spiketrains and not segment.analogsignals:
        raise NeurosimError("the recording has neither spikes nor state variables to export")
    block.check_relationships()
    return block


def write_neo(ds: xr.Dataset, path: str | Path) -> Path:
    """Write :func:`to_neo` of a recording with the Neo writer for the suffix (atomically).

    Parameters
    ----------
    ds : xarray.Dataset
        A recording.
    path : str or Path
        ``.nix`` (NixIO; ``pip install nixio``), ``.mat`` (NeoMatlabIO) or
        ``.pkl`` (PickleIO).

    Returns
    -------
    Path
        The final path.
    """
    path = Path(path)
    writer = NEO_WRITERS.get(path.suffix)
    if writer is None:
        known = ", ".join(NEO_WRITERS)
        raise NeurosimError(f"{path}: no Neo writer for {path.suffix!r} (use {known})")
    if writer == "NixIO":
        try:
            import nixio  # noqa: F401
        except ImportError:
            raise NeurosimError(
                f"{path}: writing .nix needs the nixio package (pip install nixio), "
                "or write .mat or .pkl"
            ) from None
    block = to_neo(ds)
    with atomic_path(path) as tmp:
        io = getattr(neo.io, writer)(str(tmp), **({"mode": "ow"} if writer == "NixIO" else {}))
        try:
            io.write_block(block)
        finally:
            if hasattr(io, "close"):
                io.close()
    return path
