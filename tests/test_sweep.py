"""Sweeps on Dask distributed: grid parsing, early errors, the Zarr store, a lost worker."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import zarr

from neurosim.errors import NeurosimError
from neurosim.protocol import load_protocol
from neurosim.runner import run_protocol, standalone_folder
from neurosim.sweep import STORE_NAME, _Store, parse_grid, run_sweep

REPO = Path(__file__).resolve().parent.parent
PROTOCOL = REPO / "protocols" / "sweep_lif.yaml"
DASK = Path(sys.executable).parent / "dask"


def test_parse_grid_reads_values_as_yaml():
    grid = parse_grid(["stimuli.0.amplitude=150 pA,250 pA", "training.x=[0, 1],[2, 3]", "n=1,2.5"])
    assert grid == {
        "stimuli.0.amplitude": ["150 pA", "250 pA"],
        "training.x": [[0, 1], [2, 3]],
        "n": [1, 2.5],
    }


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (["amplitude"], "expected key=value1,value2"),
        (["=1,2"], "expected key=value1,value2"),
        (["a="], "expected key=value1,value2"),
        (["a=1,2", "a=3"], "key 'a' given twice"),
        (["a=1,,2"], "cannot read values"),
        (["a=1,null"], "empty value"),
        (["a=1,1"], "a value is given twice"),
        (["a=[1,2"], "cannot read values"),
    ],
)
def test_parse_grid_errors(items, message):
    with pytest.raises(NeurosimError, match=message):
        parse_grid(items)


def test_unknown_key_fails_before_any_work(tmp_path):
    # the scheduler address is unreachable: reaching it would be a different error
    grid = {"stimuli.0.amplitude": ["150 pA"], "stimuli.0.amplitud": ["1 pA", "2 pA"]}
    with pytest.raises(NeurosimError, match=r"^--grid stimuli\.0\.amplitud: .*amplitud"):
        run_sweep(PROTOCOL, grid, out=tmp_path / "out", scheduler="tcp://127.0.0.1:9")
    assert not (tmp_path / "out").exists()


def test_bad_value_at_one_point_fails_before_any_work(tmp_path):
    grid = {"stimuli.0.amplitude": ["150 pA", "2 parsec"]}
    with pytest.raises(NeurosimError, match=r"^--grid point stimuli\.0\.amplitude=\"2 parsec\""):
        run_sweep(PROTOCOL, grid, seeds=2, out=tmp_path / "out", scheduler="tcp://127.0.0.1:9")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("grid", "seeds", "message"),
    [
        ({}, None, "give at least one --grid"),
        ({"seed": [1, 2]}, 2, "give one of them"),
        ({"dt": ["0.1 ms"]}, 0, "--seeds: has to be an integer >= 1"),
        # refused from the sizes alone: listing 10**8 points would take minutes
        ({}, 10**8, r"sweep: 100000000 points, more than the 10000 one sweep may have"),
        ({"dt": ["0.1 ms", "0.2 ms"]}, 5001, "sweep: 10002 points, more than"),
    ],
)
def test_argument_errors(tmp_path, grid, seeds, message):
    with pytest.raises(NeurosimError, match=message):
        run_sweep(PROTOCOL, grid, seeds=seeds, out=tmp_path)
    assert not (tmp_path / STORE_NAME).exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"n_workers": 0}, "--workers: has to be an integer >= 1, got 0"),
        # each worker is a process: 10**5 of them would take the machine down
        ({"n_workers": 10**5}, r"--workers: at most \d+ on this machine \(\d+ cores\), got 100000"),
        # distributed's own parser refuses it (ValueError), named as the option
        ({"scheduler": "nonsense"}, "--scheduler nonsense: cannot connect .*port"),
    ],
)
def test_cluster_option_errors(tmp_path, options, message):
    with pytest.raises(NeurosimError, match=message):
        run_sweep(PROTOCOL, {"dt": ["0.1 ms"]}, out=tmp_path, **options)


def _point(n_spikes: int, offset: float) -> xr.Dataset:
    """A recording like the simulator's: a trace on a time axis plus a spike table."""
    return xr.Dataset(
        {
            "v": (("time",), offset + np.arange(4.0), {"units": "volt"}),
            "spike_time": (("spike",), offset + np.arange(n_spikes) / 10),
            "spike_neuron": (("spike",), np.arange(n_spikes, dtype=np.int64)),
            "count": ((), np.int64(n_spikes)),
        },
        coords={"time": ("time", np.arange(4) * 1e-3, {"units": "second"})},
    )


