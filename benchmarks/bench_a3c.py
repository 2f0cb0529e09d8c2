"""A3C benchmarks: CartPole to 475, worker scaling, SB3 A2C baseline, Pendulum.

Every part prints one line per run and the medians::

    python benchmarks/bench_a3c.py cartpole --seeds 0 1 2
    python benchmarks/bench_a3c.py cartpole --seeds 0 1 2 --sb3
    python benchmarks/bench_a3c.py scaling --steps 40000 --repeats 3
    python benchmarks/bench_a3c.py pendulum --steps 200000 --seeds 0 1 2

``cartpole``: A3C (:func:`neurosim.rl.a3c.for_env` config, 2 workers) trains
until its greedy policy's mean return over 100 evaluation episodes reaches 475
(screened every ``--eval-every`` global steps with 10 episodes first), or
``--cap`` steps; reported: global steps and wall time at that point, and the
100-episode mean of the final policy. ``--sb3`` also trains Stable-Baselines3
A2C with the rl-zoo hyper-parameters for CartPole-v1 (8 environments,
``ent_coef=0``, other settings SB3's defaults) under the same evaluation
protocol and seeds, and prints the ratio of wall times. Wall times include
the evaluations for both. Torch runs on one thread in every process.

``scaling``: environment steps per second of 1 and 2 workers (``--worker-counts``)
on a fixed budget, median of ``--repeats``; the machine's load
(``os.getloadavg``) is printed with it, as other jobs depress the number. The
CPU time per step (all processes) is printed too: it does not depend on the
load, and equal values for 1 and 2 workers mean the workers do not slow each
other down, so the speed-up on free cores is close to the worker count.

``pendulum``: A3C on Pendulum-v1 (and ``--env InvertedPendulum-v5``) for a
fixed budget; reported: the greedy policy's mean return over 100 episodes and
the mean of the last 20 training episodes.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time

import numpy as np
import torch

from neurosim.rl.a3c import for_env, train
from neurosim.rl.common import evaluate

EVAL_SEED = 10_000  # the seed train() uses for evaluation episodes (seed + 10_000)


def load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def first_solved(ds, target: float) -> int | None:
    """Step of the first full evaluation (all episodes) whose mean reached ``target``."""
    ret = ds.evaluation_return.values
    for step, row in zip(ds.evaluation_step.values, ret, strict=True):
        if np.isfinite(row).all() and row.mean() >= target:
            return int(step)
    return None


def bench_cartpole(args) -> None:
    rows = []
    for seed in args.seeds:
        config = for_env(
            "CartPole-v1",
            seed=seed,
            workers=args.workers,
            total_steps=args.cap,
            eval_every=args.eval_every,
            stop_return=args.target,
            eval_episodes=100,
            rule=args.rule,
        )
        with tempfile.TemporaryDirectory() as out:
            start = time.monotonic()
            ds = train(config, out)
            wall = time.monotonic() - start
        steps = first_solved(ds, args.target)
        final = float(np.nanmean(ds.evaluation_return.values[-1]))
        rows.append((steps, wall, final))
        print(
            f"a3c ({args.rule}) seed {seed}: solved at step {steps} wall {wall:.1f} s "
            f"final 100-episode mean {final:.1f} ({load()})",
            flush=True,
        )
    report("a3c", rows)
    if args.sb3:
        sb3_rows = []
        for seed in args.seeds:
            sb3_rows.append(run_sb3(seed, args))
            steps, wall, final = sb3_rows[-1]
            print(
                f"sb3 a2c seed {seed}: solved at step {steps} wall {wall:.1f} s "
                f"final 100-episode mean {final:.1f} ({load()})",
                flush=True,
            )
        report("sb3 a2c", sb3_rows)
        ratio = np.median([r[1] for r in sb3_rows]) / np.median([r[1] for r in rows])
        print(f"median wall time sb3 a2c / a3c: {ratio:.2f}")


def run_sb3(seed: int, args) -> tuple[int | None, float, float]:
    """SB3 A2C (rl-zoo CartPole-v1: 8 envs, ent_coef 0) under the A3C evaluation protocol."""
    from stable_baselines3 import A2C
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    def greedy(model):
        return lambda obs: int(model.predict(obs, deterministic=True)[0])

    class Stop(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.next_eval, self.solved = args.eval_every, None

        def _on_step(self) -> bool:
            if self.num_timesteps < self.next_eval:
                return True
            self.next_eval += args.eval_every
            policy = greedy(self.model)
            eval_seed = seed + EVAL_SEED
            if evaluate(policy, "CartPole-v1", 10, seed=eval_seed).mean() < args.target:
                return True
            if evaluate(policy, "CartPole-v1", 100, seed=eval_seed).mean() >= args.target:
                self.solved = self.num_timesteps
                return False
            return True

    env = make_vec_env("CartPole-v1", n_envs=8, seed=seed)
    model = A2C("MlpPolicy", env, ent_coef=0.0, seed=seed, device="cpu")
    stop = Stop()
    start = time.monotonic()
    model.learn(total_timesteps=args.cap, callback=stop)
    wall = time.monotonic() - start
    final = float(evaluate(greedy(model), "CartPole-v1", 100, seed=seed + EVAL_SEED).mean())
    return stop.solved, wall, final


def report(name: str, rows) -> None:
    solved = [r[0] for r in rows if r[0] is not None]
    print(
        f"{name} median: solved {len(solved)}/{len(rows)}, "
        f"steps {np.median(solved) if solved else float('nan'):.0f}, "
        f"wall {np.median([r[1] for r in rows]):.1f} s, "
        f"final 100-episode mean {np.median([r[2] for r in rows]):.1f}"
    )


def cpu_seconds() -> float:
    """CPU seconds of this process and of its finished (joined) worker processes."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def bench_scaling(args) -> None:
    rates: dict[int, list[float]] = {w: [] for w in args.worker_counts}
    cpu: dict[int, list[float]] = {w: [] for w in args.worker_counts}
    for repeat in range(args.repeats):
        for workers in args.worker_counts:
            config = for_env(
                args.env, seed=repeat, workers=workers, total_steps=args.steps, eval_episodes=0
            )
            before = cpu_seconds()
            with tempfile.TemporaryDirectory() as out:
                ds = train(config, out)
            # CPU time per step does not depend on what else the machine runs:
            # equal values for 1 and 2 workers mean no contention in the code.
            cpu[workers].append((cpu_seconds() - before) / args.steps * 1e6)
            rates[workers].append(float(ds.attrs["steps_per_second"]))
            print(
                f"{args.env} workers {workers} repeat {repeat}: "
                f"{rates[workers][-1]:.0f} steps/s, {cpu[workers][-1]:.0f} CPU us/step "
                f"({load()})",
                flush=True,
            )
    base = np.median(rates[args.worker_counts[0]])
    for workers in args.worker_counts:
        print(
            f"median workers {workers}: {np.median(rates[workers]):.0f} steps/s, "
            f"speed-up {np.median(rates[workers]) / base:.2f}x, "
            f"{np.median(cpu[workers]):.0f} CPU us/step ({load()}, {os.cpu_count()} CPUs)"
        )


