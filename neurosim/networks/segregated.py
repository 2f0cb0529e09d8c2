"""Segregated-dendrite network learning MNIST inside Brian2 (Guerguiev et al. 2017).

Spiking mode of the paper: Poisson input spike counts (mean
``lambda_max * pixel`` per 1 ms step, as the reference's ``np.random.poisson``;
``spikes="bernoulli"``: at most one spike), PSPs through the double-exponential
kernel, hidden neurons with basal (B), apical (A) and somatic (C) compartments,
output neurons with a dendrite (B) and a soma (C) that receives teaching
conductances in the target phase, fixed random feedback ``Y`` broadcast from
the output layer to every hidden layer's apical dendrites, and the local
update rule of :mod:`neurosim.plasticity.segregated_dendrite` at phase ends.

A whole epoch (training examples, interleaved quick tests and the final test)
is one Brian2 ``run()``: the stimulus and the phase structure are per-step
``TimedArray`` s built by :func:`make_schedule`, and the weight updates are a
Synapses pathway triggered by a custom ``learn`` event, so the loop over
examples is generated code in ``cython`` runtime mode and in ``cpp_standalone``.

Per step (Brian2 schedule slots), for every group:

``groups`` (one ``run_regularly`` per group)
    clear at epoch/test starts, decay the traces and fold in the last step's
    synaptic input, B and A from the traces, one Euler step of ``C``, window
    sums, the spike draw (a count with mean ``lambda_max sigma(C)``) and the expiry of
    spikes ``psp_memory`` steps old (the reference's finite spike memory),
    both applied to the neuron's own traces.
``after_thresholds``
    events ``spike``, ``expire``, ``phase_end`` and ``learn`` (end of a
    target phase); at phase ends a handler computes the window averages,
    plateaus and the rule's per-neuron ``delta`` and bias change.
``synapses``
    first the ``learn`` pathway, ``w += delta_post * psp_f_pre`` (and the
    trace correction that keeps ``B = W . PSP``); then one add per synapse
    and event into the target's spike or expiry accumulator. The input
    pathway (most of the work) sends spikes only: its target keeps a ring of
    the last ``psp_memory`` per-step input sums and removes expiring spikes
    itself; the rank-one weight update is applied to that ring through
    presynaptic sums collected once per example (``ring_collect``,
    ``ring_apply``).

Array sizes baked into generated code (schedule length, stimulus rows) are
rounded up to size classes, so epochs of similar size reuse the cython cache
and, in ``cpp_standalone``, the compiled binary: a new epoch regenerates
identical sources, ``make`` finds nothing to rebuild, new weights, stimuli and
the seed (an environment variable) arrive as data.

Initial weights: by default exactly the reference code's draw (its "weight
optimisation": forward weights ``W_avg + 3.465 W_sd U(-1, 1)``, every
feedback matrix ``Y`` drawn independently with the same formula, no feedback
bias, so ``A = Y . PSP``); see :func:`init_weights` for the formulas and the
``init="narrow"`` and ``feedback_bias`` options.

Data: the training examples are the first ``n_train`` of the training set, in
file order; each epoch shows them in the order of
:func:`neurosim.datasets.example_order` (a seeded permutation, as the
reference shuffles before every epoch, or file order with ``shuffle=False``);
the torch MLPs of :mod:`neurosim.bridges.mlp` use the same definition. Tests
use the first ``n_test`` (quick tests: the first ``n_quick_test``) test
images; the reference draws a new random subset for every test (it shuffles
the test set first), which makes no difference for a test of the whole test
set, since every test example starts from a cleared state in both.

Timing, as in the reference: the reference updates its layers in order
within one step, so a spike drawn at step ``t`` acts on the next layer in
step ``t`` (its kernel starts at kappa(1): a spike ``k - 1`` steps old
weighs kappa(k), k = 1..``psp_memory``) and input -> hidden -> output takes
one step; only the output layer's feedback to the apical dendrites arrives
one step late. Here each layer's step, its spike events and its outgoing
forward pathway run in that order inside Brian2's ``groups`` slot (see
``_build``); the feedback pathways run in ``synapses``, after every group.
``layer_delay=True`` is the earlier timing, kept as a named option: every
group steps first and all spikes travel afterwards, one step per layer
(tests: ``test_basal_potentials_are_weights_times_the_reference_psp``
recomputes B from the recorded spikes with the reference's kernel in both).

Seeding: epoch ``k`` draws its shuffle and phase lengths from
``numpy.random.default_rng([seed, k])`` and runs Brian2 with
:func:`brian_seed` ``(seed, k)``; every epoch starts from a cleared state, so
an epoch depends only on the weights it starts with and ``(seed, k)``, and a
resumed run is bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import hashlib
import itertools
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from neurosim._version import __version__
from neurosim.datasets.order import example_order
from neurosim.errors import NeurosimError
from neurosim.model import MODELS_DIR, load_model
from neurosim.plasticity.segregated_dendrite import SEGREGATED_HIDDEN, SEGREGATED_OUTPUT
from neurosim.runner import cache_dir as runner_cache_dir
from neurosim.runner import standalone_folder

__all__ = [
    "FORWARD",
    "IDLE",
    "INITS",
    "TARGET",
    "TEST",
    "Checkpoint",
    "Schedule",
    "SegregatedConfig",
    "Weights",
    "brian_seed",
    "init_weights",
    "make_schedule",
    "mark_outputs_written",
    "read_checkpoint",
    "run_epoch",
    "train",
]


#: Phase codes of the per-step schedule.
FORWARD, TARGET, TEST, IDLE = 0, 1, 2, 3

_TARGETS = ("numpy", "cython", "cpp_standalone")

#: Initial-weight schemes of :func:`init_weights` (``SegregatedConfig.init``).
INITS = ("reference", "narrow")


@dataclass(frozen=True)
class SegregatedConfig:
    """Network, learning and protocol parameters (defaults: the paper's spiking mode).

    Neuron parameters (conductances, reversal potentials, kernel time
    constants, ``lambda_max``) come from ``models/segregated_hidden.yaml`` and
    ``models/segregated_output.yaml``; the fields here are those of the
    network and the learning protocol.
    """

    hidden_sizes: tuple[int, ...] = (500,)
    """Sizes of the hidden layers: () , (500,) or (500, 100) in the paper."""
    n_outputs: int = 10
    """Output neurons, one per class (set from the data set: 10 for MNIST)."""
    learning_rates: tuple[float, ...] = (0.21, 0.21)
    """Feedforward learning rate of each layer, hidden layers first, output last."""
    forward_steps: int = 50
    """Minimum length of a training forward phase (steps)."""
    target_steps: int = 50
    """Minimum length of a target phase (steps)."""
    random_phase_lengths: bool = True
    """Add ``int(Wald(wald_mean, wald_scale))`` steps to every training phase."""
    wald_mean: float = 2.0
    """Mean of the Wald distribution of the extra phase length."""
    wald_scale: float = 1.0
    """Scale (shape parameter lambda) of the Wald distribution."""
    integration_steps: int = 20
    """Averaging window at the end of each training phase (steps)."""
    test_steps: int = 250
    """Length of the forward phase of a test example (steps)."""
    test_integration_steps: int = 220
    """Averaging window at the end of a test phase (steps)."""
    psp_memory: int = 10
    """Steps after which a spike's PSP is dropped (the reference's ``mem``)."""
    p_hidden_factor: float = 20.0
    """P_h = p_hidden_factor / lambda_max."""
    p_final_factor: float = 20.0
    """P_f = p_final_factor / lambda_max**2."""
    apical_conductance: bool = False
    """Variant: apical-to-soma conductance g_A = ``apical_g_A`` instead of 0."""
    apical_g_A: float = 0.05
    """g_A of the apical-conductance variant."""
    sparse_feedback: bool = False
    """Variant: zero ``sparse_fraction`` of Y, scale the rest by ``sparse_gain``."""
    sparse_fraction: float = 0.8
    """Fraction of feedback weights set to zero in the sparse variant."""
    sparse_gain: float = 5.0
    """Factor on the surviving feedback weights in the sparse variant."""
    symmetric_feedback: bool = False
    """Control: Y = W^T of the output layer, kept equal as W learns."""
    init: str = "reference"
    """Initial weights: ``"reference"`` (the reference code's draw, with which the
    paper's numbers were made) or ``"narrow"`` (neurosim before issue 13: W and
    b with the same means and half the spread, Y a zero-mean product of
    uniform matrices); see :func:`init_weights`."""
    spikes: str = "poisson"
    """Spike draw per step: ``"poisson"`` (the reference's ``np.random.poisson``
    counts with mean ``lambda``, here clipped at 3 a step, which changes the
    mean by less than 2e-5 at ``lambda`` <= 0.2) or ``"bernoulli"`` (at most
    one spike, with probability ``lambda``: neurosim before session 7; less
    variance, see the README's learning-curve table)."""
    layer_delay: bool = False
    """Variant: a spike reaches the next layer one step after it is drawn
    (neurosim before issue 13). Off: every layer receives the layer below's
    spikes in the step they are drawn, as the reference updates its layers in
    order within one step (the feedback to the apical dendrites arrives one
    step late in both)."""
    feedback_bias: bool = False
    """Variant: apical offsets ``c`` (A = Y . PSP + c). Off in the reference's
    runs and the paper (A = Y . PSP); when on, ``c`` is drawn as the
    reference's ``use_feedback_bias`` does (``init="narrow"``: ``c = Y . u``)."""
    angle_every: int = 0
    """Record the backprop angle of the last hidden layer every this many
    training examples (0: never; see :func:`neurosim.analysis.angles.backprop_angles`)."""
    seed: int = 0
    """Base seed of weights, shuffles, phase lengths and spikes."""

    def __post_init__(self) -> None:
        """Check the values a user can get wrong."""

        def need(ok: bool, key: str, what: str) -> None:
            if not ok:
                got = getattr(self, key)
                raise NeurosimError(f"SegregatedConfig.{key}: has to be {what}, got {got!r}")

        need(
            all(isinstance(n, int) and n >= 1 for n in self.hidden_sizes),
            "hidden_sizes",
            "a tuple of integers >= 1",
        )
        need(
            isinstance(self.n_outputs, int) and self.n_outputs >= 2,
            "n_outputs",
            "an integer >= 2 (one output neuron per class)",
        )
        need(
            len(self.learning_rates) == len(self.hidden_sizes) + 1,
            "learning_rates",
            f"{len(self.hidden_sizes) + 1} values (one per hidden layer and the output layer)",
        )
        need(all(r >= 0 for r in self.learning_rates), "learning_rates", "non-negative")
        for key in ("forward_steps", "target_steps", "test_steps"):
            need(getattr(self, key) >= 1, key, "an integer >= 1")
        need(
            1 <= self.integration_steps <= min(self.forward_steps, self.target_steps),
            "integration_steps",
            "between 1 and the minimum phase length",
        )
        need(
            1 <= self.test_integration_steps <= self.test_steps,
            "test_integration_steps",
            "between 1 and test_steps",
        )
        need(self.spikes in SPIKE_DRAWS, "spikes", f"one of {SPIKE_DRAWS}")
        # The spike history holds psp_memory + 1 counts in one int32.
        top = 14 if self.spikes == "poisson" else 29
        need(1 <= self.psp_memory <= top, "psp_memory", f"an integer in [1, {top}]")
        need(self.wald_mean > 0 and self.wald_scale > 0, "wald_mean", "> 0 (and wald_scale > 0)")
        need(0 <= self.sparse_fraction < 1, "sparse_fraction", "in [0, 1)")
        need(
            not (self.symmetric_feedback and len(self.hidden_sizes) > 1),
            "symmetric_feedback",
            "False with more than one hidden layer (not implemented)",
        )
        need(
            not (self.symmetric_feedback and self.sparse_feedback),
            "symmetric_feedback",
            "False together with sparse_feedback (not implemented)",
        )
        need(
            isinstance(self.angle_every, int) and self.angle_every >= 0,
            "angle_every",
            "an integer >= 0",
        )
        need(self.init in INITS, "init", f"one of {', '.join(map(repr, INITS))}")
        need(isinstance(self.feedback_bias, bool), "feedback_bias", "true or false")
        need(isinstance(self.seed, int) and self.seed >= 0, "seed", "an integer >= 0")

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """Sizes of all learning layers, hidden first, output last."""
        return (*self.hidden_sizes, self.n_outputs)


class Weights(NamedTuple):
    """All weights of the network; index m runs over layers (hidden first)."""

    W: tuple[np.ndarray, ...]
    """Feedforward weights of layer m, shape (n_m, n_{m-1})."""
    b: tuple[np.ndarray, ...]
    """Biases of layer m (basal offset), shape (n_m,)."""
    Y: tuple[np.ndarray, ...]
    """Feedback weights from the output layer to hidden layer m, shape (n_m, n_out)."""
    c: tuple[np.ndarray, ...]
    """Feedback biases (apical offset) of hidden layer m, shape (n_m,)."""


class Schedule(NamedTuple):
    """Per-step protocol of one epoch (arrays of length ``capacity``)."""

    phase: np.ndarray
    """Phase code per step: FORWARD, TARGET, TEST or IDLE (padding)."""
    window: np.ndarray
    """1 on steps inside the integration window of their phase."""
    end: np.ndarray
    """1 on the last step of each phase."""
    clear: np.ndarray
    """1 on steps where all neuron state is cleared first (epoch and test starts)."""
    row: np.ndarray
    """Row of the epoch's stimulus table shown at each step."""
    phase_start: np.ndarray
    """First step of each phase, in order."""
    phase_kind: np.ndarray
    """Phase code of each phase."""
    phase_row: np.ndarray
    """Stimulus row of each phase."""
    n_steps: int
    """Steps before the idle padding."""
    inv_window: np.ndarray
    """1 / (integration window length) of the phase of each step (0 when idle)."""


def brian_seed(seed: int, epoch: int) -> int:
    """Brian2 seed of epoch ``epoch`` of a run with base seed ``seed``."""
    return int(np.random.SeedSequence([seed, epoch, 1]).generate_state(1)[0])


def _epoch_rng(seed: int, epoch: int) -> np.random.Generator:
    return np.random.default_rng([seed, epoch])


def _read_model(name: str) -> dict[str, Any]:
    """The parts of a shipped model file the network's generated code uses.

    The file goes through :func:`neurosim.model.load_model`, so it is checked
    like every neuron model (units, equations, threshold, method).
    """
    model = load_model(MODELS_DIR / f"{name}.yaml")
    return {
        "equations": model.equations,
        "threshold": model.threshold,
        "method": model.method,
        "params": {k: float(p.value) for k, p in model.parameters.items()},
    }


def _models(config: SegregatedConfig) -> tuple[dict[str, Any], dict[str, Any]]:
    hidden, output = _read_model("segregated_hidden"), _read_model("segregated_output")
    if config.apical_conductance:
        hidden["params"]["g_A"] = config.apical_g_A
    return hidden, output


def init_weights(config: SegregatedConfig, n_inputs: int) -> Weights:
    """Draw the initial weights (default: exactly as the reference code does).

    Every layer ``m`` with ``N`` inputs gets the mean ``W_avg`` and spread
    ``W_sd`` that the reference's "weight optimisation" computes so that the
    dendritic potential has mean 3 and s.d. 3 with biases near 0.8
    (``lambda_max`` 0.2, slope ``nu = lambda_max / 4``).

    ``config.init == "reference"`` (default; Guerguiev et al.'s code, with
    which the paper's numbers were made):

    - ``W = W_avg + 3.465 W_sd U(-1, 1)`` (mean ``W_avg``, s.d. 2 ``W_sd``:
      1.01 for 784 inputs, 1.26 for 500), ``b = 0.8 + 3.465 * 0.001 U(-1, 1)``;
    - feedback ``Y`` from the output layer to hidden layer ``m - 1``, drawn
      independently with the formula of layer ``m``: ``W_avg + 3.465 W_sd
      U(-1, 1)``, shape (n_{m-1}, n_out) (mean ``W_avg``, s.d. 1.26 for the
      (500,) network);
    - no feedback bias (``c = 0``: A = Y . PSP), as in the reference's runs;
      with ``config.feedback_bias``, ``c = 0.8 + 3.465 * 0.001 U(-1, 1)``
      (the reference's ``use_feedback_bias``).

    ``config.init == "narrow"`` (neurosim before issue 13): ``W`` and ``b``
    with half the spread (``W_avg + 3.465 W_sd (U(0, 1) - 0.5)``),
    ``Y`` a zero-mean product of such matrices down from the output layer,
    and (with ``config.feedback_bias``) ``c = Y . u``.

    Layers are drawn from the output layer down, as in the reference. The
    variants zero 80 % of Y and scale the rest by 5 (sparse) or set Y to the
    output layer's W^T (symmetric), as the reference does.

    Parameters
    ----------
    config : SegregatedConfig
    n_inputs : int
        Input size (784 for MNIST).

    Returns
    -------
    Weights
    """
    rng = np.random.default_rng([config.seed, 2**32 - 1])
    lambda_max = _models(config)[0]["params"]["lambda_max"]
    v_avg, v_sd, b_avg, b_sd = 3.0, 3.0, 0.8, 0.001
    nu = lambda_max * 0.25
    v_sm = v_sd**2 + v_avg**2
    sizes = config.layer_sizes
    n_layers = len(sizes)
    reference = config.init == "reference"
    W: list[np.ndarray] = [np.empty(0)] * n_layers
    b: list[np.ndarray] = [np.empty(0)] * n_layers
    Y: list[np.ndarray] = [np.empty(0)] * n_layers
    c: list[np.ndarray] = [np.empty(0)] * n_layers
    Y[-1] = np.eye(sizes[-1])
    for m in range(n_layers - 1, -1, -1):
        n_pre = sizes[m - 1] if m > 0 else n_inputs
        w_avg = (v_avg - b_avg) / (nu * n_pre * v_avg)
        w_sm = (
            v_sm
            + nu**2 * (n_pre - n_pre**2) * w_avg**2 * v_avg**2
            - 2 * n_pre * nu * b_avg * v_avg * w_avg
            - b_avg**2
        ) / (n_pre * nu**2 * v_sm)
        w_sd = np.sqrt(w_sm - w_avg**2)
        if reference:
            W[m] = w_avg + 3.465 * w_sd * rng.uniform(-1, 1, size=(sizes[m], n_pre))
            b[m] = b_avg + 3.465 * b_sd * rng.uniform(-1, 1, size=sizes[m])
            if m > 0:
                Y[m - 1] = w_avg + 3.465 * w_sd * rng.uniform(-1, 1, size=(n_pre, sizes[-1]))
                c[m - 1] = b_avg + 3.465 * b_sd * rng.uniform(-1, 1, size=n_pre)
        else:
            W[m] = w_avg + 3.465 * w_sd * (rng.uniform(size=(sizes[m], n_pre)) - 0.5)
            b[m] = b_avg + 3.465 * b_sd * (rng.uniform(size=sizes[m]) - 0.5)
            if m > 0:
                Y[m - 1] = (3.465 * w_sd * (rng.uniform(size=(n_pre, sizes[m])) - 0.5)) @ Y[m]
                c[m - 1] = Y[m - 1] @ (3.465 * w_sd * (rng.uniform(size=sizes[-1]) - 0.5))
    hidden = range(n_layers - 1)
    if not config.feedback_bias:
        # Drawn above all the same, so that switching the bias on changes no other weight.
        c = [np.zeros_like(v) for v in c]
    if config.symmetric_feedback and n_layers > 1:
        Y[-2] = W[-1].T.copy()
    if config.sparse_feedback:
        for m in hidden:
            flat = Y[m].ravel()
            n_zero = int(config.sparse_fraction * flat.size)
            flat[rng.choice(flat.size, n_zero, replace=False)] = 0.0
            Y[m] = flat.reshape(Y[m].shape) * config.sparse_gain
    return Weights(tuple(W), tuple(b), tuple(Y[m] for m in hidden), tuple(c[m] for m in hidden))


def _size_class(n: int, smallest: int) -> int:
    """Smallest ``smallest * 2**(k/8)`` (k = 0, 1, ...; rounded up to a multiple of 64) >= n.

    Array sizes are baked into generated code (TimedArray lengths, the run
    duration in ``main.cpp``), so they are rounded up to a coarse ladder: runs
    of similar size share one compiled build, at the price of at most ~9 %
    idle padding (idle steps draw no spikes and are cheap).
    """
    k = 0
    while True:
        size = int(np.ceil(smallest * 2 ** (k / 8) / 64) * 64)
        if size >= n:
            return size
        k += 1


def _capacity(config: SegregatedConfig, n_train: int, n_test_steps: int) -> int:
    # Depends only on (n_train, number of test steps), not on the Wald draws,
    # so every epoch of a run has the same size class; the Wald tail beyond
    # ~10 s.d. of the summed extra lengths would raise in make_schedule.
    extra = 0
    if config.random_phase_lengths and n_train:
        draws = 2 * n_train
        sd = np.sqrt(config.wald_mean**3 / config.wald_scale)
        extra = int(np.ceil(draws * config.wald_mean + 10 * sd * np.sqrt(draws))) + 50
    need = n_train * (config.forward_steps + config.target_steps) + n_test_steps + extra + 1
    return _size_class(need, 8192)


def _test_blocks(
    n_train: int, n_test: int, test_every: int | None, n_quick_test: int
) -> list[tuple[int, int]]:
    """(examples trained before it, size) of every test block of an epoch."""
    blocks = []
    if test_every:
        blocks = [(k, n_quick_test) for k in range(test_every, n_train, test_every)]
    return [*blocks, (n_train, n_test)]


def make_schedule(
    config: SegregatedConfig,
    n_train: int,
    n_test: int,
    rng: np.random.Generator,
    *,
    test_every: int | None = None,
    n_quick_test: int = 100,
) -> Schedule:
    """Build the per-step protocol of one epoch.

    Rows ``0..n_train-1`` of the epoch's stimulus table are training examples
    in presentation order, rows ``n_train..n_train+n_test-1`` test examples.
    Every ``test_every`` training examples a quick test shows the first
    ``n_quick_test`` test rows; the epoch ends with a test of all ``n_test``.

    Parameters
    ----------
    config : SegregatedConfig
    n_train, n_test : int
        Training and test examples of the epoch.
    rng : numpy.random.Generator
        Source of the Wald-distributed extra phase lengths.
    test_every : int, optional
        Interval of the quick tests (training examples); None: no quick tests.
    n_quick_test : int
        Test examples of a quick test.

    Returns
    -------
    Schedule
    """
    if n_quick_test > n_test and test_every:
        raise NeurosimError(f"n_quick_test: has to be <= n_test ({n_test}), got {n_quick_test}")
    if config.random_phase_lengths:
        extra_f = rng.wald(config.wald_mean, config.wald_scale, n_train).astype(int)
        extra_t = rng.wald(config.wald_mean, config.wald_scale, n_train).astype(int)
    else:
        extra_f = extra_t = np.zeros(n_train, dtype=int)
    lengths, kinds, rows, windows = [], [], [], []
    trained = 0
    for before, size in _test_blocks(n_train, n_test, test_every, n_quick_test):
        for k in range(trained, before):
            lengths += [config.forward_steps + extra_f[k], config.target_steps + extra_t[k]]
            kinds += [FORWARD, TARGET]
            rows += [k, k]
            windows += [config.integration_steps] * 2
        trained = before
        lengths += [config.test_steps] * size
        kinds += [TEST] * size
        rows += list(range(n_train, n_train + size))
        windows += [config.test_integration_steps] * size
    lengths_a = np.asarray(lengths, dtype=np.int64)
    kinds_a = np.asarray(kinds, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths_a)[:-1]])
    n_steps = int(lengths_a.sum())
    n_test_steps = config.test_steps * sum(
        s for _, s in _test_blocks(n_train, n_test, test_every, n_quick_test)
    )
    capacity = _capacity(config, n_train, n_test_steps)
    if n_steps >= capacity:
        raise NeurosimError(f"phase lengths: {n_steps} steps exceed the padded capacity {capacity}")
    phase = np.full(capacity, IDLE, dtype=np.int64)
    phase[:n_steps] = np.repeat(kinds_a, lengths_a)
    row = np.full(capacity, rows[-1], dtype=np.int64)
    row[:n_steps] = np.repeat(rows, lengths_a)
    ends = starts + lengths_a - 1
    end = np.zeros(capacity, dtype=np.int64)
    end[ends] = 1
    # Window = last `w` steps of each phase: step index within the phase >= length - w.
    pos = np.arange(n_steps) - np.repeat(starts, lengths_a)
    window = np.zeros(capacity, dtype=np.int64)
    window[:n_steps] = pos >= np.repeat(lengths_a - np.asarray(windows), lengths_a)
    clear = np.zeros(capacity, dtype=np.int64)
    # Cleared: the epoch start, every test example (as the reference does) and
    # the first training step after a test block.
    clear[0] = 1
    is_test = kinds_a == TEST
    clear[starts[is_test]] = 1
    after_test = np.flatnonzero(is_test[:-1] & ~is_test[1:]) + 1
    clear[starts[after_test]] = 1
    inv_window = np.zeros(capacity)
    inv_window[:n_steps] = np.repeat(1.0 / np.asarray(windows, dtype=float), lengths_a)
    return Schedule(
        phase, window, end, clear, row, starts, kinds_a, np.asarray(rows), n_steps, inv_window
    )


