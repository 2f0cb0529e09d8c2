"""Projections in protocol files: spikes reach the named variable with weight and delay."""

import numpy as np
import pytest
import yaml

from neurosim.errors import NeurosimError
from neurosim.protocol import load_protocol
from neurosim.runner import run_protocol
from neurosim.testing import refuses_in_one_line

PROTOCOL = {
    "name": "two_lif",
    "description": "One driven LIF neuron projecting onto three others.",
    "seed": 4,
    "target": "numpy",
    "dt": "0.1 ms",
    "duration": "30 ms",
    "populations": {"pre": {"model": "lif", "n": 1}, "post": {"model": "lif", "n": 3}},
    "projections": {
        "pre_to_post": {
            "source": "pre",
            "target": "post",
            "variable": "v",
            "connector": "all_to_all",
            "weight": "2 mV",
            "delay": "1.5 ms",
        }
    },
    "stimuli": [
        {
            "kind": "current_step",
            "population": "pre",
            "variable": "I",
            "amplitude": "5 nA",
            "start": "5 ms",
            "stop": "6 ms",
        }
    ],
    "record": [
        {"population": "pre", "variables": ["v"], "dt": "0.1 ms", "spikes": True},
        {"population": "post", "variables": ["v"], "dt": "0.1 ms"},
    ],
}


def _write(tmp_path, data):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_a_spike_adds_the_weight_to_the_target_variable_after_the_delay(tmp_path):
    result = run_protocol(
        load_protocol(_write(tmp_path, PROTOCOL)), tmp_path / "out", progress=False
    )
    ds = result.dataset
    spikes = ds["pre_spike_time"].values
    assert len(spikes) == 1  # the 1 ms, 5 nA step makes one spike
    arrival = spikes[0] + 1.5e-3
    t, v = ds["post_time"].values, ds["post_v"].values.T  # v: (neuron, time)
    before = v[:, np.searchsorted(t, arrival - 0.05e-3) - 1]
    after = v[:, np.searchsorted(t, arrival + 0.05e-3)]
    np.testing.assert_allclose(after - before, 2e-3, rtol=0.02)  # a 2 mV jump in each
    # nothing arrives before the delay: post stays at rest until then
    np.testing.assert_allclose(v[:, t < arrival - 0.05e-3], -70e-3, atol=1e-9)


def test_input_reaching_a_refractory_neuron_is_dropped(tmp_path):
    # The targets are driven to spike with the source, so the jump arrives
    # 1.5 ms into their 2 ms refractory period: v stays at V_reset (-65 mV),
    # as in NEST's iaf_psc_delta and Brunel's model; a 3 ms delay, after the
    # period, still adds the 2 mV.
    data = yaml.safe_load(yaml.safe_dump(PROTOCOL))
    data["stimuli"].append({**data["stimuli"][0], "population": "post"})
    data["record"][1]["spikes"] = True
    jumps = {}
    for delay in ("1.5 ms", "3 ms"):
        data["projections"]["pre_to_post"]["delay"] = delay
        ds = run_protocol(load_protocol(_write(tmp_path, data)), tmp_path / delay, progress=False)
        (spike,) = ds.dataset["pre_spike_time"].values
        assert np.allclose(ds.dataset["post_spike_time"].values, spike)  # all fire together
        t, v = ds.dataset["post_time"].values, ds.dataset["post_v"].values.T
        arrival = spike + float(delay.split()[0]) * 1e-3
        k = np.searchsorted(t, arrival - 0.05e-3) - 1
        jumps[delay] = v[:, k + 2] - v[:, k]
    np.testing.assert_allclose(jumps["1.5 ms"], 0.0, atol=1e-12)  # clamped at reset
    assert np.all(jumps["3 ms"] > 1.5e-3)  # 2 mV minus two steps of leak


