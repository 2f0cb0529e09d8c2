"""Plots of recordings (PNG or SVG, matplotlib, axes with units)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless machines (CI, clusters) have no display
import matplotlib.pyplot as plt
import xarray as xr

from neurosim.errors import NeurosimError
from neurosim.recording import atomic_path
from neurosim.units import DISPLAY_UNITS

__all__ = ["PLOTS", "plot", "plot_fi_curve", "plot_raster", "plot_traces", "save_figure"]


def _records(ds: xr.Dataset, suffix: str) -> list[str]:
    return sorted(str(d)[: -len(suffix)] for d in ds.dims if str(d).endswith(suffix))


def save_figure(fig, path: Path) -> Path:
    """Save a figure atomically (format from the suffix) and close it."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format=path.suffix.lstrip("."))
    plt.close(fig)
    return path


def plot_traces(ds: xr.Dataset, path: str | Path) -> list[Path]:
    """One panel per recorded state variable, all neurons, time in ms."""
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
        factor, label = DISPLAY_UNITS.get(
            da.attrs.get("units", ""), (1.0, da.attrs.get("units", "1"))
        )
        t = da[da.dims[0]].values * 1e3
        lines = ax.plot(t, da.values * factor, lw=1)
        if 1 < len(lines) <= 10:
            ax.legend(
                lines,
                [f"neuron {k}" for k in da[da.dims[1]].values],
                fontsize=7,
                frameon=False,
                loc="upper left",
            )
        comp = da.attrs.get("compartment")
        ax.set_ylabel(f"{da.attrs.get('variable', var)} ({label})" + (f"\n{comp}" if comp else ""))
    axes[-1, 0].set_xlabel("time (ms)")
    fig.suptitle(ds.attrs.get("protocol_name", ""))
    fig.tight_layout()
    return [save_figure(fig, Path(path))]


def plot_raster(ds: xr.Dataset, path: str | Path) -> list[Path]:
    """Spike raster of every recorded population, time in ms."""
    records = _records(ds, "_spike")
    if not records:
        raise NeurosimError(f"{path}: the recording has no spikes to plot")
    fig, axes = plt.subplots(len(records), 1, figsize=(8, 2.5 * len(records)), squeeze=False)
    for ax, rec in zip(axes[:, 0], records, strict=True):
        ax.plot(
            ds[f"{rec}_spike_time"].values * 1e3,
            ds[f"{rec}_spike_neuron"].values,
            "|",
            ms=4,
            color="k",
        )
        ax.set_ylabel(f"{rec} neuron")
    axes[-1, 0].set_xlabel("time (ms)")
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
        factor, label = DISPLAY_UNITS.get(current.attrs["units"], (1.0, current.attrs["units"]))
        ax.plot(current.values * factor, ds[f"{name}_rate"].values, "o-", ms=3, label=name)
    ax.set_xlabel(f"injected current ({label})")
    ax.set_ylabel("firing rate (Hz)")
    ax.legend(frameon=False)
    fig.tight_layout()
    return [save_figure(fig, Path(path))]


#: Plot kinds by name.
PLOTS = {"traces": plot_traces, "raster": plot_raster, "fi_curve": plot_fi_curve}


def plot(ds: xr.Dataset, kind: str, path: str | Path) -> list[Path]:
    """Draw plot ``kind`` of a recording to ``path``; return the files written."""
    if kind not in PLOTS:
        raise NeurosimError(f"unknown plot kind {kind!r} (known: {', '.join(PLOTS)})")
    return PLOTS[kind](ds, path)
