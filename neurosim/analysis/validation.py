"""Statistical validation of a network against a reference simulator's realisations.

The way alternative implementations of the cortical microcircuit are judged
(Dasbach, Tetzlaff, Diesmann, Senk 2021; the ``reference_data`` workflow of
the INM-6 ``microcircuit-PD14-model`` repository): per population, three
distributions over neurons,

- the time-averaged firing rate of every neuron (silent ones included),
- the coefficient of variation of the inter-spike intervals of every neuron
  with more than two spikes,
- the Pearson correlation of the spike counts (``binsize`` bins, 2 ms) of
  every pair of a random subsample of neurons (``subsample`` per population),

and the Kolmogorov-Smirnov distance between two realisations' distributions.
An implementation agrees with the reference when its distances to the
reference realisations lie within the spread of the distances between
reference realisations that differ only in their seed (:func:`ks_comparison`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy.stats import ks_2samp

from neurosim.errors import NeurosimError

__all__ = ["STATISTICS", "ks_comparison", "spike_statistics"]

#: The statistics, in the order tables show them.
STATISTICS = ("rate", "cv", "cc")


def spike_statistics(
    times: np.ndarray,
    neurons: np.ndarray,
    n: int,
    start: float,
    stop: float,
    *,
    binsize: float = 0.002,
    subsample: int = 50,
    rng: np.random.Generator | None = None,
) -> dict[str, np.ndarray]:
    """Rates, ISI CVs and pairwise spike-count correlations of one population.

    Parameters
    ----------
    times, neurons : numpy.ndarray
        Spike times (s) and neuron indices (``0 .. n-1``).
    n : int
        Neurons in the population.
    start, stop : float
        The observation window (s); spikes outside it are ignored.
    binsize : float
        Bin of the spike counts for the correlations (s).
    subsample : int
        Neurons drawn (without repeats, with ``rng``) for the correlations.
    rng : numpy.random.Generator, optional
        Draws the subsample (default: seeded with 0, the same neurons every time).

    Returns
    -------
    dict
        ``rate`` (n values, spikes/s), ``cv`` (one per neuron with > 2
        spikes), ``cc`` (one per pair of the subsample; pairs with a silent
        neuron, whose correlation is undefined, are left out).
    """
    if not 0 <= start < stop:
        raise NeurosimError(f"window: start {start} has to be >= 0 and before stop {stop}")
    times = np.asarray(times, float)
    neurons = np.asarray(neurons, np.int64)
    keep = (times >= start) & (times < stop)
    times, neurons = times[keep], neurons[keep]
    counts = np.bincount(neurons, minlength=n)
    rates = counts / (stop - start)
    order = np.lexsort((times, neurons))
    times, neurons = times[order], neurons[order]
    intervals = np.diff(times)
    same = neurons[1:] == neurons[:-1]
    isi_neuron = neurons[1:][same]
    isi = intervals[same]
    total = np.bincount(isi_neuron, weights=isi, minlength=n)
    squares = np.bincount(isi_neuron, weights=isi**2, minlength=n)
    k = np.bincount(isi_neuron, minlength=n)
    many = counts > 2
    mean = total[many] / k[many]
    std = np.sqrt(np.maximum(squares[many] / k[many] - mean**2, 0.0))
    cvs = std / mean
    rng = rng if rng is not None else np.random.default_rng(0)
    chosen = np.sort(rng.choice(n, min(subsample, n), replace=False))
    position = np.full(n, -1)
    position[chosen] = np.arange(len(chosen))
    bins = int(np.ceil((stop - start) / binsize))
    signal = np.zeros((len(chosen), bins))
    picked = position[neurons] >= 0
    slot = np.minimum(((times[picked] - start) / binsize).astype(np.int64), bins - 1)
    np.add.at(signal, (position[neurons[picked]], slot), 1.0)
    active = signal.std(axis=1) > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        cc = np.corrcoef(signal[active]) if active.sum() > 1 else np.zeros((0, 0))
    upper = np.triu_indices(len(cc), 1)
    return {"rate": rates, "cv": cvs, "cc": cc[upper] if len(cc) else np.zeros(0)}


def ks_comparison(
    reference: Sequence[Mapping[str, Mapping[str, np.ndarray]]],
    candidate: Sequence[Mapping[str, Mapping[str, np.ndarray]]],
) -> dict[str, dict[str, dict[str, object]]]:
    """KS distances between reference realisations, and from each candidate to each reference.

    Parameters
    ----------
    reference, candidate : sequence of mappings
        One mapping per realisation: population -> :func:`spike_statistics`.

    Returns
    -------
    dict
        ``[population][statistic]`` -> ``within`` (the reference pairs'
        distances), ``between`` (candidate x reference distances), their
        medians and ``agrees``: the median candidate distance is no larger
        than the largest distance between two reference realisations.
    """
    if len(reference) < 2:
        raise NeurosimError("ks_comparison: needs at least two reference realisations")
    out: dict[str, dict[str, dict[str, object]]] = {}
    for pop in reference[0]:
        out[pop] = {}
        for stat in STATISTICS:
            within = [
                _ks(reference[a][pop][stat], reference[b][pop][stat])
                for a in range(len(reference))
                for b in range(a + 1, len(reference))
            ]
            between = [_ks(c[pop][stat], r[pop][stat]) for c in candidate for r in reference]
            out[pop][stat] = {
                "within": within,
                "between": between,
                "within_median": float(np.median(within)),
                "within_max": float(np.max(within)),
                "between_median": float(np.median(between)) if between else float("nan"),
                "agrees": bool(between) and float(np.median(between)) <= float(np.max(within)),
            }
    return out


def _ks(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    return float(ks_2samp(a, b).statistic)
