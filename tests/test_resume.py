"""Kill and resume lose nothing: a segregated run SIGKILLed at three points, then resumed.

The runs are real ``neurosim run`` subprocesses of a tiny segregated protocol.
Kills inside a write use the test hook ``NEUROSIM_TEST_KILL_AT`` of
:mod:`neurosim.atomic` (the process SIGKILLs itself right before a complete
temporary is renamed into place); the mid-epoch kill is a SIGKILL from here
once the first epoch's checkpoint exists.
"""

import os
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
import xarray as xr
from segregated_small import SMALL_OVERRIDES

from neurosim.atomic import KILL_AT
from neurosim.checkpoints import load_checkpoint
from neurosim.cli import main
from neurosim.errors import NeurosimError
from neurosim.recording import load_recording
from neurosim.runner import write_outputs

NAME = "segregated_mnist_demo"
TINY = [*SMALL_OVERRIDES, "training.epochs=2"]


def command(out, resume=False):
    args = [sys.executable, "-m", "neurosim", "run", NAME, "--out", str(out), "--quiet"]
    for item in TINY:
        args += ["--set", item]
    return args + (["--resume"] if resume else [])


def environment(kill_at=None):
    env = {k: v for k, v in os.environ.items() if k != KILL_AT}
    if kill_at is not None:
        env[KILL_AT] = kill_at
    return env


def neurosim(out, resume=False, kill_at=None):
    return subprocess.run(
        command(out, resume), env=environment(kill_at), capture_output=True, text=True
    )


def data_vars(path):
    ds = load_recording(path)
    ds.attrs = {}  # provenance: times and the command line differ
    return ds


def hidden(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def checkpoint_epoch(folder):
    return int(load_checkpoint(folder / "checkpoint.npz", "segregated")["epoch"])


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """The uninterrupted run (in this process: one interpreter start less)."""
    out = tmp_path_factory.mktemp("straight")
    assert main(command(out)[3:]) == 0
    return out


def test_killed_three_times_then_resumed_equals_uninterrupted(straight, tmp_path):
    out = tmp_path / "killed"
    recording = out / f"{NAME}.nc"

    # 1. mid-epoch: SIGKILL once epoch 0's checkpoint is there, during epoch 1;
    # to the whole process group, so that a cpp_standalone binary dies too
    proc = subprocess.Popen(
        command(out),
        env=environment(),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while not (out / "checkpoint.npz").exists() and proc.poll() is None:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    assert checkpoint_epoch(out) == 1 and not recording.exists()

    # 2. inside the write of epoch 1's checkpoint (the first one this process writes)
    killed = neurosim(out, resume=True, kill_at="checkpoint.npz:1")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert checkpoint_epoch(out) == 1 and not recording.exists()
    assert hidden(out), "the hook fires with the complete temporary in place"

    # 3. inside the final write of the recording
    killed = neurosim(out, resume=True, kill_at=f"{NAME}.nc")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert checkpoint_epoch(out) == 2 and not recording.exists()
    assert any(name.startswith(f".{NAME}.nc.") for name in hidden(out))

    done = neurosim(out, resume=True)
    assert done.returncode == 0, done.stderr
    xr.testing.assert_identical(data_vars(recording), data_vars(straight / f"{NAME}.nc"))
    assert hidden(out) == []
    assert {p.name for p in out.iterdir()} == {p.name for p in straight.iterdir()}


def test_resume_of_finished_run_is_a_no_op(straight):
    files = sorted(p for p in straight.iterdir())
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in files}
    done = neurosim(straight, resume=True)
    assert done.returncode == 0, done.stderr
    assert f"{NAME}: already finished: 2 epochs; nothing to do" in done.stdout
    assert "wrote" not in done.stdout
    assert sorted(straight.iterdir()) == files
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in files} == before


def test_resume_without_checkpoint_is_refused(tmp_path, capsys):
    out = tmp_path / "none"
    args = ["run", NAME, "--out", str(out), "--quiet", "--resume"]
    assert main(args) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"neurosim: error: {out / 'checkpoint.npz'}: no checkpoint to resume "
        "from (run without --resume to start afresh)"
    ]
    assert not out.exists()


def test_a_resumed_write_never_replaces_a_recording_with_less(tmp_path):
    protocol = SimpleNamespace(name="x", output={"formats": ["netcdf"], "plots": []})
    epochs = xr.Dataset(
        {
            "test_error": (("epoch",), [30.0, 20.0]),
            "quick_error": (("quick_test",), [50.0]),
        },
        attrs={"end_time": "first"},
    )
    write_outputs(protocol, epochs, tmp_path, resume=True)
    path = tmp_path / "x.nc"
    before = path.read_bytes()
    with pytest.raises(NeurosimError, match=r"x\.nc: not overwritten: it holds variables quick_"):
        write_outputs(protocol, epochs.drop_vars("quick_error"), tmp_path, resume=True)
    with pytest.raises(NeurosimError, match=r"x\.nc: not overwritten: it holds 2 epochs"):
        write_outputs(protocol, epochs.isel(epoch=[0]), tmp_path, resume=True)
    assert path.read_bytes() == before and hidden(tmp_path) == []
    # more is fine, and so is anything when the run is not a resumed one
    write_outputs(protocol, epochs.assign(extra=("epoch", [1.0, 2.0])), tmp_path, resume=True)
    write_outputs(protocol, epochs.isel(epoch=[0]), tmp_path)
    assert load_recording(path).sizes["epoch"] == 1
