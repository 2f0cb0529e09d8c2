"""The segregated_dendrite protocol kind through `neurosim run`: outputs and --resume."""

import numpy as np
import pytest
from figure_checks import figures, problems  # noqa: F401  (figures: a fixture)
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
        "segregated_mnist_demo_weights.npz",
        "segregated_mnist_demo_class_templates.png",
        "segregated_mnist_demo_weight_change.png",
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


def test_a_run_in_progress_is_plotted_from_its_checkpoint(tmp_path, figures, capsys):  # noqa: F811
    """``neurosim plot checkpoint.npz``: a long run's curve while it trains (issue 18)."""
    from neurosim.networks.segregated_protocol import checkpoint_recording

    run(tmp_path, "training.epochs=2")
    done = load_recording(tmp_path / "segregated_mnist_demo.nc")
    ds = checkpoint_recording(tmp_path / "checkpoint.npz")
    # what the recording holds of the last epoch, from the checkpoint alone
    for name in ("test_error", "quick_error", "W_0", "Y_0", "layer0_C"):
        np.testing.assert_array_equal(ds[name].values, done[name].values)
    assert ds.quick_error.attrs["test_examples"] == done.quick_error.attrs["test_examples"] == 10
    assert ds.attrs["checkpoint_epoch"] == 2 and ds.attrs["data_name"] == "mnist_subset"
    assert main(["plot", str(tmp_path / "checkpoint.npz"), "--kind", "learning_curve"]) == 0
    fig = figures[-1]  # the run drew its own before
    assert problems(fig) == []
    assert "from its checkpoint after epoch 2" in fig._suptitle.get_text()
    assert "quick tests (10 test images)" in [t.get_text() for t in fig.axes[1].get_legend().texts]
    capsys.readouterr()
    # a weights file is no checkpoint: one line, exit code 2
    weights = tmp_path / "segregated_mnist_demo_weights.npz"
    assert main(["plot", str(weights), "--kind", "learning_curve"]) == 2
    err = capsys.readouterr().err
    assert str(weights) in err and len(err.strip().splitlines()) == 1


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


def test_user_npz_sets_the_network_and_is_recorded(tmp_path):
    """3 classes of 20 x 20 images: 400 inputs, 3 output neurons, the file's SHA-256 kept."""
    import hashlib
    import json

    from fake_data import bars_npz

    data = bars_npz(tmp_path / "bars.npz", n_train=40, n_test=24)
    run(tmp_path / "out", "training.epochs=1", f"training.dataset={data}")
    out = tmp_path / "out"
    ds = load_recording(out / "segregated_mnist_demo.nc")
    assert ds.W_0.shape == (30, 400) and ds.W_1.shape == (3, 30) and ds.Y_0.shape == (30, 3)
    assert ds.test_output_rate.shape == (20, 3)
    files = json.loads(ds.attrs["data_files"])
    assert files[0]["sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert ds.attrs["data_name"] == "bars" and ds.attrs["data_train_examples"] == 40
    assert json.loads(ds.attrs["data_classes"]) == ["top", "middle", "bottom"]
    for plot in ("class_templates", "weight_change", "compartments", "learning_curve"):
        assert (out / f"segregated_mnist_demo_{plot}.png").stat().st_size > 0
    # issue 18: the compartment figure says what it shows, in words and units
    import neurosim.networks.segregated_protocol as sp

    drawn = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sp, "save_figure", lambda fig, path: drawn.append(fig) or path)
        sp.plot_compartments(ds, tmp_path / "c.png")
    axes = drawn[0].axes
    assert [ax.get_ylabel() for ax in axes] == [
        "B (basal), a.u.", "A (apical), a.u.", "C (soma), a.u."
    ]  # fmt: skip
    assert "dimensionless" in drawn[0]._suptitle.get_text()
    assert axes[-1].get_xlabel() == "time step (1 ms)"
    assert axes[0].get_legend().get_texts()[0].get_text() == "neuron 0"
    # what learning changed, against the recorded start
    assert not np.array_equal(ds.W_0.values, ds.W_0_initial.values)

    # The weights file runs as a spiking network on test images, learning nothing.
    weights = out / "segregated_mnist_demo_weights.npz"
    run(
        tmp_path / "test_only",
        "training.epochs=0",
        f"training.dataset={data}",
        f"training.weights={weights}",
    )
    test = load_recording(tmp_path / "test_only" / "segregated_mnist_demo.nc")
    assert test.attrs["trained_epochs"] == 0 and test.attrs["data_train_examples"] == 0
    np.testing.assert_allclose(test.W_0.values, ds.W_0.values, rtol=1e-6)  # float32 file
    predicted = np.argmax(test.test_output_rate.values, axis=1)
    wrong = 100.0 * np.mean(predicted != test.test_label.values)
    assert float(test.test_error[0]) == pytest.approx(wrong)
    assert "layer0_C" in test and test.test_output_rate.attrs["units"] == "Hz"


