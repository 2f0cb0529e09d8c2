"""Corrupt and foreign files, --resume without a checkpoint, failed runs: one line, exit 2.

Every case goes through the command line (``neurosim.cli.main``) and checks
the whole of stderr, the exit status and that nothing was written.
"""

from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
import xarray as xr

from neurosim.cli import main
from neurosim.errors import NeurosimError
from neurosim.recording import provenance, save_recording
from neurosim.rl.run import control_out

GARBAGE = np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()


def recording(path: Path) -> Path:
    """A small valid recording (state variable and spikes, with provenance)."""
    t = np.arange(20) * 1e-4
    ds = xr.Dataset(
        {
            "cell_v": (("cell_time", "cell_neuron"), np.zeros((20, 2)), {"units": "volt"}),
            "cell_spike_time": (("cell_spike",), [1e-4, 5e-4], {"units": "second"}),
            "cell_spike_neuron": (("cell_spike",), [0, 1], {"units": "1"}),
        },
        coords={"cell_time": ("cell_time", t, {"units": "second"}), "cell_neuron": [0, 1]},
        attrs=provenance(seed=0),
    )
    return save_recording(ds, path)


def bad_recording(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.nc"
    if kind == "garbage":
        path.write_bytes(GARBAGE)
    elif kind == "truncated":
        whole = recording(tmp_path / "whole.nc").read_bytes()
        path.write_bytes(whole[: len(whole) // 2])
    elif kind == "plain_hdf5":  # HDF5, but no netCDF file
        with h5py.File(path, "w") as f:
            f["a"] = np.arange(3)
    elif kind == "empty":
        path.write_bytes(b"")
    else:  # a valid netCDF file that neurosim did not write
        xr.Dataset({"temperature": (("x",), np.ones(3))}).to_netcdf(path, engine="h5netcdf")
    return path


def one_line(capsys, expected: str) -> None:
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [f"neurosim: error: {expected}"]


@pytest.mark.parametrize("command", ["analyze", "plot", "export"])
@pytest.mark.parametrize("kind", ["garbage", "truncated", "plain_hdf5", "foreign", "empty"])
def test_bad_recordings_are_one_line(tmp_path, capsys, command, kind):
    path = bad_recording(tmp_path, kind)
    out = tmp_path / "out"
    argv = {
        "analyze": ["analyze", str(path), "--out", str(out / "summary.nc")],
        "plot": ["plot", str(path), "--kind", "traces", "--out", str(out / "x.png")],
        "export": ["export", str(path), "--format", "nwb", "--out", str(out / "x.nwb")],
    }[command]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert len(captured.err.splitlines()) == 1
    expected = f"neurosim: error: {path} is truncated or not a neurosim recording"
    if kind == "empty":  # issue 18: says so, not "got NoneType" or "truncated"
        expected = f"neurosim: error: {path}: the file is empty, not a neurosim recording"
    assert captured.err.startswith(expected)
    assert not out.exists()


def test_a_good_recording_still_reads(tmp_path, capsys):
    path = recording(tmp_path / "good.nc")
    assert main(["analyze", str(path)]) == 0
    assert "cell" in capsys.readouterr().out


def npz_checkpoint(path: Path, kind: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "garbage":
        path.write_bytes(GARBAGE)
    elif kind == "truncated":
        np.savez(path, epoch=np.int64(1), W_0=np.ones((100, 100)))
        path.write_bytes(path.read_bytes()[:5000])
    elif kind == "empty":
        path.write_bytes(b"")
    else:  # a valid .npz of something else
        np.savez(path, x=np.arange(5))
    return path


@pytest.mark.parametrize("kind", ["garbage", "truncated", "empty", "foreign"])
def test_corrupt_segregated_checkpoint(tmp_path, capsys, kind):
    ckpt = npz_checkpoint(tmp_path / "run" / "checkpoint.npz", kind)
    before = ckpt.read_bytes()
    argv = ["run", "segregated_mnist_demo", "--out", str(ckpt.parent), "--quiet", "--resume"]
    assert main(argv) == 2
    if kind == "empty":
        one_line(capsys, f"{ckpt}: the file is empty, not a neurosim checkpoint")
    else:
        one_line(capsys, f"{ckpt} is truncated or not a neurosim checkpoint")
    assert [p.name for p in ckpt.parent.iterdir()] == ["checkpoint.npz"]
    assert ckpt.read_bytes() == before


def torch_checkpoint(path: Path, kind: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "garbage":
        path.write_bytes(GARBAGE)
    elif kind == "truncated":
        torch.save({"algorithm": "a3c", "actor": torch.ones(200, 200)}, path)
        path.write_bytes(path.read_bytes()[:3000])
    elif kind == "list":  # loads, but is no dictionary
        torch.save([torch.ones(3)], path)
    else:  # a dictionary of tensors from somewhere else
        torch.save({"weights": torch.ones(3)}, path)
    return path


@pytest.mark.parametrize("kind", ["garbage", "truncated", "list", "foreign"])
@pytest.mark.parametrize("algorithm", ["a3c", "ddpg"])
def test_corrupt_rl_checkpoint(tmp_path, capsys, algorithm, kind):
    ckpt = torch_checkpoint(tmp_path / "run" / "checkpoint.pt", kind)
    before = ckpt.read_bytes()
    argv = ["rl-train", algorithm, "--env", "Pendulum-v1", "--out", str(ckpt.parent)]
    assert main([*argv, "--resume", "--quiet"]) == 2
    one_line(capsys, f"{ckpt} is truncated or not a neurosim checkpoint")
    assert [p.name for p in ckpt.parent.iterdir()] == ["checkpoint.pt"]
    assert ckpt.read_bytes() == before
    out = tmp_path / "control"
    assert main(["rl-control", str(ckpt), "--out", str(out)]) == 2
    one_line(capsys, f"{ckpt} is truncated or not a neurosim checkpoint")
    assert not out.exists()


@pytest.mark.parametrize("algorithm", ["a3c", "ddpg"])
def test_resume_without_checkpoint_is_refused(tmp_path, capsys, algorithm):
    out = tmp_path / "new" / "run"
    argv = ["rl-train", algorithm, "--env", "Pendulum-v1", "--out", str(out), "--resume"]
    assert main(argv) == 2
    one_line(
        capsys,
        f"{out / 'checkpoint.pt'}: no checkpoint to resume from "
        "(run without --resume to start afresh)",
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("algorithm", ["a3c", "ddpg"])
def test_failed_rl_run_leaves_no_folder(tmp_path, capsys, algorithm):
    out = tmp_path / "new" / "run"
    argv = ["rl-train", algorithm, "--env", "NoSuchEnv-v0", "--out", str(out), "--quiet"]
    assert main(argv) == 2
    assert "NoSuchEnv-v0" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_failed_command_removes_only_empty_folders_it_created(tmp_path, monkeypatch):
    """The CLI's safety net: whatever a failing command created and left empty goes."""
    import neurosim.rl.run

    def failing(files):
        def train(algorithm, config, out, **kwargs):
            (out / "sub" / "deeper").mkdir(parents=True)
            for name in files:
                (out / name).write_text("kept")
            raise NeurosimError("failed")

        return train

    argv = ["rl-train", "ddpg", "--env", "Pendulum-v1", "--quiet", "--out"]
    monkeypatch.setattr(neurosim.rl.run, "train", failing([]))
    assert main([*argv, str(tmp_path / "a" / "run")]) == 2
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(neurosim.rl.run, "train", failing(["metrics.nc"]))
    assert main([*argv, str(tmp_path / "b" / "run")]) == 2
    assert sorted(p.name for p in (tmp_path / "b" / "run").iterdir()) == ["metrics.nc"]
    # a folder that existed before the command is left alone, even if empty
    (tmp_path / "c").mkdir()
    monkeypatch.setattr(neurosim.rl.run, "train", failing([]))
    assert main([*argv, str(tmp_path / "c")]) == 2
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == ["sub"]


def test_rl_control_writes_under_results(tmp_path, monkeypatch):
    import neurosim.rl.run

    seen = []
    monkeypatch.setattr(
        neurosim.rl.run, "control", lambda ckpt, out, **kw: seen.append(Path(out)) or ([], [], [])
    )
    monkeypatch.chdir(tmp_path)
    assert main(["rl-control", "data/rl/cartpole_a3c.pt"]) == 0
    assert seen == [Path("results/cartpole_a3c/controller")]
    assert control_out("results/a3c_CartPole-v1_seed0/checkpoint.pt") == Path(
        "results/a3c_CartPole-v1_seed0/controller"
    )


@pytest.mark.parametrize("what", ["protocol", "model"])
@pytest.mark.parametrize("content", ["", "  \n\n", "# only a comment\n", "null\n"])
def test_empty_yaml_files_say_so(tmp_path, capsys, what, content):
    """Issue 18: an empty protocol or model file is named as empty, not "got NoneType"."""
    path = tmp_path / f"{what}.yaml"
    path.write_text(content)
    if what == "protocol":
        assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err
    else:
        from neurosim import load_model
        from neurosim.errors import NeurosimError

        with pytest.raises(NeurosimError) as info:
            load_model(path)
        err = f"neurosim: error: {info.value}"
    assert len(err.splitlines()) == 1 and "NoneType" not in err
    said = "is empty" if not content.strip() else "holds only comments or null"
    assert f"{path}: the {what} file {said}" in err
