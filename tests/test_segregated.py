"""Segregated-dendrite network: local rule, fixed feedback, learning, resume."""

import os

import numpy as np
import pytest

from neurosim.datasets import load_mnist_subset
from neurosim.errors import NeurosimError
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


def _one_example(mnist, config, target=TARGET):
    weights = init_weights(config, 784)
    new, res = run_epoch(
        config, weights, *mnist, 0, n_train=1, n_test=1, target=target, cache_dir=CACHE
    )
    return weights, new, res


def test_weights_change_only_by_the_local_rule(mnist):
    _check_local_rule(*_one_example(mnist, SMALL))


@pytest.mark.parametrize("target", ["numpy", "cython"])
def test_runtime_targets_apply_the_local_rule(mnist, target):
    # The runtime targets run the same generated code paths as cpp_standalone
    # (schedule, traces, learning pathway); a tiny network keeps numpy's
    # per-step overhead and cython's compile short.
    tiny = SegregatedConfig(hidden_sizes=(4,), seed=5)
    _check_local_rule(*_one_example(mnist, tiny, target))


def _check_local_rule(weights, new, res):
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


def _reference_psp(spikes, n, steps, delay, memory=10, tau_L=10.0, tau_s=3.0):
    """PSPs (steps, n) of spike counts with the reference's kernel and finite memory.

    The reference's PSP of a spike history weighs a spike drawn at step t by
    kappa(k) at step t + k - 1, k = 1..memory (it counts in the step it is
    drawn); with a ``delay`` of one step, at t + k.
    """
    psp = np.zeros((steps, n))
    for k in range(1, memory + 1):
        kappa = (np.exp(-k / tau_L) - np.exp(-k / tau_s)) / (tau_L - tau_s)
        at = spikes["step"] + k - 1 + delay
        keep = at < steps
        np.add.at(psp, (at[keep], spikes["i"][keep]), kappa * spikes["count"][keep])
    return psp


def _traced(res, m, variable, steps):
    """(steps, neurons) array of a recorded trace of layer ``m``."""
    rec = res["traces"][m]
    out = np.full((steps, rec["i"].max() + 1), np.nan)
    keep = rec["step"] < steps
    out[rec["step"][keep], rec["i"][keep]] = rec[variable][keep]
    return out


@pytest.mark.parametrize("layer_delay", [False, True])
def test_basal_potentials_are_weights_times_the_reference_psp(mnist, layer_delay):
    # B = W . PSP + b at every step of two training examples, the PSP of the
    # layer below's recorded spikes with the reference's kernel, and after the
    # first example W and b changed by the rule applied to averages of the
    # recorded traces: pins when a spike reaches the next layer (in the step
    # it is drawn, as in the reference, or one step later with layer_delay),
    # which PSP the rule averages, and that the learning pathway keeps the
    # traces exact (the rank-one corrections of the input ring).
    config = SegregatedConfig(hidden_sizes=(20,), seed=3, layer_delay=layer_delay)
    w0 = init_weights(config, 784)
    _, res = run_epoch(
        config, w0, *mnist, 0, n_train=2, n_test=1, target=TARGET, cache_dir=CACHE,
        record_neurons=20, trace_window=(0, 10_000),
    )  # fmt: skip
    starts = res["phase_start"]
    assert list(res["phase_kind"][:4]) == [0, 1, 0, 1]  # forward, target, forward, target
    update, end = starts[2], starts[4]  # the first update acts from step starts[2] on
    fwd = slice(starts[1] - config.integration_steps, starts[1])  # averaging windows
    tgt = slice(starts[2] - config.integration_steps, starts[2])
    psp = [
        _reference_psp(res["trace_spikes"][m], n, end, int(layer_delay))
        for m, n in enumerate((784, 20))
    ]
    lam, rate = 0.2, config.learning_rates
    A, C_h, C_o = _traced(res, 0, "A", end), _traced(res, 0, "C", end), _traced(res, 1, "C", end)
    sigmoid = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    h = hidden_update(
        w0.W[0], w0.b[0], psp_f=psp[0][fwd].mean(0), C_f=C_h[fwd].mean(0),
        alpha_f=sigmoid(A[fwd].mean(0)), alpha_t=sigmoid(A[tgt].mean(0)),
        eta=rate[0], P_h=20 / lam, k_B=0.6 / 0.7, lambda_max=lam,
    )  # fmt: skip
    o = output_update(
        w0.W[1], w0.b[1], psp_f=psp[1][fwd].mean(0), C_f=C_o[fwd].mean(0),
        phi_t=(lam * sigmoid(C_o[tgt])).mean(0), eta=rate[1], P_f=20 / lam**2,
        k_D=0.6 / 0.7, lambda_max=lam,
    )  # fmt: skip
    for m, new in enumerate((h, o)):
        assert np.abs(new.W - w0.W[m]).max() > 1e-3  # the first example did learn
        B = _traced(res, m, "B", end)
        assert np.isnan(B[1:]).sum() == 0  # every step recorded (from step 1 on)
        want = np.vstack([psp[m][:update] @ w0.W[m].T + w0.b[m], psp[m][update:] @ new.W.T + new.b])
        np.testing.assert_allclose(B[1:], want[1:], rtol=1e-9, atol=1e-9)