def test_connectors_and_distributions_in_a_protocol(tmp_path):
    data = yaml.safe_load(yaml.safe_dump(PROTOCOL))
    data["populations"]["post"]["n"] = 50
    data["projections"]["pre_to_post"].update(
        connector={"rule": "fixed_probability", "p": 0.5},
        weight={"distribution": "normal", "mean": "1 mV", "std": "0.2 mV", "min": "0 mV"},
        delay={"distribution": "uniform", "low": "1 ms", "high": "3 ms"},
    )
    protocol = load_protocol(_write(tmp_path, data))
    (proj,) = protocol.projections
    assert (proj.source, proj.target, proj.variable) == ("pre", "post", "v")
    result = run_protocol(protocol, tmp_path / "out", progress=False)
    ds = result.dataset
    v = ds["post_v"].values.T  # (neuron, time)
    jumped = (v.max(axis=1) - v.min(axis=1)) > 0.1e-3
    # about half of the 50 targets were connected (Binomial(50, 0.5): 25 +- 3.5)
    assert 10 <= jumped.sum() <= 40


BAD = [
    ({"source": "nope"}, r"projections\.pre_to_post\.source: no population 'nope'"),
    ({"variable": "I"}, r"variable: 'I' is not a state variable of model 'lif' \(have: v\)"),
    ({"weight": "2 nA"}, r"projections\.pre_to_post\.weight"),
    ({"delay": "0.05 ms"}, r"delay: delays have to be at least dt"),
    ({"delay": "1e308 s"}, r"delay: at most 10 s"),
    ({"delay": {"distribution": "normal", "mean": "1 ms", "std": "1 ms"}}, "no min >= dt"),
    ({"connector": {"rule": "fixed_probability", "p": 2}}, r"connector\.p: expected a probability"),
    ({"connector": "one_to_one"}, "same size, got 1 and 3"),
    (
        {"connector": {"rule": "fixed_indegree", "indegree": 2, "multapses": False}},
        "2 distinct partners out of 1",
    ),
    ({"weights": "1 mV"}, "did you mean 'weight'"),
]


@pytest.mark.parametrize(("change", "message"), BAD)
def test_bad_projections_are_one_line_before_building(tmp_path, change, message):
    data = yaml.safe_load(yaml.safe_dump(PROTOCOL))
    proj = data["projections"]["pre_to_post"]
    proj.update(change)
    if "weights" in change:
        del proj["weight"]
    with pytest.raises(NeurosimError, match=message) as info:
        load_protocol(_write(tmp_path, data))
    assert "\n" not in str(info.value) and len(str(info.value)) < 300


def test_projection_names_and_memory_are_checked(tmp_path):
    data = yaml.safe_load(yaml.safe_dump(PROTOCOL))
    data["projections"]["post"] = data["projections"].pop("pre_to_post")
    with pytest.raises(NeurosimError, match="the name 'post' is used twice"):
        load_protocol(_write(tmp_path, data))
    # 10^5 x 10^5 all-to-all: 10^10 synapses, refused from the sizes alone
    data = yaml.safe_load(yaml.safe_dump(PROTOCOL))
    data["populations"]["pre"]["n"] = data["populations"]["post"]["n"] = 100_000
    with pytest.raises(NeurosimError, match="synapses, more than"):
        load_protocol(_write(tmp_path, data))
    # 44,000 x 44,000 all-to-all: 1.9e9 synapses, about 93 GB: refused from the estimate
    data["populations"]["pre"]["n"] = data["populations"]["post"]["n"] = 44_000
    data["record"] = []
    with pytest.raises(NeurosimError, match="needs about"):
        load_protocol(_write(tmp_path, data))


def test_brunel_network_is_data():
    # Brunel (2000), model A at full scale: 12,500 LIF neurons, 15.6 million
    # delta synapses with fixed in-degrees, all from the protocol file
    from neurosim.networks.projections import synapse_count
    from neurosim.protocol import estimate_memory

    protocol = load_protocol("brunel2000_ai")
    counts = {p.name: synapse_count(p, protocol.populations) for p in protocol.projections}
    assert counts == {
        "exc_exc": 10_000_000,
        "exc_inh": 2_500_000,
        "inh_exc": 2_500_000,
        "inh_inh": 625_000,
    }
    weights = {p.name: p.weight.mean() for p in protocol.projections}
    assert weights["inh_exc"] == pytest.approx(-5 * weights["exc_exc"])  # g = 5
    assert estimate_memory(protocol)["network"] > 48 * 15_625_000


