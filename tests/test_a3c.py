"""A3C end to end on tiny budgets: logs, checkpoints, resume, feedback alignment, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neurosim.errors import NeurosimError
from neurosim.rl.a3c import A3CConfig, for_env, load_controller, train
from neurosim.rl.common import Controller


def tiny(env_id: str, **kw) -> A3CConfig:
    base = {
        "workers": 2,
        "total_steps": 2000,
        "t_max": 5,
        "loss_every": 10,
        "checkpoint_every": 1000,
        "eval_episodes": 2,
        "hidden": (16,),
    }
    return for_env(env_id, **{**base, **kw})


def test_cartpole_two_workers(tmp_path):
    ds = train(tiny("CartPole-v1"), tmp_path)
    for name in ("checkpoint.pt", "metrics.nc", "episodes.csv", "losses.csv"):
        assert (tmp_path / name).stat().st_size > 0
    assert ds.attrs["global_step"] == 2000
    assert ds.sizes["episode"] > 10
    assert np.isfinite(ds.episodic_return).all()
    assert (ds.episode_step <= 2000).all()
    # 2000 steps / 5 per update / 10 updates per row, per worker: about 40 rows.
    assert ds.sizes["update"] >= 30
    for key in ("policy", "value", "entropy", "actor_grad_norm", "critic_grad_norm"):
        assert np.isfinite(ds[f"losses_{key}"]).all(), key
    # Two actions: the entropy of a policy never exceeds log 2.
    assert (ds.losses_entropy <= np.log(2) + 1e-6).all()
    assert ds.evaluation_return.shape == (1, 2)

    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert state["step"] == 2000
    assert state["config"]["workers"] == 2
    controller = load_controller(tmp_path / "checkpoint.pt")
    assert controller.kind == "discrete"
    assert controller(np.zeros(4, np.float32)) in (0, 1)
    # The checkpoint's controller is the trained actor, not a fresh network.
    weight = state["actor"]["0.weight"]
    assert torch.equal(controller.net[0].weight, weight)


def test_pendulum_continuous(tmp_path):
    ds = train(tiny("Pendulum-v1", workers=1, total_steps=1000), tmp_path, progress=True)
    assert ds.attrs["global_step"] == 1000
    # Pendulum-v1 episodes are 200 steps: 5 of them.
    assert ds.sizes["episode"] == 5
    assert np.isfinite(ds.episodic_return).all()
    assert np.isfinite(ds.losses_policy).all()
    controller = load_controller(tmp_path / "checkpoint.pt")
    assert controller.kind == "continuous"
    action = controller(np.array([1.0, 0.0, 8.0], np.float32))
    assert action.shape == (1,)
    assert -2.0 <= action[0] <= 2.0
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert state["log_std"].shape == (1,)


def test_resume_continues_from_saved_step(tmp_path):
    first = train(tiny("CartPole-v1", total_steps=1000), tmp_path)
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert saved["step"] == 1000
    second = train(tiny("CartPole-v1", total_steps=2000), tmp_path, resume=True)
    assert second.attrs["global_step"] == 2000
    n = first.sizes["episode"]
    # The first run's log is kept as it was; everything new happened after step 1000.
    np.testing.assert_array_equal(second.episodic_return[:n], first.episodic_return)
    assert (second.episode_step[n:] > 1000).all()
    assert second.sizes["episode"] > n
    # Steps per second count only the resumed part's steps.
    assert second.attrs["steps_per_second"] > 0


def test_resume_restores_networks(tmp_path):
    train(tiny("CartPole-v1", workers=1, total_steps=500), tmp_path)
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    # Nothing left to train: the networks and RMSProp statistics come back as saved.
    ds = train(tiny("CartPole-v1", workers=1, total_steps=500), tmp_path, resume=True)
    again = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert ds.attrs["global_step"] == 500
    for key in ("actor", "critic"):
        for name, value in saved[key].items():
            assert torch.equal(again[key][name], value), (key, name)
    for before, after in zip(saved["square_avg"], again["square_avg"], strict=True):
        assert torch.equal(before, after)
    assert any(s.abs().sum() > 0 for s in saved["square_avg"])
    # A checkpoint of other networks is refused with the file's name.
    with pytest.raises(NeurosimError, match="checkpoint"):
        train(tiny("CartPole-v1", hidden=(8,), total_steps=600), tmp_path, resume=True)


def test_feedback_alignment_trains(tmp_path):
    fa = train(tiny("CartPole-v1", rule="fa", workers=1, total_steps=1000), tmp_path / "fa")
    assert fa.attrs["global_step"] == 1000
    assert np.isfinite(fa.losses_value).all()
    train(tiny("CartPole-v1", workers=1, total_steps=1000), tmp_path / "bp")
    state_fa = torch.load(tmp_path / "fa" / "checkpoint.pt", weights_only=True)
    state_bp = torch.load(tmp_path / "bp" / "checkpoint.pt", weights_only=True)
    assert state_fa["config"]["rule"] == "fa"
    # Same seed, same initialisation: only the error sent to the hidden layer differs.
    assert not torch.allclose(state_fa["critic"]["0.weight"], state_bp["critic"]["0.weight"])
    assert np.isfinite(state_fa["actor"]["0.weight"].numpy()).all()


def test_stop_return_stops_early(tmp_path):
    config = tiny("CartPole-v1", total_steps=20_000, eval_every=500, stop_return=1.0)
    ds = train(config, tmp_path)
    # Every episode returns at least 1: the first evaluation stops the run.
    assert ds.attrs["global_step"] < 2000
    assert ds.sizes["evaluation"] == 2


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"t_max": 0}, "t_max"),
        ({"workers": 0}, "workers"),
        ({"gamma": 1.0}, "gamma"),
        ({"learning_rate": -1e-3}, "learning_rate"),
        ({"activation": "gelu"}, "activation"),
        ({"rule": "dfa"}, "rule"),
        ({"hidden": ()}, "hidden"),
        ({"total_steps": 1.5}, "total_steps"),
        ({"stop_return": 475.0}, "stop_return"),
    ],
)
def test_invalid_config(kwargs, field):
    with pytest.raises(NeurosimError, match=field):
        A3CConfig(**kwargs)


def test_unknown_env_and_bad_checkpoint(tmp_path):
    with pytest.raises(NeurosimError, match="NoSuchEnv"):
        train(A3CConfig(env_id="NoSuchEnv-v0", total_steps=10), tmp_path)
    bad = tmp_path / "other.pt"
    torch.save({"step": 3}, bad)
    with pytest.raises(NeurosimError, match=r"other\.pt"):
        load_controller(bad)
    with pytest.raises(NeurosimError, match=r"missing\.pt"):
        load_controller(tmp_path / "missing.pt")


def test_controller_state_round_trip(tmp_path):
    train(tiny("CartPole-v1", workers=1, total_steps=500), tmp_path)
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    controller = Controller.from_state(state["controller"])
    obs = np.array([0.1, -0.2, 0.05, 0.3], np.float32)
    assert controller(obs) == load_controller(tmp_path / "checkpoint.pt")(obs)