def _reference_spread(n_pre, lambda_max=0.2):
    """Mean and half-width of the reference code's uniform draw for ``n_pre`` inputs."""
    v_avg, v_sd, b_avg, nu = 3.0, 3.0, 0.8, lambda_max / 4
    w_avg = (v_avg - b_avg) / (nu * n_pre * v_avg)
    v_sm = v_sd**2 + v_avg**2
    w_sm = (
        v_sm
        + nu**2 * (n_pre - n_pre**2) * w_avg**2 * v_avg**2
        - 2 * n_pre * nu * b_avg * v_avg * w_avg
        - b_avg**2
    ) / (n_pre * nu**2 * v_sm)
    return w_avg, 3.465 * np.sqrt(w_sm - w_avg**2)


def _uniform_ok(x, mean, half):
    # U(mean - half, mean + half): inside the interval, reaching within 10 mean
    # gaps of both ends (chance of failing e^-10), s.d. half / sqrt(3) and mean
    # within 4 standard errors (the s.e. of a uniform sample's s.d. is
    # sqrt(0.2 / n) relative).
    n, gap = x.size, 2 * half / x.size
    assert x.min() >= mean - half and x.max() <= mean + half
    assert x.min() < mean - half + 10 * gap and x.max() > mean + half - 10 * gap
    np.testing.assert_allclose(x.std(), half / np.sqrt(3), rtol=4 * np.sqrt(0.2 / n))
    assert abs(x.mean() - mean) < 4 * half / np.sqrt(3 * n)


@pytest.mark.parametrize("spikes", ["poisson", "bernoulli"])
def test_input_spike_counts_follow_the_chosen_draw(mnist, spikes):
    # Over one training example, every input draws counts with mean
    # lambda = 0.2 * pixel per step: the total count matches sum(lambda) per
    # step, and the second factorial moment E[s (s - 1)] is lambda^2 for
    # Poisson counts (the reference's np.random.poisson) and exactly 0 for
    # Bernoulli spikes. Limits: 5 standard deviations of each sum.
    config = SegregatedConfig(hidden_sizes=(20,), seed=5, spikes=spikes)
    _, res = run_epoch(
        config, init_weights(config, 784), *mnist, 0, n_train=1, n_test=1, target=TARGET,
        cache_dir=CACHE, trace_window=(0, 10_000),
    )  # fmt: skip
    start, stop = res["phase_start"][0], res["phase_start"][2]  # forward + target phase
    lam = 0.2 * mnist[0][res["order"][0]]
    spk = res["trace_spikes"][0]
    inside = (spk["step"] >= start) & (spk["step"] < stop)
    count = spk["count"][inside].astype(float)
    steps = stop - start
    assert count.min() >= 1 and count.max() <= 3
    total, pairs = count.sum(), (count * (count - 1)).sum()
    assert abs(total - steps * lam.sum()) < 5 * np.sqrt(steps * lam.sum())
    if spikes == "bernoulli":
        assert pairs == 0
    else:
        want, sd = steps * (lam**2).sum(), np.sqrt(steps * (4 * lam**3 + 2 * lam**2).sum())
        assert abs(pairs - want) < 5 * sd
        assert want > 5 * sd  # so that Bernoulli's 0 could not pass the line above


def test_spike_history_must_fit_one_integer():
    # psp_memory + 1 steps of counts share one int32: base 4 (Poisson counts
    # up to 3) fits 15 steps, base 2 (Bernoulli) 30.
    assert SegregatedConfig(psp_memory=14).psp_memory == 14
    assert SegregatedConfig(psp_memory=29, spikes="bernoulli").psp_memory == 29
    with pytest.raises(NeurosimError, match=r"SegregatedConfig\.psp_memory: .*\[1, 14\], got 15"):
        SegregatedConfig(psp_memory=15)
    with pytest.raises(NeurosimError, match=r"SegregatedConfig\.spikes: has to be one of"):
        SegregatedConfig(spikes="binomial")


def test_initial_weights_are_the_reference_codes():
    # Issue 13: the reference draws W = W_avg + 3.465 W_sd U(-1, 1) (s.d. 1.01
    # for 784 inputs, 1.26 for 500), biases around 0.8, every Y independently
    # with the formula of the layer above, and no feedback bias.
    w = init_weights(SegregatedConfig(hidden_sizes=(500,), seed=1), 784)
    np.testing.assert_allclose(w.W[0].std(), 1.01, atol=0.01)
    np.testing.assert_allclose(w.W[1].std(), 1.26, atol=0.04)
    np.testing.assert_allclose(w.Y[0].std(), 1.26, atol=0.04)
    two = init_weights(SegregatedConfig(hidden_sizes=(500, 100), learning_rates=(0.2,) * 3), 784)
    for weights, ins in ((w, (784, 500)), (two, (784, 500, 100))):
        for m, n_pre in enumerate(ins):
            _uniform_ok(weights.W[m], *_reference_spread(n_pre))
            _uniform_ok(weights.b[m], 0.8, 3.465 * 0.001)
        for m, n_pre in enumerate(ins[1:]):
            # Y to hidden layer m: drawn with the formula of layer m + 1.
            assert weights.Y[m].shape == (n_pre, 10)
            _uniform_ok(weights.Y[m], *_reference_spread(n_pre))
            np.testing.assert_array_equal(weights.c[m], 0.0)


