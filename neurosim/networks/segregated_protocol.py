"""The ``segregated_dendrite`` protocol kind: training on a labelled image set as a neurosim run.

A protocol's ``training:`` section configures
:class:`~neurosim.networks.segregated.SegregatedConfig` and the data (any
labelled image set, :mod:`neurosim.datasets.labelled`: the input layer has
one unit per pixel, the output layer one neuron per class); every
epoch is one Brian2 run (see :mod:`neurosim.networks.segregated`), a checkpoint
is written after each epoch in the output folder, and ``neurosim run ...
--resume`` continues from it. The checkpoint holds everything the final write
needs, so a resumed run writes the same recording as an uninterrupted one; a
run killed during its final write is finished by ``--resume``, and ``--resume``
of a finished run does nothing. The result Dataset holds the test error per
epoch, the quick-test learning curve, training loss, plateau potentials,
phase times, compartment traces of a few neurons, the output rates of the
final test and the final (and initial) weights, with the data set's files and
checksums in its attributes. The trained weights are also written as
``<name>_weights.npz`` (:func:`save_weights`); ``training.weights: FILE``
with ``training.epochs: 0`` runs such a file as a spiking network on test
images, learning nothing.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
import zipfile
import zlib
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.ticker import MaxNLocator

from neurosim._version import __version__
from neurosim.atomic import atomic_path, remove_stale
from neurosim.checkpoints import missing_checkpoint
from neurosim.datasets import DataSpec, LabelledData, data_spec, load_dataset
from neurosim.errors import NeurosimError, excerpt
from neurosim.kinds import protocol_kind
from neurosim.networks.segregated import (
    CHECKPOINT_KEYS,
    INITS,
    SPIKE_DRAWS,
    Checkpoint,
    SegregatedConfig,
    Weights,
    checkpoint_from_state,
    init_weights,
    mark_outputs_written,
    read_checkpoint,
    run_epoch,
    train,
)
from neurosim.paths import user_path
from neurosim.plotting import PLOTS, save_figure
from neurosim.progress import brian2_report
from neurosim.protocol import Protocol
from neurosim.recording import now
from neurosim.runner import (
    RunResult,
    expected_outputs,
    protocol_provenance,
    write_outputs,
)
from neurosim.schema import check_keys, expect

__all__ = [
    "TRAINING_KEYS",
    "load_training_data",
    "load_weights",
    "run_segregated",
    "save_weights",
    "training_config",
]

#: Keys of the ``training:`` section and what each must be.
TRAINING_KEYS = {
    "dataset": "a known set (mnist_subset, mnist, fashion_mnist, kmnist, emnist_*), a path"
    " (.npz, IDX folder, class folders) or a mapping (see neurosim.datasets.labelled)",
    "weights": "a weights file written by a run (<name>_weights.npz) to start from;"
    " with epochs: 0 the network only runs the test",
    "hidden_sizes": "a list of hidden layer sizes, [] for none",
    "learning_rates": "a list of one learning rate per layer (hidden layers, then output)",
    "epochs": "an integer >= 1 (0: test the weights of training.weights only)",
    "train_examples": "training examples per epoch (default: the whole training set)",
    "test_examples": "test examples of the end-of-epoch test (default: all)",
    "test_every": "training examples between quick tests (default: none)",
    "quick_test_examples": "test examples of each quick test",
    "apical_conductance": "true: g_A = 0.05 (the paper's apical-conductance variant)",
    "sparse_feedback": "true: 80 % of the feedback weights zeroed, the rest x5",
    "symmetric_feedback": "true: feedback weights follow W^T (a control, not local)",
    "random_phase_lengths": "true: Wald-distributed extra phase lengths (the paper)",
    "record_neurons": "number of neurons per layer whose plateaus and traces are kept",
    "trace_steps": "[start, stop) time steps of the epoch whose compartments are recorded",
    "angle_every": "training examples between backprop-angle probes (0: none)",
    "init": "'reference' (default: the reference code's initial weights) or 'narrow'",
    "feedback_bias": "true: apical offsets c in A = Y . PSP + c (off in the reference)",
    "spikes": "'poisson' (default: spike counts per step, as the reference) or 'bernoulli'"
    " (at most one spike per step)",
    "layer_delay": "true: spikes reach the next layer one step after they are drawn"
    " (off: in the same step, as in the reference)",
    "shuffle": "true (default): a seeded shuffle of the training examples every epoch;"
    " false: file order",
}


def training_config(protocol: Protocol) -> tuple[SegregatedConfig, dict[str, Any]]:
    """Validate the ``training:`` section; return the network config and run options."""
    where = protocol.where("training")
    spec = check_keys(protocol.data.get("training") or {}, where, (), tuple(TRAINING_KEYS))

    def get(key, types, default):
        value = spec.get(key, default)
        return (
            expect(value, types, f"{where}.{key}", TRAINING_KEYS[key])
            if value is not None
            else None
        )

    hidden = tuple(get("hidden_sizes", list, [500]))
    rates = tuple(float(r) for r in get("learning_rates", list, [0.21] * (len(hidden) + 1)))
    flags = {
        k: get(k, bool, False)
        for k in ("apical_conductance", "sparse_feedback", "symmetric_feedback")
    }
    flags["random_phase_lengths"] = get("random_phase_lengths", bool, True)
    flags["feedback_bias"] = get("feedback_bias", bool, False)
    flags["layer_delay"] = get("layer_delay", bool, False)

    def choose(key: str, choices: tuple[str, ...]) -> str:
        value = get(key, str, choices[0])
        if value not in choices:
            raise NeurosimError(
                f"{where}.{key}: expected one of {', '.join(map(repr, choices))}, got {value!r}"
            )
        return value

    init, spikes = choose("init", INITS), choose("spikes", SPIKE_DRAWS)
    config = SegregatedConfig(
        hidden_sizes=hidden,
        learning_rates=rates,
        init=init,
        spikes=spikes,
        angle_every=get("angle_every", int, 0),
        seed=protocol.seed,
        **flags,
    )
    options = {
        "dataset": data_spec(spec.get("dataset", "mnist_subset"), f"{where}.dataset"),
        "weights": get("weights", str, None),
        "epochs": get("epochs", int, 1),
        "n_train": get("train_examples", int, None),
        "n_test": get("test_examples", int, None),
        "test_every": get("test_every", int, None),
        "n_quick_test": get("quick_test_examples", int, 100),
        "shuffle": get("shuffle", bool, True),
        "record_neurons": get("record_neurons", int, 5),
        "trace_window": tuple(get("trace_steps", list, [0, 0])),
    }
    least = 0 if options["weights"] else 1
    if options["epochs"] < least:
        raise NeurosimError(
            f"{where}.epochs: has to be an integer >= {least}"
            + ("" if least == 0 else " (0 only with training.weights)")
            + f", got {options['epochs']}"
        )
    return config, options


def load_training_data(dataset: DataSpec | str | dict) -> LabelledData:
    """The data set a ``training.dataset`` value names (:func:`neurosim.datasets.load_dataset`)."""
    return load_dataset(dataset, "training.dataset")


_WEIGHTS_FORMAT = "neurosim-segregated-weights"
#: Config fields that change how a network with given weights responds to a test image.
_SAME_FOR_A_TEST = (
    "spikes",
    "layer_delay",
    "apical_conductance",
    "apical_g_A",
    "feedback_bias",
    "psp_memory",
    "test_steps",
    "test_integration_steps",
)


def save_weights(
    path: str | Path, weights: Weights, config: SegregatedConfig, meta: dict[str, Any]
) -> Path:
    """Write trained weights with their provenance, atomically (``.npz``, float32).

    Parameters
    ----------
    path : str or Path
        The file to write.
    weights : Weights
        The network's weights.
    config : SegregatedConfig
        The config they were trained with (stored, and checked on load).
    meta : dict
        Provenance: test error, epochs, the data set's provenance attributes.

    Returns
    -------
    Path
    """
    arrays = {
        f"{name}_{m}": np.asarray(mat, np.float32)
        for name, mats in zip(Weights._fields, weights, strict=True)
        for m, mat in enumerate(mats)
    }
    header = {
        "format": _WEIGHTS_FORMAT,
        "format_version": 1,
        "neurosim_version": __version__,
        "config": dataclasses.asdict(config),
        **meta,
    }
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, meta=np.array(json.dumps(header, default=str)), **arrays)
    return path


def load_weights(
    path: str | Path,
    config: SegregatedConfig,
    n_inputs: int,
    classes: tuple[str, ...] | None = None,
) -> tuple[Weights, dict]:
    """Read a weights file for ``config`` and ``n_inputs`` pixels; return (weights, its metadata).

    Parameters
    ----------
    path : str or Path
        A file written by :func:`save_weights`.
    config : SegregatedConfig
        The network the weights are for: layer sizes, and the test dynamics
        (:data:`_SAME_FOR_A_TEST`) that must be those the weights were trained with.
    n_inputs : int
        Pixels per image of the data they will see.
    classes : tuple of str, optional
        The data's class names; refused if the weights were trained on other classes.

    Raises
    ------
    NeurosimError
        One line naming the file: missing, not a weights file, made for other
        layer sizes than the protocol's and the data's, holding arrays of a
        deeper network, trained with other test dynamics or on other classes.
    """
    path = user_path(path, "training.weights")
    if not path.is_file():
        raise NeurosimError(f"training.weights: no such file {path}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            meta = json.loads(str(npz["meta"]))
            arrays = {k: npz[k].astype(np.float64) for k in npz.files if k != "meta"}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise NeurosimError(f"{path}: not a neurosim weights file ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != _WEIGHTS_FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise NeurosimError(f"{path}: not a neurosim weights file (format {found!r})")
    saved = meta.get("config")
    saved = saved if isinstance(saved, dict) else {}
    for key in _SAME_FOR_A_TEST:
        ours = getattr(config, key)
        if key in saved and saved[key] != (list(ours) if isinstance(ours, tuple) else ours):
            raise NeurosimError(
                f"{path}: trained with training.{key} = {excerpt(saved[key])}, the protocol says "
                f"{ours!r}; set it as in training (a test of other dynamics is not this network's)"
            )
    expected = init_weights(config, n_inputs)  # shapes only; cheap next to a run
    network = (
        f"the network ({n_inputs} inputs, hidden {list(config.hidden_sizes)}, "
        f"{config.n_outputs} outputs)"
    )
    out, wanted = [], set()
    for name, mats in zip(Weights._fields, expected, strict=True):
        got = []
        for m, mat in enumerate(mats):
            key = f"{name}_{m}"
            wanted.add(key)
            if key not in arrays or arrays[key].shape != np.shape(mat):
                shape = arrays[key].shape if key in arrays else "missing"
                raise NeurosimError(f"{path}: {key} is {shape}, {network} needs {np.shape(mat)}")
            if not np.all(np.isfinite(arrays[key])):
                raise NeurosimError(f"{path}: {key} holds NaN or infinite weights")
            got.append(arrays[key])
        out.append(tuple(got))
    extra = sorted(set(arrays) - wanted)
    if extra:
        # a deeper network's file whose first layers happen to fit: not this network
        raise NeurosimError(f"{path}: holds {', '.join(extra)}, which {network} does not have")
    trained_on = meta.get("data_classes")
    if classes is not None and isinstance(trained_on, str):
        try:
            trained_on = json.loads(trained_on)
        except ValueError:
            trained_on = None
        if isinstance(trained_on, list) and trained_on != list(classes):
            raise NeurosimError(
                f"{path}: trained on the classes of {meta.get('data_name', 'another set')} "
                f"({excerpt(trained_on)}), the data's are {excerpt(list(classes))}"
            )
    return Weights(*out), meta


@protocol_kind("segregated_dendrite")
def run_segregated(
    protocol: Protocol, out_dir: Path, *, progress: bool = True, resume: bool = False
) -> RunResult:
    """Train the segregated-dendrite network as the protocol says; write the recording."""
    config, options = training_config(protocol)
    started = now()
    dataset, epochs = options.pop("dataset"), options.pop("epochs")
    weights_file = options.pop("weights")
    data = load_training_data(dataset)
    # the output layer has one neuron per class of the data
    config = dataclasses.replace(config, n_outputs=data.n_classes)
    provenance = data.provenance(
        n_train=options["n_train"],
        n_test=options["n_test"],
        seed=protocol.seed,
        shuffle=options["shuffle"],
    )
    start = None
    if weights_file is not None:
        start, meta = load_weights(weights_file, config, data.n_inputs, data.classes)
        provenance["start_weights"] = str(user_path(weights_file, "training.weights"))
        provenance["start_weights_test_error"] = float(meta.get("test_error", np.nan))
    checkpoint = Path(out_dir) / "checkpoint.npz"
    remove_stale(out_dir)
    if resume:
        if not checkpoint.exists():
            raise missing_checkpoint(checkpoint)
        saved = read_checkpoint(checkpoint, config)
        if (
            saved.epoch >= epochs
            and saved.outputs_written
            and all(p.exists() for p in expected_outputs(protocol, out_dir))
        ):
            return RunResult(
                to_dataset(_saved_result(saved), config),
                [],
                [f"{protocol.name}: already finished: {saved.epoch} epochs; nothing to do"],
            )
    if epochs == 0:
        return _test_only(protocol, out_dir, config, start, data, provenance, options, started)
    train_x, train_y = data.intensities("train"), data.train_labels
    test_x, test_y = data.intensities("test"), data.test_labels
    if progress:
        print(
            f"training {protocol.name}: {epochs} epoch(s), one Brian2 run each "
            f"({protocol.target}); checkpoint {checkpoint}",
            flush=True,
        )
    # within an epoch: Brian2's own report, on a terminal only (issue 18: make
    # demo was silent for its minute of training)
    options["report"] = brian2_report(protocol.name, protocol.target == "cpp_standalone", progress)
    clock = time.perf_counter()
    result = train(
        config,
        train_x,
        train_y,
        test_x,
        test_y,
        n_epochs=epochs,
        checkpoint=checkpoint,
        resume=resume,
        target=protocol.target,
        data=provenance,
        weights=start,
        **options,
    )
    initial = start if start is not None else init_weights(config, data.n_inputs)
    ds = to_dataset(result, config, initial=initial)
    ds.attrs = protocol_provenance(
        protocol,
        started,
        wall_time_s=time.perf_counter() - clock,
        resumed_from_epoch=epochs - len(result["epochs"]),
    )
    ds.attrs.update(provenance)
    out = write_outputs(protocol, ds, out_dir, resume=resume)
    out.files.append(_write_weights(protocol, out_dir, result, config, provenance, epochs))
    # Only now is the run finished: a kill before this line leaves a
    # checkpoint from which --resume writes the outputs again.
    mark_outputs_written(checkpoint, config)
    out.files.append(checkpoint)
    out.summary.append(
        f"test error per epoch: {', '.join(f'{e:.2f}' for e in result['test_errors'])} %"
    )
    return out


def _write_weights(protocol, out_dir, result, config, provenance, epochs) -> Path:
    name = protocol.output.get("name", protocol.name)
    errors = np.asarray(result["test_errors"], float)
    meta = {
        "protocol": protocol.name,
        "seed": protocol.seed,
        "epochs": int(epochs),
        "test_error": float(errors[-1]) if len(errors) else float("nan"),
        "test_errors": [float(e) for e in errors],
        **provenance,
    }
    return save_weights(Path(out_dir) / f"{name}_weights.npz", result["weights"], config, meta)


def _test_only(protocol, out_dir, config, weights, data, provenance, options, started):
    """``epochs: 0``: one Brian2 run of the test examples through fixed weights."""
    if (Path(out_dir) / "checkpoint.npz").exists():
        # the folder holds a training run: its recording and plots must not be replaced
        raise NeurosimError(
            f"{out_dir}: holds a training run (checkpoint.npz); give a test-only run its own --out"
        )
    clock = time.perf_counter()
    options = {k: v for k, v in options.items() if k not in ("test_every", "n_quick_test")}
    options["n_train"] = 0
    test_x = data.intensities("test")
    _, res = run_epoch(
        config,
        weights,
        test_x[:1],  # a placeholder: n_train is 0, no training example is shown
        data.test_labels[:1],
        test_x,
        data.test_labels,
        0,
        target=protocol.target,
        **options,
    )
    result = {
        "test_errors": np.asarray([res["test_error"]]),
        "epochs": [res],
        "last_epoch": res,
        "weights": weights,
    }
    ds = to_dataset(result, config)
    ds.attrs = protocol_provenance(protocol, started, wall_time_s=time.perf_counter() - clock)
    ds.attrs.update(provenance)
    ds.attrs["trained_epochs"] = 0
    ds.attrs["data_train_examples"] = 0
    out = write_outputs(protocol, ds, out_dir)
    out.summary.append(
        f"test error of {provenance['start_weights']} on {provenance['data_test_examples']} "
        f"test examples: {res['test_error']:.2f} %"
    )
    return out


def _saved_result(saved: Checkpoint) -> dict[str, Any]:
    """A checkpoint as the result dict :func:`to_dataset` takes."""
    return {
        "test_errors": np.asarray(saved.test_errors),
        "epochs": [],
        "last_epoch": saved.last_epoch,
        "weights": saved.weights,
    }


def checkpoint_recording(path: str | Path) -> xr.Dataset:
    """A segregated run's checkpoint as a recording: a look at a run still training.

    The checkpoint after each epoch holds the test errors so far and that
    epoch's details, so ``neurosim plot CHECKPOINT --kind learning_curve``
    (or ``weights``, ``class_templates``, ``compartments``) draws a long run
    while it goes on, and any run killed before its last epoch.

    Raises
    ------
    NeurosimError
        One line naming the file: not a checkpoint, another kind's, or empty
        or truncated.
    """
    from neurosim.checkpoints import corrupt_checkpoint, load_checkpoint
    from neurosim.recording import provenance

    path = Path(path)
    # Read once, without a config to compare with: the checkpoint's own is the run's.
    state = load_checkpoint(path, "segregated", keys=CHECKPOINT_KEYS)
    known = {f.name for f in dataclasses.fields(SegregatedConfig)}
    try:
        saved = state["config"]
        config = SegregatedConfig(
            **{k: tuple(v) if isinstance(v, list) else v for k, v in saved.items() if k in known}
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        raise corrupt_checkpoint(path) from None
    ckpt = checkpoint_from_state(path, state)
    ds = to_dataset(_saved_result(ckpt), config)
    ds.attrs = provenance(
        checkpoint=str(path),
        checkpoint_epoch=ckpt.epoch,
        checkpoint_written=str(state.get("written", "")),
        seed=config.seed,
        config=json.dumps(saved),
    )
    ds.attrs.update(ckpt.data or {})
    return ds


_COMPARTMENTS = {"B": "basal", "A": "apical", "C": "soma"}


def to_dataset(
    result: dict[str, Any], config: SegregatedConfig, initial: Weights | None = None
) -> xr.Dataset:
    """The training result as a recording Dataset (last epoch's details).

    ``initial``: the weights training started from, kept as ``W_<m>_initial``
    so that plots can show what learning changed.
    """
    errors = np.asarray(result["test_errors"], float)
    data: dict[str, xr.DataArray] = {
        "test_error": xr.DataArray(
            errors,
            dims=("epoch",),
            coords={"epoch": np.arange(len(errors))},
            attrs={"units": "percent", "measurement": "test_error"},
        ),
    }
    last = result["last_epoch"]
    if last is not None:
        data["quick_error"] = xr.DataArray(
            np.asarray(last["quick_errors"], float),
            dims=("quick_test",),
            coords={"examples_seen": ("quick_test", np.asarray(last["quick_at"], np.int64))},
            attrs={"units": "percent"},
        )
        if "quick_size" in last:  # not in checkpoints written before it was kept
            data["quick_error"].attrs["test_examples"] = int(last["quick_size"])
        if len(last["bp_angle"]):
            data["backprop_angle"] = xr.DataArray(
                np.asarray(last["bp_angle"], float),
                dims=("probe",),
                coords={"probe_example": ("probe", np.asarray(last["bp_example"], np.int64))},
                attrs={
                    "units": "degree",
                    "long_name": "angle(last hidden layer's local update, backprop's)",
                },
            )
        data["train_loss"] = xr.DataArray(
            np.asarray(last["loss"], float), dims=("example",), attrs={"units": "1"}
        )
        data["phase_start"] = xr.DataArray(
            np.asarray(last["phase_start"], np.int64),
            dims=("phase",),
            attrs={"units": "step (1 ms)"},
        )
        data["phase_kind"] = xr.DataArray(
            np.asarray(last["phase_kind"], np.int64), dims=("phase",), attrs={"units": "1"}
        )
        if "phase_label" in last:
            data["phase_label"] = xr.DataArray(
                np.asarray(last["phase_label"], np.int64),
                dims=("phase",),
                attrs={"units": "1", "long_name": "class of the example each phase shows"},
            )
        if "test_rates" in last:
            data["test_output_rate"] = xr.DataArray(
                np.asarray(last["test_rates"], float),
                dims=("test_example", "output"),
                attrs={
                    "units": "Hz",
                    "long_name": "output neurons' rate lambda_max sigma(C) over the integration"
                    " window of each example of the final test",
                },
            )
            data["test_label"] = xr.DataArray(
                np.asarray(last["test_labels"], np.int64),
                dims=("test_example",),
                attrs={"units": "1", "long_name": "class of each example of the final test"},
            )
        for m, (pf, pt) in enumerate(zip(last["plateau_f"], last["plateau_t"], strict=True)):
            dims = ("example", f"hidden{m}_recorded")
            data[f"plateau_forward_{m}"] = xr.DataArray(pf, dims=dims, attrs={"units": "1"})
            data[f"plateau_target_{m}"] = xr.DataArray(pt, dims=dims, attrs={"units": "1"})
        for m, rec in enumerate(last["traces"]):
            # samples come as (step, neuron i, value) events: pivot to (step, neuron)
            steps, step_index = np.unique(np.asarray(rec["step"]), return_inverse=True)
            neurons, neuron_index = np.unique(np.asarray(rec["i"]), return_inverse=True)
            coords = {f"layer{m}_step": steps, f"layer{m}_neuron": neurons}
            for var in (v for v in rec if v not in ("step", "i")):
                values = np.full((len(steps), len(neurons)), np.nan)
                values[step_index, neuron_index] = np.asarray(rec[var], float)
                data[f"layer{m}_{var}"] = xr.DataArray(
                    values,
                    dims=tuple(coords),
                    coords=coords,
                    attrs={"units": "1", "compartment": _COMPARTMENTS.get(var, "")},
                )
    if initial is not None:
        for m, mat in enumerate(initial.W):
            dims = tuple(f"W{m}_dim{k}" for k in range(2))
            data[f"W_{m}_initial"] = xr.DataArray(
                np.asarray(mat, float), dims=dims, attrs={"units": "1"}
            )
    for name, mats in zip(("W", "b", "Y", "c"), result["weights"], strict=True):
        for m, mat in enumerate(mats):
            mat = np.asarray(mat, float)
            dims = tuple(f"{name}{m}_dim{k}" for k in range(mat.ndim))
            data[f"{name}_{m}"] = xr.DataArray(mat, dims=dims, attrs={"units": "1"})
    return xr.Dataset(data, attrs={"hidden_sizes": str(config.hidden_sizes)})


def _final_test_size(ds: xr.Dataset) -> int | None:
    n = ds.attrs.get("data_test_examples")
    return int(n) if n is not None else None


def plot_learning_curve(ds: xr.Dataset, path: str | Path) -> list[Path]:
    """End-of-epoch test error per epoch, and the last epoch's quick-test curve.

    Each panel says how many test images its points are measured on; with one
    epoch the left panel shows the single final test as a labelled point.
    """
    if "test_error" not in ds or "epoch" not in ds.dims:
        raise NeurosimError(f"{path}: the recording has no test error per epoch (segregated run)")
    n_final = _final_test_size(ds)
    on = f" ({n_final} test images)" if n_final else ""
    if ds.attrs.get("trained_epochs") == 0:
        return _plot_one_test(ds, path, n_final)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    epochs, errors = ds.epoch.values + 1, ds.test_error.values
    axes[0].plot(epochs, errors, "o-", color="C0")
    axes[0].annotate(
        f"{errors[-1]:.2f} %", (epochs[-1], errors[-1]), textcoords="offset points", xytext=(6, 6)
    )
    axes[0].set(
        xlabel="epoch",
        ylabel="test error (%)",
        title=f"end-of-epoch test{on}",
        xlim=(0.5, max(epochs[-1], 1) + 0.5),
    )
    if len(epochs) <= 15:
        axes[0].set_xticks(epochs)  # whole epochs only (a locator would add 0.1 steps)
    else:
        axes[0].xaxis.set_major_locator(MaxNLocator(integer=True))
    if "quick_error" in ds and ds.sizes.get("quick_test", 0):
        n_quick = ds.quick_error.attrs.get("test_examples")
        label = f"quick tests ({n_quick} test images)" if n_quick else "quick tests"
        axes[1].plot(ds.examples_seen.values, ds.quick_error.values, "o-", ms=3, label=label)
        n_seen = int(ds.attrs.get("data_train_examples", ds.examples_seen.values[-1]))
        axes[1].plot([n_seen], [errors[-1]], "s", color="C3", label=f"final test{on}")
        axes[1].legend(frameon=False, fontsize=8)
    else:
        axes[1].text(0.5, 0.5, "no quick tests (training.test_every)", ha="center", va="center")
    axes[1].set(
        xlabel=f"training examples (epoch {len(epochs)})",
        ylabel="test error (%)",
        title="during the last epoch",
    )
    name = ds.attrs.get("data_name")
    title = f"Test error of the segregated-dendrite network{f' on {name}' if name else ''}"
    if "checkpoint_epoch" in ds.attrs:  # drawn from a run still training (or stopped)
        title += f"\nfrom its checkpoint after epoch {ds.attrs['checkpoint_epoch']}"
        written = ds.attrs.get("checkpoint_written")
        title += f" (written {written})" if written else ""
    fig.suptitle(title)
    fig.tight_layout()
    return [save_figure(fig, Path(path))]


def _plot_one_test(ds: xr.Dataset, path: str | Path, n_test: int | None) -> list[Path]:
    """The one test of a run that learned nothing (``training.epochs: 0``): no curve to draw."""
    error = float(ds.test_error.values[-1])
    name = ds.attrs.get("data_name", "test set")
    fig, ax = plt.subplots(figsize=(4.5, 3.8))
    ax.bar([0], [error], width=0.5, color="C0")
    ax.annotate(f"{error:.2f} %", (0, error), ha="center", xytext=(0, 3),
                textcoords="offset points")  # fmt: skip
    ax.set_xticks([0], [f"{name}\n({n_test} test images)" if n_test else name])
    ax.set_xlim(-1, 1)
    ax.set_ylabel("test error (%)")
    ax.set_title(
        "Test error of the loaded weights\n(training.epochs: 0, nothing learned in this run)",
        fontsize=10,
    )
    fig.tight_layout()
    return [save_figure(fig, Path(path))]


def _image_shape(ds: xr.Dataset, n_pixels: int) -> tuple[int, int]:
    """(rows, columns) of the input images: recorded with the data, else square if possible."""
    shape = ds.attrs.get("data_image_shape")
    if shape:
        dims = json.loads(shape)
        if len(dims) == 2 and dims[0] * dims[1] == n_pixels:
            return dims[0], dims[1]
    side = math.isqrt(n_pixels)
    return (side, side) if side * side == n_pixels else (1, n_pixels)


def _class_names(ds: xr.Dataset, n: int) -> list[str]:
    names = json.loads(ds.attrs["data_classes"]) if "data_classes" in ds.attrs else []
    return names if len(names) == n else [str(k) for k in range(n)]


def _image_grid(images, titles, suptitle, path, label: str, each: bool = False) -> list[Path]:
    """Images on one symmetric colour scale, with one colourbar labelled ``label``.

    ``each``: every image divided by its own largest magnitude first (the
    sign pattern is what shows a class), so the scale runs from -1 to 1.
    """
    count = len(images)
    cols = min(count, 10)
    rows = int(np.ceil(count / cols))
    if each:
        images = [im / (float(np.max(np.abs(im))) or 1.0) for im in images]
    scale = max(float(np.max(np.abs(im))) for im in images) or 1.0
    fig, axes = plt.subplots(
        rows, cols, figsize=(1.25 * cols + 1.4, 1.45 * rows + 1.0), squeeze=False
    )
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < count:
            image = ax.imshow(images[k], cmap="RdBu_r", vmin=-scale, vmax=scale)
            ax.set_title(titles[k], fontsize=7)
    fig.suptitle(suptitle, fontsize=9)
    fig.tight_layout()
    fig.colorbar(image, ax=axes, shrink=0.9, fraction=0.03, pad=0.02, label=label)
    return [save_figure(fig, Path(path))]


def plot_class_templates(ds: xr.Dataset, path: str | Path) -> list[Path]:
    """What each output neuron responds to in pixel space: the product of the layers' weights.

    Row k of ``W_L ... W_1 W_0`` (the linear path from the pixels to output
    neuron k) drawn as an image: trained networks show their classes' shapes.
    """
    layers = sorted(
        int(v.split("_")[1])
        for v in ds.data_vars
        if str(v).count("_") == 1 and str(v).startswith("W_")
    )
    if not layers:
        raise NeurosimError(f"{path}: the recording has no weights W_0 ... (segregated network)")
    product = ds[f"W_{layers[0]}"].values
    for m in layers[1:]:
        product = ds[f"W_{m}"].values @ product
    shape = _image_shape(ds, product.shape[1])
    names = _class_names(ds, product.shape[0])
    images = [row.reshape(shape) for row in product]
    return _image_grid(
        images,
        names,
        "What drives each output neuron: its row of W_out ... W_0 as an image "
        "(red raises, blue lowers its rate)",
        path,
        "weight / largest |weight|",
        each=True,
    )


def plot_weight_change(ds: xr.Dataset, path: str | Path, units: int = 20) -> list[Path]:
    """First hidden layer: each unit's weight change since the start, W_0 - W_0 initial."""
    if "W_0_initial" in ds:
        change = ds["W_0"].values - ds["W_0_initial"].values
        relative = np.linalg.norm(change) / (np.linalg.norm(ds["W_0_initial"].values) or 1.0)
        title = (
            "Change of the hidden units' input weights during training, W_0 - W_0 at the start "
            f"(relative change {relative:.3f})"
        )
    elif ds.attrs.get("trained_epochs") == 0 and "W_0" in ds:
        # a test-only run learns nothing: show the loaded weights themselves
        change = ds["W_0"].values
        title = "Hidden units' input weights W_0 as loaded (training.epochs: 0: nothing learned)"
    else:
        raise NeurosimError(f"{path}: the recording has no initial weights (W_0_initial)")
    shape = _image_shape(ds, change.shape[1])
    count = min(units, change.shape[0])
    return _image_grid(
        [change[k].reshape(shape) for k in range(count)],
        [f"unit {k}" for k in range(count)],
        title,
        path,
        "weight change (dimensionless)" if "W_0_initial" in ds else "weight (dimensionless)",
    )


def plot_compartments(ds: xr.Dataset, path: str | Path) -> list[Path]:
    """Basal, apical and somatic potentials of the first hidden layer, with the phases.

    Phase boundaries are drawn as vertical lines (forward solid, target
    dashed, test dotted), each phase labelled with its example's class.
    """
    names = [v for v in ("layer0_B", "layer0_A", "layer0_C") if v in ds]
    if not names:
        raise NeurosimError(f"{path}: no compartment traces recorded (set training.trace_steps)")
    fig, axes = plt.subplots(len(names), 1, figsize=(9, 2.1 * len(names)), sharex=True)
    axes = np.atleast_1d(axes)
    steps = ds[names[0]][ds[names[0]].dims[0]].values
    for ax, name in zip(axes, names, strict=True):
        lines = ax.plot(steps, ds[name].values, lw=0.8)
        # the model's potentials are dimensionless (Guerguiev et al. 2017): "a.u."
        ax.set_ylabel(f"{name.split('_')[1]} ({ds[name].attrs['compartment']}), a.u.")
    neurons = ds[names[0]].dims[1] if ds[names[0]].ndim > 1 else None
    if neurons is not None and len(lines) <= 10:
        axes[0].legend(
            lines,
            [f"neuron {int(n)}" for n in ds[neurons].values],
            fontsize=7,
            ncol=len(lines),
            loc="lower left",
            frameon=False,
        )
    during = "the test" if ds.attrs.get("trained_epochs") == 0 else "training"
    fig.suptitle(
        f"Hidden-layer compartment potentials of {len(lines)} neurons during {during} "
        "(dimensionless model units)",
        fontsize=10,
    )
    if "phase_start" in ds and len(steps):
        starts, kinds = ds.phase_start.values, ds.phase_kind.values
        labels = ds.phase_label.values if "phase_label" in ds else None
        n_classes = int(ds.sizes.get("output", 0)) or (
            int(labels.max()) + 1 if labels is not None else 0
        )
        classes = _class_names(ds, n_classes)
        styles = {0: ("-", "forward"), 1: ("--", "target"), 2: (":", "test")}
        shown = (starts >= steps[0] - 1) & (starts <= steps[-1])
        for k in np.flatnonzero(shown):
            style, _ = styles.get(int(kinds[k]), ("-", ""))
            for ax in axes:
                ax.axvline(starts[k], color="0.4", lw=0.6, ls=style)
            if labels is not None and int(kinds[k]) in (0, 2):
                name = classes[labels[k]] if labels[k] < len(classes) else str(labels[k])
                axes[0].annotate(
                    name,
                    (starts[k], 1.0),
                    xycoords=("data", "axes fraction"),
                    xytext=(2, 2),
                    textcoords="offset points",
                    fontsize=7,
                )
        axes[0].set_title(
            "phases: forward (solid), target (dashed), test (dotted); class above",
            fontsize=8,
            pad=14,
        )
    axes[-1].set_xlabel("time step (1 ms)")
    fig.tight_layout()
    return [save_figure(fig, Path(path))]


PLOTS.update(
    {
        "learning_curve": plot_learning_curve,
        "compartments": plot_compartments,
        "class_templates": plot_class_templates,
        "weight_change": plot_weight_change,
    }
)
