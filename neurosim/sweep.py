"""``neurosim sweep``: a protocol over a grid of settings, one Dask task per point.

Every point of the cartesian product of the ``--grid`` values (times seeds
``0 .. N-1`` with ``--seeds N``) is the protocol with that point's ``--set``
overrides, run as one task on a Dask distributed cluster: a local cluster of
worker processes by default, or an existing scheduler (``--scheduler
tcp://host:port``). The client process gathers each point's recording as soon
as it finishes and writes it into one Zarr store, ``<out>/sweep.zarr``:

- one dimension per grid key (named by the key, e.g. ``stimuli.0.amplitude``,
  coordinates = the grid values; numbers stay numbers, anything else is kept as
  text) and ``seed`` with ``--seeds``; these are the *sweep dimensions*;
- every variable of the recording, with the sweep dimensions in front of its
  own, chunked one point per chunk;
- dimensions with a coordinate (time, neuron) must be the same at every point:
  a grid over ``duration`` or ``dt`` stops with a one-line error when the
  first point that differs arrives (the points written before it are kept);
- dimensions without a coordinate (spike event tables) may differ in length
  between points: the store grows to the longest one, shorter points are padded
  with NaN, and variables on such dimensions are stored as float64 (spike
  neuron indices read back as floats; exact below 2**53);
- ``point_done`` (int8 over the sweep dimensions) is set to 1 only after the
  point's data are written, so a crash never marks unfinished data done.

Running the same sweep again skips the points marked done, so an interrupted
sweep resumes and a finished one does no work. Per-point protocol outputs
(NetCDF, plots) are written to a temporary folder on the worker and deleted:
the store holds every recording. Workers need the protocol file at the same
absolute path (a shared file system or the same checkout).
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from neurosim.atomic import atomic_path
from neurosim.errors import NeurosimError
from neurosim.memory import check_workers
from neurosim.protocol import find_protocol, load_protocol
from neurosim.recording import now, provenance
from neurosim.schema import load_yaml_text

__all__ = ["MAX_POINTS", "STORE_NAME", "SweepResult", "parse_grid", "run_sweep"]

#: File name of the sweep's Zarr store inside the output folder.
STORE_NAME = "sweep.zarr"

#: How often the scheduler may lose a worker while it runs one point before the
#: point is reported as failed (a point that crashes its worker every time would
#: otherwise kill the whole cluster, one worker after the other).
ALLOWED_FAILURES = 3

#: Most points one sweep may have: every point is validated (its protocol
#: loaded) before any work and gets a task, a future and a slot in the store,
#: so a grid beyond this is a typo (``--seeds 100000000``), not a plan.
MAX_POINTS = 10_000

_SEED_DIM = "seed"
_DONE = "point_done"
# chunk length of event-table dimensions: a few hundred spikes per chunk file
_EVENT_CHUNK = 256


@dataclass
class SweepResult:
    """What :func:`run_sweep` did: the store and how many points it ran."""

    dataset: xr.Dataset
    """The whole store, opened lazily (``.load()`` reads it)."""
    path: Path
    """The Zarr store."""
    submitted: int
    """Points run by this call (0 when every point was already done)."""
    skipped: int
    """Points found done in the store and not run again."""


def parse_grid(items: list[str]) -> dict[str, list[Any]]:
    """Parse ``--grid key=v1,v2,...`` items into ``{key: [values]}``.

    The values are a YAML flow sequence, as for ``--set``:
    ``stimuli.0.amplitude=150 pA,250 pA`` gives ``["150 pA", "250 pA"]`` and
    ``training.x=[0, 1],[2, 3]`` gives two lists.

    Raises
    ------
    NeurosimError
        On a missing ``=``, an empty key or value, a repeated key or value, or
        a value YAML cannot read.
    """
    grid: dict[str, list[Any]] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key or not text.strip():
            raise NeurosimError(f"--grid {item!r}: expected key=value1,value2,...")
        if key in grid:
            raise NeurosimError(f"--grid {item!r}: key {key!r} given twice")
        try:
            # the files' loader: 1e-3 is a number, duplicate keys and alias bombs are refused
            values = load_yaml_text(f"[{text}]", f"--grid {key}")
        except NeurosimError:
            raise NeurosimError(f"--grid {item!r}: cannot read values {text!r}") from None
        if any(v is None for v in values):
            raise NeurosimError(f"--grid {item!r}: empty value in {text!r}")
        labels = [_label(v) for v in values]
        if len(set(labels)) != len(labels):
            raise NeurosimError(f"--grid {item!r}: a value is given twice")
        grid[key] = values
    return grid


def _version(package: str) -> str:
    from importlib import metadata

    return metadata.version(package)


def _label(value: Any) -> str:
    """A value as JSON text: also valid YAML, so it is the ``--set`` text too."""
    return json.dumps(value, sort_keys=True)


def _coordinate(values: list[Any]) -> np.ndarray:
    """Grid values as a coordinate: numbers as numbers, anything else as text."""
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return np.asarray(values)
    # object dtype: Zarr v3 stores variable-length strings without a warning
    return np.array([v if isinstance(v, str) else _label(v) for v in values], dtype=object)


@dataclass(frozen=True)
class _Point:
    index: tuple[int, ...]
    overrides: list[str]
    label: str


def _points(grid: dict[str, list[Any]], seeds: int | None) -> list[_Point]:
    axes = [[(key, v) for v in values] for key, values in grid.items()]
    if seeds is not None:
        axes.append([(_SEED_DIM, s) for s in range(seeds)])
    points = []
    for index in itertools.product(*(range(len(a)) for a in axes)):
        pairs = [axes[d][i] for d, i in enumerate(index)]
        sets = [f"{key}={_label(v)}" for key, v in pairs]
        points.append(_Point(index, sets, ", ".join(sets)))
    return points


def _without_set_prefix(message: str) -> str:
    """Drop apply_overrides' ``--set 'key=value': `` prefix (the caller names the key)."""
    if message.startswith("--set ") and ": " in message:
        return message.split(": ", 1)[1]
    return message


