"""A linear 30-20-10 network learning inside Brian2 by backprop, feedback alignment or shallow SGD.

The linear task of Lillicrap et al. (2016): a network ``y = W2 W1 x`` learns a
random linear map ``y* = T x`` from inputs ``x ~ N(0, I)``, one example per
simulation step. The rules are in :mod:`neurosim.plasticity.feedback_alignment`.

The teaching signal is a noisy observation of the target, ``y* + sigma eta``
with ``eta ~ N(0, I)`` drawn per step and output unit (``sigma`` =
``FAConfig.target_noise``), as in a regression task with measurement noise.
Without it both backprop and feedback alignment converge exponentially to
rounding level and their final errors cannot be compared; with it online SGD
at a fixed learning rate settles on an error floor set by the noise. The noise
is drawn from the run's seeded generator (:func:`make_task`), so every variant
of one seed sees the same noise, and read from a ``TimedArray`` like the
inputs, so it is the same on every Brian2 target.

Brian2 layout (dimensionless rate units; one step of ``STEP`` = one example):

``start``
    the input group reads its row of a ``TimedArray`` (``x = inputs(t, i)``),
    the output group its observation noise (``noise = fa_noise(t, i)``).
``groups``, in this order (explicit ``order`` of the summed-variable updaters)
    0. ``h = W1 x`` (input -> hidden synapses) and ``y* = T x`` (fixed
       "teacher" synapses from the input to the output group);
    1. ``y = W2 h``; the output group's teaching error ``e = y* + noise - y``
       and noise-free error ``y* - y`` are subexpressions;
    2. backward passes ``B e`` and ``W2^T e`` into the hidden group, and the
       sums ``W2 . B^T``, ``||W2||^2`` for the weight angle;
    3. squared norms and dot products summed into a one-neuron monitor group;
    4. the monitor group turns them into the recorded error and angles.
``synapses``
    ``W1 += eta delta x^T`` and ``W2 += eta e h^T`` (synaptic ``run_regularly``).
``end``
    a StateMonitor records the monitor group.

So every recorded value at step ``n`` describes example ``n`` before its own
update. Definitions of the recorded variables:

``error``
    ``<||y* - y||^2> / <||y*||^2>`` against the noise-free target ``y* = T x``,
    both running means over the last ``average_steps`` examples (exponential
    window after the first ``average_steps`` steps, an exact mean before): the
    normalised squared error of the paper, smoothed. Measured without the
    noise so that its floor shows how well ``W2 W1`` matches ``T``, not the
    noise variance.
``error_example``
    ``||y* - y||^2 / ||y*||^2`` of the example itself (noise-free, like ``error``).
``update_angle_example``, ``update_angle``
    angle between the applied hidden update and backprop's (see the rules
    module; both computed from the noisy teaching error, the one the network
    learns from), per example and as a running mean like ``error``; NaN for
    shallow.
``weight_angle``
    angle between ``W2`` and ``B^T``.

Defaults (chosen here, not taken from the paper, whose exact values are not
reproduced): ``T ~ U(-1, 1)``, forward weights ``U(-0.1, 0.1)``, ``B ~ U(-0.5,
0.5)``, learning rate 0.005 for both layers, target noise ``sigma = 0.1``
(against a target standard deviation of about 3 per output unit). With
``||x||^2 ~ 30`` a larger rate makes online SGD unstable; with this one
backprop and feedback alignment reach a normalised error below 1e-2 within
about 1000 examples and their noise floor (about 4e-4 and 3e-4) within about
1500, while shallow learning (fixed random ``W1``) learns slowly and cannot go
below the part of ``T`` outside the 20-dimensional row space of ``W1`` (about
1/3). ``target_noise = 0`` gives the noiseless task.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

import brian2 as b2
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from brian2.units.fundamentalunits import DIMENSIONLESS

from neurosim.errors import NeurosimError
from neurosim.kinds import protocol_kind
from neurosim.plasticity.feedback_alignment import (
    FEEDBACK_ALIGNMENT,
    VARIANTS,
    FAState,
    init_state,
)
from neurosim.plotting import PLOTS, save_figure
from neurosim.protocol import Protocol
from neurosim.recording import now
from neurosim.runner import (
    RunResult,
    brian2_target,
    protocol_provenance,
    write_outputs,
)
from neurosim.schema import check_keys, expect
from neurosim.units import parse_quantity

__all__ = [
    "STEP",
    "FAConfig",
    "Task",
    "config_from_protocol",
    "make_task",
    "plot_fa_curves",
    "run_feedback_alignment",
    "train",
]

#: Simulated time per training example. Only the step count matters: every
#: quantity is dimensionless and updated once per step.
STEP = 1 * b2.ms

# Recorded by the monitor group, with their units.
_RECORDED = {
    "error": "1",
    "error_example": "1",
    "update_angle": "degree",
    "update_angle_example": "degree",
    "weight_angle": "degree",
}

_HIDDEN_EQS = """
h : 1
delta_fa : 1
delta_bp : 1
delta = {signal} : 1
"""

# ``err`` (noisy) is what the rules learn from; ``err_clean`` is what is recorded.
_OUTPUT_EQS = """
y : 1
y_target : 1
noise : 1
err = y_target + noise - y : 1
err_clean = y_target - y : 1
wB : 1
ww : 1
"""

_MONITOR_EQS = """
e2 : 1
y2 : 1
wB : 1
ww : 1
dd : 1
aa : 1
bb : 1
n_seen : 1
e2_avg : 1
y2_avg : 1
""" + "".join(f"{name} : 1\n" for name in _RECORDED)

# ``a`` is 1/n for the first average_steps examples (an exact running mean,
# so the first values are not biased towards zero) and 1/average_steps after.
_MONITOR_CODE = """
n_seen += 1
a = 1.0 / clip(n_seen, 1.0, average_steps)
e2_avg += a * (e2 - e2_avg)
y2_avg += a * (y2 - y2_avg)
error = e2_avg / y2_avg
error_example = e2 / y2
weight_angle = arccos(clip(wB / sqrt(ww * BB), -1.0, 1.0)) * (180.0 / pi)
"""

_UPDATE_ANGLE_CODE = """
update_angle_example = arccos(clip(dd / sqrt(aa * bb), -1.0, 1.0)) * (180.0 / pi)
update_angle += a * (update_angle_example - update_angle)
"""


@dataclass(frozen=True)
class FAConfig:
    """Settings of one training run (defaults: see the module docstring)."""

    variant: str = "feedback_alignment"
    """How the error reaches the hidden layer: backprop, feedback_alignment or shallow."""
    steps: int = 5000
    """Training examples (= simulation steps)."""
    learning_rate: float = 0.005
    """SGD learning rate of both layers."""
    sizes: tuple[int, int, int] = (30, 20, 10)
    """Input, hidden and output layer sizes."""
    weight_scale: float = 0.1
    """Initial forward weights are drawn from U(-weight_scale, weight_scale)."""
    feedback_scale: float = 0.5
    """Feedback weights B are drawn from U(-feedback_scale, feedback_scale)."""
    target_scale: float = 1.0
    """Entries of the target map T are drawn from U(-target_scale, target_scale)."""
    target_noise: float = 0.1
    """Standard deviation ``sigma`` of the Gaussian noise added to every target
    the network learns from (0: noiseless); the recorded error is still measured
    against the noise-free target."""
    average_steps: int = 100
    """Window of the running means ``error`` and ``update_angle``."""
    seed: int = 0
    """Seed of T, the initial weights, B, the inputs and the target noise."""

    def __post_init__(self):
        if self.variant not in VARIANTS:
            raise NeurosimError(
                f"variant: expected one of {', '.join(VARIANTS)}, got {self.variant!r}"
            )
        if self.steps < 1 or self.average_steps < 1:
            raise NeurosimError(
                f"steps and average_steps have to be >= 1, got {self.steps}, {self.average_steps}"
            )
        if not self.target_noise >= 0:  # also rejects NaN
            raise NeurosimError(f"target_noise has to be >= 0, got {self.target_noise}")


@dataclass(frozen=True)
class Task:
    """The target map, the initial weights, the inputs and the target noise of one run."""

    T: np.ndarray
    """Target map, (n_output, n_input)."""
    state: FAState
    """Initial weights W1, W2 and the feedback weights B."""
    inputs: np.ndarray
    """One input per step, (steps, n_input)."""
    noise: np.ndarray
    """Observation noise ``sigma eta`` added to each target, (steps, n_output)."""

    @property
    def targets(self) -> np.ndarray:
        """Noise-free targets ``y* = T x`` for every step, (steps, n_output)."""
        return self.inputs @ self.T.T

    @property
    def observed_targets(self) -> np.ndarray:
        """Targets the network learns from, ``y* + noise``, (steps, n_output)."""
        return self.targets + self.noise


def make_task(config: FAConfig) -> Task:
    """Draw T, the initial weights, B, the inputs and the noise from ``config.seed``.

    The variants of one seed share all of them, so their curves differ only
    by the learning rule.

    Parameters
    ----------
    config : FAConfig
        Sizes, scales, step count, target noise and seed.

    Returns
    -------
    Task
        ``noise`` is ``config.target_noise`` times standard normal draws.
    """
    rng = np.random.default_rng(config.seed)
    n_in, _, n_out = config.sizes
    T = rng.uniform(-config.target_scale, config.target_scale, (n_out, n_in))
    state = init_state(rng, config.sizes, config.weight_scale, config.feedback_scale)
    inputs = rng.standard_normal((config.steps, n_in))
    # Drawn last (and even for target_noise = 0), so that T, the weights and
    # the inputs of a seed are those of the noiseless task.
    noise = config.target_noise * rng.standard_normal((config.steps, n_out))
    return Task(T, state, inputs, noise)


def _all_to_all(n_pre: int, n_post: int) -> tuple[np.ndarray, np.ndarray]:
    # Explicit index arrays fix the synapse order on every Brian2 target
    # (cpp_standalone cannot read S.i before the run).
    i, j = np.divmod(np.arange(n_pre * n_post), n_post)
    return i, j


def train(config: FAConfig, target: str = "numpy", task: Task | None = None) -> xr.Dataset:
    """Train the network in one Brian2 run and return its per-step recording.

    Parameters
    ----------
    config : FAConfig
        The run's settings.
    target : {"numpy", "cython", "cpp_standalone"}
        Brian2 code-generation target.
    task : Task, optional
        Target map, initial weights, inputs and target noise (default
        :func:`make_task`).

    Returns
    -------
    xarray.Dataset
        The variables of ``_RECORDED`` along ``step`` (``error`` and
        ``error_example`` against the noise-free target), and the final weights
        ``hidden_weights`` (W1), ``output_weights`` (W2) and
        ``feedback_weights`` (B, read back from the simulation).
    """
    task = task if task is not None else make_task(config)
    n_in, n_hid, n_out = config.sizes
    for name, shape in (("inputs", (config.steps, n_in)), ("noise", (config.steps, n_out))):
        if getattr(task, name).shape != shape:
            raise NeurosimError(
                f"task {name} have shape {getattr(task, name).shape}, expected {shape}"
            )
    key = f"linear_fa:{config.variant}:{config.sizes}:{config.steps}"
    with brian2_target(target, key, config.seed):
        objects, handles = _build(config, task)
        net = b2.Network(*objects)
        # every constant comes from the groups' own namespaces, never from this frame
        net.run(config.steps * STEP, namespace={})
        s_hid, s_out, monitor = handles
        i1, j1 = _all_to_all(n_in, n_hid)
        i2, j2 = _all_to_all(n_hid, n_out)
        final = {
            "hidden_weights": _matrix(s_hid.w[:], j1, i1, (n_hid, n_in)),
            "output_weights": _matrix(s_out.w[:], j2, i2, (n_out, n_hid)),
            "feedback_weights": _matrix(s_out.B[:], i2, j2, (n_hid, n_out)),
        }
        recorded = {name: np.asarray(getattr(monitor, name)[0], float) for name in _RECORDED}
    step = np.arange(config.steps)
    data = {
        name: xr.DataArray(values, dims=("step",), attrs={"units": _RECORDED[name]})
        for name, values in recorded.items()
    }
    dims = {
        "hidden_weights": ("hidden", "input"),
        "output_weights": ("output", "hidden"),
        "feedback_weights": ("hidden", "output"),
    }
    for name, values in final.items():
        data[name] = xr.DataArray(values, dims=dims[name], attrs={"units": "1"})
    return xr.Dataset(data, coords={"step": ("step", step, {"units": "1"})})


def _matrix(values, rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    out = np.empty(shape)
    out[rows, cols] = np.asarray(values, float)
    return out


def _build(config: FAConfig, task: Task):
    """Create the network's Brian2 objects (does not run them)."""
    n_in, n_hid, n_out = config.sizes
    W1, W2, B = task.state
    shallow = config.variant == "shallow"
    # A fixed name keeps the generated code identical from run to run (code cache).
    inputs = b2.TimedArray(task.inputs, dt=STEP, name="fa_inputs")
    rule = FEEDBACK_ALIGNMENT
    common = rule.namespace({"eta": config.learning_rate})
    x = b2.NeuronGroup(n_in, "x : 1", dt=STEP, name="fa_input")
    x.run_regularly("x = fa_inputs(t, i)", when="start", name="fa_input_rows")
    x.namespace["fa_inputs"] = inputs
    hid = b2.NeuronGroup(
        n_hid,
        _HIDDEN_EQS.format(signal=rule.code[f"signal_{config.variant}"]),
        dt=STEP,
        name="fa_hidden",
    )
    out = b2.NeuronGroup(n_out, _OUTPUT_EQS, dt=STEP, name="fa_output")
    # Precomputed like the inputs rather than drawn with Brian2's randn(), so
    # that it is the same for every variant and every target (and numpy can
    # replay it).
    out.run_regularly("noise = fa_noise(t, i)", when="start", name="fa_noise_rows")
    out.namespace["fa_noise"] = b2.TimedArray(task.noise, dt=STEP, name="fa_noise")
    mon = b2.NeuronGroup(
        1,
        _MONITOR_EQS,
        dt=STEP,
        namespace={"average_steps": float(config.average_steps), "BB": float(np.sum(B**2))},
        name="fa_monitor",
    )
    if shallow:
        # no hidden update is applied, so there is no angle to report
        mon.update_angle = np.nan
        mon.update_angle_example = np.nan
    mon.run_regularly(
        _MONITOR_CODE + ("" if shallow else _UPDATE_ANGLE_CODE),
        when="groups",
        order=4,
        name="fa_monitor_step",
    )

    teacher = b2.Synapses(
        x,
        out,
        "T : 1 (constant)\ny_target_post = T * x_pre : 1 (summed)",
        dt=STEP,
        name="fa_teacher",
    )
    i, j = _all_to_all(n_in, n_out)
    teacher.connect(i=i, j=j)
    teacher.T = task.T[j, i]

    s_hid = b2.Synapses(
        x, hid, rule.code["hidden_synapses"], namespace=common, dt=STEP, name="fa_w1"
    )
    i, j = _all_to_all(n_in, n_hid)
    s_hid.connect(i=i, j=j)
    s_hid.w = W1[j, i]

    s_out = b2.Synapses(
        hid, out, rule.code["feedback_synapses"], namespace=common, dt=STEP, name="fa_w2"
    )
    i, j = _all_to_all(n_hid, n_out)
    s_out.connect(i=i, j=j)
    s_out.w = W2[j, i]
    s_out.B = B[i, j]

    to_monitor = b2.Synapses(
        out,
        mon,
        "e2_post = err_clean_pre**2 : 1 (summed)\n"
        "y2_post = y_target_pre**2 : 1 (summed)\n"
        "wB_post = wB_pre : 1 (summed)\n"
        "ww_post = ww_pre : 1 (summed)",
        dt=STEP,
        name="fa_output_sums",
    )
    to_monitor.connect()
    objects = [x, hid, out, mon, teacher, s_hid, s_out, to_monitor]
    orders = {
        (teacher, "y_target_post"): 0,
        (s_hid, "h_post"): 0,
        (s_out, "y_post"): 1,
        (s_out, "delta_fa_pre"): 2,
        (s_out, "delta_bp_pre"): 2,
        (s_out, "wB_post"): 2,
        (s_out, "ww_post"): 2,
        **{(to_monitor, name): 3 for name in ("e2_post", "y2_post", "wB_post", "ww_post")},
    }
    s_out.run_regularly(rule.code["output_update"], when="synapses", name="fa_w2_update")
    if not shallow:
        s_hid.run_regularly(rule.code["hidden_update"], when="synapses", name="fa_w1_update")
        hid_to_monitor = b2.Synapses(
            hid,
            mon,
            "dd_post = delta_pre * delta_bp_pre : 1 (summed)\n"
            "aa_post = delta_pre**2 : 1 (summed)\n"
            "bb_post = delta_bp_pre**2 : 1 (summed)",
            dt=STEP,
            name="fa_hidden_sums",
        )
        hid_to_monitor.connect()
        objects.append(hid_to_monitor)
        orders.update({(hid_to_monitor, name): 3 for name in ("dd_post", "aa_post", "bb_post")})
    # Brian2 runs every summed-variable updater just before its target group
    # (order -1 in "groups"); the forward and backward passes need a chain.
    for (synapses, name), order in orders.items():
        synapses.summed_updaters[name].order = order
    monitor = b2.StateMonitor(mon, list(_RECORDED), record=0, when="end", dt=STEP, name="fa_record")
    objects.append(monitor)
    return objects, (s_hid, s_out, monitor)


