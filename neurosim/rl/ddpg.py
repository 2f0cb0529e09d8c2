r"""Deep deterministic policy gradient (Lillicrap et al., ICLR 2016) in one file.

An actor ``mu(s)`` (a deterministic policy) and a critic ``Q(s, a)`` learn
from a replay buffer of transitions ``(s, a, r, s', terminated)``:

.. math::

    y = r + \gamma (1 - \text{terminated}) Q'(s', \mu'(s')), \qquad
    L_Q = \langle (Q(s, a) - y)^2 \rangle, \qquad
    L_\mu = -\langle Q(s, \mu(s)) \rangle,

with target networks ``Q'``, ``mu'`` following the trained ones slowly,
``theta' <- tau theta + (1 - tau) theta'``. Exploration adds
Ornstein-Uhlenbeck (or Gaussian) noise to the actor's action. Actions live in
``[-1, 1]`` inside the agent (the actor ends in ``tanh``) and are scaled to the
environment's bounds only when they are sent to it.

The actor is an ``nn.Sequential`` built by :func:`neurosim.rl.common.mlp`, so a
trained agent is exported as a :class:`~neurosim.rl.common.Controller` (batch
norm layers, if any, folded into the linear layers). With ``rule="fa"`` both
networks learn their weights by feedback alignment
(:func:`neurosim.bridges.feedback.convert`); the action gradient
``dQ/da`` that teaches the actor is the critic's exact one.

Read top to bottom: config, networks, replay buffer and noise, then
:func:`train`.
"""

from __future__ import annotations

import copy
import dataclasses
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr
from torch import nn

from neurosim.bridges.feedback import convert
from neurosim.checkpoints import load_checkpoint, save_checkpoint
from neurosim.errors import NeurosimError
from neurosim.memory import require_memory
from neurosim.rl.common import (
    Controller,
    RunLog,
    StopSignals,
    checkpoint_path,
    evaluate,
    make_env,
    mlp,
)
from neurosim.rl.common import load_controller as _load_controller

__all__ = [
    "RESUMABLE",
    "TUNED",
    "Critic",
    "DDPGConfig",
    "load_controller",
    "make_actor",
    "train",
    "tuned_config",
]

RULES = ("backprop", "fa")
NOISES = ("ou", "gaussian")
#: Config fields a resumed run may change (they do not change what the saved state means).
RESUMABLE = (
    "total_steps",
    "eval_every",
    "eval_episodes",
    "eval_seed",
    "checkpoint_every",
    "log_every",
)


