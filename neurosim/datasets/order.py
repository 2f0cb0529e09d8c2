"""Which training examples a network sees, and in what order.

One definition for every learner of the project (the segregated-dendrite
network in Brian2 and the torch MLPs), so that a comparison trains them on
the same examples in the same order: the training examples are the first
``n_examples`` of the training file, in file order; epoch ``k`` shows them in
the order of ``numpy.random.default_rng([seed, k]).permutation(n_examples)``
(the reference code of Guerguiev et al. shuffles before every epoch), or in
file order when ``shuffle`` is false (how the reference anchor of the
learning-curve benchmark was run: the first 10,000 images, in file order).
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["epoch_order", "example_order", "order_digest"]


def example_order(rng: np.random.Generator, n_examples: int, shuffle: bool = True) -> np.ndarray:
    """Indices into the first ``n_examples`` examples in presentation order.

    Parameters
    ----------
    rng : numpy.random.Generator
        The epoch's generator (one permutation is drawn from it if ``shuffle``).
    n_examples : int
        Number of training examples (the first ``n_examples`` of the file).
    shuffle : bool
        Permute them (True) or keep file order (False; nothing is drawn).

    Returns
    -------
    numpy.ndarray
        Integer indices, a permutation of ``0 .. n_examples - 1``.
    """
    return rng.permutation(n_examples) if shuffle else np.arange(n_examples)


def epoch_order(n_examples: int, seed: int, epoch: int, shuffle: bool = True) -> np.ndarray:
    """Presentation order of epoch ``epoch`` for base seed ``seed``.

    Parameters
    ----------
    n_examples : int
        Number of training examples (the first ``n_examples`` of the file).
    seed : int
        Base seed of the run.
    epoch : int
        Epoch index (0-based).
    shuffle : bool
        False: file order in every epoch.

    Returns
    -------
    numpy.ndarray
        Integer indices, a permutation of ``0 .. n_examples - 1``.
    """
    return example_order(np.random.default_rng([seed, epoch]), n_examples, shuffle)


def order_digest(order: np.ndarray) -> str:
    """Short SHA-256 (16 hex digits) of one epoch's presentation order.

    Lets a comparison record, and a test check, that two learners saw the same
    examples in the same order without storing the orders themselves.
    """
    data = np.ascontiguousarray(np.asarray(order, dtype=np.int64))
    return hashlib.sha256(data.tobytes()).hexdigest()[:16]
