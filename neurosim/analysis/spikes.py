"""Spike-train statistics of recordings, through Neo and Elephant.

The functions take a recording Dataset (see :mod:`neurosim.recording`) and the
name of a record with spikes (``{record}_spike_time`` / ``{record}_spike_neuron``),
convert its event table to one :class:`neo.SpikeTrain` per neuron, let
Elephant compute the statistic, and return an :class:`xarray.DataArray` with a
``units`` attribute (SI names as in recordings: ``hertz``, ``second``, ``1``).

Durations (``bin``, ``sigma``, ``window`` ...) are seconds as floats, Brian2
quantities, :mod:`quantities` quantities or text such as ``"10 ms"``.

The summaries at the end (:func:`curve_summary`, :func:`angle_summary`) work on
learning curves of training results and sweeps: a statistic of each curve
(final, minimum, mean), then the median and quartiles over seeds.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator, Sequence

import brian2
import neo
import numpy as np
import quantities as pq
import xarray as xr
from elephant import kernels
from elephant import utils as elephant_utils
from elephant.conversion import BinnedSpikeTrain
from elephant.spike_train_correlation import correlation_coefficient
from elephant.sta import spike_triggered_average
from elephant.statistics import cv as elephant_cv
from elephant.statistics import fanofactor, instantaneous_rate, isi, time_histogram

from neurosim.errors import NeurosimError
from neurosim.units import parse_quantity

__all__ = [
    "angle_summary",
    "correlations",
    "curve_summary",
    "cv",
    "fano",
    "firing_rates",
    "isi_intervals",
    "psth",
    "receptive_fields",
    "seconds",
    "spike_records",
    "spike_table",
    "spike_trains",
    "sta",
    "state_records",
    "t_stop",
]


def seconds(value, what: str = "duration") -> float:
    """A duration in seconds from a float (seconds), a quantity or text such as ``"10 ms"``."""
    if isinstance(value, pq.Quantity):
        try:
            return float(value.rescale(pq.s))
        except ValueError:
            raise NeurosimError(f"{what}: {value!r} is not a time") from None
    if isinstance(value, brian2.Quantity):
        if not brian2.have_same_dimensions(value, brian2.second):
            raise NeurosimError(f"{what}: {value!r} is not a time")
        return float(value)
    if isinstance(value, str):
        return float(parse_quantity(value, what, brian2.second))
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise NeurosimError(f"{what}: expected a time such as '10 ms' or seconds, got {value!r}")
    return float(value)


def _positive(value, what: str) -> float:
    out = seconds(value, what)
    if not out > 0:
        raise NeurosimError(f"{what}: must be > 0, got {value!r}")
    return out


def spike_records(ds: xr.Dataset) -> list[str]:
    """Names of the records of ``ds`` that hold spikes."""
    return sorted(
        str(v)[: -len("_spike_time")]
        for v in ds.data_vars
        if str(v).endswith("_spike_time") and f"{str(v)[: -len('_time')]}_neuron" in ds
    )


def state_records(ds: xr.Dataset) -> dict[str, list[str]]:
    """Recorded state variables by record: ``{record: [var, ...]}``."""
    out: dict[str, list[str]] = {}
    for name in ds.data_vars:
        da = ds[name]
        dims = [str(d) for d in da.dims]
        if len(dims) == 2 and dims[0].endswith("_time") and dims[1].endswith("_neuron"):
            record = dims[0][: -len("_time")]
            if str(name).startswith(f"{record}_") and dims[1] == f"{record}_neuron":
                out.setdefault(record, []).append(str(name)[len(record) + 1 :])
    return out


def _require_spikes(ds: xr.Dataset, record: str) -> None:
    if f"{record}_spike_time" not in ds:
        known = ", ".join(spike_records(ds)) or "none"
        raise NeurosimError(
            f"no spikes recorded as {record!r} (records with spikes: {known}; "
            "record with spikes: true)"
        )


def t_stop(ds: xr.Dataset, record: str) -> float:
    """End of the recorded time (s): the run's ``duration``, else the record's last sample."""
    if "duration" in ds.attrs:
        return float(ds.attrs["duration"])
    time = f"{record}_time"
    if time in ds.coords and ds.sizes[time] > 1:
        t = ds[time].values
        return float(t[-1] + (t[-1] - t[-2]))
    times = spike_table(ds, record)[0]
    if not times.size:
        raise NeurosimError(f"{record}: no spikes and no duration attribute: give t_stop")
    # Neo needs every spike strictly inside [t_start, t_stop]
    return float(np.nextafter(times.max(), np.inf))


def spike_table(ds: xr.Dataset, record: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spike times (s), their neurons and all neuron indices of a record.

    The NaN padding of a sweep point's spike table (see :mod:`neurosim.sweep`,
    which also stores the neuron indices as floats) is dropped. Neurons are
    ``0 .. population_size - 1``, silent ones included.
    """
    _require_spikes(ds, record)
    neurons = ds[f"{record}_spike_neuron"]
    times = np.asarray(ds[f"{record}_spike_time"].values, float)
    if times.ndim != 1:
        raise NeurosimError(
            f"{record}: the spike table has dims {neurons.dims}: select one sweep point first "
            "(ds.isel(seed=0, ...); neurosim analyze summarises every point)"
        )
    real = ~np.isnan(times)
    index = np.asarray(neurons.values[real]).astype(np.int64)
    size = neurons.attrs.get("population_size")
    if size is None:
        size = int(index.max()) + 1 if index.size else 0
    return times[real], index, np.arange(int(size))


