"""Speed and memory of the cortical microcircuit: neurosim (cpp_standalone) and NEST.

``protocols/potjans2014.yaml`` at each ``--scales`` value, run by neurosim
(Brian2 ``cpp_standalone``, 1 and 2 OpenMP threads) and by NEST (the same data
file through :func:`neurosim.peers.nest.run_in_nest`, 1 and 2 threads). Every
run is a fresh child process (so that its peak memory is its own), the
simulators alternating, ``--repeats`` times::

    python benchmarks/bench_microcircuit.py --scales 0.1 0.3 --threads 1 2 \\
        --duration 1.5 --repeats 3 --json results/microcircuit/bench.json

Times are wall (``time.perf_counter``) unless marked CPU; medians over the
repeats:

- build: NEST's create + connect (``nest.Connect``, the kernel's preparation
  comes in ``Simulate``); neurosim's Python set-up (objects, connection
  arrays) + ``make`` (warm: the project of an earlier repeat is reused, as
  reruns do; the first, cold, compile is printed apart);
- simulation: NEST's ``Simulate``; the Brian2 binary's wall time (loading the
  arrays and building the synapses inside it, the loop, writing the spikes),
  with the loop's CPU time (Brian2's measurement) beside it; per simulated
  second (the transient included: ``--duration``);
- peak memory: the child's peak resident set (``ru_maxrss``); for neurosim the
  Python process's plus the binary's (both are alive during the run: an
  upper bound), per synapse, and per synapse between two scales (the
  interpreter's and libraries' baseline cancels out).

``--table-from FILE`` prints the table of an earlier ``--json`` again.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROTOCOL = ROOT / "protocols" / "potjans2014.yaml"


def _protocol(scale: float, duration: float, threads: int):
    from neurosim.protocol import load_protocol

    return load_protocol(
        PROTOCOL,
        [
            f"scale={scale}",
            f"duration={duration} s",
            "output.plots=[]",
            "analysis=[]",
            # one build folder per thread count: OpenMP changes the generated code
            f"notes=bench_microcircuit threads {threads}",
        ],
    )


def _synapses(protocol) -> int:
    from neurosim.networks.projections import synapse_count

    return int(sum(synapse_count(p, protocol.populations) for p in protocol.projections))


def _peak_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # Linux: kB


def child_neurosim(scale: float, duration: float, threads: int) -> dict:
    """One neurosim run; the times from the recording's attributes."""
    import brian2

    from neurosim.runner import simulate_dataset

    brian2.prefs.devices.cpp_standalone.openmp_threads = threads if threads > 1 else 0
    protocol = _protocol(scale, duration, threads)
    start = time.perf_counter()
    ds = simulate_dataset(protocol)
    wall = time.perf_counter() - start
    timing = {k[len("timing_") :]: float(v) for k, v in ds.attrs.items() if k.startswith("timing_")}
    spikes = sum(ds.sizes[f"{p}_spike"] for p in protocol.populations)
    return {
        "build_s": timing["setup_s"] + timing["compile_s"],
        "compile_s": timing["compile_s"],
        "simulate_s": timing["binary_s"],
        "loop_cpu_s": timing["run_cpu_s"],
        "wall_s": wall,
        "peak_mb": _peak_mb(resource.RUSAGE_SELF) + _peak_mb(resource.RUSAGE_CHILDREN),
        "synapses": _synapses(protocol),
        "spikes": int(spikes),
    }


def child_nest(scale: float, duration: float, threads: int) -> dict:
    """One NEST run of the same data file."""
    from neurosim.peers.nest import run_in_nest

    protocol = _protocol(scale, duration, threads)
    run = run_in_nest(protocol, threads=threads)
    return {
        "build_s": run.build_s,
        "simulate_s": run.simulate_s,
        "peak_mb": _peak_mb(resource.RUSAGE_SELF),
        "synapses": _synapses(protocol),
        "spikes": int(sum(len(t) for t, _ in run.spikes.values())),
    }