def _validate(path: Path, base: list[str], grid: dict, points: list[_Point]) -> None:
    """Load the protocol for every point, so that a bad key fails before any work."""
    # one value per key first: an unknown key is then reported by its --grid name
    for key, values in grid.items():
        try:
            load_protocol(path, [*base, f"{key}={_label(values[0])}"])
        except NeurosimError as err:
            raise NeurosimError(f"--grid {key}: {_without_set_prefix(str(err))}") from None
    for point in points:
        try:
            load_protocol(path, [*base, *point.overrides])
        except NeurosimError as err:
            raise NeurosimError(
                f"--grid point {point.label}: {_without_set_prefix(str(err))}"
            ) from None


def _run_point(path: str, overrides: list[str]) -> xr.Dataset:
    """Worker task: run the protocol with ``overrides``; return its recording."""
    from neurosim.runner import run_protocol

    protocol = load_protocol(path, overrides)
    with tempfile.TemporaryDirectory(prefix="neurosim-sweep-") as tmp:
        ds = run_protocol(protocol, tmp, progress=False).dataset.load()
    # per-point provenance (times, host) would only differ; the store carries the sweep's
    ds.attrs = {}
    return ds


class _Store:
    """The sweep's Zarr store: created from the first result, written point by point.

    Only the client process writes, one point after the other, so region
    writes never race; Zarr's local store replaces each chunk file
    atomically, so a crash leaves every chunk old or new.
    """

    def __init__(self, path: Path, sweep: dict[str, np.ndarray], attrs: dict):
        self.path = path
        self.sweep = sweep
        self.dims = tuple(sweep)
        self.shape = tuple(len(c) for c in sweep.values())
        self.attrs = attrs
        self.sizes: dict[str, int] = {}
        self.coords: dict[str, np.ndarray] = {}
        self.variables: dict[str, tuple[str, ...]] = {}
        if path.exists():
            self._open()

    def _open(self) -> None:
        import zarr

        # read with zarr, not xarray: xarray refuses arrays of different lengths on one
        # dimension, which a crash while growing an event dimension may leave behind
        group = zarr.open_group(self.path, mode="r+", zarr_format=3)
        old = {k: group.attrs.get(k) for k in ("sweep_grid", "protocol")}
        if old != {k: self.attrs[k] for k in old}:
            what = "grid or seeds" if old["sweep_grid"] != self.attrs["sweep_grid"] else "protocol"
            raise NeurosimError(
                f"{self.path}: holds a sweep with another {what} "
                f"(it has {old['sweep_grid']}); use another --out or delete it"
            )
        dims = {name: tuple(a.metadata.dimension_names) for name, a in group.arrays()}
        own = {d for names in dims.values() for d in names if d not in self.dims}
        self.coords = {d: np.asarray(group[d][...]) for d in own if d in dims}
        self.sizes = {d: len(c) for d, c in self.coords.items()}
        self.variables = {k: v for k, v in dims.items() if k not in {*own, *self.dims, _DONE}}
        for dim in own - set(self.coords):
            names = [k for k, v in self.variables.items() if dim in v]
            self.sizes[dim] = max(group[k].shape[self.variables[k].index(dim)] for k in names)
            self._resize(group, names, dim, self.sizes[dim])

    def done(self) -> np.ndarray:
        """Boolean mask of the finished points (all False before the store exists)."""
        if not self.path.exists():
            return np.zeros(self.shape, bool)
        import zarr

        return np.asarray(zarr.open_array(self.path / _DONE, mode="r")[...]) == 1

    def write(self, index: tuple[int, ...], ds: xr.Dataset, label: str) -> None:
        """Write one point's recording, then mark it done."""
        ds = ds.reset_coords()
        if not self.path.exists():
            self._create(ds)
        self._check(ds, label)
        self._grow(ds)
        region = {d: slice(i, i + 1) for d, i in zip(self.dims, index, strict=True)}
        arrays = {}
        for name, da in ds.data_vars.items():
            data = np.asarray(da.values)
            events = [d for d in da.dims if d not in self.coords]
            if events:
                data = data.astype(np.float64)
                pad = [(0, self.sizes[d] - n if d in events else 0) for d, n in da.sizes.items()]
                data = np.pad(data, pad, constant_values=np.nan)
            arrays[name] = (self.dims + da.dims, data.reshape((1,) * len(self.dims) + data.shape))
        xr.Dataset(arrays).to_zarr(self.path, region=region, mode="r+", consolidated=False)
        import zarr

        # after the data: a point marked done always has its data in the store
        zarr.open_array(self.path / _DONE, mode="r+")[index] = 1

    def _create(self, ds: xr.Dataset) -> None:
        import dask.array as dask_array

        clash = set(self.dims) & (set(ds.dims) | set(ds.variables) | {_DONE})
        if clash:
            raise NeurosimError(
                f"sweep dimension {sorted(clash)[0]!r} is also a name in the recording"
            )
        arrays, encoding = {}, {}
        for name, da in ds.data_vars.items():
            events = [d for d in da.dims if d not in ds.coords]
            dtype = np.float64 if events else da.dtype
            chunks = (1,) * len(self.dims) + tuple(
                max(n, _EVENT_CHUNK) if d in events else max(n, 1) for d, n in da.sizes.items()
            )
            shape = self.shape + da.shape
            # placeholders only: with compute=False xarray writes metadata, not data
            fill = np.nan if np.issubdtype(dtype, np.floating) else 0
            data = dask_array.full(shape, fill, dtype=dtype, chunks=chunks)
            arrays[name] = xr.Variable(self.dims + da.dims, data, da.attrs)
            encoding[name] = {"chunks": chunks}
        arrays[_DONE] = xr.Variable(
            self.dims,
            dask_array.zeros(self.shape, dtype=np.int8, chunks=self.shape),
            {"units": "1", "description": "1 once the point's data are written"},
        )
        encoding[_DONE] = {"chunks": self.shape, "_FillValue": None}
        coords = {d: (d, c) for d, c in self.sweep.items()}
        coords.update({d: ds[d].variable for d in ds.coords})
        template = xr.Dataset(arrays, coords=coords, attrs=self.attrs)
        with atomic_path(self.path) as tmp:
            template.to_zarr(
                tmp, mode="w", compute=False, consolidated=False, encoding=encoding, zarr_format=3
            )
        self.coords = {str(d): ds[d].values for d in ds.coords}
        self.sizes = {str(d): n for d, n in ds.sizes.items()}
        self.variables = {
            str(k): self.dims + tuple(map(str, v.dims)) for k, v in ds.data_vars.items()
        }

    def _check(self, ds: xr.Dataset, label: str) -> None:
        extra = set(map(str, ds.data_vars)) - set(self.variables)
        if extra:
            raise NeurosimError(
                f"point {label}: the recording has variable {sorted(extra)[0]!r} that the "
                "first point's had not"
            )
        for name, da in ds.data_vars.items():
            if self.variables[str(name)][len(self.dims) :] != da.dims:
                raise NeurosimError(
                    f"point {label}: variable {name!r} has dimensions {da.dims}, the first "
                    f"point's had {self.variables[str(name)][len(self.dims) :]}"
                )
        for dim, values in self.coords.items():
            if dim in ds.coords and not np.array_equal(ds[dim].values, values):
                raise NeurosimError(
                    f"point {label}: coordinate {dim!r} differs from the first point's "
                    "(a sweep cannot change the time axis or the recorded neurons)"
                )

    def _grow(self, ds: xr.Dataset) -> None:
        import zarr

        group = None
        for dim, n in ds.sizes.items():
            if dim in self.coords or n <= self.sizes.get(str(dim), 0):
                continue
            group = group or zarr.open_group(self.path, mode="r+", zarr_format=3)
            names = [k for k, dims in self.variables.items() if dim in dims]
            self._resize(group, names, str(dim), n)
            self.sizes[str(dim)] = n

    def _resize(self, group, names: list[str], dim: str, n: int) -> None:
        for name in names:
            array = group[name]
            axis = self.variables[name].index(dim)
            if array.shape[axis] != n:
                shape = list(array.shape)
                shape[axis] = n
                array.resize(tuple(shape))

    def finish(self) -> None:
        """Record the end time of the sweep."""
        import zarr

        zarr.open_group(self.path, mode="r+", zarr_format=3).attrs["end_time"] = now()