def _store(path: Path, grid=None) -> _Store:
    sweep = {"a": np.array([1.0, 2.0, 3.0]), "seed": np.arange(2)}
    attrs = {"sweep_grid": json.dumps(grid or {"a": [1, 2, 3], "seed": 2}), "protocol": "p"}
    return _Store(path / STORE_NAME, sweep, attrs)


def test_store_pads_event_tables_and_resumes(tmp_path):
    store = _store(tmp_path)
    spikes = {(0, 0): 2, (2, 1): 5, (1, 0): 0, (0, 1): 3}
    for index, n in list(spikes.items())[:2]:
        store.write(index, _point(n, sum(index)), str(index))
    # a new writer (a rerun) sees the done points and keeps growing the spike table
    store = _store(tmp_path)
    assert store.done().sum() == 2
    for index, n in list(spikes.items())[2:]:
        store.write(index, _point(n, sum(index)), str(index))
    ds = xr.open_zarr(tmp_path / STORE_NAME, consolidated=False).load()
    assert dict(ds.sizes) == {"a": 3, "seed": 2, "time": 4, "spike": 5}
    assert ds.point_done.values.tolist() == [[1, 1], [1, 0], [0, 1]]
    for (i, j), n in spikes.items():
        point = ds.isel(a=i, seed=j)
        np.testing.assert_array_equal(point.v.values, sum((i, j)) + np.arange(4.0))
        np.testing.assert_array_equal(point.spike_time.values[:n], sum((i, j)) + np.arange(n) / 10)
        np.testing.assert_array_equal(point.spike_neuron.values[:n], np.arange(n))
        assert np.isnan(point.spike_time.values[n:]).all()
        assert np.isnan(point.spike_neuron.values[n:]).all()
        assert int(point["count"]) == n
    assert ds.v.attrs["units"] == "volt"
    assert ds.time.attrs["units"] == "second"


def test_store_repairs_an_interrupted_growth(tmp_path):
    store = _store(tmp_path)
    store.write((0, 0), _point(2, 0), "first")
    # as if the client died after growing one array of the spike table but not the other
    zarr.open_array(tmp_path / STORE_NAME / "spike_time", mode="r+").resize((3, 2, 7))
    store = _store(tmp_path)
    store.write((1, 1), _point(4, 2), "second")
    ds = xr.open_zarr(tmp_path / STORE_NAME, consolidated=False).load()
    assert ds.sizes["spike"] == 7
    np.testing.assert_array_equal(ds.spike_neuron.isel(a=1, seed=1).values[:4], np.arange(4))