def _configure_brian(target: str, cache_dir: Path) -> None:
    from brian2 import prefs

    if target not in _TARGETS:
        raise NeurosimError(f"target: has to be one of {', '.join(_TARGETS)}, got {target!r}")
    if target != "cpp_standalone":
        prefs.codegen.target = target
    else:
        # One core: the per-step loops are short, threads would only add
        # synchronisation, and the machine is shared.
        prefs.devices.cpp_standalone.openmp_threads = 0
        # Brian2's default `make -j` starts one compiler per source file at once
        prefs.devices.cpp_standalone.extra_make_args_unix = [f"-j{os.cpu_count() or 1}"]
    prefs.codegen.runtime.cython.cache_dir = str(cache_dir / "cython")
    prefs.codegen.runtime.cython.multiprocess_safe = True


#: Values of :attr:`SegregatedConfig.spikes`.
SPIKE_DRAWS = ("poisson", "bernoulli")

#: Largest spike count per neuron and step that the ``poisson`` draw records.
MAX_COUNT = 3


def _draw(guard: str, lam: str, spikes: str) -> str:
    """Code for this step's spike count ``s`` of a neuron with mean ``lam``.

    ``bernoulli``: one spike with probability ``lam``. ``poisson``: the
    inversion method, one uniform number for each count reached (a count
    >= 1 in 1 - exp(-lam), then >= 2 and >= 3 with their conditional
    probabilities, written as products so that ``lam = 0`` divides nothing);
    the ``and`` short-circuits in generated code, so silent neurons draw
    nothing and compute no exp().
    """
    if spikes == "bernoulli":
        return f"s = int({guard} and rand() < {lam})\n"
    # P(s >= k) = 1 - exp(-lam) F_k with F_1 = 1, F_2 = 1 + lam,
    # F_3 = 1 + lam + lam^2 / 2; step k compares u P(s >= k-1) < P(s >= k).
    return (
        f"lam = {lam}\n"
        f"s = int({guard} and rand() < 1 - exp(-lam))\n"
        "s += int(s > 0 and rand() * (1 - exp(-lam)) < 1 - exp(-lam) * (1 + lam))\n"
        "s += int(s > 1 and rand() * (1 - exp(-lam) * (1 + lam))"
        " < 1 - exp(-lam) * (1 + lam + 0.5 * lam * lam))\n"
    )


