"""Ship a segregated run's trained weights in data/pretrained/, with a check users can rerun.

Run from the repository root:

    python -m tools.ship_weights results/mnist60/segregated_mnist_full_weights.npz \\
        --check-on mnist_subset --out data/pretrained/segregated_mnist.npz

The weights file a run writes (``<name>_weights.npz``: float32 weights, config,
test errors, data provenance) is copied with one addition: the test error of the
weights, run as a spiking Brian2 network learning nothing (``training.epochs: 0``),
on the first ``--examples`` test images of a shipped subset. ``tests/test_pretrained.py``
reruns exactly that on every shipped file and compares.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["check_error", "ship"]

#: Seed of the check run (its spike draws).
CHECK_SEED = 0


def check_error(weights: Path, dataset: str, examples: int, config) -> float:
    """Test error (%) of `weights` on the first `examples` test images of `dataset`."""
    from neurosim import load_recording
    from neurosim.cli import main

    with tempfile.TemporaryDirectory() as out:
        args = ["run", "segregated_mnist_demo", "--out", out, "--quiet"]
        for item in (
            f"training.dataset={dataset}",
            "training.epochs=0",
            f"training.weights={weights}",
            f"training.test_examples={examples}",
            f"training.hidden_sizes={list(config.hidden_sizes)}",
            f"training.learning_rates={list(config.learning_rates)}",
            f"training.spikes={config.spikes}",
            f"training.layer_delay={str(config.layer_delay).lower()}",
            f"training.apical_conductance={str(config.apical_conductance).lower()}",
            f"training.feedback_bias={str(config.feedback_bias).lower()}",
            "training.trace_steps=[0, 0]",
            f"seed={CHECK_SEED}",
            "output.plots=[]",
        ):
            args += ["--set", item]
        if main(args) != 0:
            raise SystemExit(f"the check run of {weights} failed")
        return float(load_recording(Path(out) / "segregated_mnist_demo.nc").test_error[0])


def ship(source: Path, out: Path, dataset: str, examples: int) -> dict:
    """Copy `source` to `out` with the check's result in its header; return the header."""
    from neurosim.networks.segregated import SegregatedConfig
    from neurosim.networks.segregated_protocol import load_weights, save_weights

    with np.load(source, allow_pickle=False) as npz:
        meta = json.loads(str(npz["meta"]))
        arrays = {k: npz[k] for k in npz.files if k != "meta"}
    config = SegregatedConfig(
        **{
            k: tuple(v) if isinstance(v, list) else v
            for k, v in meta.pop("config").items()
            if k in SegregatedConfig.__dataclass_fields__
        }
    )
    # the package's own reader: shapes checked against the config it was saved with
    weights, _ = load_weights(source, config, arrays["W_0"].shape[1])
    error = check_error(source, dataset, examples, config)
    meta["check"] = {
        "dataset": dataset,
        "test_examples": examples,
        "seed": CHECK_SEED,
        "test_error": error,
        "how": "neurosim run segregated_mnist_demo with training.epochs=0, training.weights=this"
        " file, training.test_examples and seed as here",
    }
    meta.pop("format", None)
    meta.pop("format_version", None)
    meta.pop("neurosim_version", None)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_weights(out, weights, config, meta)
    return meta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="a run's <name>_weights.npz")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--check-on", default="mnist_subset", help="shipped subset")
    parser.add_argument("--examples", type=int, default=100)
    args = parser.parse_args(argv)
    meta = ship(args.source, args.out, args.check_on, args.examples)
    print(
        f"wrote {args.out} ({args.out.stat().st_size} bytes): test error "
        f"{meta.get('test_error', float('nan')):.2f} % on {meta.get('data_test_examples')} "
        f"test images of {meta.get('data_name')}; check on the first {args.examples} of "
        f"{args.check_on}: {meta['check']['test_error']:.2f} %"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
