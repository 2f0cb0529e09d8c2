"""Speed and learning-curve benchmarks of the segregated-dendrite network.

Speed (one core; per-example times are medians over ``--repeats`` runs after
one untimed run that compiles)::

    python benchmarks/bench_segregated.py speed --target cpp_standalone
    python benchmarks/bench_segregated.py speed --target cython

Each repeat is one training-only epoch (``--n-train`` examples and the one
test example an epoch needs) and one test-only epoch (``--n-test`` examples).
Times are those of the simulation itself: in ``cpp_standalone`` the binary's
network run as Brian2 measures it (``_last_run_time``: ``std::clock()``, i.e.
CPU time of the one-thread process; no code generation, compiling or
loading), and, printed next to it, the wall time of the whole binary
(Brian2's ``timers["run_binary"]``: start, loading, run, writing results);
``Network.run`` wall time in ``cython`` (its set-up of cached code objects
included). The training figure has the one test example subtracted. All
include the idle padding of the epoch's size class. ``--profile`` adds
Brian2's per-code-object breakdown of one training epoch.

Learning curve on the reference anchor's images: full MNIST, the first 10,000
training images in file order (one epoch, no shuffle), quick test on the first
100 test images every 1,000 examples, final test on the first 1,000 test
images; 784-500-10, learning rates 0.21, the reference's initial weights::

    python benchmarks/bench_segregated.py curve --seeds 0 1 2

Reference anchors (jordan-g/Segregated-Dendrite-Deep-Learning, spiking mode,
(500, 10), learning rates 0.21, same 10,000 training images in the same
order, same first 1,000 test images; issue 13): test error 21.0 and 20.7 %
(2 seeds) after 10,000 examples. The reference's quick tests draw 100 random
test images each time (it shuffles the test set before every test), so
quick-test values compare only roughly; an earlier single reference run gave
70, 69, 47, 39, 34, 28, 22, 33, 24, 11 %. Speed: about 18 ms per training
example and 42 ms per test example (CPU time, numpy on one core).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

from neurosim.networks.segregated import SegregatedConfig, init_weights, run_epoch  # noqa: E402

__all__ = ["curve", "main", "speed"]

DATA = Path(os.environ.get("NEUROSIM_MNIST", "/work/shared/data/mnist"))


def _mnist(full: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    if full:
        from neurosim.datasets.mnist import load_mnist

        tr, trl = load_mnist("train", DATA)
        te, tel = load_mnist("test", DATA)
    else:
        from neurosim.datasets import load_mnist_subset

        d = load_mnist_subset()
        tr, trl, te, tel = d.train_images, d.train_labels, d.test_images, d.test_labels
    return tr / 255.0, trl.astype(int), te / 255.0, tel.astype(int)


def _sim_time(result: dict, target: str) -> float:
    return result["run_time"] if target == "cpp_standalone" else result["wall_time"]


def _wall_time(result: dict, target: str) -> float:
    return result["run_wall_time"] if target == "cpp_standalone" else result["wall_time"]


def speed(args: argparse.Namespace) -> None:
    """Median ms per training and per test example (after compiling)."""
    data = _mnist(full=False)
    config = SegregatedConfig(
        hidden_sizes=tuple(args.hidden), layer_delay=args.layer_delay, spikes=args.spikes
    )
    weights = init_weights(config, 784)
    per_train, per_test, wall_train, wall_test = [], [], [], []
    for rep in range(args.repeats + 1):
        _, r_test = run_epoch(
            config, weights, *data, rep, n_train=0, n_test=args.n_test, target=args.target
        )
        _, r_train = run_epoch(
            config, weights, *data, rep, n_train=args.n_train, n_test=1, target=args.target
        )
        if rep:  # the first repetition compiles
            test = _sim_time(r_test, args.target) / args.n_test
            per_test.append(1e3 * test)
            per_train.append(1e3 * (_sim_time(r_train, args.target) - test) / args.n_train)
            wall = _wall_time(r_test, args.target) / args.n_test
            wall_test.append(1e3 * wall)
            wall_train.append(1e3 * (_wall_time(r_train, args.target) - wall) / args.n_train)
    clock = "CPU time (std::clock)" if args.target == "cpp_standalone" else "wall time"
    print(
        f"target={args.target} hidden={args.hidden}, {clock}: "
        f"{statistics.median(per_train):.2f} ms per training example, "
        f"{statistics.median(per_test):.2f} ms per test example "
        f"(medians of {args.repeats}; per repeat: "
        f"{[round(x, 2) for x in per_train]}, {[round(x, 2) for x in per_test]})",
        flush=True,
    )
    if args.target == "cpp_standalone":
        print(
            f"  wall time of the binary: {statistics.median(wall_train):.2f} ms per training "
            f"example, {statistics.median(wall_test):.2f} ms per test example (medians)",
            flush=True,
        )
    if args.profile:
        _, res = run_epoch(
            config,
            weights,
            *data,
            99,
            n_train=args.n_train,
            n_test=1,
            target=args.target,
            profile=True,
        )
        total = sum(t for _, t in res["profile"])
        print(f"profile of one training epoch ({args.n_train} examples), per training example:")
        for name, t in sorted(res["profile"], key=lambda x: -x[1])[: args.top]:
            print(f"  {name:45s} {1e3 * t / args.n_train:7.3f} ms  {100 * t / total:5.1f} %")
        print(f"  {'(sum of code objects)':45s} {1e3 * total / args.n_train:7.3f} ms")


def curve(args: argparse.Namespace) -> None:
    """Quick-test errors every 1,000 examples on the anchor's images, per seed."""
    data = _mnist(full=True)
    out = {}
    rates = (args.rate,) * (len(args.hidden) + 1)
    for seed in args.seeds:
        config = SegregatedConfig(
            hidden_sizes=tuple(args.hidden),
            learning_rates=rates,
            init=args.init,
            layer_delay=args.layer_delay,
            spikes=args.spikes,
            seed=seed,
        )
        start = time.perf_counter()
        _, res = run_epoch(
            config,
            init_weights(config, 784),
            *data,
            0,
            n_train=args.n_train,
            n_test=args.n_test,
            test_every=1000,
            n_quick_test=100,
            shuffle=args.shuffle,
            target=args.target,
        )
        errors = [*res["quick_errors"].tolist(), res["test_error"]]
        chunks = np.array_split(res["train_correct"], max(1, args.n_train // 1000))
        out[seed] = {
            "errors": errors,
            "seconds": time.perf_counter() - start,
            "train_error_per_1000": [100 * (1 - c.mean()) for c in chunks],
        }
        print(json.dumps({"seed": seed, **out[seed]}), flush=True)
    finals = [out[seed]["errors"][-1] for seed in args.seeds]
    print(
        f"final test error on {args.n_test} test images: median {statistics.median(finals):.2f} %"
        f" over {len(finals)} seed(s) ({', '.join(f'{e:.2f}' for e in finals)})",
        flush=True,
    )
    if args.output:
        Path(args.output).write_text(json.dumps(out, indent=1))


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("speed")
    p.add_argument("--target", default="cpp_standalone", choices=("cython", "cpp_standalone"))
    p.add_argument("--hidden", type=int, nargs="*", default=[500])
    p.add_argument("--n-train", type=int, default=200)
    p.add_argument("--n-test", type=int, default=50)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--profile", action="store_true")
    p.add_argument(
        "--layer-delay",
        action="store_true",
        help="spikes reach the next layer one step later (neurosim before issue 13)",
    )
    p.add_argument(
        "--spikes",
        default="poisson",
        choices=("poisson", "bernoulli"),
        help="spike draw per step (default: Poisson counts, as the reference)",
    )
    p.add_argument("--top", type=int, default=25)
    p.set_defaults(func=speed)
    c = sub.add_parser("curve")
    c.add_argument("--target", default="cpp_standalone", choices=("cython", "cpp_standalone"))
    c.add_argument("--hidden", type=int, nargs="*", default=[500])
    c.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    c.add_argument("--rate", type=float, default=0.21, help="learning rate of every layer")
    c.add_argument("--n-train", type=int, default=10_000)
    c.add_argument("--n-test", type=int, default=1000)
    c.add_argument("--init", default="reference", choices=("reference", "narrow"))
    c.add_argument(
        "--shuffle",
        action="store_true",
        help="shuffle the training examples (default: file order, as the anchor)",
    )
    c.add_argument(
        "--layer-delay",
        action="store_true",
        help="spikes reach the next layer one step later (neurosim before issue 13)",
    )
    c.add_argument(
        "--spikes",
        default="poisson",
        choices=("poisson", "bernoulli"),
        help="spike draw per step (default: Poisson counts, as the reference)",
    )
    c.add_argument("--output")
    c.set_defaults(func=curve)
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    sys.exit(main())