def bench_pendulum(args) -> None:
    evals, trains = [], []
    for seed in args.seeds:
        config = for_env(
            args.env, seed=seed, workers=args.workers, total_steps=args.steps, eval_episodes=100
        )
        with tempfile.TemporaryDirectory() as out:
            start = time.monotonic()
            ds = train(config, out)
            wall = time.monotonic() - start
        evals.append(float(np.nanmean(ds.evaluation_return.values[-1])))
        trains.append(float(ds.episodic_return.values[-20:].mean()))
        print(
            f"{args.env} seed {seed}: {args.steps} steps, wall {wall:.1f} s, "
            f"greedy 100-episode mean {evals[-1]:.1f}, last 20 training episodes "
            f"{trains[-1]:.1f} ({load()})",
            flush=True,
        )
    print(
        f"{args.env} median after {args.steps} steps: greedy {np.median(evals):.1f}, "
        f"training {np.median(trains):.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=("cartpole", "scaling", "pendulum"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cap", type=int, default=500_000, help="cartpole: step cap")
    parser.add_argument("--eval-every", type=int, default=10_000)
    parser.add_argument("--target", type=float, default=475.0)
    parser.add_argument("--sb3", action="store_true", help="cartpole: also SB3 A2C")
    parser.add_argument("--rule", default="backprop", help="cartpole: backprop or fa")
    parser.add_argument("--steps", type=int, default=None, help="scaling / pendulum budget")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--worker-counts", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--env", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.part == "cartpole":
        bench_cartpole(args)
    elif args.part == "scaling":
        args.env = args.env or "CartPole-v1"
        args.steps = args.steps or 40_000
        bench_scaling(args)
    else:
        args.env = args.env or "Pendulum-v1"
        args.steps = args.steps or 200_000
        bench_pendulum(args)


if __name__ == "__main__":
    main()