#: Environment variable read by the standalone binary for its random seed, so
#: that a new seed does not change ``main.cpp`` (and trigger a recompile).
_SEED_ENV = "NEUROSIM_BRIAN_SEED"

#: Standalone code that reseeds the generator from :data:`_SEED_ENV`.
_SEED_CODE = f"""
{{
    const char* _seed_text = std::getenv("{_SEED_ENV}");
    if (_seed_text != NULL)
        brian::_random_generators[0].seed(std::strtoul(_seed_text, NULL, 10));
}}
"""

# Per-step code, one run_regularly per group (slot "groups"):
#   1. clear (epoch/test starts), shift the spike history (one digit per
#      step: the step's count, base 2 or MAX_COUNT + 1), decay the
#      neuron's own PSP traces, and fold the last step's synaptic input into
#      the traces it drives (``b_L = d_L (b_L + z - e_L y)``, see below);
#   2. potentials B (and A) from the traces, one Euler step of C (the model's
#      own dC/dt; the group's state updater is switched off so that a layer
#      costs one code object per step instead of two);
#   3. integration-window sums;
#   4. this step's spike count ``s`` and expiry count ``ex`` (spikes that are
#      ``psp_memory`` steps old, removed as the reference's finite spike
#      memory does), applied to the neuron's own traces here rather than in a
#      reset (one code object less per group per step). With no spike left
#      in memory the traces are set to exactly 0, as the reference's PSP of
#      an empty spike history is: otherwise rounding residues of
#      ``1 * d**mem - e`` would make the forward PSP average non-zero, and the
#      learning pathway would visit every input that ever spiked.
# A step's spikes send ``w s`` to the target's accumulator ``z``, expiries send
# ``w ex`` to ``y``: one add per synapse and event, half of what updating both traces
# (``b_L``, ``b_S``) in the synapse would cost; the target scales ``y`` by
# exp(-mem/tau) when it folds them in at its next step, which is exactly the
# per-synapse ``b_L += w (s - e_L ex)``. The input pathway goes further (a
# ring of per-step sums, no expiry events at all; see _build).
# Everything that happens only at phase ends (averages, plateaus, the rule's
# ``delta``, with their exp() calls) runs in a ``phase_end`` event handler in
# the after_thresholds slot: after the step, before the learning pathway reads
# ``delta`` in the synapses slot. Scalars (phase flags, 1/window length) come
# from TimedArrays of t, which Brian2 evaluates once per step, not per neuron.

