"""Per-synapse values: constants and distributions with units, bounds by redrawing."""

import math

import brian2 as b2
import numpy as np
import pytest
from scipy import stats

from neurosim.errors import NeurosimError
from neurosim.networks.values import draw, value_from_spec

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
