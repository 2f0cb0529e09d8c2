"""The ``comparison`` protocol kind and ``neurosim compare``: one report, many rules.

On the same data (any labelled image set, :mod:`neurosim.datasets.labelled`)
and architecture, trains the segregated-dendrite
network in Brian2 (unless ``training.segregated`` is false) and torch MLPs
with backprop, feedback alignment, DFA and shallow learning, and writes:

- ``<name>.nc``: test error curves, training time, alignment angles of every
  rule (dims ``rule``, ...), with provenance;
- ``<name>_table.md`` and ``<name>_table.csv``: one row per rule with final
  test error, the error at each curve point (up to :data:`TABLE_POINTS`),
  training time and the update angle's mean over the first and last 10 %;
- plots ``comparison_curves`` (test error vs training examples) and
  ``comparison_angles`` (update angle vs training examples).

The torch networks use the sigmoid of the segregated network's rate
equivalent (see :mod:`neurosim.bridges.segregated`) unless told otherwise.

Every network trains on the first ``train_examples`` training images in the
same order each epoch (:func:`neurosim.datasets.epoch_order` with the
protocol's seed; ``training.shuffle: false`` for file order) and is tested on
the first ``test_examples`` test images; the ``train_order`` variable holds,
per network, the digests of the orders it used
(:func:`neurosim.datasets.order_digest`), equal for all.
"""

from __future__ import annotations

import csv
import io
import math
import time
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from neurosim.bridges.feedback import RULES
from neurosim.datasets import LabelledData, data_spec, order_digest
from neurosim.errors import NeurosimError
from neurosim.kinds import protocol_kind
from neurosim.plotting import PLOTS, save_figure
from neurosim.protocol import Protocol
from neurosim.recording import atomic_path, now
from neurosim.runner import RunResult, protocol_provenance, write_outputs
from neurosim.schema import check_keys, expect

__all__ = ["COMPARISON_KEYS", "run_comparison"]

#: Keys of a comparison protocol's ``training:`` section.
COMPARISON_KEYS = {
    "dataset": "a known set (mnist_subset, mnist, fashion_mnist, ...), a path or a mapping"
    " (see neurosim.datasets.labelled)",
    "hidden_sizes": "hidden layer sizes shared by every network, e.g. [500]",
    "train_examples": "training examples per epoch (default: all)",
    "test_examples": "test examples (default: all)",
    "epochs": "passes over the training examples, an integer >= 1",
    "eval_every": "training examples between test-error measurements",
    "shuffle": "true (default): every network sees the same seeded shuffle each epoch;"
    " false: file order",
    "segregated": "false, or a mapping: learning_rates, angle_every, quick_test_examples",
}

_SEGREGATED_KEYS = {
    "learning_rates": "one learning rate per layer",
    "angle_every": "training examples between backprop-angle probes (0: none)",
    "quick_test_examples": "test examples of each quick test",
}

_TORCH_KEYS = {
    "rules": f"a list of rules out of {', '.join(RULES)}",
    "activation": "sigmoid, tanh or relu",
    "learning_rate": "SGD step size, a number > 0",
    "batch_size": "examples per step (1: online)",
    "momentum": "SGD momentum in [0, 1)",
    "loss": "cross_entropy or mse",
    "angle_every": "steps between angle measurements (0: none)",
    "feedback_scale": "scale of the random feedback matrices (1: torch's weight init scale)",
}

COMPARISON_KEYS["torch"] = f"a mapping: {', '.join(_TORCH_KEYS)}"


def _section(spec: Any, where: str, keys: dict[str, str]) -> dict[str, Any]:
    return check_keys(spec or {}, where, (), tuple(keys))


