"""Learned optimizer against BoTorch GP-EI, CMA-ES and random search (Chen et al. 2017).

Per benchmark family (Branin, Goldstein-Price, Hartmann3, Hartmann6, held-out
GP samples ``gp2``, ``gp3``, ... of that dimension) and optimizer: ``--seeds``
runs of horizon 100 from the same seeded start points. Prints the median
[quartiles] regret of the best value found at steps 25, 50 and 100 and the
median wall time per suggestion at steps 10, 50 and 100; writes the
best-so-far curves to a NetCDF file and a plot (median and quartiles of the
regret against the step).

Usage::

    python benchmarks/bench_blackbox.py [--seeds 100] [--botorch-seeds 10]
        [--optimizers learned random cma botorch] [--out results/bench_blackbox]
"""

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import xarray as xr
from scipy.optimize import minimize

from neurosim.blackbox.asktell import make_optimizer
from neurosim.blackbox.functions import FUNCTIONS, TestFunction
from neurosim.blackbox.gp import evaluate, sample_gp_functions

HORIZON = 100
STEPS = (25, 50, 100)
TIMED = (10, 50, 100)


def gp_function(seed: int, dim: int = 3) -> TestFunction:
    """A held-out GP sample on [-1, 1]^dim with its minimum found by multistart search."""
    funcs = sample_gp_functions(1, dim, generator=torch.Generator().manual_seed(10**6 + seed),
                                dtype=torch.float64)  # fmt: skip

    def f(x):
        return float(evaluate(funcs, torch.as_tensor(np.asarray(x, float))[None])[0])

    rng = np.random.default_rng(seed)
    cand = rng.uniform(-1, 1, (20000, dim))
    vals = evaluate(funcs, torch.as_tensor(cand)[None])[0].numpy()
    best = min(
        minimize(f, cand[k], bounds=[(-1, 1)] * dim, method="L-BFGS-B").fun
        for k in np.argsort(vals)[:10]
    )
    return TestFunction(f"gp{dim}", f, np.array([[-1.0, 1.0]] * dim), float(best))


def run(name: str, fn: TestFunction, seed: int) -> tuple[np.ndarray, np.ndarray]:
    opt = make_optimizer(name, fn.bounds, seed=seed)
    best, times = np.empty(HORIZON), np.empty(HORIZON)
    current = np.inf
    for t in range(HORIZON):
        start = time.perf_counter()
        x = opt.ask()
        times[t] = time.perf_counter() - start
        current = min(current, fn.f(x))
        start = time.perf_counter()
        opt.tell(x, fn.f(x))
        times[t] += time.perf_counter() - start
        best[t] = current
    return best, times


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--botorch-seeds", type=int, default=10)
    parser.add_argument("--optimizers", nargs="+", default=["learned", "random", "cma", "botorch"])
    parser.add_argument("--functions", nargs="+", default=[*FUNCTIONS, "gp3"])
    parser.add_argument("--out", default="results/bench_blackbox")
    args = parser.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    regret = np.full((len(args.functions), len(args.optimizers), args.seeds, HORIZON), np.nan)
    timing = np.full_like(regret, np.nan)
    for i, fname in enumerate(args.functions):
        for j, oname in enumerate(args.optimizers):
            n = args.botorch_seeds if oname == "botorch" else args.seeds
            for s in range(min(n, args.seeds)):
                fn = gp_function(s, int(fname[2:])) if fname.startswith("gp") else FUNCTIONS[fname]
                best, times = run(oname, fn, s)
                regret[i, j, s] = best - fn.minimum
                timing[i, j, s] = times
            r = regret[i, j]
            cells = []
            for step in STEPS:
                q = np.nanpercentile(r[:, step - 1], [25, 50, 75])
                cells.append(f"@{step} {q[1]:.3g} [{q[0]:.3g}, {q[2]:.3g}]")
            tms = [f"{1e3 * np.nanmedian(timing[i, j][:, k - 1]):.2f}" for k in TIMED]
            print(
                f"{fname:<16} {oname:<8} seeds {min(n, args.seeds):>3}  regret "
                + "  ".join(cells)
                + f"  ms/suggestion @10/50/100: {'/'.join(tms)}",
                flush=True,
            )
    ds = xr.Dataset(
        {
            "regret": (("function", "optimizer", "seed", "step"), regret),
            "seconds_per_suggestion": (("function", "optimizer", "seed", "step"), timing),
        },
        coords={
            "function": args.functions,
            "optimizer": args.optimizers,
            "step": np.arange(1, HORIZON + 1),
        },
    )
    ds.to_netcdf(out / "bench_blackbox.nc")
    _plot(ds, out / "bench_blackbox.png")


def _plot(ds, path):
    import matplotlib.pyplot as plt

    n = ds.sizes["function"]
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n, 3), squeeze=False)
    for ax, fname in zip(axes[0], ds.function.values, strict=True):
        for oname in ds.optimizer.values:
            r = ds.regret.sel(function=fname, optimizer=oname).values
            r = r[~np.isnan(r).all(1)]
            if not len(r):
                continue
            q = np.percentile(np.maximum(r, 1e-12), [25, 50, 75], axis=0)
            ax.plot(ds.step, q[1], label=str(oname))
            ax.fill_between(ds.step, q[0], q[2], alpha=0.2)
        ax.set(title=str(fname), xlabel="step", yscale="log")
    axes[0][0].set_ylabel("regret of best value (median, quartiles)")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