def _with_file(tmp_path, i, j, **flags):
    np.savez(tmp_path / "pairs.npz", i=np.asarray(i), j=np.asarray(j))
    data = yaml.safe_load(yaml.safe_dump(PROTOCOL))
    data["projections"]["pre_to_post"]["connector"] = {
        "rule": "from_file",
        "file": "pairs.npz",
        **flags,
    }
    data["projections"]["pre_to_post"]["record"] = {"synapses": "all"}
    return _write(tmp_path, data)


def test_connections_from_a_file(tmp_path):
    # The file's pairs, exactly, in its order (relative to the protocol's folder).
    path = _with_file(tmp_path, [0, 0], [2, 0])
    protocol = load_protocol(path)
    # synapses, largest i + 1, largest j + 1, pairs with i == j (autapses if one population)
    assert protocol.projections[0].connector.extent == (2, 1, 3, 1)
    ds = run_protocol(protocol, tmp_path / "out", progress=False).dataset
    assert list(ds["pre_to_post_pre"].values) == [0, 0]
    assert list(ds["pre_to_post_post"].values) == [2, 0]
    v = ds["post_v"].values.T
    jumped = (v.max(axis=1) - v.min(axis=1)) > 1e-3
    assert list(jumped) == [True, False, True]  # neuron 1 has no synapse


@pytest.mark.parametrize(
    ("i", "j", "flags", "message"),
    [
        ([0, 1], [0, 0], {}, r"indices up to 1 \(i\) and 0 \(j\) for populations of 1 and 3"),
        ([0, 0], [1, 1], {"multapses": False}, r"repeated pairs"),
        ([0.5], [1], {}, r"must be 1-d integer arrays"),
        ([-1], [1], {}, r"negative neuron index"),
    ],
)
def test_bad_connection_files_are_one_line(tmp_path, i, j, flags, message):
    with pytest.raises(NeurosimError, match=message) as err:
        load_protocol(_with_file(tmp_path, i, j, **flags))
    assert "\n" not in str(err.value)


def test_connection_file_missing_garbled_or_changed(tmp_path):
    path = _with_file(tmp_path, [0], [1])
    protocol = load_protocol(path)
    (tmp_path / "pairs.npz").write_bytes(b"not a zip")
    with pytest.raises(NeurosimError, match=r"is not an \.npz file"):
        load_protocol(path)
    with pytest.raises(NeurosimError, match=r"changed or vanished since the protocol loaded"):
        run_protocol(protocol, tmp_path / "out", progress=False)
    (tmp_path / "pairs.npz").unlink()
    with pytest.raises(NeurosimError, match=r"connector\.file: no file"):
        load_protocol(path)


def _with_arrays(tmp_path, arrays, **specs):
    """A protocol whose connector file holds ``arrays``; weight and delay read from it."""
    np.savez(tmp_path / "synapses.npz", **{k: np.asarray(v) for k, v in arrays.items()})
    data = yaml.safe_load(yaml.safe_dump(PROTOCOL))
    proj = data["projections"]["pre_to_post"]
    proj["connector"] = {"rule": "from_file", "file": "synapses.npz"}
    proj["weight"] = {"from_file": "weight", "unit": "mV"}
    proj["delay"] = {"from_file": "delay", "unit": "ms"}
    proj["record"] = {"synapses": "all"}
    proj.update(specs)
    return data