def _run_child(sim: str, scale: float, duration: float, threads: int) -> dict:
    cmd = [sys.executable, __file__, "--child", sim, "--scales", str(scale)]
    cmd += ["--duration", str(duration), "--threads", str(threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(
            f"{sim} at scale {scale}, {threads} threads failed:\n{proc.stderr[-3000:]}"
        )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=float, nargs="+", default=[0.1])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--duration", type=float, default=1.5, help="simulated s")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--table-from", type=Path, default=None, help="print the table of an earlier --json"
    )
    parser.add_argument("--child", choices=("neurosim", "nest"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.table_from:
        saved = json.loads(args.table_from.read_text())
        for key in ("scales", "threads", "duration", "repeats"):
            setattr(args, key, saved["args"][key])
        print(_table(saved["runs"], args))
        return 0
    if args.child:
        run = child_neurosim if args.child == "neurosim" else child_nest
        print(json.dumps(run(args.scales[0], args.duration, args.threads[0])))
        return 0
    runs: dict[str, list[dict]] = {}
    for scale in args.scales:
        for threads in args.threads:
            for k in range(args.repeats):
                order = ("neurosim", "nest") if k % 2 == 0 else ("nest", "neurosim")
                for sim in order:
                    got = _run_child(sim, scale, args.duration, threads)
                    runs.setdefault(f"{sim} {scale} {threads}", []).append(got)
                    print(f"{sim} scale {scale} threads {threads}: {got}", flush=True)
    table = _table(runs, args)
    print(table)
    if args.json:
        from neurosim.atomic import atomic_path

        with atomic_path(args.json) as tmp:
            tmp.write_text(
                json.dumps(
                    {"args": vars(args) | {"json": str(args.json)}, "runs": runs, "table": table},
                    indent=1,
                )
            )
    return 0


def _table(runs: dict, args) -> str:
    med = lambda rows, key: statistics.median(r[key] for r in rows)  # noqa: E731
    lines = [
        f"potjans2014, {args.duration:g} s simulated, medians of {args.repeats} runs "
        "(wall unless marked CPU)",
        "",
        "| scale | synapses | threads | simulator | build (s) | simulation (s per simulated s) "
        "| loop CPU (s per s) | peak memory (MB) | bytes per synapse | NEST / neurosim speed |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for scale in args.scales:
        for threads in args.threads:
            nest = runs[f"nest {scale} {threads}"]
            for sim in ("neurosim", "nest"):
                rows = runs[f"{sim} {scale} {threads}"]
                per_s = med(rows, "simulate_s") / args.duration
                cpu = f"{med(rows, 'loop_cpu_s') / args.duration:.2f}" if sim == "neurosim" else ""
                build = f"{med(rows[1:] or rows, 'build_s'):.1f}"
                if sim == "neurosim":
                    build += f" (cold {rows[0]['build_s']:.0f})"
                ratio = med(nest, "simulate_s") / med(rows, "simulate_s")
                peak = med(rows, "peak_mb")
                lines.append(
                    f"| {scale:g} | {rows[0]['synapses']:.3g} | {threads} | {sim} | {build} | "
                    f"{per_s:.2f} | {cpu} | {peak:.0f} | {peak * 2**20 / rows[0]['synapses']:.0f} "
                    f"| {ratio:.2f} |"
                )
    if len(args.scales) > 1:
        # the baseline (interpreter, libraries) cancels out between two sizes
        low, high = min(args.scales), max(args.scales)
        lines += [
            "",
            "Memory per synapse between the scales (peak difference / synapse difference):",
        ]
        for threads in args.threads:
            for sim in ("neurosim", "nest"):
                a, b = runs[f"{sim} {low} {threads}"], runs[f"{sim} {high} {threads}"]
                extra = (med(b, "peak_mb") - med(a, "peak_mb")) * 2**20
                count = b[0]["synapses"] - a[0]["synapses"]
                lines.append(f"- {sim}, {threads} thread(s): {extra / count:.0f} bytes per synapse")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