def test_weights_for_another_network_are_refused(tmp_path, capsys):
    from fake_data import bars_npz

    from neurosim.networks.segregated import SegregatedConfig, init_weights
    from neurosim.networks.segregated_protocol import save_weights

    data = bars_npz(tmp_path / "bars.npz")
    config = SegregatedConfig(hidden_sizes=(7,), learning_rates=(0.1, 0.1), n_outputs=3)
    path = save_weights(tmp_path / "w.npz", init_weights(config, 400), config, {})
    args = ["run", "segregated_mnist_demo", "--out", str(tmp_path / "o"), "--quiet"]
    for item in (*SMALL_OVERRIDES, f"training.dataset={data}", f"training.weights={path}"):
        args += ["--set", item]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert f"{path}: W_0 is (7, 400)" in err and "needs (30, 400)" in err
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "o" / "segregated_mnist_demo.nc").exists()


def test_epochs_zero_needs_weights():
    from neurosim.networks.segregated_protocol import training_config

    with pytest.raises(NeurosimError, match=r"epochs: has to be an integer >= 1 \(0 only with"):
        training_config(load_protocol("segregated_mnist_demo", ["training.epochs=0"]))


def test_run_on_the_shipped_fashion_subset_records_it(tmp_path):
    import json

    run(tmp_path, "training.dataset=fashion_mnist_subset")
    ds = load_recording(tmp_path / "segregated_mnist_demo.nc")
    assert ds.attrs["data_name"] == "fashion_mnist_subset"
    assert json.loads(ds.attrs["data_classes"])[9] == "Ankle boot"
    assert json.loads(ds.attrs["data_files"])[0]["path"].endswith("fashion-mnist-subset.npz")
    assert ds.W_1.shape == (10, 30)


def test_shipped_weights_carry_a_check_that_reruns(tmp_path):
    """tools.ship_weights: a run's weights plus the error of a rerunnable test-only check."""
    import importlib.util
    import json
    from pathlib import Path

    from neurosim.networks.segregated import SegregatedConfig

    # tools/ is a folder of scripts beside the package, not installed with it
    path = Path(__file__).resolve().parents[1] / "tools" / "ship_weights.py"
    spec = importlib.util.spec_from_file_location("ship_weights", path)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    check_error, ship = tool.check_error, tool.ship

    run(tmp_path / "train", "training.epochs=1")
    source = tmp_path / "train" / "segregated_mnist_demo_weights.npz"
    meta = ship(source, tmp_path / "shipped.npz", "mnist_subset", 20)
    with np.load(tmp_path / "shipped.npz") as npz:
        header = json.loads(str(npz["meta"]))
        assert npz["W_0"].dtype == np.float32 and npz["W_0"].shape == (30, 784)
    assert header["check"] == meta["check"] and header["data_name"] == "mnist_subset"
    assert 0 <= header["check"]["test_error"] <= 100 and header["test_errors"]
    config = SegregatedConfig(hidden_sizes=(30,), learning_rates=(0.21, 0.21))
    again = check_error(tmp_path / "shipped.npz", "mnist_subset", 20, config)
    assert abs(again - header["check"]["test_error"]) <= 2.0


