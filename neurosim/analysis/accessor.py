"""``ds.neurosim``: spike statistics and summaries as methods of a recording Dataset.

Importing this module registers the accessor::

    import neurosim.analysis.accessor  # noqa: F401
    ds = neurosim.load_recording("results/fi_curves/fi_curves.nc")
    ds.neurosim.rates("lif", bin="10 ms")
    print(ds.neurosim.summary())

:func:`analyze` and :func:`report` back the ``neurosim analyze RECORDING`` command.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from neurosim.analysis import spikes
from neurosim.errors import NeurosimError
from neurosim.recording import load_recording, now
from neurosim.units import display_unit

__all__ = [
    "NeurosimAccessor",
    "analyze",
    "curve_variables",
    "report",
    "select_point",
    "sweep_dimensions",
]

#: Units of the variables that :meth:`NeurosimAccessor.learning_curves` picks by default.
CURVE_UNITS = ("percent", "%", "degree")


def curve_variables(ds: xr.Dataset) -> list[str]:
    """Learning-curve variables of a results Dataset: errors (%) and angles (degree).

    Recorded traces (``*_time`` dims) and spike tables are left out; a curve has
    at least one dim with two or more points that does not name things (a
    comparison's ``test_error`` per ``rule`` is no curve; its ``curve_error``
    per rule is one curve per rule).
    """
    return [
        str(name)
        for name, da in ds.data_vars.items()
        if da.attrs.get("units") in CURVE_UNITS
        and not any(str(d).endswith(("_time", "_spike")) for d in da.dims)
        and any(n > 1 and not spikes.categorical(da, str(d)) for d, n in da.sizes.items())
    ]


class NeurosimAccessor:
    """Spike-train statistics and summaries of a recording (``ds.neurosim``).

    Each method forwards to :mod:`neurosim.analysis.spikes`; see there for the
    parameters. ``record`` may be left out when the recording has one record
    with spikes.
    """

    def __init__(self, ds: xr.Dataset):
        self._ds = ds

    def _record(self, record: str | None) -> str:
        if record is not None:
            return record
        found = spikes.spike_records(self._ds)
        if len(found) != 1:
            raise NeurosimError(
                f"say which record to analyse (records with spikes: {', '.join(found) or 'none'})"
            )
        return found[0]

    def spike_trains(self, record: str | None = None, **kwargs):
        """One ``neo.SpikeTrain`` per neuron (:func:`~neurosim.analysis.spikes.spike_trains`)."""
        return spikes.spike_trains(self._ds, self._record(record), **kwargs)

    def rates(self, record: str | None = None, bin=0.01, sigma=None, **kwargs) -> xr.DataArray:
        """Binned or Gaussian-smoothed firing rates in Hz (:func:`~.spikes.firing_rates`)."""
        return spikes.firing_rates(self._ds, self._record(record), bin=bin, sigma=sigma, **kwargs)

    def isi(self, record: str | None = None, **kwargs) -> xr.DataArray:
        """Inter-spike intervals in s (:func:`~.spikes.isi_intervals`)."""
        return spikes.isi_intervals(self._ds, self._record(record), **kwargs)

    def cv(self, record: str | None = None, **kwargs) -> xr.DataArray:
        """CV of the inter-spike intervals per neuron (:func:`~.spikes.cv`)."""
        return spikes.cv(self._ds, self._record(record), **kwargs)

    def psth(
        self, record: str | None = None, events=(), window=(0.0, 0.1), bin=0.01, **kwargs
    ) -> xr.DataArray:
        """Peri-stimulus time histogram around ``events`` (:func:`~.spikes.psth`)."""
        return spikes.psth(self._ds, self._record(record), events, window, bin, **kwargs)

    def fano(self, record: str | None = None, window=0.1, events=None, **kwargs) -> xr.DataArray:
        """Fano factor of spike counts per neuron (:func:`~.spikes.fano`)."""
        return spikes.fano(self._ds, self._record(record), window, events, **kwargs)

    def correlations(self, record: str | None = None, bin=0.005, **kwargs) -> xr.DataArray:
        """Correlation coefficients of binned spike trains (:func:`~.spikes.correlations`)."""
        return spikes.correlations(self._ds, self._record(record), bin, **kwargs)

    def sta(
        self, record: str | None = None, var: str = "v", window=(-0.01, 0.01), **kwargs
    ) -> xr.DataArray:
        """Spike-triggered average of ``{record}_{var}`` (:func:`~.spikes.sta`)."""
        return spikes.sta(self._ds, self._record(record), var, window, **kwargs)

    def receptive_fields(self, weights: str | None = None, **kwargs) -> xr.DataArray:
        """Receptive fields as images (:func:`~.spikes.receptive_fields`)."""
        if weights is None and "stimulus" not in kwargs:
            weights = "W_0" if "W_0" in self._ds else None
            if weights is None:
                raise NeurosimError("name the weight matrix (weights=...) or give a stimulus")
        return spikes.receptive_fields(self._ds, weights, **kwargs)

    def learning_curves(
        self,
        variables: Sequence[str] | None = None,
        along: str | None = None,
        over: str | Sequence[str] = "seed",
        tail: float = 0.1,
    ) -> xr.Dataset:
        """Summaries of learning curves, reduced over seeds by median and quartiles.

        Parameters
        ----------
        variables : sequence of str, optional
            Curve variables; default :func:`curve_variables` (errors in %, angles
            in degrees).
        along, over, tail
            As for :func:`~neurosim.analysis.spikes.curve_summary`; angles (units
            ``degree``) also get ``below_90``.

        Returns
        -------
        xarray.Dataset
            ``{variable}_{statistic}`` for every variable and statistic.
        """
        names = list(variables) if variables is not None else curve_variables(self._ds)
        if not names:
            raise NeurosimError("the Dataset has no learning-curve variables (errors %, angles)")
        out = {}
        for name in names:
            if name not in self._ds:
                raise NeurosimError(f"no variable {name!r} in the Dataset")
            da = self._ds[name]
            summarise = (
                spikes.angle_summary if da.attrs.get("units") == "degree" else spikes.curve_summary
            )
            for stat, value in summarise(da, along, over, tail).data_vars.items():
                out[f"{name}_{stat}"] = value
        return xr.Dataset(out)

    def summary(self, bin=0.1) -> xr.Dataset:
        """Per record with spikes: neurons, spikes, mean rate, CV, Fano factor, active share.

        Parameters
        ----------
        bin : time
            Counting window of the Fano factor.

        Returns
        -------
        xarray.Dataset
            Dim ``record``; per-neuron rates and CVs as ``{record}_rate`` and
            ``{record}_cv``.
        """
        return _summary(self._ds, bin)


def _nanmean(values: np.ndarray) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(np.nanmean(values)) if values.size else float("nan")


def _summary(ds: xr.Dataset, bin) -> xr.Dataset:
    records = spikes.spike_records(ds)
    table: dict[str, list] = {
        k: [] for k in ("neurons", "spikes", "duration", "mean_rate", "active", "mean_cv", "fano")
    }
    per_neuron = {}
    for rec in records:
        duration = spikes.t_stop(ds, rec)
        cvs = spikes.cv(ds, rec)
        counts = xr.DataArray(np.bincount(spikes.spike_table(ds, rec)[1], minlength=cvs.size))
        rate = counts.values / duration
        try:
            fano = _nanmean(spikes.fano(ds, rec, bin).values)
        except NeurosimError:
            fano = float("nan")  # the recording is shorter than two counting windows
        per_neuron[f"{rec}_rate"] = xr.DataArray(
            rate, dims=(f"{rec}_neuron",), attrs={"units": "hertz"}
        ).assign_coords({f"{rec}_neuron": cvs[cvs.dims[0]].values})
        per_neuron[f"{rec}_cv"] = cvs
        table["neurons"].append(len(rate))
        table["spikes"].append(int(counts.sum()))
        table["duration"].append(duration)
        table["mean_rate"].append(float(rate.mean()) if rate.size else float("nan"))
        table["active"].append(float((counts.values > 0).mean()) if rate.size else float("nan"))
        table["mean_cv"].append(_nanmean(cvs.values))
        table["fano"].append(fano)
    units = {
        "neurons": "1",
        "spikes": "1",
        "duration": "second",
        "mean_rate": "hertz",
        "active": "1",
        "mean_cv": "1",
        "fano": "1",
    }
    data = {
        k: xr.DataArray(np.asarray(v), dims=("record",), attrs={"units": units[k]})
        for k, v in table.items()
    }
    out = xr.Dataset({**data, **per_neuron}, coords={"record": np.asarray(records, str)})
    out.attrs["fano_window"] = spikes.seconds(bin, "bin")
    return out


def sweep_dimensions(ds: xr.Dataset) -> list[str]:
    """The sweep dimensions of a sweep store (:mod:`neurosim.sweep`) still in ``ds``; [] else."""
    try:
        names = list(json.loads(ds.attrs.get("sweep_grid", "{}")))
    except (TypeError, ValueError):
        return []
    return [name for name in names if name in ds.dims]


def select_point(ds: xr.Dataset, selections: Sequence[str]) -> xr.Dataset:
    """``ds`` at the sweep values ``KEY=VALUE`` (``neurosim analyze --select``).

    A value matches a coordinate value by its text (``dt=0.1 ms``, ``seed=2``).

    Raises
    ------
    NeurosimError
        For a key that is no sweep dimension or a value the sweep does not hold.
    """
    dims = sweep_dimensions(ds)
    for item in selections:
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or key not in dims:
            raise NeurosimError(
                f"--select {item}: has to be KEY=VALUE with KEY one of the sweep "
                f"dimensions: {', '.join(dims) or 'none (not a sweep store)'}"
            )
        values = [str(v) for v in ds[key].values]
        if value not in values:
            raise NeurosimError(f"--select {item}: {key} takes {', '.join(values)}")
        ds = ds.isel({key: values.index(value)})
    return ds


def _point_summaries(ds: xr.Dataset, dims: list[str], bin) -> xr.Dataset:
    """Spike and state summaries of each finished sweep point, over the sweep dims."""
    parts = []
    for index in np.ndindex(*(ds.sizes[d] for d in dims)):
        point = ds.isel(dict(zip(dims, index, strict=True)))
        if "point_done" in point and not bool(point.point_done):
            continue  # not run yet: NaN in the summary
        summary = _spikes_and_states(point.drop_vars("point_done", errors="ignore"), bin)
        where = {
            d: point[d].values if d in point.coords else i for d, i in zip(dims, index, strict=True)
        }
        parts.append(summary.assign_coords(where))
    if not parts:
        raise NeurosimError("the sweep store holds no finished point yet")
    # per-point coords of the sweep dims become a stacked "point" index, then dims again
    both = xr.concat(parts, dim="point", coords="different", compat="equals")
    if len(dims) == 1:
        both = both.swap_dims(point=dims[0])
    else:
        both = both.set_index(point=dims).unstack("point")
    # points not run yet: NaN at their sweep values
    return both.reindex({d: ds[d].values for d in dims if d in ds.coords})


def _spikes_and_states(ds: xr.Dataset, bin) -> xr.Dataset:
    """The spike summary and each state variable's mean, minimum and maximum."""
    out = _summary(ds, bin)
    for rec, variables in spikes.state_records(ds).items():
        for var in variables:
            da = ds[f"{rec}_{var}"]
            for stat in ("mean", "min", "max"):
                value = getattr(da, stat)()
                value.attrs = {"units": da.attrs.get("units", "1")}
                out[f"{rec}_{var}_{stat}"] = value
    return out


