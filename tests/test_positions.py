"""Population positions, the distance-dependent connector and distance expressions."""

import numpy as np
import pytest
import yaml

from neurosim.networks.connectors import (
    connect,
    connector_from_spec,
    distance_probability,
    expected_synapses,
)
from neurosim.networks.positions import check_positions, distances, make_positions
from neurosim.networks.projections import build_projection, pair_positions
from neurosim.protocol import load_protocol
from neurosim.runner import run_protocol
from neurosim.testing import refuses_in_one_line


def test_grid_and_random_layouts():
    spec = check_positions({"layout": "grid", "shape": [2, 3], "extent": ["2 mm", "3 mm"]}, 6, "p")
    pos = make_positions(spec, 6, np.random.default_rng(0))
    np.testing.assert_allclose(pos[:, 0], 1e-3 * np.array([0.5, 0.5, 0.5, 1.5, 1.5, 1.5]))
    np.testing.assert_allclose(pos[:, 1], 1e-3 * np.array([0.5, 1.5, 2.5, 0.5, 1.5, 2.5]))
    spec = check_positions({"layout": "random", "extent": ["1 mm", "200 um", "50 um"]}, 500, "p")
    a = make_positions(spec, 500, np.random.default_rng(4))
    assert a.shape == (500, 3) and np.all(a >= 0) and np.all(a <= [1e-3, 2e-4, 5e-5])
    np.testing.assert_array_equal(a, make_positions(spec, 500, np.random.default_rng(4)))


def test_periodic_distances_wrap():
    a, b = np.array([[0.05], [0.5]]), np.array([[0.95]])
    np.testing.assert_allclose(distances(a, b, None)[:, 0], [0.9, 0.45])
    np.testing.assert_allclose(distances(a, b, np.array([1.0]))[:, 0], [0.1, 0.45])


def test_distance_rule_follows_its_profile():
    # A periodic ring of 400 neurons, 1 um apart: the fraction of pairs
    # connected at each distance is p0 exp(-d^2 / 2 scale^2) within 4
    # binomial standard deviations, none beyond the cutoff, no autapses, and
    # the count matches the expected one (the sum of the probabilities).
    n = 400
    pos = (np.arange(n)[:, None] + 0.5) * 1e-6
    spatial = (pos, pos, np.array([n * 1e-6]))
    conn = connector_from_spec(
        {"rule": "distance", "p0": 0.8, "profile": "gaussian", "scale": "20 um",
         "cutoff": "50 um", "autapses": False},
        "c",
    )  # fmt: skip
    i, j = connect(conn, n, n, np.random.default_rng(1), same=True, positions=spatial)
    d = np.round(distances(pos, pos, spatial[2]) * 1e6).astype(int)
    assert np.all(i != j) and d[i, j].max() <= 50
    want = expected_synapses(conn, n, n, True, spatial)
    assert abs(len(i) - want) < 4 * np.sqrt(want)
    made = np.bincount(d[i, j], minlength=201)
    pairs = np.bincount(d.ravel(), minlength=201)
    for k in (1, 10, 20, 40):
        p = float(distance_probability(conn, np.array(k * 1e-6)))
        assert abs(made[k] - p * pairs[k]) < 4 * np.sqrt(pairs[k] * p * (1 - p)) + 1


PROTOCOL = {
    "name": "sheet",
    "description": "Two sheets of LIF neurons connected by distance.",
    "seed": 7,
    "target": "numpy",
    "dt": "0.1 ms",
    "duration": "5 ms",
    "populations": {
        "a": {
            "model": "lif",
            "n": 100,
            "positions": {
                "layout": "grid",
                "shape": [10, 10],
                "extent": ["1 mm", "1 mm"],
                "periodic": True,
            },
        },
        "b": {
            "model": "lif",
            "n": 50,
            "positions": {"layout": "random", "extent": ["1 mm", "1 mm"], "periodic": True},
        },
    },
    "projections": {
        "ab": {
            "source": "a",
            "target": "b",
            "variable": "v",
            "connector": {
                "rule": "distance",
                "p0": 1.0,
                "profile": "exponential",
                "scale": "100 um",
            },
            "weight": "0.1 mV",
            "record": {"synapses": "all", "dt": "5 ms"},
        }
    },
    "record": [{"population": "b", "variables": ["v"], "neurons": [0]}],
}


def _write(tmp_path, data):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_distance_connector_in_a_protocol(tmp_path):
    ds = run_protocol(load_protocol(_write(tmp_path, PROTOCOL)), tmp_path / "o", progress=False)
    ds = ds.dataset
    pos_a, pos_b = ds["a_position"].values, ds["b_position"].values
    assert pos_a.shape == (100, 2) and ds["a_position"].attrs["units"] == "metre"
    pre, post = ds["ab_pre"].values, ds["ab_post"].values
    period = np.array([1e-3, 1e-3])
    gap = np.abs(pos_a[pre] - pos_b[post])
    made = np.sqrt((np.minimum(gap, period - gap) ** 2).sum(axis=1))
    # exponential profile, scale 100 um: connected pairs lie far closer than
    # the average pair of the periodic 1 mm box (about 0.38 mm)
    assert 50 < len(pre) and made.mean() < 0.6 * distances(pos_a, pos_b, period).mean()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"populations": {"b": {"model": "lif", "n": 50}}}, r"needs positions: on population 'b'"),
        (
            {
                "populations": {
                    "b": {
                        "model": "lif",
                        "n": 50,
                        "positions": {
                            "layout": "grid",
                            "shape": [5, 5],
                            "extent": ["1 mm", "1 mm"],
                        },
                    }
                }
            },
            r"positions\.shape: 5 x 5 cells for 50 neurons",
        ),
        (
            {
                "populations": {
                    "b": {
                        "model": "lif",
                        "n": 50,
                        "positions": {"layout": "random", "extent": ["1 mm", "1 mm"]},
                    }
                }
            },
            r"periodic distances need both populations periodic",
        ),
        (
            {
                "projections": {
                    "ab": {
                        **PROTOCOL["projections"]["ab"],
                        "connector": {
                            "rule": "distance",
                            "p0": 1.0,
                            "profile": "box",
                            "scale": "1 um",
                        },
                    }
                }
            },
            r"connector\.profile: expected one of gaussian, exponential",
        ),
    ],
)
def test_bad_positions_and_distance_rules_are_one_line(tmp_path, change, message):
    data = yaml.safe_load(yaml.safe_dump(PROTOCOL))
    for section, value in change.items():
        data[section].update(value)
    refuses_in_one_line(tmp_path, data, message)


