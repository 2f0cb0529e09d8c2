"""The four population statistics against spike trains whose values are known."""

import numpy as np
import pytest

from neurosim.analysis.population import population_statistics
from neurosim.errors import NeurosimError


def test_regular_firing():
    # 200 neurons firing every 10 ms at random phases: 100 Hz, CV 0, Fano 0
    # (exactly 10 spikes in every 100 ms window).
    rng = np.random.default_rng(1)
    n, period = 200, 0.01
    times = (rng.uniform(0, period, n)[:, None] + period * np.arange(100)).ravel()
    neurons = np.repeat(np.arange(n), 100)
    s = population_statistics(times, neurons, n, 0.0, 1.0)
    assert s.rate == pytest.approx(100.0)
    assert s.cv == pytest.approx(0.0, abs=1e-9)
    assert s.fano == pytest.approx(0.0, abs=1e-12)
    assert (s.neurons, s.spikes) == (n, times.size)


@pytest.mark.parametrize("hz", [40.0, 180.0])
def test_dominant_frequency_of_a_synchronous_rhythm(hz):
    # Each neuron fires on a random fifth of the cycles of a rhythm, 1 ms
    # jitter (which damps the harmonics): the spectrum peaks at the rhythm
    # within one Welch bin (2000 Hz / 256 = 7.8 Hz).
    rng = np.random.default_rng(2)
    cycles = np.arange(0, 2.0, 1 / hz)
    n = 500
    fire = rng.random((n, cycles.size)) < 0.2
    neurons, k = np.nonzero(fire)
    times = cycles[k] + rng.normal(0, 1e-3, k.size)
    keep = (times >= 0) & (times < 2.0)
    s = population_statistics(times[keep], neurons[keep], n, 0.0, 2.0)
    assert abs(s.frequency - hz) < 2000 / 256


def test_poisson_firing_and_silent_neurons():
    # Independent Poisson trains at 20 Hz: CV 1, Fano factor 1 (times 19/20 for
    # the ddof-0 variance over 20 windows); as many silent
    # neurons halve the rate but not the CV or Fano factor (averages over
    # neurons that fire). Tolerances: several standard errors of the means
    # over 2,000 neurons.
    rng = np.random.default_rng(4)
    n, rate, duration = 2000, 20.0, 10.0
    counts = rng.poisson(rate * duration, n)
    neurons = np.repeat(np.arange(n), counts)
    times = rng.uniform(0, duration, counts.sum())
    s = population_statistics(times, neurons, 2 * n, 0.0, duration, fano_window=0.5)
    assert s.rate == pytest.approx(rate / 2, rel=0.01)
    assert s.cv == pytest.approx(1.0, abs=0.02)
    assert s.fano == pytest.approx(1 - 1 / 20, abs=0.03)  # ddof 0 over 20 windows


def test_window_and_bad_input():
    times, neurons = np.array([0.1, 0.2, 0.35, 0.9]), np.array([0, 0, 0, 1])
    s = population_statistics(times, neurons, 2, 0.15, 0.5, fano_window=0.1)
    assert s.spikes == 2 and s.rate == pytest.approx(2 / (2 * 0.35))
    assert np.isnan(s.cv)  # no neuron with three spikes in the window
    with pytest.raises(NeurosimError, match="equal length"):
        population_statistics(times, neurons[:3], 2, 0.0, 1.0)
    with pytest.raises(NeurosimError, match=r"outside 0\.\.1"):
        population_statistics(times, neurons + 1, 2, 0.0, 1.0)
    with pytest.raises(NeurosimError, match="fewer than two windows"):
        population_statistics(times, neurons, 2, 0.0, 1.0, fano_window=0.6)
    with pytest.raises(NeurosimError, match="stop > start"):
        population_statistics(times, neurons, 2, 1.0, 1.0)
