"""Segregated-dendrite network: local rule, fixed feedback, learning, resume."""

import os

import numpy as np
import pytest

from neurosim.datasets import load_mnist_subset
from neurosim.networks.segregated import (
    SegregatedConfig,
    init_weights,
    run_epoch,
    train,
)
from neurosim.plasticity.segregated_dendrite import hidden_update, output_update
from neurosim.runner import cache_dir

CACHE = cache_dir()
SMALL = SegregatedConfig(hidden_sizes=(20,), seed=3)
# cpp_standalone compiles a network in ~25 s and reuses the build for every
# later epoch of the same shape (~0.5 s each); cython needs ~1 min per network
# variant, so the file would not stay near 2 minutes cold. Set
# NEUROSIM_SEGREGATED_TARGET=cython to run these tests on the runtime target.
TARGET = os.environ.get("NEUROSIM_SEGREGATED_TARGET", "cpp_standalone")


@pytest.fixture(scope="module")
def mnist():
    d = load_mnist_subset()
    return (
        d.train_images / 255.0,
        d.train_labels.astype(int),
        d.test_images / 255.0,
        d.test_labels.astype(int),
    )


def _one_example(mnist, config):
    weights = init_weights(config, 784)
    new, res = run_epoch(
        config, weights, *mnist, 0, n_train=1, n_test=1, target=TARGET, cache_dir=CACHE
    )
    return weights, new, res


def test_weights_change_only_by_the_local_rule(mnist):
    weights, new, res = _one_example(mnist, SMALL)
    inp, hid, out = res["phase_averages"]
    common = {"lambda_max": 0.2}
    h = hidden_update(
        weights.W[0],
        weights.b[0],
        psp_f=inp["psp_f"],
        C_f=hid["C_f"],
        alpha_f=hid["alpha_f"],
        alpha_t=hid["alpha_t"],
        eta=0.21,
        P_h=20 / 0.2,
        k_B=0.6 / 0.7,
        **common,
    )
    o = output_update(
        weights.W[1],
        weights.b[1],
        psp_f=hid["psp_f"],
        C_f=out["C_f"],
        phi_t=out["phi_t"],
        eta=0.21,
        P_f=20 / 0.2**2,
        k_D=0.6 / 0.7,
        **common,
    )
    for got, want, before in (
        (new.W[0], h.W, weights.W[0]),
        (new.W[1], o.W, weights.W[1]),
        (new.b[0], h.b, weights.b[0]),
        (new.b[1], o.b, weights.b[1]),
    ):
        assert np.abs(got - before).max() > 1e-6  # the example did change them
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_feedback_weights_fixed_unless_symmetric(mnist):
    weights, new, _ = _one_example(mnist, SMALL)
    np.testing.assert_array_equal(new.Y[0], weights.Y[0])
    sym = SegregatedConfig(hidden_sizes=(20,), seed=3, symmetric_feedback=True)
    weights, new, _ = _one_example(mnist, sym)
    np.testing.assert_array_equal(weights.Y[0], weights.W[1].T)
    assert np.abs(new.Y[0] - weights.Y[0]).max() > 1e-6
    np.testing.assert_array_equal(new.Y[0], new.W[1].T)


def test_resume_is_bit_identical(mnist, tmp_path):
    kwargs = {"n_train": 20, "n_test": 5, "target": TARGET, "cache_dir": CACHE}
    full = train(SMALL, *mnist, n_epochs=2, **kwargs)
    ckpt = tmp_path / "ckpt.npz"
    train(SMALL, *mnist, n_epochs=1, checkpoint=ckpt, **kwargs)
    resumed = train(SMALL, *mnist, n_epochs=2, checkpoint=ckpt, resume=True, **kwargs)
    w_full, w_resumed = full["weights"], resumed["weights"]
    for a, b in zip(w_full.W + w_full.b, w_resumed.W + w_resumed.b, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(full["test_errors"], resumed["test_errors"])


def test_learns_well_below_chance(mnist):
    # The paper's (500,) network on the shipped subset, one standalone run
    # (~25 s of compiling when cold, ~20 s of simulation). Early learning is
    # slow and noisy, in the reference code too (quick-test errors 70, 69,
    # 47 % after 1000, 2000, 3000 examples, 100 test images). Measured here
    # after 3000 examples, seeds 0, 1, 2, 3: test error 47.0, 73.5, 67.0,
    # 54.0 % (200 images); training error over examples 2001-3000 68.2, 70.6,
    # 68.1, 67.4 %. Chance is 90 % (s.d. 0.9 % over 1000 examples, 2.1 % over
    # 200 images). The training error is the steadier statistic, so it
    # carries the tighter bound; the test bound only has to exclude chance.
    config = SegregatedConfig(hidden_sizes=(500,), seed=0)
    res = train(
        config,
        *mnist,
        n_epochs=1,
        n_train=3000,
        n_test=200,
        target="cpp_standalone",
        cache_dir=CACHE,
    )
    train_error = 100 * (1 - res["epochs"][0]["train_correct"][-1000:].mean())
    assert train_error < 78.0
    assert res["test_errors"][-1] < 80.0