@dataclass(frozen=True)
class DDPGConfig:
    """Hyper-parameters of one DDPG run; defaults are the paper's (section 7).

    Raises
    ------
    NeurosimError
        When a value is out of range (the message names the field and value).
    """

    env_id: str = "Pendulum-v1"
    """Gymnasium id of an environment with a bounded ``Box`` action space."""
    total_steps: int = 1_000_000
    """Environment steps to train for."""
    learning_starts: int = 10_000
    """Steps of uniformly random actions that fill the buffer before updates begin."""
    seed: int = 0
    """Seed of torch, numpy, the environment and the feedback matrices."""
    hidden: tuple[int, ...] = (400, 300)
    """Hidden widths of actor and critic (ReLU); the action enters the critic's second layer."""
    actor_lr: float = 1e-4
    """Adam learning rate of the actor."""
    critic_lr: float = 1e-3
    """Adam learning rate of the critic."""
    critic_weight_decay: float = 1e-2
    """L2 penalty on the critic's parameters (Adam ``weight_decay``)."""
    gamma: float = 0.99
    """Discount factor."""
    tau: float = 0.001
    """Soft target update rate, ``theta' <- tau theta + (1 - tau) theta'``."""
    batch_size: int = 64
    """Transitions per update (one update per environment step)."""
    buffer_size: int = 1_000_000
    """Replay buffer capacity (the oldest transitions are overwritten)."""
    final_init: float = 3e-3
    """Final layers' weights and biases start uniform in ``[-final_init, final_init]``."""
    batch_norm: bool = False
    """Batch norm on the state input and hidden layers before the action input (paper).

    The exported controller then folds the running statistics into the linear
    layers: it computes the actor in eval mode.
    """
    noise: str = "ou"
    """Exploration noise: ``"ou"`` (Ornstein-Uhlenbeck) or ``"gaussian"``."""
    noise_sigma: float = 0.2
    """Noise scale, in units of half the action range."""
    noise_theta: float = 0.15
    """OU mean reversion per step, ``x <- x - theta x + sigma N(0, 1)`` (reset every episode)."""
    rule: str = "backprop"
    """How actor and critic learn their weights: ``"backprop"`` or ``"fa"``."""
    feedback_scale: float = 1.0
    """Scale of the random feedback matrices (``rule="fa"``), see ``convert``."""
    eval_every: int = 5_000
    """Evaluate the deterministic policy every this many steps (and at the end)."""
    eval_episodes: int = 10
    """Episodes per evaluation."""
    eval_seed: int = 10_000
    """Evaluation episode ``k`` resets with seed ``eval_seed + k``.

    The same episodes for every training seed: on Pendulum-v1 the mean of 10
    episodes depends on their start states by tens of points (near-optimal
    agents score about -113 on seeds 10,000-10,009 and -198 to -211 on 11,000-11,009).
    """
    checkpoint_every: int = 10_000
    """Write ``checkpoint.pt`` every this many steps (and at the end)."""
    log_every: int = 100
    """Log the losses of every this many-th update."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(self.hidden))
        if not isinstance(self.env_id, str) or not self.env_id:
            raise NeurosimError(f"env_id: has to be a gymnasium id, got {self.env_id!r}")
        positive_ints = ("total_steps", "batch_size", "buffer_size", "eval_every")
        for name in (*positive_ints, "eval_episodes", "checkpoint_every", "log_every"):
            _check_int(name, getattr(self, name), 1)
        _check_int("learning_starts", self.learning_starts, 0)
        _check_int("seed", self.seed, 0)
        _check_int("eval_seed", self.eval_seed, 0)
        if not self.hidden:
            raise NeurosimError("hidden: needs at least one layer (the action enters the second)")
        for width in self.hidden:
            _check_int("hidden", width, 1)
        for name in ("actor_lr", "critic_lr", "final_init", "feedback_scale"):
            if not getattr(self, name) > 0:
                raise NeurosimError(f"{name}: has to be > 0, got {getattr(self, name)!r}")
        for name in ("critic_weight_decay", "noise_sigma"):
            if not getattr(self, name) >= 0:
                raise NeurosimError(f"{name}: has to be >= 0, got {getattr(self, name)!r}")
        if not 0 <= self.gamma <= 1:
            raise NeurosimError(f"gamma: has to be in [0, 1], got {self.gamma!r}")
        if not 0 < self.tau <= 1:
            raise NeurosimError(f"tau: has to be in (0, 1], got {self.tau!r}")
        if not 0 <= self.noise_theta <= 1:
            raise NeurosimError(f"noise_theta: has to be in [0, 1], got {self.noise_theta!r}")
        if self.noise not in NOISES:
            raise NeurosimError(f"noise: has to be one of {', '.join(NOISES)}, got {self.noise!r}")
        if self.rule not in RULES:
            raise NeurosimError(f"rule: has to be one of {', '.join(RULES)}, got {self.rule!r}")


def _check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise NeurosimError(f"{name}: has to be an integer >= {minimum}, got {value!r}")


#: Settings that solve an environment fast, by env id (use with :func:`tuned_config`).
#:
#: ``Pendulum-v1``: the Stable-Baselines3 zoo's DDPG settings (gamma 0.98, both
#: learning rates 1e-3, no L2, tau 0.005, batch 256, Gaussian noise 0.1, 400-300
#: nets) but with 1,000 instead of 10,000 random steps, so that 19,000 updates
#: fit in 20,000 steps. Seeds 0, 1, 2 at 20k steps: mean return of 10 evaluation
#: episodes -112.8, -113.2, -112.5 (``eval_seed`` 10,000) and -112.8, -198.4,
#: -149.6 (each seed its own episodes, ``eval_seed`` 10,000 + 1,000 seed, where
#: the evaluations first reached -200 at 4k, 6k and 4k steps); -141 over 50
#: other episodes (``benchmarks/bench_ddpg.py pendulum``).
TUNED: dict[str, dict[str, Any]] = {
    "Pendulum-v1": {
        "env_id": "Pendulum-v1",
        "total_steps": 20_000,
        "learning_starts": 1_000,
        "gamma": 0.98,
        "actor_lr": 1e-3,
        "critic_lr": 1e-3,
        "critic_weight_decay": 0.0,
        "tau": 0.005,
        "batch_size": 256,
        "buffer_size": 200_000,
        "noise": "gaussian",
        "noise_sigma": 0.1,
        "eval_every": 1_000,
        "checkpoint_every": 5_000,
    },
}


def tuned_config(env_id: str = "Pendulum-v1", **overrides: Any) -> DDPGConfig:
    """The :data:`TUNED` settings of ``env_id`` with ``overrides`` on top.

    Raises
    ------
    NeurosimError
        For an env id without tuned settings.
    """
    if env_id not in TUNED:
        raise NeurosimError(f"env_id: no tuned DDPG settings for {env_id!r} (have {list(TUNED)})")
    return DDPGConfig(**{**TUNED[env_id], **overrides})


# --- networks ------------------------------------------------------------------------------


def _init_final(layer: nn.Linear, bound: float) -> None:
    # Small final weights keep initial actions and Q values near zero (paper, section 7).
    nn.init.uniform_(layer.weight, -bound, bound)
    nn.init.uniform_(layer.bias, -bound, bound)


def _with_batch_norm(net: nn.Sequential, n_input: int, upto: int) -> nn.Sequential:
    # BatchNorm1d on the input and after each of the first `upto` linear layers
    # (before their activation), as in the paper.
    layers: list[nn.Module] = [nn.BatchNorm1d(n_input)]
    seen = 0
    for module in net:
        layers.append(module)
        if isinstance(module, nn.Linear):
            seen += 1
            if seen <= upto:
                layers.append(nn.BatchNorm1d(module.out_features))
    return nn.Sequential(*layers)


def make_actor(obs_dim: int, act_dim: int, config: DDPGConfig) -> nn.Sequential:
    """``obs -> Linear/ReLU ... -> Linear -> tanh``: an action in ``[-1, 1]``.

    Parameters
    ----------
    obs_dim, act_dim : int
    config : DDPGConfig
        ``hidden``, ``final_init`` and ``batch_norm`` are used.
    """
    net = mlp([obs_dim, *config.hidden, act_dim], "relu", "tanh")
    _init_final(net[-2], config.final_init)
    if config.batch_norm:
        net = _with_batch_norm(net, obs_dim, len(config.hidden))
    return net


class Critic(nn.Module):
    """``Q(s, a)``; the action joins the features of the first layer.

    ``body`` (state -> first hidden layer) and ``head`` (``[features, action]``
    -> Q) are each an ``nn.Sequential``, so each converts to feedback alignment.
    """

    def __init__(self, obs_dim: int, act_dim: int, config: DDPGConfig) -> None:
        super().__init__()
        first, *rest = config.hidden
        self.body = mlp([obs_dim, first], "relu", "relu")
        if config.batch_norm:
            self.body = _with_batch_norm(self.body, obs_dim, 1)
        self.head = mlp([first + act_dim, *rest, 1], "relu")
        _init_final(self.head[-1], config.final_init)

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Q values, shape (batch,)."""
        return self.head(torch.cat([self.body(obs), action], -1))[:, 0]


