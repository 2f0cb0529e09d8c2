import re

import brian2
import pytest
from brian2 import ms, mV, nS

from neurosim.errors import NeurosimError
from neurosim.units import (
    check_expression,
    check_statements,
    format_quantity,
    parse_quantity,
    parse_unit,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10 nS", 10 * nS),
        ("-70*mV", -70 * mV),
        ("1/ms", 1 / ms),
        ("2.5e-3 second", 2.5 * ms),
        ("0.6", 0.6),
        (3, 3.0),
        ("200 Hz", 200 * brian2.Hz),
        ("1 mS/cm2", 1 * brian2.msiemens / brian2.cm2),
        # SI symbols Brian2 has no name for
        ("10 s", 10 * brian2.second),
        ("3 kV", 3 * brian2.kvolt),
        ("1 MOhm", 1 * brian2.Mohm),
        ("2 \u00b5s", 2 * brian2.usecond),
        ("5 V/s", 5 * brian2.volt / brian2.second),
        ("1e-3 s", 1 * ms),
    ],
)
def test_parse_quantity(text, expected):
    got = parse_quantity(text, "here")
    assert brian2.have_same_dimensions(got, expected)
    assert float(got / expected) == pytest.approx(1.0)


def test_format_round_trips():
    for q in (10 * nS, -70.123456789 * mV, 0.25):
        assert parse_quantity(format_quantity(q), "here") == q


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("10 nX", "unknown unit 'nX'"),
        ("ten mV", "cannot read"),
        ("__import__('os')", "not a quantity"),
        ("mV.__class__", "not a quantity"),
        ("10 mV + 2 nS", "inconsistent units"),
    ],
)
def test_parse_quantity_refuses(text, message):
    with pytest.raises(NeurosimError, match=message) as info:
        parse_quantity(text, "f.yaml: key")
    assert str(info.value).startswith("f.yaml: key")
    assert "\n" not in str(info.value)


def test_wrong_dimension_names_both_units():
    with pytest.raises(NeurosimError, match="units of volt, expected siemens"):
        parse_quantity("10 mV", "where", nS)


@pytest.mark.parametrize(
    "expr",
    [
        "__import__('os').system('true')",
        "v.__class__",
        "open('x')",
        "[v for v in x]",
        "lambda: 1",
        "'text'",
        "v[0]",
    ],
)
def test_expressions_are_data(expr):
    with pytest.raises(NeurosimError):
        check_expression(expr, {"v", "x"}, "where")


def test_expression_identifiers():
    assert check_expression("g*(E - v)/C + exp(-t/tau)*mV", {"g", "E", "v", "C", "tau"}, "w") == {
        "g",
        "E",
        "v",
        "C",
        "tau",
    }
    with pytest.raises(NeurosimError, match="unknown identifier 'tua'"):
        check_expression("v/tua", {"v", "tau"}, "w")


def test_statements():
    assert check_statements("v = v_r; w += b", {"v", "w"}, {"v", "w", "v_r", "b"}, "w") == {
        "v",
        "w",
        "v_r",
        "b",
    }
    with pytest.raises(NeurosimError, match="unknown variable 'u'"):
        check_statements("u = 0*mV", {"v"}, {"v"}, "w")


def test_equations_name_the_brian2_unit_for_a_symbol():
    with pytest.raises(NeurosimError, match="Brian2 calls it 'volt'"):
        parse_unit("V", "f.yaml: equations: v")
    with pytest.raises(NeurosimError, match="Brian2 calls the unit 'second'"):
        check_expression("v/s", {"v"}, "f.yaml: equations (v)")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("9**9**9 pA", "exponent 3.8742e+08 is larger than 100"),
        ("10**400 pA", "exponent 400 is larger than 100"),
        ("-" * 100_000 + "1 pA", "100004 characters, longer than the limit of 200"),
        ("-" * 90 + "1 pA", "nests deeper than 60 levels"),
        ("1e308*1e308 mV", "is not finite"),
        ("1e400 mV", "not finite"),
        ("(-1)**0.5 mV", "not a real number"),
        (float("nan"), "not finite"),
        (10**400, "too large"),
    ],
)
def test_quantities_are_bounded_before_evaluation(text, message):
    with pytest.raises(NeurosimError, match=re.escape(message)) as info:
        parse_quantity(text, "f.yaml: key")
    assert "\n" not in str(info.value)
    assert len(str(info.value)) < 200


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("v * 9**9**9", "exponent 3.8742e+08 is larger than 100"),
        ("v**1e5", "exponent 100000 is larger than 100"),
        ("-" * 100_000 + "v", "longer than the limit of 2000"),
        ("+".join(["v"] * 20_000), "longer than the limit of 2000"),
        ("+".join(["v"] * 200), "nests deeper than 60 levels"),
        ("v" + " < v" * 400, "more than 1000 terms"),
        ("v * 1e999", "not finite"),
    ],
)
def test_expressions_are_bounded_before_brian2_sees_them(expr, message):
    with pytest.raises(NeurosimError, match=re.escape(message)) as info:
        check_expression(expr, {"v"}, "f.yaml: equations (v)")
    assert len(str(info.value)) < 300


def test_names_in_exponents_are_left_to_brian2():
    assert check_expression("v**x + v**(2*3)", {"v", "x"}, "w") == {"v", "x"}
