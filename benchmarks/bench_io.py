"""Recording write throughput and peak memory, NetCDF (h5netcdf) and Zarr.

Builds a synthetic recording in neurosim's layout (record ``cell``: state
variables ``v``, ``I``, ``g`` as time x neuron float64 in SI units, a spike
table of 10 Hz Poisson-like spikes, provenance attributes) of ``--gb``
gigabytes and writes it with :func:`neurosim.recording.save_recording`.

Each write runs in a fresh child process, so that its memory is its own:

- throughput = the Dataset's bytes (``ds.nbytes``) / wall time of
  ``save_recording`` (atomic rename included), in MB/s (1 MB = 1e6 bytes);
- peak memory = the child's peak resident set (``ru_maxrss``) at the end, and
  the write's extra = that peak minus the resident set just before the write
  (the data are filled in place, so building them peaks no higher).

Prints the median over ``--repeats`` per format.

Usage::

    python benchmarks/bench_io.py [--gb 1.0] [--formats nc zarr] [--repeats 3]
        [--dir DIR] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import xarray as xr

NEURONS = 1000
DT = 1e-4  # s, a typical recording step
VARIABLES = {"v": "volt", "I": "amp", "g": "siemens"}


def _rss_bytes() -> int:
    """Current resident set of this process (Linux /proc)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _peak_rss_bytes() -> int:
    # ru_maxrss is in kilobytes on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def synthetic_recording(gb: float, seed: int = 0) -> xr.Dataset:
    """A recording of about ``gb`` * 1e9 bytes in neurosim's layout (see module docstring)."""
    steps = max(2, int(gb * 1e9 / (len(VARIABLES) * 8 * NEURONS)))
    rng = np.random.default_rng(seed)
    t = np.arange(steps) * DT
    phase = rng.uniform(0, 2 * np.pi, NEURONS)
    scale = {"v": (-0.065, 0.01), "I": (2e-10, 1e-10), "g": (5e-9, 2e-9)}
    data = {}
    for var, units in VARIABLES.items():
        values = np.empty((steps, NEURONS))
        base, amp = scale[var]
        # filled in blocks of rows: no full-size temporaries, so the build's peak
        # memory is the data itself and the write's extra memory shows on its own
        for a in range(0, steps, 4096):
            b = min(steps, a + 4096)
            values[a:b] = base + amp * np.sin(2 * np.pi * 7.0 * t[a:b, None] + phase)
            values[a:b] += rng.normal(0.0, amp * 1e-3, (b - a, NEURONS))
        data[f"cell_{var}"] = xr.DataArray(
            values,
            dims=("cell_time", "cell_neuron"),
            attrs={"units": units, "population": "cell", "variable": var},
        )
    data["cell_v"].attrs["compartment"] = "soma"
    count = rng.poisson(10.0 * steps * DT * NEURONS)
    order = np.argsort(times := rng.uniform(0, steps * DT, count))
    spike = {"population": "cell", "population_size": NEURONS}
    data["cell_spike_time"] = xr.DataArray(
        times[order], dims=("cell_spike",), attrs={"units": "second", **spike}
    )
    data["cell_spike_neuron"] = xr.DataArray(
        rng.integers(0, NEURONS, count), dims=("cell_spike",), attrs={"units": "1", **spike}
    )
    return xr.Dataset(
        data,
        coords={
            "cell_time": ("cell_time", t, {"units": "second"}),
            "cell_neuron": np.arange(NEURONS),
        },
        attrs={"protocol_name": "bench_io", "seed": seed, "duration": steps * DT},
    )


def _size_on_disk(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def child(fmt: str, gb: float, folder: str) -> dict:
    """One timed write in this process; returns the measurements."""
    from neurosim.recording import save_recording

    ds = synthetic_recording(gb)
    path = Path(folder) / f"bench.{fmt}"
    before = _rss_bytes()
    start = time.perf_counter()
    save_recording(ds, path)
    seconds = time.perf_counter() - start
    peak = _peak_rss_bytes()
    out = {
        "format": fmt,
        "bytes": int(ds.nbytes),
        "file_bytes": _size_on_disk(path),
        "seconds": seconds,
        "mb_per_s": ds.nbytes / 1e6 / seconds,
        "rss_before_write": before,
        "peak_rss": peak,
        "write_extra": max(0, peak - before),
    }
    shutil.rmtree(path) if path.is_dir() else path.unlink()
    return out


def run(gb: float, formats: list[str], repeats: int, folder: str) -> dict:
    """Median of ``repeats`` child-process writes per format."""
    results = {}
    for fmt in formats:
        runs = []
        for _ in range(repeats):
            proc = subprocess.run(
                [sys.executable, __file__, "--child", fmt, "--gb", str(gb), "--dir", folder],
                capture_output=True,
                text=True,
                check=True,
            )
            runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            print(
                f"  {fmt}: {runs[-1]['mb_per_s']:.1f} MB/s, "
                f"peak {runs[-1]['peak_rss'] / 1e9:.2f} GB",
                flush=True,
            )
        results[fmt] = {
            key: statistics.median(r[key] for r in runs)
            for key in runs[0]
            if key not in ("format",)
        }
        results[fmt]["runs"] = runs
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gb", type=float, default=1.0, help="recording size, 1e9 bytes")
    parser.add_argument("--formats", nargs="+", default=["nc", "zarr"], choices=("nc", "zarr"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dir", default=None, help="where to write (default: a temp folder)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.gb, args.dir)))
        return
    folder = args.dir or tempfile.mkdtemp(prefix="bench_io.")
    try:
        results = run(args.gb, args.formats, args.repeats, folder)
    finally:
        if args.dir is None:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"\nrecording of {args.gb:g} GB, median of {args.repeats}:")
    print(
        "| format | size (GB) | on disk (GB) | write (s) | MB/s | peak RSS (GB) "
        "| write extra (GB) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for fmt, r in results.items():
        print(
            f"| {fmt} | {r['bytes'] / 1e9:.2f} | {r['file_bytes'] / 1e9:.2f} | {r['seconds']:.1f} "
            f"| {r['mb_per_s']:.0f} | {r['peak_rss'] / 1e9:.2f} | {r['write_extra'] / 1e9:.2f} |"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
