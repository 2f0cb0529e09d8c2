"""Does the learned optimizer use the values it is told? Validation GP samples, told y, -y or 0.

The acceptance test of issue 17 (``tests/test_blackbox.py::
test_shipped_optimizer_uses_the_values_it_is_told``) runs this comparison on 30
GP samples with seeds 5,000,000+. This script runs it on any seed range, so that
networks can be chosen on functions neither the test nor ``bench_blackbox.py``
uses (issue 17 chose on seeds 7,000,000+). Prints, at steps 10, 20, 30, 50 and
100, the median regret told ``y`` and, told ``-y`` and ``0``, their median, the
one-sided paired Wilcoxon p (worse than told ``y``), the fraction of functions
where they are worse and the ratio of mean regrets.

Usage::

    python benchmarks/bench_told.py --dim 1 [--weights dim1.pt] [--seed-offset 7000000]
        [--functions 60]
"""

import argparse

import numpy as np
import torch
from scipy.stats import wilcoxon

from neurosim.blackbox.asktell import make_optimizer
from neurosim.blackbox.functions import gp_sample_function

STEPS = (10, 20, 30, 50, 100)
TOLD = {"y": lambda y: y, "-y": lambda y: -y, "0": lambda y: 0.0}


def regrets(dim: int, weights, seed_offset: int, functions: int) -> dict[str, np.ndarray]:
    """Regret at each of :data:`STEPS`, (functions, steps), per way of telling."""
    out = {k: np.zeros((functions, len(STEPS))) for k in TOLD}
    extra = {"weights": weights} if weights else {}
    for seed in range(functions):
        fn = gp_sample_function(seed, dim, seed_offset=seed_offset, candidates=5000, starts=5)
        for name, tell in TOLD.items():
            opt = make_optimizer("learned", [(-1.0, 1.0)] * dim, seed=seed, **extra)
            best = np.inf
            for t in range(1, STEPS[-1] + 1):
                x = opt.ask()
                y = fn.f(x)
                best = min(best, y)
                opt.tell(x, tell(y))
                if t in STEPS:
                    out[name][seed, STEPS.index(t)] = best - fn.minimum
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dim", type=int, required=True, help="function dimension")
    parser.add_argument("--weights", default=None, help="weights (default: the shipped ones)")
    parser.add_argument(
        "--seed-offset",
        type=int,
        default=7_000_000,
        help="first GP seed (default 7000000: neither the test's nor the benchmark's)",
    )
    parser.add_argument("--functions", type=int, default=60, help="GP samples (default 60)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    r = regrets(args.dim, args.weights, args.seed_offset, args.functions)
    for i, step in enumerate(STEPS):
        told_y = r["y"][:, i]
        line = f"step {step:3d}  told y: median {np.median(told_y):.2g}"
        for name in ("-y", "0"):
            other = r[name][:, i]
            p = (
                wilcoxon(other, told_y, alternative="greater").pvalue
                if np.any(other != told_y)
                else 1.0
            )
            line += (
                f" | told {name}: median {np.median(other):.2g}, p {p:.2g}, "
                f"worse on {np.mean(other > told_y):.0%}, mean ratio "
                f"{np.mean(other) / max(np.mean(told_y), 1e-300):.2g}"
            )
        print(line)


if __name__ == "__main__":
    main()
