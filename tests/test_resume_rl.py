"""Kill and resume of ``rl-train``: Ctrl-C or SIGTERM keeps metrics and checkpoint.

The runs are real ``neurosim rl-train`` subprocesses of tiny agents, each in its
own process group, so that a signal reaches every process as a Ctrl-C in a
terminal (or a batch system's SIGTERM) does, A3C's workers included.
"""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import psutil
import pytest
import torch

from neurosim.atomic import KILL_AT
from neurosim.recording import load_recording

# Tiny agents; a periodic checkpoint early on tells the test that training runs.
RL = {
    "a3c": ["CartPole-v1", "workers=2", "hidden=[16]", "checkpoint_every=500",
            "eval_episodes=2", "loss_every=10"],
    "ddpg": ["Pendulum-v1", "hidden=[16, 16]", "batch_size=16", "learning_starts=100",
             "checkpoint_every=200", "eval_every=100000", "eval_episodes=1", "log_every=10"],
}  # fmt: skip


def rl_command(algorithm, out, steps, resume=False):
    env, *sets = RL[algorithm]
    args = [sys.executable, "-m", "neurosim", "rl-train", algorithm, "--env", env]
    args += ["--out", str(out), "--steps", str(steps), "--quiet"]
    for item in sets:
        args += ["--set", item]
    return args + (["--resume"] if resume else [])


def rl_environment():
    # one torch thread: a tiny network's backward pass on a busy machine is
    # otherwise slowed down by threads waiting on each other
    env = {k: v for k, v in os.environ.items() if k != KILL_AT}
    return {**env, "OMP_NUM_THREADS": "1"}


def hidden(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def saved_step(path):
    return int(torch.load(path, weights_only=True)["step"])


def start_training(algorithm, out):
    """Start a long rl-train in the background; return it and its first checkpoint's step."""
    # its own process group, so that a signal to the group reaches every
    # process as a Ctrl-C in a terminal does (A3C's workers included)
    proc = subprocess.Popen(
        rl_command(algorithm, out, 10**6),
        env=rl_environment(),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    ckpt = out / "checkpoint.pt"
    while not ckpt.exists() and proc.poll() is None:
        time.sleep(0.05)
    return proc, saved_step(ckpt)


@pytest.mark.parametrize(
    ("algorithm", "sig"),
    [
        ("a3c", signal.SIGINT),
        ("ddpg", signal.SIGINT),
        # a batch system's SIGTERM to the job's process group: A3C's workers
        # must finish their segment, not die in it
        ("a3c", signal.SIGTERM),
    ],
)
def test_ctrl_c_of_rl_train_keeps_metrics_and_checkpoint(tmp_path, algorithm, sig):
    out, ckpt = tmp_path / "run", tmp_path / "run" / "checkpoint.pt"
    proc, first = start_training(algorithm, out)
    os.killpg(proc.pid, sig)
    _, err = proc.communicate(timeout=300)
    step = saved_step(ckpt)
    assert proc.returncode == 130, err
    assert err.splitlines()[-1] == (
        f"neurosim: interrupted: {sig.name} at step {step}: metrics written to {out}, "
        f"checkpoint {ckpt} (continue with --resume)"
    )
    assert first <= step < 10**6
    metrics = load_recording(out / "metrics.nc")
    assert metrics.attrs["interrupted_at_step"] == step
    assert {"episodes.csv", "losses.csv"} <= {p.name for p in out.iterdir()}
    assert hidden(out) == []
    episodes = metrics.sizes["episode"]
    assert episodes > 0

    # --resume goes on from the interrupted step to the new total
    done = subprocess.run(
        rl_command(algorithm, out, step + 300, resume=True),
        env=rl_environment(),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert saved_step(ckpt) == step + 300
    resumed = load_recording(out / "metrics.nc")
    assert "interrupted_at_step" not in resumed.attrs
    assert resumed.sizes["episode"] > episodes
    assert resumed.episode_step.values[-1] <= step + 300
    np.testing.assert_array_equal(
        resumed.episode_step.values[:episodes], metrics.episode_step.values
    )


def test_a3c_worker_killed_is_one_line_and_keeps_the_checkpoint(tmp_path):
    out, ckpt = tmp_path / "run", tmp_path / "run" / "checkpoint.pt"
    proc, first = start_training("a3c", out)
    # one worker of two, as the OOM killer would: the run must not go on
    # silently with one worker less
    os.kill(psutil.Process(proc.pid).children()[0].pid, signal.SIGKILL)
    try:
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:  # a run that missed the lost worker goes on: end it
            os.killpg(proc.pid, signal.SIGKILL)
    step = saved_step(ckpt)
    assert proc.returncode == 2, err
    assert err.splitlines() == [
        f"neurosim: error: A3C: a worker process died without a message (killed, or out of "
        f"memory?); checkpoint {ckpt} at step {step} written (continue with --resume)"
    ]
    assert first <= step < 10**6
