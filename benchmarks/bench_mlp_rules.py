"""Time per training epoch of backprop, FA, DFA and shallow learning on one torch MLP.

The feedback-alignment paper's network (784-1000-10, sigmoid), full MNIST
(60,000 examples), mini-batches of 32, one thread; no angle or test-error
measurements inside the timed loop. Prints the median over repeated epochs
and each rule's ratio to backprop (the target: FA and DFA <= 1.15x).

Usage::

    NEUROSIM_DATA=... python benchmarks/bench_mlp_rules.py [--repeats 5] [--batch-size 32]
"""

import argparse
import statistics

import torch

from neurosim.bridges.mlp import MLPConfig, train_mlp
from neurosim.datasets import load_mnist


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed epochs per rule")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--hidden", type=int, nargs="+", default=[1000])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    train_x, train_y = load_mnist("train")
    test_x, test_y = load_mnist("test")
    medians = {}
    # Rules interleaved epoch by epoch, so that a slow spell of a shared
    # machine hits every rule alike.
    times = {rule: [] for rule in ("backprop", "fa", "dfa", "shallow")}
    for _ in range(args.repeats):
        for rule in times:
            config = MLPConfig(
                hidden_sizes=tuple(args.hidden),
                rule=rule,
                batch_size=args.batch_size,
                epochs=1,
                feedback_scale=10.0,
            )
            ds = train_mlp(config, train_x, train_y, test_x[:100], test_y[:100])
            times[rule].append(float(ds.epoch_time[0]))
    for rule, values in times.items():
        medians[rule] = statistics.median(values)
    for rule, med in medians.items():
        print(
            f"{rule:<9} {med:6.2f} s per epoch (median of {args.repeats}; "
            f"{min(times[rule]):.2f}..{max(times[rule]):.2f})   "
            f"x{med / medians['backprop']:.3f} of backprop"
        )


if __name__ == "__main__":
    main()
