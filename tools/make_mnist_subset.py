"""Make data/mnist-subset.npz (or another set's subset): a stratified, seeded sample.

Run from the repository root:

    python -m tools.make_mnist_subset                 # writes data/mnist-subset.npz
    python -m tools.make_mnist_subset --check         # regenerates in memory, compares
    python -m tools.make_mnist_subset --dataset fashion_mnist \
        --source /usr/share/datasets/fashion-mnist    # writes data/fashion-mnist-subset.npz

The full set is read with `neurosim.datasets.load_dataset`, so its files are checked
against the set's pinned checksums before anything is sampled. The printed digest
is what `neurosim.datasets.mnist.SUBSETS` pins.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from neurosim.datasets import (
    KNOWN_SETS,
    SUBSETS,
    MnistData,
    load_dataset,
    load_mnist_subset,
    subset_sha256,
)

__all__ = ["make_subset", "stratified_indices"]

#: Full set -> the name of its shipped subset.
SUBSETS_OF = {s.parent: name for name, s in SUBSETS.items()}

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = {"mnist": REPO.parent / "shared" / "data" / "mnist"}
SEED = 20171205
N_TRAIN = 5000
N_TEST = 1000


def stratified_indices(labels: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Return `n` sorted indices whose class counts follow the proportions of `labels`.

    Each class gets floor(n * share) examples; the remaining ones go to the classes
    with the largest remainders (ties to the lower class), so every count is within
    1 of proportional. Integer arithmetic keeps the allocation exact.
    """
    classes, counts = np.unique(labels, return_counts=True)
    quota, remainder = np.divmod(n * counts, len(labels))
    # Stable sort on -remainder: largest remainder first, lower class on ties.
    order = np.argsort(-remainder, kind="stable")
    quota[order[: n - quota.sum()]] += 1
    picked = [
        rng.choice(np.flatnonzero(labels == c), size=k, replace=False)
        for c, k in zip(classes, quota, strict=True)
    ]
    return np.sort(np.concatenate(picked)).astype(np.int32)


def make_subset(
    source: Path | None, seed: int, n_train: int, n_test: int, dataset: str = "mnist"
) -> MnistData:
    """Sample the subset from the full set in `source` (train first, then test)."""
    rng = np.random.default_rng(seed)
    spec = {"name": dataset, "path": str(source)} if source is not None else dataset
    full = load_dataset(spec)
    parts = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images = full.train_images if split == "train" else full.test_images
        labels = (full.train_labels if split == "train" else full.test_labels).astype(np.uint8)
        idx = stratified_indices(labels, n, rng)
        parts[split] = (images[idx], labels[idx], idx)
    (tr_x, tr_y, tr_i), (te_x, te_y, te_i) = parts["train"], parts["test"]
    return MnistData(tr_x, tr_y, te_x, te_y, tr_i, te_i)


def _save_atomically(data: MnistData, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, **data._asdict())
        # mkstemp creates 0600; the subset is shipped, so make it readable by all.
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    finally:
        Path(tmp).unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist", choices=sorted(KNOWN_SETS))
    parser.add_argument("--source", type=Path, default=None, help="folder of the full set")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--n-train", type=int, default=N_TRAIN)
    parser.add_argument("--n-test", type=int, default=N_TEST)
    parser.add_argument(
        "--check", action="store_true", help="compare with --out instead of writing it"
    )
    args = parser.parse_args(argv)
    subset = SUBSETS.get(SUBSETS_OF.get(args.dataset, ""))  # None: not pinned yet
    source = args.source or DEFAULT_SOURCE.get(args.dataset)
    name = subset.file if subset else f"{args.dataset.replace('_', '-')}-subset.npz"
    args.out = args.out or REPO / "data" / name

    data = make_subset(source, args.seed, args.n_train, args.n_test, args.dataset)
    digest = subset_sha256(data)
    if args.check:
        shipped = load_mnist_subset(args.out, expected_sha256=None)
        same = subset_sha256(shipped) == digest
        pinned = subset is not None and digest == subset.sha256
        print(f"{args.out}: {'matches' if same else 'DIFFERS FROM'} the regenerated subset")
        print(f"regenerated arrays SHA-256 {digest} ({'=' if pinned else '!='} the pinned one)")
        return 0 if same and pinned else 1
    _save_atomically(data, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")
    print(f"arrays SHA-256 {digest}")
    for split, labels in (("train", data.train_labels), ("test", data.test_labels)):
        print(f"{split} class counts {np.bincount(labels, minlength=10).tolist()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
