"""Statistics of a whole population's spikes: the four numbers of Brunel's states.

Brunel (2000) tells the states of his sparse network apart by the population
rate, the irregularity of single neurons (CV of the inter-spike intervals),
their count variability (Fano factor) and the oscillation of the population
activity (the peak of its power spectrum). :func:`population_statistics`
computes the four from plain arrays of spike times and neuron indices, so
that a neurosim recording and a peer simulator's spikes (NEST's
``spike_recorder`` events) go through the same code.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import signal

from neurosim.errors import NeurosimError

__all__ = ["PopulationStatistics", "population_statistics"]


class PopulationStatistics(NamedTuple):
    """Four statistics of a population in a window (see :func:`population_statistics`)."""

    rate: float
    """Mean firing rate, spikes / (neurons x window), Hz."""
    cv: float
    """Mean CV of the inter-spike intervals over neurons with >= 3 spikes."""
    fano: float
    """Mean Fano factor of the spike counts in ``fano_window`` windows over firing neurons."""
    frequency: float
    """Frequency of the largest peak of the population activity's spectrum, Hz (> 0)."""
    neurons: int
    """Neurons of the population (silent ones included)."""
    spikes: int
    """Spikes in the window."""


def checked_spikes(
    times, neurons, size: int, start: float, stop: float, what: str
) -> tuple[np.ndarray, np.ndarray]:
    """Spike times and neuron indices as arrays, refused in one line if they cannot be a train.

    ``what`` names the statistic in the error (times and neurons of equal
    length, ``stop > start``, ``size >= 1``, indices within ``0 .. size - 1``).
    """
    times = np.asarray(times, float)
    neurons = np.asarray(neurons, np.int64)
    if times.shape != neurons.shape or times.ndim != 1:
        raise NeurosimError(f"{what}: times and neurons must be 1-d and equal length")
    if not stop > start or size < 1:
        raise NeurosimError(
            f"{what}: need stop > start and size >= 1, got {start}..{stop} s, {size}"
        )
    if neurons.size and (neurons.min() < 0 or neurons.max() >= size):
        raise NeurosimError(f"{what}: neuron index outside 0..{size - 1}")
    return times, neurons


def population_statistics(
    times,
    neurons,
    size: int,
    start: float,
    stop: float,
    fano_window: float = 0.1,
    rate_bin: float = 0.5e-3,
    segment: int = 256,
) -> PopulationStatistics:
    """Rate, CV, Fano factor and dominant frequency of a population's spikes.

    Parameters
    ----------
    times : array_like
        Spike times in seconds.
    neurons : array_like of int
        The neuron (``0 .. size - 1``) of each spike.
    size : int
        Neurons in the population, silent ones included.
    start, stop : float
        The window in seconds (``start <= t < stop``).
    fano_window : float
        Counting window of the Fano factor (s); the window is cut into
        ``floor((stop - start) / fano_window)`` of them, a partial last one dropped.
    rate_bin : float
        Bin of the population activity whose spectrum is taken (s); 0.5 ms
        resolves the ~180 Hz oscillation of Brunel's fast synchronous state.
    segment : int
        Bins per Welch segment (Hann window, half overlap); 256 bins of 0.5 ms
        give a 7.8 Hz frequency resolution.

    Returns
    -------
    PopulationStatistics
        CV: ISI standard deviation / mean (ddof 0, as Elephant's ``cv``) per
        neuron, averaged. Fano factor: variance / mean of a neuron's counts
        (ddof 0), averaged over neurons that fired in the window. Frequency:
        argmax over f > 0 of the Welch spectrum of the mean-subtracted
        population count per ``rate_bin``. A statistic with nothing to
        average is NaN.
    """
    times, neurons = checked_spikes(times, neurons, size, start, stop, "population statistics")
    inside = (times >= start) & (times < stop)
    times, neurons = times[inside], neurons[inside]
    duration = stop - start
    order = np.lexsort((times, neurons))
    times, neurons = times[order], neurons[order]
    return PopulationStatistics(
        rate=times.size / (size * duration),
        cv=_mean_cv(times, neurons, size),
        fano=_mean_fano(times - start, neurons, size, duration, fano_window),
        frequency=_peak_frequency(times - start, duration, rate_bin, segment),
        neurons=int(size),
        spikes=int(times.size),
    )


def _mean_cv(times: np.ndarray, neurons: np.ndarray, size: int) -> float:
    # times sorted by neuron, then time: intervals are the differences within a neuron
    same = neurons[1:] == neurons[:-1]
    isi, owner = np.diff(times)[same], neurons[1:][same]
    n = np.bincount(owner, minlength=size)
    total = np.bincount(owner, isi, minlength=size)
    square = np.bincount(owner, isi * isi, minlength=size)
    ok = n >= 2  # >= 3 spikes: one interval would give a CV of 0
    if not ok.any():
        return float("nan")
    mean = total[ok] / n[ok]
    var = np.maximum(square[ok] / n[ok] - mean**2, 0.0)
    return float(np.mean(np.sqrt(var) / mean))


def _mean_fano(
    times: np.ndarray, neurons: np.ndarray, size: int, duration: float, window: float
) -> float:
    k = int(np.floor(duration / window + 1e-9))
    if k < 2:
        raise NeurosimError(
            f"population statistics: fano_window {window} s leaves fewer than two windows"
        )
    slot = np.floor(times / window + 1e-9).astype(np.int64)
    keep = slot < k
    counts = np.bincount(neurons[keep] * k + slot[keep], minlength=size * k).reshape(size, k)
    mean = counts.mean(axis=1)
    fired = mean > 0
    if not fired.any():
        return float("nan")
    return float(np.mean(counts[fired].var(axis=1) / mean[fired]))


def _peak_frequency(times: np.ndarray, duration: float, rate_bin: float, segment: int) -> float:
    bins = int(np.floor(duration / rate_bin + 1e-9))
    if bins < 8 or times.size == 0:
        return float("nan")
    counts = np.bincount(np.floor(times / rate_bin + 1e-9).astype(np.int64), minlength=bins)[:bins]
    f, power = signal.welch(
        counts - counts.mean(), fs=1.0 / rate_bin, nperseg=min(segment, bins), detrend=False
    )
    positive = f > 0
    return float(f[positive][np.argmax(power[positive])])