def test_store_refuses_another_sweep_and_another_time_axis(tmp_path):
    _store(tmp_path).write((0, 0), _point(1, 0), "first")
    with pytest.raises(NeurosimError, match="holds a sweep with another grid or seeds"):
        _store(tmp_path, grid={"a": [1, 2], "seed": 2})
    longer = _point(1, 0).reindex(time=np.arange(5) * 1e-3)
    with pytest.raises(NeurosimError, match="coordinate 'time' differs from the first point's"):
        _store(tmp_path).write((1, 0), longer, "longer")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A `dask scheduler` and two `dask worker` OS processes on localhost.

    Yields ``(address, {worker address: pid})``; every process is stopped afterwards.
    """
    from distributed import Client

    folder = tmp_path_factory.mktemp("cluster")
    scheduler_file = folder / "scheduler.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs: list[subprocess.Popen] = []

    def start(*args: str, log: str) -> None:
        with open(folder / log, "w") as out:
            procs.append(
                subprocess.Popen([str(DASK), *args], cwd=REPO, env=env, stdout=out, stderr=out)
            )

    try:
        start(
            "scheduler",
            "--host=127.0.0.1",
            "--port=0",
            "--no-dashboard",
            f"--scheduler-file={scheduler_file}",
            log="scheduler.log",
        )
        for k in range(2):
            # no nanny: the worker is this very process, so SIGKILL loses it for good
            start(
                "worker",
                f"--scheduler-file={scheduler_file}",
                "--nthreads=1",
                "--no-nanny",
                "--no-dashboard",
                "--death-timeout=60",
                log=f"worker{k}.log",
            )
        deadline = time.monotonic() + 60
        while not scheduler_file.exists():
            assert time.monotonic() < deadline, (folder / "scheduler.log").read_text()
            time.sleep(0.1)
        # not the default client: another test in this process that loads a
        # Zarr store with dask would otherwise run on this cluster (whose
        # workers a test kills) and wait for ever
        with Client(
            scheduler_file=str(scheduler_file), timeout="30s", set_as_default=False
        ) as client:
            client.wait_for_workers(2, timeout=60)
            # import the simulator once per worker, so that points take their run time
            client.run(__import__, "neurosim.runner")
            pids = client.run(os.getpid)
            yield client.scheduler.address, pids
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _direct(overrides: list[str]) -> xr.Dataset:
    """The point's recording, computed in this process without Dask."""
    protocol = load_protocol(PROTOCOL, overrides)
    return run_protocol(protocol, None, progress=False).dataset


def _kill_busy_worker(address: str, pids: dict, store: Path, stats: dict, stop) -> None:
    """Once the first point is in the store, SIGKILL a worker that is running a point."""
    from distributed import Client

    with Client(address, set_as_default=False) as client:
        while not stop.is_set():
            try:
                done = int(zarr.open_array(store / "point_done", mode="r")[...].sum())
            except (OSError, ValueError, zarr.errors.BaseZarrError):
                done = 0  # not created yet
            busy = [w for w, keys in client.processing().items() if keys and w in pids]
            if done and busy:
                os.kill(pids[busy[0]], signal.SIGKILL)
                stats.update(done_at_kill=done, killed=busy[0])
                return
            time.sleep(0.05)


def test_sweep_survives_a_killed_worker_and_resumes(cluster, tmp_path, monkeypatch):
    address, pids = cluster
    grid = {"stimuli.0.amplitude": ["150 pA", "350 pA"]}
    writes: Counter = Counter()
    original = _Store.write

    def counting_write(self, index, ds, label):
        writes[index] += 1
        original(self, index, ds, label)

    monkeypatch.setattr(_Store, "write", counting_write)
    store = tmp_path / "out" / STORE_NAME
    stats: dict = {}
    stop = threading.Event()
    killer = threading.Thread(target=_kill_busy_worker, args=(address, pids, store, stats, stop))
    killer.start()
    try:
        result = run_sweep(
            PROTOCOL, grid, seeds=2, out=tmp_path / "out", scheduler=address, progress=False
        )
    finally:
        stop.set()
        killer.join()
    assert stats, "no worker was killed while the sweep ran"
    assert 1 <= stats["done_at_kill"] < 4
    assert (result.submitted, result.skipped) == (4, 0)
    assert writes == {(i, s): 1 for i in range(2) for s in range(2)}

    ds = result.dataset.load()
    assert ds.point_done.values.tolist() == [[1, 1]] * 2
    assert ds["stimuli.0.amplitude"].values.tolist() == grid["stimuli.0.amplitude"]
    assert ds.seed.values.tolist() == [0, 1]
    assert json.loads(ds.attrs["sweep_grid"])["seed"] == 2
    assert "name: sweep_lif" in ds.attrs["protocol"]
    for i, amplitude in enumerate(grid["stimuli.0.amplitude"]):
        for seed in range(2):
            direct = _direct([f"stimuli.0.amplitude={amplitude}", f"seed={seed}"])
            point = ds.isel({"stimuli.0.amplitude": i, "seed": seed})
            n = direct.sizes["cell_spike"]
            assert set(point.data_vars) - {"point_done"} == set(direct.data_vars)
            for name, values in direct.data_vars.items():
                stored = point[name].values
                if "cell_spike" in values.dims:
                    assert np.isnan(stored[n:]).all()
                    stored = stored[:n]
                np.testing.assert_array_equal(stored, values.values, err_msg=name)
    # more current, more spikes: the tables really differ in length between points
    counts = ds.cell_spike_time.count("cell_spike").values
    assert (np.diff(counts, axis=0) > 0).all()

    again = run_sweep(
        PROTOCOL, grid, seeds=2, out=tmp_path / "out", scheduler=address, progress=False
    )
    assert (again.submitted, again.skipped) == (0, 4)
    assert sum(writes.values()) == 4

    with pytest.raises(NeurosimError, match="holds a sweep with another grid or seeds"):
        run_sweep(PROTOCOL, grid, seeds=3, out=tmp_path / "out", scheduler=address)


