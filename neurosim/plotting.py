"""Plots of recordings (PNG or SVG, matplotlib, axes with units)."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless machines (CI, clusters) have no display
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from neurosim.errors import NeurosimError
from neurosim.recording import atomic_path
from neurosim.units import display_unit

__all__ = [
    "PLOTS",
    "plot",
    "plot_curves",
    "plot_fi_curve",
    "plot_raster",
    "plot_rate_boxplot",
    "plot_rates",
    "plot_stacked_raster",
    "plot_traces",
    "plot_weights",
    "save_figure",
]


def _of(ds: xr.Dataset) -> str:
    """`` of NAME`` for a title, if the recording names its protocol."""
    name = ds.attrs.get("protocol_name")
    return f" of {name}" if name else ""


def _records(ds: xr.Dataset, suffix: str) -> list[str]:
    return sorted(str(d)[: -len(suffix)] for d in ds.dims if str(d).endswith(suffix))


def save_figure(fig, path: Path) -> Path:
    """Save a figure atomically (format from the suffix) and close it."""
    with atomic_path(path) as tmp:
        # "tight": colourbars and legends placed beside the axes are never cut off
        fig.savefig(tmp, dpi=120, format=path.suffix.lstrip("."), bbox_inches="tight")
    plt.close(fig)
    return path


#: What a quantity of each unit is, for titles in words.
_QUANTITIES = {"volt": "potentials", "amp": "currents", "siemens": "conductances"}


def neuron_labels(da: xr.DataArray) -> dict[int, str]:
    """The names a protocol gave its recorded neurons (``labels``), by neuron index."""
    text = da.attrs.get("neuron_labels")
    return {int(k): v for k, v in json.loads(text).items()} if text else {}


def plot_traces(ds: xr.Dataset, path: str | Path) -> list[Path]:
    """One panel per recorded state variable, all neurons, time in ms.

    Neurons are named in the legend by the record's ``labels`` if it has them.
    """
    panels = [
        v for v in ds.data_vars if len(ds[v].dims) == 2 and str(ds[v].dims[0]).endswith("_time")
    ]
    if not panels:
        raise NeurosimError(f"{path}: the recording has no state variables to plot")
    fig, axes = plt.subplots(
        len(panels), 1, figsize=(8, 2.2 * len(panels)), sharex=True, squeeze=False
    )
    for ax, var in zip(axes[:, 0], panels, strict=True):
        da = ds[var]
        factor, label = display_unit(da.attrs.get("units", ""), "dimensionless")
        t = da[da.dims[0]].values * 1e3
        lines = ax.plot(t, da.values * factor, lw=1)
        names = neuron_labels(da)
        if 1 < len(lines) <= 10:
            ax.legend(
                lines,
                [names.get(int(k), f"neuron {k}") for k in da[da.dims[1]].values],
                fontsize=7,
                frameon=False,
                loc="upper left",
                bbox_to_anchor=(1.01, 1.0),  # beside the panel, never over the traces
            )
        comp = da.attrs.get("compartment")
        ax.set_ylabel(f"{da.attrs.get('variable', var)} ({label})" + (f"\n{comp}" if comp else ""))
    axes[-1, 0].set_xlabel("time (ms)")
    kinds = dict.fromkeys(
        _QUANTITIES.get(ds[v].attrs.get("units"), "state variables") for v in panels
    )
    fig.suptitle(f"Recorded {' and '.join(kinds)}{_of(ds)}")
    fig.tight_layout()
    return [save_figure(fig, Path(path))]


def plot_raster(ds: xr.Dataset, path: str | Path) -> list[Path]:
    """Spike raster of every recorded population over the whole recorded run, time in ms."""
    from matplotlib.ticker import MaxNLocator

    from neurosim.analysis.spikes import spike_table, t_stop

    records = _records(ds, "_spike")
    if not records:
        raise NeurosimError(f"{path}: the recording has no spikes to plot")
    fig, axes = plt.subplots(len(records), 1, figsize=(8, 2.5 * len(records)), squeeze=False)
    for ax, rec in zip(axes[:, 0], records, strict=True):
        times, neurons, every = spike_table(ds, rec)
        ax.plot(times * 1e3, neurons, "|", ms=4, color="k")
        # the whole run, not only the window around the spikes (issue 18)
        ax.set_xlim(0.0, t_stop(ds, rec) * 1e3)
        ax.set_ylim(-0.5, max(len(every), 1) - 0.5)
        names = neuron_labels(ds[f"{rec}_spike_neuron"])
        named = bool(names) and len(every) <= 20  # the protocol's names for its neurons
        if named:
            ax.set_yticks(range(len(every)), [names.get(k, str(k)) for k in range(len(every))])
        else:
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(f"{rec} neuron" + ("" if named else " (index)"))
        ax.set_title(f"{rec}: {len(times)} spikes from {len(every)} neurons", fontsize=10)
    axes[-1, 0].set_xlabel("time (ms)")
    fig.suptitle(f"Spike raster{_of(ds)}")
    fig.tight_layout()
    return [save_figure(fig, Path(path))]


def plot_fi_curve(ds: xr.Dataset, path: str | Path) -> list[Path]:
    """Firing rate against injected current for every ``fi_curve`` measurement."""
    curves = [
        v[: -len("_rate")]
        for v in ds.data_vars
        if v.endswith("_rate") and ds[v].attrs.get("measurement") == "fi_curve"
    ]
    if not curves:
        raise NeurosimError(f"{path}: the recording has no fi_curve measurement")
    fig, ax = plt.subplots(figsize=(5, 4))
    for name in curves:
        current = ds[f"{name}_current"]
        factor, label = display_unit(current.attrs["units"], "dimensionless")
        ax.plot(current.values * factor, ds[f"{name}_rate"].values, "o-", ms=3, label=name)
    ax.set_xlabel(f"injected current ({label})")
    ax.set_ylabel("firing rate (Hz)")
    ax.set_title("Firing rate against injected current (f-I curve)", fontsize=10)
    ax.legend(frameon=False)
    fig.tight_layout()
    return [save_figure(fig, Path(path))]


def plot_rates(ds: xr.Dataset, path: str | Path, bin=0.01) -> list[Path]:
    """Binned firing rates (Hz) of every record with spikes: population mean and neurons.

    Up to ten neurons are drawn as thin lines, the population mean as a thick one.
    """
    # Elephant loads slowly; only this plot kind needs it
    from neurosim.analysis.spikes import firing_rates, spike_records

    records = spike_records(ds)
    if not records:
        raise NeurosimError(f"{path}: the recording has no spikes to compute rates from")
    fig, axes = plt.subplots(len(records), 1, figsize=(8, 2.5 * len(records)), squeeze=False)
    for ax, rec in zip(axes[:, 0], records, strict=True):
        rates = firing_rates(ds, rec, bin=bin)
        t = rates[rates.dims[0]].values * 1e3
        if 1 < rates.shape[1] <= 10:
            ax.plot(t, rates.values, lw=0.6, alpha=0.6)
        ax.plot(t, rates.values.mean(1), color="k", lw=1.5, label="population mean")
        ax.set_ylabel(f"{rec} rate (Hz)")
        ax.legend(frameon=False, fontsize=7, loc="upper left")
    axes[-1, 0].set_xlabel(f"time (ms), {bin * 1e3:g} ms bins")
    fig.suptitle(f"Firing rates in {bin * 1e3:g} ms bins")
    fig.tight_layout()
    return [save_figure(fig, Path(path))]


def plot_activity(ds: xr.Dataset, path: str | Path, neurons: int = 50, bin=0.001) -> list[Path]:
    """Brunel's Fig. 8 for every record with spikes: raster over population rate.

    The raster shows the first ``neurons`` neurons; the rate below it counts
    every neuron's spikes, spikes / (population x ``bin``), in Hz.
    """
    records = _records(ds, "_spike")
    if not records:
        raise NeurosimError(f"{path}: the recording has no spikes to plot")
    fig, axes = plt.subplots(
        2 * len(records), 1, figsize=(8, 3.6 * len(records)), sharex=True, squeeze=False
    )
    stop = float(ds.attrs.get("duration", 0.0))
    sizes = []
    for k, rec in enumerate(records):
        times = ds[f"{rec}_spike_time"].values
        index = ds[f"{rec}_spike_neuron"].values
        size = int(ds[f"{rec}_spike_time"].attrs.get("population_size", index.max() + 1))
        sizes.append(size)
        end = stop or float(times.max(initial=0.0))
        few = index < neurons
        raster, rate = axes[2 * k, 0], axes[2 * k + 1, 0]
        raster.plot(times[few] * 1e3, index[few], "|", ms=3, color="k")
        raster.set_ylabel(f"{rec}\nneuron (index)")
        edges = np.arange(0.0, end + bin / 2, bin)
        counts, _ = np.histogram(times, edges)
        rate.plot(edges[:-1] * 1e3, counts / (size * bin), color="k", lw=0.6)
        rate.set_ylabel(f"{rec} rate (Hz)")
    axes[-1, 0].set_xlabel(f"time (ms), population rate in {bin * 1e3:g} ms bins")
    shown = f"at most {neurons}" if max(sizes) > neurons else "all"
    fig.suptitle(f"Spikes of {shown} neurons of each population and its rate")
    fig.tight_layout()
    return [save_figure(fig, Path(path))]


def _weight_names(ds: xr.Dataset) -> list[str]:
    """2-D weight matrices: ``W_*`` variables or names with 'weight', not time series."""
    return [
        str(v)
        for v, da in ds.data_vars.items()
        if da.ndim == 2
        and (str(v).startswith("W") or "weight" in str(v))
        and not any(str(d).endswith(("_time", "_spike")) for d in da.dims)
    ]


def plot_weights(ds: xr.Dataset, path: str | Path, units: int = 25) -> list[Path]:
    """Weight matrices as images, with a colourbar in the weights' unit.

    A matrix whose inputs form a square image (784 = 28 x 28) is drawn as the
    receptive fields of its first ``units`` rows, on one colour scale; any
    other as one image, rows (outputs) against columns (inputs).
    """
    names = _weight_names(ds)
    if not names:
        raise NeurosimError(f"{path}: the recording has no weight matrices (W_* or *weight*)")
    name = names[0]
    values = ds[name].values
    _, unit = display_unit(ds[name].attrs.get("units", "1"), "dimensionless")
    side = round(np.sqrt(values.shape[1]))
    if side * side == values.shape[1] and side >= 4:
        count = min(units, values.shape[0])
        cols = int(np.ceil(np.sqrt(count)))
        rows = int(np.ceil(count / cols))
        fig, axes = plt.subplots(
            rows, cols, figsize=(1.3 * cols + 1.0, 1.3 * rows + 0.6), squeeze=False
        )
        # one symmetric colour scale for all units, so fields compare by eye
        scale = float(np.nanmax(np.abs(values[:count]))) or 1.0
        for k, ax in enumerate(axes.flat):
            ax.axis("off")
            if k < count:
                image = ax.imshow(
                    values[k].reshape(side, side), cmap="RdBu_r", vmin=-scale, vmax=scale
                )
                ax.set_title(f"unit {k}", fontsize=7)
        fig.suptitle(
            f"Input weights of the first {count} units of {name}, "
            f"each drawn as a {side} x {side} image"
        )
        fig.tight_layout()
        fig.colorbar(image, ax=axes, shrink=0.6, fraction=0.04, pad=0.02, label=f"weight ({unit})")
    else:
        fig, ax = plt.subplots(figsize=(6, 5))
        image = ax.imshow(values, aspect="auto", cmap="RdBu_r", interpolation="nearest")
        dims = ds[name].dims
        ax.set(
            ylabel=f"{dims[0]} (index)",
            xlabel=f"{dims[1]} (index)",
            title=f"Weight matrix {name}: {dims[0]} against {dims[1]}",
        )
        fig.colorbar(image, ax=ax, label=f"{name} ({unit})")
        fig.tight_layout()
    return [save_figure(fig, Path(path))]


_CURVE_UNITS = {"percent": "error (%)", "%": "error (%)", "degree": "angle (degree)"}


def _curve_x(ds: xr.Dataset, da: xr.DataArray) -> tuple[np.ndarray, str]:
    """The x values of a curve (last dim): a coordinate, a paired examples variable, or 0..n."""
    dim = da.dims[-1]
    for name, coord in da.coords.items():
        if coord.dims == (dim,) and np.issubdtype(coord.dtype, np.number):
            label = "training examples" if "example" in str(name) else str(name)
            return np.broadcast_to(coord.values, da.shape), label
    for other in ds.data_vars.values():
        if other.attrs.get("units") == "examples" and set(other.dims) == set(da.dims):
            return other.transpose(*da.dims).values, "training examples"
    return np.broadcast_to(np.arange(da.sizes[dim]), da.shape), f"{dim} (index)"


def plot_curves(ds: xr.Dataset, path: str | Path) -> list[Path]:
    """Learning curves: errors (%) and alignment angles (degree), one panel per kind.

    A curve with a ``seed`` dim is drawn as its median with the quartiles
    shaded; other extra dims (rule, learning rate) are separate lines.
    """
    from neurosim.analysis.accessor import curve_variables

    # one line dim besides the curve's own (and seed): more would not fit one panel
    names = [n for n in curve_variables(ds) if ds[n].ndim - ("seed" in ds[n].dims) <= 2]
    if not names:
        raise NeurosimError(f"{path}: the recording has no learning curves (errors %, angles)")
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(_CURVE_UNITS[ds[name].attrs["units"]], []).append(name)
    fig, axes = plt.subplots(1, len(groups), figsize=(5.5 * len(groups), 4), squeeze=False)
    for ax, (ylabel, members) in zip(axes[0], groups.items(), strict=True):
        for name in members:
            _draw_curve(ax, ds, ds[name])
        ax.set_ylabel(ylabel)
        if "angle" in ylabel:
            ax.axhline(90, color="k", lw=0.5, ls="--")
            ax.set_title("Alignment angle (90 degree: orthogonal)", fontsize=10)
        else:
            ax.set_title("Error during training", fontsize=10)
        ax.legend(frameon=False, fontsize=7)
    what = " and ".join(g.split(" (")[0] for g in groups)
    fig.suptitle(f"Learning curves{_of(ds)}: {what} during training")
    fig.tight_layout()
    return [save_figure(fig, Path(path))]


def _draw_curve(ax, ds: xr.Dataset, da: xr.DataArray) -> None:
    """One line per entry of the curve's extra dim; median and quartiles over ``seed``."""
    dim = [d for d in da.dims if d != "seed"][-1]
    other = [d for d in da.dims if d not in (dim, "seed")]
    seeds = ["seed"] if "seed" in da.dims else []
    da = da.transpose(*other, *seeds, dim)
    x, xlabel = _curve_x(ds, da)
    y = da.values
    if seeds:
        # x is the same for every seed: take the first seed's
        x = np.take(x, 0, axis=-2)
        with np.errstate(all="ignore"):
            low, y, high = np.nanquantile(y, [0.25, 0.5, 0.75], axis=-2)
    x, y = np.atleast_2d(x), np.atleast_2d(y)
    labels = [f"{da.name} {v}" for v in da[other[0]].values] if other else [str(da.name)]
    if seeds:
        labels = [f"{label} (median, quartiles of {da.sizes['seed']} seeds)" for label in labels]
    for k, label in enumerate(labels):
        ok = ~np.isnan(x[k]) & ~np.isnan(y[k])
        (line,) = ax.plot(x[k][ok], y[k][ok], "o-", ms=2.5, lw=1, label=label)
        if seeds:
            band = (np.atleast_2d(low)[k][ok], np.atleast_2d(high)[k][ok])
            ax.fill_between(x[k][ok], *band, color=line.get_color(), alpha=0.2)
    ax.set_xlabel(xlabel)
    if xlabel == "epoch":
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _neuron_counts(ds: xr.Dataset, rec: str) -> int:
    """Neurons of a record's population (its attribute, else the highest index that fired)."""
    n = ds[f"{rec}_spike_neuron"].attrs.get("population_size")
    if n is None:
        spikes = ds[f"{rec}_spike_neuron"].values
        n = int(spikes.max()) + 1 if len(spikes) else 1
    return int(n)