def _fold_batch_norm(net: nn.Sequential) -> nn.Sequential:
    """A new Linear + activations network computing ``net`` in eval mode.

    A batch norm in eval mode is a fixed affine map per feature, ``a x + b``;
    before a linear layer it folds into that layer's columns, after one into
    its rows.
    """
    layers: list[nn.Module] = []
    pending: tuple[torch.Tensor, torch.Tensor] | None = None
    with torch.no_grad():
        for module in net:
            if isinstance(module, nn.BatchNorm1d):
                a = 1.0 / torch.sqrt(module.running_var + module.eps)
                if module.affine:
                    a = a * module.weight
                b = (module.bias if module.affine else 0.0) - module.running_mean * a
                if layers and isinstance(layers[-1], nn.Linear):
                    layers[-1].weight.mul_(a[:, None])
                    layers[-1].bias.mul_(a).add_(b)
                else:
                    pending = (a, b)
            elif isinstance(module, nn.Linear):
                linear = nn.Linear(module.in_features, module.out_features)
                weight, bias = module.weight.clone(), module.bias.clone()
                if pending is not None:
                    bias = bias + weight @ pending[1]
                    weight = weight * pending[0][None, :]
                    pending = None
                linear.weight.copy_(weight)
                linear.bias.copy_(bias)
                layers.append(linear)
            else:
                layers.append(copy.deepcopy(module))
    return nn.Sequential(*layers)


