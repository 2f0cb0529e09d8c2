"""Plasticity rules by name on protocol projections; synapse variables recorded."""

import numpy as np
import pytest
import yaml
from brian2 import ms

from neurosim.plasticity.stdp import DEFAULTS, RULES, reference_weight_change
from neurosim.protocol import load_protocol
from neurosim.runner import run_protocol
from neurosim.testing import refuses_in_one_line

DT = 0.1e-3


def _pulses(population, times):
    return [
        {
            "kind": "current_step",
            "population": population,
            "variable": "I",
            "amplitude": "5 nA",
            "start": f"{t} ms",
            "stop": f"{t + 1} ms",
        }
        for t in times
    ]


def _protocol(plasticity, pre_times=(5, 45), post_times=(15, 40), record=None):
    """A pre and a post LIF neuron made to spike by pulses; one plastic synapse."""
    proj = {
        "source": "pre",
        "target": "post",
        "variable": "v",
        "connector": "all_to_all",
        "weight": "0.01 mV",
        "delay": "0.1 ms",
        "plasticity": plasticity,
        "record": record or {"variables": ["w"], "dt": "0.1 ms"},
    }
    return {
        "name": "plastic_pair",
        "description": "Pre and post spikes at chosen times through one plastic synapse.",
        "seed": 2,
        "target": "numpy",
        "dt": "0.1 ms",
        "duration": "80 ms",
        "populations": {"pre": {"model": "lif", "n": 1}, "post": {"model": "lif", "n": 1}},
        "projections": {"syn": proj},
        "stimuli": _pulses("pre", pre_times) + _pulses("post", post_times),
        "record": [
            {"population": "pre", "variables": ["v"], "spikes": True},
            {"population": "post", "variables": ["v"], "spikes": True},
        ],
    }


def _run(tmp_path, data):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return run_protocol(load_protocol(path), tmp_path / "out", progress=False).dataset


@pytest.mark.parametrize("rule", sorted(RULES))
def test_every_rule_on_a_projection_matches_its_reference(tmp_path, rule):
    # Every registered rule (a new one needs its numpy reference). Post 10 ms
    # after pre, then 5 ms before the next pre: the weight changes
    # by the numpy reference's sum over all pairs (the pre side acting when
    # the spike arrives: with the shortest delay, dt, in the step the spike
    # is stamped, see projections.py), in units of w_max.
    ds = _run(tmp_path, _protocol({"rule": rule, "w_max": "1 mV", "w_min": "-1 mV"}))
    pre, post = ds["pre_spike_time"].values, ds["post_spike_time"].values
    assert len(pre) == 2 and len(post) == 2
    want = reference_weight_change(pre * 1e3 * ms, post * 1e3 * ms, rule, DEFAULTS[rule])
    w = ds["syn_w"].values[:, 0]
    assert ds["syn_w"].attrs["units"] == "V" or ds["syn_w"].attrs["units"] == "volt"
    assert abs(want) > 1e-4  # the protocol does change the weight
    np.testing.assert_allclose(w[-1] - w[0], want * 1e-3, rtol=1e-6, atol=1e-12)
    assert list(ds["syn_pre"].values) == [0] and list(ds["syn_post"].values) == [0]


def test_vogels_rule_and_bounds(tmp_path):
    # Vogels' rule: a pre spike alone depresses by eta alpha w_max (alpha =
    # 2 rho0 tau = 0.12), which from 0.01 mV goes below w_min = 0 and is
    # clipped there; post 10 ms later potentiates by eta exp(-10 ms / tau).
    plasticity = {"rule": "vogels", "eta": 0.2, "w_max": "1 mV"}
    ds = _run(tmp_path, _protocol(plasticity, pre_times=(5,), post_times=(15,)))
    pre, post = ds["pre_spike_time"].values[0], ds["post_spike_time"].values[0]
    w, t = ds["syn_w"].values[:, 0], ds["syn_time"].values
    assert 1e-5 - 0.2 * 0.12 * 1e-3 < 0  # the depression would cross w_min
    between = (t > pre + DT) & (t <= post)  # recorded a step after it happens
    np.testing.assert_allclose(w[between], 0.0, atol=1e-15)  # clipped at w_min
    np.testing.assert_allclose(w[-1], 0.2 * np.exp(-(post - pre) / 20e-3) * 1e-3, rtol=1e-6)


BAD = [
    ({"plasticity": {"rule": "hebb", "w_max": "1 mV"}}, r"plasticity\.rule: unknown rule 'hebb'"),
    ({"plasticity": {"rule": "pair", "w_max": "1 nS"}}, r"plasticity\.w_max"),
    ({"plasticity": {"rule": "pair", "w_max": "1 mV", "tau_plus": "3"}}, r"tau_plus"),
    ({"plasticity": {"rule": "pair", "w_max": "1 mV", "eta": 1}}, r"eta"),
    (
        {"plasticity": {"rule": "pair", "w_max": "1 mV", "tau_plus": "-5 ms"}},
        r"plasticity\.tau_plus: the time 'tau_plus' has to be > 0",
    ),
    ({"plasticity": {"rule": "pair", "w_max": "1 mV", "w_min": "2 mV"}}, r"w_min: has to be below"),
    ({"record": {"variables": ["x"]}}, r"record\.variables: 'x' is not a variable"),
    ({"record": {"synapses": 0}}, r"record\.synapses: expected 'all' or a sample size"),
    ({"record": {"dt": "0.01 ms"}}, r"record\.dt: has to be at least"),
]


@pytest.mark.parametrize(("change", "message"), BAD)
def test_bad_plasticity_and_records_are_one_line(tmp_path, change, message):
    data = _protocol({"rule": "pair", "w_max": "1 mV"})
    data["projections"]["syn"].update(change)
    refuses_in_one_line(tmp_path, data, message)
