"""Pair and triplet STDP in Brian2 pairing protocols."""

import numpy as np
import pytest
from brian2 import Hz, ms

from neurosim.errors import NeurosimError
from neurosim.networks.stdp_pairing import pairing_spikes, run_pairing
from neurosim.plasticity.stdp import PARAMETER_SETS, pair_window, reference_weight_change
from neurosim.protocol import load_protocol
from neurosim.runner import run_protocol

DELAYS = np.array([-60, -30, -10, -5, -2, 2, 5, 10, 30, 60]) * ms
FREQUENCIES = np.array([1, 20, 50]) * Hz
PAIRINGS = 15


@pytest.fixture(scope="module", params=["pair_classic", "visual_cortex", "hippocampal"])
def window(request):
    rule, params = PARAMETER_SETS[request.param]
    return rule, params, run_pairing(rule, params, DELAYS, FREQUENCIES, PAIRINGS)


def test_brian2_equals_numpy_reference(window):
    rule, params, ds = window
    pre_i, pre_t, post_i, post_t, _ = pairing_spikes(DELAYS, FREQUENCIES, PAIRINGS, 1 * ms)
    expected = [
        reference_weight_change(pre_t[pre_i == c] * ms, post_t[post_i == c] * ms, rule, params)
        for c in range(len(FREQUENCIES) * len(DELAYS))
    ]
    np.testing.assert_allclose(ds.weight_change.values.ravel(), expected, rtol=1e-9, atol=1e-12)


def test_pair_window_sign_shape_and_analytic_value():
    rule, params = PARAMETER_SETS["pair_classic"]
    ds = run_pairing(rule, params, DELAYS, FREQUENCIES, PAIRINGS)
    low = ds.weight_change.sel(frequency=1.0).values
    d = np.asarray(DELAYS / ms)
    assert (low[d > 0] > 0).all() and (low[d < 0] < 0).all()
    # |change| decays with |delay| on each side
    assert (np.diff(low[d > 0]) < 0).all() and (np.diff(low[d < 0]) < 0).all()
    # at 1 Hz the pairs are isolated: PAIRINGS times the single-pair window
    # (neighbouring pairs 1 s apart add less than exp(-900/33.7))
    np.testing.assert_allclose(low, PAIRINGS * pair_window(DELAYS, params), rtol=1e-9)


def test_triplet_frequency_dependence():
    rule, params = PARAMETER_SETS["visual_cortex"]
    ds = run_pairing(rule, params, DELAYS, FREQUENCIES, PAIRINGS)
    wc = ds.weight_change.sel(delay=-0.010, method="nearest")
    assert float(wc.sel(frequency=1.0)) < 0  # post-before-pre depresses at low frequency
    assert float(wc.sel(frequency=50.0)) > 0  # ... and potentiates at 50 Hz (Sjöström 2001)
    ltp = ds.weight_change.sel(delay=0.010, method="nearest").values
    assert (np.diff(ltp) > 0).all()  # pre-before-post potentiation grows with frequency
    # the pair rule has no such effect: -10 ms pairing at 50 Hz still depresses
    pair_rule, pair_params = PARAMETER_SETS["pair_classic"]
    pair = run_pairing(pair_rule, pair_params, DELAYS, FREQUENCIES, PAIRINGS)
    assert float(pair.weight_change.sel(delay=-0.010, frequency=50.0, method="nearest")) < 0


def test_protocol_runs_and_writes_outputs(tmp_path):
    overrides = ["training.pairings=3", "training.frequencies=[5 Hz, 50 Hz]"]
    result = run_protocol(load_protocol("stdp_triplet", overrides), tmp_path, progress=False)
    assert sorted(p.name for p in result.files) == [
        "stdp_triplet.nc",
        "stdp_triplet_stdp_window.png",
    ]
    wc = result.dataset.weight_change
    assert wc.dims == ("frequency", "delay") and wc.shape == (2, 22)
    assert wc.attrs["units"] == "1" and result.dataset.delay.attrs["units"] == "second"


def test_protocol_errors_name_file_key_and_value():
    protocol = load_protocol("stdp_pair", ["training.parameters=cortex"])
    with pytest.raises(NeurosimError, match=r"stdp_pair.yaml: training.parameters: .*'cortex'"):
        run_protocol(protocol, "unused", progress=False)
    protocol = load_protocol("stdp_pair", ["training.delays=[10 mV]"])
    with pytest.raises(NeurosimError, match=r"training.delays\[0\]: '10 mV' has units of volt"):
        run_protocol(protocol, "unused", progress=False)