def _controller(actor: nn.Sequential, low: np.ndarray, high: np.ndarray) -> Controller:
    # A copy: later training steps must not change an exported controller.
    return Controller(
        _fold_batch_norm(actor), "continuous", (high - low) / 2, (high + low) / 2, low, high
    )


# --- replay buffer and exploration noise --------------------------------------------------------


class _Replay:
    """A ring buffer of transitions in numpy arrays."""

    FIELDS = ("obs", "action", "reward", "next_obs", "terminated")

    def __init__(self, capacity: int, obs_dim: int, act_dim: int) -> None:
        require_memory(
            {"replay buffer": 4.0 * capacity * (2 * obs_dim + act_dim + 2)},
            f"buffer_size {capacity}",
            "use a smaller buffer_size",
        )
        self.capacity, self.pos, self.size = capacity, 0, 0
        self.obs = np.zeros((capacity, obs_dim), np.float32)
        self.action = np.zeros((capacity, act_dim), np.float32)
        self.reward = np.zeros(capacity, np.float32)
        self.next_obs = np.zeros((capacity, obs_dim), np.float32)
        self.terminated = np.zeros(capacity, np.float32)

    def add(self, obs, action, reward, next_obs, terminated) -> None:
        for name, value in zip(
            self.FIELDS, (obs, action, reward, next_obs, terminated), strict=True
        ):
            getattr(self, name)[self.pos] = value
        self.pos = (self.pos + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, rng: np.random.Generator, n: int) -> list[torch.Tensor]:
        idx = rng.integers(0, self.size, n)
        return [torch.from_numpy(getattr(self, name)[idx]) for name in self.FIELDS]

    def state(self) -> dict[str, Any]:
        # Only the filled part: a 20k-step run's buffer is a few MB.
        filled = {name: torch.from_numpy(getattr(self, name)[: self.size]) for name in self.FIELDS}
        return {"pos": self.pos, "size": self.size, **filled}

    def load_state(self, state: dict[str, Any]) -> None:
        self.pos, self.size = int(state["pos"]), int(state["size"])
        if self.size > self.capacity:
            raise NeurosimError(f"buffer_size: checkpoint holds {self.size} transitions")
        for name in self.FIELDS:
            getattr(self, name)[: self.size] = state[name].numpy()


class _Noise:
    """Exploration noise in the agent's ``[-1, 1]`` action units."""

    def __init__(self, config: DDPGConfig, act_dim: int) -> None:
        self.kind, self.sigma, self.theta = config.noise, config.noise_sigma, config.noise_theta
        self.x = np.zeros(act_dim)

    def reset(self) -> None:
        self.x[:] = 0.0

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        if self.kind == "gaussian":
            return self.sigma * rng.standard_normal(self.x.shape)
        # Ornstein-Uhlenbeck with unit time step: correlated in time, which helps
        # exploration in physical control problems with inertia (paper, section 3).
        self.x += -self.theta * self.x + self.sigma * rng.standard_normal(self.x.shape)
        return self.x.copy()


# --- training ----------------------------------------------------------------------------------


def _soft_update(target: list[torch.Tensor], source: list[torch.Tensor], tau: float) -> None:
    # One fused call over all tensors: the per-tensor loop costs more than the
    # arithmetic for networks this small.
    torch._foreach_lerp_(target, source, tau)


def _float_tensors(module: nn.Module) -> list[torch.Tensor]:
    # Parameters and batch-norm running statistics (the targets track both).
    return [t for t in module.state_dict().values() if t.is_floating_point()]


def load_controller(checkpoint: str | Path) -> Controller:
    """The trained actor of a DDPG checkpoint as a :class:`Controller`.

    Parameters
    ----------
    checkpoint : str or Path
        A ``checkpoint.pt`` written by :func:`train` (read with ``weights_only=True``).

    Raises
    ------
    NeurosimError
        When the file is missing or not a DDPG checkpoint (the message names it).
    """
    return _load_controller(checkpoint, "ddpg")[0]