def _client(scheduler: str | None, n_workers: int):
    """A Dask client: to ``scheduler`` or to a new local cluster of worker processes."""
    import dask
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            # not the process's default client: dask work elsewhere in the
            # process (xarray loading a store) must not be sent to this cluster
            return Client(scheduler, timeout="20s", set_as_default=False)
        except (OSError, TimeoutError, ValueError) as err:
            # ValueError: distributed's parser refused the address itself
            raise NeurosimError(f"--scheduler {scheduler}: cannot connect ({err})") from None
    # the local scheduler runs in this process, so this setting reaches it
    with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
        cluster = LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            # the scheduler's HTTP server (health checks) would take port 8787 or warn
            scheduler_kwargs={"dashboard_address": ":0"},
            silence_logs=logging.ERROR,
        )
    return Client(cluster, set_as_default=False)


def run_sweep(
    protocol: str | Path,
    grid: dict[str, list[Any]],
    seeds: int | None = None,
    out: str | Path = Path("results") / "sweep",
    *,
    scheduler: str | None = None,
    n_workers: int = 2,
    progress: bool = True,
    set_overrides: list[str] | tuple[str, ...] = (),
) -> SweepResult:
    """Run a protocol at every point of a grid on Dask; write one Zarr store.

    Parameters
    ----------
    protocol : str or Path
        A protocol file or the name of a shipped protocol.
    grid : dict
        Override key (as for ``--set``) -> list of values; see :func:`parse_grid`.
    seeds : int, optional
        Also sweep the protocol's ``seed`` over ``0 .. seeds-1`` (dimension ``seed``).
    out : str or Path
        Output folder; the store is ``<out>/sweep.zarr``.
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:port``); by default a
        local cluster of ``n_workers`` processes with one thread each is started.
    n_workers : int
        Workers of the local cluster (ignored with ``scheduler``).
    progress : bool
        Show a progress bar over the points.
    set_overrides : list of str
        ``key=value`` settings applied to every point (the CLI's ``--set``).

    Returns
    -------
    SweepResult
        The store (lazily opened) and how many points this call ran.

    Notes
    -----
    A worker that dies while it runs a point (killed, out of memory) loses
    nothing written: the scheduler runs the point again on another worker, and
    the client writes it once, when it arrives. A point that takes down
    ``ALLOWED_FAILURES`` workers is reported as failed (an existing scheduler
    uses its own ``distributed.scheduler.allowed-failures``, 3 by default).
    Errors raised by a point are not retried: runs are seeded, so a retry
    would fail the same way.

    Raises
    ------
    NeurosimError
        On a bad grid key or value (before any work), a store holding another
        sweep, an unreachable scheduler, or points that failed (after the
        others were written; running the sweep again retries only those).
    """
    if seeds is not None and (isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1):
        raise NeurosimError(f"--seeds: has to be an integer >= 1, got {seeds!r}")
    if seeds is not None and _SEED_DIM in grid:
        raise NeurosimError("--grid seed and --seeds: give one of them")
    if not grid and seeds is None:
        raise NeurosimError("sweep: give at least one --grid key=v1,v2,... or --seeds N")
    if scheduler is None and n_workers < 1:
        raise NeurosimError(f"--workers: has to be an integer >= 1, got {n_workers}")
    if scheduler is None:
        check_workers(n_workers, "--workers")
    n_points = math.prod(len(v) for v in grid.values()) * (seeds or 1)
    if n_points > MAX_POINTS:
        raise NeurosimError(
            f"sweep: {n_points} points, more than the {MAX_POINTS} one sweep may have; "
            "split it into several sweeps (one --out each)"
        )
    path = find_protocol(protocol).resolve()
    base = load_protocol(path, list(set_overrides))
    # per-point plots would be drawn and thrown away with the worker's temporary folder
    no_plots = "output.plots=[]" if "output" in base.data else "output={plots: []}"
    sets = [*set_overrides, no_plots]
    points = _points(grid, seeds)
    _validate(path, sets, grid, points)

    sweep = {key: _coordinate(values) for key, values in grid.items()}
    if seeds is not None:
        sweep[_SEED_DIM] = np.arange(seeds)
    described: dict[str, Any] = dict(grid)
    if seeds is not None:
        described[_SEED_DIM] = seeds
    attrs = provenance(
        protocol=base.text,
        protocol_name=base.name,
        protocol_path=str(path),
        sweep_grid=json.dumps(described),
        overrides="; ".join(set_overrides),
        start_time=now(),
        scheduler=scheduler or f"local cluster, {n_workers} worker processes",
        dask_version=_version("distributed"),
        zarr_version=_version("zarr"),
        layout=(
            "sweep dimensions first; event-table variables padded with NaN; "
            "point_done = 1 once a point is written"
        ),
    )
    store = _Store(Path(out) / STORE_NAME, sweep, attrs)
    done = store.done()
    todo = [p for p in points if not done[p.index]]
    if todo:
        _compute(store, path, sets, todo, len(points), scheduler, n_workers, progress)
        store.finish()
    return SweepResult(
        xr.open_zarr(store.path, consolidated=False),
        store.path,
        submitted=len(todo),
        skipped=len(points) - len(todo),
    )


