"""Learned optimizer against random search, CMA-ES, Optuna TPE, nevergrad NGOpt and BoTorch.

Families: the Bayesian-optimization benchmarks of Chen et al. (2017) (Branin,
Goldstein-Price, Hartmann3, Hartmann6), held-out GP samples ``gp1`` ... ``gp6``
(drawn from the prior the optimizer trains on, but with seeds it never saw),
and a standard suite (:data:`neurosim.blackbox.functions.SUITE`: Ackley,
Rastrigin, Rosenbrock, Levy, Styblinski-Tang, Six-hump camel, Shekel, an
ill-conditioned ellipsoid; 1 to 6 dimensions). Every run of a test function
moves its optimum to a random point of the box and, where the function is
defined on all of R^d, rotates it at random
(:func:`neurosim.blackbox.functions.moved`; ``--fixed`` keeps the textbook
placement). Seed ``s`` of every optimizer sees the same moved function and the
same start point.

Prints, per family and optimizer, the median [quartiles] regret of the best
value found at steps 10, 25, 50 and 100 and the median wall time per
suggestion at step 100; then a verdict per family (learned against random
search and CMA-ES at step 100: a Mann-Whitney U test, two-sided, p < 0.05
counts as "better" or "worse", anything else "level"), and at the end how many
families are better / level / worse at each of steps 10, 25, 50 and 100. Writes
every run's best-so-far regret to ``bench_blackbox.nc`` and a plot.
``--combine A.nc B.nc ...`` runs nothing and reports saved runs merged (a run
in parts, or a retrained network's rows replacing the old ones).

Usage::

    python benchmarks/bench_blackbox.py [--seeds 100] [--botorch-seeds 10]
        [--optimizers learned random cma tpe ngopt botorch] [--functions ...]
        [--fixed] [--learned-weights dimD.pt] [--out results/bench_blackbox]
    python benchmarks/bench_blackbox.py --combine A/bench_blackbox.nc B/bench_blackbox.nc
        [--out results/bench_blackbox]
"""

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import xarray as xr
from scipy.stats import mannwhitneyu

from neurosim.atomic import atomic_path
from neurosim.blackbox.asktell import make_optimizer
from neurosim.blackbox.functions import FUNCTIONS, SUITE, TestFunction, gp_sample_function, moved

HORIZON = 100
STEPS = (10, 25, 50, 100)
FAMILIES = [*FUNCTIONS, *(f"gp{d}" for d in range(1, 7)), *SUITE]


def family_function(name: str, seed: int, fixed: bool = False) -> TestFunction:
    """Seed ``seed``'s function of a family (a GP sample, or a moved test function)."""
    if name.startswith("gp"):
        return gp_sample_function(seed, int(name[2:]))
    fn = {**FUNCTIONS, **SUITE}[name]
    return fn if fixed else moved(fn, np.random.default_rng([7, seed]))


def run(name: str, fn: TestFunction, seed: int, **kwargs) -> tuple[np.ndarray, np.ndarray]:
    """Best value so far and wall seconds of each suggestion (ask + tell) over the horizon."""
    opt = make_optimizer(name, fn.bounds, seed=seed, **kwargs)
    best, times = np.empty(HORIZON), np.empty(HORIZON)
    current = np.inf
    for t in range(HORIZON):
        start = time.perf_counter()
        x = opt.ask()
        times[t] = time.perf_counter() - start
        y = fn.f(x)
        current = min(current, y)
        start = time.perf_counter()
        opt.tell(x, y)
        times[t] += time.perf_counter() - start
        best[t] = current
    return best, times