_STEP_HEAD = """
keep = 1.0 - clear_ta(t)
active = int(phase_ta(t) < 2.5)
win = window_ta(t)
hist = int(keep) * ((hist_base * hist) % hist_mod)
"""

_STEP_SPIKE = """
ex = hist // hist_top
sg_L = s - ex * e_L
sg_S = s - ex * e_S
hist += s
live = int(hist % hist_top > 0)
x_L = live * (x_L + sg_L)
x_S = live * (x_S + sg_S)
"""

_END_HEAD = """
inv_n = inv_window_ta(t)
f_end = int(phase_ta(t) < 0.5)
t_end = int(phase_ta(t) > 0.5 and phase_ta(t) < 1.5)
"""


#: Spikes inside the trace window (``trace_window``'s spike record).
_TRACE_SPIKE = "s > 0 and t >= trace_t0 and t < trace_t1"

#: Condition of the ``phase_end`` event (last step of any phase).
_PHASE_END = "end_ta(t) > 0"

#: Last step of a target phase (the learning pathway's trigger).
_TARGET_END = "end_ta(t) > 0 and phase_ta(t) > 0.5 and phase_ta(t) < 1.5"


def _decay(names: tuple[str, ...]) -> str:
    return "".join(f"{n} = keep * {n} * d_{n[-1]}\n" for n in names)


def _fold(trace: str, same_step: bool = False) -> str:
    """Decay a received trace pair and add the spikes and expiries it was sent.

    They were sent in the last step, or (``same_step``) in this one, before
    this group's step ran; then a clear drops the old trace but keeps them.
    """
    z, y = f"z{trace}", f"y{trace}"
    if same_step:
        return (
            f"{trace}_L = d_L * (keep * {trace}_L + {z} - e_L * {y})\n"
            f"{trace}_S = d_S * (keep * {trace}_S + {z} - e_S * {y})\n"
            f"{z} = 0\n{y} = 0\n"
        )
    return (
        f"{trace}_L = keep * d_L * ({trace}_L + {z} - e_L * {y})\n"
        f"{trace}_S = keep * d_S * ({trace}_S + {z} - e_S * {y})\n"
        f"{z} = 0\n{y} = 0\n"
    )


#: Window sum of the PSP as the next layer sees it in the step it is drawn
#: (``same_step``): ``d * x``, a spike drawn now counting kappa(1), as in the
#: reference; taken after this step's spike draw and expiry.
_PSP_SAME_STEP = "psp_sum += win * (d_L * x_L - d_S * x_S) / (tau_L - tau_s)\n"


def _input_step(same_step: bool = False, spikes: str = "poisson") -> str:
    code = _STEP_HEAD + _decay(("x_L", "x_S"))
    if not same_step:
        # the next layer sees this step's spikes one step later
        code += "psp_sum += win * psp\n"
    code += "pix = active * pixels_ta(row_ta(t) * ms, i)\n"
    code += _draw("pix > 0", "lambda_max * pix", spikes)
    return code + _STEP_SPIKE + (_PSP_SAME_STEP if same_step else "")


_INPUT_END = _END_HEAD + SEGREGATED_HIDDEN.code["input_end"] + "psp_sum = 0\n"


def _ring_fold(mem: int, same_step: bool = False) -> str:
    """Basal traces of the first layer: fold in the input ring (see _build).

    ``u0`` holds the input's last step (or, ``same_step``, this step's)
    weighted spike sum, ``u{mem}`` the sum whose spikes expire now.
    """
    if same_step:
        code = (
            f"b_L = d_L * (keep * (b_L - e_L * u{mem}) + u0)\n"
            f"b_S = d_S * (keep * (b_S - e_S * u{mem}) + u0)\n"
        )
        code += "".join(f"u{k} = keep * u{k - 1}\n" for k in range(mem, 1, -1))
        return code + "u1 = u0\nu0 = 0\n"
    code = (
        f"b_L = keep * d_L * (b_L + u0 - e_L * u{mem})\n"
        f"b_S = keep * d_S * (b_S + u0 - e_S * u{mem})\n"
    )
    code += "".join(f"u{k} = keep * u{k - 1}\n" for k in range(mem, 0, -1))
    return code + "u0 = 0\n"


def _ring_correction(mem: int) -> str:
    """First layer, end of a target phase: rank-1 correction of traces and ring."""
    code = "b_L_post += delta_post * QL_pre\nb_S_post += delta_post * QS_pre\n"
    return code + "".join(f"u{k}_post += delta_post * q{k}_pre\n" for k in range(1, mem + 1))


def _layer_step(
    hidden: bool,
    c_rhs: str,
    threshold: str,
    ring: int = 0,
    same_step: bool = False,
    spikes: str = "poisson",
) -> str:
    """Per-step code of a hidden (``hidden``) or the output layer.

    ``ring`` > 0: the layer receives the input pathway through a ring of
    ``ring`` per-step sums instead of spike and expiry accumulators.
    ``same_step``: the layer below has sent this step's spikes already (no
    delay per layer); the apical feedback always comes from the last step.
    """
    basal = _ring_fold(ring, same_step) if ring else _fold("b", same_step)
    code = _STEP_HEAD + _decay(("x_L", "x_S")) + basal + (_fold("a") if hidden else "")
    code += "C = keep * C\nB = (b_L - b_S) / (tau_L - tau_s) + b\n"
    if hidden:
        code += "A = (a_L - a_S) / (tau_L - tau_s) + c\n"
    else:
        code += """
tgt = int(phase_ta(t) > 0.5 and phase_ta(t) < 1.5)
g_E = tgt * int(i == int(label_ta(row_ta(t) * ms) + 0.5))
g_I = tgt - g_E
"""
    # Forward Euler with the model's right-hand side (what method="euler" does).
    code += f"C = C + dt * ({c_rhs})\nC_sum += win * C\n"
    if hidden:
        code += "A_sum += win * A\n" + ("" if same_step else "psp_sum += win * psp\n")
    else:
        code += "phi_sum += win * lambda_max / (1.0 + exp(-C))\n"
    code += _draw("active > 0", _spike_mean(threshold, spikes), spikes)
    return code + _STEP_SPIKE + (_PSP_SAME_STEP if hidden and same_step else "")


def _layer_end(hidden: bool, probe: bool = False) -> str:
    """Phase-end code of a layer: the rule's window averages and ``delta``, then clear the sums.

    ``probe``: also keep the last target phase's ``delta`` (``delta_t``) and
    clear the backprop error ``e_bp`` at forward-phase ends (the probe
    monitor reads both just before, see _build).
    """
    if hidden:
        return (
            _END_HEAD
            + SEGREGATED_HIDDEN.code["end"]
            + "C_sum = 0\nA_sum = 0\npsp_sum = 0\n"
            + (_PROBE_END if probe else "")
        )
    return _END_HEAD + SEGREGATED_OUTPUT.code["end"] + "C_sum = 0\nphi_sum = 0\n"


_PROBE_END = """
delta_t = t_end * delta + (1 - t_end) * delta_t
e_bp = (1 - f_end) * e_bp
"""

_PROBE_EQS = """
delta_t : 1
e_bp : 1
"""

#: Forward-phase end of the example after every ``angle_every``-th one: the
#: previous example's ``delta_t``, ``e_bp`` and ``C_f`` are still in place.
_PROBE_EVENT = (
    "end_ta(t) > 0 and phase_ta(t) < 0.5 and row_ta(t) > 0.5"
    " and (int(row_ta(t) + 0.5) - 1) % angle_every == 0"
)

_EVENT_EQS = """
hist : integer
s : integer
ex : integer
sg_L : 1
sg_S : 1
"""

_INPUT_EQS = (
    """
x_L : 1
x_S : 1
psp = (x_L - x_S) / (tau_L - tau_s) : 1
psp_sum : 1
psp_f : 1
"""
    + _EVENT_EQS
)

