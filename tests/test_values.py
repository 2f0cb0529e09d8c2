"""Per-synapse values: constants, distributions and distance expressions, with units."""

import math

import brian2 as b2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from neurosim.errors import NeurosimError
from neurosim.networks.values import draw, evaluate, value_from_spec

WHERE = "p.yaml: projections.ee.weight"
N = 200_000


def _values(spec, dimension=b2.volt, seed=0):
    return draw(value_from_spec(spec, WHERE, dimension), N, np.random.default_rng(seed))


def test_constant_in_si_units():
    v = _values("0.1 mV")
    assert v.shape == (N,) and (v == 0.1e-3).all()
    assert (_values("1.5 ms", b2.second) == 1.5e-3).all()


@pytest.mark.parametrize(
    ("spec", "mean", "std"),
    [
        ({"distribution": "normal", "mean": "87.8 pA", "std": "8.8 pA"}, 87.8e-12, 8.8e-12),
        ({"distribution": "lognormal", "mean": "1.5 pA", "std": "0.75 pA"}, 1.5e-12, 0.75e-12),
        ({"distribution": "lognormal", "mean": "-2 pA", "std": "1 pA"}, -2e-12, 1e-12),
        ({"distribution": "uniform", "low": "1 pA", "high": "3 pA"}, 2e-12, 2e-12 / math.sqrt(12)),
    ],
)
def test_distributions_have_the_stated_mean_and_std(spec, mean, std):
    v = _values(spec, b2.amp)
    se = std / math.sqrt(N)
    assert abs(v.mean() - mean) < 5 * se
    assert abs(v.std() - std) < 0.02 * std
    if spec["distribution"] == "lognormal":
        assert (np.sign(v) == np.sign(mean)).all()
        # log|v| is normal
        assert (
            stats.kstest(
                np.log(np.abs(v[:5000])),
                "norm",
                args=(np.log(np.abs(v)).mean(), np.log(np.abs(v)).std()),
            ).pvalue
            > 1e-3
        )


def test_bounds_redraw_and_keep_the_sign():
    # normal(1, 1) bounded below by 0: a truncated normal, nothing piled at 0
    spec = {"distribution": "normal", "mean": "1 mV", "std": "1 mV", "min": "0 mV"}
    v = _values(spec)
    assert v.min() > 0
    assert (v < 1e-6).mean() < 1e-3  # no mass at the bound (clipping would put 16 % there)
    truncated = stats.truncnorm(-1, np.inf, loc=1e-3, scale=1e-3)
    assert abs(v.mean() - truncated.mean()) < 5 * truncated.std() / math.sqrt(N)
    # both bounds
    v = _values({**spec, "min": "0.5 mV", "max": "1.5 mV"})
    assert v.min() >= 0.5e-3 and v.max() <= 1.5e-3


def test_same_seed_same_values():
    spec = {"distribution": "uniform", "low": "1 ms", "high": "2 ms"}
    assert np.array_equal(_values(spec, b2.second, 3), _values(spec, b2.second, 3))
    assert not np.array_equal(_values(spec, b2.second, 3), _values(spec, b2.second, 4))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("0.1 ms", "dimension|units"),
        ({"distribution": "normal", "mean": "1 mV"}, "needs 'std'"),
        ({"distribution": "normal", "mean": "1 mV", "std": "1 ms"}, r"weight\.std"),
        ({"distribution": "normal", "mean": "1 mV", "std": "-1 mV"}, r"std: has to be >= 0"),
        (
            {"distribution": "normal", "mean": "1 mV", "std": "1 mV", "low": "0 mV"},
            "not a parameter",
        ),
        ({"distribution": "gamma", "mean": "1 mV"}, "unknown distribution 'gamma'"),
        ({"distribution": "uniform", "low": "2 mV", "high": "1 mV"}, "low .* has to be below high"),
        ({"distribution": "lognormal", "mean": "0 mV", "std": "1 mV"}, "mean other than 0"),
        (
            {"distribution": "normal", "mean": "0 mV", "std": "1 mV", "min": "10 mV"},
            "min/max leave",
        ),
        (
            {
                "distribution": "uniform",
                "low": "0 mV",
                "high": "1 mV",
                "min": "1 mV",
                "max": "0 mV",
            },
            "min",
        ),
        (
            {"distribution": "normal", "mean": "1 mV", "std": "1 mV", "sd": "1 mV"},
            "did you mean 'std'",
        ),
        ([1, 2], "expected a quantity"),
    ],
)
def test_bad_values_are_one_line(spec, message):
    with pytest.raises(NeurosimError, match=message) as info:
        value_from_spec(spec, WHERE, b2.volt)
    assert "\n" not in str(info.value) and str(info.value).startswith(WHERE)


# --- expressions of the distance ------------------------------------------------


def _expression(text, dimension=b2.volt):
    return value_from_spec({"expression": text}, WHERE, dimension)