def verdict(learned: np.ndarray, other: np.ndarray) -> str:
    """better / worse / level: the learned optimizer's regrets against another's (U test)."""
    a, b = learned[~np.isnan(learned)], other[~np.isnan(other)]
    if len(a) < 5 or len(b) < 5:
        return "n/a"
    p = mannwhitneyu(a, b, alternative="two-sided").pvalue
    if p >= 0.05:
        return f"level (p={p:.2g})"
    return ("better" if np.median(a) < np.median(b) else "worse") + f" (p={p:.2g})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--botorch-seeds", type=int, default=10)
    parser.add_argument(
        "--optimizers", nargs="+", default=["learned", "random", "cma", "tpe", "ngopt", "botorch"]
    )
    parser.add_argument("--functions", nargs="+", default=FAMILIES)
    parser.add_argument("--fixed", action="store_true", help="textbook optima, not moved")
    parser.add_argument(
        "--learned-weights",
        default=None,
        help="weights of the learned optimizer (a train-optimizer --export file; "
        "default the shipped ones)",
    )
    parser.add_argument("--out", default="results/bench_blackbox")
    parser.add_argument(
        "--combine",
        nargs="+",
        metavar="NC",
        default=None,
        help="run nothing: merge saved bench_blackbox.nc files (a later file's family and "
        "optimizer rows replace an earlier one's), print the table and the counts and "
        "write the merged file to --out",
    )
    args = parser.parse_args()
    if args.combine:
        ds = combine(args.combine)
        report(ds)
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        with atomic_path(out / "bench_blackbox.nc") as tmp:
            ds.to_netcdf(tmp)
        return
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    shape = (len(args.functions), len(args.optimizers), args.seeds, HORIZON)
    regret, timing = np.full(shape, np.nan), np.full(shape, np.nan)
    for i, fname in enumerate(args.functions):
        fns = [family_function(fname, s, args.fixed) for s in range(args.seeds)]
        for j, oname in enumerate(args.optimizers):
            n = min(args.botorch_seeds if oname == "botorch" else args.seeds, args.seeds)
            for s in range(n):
                extra = {"weights": args.learned_weights} if oname == "learned" else {}
                best, times = run(oname, fns[s], s, **(extra if args.learned_weights else {}))
                regret[i, j, s] = best - fns[s].minimum
                timing[i, j, s] = times
            print(row_line(fname, oname, regret[i, j], timing[i, j]), flush=True)
        if "learned" in args.optimizers:
            print(verdict_lines(fname, dict(zip(args.optimizers, regret[i], strict=True))))
    ds = as_dataset(regret, timing, args.functions, args.optimizers, moved=not args.fixed)
    with atomic_path(out / "bench_blackbox.nc") as tmp:
        ds.to_netcdf(tmp)
    _plot(ds, out / "bench_blackbox.png")
    print(counts(ds))


def row_line(fname: str, oname: str, regret: np.ndarray, timing: np.ndarray) -> str:
    """One optimizer on one family: median [quartiles] regret at :data:`STEPS`, ms per step."""
    cells = []
    for step in STEPS:
        q = np.nanpercentile(regret[:, step - 1], [25, 50, 75])
        cells.append(f"@{step} {q[1]:.3g} [{q[0]:.3g}, {q[2]:.3g}]")
    ms = 1e3 * np.nanmedian(timing[:, HORIZON - 1])
    n = int((~np.isnan(regret).all(1)).sum())
    return (
        f"{fname:<17} {oname:<8} seeds {n:>3}  regret " + "  ".join(cells)
        + f"  ms/suggestion@100 {ms:.3g}"
    )  # fmt: skip


def verdict_lines(fname: str, regret: dict[str, np.ndarray]) -> str:
    """The learned optimizer against random search and CMA-ES on one family, at step 100."""
    return "\n".join(
        f"{fname:<17} learned vs {other} @100: {verdict(regret['learned'][:, -1], r[:, -1])}"
        for other, r in regret.items()
        if other in ("random", "cma")
    )


def as_dataset(regret, timing, functions, optimizers, moved: bool) -> xr.Dataset:
    """The runs as ``bench_blackbox.nc`` stores them."""
    dims = ("function", "optimizer", "seed", "step")
    return xr.Dataset(
        {"regret": (dims, regret), "seconds_per_suggestion": (dims, timing)},
        coords={
            "function": list(functions),
            "optimizer": list(optimizers),
            "step": np.arange(1, HORIZON + 1),
        },
        attrs={"moved": int(moved), "horizon": HORIZON},
    )