def _options(protocol: Protocol) -> dict[str, Any]:
    where = protocol.where("training")
    spec = _section(protocol.data.get("training"), where, COMPARISON_KEYS)

    def get(section, key, types, default, keys, at):
        value = section.get(key, default)
        if value is None:
            return None
        return expect(value, types, f"{at}.{key}", keys[key])

    opts = {
        "dataset": data_spec(spec.get("dataset", "mnist_subset"), f"{where}.dataset"),
        "hidden_sizes": tuple(get(spec, "hidden_sizes", list, [500], COMPARISON_KEYS, where)),
        "n_train": get(spec, "train_examples", int, None, COMPARISON_KEYS, where),
        "n_test": get(spec, "test_examples", int, None, COMPARISON_KEYS, where),
        "epochs": get(spec, "epochs", int, 1, COMPARISON_KEYS, where),
        "eval_every": get(spec, "eval_every", int, 1000, COMPARISON_KEYS, where),
        "shuffle": get(spec, "shuffle", bool, True, COMPARISON_KEYS, where),
    }
    seg = spec.get("segregated", {})
    if seg is False:
        opts["segregated"] = None
    else:
        at = f"{where}.segregated"
        seg = _section(expect(seg, dict, at, COMPARISON_KEYS["segregated"]), at, _SEGREGATED_KEYS)
        n_layers = len(opts["hidden_sizes"]) + 1
        opts["segregated"] = {
            "learning_rates": tuple(
                float(r)
                for r in get(seg, "learning_rates", list, [0.21] * n_layers, _SEGREGATED_KEYS, at)
            ),
            "angle_every": get(seg, "angle_every", int, 0, _SEGREGATED_KEYS, at),
            "quick_test_examples": get(seg, "quick_test_examples", int, 500, _SEGREGATED_KEYS, at),
        }
    at = f"{where}.torch"
    tspec = _section(
        expect(spec.get("torch", {}), dict, at, COMPARISON_KEYS["torch"]), at, _TORCH_KEYS
    )
    rules = get(tspec, "rules", list, list(RULES), _TORCH_KEYS, at)
    for rule in rules:
        if rule not in RULES:
            raise NeurosimError(f"{at}.rules: unknown rule {rule!r}; known: {', '.join(RULES)}")
    opts["torch"] = {
        "rules": rules,
        "activation": get(tspec, "activation", str, "sigmoid", _TORCH_KEYS, at),
        "learning_rate": float(get(tspec, "learning_rate", (int, float), 0.1, _TORCH_KEYS, at)),
        "batch_size": get(tspec, "batch_size", int, 1, _TORCH_KEYS, at),
        "momentum": float(get(tspec, "momentum", (int, float), 0.0, _TORCH_KEYS, at)),
        "loss": get(tspec, "loss", str, "cross_entropy", _TORCH_KEYS, at),
        "angle_every": get(tspec, "angle_every", int, 0, _TORCH_KEYS, at),
        "feedback_scale": float(get(tspec, "feedback_scale", (int, float), 1.0, _TORCH_KEYS, at)),
    }
    return opts


