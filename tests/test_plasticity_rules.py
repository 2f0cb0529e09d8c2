"""Every registered plasticity rule: its Brian2 code against its numpy reference, its parts."""

import re

import numpy as np
import pytest
from brian2 import Quantity, volt
from brian2.units.fundamentalunits import Dimension
from test_projection_plasticity import _protocol

from neurosim.errors import NeurosimError
from neurosim.plasticity import RULES, PlasticityRule
from neurosim.plasticity.stdp import RULES as STDP_RULES
from neurosim.testing import refuses_in_one_line

# Brian2 (numpy target) and the references both compute in double precision;
# they differ only in the order of sums and products (Brian2 rewrites
# expressions through sympy; summed variables add in synapse order), a few
# units in the last place. atol covers entries that cancel to near zero (an
# STDP weight whose potentiation and depression nearly balance).
RTOL, ATOL = 1e-12, 1e-12


@pytest.mark.parametrize("name", sorted(RULES))
def test_brian2_code_matches_numpy_reference(name):
    got, want = RULES[name].check(np.random.default_rng(14))
    assert got.keys() == want.keys() and got
    for key, expected in want.items():
        expected = np.asarray(expected, float)
        assert np.abs(expected).max() > 1e-3, key  # the case is not trivial
        np.testing.assert_allclose(
            got[key], expected, rtol=RTOL, atol=ATOL * np.abs(expected).max(), err_msg=key
        )


@pytest.mark.parametrize("name", sorted(RULES))
def test_every_rule_has_all_parts(name):
    rule = RULES[name]
    assert isinstance(rule, PlasticityRule) and rule.name == name
    assert rule.code and all(isinstance(c, str) and c.strip() for c in rule.code.values())
    with pytest.raises(TypeError):
        rule.code["extra"] = "w += 1"  # read-only
    assert rule.parameters
    for key, default in rule.parameters.items():
        assert isinstance(default, Quantity | float), key  # a unit (float: dimensionless)
        assert isinstance(rule.dimension(key), Dimension)
        assert np.isfinite(float(np.asarray(default))), key
    derived = rule.derived(rule.parameters)
    assert isinstance(derived, dict)
    assert all(np.isfinite(float(np.asarray(v))) for v in derived.values())
    # every parameter is read: by the code or through a derived constant
    code = "\n".join(rule.code.values())
    for key, default in rule.parameters.items():
        if not re.search(rf"\b{key}\b", code):
            other = {**rule.parameters, key: 2 * default if default != 0 else 1.0}
            assert rule.derived(other) != derived, f"{key} is read nowhere"
    assert callable(rule.reference) and callable(rule.harness)


@pytest.mark.parametrize(
    ("name", "key"), [(name, key) for name in sorted(RULES) for key in RULES[name].parameters]
)
def test_unit_wrong_parameters_are_refused_in_one_line(name, key):
    rule = RULES[name]
    assert rule.dimension(key) is not volt.dim  # so "5 mV" is wrong for it
    with pytest.raises(NeurosimError) as err:
        rule.parameters_from({key: "5 mV"}, "p.yaml: rule")
    line = str(err.value)
    assert line.startswith(f"p.yaml: rule.{key}: '5 mV' has units of volt"), line
    assert "\n" not in line
    # the others keep their defaults, with units
    assert rule.parameters_from({}, "p.yaml: rule") == dict(rule.parameters)


@pytest.mark.parametrize("name", sorted(STDP_RULES))
def test_protocol_files_name_the_wrong_parameter(tmp_path, name):
    # through a projection's plasticity: the file, the key path, the value
    key = next(iter(STDP_RULES[name].parameters))
    data = _protocol({"rule": name, "w_max": "1 mV", key: "5 mV"})
    line = refuses_in_one_line(tmp_path, data, rf"projections\.syn\.plasticity\.{key}: '5 mV'")
    assert "p.yaml" in line
