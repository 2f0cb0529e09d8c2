import brian2
import pytest
from brian2 import ms, mV, nS

from neurosim.errors import NeurosimError
from neurosim.units import check_expression, check_statements, format_quantity, parse_quantity


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