# --- weights and delays as expressions of the distance ----------------------------

WEIGHT = "0.5 mV * exp(-d / (200 um))"
DELAY = "0.5 ms + d / (0.3 m/s)"


def _spatial_protocol(weight=WEIGHT, delay=DELAY, **changes):
    data = yaml.safe_load(yaml.safe_dump(PROTOCOL))
    data["projections"]["ab"].update(
        {"weight": {"expression": weight}, "delay": {"expression": delay}, **changes}
    )
    return data


def _wrapped(pos_a, pos_b, pre, post, period):
    """Distances of the pairs taken the short way around the box (written out here)."""
    gap = np.abs(pos_a[pre] - pos_b[post])
    return np.sqrt((np.minimum(gap, period - gap) ** 2).sum(axis=1)), np.sqrt((gap**2).sum(1))


def test_expression_weights_are_the_closed_form_of_each_synapse_distance(tmp_path):
    ds = run_protocol(
        load_protocol(_write(tmp_path, _spatial_protocol())), tmp_path / "o", progress=False
    ).dataset
    pre, post = ds["ab_pre"].values, ds["ab_post"].values
    d, straight = _wrapped(
        ds["a_position"].values, ds["b_position"].values, pre, post, np.array([1e-3, 1e-3])
    )
    assert np.any(d < 0.5 * straight)  # synapses across the box's edge: the wrap matters
    w = ds["ab_w"].values[0]  # (time, synapse): the first sample, weights are static
    np.testing.assert_allclose(w, 0.5e-3 * np.exp(-d / 200e-6), rtol=1e-12)


def test_expression_delays_are_the_closed_form_of_each_synapse_distance(tmp_path):
    import brian2 as b2

    protocol = load_protocol(_write(tmp_path, _spatial_protocol()))
    proj = protocol.projections[0]
    assert proj.needs_positions
    groups = {
        name: b2.NeuronGroup(
            pop["n"], "dv/dt = -v / (10*ms) : volt", threshold="v > 1*volt", name=f"{name}_x"
        )
        for name, pop in protocol.populations.items()
    }
    spatial = pair_positions(protocol.populations, "a", "b", protocol.seed, "ab")
    syn = build_projection(proj, groups, np.random.default_rng(0), spatial)
    pre, post = syn.neurosim_pairs
    d, _ = _wrapped(spatial[0], spatial[1], pre, post, spatial[2])
    # Brian2's pathway gets delay - dt (NEST's count of delays, see projections.py)
    delays = np.asarray(syn.delay[:] / b2.second) + 1e-4
    np.testing.assert_allclose(delays, 0.5e-3 + d / 0.3, rtol=1e-9)
    np.testing.assert_allclose(np.asarray(syn.w[:] / b2.volt), 0.5e-3 * np.exp(-d / 200e-6))
    assert len(pre) > 50


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {
                **_spatial_protocol(connector="all_to_all"),
                "populations": {**PROTOCOL["populations"], "b": {"model": "lif", "n": 50}},
            },
            r"projections\.ab\.weight: a distance expression needs positions: on population 'b'",
        ),
        (_spatial_protocol(delay="d / (0.3 m/s)"), r"ab\.delay: delays have to be at least dt"),
        (  # the largest distance in the periodic 1 mm box: half its diagonal
            _spatial_protocol(delay="d / (1 um/s)"),
            r"ab\.delay: at most 10 s, got up to 707\.107 s from 'd / \(1 um/s\)'",
        ),
        (_spatial_protocol(weight="1 mV * log(d / um)"), r"ab\.weight\.expression: .* is -inf"),
        (_spatial_protocol(weight="1 nA * exp(-d / um)"), r"has units of amp, expected volt"),
        (_spatial_protocol(weight="os.system('x')"), r"ab\.weight\.expression: Attribute"),
    ],
)
def test_bad_distance_expressions_in_a_protocol_are_one_line(tmp_path, data, message):
    refuses_in_one_line(tmp_path, data, message)


def test_nest_refuses_distance_expressions_in_one_line(tmp_path):
    pytest.importorskip("nest", reason="NEST is the peers extra: pip install -e '.[peers]'")
    from neurosim.errors import NeurosimError
    from neurosim.peers.nest import run_in_nest

    protocol = load_protocol(_write(tmp_path, _spatial_protocol()))
    with pytest.raises(NeurosimError, match=r"ab\.weight: .* not an expression of the distance"):
        run_in_nest(protocol)
