"""DDPG end to end on a tiny budget (Pendulum-v1, 200-step episodes)."""

import numpy as np
import pytest
import torch

from neurosim.errors import NeurosimError
from neurosim.rl import ddpg
from neurosim.rl.common import Controller
from neurosim.rl.ddpg import Critic, DDPGConfig, load_controller, make_actor, train, tuned_config

TINY = {
    "env_id": "Pendulum-v1",
    "total_steps": 300,
    "learning_starts": 100,
    "hidden": (16, 16),
    "batch_size": 16,
    "eval_every": 300,
    "eval_episodes": 1,
    "checkpoint_every": 200,
    "log_every": 10,
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddpg")
    return out, train(DDPGConfig(**TINY), out)


def test_train_logs_finite_returns_and_losses(run):
    out, ds = run
    assert ds.episode_step.values.tolist() == [200]
    assert np.isfinite(ds.episodic_return.values).all()
    # 200 updates (steps 101..300), every 10th logged
    assert ds.sizes["update"] == 20
    for key in ("losses_actor", "losses_critic"):
        assert np.isfinite(ds[key].values).all()
    assert ds.evaluation_step.values.tolist() == [300]
    assert np.isfinite(ds.evaluation_return.values).all()
    assert ds.attrs["algorithm"] == "ddpg" and ds.attrs["steps_per_second"] > 0
    for name in ("metrics.nc", "episodes.csv", "losses.csv", "checkpoint.pt"):
        assert (out / name).is_file(), name


def test_checkpoint_loads_weights_only_and_exports_controller(run):
    out, _ = run
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    assert state["step"] == 300
    assert state["replay"]["size"] == 300
    controller = load_controller(out / "checkpoint.pt")
    assert isinstance(controller, Controller)
    action = controller(np.zeros(3))
    assert action.shape == (1,) and -2.0 <= action[0] <= 2.0
    # the exported controller computes the trained actor, scaled to [-2, 2]
    actor = make_actor(3, 1, DDPGConfig(**TINY))
    actor.load_state_dict(state["actor"])
    obs = torch.randn(5, 3)
    np.testing.assert_allclose(
        controller.net(obs).detach().numpy(), actor(obs).detach().numpy(), rtol=1e-6
    )


def test_resume_continues_from_saved_step(tmp_path):
    train(DDPGConfig(**{**TINY, "total_steps": 200}), tmp_path)
    first = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert first["step"] == 200
    ds = train(DDPGConfig(**{**TINY, "total_steps": 400}), tmp_path, resume=True)
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert state["step"] == 400
    # the first run's episode is kept, then one more (not a restart from 0)
    assert ds.episode_step.values.tolist() == [200, 400]
    assert ds.episode_wall_time.values[0] == pytest.approx(first["log"]["episodes"][0][3])
    assert state["replay"]["size"] == 400
    # a resumed run that changes what is learned is refused
    with pytest.raises(NeurosimError, match="tau"):
        train(DDPGConfig(**{**TINY, "total_steps": 500, "tau": 0.01}), tmp_path, resume=True)


def test_batch_norm_actor_exports_folded_controller(tmp_path):
    config = DDPGConfig(**{**TINY, "total_steps": 150, "batch_norm": True})
    train(config, tmp_path)
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    actor = make_actor(3, 1, config)
    actor.load_state_dict(state["actor"])
    actor.eval()
    controller = load_controller(tmp_path / "checkpoint.pt")
    obs = torch.randn(5, 3)
    np.testing.assert_allclose(
        controller.net(obs).detach().numpy(), actor(obs).detach().numpy(), atol=1e-5
    )


def _critic_moved_toward_rewards(config: DDPGConfig, state: dict) -> None:
    """Assert the trained critic's Q on the buffer is nearer the rewards than the initial one's.

    The first targets are ``r + gamma Q'`` with ``Q'`` near 0 (small final
    weights), so a critic that descends its loss moves its Q values toward
    the (negative) Pendulum rewards.
    """
    torch.manual_seed(config.seed)  # train() builds actor, then critic, with this seed
    make_actor(3, 1, config)
    initial = Critic(3, 1, config)
    trained = Critic(3, 1, config)
    trained.load_state_dict(state["critic"])
    replay = state["replay"]
    reward = float(replay["reward"].mean())
    with torch.no_grad():
        q0 = float(initial(replay["obs"], replay["action"]).mean())
        q1 = float(trained(replay["obs"], replay["action"]).mean())
    assert reward < q1 < q0


def test_critic_learns_toward_the_rewards(run):
    out, _ = run
    _critic_moved_toward_rewards(
        DDPGConfig(**TINY), torch.load(out / "checkpoint.pt", weights_only=True)
    )


def test_feedback_alignment_trains_actor(tmp_path):
    config = DDPGConfig(**{**TINY, "total_steps": 150, "rule": "fa"})
    torch.manual_seed(config.seed)
    initial = make_actor(3, 1, config).state_dict()  # train() builds the same with this seed
    train(config, tmp_path)
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    trained = state["actor"]
    assert all(torch.isfinite(v).all() for v in trained.values())
    assert not torch.equal(initial["0.weight"], trained["0.weight"])
    assert not torch.equal(initial["4.weight"], trained["4.weight"])
    _critic_moved_toward_rewards(config, state)


@pytest.mark.parametrize(
    ("field", "value"),
    [("tau", 2.0), ("rule", "dfa"), ("gamma", 1.5), ("batch_size", 0), ("hidden", ())],
)
def test_invalid_config(field, value):
    with pytest.raises(NeurosimError, match=field):
        DDPGConfig(**{field: value})


def test_tuned_config():
    config = tuned_config(seed=3)
    assert (config.env_id, config.total_steps, config.seed) == ("Pendulum-v1", 20_000, 3)
    with pytest.raises(NeurosimError, match="CartPole"):
        tuned_config("CartPole-v1")


def test_load_controller_of_other_file(tmp_path):
    text = tmp_path / "notes.pt"
    text.write_text("not a checkpoint")
    with pytest.raises(NeurosimError, match=r"notes\.pt"):
        load_controller(text)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(NeurosimError, match=r"other\.pt"):
        load_controller(other)


def test_one_actor_step_raises_q_under_the_critic_it_used(tmp_path, monkeypatch):
    # Fill the buffer (no update yet), then resume for exactly one update.
    config = {**TINY, "total_steps": 20, "learning_starts": 20, "batch_size": 64, "actor_lr": 1e-3}
    train(DDPGConfig(**config), tmp_path)
    before = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    batches = []
    sample = ddpg._Replay.sample

    def recorded(self, rng, n):
        batches.append(sample(self, rng, n))
        return batches[-1]

    monkeypatch.setattr(ddpg._Replay, "sample", recorded)
    train(DDPGConfig(**{**config, "total_steps": 21}), tmp_path, resume=True)
    after = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert after["updates"] == 1 and len(batches) == 1
    # The saved critic is the one the actor step used (it learns first, and
    # only the target networks change after the actor step): held fixed here.
    critic = Critic(3, 1, DDPGConfig(**config))
    critic.load_state_dict(after["critic"])
    obs = batches[0][0]

    def q_of(actor_state):
        actor = make_actor(3, 1, DDPGConfig(**config))
        actor.load_state_dict(actor_state)
        with torch.no_grad():
            return critic.double()(obs.double(), actor.double()(obs.double())).mean().item()

    q_before, q_after = q_of(before["actor"]), q_of(after["actor"])
    assert q_after > q_before
