"""Validate ``protocols/potjans2014.yaml`` against an ensemble of NEST realisations.

The field's test of an alternative implementation of the cortical microcircuit
(Dasbach et al. 2021; the ``reference_data`` workflow of INM-6's
``microcircuit-PD14-model``): per population, the distributions over neurons
of the time-averaged rate, the ISI CV and the pairwise spike-count correlation
(2 ms bins, a subsample of neurons); the Kolmogorov-Smirnov distances between
neurosim's realisations and NEST's must lie within the spread of the distances
between NEST realisations with different seeds
(:func:`neurosim.analysis.validation.ks_comparison`).

NEST runs the same data file (:func:`neurosim.peers.nest.run_in_nest`:
``iaf_psc_exp``, ``fixed_total_number``, ``redraw``-bounded normal weights and
delays, ``poisson_generator`` s, the scaled network's DC as ``I_e``). Runs
alternate between the simulators; each run's statistics are saved as it ends
(``--out``), so a second call resumes. Writes ``ks_table.md`` / ``ks.json``
and the figures ``distributions.png`` and ``ks_distances.png``.

    python benchmarks/validate_microcircuit.py --scale 0.1 --duration 10.5 \\
        --nest-seeds 5 --neurosim-seeds 3 --out results/microcircuit/scale0.1
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from neurosim.analysis.validation import STATISTICS, ks_comparison, spike_statistics
from neurosim.atomic import atomic_path
from neurosim.protocol import load_protocol

PROTOCOL = Path(__file__).resolve().parent.parent / "protocols" / "potjans2014.yaml"


def _protocol(args, seed: int):
    return load_protocol(
        PROTOCOL,
        [
            f"scale={args.scale}",
            f"duration={args.duration} s",
            f"seed={seed}",
            "output.plots=[]",
            "analysis=[]",
        ],
    )


def _statistics(spikes: dict, sizes: dict, args) -> dict:
    rng = np.random.default_rng(12345)  # the same subsample rule for every run
    return {
        pop: spike_statistics(
            t, i, sizes[pop], args.transient, args.duration, subsample=args.subsample, rng=rng
        )
        for pop, (t, i) in spikes.items()
    }


def run_nest(args, seed: int) -> tuple[dict, float]:
    from neurosim.peers.nest import run_in_nest

    protocol = _protocol(args, 1)
    run = run_in_nest(protocol, seed=seed, threads=args.threads)
    return _statistics(run.spikes, run.sizes, args), run.simulate_s


def run_neurosim(args, seed: int) -> tuple[dict, float]:
    from neurosim.runner import simulate_dataset

    protocol = _protocol(args, seed)
    ds = simulate_dataset(protocol)
    spikes = {
        pop: (ds[f"{pop}_spike_time"].values, ds[f"{pop}_spike_neuron"].values)
        for pop in protocol.populations
    }
    sizes = {pop: spec["n"] for pop, spec in protocol.populations.items()}
    return _statistics(spikes, sizes, args), float(ds.attrs.get("timing_binary_s", np.nan))


def _save(path: Path, stats: dict, seconds: float) -> None:
    arrays = {f"{pop}/{k}": v for pop, d in stats.items() for k, v in d.items()}
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, seconds=seconds, **arrays)


def _load(path: Path) -> dict:
    with np.load(path) as data:
        out: dict = {}
        for key in data.files:
            if "/" in key:
                pop, stat = key.split("/")
                out.setdefault(pop, {})[stat] = data[key]
        return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--duration", type=float, default=10.5, help="s, transient included")
    parser.add_argument("--transient", type=float, default=0.5, help="s left out")
    parser.add_argument("--nest-seeds", type=int, default=5)
    parser.add_argument("--neurosim-seeds", type=int, default=3)
    parser.add_argument("--subsample", type=int, default=50, help="neurons per population (cc)")
    parser.add_argument("--threads", type=int, default=1, help="NEST threads")
    parser.add_argument("--out", type=Path, default=Path("results/microcircuit/scale0.1"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    jobs = []
    for k in range(max(args.nest_seeds, args.neurosim_seeds)):  # alternating
        if k < args.nest_seeds:
            jobs.append(("nest", 12345 + k))
        if k < args.neurosim_seeds:
            jobs.append(("neurosim", 1 + k))
    for sim, seed in jobs:
        path = args.out / f"{sim}_seed{seed}.npz"
        if path.exists():
            continue
        start = time.perf_counter()
        stats, seconds = (run_nest if sim == "nest" else run_neurosim)(args, seed)
        _save(path, stats, seconds)
        print(f"{sim} seed {seed}: {time.perf_counter() - start:.1f} s wall", flush=True)
    nest = [_load(args.out / f"nest_seed{12345 + k}.npz") for k in range(args.nest_seeds)]
    ours = [_load(args.out / f"neurosim_seed{1 + k}.npz") for k in range(args.neurosim_seeds)]
    result = ks_comparison(nest, ours)
    table = _table(result, nest, ours, args)
    print(table)
    with atomic_path(args.out / "ks_table.md") as tmp:
        tmp.write_text(table)
    with atomic_path(args.out / "ks.json") as tmp:
        tmp.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, **result}))
    _figures(result, nest, ours, args.out)
    return 0 if all(r["agrees"] for pop in result.values() for r in pop.values()) else 1


def _table(result: dict, nest: list, ours: list, args) -> str:
    lines = [
        f"scale {args.scale}, {args.duration - args.transient:g} s after a {args.transient:g} s "
        f"transient, {len(nest)} NEST seeds, {len(ours)} neurosim seeds, cc of "
        f"{args.subsample} neurons per population",
        "",
        "| population | rate NEST (Hz) | rate neurosim (Hz) | "
        + " | ".join(f"KS {s}: NEST-NEST median [max] / neurosim-NEST median" for s in STATISTICS)
        + " | agrees |",
        "|---" * (4 + len(STATISTICS)) + "|",
    ]
    for pop, stats in result.items():
        rate_n = np.mean([r[pop]["rate"].mean() for r in nest])
        rate_o = np.mean([r[pop]["rate"].mean() for r in ours])
        cells = [
            f"{stats[s]['within_median']:.3f} [{stats[s]['within_max']:.3f}] / "
            f"{stats[s]['between_median']:.3f}"
            for s in STATISTICS
        ]
        ok = all(stats[s]["agrees"] for s in STATISTICS)
        lines.append(
            f"| {pop} | {rate_n:.3f} | {rate_o:.3f} | "
            + " | ".join(cells)
            + f" | {'yes' if ok else 'NO'} |"
        )
    return "\n".join(lines) + "\n"


def _figures(result: dict, nest: list, ours: list, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from neurosim.plotting import save_figure

    pops = list(result)
    fig, axes = plt.subplots(
        len(STATISTICS), len(pops), figsize=(2.2 * len(pops) + 1, 7.2), squeeze=False
    )
    limits = {"rate": (0, 20), "cv": (0, 1.5), "cc": (-0.02, 0.02)}
    names = {
        "rate": "rate (Hz)",
        "cv": "ISI CV (dimensionless)",
        "cc": "spike-count correlation\n(2 ms bins, dimensionless)",
    }
    for row, stat in enumerate(STATISTICS):
        bins = np.linspace(*limits[stat], 41)
        for col, pop in enumerate(pops):
            ax = axes[row, col]
            for runs, color, label in ((nest, "0.5", "NEST"), (ours, "C3", "neurosim")):
                for k, run in enumerate(runs):
                    ax.hist(
                        run[pop][stat],
                        bins,
                        histtype="step",
                        density=True,
                        color=color,
                        label=label if k == 0 else None,
                    )
            if row == 0:
                ax.set_title(pop)
            if col == 0:  # density per unit of the statistic
                ax.set_ylabel(f"probability density ({'1/Hz' if stat == 'rate' else '1'})")
            ax.set_xlabel(names[stat], fontsize=8)
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(
        f"Per-neuron statistics of each population, {len(nest)} NEST and {len(ours)} "
        "neurosim realisations (one line each)"
    )
    fig.tight_layout()
    save_figure(fig, out / "distributions.png")
    fig, axes = plt.subplots(1, len(STATISTICS), figsize=(12, 3.5), sharey=True)
    for ax, stat in zip(axes, STATISTICS, strict=True):
        ax.boxplot([result[p][stat]["within"] for p in pops], showfliers=True)
        for k, pop in enumerate(pops):
            between = result[pop][stat]["between"]
            ax.plot(np.full(len(between), k + 1.25), between, ".", color="C3", ms=4)
        ax.set_xticks(range(1, len(pops) + 1), pops, rotation=45)
        ax.set_xlabel("population")
        ax.set_title(names[stat].replace("\n", " "), fontsize=10)
    axes[0].set_ylabel("KS distance (dimensionless)")
    fig.suptitle(
        "Kolmogorov-Smirnov distances: between NEST seeds (box) "
        "and from each neurosim seed to each NEST seed (red dots)"
    )
    fig.tight_layout()
    save_figure(fig, out / "ks_distances.png")


if __name__ == "__main__":
    raise SystemExit(main())