def spike_trains(
    ds: xr.Dataset,
    record: str,
    neurons: Sequence[int] | None = None,
    start: float = 0.0,
    stop=None,
) -> list[neo.SpikeTrain]:
    """One :class:`neo.SpikeTrain` (seconds) per neuron of a record with spikes.

    Parameters
    ----------
    ds : xarray.Dataset
        A recording.
    record : str
        A record with spikes.
    neurons : sequence of int, optional
        Population indices; default all neurons of the population, silent ones included.
    start, stop : time, optional
        The trains' ``t_start`` / ``t_stop``; spikes outside are dropped. ``stop``
        defaults to :func:`t_stop`.

    Returns
    -------
    list of neo.SpikeTrain
        Annotated with ``record`` and ``neuron``.
    """
    times, index, every = spike_table(ds, record)
    begin = seconds(start, "start")
    end = t_stop(ds, record) if stop is None else seconds(stop, "stop")
    if not end > begin:
        raise NeurosimError(f"{record}: stop ({end} s) must be after start ({begin} s)")
    keep = (times >= begin) & (times <= end)
    times, index = times[keep], index[keep]
    order = np.argsort(index, kind="stable")
    times, index = times[order], index[order]
    ids = every if neurons is None else np.asarray(neurons, np.int64)
    lo = np.searchsorted(index, ids, "left")
    hi = np.searchsorted(index, ids, "right")
    return [
        neo.SpikeTrain(
            np.sort(times[a:b]),
            units="s",
            t_start=begin,
            t_stop=end,
            name=f"{record} neuron {k}",
            record=record,
            neuron=int(k),
        )
        for k, a, b in zip(ids, lo, hi, strict=True)
    ]


@contextlib.contextmanager
def _binning() -> Iterator[None]:
    # Elephant logs a warning whenever (t_stop - t_start) / bin is a float hair
    # below a whole number (0.3 s / 0.05 s) and then takes the whole number,
    # which is the intended count: keep that note out of users' output.
    logger = logging.getLogger(elephant_utils.__file__)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _neuron_dim(record: str, trains: list[neo.SpikeTrain]) -> tuple[str, np.ndarray]:
    return f"{record}_neuron", np.array([st.annotations["neuron"] for st in trains], np.int64)


