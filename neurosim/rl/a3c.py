r"""Asynchronous advantage actor-critic (A3C; Mnih et al., ICML 2016), in one file.

Several worker processes ("actor-learners") each run their own environment and
a local copy of the networks. A worker syncs its copy with the shared
parameters, acts for up to ``t_max`` steps (or until the episode ends), computes
the n-step returns

.. math::

    R_t = r_t + \gamma r_{t+1} + \dots + \gamma^{n-1} r_{t+n-1} + \gamma^n V(s_{t+n})

(``V(s_{t+n}) = 0`` when the episode terminated, the critic's value when it was
only truncated by a time limit), and the gradient of

.. math::

    L = \sum_t -\log\pi(a_t|s_t) (R_t - V(s_t)) - \beta H(\pi(\cdot|s_t))
        + c_v \tfrac12 (R_t - V(s_t))^2,

which it applies to the shared parameters without locks (Hogwild) with an
RMSProp whose statistics are shared by all workers too:

.. math::

    g \leftarrow \alpha g + (1-\alpha) \Delta\theta^2, \qquad
    \theta \leftarrow \theta - \eta \Delta\theta / \sqrt{g + \epsilon}.

Actor and critic are separate networks (no shared body) so the actor is a
plain ``nn.Sequential`` that exports as a :class:`~neurosim.rl.common.Controller`:
discrete actions are the argmax of its logits; continuous actions come from a
Gaussian policy whose mean is the actor's output and whose log standard
deviation is one state-independent parameter per action dimension (the
controller uses the mean). With ``rule="fa"`` both networks learn by feedback
alignment (:func:`neurosim.bridges.feedback.convert`) instead of backprop.

The main process only logs (episodes and losses arrive on a queue), shows
progress, writes checkpoints, and evaluates the greedy policy (a learning
curve, and optionally an early stop); it trains nothing itself. For a
checkpoint or an evaluation it holds the workers between segments, so the
networks saved or evaluated are those at an exact global step::

    from neurosim.rl.a3c import A3CConfig, train
    ds = train(A3CConfig(env_id="CartPole-v1", total_steps=200_000), "results/a3c")
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import math
import multiprocessing as std_mp
import os
import queue
import signal
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.multiprocessing as mp
import xarray as xr
from torch import nn

from neurosim.checkpoints import load_checkpoint, save_checkpoint
from neurosim.errors import NeurosimError
from neurosim.memory import check_workers
from neurosim.rl.common import (
    ACTIVATIONS,
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
    "EVALUATIONS",
    "RESUMABLE",
    "TUNED",
    "A3CConfig",
    "for_env",
    "load_controller",
    "train",
]

#: Config fields a resumed run may change (they do not change what the saved state means).
RESUMABLE = (
    "total_steps",
    "workers",
    "eval_episodes",
    "eval_every",
    "stop_return",
    "checkpoint_every",
    "loss_every",
)


@dataclass(frozen=True)
class A3CConfig:
    """Every hyper-parameter of an A3C run (defaults: the paper's where it gives one).

    Attributes
    ----------
    env_id : str
        Gymnasium environment (discrete or box action space).
    total_steps : int
        Environment steps of all workers together (the global step counter).
    workers : int
        Actor-learner processes (the paper: 16 on 16 CPU cores).
    seed : int
        Seeds the networks' initialisation, the environments (``seed + rank``)
        and the workers' action sampling.
    t_max : int
        Steps per update (the n of the n-step return; paper: 5).
    gamma : float
        Discount factor (paper: 0.99).
    entropy_beta : float
        Weight of the entropy bonus (paper: 0.01 for Atari, 1e-4 for
        continuous control).
    value_coef : float
        Weight of the critic's squared-error loss (0.5, common practice).
    learning_rate : float
        RMSProp step size. The paper samples it log-uniformly in [1e-4, 1e-2]
        per run; 7e-4 is the value most reimplementations use.
    rms_alpha : float
        Decay of the shared squared-gradient average (paper: 0.99).
    rms_eps : float
        Added to that average inside the square root (paper: 0.1).
    max_grad_norm : float
        Each network's gradient is clipped to this norm before the update
        (40, common practice in A3C code).
    hidden : tuple of int
        Hidden widths of both actor and critic.
    activation : str
        Hidden activation, ``"tanh"`` or ``"relu"``.
    log_std_init : float
        Initial log standard deviation of the Gaussian policy (continuous only).
    reward_scale : float
        Rewards are multiplied by this before learning (not in logged returns);
        keeps the critic's targets near unit scale on environments with large
        rewards.
    rule : str
        ``"backprop"``, or ``"fa"`` for feedback alignment in both networks.
    eval_episodes : int
        Greedy-policy episodes evaluated at the end of training.
    eval_every : int or None
        Also evaluate every this many global steps during training (0: only at
        the end; None, the default: ``total_steps // EVALUATIONS``, so every
        run has a learning curve of :data:`EVALUATIONS` points). Such an
        evaluation runs ``min(10, eval_episodes)`` greedy episodes; with a
        ``stop_return``, all ``eval_episodes`` follow when those 10 reach it.
    stop_return : float or None
        Stop training once the mean greedy return over ``eval_episodes``
        reaches this (needs ``eval_every``).
    checkpoint_every : int
        Write ``checkpoint.pt`` every this many global steps (and at the end).
    loss_every : int
        A worker sends the mean of its losses over this many updates as one
        row of the loss log.
    """

    env_id: str = "CartPole-v1"
    total_steps: int = 500_000
    workers: int = 2
    seed: int = 0
    t_max: int = 5
    gamma: float = 0.99
    entropy_beta: float = 0.01
    value_coef: float = 0.5
    learning_rate: float = 7e-4
    rms_alpha: float = 0.99
    rms_eps: float = 0.1
    max_grad_norm: float = 40.0
    hidden: tuple[int, ...] = (64, 64)
    activation: str = "tanh"
    log_std_init: float = 0.0
    reward_scale: float = 1.0
    rule: str = "backprop"
    eval_episodes: int = 100
    eval_every: int | None = None
    stop_return: float | None = None
    checkpoint_every: int = 50_000
    loss_every: int = 50

    def __post_init__(self) -> None:
        positive = (
            "total_steps",
            "workers",
            "t_max",
            "learning_rate",
            "rms_eps",
            "max_grad_norm",
            "checkpoint_every",
            "loss_every",
            "reward_scale",
        )
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int | float) or not value > 0:
                raise NeurosimError(f"A3CConfig.{name}: has to be > 0, got {value!r}")
        for name in ("total_steps", "workers", "t_max", "checkpoint_every", "loss_every"):
            if not isinstance(getattr(self, name), int):
                raise NeurosimError(
                    f"A3CConfig.{name}: has to be an integer, got {getattr(self, name)!r}"
                )
        check_workers(self.workers, "A3CConfig.workers")
        for name in ("gamma", "rms_alpha"):
            if not 0 <= getattr(self, name) < 1:
                raise NeurosimError(
                    f"A3CConfig.{name}: has to be in [0, 1), got {getattr(self, name)!r}"
                )
        if self.eval_every is None:
            # a learning curve by default (issue 18), whatever the run's length
            object.__setattr__(self, "eval_every", self.total_steps // EVALUATIONS)
        for name in ("entropy_beta", "value_coef", "eval_episodes", "eval_every"):
            if getattr(self, name) < 0:
                raise NeurosimError(
                    f"A3CConfig.{name}: has to be >= 0, got {getattr(self, name)!r}"
                )
        if not self.hidden or any(not isinstance(h, int) or h < 1 for h in self.hidden):
            raise NeurosimError(f"A3CConfig.hidden: has to be integers >= 1, got {self.hidden!r}")
        if self.activation not in ACTIVATIONS:
            raise NeurosimError(
                f"A3CConfig.activation: has to be one of {', '.join(ACTIVATIONS)}, "
                f"got {self.activation!r}"
            )
        if self.rule not in ("backprop", "fa"):
            raise NeurosimError(f"A3CConfig.rule: has to be backprop or fa, got {self.rule!r}")
        if self.stop_return is not None and not (self.eval_every and self.eval_episodes):
            raise NeurosimError("A3CConfig.stop_return: needs eval_every and eval_episodes > 0")
        # A tuple, so the config stays hashable and its JSON round-trips.
        object.__setattr__(self, "hidden", tuple(self.hidden))


#: Evaluations during a run whose ``eval_every`` is not set: the learning curve's points.
EVALUATIONS = 20


#: Tuned overrides of :class:`A3CConfig` per environment (see :func:`for_env`),
#: from short runs with 2 workers (``benchmarks/bench_a3c.py``).
#: CartPole-v1: n-step 20 and lr 1e-3 solve it (greedy mean >= 475 over 100
#: episodes) in about 60k steps; the paper's t_max 5 / lr 7e-4 needs 70-80k.
#: Pendulum-v1: the paper's continuous-control entropy cost 1e-4, gamma 0.9
#: (as the SB3 zoo), rewards / 10 so the critic's targets stay near unit scale,
#: ReLU, and RMSProp's eps 1e-5 with lr 2e-4: with eps 0.1 inside the square
#: root the small gradients of this task took near plain-SGD steps and stalled
#: near -600 after 200k steps. InvertedPendulum-v5: the same optimiser
#: settings, untuned otherwise.
TUNED: dict[str, dict[str, Any]] = {
    "CartPole-v1": {"t_max": 20, "learning_rate": 1e-3},
    "Pendulum-v1": {
        "activation": "relu",
        "entropy_beta": 1e-4,
        "gamma": 0.9,
        "learning_rate": 2e-4,
        "reward_scale": 0.1,
        "rms_eps": 1e-5,
        "t_max": 20,
    },
    "InvertedPendulum-v5": {
        "activation": "relu",
        "entropy_beta": 1e-4,
        "learning_rate": 2e-4,
        "rms_eps": 1e-5,
        "t_max": 20,
    },
}


def for_env(env_id: str, **overrides: Any) -> A3CConfig:
    """The config for ``env_id``: defaults, then :data:`TUNED`, then ``overrides``."""
    return A3CConfig(env_id=env_id, **{**TUNED.get(env_id, {}), **overrides})


# ---------------------------------------------------------------------------
# Networks


@dataclass
class _Agent:
    """Actor, critic and (continuous actions) the policy's log standard deviation."""

    actor: nn.Sequential
    critic: nn.Sequential
    log_std: nn.Parameter | None
    low: np.ndarray | None = None
    high: np.ndarray | None = None
    params: list[nn.Parameter] = field(default_factory=list)
    actor_params: list[nn.Parameter] = field(default_factory=list)
    critic_params: list[nn.Parameter] = field(default_factory=list)

    def __post_init__(self) -> None:
        # One fixed order (actor, log-std, critic): local copies, shared
        # parameters and the shared RMSProp statistics line up by position.
        self.actor_params = [
            *self.actor.parameters(),
            *([self.log_std] if self.log_std is not None else []),
        ]
        self.critic_params = list(self.critic.parameters())
        self.params = self.actor_params + self.critic_params

    @property
    def discrete(self) -> bool:
        return self.log_std is None

    def controller(self) -> Controller:
        if self.discrete:
            return Controller(self.actor, "discrete")
        ones = np.ones_like(self.low)
        return Controller(self.actor, "continuous", ones, np.zeros_like(ones), self.low, self.high)

    def state(self) -> dict[str, Any]:
        return {
            "actor": self.actor.state_dict(),
            "critic": self.critic.state_dict(),
            "log_std": self.log_std.detach() if self.log_std is not None else None,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.actor.load_state_dict(state["actor"])
        self.critic.load_state_dict(state["critic"])
        if self.log_std is not None:
            with torch.no_grad():
                self.log_std.copy_(state["log_std"])


def _make_agent(config: A3CConfig) -> _Agent:
    """Fresh networks for ``config.env_id`` (initialised from torch's global RNG)."""
    import gymnasium as gym

    env = make_env(config.env_id)
    space, n_obs = env.action_space, int(np.prod(env.observation_space.shape))
    env.close()
    hidden = list(config.hidden)
    critic = mlp([n_obs, *hidden, 1], config.activation)
    if isinstance(space, gym.spaces.Discrete):
        actor = mlp([n_obs, *hidden, int(space.n)], config.activation)
        log_std, low, high = None, None, None
    elif isinstance(space, gym.spaces.Box):
        n_act = int(np.prod(space.shape))
        actor = mlp([n_obs, *hidden, n_act], config.activation)
        log_std = nn.Parameter(torch.full((n_act,), float(config.log_std_init)))
        low, high = space.low.astype(float), space.high.astype(float)
    else:
        raise NeurosimError(
            f"env_id: {config.env_id} has a {type(space).__name__} action space; "
            "A3C here handles Discrete and Box"
        )
    # A near-uniform initial policy (small output weights) explores evenly
    # until the advantages say otherwise.
    with torch.no_grad():
        actor[-1].weight.mul_(0.01)
        actor[-1].bias.zero_()
    return _Agent(actor, critic, log_std, low, high)


# ---------------------------------------------------------------------------
# Shared RMSProp (statistics in shared memory, updated lock-free like the weights)


def _rmsprop_init(params: list[nn.Parameter]) -> list[torch.Tensor]:
    return [torch.zeros_like(p).share_memory_() for p in params]


@torch.no_grad()
def _rmsprop_update(
    params: list[nn.Parameter],
    grads: list[torch.Tensor],
    square_avg: list[torch.Tensor],
    lr: float,
    alpha: float,
    eps: float,
) -> None:
    for p, g, s in zip(params, grads, square_avg, strict=True):
        s.mul_(alpha).addcmul_(g, g, value=1 - alpha)
        # The paper's form: eps inside the square root (torch's RMSprop adds it outside).
        p.addcdiv_(g, s.add(eps).sqrt_(), value=-lr)


# ---------------------------------------------------------------------------
# Worker


_DIED = "a worker process died without a message"


def _worker(rank: int, *args: Any) -> None:
    """One actor-learner (arguments as :func:`_worker_loop`), reporting how it ended."""
    messages = args[7]
    # Ctrl-C, and a batch system's SIGTERM, reach the whole process group: the
    # main process alone decides (it sets `stop`, and this worker ends after
    # its current segment, so the checkpoint holds whole updates). A worker
    # whose main process is gone stops by itself (see _worker_loop).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        _worker_loop(rank, *args)
    except BaseException:  # the main process re-raises it with the worker's traceback
        messages.put(("error", rank, traceback.format_exc()))
    else:
        messages.put(("done", rank, None))
    finally:
        args[6][rank] = True  # idle for good: an evaluation need not wait for it


def _worker_loop(
    rank: int,
    config: A3CConfig,
    shared: _Agent,
    square_avg: list[torch.Tensor],
    counter: Any,
    stop: Any,
    pause: Any,
    idle: Any,
    messages: Any,
    start_step: int,
) -> None:
    # Several workers on few cores: intra-op threads would only fight each other.
    torch.set_num_threads(1)
    # Different streams per worker and per resume, reproducible from the seed.
    rng = np.random.default_rng([config.seed, rank, start_step])
    env = make_env(config.env_id, seed=config.seed + rank + start_step)

    local = copy.deepcopy(shared)
    for p in local.params:
        p.requires_grad_(True)
    actor, critic = local.actor, local.critic
    if config.rule == "fa":
        # Same seeds in every worker: all of them use the same feedback matrices.
        actor = _convert(actor, config.seed)
        critic = _convert(critic, config.seed + 1)
    low, high = local.low, local.high

    obs, _ = env.reset()
    episode_return, episode_length = 0.0, 0
    sums: dict[str, float] = {}
    n_updates = 0
    # Workers ignore SIGTERM, so a main process killed with SIGKILL would
    # leave them running: they end when they are re-parented.
    parent = os.getppid()
    while not stop.value and os.getppid() == parent:
        # One lock for the pause flag, the idle flags and the reservations: once
        # the main process has set `pause` and sees every worker idle, no
        # segment is under way, so the step count is exact and no update is
        # half applied (an evaluation's step; issue 18).
        with counter.get_lock():
            idle[rank] = pause.value
            if pause.value:
                budget = None
            else:
                # Reserve this segment's steps, so the global count ends at total_steps.
                budget = min(config.t_max, config.total_steps - counter.value)
                counter.value += max(budget, 0)
        if budget is None:
            time.sleep(0.005)
            continue
        if budget <= 0:
            break
        with torch.no_grad():
            for p, s in zip(local.params, shared.params, strict=True):
                p.copy_(s)

        observations, actions, rewards = [obs], [], []
        terminated = truncated = False
        for _ in range(budget):
            with torch.no_grad():
                out = actor(torch.as_tensor(obs, dtype=torch.float32)).numpy()
            if local.discrete:
                # Gumbel-max: a sample of softmax(out) without building a distribution.
                action = int(np.argmax(out - np.log(-np.log(rng.random(out.shape)))))
                env_action: Any = action
            else:
                std = np.exp(local.log_std.detach().numpy())
                action = out + std * rng.standard_normal(out.shape)
                env_action = np.clip(action, low, high)
            obs, reward, terminated, truncated, _ = env.step(env_action)
            actions.append(action)
            rewards.append(float(reward))
            episode_return += float(reward)
            episode_length += 1
            observations.append(obs)
            if terminated or truncated:
                break
        with counter.get_lock():
            # Give back the steps an episode's end left unused.
            counter.value -= budget - len(rewards)
            step = counter.value
        if terminated or truncated:
            messages.put(("episode", step, (episode_return, episode_length)))
            episode_return, episode_length = 0.0, 0
            obs, _ = env.reset()

        loss, parts = _segment_loss(
            actor, critic, local.log_std, observations, actions, rewards, terminated, config
        )
        for p in local.params:
            p.grad = None
        loss.backward()
        # Separate networks, separate clips: a large critic gradient (early
        # value errors are large) must not shrink the policy's step.
        norms = [
            nn.utils.clip_grad_norm_(group, config.max_grad_norm)
            for group in (local.actor_params, local.critic_params)
        ]
        _rmsprop_update(
            shared.params,
            [p.grad for p in local.params],
            square_avg,
            config.learning_rate,
            config.rms_alpha,
            config.rms_eps,
        )

        for key, value in (
            *parts.items(),
            ("actor_grad_norm", float(norms[0])),
            ("critic_grad_norm", float(norms[1])),
        ):
            sums[key] = sums.get(key, 0.0) + value
        n_updates += 1
        if n_updates % config.loss_every == 0:
            messages.put(("loss", step, {k: v / config.loss_every for k, v in sums.items()}))
            sums = {}
    env.close()


def _segment_loss(
    actor: nn.Module,
    critic: nn.Module,
    log_std: nn.Parameter | None,
    observations: list[np.ndarray],
    actions: list[Any],
    rewards: list[float],
    terminated: bool,
    config: A3CConfig,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The loss ``L`` of the module docstring over one segment, and its parts per step.

    Parameters
    ----------
    actor, critic : nn.Module
        The worker's networks (possibly converted to feedback alignment).
    log_std : nn.Parameter or None
        The Gaussian policy's log standard deviation; None for discrete actions.
    observations : list of np.ndarray
        ``len(rewards) + 1`` states: the segment's and the one after its last
        step, whose value bootstraps the return unless the episode ``terminated``.
    actions : list
        The actions taken (ints, or arrays for continuous actions).
    rewards : list of float
        The rewards received, before ``config.reward_scale``.
    terminated : bool
        Whether the segment ended in a terminal state (no bootstrap).
    config : A3CConfig
        ``gamma``, ``reward_scale``, ``entropy_beta`` and ``value_coef`` are used.

    Returns
    -------
    loss : torch.Tensor
        Scalar to differentiate: policy loss ``- entropy_beta`` entropy
        ``+ value_coef`` value loss, each summed over the segment.
    parts : dict of str to float
        ``policy``, ``value`` and ``entropy`` per step, for the loss log.
    """
    # One batched forward pass of the segment (and the bootstrap state).
    states = torch.as_tensor(np.asarray(observations), dtype=torch.float32)
    values = critic(states).squeeze(-1)
    bootstrap = 0.0 if terminated else float(values[-1].detach())
    returns = np.empty(len(rewards))
    for t in reversed(range(len(rewards))):
        bootstrap = config.reward_scale * rewards[t] + config.gamma * bootstrap
        returns[t] = bootstrap
    target = torch.as_tensor(returns, dtype=torch.float32)
    advantage = target - values[:-1]
    out = actor(states[:-1])
    if log_std is None:
        logp_all = torch.log_softmax(out, -1)
        index = torch.as_tensor(actions)[:, None]
        logp = logp_all.gather(1, index).squeeze(1)
        entropy = -(logp_all.exp() * logp_all).sum(-1)
    else:
        taken = torch.as_tensor(np.asarray(actions), dtype=torch.float32)
        z = (taken - out) / log_std.exp()
        logp = (-0.5 * z**2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        entropy = (log_std + 0.5 * math.log(2 * math.pi * math.e)).sum().expand(len(z))
    # Summed over the segment, as the paper accumulates the per-step gradients.
    policy_loss = -(logp * advantage.detach()).sum()
    entropy_sum = entropy.sum()
    value_loss = 0.5 * (advantage**2).sum()
    loss = policy_loss - config.entropy_beta * entropy_sum + config.value_coef * value_loss
    n = len(rewards)
    parts = {
        "policy": float(policy_loss.detach()) / n,
        "value": float(value_loss.detach()) / n,
        "entropy": float(entropy_sum.detach()) / n,
    }
    return loss, parts


def _convert(net: nn.Sequential, seed: int) -> nn.Sequential:
    from neurosim.bridges.feedback import convert

    return convert(net, "fa", seed=seed)


# ---------------------------------------------------------------------------
# Main process


def train(
    config: A3CConfig, out: str | Path, *, resume: bool = False, progress: bool = False
) -> xr.Dataset:
    """Train A3C with ``config.workers`` processes; write the run into ``out``.

    Parameters
    ----------
    config : A3CConfig
    out : str or Path
        Directory for ``checkpoint.pt``, ``metrics.nc``, ``episodes.csv`` and
        ``losses.csv`` (created if missing).
    resume : bool
        Continue from ``out/checkpoint.pt`` (a missing one is an error):
        networks, RMSProp statistics, global step and log. On SIGINT (Ctrl-C)
        or SIGTERM the workers end after their current segment, the
        checkpoint and metrics are written and ``KeyboardInterrupt`` names
        them (the workers ignore SIGINT; only this process decides).
    progress : bool
        Show a tqdm progress bar of the global step.

    Returns
    -------
    xarray.Dataset
        The run log (episodes, losses, evaluations) as written to ``metrics.nc``.
    """
    out = Path(out)
    path = checkpoint_path(out, resume)
    # Seeded initialisation without resetting the caller's global torch RNG.
    with torch.random.fork_rng():
        torch.manual_seed(config.seed)
        shared = _make_agent(config)
    square_avg = _rmsprop_init(shared.params)
    log = RunLog("a3c", config)
    start_step = 0
    if resume:
        state = load_checkpoint(
            path,
            "a3c",
            config=dataclasses.asdict(config),
            may_differ=RESUMABLE,
            keys=("step", "actor", "critic", "square_avg", "log"),
        )
        try:
            shared.load_state(state)
            for s, saved in zip(square_avg, state["square_avg"], strict=True):
                s.copy_(saved)
        except (KeyError, RuntimeError, ValueError):
            raise NeurosimError(
                f"{path}: its networks do not fit this config (other env_id or hidden sizes?)"
            ) from None
        log.load_state(state["log"])
        start_step = int(state["step"])
    for p in shared.params:
        p.requires_grad_(False)
        p.share_memory_()

    # fork starts a worker in milliseconds (spawn re-imports torch and
    # gymnasium in each); the workers build their environments themselves.
    methods = std_mp.get_all_start_methods()
    ctx = mp.get_context("fork" if "fork" in methods else "spawn")
    counter = ctx.Value("q", start_step)
    stop = ctx.Value("b", False)
    pause = ctx.Value("b", False)
    # Per worker: waiting for `pause` to end, or finished (set under counter's lock).
    idle = ctx.Array("b", config.workers, lock=False)
    messages = ctx.Queue()
    bar = _progress_bar(config.total_steps, start_step) if progress else None

    started = time.monotonic()
    # None when a resumed run has already reached total_steps.
    workers = [
        ctx.Process(
            target=_worker,
            args=(
                rank,
                config,
                shared,
                square_avg,
                counter,
                stop,
                pause,
                idle,
                messages,
                start_step,
            ),
            daemon=True,
        )
        for rank in range(config.workers if start_step < config.total_steps else 0)
    ]
    for w in workers:
        w.start()
    next_checkpoint = (start_step // config.checkpoint_every + 1) * config.checkpoint_every
    next_eval = (
        (start_step // config.eval_every + 1) * config.eval_every if config.eval_every else 0
    )
    running = len(workers)
    error, solved = None, None
    last_eval = -1
    with StopSignals() as stopping:
        try:
            while running:
                try:
                    kind, step, payload = messages.get(timeout=0.2)
                except queue.Empty:
                    kind = None
                    if not any(w.is_alive() for w in workers):
                        error = error or _DIED
                        break
                # A worker ends with exit code 0 after its last message; a killed
                # one (OOM killer, kill -9) sends nothing, and the others keep the
                # queue busy, so look after every message, not only when it is empty.
                if any(w.exitcode not in (None, 0) for w in workers):
                    error = error or _DIED
                    break
                if kind == "episode":
                    log.episode(step, *payload)
                    if bar is not None:
                        # the mean of the last 10 episodes of all workers (issue 18)
                        recent = [e[1] for e in log.episodes[-10:]]
                        bar.set_postfix(return_last10=f"{np.mean(recent):.1f}", refresh=False)
                elif kind == "loss":
                    log.loss(step, **payload)
                elif kind == "done":
                    running -= 1
                elif kind == "error":
                    error = payload
                    stop.value = True
                    running -= 1
                if stopping.received is not None:
                    # Interrupted: workers end after their current segment and
                    # report "done"; the loop drains their messages until then.
                    stop.value = True
                now = counter.value
                if bar is not None:
                    bar.update(now - bar.n)
                # Checkpoints and evaluations hold the workers: they finish their
                # segments and wait, so the saved or evaluated networks are the
                # ones at an exact step count (`now` includes steps reserved but
                # not taken), and evaluation does not compete with them for cores.
                if now >= next_checkpoint and running and not stop.value:
                    with _workers_waiting(counter, pause, idle, workers) as step:
                        if step >= next_checkpoint:  # not below it, once reservations came back
                            _save(path, config, shared, square_avg, log, step)
                            every = config.checkpoint_every
                            next_checkpoint = (step // every + 1) * every
                if (
                    next_eval
                    and next_eval <= now < config.total_steps
                    and running
                    and not stop.value
                ):
                    with _workers_waiting(counter, pause, idle, workers) as step:
                        # One point per mark, each at a new step (the main process
                        # may see a mark late); none at total_steps: the final
                        # evaluation below covers it (issue 18).
                        if next_eval <= step < config.total_steps and step > last_eval:
                            next_eval += config.eval_every
                            last_eval = step
                            if bar is not None:  # an evaluation runs, the bar is not frozen
                                bar.set_postfix_str(f"evaluating at step {step}")
                            solved = _evaluate_during(config, shared, log, step)
                            if bar is not None:
                                last = np.mean(log.evaluations[-1][1])
                                bar.set_postfix(eval_return=f"{last:.1f}")
                            stop.value = solved is not None
        finally:
            stop.value = True
            for w in workers:
                w.join(timeout=10)
                if w.is_alive():
                    w.kill()  # workers ignore SIGTERM
            if bar is not None:
                bar.close()
    if error is not None:
        # The shared networks hold every finished update: keep them.
        step = int(counter.value)
        _save(path, config, shared, square_avg, log, step)
        where = f"checkpoint {path} at step {step} written (continue with --resume)"
        if error == _DIED:
            raise NeurosimError(f"A3C: {_DIED} (killed, or out of memory?); {where}")
        raise RuntimeError(f"A3C worker failed; {where}:\n{error}")
    if solved is not None:
        # Keep the policy that reached stop_return (workers wait during an
        # evaluation and see `stop` before `pause` ends: this only makes sure).
        shared.load_state(solved.state())
    # Episodes from different workers arrive in any order.
    log.episodes.sort(key=lambda e: e[0])
    log.losses.sort(key=lambda v: v["step"])
    seconds = time.monotonic() - started
    step = int(counter.value)
    _save(path, config, shared, square_avg, log, step)
    attrs = {
        "env_id": config.env_id,
        "steps_per_second": (step - start_step) / max(seconds, 1e-9),
        "workers": config.workers,
        "global_step": step,
    }
    if stopping.received is not None and solved is None and step < config.total_steps:
        raise stopping.interrupted(log, out, step, **attrs)

    if solved is None:
        # (a run stopped by stop_return was just evaluated on all eval_episodes:
        # that evaluation is its final one, not repeated)
        controller = shared.controller()
        returns = evaluate(
            controller, config.env_id, config.eval_episodes, seed=config.seed + 10_000
        )
        log.evaluation(step, returns)
    log.write(out, **attrs)
    return log.dataset(**attrs)


@contextlib.contextmanager
def _workers_waiting(counter: Any, pause: Any, idle: Any, workers: list) -> Iterator[int]:
    """Hold the workers between segments; yield the exact global step meanwhile."""
    with counter.get_lock():  # see _worker_loop: a worker reserves under this lock
        pause.value = True
    try:
        # Until every worker waits or has finished (or one has died).
        while not all(idle[: len(workers)]) and all(w.exitcode in (None, 0) for w in workers):
            time.sleep(0.002)
        yield int(counter.value)
    finally:
        pause.value = False


def _evaluate_during(config: A3CConfig, shared: _Agent, log: RunLog, step: int) -> _Agent | None:
    """Evaluate a snapshot of the greedy policy; the snapshot if it reached ``stop_return``."""
    # A snapshot: the policy a run that reaches stop_return keeps.
    snapshot = copy.deepcopy(shared)
    controller = snapshot.controller()
    seed = config.seed + 10_000
    screen = min(10, config.eval_episodes)
    returns = evaluate(controller, config.env_id, screen, seed=seed)
    # A point of the learning curve costs 10 episodes; all eval_episodes only
    # to confirm a stop_return that those 10 reached (the final one runs all).
    if config.stop_return is None or returns.mean() < config.stop_return:
        log.evaluation(step, returns)
        return None
    if config.eval_episodes > screen:
        returns = evaluate(controller, config.env_id, config.eval_episodes, seed=seed)
    log.evaluation(step, returns)
    return snapshot if returns.mean() >= config.stop_return else None


def _save(
    path: Path,
    config: A3CConfig,
    shared: _Agent,
    square_avg: list[torch.Tensor],
    log: RunLog,
    step: int,
) -> None:
    save_checkpoint(
        path,
        "a3c",
        {
            "step": int(step),
            **shared.state(),
            "square_avg": [s.clone() for s in square_avg],
            "log": log.state(),
            "controller": shared.controller().state(),
        },
        config=dataclasses.asdict(config),
    )


def load_controller(checkpoint: str | Path) -> Controller:
    """The trained actor of an A3C checkpoint as a :class:`Controller`.

    Parameters
    ----------
    checkpoint : str or Path
        A ``checkpoint.pt`` written by :func:`train`.

    Raises
    ------
    NeurosimError
        If the file is missing or is not an A3C checkpoint.
    """
    return _load_controller(checkpoint, "a3c")[0]


def _progress_bar(total: int, initial: int):
    from neurosim.progress import progress_bar

    return progress_bar(total=total, initial=initial, unit="step", desc="a3c")
