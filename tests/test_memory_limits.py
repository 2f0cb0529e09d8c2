"""Sizes the machine cannot hold are refused in one line before anything is built."""

import pytest

from neurosim import memory
from neurosim.cli import main


@pytest.fixture
def one_gigabyte(monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda: 10**9)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train-optimizer", "--dim", "100000", "--iterations", "1"], "TrainConfig: needs about"),
        (
            ["rl-train", "ddpg", "--env", "Pendulum-v1", "--steps", "10",
             "--set", "hidden=[100000, 100000]"],
            "hidden [100000, 100000]: needs about 320 GB",
        ),
        (
            ["rl-train", "ddpg", "--env", "Pendulum-v1", "--steps", "100000000",
             "--set", "buffer_size=100000000"],
            "buffer_size 100000000: needs about",
        ),
        (
            ["rl-train", "a3c", "--env", "CartPole-v1", "--steps", "10",
             "--set", "hidden=[100000, 100000]"],
            "needs about 320 GB",
        ),
        (
            ["rl-train", "a3c", "--env", "CartPole-v1", "--steps", "10",
             "--set", "workers=100000"],
            "A3CConfig.workers: at most",
        ),
    ],
)  # fmt: skip
def test_oversized_runs_are_one_line(one_gigabyte, tmp_path, capsys, argv, message):
    out = tmp_path / "out"
    assert main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and len(err) < 300
    assert not out.exists()


def test_require_memory_names_the_parts(one_gigabyte):
    memory.require_memory({"a": 4e8, "b": 5e8}, "here", "shrink")  # 0.9 GB fits
    with pytest.raises(
        memory.NeurosimError, match=r"here: needs about 1.1 GB .*a 500 MB, b 600 MB"
    ):
        memory.require_memory({"a": 5e8, "b": 6e8}, "here", "shrink")