def firing_rates(
    ds: xr.Dataset,
    record: str,
    bin=0.01,
    sigma=None,
    start: float = 0.0,
    stop=None,
    neurons: Sequence[int] | None = None,
) -> xr.DataArray:
    """Firing rate of each neuron over time (Hz).

    Parameters
    ----------
    ds, record
        A recording and a record with spikes.
    bin : time
        Bin width (binned counts / bin) or, with ``sigma``, the sampling period.
    sigma : time, optional
        Standard deviation of a Gaussian kernel: the rate is Elephant's
        ``instantaneous_rate`` (kernel centred on each spike, no border
        correction, so rates dip within a few sigma of the ends) sampled
        every ``bin``.
    start, stop, neurons
        As for :func:`spike_trains`.

    Returns
    -------
    xarray.DataArray
        Dims ``({record}_rate_time, {record}_neuron)``, ``units = "hertz"``; the
        time coordinate holds bin centres (binned) or sample times (smoothed).
    """
    trains = spike_trains(ds, record, neurons, start, stop)
    width = _positive(bin, "bin")
    dim, ids = _neuron_dim(record, trains)
    time = f"{record}_rate_time"
    if sigma is None:
        with _binning():
            binned = BinnedSpikeTrain(trains, bin_size=width * pq.s)
        values = binned.to_array().T / width
        t = binned.bin_centers.rescale(pq.s).magnitude
        attrs = {"method": "binned", "bin_size": width}
    else:
        kernel = kernels.GaussianKernel(sigma=_positive(sigma, "sigma") * pq.s)
        signal = instantaneous_rate(trains, sampling_period=width * pq.s, kernel=kernel)
        values = signal.rescale(pq.Hz).magnitude
        t = signal.times.rescale(pq.s).magnitude
        attrs = {"method": "gaussian kernel", "sigma": seconds(sigma), "sampling_period": width}
    return xr.DataArray(
        np.asarray(values, float),
        dims=(time, dim),
        coords={time: (time, np.asarray(t, float), {"units": "second"}), dim: ids},
        attrs={"units": "hertz", "record": record, **attrs},
    )


def isi_intervals(ds: xr.Dataset, record: str, **trains) -> xr.DataArray:
    """Inter-spike intervals of every neuron as one table (s).

    Returns
    -------
    xarray.DataArray
        Dim ``{record}_isi`` with coordinate ``{record}_isi_neuron`` (the neuron of
        each interval), ``units = "second"``.
    """
    spikes = spike_trains(ds, record, **trains)
    parts = [isi(st).rescale(pq.s).magnitude for st in spikes]
    owner = np.concatenate(
        [
            np.full(len(p), st.annotations["neuron"], np.int64)
            for p, st in zip(parts, spikes, strict=True)
        ]
        or [np.zeros(0, np.int64)]
    )
    dim = f"{record}_isi"
    return xr.DataArray(
        np.concatenate(parts or [np.zeros(0)]).astype(float),
        dims=(dim,),
        coords={f"{record}_isi_neuron": (dim, owner)},
        attrs={"units": "second", "record": record},
    )


def cv(ds: xr.Dataset, record: str, **trains) -> xr.DataArray:
    """Coefficient of variation of the inter-spike intervals, std / mean, per neuron.

    The standard deviation is the population one (ddof = 0, as Elephant's
    ``cv``). Neurons with fewer than two intervals get NaN: one interval would
    give a CV of 0, which reads as perfect regularity.
    """
    spikes = spike_trains(ds, record, **trains)
    values = [float(elephant_cv(isi(st).magnitude)) if len(st) >= 3 else np.nan for st in spikes]
    dim, ids = _neuron_dim(record, spikes)
    return xr.DataArray(
        np.array(values, float),
        dims=(dim,),
        coords={dim: ids},
        attrs={"units": "1", "record": record, "statistic": "CV of inter-spike intervals"},
    )


