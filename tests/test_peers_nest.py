"""neurosim against NEST on the same protocol file (the ``peers`` extra; make test installs it)."""

import tempfile
from pathlib import Path

import pytest

from neurosim.analysis.population import population_statistics
from neurosim.errors import NeurosimError
from neurosim.protocol import load_protocol

pytest.importorskip("nest", reason="NEST is the peers extra: pip install -e '.[peers]'")

from neurosim.peers.nest import _conn_spec, run_in_nest
from neurosim.runner import simulate

# Brunel's AI state at a fifth of the size (same in-degrees, so the same
# balance), 1 s: ~20 s in each simulator.
SMALL = ["populations.exc.n=2000", "populations.inh.n=500"]


def test_brunel_ai_statistics_match_nest():
    # Same file, both simulators: rate and CV within 10 %, Fano factor within
    # 10 %, dominant frequency within 15 % (two Welch bins at ~100 Hz), for
    # both populations over 200-1000 ms.
    protocol = load_protocol("brunel2000_ai", SMALL)
    with tempfile.TemporaryDirectory() as out:
        ds = simulate(protocol, Path(out), progress=False).dataset
    theirs = run_in_nest(protocol)
    for pop, size in theirs.sizes.items():
        ours = population_statistics(
            ds[f"{pop}_spike_time"].values,
            ds[f"{pop}_spike_neuron"].values.astype(int),
            size,
            0.2,
            1.0,
        )
        nest = population_statistics(*theirs.spikes[pop], size, 0.2, 1.0)
        assert nest.rate > 5 and nest.spikes > 10_000  # the network is active
        assert ours.rate == pytest.approx(nest.rate, rel=0.1)
        assert ours.cv == pytest.approx(nest.cv, rel=0.1)
        assert ours.fano == pytest.approx(nest.fano, rel=0.1)
        assert ours.frequency == pytest.approx(nest.frequency, rel=0.15)
        # the protocol's own measurement is the same computation
        assert float(ds[f"{pop}_rate"]) == pytest.approx(ours.rate)
        assert float(ds[f"{pop}_cv"]) == pytest.approx(ours.cv)


def test_translation_of_connectors_and_refusals():
    protocol = load_protocol(
        "brunel2000_ai",
        [
            *SMALL,
            "projections.exc_exc.connector={rule: fixed_probability, p: 0.1, autapses: false}",
            "projections.inh_inh.connector={rule: fixed_total_number, n: 500, multapses: false}",
        ],
    )
    by_name = {p.name: p for p in protocol.projections}
    assert _conn_spec(by_name["exc_exc"], "") == {
        "rule": "pairwise_bernoulli",
        "p": 0.1,
        "allow_autapses": False,
    }
    assert _conn_spec(by_name["inh_inh"], "") == {
        "rule": "fixed_total_number",
        "N": 500,
        "allow_autapses": True,
        "allow_multapses": False,
    }
    assert _conn_spec(by_name["exc_inh"], "")["indegree"] == 1000
    bad = load_protocol(
        "brunel2000_ai",
        [*SMALL, "populations.inh.model=adex", "populations.inh.params={C: 250 pF, g_L: 12.5 nS}"],
    )
    with pytest.raises(NeurosimError, match=r"populations\.inh\.model: 'adex' has no NEST"):
        run_in_nest(bad)
