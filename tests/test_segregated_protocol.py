"""The segregated_dendrite protocol kind through `neurosim run`: outputs and --resume."""

import numpy as np
import pytest
from segregated_small import SMALL_OVERRIDES

from neurosim import load_protocol, load_recording
from neurosim.cli import main
from neurosim.errors import NeurosimError


def run(out, *extra, resume=False):
    args = ["run", "segregated_mnist_demo", "--out", str(out), "--quiet"]
    args += ["--resume"] if resume else []
    for item in [*SMALL_OVERRIDES, *extra]:
        args += ["--set", item]
    assert main(args) == 0


def test_run_writes_recording_plots_and_checkpoint(tmp_path, capsys):
    run(tmp_path, "training.epochs=1")
    printed = capsys.readouterr().out
    assert "test error per epoch" in printed
    names = {p.name for p in tmp_path.iterdir()}
    assert {
        "segregated_mnist_demo.nc",
        "checkpoint.npz",
        "segregated_mnist_demo_weights.png",
        "segregated_mnist_demo_learning_curve.png",
        "segregated_mnist_demo_compartments.png",
    } <= names
    ds = load_recording(tmp_path / "segregated_mnist_demo.nc")
    assert ds.test_error.dims == ("epoch",) and 0 <= float(ds.test_error[0]) <= 100
    assert ds.W_0.shape == (30, 784) and ds.Y_0.shape == (30, 10)
    # one quick test after 20 examples; the one at 40 is the end-of-epoch test
    assert list(ds.examples_seen.values) == [20]
    assert ds.layer0_C.sizes["layer0_neuron"] == 3
    assert ds.attrs["protocol_name"] == "segregated_mnist_demo"


def test_resume_equals_uninterrupted(tmp_path):
    run(tmp_path / "straight", "training.epochs=2")
    run(tmp_path / "resumed", "training.epochs=1")
    run(tmp_path / "resumed", "training.epochs=2", resume=True)
    a = load_recording(tmp_path / "straight" / "segregated_mnist_demo.nc")
    b = load_recording(tmp_path / "resumed" / "segregated_mnist_demo.nc")
    for name in ("W_0", "W_1", "b_0", "b_1", "Y_0"):
        np.testing.assert_array_equal(a[name].values, b[name].values)
    np.testing.assert_array_equal(a.test_error.values, b.test_error.values)
    assert b.attrs["resumed_from_epoch"] == 1


def test_bad_training_section():
    with pytest.raises(NeurosimError, match=r"training: unknown key 'epoch' \(did you mean"):
        from neurosim.networks.segregated_protocol import training_config

        training_config(load_protocol("segregated_mnist_demo", ["training.epoch=3"]))


def test_initial_weights_and_order_options():
    from neurosim.networks.segregated_protocol import training_config

    def flags(config, options):
        return (
            config.init,
            config.feedback_bias,
            config.layer_delay,
            config.spikes,
            options["shuffle"],
        )

    config, options = training_config(load_protocol("segregated_mnist_demo"))
    assert flags(config, options) == ("reference", False, False, "poisson", True)
    sets = [
        "init=narrow",
        "feedback_bias=true",
        "layer_delay=true",
        "spikes=bernoulli",
        "shuffle=false",
    ]
    config, options = training_config(
        load_protocol("segregated_mnist_demo", [f"training.{s}" for s in sets])
    )
    assert flags(config, options) == ("narrow", True, True, "bernoulli", False)
    with pytest.raises(NeurosimError, match=r"training\.layer_delay: expected true: spikes"):
        training_config(load_protocol("segregated_mnist_demo", ["training.layer_delay=1"]))
    with pytest.raises(NeurosimError, match=r"training\.init: expected one of 'reference'"):
        training_config(load_protocol("segregated_mnist_demo", ["training.init=centred"]))
    with pytest.raises(NeurosimError, match=r"training\.spikes: expected one of 'poisson'"):
        training_config(load_protocol("segregated_mnist_demo", ["training.spikes=binomial"]))