def _tail_mean(values, head: bool = False) -> float:
    """Mean of the last (``head``: first) 10 % of a curve's finite values (NaN if none)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    n = max(1, len(values) // 10)
    part = values[:n] if head else values[-n:]
    return float(np.mean(part)) if len(part) else math.nan


def _arrays(data: LabelledData) -> tuple[np.ndarray, ...]:
    """Training and test intensities and labels, as every network of the comparison gets them."""
    return (
        data.intensities("train"),
        data.train_labels,
        data.intensities("test"),
        data.test_labels,
    )


def _run_segregated(opts, seed, target, data: LabelledData, arrays) -> dict[str, Any]:
    from neurosim.networks.segregated import SegregatedConfig, train

    seg = opts["segregated"]
    config = SegregatedConfig(
        hidden_sizes=opts["hidden_sizes"],
        n_outputs=data.n_classes,
        learning_rates=seg["learning_rates"],
        angle_every=seg["angle_every"],
        seed=seed,
    )
    n_train = opts["n_train"] or len(data.train_labels)
    clock = time.perf_counter()
    result = train(
        config,
        *arrays,
        n_epochs=opts["epochs"],
        n_train=n_train,
        n_test=opts["n_test"],
        test_every=opts["eval_every"],
        n_quick_test=min(seg["quick_test_examples"], opts["n_test"] or len(data.test_labels)),
        shuffle=opts["shuffle"],
        target=target,
        record_neurons=0,
    )
    wall = time.perf_counter() - clock
    seen, errors, angle_at, angles = [], [], [], []
    for k, epoch in enumerate(result["epochs"]):
        seen += [k * n_train + int(a) for a in epoch["quick_at"]] + [(k + 1) * n_train]
        errors += [float(e) for e in epoch["quick_errors"]] + [float(epoch["test_error"])]
        angle_at += [k * n_train + int(a) for a in epoch["bp_example"]]
        angles += [float(a) for a in epoch["bp_angle"]]
    return {
        "seen": seen,
        "errors": errors,
        "angle_at": angle_at,
        "angles": angles,
        "final_error": float(result["test_errors"][-1]),
        "time": wall,
        "final_angle": _tail_mean(angles),
        "order_sha256": ",".join(order_digest(e["order"]) for e in result["epochs"]),
    }


def _run_torch(rule, opts, seed, data: LabelledData, arrays) -> dict[str, Any]:
    from neurosim.bridges.mlp import MLPConfig, train_mlp

    t = opts["torch"]
    config = MLPConfig(
        hidden_sizes=opts["hidden_sizes"],
        rule=rule,
        epochs=opts["epochs"],
        seed=seed,
        eval_every=opts["eval_every"],
        shuffle=opts["shuffle"],
        **{key: value for key, value in t.items() if key != "rules"},
    )
    train_x, train_y, test_x, test_y = arrays
    n_train = opts["n_train"] or len(train_x)
    n_test = opts["n_test"] or len(test_x)
    ds = train_mlp(
        config,
        train_x[:n_train],
        train_y[:n_train],
        test_x[:n_test],
        test_y[:n_test],
        n_classes=data.n_classes,
    )
    angles = ds.update_angle.values
    # The last hidden layer's update (the output layer's is backprop's in every rule).
    column = angles[:, -2] if angles.shape[1] >= 2 else np.full(len(angles), math.nan)
    fb = ds.feedback_angle.values
    return {
        "seen": [int(v) for v in ds.curve_examples.values],
        "errors": [float(v) for v in ds.curve_error.values],
        "angle_at": [int(v) * t["batch_size"] for v in ds.angle_step.values],
        "angles": [float(v) for v in column],
        "final_error": float(ds.test_error[-1]),
        "time": float(ds.epoch_time.sum()),
        "final_angle": _tail_mean(column),
        "feedback_angle": float(fb[-1, -1]) if len(fb) else math.nan,
        "order_sha256": ds.attrs["train_order_sha256"],
    }


def _to_dataset(results: dict[str, dict[str, Any]], opts: dict[str, Any]) -> xr.Dataset:
    names = list(results)

    def ragged(key: str, fill=np.nan) -> np.ndarray:
        width = max((len(r[key]) for r in results.values()), default=0)
        out = np.full((len(names), width), fill, dtype=float)
        for k, r in enumerate(results.values()):
            out[k, : len(r[key])] = r[key]
        return out

    ds = xr.Dataset(
        {
            "test_error": ("rule", [r["final_error"] for r in results.values()], {"units": "%"}),
            "train_time": ("rule", [r["time"] for r in results.values()], {"units": "s"}),
            "final_update_angle": (
                "rule",
                [r["final_angle"] for r in results.values()],
                {"units": "degree", "long_name": "last hidden layer, mean of the last 10 %"},
            ),
            "curve_examples": (("rule", "curve_point"), ragged("seen"), {"units": "examples"}),
            "curve_error": (("rule", "curve_point"), ragged("errors"), {"units": "%"}),
            "angle_examples": (("rule", "angle_point"), ragged("angle_at"), {"units": "examples"}),
            "update_angle": (("rule", "angle_point"), ragged("angles"), {"units": "degree"}),
            "train_order": (
                "rule",
                [r["order_sha256"] for r in results.values()],
                {"long_name": "per-epoch digests of the training order (order_digest)"},
            ),
        },
        coords={"rule": names},
    )
    ds.attrs["hidden_sizes"] = str(list(opts["hidden_sizes"]))
    return ds


#: Most curve points the table lists (more: the figure shows them).
TABLE_POINTS = 12


def _table(ds: xr.Dataset) -> tuple[str, str]:
    """Markdown and CSV: per rule the final error, the curve, the time and the angles."""
    seen = ds.curve_examples.values
    # The curve's points as columns only where every rule was tested at the same ones.
    first = seen[0][np.isfinite(seen[0])]
    same = all(np.array_equal(row[np.isfinite(row)], first) for row in seen)
    points = [int(n) for n in first] if same and 1 < len(first) <= TABLE_POINTS else []
    header = (
        "rule",
        "test error (%)",
        *(f"after {n} examples (%)" for n in points),
        "training time (s)",
        "update angle, first 10 % (deg)",
        "update angle, last 10 % (deg)",
    )
    rows = []
    for rule in ds.rule.values:
        at = ds.sel(rule=rule)
        curve = at.curve_error.values[: len(points)]
        rows.append(
            (
                str(rule),
                f"{float(at.test_error):.2f}",
                *(f"{e:.1f}" for e in curve),
                f"{float(at.train_time):.1f}",
                f"{_tail_mean(at.update_angle.values, head=True):.1f}",
                f"{float(at.final_update_angle):.1f}",
            )
        )
    md = "| " + " | ".join(header) + " |\n|" + "---|" * len(header) + "\n"
    md += "".join("| " + " | ".join(r) + " |\n" for r in rows)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(rows)
    return md, buf.getvalue()


@protocol_kind("comparison")
def run_comparison(
    protocol: Protocol, out_dir: Path, *, progress: bool = True, resume: bool = False
) -> RunResult:
    """Train every network of the comparison on the same data; write table, recording, plots."""
    from neurosim.networks.segregated_protocol import load_training_data

    opts = _options(protocol)
    started = now()
    data = load_training_data(opts["dataset"])
    arrays = _arrays(data)  # once: every network gets the same float64 intensities
    results: dict[str, dict[str, Any]] = {}
    if opts["segregated"] is not None:
        if progress:
            print(f"segregated dendrites (Brian2, {protocol.target}) ...", flush=True)
        results["segregated"] = _run_segregated(opts, protocol.seed, protocol.target, data, arrays)
    for rule in opts["torch"]["rules"]:
        if progress:
            print(f"{rule} (torch) ...", flush=True)
        results[rule] = _run_torch(rule, opts, protocol.seed, data, arrays)
    ds = _to_dataset(results, opts)
    ds.attrs.update(protocol_provenance(protocol, started))
    ds.attrs.update(
        data.provenance(
            n_train=opts["n_train"],
            n_test=opts["n_test"],
            seed=protocol.seed,
            shuffle=opts["shuffle"],
        )
    )
    out = write_outputs(protocol, ds, out_dir)
    md, text = _table(ds)
    name = protocol.output.get("name", protocol.name)
    for suffix, content in (("_table.md", md), ("_table.csv", text)):
        path = Path(out_dir) / f"{name}{suffix}"
        with atomic_path(path) as tmp:
            tmp.write_text(content)
        out.files.append(path)
    out.summary += md.rstrip("\n").split("\n")
    return out


#: Legend names of the networks a comparison trains.
RULE_NAMES = {
    "segregated": "segregated dendrites (Brian2)",
    "backprop": "backprop",
    "fa": "feedback alignment",
    "dfa": "direct feedback alignment",
    "shallow": "shallow (output layer only)",
}


def _examples_axis(ax, x_max: float) -> float:
    """Label the x axis with training examples, in millions past 100,000; the factor."""
    if x_max > 1e5:
        ax.set_xlabel("training examples (millions)")
        return 1e-6
    ax.set_xlabel("training examples")
    return 1.0


def _require(ds: xr.Dataset, names: tuple[str, ...], path: str | Path) -> None:
    """One line, as the other plot kinds say it, for a recording that is no comparison."""
    if "rule" not in ds.dims or any(name not in ds for name in names):
        raise NeurosimError(
            f"{path}: the recording has no comparison ({', '.join(names)} per rule)"
        )


def plot_curves(ds: xr.Dataset, path: str | Path) -> list[Path]:
    """Test error against training examples, one line per rule."""
    from matplotlib.ticker import FuncFormatter, LogLocator

    _require(ds, ("curve_examples", "curve_error"), path)
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    factor = _examples_axis(ax, float(np.nanmax(ds.curve_examples.values)))
    for k, rule in enumerate(ds.rule.values):
        x, y = ds.curve_examples.values[k], ds.curve_error.values[k]
        ok = ~np.isnan(x)
        ax.plot(x[ok] * factor, y[ok], "o-", ms=3, label=RULE_NAMES.get(str(rule), str(rule)))
    name = ds.attrs.get("data_name")
    ax.set(
        ylabel="test error (%)",
        yscale="log",
        title=f"Test error of each learning rule{f' on {name}' if name else ''}",
    )
    # plain numbers on the log axis (2, 3, 5, 10 %), not 2 x 10^0
    plain = FuncFormatter(lambda value, _: f"{value:g}")
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_locator(LogLocator(subs=(2.0, 3.0, 5.0)))
    ax.yaxis.set_minor_formatter(plain)
    ax.legend(frameon=False)
    fig.tight_layout()
    return [save_figure(fig, Path(path))]


def plot_angles(ds: xr.Dataset, path: str | Path) -> list[Path]:
    """Angle between each rule's last-hidden-layer update and backprop's."""
    _require(ds, ("angle_examples", "update_angle"), path)
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    factor = _examples_axis(ax, float(np.nanmax(ds.angle_examples.values)))
    for k, rule in enumerate(ds.rule.values):
        x, y = ds.angle_examples.values[k], ds.update_angle.values[k]
        ok = ~np.isnan(x) & ~np.isnan(y)
        if ok.any():
            ax.plot(x[ok] * factor, y[ok], lw=0.8, label=RULE_NAMES.get(str(rule), str(rule)))
    ax.axhline(90, color="k", lw=0.5, ls="--")
    ax.set(
        ylabel="angle to backprop (degree)",
        ylim=(0, 120),
        title="Angle between each rule's hidden-layer update and backprop's",
    )
    ax.legend(frameon=False)
    fig.tight_layout()
    return [save_figure(fig, Path(path))]


PLOTS.update({"comparison_curves": plot_curves, "comparison_angles": plot_angles})