_LAYER_EXTRA = (
    """
b : 1
b_L : 1
b_S : 1
zb : 1
yb : 1
C_sum : 1
C_avg : 1
C_f : 1
delta : 1
"""
    + _EVENT_EQS
)

_HIDDEN_EXTRA = """
c : 1
a_L : 1
a_S : 1
za : 1
ya : 1
A_sum : 1
A_avg : 1
alpha_f : 1
alpha_t : 1
psp_sum : 1
psp_f : 1
"""

_OUTPUT_EXTRA = """
phi_sum : 1
phi_t : 1
"""


def _ring_sums(mem: int) -> list[str]:
    """Presynaptic sums of the input ring's rank-one correction."""
    return ["QL", "QS", *(f"q{k}" for k in range(1, mem + 1))]


@dataclass
class _Handles:
    net: Any
    layers: list[Any]
    ff: list[Any]
    fb: list[Any]
    out_mon: Any
    hid_mons: list[Any]
    trace_mons: list[Any]
    inp: Any
    probe_mon: Any = None
    spike_mons: list[Any] = dataclasses.field(default_factory=list)


def _spike_mean(threshold: str, spikes: str) -> str:
    """The spike draw's mean per step, from a model threshold ``rand() < MEAN``."""
    head, sep, mean = threshold.partition("<")
    if not sep or head.strip() != "rand()" or not mean.strip():
        raise NeurosimError(
            f"segregated network: the neuron model's threshold {threshold!r} has to be"
            " 'rand() < MEAN' (MEAN: spikes per step), which spikes="
            f"{spikes!r} draws from"
        )
    return f"({mean.strip()})"


def _c_rhs(equations: str) -> str:
    """Right-hand side of the model's ``dC/dt`` equation."""
    import brian2 as b2

    return str(b2.Equations(equations)["C"].expr)


def _build(
    config: SegregatedConfig,
    weights: Weights,
    schedule: Schedule,
    images: np.ndarray,
    labels: np.ndarray,
    record_neurons: int,
    trace_window: tuple[int, int],
) -> _Handles:
    """Create the Brian2 objects of one epoch (does not run them).

    ``images`` and ``labels`` are padded by the caller to a row count that
    depends only on the epoch size class, so the generated code (which embeds
    array sizes) is the same for every epoch of that class.
    """
    import brian2 as b2

    hidden_model, output_model = _models(config)
    hp, op = hidden_model["params"], output_model["params"]
    tau_L, tau_s = hp["tau_L"], hp["tau_s"]
    mem = config.psp_memory
    # The spike history: one digit of this base per step, the last mem + 1
    # steps' counts (0 or 1 for Bernoulli spikes, 0..MAX_COUNT for Poisson).
    base = MAX_COUNT + 1 if config.spikes == "poisson" else 2
    # Fixed names: generated code calls the arrays by name, so automatic names
    # (_timedarray_7, ...) would defeat the code cache on every new epoch.
    per_step = {
        "phase_ta": schedule.phase,
        "window_ta": schedule.window,
        "end_ta": schedule.end,
        "clear_ta": schedule.clear,
        "row_ta": schedule.row,
        "inv_window_ta": schedule.inv_window,
    }
    timed = {
        name: b2.TimedArray(values.astype(float), dt=1 * b2.ms, name=name)
        for name, values in per_step.items()
    }
    timed["label_ta"] = b2.TimedArray(labels.astype(float), dt=1 * b2.ms, name="label_ta")
    timed["pixels_ta"] = b2.TimedArray(images, dt=1 * b2.ms, name="pixels_ta")
    common = {
        **timed,
        "tau_L": tau_L,
        "tau_s": tau_s,
        "lambda_max": hp["lambda_max"],
        "d_L": np.exp(-1.0 / tau_L),
        "d_S": np.exp(-1.0 / tau_s),
        "e_L": np.exp(-mem / tau_L),
        "e_S": np.exp(-mem / tau_s),
        "hist_base": base,
        "hist_mod": base ** (mem + 1),
        "hist_top": base**mem,
        "trace_t0": trace_window[0] * b2.ms,
        "trace_t1": trace_window[1] * b2.ms,
    }
    record_traces = trace_window[1] > trace_window[0]
    inp = b2.NeuronGroup(
        images.shape[1],
        _INPUT_EQS,
        threshold="s > 0",
        reset="",  # the step code applies spikes to the neuron's own traces
        # The learning pathway skips inputs whose forward average is 0 (their
        # weight change is exactly 0): about 80 % of MNIST pixels.
        events={
            "phase_end": _PHASE_END,
            "learn": _TARGET_END + " and psp_f != 0",
            **({"trace_spike": _TRACE_SPIKE} if record_traces else {}),
        },
        namespace=common,
        name="inputs",
    )
    same_step = not config.layer_delay
    # Without the delay each layer's step, spike events and outgoing forward
    # pathway run in order within the "groups" slot (below: order 3m + 0, 1,
    # 2 for the input m = 0 and layer m - 1); with it, every group steps in
    # "groups" and spikes travel in "synapses".
    inp.run_regularly(
        _input_step(same_step, config.spikes), when="groups", order=0, name="inputs_step"
    )
    if same_step:
        _move(inp.thresholder["spike"], 1)
    inp.run_on_event("phase_end", _INPUT_END, when="after_thresholds", order=2)
    inp.state_updater.active = False  # no differential equations
    inp.resetter["spike"].active = False  # empty, but would still run every step
    objects: list[Any] = [inp]

    sizes = config.layer_sizes
    n_hidden = len(sizes) - 1
    layers = []
    for m, size in enumerate(sizes):
        hidden = m < n_hidden
        model = hidden_model if hidden else output_model
        params = hp if hidden else op
        rule = SEGREGATED_HIDDEN if hidden else SEGREGATED_OUTPUT
        derived = rule.derived(
            {
                **params,
                "eta": config.learning_rates[m],
                "p_hidden_factor": config.p_hidden_factor,
                "p_final_factor": config.p_final_factor,
            }
        )
        namespace = {**common, **params, "eta_P_k": derived["eta_P_k"]}
        eqs = model["equations"] + _LAYER_EXTRA + (_HIDDEN_EXTRA if hidden else _OUTPUT_EXTRA)
        probe = bool(config.angle_every) and m == n_hidden - 1
        if probe:
            eqs += _PROBE_EQS
        if m == 0:
            eqs += "".join(f"u{k} : 1\n" for k in range(mem + 1))
        events = {"expire": "ex > 0", "phase_end": _PHASE_END, "learn": _TARGET_END}
        if record_traces:
            events["trace"] = "t >= trace_t0 and t < trace_t1"
            events["trace_spike"] = _TRACE_SPIKE
        if probe:
            events["probe"] = _PROBE_EVENT
            namespace["angle_every"] = config.angle_every
        group = b2.NeuronGroup(
            size,
            eqs,
            threshold="s > 0",
            reset="",
            events=events,
            method=model["method"],
            namespace=namespace,
            name=f"layer{m}",
        )
        # The Euler step runs inside the layer's run_regularly (same formula).
        group.state_updater.active = False
        group.resetter["spike"].active = False
        ring = mem if m == 0 else 0
        code = _layer_step(
            hidden, _c_rhs(model["equations"]), model["threshold"], ring, same_step, config.spikes
        )
        group.run_regularly(code, when="groups", order=3 * m + 3, name=f"layer{m}_step")
        if same_step:
            for event in ("spike", "expire"):
                _move(group.thresholder[event], 3 * m + 4)
        # After the custom-event thresholders (slot "after_thresholds", order
        # 0) and the probe monitor (1), before the monitors (3) and the
        # synapses that read delta.
        group.run_on_event("phase_end", _layer_end(hidden, probe), when="after_thresholds", order=2)
        group.b = weights.b[m]
        if hidden:
            group.c = weights.c[m]
        layers.append(group)
        objects.append(group)

    # The input pathway (784 x n_0 synapses, ~20 input spikes a step) is most
    # of the work. There, a spike sends w to the target's ring slot u0 and
    # nothing is sent at expiry: the target keeps the last `mem` per-step sums
    # u_k = sum_j w_j s_j(t - k) and subtracts exp(-mem/tau) u_mem itself.
    # When W changes (W += delta psp_f^T, rank one), traces and ring slots
    # change by delta times presynaptic sums, QL = sum_j psp_f_j x_L,j and
    # q_k = sum_j psp_f_j s_j(T - k), collected once per example by a
    # one-neuron reducer and handed to the layer through n_0 synapses: B =
    # W . PSP stays exact without any per-synapse work beyond w += dw.
    sums = _ring_sums(mem)
    reducer = b2.NeuronGroup(
        1,
        "".join(f"{n} : 1\n" for n in sums),
        threshold=None,
        events={"apply": _TARGET_END},
        namespace=common,
        name="ring_sums",
    )
    reducer.run_regularly("".join(f"{n} = 0\n" for n in sums), when="groups", name="ring_clear")
    # The layer has folded in the input's spikes up to step T (same_step) or
    # T - 1; then its traces are d x (x - sg) summed over the inputs, and
    # ring slot k holds the spikes of step T - k + 1 (T - k).
    if same_step:
        collect = "QL_post += psp_f_pre * d_L * x_L_pre\nQS_post += psp_f_pre * d_S * x_S_pre\n"
    else:
        collect = "QL_post += psp_f_pre * (x_L_pre - sg_L_pre)\n"
        collect += "QS_post += psp_f_pre * (x_S_pre - sg_S_pre)\n"
    shift = 1 if same_step else 0
    collect += "".join(
        f"q{k}_post += psp_f_pre * ((hist_pre // {base ** (k - shift)}) % hist_base)\n"
        for k in range(1, mem + 1)
    )
    red_syn = b2.Synapses(
        inp,
        reducer,
        on_pre={"learn": collect},
        on_event={"learn": "learn"},
        namespace=common,
        name="ring_collect",
    )
    red_syn.connect(i=np.arange(inp.N), j=np.zeros(inp.N, dtype=int))
    red_syn.learn.order = -4
    apply = b2.Synapses(
        reducer,
        layers[0],
        on_pre={"apply": _ring_correction(mem)},
        on_event={"apply": "apply"},
        name="ring_apply",
    )
    apply.connect(i=np.zeros(layers[0].N, dtype=int), j=np.arange(layers[0].N))
    apply.apply.order = -3
    objects += [reducer, red_syn, apply]

    ff = []
    for m, post in enumerate(layers):
        pre = inp if m == 0 else layers[m - 1]
        symmetric = config.symmetric_feedback and m == len(layers) - 1 and n_hidden > 0
        rule = SEGREGATED_HIDDEN if m < n_hidden else SEGREGATED_OUTPUT
        if m == 0:
            on_pre = {"spikes": "u0_post += w * s_pre", "learn": rule.code["learn_input"]}
            on_event = {"spikes": "spike", "learn": "learn"}
        else:
            # The probe's backprop error W_out^T delta_out uses w before its update.
            bp_probe = config.angle_every and m == n_hidden
            on_pre = {
                "spikes": "zb_post += w * s_pre",
                "expire": "yb_post += w * ex_pre",
                "learn": (rule.code["backprop_probe"] if bp_probe else "")
                + rule.code["learn_same_step" if same_step else "learn"]
                + (rule.code["learn_symmetric"] if symmetric else ""),
            }
            on_event = {"spikes": "spike", "expire": "expire", "learn": "learn"}
        on_post = None
        if symmetric:
            # Feedback through the same synapses: Y = W^T at every moment.
            on_post = {"fb": "za_pre += w * s_post", "fb_expire": "ya_pre += w * ex_post"}
            on_event.update({"fb": "spike", "fb_expire": "expire"})
        syn = b2.Synapses(
            pre,
            post,
            "w : 1",
            on_pre=on_pre,
            on_post=on_post,
            on_event=on_event,
            namespace=common,
            name=f"ff{m}",
        )
        n_pre, n_post = pre.N, post.N
        syn.connect(i=np.repeat(np.arange(n_pre), n_post), j=np.tile(np.arange(n_post), n_pre))
        syn.w = weights.W[m].T.ravel()
        # Before the spike pathway: the update sees the traces before this
        # step's events arrive, so dw * x_pre keeps B = W . PSP exactly.
        syn.learn.order = -2
        if same_step:
            _move(syn.spikes, 3 * m + 2)
            if m > 0:
                _move(syn.expire, 3 * m + 2)
        ff.append(syn)
        objects.append(syn)

    fb = []
    if not config.symmetric_feedback:
        for m in range(n_hidden):
            Y = weights.Y[m]
            # All-to-all even for sparse feedback: the synapse count (baked
            # into the generated code) must not depend on the seed.
            syn = b2.Synapses(
                layers[-1],
                layers[m],
                "y : 1",
                on_pre={"spikes": "za_post += y * s_pre", "expire": "ya_post += y * ex_pre"},
                on_event={"spikes": "spike", "expire": "expire"},
                namespace=common,
                name=f"fb{m}",
            )
            n_pre, n_post = Y.shape[1], Y.shape[0]
            syn.connect(i=np.repeat(np.arange(n_pre), n_post), j=np.tile(np.arange(n_post), n_pre))
            syn.y = Y.T.ravel()
            fb.append(syn)
            objects.append(syn)

    # Results: the output layer's averages at every phase end (10 values per
    # phase) and the plateaus of a few hidden neurons at target-phase ends.
    out_mon = b2.EventMonitor(
        layers[-1],
        "phase_end",
        variables=["C_avg", "phi_t"],
        when="after_thresholds",
        order=3,
        name="output_phase_ends",
    )
    objects.append(out_mon)
    hid_mons, trace_mons = [], []
    for m, group in enumerate(layers):
        rec = group[: max(1, min(record_neurons, group.N))]
        if m < n_hidden and record_neurons > 0:
            mon = b2.EventMonitor(
                rec,
                "learn",
                variables=["alpha_f", "alpha_t"],
                when="after_thresholds",
                order=3,
                name=f"layer{m}_plateaus",
            )
            hid_mons.append(mon)
            objects.append(mon)
        if record_traces:
            names = ["B", "A", "C"] if m < n_hidden else ["B", "C"]
            mon = b2.EventMonitor(rec, "trace", variables=names, name=f"layer{m}_traces")
            trace_mons.append(mon)
            objects.append(mon)
    spike_mons = []
    if record_traces:
        # Every neuron's spikes in the trace window (inputs first), so that a
        # trace can be recomputed from the spikes that caused it.
        for m, group in enumerate([inp, *layers]):
            mon = b2.EventMonitor(
                group, "trace_spike", variables=["s"], name=f"group{m}_trace_spikes"
            )
            spike_mons.append(mon)
            objects.append(mon)
    probe_mon = None
    if config.angle_every and n_hidden:
        # Order 1: after the event thresholders (order 0), before the phase-end
        # handler (order 2) clears e_bp for the new example.
        probe_mon = b2.EventMonitor(
            layers[n_hidden - 1],
            "probe",
            variables=["delta_t", "e_bp", "C_f"],
            when="after_thresholds",
            order=1,
            name="backprop_probe",
        )
        objects.append(probe_mon)
    net = b2.Network(objects, name="segregated")
    return _Handles(net, layers, ff, fb, out_mon, hid_mons, trace_mons, inp, probe_mon, spike_mons)