def plot_stacked_raster(
    ds: xr.Dataset, path: str | Path, window=0.2, neurons: int = 200
) -> list[Path]:
    """One raster of every record's population, stacked top to bottom (Potjans Fig. 6 style).

    The last ``window`` seconds of the run, at most ``neurons`` neurons of
    each population (evenly strided), the first record at the top.
    """
    records = _records(ds, "_spike")
    if not records:
        raise NeurosimError(f"{path}: the recording has no spikes to plot")
    duration = float(ds.attrs["duration"])
    start = max(0.0, duration - window)
    fig, ax = plt.subplots(figsize=(6, 7))
    top, ticks = 0, []
    for k, rec in enumerate(records):
        n = _neuron_counts(ds, rec)
        stride = max(1, -(-n // neurons))
        t = ds[f"{rec}_spike_time"].values
        i = ds[f"{rec}_spike_neuron"].values
        keep = (t >= start) & (i % stride == 0)
        rows = top + (n - 1) // stride - i[keep] // stride  # first neuron at the top of its block
        ax.plot(t[keep] * 1e3, -rows, ".", ms=1.5, color="C0" if k % 2 == 0 else "C3")
        ticks.append((-(top + (n - 1) // stride / 2), rec))
        top += (n - 1) // stride + 1 + 5
    ax.set_yticks([y for y, _ in ticks], [label for _, label in ticks])
    ax.set_ylabel("population")
    ax.set_xlabel("time (ms)")
    ax.set_xlim(start * 1e3, duration * 1e3)
    ax.set_title(
        f"Spikes of every population, last {window * 1e3:g} ms (at most {neurons} neurons each)",
        fontsize=10,
    )
    fig.tight_layout()
    return [save_figure(fig, Path(path))]


def plot_rate_boxplot(ds: xr.Dataset, path: str | Path) -> list[Path]:
    """Box plot of time-averaged single-neuron rates per recorded population, silent neurons too.

    Rates count spikes from 0.5 s on (a network's transient) when the run is
    longer than 1 s, else over the whole run.
    """
    records = _records(ds, "_spike")
    if not records:
        raise NeurosimError(f"{path}: the recording has no spikes to plot")
    duration = float(ds.attrs["duration"])
    start = 0.5 if duration > 1.0 else 0.0  # past a network's transient
    rates = []
    for rec in records:
        t = ds[f"{rec}_spike_time"].values
        i = ds[f"{rec}_spike_neuron"].values[t >= start]
        counts = np.bincount(i, minlength=_neuron_counts(ds, rec))
        rates.append(counts / (duration - start))
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.boxplot(rates, vert=False, showfliers=False, medianprops={"color": "k"})
    ax.plot([r.mean() for r in rates], range(1, len(rates) + 1), "D", color="C3", ms=4)
    ax.set_yticks(range(1, len(rates) + 1), records)
    ax.invert_yaxis()
    ax.set_ylabel("population")
    ax.set_xlabel(f"rate (spikes/s), {start:g}-{duration:g} s")
    ax.set_title(
        "Time-averaged rate of every neuron (box: quartiles, whiskers: 1.5 IQR, diamond: mean)",
        fontsize=10,
    )
    fig.tight_layout()
    return [save_figure(fig, Path(path))]


#: Plot kinds by name.
PLOTS = {
    "stacked_raster": plot_stacked_raster,
    "rate_boxplot": plot_rate_boxplot,
    "traces": plot_traces,
    "raster": plot_raster,
    "fi_curve": plot_fi_curve,
    "rates": plot_rates,
    "activity": plot_activity,
    "weights": plot_weights,
    "curves": plot_curves,
}


def plot(ds: xr.Dataset, kind: str, path: str | Path) -> list[Path]:
    """Draw plot ``kind`` of a recording to ``path``; return the files written."""
    if kind not in PLOTS:
        raise NeurosimError(f"unknown plot kind {kind!r} (known: {', '.join(PLOTS)})")
    return PLOTS[kind](ds, path)
