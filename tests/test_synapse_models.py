"""Synapse models as data files: each shipped model against its closed form."""

import numpy as np
import pytest
import yaml

from neurosim.errors import NeurosimError
from neurosim.networks.synapses import list_synapse_models, load_synapse_model
from neurosim.protocol import load_protocol
from neurosim.runner import run_protocol
from neurosim.testing import refuses_in_one_line

DELAY = 1e-3
DT = 1e-5
# Brian2 stamps a spike with the start of the step that detected it, one step
# before the time it was crossed (NEST's stamp); a synapse model's input then
# reaches the target exactly DELAY after that crossing (neurosim's pathway of a
# synapse model is the nominal delay, as NEST's iaf_psc_exp sees it).
ARRIVAL = DELAY + DT


def _protocol(synapse, weight, drive="5 nA", stop="6 ms", duration="60 ms"):
    """One LIF neuron driven to spike, projecting onto one LIF neuron via ``synapse``."""
    return {
        "name": "synapse_check",
        "description": "One spiking neuron onto one target through a synapse model.",
        "seed": 1,
        "target": "numpy",
        "dt": "0.01 ms",
        "duration": duration,
        "populations": {
            "pre": {"model": "lif", "n": 1},
            # rk4: the conductance terms g (E - v) are not linear, and the
            # synaptic kinetics need a small integration error
            "post": {"model": "lif", "n": 1, "method": "rk4"},
        },
        "projections": {
            "syn": {
                "source": "pre",
                "target": "post",
                "variable": "I",
                "connector": "all_to_all",
                "weight": weight,
                "delay": f"{DELAY * 1e3} ms",
                "synapse": synapse,
            }
        },
        "stimuli": [
            {
                "kind": "current_step",
                "population": "pre",
                "variable": "I",
                "amplitude": drive,
                "start": "5 ms",
                "stop": stop,
            }
        ],
        "record": [
            {"population": "pre", "variables": ["v"], "dt": "0.01 ms", "spikes": True},
            {"population": "post", "variables": ["v", "I"], "dt": "0.01 ms"},
        ],
    }


def _run(tmp_path, data):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    ds = run_protocol(load_protocol(path), tmp_path / "out", progress=False).dataset
    t = ds["post_time"].values
    return ds["pre_spike_time"].values, t, ds["post_I"].values[:, 0], ds["post_v"].values[:, 0]


def test_shipped_synapse_models_load():
    names = {name for name, _ in list_synapse_models()}
    assert {
        "exp_current",
        "alpha_current",
        "exp_conductance",
        "biexp_conductance",
        "nmda",
        "tsodyks_markram",
    } <= names
    for name in names:
        assert load_synapse_model(name).name == name


@pytest.mark.parametrize(
    ("synapse", "shape"),
    [
        ({"model": "exp_current", "tau": "4 ms"}, lambda s: np.exp(-s / 4e-3)),
        ({"model": "alpha_current", "tau": "2 ms"}, lambda s: s / 2e-3 * np.exp(1 - s / 2e-3)),
    ],
)
def test_current_synapses_follow_their_kernel(tmp_path, synapse, shape):
    spikes, t, current, _ = _run(tmp_path, _protocol(synapse, "30 pA"))
    assert len(spikes) == 1
    s = t - spikes[0] - ARRIVAL
    after = s > 0.05e-3
    np.testing.assert_allclose(current[after], 30e-12 * shape(s[after]), rtol=1e-4, atol=1e-16)
    assert np.all(current[s < -0.05e-3] == 0)  # nothing before the spike arrives


def _biexp(s, rise, decay):
    g = np.exp(-s / decay) - np.exp(-s / rise)
    return g / g.max()


