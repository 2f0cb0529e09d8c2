"""Sweep on a local Dask cluster versus the same runs one after the other in one process.

8 points of ``protocols/sweep_lif.yaml`` (4 step amplitudes x 2 seeds, a few
seconds each), median wall time of ``--repeats`` repeats:

- sequential: ``load_protocol`` + ``run_protocol`` per point in this process
  (simulator already imported);
- sweep, cold: ``run_sweep`` as the CLI calls it, starting its own local cluster
  of ``--workers`` processes each time (worker start and imports included);
- sweep, warm: ``run_sweep`` against a local cluster started once before the
  repeats (``scheduler=`` its address), so only distribution and the Zarr writes
  are added to the runs.

Usage: ``OMP_NUM_THREADS=1 python benchmarks/bench_sweep.py --repeats 3``
"""

import argparse
import itertools
import statistics
import tempfile
import time
from pathlib import Path

PROTOCOL = Path(__file__).resolve().parent.parent / "protocols" / "sweep_lif.yaml"
GRID = {"stimuli.0.amplitude": ["150 pA", "250 pA", "350 pA", "450 pA"]}
SEEDS = 2


def sequential(duration: str) -> float:
    from neurosim.protocol import load_protocol
    from neurosim.runner import run_protocol

    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for amplitude, seed in itertools.product(GRID["stimuli.0.amplitude"], range(SEEDS)):
            sets = [f"duration={duration}", f"stimuli.0.amplitude={amplitude}", f"seed={seed}"]
            run_protocol(load_protocol(PROTOCOL, sets), tmp, progress=False)
    return time.perf_counter() - start


def sweep(duration: str, workers: int, scheduler: str | None) -> float:
    from neurosim.sweep import run_sweep

    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        result = run_sweep(
            PROTOCOL,
            GRID,
            SEEDS,
            tmp,
            scheduler=scheduler,
            n_workers=workers,
            progress=False,
            set_overrides=[f"duration={duration}"],
        )
        assert result.submitted == len(GRID["stimuli.0.amplitude"]) * SEEDS
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--duration", default="2000 ms", help="simulated time per point")
    args = parser.parse_args()

    from distributed import Client, LocalCluster

    import neurosim.runner  # noqa: F401  (import time is not part of a run)

    times: dict[str, list[float]] = {"sequential": [], "sweep, cold": [], "sweep, warm": []}
    with (
        LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": ":0"},
        ) as lc,
        Client(lc) as client,
    ):
        client.run(__import__, "neurosim.runner")
        for _ in range(args.repeats):
            # alternated, so that load from other jobs on the machine hits all three alike
            times["sequential"].append(sequential(args.duration))
            times["sweep, cold"].append(sweep(args.duration, args.workers, None))
            times["sweep, warm"].append(sweep(args.duration, args.workers, lc.scheduler_address))
    medians = {name: statistics.median(t) for name, t in times.items()}
    n = len(GRID["stimuli.0.amplitude"]) * SEEDS
    print(f"{n} points, duration {args.duration}, {args.workers} workers, {args.repeats} repeats")
    for name, t in times.items():
        shown = ", ".join(f"{x:.1f}" for x in t)
        ratio = medians["sequential"] / medians[name]
        print(f"{name:12s} median {medians[name]:6.1f} s  ({shown})  speed-up {ratio:.2f}x")


if __name__ == "__main__":
    main()