def test_initial_weight_options():
    base = SegregatedConfig(hidden_sizes=(50,), seed=2)
    ref = init_weights(base, 784)
    biased = init_weights(SegregatedConfig(hidden_sizes=(50,), seed=2, feedback_bias=True), 784)
    # The bias option changes c only: the reference's use_feedback_bias draw.
    for a, b in zip(ref.W + ref.b + ref.Y, biased.W + biased.b + biased.Y, strict=True):
        np.testing.assert_array_equal(a, b)
    _uniform_ok(biased.c[0], 0.8, 3.465 * 0.001)
    narrow = init_weights(
        SegregatedConfig(hidden_sizes=(50,), seed=2, init="narrow", feedback_bias=True), 784
    )
    # neurosim's former start: same means, half the spread, Y a zero-mean product, c = Y . u.
    w_avg, half = _reference_spread(784)
    _uniform_ok(narrow.W[0], w_avg, half / 2)
    assert abs(narrow.Y[0].mean()) < 0.1 and narrow.c[0].std() > 0.5
    with pytest.raises(NeurosimError, match=r"SegregatedConfig\.init: has to be one of"):
        SegregatedConfig(init="centered")


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


def test_hidden_learning_helps_and_points_along_backprop(mnist):
    # System level, at a budget where hidden learning shows: a 30-unit hidden
    # layer on the first 3,000 shipped images, tested on 500. The same network
    # with hidden learning off (output layer only) stays near chance; with the
    # local rule the hidden updates lie within 90 degrees of backprop's.
    # Measured (seeds 0, 1): test error 65.0, 63.0 % against 88.0, 90.4 % with
    # hidden learning off; training error over examples 2001-3000 76.9, 77.9
    # against 90.0, 88.3 %; mean angle to backprop over the last quarter of
    # the probes 83.6, 82.3 degrees (86-89 over the first quarter).
    kwargs = {
        "n_epochs": 1,
        "n_train": 3000,
        "n_test": 500,
        "target": "cpp_standalone",
        "cache_dir": CACHE,
        "record_neurons": 0,
    }
    results = {}
    for name, rates in (("on", (0.21, 0.21)), ("off", (0.0, 0.21))):
        config = SegregatedConfig(hidden_sizes=(30,), learning_rates=rates, seed=0, angle_every=10)
        res = train(config, *mnist, **kwargs)
        epoch = res["epochs"][0]
        results[name] = (res["test_errors"][-1], 100 * (1 - epoch["train_correct"][-1000:].mean()))
        if name == "on":
            angles = epoch["bp_angle"]
    (test_on, train_on), (test_off, train_off) = results["on"], results["off"]
    assert test_on < test_off - 10
    assert train_on < train_off - 5
    assert len(angles) == 300 and np.isfinite(angles).all()
    assert np.mean(angles[len(angles) // 2 :]) < 88.0
    # With random feedback a hidden rule of the wrong sign is the right rule
    # with feedback -Y (sigma' is even), as random as Y: the output layer
    # aligns to it and learning proceeds (measured with the sign flipped: test
    # error 59 %, angle 83 degrees). With symmetric feedback (Y = W_out^T)
    # the sign is fixed by backprop: measured mean angle 35.3 degrees over
    # 100 probes in 1,000 examples, 143.9 with the sign flipped (and chance
    # test error).
    config = SegregatedConfig(hidden_sizes=(30,), seed=0, symmetric_feedback=True, angle_every=10)
    res = train(config, *mnist, **{**kwargs, "n_train": 1000, "n_test": 100})
    angles = res["epochs"][0]["bp_angle"]
    assert len(angles) == 100 and np.isfinite(angles).all()
    assert np.mean(angles) < 60.0


def test_learns_well_below_chance(mnist):
    # The paper's (500,) network on the shipped subset, one standalone run
    # (~25 s of compiling when cold, ~20 s of simulation). Early learning is
    # slow and noisy, in the reference code too (quick-test errors 70, 69,
    # 47 % after 1000, 2000, 3000 examples, 100 test images). Measured here
    # after 3000 examples with the reference's initial weights, seed 0: test
    # error 36.0 % (200 images), training error over examples 2001-3000
    # 56.1 %; with neurosim's former start (init="narrow", before issue 13),
    # seeds 0-3: test error 47.0, 73.5, 67.0, 54.0 %, training error 68.2,
    # 70.6, 68.1, 67.4 %. Chance is 90 % (s.d. 0.9 % over 1000 examples, 2.1 %
    # over 200 images). The training error is the steadier statistic, so it
    # carries the tighter bound; the test bound only has to exclude chance.
    # Whether hidden learning helps is test_hidden_learning_helps_...'s job.
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
