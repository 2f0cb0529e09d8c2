"""neurosim against NEST on the same protocol file (the ``peers`` extra; make test installs it)."""

import tempfile
from pathlib import Path

import numpy as np
import pytest
from brian2 import ms

from neurosim.analysis.population import population_statistics
from neurosim.errors import NeurosimError
from neurosim.protocol import load_protocol

pytest.importorskip("nest", reason="NEST is the peers extra: pip install -e '.[peers]'")

from neurosim.peers.nest import _conn_spec, run_in_nest
from neurosim.runner import simulate

# Brunel's AI state at a fifth of the size (same in-degrees, so the same
# balance), 1 s: ~10 s a seed in NEST, ~20 s in neurosim.
SMALL = ["populations.exc.n=2000", "populations.inh.n=500"]
SEEDS = (1, 2, 3)


def test_brunel_ai_statistics_match_nest():
    # The criterion, at this size: for both populations and each of
    # rate, CV, Fano factor and dominant frequency over 200-1000 ms, the median
    # over three seeds in neurosim lies within 10 % of NEST's median or
    # within NEST's own seed-to-seed range, whichever is larger.
    ours, theirs = [], []
    for seed in SEEDS:
        protocol = load_protocol("brunel2000_ai", [*SMALL, f"seed={seed}"])
        with tempfile.TemporaryDirectory() as out:
            ds = simulate(protocol, Path(out), progress=False).dataset
        nest = run_in_nest(protocol)
        ours.append({})
        theirs.append({})
        for pop, size in nest.sizes.items():
            spikes = (ds[f"{pop}_spike_time"].values, ds[f"{pop}_spike_neuron"].values.astype(int))
            ours[-1][pop] = population_statistics(*spikes, size, 0.2, 1.0)
            theirs[-1][pop] = population_statistics(*nest.spikes[pop], size, 0.2, 1.0)
            assert theirs[-1][pop].rate > 5 and theirs[-1][pop].spikes > 10_000  # active
            # the protocol's own measurement is the same computation
            assert float(ds[f"{pop}_rate"]) == pytest.approx(ours[-1][pop].rate)
            assert float(ds[f"{pop}_fano"]) == pytest.approx(ours[-1][pop].fano)
    for pop in ("exc", "inh"):
        for stat in ("rate", "cv", "fano", "frequency"):
            mine = np.median([getattr(r[pop], stat) for r in ours])
            ref = [getattr(r[pop], stat) for r in theirs]
            tolerance = max(0.1 * abs(np.median(ref)), max(ref) - min(ref))
            assert abs(mine - np.median(ref)) <= tolerance, (pop, stat, mine, ref)


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
    tfp = load_protocol(
        "brunel2000_ai",
        [*SMALL, "projections.exc_inh.connector={rule: total_from_probability, p: 0.1}"],
    )
    proj = {p.name: p for p in tfp.projections}["exc_inh"]
    sizes = {name: range(pop["n"]) for name, pop in tfp.populations.items()}
    n = round(np.log(0.9) / np.log1p(-1 / (len(sizes["exc"]) * len(sizes["inh"]))))
    assert _conn_spec(proj, "", sizes) == {
        "rule": "fixed_total_number",
        "N": n,
        "allow_autapses": True,
        "allow_multapses": True,
    }
    bad = load_protocol(
        "brunel2000_ai",
        [*SMALL, "populations.inh.model=adex", "populations.inh.params={C: 250 pF, g_L: 12.5 nS}"],
    )
    with pytest.raises(NeurosimError, match=r"populations\.inh\.model: 'adex' has no NEST"):
        run_in_nest(bad)


def test_brunel_ai_stdp_rates_and_weights_match_nest():
    # brunel2000_ai_stdp (pair STDP on exc_exc) at a fifth of the size, one
    # seed: ~15 s in NEST, ~25 s in neurosim. The rates (200-1000 ms) within
    # 10 %, as for the static network. The mean change of the final exc_exc
    # weights is a drift of nu_pre nu_post (A2_plus tau_plus - A2_minus
    # tau_minus) w_max plus the correlated part, so it goes with the square
    # of the excitatory rate, which differs between the two random networks;
    # divided by it, neurosim and NEST agreed within 3 % for each of seeds
    # 1-3 at this size (NEST's own values spread by 10 % over the seeds), and
    # the one step by which NEST's relayed window is late (e^{-dt/tau} on each
    # lobe, of a drift a fifth of a lobe) accounts for ~5 %: 20 %. The spread
    # of the final weights (seeds 1-3: within 2 %) within 15 %.
    protocol = load_protocol("brunel2000_ai_stdp", [*SMALL, "seed=1"])
    with tempfile.TemporaryDirectory() as out:
        ds = simulate(protocol, Path(out), progress=False).dataset
    nest = run_in_nest(protocol)
    w0 = {p.name: p for p in protocol.projections}["exc_exc"].weight.param("value")
    mine, ref = ds["exc_exc_w"].values, nest.weights["exc_exc"][2]
    assert mine.shape == (100_000,) and 90_000 < len(ref) < 110_000
    rates = {}
    for pop, size in nest.sizes.items():
        spikes = (ds[f"{pop}_spike_time"].values, ds[f"{pop}_spike_neuron"].values.astype(int))
        rates[pop] = (
            population_statistics(*spikes, size, 0.2, 1.0).rate,
            population_statistics(*nest.spikes[pop], size, 0.2, 1.0).rate,
        )
        assert rates[pop][0] == pytest.approx(rates[pop][1], rel=0.1), (pop, rates[pop])
    drift = (mine.mean() - w0, ref.mean() - w0)
    # a drift (depression), far beyond the standard error of the sampled mean
    assert drift[1] < -20 * ref.std() / np.sqrt(len(ref)), drift
    per_rate = [d / r**2 for d, r in zip(drift, rates["exc"], strict=True)]
    assert per_rate[0] == pytest.approx(per_rate[1], rel=0.2), (drift, rates)
    assert mine.std() == pytest.approx(ref.std(), rel=0.15)