def _windows(ds: xr.Dataset, record: str, events, window) -> tuple[np.ndarray, float, float]:
    """Event times whose window lies inside the recording, and the window (s)."""
    lo, hi = (seconds(w, "window") for w in window)
    if not hi > lo:
        raise NeurosimError(f"window: the end ({hi} s) must be after the start ({lo} s)")
    times = np.atleast_1d(np.asarray(events, float))
    end = t_stop(ds, record)
    inside = (times + lo >= -1e-12) & (times + hi <= end + 1e-12)
    if not inside.any():
        raise NeurosimError(
            f"{record}: no event with its window {lo}..{hi} s inside the recording (0..{end} s)"
        )
    return times[inside], lo, hi


def _aligned(ds, record, neurons, events, lo, hi) -> list[list[neo.SpikeTrain]]:
    """Per neuron, one train per event, times relative to the event, in [lo, hi]."""
    per_event = [spike_trains(ds, record, neurons, e + lo, e + hi) for e in events]
    # Windows are half-open, [e + lo, e + hi), so that a spike on the edge shared
    # by consecutive windows counts once; the clip only absorbs rounding of t - e.
    return [
        [
            neo.SpikeTrain(
                (st.magnitude[st.magnitude < e + hi] - e).clip(lo, hi),
                units="s",
                t_start=lo,
                t_stop=hi,
                **st.annotations,
            )
            for st, e in zip(trains, events, strict=True)
        ]
        for trains in zip(*per_event, strict=True)
    ]


def psth(
    ds: xr.Dataset,
    record: str,
    events,
    window=(0.0, 0.1),
    bin=0.01,
    output: str = "rate",
    neurons: Sequence[int] | None = None,
) -> xr.DataArray:
    """Peri-stimulus time histogram of each neuron, aligned to ``events``.

    Parameters
    ----------
    ds, record
        A recording and a record with spikes.
    events : array of times (s)
        Alignment times; events whose window leaves the recording are skipped
        (the number used is the ``events`` attribute).
    window : (time, time)
        Start and end of the window relative to each event.
    bin : time
        Bin width.
    output : {"rate", "counts"}
        Mean rate over events (Hz) or spike counts summed over events.
    neurons : sequence of int, optional
        Population indices (default all).

    Returns
    -------
    xarray.DataArray
        Dims ``({record}_psth_time, {record}_neuron)``, time coordinate = bin
        centres relative to the event.
    """
    if output not in ("rate", "counts"):
        raise NeurosimError(f"psth output must be 'rate' or 'counts', got {output!r}")
    used, lo, hi = _windows(ds, record, events, window)
    width = _positive(bin, "bin")
    per_neuron = _aligned(ds, record, neurons, used, lo, hi)
    columns = []
    for trains in per_neuron:
        # Elephant's 'rate' is counts / (trains x bin), i.e. the mean over events
        with _binning():
            hist = time_histogram(trains, width * pq.s, output=output)
        columns.append(np.asarray(hist.magnitude[:, 0], float))
        t = (hist.times + hist.sampling_period / 2).rescale(pq.s).magnitude
    dim = f"{record}_neuron"
    ids = np.array([trains[0].annotations["neuron"] for trains in per_neuron], np.int64)
    time = f"{record}_psth_time"
    return xr.DataArray(
        np.stack(columns, axis=1),
        dims=(time, dim),
        coords={time: (time, np.asarray(t, float), {"units": "second"}), dim: ids},
        attrs={
            "units": "hertz" if output == "rate" else "1",
            "record": record,
            "events": len(used),
            "bin_size": width,
            "window": f"{lo}..{hi} s",
        },
    )


