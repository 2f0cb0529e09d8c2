"""Connection rules: counts, flags and distributions of the synapses they draw."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from neurosim.errors import NeurosimError
from neurosim.networks.connectors import (
    Connector,
    connect,
    connector_from_spec,
    expected_synapses,
)

RULES = st.sampled_from(
    ["all_to_all", "fixed_probability", "fixed_indegree", "fixed_outdegree", "fixed_total_number"]
)


@st.composite
def connectors(draw):
    """A connector, sizes and 'same population' flag that can be satisfied."""
    rule = draw(RULES)
    same = draw(st.booleans())
    n_pre = draw(st.integers(1, 40))
    n_post = n_pre if same else draw(st.integers(1, 40))
    autapses, multapses = draw(st.booleans()), draw(st.booleans())
    no_self = same and not autapses
    kw = {}
    if rule == "fixed_probability":
        kw["p"] = draw(st.floats(0, 1))
    elif rule == "fixed_indegree":
        kw["indegree"] = draw(st.integers(0, 3 * n_pre if multapses else n_pre - no_self))
    elif rule == "fixed_outdegree":
        kw["outdegree"] = draw(st.integers(0, 3 * n_post if multapses else n_post - no_self))
    elif rule == "fixed_total_number":
        pairs = n_pre * n_post - (n_pre if no_self else 0)
        kw["n"] = draw(st.integers(0, 3 * pairs if multapses else pairs))
    conn = Connector(rule, autapses=autapses, multapses=multapses, **kw)
    return conn, n_pre, n_post, same


def _pairs(i, j):
    return list(zip(i.tolist(), j.tolist(), strict=True))


def _valid_partners(conn, n_pre, n_post, same):
    """Degrees above the pool are impossible without partners (1 neuron, no autapses)."""
    no_self = same and not conn.autapses
    return not (no_self and n_pre == 1 and (conn.indegree or conn.outdegree or conn.n))


@settings(max_examples=300, deadline=None)
@given(connectors(), st.integers(0, 2**32 - 1))
def test_every_rule_keeps_its_promises(case, seed):
    conn, n_pre, n_post, same = case
    if not _valid_partners(conn, n_pre, n_post, same):
        with pytest.raises(NeurosimError, match="no possible"):
            connect(conn, n_pre, n_post, np.random.default_rng(seed), same)
        return
    i, j = connect(conn, n_pre, n_post, np.random.default_rng(seed), same)
    assert i.dtype == j.dtype == np.int64 and i.shape == j.shape
    assert ((0 <= i) & (i < n_pre)).all() and ((0 <= j) & (j < n_post)).all()
    if same and not conn.autapses:
        assert (i != j).all()
    if not conn.multapses or conn.rule in ("all_to_all", "fixed_probability"):
        assert len(set(_pairs(i, j))) == len(i)  # no repeated pair
    if conn.rule != "fixed_probability":
        assert len(i) == expected_synapses(conn, n_pre, n_post, same)
    if conn.rule == "fixed_indegree":
        assert (np.bincount(j, minlength=n_post) == conn.indegree).all()
    if conn.rule == "fixed_outdegree":
        assert (np.bincount(i, minlength=n_pre) == conn.outdegree).all()
    # the generator's state alone decides the synapses
    again = connect(conn, n_pre, n_post, np.random.default_rng(seed), same)
    assert np.array_equal(i, again[0]) and np.array_equal(j, again[1])


def test_all_to_all_and_one_to_one_are_exact():
    rng = np.random.default_rng(0)
    i, j = connect(Connector("all_to_all"), 3, 4, rng)
    assert sorted(_pairs(i, j)) == [(a, b) for a in range(3) for b in range(4)]
    i, j = connect(Connector("all_to_all", autapses=False), 3, 3, rng, same=True)
    assert sorted(_pairs(i, j)) == [(a, b) for a in range(3) for b in range(3) if a != b]
    i, j = connect(Connector("one_to_one"), 5, 5, rng)
    assert i.tolist() == j.tolist() == list(range(5))


def test_fixed_probability_count_and_uniformity():
    # 1,000 x 2,000 pairs at p = 0.1: the count is Binomial(2e6, 0.1) and every
    # pair is equally likely (pre and post marginals uniform)
    n_pre, n_post, p = 1000, 2000, 0.1
    i, j = connect(Connector("fixed_probability", p=p), n_pre, n_post, np.random.default_rng(1))
    mean, sd = n_pre * n_post * p, np.sqrt(n_pre * n_post * p * (1 - p))
    assert abs(len(i) - mean) < 5 * sd
    for idx, n in ((i, n_pre), (j, n_post)):
        counts = np.bincount(idx, minlength=n)
        assert stats.chisquare(counts).pvalue > 1e-4
    # in-degrees are Binomial(n_pre, p)
    indeg = np.bincount(j, minlength=n_post)
    assert abs(indeg.var() - n_pre * p * (1 - p)) < 0.15 * n_pre * p * (1 - p)


@pytest.mark.parametrize("block", [None, 100])
def test_fixed_indegree_without_multapses_draws_uniform_subsets(block, monkeypatch):
    # block 100: the path for pools too big for a row of random keys
    if block:
        import neurosim.networks.connectors as c

        monkeypatch.setattr(c, "_BLOCK", block)
    i, j = connect(
        Connector("fixed_indegree", indegree=30, multapses=False, autapses=False),
        200,
        200,
        np.random.default_rng(2),
        same=True,
    )
    assert (np.bincount(j, minlength=200) == 30).all() and (i != j).all()
    assert len(np.unique(i * 200 + j)) == len(i)
    # every presynaptic neuron equally likely
    assert stats.chisquare(np.bincount(i, minlength=200)).pvalue > 1e-4


def test_fixed_total_number_without_autapses_covers_every_off_diagonal_pair():
    i, j = connect(
        Connector("fixed_total_number", n=12, multapses=False, autapses=False),
        4,
        4,
        np.random.default_rng(3),
        same=True,
    )
    assert sorted(_pairs(i, j)) == [(a, b) for a in range(4) for b in range(4) if a != b]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"rule": "fixed_probability"}, "needs 'p'"),
        (
            {"rule": "fixed_probability", "p": 1.5},
            r"p: expected a probability in \[0, 1\], got 1.5",
        ),
        ({"rule": "fixed_probability", "p": "0.1"}, "p: expected a probability"),
        ({"rule": "all_to_all", "p": 0.1}, "not a parameter of connector 'all_to_all'"),
        ({"rule": "fixed_indegree", "indegree": -1}, r"indegree: expected an integer in 0\.\."),
        ({"rule": "fixed_indegree", "indegree": 1.5}, "indegree: expected an integer"),
        ({"rule": "random"}, "unknown connector 'random'"),
        ({"rule": "all_to_all", "autapses": "no"}, "autapses: expected true or false"),
        ({"rule": "all_to_all", "autapse": False}, "did you mean 'autapses'"),
        ([1, 2], "expected a mapping"),
    ],
)
def test_bad_connector_specs_are_one_line(spec, message):
    with pytest.raises(NeurosimError, match=message) as info:
        connector_from_spec(spec, "p.yaml: projections.ee.connector")
    assert "\n" not in str(info.value)
    assert str(info.value).startswith("p.yaml: projections.ee.connector")


@pytest.mark.parametrize(
    ("conn", "sizes", "message"),
    [
        (Connector("one_to_one"), (3, 4, False), "same size, got 3 and 4"),
        (Connector("fixed_indegree", indegree=5, multapses=False), (4, 4, False), "5 distinct"),
        (
            Connector("fixed_indegree", indegree=4, multapses=False, autapses=False),
            (4, 4, True),
            "4 distinct partners out of 3",
        ),
        (Connector("fixed_total_number", n=17, multapses=False), (4, 4, False), "17 distinct"),
        (Connector("fixed_indegree", indegree=10**6), (10**4, 10**4, False), "more than the"),
    ],
)
def test_impossible_connectors_are_refused_before_drawing(conn, sizes, message):
    with pytest.raises(NeurosimError, match=message):
        connect(conn, *sizes[:2], np.random.default_rng(0), sizes[2])


@pytest.mark.parametrize("p", [5e-324, 1e-300, 1e-12, 1 - 1e-16])
def test_extreme_probabilities(p):
    i, _ = connect(Connector("fixed_probability", p=p), 40, 40, np.random.default_rng(5))
    assert len(i) == (1600 if p > 0.5 else 0)


def test_big_sparse_projection_is_cheap():
    # Brunel's network: 12,500 x 12,500 pairs at p = 0.1 (15.6 million
    # synapses) is drawn from the synapses made, not the 156 million pairs
    conn = connector_from_spec({"rule": "fixed_probability", "p": 0.1}, "x")
    i, _ = connect(conn, 12_500, 12_500, np.random.default_rng(4))
    assert abs(len(i) - 15_625_000) < 5 * np.sqrt(15_625_000 * 0.9)
    assert (np.diff(i) >= 0).all()  # pairs come in row order