def analyze(source: str | Path | xr.Dataset, bin=0.1, select: Sequence[str] = ()) -> xr.Dataset:
    """Summary Dataset of a recording (path or Dataset) for ``neurosim analyze``.

    Holds :meth:`NeurosimAccessor.summary` (spike records), the mean, minimum
    and maximum of every recorded state variable (``{record}_{var}_mean`` ...),
    the learning-curve summaries where the recording has curves, and the
    source's provenance under ``source_*`` attributes. For a sweep store the
    spike and state summaries are per sweep point, over the sweep dimensions
    (``sweep_dimensions`` attribute), unless ``select`` (``KEY=VALUE`` items,
    :func:`select_point`) picks one point.
    """
    ds = load_recording(source, neurosim_only=True) if isinstance(source, str | Path) else source
    ds = select_point(ds, select)
    dims = sweep_dimensions(ds)
    out = _point_summaries(ds, dims, bin) if dims else _spikes_and_states(ds, bin)
    if curve_variables(ds):
        out = out.merge(ds.neurosim.learning_curves())
    out.attrs.update(
        {
            "analysed": now(),
            "source": str(source) if isinstance(source, str | Path) else "Dataset",
            "sweep_dimensions": json.dumps(dims),
            **{f"source_{k}": v for k, v in ds.attrs.items() if isinstance(v, int | float | str)},
        }
    )
    return out