# brunel2000_ai_stdp (pair STDP on exc_exc) at a size where the spike pairs
# can be counted in Python: 400 + 100 neurons, in-degrees 100 / 25, 300 ms.
TINY_STDP = [
    "populations.exc.n=400",
    "populations.inh.n=100",
    "duration=300 ms",
    "analysis=[]",
    "projections.exc_exc.connector={rule: fixed_indegree, indegree: 100}",
    "projections.exc_inh.connector={rule: fixed_indegree, indegree: 100}",
    "projections.inh_exc.connector={rule: fixed_indegree, indegree: 25}",
    "projections.inh_inh.connector={rule: fixed_indegree, indegree: 25}",
    "projections.exc_exc.record={variables: [w], synapses: 300, at: end}",
]


def _pair_rule(pre_times, post_times, w0, rule, lag, delay, until, step):
    """The pair rule as NEST's stdp_synapse applies it, by counting pairs (ms, mV).

    The rule sees a presynaptic spike ``lag`` after its emission (the
    parrot relay) and a postsynaptic one ``delay`` after it; a pair counts
    when strictly ordered. Potentiation when the postsynaptic spike has reached
    the synapse by ``until``; presynaptic spikes that NEST has delivered
    (emitted one step before the end at the latest).
    """
    seen_pre = pre_times + lag
    seen_pre = seen_pre[seen_pre <= until - step + step / 2]
    up = rule["A2_plus"] * rule["w_max"]
    down = rule["A2_minus"] * rule["w_max"]
    w = w0
    for t in post_times[post_times + delay <= until + step / 2]:
        earlier = seen_pre[seen_pre < t + delay - step / 2]
        w += up * np.exp(-(t + delay - earlier) / rule["tau_plus"]).sum()
    for t in seen_pre:
        earlier = post_times[post_times < t - delay - step / 2]
        w -= down * np.exp(-(t - delay - earlier) / rule["tau_minus"]).sum()
    return w


def test_stdp_translation_is_the_pair_rule_on_nests_spikes():
    # The parameter mapping (lambda, alpha, Wmax, tau_plus, the target's
    # tau_minus), the parrot relay's timing and the lazily applied
    # potentiation that _up_to_date adds: the final weights NEST reports for
    # the sampled connections are the pair rule counted on NEST's own spikes,
    # to rounding. With the relay (axonal, neurosim's meaning of the delay) the
    # rule sees a spike D - dt after its emission and a postsynaptic one dt
    # after it; with NEST's own dendritic delay at once and D after it.
    protocol = load_protocol("brunel2000_ai_stdp", TINY_STDP)
    proj = {p.name: p for p in protocol.projections}["exc_exc"]
    spec = proj.plasticity
    rule = {
        "A2_plus": spec.params["A2_plus"],
        "A2_minus": spec.params["A2_minus"],
        "tau_plus": float(spec.params["tau_plus"] / ms),
        "tau_minus": float(spec.params["tau_minus"] / ms),
        "w_max": 1e3 * spec.w_max,
    }
    step, delay, w0 = 0.1, 1.5, 1e3 * proj.weight.param("value")
    for axonal, lag, seen_delay in ((True, delay - step, step), (False, 0.0, delay)):
        run = run_in_nest(protocol, axonal=axonal)
        pre, post, w = run.weights["exc_exc"]
        assert 300 <= len(w) < 500 and len(set(pre)) == 3  # all of 3 neurons' ~100 each
        t, i = run.spikes["exc"]
        t = 1e3 * t
        expected = np.array(
            [
                _pair_rule(t[i == a], t[i == b], w0, rule, lag, seen_delay, 300.0, step)
                for a, b in zip(pre, post, strict=True)
            ]
        )
        change = np.abs(expected - w0).mean()
        assert change > 1e-7  # mV: the rule acted (a pair changes w by up to 1e-4 mV)
        # a window one step off misses by about half the change
        np.testing.assert_allclose(1e3 * w, expected, rtol=0, atol=1e-7 * change)


def test_stdp_refusals():
    for value, match in (
        ("{rule: triplet, w_max: 0.2 mV}", r"plasticity\.rule: 'triplet' does not"),
        ("{rule: pair, w_min: 0.01 mV, w_max: 0.2 mV}", r"plasticity\.w_min: NEST"),
    ):
        bad = load_protocol(
            "brunel2000_ai_stdp", [*TINY_STDP, f"projections.exc_exc.plasticity={value}"]
        )
        with pytest.raises(NeurosimError, match=match):
            run_in_nest(bad)
    bad = load_protocol(
        "brunel2000_ai_stdp",
        [
            *TINY_STDP,
            "projections.exc_exc.connector={rule: fixed_indegree, indegree: 100, autapses: false}",
        ],
    )
    with pytest.raises(NeurosimError, match=r"connector\.autapses: false does not translate"):
        run_in_nest(bad)