def config_from_protocol(protocol: Protocol) -> FAConfig:
    """Read and check a protocol's ``training:`` section.

    Raises
    ------
    NeurosimError
        Naming the file, the key and the value of the first problem.
    """
    where = protocol.where("training")
    spec = check_keys(
        protocol.data.get("training"),
        where,
        ("variant", "steps", "learning_rate"),
        (
            "sizes",
            "weight_scale",
            "feedback_scale",
            "target_scale",
            "target_noise",
            "average_steps",
        ),
    )
    variant = spec["variant"]
    if variant not in VARIANTS:
        raise NeurosimError(
            f"{where}.variant: expected one of {', '.join(VARIANTS)}, got {variant!r}"
        )
    values = {}
    for name in ("steps", "average_steps"):
        if name in spec:
            values[name] = expect(spec[name], int, f"{where}.{name}", "an integer >= 1")
            if values[name] < 1:
                raise NeurosimError(f"{where}.{name}: has to be an integer >= 1, got {spec[name]}")
    for name in ("learning_rate", "weight_scale", "feedback_scale", "target_scale"):
        if name in spec:
            values[name] = parse_quantity(spec[name], f"{where}.{name}", DIMENSIONLESS)
            if values[name] <= 0:
                raise NeurosimError(f"{where}.{name}: has to be > 0, got {spec[name]!r}")
    if "target_noise" in spec:
        # 0 is allowed: the noiseless task
        values["target_noise"] = parse_quantity(
            spec["target_noise"], f"{where}.target_noise", DIMENSIONLESS
        )
        if not values["target_noise"] >= 0:
            raise NeurosimError(
                f"{where}.target_noise: has to be >= 0, got {spec['target_noise']!r}"
            )
    if "sizes" in spec:
        sizes = expect(
            spec["sizes"], list, f"{where}.sizes", "a list [n_input, n_hidden, n_output]"
        )
        if len(sizes) != 3 or not all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in sizes
        ):
            raise NeurosimError(
                f"{where}.sizes: expected three integers >= 1 [n_input, n_hidden, n_output], "
                f"got {sizes!r}"
            )
        values["sizes"] = tuple(sizes)
    return FAConfig(variant=variant, seed=protocol.seed, **values)


