"""Brunel (2000) side by side with NEST: statistics of the four states, and speed.

The same protocol files (``protocols/brunel2000_{sr,ai,si_fast,si_slow}.yaml``,
and ``brunel2000_ai_stdp.yaml``: the AI state with pair STDP on the
excitatory-to-excitatory synapses) run in neurosim (Brian2 ``cpp_standalone``,
one thread) and in NEST (the ``peers`` extra;
:func:`neurosim.peers.nest.run_in_nest`, one thread), one after the other for
every seed, the order alternating, in one process::

    python benchmarks/bench_networks.py --states sr ai si_fast si_slow --seeds 1 2 3 \\
        --json results/bench_networks.json
    python benchmarks/bench_networks.py --states ai ai_stdp --seeds 1 2 3 --handwritten

``--handwritten`` adds the same network written by hand in Brian2
(:func:`run_brian2`), the reference for neurosim's own overhead (static states
only). ``--set`` changes every protocol as ``neurosim run --set`` does, e.g. a
fifth of the size for a quick check: ``--set populations.exc.n=2000
populations.inh.n=500``.

For each state and population: the population rate, the mean CV of the
inter-spike intervals, the mean spike-count Fano factor (100 ms windows) and
the dominant frequency of the population rate (0.5 ms bins, Welch) over
200-1000 ms (:func:`neurosim.analysis.population.population_statistics`, the
same code for both simulators). For a plastic projection that records ``w``
(``exc_exc`` of ``ai_stdp``): the mean change of the final weights from the
initial one (``dw_mean``) and their standard deviation (``w_std``), over
neurosim's recorded sample and NEST's (:attr:`neurosim.peers.nest.NestRun.weights`).
A statistic passes when neurosim's median over the seeds is within 10 % of
NEST's median, or within NEST's own seed-to-seed range (max - min), whichever
is larger.
NEST's plastic projection goes through parrot neurons, so that its rule sees
spike pairs as neurosim's does (:func:`neurosim.peers.nest._connect_plastic`);
its build and simulation times include them.

Times, wall (``time.perf_counter``) unless marked CPU, medians over the seeds:
build = NEST's create + connect; neurosim's set-up (Python objects and
connection arrays) + compile (``make``), cold: each run builds in an empty
cache (``--warm-cache``: reuse the builds in ``$NEUROSIM_CACHE``, as reruns
do); the hand-written network's Python + compile (always cold). Simulation =
NEST's ``Simulate``; the Brian2 binary's wall time (loading the arrays and
building the synapses inside it, the loop, writing results), with the loop's
CPU time (Brian2's ``std::clock()``) beside it. Speed = simulated seconds per
wall second of the simulation. Ratios neurosim / NEST and neurosim /
hand-written (> 1: neurosim slower).
"""

from __future__ import annotations

import argparse
import contextlib
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

STATES = ("sr", "ai", "si_fast", "si_slow", "ai_stdp")
STATISTICS = ("rate", "cv", "fano", "frequency")
WEIGHT_STATISTICS = ("dw_mean", "w_std")
WINDOW = (0.2, 1.0)
#: Overrides for every protocol (``--set``).
OVERRIDES: list[str] = []
#: Reuse neurosim's build cache between runs (``--warm-cache``).
WARM_CACHE = [False]


@contextlib.contextmanager
def _build_cache():
    """An empty ``NEUROSIM_CACHE`` for one neurosim run, unless ``--warm-cache``.

    neurosim keeps a network's build and ``make`` recompiles only what
    changed, so whether a run reuses an earlier build depends on what ran
    before it in the folder (and, in one process, on whether Brian2's objects
    of the previous run were garbage-collected, since live ones change the
    generated names). An empty cache makes every build the cold one a new
    network costs, the counterpart of NEST's build; ``--warm-cache`` times
    reruns instead.
    """
    if WARM_CACHE[0]:
        yield
        return
    old = os.environ.get("NEUROSIM_CACHE")
    with tempfile.TemporaryDirectory(prefix="bench-networks-cache-") as cache:
        os.environ["NEUROSIM_CACHE"] = cache
        try:
            yield
        finally:
            if old is None:
                os.environ.pop("NEUROSIM_CACHE", None)
            else:
                os.environ["NEUROSIM_CACHE"] = old


def _protocol(state: str, seed: int):
    return load_protocol(f"brunel2000_{state}", [*OVERRIDES, f"seed={seed}"])