def counts(ds: xr.Dataset) -> str:
    """How many families the learned optimizer is better / level / worse on, per step and peer."""
    lines = []
    for step in STEPS:
        for other in ("random", "cma"):
            if not {"learned", other} <= set(ds.optimizer.values):
                continue
            tally = {"better": 0, "level": 0, "worse": 0, "n/a": 0}
            for fname in ds.function.values:
                r = ds.regret.sel(function=fname, step=step)
                v = verdict(r.sel(optimizer="learned").values, r.sel(optimizer=other).values)
                tally[v.split()[0]] += 1
            lines.append(
                f"step {step:3d} learned vs {other:<6}: better on {tally['better']}, level on "
                f"{tally['level']}, worse on {tally['worse']} of {ds.sizes['function']} families"
            )
    return "\n".join(lines)


def combine(paths: list[str]) -> xr.Dataset:
    """Runs saved by this script, merged; a later file's (family, optimizer) rows win.

    So a benchmark run in parts adds up, and a retrained network's rows replace the
    old network's while the peers' rows stay.
    """
    rows: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
    moved = set()
    for path in paths:
        ds = xr.open_dataset(path)
        if ds.attrs.get("horizon") != HORIZON:
            raise SystemExit(f"{path}: horizon {ds.attrs.get('horizon')}, not {HORIZON}")
        moved.add(int(ds.attrs["moved"]))
        for f in ds.function.values:
            for o in ds.optimizer.values:
                r = ds.regret.sel(function=f, optimizer=o).values
                if not np.isnan(r).all():
                    rows[str(f), str(o)] = (
                        r,
                        ds.seconds_per_suggestion.sel(function=f, optimizer=o).values,
                    )
    if len(moved) > 1:
        raise SystemExit("--combine: moved and --fixed runs cannot be combined")
    functions = list(dict.fromkeys(f for f, _ in rows))
    optimizers = list(dict.fromkeys(o for _, o in rows))
    seeds = max(r.shape[0] for r, _ in rows.values())
    regret = np.full((len(functions), len(optimizers), seeds, HORIZON), np.nan)
    timing = np.full_like(regret, np.nan)
    for (f, o), (r, t) in rows.items():
        i, j = functions.index(f), optimizers.index(o)
        regret[i, j, : len(r)], timing[i, j, : len(t)] = r, t
    return as_dataset(regret, timing, functions, optimizers, moved=bool(moved.pop()))


def report(ds: xr.Dataset) -> None:
    """Print every row, the verdicts and the counts of a (combined) dataset."""
    for fname in ds.function.values:
        rows = {}
        for oname in ds.optimizer.values:
            r = ds.regret.sel(function=fname, optimizer=oname).values
            if np.isnan(r).all():
                continue
            rows[str(oname)] = r
            t = ds.seconds_per_suggestion.sel(function=fname, optimizer=oname).values
            print(row_line(str(fname), str(oname), r, t))
        if "learned" in rows:
            print(verdict_lines(str(fname), rows))
    print(counts(ds))


def _plot(ds, path):
    import matplotlib.pyplot as plt

    n = ds.sizes["function"]
    cols = min(n, 6)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 2.6 * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    for ax, fname in zip(axes.flat, ds.function.values, strict=False):
        for oname in ds.optimizer.values:
            r = ds.regret.sel(function=fname, optimizer=oname).values
            r = r[~np.isnan(r).all(1)]
            if not len(r):
                continue
            q = np.percentile(np.maximum(r, 1e-12), [25, 50, 75], axis=0)
            ax.plot(ds.step, q[1], label=str(oname))
            ax.fill_between(ds.step, q[0], q[2], alpha=0.15)
        ax.set(title=str(fname), xlabel="step", yscale="log")
    axes[0][0].set_ylabel("regret (median, quartiles)")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    main()