@protocol_kind("feedback_alignment")
def run_feedback_alignment(
    protocol: Protocol, out_dir: Path, *, progress: bool = True, resume: bool = False
) -> RunResult:
    """Run a ``feedback_alignment`` protocol: one training run, recorded per step.

    ``progress`` and ``resume`` are accepted for the common signature; a run
    takes seconds and keeps no checkpoints, so neither has an effect.
    """
    config = config_from_protocol(protocol)
    started = now()
    ds = train(config, protocol.target)
    ds.attrs = protocol_provenance(
        protocol,
        started,
        config=repr(asdict(config)),
        config_hash=hashlib.sha1(repr(asdict(config)).encode()).hexdigest()[:12],
    )
    result = write_outputs(protocol, ds, out_dir)
    last = ds.isel(step=-1)
    result.summary.extend(
        [
            f"variant = {config.variant}, target noise = {config.target_noise:g}",
            f"final error = {float(last.error):.4g}",
            f"final update angle = {float(last.update_angle):.1f} degree",
            f"final weight angle = {float(last.weight_angle):.1f} degree",
        ]
    )
    return result


def plot_fa_curves(ds: xr.Dataset, path: str | Path) -> list[Path]:
    """Error (log scale), update angle and weight angle against training step.

    A Dataset with a ``variant`` dimension (the benchmark's medians) gets one
    line per variant.
    """
    if "error" not in ds or "step" not in ds.dims:
        raise NeurosimError(f"{path}: the recording has no feedback-alignment curves")
    lines = (
        [(str(v), ds.sel(variant=v)) for v in ds["variant"].values]
        if "variant" in ds.dims
        else [(ds.attrs.get("protocol_name", ""), ds)]
    )
    panels = [
        ("error", "squared error\n(normalised, dimensionless)"),
        ("update_angle", "update angle to\nbackprop (degree)"),
        ("weight_angle", "angle between\nW2 and B^T (degree)"),
    ]
    fig, axes = plt.subplots(len(panels), 1, figsize=(6, 7), sharex=True)
    for ax, (var, label) in zip(axes, panels, strict=True):
        for name, sub in lines:
            ax.plot(sub["step"].values, sub[var].values, lw=1, label=name)
        ax.set_ylabel(label)
    axes[0].set_yscale("log")
    for ax in axes[1:]:
        ax.axhline(90, color="0.6", lw=0.8, ls="--")
    if any(name for name, _ in lines):
        axes[0].legend(frameon=False)
    axes[-1].set_xlabel("training examples")
    fig.suptitle("Feedback alignment in a linear network: error and alignment angles")
    fig.tight_layout()
    return [save_figure(fig, Path(path))]


PLOTS["fa_curves"] = plot_fa_curves
