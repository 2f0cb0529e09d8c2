"""Feedback alignment learning inside Brian2 (linear 30-20-10 task of Lillicrap et al. 2016)."""

import numpy as np
import pytest

from neurosim.errors import NeurosimError
from neurosim.networks.linear_fa import FAConfig, make_task, train
from neurosim.plasticity.feedback_alignment import VARIANTS, step
from neurosim.protocol import load_protocol
from neurosim.runner import run_protocol

# With the default target noise (0.1) backprop and feedback alignment reach
# their noise floor (about 4e-4 and 3e-4) by about step 1300 for seeds 0, 1
# and 2 (FA/BP 0.74-0.77, shallow/BP > 1000 at 1500 steps); about 0.6 s per
# variant on the numpy target.
STEPS = 1500
FINAL = slice(-STEPS // 10, None)  # "final error": mean over the last 10 % of steps


@pytest.fixture(scope="module")
def curves():
    return {v: train(FAConfig(variant=v, steps=STEPS, seed=0)) for v in VARIANTS}


def final_error(ds):
    # the running mean still fluctuates with the noise; average it once more
    return float(ds.error[FINAL].mean())


@pytest.mark.parametrize("variant", VARIANTS)
def test_brian2_steps_equal_numpy_reference(variant):
    # a large noise, so that a step that ignored it or recorded the noisy
    # error would be far outside the tolerances
    config = FAConfig(variant=variant, steps=3, seed=7, target_noise=0.5)
    task = make_task(config)
    assert np.abs(task.noise).max() > 0.1
    ds = train(config, task=task)
    state = task.state
    for k in range(config.steps):
        state, info = step(
            state, task.inputs[k], task.observed_targets[k], variant=variant, learning_rate=0.005
        )
    np.testing.assert_allclose(ds.hidden_weights.values, state.W1, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ds.output_weights.values, state.W2, rtol=0, atol=1e-12)
    # recorded against the noise-free target
    clean = task.targets[-1] - info.output
    expected = clean @ clean / (task.targets[-1] @ task.targets[-1])
    assert float(ds.error_example[-1]) == pytest.approx(expected, rel=1e-10)
    if variant == "feedback_alignment":
        cos = (
            info.delta @ info.delta_bp / np.linalg.norm(info.delta) / np.linalg.norm(info.delta_bp)
        )
        assert float(ds.update_angle_example[-1]) == pytest.approx(
            np.degrees(np.arccos(cos)), abs=1e-8
        )


def test_noise_is_shared_by_variants_and_keeps_the_noiseless_task():
    tasks = [make_task(FAConfig(variant=v, steps=50, seed=3)) for v in VARIANTS]
    for task in tasks[1:]:
        np.testing.assert_array_equal(task.noise, tasks[0].noise)
    assert float(np.std(tasks[0].noise)) == pytest.approx(0.1, rel=0.2)
    noiseless = make_task(FAConfig(steps=50, seed=3, target_noise=0.0))
    assert not noiseless.noise.any()
    np.testing.assert_array_equal(noiseless.inputs, tasks[0].inputs)
    np.testing.assert_array_equal(noiseless.T, tasks[0].T)


def test_feedback_alignment_matches_backprop_and_shallow_does_not(curves):
    final = {v: final_error(ds) for v, ds in curves.items()}
    assert 1e-5 < final["backprop"] < 1e-2  # a noise floor, not rounding level
    assert final["feedback_alignment"] <= 2 * final["backprop"]
    assert final["shallow"] > 10 * final["backprop"]


def test_update_angle_falls_below_90_degrees_and_stays(curves):
    fa = curves["feedback_alignment"]
    assert float(fa.update_angle[10]) > 60  # starts near orthogonal
    assert float(fa.update_angle[STEPS // 2 :].max()) < 90
    assert float(np.median(fa.update_angle_example[STEPS // 2 :])) < 60
    assert float(fa.weight_angle[-1]) < 60  # W2 has aligned with B^T
    assert float(curves["backprop"].update_angle.max()) < 1e-3
    assert np.isnan(curves["shallow"].update_angle).all()


def test_feedback_weights_never_change(curves):
    B = make_task(FAConfig(steps=STEPS, seed=0)).state.B
    for variant, ds in curves.items():
        np.testing.assert_array_equal(ds.feedback_weights.values, B, err_msg=variant)


def test_protocol_runs_and_writes_outputs(tmp_path):
    protocol = load_protocol("fa_linear_fa", ["training.steps=20"])
    result = run_protocol(protocol, tmp_path, progress=False)
    names = sorted(p.name for p in result.files)
    assert names == ["fa_linear_fa.nc", "fa_linear_fa_fa_curves.png"]
    ds = result.dataset
    assert ds.error.sizes == {"step": 20}
    assert ds.update_angle.attrs["units"] == "degree"
    assert ds.attrs["seed"] == protocol.seed


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("training.variant=backprob", "training.variant: expected one of"),
        ("training.steps=0", "training.steps: has to be an integer >= 1, got 0"),
        ("training.learning_rate=5 mV", "training.learning_rate: '5 mV' has units of volt"),
        ("training.sizes=[30, 20]", "training.sizes: expected three integers"),
        ("training.target_noise=-0.1", "training.target_noise: has to be >= 0, got -0.1"),
        ("training.target_noise=0.1 mV", "training.target_noise: '0.1 mV' has units of volt"),
        ("training.epochs=3", "unknown key 'epochs'"),
    ],
)
def test_protocol_errors_name_file_key_and_value(override, message):
    protocol = load_protocol("fa_linear_fa", [override])
    with pytest.raises(NeurosimError, match=r"fa_linear_fa\.yaml") as err:
        run_protocol(protocol, "unused", progress=False)
    assert message in str(err.value)