def _move(obj: Any, order: int) -> None:
    """Run a thresholder or synaptic pathway in the "groups" slot at ``order``."""
    obj.when = "groups"
    obj.order = order


def _dense(syn: Any, var: str, n_post: int, n_pre: int) -> np.ndarray:
    out = np.zeros((n_post, n_pre))
    out[np.asarray(syn.j[:]), np.asarray(syn.i[:])] = np.asarray(getattr(syn, var)[:])
    return out


def _shape_key(
    config: SegregatedConfig,
    schedule: Schedule,
    n_rows: int,
    n_in: int,
    record_neurons: int,
    trace_window: tuple[int, int],
) -> str:
    # The seed only changes data (weights, schedules), never the code: one
    # build serves all seeds.
    shape = {k: v for k, v in dataclasses.asdict(config).items() if k != "seed"}
    text = json.dumps(
        [
            shape,
            len(schedule.phase),
            n_rows,
            n_in,
            record_neurons,
            list(trace_window),
            __version__,
        ],
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def run_epoch(
    config: SegregatedConfig,
    weights: Weights,
    train_images: np.ndarray,
    train_labels: np.ndarray,
    test_images: np.ndarray,
    test_labels: np.ndarray,
    epoch: int,
    *,
    n_train: int | None = None,
    n_test: int | None = None,
    test_every: int | None = None,
    n_quick_test: int = 100,
    shuffle: bool = True,
    target: str = "cython",
    record_neurons: int = 5,
    trace_window: tuple[int, int] = (0, 0),
    cache_dir: Path | None = None,
    rng: np.random.Generator | None = None,
    profile: bool = False,
    report: str | None = None,
) -> tuple[Weights, dict[str, Any]]:
    """Run one epoch (training, quick tests, final test) as one Brian2 run.

    Parameters
    ----------
    config : SegregatedConfig
    weights : Weights
        Weights at the start of the epoch.
    train_images, test_images : numpy.ndarray
        Pixel intensities in [0, 1], shape (N, 784) or (N, 28, 28).
    train_labels, test_labels : numpy.ndarray
        Integer class labels, shape (N,).
    epoch : int
        Epoch index: selects the shuffle, phase lengths and spike seed.
    n_train, n_test : int, optional
        Training examples (the first ``n_train`` of ``train_images``) and test
        examples (the first ``n_test`` of ``test_images``); default all.
    test_every, n_quick_test : int, optional
        Quick test of the first ``n_quick_test`` test examples every
        ``test_every`` training examples.
    shuffle : bool
        Show the training examples in the order
        :func:`neurosim.datasets.example_order` draws from the epoch's
        generator (the reference shuffles before every epoch); False: in
        file order.
    target : {"cython", "numpy", "cpp_standalone"}
        Brian2 code-generation target.
    record_neurons : int
        Plateau values and traces are recorded for neurons ``0..record_neurons-1``
        of each layer.
    trace_window : (int, int)
        Steps ``[start, stop)`` of the epoch whose B, A, C are recorded.
    cache_dir : Path, optional
        Cache root for Brian2 builds (default :func:`neurosim.runner.cache_dir`).
    rng : numpy.random.Generator, optional
        The epoch's generator; default ``default_rng([config.seed, epoch])``.
    profile : bool
        Record Brian2's per-code-object run times (``result["profile"]``).
    report : str, optional
        Brian2's progress report during the run: ``"stderr"`` prints how much
        of the epoch is simulated every 10 s of wall time (from inside the
        compiled program in ``cpp_standalone``); None is silent.

    Returns
    -------
    weights : Weights
        Weights at the end of the epoch.
    result : dict
        ``test_error`` (final test, %), ``quick_errors`` (%, per quick test),
        ``quick_at`` (training examples before each quick test), ``loss`` and
        ``train_correct`` (per training example), ``plateau_f`` / ``plateau_t``
        (per hidden layer, (n_train, record_neurons)), ``phase_start``,
        ``phase_kind``, ``traces`` (per layer: ``t`` (step), ``i``, variables),
        ``trace_spikes`` (inputs, then per layer: ``step``, ``i`` and ``count``
        of every step with spikes in ``trace_window``),
        ``phase_averages`` (per layer, the last example's averages),
        ``order`` (indices into ``train_images`` in presentation order),
        ``wall_time`` (s of the run call; in ``cpp_standalone`` including
        code generation, ``make`` and loading), ``run_time``
        (``cpp_standalone`` only: CPU s of the simulation inside the binary,
        Brian2's ``std::clock()`` measurement), ``run_wall_time``
        (``cpp_standalone`` only: wall s of the binary's whole execution),
        ``profile`` (if requested: (code object, s) pairs), ``n_steps``
        (steps before the idle padding of the epoch's size class).
        (``plateau_f``/``plateau_t`` are empty lists when
        ``record_neurons`` is 0.)
    """
    cache_dir = Path(cache_dir) if cache_dir is not None else runner_cache_dir()
    _configure_brian(target, cache_dir)
    train_images = _as_pixels(train_images, "train_images")
    test_images = _as_pixels(test_images, "test_images")
    n_train = len(train_images) if n_train is None else n_train
    n_test = len(test_images) if n_test is None else n_test
    if not 0 <= n_train <= len(train_images):
        raise NeurosimError(f"n_train: has to be in [0, {len(train_images)}], got {n_train}")
    if not 1 <= n_test <= len(test_images):
        raise NeurosimError(f"n_test: has to be in [1, {len(test_images)}], got {n_test}")
    rng = rng if rng is not None else _epoch_rng(config.seed, epoch)
    order = example_order(rng, n_train, shuffle)
    schedule = make_schedule(
        config, n_train, n_test, rng, test_every=test_every, n_quick_test=n_quick_test
    )
    images = np.concatenate([train_images[order], test_images[:n_test]])
    labels = np.concatenate([np.asarray(train_labels)[order], np.asarray(test_labels)[:n_test]])
    # Row count padded to a size class (see _size_class) so that the pixel
    # and label arrays, whose sizes the generated code embeds, are the same
    # for every epoch of similar size: the compiled code is reused.
    n_rows = _size_class(len(images), 64)
    padded_images = np.zeros((n_rows, images.shape[1]))
    padded_images[: len(images)] = images
    padded_labels = np.zeros(n_rows, dtype=np.int64)
    padded_labels[: len(labels)] = labels

    import brian2 as b2

    # the project folder is this process's alone until the results are read
    with contextlib.ExitStack() as stack:
        standalone_dir = None
        if target == "cpp_standalone":
            key = _shape_key(
                config, schedule, n_rows, images.shape[1], record_neurons, trace_window
            )
            standalone_dir = stack.enter_context(standalone_folder(cache_dir, key))
            if b2.get_device().__class__.__name__ == "CPPStandaloneDevice":
                b2.device.reinit()
            b2.set_device("cpp_standalone", directory=str(standalone_dir), build_on_run=False)
        else:
            b2.set_device("runtime")
        b2.defaultclock.dt = 1 * b2.ms
        # Objects of an earlier epoch still alive would make Brian2 rename the new
        # ones ("ff0_1", ...), which changes the generated code and defeats both
        # the cython cache and the standalone build.
        gc.collect()
        h = _build(
            config, weights, schedule, padded_images, padded_labels, record_neurons, trace_window
        )
        seed = brian_seed(config.seed, epoch)
        if standalone_dir is not None:
            # Seed through the environment: b2.seed() would write the value into
            # main.cpp and force a recompile for every epoch.
            b2.device.insert_code("main", _SEED_CODE)
            b2.device.run_environment_variables[_SEED_ENV] = str(seed)
        else:
            b2.seed(seed)
        start = time.perf_counter()
        h.net.run(
            len(schedule.phase) * b2.ms,
            profile=profile,
            report=report,
            report_period=10 * b2.second,
        )
        if standalone_dir is not None:
            b2.device.build(
                directory=str(standalone_dir), compile=True, run=True, with_output=False
            )
        wall = time.perf_counter() - start
        result = _collect(config, h, schedule, labels, n_train, n_test, test_every, n_quick_test)
        result["wall_time"] = wall
        result["order"] = order
        if profile:
            result["profile"] = [(name, float(t)) for name, t in h.net.profiling_info]
        if standalone_dir is not None:
            # CPU time: Brian2's main.cpp measures the run with std::clock(), which
            # counts the process's CPU time (one thread here: no OpenMP).
            result["run_time"] = b2.device._last_run_time
            # Wall time of the binary as Brian2 timed it (start, loading the
            # arrays, the run, writing the results).
            result["run_wall_time"] = b2.device.timers["run_binary"]
        new_weights = Weights(
            tuple(_dense(s, "w", s.target.N, s.source.N) for s in h.ff),
            tuple(np.asarray(g.b[:]).copy() for g in h.layers),
            tuple(
                _dense(h.ff[-1], "w", h.ff[-1].target.N, h.ff[-1].source.N).T for _ in h.layers[:-1]
            )
            if config.symmetric_feedback
            else tuple(_feedback(s, w) for s, w in zip(h.fb, weights.Y, strict=True)),
            weights.c,
        )
        if standalone_dir is not None:
            b2.device.reinit()
            b2.set_device("runtime")
        return new_weights, result


def _feedback(syn: Any, Y: np.ndarray) -> np.ndarray:
    return _dense(syn, "y", Y.shape[0], Y.shape[1])


def _as_pixels(images: np.ndarray, name: str) -> np.ndarray:
    images = np.asarray(images, dtype=float)
    images = images.reshape(len(images), -1)
    if images.size and (images.min() < 0 or images.max() > 1):
        raise NeurosimError(
            f"{name}: pixel values have to lie in [0, 1], got range "
            f"[{images.min()}, {images.max()}]"
        )
    return images


def _collect(
    config: SegregatedConfig,
    h: _Handles,
    schedule: Schedule,
    labels: np.ndarray,
    n_train: int,
    n_test: int,
    test_every: int | None,
    n_quick_test: int,
) -> dict[str, Any]:
    """Turn the monitors into per-example arrays."""
    n_out = config.n_outputs
    n_phases = len(schedule.phase_kind)
    c_avg = np.asarray(h.out_mon.C_avg[:]).reshape(n_phases, n_out)
    phi_t = np.asarray(h.out_mon.phi_t[:]).reshape(n_phases, n_out)
    kinds, rows = schedule.phase_kind, schedule.phase_row
    fwd, tgt, tst = kinds == FORWARD, kinds == TARGET, kinds == TEST
    lam = _models(config)[1]["params"]["lambda_max"]
    c_f = c_avg[fwd]
    loss = np.mean((phi_t[tgt] - lam / (1 + np.exp(-c_f))) ** 2, axis=1)
    train_correct = np.argmax(c_f, axis=1) == labels[rows[fwd]]
    test_correct = np.argmax(c_avg[tst], axis=1) == labels[rows[tst]]
    blocks = _test_blocks(n_train, n_test, test_every, n_quick_test)
    bounds = np.cumsum([0] + [s for _, s in blocks])
    errors = [100.0 * (1 - test_correct[a:b].mean()) for a, b in itertools.pairwise(bounds)]
    plateau_f, plateau_t = [], []
    for mon in h.hid_mons:
        # One record per target-phase end: both plateaus of that example.
        n_rec = int(tgt.sum())
        n_neurons = len(mon.source)
        plateau_f.append(np.asarray(mon.alpha_f[:]).reshape(n_rec, n_neurons))
        plateau_t.append(np.asarray(mon.alpha_t[:]).reshape(n_rec, n_neurons))
    traces = []
    for mon in h.trace_mons:
        steps = np.round(np.asarray(mon.t_[:]) * 1000).astype(int)
        rec = {"step": steps, "i": np.asarray(mon.i[:])}
        for name in mon.record_variables:
            rec[name] = np.asarray(getattr(mon, name)[:])
        traces.append(rec)
    spikes = [
        {
            "step": np.round(np.asarray(mon.t_[:]) * 1000).astype(int),
            "i": np.asarray(mon.i[:]),
            "count": np.asarray(mon.s[:]),
        }
        for mon in h.spike_mons
    ]
    averages = []
    for m, g in enumerate(h.layers):
        hidden = m < len(h.layers) - 1
        names = ["C_f", "delta", *(["alpha_f", "alpha_t", "psp_f"] if hidden else ["phi_t"])]
        averages.append({n: np.asarray(getattr(g, n)[:]).copy() for n in names})
    averages.insert(0, {"psp_f": np.asarray(h.inp.psp_f[:]).copy()})
    bp_angle, bp_example = np.empty(0), np.empty(0, dtype=int)
    if h.probe_mon is not None:
        from neurosim.analysis.angles import backprop_angles

        n_h = len(h.probe_mon.source)
        steps = np.round(np.asarray(h.probe_mon.t_[:]) * 1000).astype(int)[::n_h]
        bp_example = np.round(schedule.row[steps]).astype(int) - 1
        shape = (len(bp_example), n_h)
        bp_angle = backprop_angles(
            np.asarray(h.probe_mon.delta_t[:]).reshape(shape),
            np.asarray(h.probe_mon.e_bp[:]).reshape(shape),
            np.asarray(h.probe_mon.C_f[:]).reshape(shape),
        )
    final = c_avg[tst][len(c_avg[tst]) - n_test :]
    return {
        "bp_angle": bp_angle,
        "bp_example": bp_example,
        "test_outputs": c_avg[tst],
        # lambda_max is a spike probability per 1 ms step: x 1000 gives Hz
        "test_rates": 1000.0 * lam / (1 + np.exp(-final)),
        "test_labels": labels[rows[tst]][len(c_avg[tst]) - n_test :],
        "test_error": errors[-1],
        "quick_errors": np.asarray(errors[:-1]),
        "quick_at": np.asarray([k for k, _ in blocks[:-1]]),
        "quick_size": n_quick_test,  # test examples per quick test (figures say it)
        "loss": loss,
        "train_correct": train_correct,
        "plateau_f": plateau_f,
        "plateau_t": plateau_t,
        "phase_start": schedule.phase_start,
        "phase_kind": schedule.phase_kind,
        # the class of the example each phase shows (for plots of the traces)
        "phase_label": np.asarray(labels)[rows].astype(np.int64),
        "n_steps": schedule.n_steps,
        "traces": traces,
        "trace_spikes": spikes,
        "phase_averages": averages,
    }


class Checkpoint(NamedTuple):
    """What :func:`train` keeps after every epoch (see :func:`read_checkpoint`)."""

    weights: Weights
    epoch: int
    rng: np.random.Generator
    test_errors: list[float]
    last_epoch: dict[str, Any] | None
    outputs_written: bool
    data: dict[str, Any] | None = None
    """The data set's provenance (:meth:`neurosim.datasets.LabelledData.provenance`)."""


def _save_checkpoint(
    path: Path,
    config: SegregatedConfig,
    weights: Weights,
    epoch: int,
    history: list[float],
    last_epoch: dict[str, Any] | None = None,
    outputs_written: bool = False,
    data: dict[str, Any] | None = None,
) -> None:
    """Write the state needed to continue after ``epoch`` epochs, atomically.

    A ``segregated`` checkpoint of :mod:`neurosim.checkpoints` (numpy arrays
    come back with their dtypes). The last epoch's result dict goes in too, so
    that the final outputs of a run can be written (again) from the checkpoint
    alone, identical to those of an uninterrupted run.
    """
    from neurosim.checkpoints import save_checkpoint

    state = {
        "epoch": int(epoch),
        "test_errors": [float(e) for e in history],
        "rng_state": _epoch_rng(config.seed, epoch).bit_generator.state,
        "brian_seed": brian_seed(config.seed, epoch),
        "weights": weights._asdict(),
        "last_epoch": last_epoch,
        "outputs_written": bool(outputs_written),
        "data": data,
    }
    save_checkpoint(path, "segregated", state, config=dataclasses.asdict(config))


#: State keys that make a file a segregated checkpoint (also one from before the format).
CHECKPOINT_KEYS = ("epoch", "test_errors", "rng_state")


def read_checkpoint(path: str | Path, config: SegregatedConfig) -> Checkpoint:
    """Read a checkpoint written by :func:`train` for ``config``.

    Raises
    ------
    NeurosimError
        If the file does not read as such a checkpoint (``PATH is truncated or
        not a neurosim checkpoint``) or was written for another config.
    """
    from neurosim.checkpoints import load_checkpoint

    path = Path(path)
    data = load_checkpoint(
        path,
        "segregated",
        config=dataclasses.asdict(config),
        keys=CHECKPOINT_KEYS,
    )
    return checkpoint_from_state(path, data)


def checkpoint_from_state(path: Path, data: dict[str, Any]) -> Checkpoint:
    """The :class:`Checkpoint` in a state :func:`neurosim.checkpoints.load_checkpoint` read."""
    from neurosim.checkpoints import corrupt_checkpoint

    try:
        weights = Weights(*(tuple(data["weights"][name]) for name in Weights._fields))
        rng = np.random.default_rng()
        rng.bit_generator.state = data["rng_state"]
        epoch, history = int(data["epoch"]), [float(e) for e in data["test_errors"]]
        last, written = data["last_epoch"], bool(data["outputs_written"])
        provenance = data.get("data")
    except (KeyError, ValueError, TypeError):
        raise corrupt_checkpoint(path) from None
    return Checkpoint(weights, epoch, rng, history, last, written, provenance)


def mark_outputs_written(path: str | Path, config: SegregatedConfig) -> None:
    """Record in a finished run's checkpoint that its final outputs are complete.

    ``neurosim run --resume`` of such a run does nothing; without the mark it
    writes the outputs again from the checkpoint (a run killed during its
    final write).
    """
    ckpt = read_checkpoint(path, config)
    _save_checkpoint(
        Path(path),
        config,
        ckpt.weights,
        ckpt.epoch,
        ckpt.test_errors,
        ckpt.last_epoch,
        outputs_written=True,
        data=ckpt.data,
    )


def _check_same_data(path: Path, saved: dict | None, data: dict | None) -> None:
    """Refuse to resume a run on other data than its checkpoint's (one line, the difference)."""
    if saved is None or data is None:
        return  # a checkpoint from before data provenance: nothing to compare
    import json

    def files(prov: dict) -> list[dict]:
        return json.loads(prov.get("data_files", "[]"))

    def hashes(listed: list[dict], content: bool) -> list:
        # the files' content, not where they lie: a run may resume on another machine;
        # a known set's decompressed content, not how a mirror gzipped it, where both have it
        key = "content_sha256" if content else "sha256"
        return [(f["role"], f[key]) for f in listed]

    before, now = files(saved), files(data)
    content = all(f.get("content_sha256") for f in before + now)
    there, here = hashes(before, content), hashes(now, content)
    if there != here:
        # name the first file that differs: four pairs of digests do not fit one line
        pairs = [(a, b) for a, b in zip(there, here, strict=False) if a != b]
        was, is_now = (
            (" ".join(pairs[0][0]), " ".join(pairs[0][1]))
            if pairs
            else (f"{len(there)} file(s)", f"{len(here)} file(s)")
        )
        raise NeurosimError(
            f"{path}: made on other data ({was} there, {is_now} now); "
            "resume with the same data set or start afresh"
        )
    for key in ("data_train_examples", "data_test_examples", "data_order_seed", "data_shuffle"):
        if key == "data_shuffle" and (key not in saved or key not in data):
            continue  # written by checkpoints since the shuffle became an option
        if saved.get(key) != data.get(key):
            raise NeurosimError(
                f"{path}: made on other data ({key} {saved.get(key)!r} there, "
                f"{data.get(key)!r} now); resume with the same data set or start afresh"
            )


def train(
    config: SegregatedConfig,
    train_images: np.ndarray,
    train_labels: np.ndarray,
    test_images: np.ndarray,
    test_labels: np.ndarray,
    *,
    n_epochs: int = 1,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    data: dict[str, Any] | None = None,
    weights: Weights | None = None,
    **epoch_kwargs: Any,
) -> dict[str, Any]:
    """Train for ``n_epochs`` epochs, each one Brian2 run, with optional checkpoints.

    Parameters
    ----------
    config : SegregatedConfig
    train_images, train_labels, test_images, test_labels : numpy.ndarray
        As in :func:`run_epoch`.
    n_epochs : int
        Total number of epochs (including those done before a resume).
    checkpoint : str or Path, optional
        A ``segregated`` checkpoint (:mod:`neurosim.checkpoints`) written
        atomically after every epoch (weights, biases, feedback weights, epoch
        index, the next epoch's numpy generator state and Brian2 seed, config,
        test errors, the epoch's result dict).
    resume : bool
        Continue from ``checkpoint``; a missing checkpoint is an error. A
        checkpoint with ``n_epochs`` or more epochs runs nothing and returns
        what it holds. A checkpoint made on other data (other file checksums,
        example counts or order seed than ``data``) is refused.
    data : dict, optional
        The data set's provenance (:meth:`neurosim.datasets.LabelledData.provenance`),
        stored in every checkpoint and compared on resume.
    weights : Weights, optional
        Start from these weights instead of :func:`init_weights` (pretrained
        weights; ``n_epochs=0`` with a test only runs one test epoch).
    **epoch_kwargs
        Passed to :func:`run_epoch` (``n_train``, ``n_test``, ``test_every``,
        ``n_quick_test``, ``shuffle``, ``target``, ``record_neurons``,
        ``trace_window``, ``cache_dir``).

    Returns
    -------
    dict
        ``test_errors`` (final test error of every epoch so far, %),
        ``epochs`` (the per-epoch result dicts of this call), ``last_epoch``
        (the result dict of the last epoch, from the checkpoint if this call
        ran none), ``weights`` (final :class:`Weights`), ``initial_weights``.
    """
    from neurosim.checkpoints import missing_checkpoint

    path = Path(checkpoint) if checkpoint is not None else None
    n_in = int(np.prod(np.shape(train_images)[1:]))
    start, history, rng, last = 0, [], None, None
    if resume:
        if path is None or not path.exists():
            raise missing_checkpoint(path)
        saved = read_checkpoint(path, config)
        _check_same_data(path, saved.data, data)
        weights, start, rng, history, last = saved[:5]
    elif weights is None:
        weights = init_weights(config, n_in)
    initial = weights
    results = []
    for epoch in range(start, n_epochs):
        weights, res = run_epoch(
            config,
            weights,
            train_images,
            train_labels,
            test_images,
            test_labels,
            epoch,
            rng=rng,
            **epoch_kwargs,
        )
        rng = None
        history.append(res["test_error"])
        results.append(res)
        last = res
        if path is not None:
            _save_checkpoint(path, config, weights, epoch + 1, history, last, data=data)
    return {
        "test_errors": np.asarray(history),
        "epochs": results,
        "last_epoch": last,
        "weights": weights,
        "initial_weights": initial,
    }
