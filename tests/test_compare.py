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
    # the curve's points are columns, and the angle's first and last 10 % beside
    assert rows[0][2:4] == ["after 200 examples (%)", "after 400 examples (%)"]
    for row, rule in zip(rows[1:], ds.rule.values, strict=True):
        curve = ds.curve_error.sel(rule=rule).values[:2]
        assert [float(v) for v in row[2:4]] == [round(float(e), 1) for e in curve]
    first, last = (
        rows[0].index("update angle, first 10 % (deg)"),
        rows[0].index("update angle, last 10 % (deg)"),
    )
    fa = rows[1:][list(ds.rule.values).index("fa")]
    assert float(fa[last]) == round(float(ds.final_update_angle.sel(rule="fa")), 1)
    head = ds.update_angle.sel(rule="fa").values
    head = head[np.isfinite(head)]
    assert float(fa[first]) == round(float(head[: len(head) // 10].mean()), 1)
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


def test_compare_on_fashion_mnist_uses_identical_examples(tmp_path, monkeypatch, capsys):
    """`neurosim compare` on Fashion-MNIST: the segregated network and the four torch
    rules train on the same example indices in the same order and record the data."""
    import json

    from fake_data import pin_content, write_idx_set

    from neurosim.datasets import known

    folder = tmp_path / "data" / "fashion-mnist"
    write_idx_set(folder, seed=11, n=60)
    pin_content(monkeypatch, "fashion_mnist", folder)
    monkeypatch.setenv("NEUROSIM_DATA", str(tmp_path / "data"))
    monkeypatch.setattr(known, "SYSTEM_DATA_DIRS", [])
    out = tmp_path / "cmp"
    args = ["compare", "compare_mnist", "--out", str(out), "--quiet"]
    for item in (
        "training.dataset=fashion_mnist",
        "training.train_examples=40",
        "training.test_examples=20",
        "training.eval_every=20",
        "training.epochs=2",
        "training.segregated.angle_every=0",
    ):
        args += ["--set", item]
    assert main(args) == 0
    ds = xr.load_dataset(out / "compare_mnist.nc")
    assert list(ds.rule.values) == ["segregated", "backprop", "fa", "dfa", "shallow"]
    # per epoch, the digest of the indices each network was shown, in order
    expected = ",".join(order_digest(epoch_order(40, seed=0, epoch=e)) for e in range(2))
    assert list(ds.train_order.values) == [expected] * 5
    assert ds.attrs["data_name"] == "fashion_mnist"
    assert ds.attrs["data_train_examples"] == 40 and ds.attrs["data_test_examples"] == 20
    files = json.loads(ds.attrs["data_files"])
    assert {f["path"] for f in files} == {str(p) for p in folder.iterdir()}


def test_compare_wrong_checksum_is_one_line(tmp_path, monkeypatch, capsys):
    from fake_data import IDX, write_idx_set

    from neurosim.datasets import known

    write_idx_set(tmp_path / "fashion-mnist", seed=12)
    monkeypatch.setenv("NEUROSIM_DATA", str(tmp_path))
    monkeypatch.setattr(known, "SYSTEM_DATA_DIRS", [])
    assert main(["compare", "compare_mnist", "--set", "training.dataset=fashion_mnist"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    bad = tmp_path / "fashion-mnist" / IDX["train"][0]
    assert f"checksum mismatch for {bad}: decompressed SHA-256 is" in err
    assert known.KNOWN_SETS["fashion_mnist"].content_sha256[IDX["train"][0]] in err