def train(
    config: DDPGConfig, out: str | Path, *, resume: bool = False, progress: bool = False
) -> xr.Dataset:
    """Train DDPG; write checkpoints, ``metrics.nc``, ``episodes.csv`` and ``losses.csv``.

    Parameters
    ----------
    config : DDPGConfig
    out : str or Path
        Output folder; ``checkpoint.pt`` is rewritten (atomically) every
        ``config.checkpoint_every`` steps and at the end.
    resume : bool
        Continue from ``out/checkpoint.pt`` (a missing one is an error): networks, optimizers,
        replay buffer, noise, random generators and log are restored, and the
        run goes on from the saved step to ``config.total_steps``. The episode
        interrupted by the checkpoint is not logged; a new one starts. Only the
        fields in :data:`RESUMABLE` may differ from the checkpoint's config.
        On SIGINT (Ctrl-C) or SIGTERM the run stops after the current step,
        writes its checkpoint and metrics and raises ``KeyboardInterrupt``
        naming them, so ``resume`` loses nothing.
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    xarray.Dataset
        The run log (episodes, losses ``losses_actor`` / ``losses_critic`` and
        evaluations), with ``steps_per_second`` of this call in its attributes.

    Raises
    ------
    NeurosimError
        For an environment without bounded continuous actions, or a checkpoint
        that does not match ``config``.
    """
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    out = Path(out)
    path = checkpoint_path(out, resume)

    env = make_env(config.env_id)
    space = env.action_space
    bounded = hasattr(space, "low") and np.isfinite([space.low, space.high]).all()
    if not bounded or len(space.shape) != 1:
        raise NeurosimError(
            f"env_id: DDPG needs a bounded 1-d Box action space, {config.env_id} has {space}"
        )
    obs_dim, act_dim = int(np.prod(env.observation_space.shape)), space.shape[0]
    low, high = space.low.astype(np.float64), space.high.astype(np.float64)
    scale, offset = (high - low) / 2, (high + low) / 2

    actor = make_actor(obs_dim, act_dim, config)
    critic = Critic(obs_dim, act_dim, config)
    actor_target, critic_target = copy.deepcopy(actor).eval(), copy.deepcopy(critic).eval()
    for p in [*actor_target.parameters(), *critic_target.parameters()]:
        p.requires_grad_(False)
    # The converted networks share the parameters; their backward passes follow
    # the rule. Feedback matrices come from the seed, so a resumed run has the same.
    kw = {"feedback_scale": config.feedback_scale}
    actor_rule = convert(actor, config.rule, seed=config.seed, **kw)
    critic_body = convert(critic.body, config.rule, seed=config.seed + 1, **kw)
    critic_head = convert(critic.head, config.rule, seed=config.seed + 2, **kw)
    actor_opt = torch.optim.Adam(actor.parameters(), lr=config.actor_lr)
    critic_opt = torch.optim.Adam(
        critic.parameters(), lr=config.critic_lr, weight_decay=config.critic_weight_decay
    )
    replay = _Replay(min(config.buffer_size, config.total_steps), obs_dim, act_dim)
    noise = _Noise(config, act_dim)
    log = RunLog("ddpg", config)
    step = updates = 0

    if resume:
        state = load_checkpoint(
            path,
            "ddpg",
            config=dataclasses.asdict(config),
            may_differ=RESUMABLE,
            keys=("step", "updates", "actor", "critic", "replay", "log"),
        )
        for module, key in [
            (actor, "actor"),
            (critic, "critic"),
            (actor_target, "actor_target"),
            (critic_target, "critic_target"),
            (actor_opt, "actor_optimizer"),
            (critic_opt, "critic_optimizer"),
        ]:
            module.load_state_dict(state[key])
        replay.load_state(state["replay"])
        noise.x[:] = state["noise"].numpy()
        torch.set_rng_state(state["torch_rng"])
        rng.bit_generator.state = state["numpy_rng"]
        log.load_state(state["log"])
        step, updates = int(state["step"]), int(state["updates"])
    actor_tensors, actor_target_tensors = _float_tensors(actor), _float_tensors(actor_target)
    critic_tensors, critic_target_tensors = _float_tensors(critic), _float_tensors(critic_target)

    def checkpoint() -> None:
        save_checkpoint(
            path,
            "ddpg",
            {
                "step": step,
                "updates": updates,
                "actor": actor.state_dict(),
                "critic": critic.state_dict(),
                "actor_target": actor_target.state_dict(),
                "critic_target": critic_target.state_dict(),
                "actor_optimizer": actor_opt.state_dict(),
                "critic_optimizer": critic_opt.state_dict(),
                "replay": replay.state(),
                "noise": torch.from_numpy(noise.x.copy()),
                "torch_rng": torch.get_rng_state(),
                "numpy_rng": rng.bit_generator.state,
                "log": log.state(),
                "controller": _controller(actor, low, high).state(),
            },
            config=dataclasses.asdict(config),
        )

    def update() -> tuple[float, float]:
        obs, action, reward, next_obs, terminated = replay.sample(rng, config.batch_size)
        with torch.no_grad():
            # Truncated episodes still bootstrap: only a true terminal state has no future.
            next_q = critic_target(next_obs, actor_target(next_obs))
            target = reward + config.gamma * (1.0 - terminated) * next_q
        q = critic_head(torch.cat([critic_body(obs), action], -1))[:, 0]
        critic_loss = nn.functional.mse_loss(q, target)
        critic_opt.zero_grad()
        critic_loss.backward()
        critic_opt.step()
        # dQ/da through the critic's exact (unconverted) modules; the actor's
        # own layers pass the signal down by the rule.
        actor_loss = -critic(obs, actor_rule(obs)).mean()
        actor_opt.zero_grad()
        actor_loss.backward()
        actor_opt.step()
        with torch.no_grad():
            _soft_update(actor_target_tensors, actor_tensors, config.tau)
            _soft_update(critic_target_tensors, critic_tensors, config.tau)
        return actor_loss.item(), critic_loss.item()

    from neurosim.progress import progress_bar

    # A resumed run starts a new episode, seeded by the step for reproducibility.
    obs, _ = env.reset(seed=config.seed + step)
    episode_return, episode_length = 0.0, 0
    start, started = step, time.monotonic()
    announced = False
    bar = progress_bar(total=config.total_steps, initial=step, enabled=progress, unit="step")
    with StopSignals() as stop:
        while step < config.total_steps and stop.received is None:
            step += 1
            if step <= config.learning_starts:
                action = rng.uniform(-1.0, 1.0, act_dim)
            else:
                actor.eval()  # batch norm: act with running statistics, not a batch of one
                with torch.no_grad():
                    mu = actor(torch.as_tensor(obs, dtype=torch.float32)[None])[0].numpy()
                action = np.clip(mu + noise.sample(rng), -1.0, 1.0)
            next_obs, reward, terminated, truncated, _ = env.step(action * scale + offset)
            replay.add(obs, action, reward, next_obs, terminated)
            episode_return += float(reward)
            episode_length += 1
            obs = next_obs
            if terminated or truncated:
                log.episode(step, episode_return, episode_length)
                bar.set_postfix(episodic_return=f"{episode_return:.1f}")
                obs, _ = env.reset()
                noise.reset()
                episode_return, episode_length = 0.0, 0

            if step > config.learning_starts:
                actor.train()
                critic.train()
                actor_loss, critic_loss = update()
                updates += 1
                if updates % config.log_every == 0:
                    log.loss(step, actor=actor_loss, critic=critic_loss)
            if step % config.eval_every == 0 or step == config.total_steps:
                returns = evaluate(
                    _controller(actor, low, high),
                    config.env_id,
                    config.eval_episodes,
                    seed=config.eval_seed,
                )
                log.evaluation(step, returns)
                bar.set_postfix(eval_return=f"{returns.mean():.1f}")
            if step % config.checkpoint_every == 0 or step == config.total_steps:
                checkpoint()
            bar.update(1)
            if progress and not announced and time.monotonic() - started > 10:
                # the expected length of the run, from its measured speed (issue 18)
                announced = True
                rate = (step - start) / (time.monotonic() - started)
                left = (config.total_steps - step) / max(rate, 1e-9)
                length = f"{left / 3600:.1f} h" if left >= 3600 else f"{left / 60:.0f} min"
                bar.write(
                    f"ddpg: {rate:.0f} steps/s over the first 10 s: about {length} for the "
                    f"{config.total_steps - step:,} steps left",
                    file=sys.stderr,
                )
        bar.close()
        env.close()
        steps_per_second = (step - start) / max(time.monotonic() - started, 1e-9)
        attrs = {"env_id": config.env_id, "steps_per_second": steps_per_second}
        if stop.received is not None and step < config.total_steps:
            # Stopped between two steps: everything up to `step` is kept.
            checkpoint()
            raise stop.interrupted(log, out, step, **attrs)
    log.write(out, **attrs)
    return log.dataset(**attrs)
