"""Learning-curve anchor of the reference code, next to ``bench_segregated.py curve``.

Runs Guerguiev, Lillicrap & Richards' (2017) reference code
(jordan-g/Segregated-Dendrite-Deep-Learning) on the images of neurosim's
learning-curve benchmark and times it. Nothing of the reference is copied
here: ``--reference`` names the user's own checkout (or ``git archive``) of
it, a folder holding ``deep_learning.py`` and ``MNIST.py``; its files are
never edited::

    git clone https://github.com/jordan-g/Segregated-Dendrite-Deep-Learning ref
    python benchmarks/bench_reference_segregated.py --reference ref --seeds 0 1 2
    python benchmarks/bench_segregated.py curve --seeds 0 1 2

Smoke test (under a minute, most of it writing the arrays the first time; no quick
test, one test after training)::

    python benchmarks/bench_reference_segregated.py --reference ref --seeds 0 \\
        --n-train 20 --n-test 10

The anchor: full MNIST, the first ``--n-train`` (10,000) training images in
file order (one epoch), a quick test on the first 100 test images every
1,000 examples, the final test on the first ``--n-test`` (1,000) test
images; (500, 10) network (784-500-10), learning rates f_etas = (0.21,
0.21), b_etas = None. Every other setting is the module default: spiking
mode, random Wald phase lengths, conductances, broadcast feedback, spiking
feedforward and feedback, no feedback bias, no sparse feedback
(example_script.py turns it on; the anchor, like neurosim, leaves it off),
no feedback learning, weight optimisation on.

What this script changes in the reference's behaviour, and nothing else:

1. ``nonspiking_mode``: the module sets it to True and derives phase
   lengths, windows, spike memory, ... from it at import time, so it cannot
   be switched after import. The source of ``deep_learning.py`` is read, its
   one module-level ``nonspiking_mode = True`` assignment (asserted to occur
   exactly once) is set to False in memory and the result is executed as
   module ``deep_learning``.
2. ``shuffle_arrays`` becomes the identity (draws nothing from the RNG), so
   training shows the images in file order and every test (quick and final)
   uses the first test images in file order.
3. ``n_full_test`` (read by ``train()`` at the end of the epoch) =
   ``--n-test``; ``n_quick_test`` stays the reference's 100.
4. Instrumentation that changes neither the simulation nor the RNG stream:
   ``Network.test_weights`` records wall and CPU time and the error of every
   test; ``Network.f_phase`` records after each training forward phase
   whether the argmax of the output layer's ``average_C_f`` is the label
   (the reference's own training-error criterion, which it only sums per
   epoch), giving the training error per 1,000 examples.
5. ``train(..., save_simulation=False)``: no simulation folder is written.
6. The reference never seeds; ``numpy.random.seed(seed)`` is called right
   before ``Network((500, 10))``, so the weights, the Wald phase lengths
   and all Poisson spikes come from that stream.
7. When ``--n-train`` is not a multiple of 1,000 (smoke tests) ``train()``
   runs no test at all; ``test_weights(n_test)`` is then called once after
   training.

The reference module keeps global state, so every seed runs in a fresh
process (this script with the internal ``--one-seed``), one after another.

Data: the reference's ``load_MNIST()`` reads ``x_train.npy``,
``t_train.npy``, ``x_test.npy`` and ``t_test.npy`` from the current folder:
x arrays (784, N) float64 = pixel / 255, column i the image flattened in
Fortran (column) order as MNIST.py's ``trainfeatures(i)``; t arrays (10, N)
float64 one-hot. They are built from MNIST as neurosim loads it
(``--mnist``, or ``$NEUROSIM_DATA``, the cache, a download; SHA-256 checked)
into ``--work`` (default: ``reference-segregated`` in neurosim's cache
folder) and checked against the reference's own MNIST.py reader on sample
indices; for that check the four IDX files are written there uncompressed
under MNIST.py's names (their bytes checked against the original files'
SHA-256). The run changes into ``--work`` while the network loads its data.

Times: per training example, the ``train()`` call less the quick and final
tests it runs; per test example, all tests; wall time (``perf_counter``)
and CPU time of the seed's process (``process_time``), with one BLAS thread.

Measured on 2026-12-02 (reference commit
a41ebc86a0e553b23aa9c70bfc0ee43684103477, deep_learning.py SHA-256
bf5223e5...; Python 3.11.7, numpy 2.3.5; one core of a 2-core machine
shared with one other job, so the wall times are inflated), seeds 0 1 2,
10,000 training images, 1,000 test images:

    final test error on 1000 test images: 22.80, 18.60, 21.30 % (median 21.30 %)
    quick tests (first 100 test images) after 1,000 ... 9,000 examples, in %:
      seed 0: 73 60 41 30 22 23 29 20 30
      seed 1: 84 57 48 32 28 21 25 17 20
      seed 2: 85 59 38 28 24 16 26 22 18
    ms CPU per training example: 43.9, 46.3, 44.0 (median 44.0); wall 60.9, 67.4, 55.8
    ms CPU per test example: 104, 106, 95 (median 104); wall 145, 158, 110

Seeds 3 4, the same day, with this script (``--seeds 3 4``; one core, the other
running neurosim's curve and a mutation run):

    final test error on 1000 test images: 18.60, 20.30 %
    quick tests: seed 3: 78 52 37 29 23 18 24 24 17; seed 4: 79 57 39 25 28 24 28 24 16
    ms CPU per training example: 39.1, 41.3; wall 42.0, 41.6

Seeds 0-4 together: median final test error 20.3 % (neurosim, ``bench_segregated.py
curve --seeds 0 1 2 3 4``: 17.8, 19.6, 18.0, 17.9, 19.4 %, median 18.0 %).

The 20-example smoke test above (seed 0) gives a test error of 90.00 %.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.util
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

# One BLAS thread, forced rather than defaulted: the anchor's times are for one
# core, and a threaded BLAS may sum in another order and so round differently.
# Set before numpy is imported; the seed processes inherit it.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"
# The reference imports pyplot at import time; no display is needed.
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402

from neurosim.atomic import atomic_path  # noqa: E402
from neurosim.datasets import MNIST_SHA256, SPLITS, as_rates, load_mnist, order_digest  # noqa: E402

__all__ = ["main", "prepare", "reference_commit", "run_seed"]

#: The commit and file digests the numbers in the module docstring were measured with.
MEASURED_COMMIT = "a41ebc86a0e553b23aa9c70bfc0ee43684103477"
MEASURED_SHA256 = {
    "deep_learning.py": "bf5223e5bc4b116df256be6d136b485c5c9e06522863038d6d0cff979f5a14d8",
    "MNIST.py": "103527c4cdafff543d4fc382bed2add31f08a3c223ebc5afcf954996f222f44a",
}
#: The module-level assignment switched off in memory (behaviour 1).
NONSPIKING = re.compile(r"^(nonspiking_mode\s*=\s*)True\b", re.MULTILINE)
HIDDEN = (500, 10)
RATES = (0.21, 0.21)
#: Sample indices checked against MNIST.py: the first images, a few inside the
#: anchor's ranges, their ends and the last image of each file.
CHECK_INDICES = {
    "train": [*range(25), 4321, 9998, 9999, 59999],
    "test": [*range(25), 500, 998, 999, 9999],
}
#: The reference's globals recorded with every run.
SETTINGS = (
    "nonspiking_mode use_rand_phase_lengths use_rand_plateau_times use_conductances "
    "use_broadcast use_spiking_feedback use_spiking_feedforward use_symmetric_weights "
    "use_sparse_feedback update_feedback_weights use_backprop use_apical_conductance "
    "use_weight_optimization use_feedback_bias initial_test dt mem l_f_phase l_t_phase "
    "l_f_phase_test integration_time integration_time_test min_l_f_phase min_l_t_phase "
    "lambda_max tau_s tau_L g_B g_A g_L g_D E_E E_I n_quick_test"
).split()
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def _cwd(path: Path) -> Iterator[None]:
    """Change into ``path`` for the block and back, however it ends."""
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def _sha16(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()[:16]


def _load_module(name: str, path: Path) -> types.ModuleType:
    """Execute ``path`` as a fresh module ``name`` (not cached in ``sys.modules``)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def reference_commit(reference: Path) -> str:
    """The git commit of a reference checkout.

    Parameters
    ----------
    reference : pathlib.Path
        The folder holding ``deep_learning.py``.

    Returns
    -------
    str
        The full commit hash, with ``-dirty`` appended when ``deep_learning.py``
        or ``MNIST.py`` differ from it; ``"unknown"`` when ``reference`` is not
        the top of a git checkout (a ``git archive`` export, or a folder inside
        some other repository, whose commit would say nothing about the code).
    """

    def git(*words: str) -> str | None:
        try:
            proc = subprocess.run(
                ["git", "-C", str(reference), *words], capture_output=True, text=True
            )
        except OSError:  # no git on the machine
            return None
        return proc.stdout.strip() if proc.returncode == 0 else None

    top = git("rev-parse", "--show-toplevel")
    if top is None or Path(top).resolve() != reference.resolve():
        return "unknown"
    commit = git("rev-parse", "HEAD") or "unknown"
    if git("status", "--porcelain", "--", "deep_learning.py", "MNIST.py"):
        commit += "-dirty"
    return commit


