"""Analysis and plots of a controller's closed-loop recording (:func:`run_closed_loop`).

The recording holds, per control step, the observation and every unit's rate
(``{layer}_r``). These functions treat the actor like a recorded population:

- :func:`tuning_correlation`: Pearson correlation of each unit with each state
  variable (which units encode the pole angle, the velocity ...);
- :func:`tuning_curves`: a unit's mean rate in bins of one state variable;
- :func:`population_pca`: the population trajectory in its first principal
  components;
- :func:`plot_tuning`, :func:`plot_pca`, :func:`plot_activity`: figures.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from neurosim.errors import NeurosimError
from neurosim.plotting import save_figure

__all__ = [
    "OBSERVATION_NAMES",
    "layer_names",
    "observation_names",
    "plot_activity",
    "plot_pca",
    "plot_tuning",
    "population_pca",
    "rates",
    "tuning_correlation",
    "tuning_curves",
]


def layer_names(ds: xr.Dataset) -> list[str]:
    """Layers with recorded rates, input first."""
    names = [str(v)[: -len("_r")] for v in ds.data_vars if str(v).endswith("_r")]
    if not names:
        raise NeurosimError("recording: no unit rates ({layer}_r); record=True when running")
    return names


def rates(ds: xr.Dataset, layer: str) -> np.ndarray:
    """Rates of ``layer``, (step, unit)."""
    key = f"{layer}_r"
    if key not in ds:
        raise NeurosimError(
            f"layer: no rates recorded for {layer!r}; recorded: {', '.join(layer_names(ds))}"
        )
    return np.asarray(ds[key].values, float)


def _corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Correlation of every column of ``a`` (T, n) with every column of ``b`` (T, m)."""
    a = a - a.mean(0)
    b = b - b.mean(0)
    norm = np.sqrt((a**2).sum(0))[:, None] * np.sqrt((b**2).sum(0))[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (a.T @ b) / norm
    return np.where(norm > 0, out, np.nan)  # a silent unit has no tuning


#: What each observation variable of the environments in this repo is (gymnasium's
#: documentation), for axis labels; other environments get "observation k".
OBSERVATION_NAMES = {
    "CartPole-v1": ("cart position", "cart velocity", "pole angle", "pole angular velocity"),
    "Acrobot-v1": (
        "cos theta1", "sin theta1", "cos theta2", "sin theta2",
        "theta1 angular velocity", "theta2 angular velocity",
    ),
    "Pendulum-v1": ("cos theta", "sin theta", "angular velocity"),
    "MountainCar-v0": ("car position", "car velocity"),
    "MountainCarContinuous-v0": ("car position", "car velocity"),
}  # fmt: skip


def observation_names(ds: xr.Dataset) -> list[str]:
    """Names of the observation variables of a closed-loop recording's environment."""
    n = ds.sizes["obs_dim"]
    names = OBSERVATION_NAMES.get(str(ds.attrs.get("env_id", "")), ())
    return list(names) if len(names) == n else [f"observation {k}" for k in range(n)]


def tuning_correlation(ds: xr.Dataset, layer: str) -> xr.DataArray:
    """Correlation of each unit's rate with each observation variable, (unit, obs_dim)."""
    r = rates(ds, layer)
    corr = _corr(r, np.asarray(ds.observation.values, float))
    return xr.DataArray(
        corr,
        dims=("unit", "obs_dim"),
        attrs={"units": "1", "long_name": f"tuning correlation of {layer}"},
    )


def tuning_curves(ds: xr.Dataset, layer: str, obs_dim: int, bins: int = 10) -> xr.DataArray:
    """Mean rate of each unit in ``bins`` equal-count bins of observation ``obs_dim``.

    Returns
    -------
    xr.DataArray
        (unit, bin) with coordinate ``bin_center`` (the bins' median observation).
    """
    obs = np.asarray(ds.observation.values, float)
    if not 0 <= obs_dim < obs.shape[1]:
        raise NeurosimError(f"obs_dim: has to be in 0..{obs.shape[1] - 1}, got {obs_dim}")
    x = obs[:, obs_dim]
    r = rates(ds, layer)
    edges = np.quantile(x, np.linspace(0, 1, bins + 1))
    which = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, bins - 1)
    curves = np.full((r.shape[1], bins), np.nan)
    centers = np.full(bins, np.nan)
    for k in range(bins):
        sel = which == k
        if sel.any():
            curves[:, k] = r[sel].mean(0)
            centers[k] = np.median(x[sel])
    return xr.DataArray(
        curves,
        dims=("unit", "bin"),
        coords={"bin_center": ("bin", centers)},
        attrs={"units": "1", "obs_dim": obs_dim},
    )


def population_pca(ds: xr.Dataset, layer: str, components: int = 3) -> xr.Dataset:
    """Principal components of the layer's population activity.

    Returns
    -------
    xr.Dataset
        ``trajectory`` (step, component), ``explained_variance_ratio``
        (component) and ``loadings`` (component, unit).
    """
    r = rates(ds, layer)
    centered = r - r.mean(0)
    _, s, vt = np.linalg.svd(centered, full_matrices=False)
    k = min(components, len(s))
    var = s**2
    ratio = var / var.sum() if var.sum() > 0 else np.zeros_like(var)
    return xr.Dataset(
        {
            "trajectory": (("step", "component"), centered @ vt[:k].T),
            "explained_variance_ratio": ("component", ratio[:k]),
            "loadings": (("component", "unit"), vt[:k]),
        }
    )


