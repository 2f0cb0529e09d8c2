"""Brunel (2000) side by side with NEST: statistics of the four states, and speed.

The same protocol files (``protocols/brunel2000_{sr,ai,si_fast,si_slow}.yaml``)
run in neurosim (Brian2 ``cpp_standalone``, one thread) and in NEST (the
``peers`` extra; :func:`neurosim.peers.nest.run_in_nest`, one thread), one
after the other for every seed, the order alternating, in one process::

    python benchmarks/bench_networks.py --states sr ai si_fast si_slow --seeds 1 2 3 \\
        --json results/bench_networks.json

For each state and population: the population rate, the mean CV of the
inter-spike intervals, the mean spike-count Fano factor (100 ms windows) and
the dominant frequency of the population rate (0.5 ms bins, Welch) over
200-1000 ms (:func:`neurosim.analysis.population.population_statistics`, the
same code for both simulators). A statistic passes when neurosim's median
over the seeds is within 10 % of NEST's median, or within NEST's own
seed-to-seed range (max - min), whichever is larger.

Times (wall, ``time.perf_counter``): NEST's build (create + connect) and
``Simulate``; neurosim's set-up (Python objects and connection arrays),
compile (``make``; cached between runs whose generated code is the same) and
the binary (load, simulate, write), with the simulation loop's CPU time
(Brian2's ``std::clock()``) beside it. Simulated seconds per wall second of
the simulation. Medians over the seeds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import brian2  # noqa: E402

from neurosim.analysis.population import population_statistics  # noqa: E402
from neurosim.atomic import atomic_path  # noqa: E402
from neurosim.peers.nest import run_in_nest  # noqa: E402
from neurosim.protocol import load_protocol  # noqa: E402
from neurosim.runner import simulate  # noqa: E402

STATES = ("sr", "ai", "si_fast", "si_slow")
STATISTICS = ("rate", "cv", "fano", "frequency")
WINDOW = (0.2, 1.0)


def _stats(spikes: dict, sizes: dict) -> dict:
    return {
        pop: population_statistics(t, i, sizes[pop], *WINDOW)._asdict()
        for pop, (t, i) in spikes.items()
    }


def run_neurosim(state: str, seed: int) -> dict:
    """One neurosim run of a state: statistics and times."""
    protocol = load_protocol(f"brunel2000_{state}", [f"seed={seed}"])
    with tempfile.TemporaryDirectory() as out:
        ds = simulate(protocol, Path(out), progress=False).dataset
    spikes = {
        pop: (ds[f"{pop}_spike_time"].values, ds[f"{pop}_spike_neuron"].values.astype(int))
        for pop in protocol.populations
    }
    sizes = {pop: spec["n"] for pop, spec in protocol.populations.items()}
    times = {k[len("timing_") :]: float(v) for k, v in ds.attrs.items() if k.startswith("timing_")}
    duration = float(protocol.duration / brian2.second)
    times["speed"] = duration / times["binary_s"]
    return {"stats": _stats(spikes, sizes), "times": times}


def run_nest(state: str, seed: int) -> dict:
    """One NEST run of a state: statistics and times."""
    protocol = load_protocol(f"brunel2000_{state}", [f"seed={seed}"])
    run = run_in_nest(protocol, threads=1)
    duration = float(protocol.duration / brian2.second)
    times = {"build_s": run.build_s, "simulate_s": run.simulate_s}
    times["speed"] = duration / run.simulate_s
    return {"stats": _stats(run.spikes, run.sizes), "times": times, "version": run.version}


def compare(runs: dict) -> list[dict]:
    """Per state, population and statistic: medians, NEST's range and the verdict."""
    rows = []
    for state, by_sim in runs.items():
        for pop in by_sim["neurosim"][0]["stats"]:
            for stat in STATISTICS:
                ours = [r["stats"][pop][stat] for r in by_sim["neurosim"]]
                theirs = [r["stats"][pop][stat] for r in by_sim["nest"]]
                med_n, med_t = statistics.median(ours), statistics.median(theirs)
                spread = max(theirs) - min(theirs)
                tolerance = max(0.1 * abs(med_t), spread)
                rows.append(
                    {
                        "state": state,
                        "population": pop,
                        "statistic": stat,
                        "neurosim": med_n,
                        "nest": med_t,
                        "nest_range": spread,
                        "tolerance": tolerance,
                        "within": abs(med_n - med_t) <= tolerance,
                        "neurosim_runs": ours,
                        "nest_runs": theirs,
                    }
                )
    return rows


def _timing(runs: dict) -> dict:
    out = {}
    for state, by_sim in runs.items():
        out[state] = {
            sim: {
                key: statistics.median(r["times"][key] for r in results)
                for key in results[0]["times"]
            }
            for sim, results in by_sim.items()
        }
    return out


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--states", nargs="+", choices=STATES, default=list(STATES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--json", type=Path, help="write every run and the table here")
    args = parser.parse_args(argv)
    runs: dict = {}
    out = {"seeds": args.seeds, "window_s": WINDOW, "runs": runs, "complete": False}
    for state in args.states:
        runs[state] = {"neurosim": [], "nest": []}
        for k, seed in enumerate(args.seeds):
            order = ("neurosim", "nest") if k % 2 == 0 else ("nest", "neurosim")
            for sim in order:
                start = time.perf_counter()
                result = (run_neurosim if sim == "neurosim" else run_nest)(state, seed)
                runs[state][sim].append(result)
                line = {"state": state, "seed": seed, "simulator": sim}
                line["exc"] = {k: round(v, 3) for k, v in result["stats"]["exc"].items()}
                line["times"] = {k: round(v, 2) for k, v in result["times"].items()}
                line["wall_s"] = round(time.perf_counter() - start, 1)
                print(json.dumps(line), flush=True)
            if args.json:  # after every seed: a killed run keeps what it finished
                _write(args.json, out)
    out["table"] = compare(runs)
    out["timing"] = _timing(runs)
    out["complete"] = True
    if args.json:
        _write(args.json, out)
    print("state     pop  statistic   neurosim      NEST   tolerance  within")
    for row in out["table"]:
        print(
            f"{row['state']:9s} {row['population']:4s} {row['statistic']:9s}"
            f" {row['neurosim']:10.3f} {row['nest']:9.3f} {row['tolerance']:10.3f}"
            f"  {'yes' if row['within'] else 'NO'}"
        )
    for state, sims in out["timing"].items():
        rounded = {sim: {k: round(v, 2) for k, v in t.items()} for sim, t in sims.items()}
        print(f"{state}: {json.dumps(rounded)}")


def _write(path: Path, data: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
