"""Scale benchmark and figure of the layer-5 circuit (protocols/l5_circuit.yaml, issue 15).

Scale: the circuit with ``--n-pyr`` pyramidal cells (default 10,000) and a fifth
as many PV and SOM cells each (the protocol's 200:40:40), in cpp_standalone,
run ``--repeats`` times (default 3); then the same circuit with every
bac_pyramidal cell replaced by a point neuron (lif, forward Euler; same
counts, connectivity, weights and Poisson inputs, onto its single input ``I``
/ potential ``v``). Printed: simulated seconds per wall second of the
simulation binary (median over the repeats), the CPU time of Brian2's
simulation loop, the compile time, and the cost per compartment and step.

    python benchmarks/bench_l5_circuit.py [--n-pyr 10000] [--duration '200 ms'] [--repeats 3]
    python benchmarks/bench_l5_circuit.py --figure [--fig-n-pyr 40]   # docs/figures/l5_circuit.png

Wall time is the elapsed time of the binary (``timing_binary_s``), CPU time
Brian2's own measurement of its run loop (``timing_run_cpu_s``); Brian2's
standalone code runs on one thread here (no OpenMP), so the two agree to within
file input/output and process start.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
from pathlib import Path

import brian2
import numpy as np
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from neurosim.protocol import find_protocol, load_protocol  # noqa: E402
from neurosim.runner import simulate_dataset  # noqa: E402
from neurosim.units import parse_quantity  # noqa: E402

PROTOCOL = find_protocol("l5_circuit")
#: Compartments of a bac_pyramidal cell (soma, basal, apical) and of a point neuron.
COMPARTMENTS = {"bac_pyramidal": 3, "point": 1}


def scaled(n_pyr: int, duration: float, target: str) -> list[str]:
    """``--set`` overrides for ``n_pyr`` pyramidal cells (PV, SOM: n_pyr / 5 each).

    ``duration`` in seconds; the measurements then cover the whole run (a short
    benchmark run has no settled window) with Fano windows of a quarter of it.
    """
    n_int = max(n_pyr // 5, 10)
    ms = f"{duration * 1e3:g} ms"
    return [
        f"populations.pyr.n={n_pyr}",
        f"populations.pv.n={n_int}",
        f"populations.som.n={n_int}",
        f"duration={ms}",
        f"target={target}",
        *(f"analysis.{k}.start=0 ms" for k in range(4)),
        *(f"analysis.{k}.stop={ms}" for k in range(4)),
        *(f"analysis.{k}.fano_window={duration * 250:g} ms" for k in range(1, 4)),
    ]


def point_neuron_file(folder: Path) -> Path:
    """protocols/l5_circuit.yaml with the pyramidal cells as lif point neurons."""
    data = yaml.safe_load(PROTOCOL.read_text())
    data["name"] = "l5_circuit_point"
    data["populations"]["pyr"] = {"model": "lif", "n": 200, "method": "euler"}
    for proj in data["projections"].values():
        if proj["target"] == "pyr":
            proj["variable"] = "I"  # I_b, I_s, I_a -> the one compartment's input
    for stim in data["stimuli"]:
        if stim["population"] == "pyr":
            stim["variable"] = "v"  # v_b, v_a -> the one potential
    data["record"][0]["variables"] = ["v"]
    data["analysis"][0].pop("variable")
    path = folder / "l5_circuit_point.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def measure(path: Path, overrides: list[str]) -> dict[str, float]:
    """Run a protocol once; its timings (s) and the pyramidal rate (Hz)."""
    ds = simulate_dataset(load_protocol(path, overrides))
    return {
        "binary": float(ds.attrs["timing_binary_s"]),
        "cpu": float(ds.attrs["timing_run_cpu_s"]),
        "compile": float(ds.attrs.get("timing_compile_s", np.nan)),
        "rate": float(ds["bursts_rate"]),
        "fraction": float(ds["bursts_fraction"]),
    }


def scale(args) -> None:
    """Run both circuits ``--repeats`` times and print the table."""
    duration = float(parse_quantity(args.duration, "--duration", brian2.second) / brian2.second)
    steps = duration / 0.025e-3
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        files = {"bac_pyramidal": PROTOCOL, "point": point_neuron_file(Path(tmp))}
        for cell, path in files.items():
            runs = [
                measure(path, scaled(args.n_pyr, duration, "cpp_standalone"))
                for _ in range(args.repeats)
            ]
            binary = statistics.median(r["binary"] for r in runs)
            cpu = statistics.median(r["cpu"] for r in runs)
            per = binary / (steps * args.n_pyr * COMPARTMENTS[cell])
            rows.append((cell, runs, binary, cpu, per))
    n_int = max(args.n_pyr // 5, 10)
    print(
        f"l5_circuit, cpp_standalone: {args.n_pyr} pyramidal + {n_int} PV + {n_int} SOM cells, "
        f"{args.duration} simulated at dt 0.025 ms, median of {args.repeats} runs"
    )
    print(
        "| pyramidal cells | compile s | binary wall s | loop CPU s | sim s / wall s "
        "| ns per compartment-step | pyr rate Hz | burst fraction |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for cell, runs, binary, cpu, per in rows:
        print(
            f"| {cell} ({COMPARTMENTS[cell]} comp.) | {runs[0]['compile']:.1f} | {binary:.2f} "
            f"| {cpu:.2f} | {duration / binary:.4f} | {per * 1e9:.2f} "
            f"| {runs[0]['rate']:.1f} | {runs[0]['fraction']:.3f} |"
        )
    bac, point = rows[0], rows[1]
    print(
        f"bac_pyramidal / point neuron: {bac[2] / point[2]:.2f}x the wall time per cell, "
        f"{bac[4] / point[4]:.2f}x per compartment (the whole circuit's time, "
        "interneurons and synapses included, divided by the pyramidal compartments)"
    )


# --- figure ------------------------------------------------------------------------------

TRACE_CONDITIONS = {
    "basal only": ["stimuli.1.rate=0 Hz"],
    "basal + apical, no SOM input": ["projections.som_pyr.weight=0 nS"],
    "basal + apical, SOM": [],
    "basal + apical, SOM, strong PV (16 nS)": ["projections.pv_pyr.weight=16 nS"],
}
APICAL_RATES = [0, 10, 20, 30, 40]
SOM_RATES = [0, 20, 40]
PV_WEIGHTS = [0, 2, 4, 8, 16]


def figure(args) -> Path:
    """Traces per condition, burst fraction vs apical drive per SOM activity, PV effect."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from neurosim.plotting import save_figure

    n = args.fig_n_pyr
    reduced = [
        f"populations.pyr.n={n}",
        f"populations.pv.n={n // 4}",
        f"populations.som.n={n // 4}",
    ]

    def run(overrides):
        return simulate_dataset(load_protocol(PROTOCOL, reduced + overrides))

    fig = plt.figure(figsize=(13, 10))
    grid = fig.add_gridspec(len(TRACE_CONDITIONS) + 1, 3, height_ratios=[1] * 4 + [1.6])
    ax = None
    for row, (label, overrides) in enumerate(TRACE_CONDITIONS.items()):
        ds = run(overrides)
        # one time axis for the trace rows, labelled below the last
        ax = fig.add_subplot(grid[row, :], sharex=ax)
        t = ds["pyr_time"].values * 1e3
        keep = (t >= 500) & (t < 1500)
        ax.plot(t[keep], ds["pyr_v_s"].values[keep, 0] * 1e3, lw=0.6, label="soma v_s")
        ax.plot(t[keep], ds["pyr_v_a"].values[keep, 0] * 1e3, lw=0.6, label="apical v_a")
        ax.set_ylabel("potential (mV)")
        ax.set_title(
            f"{label}: rate {float(ds['bursts_rate']):.1f} Hz, burst fraction "
            f"{float(ds['bursts_fraction']):.2f}, Ca plateaus "
            f"{float(ds['bursts_plateau_rate']):.2f} /s",
            fontsize=9,
        )
        if row == 0:
            ax.legend(loc="upper right", fontsize=8)
    ax.set_xlabel("time (ms)")
    curves = {}
    for som in SOM_RATES:
        for apical in APICAL_RATES:
            ds = run([f"stimuli.3.rate={som} Hz", f"stimuli.1.rate={apical} Hz"])
            curves[som, apical] = (float(ds["bursts_fraction"]), float(ds["bursts_rate"]))
    ax_f, ax_r = fig.add_subplot(grid[-1, 0]), fig.add_subplot(grid[-1, 1])
    for som in SOM_RATES:
        frac = [curves[som, a][0] for a in APICAL_RATES]
        rate = [curves[som, a][1] for a in APICAL_RATES]
        ax_f.plot(APICAL_RATES, np.nan_to_num(frac), "o-", label=f"SOM drive {som} Hz")
        ax_r.plot(APICAL_RATES, rate, "o-", label=f"SOM drive {som} Hz")
    ax_f.set(
        xlabel="apical (feedback) input rate (Hz)",
        ylabel="burst fraction (dimensionless)",
        title="Bursting against apical drive",
    )
    ax_r.set(
        xlabel="apical (feedback) input rate (Hz)",
        ylabel="somatic rate (Hz)",
        title="Firing rate against apical drive",
    )
    ax_f.legend(fontsize=8)
    ax_pv = fig.add_subplot(grid[-1, 2])
    pv = [run([f"projections.pv_pyr.weight={w} nS"]) for w in PV_WEIGHTS]
    ax_pv.plot(PV_WEIGHTS, [float(ds["bursts_rate"]) for ds in pv], "o-", label="somatic rate")
    ax_pv.set(
        xlabel="PV -> soma weight (nS)",
        ylabel="somatic rate (Hz)",
        title="Somatic inhibition by PV cells",
    )
    ax_pv2 = ax_pv.twinx()
    ax_pv2.plot(PV_WEIGHTS, [float(ds["bursts_fraction"]) for ds in pv], "s--", color="C3")
    ax_pv2.set_ylabel("burst fraction (dimensionless, red)", color="C3")
    fig.suptitle(
        f"Layer-5 pyramidal cells with PV and SOM interneurons (l5_circuit, {n} pyramidal "
        "cells): cell 0's soma and apical potentials, 500-1500 ms, and averages over all cells",
        fontsize=11,
    )
    fig.tight_layout()
    out = REPO / "docs" / "figures" / "l5_circuit.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    save_figure(fig, out)
    for som in SOM_RATES:
        row = ", ".join(f"{a} Hz: {curves[som, a][0]:.3f}" for a in APICAL_RATES)
        print(f"burst fraction, SOM drive {som} Hz: {row}")
    print(
        "PV weight (nS) -> rate (Hz): "
        + ", ".join(
            f"{w}: {float(ds['bursts_rate']):.1f}" for w, ds in zip(PV_WEIGHTS, pv, strict=True)
        )
    )
    print(f"wrote {out}")
    return out


def main(argv=None) -> None:
    """Command line: the scale table, or ``--figure``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-pyr", type=int, default=10_000)
    parser.add_argument("--duration", default="200 ms", help="simulated time, e.g. '200 ms'")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--figure", action="store_true", help="write docs/figures/l5_circuit.png")
    parser.add_argument("--fig-n-pyr", type=int, default=40)
    args = parser.parse_args(argv)
    logging.getLogger("brian2").setLevel(logging.ERROR)
    if args.figure:
        figure(args)
        return
    scale(args)


if __name__ == "__main__":
    main()
