import brian2
import numpy as np
import pytest
from brian2 import mV, nS

from neurosim.errors import NeurosimError
from neurosim.model import MODELS_DIR, list_models, load_model

GOOD = MODELS_DIR / "passive_pyramidal.yaml"


@pytest.mark.parametrize("name", [name for name, _ in list_models()])
def test_shipped_models_load_and_build(name):
    model = load_model(name)
    assert model.citation and model.description
    assert all(p.description for p in model.parameters.values())
    group = model.neuron_group(5)
    assert len(group) == 5


def test_passive_model_structure():
    model = load_model("passive_pyramidal")
    assert list(model.compartments) == ["soma", "basal", "apical"]
    assert model.input_variables == ["I_s", "I_b", "I_a"]
    assert model.parameters["g_L"].value == 5 * nS
    assert model.compartment_of("v_a") == "apical"


def test_heterogeneous_parameters_are_per_neuron():
    model = load_model("passive_pyramidal")
    group = model.neuron_group(3, params={"g_L": ["4 nS", "5 nS", "6 nS"], "E_L": "-65 mV"})
    np.testing.assert_allclose(group.g_L[:] / nS, [4, 5, 6])
    assert "E_L" not in group.variables  # shared values stay compiled-in constants
    drawn = model.neuron_group(
        1000,
        params={"g_L": {"dist": "normal", "mean": "5 nS", "std": "0.5 nS"}},
        rng=np.random.default_rng(1),
    )
    assert abs(np.mean(drawn.g_L[:] / nS) - 5) < 0.1
    assert 0.4 < np.std(drawn.g_L[:] / nS) < 0.6


def test_wrong_length_and_unit_overrides():
    model = load_model("passive_pyramidal")
    with pytest.raises(NeurosimError, match="2 values given for 3 neurons"):
        model.neuron_group(3, params={"g_L": ["4 nS", "5 nS"]})
    with pytest.raises(NeurosimError, match="units of volt, expected siemens"):
        model.neuron_group(3, params={"g_L": "4 mV"})
    with pytest.raises(NeurosimError, match="has to be an integer >= 1, got 0"):
        model.neuron_group(0)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("citation:", "citaton:", r"unknown key 'citaton' \(did you mean 'citation'\?\)"),
        ("  g_A:  {value: 5 nS,", "  g_Ax: {value: 5 nS,", "unknown identifier 'g_A'"),
        ("g_B:  {value: 10 nS,", "g_B:  {value: 10 mV,", "inconsistent units"),
        ("+ I_s) / C_s", "+ I_s) / C_s + foo", "unknown identifier 'foo'"),
        ("(E_L - v_s)", "(E_L - v_s.real)", "Attribute is not allowed"),
        ("g_Ld*(E_L - v_b)", "g_Ld*(E_L - v_b) * evil(1)", "unknown function 'evil'"),
        ("g_L:  {value: 5 nS,", "g_L:  {value: 5 nX,", "unknown unit 'nX'"),
        (
            "parameters:\n",
            "parameters:\n  tau_x: {value: 5 ms, description: Unused.}\n",
            "parameters.tau_x: not used",
        ),
        ("method: exponential_euler", "method: magic", "unknown integration method 'magic'"),
        ("name: passive_pyramidal", "name: other", "does not match the file name"),
        ("  I_a : amp\n", "  I_a : ampere_typo\n", "unknown unit 'ampere_typo'"),
        ("  v_s: -70 mV", "  v_s: -70 nS", "initial.v_s"),
    ],
)
def test_invalid_models_name_file_key_and_value(variant, old, new, message):
    path = variant(GOOD, old, new)
    with pytest.raises(NeurosimError, match=message) as info:
        load_model(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_and_malformed_files(write, variant, tmp_path):
    with pytest.raises(NeurosimError, match="model file not found"):
        load_model(tmp_path / "nope.yaml")
    with pytest.raises(NeurosimError, match=r"malformed YAML at line \d+, column \d+"):
        load_model(write("bad.yaml", "name: bad\ncompartments: [a, \n"))
    # the notes block ends the file: cut it, and the citation block takes its key
    text = GOOD.read_text().split("\nnotes: |")[0].replace("citation: >-", "notes: >-")
    with pytest.raises(NeurosimError, match="missing required key 'citation'"):
        load_model(write("passive_pyramidal.yaml", text))


def test_model_quantities_carry_units():
    model = load_model("passive_pyramidal")
    assert brian2.have_same_dimensions(model.parameters["E_L"].value, mV)
    assert model.initial["v_s"] == -70 * mV


def test_a_model_file_is_checked_once_per_text(variant):
    first = load_model(variant(GOOD, "value: 5 nS,", "value: 5 nS,"))
    assert load_model(first.path) is first
    changed = variant(GOOD, "  v_s: -70 mV", "  v_s: -65 mV")
    assert changed == first.path
    assert load_model(changed).initial["v_s"] == -65 * mV
