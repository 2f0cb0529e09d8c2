"""The ``segregated_dendrite`` protocol kind: MNIST training as a neurosim run.

A protocol's ``training:`` section configures
:class:`~neurosim.networks.segregated.SegregatedConfig` and the data; every
epoch is one Brian2 run (see :mod:`neurosim.networks.segregated`), a checkpoint
is written after each epoch in the output folder, and ``neurosim run ...
--resume`` continues from it. The checkpoint holds everything the final write
needs, so a resumed run writes the same recording as an uninterrupted one; a
run killed during its final write is finished by ``--resume``, and ``--resume``
of a finished run does nothing. The result Dataset holds the test error per
epoch, the quick-test learning curve, training loss, plateau potentials,
phase times, compartment traces of a few neurons and the final weights.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from neurosim.atomic import remove_stale
from neurosim.checkpoints import missing_checkpoint
from neurosim.datasets import as_rates, load_mnist, load_mnist_subset
from neurosim.errors import NeurosimError
from neurosim.kinds import protocol_kind
from neurosim.networks.segregated import (
    INITS,
    SPIKE_DRAWS,
    Checkpoint,
    SegregatedConfig,
    mark_outputs_written,
    read_checkpoint,
    train,
)
from neurosim.plotting import PLOTS, save_figure
from neurosim.protocol import Protocol
from neurosim.recording import now
from neurosim.runner import (
    RunResult,
    expected_outputs,
    protocol_provenance,
    write_outputs,
)
from neurosim.schema import check_keys, expect

__all__ = ["TRAINING_KEYS", "load_training_data", "run_segregated", "training_config"]

#: Keys of the ``training:`` section and what each must be.
TRAINING_KEYS = {
    "dataset": "'mnist_subset' (shipped) or 'mnist' (full set, see load_mnist)",
    "hidden_sizes": "a list of hidden layer sizes, [] for none",
    "learning_rates": "a list of one learning rate per layer (hidden layers, then output)",
    "epochs": "an integer >= 1",
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
        "dataset": spec.get("dataset", "mnist_subset"),
        "epochs": get("epochs", int, 1),
        "n_train": get("train_examples", int, None),
        "n_test": get("test_examples", int, None),
        "test_every": get("test_every", int, None),
        "n_quick_test": get("quick_test_examples", int, 100),
        "shuffle": get("shuffle", bool, True),
        "record_neurons": get("record_neurons", int, 5),
        "trace_window": tuple(get("trace_steps", list, [0, 0])),
    }
    if options["dataset"] not in ("mnist_subset", "mnist"):
        raise NeurosimError(
            f"{where}.dataset: expected 'mnist_subset' or 'mnist', got {options['dataset']!r}"
        )
    if options["epochs"] < 1:
        raise NeurosimError(f"{where}.epochs: has to be an integer >= 1, got {options['epochs']}")
    return config, options


def load_training_data(dataset: str) -> tuple[np.ndarray, ...]:
    """Training and test images (intensities in [0, 1]) and labels of a dataset."""
    if dataset == "mnist_subset":
        data = load_mnist_subset()
        parts = (data.train_images, data.train_labels, data.test_images, data.test_labels)
    else:
        parts = (*load_mnist("train"), *load_mnist("test"))
    return as_rates(parts[0]), parts[1], as_rates(parts[2]), parts[3]


@protocol_kind("segregated_dendrite")
def run_segregated(
    protocol: Protocol, out_dir: Path, *, progress: bool = True, resume: bool = False
) -> RunResult:
    """Train the segregated-dendrite network as the protocol says; write the recording."""
    config, options = training_config(protocol)
    started = now()
    dataset, epochs = options.pop("dataset"), options.pop("epochs")
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
    train_x, train_y, test_x, test_y = load_training_data(dataset)
    if progress:
        print(
            f"training {protocol.name}: {epochs} epoch(s), one Brian2 run each "
            f"({protocol.target}); checkpoint {checkpoint}",
            flush=True,
        )
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
        **options,
    )
    ds = to_dataset(result, config)
    ds.attrs = protocol_provenance(
        protocol,
        started,
        wall_time_s=time.perf_counter() - clock,
        resumed_from_epoch=epochs - len(result["epochs"]),
    )
    out = write_outputs(protocol, ds, out_dir, resume=resume)
    # Only now is the run finished: a kill before this line leaves a
    # checkpoint from which --resume writes the outputs again.
    mark_outputs_written(checkpoint, config)
    out.files.append(checkpoint)
    out.summary.append(
        f"test error per epoch: {', '.join(f'{e:.2f}' for e in result['test_errors'])} %"
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


_COMPARTMENTS = {"B": "basal", "A": "apical", "C": "soma"}


def to_dataset(result: dict[str, Any], config: SegregatedConfig) -> xr.Dataset:
    """The training result as a recording Dataset (last epoch's details)."""
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
    for name, mats in zip(("W", "b", "Y", "c"), result["weights"], strict=True):
        for m, mat in enumerate(mats):
            mat = np.asarray(mat, float)
            dims = tuple(f"{name}{m}_dim{k}" for k in range(mat.ndim))
            data[f"{name}_{m}"] = xr.DataArray(mat, dims=dims, attrs={"units": "1"})
    return xr.Dataset(data, attrs={"hidden_sizes": str(config.hidden_sizes)})


def plot_learning_curve(ds: xr.Dataset, path: str | Path) -> list[Path]:
    """Test error per epoch and the quick-test curve of the last epoch."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    axes[0].plot(ds.epoch.values + 1, ds.test_error.values, "o-")
    axes[0].set(xlabel="epoch", ylabel="test error (%)", title="end-of-epoch test")
    if "quick_error" in ds:
        axes[1].plot(ds.examples_seen.values, ds.quick_error.values, "o-")
    axes[1].set(
        xlabel="training examples (last epoch)", ylabel="test error (%)", title="quick tests"
    )
    fig.tight_layout()
    return [save_figure(fig, Path(path))]


def plot_compartments(ds: xr.Dataset, path: str | Path) -> list[Path]:
    """Recorded basal, apical and somatic potentials of the first hidden layer."""
    names = [v for v in ("layer0_B", "layer0_A", "layer0_C") if v in ds]
    if not names:
        raise NeurosimError(f"{path}: no compartment traces recorded (set training.trace_steps)")
    fig, axes = plt.subplots(len(names), 1, figsize=(8, 2 * len(names)), sharex=True)
    for ax, name in zip(np.atleast_1d(axes), names, strict=True):
        ax.plot(ds[name][ds[name].dims[0]].values, ds[name].values, lw=0.8)
        ax.set_ylabel(f"{name.split('_')[1]} ({ds[name].attrs['compartment']})")
    np.atleast_1d(axes)[-1].set_xlabel("time step (1 ms)")
    fig.tight_layout()
    return [save_figure(fig, Path(path))]


PLOTS.update(
    {
        "learning_curve": plot_learning_curve,
        "compartments": plot_compartments,
    }
)