def test_weights_and_delays_from_the_connector_file_reach_their_synapses(tmp_path):
    # Four synapses in the file's order, two of them onto neuron 2: each
    # neuron's potential jumps by its synapses' weights at the spike + their delays.
    arrays = {
        "i": np.zeros(4, int),
        "j": np.array([2, 0, 1, 2]),
        "weight": np.array([1.0, 2.0, 3.0, 0.5]),  # mV, stated in the protocol
        "delay": np.array([1, 2, 3, 4]),  # ms; integer arrays are numbers too
    }
    data = _with_arrays(tmp_path, arrays)
    ds = run_protocol(load_protocol(_write(tmp_path, data)), tmp_path / "o", progress=False)
    ds = ds.dataset
    assert list(ds["pre_to_post_post"].values) == [2, 0, 1, 2]
    np.testing.assert_allclose(ds["pre_to_post_w"].values[0], 1e-3 * arrays["weight"])
    (spike,) = ds["pre_spike_time"].values
    t, v = ds["post_time"].values, ds["post_v"].values.T
    for post, weight, delay in zip(arrays["j"], arrays["weight"], arrays["delay"], strict=True):
        arrival = spike + 1e-3 * delay
        before = v[post, np.searchsorted(t, arrival - 0.05e-3) - 1]
        after = v[post, np.searchsorted(t, arrival + 0.05e-3)]
        # within the leak of 0.2 ms (the decay of an earlier jump: 0.02 mV per mV)
        np.testing.assert_allclose(after - before, 1e-3 * weight, atol=0.03e-3)
    # neuron 0 (2 ms) stays at rest until its synapse's delay
    np.testing.assert_allclose(v[0, t < spike + 2e-3 - 0.05e-3], -70e-3, atol=1e-9)


GOOD = {"i": [0, 0], "j": [0, 1], "weight": [1.0, 2.0], "delay": [1.0, 2.0]}


@pytest.mark.parametrize(
    ("change", "specs", "message"),
    [
        ({"weight": [1.0, np.nan]}, {}, r"weight\.from_file: 'weight' in .* is nan at synapse 1"),
        ({"delay": [1.0, np.inf]}, {}, r"delay\.from_file: 'delay' in .* is inf at synapse 1"),
        ({"weight": [1.0, 2.0, 3.0]}, {}, r"'weight' in .* has 3 values for 2 synapses"),
        ({"weight": [[1.0, 2.0]]}, {}, r"must be a 1-d array of real numbers, got 2-d"),
        ({"weight": [True, False]}, {}, r"must be a 1-d array of real numbers, got 1-d bool"),
        ({"weight": ["1", "2"]}, {}, r"must be a 1-d array of real numbers"),
        (
            {"delay": [0.05, 1.0]},
            {},
            r"delay: delays have to be at least dt .* 0\.05 ms in 'delay'",
        ),
        ({"delay": [1.0, 2e4]}, {}, r"delay: at most 10 s, got up to 20 s in the file"),
        ({}, {"weight": {"from_file": "w", "unit": "mV"}}, r"no array 'w' in .* \(have: i, j"),
        (
            {},
            {"weight": {"from_file": "weight", "unit": "ms"}},
            r"weight\.unit: .* units of second",
        ),
        ({}, {"weight": {"from_file": "weight"}}, r"weight: missing required key 'unit'"),
    ],
)
def test_bad_weight_and_delay_arrays_are_one_line(tmp_path, change, specs, message):
    refuses_in_one_line(tmp_path, _with_arrays(tmp_path, {**GOOD, **change}, **specs), message)


def test_file_arrays_need_the_file_connector_and_an_unchanged_file(tmp_path):
    data = _with_arrays(tmp_path, GOOD)
    data["projections"]["pre_to_post"]["connector"] = "all_to_all"
    refuses_in_one_line(
        tmp_path, data, r"weight\.from_file: reads the connector's file, but the connector's rule"
    )
    protocol = load_protocol(_write(tmp_path, _with_arrays(tmp_path, GOOD)))
    np.savez(tmp_path / "synapses.npz", **{**GOOD, "weight": [5.0, 6.0]})
    with pytest.raises(NeurosimError, match=r"changed or vanished since the protocol loaded"):
        run_protocol(protocol, tmp_path / "o", progress=False)
