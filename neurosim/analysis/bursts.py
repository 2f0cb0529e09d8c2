"""Bursts of somatic spikes and apical Ca plateaus: the ``burst_fraction`` measurement.

Definition (one neuron, spikes in the window ``start <= t < stop``, in time
order): two consecutive spikes closer than ``max_isi`` (strictly) belong to
the same group; a group of at least ``min_spikes`` spikes is a *burst*, and
every spike outside bursts is a *single spike*. An *event* is a burst or a
single spike (Naud & Sprekeler 2018, who group spikes into events with an ISI
criterion, 16 ms in their analysis). The defaults, ``max_isi = 10 ms`` and
``min_spikes = 2``, keep only the high-frequency (> 100 Hz) bursts that ride on
a dendritic Ca spike: BAC firing (Larkum et al. 1999) is a high-frequency
burst of somatic spikes riding on the apical Ca spike (in
``models/bac_pyramidal.yaml`` burst ISIs of 4.3-5.3 ms), while regular firing
below 100 Hz never counts. Shai et al. (2015) model the layer-5 cell's output
as bursts when basal and apical input coincide, the effect the
``l5_circuit`` protocols measure with this definition.

Pooled over the record's whole population (silent neurons included, as in
``population_statistics``):

- ``fraction``: spikes in bursts / all spikes (NaN without spikes);
- ``burst_rate``: bursts / (neurons x window), Hz;
- ``event_rate``: (bursts + single spikes) / (neurons x window), Hz;
- ``rate``: spikes / (neurons x window), Hz.

With ``variable`` (a recorded potential, e.g. the apical ``v_a``) the Ca
plateaus of the recorded neurons are measured too: an *episode* starts when
the variable rises above ``plateau_threshold`` (default -20 mV: a
back-propagating spike alone peaks near -39 mV in ``bac_pyramidal``, a Ca
plateau above -20 mV for ~20 ms), giving

- ``plateau_rate``: episodes / (recorded neurons x window), Hz;
- ``plateau_fraction``: the fraction of samples above the threshold.

References: Larkum ME, Zhu JJ, Sakmann B (1999) Nature 398:338-341,
doi:10.1038/18686. Shai AS, Anastassiou CA, Larkum ME, Koch C (2015) PLoS
Comput Biol 11:e1004090, doi:10.1371/journal.pcbi.1004090. Naud R,
Sprekeler H (2018) PNAS 115:E6329-E6338, doi:10.1073/pnas.1720995115.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import brian2
import numpy as np
import xarray as xr

from neurosim.analysis.measurements import (
    _bounds,
    _default_record,
    _dimension,
    _spikes,
    measurement,
    trace,
    window,
)
from neurosim.analysis.population import checked_spikes
from neurosim.errors import NeurosimError
from neurosim.schema import check_int, excerpt
from neurosim.units import parse_quantity

__all__ = ["BurstStatistics", "burst_statistics", "plateau_statistics"]

#: Default largest ISI within a burst (s).
MAX_ISI = 10e-3


class BurstStatistics(NamedTuple):
    """Bursts of a population's spikes in a window (see :func:`burst_statistics`)."""

    fraction: float
    """Spikes in bursts / all spikes (NaN when there is no spike)."""
    burst_rate: float
    """Bursts / (neurons x window), Hz."""
    event_rate: float
    """(Bursts + single spikes) / (neurons x window), Hz."""
    rate: float
    """Spikes / (neurons x window), Hz."""
    spikes: int
    """Spikes in the window."""
    bursts: int
    """Bursts in the window."""
    burst_spikes: int
    """Spikes that belong to bursts."""
    neurons: int
    """Neurons of the population (silent ones included)."""


def burst_statistics(
    times,
    neurons,
    size: int,
    start: float,
    stop: float,
    max_isi: float = MAX_ISI,
    min_spikes: int = 2,
) -> BurstStatistics:
    """Burst fraction, burst rate, event rate and spike rate of a population.

    Parameters
    ----------
    times, neurons, size, start, stop
        Spike times (s), their neurons (``0 .. size - 1``), the population's
        size and the window, as for
        :func:`neurosim.analysis.population.population_statistics`; a burst
        that straddles an edge of the window counts with its inside part.
    max_isi : float
        Consecutive spikes of a neuron less than ``max_isi`` seconds apart
        belong to one group (strict inequality).
    min_spikes : int
        A group of at least ``min_spikes`` spikes is a burst; the spikes of a
        smaller group count as single spikes (one event each).

    Returns
    -------
    BurstStatistics
        Rates pooled over all ``size`` neurons and the window.
    """
    times, neurons = checked_spikes(times, neurons, size, start, stop, "burst statistics")
    if not max_isi > 0 or min_spikes < 2:
        raise NeurosimError(
            f"burst statistics: need max_isi > 0 and min_spikes >= 2, got {max_isi}, {min_spikes}"
        )
    inside = (times >= start) & (times < stop)
    times, neurons = times[inside], neurons[inside]
    order = np.lexsort((times, neurons))
    times, neurons = times[order], neurons[order]
    # a spike opens a new group unless the previous spike is the same neuron's, < max_isi before
    joined = (neurons[1:] == neurons[:-1]) & (np.diff(times) < max_isi)
    opens = np.concatenate(([True], ~joined)) if times.size else np.zeros(0, bool)
    group = np.cumsum(opens) - 1
    lengths = np.bincount(group) if times.size else np.zeros(0, np.int64)
    is_burst = lengths >= min_spikes
    bursts = int(is_burst.sum())
    burst_spikes = int(lengths[is_burst].sum())
    singles = int(times.size - burst_spikes)
    scale = size * (stop - start)
    return BurstStatistics(
        fraction=burst_spikes / times.size if times.size else float("nan"),
        burst_rate=bursts / scale,
        event_rate=(bursts + singles) / scale,
        rate=times.size / scale,
        spikes=int(times.size),
        bursts=bursts,
        burst_spikes=burst_spikes,
        neurons=int(size),
    )