@pytest.mark.parametrize(
    ("synapse", "shape", "reversal", "block"),
    [
        ({"model": "exp_conductance", "E_rev": "-80 mV"}, lambda s: np.exp(-s / 5e-3), -80e-3, 0),
        (
            {"model": "biexp_conductance", "tau_rise": "0.5 ms", "tau_decay": "5 ms"},
            lambda s: _biexp(s, 0.5e-3, 5e-3),
            0.0,
            0,
        ),
        ({"model": "nmda"}, lambda s: _biexp(s, 2e-3, 100e-3), 0.0, 1),
    ],
)
def test_conductance_synapses_follow_their_kernel(tmp_path, synapse, shape, reversal, block):
    # g = I / (E_rev - V) from the recorded current and potential, peak w;
    # NMDA: the Jahr-Stevens block at the recorded V divides it out.
    spikes, t, current, v = _run(tmp_path, _protocol(synapse, "2 nS", duration="300 ms"))
    s = t - spikes[0] - ARRIVAL
    after = s > 0.05e-3
    mg = 1 / (1 + 1.0 / 3.57 * np.exp(-0.062 * v * 1e3)) if block else 1.0
    g = current / ((reversal - v) * mg)
    np.testing.assert_allclose(g[after], 2e-9 * shape(s[after]), rtol=5e-3, atol=1e-13)


def test_tsodyks_markram_release_follows_the_recursion(tmp_path):
    # A train of presynaptic spikes: each arrival makes the current jump by
    # w u x, with u and x from NEST's tsodyks2 update at the actual spike times.
    data = _protocol("tsodyks_markram", "100 pA", drive="1 nA", stop="200 ms", duration="200 ms")
    spikes, t, current, _ = _run(tmp_path, data)
    assert len(spikes) >= 5
    jumps = []
    for arrival in spikes + ARRIVAL:
        k = np.searchsorted(t, arrival - 1e-9)
        jumps.append(current[k + 1] - current[k - 1] * np.exp(-2e-5 / 3e-3))
    u, x, last, want = 0.0, 1.0, 0.0, []
    for ts in spikes:
        x = 1 + (x - x * u - 1) * np.exp(-(ts - last) / 0.8)
        u = 0.5 + u * 0.5 * np.exp(-(ts - last) / 1e-6)
        last = ts
        want.append(100e-12 * u * x)
    np.testing.assert_allclose(jumps, want, rtol=2e-2)
    assert want[-1] < 0.5 * want[0]  # it depressed


BAD = [
    ({"variable": "v"}, r"syn\.variable: 'v' is not an input current of model 'lif'"),
    ({"weight": "2 mV"}, r"syn\.weight"),
    ({"synapse": {"model": "exp_current", "tau_x": "1 ms"}}, r"tau_x: not a parameter"),
    ({"synapse": {"model": "exp_current", "tau": "1 mV"}}, r"synapse\.tau"),
    ({"synapse": {"model": "exp_current", "tau": "0 ms"}}, r"synapse\.tau: the time 'tau' has"),
    ({"synapse": "nope"}, r"synapse\.model: no synapse model 'nope'"),
    ({"synapse": {"model": "../lif"}}, r"synapse\.model: expected a shipped synapse model"),
]


@pytest.mark.parametrize(("change", "message"), BAD)
def test_bad_synapse_settings_are_one_line(tmp_path, change, message):
    data = _protocol("exp_current", "30 pA")
    data["projections"]["syn"].update(change)
    refuses_in_one_line(tmp_path, data, message)


def test_bad_synapse_files_are_one_line(tmp_path):
    good = yaml.safe_load(load_synapse_model("exp_current").path.read_text())
    cases = [
        ({"current": "I_syn * nope"}, "nope"),
        ({"on_pre": "v_post += w"}, "v_post"),
        ({"weight": "volt"}, "units"),
        ({"parameters": {"tau": {"value": "-5 ms", "description": "x"}}}, "has to be > 0"),
        ({"post": "dI_syn/dt = -I_syn / tau : volt"}, "units"),
    ]
    for change, message in cases:
        path = tmp_path / "exp_current.yaml"
        path.write_text(yaml.safe_dump({**good, **change}))
        with pytest.raises(NeurosimError, match=message) as err:
            load_synapse_model(path)
        assert "\n" not in str(err.value)
