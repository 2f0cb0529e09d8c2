"""Spike-source populations, synapses that only learn, final-value records, and
the STDP pairing kind expanded into an ordinary network protocol."""

import numpy as np
import pytest
import yaml
from brian2 import Hz, ms

from neurosim.networks.stdp_pairing import pairing_network, pairing_spikes, run_pairing
from neurosim.plasticity.stdp import PARAMETER_SETS, reference_weight_change
from neurosim.protocol import load_protocol, protocol_from_data
from neurosim.runner import simulate_dataset
from neurosim.testing import refuses_in_one_line


def _network(**changes) -> dict:
    """A two-neuron spike source projecting onto another, pair STDP, final weights."""
    data = {
        "name": "sources",
        "description": "spike sources",
        "seed": 0,
        "dt": "1 ms",
        "duration": "100 ms",
        "populations": {
            "pre": {"n": 2, "spikes": {"neurons": [0, 1, 0], "times": ["10 ms", "20 ms", "50 ms"]}},
            "post": {"n": 2, "spikes": {"neurons": [0, 1], "times": ["15 ms", "12 ms"]}},
        },
        "projections": {
            "learn": {
                "source": "pre",
                "target": "post",
                "connector": {"rule": "one_to_one"},
                "weight": 0,
                "plasticity": {"rule": "pair", "w_min": -1, "w_max": 1},
                "record": {"variables": ["w"], "at": "end"},
            }
        },
        "record": [{"population": "pre", "spikes": True}],
        "output": {"formats": []},
    }
    for key, value in changes.items():
        section, _, rest = key.partition(".")
        if not rest:
            data[section] = value
            continue
        target = data[section]
        *path, last = rest.split(".")
        for part in path:
            target = target[part]
        target[last] = value
    return data


def test_spike_source_replays_its_spikes_and_synapses_learn_by_the_reference():
    ds = simulate_dataset(protocol_from_data(_network(), "<sources>"))
    # the recorded spikes are the given ones, in time order
    np.testing.assert_allclose(ds.pre_spike_time.values, [0.010, 0.020, 0.050])
    np.testing.assert_array_equal(ds.pre_spike_neuron.values, [0, 1, 0])
    weights = ds.learn_w
    assert weights.dims == ("learn_synapse",) and weights.attrs["units"] == "1"
    assert weights.attrs["at"] == "end of run"
    params = PARAMETER_SETS["pair_classic"][1]
    pre = {0: [10, 50], 1: [20]}
    post = {0: [15], 1: [12]}
    for k, i in enumerate(weights.learn_pre.values):
        expected = reference_weight_change(
            np.array(pre[int(i)]) * ms, np.array(post[int(i)]) * ms, "pair", params
        )
        assert weights.values[k] == pytest.approx(expected, rel=1e-9)
    assert weights.values[weights.learn_pre.values == 0][0] > 0  # pre first potentiates
    assert weights.values[weights.learn_pre.values == 1][0] < 0  # post first depresses


def test_shipped_network_protocol_matches_the_numpy_reference():
    ds = simulate_dataset(load_protocol("stdp_pairing_network"))
    pre = {0: [10, 60, 110, 160, 210], 1: [20, 70, 120, 170, 220]}
    post = {0: [20, 70, 120, 170, 220], 1: [10, 60, 110, 160, 210]}
    for proj, parameter_set in (("pair", "pair_classic"), ("triplet", "visual_cortex")):
        rule, params = PARAMETER_SETS[parameter_set]
        weights = ds[f"{proj}_w"]
        for k, i in enumerate(weights[f"{proj}_pre"].values):
            expected = reference_weight_change(
                np.array(pre[int(i)]) * ms, np.array(post[int(i)]) * ms, rule, params
            )
            assert weights.values[k] == pytest.approx(expected, rel=1e-9)


def test_the_pairing_kind_is_an_ordinary_protocol_written_to_a_file(tmp_path):
    rule, params = PARAMETER_SETS["visual_cortex"]
    delays, frequencies = np.array([-10, 10]) * ms, np.array([1, 50]) * Hz
    data = pairing_network(rule, params, delays, frequencies, 5)
    path = tmp_path / "pairing.yaml"
    path.write_text(yaml.safe_dump(data))
    ds = simulate_dataset(load_protocol(path))
    direct = run_pairing(rule, params, delays, frequencies, 5)
    np.testing.assert_allclose(
        ds.pairing_w.values[np.argsort(ds.pairing_pre.values)],
        direct.weight_change.values.ravel(),
        rtol=1e-12,
    )
    pre_i, pre_t, post_i, post_t, _ = pairing_spikes(delays, frequencies, 5, 1 * ms)
    expected = [
        reference_weight_change(pre_t[pre_i == c] * ms, post_t[post_i == c] * ms, rule, params)
        for c in range(4)
    ]
    np.testing.assert_allclose(direct.weight_change.values.ravel(), expected, rtol=1e-9)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"populations.pre.spikes.neurons": [0, 2, 0]},
            r"neurons\[1\]: expected a neuron index in 0..1, got 2",
        ),
        ({"populations.pre.spikes.neurons": [0, 1]}, r"2 neuron indices for 3 spike times"),
        ({"populations.pre.spikes.times": ["10 ms", "20 ms", "10.2 ms"]}, r"fires twice in one"),
        ({"populations.pre.spikes.times": ["10 ms", "20 ms", "100 ms"]}, r"not before the end"),
        ({"populations.pre.spikes.times": ["10 ms", "20 ms", "-1 ms"]}, r"have to be >= 0"),
        ({"populations.pre.spikes.times": ["10 ms", "20 ms", "5 mV"]}, r"times\[2\]: '5 mV'"),
        ({"populations.pre.spikes.times": {"unit": "mV", "values": [1, 2, 3]}}, r"times.unit"),
        ({"populations.pre.spikes.times": {"unit": "ms", "values": [1, "x", 3]}}, r"values\[1\]"),
        (
            {"populations.pre.spikes.times": {"unit": "ms", "values": [1, 2, float("nan")]}},
            "finite",
        ),
        ({"populations.pre.params": {"tau": "1 ms"}}, r"populations.pre: unknown key 'params'"),
        ({"populations.pre.model": "lif"}, r"populations.pre: unknown key 'model'"),
        ({"projections.learn.plasticity": None}, r"learn.variable: missing; only a projection"),
        ({"projections.learn.variable": "v"}, r"learn.variable: 'v' is not a state variable"),
        ({"projections.learn.synapse": "exp_current"}, r"learn.variable: .*not an input current"),
        ({"projections.learn.record": {"variables": ["w"], "at": "start"}}, r"record.at: the only"),
        ({"projections.learn.record": {"at": "end", "dt": "1 ms"}}, r"record.at: the only"),
        (
            {
                "stimuli": [
                    {
                        "kind": "poisson",
                        "population": "post",
                        "variable": "v",
                        "rate": "1 Hz",
                        "n_inputs": 1,
                        "weight": "1 mV",
                    }
                ]
            },
            r"stimuli\[0\].variable: 'v' is not a variable of model 'spike_source'",
        ),
        ({"record": [{"population": "pre", "variables": ["v"]}]}, r"record\[0\].variables: 'v'"),
    ],
)
def test_bad_spike_sources_and_learning_synapses_are_refused_in_one_line(
    tmp_path, changes, message
):
    data = _network(**changes)
    if (
        "plasticity" in data["projections"]["learn"]
        and not data["projections"]["learn"]["plasticity"]
    ):
        del data["projections"]["learn"]["plasticity"]  # a projection that cannot learn
    refuses_in_one_line(tmp_path, data, message)