def test_weights_trained_with_other_dynamics_are_refused(tmp_path, capsys):
    run(tmp_path / "train", "training.epochs=1")
    weights = tmp_path / "train" / "segregated_mnist_demo_weights.npz"
    args = ["run", "segregated_mnist_demo", "--out", str(tmp_path / "o"), "--quiet"]
    for item in (
        *SMALL_OVERRIDES,
        "training.epochs=0",
        f"training.weights={weights}",
        "training.spikes=bernoulli",
    ):
        args += ["--set", item]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "trained with training.spikes = 'poisson', the protocol says 'bernoulli'" in err


def test_load_weights_refuses_what_is_not_this_network(tmp_path):
    """A deeper network's file, other classes, a header that is not a dict: one line each."""
    from neurosim.networks.segregated import SegregatedConfig, init_weights
    from neurosim.networks.segregated_protocol import load_weights, save_weights

    shallow = SegregatedConfig(hidden_sizes=(10,), learning_rates=(0.1, 0.1), n_outputs=10)
    deep = SegregatedConfig(hidden_sizes=(10, 10), learning_rates=(0.1,) * 3, n_outputs=10)
    # the deep network's first two layers have the shallow one's shapes
    path = save_weights(tmp_path / "deep.npz", init_weights(deep, 784), deep, {})
    with pytest.raises(NeurosimError, match=r"holds W_2, Y_1, b_2, c_1, which the network .*"):
        load_weights(path, shallow, 784)

    digits = {"data_name": "mnist", "data_classes": '["0","1","2","3","4","5","6","7","8","9"]'}
    path = save_weights(tmp_path / "mnist.npz", init_weights(shallow, 784), shallow, digits)
    weights, meta = load_weights(path, shallow, 784, tuple("0123456789"))
    assert meta["data_name"] == "mnist" and weights.W[0].shape == (10, 784)
    fashion = ("T-shirt/top", "Trouser", *(f"c{k}" for k in range(8)))
    with pytest.raises(NeurosimError, match=r"trained on the classes of mnist .*'T-shirt/top'"):
        load_weights(path, shallow, 784, fashion)

    bad = tmp_path / "bad.npz"
    np.savez(bad, meta=np.array("[1, 2]"), W_0=np.zeros((10, 784)))
    with pytest.raises(NeurosimError, match=r"not a neurosim weights file \(format 'list'\)"):
        load_weights(bad, shallow, 784)
    nan = init_weights(shallow, 784)
    nan.W[0][0, 0] = np.nan
    path = save_weights(tmp_path / "nan.npz", nan, shallow, {})
    with pytest.raises(NeurosimError, match=r"W_0 holds NaN or infinite weights"):
        load_weights(path, shallow, 784)


@pytest.mark.parametrize(("terminal", "quiet"), [(True, False), (False, False), (True, True)])
def test_training_reports_progress_within_an_epoch_on_a_terminal(
    tmp_path, monkeypatch, terminal, quiet
):
    """Issue 18: Brian2's report inside the run, on a terminal only and not with --quiet."""
    import sys

    import neurosim.networks.segregated_protocol as sp

    seen = {}

    class Stop(Exception):
        pass

    def train(*args, **kwargs):
        seen.update(kwargs)
        raise Stop

    monkeypatch.setattr(sp, "train", train)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: terminal, raising=False)
    protocol = load_protocol("segregated_mnist_demo", list(SMALL_OVERRIDES))
    with pytest.raises(Stop):
        sp.run_segregated(protocol, tmp_path, progress=not quiet)
    assert seen.get("report") == ("stderr" if terminal and not quiet else None)
