"""Learning curves of backprop, feedback alignment and shallow learning on the linear task.

Lillicrap et al. 2016, linear 30-20-10 network learning a random map ``T``;
learning runs inside Brian2 (:mod:`neurosim.networks.linear_fa`). Runs every
variant for every seed, takes the median curve over seeds, writes one PNG
(error, update angle, weight angle against step) and prints the final values::

    python benchmarks/bench_fa_linear.py --steps 5000 --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import xarray as xr

from neurosim.networks.linear_fa import FAConfig, plot_fa_curves, train
from neurosim.plasticity.feedback_alignment import VARIANTS

CURVES = ("error", "update_angle", "weight_angle")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--target", default="numpy", choices=("numpy", "cython", "cpp_standalone"))
    parser.add_argument("--out", type=Path, default=Path("results/bench_fa_linear"))
    args = parser.parse_args()

    medians = []
    for variant in VARIANTS:
        runs = []
        for seed in args.seeds:
            started = time.perf_counter()
            ds = train(FAConfig(variant=variant, steps=args.steps, seed=seed), args.target)
            print(
                f"{variant:>18} seed {seed}: {time.perf_counter() - started:5.1f} s, "
                f"final error {float(ds.error[-1]):.3g}"
            )
            runs.append(ds[list(CURVES)])
        stacked = xr.concat(runs, dim="seed")
        # all-NaN update angles (shallow learning) have no median to take
        medians.append(stacked.median("seed", skipna=False))
    curves = xr.concat(medians, dim=xr.DataArray(list(VARIANTS), dims="variant", name="variant"))
    curves.attrs["protocol_name"] = f"linear task, median over seeds {args.seeds}"
    png = plot_fa_curves(curves, args.out / "fa_linear_curves.png")[0]

    checkpoints = sorted({args.steps // 10, args.steps // 2, args.steps - 1})
    print(f"\nmedian over seeds {args.seeds} ({args.steps} steps, target {args.target}):")
    print(
        f"{'variant':>18}  "
        + "  ".join(f"error@{k:<6d}" for k in checkpoints)
        + "  update angle  W2-B^T angle"
    )
    for variant in VARIANTS:
        c = curves.sel(variant=variant)
        errors = "  ".join(f"{float(c.error[k]):<12.3g}" for k in checkpoints)
        last = c.isel(step=-1)
        print(
            f"{variant:>18}  {errors}  {float(last.update_angle):9.1f} deg  "
            f"{float(last.weight_angle):8.1f} deg"
        )
    ratio = float(curves.error.sel(variant="feedback_alignment")[-1]) / float(
        curves.error.sel(variant="backprop")[-1]
    )
    # both errors decay exponentially on this noiseless task, so late ratios
    # compare rounding-level numbers: read them together with the checkpoints
    print(f"final error ratio FA/BP = {ratio:.3g}; plot: {png}")


if __name__ == "__main__":
    main()