def fano(
    ds: xr.Dataset,
    record: str,
    window=0.1,
    events=None,
    neurons: Sequence[int] | None = None,
) -> xr.DataArray:
    """Fano factor (variance / mean of spike counts, ddof = 0) of each neuron.

    Without ``events`` the recording is cut into consecutive windows of length
    ``window`` (a trailing partial window is dropped); with ``events`` the
    counts are taken in ``window = (start, end)`` around each event (trials).
    Elephant's ``fanofactor`` computes the ratio; a neuron that never fires
    gets NaN.
    """
    if events is None:
        width = _positive(window, "window")
        end = t_stop(ds, record)
        count = int(np.floor(end / width + 1e-9))
        if count < 2:
            raise NeurosimError(f"{record}: fewer than two {width} s windows in {end} s")
        per_neuron = _aligned(ds, record, neurons, np.arange(count) * width, 0.0, width)
        attrs = {"window": width, "trials": count}
    else:
        used, lo, hi = _windows(ds, record, events, window)
        per_neuron = _aligned(ds, record, neurons, used, lo, hi)
        attrs = {"window": f"{lo}..{hi} s", "trials": len(used)}
    with warnings.catch_warnings():
        # a neuron that never fires: Elephant returns NaN (and numpy may warn)
        warnings.simplefilter("ignore", RuntimeWarning)
        values = [float(fanofactor(trains)) for trains in per_neuron]
    dim = f"{record}_neuron"
    ids = np.array([trains[0].annotations["neuron"] for trains in per_neuron], np.int64)
    return xr.DataArray(
        np.array(values, float),
        dims=(dim,),
        coords={dim: ids},
        attrs={"units": "1", "record": record, "statistic": "Fano factor", **attrs},
    )


def correlations(
    ds: xr.Dataset,
    record: str,
    bin=0.005,
    neurons: Sequence[int] | None = None,
    start: float = 0.0,
    stop=None,
) -> xr.DataArray:
    """Pearson correlation coefficients of the binned spike counts of every neuron pair.

    Elephant's ``correlation_coefficient`` on a ``BinnedSpikeTrain``; a silent
    neuron's row and column are NaN.

    Returns
    -------
    xarray.DataArray
        Dims ``({record}_neuron, {record}_neuron_other)``, ``units = "1"``.
    """
    trains = spike_trains(ds, record, neurons, start, stop)
    if len(trains) < 2:
        raise NeurosimError(f"{record}: correlations need at least two neurons")
    with _binning():
        binned = BinnedSpikeTrain(trains, bin_size=_positive(bin, "bin") * pq.s)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        matrix = correlation_coefficient(binned)
    dim, ids = _neuron_dim(record, trains)
    other = f"{dim}_other"
    return xr.DataArray(
        np.asarray(matrix, float),
        dims=(dim, other),
        coords={dim: ids, other: ids},
        attrs={"units": "1", "record": record, "bin_size": seconds(bin)},
    )


def _signal(da: xr.DataArray) -> neo.AnalogSignal:
    """A recorded state variable (time x neuron) as a regularly sampled AnalogSignal."""
    t = da[da.dims[0]].values
    if len(t) < 2:
        raise NeurosimError(f"{da.name}: fewer than two samples")
    step = np.diff(t)
    if not np.allclose(step, step[0], rtol=1e-6, atol=0):
        raise NeurosimError(f"{da.name}: samples are not evenly spaced in time")
    return neo.AnalogSignal(
        da.values,
        units=pq.dimensionless,
        sampling_period=float(step[0]) * pq.s,
        t_start=float(t[0]) * pq.s,
    )