def test_distance_expressions_are_their_closed_form():
    d = np.linspace(0, 2e-3, 101)
    weight = evaluate(_expression("0.5 mV * exp(-d / (200 um))"), d, WHERE)
    np.testing.assert_allclose(weight, 0.5e-3 * np.exp(-d / 200e-6), rtol=1e-12)
    delay = evaluate(_expression("0.5 ms + d / (0.3 m/s)", b2.second), d, WHERE)
    np.testing.assert_allclose(delay, 0.5e-3 + d / 0.3, rtol=1e-12)
    capped = _expression("clip(2 mV - d * (1 mV/um), -1 mV, maximum(0.5 mV, abs(-1 mV)))")
    np.testing.assert_allclose(
        evaluate(capped, d, WHERE), np.clip(2e-3 - d * 1e3, -1e-3, 1e-3), rtol=1e-12
    )
    root = _expression("sqrt(d * 1 um) * (1 mV/um) + pi * 0 mV + 2 ** (d / (1 mm)) * 1 uV")
    np.testing.assert_allclose(
        evaluate(root, d, WHERE), np.sqrt(d * 1e-6) * 1e3 + 2 ** (d / 1e-3) * 1e-6, rtol=1e-12
    )
    assert root.spatial and not value_from_spec("1 mV", WHERE, b2.volt).spatial


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0.5 mV * exp(-r / (200 um))", r"unknown name 'r'"),
        ("0.5 ms * exp(-d / (200 um))", r"has units of second, expected volt"),
        ("0.5 mV * exp(-d)", r"exp needs a dimensionless argument, got metre"),
        ("d + 1 mV", r"cannot add or subtract metre and volt"),
        ("1 mV * d ** (d / (1 m))", r"needs a constant exponent"),
        ("1 mV * (d / (1 m)) ** 200", r"exponent 200 is larger than 100"),
        ("-" * 100 + "1 mV", r"nests deeper than 60 levels"),
        ("1 mV" + " + 1 mV" * 100, r"longer than the limit of 500"),
        ("d.__class__", r"Attribute is not allowed"),
        ("__import__('os').system('true')", r"unknown function|not allowed"),
        ("eval('1') * mV", r"unknown function 'eval'"),
        ("exp(d / um, out=d) * mV", r"keyword arguments are not allowed"),
        ("clip(d, 1 m) * mV", r"clip takes 3 argument"),
        ("minimum(d, 1 mV)", r"minimum needs arguments of one unit"),
        ("mV[0]", r"Subscript is not allowed"),
        ("(lambda: 1)() * mV", r"not allowed"),
        ("1 mV if d > 1 um else 2 mV", r"IfExp is not allowed"),
        ("'1 mV'", r"only numbers"),
        ("1 mV +", r"malformed expression"),
        ("1 mV * d / um * 1e999", r"not finite"),
    ],
)
def test_bad_distance_expressions_are_one_line(text, message):
    with pytest.raises(NeurosimError, match=message) as info:
        _expression(text)
    assert "\n" not in str(info.value) and str(info.value).startswith(f"{WHERE}.expression")


def test_an_expression_is_refused_where_it_is_not_finite():
    spec = _expression("1 mV * log(d / um)")
    with pytest.raises(NeurosimError, match=r"is -inf at d = 0 um"):
        evaluate(spec, np.array([1e-6, 0.0]), WHERE)
    np.testing.assert_allclose(evaluate(spec, np.array([1e-6]), WHERE), [0.0])


def test_expressions_and_file_arrays_are_not_drawn():
    with pytest.raises(ValueError, match="depends on the synapses"):
        draw(_expression("1 mV"), 3, np.random.default_rng(0))
    spec = value_from_spec({"from_file": "w", "unit": "mV"}, WHERE, b2.volt)
    assert spec.kind == "from_file" and spec.param("unit") == 1e-3 and spec.source == "w"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"from_file": "w"}, r"missing required key 'unit'"),
        ({"from_file": "w", "unit": "ms"}, r"weight\.unit: 'ms' has units of second"),
        ({"from_file": "w", "unit": "-1 mV"}, r"weight\.unit: has to be positive"),
        ({"from_file": 3, "unit": "mV"}, r"weight\.from_file: expected an array name"),
        ({"expression": "1 mV", "min": "0 mV"}, r"unknown key 'min'"),
    ],
)
def test_bad_file_and_expression_keys_are_one_line(spec, message):
    with pytest.raises(NeurosimError, match=message) as info:
        value_from_spec(spec, WHERE, b2.volt)
    assert "\n" not in str(info.value)


# Pieces of hostile text: Python's ways out (attributes, dunders, calls, strings,
# subscripts, lambdas), huge numbers and powers, deep nesting, and valid parts.
_PIECES = st.sampled_from(
    [
        "d", "mV", "um", "m/s", "1", "1e308", "9", "0", ".", "__class__", "__import__",
        "'os'", "(", ")", "[", "]", "*", "/", "**", "+", "-", ",", " ", "exp", "clip",
        "sqrt", "log", "lambda", ":", "x", "pi", "=", "if", "else", "not", "<", "@",
        "\\n", ";", "mV**9**9", "9**9**9",
    ]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.lists(_PIECES, max_size=40).map("".join), st.text(max_size=60)))
def test_hostile_expressions_are_refused_or_evaluated_in_one_line(text):
    d = np.array([0.0, 1e-6, 1e-3])
    try:
        spec = _expression(text)
        values = evaluate(spec, d, WHERE)
    except NeurosimError as err:
        assert "\n" not in str(err) and str(err).startswith(WHERE)
    else:
        assert values.shape == d.shape and np.isfinite(values).all()
