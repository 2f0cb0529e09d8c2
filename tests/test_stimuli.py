import numpy as np
import pytest

from neurosim import load_protocol, run_protocol
from neurosim.datasets import load_mnist_subset


def run(tmp_path, name, overrides):
    return run_protocol(load_protocol(name, overrides), tmp_path, progress=False).dataset


def test_ramp_alpha_and_per_neuron_amplitudes(tmp_path):
    ds = run(
        tmp_path,
        "smoke_passive",
        [
            "populations.cell.n=3",
            "duration=100 ms",
            "stimuli=[{kind: current_ramp, population: cell, variable: I_s, amplitude: "
            "{linspace: [0 pA, 100 pA]}, start: 10 ms, stop: 60 ms},"
            "{kind: current_alpha, population: cell, variable: I_a, amplitude: 20 pA, onset: 70 ms,"
            " tau: 5 ms, neurons: [1]}]",
            "record=[{population: cell, variables: [I_s, I_a], dt: 1 ms}]",
            "analysis=[]",
        ],
    )
    t = ds.cell_time.values
    I_s, I_a = ds.cell_I_s.values, ds.cell_I_a.values
    # ramp: linear from 0 at 10 ms to the per-neuron amplitude at 60 ms, off afterwards
    k = np.searchsorted(t, 0.035 - 1e-9)
    np.testing.assert_allclose(I_s[k], [0, 25e-12, 50e-12], rtol=1e-9, atol=1e-18)
    assert np.all(I_s[t >= 0.06 - 1e-9] == 0)
    # alpha current peaks at onset + tau with the amplitude, only in neuron 1
    peak = np.searchsorted(t, 0.075 - 1e-9)
    assert I_a[peak, 1] == pytest.approx(20e-12, rel=1e-9)
    assert np.argmax(I_a[:, 1]) == peak
    assert np.all(I_a[:, [0, 2]] == 0)


def test_dataset_stimulus_presents_mnist_digits(tmp_path):
    ds = run(tmp_path, "mnist_poisson_passive", ["duration=200 ms"])
    subset = load_mnist_subset()
    np.testing.assert_array_equal(ds.stim0_label.values, subset.test_labels[:5])
    # pixel spikes depolarise the basal dendrites well above rest (-70 mV)
    assert float(ds.cells_v_b.mean()) > -0.069
    assert ds.attrs["seed"] == 7


def test_memory_estimate_counts_the_datas_pixels(tmp_path):
    """A dataset stimulus's synapses and images are estimated from the data's image size."""
    from fake_data import bars_npz

    from neurosim.protocol import estimate_memory

    bars = bars_npz(tmp_path / "bars.npz")  # 20 x 20 = 400 pixels

    def estimate(dataset):
        stimulus = (
            "stimuli=[{kind: dataset_poisson, population: cells, variable: v_b, "
            f"dataset: '{dataset}', images: 5, presentation: 100 ms, weight: 0.2 mV}}]"
        )
        return estimate_memory(load_protocol("mnist_poisson_passive", [stimulus]))

    mnist, small = estimate("mnist_subset"), estimate(bars)
    # same network, same number of images: the image part scales with 400 / 784 pixels
    assert small["stimuli"] == pytest.approx(mnist["stimuli"] * 400 / 784)
    assert small["network"] < mnist["network"]
