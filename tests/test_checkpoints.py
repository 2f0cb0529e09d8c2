"""One checkpoint format for every trainer: round trips and one-line refusals.

Each kind is written by its real trainer on a tiny budget (the segregated
network, whose epoch is a Brian2 run, through its real checkpoint writer with
its real initial weights), then read back through the trainer's own reader:
the function a user's ``--resume`` or ``rl-control`` calls.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pytest
import torch

from neurosim._version import __version__
from neurosim.checkpoints import FORMAT, HEADER, VERSION, load_checkpoint, save_checkpoint
from neurosim.errors import NeurosimError

KINDS = ("segregated", "a3c", "ddpg", "controller", "learned_optimizer", "mlp")


class Written(NamedTuple):
    path: Path
    config: Any  # the trainer's config dataclass
    read: Any  # (path, config) -> whatever the trainer's reader returns
    other: Any  # a config the checkpoint does not fit, or None


def _mlp_data():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (20, 784), dtype=np.uint8)
    return images, rng.integers(0, 10, 20), images[:10], rng.integers(0, 10, 10)


def _segregated(folder: Path) -> Written:
    from neurosim.networks.segregated import (
        SegregatedConfig,
        _save_checkpoint,
        init_weights,
        read_checkpoint,
    )

    config = SegregatedConfig(hidden_sizes=(30,))
    path = folder / "checkpoint.npz"  # the name run_segregated gives it
    _save_checkpoint(path, config, init_weights(config, 784), 1, [12.5], LAST_EPOCH)
    return Written(path, config, read_checkpoint, dataclasses.replace(config, seed=1))


def _a3c(folder: Path) -> Written:
    from neurosim.rl import a3c

    config = a3c.for_env("CartPole-v1", workers=1, total_steps=100, hidden=(8,),
                         checkpoint_every=100, eval_episodes=1, loss_every=5)  # fmt: skip
    a3c.train(config, folder)

    def read(path, config):
        return a3c.train(config, path.parent, resume=True)

    other = dataclasses.replace(config, learning_rate=2 * config.learning_rate)
    return Written(folder / "checkpoint.pt", config, read, other)


def _ddpg(folder: Path) -> Written:
    from neurosim.rl import ddpg

    config = ddpg.DDPGConfig(total_steps=40, learning_starts=20, hidden=(8, 8), batch_size=8,
                             eval_every=10**6, eval_episodes=1, checkpoint_every=40,
                             log_every=5)  # fmt: skip
    ddpg.train(config, folder)

    def read(path, config):
        return ddpg.train(config, path.parent, resume=True)

    other = dataclasses.replace(config, tau=0.01)
    return Written(folder / "checkpoint.pt", config, read, other)


def _controller(folder: Path) -> Written:
    from neurosim.rl.common import export_controller, load_controller

    trained = _a3c(folder / "a3c")
    path = export_controller(trained.path, folder / "actor.pt")
    return Written(path, trained.config, lambda path, _: load_controller(path), None)


def _learned_optimizer(folder: Path) -> Written:
    from neurosim.blackbox.learned import TrainConfig, train_optimizer

    config = TrainConfig(dim=1, horizon=5, iterations=3, batch=4, hidden=4, n_features=20)
    path = folder / "opt.pt"
    train_optimizer(config, path)

    def read(path, config):
        return train_optimizer(config, path, resume=True)

    return Written(path, config, read, dataclasses.replace(config, hidden=8))


def _mlp(folder: Path) -> Written:
    from neurosim.bridges.mlp import MLPConfig, train_mlp

    config = MLPConfig(hidden_sizes=(8,), batch_size=10, epochs=1, angle_every=1)
    path = folder / "mlp.pt"
    train_mlp(config, *_mlp_data(), checkpoint=path)

    def read(path, config):
        return train_mlp(config, *_mlp_data(), checkpoint=path, resume=True)

    return Written(path, config, read, dataclasses.replace(config, learning_rate=0.5))


#: A segregated epoch's result dict in miniature: every kind of value it holds.
LAST_EPOCH = {
    "bp_angle": np.empty(0),
    "bp_example": np.empty(0, dtype=np.int64),
    "test_outputs": np.arange(20, dtype=np.float32).reshape(2, 10),
    "test_error": 12.5,
    "quick_errors": np.asarray([50.0, 40.0]),
    "phase_kind": np.asarray([1, 2, 1], dtype=np.int8),
    "train_correct": np.asarray([True, False]),
    "n_steps": 120,
    "traces": {"t": np.arange(3.0), "v": np.ones((3, 2))},
    "trace_spikes": None,
    "phase_averages": [{"psp_f": np.zeros(784)}, {"C_f": np.full(30, -0.5)}],
}


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> dict[str, Written]:
    """One real checkpoint of every kind, written once for the module."""
    makers = {"segregated": _segregated, "a3c": _a3c, "ddpg": _ddpg, "controller": _controller,
              "learned_optimizer": _learned_optimizer, "mlp": _mlp}  # fmt: skip
    return {kind: make(tmp_path_factory.mktemp(kind)) for kind, make in makers.items()}


def assert_same(actual: Any, expected: Any, where: str = "state") -> None:
    """Equal (NaN equal to NaN), with the same types, dtypes and shapes."""
    assert type(actual) is type(expected), f"{where}: {type(actual)} != {type(expected)}"
    if isinstance(expected, torch.Tensor):
        torch.testing.assert_close(actual, expected, rtol=0, atol=0, equal_nan=True, msg=where)
    elif isinstance(expected, np.ndarray):
        assert actual.dtype == expected.dtype, f"{where}: {actual.dtype} != {expected.dtype}"
        np.testing.assert_array_equal(actual, expected, err_msg=where, strict=True)
    elif isinstance(expected, dict):
        assert actual.keys() == expected.keys(), where
        for key in expected:
            assert_same(actual[key], expected[key], f"{where}[{key!r}]")
    elif isinstance(expected, list | tuple):
        assert len(actual) == len(expected), where
        for k, (a, e) in enumerate(zip(actual, expected, strict=True)):
            assert_same(a, e, f"{where}[{k}]")
    elif isinstance(expected, float) and np.isnan(expected):
        assert np.isnan(actual), f"{where}: {actual!r} is not nan"
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


def refused(call, path: Path, message: str) -> str:
    """Assert ``call()`` fails with one line naming ``path`` and matching ``message``."""
    with pytest.raises(NeurosimError) as err:
        call()
    line = str(err.value)
    assert "\n" not in line, line
    assert str(path) in line, line
    assert re.search(message, line), line
    return line


@pytest.mark.parametrize("kind", KINDS)
def test_round_trip_of_every_kind(kind, written, tmp_path):
    path, config, read, _ = written[kind]
    data = load_checkpoint(path, kind)
    assert {k: data[k] for k in ("format", "format_version", "kind")} == {
        "format": FORMAT,
        "format_version": VERSION,
        "kind": kind,
    }
    assert data["config"] == json.loads(json.dumps(dataclasses.asdict(config)))
    assert data["neurosim_version"] == __version__
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", data["written"])
    # Exactly what was loaded is written again (tensors, arrays, generator states).
    state = {k: v for k, v in data.items() if k not in HEADER}
    copy = save_checkpoint(tmp_path / "copy.pt", kind, state, config=data["config"])
    again = load_checkpoint(copy, kind)
    assert_same({k: again[k] for k in state}, state)
    # The file is a plain weights_only torch file, header keys next to the state.
    assert torch.load(path, weights_only=True)["kind"] == kind
    read(path, config)  # the trainer's own reader takes it


def test_segregated_arrays_and_generator_come_back_exactly(written):
    from neurosim.networks.segregated import _epoch_rng, init_weights, read_checkpoint

    path, config, _, _ = written["segregated"]
    saved = read_checkpoint(path, config)
    assert_same(saved.weights._asdict(), init_weights(config, 784)._asdict())
    assert_same(saved.last_epoch, LAST_EPOCH)
    assert (saved.epoch, saved.test_errors, saved.outputs_written) == (1, [12.5], False)
    assert_same(saved.rng.random(5), _epoch_rng(config.seed, 1).random(5))


def test_save_refuses_what_would_not_load(tmp_path):
    with pytest.raises(TypeError, match="cannot hold object"):
        save_checkpoint(tmp_path / "a.pt", "mlp", {"x": object()})
    with pytest.raises(TypeError, match="dtype <U1"):
        save_checkpoint(tmp_path / "a.pt", "mlp", {"x": np.asarray(["a"])})
    with pytest.raises(ValueError, match="header keys"):
        save_checkpoint(tmp_path / "a.pt", "mlp", {"kind": 1})
    assert not any(tmp_path.iterdir())  # nothing half-written either


def _legacy(kind: str, path: Path) -> None:
    """A file as the trainer wrote it before format 1 (no header)."""
    if kind == "segregated":
        # the .npz layout of before: arrays and JSON strings
        rng = np.random.default_rng(0).bit_generator.state
        np.savez(path, epoch=np.int64(1), test_errors=np.asarray([12.5]),
                 rng_state=np.asarray(json.dumps(rng)), W_0=np.ones((30, 784)))  # fmt: skip
    else:
        data = torch.load(path, weights_only=True)
        torch.save({k: v for k, v in data.items() if k not in HEADER}, path)


def _bad_file(kind: str, refusal: str, src: Path, path: Path) -> str:
    """Turn a copy of a good checkpoint into a bad one; return the expected message."""
    path.write_bytes(src.read_bytes())
    if refusal == "truncated":
        path.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
        return "is truncated or not a neurosim checkpoint$"
    if refusal == "wrong kind":
        data = load_checkpoint(path, kind)
        other = "a3c" if kind == "mlp" else "mlp"
        state = {k: v for k, v in data.items() if k not in HEADER}
        save_checkpoint(path, other, state, config=data["config"])
        return f": an? {other} checkpoint, expected .*{kind}"
    if refusal == "future version":
        data = torch.load(path, weights_only=True)
        torch.save({**data, "format_version": VERSION + 1}, path)
        return rf"checkpoint format version {VERSION + 1} is newer than this neurosim reads"
    if refusal == "legacy":
        _legacy(kind, path)
        return rf": written before checkpoint format {VERSION}\b.*run without --resume"
    assert refusal == "missing"
    path.unlink()
    return ": no (such checkpoint file|checkpoint to resume from)"


@pytest.mark.parametrize("refusal", ["truncated", "wrong kind", "future version", "legacy",
                                     "missing"])  # fmt: skip
@pytest.mark.parametrize("kind", KINDS)
def test_refusals_are_one_line_naming_the_file(kind, refusal, written, tmp_path):
    src, config, read, _ = written[kind]
    path = tmp_path / src.name
    message = _bad_file(kind, refusal, src, path)
    refused(lambda: read(path, config), path, message)


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "controller"])
def test_a_checkpoint_of_another_config_is_refused(kind, written):
    path, config, read, other = written[kind]
    line = refused(
        lambda: read(path, other), path, ": checkpoint was written with a different config"
    )
    changed = [
        f.name
        for f in dataclasses.fields(config)
        if getattr(other, f.name) != getattr(config, f.name)
    ]
    assert f"({changed[0]} " in line
