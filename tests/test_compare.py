"""`neurosim compare`: every rule on the same data, one table, curves and angles."""

import csv

import numpy as np
import xarray as xr

from neurosim.cli import main
from neurosim.datasets import epoch_order, order_digest


def test_compare_writes_table_curves_and_angles(tmp_path, capsys):
    out = tmp_path / "cmp"
    code = main(
        [
            "compare",
            "compare_mnist",
            "--out",
            str(out),
            "--quiet",
            "--set",
            "training.train_examples=400",
            "--set",
            "training.test_examples=100",
            "--set",
            "training.eval_every=200",
            "--set",
            "training.torch.angle_every=20",
        ]
    )
    assert code == 0
    ds = xr.load_dataset(out / "compare_mnist.nc")
    assert list(ds.rule.values) == ["segregated", "backprop", "fa", "dfa", "shallow"]
    # Every network was trained on the first 400 examples in the same order:
    # the digest of the indices each one used, against the shared definition.
    assert set(ds.train_order.values) == {order_digest(epoch_order(400, seed=0, epoch=0))}
    assert np.all((ds.test_error >= 0) & (ds.test_error <= 100))
    assert np.all(ds.train_time > 0)
    # Curves at 200 and 400 examples for every network.
    for rule in ds.rule.values:
        seen = ds.curve_examples.sel(rule=rule).values
        assert list(seen[~np.isnan(seen)]) == [200, 400]
    angles = ds.update_angle.sel(rule="segregated").values
    angles = angles[~np.isnan(angles)]
    assert len(angles) == 40  # examples 0, 10, ..., 390
    assert np.all((angles > 0) & (angles < 180))
    assert float(ds.final_update_angle.sel(rule="backprop")) < 1e-3
    assert np.isnan(float(ds.final_update_angle.sel(rule="shallow")))
    assert 0 < float(ds.final_update_angle.sel(rule="fa")) < 90
    with open(out / "compare_mnist_table.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0][0] == "rule" and [r[0] for r in rows[1:]] == list(ds.rule.values)
    assert (out / "compare_mnist_comparison_curves.png").stat().st_size > 0
    assert (out / "compare_mnist_comparison_angles.png").stat().st_size > 0
    assert "| fa |" in capsys.readouterr().out


def test_compare_needs_a_comparison_protocol(capsys):
    assert main(["compare", "smoke_passive"]) == 2
    err = capsys.readouterr().err
    assert "neurosim compare needs a protocol of kind 'comparison'" in err
    assert "Traceback" not in err


def test_compare_rejects_unknown_rule(capsys):
    code = main(["compare", "compare_mnist", "--set", "training.torch.rules=[fa, hebb]"])
    assert code == 2
    assert "training.torch.rules: unknown rule 'hebb'" in capsys.readouterr().err