def plateau_statistics(values, duration: float, threshold: float) -> tuple[float, float]:
    """Episodes above ``threshold`` per neuron and second, and the fraction of time above.

    Parameters
    ----------
    values : array_like, shape (samples, neurons)
        A recorded potential in SI units, sampled evenly over ``duration``.
    duration : float
        The time the samples cover (s).
    threshold : float
        The level (SI units) a plateau exceeds.

    Returns
    -------
    tuple of float
        ``(rate, fraction)``: upward crossings of the threshold (a trace that
        starts above it opens an episode too) per neuron per second, and the
        fraction of samples above the threshold.
    """
    values = np.asarray(values, float)
    if values.ndim != 2 or values.size == 0 or not duration > 0:
        raise NeurosimError("plateau statistics: need a (samples, neurons) array and duration > 0")
    above = values > threshold
    padded = np.concatenate([np.zeros((1, above.shape[1]), bool), above])
    episodes = int((padded[1:] & ~padded[:-1]).sum())
    return episodes / (above.shape[1] * duration), float(above.mean())


def check_spec(spec: dict[str, Any], where: str) -> dict[str, Any]:
    """The ``max_isi`` (s), ``min_spikes`` and ``plateau_threshold`` of a spec, checked.

    ``plateau_threshold`` is returned as given (its unit is the variable's,
    checked against the recording); every error is one line naming the key.
    """
    max_isi = MAX_ISI
    if "max_isi" in spec:
        max_isi = float(parse_quantity(spec["max_isi"], f"{where}.max_isi", brian2.second))
        if not max_isi > 0:
            raise NeurosimError(f"{where}.max_isi: has to be > 0, got {excerpt(spec['max_isi'])}")
    min_spikes = check_int(spec.get("min_spikes", 2), f"{where}.min_spikes", 2, 10**6)
    if "plateau_threshold" in spec and "variable" not in spec:
        raise NeurosimError(
            f"{where}.plateau_threshold: needs 'variable' (the recorded potential to measure)"
        )
    return {"max_isi": max_isi, "min_spikes": min_spikes}


@measurement(
    "burst_fraction",
    ("name", "record", "start", "stop", "max_isi", "min_spikes", "variable", "plateau_threshold"),
)
def burst_fraction(ds: xr.Dataset, spec: dict[str, Any], where: str) -> dict[str, xr.DataArray]:
    """Burst fraction, burst, event and spike rates (and Ca plateaus) of a population.

    Spikes of every neuron of the record's population count (silent ones
    included); see :func:`burst_statistics` and the module docstring for the
    definitions. With ``variable``, :func:`plateau_statistics` of the recorded
    neurons' trace over the same window.
    """
    options = check_spec(spec, where)
    record = _default_record(ds, spec, where)
    times, neurons, size = _spikes(ds, record, where)
    # measurements._bounds reads a missing start as the bare number 0.0, which it refuses
    start, stop = _bounds(ds, {"start": "0 ms", **spec}, where, record)
    found = burst_statistics(times, neurons.astype(np.int64), size, start, stop, **options)
    name = spec.get("name", f"bursts_{record}")
    meta = {
        "measurement": "burst_fraction",
        "window": f"{start}..{stop} s",
        "max_isi": options["max_isi"],
        "min_spikes": options["min_spikes"],
        "neurons": found.neurons,
        "spikes": found.spikes,
        "bursts": found.bursts,
        "burst_spikes": found.burst_spikes,
    }
    units = {"fraction": "1", "burst_rate": "hertz", "event_rate": "hertz", "rate": "hertz"}
    out = {
        f"{name}_{key}": xr.DataArray(getattr(found, key), attrs={"units": unit, **meta})
        for key, unit in units.items()
    }
    if "variable" in spec:
        da = window(trace(ds, {**spec, "record": record}, where), spec, where)
        unit = brian2.Quantity(1.0, dim=_dimension(da.attrs["units"], where))
        level = spec.get("plateau_threshold", "-20 mV")
        at = f"{where}.plateau_threshold"
        threshold = float(parse_quantity(level, at, unit) / unit)
        t = da[da.dims[0]].values
        step = float(np.median(np.diff(t))) if t.size > 1 else stop - start
        rate, fraction = plateau_statistics(da.values, t.size * step, threshold)
        plateau = {**meta, "variable": spec["variable"], "threshold": str(level)}
        plateau["recorded_neurons"] = int(da.shape[1])
        out[f"{name}_plateau_rate"] = xr.DataArray(rate, attrs={"units": "hertz", **plateau})
        out[f"{name}_plateau_fraction"] = xr.DataArray(fraction, attrs={"units": "1", **plateau})
    return out