def _compute(store, path, sets, todo, total, scheduler, n_workers, progress) -> None:
    """Submit the points, write each as it finishes, then report the failures."""
    from distributed import as_completed

    from neurosim.progress import progress_bar

    failures: list[tuple[_Point, BaseException]] = []
    token = uuid.uuid4().hex[:8]
    with (
        _client(scheduler, n_workers) as client,
        progress_bar(
            total=total,
            initial=total - len(todo),
            desc="sweep",
            unit="point",
            enabled=progress,
        ) as bar,
    ):
        futures = {
            # retries=0: a point's error is deterministic (seeded run); a lost worker
            # is not an error, the scheduler reruns its points on its own
            client.submit(
                _run_point,
                str(path),
                [*sets, *point.overrides],
                key=f"neurosim-sweep-{token}-{n}",
                retries=0,
                pure=False,
            ): point
            for n, point in enumerate(todo)
        }
        try:
            for future in as_completed(futures, loop=client.loop):
                point = futures[future]
                if future.status == "error":
                    failures.append((point, future.exception()))
                else:
                    store.write(point.index, future.result(), point.label)
                    bar.update(1)
                future.release()
        except BaseException:
            client.cancel(list(futures))
            raise
    if failures:
        _raise(failures, len(todo))


def _raise(failures: list[tuple[_Point, BaseException]], submitted: int) -> None:
    from distributed import KilledWorker

    for _, err in failures:
        if not isinstance(err, NeurosimError | KilledWorker):
            raise err
    point, err = failures[0]
    reason = (
        f"killed its worker {ALLOWED_FAILURES} times (out of memory or a crash?)"
        if isinstance(err, KilledWorker)
        else str(err)
    )
    raise NeurosimError(
        f"{len(failures)} of {submitted} sweep points failed (run again to retry them); "
        f"first: {point.label}: {reason}"
    )