def test_failed_points_are_reported_and_rerun(cluster, tmp_path):
    address, _ = cluster
    # load_protocol accepts both; only the run finds that branin needs two numbers
    grid = {"training.x": [[0.0, 1.0], [1.0, 2.0, 3.0]]}
    with pytest.raises(NeurosimError, match=r"^1 of 2 sweep points failed .*branin needs 2"):
        run_sweep("tune_branin", grid, out=tmp_path, scheduler=address, progress=False)
    done = zarr.open_array(tmp_path / STORE_NAME / "point_done", mode="r")[...]
    assert done.tolist() == [1, 0]
    with pytest.raises(NeurosimError, match=r"^1 of 1 sweep points failed"):
        run_sweep("tune_branin", grid, out=tmp_path, scheduler=address, progress=False)


def test_local_cluster_sweep_of_a_test_function(tmp_path):
    from neurosim.blackbox.functions import FUNCTIONS

    xs = [[0.0, 1.0], [-3.0, 12.0], [9.0, 2.5]]
    result = run_sweep("tune_branin", {"training.x": xs}, out=tmp_path, n_workers=1, progress=False)
    assert (result.submitted, result.skipped) == (3, 0)
    ds = result.dataset.load()
    # list values are kept as their text on the coordinate
    assert ds["training.x"].values.tolist() == ["[0.0, 1.0]", "[-3.0, 12.0]", "[9.0, 2.5]"]
    expected = [FUNCTIONS["branin"].f(np.array(x)) for x in xs]
    np.testing.assert_array_equal(ds.value.values, expected)
    np.testing.assert_array_equal(ds.x.values, xs)
    # issue 18: a finished sweep run again reads its store and starts no cluster
    import neurosim.sweep

    def no_cluster(*args):
        raise AssertionError("a cluster was started for a finished sweep")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(neurosim.sweep, "_client", no_cluster)
        again = run_sweep("tune_branin", {"training.x": xs}, out=tmp_path, progress=False)
    assert (again.submitted, again.skipped) == (0, 3)
    np.testing.assert_array_equal(again.dataset.value.values, expected)


def test_concurrent_runs_of_one_network_get_their_own_standalone_folder(tmp_path):
    # sweep workers (or parallel test processes) running the same network must
    # not build and run in one cpp_standalone project folder
    with standalone_folder(tmp_path, "abc") as first, standalone_folder(tmp_path, "abc") as second:
        assert first == tmp_path / "standalone" / "abc"
        assert second == tmp_path / "standalone" / "abc-1"
        with standalone_folder(tmp_path, "other") as other:
            assert other == tmp_path / "standalone" / "other"
    # released, also when the run fails: the next run reuses the first build
    with pytest.raises(RuntimeError), standalone_folder(tmp_path, "abc"):
        raise RuntimeError("failed run")
    with standalone_folder(tmp_path, "abc") as again:
        assert again == first
