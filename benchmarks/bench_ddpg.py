"""DDPG on Pendulum-v1 and MuJoCo: returns, time to solve, SB3 and feedback alignment.

Subcommands (each prints per-seed numbers and their medians):

``pendulum``
    The tuned config (``neurosim.rl.ddpg.TUNED["Pendulum-v1"]``), 20k steps a
    seed: mean evaluation return (10 episodes) at 20k steps, and the wall time
    until an evaluation (every 1,000 steps) first reaches ``--threshold``
    (-200). Then (unless ``--impl neurosim``) Stable-Baselines3 DDPG with the
    zoo's Pendulum settings runs on the same seeds with the same evaluation protocol
    (``neurosim.rl.common.evaluate``, reset seeds ``10_000 + k`` for every seed),
    and the ratio of the median times is printed. Wall times include the
    evaluations (the same for both).
``fa``
    Backprop and feedback alignment (``rule="fa"``), tuned config, same seeds.
``mujoco``
    One MuJoCo task at a stated budget (``--env``, ``--steps``), against a
    uniformly random policy on the same evaluation episodes.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_ddpg.py pendulum --seeds 0 1 2 [--impl neurosim]
    OMP_NUM_THREADS=1 python benchmarks/bench_ddpg.py fa --seeds 0 1 2
    OMP_NUM_THREADS=1 python benchmarks/bench_ddpg.py mujoco --env Hopper-v5 --steps 30000
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from neurosim.rl.common import evaluate, make_env
from neurosim.rl.ddpg import TUNED, DDPGConfig, load_controller, train, tuned_config

EVAL_EVERY = 1_000
EVAL_SEED = 10_000  # DDPGConfig.eval_seed: the same 10 evaluation episodes for every seed
EVAL_STRIDE = 0  # --eval-stride: seed s evaluates on episodes EVAL_SEED + EVAL_STRIDE * s + k
# A second, larger evaluation of the final policy on other episodes: the mean of
# 10 Pendulum episodes moves by tens of points with their start states.
FINAL_EPISODES, FINAL_SEED = 50, 50_000


def eval_seed(seed):
    return EVAL_SEED + EVAL_STRIDE * seed


def first_reach(ds, threshold):
    """Wall time of the first evaluation with mean return >= threshold (None if never)."""
    means = ds.evaluation_return.mean("eval_episode").values
    hit = np.flatnonzero(means >= threshold)
    if not hit.size:
        return None
    step = int(ds.evaluation_step.values[hit[0]])
    # Evaluations fall on episode ends (200-step episodes, evaluations every
    # 1,000 steps): the episode's wall time is the training time up to there.
    at = np.flatnonzero(ds.episode_step.values <= step)
    return float(ds.episode_wall_time.values[at[-1]])


def run_ours(seed, threshold, **overrides):
    config = tuned_config(seed=seed, eval_every=EVAL_EVERY, eval_seed=eval_seed(seed), **overrides)
    with tempfile.TemporaryDirectory() as out:
        ds = train(config, out)
        controller = load_controller(Path(out) / "checkpoint.pt")
    final = float(ds.evaluation_return[-1].mean())
    final50 = float(evaluate(controller, config.env_id, FINAL_EPISODES, FINAL_SEED).mean())
    return final, first_reach(ds, threshold), float(ds.attrs["steps_per_second"]), final50


def run_sb3(seed, threshold, steps):
    """SB3 DDPG with the rl-zoo3 Pendulum-v1 settings, evaluated like ours."""
    from stable_baselines3 import DDPG
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.noise import NormalActionNoise

    class Eval(BaseCallback):
        def __init__(self):
            super().__init__()
            self.start, self.reached, self.final = time.monotonic(), None, None

        def _on_step(self):
            step = self.num_timesteps
            if step % EVAL_EVERY == 0:
                t0 = time.monotonic()
                policy = lambda obs: self.model.predict(obs, deterministic=True)[0]  # noqa: E731
                mean = float(evaluate(policy, "Pendulum-v1", 10, seed=eval_seed(seed)).mean())
                # Training time up to this evaluation, earlier evaluations included,
                # as in neurosim's log.
                if self.reached is None and mean >= threshold:
                    self.reached = t0 - self.start
                self.final = mean
            return True

    env = make_env("Pendulum-v1")
    model = DDPG(
        "MlpPolicy",
        env,
        gamma=0.98,
        buffer_size=200_000,
        learning_starts=10_000,
        action_noise=NormalActionNoise(np.zeros(1), 0.1 * np.ones(1)),
        gradient_steps=1,
        train_freq=1,
        learning_rate=1e-3,
        policy_kwargs={"net_arch": [400, 300]},
        seed=seed,
        device="cpu",
    )
    callback = Eval()
    started = time.monotonic()
    model.learn(steps, callback=callback)
    speed = steps / (time.monotonic() - started)
    policy = lambda obs: model.predict(obs, deterministic=True)[0]  # noqa: E731
    final50 = float(evaluate(policy, "Pendulum-v1", FINAL_EPISODES, FINAL_SEED).mean())
    return callback.final, callback.reached, speed, final50


def show(name, values, unit="", fmt="{:.1f}"):
    shown = ["never" if v is None else fmt.format(v) for v in values]
    known = [v for v in values if v is not None]
    med = fmt.format(statistics.median(known)) if len(known) == len(values) else "n/a"
    print(f"  {name:<28} median {med}{unit}   per seed: {', '.join(shown)}")
    return statistics.median(known) if len(known) == len(values) else None


def show_runs(runs):
    """Print (final eval, time to threshold, steps/s, 50-episode eval) per seed; median time."""
    show("eval return at 20k steps", [r[0] for r in runs])
    median_time = show("time to eval >= threshold", [r[1] for r in runs], " s")
    show("steps/s", [r[2] for r in runs])
    show(f"final, {FINAL_EPISODES} other episodes", [r[3] for r in runs])
    return median_time


def pendulum(args):
    medians = {}
    for impl in args.impl:
        if impl == "neurosim":
            runs = [run_ours(s, args.threshold) for s in args.seeds]
            print(f"neurosim DDPG, tuned Pendulum-v1 config, seeds {args.seeds}")
        else:
            runs = [run_sb3(s, args.threshold, 20_000) for s in args.seeds]
            print(f"stable-baselines3 DDPG, rl-zoo3 Pendulum-v1 settings, seeds {args.seeds}")
        medians[impl] = show_runs(runs)
    if medians.get("neurosim") and medians.get("sb3"):
        ratio = medians["neurosim"] / medians["sb3"]
        print(f"  time to threshold, neurosim / SB3 (medians): {ratio:.2f}")


def fa(args):
    for rule in args.rules:
        runs = [run_ours(s, args.threshold, rule=rule) for s in args.seeds]
        print(f"rule={rule}, tuned Pendulum-v1 config, {args.seeds=}")
        show_runs(runs)


def random_policy(env_id, seed):
    space = make_env(env_id, seed=seed).action_space
    return lambda _: space.sample()


def mujoco(args):
    # A fast config: the tuned Pendulum settings with 256-256 nets, gamma 0.99
    # and 5,000 random steps.
    finals, randoms, speeds = [], [], []
    for seed in args.seeds:
        settings = {
            **TUNED["Pendulum-v1"],
            "env_id": args.env,
            "total_steps": args.steps,
            "seed": seed,
            "learning_starts": 5_000,
            "gamma": 0.99,
            "hidden": (256, 256),
            "eval_every": args.steps // 5,
            "eval_episodes": 5,
            "eval_seed": eval_seed(seed),
            "checkpoint_every": args.steps,
        }
        config = DDPGConfig(**settings)
        with tempfile.TemporaryDirectory() as out:
            ds = train(config, out)
        finals.append(float(ds.evaluation_return[-1].mean()))
        speeds.append(float(ds.attrs["steps_per_second"]))
        randoms.append(
            float(evaluate(random_policy(args.env, seed), args.env, 5, eval_seed(seed)).mean())
        )
    print(f"{args.env}, {args.steps} steps, {args.seeds=}")
    show("DDPG eval return", finals)
    show("random policy return", randoms)
    show("steps/s", speeds)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["pendulum", "fa", "mujoco"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threshold", type=float, default=-200.0)
    parser.add_argument(
        "--impl", nargs="+", default=["neurosim", "sb3"], choices=["neurosim", "sb3"]
    )
    parser.add_argument("--rules", nargs="+", default=["backprop", "fa"], help="fa: rules to run")
    parser.add_argument("--env", default="Hopper-v5")
    parser.add_argument("--steps", type=int, default=30_000, help="mujoco: training steps")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--eval-stride", type=int, default=0, help="evaluation seeds 10_000 + stride * seed + k"
    )
    args = parser.parse_args()
    global EVAL_STRIDE
    EVAL_STRIDE = args.eval_stride
    torch.set_num_threads(args.threads)
    {"pendulum": pendulum, "fa": fa, "mujoco": mujoco}[args.what](args)


if __name__ == "__main__":
    main()