def _display(value: float, units: str) -> str:
    factor, label = display_unit(units)
    return f"{value * factor:.4g} {label}".rstrip()


def report(summary: xr.Dataset) -> str:
    """The text of ``neurosim analyze``: one line per spike record, state variable, curve.

    A sweep's summary (:func:`analyze`) gets one block per point, headed by its
    sweep values.
    """
    dims = [d for d in json.loads(summary.attrs.get("sweep_dimensions", "[]")) if d in summary.dims]
    lines = []
    if dims:
        for index in np.ndindex(*(summary.sizes[d] for d in dims)):
            point = summary.isel(dict(zip(dims, index, strict=True)))
            label = ", ".join(f"{d}={point[d].values}" for d in dims)
            if "spikes" in point and np.isnan(np.asarray(point.spikes, float)).all():
                lines.append(f"[{label}] not run yet")
                continue
            lines.append(f"[{label}]")
            lines.extend(_point_lines(point))
    else:
        lines.extend(_point_lines(summary))
    lines.extend(_curve_lines(summary))
    if not lines:
        lines.append("no spikes, state variables or learning curves in the recording")
    return "\n".join(lines)


def _point_lines(summary: xr.Dataset) -> list[str]:
    """The spike table and state-variable lines of one recording's summary."""
    lines = []
    if summary.sizes.get("record", 0):
        header = ("record", "neurons", "spikes", "mean rate (Hz)", "active", "mean CV", "Fano")
        lines.append("  ".join(f"{h:>14}" for h in header))
        for k, rec in enumerate(summary.record.values):
            row = (
                str(rec),
                str(int(summary.neurons[k])),
                str(int(summary.spikes[k])),
                f"{float(summary.mean_rate[k]):.3g}",
                f"{100 * float(summary.active[k]):.0f} %",
                f"{float(summary.mean_cv[k]):.3g}",
                f"{float(summary.fano[k]):.3g}",
            )
            lines.append("  ".join(f"{c:>14}" for c in row))
    for name in summary.data_vars:
        base = str(name)[: -len("_mean")]
        if str(name).endswith("_mean") and f"{base}_min" in summary and f"{base}_max" in summary:
            units = summary[name].attrs.get("units", "1")
            parts = [
                f"{s} {_display(float(summary[f'{base}_{s}']), units)}"
                for s in ("mean", "min", "max")
            ]
            lines.append(f"{base}: " + ", ".join(parts))
    return lines


def _curve_lines(summary: xr.Dataset) -> list[str]:
    """The learning-curve lines of a summary."""
    lines = []
    for name in summary.data_vars:
        if str(name).endswith("_final"):
            da = summary[name]
            base = str(name)[: -len("_final")]
            value = da.sel(quantile=0.5) if "quantile" in da.dims else da
            best = summary[f"{base}_min"]
            best = best.sel(quantile=0.5) if "quantile" in best.dims else best
            units = da.attrs.get("units", "")
            seeds = " (median over seeds)" if "quantile" in da.dims else ""
            # one line per curve: per rule of a comparison, per point of a sweep
            for index in np.ndindex(*value.shape):
                at = dict(zip(value.dims, index, strict=True))
                label = ", ".join(
                    f"{d}={value[d].values[k]}" for d, k in at.items() if d in value.coords
                )
                lines.append(
                    f"{base}{f' [{label}]' if label else ''}: final {float(value[at]):.4g} {units},"
                    f" min {float(best[at]):.4g} {units}{seeds}"
                )
    return lines