def plot_tuning(ds: xr.Dataset, path: str | Path, layer: str | None = None) -> Path:
    """Heat map of the tuning correlations of one layer (default: the first hidden)."""
    names = layer_names(ds)
    layer = layer or (names[1] if len(names) > 2 else names[-1])
    corr = tuning_correlation(ds, layer)
    values = np.nan_to_num(corr.values)
    order = np.lexsort((-values.max(1), values.argmax(1)))
    fig, ax = plt.subplots(figsize=(5 + corr.shape[1] * 0.3, 5.5))
    im = ax.imshow(corr.values[order], aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1,
                   interpolation="nearest")  # fmt: skip
    ax.set_xticks(range(corr.shape[1]), observation_names(ds), rotation=45, ha="right")
    ax.set_xlabel("observation variable")
    ax.set_title(
        f"Tuning of the units of {layer}\nto the observations of {ds.attrs.get('env_id', '')}",
        fontsize=10,
    )
    ax.set_ylabel(f"{layer} unit\n(index, sorted by preferred variable)")
    fig.colorbar(im, ax=ax, label="correlation of rate with variable")
    fig.tight_layout()
    return save_figure(fig, Path(path))


def plot_pca(ds: xr.Dataset, path: str | Path, layer: str | None = None) -> Path:
    """Population trajectory in the first two principal components, one line per episode."""
    names = layer_names(ds)
    layer = layer or (names[1] if len(names) > 2 else names[-1])
    pca = population_pca(ds, layer, 2)
    traj = pca.trajectory.values
    episodes = np.asarray(ds.step_episode.values)
    fig, ax = plt.subplots(figsize=(5, 4.5))
    for k in np.unique(episodes):
        sel = episodes == k
        ax.plot(traj[sel, 0], traj[sel, 1], lw=0.8, label=f"episode {k}")
        ax.plot(traj[sel, 0][:1], traj[sel, 1][:1], "o", color="k", ms=3)
    ev = pca.explained_variance_ratio.values
    ax.set_xlabel(f"PC 1 ({100 * ev[0]:.0f} % of variance)")
    ax.set_ylabel(f"PC 2 ({100 * ev[1]:.0f} % of variance)" if len(ev) > 1 else "PC 2")
    ax.set_title(f"{layer} trajectory (dots: episode starts)", fontsize=10)
    if len(np.unique(episodes)) <= 8:
        ax.legend(fontsize=7)
    return save_figure(fig, Path(path))


def plot_activity(ds: xr.Dataset, path: str | Path) -> Path:
    """Every layer's rates against time as images, then the actions; episodes marked.

    The first layer is the observation layer: its rows are named from the
    environment (:data:`OBSERVATION_NAMES`). Each image has its colourbar;
    dashed lines mark where a new episode starts.
    """
    from matplotlib.ticker import MaxNLocator

    names = layer_names(ds)
    fig, axes = plt.subplots(
        len(names) + 1, 1, figsize=(9, 2 + 1.8 * len(names)), sharex=True, squeeze=False
    )
    axes = axes[:, 0]
    dt = float(ds.attrs.get("dt", 1.0))
    t = np.arange(ds.sizes["step"]) * dt
    episodes = np.asarray(ds.step_episode.values)
    starts = t[1:][np.diff(episodes) != 0]
    for k, (ax, layer) in enumerate(zip(axes[:-1], names, strict=True)):
        r = rates(ds, layer)
        im = ax.imshow(r.T, aspect="auto", origin="lower", interpolation="nearest", cmap="viridis",
                       extent=(t[0], t[-1] + dt, -0.5, r.shape[1] - 0.5))  # fmt: skip
        # beside the panel, not shrinking it: the time axes stay aligned
        fig.colorbar(im, cax=ax.inset_axes((1.01, 0.0, 0.015, 1.0)), label="rate (dimensionless)")
        if k == 0 and r.shape[1] == ds.sizes["obs_dim"]:
            ax.set_yticks(range(r.shape[1]), observation_names(ds), fontsize=7)
            ax.set_ylabel(f"{layer}\n(observations)")
        else:
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_ylabel(f"{layer}\nunit (index)")
    axes[-1].plot(t, ds.action.values, lw=0.8)
    axes[-1].set_ylabel("action\n(environment's units)")
    axes[-1].set_xlabel("time (s)")
    for ax in axes:
        for start in starts:
            ax.axvline(start, color="w" if ax is not axes[-1] else "k", ls="--", lw=0.8)
    fig.suptitle(
        f"Actor as a Brian2 rate network on {ds.attrs.get('env_id', '')}: "
        f"{len(np.unique(episodes))} episode(s), dashed lines at episode starts"
    )
    fig.tight_layout()
    return save_figure(fig, Path(path))