def _plastic(protocol) -> list:
    """Projections whose final weights both simulators report."""
    return [
        p
        for p in protocol.projections
        if p.plasticity is not None and p.record is not None and "w" in p.record.variables
    ]


def _stats(spikes: dict, sizes: dict, protocol=None, weights: dict | None = None) -> dict:
    out = {
        pop: population_statistics(t, i, sizes[pop], *WINDOW)._asdict()
        for pop, (t, i) in spikes.items()
    }
    for proj in _plastic(protocol) if protocol is not None else []:
        w = np.asarray(weights[proj.name], float)
        initial = proj.weight.param("value")  # NEST translates constant weights only
        out[proj.name] = {"dw_mean": float(w.mean() - initial), "w_std": float(w.std())}
    return out


def run_neurosim(state: str, seed: int) -> dict:
    """One neurosim run of a state: statistics and times."""
    protocol = _protocol(state, seed)
    with tempfile.TemporaryDirectory() as out, _build_cache():
        ds = simulate(protocol, Path(out), progress=False).dataset
    spikes = {
        pop: (ds[f"{pop}_spike_time"].values, ds[f"{pop}_spike_neuron"].values.astype(int))
        for pop in protocol.populations
    }
    # the weights a run ends with (record: {at: end}), or the last sample of a time course
    weights = {p.name: ds[f"{p.name}_w"].values for p in _plastic(protocol)}
    weights = {k: w[-1] if w.ndim == 2 else w for k, w in weights.items()}
    sizes = {pop: spec["n"] for pop, spec in protocol.populations.items()}
    times = {k[len("timing_") :]: float(v) for k, v in ds.attrs.items() if k.startswith("timing_")}
    duration = float(protocol.duration / brian2.second)
    times["build_s"] = times["setup_s"] + times["compile_s"]
    times["speed"] = duration / times["binary_s"]
    return {"stats": _stats(spikes, sizes, protocol, weights), "times": times}


def run_nest(state: str, seed: int) -> dict:
    """One NEST run of a state: statistics and times."""
    protocol = _protocol(state, seed)
    run = run_in_nest(protocol, threads=1)
    duration = float(protocol.duration / brian2.second)
    times = {"build_s": run.build_s, "simulate_s": run.simulate_s}
    times["wall_s"] = run.build_s + run.simulate_s
    times["speed"] = duration / run.simulate_s
    weights = {name: w for name, (_, _, w) in (run.weights or {}).items()}
    stats = _stats(run.spikes, run.sizes, protocol, weights)
    return {"stats": stats, "times": times, "version": run.version}


def run_brian2(state: str, seed: int) -> dict:
    """The same network written by hand in Brian2 (cpp_standalone, one thread).

    What a Brian2 user would write for the protocol's parameters: one group of
    12,500 neurons, fixed in-degrees drawn with numpy, one ``PoissonInput``;
    delays ``D - dt`` as neurosim gives them (NEST's delay semantics).
    """
    protocol = _protocol(state, seed)
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
        # make -j as neurosim's runner sets it, whichever of the two runs first
        b2.prefs.devices.cpp_standalone.extra_make_args_unix = [f"-j{os.cpu_count() or 1}"]
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
        # the Python before make: objects, connections (as neurosim's set-up)
        times["setup_s"] = times["wall_s"] - times["compile_s"] - times["binary_s"]
        times["build_s"] = times["setup_s"] + times["compile_s"]
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
        for pop, first in by_sim["neurosim"][0]["stats"].items():
            for stat in (s for s in (*STATISTICS, *WEIGHT_STATISTICS) if s in first):
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
    """Per state and simulator: the median of each time; the ratios of the medians."""
    out = {}
    for state, by_sim in runs.items():
        out[state] = {
            sim: {
                key: statistics.median(r["times"][key] for r in results)
                for key in results[0]["times"]
            }
            for sim, results in by_sim.items()
            if results
        }
        ours = out[state]["neurosim"]
        for sim in ("nest", "brian2"):
            if sim in out[state]:
                theirs = out[state][sim]
                out[state][f"neurosim_over_{sim}"] = {
                    "build": ours["build_s"] / theirs["build_s"],
                    "simulation": ours["binary_s"]
                    / theirs.get("binary_s", theirs.get("simulate_s")),
                    "whole": ours["wall_s"] / theirs["wall_s"],
                }
    return out


SIM_NAMES = {"neurosim": "neurosim", "nest": "NEST", "brian2": "hand-written"}


