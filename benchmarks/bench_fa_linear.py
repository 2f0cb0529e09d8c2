"""Learning curves of backprop, feedback alignment and shallow learning on the linear task.

Lillicrap et al. 2016, linear 30-20-10 network learning a random map ``T``;
learning runs inside Brian2 (:mod:`neurosim.networks.linear_fa`). Runs every
variant for every seed, takes the median curve over seeds, writes one PNG
(error, update angle, weight angle against step) and prints the final values::

    python benchmarks/bench_fa_linear.py --steps 5000 --seeds 0 1 2

The targets carry observation noise (``--target-noise``, default that of
:class:`~neurosim.networks.linear_fa.FAConfig` and the protocols), so the
errors settle on a floor and the final errors of the variants can be compared;
the error itself is measured against the noise-free target. "Final error" is
the mean of the running error over the last 10 % of steps.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import xarray as xr

from neurosim.networks.linear_fa import FAConfig, plot_fa_curves, train
from neurosim.plasticity.feedback_alignment import VARIANTS

CURVES = ("error", "update_angle", "weight_angle")


def final_error(error: xr.DataArray) -> float:
    """Mean of the running error over the last 10 % of steps.

    Parameters
    ----------
    error : xarray.DataArray
        Running normalised error along ``step``.

    Returns
    -------
    float
        The mean; the running mean alone still fluctuates with the noise.
    """
    n = max(error.sizes["step"] // 10, 1)
    return float(error[-n:].mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--target", default="numpy", choices=("numpy", "cython", "cpp_standalone"))
    parser.add_argument("--target-noise", type=float, default=FAConfig.target_noise)
    parser.add_argument("--out", type=Path, default=Path("results/bench_fa_linear"))
    args = parser.parse_args()

    medians = []
    finals = {}  # variant -> final error per seed
    for variant in VARIANTS:
        runs = []
        for seed in args.seeds:
            started = time.perf_counter()
            config = FAConfig(
                variant=variant, steps=args.steps, seed=seed, target_noise=args.target_noise
            )
            ds = train(config, args.target)
            finals.setdefault(variant, []).append(final_error(ds.error))
            print(
                f"{variant:>18} seed {seed}: {time.perf_counter() - started:5.1f} s, "
                f"final error {finals[variant][-1]:.3g}"
            )
            runs.append(ds[list(CURVES)])
        stacked = xr.concat(runs, dim="seed")
        # all-NaN update angles (shallow learning) have no median to take
        medians.append(stacked.median("seed", skipna=False))
    curves = xr.concat(medians, dim=xr.DataArray(list(VARIANTS), dims="variant", name="variant"))
    curves.attrs["protocol_name"] = (
        f"linear task, target noise {args.target_noise:g}, median over seeds {args.seeds}"
    )
    png = plot_fa_curves(curves, args.out / "fa_linear_curves.png")[0]

    checkpoints = sorted({args.steps // 10, args.steps // 2, args.steps - 1})
    print(
        f"\nmedian over seeds {args.seeds} ({args.steps} steps, target noise "
        f"{args.target_noise:g}, target {args.target}):"
    )
    print(
        f"{'variant':>18}  "
        + "  ".join(f"error@{k:<6d}" for k in checkpoints)
        + "  final error  update angle  W2-B^T angle"
    )
    final = {v: float(np.median(finals[v])) for v in VARIANTS}
    for variant in VARIANTS:
        c = curves.sel(variant=variant)
        errors = "  ".join(f"{float(c.error[k]):<12.3g}" for k in checkpoints)
        last = c.isel(step=-1)
        print(
            f"{variant:>18}  {errors}  {final[variant]:<11.3g}  "
            f"{float(last.update_angle):9.1f} deg  {float(last.weight_angle):8.1f} deg"
        )
    # ratios of the per-seed final errors, then their median: each ratio
    # compares variants on the same T, inputs and noise
    ratios = {
        v: float(np.median(np.divide(finals[v], finals["backprop"])))
        for v in ("feedback_alignment", "shallow")
    }
    print(
        f"final error ratio FA/BP = {ratios['feedback_alignment']:.3g} (acceptance: <= 2), "
        f"shallow/BP = {ratios['shallow']:.3g}; plot: {png}"
    )


if __name__ == "__main__":
    main()
