"""Brunel (2000) side by side with NEST: statistics of the four states, and speed.

The same protocol files (``protocols/brunel2000_{sr,ai,si_fast,si_slow}.yaml``)
run in neurosim (Brian2 ``cpp_standalone``, one thread) and in NEST (the
``peers`` extra; :func:`neurosim.peers.nest.run_in_nest`, one thread), one
after the other for every seed, the order alternating, in one process::

    python benchmarks/bench_networks.py --states sr ai si_fast si_slow --seeds 1 2 3 \\
        --json results/bench_networks.json
    python benchmarks/bench_networks.py --states ai --seeds 1 2 3 --handwritten

``--handwritten`` adds the same network written by hand in Brian2
(:func:`run_brian2`), the reference for neurosim's own overhead.

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
import numpy as np  # noqa: E402

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


def run_brian2(state: str, seed: int) -> dict:
    """The same network written by hand in Brian2 (cpp_standalone, one thread).

    What a Brian2 user would write for the protocol's parameters: one group of
    12,500 neurons, fixed in-degrees drawn with numpy, one ``PoissonInput``;
    delays ``D - dt`` as neurosim gives them (NEST's delay semantics).
    """
    protocol = load_protocol(f"brunel2000_{state}", [f"seed={seed}"])
    proj = {p.name: p for p in protocol.projections}
    n_e, n_i = protocol.populations["exc"]["n"], protocol.populations["inh"]["n"]
    j_e, j_i = proj["exc_exc"].weight.param("value"), proj["inh_exc"].weight.param("value")
    k_e, k_i = proj["exc_exc"].connector.indegree, proj["inh_exc"].connector.indegree
    delay = proj["exc_exc"].delay.param("value") - float(protocol.dt / brian2.second)
    drive = protocol.stimuli[0].spec
    b2, ms, second = brian2, brian2.ms, brian2.second
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        b2.set_device("cpp_standalone", directory=folder, build_on_run=True, with_output=False)
        b2.prefs.devices.cpp_standalone.openmp_threads = 0
        b2.seed(seed)
        b2.defaultclock.dt = protocol.dt
        n = n_e + n_i
        group = b2.NeuronGroup(
            n,
            "dv/dt = -v / (20 * ms) : volt (unless refractory)",
            threshold="v > 20 * mV",
            reset="v = 10 * mV",
            refractory=2 * ms,
            method="exact",
        )
        rng = np.random.default_rng(seed)
        synapses = []
        for first, count, k, weight in ((0, n_e, k_e, j_e), (n_e, n_i, k_i, j_i)):
            syn = b2.Synapses(group[first : first + count], group, "w : volt", on_pre="v_post += w")
            syn.connect(i=rng.integers(0, count, n * k), j=np.repeat(np.arange(n), k))
            syn.w = weight * b2.volt
            syn.delay = delay * second
            synapses.append(syn)
        weight = float(drive["weight"] / b2.volt) * b2.volt
        poisson = b2.PoissonInput(group, "v", drive["n_inputs"], drive["rate"], weight=weight)
        monitor = b2.SpikeMonitor(group)
        net = b2.Network(group, *synapses, poisson, monitor)
        net.run(protocol.duration)
        t, i = np.asarray(monitor.t[:] / second), np.asarray(monitor.i[:])
        device = b2.get_device()
        steps = (device.timers.get("compile") or {}).values()
        times = {
            "wall_s": time.perf_counter() - start,
            "compile_s": float(sum(v for v in steps if v)),
            "binary_s": float(device.timers.get("run_binary") or 0.0),
            "run_cpu_s": float(device._last_run_time),
        }
        device.reinit()
        device.activate()
        b2.set_device("runtime")
    times["speed"] = float(protocol.duration / second) / times["binary_s"]
    spikes = {"exc": (t[i < n_e], i[i < n_e]), "inh": (t[i >= n_e], i[i >= n_e] - n_e)}
    return {"stats": _stats(spikes, {"exc": n_e, "inh": n_i}), "times": times}


RUNNERS = {"neurosim": run_neurosim, "nest": run_nest, "brian2": run_brian2}


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
    parser.add_argument(
        "--handwritten",
        action="store_true",
        help="also run the network written by hand in Brian2 (timing reference)",
    )
    args = parser.parse_args(argv)
    runs: dict = {}
    out = {"seeds": args.seeds, "window_s": WINDOW, "runs": runs, "complete": False}
    for state in args.states:
        sims = ("neurosim", "nest", "brian2") if args.handwritten else ("neurosim", "nest")
        runs[state] = {sim: [] for sim in sims}
        for k, seed in enumerate(args.seeds):
            order = sims if k % 2 == 0 else sims[::-1]
            for sim in order:
                start = time.perf_counter()
                result = RUNNERS[sim](state, seed)
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