def _print_timing(timing: dict, seeds: list[int], build: str) -> None:
    print(
        f"\ntimes (s), medians over seeds {seeds}; wall time (perf_counter) unless CPU;"
        " build: set-up + compile / create + connect; simulation: binary / Simulate;"
        f" neurosim's build {build}"
    )
    print("state     simulator     build (set-up + compile)   simulation  loop CPU   whole"
          "  sim s/wall s")  # fmt: skip
    for state, sims in timing.items():
        for sim, t in sims.items():
            if sim not in SIM_NAMES:
                continue
            parts = f"({t['setup_s']:.1f} + {t['compile_s']:.1f})" if "compile_s" in t else ""
            simulation = t.get("binary_s", t.get("simulate_s"))
            cpu = f"{t['run_cpu_s']:9.1f}" if "run_cpu_s" in t else " " * 9
            print(
                f"{state:9s} {SIM_NAMES[sim]:12s} {t['build_s']:7.1f} {parts:17s}"
                f" {simulation:12.1f} {cpu} {t['wall_s']:7.1f} {t['speed']:10.3f}"
            )
        for sim in ("nest", "brian2"):
            ratio = sims.get(f"neurosim_over_{sim}")
            if ratio:
                print(
                    f"{state:9s} neurosim / {SIM_NAMES[sim]}: build {ratio['build']:.2f}x,"
                    f" simulation {ratio['simulation']:.2f}x, whole {ratio['whole']:.2f}x"
                    f" (> 1: neurosim slower)"
                )


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--states", nargs="+", choices=STATES, default=list(STATES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--json", type=Path, help="write every run and the table here")
    parser.add_argument(
        "--handwritten",
        action="store_true",
        help="also run the network written by hand in Brian2 (timing reference; static states)",
    )
    parser.add_argument(
        "--set",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="protocol overrides for every run, e.g. populations.exc.n=2000 populations.inh.n=500",
    )
    parser.add_argument(
        "--warm-cache",
        action="store_true",
        help="reuse $NEUROSIM_CACHE's builds (reruns) instead of a cold build per neurosim run",
    )
    parser.add_argument(
        "--no-precompiled-header",
        action="store_true",
        help="compile neurosim's networks without the precompiled standard headers "
        "(what the header saves)",
    )
    args = parser.parse_args(argv)
    if args.no_precompiled_header:
        import neurosim.runner

        neurosim.runner.precompiled_header = lambda flags: []
    OVERRIDES[:] = args.set
    WARM_CACHE[0] = args.warm_cache
    runs: dict = {}
    out = {
        "seeds": args.seeds,
        "window_s": WINDOW,
        "overrides": args.set,
        "neurosim_build": "warm cache" if args.warm_cache else "cold (empty cache per run)",
        "precompiled_header": not args.no_precompiled_header,
        "runs": runs,
        "complete": False,
    }
    for state in args.states:
        sims = ("neurosim", "nest")
        plastic = any(p.plasticity for p in _protocol(state, args.seeds[0]).projections)
        if args.handwritten and not plastic:
            sims += ("brian2",)  # run_brian2 writes the static network only
        runs[state] = {sim: [] for sim in sims}
        for k, seed in enumerate(args.seeds):
            order = sims if k % 2 == 0 else sims[::-1]
            for sim in order:
                start = time.perf_counter()
                result = RUNNERS[sim](state, seed)
                runs[state][sim].append(result)
                line = {"state": state, "seed": seed, "simulator": sim}
                line["exc"] = {k: round(v, 3) for k, v in result["stats"]["exc"].items()}
                for name, w in result["stats"].items():
                    if name not in ("exc", "inh"):  # weights, uV
                        line[name] = {k: round(1e6 * v, 3) for k, v in w.items()}
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
    print("state     pop      statistic   neurosim      NEST   tolerance  within")
    for row in out["table"]:
        # weights in uV (their changes are a few uV), the rest as computed
        scale = 1e6 if row["statistic"] in WEIGHT_STATISTICS else 1.0
        print(
            f"{row['state']:9s} {row['population']:8s} {row['statistic']:9s}"
            f" {scale * row['neurosim']:10.3f} {scale * row['nest']:9.3f}"
            f" {scale * row['tolerance']:10.3f}  {'yes' if row['within'] else 'NO'}"
            + ("  (uV)" if scale != 1.0 else "")
        )
    _print_timing(out["timing"], args.seeds, out["neurosim_build"])


def _write(path: Path, data: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