def reference_info(reference: Path) -> dict:
    """Path, commit and file SHA-256 of the reference; warns if not the measured code."""
    sha = {
        name: hashlib.sha256((reference / name).read_bytes()).hexdigest()
        for name in MEASURED_SHA256
    }
    changed = [name for name, digest in sha.items() if digest != MEASURED_SHA256[name]]
    if changed:
        print(
            f"note: {', '.join(changed)} differ from commit {MEASURED_COMMIT[:8]}, "
            "with which the numbers in this script's docstring were measured",
            file=sys.stderr,
        )
    return {"path": str(reference.resolve()), "commit": reference_commit(reference), "sha256": sha}


def _idx_bytes(array: np.ndarray) -> bytes:
    # IDX: 0x0000, type code 0x08 (uint8), number of dimensions; big-endian sizes; data.
    header = (0x0800 | array.ndim).to_bytes(4, "big")
    header += b"".join(size.to_bytes(4, "big") for size in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def _write_if_changed(path: Path, data: bytes) -> None:
    if path.is_file() and path.read_bytes() == data:
        return
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def _save_if_changed(path: Path, array: np.ndarray) -> None:
    # x_train.npy is 376 MB: keep a cached file whose content is already right.
    if path.is_file():
        try:
            old = np.load(path, mmap_mode="r", allow_pickle=False)
            if old.dtype == array.dtype and old.shape == array.shape:
                if np.array_equal(old, array):
                    return
        except (OSError, ValueError):  # truncated or not a .npy: write it anew
            pass
    with atomic_path(path) as tmp:
        np.save(tmp, array)


def prepare(reference: Path, mnist: Path | None, work: Path) -> dict[str, str]:
    """Write the reference's input arrays into ``work`` and check them with MNIST.py.

    Parameters
    ----------
    reference : pathlib.Path
        The reference checkout (its ``MNIST.py`` is the reader checked against).
    mnist : pathlib.Path or None
        Folder with the four MNIST IDX ``.gz`` files; None: neurosim's lookup
        (``$NEUROSIM_DATA``, the cache, a download).
    work : pathlib.Path
        Where ``x_train.npy``, ``t_train.npy``, ``x_test.npy``, ``t_test.npy``
        and the uncompressed IDX files go; files already right are kept.

    Returns
    -------
    dict of str to str
        Array name -> first 16 hex digits of the SHA-256 of its bytes.

    Raises
    ------
    RuntimeError
        If the IDX bytes are not the original files, or an array disagrees with
        what MNIST.py reads on a sample index.
    """
    work.mkdir(parents=True, exist_ok=True)
    reader = _load_module("MNIST", reference / "MNIST.py")
    # MNIST.py's file-name constants, so that the names are the reference's own.
    idx_names = {
        "train": (reader.TRAINIMAGES, reader.TRAINLABELS),
        "test": (reader.TESTIMAGES, reader.TESTLABELS),
    }
    arrays = {}
    for split in ("train", "test"):
        images, labels = load_mnist(split, mnist)
        for array, name, original in zip(
            (images, labels), idx_names[split], SPLITS[split], strict=True
        ):
            data = _idx_bytes(array)
            # Byte for byte the original (decompressed) file: MNIST.py then reads
            # exactly what the reference's authors read.
            if hashlib.sha256(data).hexdigest() != MNIST_SHA256[original]:
                raise RuntimeError(f"{name}: IDX bytes differ from the original {original}")
            _write_if_changed(work / name, data)
        # Column i = image i flattened in Fortran order (MNIST.py's trainfeatures);
        # C-contiguous, as the arrays the anchor was measured with.
        flat = np.ascontiguousarray(images.transpose(0, 2, 1).reshape(len(images), -1).T)
        onehot = np.zeros((10, len(labels)))
        onehot[labels.astype(int), np.arange(len(labels))] = 1
        arrays[f"x_{split}"], arrays[f"t_{split}"] = as_rates(flat), onehot
    checks = {
        "train": (reader.trainfeatures, reader.trainlabel),
        "test": (reader.testfeatures, reader.testlabel),
    }
    with _cwd(work):  # MNIST.py opens its files by bare name
        for split, (features, label) in checks.items():
            for i in CHECK_INDICES[split]:
                x, t = arrays[f"x_{split}"], arrays[f"t_{split}"]
                if not np.array_equal(features(i) / 255.0, x[:, i]) or t[int(label(i)), i] != 1:
                    raise RuntimeError(f"{split} example {i} differs from MNIST.py's")
    digests = {}
    for name, array in arrays.items():
        _save_if_changed(work / f"{name}.npy", array)
        digests[name] = _sha16(array)
        print(name, array.shape, array.dtype, digests[name], flush=True)
    print(f"data checked against the reference's MNIST.py on sample indices; in {work}")
    return digests


def _bernoulli(lam: np.ndarray) -> np.ndarray:
    """At most one spike per step with probability ``lam`` (neurosim's draw)."""
    # The reference's own global stream, which run_seed seeds.
    return (np.random.random_sample(np.shape(lam)) < lam).astype(float)  # noqa: NPY002


def load_reference(reference: Path, spikes: str = "poisson") -> types.ModuleType:
    """Execute ``deep_learning.py`` with ``nonspiking_mode = False`` (behaviour 1).

    ``spikes="bernoulli"`` (behaviour 8, a measurement, not the anchor): every
    ``np.random.poisson(`` call of the module draws Bernoulli spikes instead.
    """
    path = reference / "deep_learning.py"
    source, n = NONSPIKING.subn(r"\1False", path.read_text())
    if n != 1:
        raise RuntimeError(f"{path}: 'nonspiking_mode = True' found {n} times, expected once")
    if spikes == "bernoulli":
        source, n = re.subn(r"\bnp\.random\.poisson\(", "_bernoulli(", source)
        if n == 0:
            raise RuntimeError(f"{path}: no np.random.poisson( call to replace")
    module = types.ModuleType("deep_learning")
    module.__file__ = str(path)
    module._bernoulli = _bernoulli
    sys.modules["deep_learning"] = module
    sys.path.insert(0, str(reference))  # as if run from the checkout
    exec(compile(source, str(path), "exec"), module.__dict__)
    return module


def run_seed(
    reference: Path, work: Path, seed: int, n_train: int, n_test: int, spikes: str = "poisson"
) -> dict:
    """Train and test the reference network once (call in a fresh process).

    Parameters
    ----------
    reference : pathlib.Path
        The reference checkout.
    work : pathlib.Path
        The folder `prepare` wrote the arrays into.
    seed : int
        Seed of ``numpy.random`` right before the network is made.
    n_train, n_test : int
        Training examples (one epoch, file order) and final test examples.
    spikes : {"poisson", "bernoulli"}
        The reference's Poisson spike counts, or at most one spike per step.

    Returns
    -------
    dict
        Errors (final, quick tests, training per 1,000), times, label digests,
        the reference's settings and the environment.
    """
    dl = load_reference(reference, spikes)
    assert dl.nonspiking_mode is False
    settings = {k: getattr(dl, k) for k in SETTINGS}
    print("reference settings:", settings, flush=True)

    dl.shuffle_arrays = lambda *arrays: tuple(arrays)  # 2.
    dl.n_full_test = n_test  # 3.

    tests: list[dict] = []
    train_correct: list[int] = []
    original_test, original_f_phase = dl.Network.test_weights, dl.Network.f_phase

    def test_weights(self, n_test=dl.n_quick_test):  # 4.
        wall, cpu = time.perf_counter(), time.process_time()
        error = original_test(self, n_test=n_test)
        tests.append(
            {
                "after_examples": len(train_correct),
                "n_test": n_test,
                "error": error,
                "wall_s": time.perf_counter() - wall,
                "cpu_s": time.process_time() - cpu,
            }
        )
        print(
            f"\n[test after {len(train_correct)} examples on {n_test}: {error:.2f} %]", flush=True
        )
        return error

    def f_phase(self, x, t, training_num, training=False):  # 4.
        original_f_phase(self, x, t, training_num, training=training)
        if training:
            rates = self.l[-1].average_C_f.reshape(-1, self.n_neurons_per_category)
            chosen = np.argmax(np.mean(rates, axis=-1))
            train_correct.append(int(chosen == int(np.argmax(self.t[:, 0]))))

    dl.Network.test_weights = test_weights
    dl.Network.f_phase = f_phase

    with _cwd(work):  # load_MNIST() reads the .npy files from the current folder
        # 6. The reference draws from numpy's legacy global stream: seed that one.
        np.random.seed(seed)  # noqa: NPY002
        net = dl.Network(n=HIDDEN)
    assert net.x_train.shape == (784, 60000) and net.x_test.shape == (784, 10000)
    labels_train = np.argmax(net.t_train[:, :n_train], axis=0)
    labels_test = np.argmax(net.t_test[:, :n_test], axis=0)

    wall, cpu = time.perf_counter(), time.process_time()
    net.train(RATES, None, 1, n_train, save_simulation=False)  # 5.
    train_wall, train_cpu = time.perf_counter() - wall, time.process_time() - cpu
    tests_in_train = n_train % 1000 == 0  # otherwise train() ran none
    if not tests_in_train:  # 7.
        net.test_weights(n_test=n_test)
    # The identity "shuffle" left both sets in file order.
    assert np.array_equal(np.argmax(net.t_train[:, :n_train], axis=0), labels_train)
    assert np.array_equal(np.argmax(net.t_test[:, :n_test], axis=0), labels_test)
    assert len(train_correct) == n_train

    in_train = tests if tests_in_train else []
    pure_wall = train_wall - sum(t["wall_s"] for t in in_train)
    pure_cpu = train_cpu - sum(t["cpu_s"] for t in in_train)
    n_test_examples = sum(t["n_test"] for t in tests)
    final = tests[-1]
    n_chunks = max(1, n_train // 1000)
    chunks = np.array_split(np.array(train_correct), n_chunks)
    return {
        "seed": seed,
        "n_train": n_train,
        "n_test": n_test,
        "final_test_error": final["error"],
        "quick_test_errors": [t["error"] for t in tests[:-1]],
        "quick_test_after": [t["after_examples"] for t in tests[:-1]],
        "train_error_per_1000": [100.0 * (1 - c.mean()) for c in chunks],
        "train_error_epoch_reference": (float(net.training_errors[0]) if tests_in_train else None),
        "final_layer_loss_mean_per_1000": [
            float(c.mean()) for c in np.array_split(net.losses, n_chunks)
        ],
        "time": {
            "train_wall_s_excl_tests": pure_wall,
            "train_cpu_s_excl_tests": pure_cpu,
            "ms_per_train_example_wall": 1e3 * pure_wall / n_train,
            "ms_per_train_example_cpu": 1e3 * pure_cpu / n_train,
            "test_examples_total": n_test_examples,
            "ms_per_test_example_wall": 1e3 * sum(t["wall_s"] for t in tests) / n_test_examples,
            "ms_per_test_example_cpu": 1e3 * sum(t["cpu_s"] for t in tests) / n_test_examples,
            "final_test_ms_per_example_wall": 1e3 * final["wall_s"] / final["n_test"],
            "final_test_ms_per_example_cpu": 1e3 * final["cpu_s"] / final["n_test"],
            "train_call_wall_s_incl_quick_and_final_tests": train_wall,
            "train_call_cpu_s_incl_quick_and_final_tests": train_cpu,
        },
        "tests": tests,
        "train_labels_sha256_16": _sha16(labels_train.astype(np.int64)),
        "test_labels_sha256_16": _sha16(labels_test.astype(np.int64)),
        "settings": {
            k: (v if isinstance(v, bool | int | float) else str(v)) for k, v in settings.items()
        },
        "env": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": version("scipy"),  # the reference uses scipy.special.expit
            "threads": {v: os.environ[v] for v in THREAD_VARS},
        },
    }


def _run_seed_process(args: argparse.Namespace, seed: int) -> dict:
    """Run one seed in a fresh process of this script; return its result."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--reference",
        str(args.reference.resolve()),
        "--work",
        str(args.work),
        "--n-train",
        str(args.n_train),
        "--n-test",
        str(args.n_test),
        "--spikes",
        args.spikes,
        "--one-seed",
        str(seed),
    ]
    # The reference's progress goes to stderr (shown as it comes); stdout carries
    # only the result's JSON line.
    proc = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"seed {seed}: the reference run failed (exit status {proc.returncode})")
    return json.loads(lines[-1])


def _write_json(path: Path, data: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=1) + "\n")


def _default_work() -> Path:
    # Imported only here: neurosim.runner loads Brian2, which nothing else needs.
    from neurosim.runner import cache_dir

    return cache_dir() / "reference-segregated"


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--reference",
        type=Path,
        required=True,
        help="checkout or git archive of jordan-g/Segregated-Dendrite-Deep-Learning",
    )
    parser.add_argument(
        "--mnist",
        type=Path,
        help="folder with the four MNIST IDX .gz files (default: neurosim's lookup)",
    )
    parser.add_argument(
        "--work",
        type=Path,
        help="folder for the reference's .npy inputs (default: neurosim's cache folder)",
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--n-train", type=int, default=10_000)
    parser.add_argument("--n-test", type=int, default=1000)
    parser.add_argument("--json", type=Path, help="write the results here (atomically)")
    parser.add_argument(
        "--spikes",
        choices=("poisson", "bernoulli"),
        default="poisson",
        help="spike draw: the reference's Poisson counts (the anchor) or at most one per step",
    )
    parser.add_argument("--one-seed", type=int, help=argparse.SUPPRESS)  # internal
    args = parser.parse_args(argv)
    for name in ("deep_learning.py", "MNIST.py"):
        if not (args.reference / name).is_file():
            parser.error(f"--reference {args.reference}: no {name} in it")
    if not 1 <= args.n_train <= 60_000 or not 1 <= args.n_test <= 10_000:
        parser.error("--n-train must be 1..60000 and --n-test 1..10000")

    if args.one_seed is not None:  # a seed's own process, started below
        with contextlib.redirect_stdout(sys.stderr):
            result = run_seed(
                args.reference, args.work, args.one_seed, args.n_train, args.n_test, args.spikes
            )
        print(json.dumps(result), flush=True)
        return

    args.work = (args.work or _default_work()).resolve()
    out = {
        "reference": reference_info(args.reference),
        "n_train": args.n_train,
        "n_test": args.n_test,
        "spikes": args.spikes,
        "hidden": list(HIDDEN),
        "rates": list(RATES),
        "train_order_digest": order_digest(np.arange(args.n_train)),
        "data": prepare(args.reference, args.mnist, args.work),
        "runs": {},
        "complete": False,
    }
    print(f"reference commit: {out['reference']['commit']}", flush=True)
    for seed in args.seeds:
        res = _run_seed_process(args, seed)
        out["runs"][str(seed)] = res
        if args.json:  # after every seed, so that a killed run keeps the finished ones
            _write_json(args.json, out)
        t = res["time"]
        line = {
            "seed": seed,
            "errors": [*res["quick_test_errors"], res["final_test_error"]],
            "train_error_per_1000": res["train_error_per_1000"],
            "ms_per_train_example_wall": t["ms_per_train_example_wall"],
            "ms_per_train_example_cpu": t["ms_per_train_example_cpu"],
            "ms_per_test_example_wall": t["ms_per_test_example_wall"],
            "ms_per_test_example_cpu": t["ms_per_test_example_cpu"],
        }
        print(json.dumps(line), flush=True)

    runs = [out["runs"][str(seed)] for seed in args.seeds]
    for seed, res in zip(args.seeds, runs, strict=True):
        t = res["time"]
        print(
            f"seed {seed}: final test error on {args.n_test} test images "
            f"{res['final_test_error']:.2f} %; per training example "
            f"{t['ms_per_train_example_wall']:.2f} ms wall, {t['ms_per_train_example_cpu']:.2f} ms"
            f" CPU; per test example {t['ms_per_test_example_wall']:.2f} ms wall, "
            f"{t['ms_per_test_example_cpu']:.2f} ms CPU",
            flush=True,
        )
    finals = [res["final_test_error"] for res in runs]

    def median_time(key: str) -> float:
        return statistics.median(res["time"][key] for res in runs)

    summary = {
        "final_test_error_median": statistics.median(finals),
        **{
            f"{key}_median": median_time(key)
            for key in (
                "ms_per_train_example_wall",
                "ms_per_train_example_cpu",
                "ms_per_test_example_wall",
                "ms_per_test_example_cpu",
            )
        },
    }
    # Same wording as bench_segregated.py curve, so that the two lines compare directly.
    print(
        f"final test error on {args.n_test} test images: median "
        f"{summary['final_test_error_median']:.2f} %"
        f" over {len(finals)} seed(s) ({', '.join(f'{e:.2f}' for e in finals)})",
        flush=True,
    )
    print(
        f"time per training example: median {summary['ms_per_train_example_wall_median']:.2f} ms"
        f" wall, {summary['ms_per_train_example_cpu_median']:.2f} ms CPU; per test example: "
        f"median {summary['ms_per_test_example_wall_median']:.2f} ms wall, "
        f"{summary['ms_per_test_example_cpu_median']:.2f} ms CPU (over {len(runs)} seed(s))",
        flush=True,
    )
    if args.json:
        _write_json(args.json, {**out, "summary": summary, "complete": True})


if __name__ == "__main__":
    sys.exit(main())
