"""Simulated neuron-seconds per wall-second for BAC pyramidal populations.

For 1,000, 10,000 and 100,000 neurons of ``models/bac_pyramidal.yaml`` with
Poisson synaptic input (100 inputs at 10 Hz onto the basal and 50 onto the
apical compartment), on Brian2's numpy, cython and cpp_standalone targets,
times the population built by neurosim (``NeuronModel.neuron_group``) and the
same equations written directly in plain Brian2, in the same process, and
prints the median over repeats and the ratio neurosim / plain.

Compilation is excluded: runtime targets are timed on a second ``run`` after a
warm-up; cpp_standalone reports the run time of the compiled binary.

Usage::

    python benchmarks/bench_populations.py [--sizes 1000 10000 100000]
        [--targets numpy cython cpp_standalone] [--repeats 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time

import brian2
import yaml
from brian2 import Hz, Network, NeuronGroup, PoissonInput, ms, mV, second

from neurosim.model import MODELS_DIR, load_model
from neurosim.units import parse_quantity

DT = 0.025 * ms
# Neuron-seconds simulated per timed run: numpy is ~50x slower than compiled code.
WORK = {"numpy": 2.0, "cython": 50.0, "cpp_standalone": 50.0}


def duration_for(target, n):
    """Simulated time for ``n`` neurons: the target's work, at least 40 steps."""
    return max(WORK[target] / n * second, 40 * DT)


def plain_group(n):
    """The BAC model's equations in plain Brian2: a string, a namespace, a group."""
    data = yaml.safe_load((MODELS_DIR / "bac_pyramidal.yaml").read_text())
    namespace = {k: parse_quantity(v["value"], k) for k, v in data["parameters"].items()}
    group = NeuronGroup(
        n,
        data["equations"],
        threshold=data["threshold"],
        refractory=data["refractory"],
        method=data["method"],
        namespace=namespace,
        dt=DT,
    )
    for key, value in data["initial"].items():
        setattr(group, key, parse_quantity(value, key))
    return group


# loaded (and validated) once, outside any device: validation builds a group
MODEL = load_model("bac_pyramidal")


def neurosim_group(n):
    return MODEL.neuron_group(n, dt=DT)


def with_input(group):
    return [
        group,
        PoissonInput(group, "v_b", 100, 10 * Hz, weight=0.5 * mV),
        PoissonInput(group, "v_a", 50, 10 * Hz, weight=0.5 * mV),
    ]


def time_runtime(build, n, duration, target):
    brian2.prefs.codegen.target = target
    net = Network(*with_input(build(n)))
    net.run(DT * 10, namespace={})  # compile and cache the code objects
    start = time.perf_counter()
    net.run(duration, namespace={})
    return time.perf_counter() - start


def time_standalone(build, n, duration, folder):
    brian2.set_device("cpp_standalone", directory=folder, build_on_run=False)
    try:
        net = Network(*with_input(build(n)))
        net.run(duration, namespace={})
        brian2.device.build(directory=folder, compile=True, run=True, with_output=False)
        return float(brian2.device._last_run_time)
    finally:
        brian2.device.reinit()
        brian2.device.activate()
        brian2.set_device("runtime")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--targets", nargs="+", default=["numpy", "cython", "cpp_standalone"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    brian2.prefs.devices.cpp_standalone.openmp_threads = 0
    rows = []
    print(
        f"{'target':<15}{'neurons':>9}{'sim (ms)':>10}{'neurosim n*s/s':>16}"
        f"{'plain n*s/s':>14}{'ratio':>8}"
    )
    for target in args.targets:
        for n in args.sizes:
            duration = duration_for(target, n)
            walls = {"neurosim": [], "plain": []}
            for _ in range(args.repeats):
                for name, build in (("neurosim", neurosim_group), ("plain", plain_group)):
                    if target == "cpp_standalone":
                        with tempfile.TemporaryDirectory() as folder:
                            walls[name].append(time_standalone(build, n, duration, folder))
                    else:
                        walls[name].append(time_runtime(build, n, duration, target))
            med = {k: statistics.median(v) for k, v in walls.items()}
            speed = {k: n * float(duration) / med[k] for k in med}
            ratio = med["neurosim"] / med["plain"]
            rows.append(
                {
                    "target": target,
                    "neurons": n,
                    "sim_ms": float(duration / ms),
                    "median_wall_s": med,
                    "neuron_s_per_s": speed,
                    "ratio": ratio,
                    "repeats": args.repeats,
                }
            )
            print(
                f"{target:<15}{n:>9}{float(duration / ms):>10.1f}{speed['neurosim']:>16.1f}"
                f"{speed['plain']:>14.1f}{ratio:>8.2f}",
                flush=True,
            )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