def sta(
    ds: xr.Dataset,
    record: str,
    variable: str,
    window=(-0.01, 0.01),
    spikes: str | None = None,
) -> xr.DataArray:
    """Spike-triggered average of a recorded variable around each neuron's own spikes.

    Parameters
    ----------
    ds : xarray.Dataset
        A recording.
    record, variable : str
        The state variable ``{record}_{variable}`` (time x neuron).
    window : (time, time)
        Start and end relative to the spike; Elephant extends it to a whole
        number of samples.
    spikes : str, optional
        The record whose spikes trigger (default ``record``); neuron k's
        variable is averaged around neuron k's spikes.

    Returns
    -------
    xarray.DataArray
        Dims ``({record}_sta_lag, {record}_neuron)`` in the variable's units,
        NaN for a neuron without usable spikes; ``spikes_used`` attribute.
    """
    key = f"{record}_{variable}"
    if key not in ds:
        raise NeurosimError(f"nothing recorded as {record!r}/{variable!r}")
    da = ds[key]
    signal = _signal(da)
    neurons = da[da.dims[1]].values
    lo, hi = (seconds(w, "window") for w in window)
    trains = spike_trains(
        ds,
        spikes or record,
        neurons,
        float(signal.t_start.magnitude),
        float(signal.t_stop.magnitude),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            out = spike_triggered_average(signal, trains, (lo * pq.s, hi * pq.s))
        except ValueError as err:
            raise NeurosimError(f"{key}: spike-triggered average: {err}") from None
    lag = f"{record}_sta_lag"
    return xr.DataArray(
        np.asarray(out.magnitude, float),
        dims=(lag, da.dims[1]),
        coords={
            lag: (lag, out.times.rescale(pq.s).magnitude, {"units": "second"}),
            da.dims[1]: neurons,
        },
        attrs={
            "units": da.attrs.get("units", "1"),
            "variable": variable,
            "record": record,
            "spikes_used": int(np.sum(out.annotations["used_spikes"])),
        },
    )


def _image_shape(size: int, shape) -> tuple[int, int]:
    if shape is not None:
        shape = tuple(int(s) for s in shape)
        if len(shape) != 2 or shape[0] * shape[1] != size:
            raise NeurosimError(f"image shape {shape} does not hold {size} values")
        return shape
    side = round(np.sqrt(size))
    if side * side != size:
        raise NeurosimError(f"{size} inputs are not a square image: give the image shape")
    return side, side


def receptive_fields(
    ds: xr.Dataset,
    weights: str | None = None,
    *,
    record: str | None = None,
    stimulus: str | xr.DataArray | None = None,
    lag=0.0,
    shape: Sequence[int] | None = None,
) -> xr.DataArray:
    """Receptive fields of units as images.

    Either a weight matrix (``weights``: a variable of shape (unit, input),
    e.g. ``W_0`` of the segregated network) reshaped row by row, or the
    spike-triggered average of a stimulus (``record`` + ``stimulus``: a
    variable or DataArray with time as its first dim and the inputs after it)
    at ``lag`` before each spike of each neuron of ``record``.

    Parameters
    ----------
    shape : (rows, cols), optional
        Image shape; default the square one (784 inputs -> 28 x 28).

    Returns
    -------
    xarray.DataArray
        Dims ``(unit, row, col)``; units of the weights or the stimulus.
    """
    if (weights is None) == (stimulus is None):
        raise NeurosimError("receptive fields need either weights or record + stimulus")
    if weights is not None:
        if weights not in ds:
            raise NeurosimError(f"no weight matrix {weights!r} in the recording")
        w = ds[weights]
        if w.ndim != 2:
            raise NeurosimError(f"{weights}: expected a (unit, input) matrix, got dims {w.dims}")
        values = w.values
        attrs = {"units": w.attrs.get("units", "1"), "source": weights}
    else:
        if record is None:
            raise NeurosimError("a spike-triggered receptive field needs the record with spikes")
        stim = ds[stimulus] if isinstance(stimulus, str) else stimulus
        t = stim[stim.dims[0]].values
        frames = stim.values.reshape(len(t), -1)
        trains = spike_trains(ds, record)
        rows = []
        for st in trains:
            # the frame shown at (spike time - lag) is the last one starting before it
            index = np.searchsorted(t, st.magnitude - seconds(lag, "lag"), "right") - 1
            index = index[index >= 0]
            rows.append(frames[index].mean(0) if index.size else np.full(frames.shape[1], np.nan))
        values = np.array(rows)
        attrs = {
            "units": stim.attrs.get("units", "1"),
            "source": f"spike-triggered average of {stim.name} ({record})",
        }
    rows_, cols = _image_shape(values.shape[1], shape)
    return xr.DataArray(
        values.reshape(values.shape[0], rows_, cols),
        dims=("unit", "row", "col"),
        coords={"unit": np.arange(values.shape[0])},
        attrs=attrs,
    )


def _last_valid(da: xr.DataArray, dim: str) -> xr.DataArray:
    # ragged curves are NaN-padded (neurosim.bridges.compare): take the last real value
    valid = da.notnull()
    count = valid.sum(dim)
    index = (valid.cumsum(dim) == count) & valid
    return da.where(index).max(dim, skipna=True).where(count > 0)


def _tail_mean(da: xr.DataArray, dim: str, tail: float) -> xr.DataArray:
    """Mean of the last ``ceil(tail * n)`` valid points of each curve (n: its valid points)."""
    valid = da.notnull()
    reverse = {dim: slice(None, None, -1)}
    from_end = valid.isel(reverse).cumsum(dim).isel(reverse)
    keep = np.maximum(1, np.ceil(tail * valid.sum(dim)))
    return da.where(valid & (from_end <= keep)).mean(dim, skipna=True)


def categorical(da: xr.DataArray, dim: str) -> bool:
    """Whether ``dim`` names things (rules, records: text labels), so no curve runs along it."""
    return dim in da.coords and da[dim].dtype.kind in "OUS"


def curve_summary(
    curve: xr.DataArray,
    along: str | None = None,
    over: str | Sequence[str] = "seed",
    tail: float = 0.1,
) -> xr.Dataset:
    """Final, minimum, mean and tail mean of learning curves; median and quartiles over seeds.

    Parameters
    ----------
    curve : xarray.DataArray
        A curve variable (test error per epoch, angle per probe ...), possibly
        with sweep dims; NaN marks missing points.
    along : str, optional
        The curve's dim (default: the last dim not in ``over``).
    over : str or sequence of str
        Dims reduced by median and quartiles (absent dims are ignored).
    tail : float
        Fraction of each curve's valid points averaged for ``tail_mean`` (at
        least one; the last 10 % by default, as the README's final errors).

    Returns
    -------
    xarray.Dataset
        ``final``, ``min``, ``mean``, ``tail_mean``; each with a ``quantile``
        dim (0.25, 0.5, 0.75) when an ``over`` dim was present, and the
        remaining sweep dims. ``units`` attributes are the curve's.
    """
    over = [over] if isinstance(over, str) else list(over)
    if along is None:
        rest = [str(d) for d in curve.dims if d not in over and not categorical(curve, d)]
        if not rest:
            raise NeurosimError(f"{curve.name}: no curve dim besides {over} and named ones")
        along = rest[-1]
    if along not in curve.dims:
        raise NeurosimError(
            f"{curve.name}: no dim {along!r} (dims: {', '.join(map(str, curve.dims))})"
        )
    if not 0 < tail <= 1:
        raise NeurosimError(f"tail must be a fraction in (0, 1], got {tail}")
    stats = {
        "final": _last_valid(curve, along),
        "min": curve.min(along, skipna=True),
        "mean": curve.mean(along, skipna=True),
        "tail_mean": _tail_mean(curve, along, tail),
    }
    present = [d for d in over if d in curve.dims]
    out = {}
    for name, da in stats.items():
        if present:
            da = da.quantile([0.25, 0.5, 0.75], dim=present, skipna=True)
        da.attrs = {
            "units": curve.attrs.get("units", "1"),
            "curve": str(curve.name),
            "along": along,
        }
        out[name] = da
    return xr.Dataset(out, attrs={"curve": str(curve.name), "along": along, "tail": tail})


def angle_summary(
    angle: xr.DataArray,
    along: str | None = None,
    over: str | Sequence[str] = "seed",
    tail: float = 0.1,
) -> xr.Dataset:
    """:func:`curve_summary` of an alignment angle (degrees) plus the share of points below 90.

    ``below_90`` is the fraction of each curve's points under 90 degrees, the
    signature of a feedback-alignment update that points downhill.
    """
    out = curve_summary(angle, along, over, tail)
    along = out.attrs["along"]
    below = (angle < 90).where(angle.notnull()).mean(along, skipna=True)
    present = [d for d in ([over] if isinstance(over, str) else over) if d in angle.dims]
    if present:
        below = below.quantile([0.25, 0.5, 0.75], dim=present, skipna=True)
    below.attrs = {"units": "1", "curve": str(angle.name), "along": along}
    return out.assign(below_90=below)
