"""``neurosim tune``: tune protocol parameters with an ask/tell optimizer.

Each trial sets the tuned parameters with the protocol override mechanism
(``--set`` keys), runs the protocol, and reads the metric from its recording
(a Dataset variable; the last value when it has several, for example the
last epoch's test error).

Before the first trial the whole setup is checked: the protocol is loaded with
every tuned parameter at its low and at its high end, each range's unit has the
dimension of the protocol's value at that key (``--param
stimuli.0.amplitude=0:100pA``), and the metric is one the protocol's recording
will hold (derived from its records and analysis, or from what its kind
records; for a kind not known here the metric is checked after the first trial).

A trial fails when its metric is NaN or infinite (a diverged run) or when its
run raises a :class:`~neurosim.errors.NeurosimError` (for example a setting the
protocol refuses). A failed trial does not end the run: it is recorded with its
status and message, and the optimizer is told the worst finite metric of the
trials so far as a penalty (all failures share it; when that worst value
changes, the optimizer is rebuilt and every trial replayed to it, so that it
always sees the same penalty for every failure). If the first
:data:`MAX_FIRST_FAILURES` trials all fail, the run stops with an error: the
setup, not one unlucky point, is wrong.

Every trial (failed ones included) and the best parameters so far are written
atomically to ``tune.nc`` after each trial, so a killed run loses at most the
trial in progress; ``--resume`` replays the trials found there and continues.

Also defines the ``test_function`` protocol kind: a cheap synthetic protocol
whose recording holds ``value`` = a benchmark function of
:mod:`neurosim.blackbox.functions` at ``training.x`` (for checking tuners).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from neurosim.blackbox.asktell import make_optimizer
from neurosim.blackbox.functions import FUNCTIONS
from neurosim.checkpoints import missing_checkpoint
from neurosim.errors import NeurosimError, excerpt
from neurosim.kinds import protocol_kind
from neurosim.protocol import Protocol, apply_overrides, find_protocol, load_protocol
from neurosim.recording import load_recording, now, save_recording
from neurosim.runner import RunResult, protocol_provenance, run_protocol
from neurosim.schema import check_keys, expect, read_yaml
from neurosim.units import parse_quantity, unit_name

__all__ = [
    "MAX_FIRST_FAILURES",
    "TuneParam",
    "parse_param",
    "recording_variables",
    "run_test_function",
    "tune",
]

#: A run whose first this many trials all fail stops with an error.
MAX_FIRST_FAILURES = 5

_NUMBER = re.compile(r"\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*$")


@dataclass(frozen=True)
class TuneParam:
    """A tuned protocol setting and its range."""

    key: str
    """Override key, as for ``--set`` (e.g. ``training.learning_rates.0``)."""
    low: float
    """Lower end, in ``unit``."""
    high: float
    """Upper end, in ``unit``."""
    unit: str = ""
    """Unit of ``low``, ``high`` and the tuned values as written (``pA``); '' for numbers."""

    def setting(self, value: float) -> str:
        """The ``--set`` override giving this parameter ``value``."""
        text = repr(float(value))
        return f"{self.key}={text} {self.unit}" if self.unit else f"{self.key}={text}"


def _end(text: str, whole: str) -> tuple[float, str]:
    """One end of a range: its number and its unit text ('' for none)."""
    match = _NUMBER.fullmatch(text)
    if match is None:
        raise NeurosimError(
            f"--param {excerpt(whole)}: cannot read {excerpt(text)} as a number with an "
            "optional unit (e.g. 100pA)"
        )
    return float(match.group(1)), match.group(2)


def parse_param(text: str) -> TuneParam:
    """Parse ``KEY=LOW:HIGH`` with an optional unit: ``0:100pA``, ``0pA:100pA``, ``0.1nA:100pA``.

    A unit written on one end only applies to both; ends in different units of
    the same dimension are converted to the unit of the high end.

    Raises
    ------
    NeurosimError
        If the text is not of that form, the units differ in dimension or do
        not exist, or not ``LOW < HIGH``.
    """
    key, sep, rng = text.partition("=")
    low_text, colon, high_text = rng.partition(":")
    key = key.strip()
    if not sep or not colon or not key:
        raise NeurosimError(
            f"--param {excerpt(text)}: expected KEY=LOW:HIGH, e.g. x=0:1 or a=0:100pA"
        )
    (lo, lo_unit), (hi, hi_unit) = _end(low_text, text), _end(high_text, text)
    unit = hi_unit or lo_unit
    if unit:
        where = f"--param {excerpt(text)}"
        one = parse_quantity(f"1 {unit}", where)
        dimension = getattr(one, "dim", None)
        lo = float(parse_quantity(f"{lo!r} {lo_unit or unit}", where, dimension) / one)
        hi = float(parse_quantity(f"{hi!r} {unit}", where, dimension) / one)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise NeurosimError(
            f"--param {excerpt(text)}: expected finite LOW < HIGH, got {lo:g}:{hi:g}{unit}"
        )
    return TuneParam(key, lo, hi, unit)


def _current_value(data: Any, key: str) -> tuple[bool, Any]:
    """``(found, value)`` of a dotted override key in a protocol's raw data."""
    node = data
    for part in key.split("."):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return False, None
    return True, node


def _check_units(protocol: str | Path, params: list[TuneParam], overrides: list[str]) -> None:
    """Each range's unit has the dimension of the protocol's value at its key."""
    path = find_protocol(protocol)
    raw, _ = read_yaml(path, "protocol")
    data = apply_overrides(raw, overrides, str(path))
    for p in params:
        found, value = _current_value(data, p.key)
        if not found:
            continue  # a new optional key: the protocol's own validation checks it below
        where = f"--param {p.key}"
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise NeurosimError(
                f"{where}: {path} has {excerpt(value)} there, not a number or quantity to tune"
            )
        try:
            current = parse_quantity(value, f"{path}: {p.key}")
        except NeurosimError:
            continue  # not a quantity (e.g. a name): the protocol's validation decides
        has = getattr(current, "dim", None)
        wants = getattr(parse_quantity(f"1 {p.unit}", where), "dim", None) if p.unit else None
        if has is not wants and has is None:
            raise NeurosimError(
                f"{where}: the range has units of {unit_name(wants)} ({p.unit}) but {path} has "
                f"{excerpt(value)} there, a plain number: give the range without a unit"
            )
        if has is not wants:
            # Suggest the unit the protocol itself writes there (pA, not amp).
            written = _NUMBER.fullmatch(value) if isinstance(value, str) else None
            suggested = (written.group(2) if written else "") or unit_name(has)
            given = f"units of {unit_name(wants)} ({p.unit})" if wants else "plain numbers"
            raise NeurosimError(
                f"{where}: the range is in {given} but {path} has {excerpt(value)} there, in "
                f"units of {unit_name(has)}: write e.g. --param {p.key}={p.low:g}:{p.high:g}"
                f"{suggested}"
            )


#: Default name prefixes of measurements without a ``name`` (neurosim.analysis).
_MEASUREMENT_PREFIXES = {
    "steady_state": "steady_state_",
    "spike_count": "spike_count_",
    "firing_rate": "firing_rate_",
    "fi_curve": "fi_",
    "passive_response": "passive_",
    "voltage_transfer": "transfer_",
    "plateau": "plateau_",
}

#: What the learning kinds record: exact names and name prefixes (numbered layers).
_KIND_VARIABLES: dict[str, tuple[set[str], tuple[str, ...]]] = {
    "test_function": ({"value", "x", "regret"}, ()),
    "stdp_pairing": ({"weight_change"}, ()),
    "segregated_dendrite": (
        {"test_error", "quick_error", "backprop_angle", "train_loss", "phase_start", "phase_kind"},
        ("plateau_forward_", "plateau_target_", "layer", "W_", "b_", "Y_", "c_"),
    ),
    "comparison": (
        {
            "test_error",
            "train_time",
            "final_update_angle",
            "curve_examples",
            "curve_error",
            "angle_examples",
            "update_angle",
            "train_order",
        },
        (),
    ),
    "feedback_alignment": (
        {
            "error",
            "error_example",
            "update_angle",
            "update_angle_example",
            "weight_angle",
            "hidden_weights",
            "output_weights",
            "feedback_weights",
        },
        (),
    ),
}


def recording_variables(protocol: Protocol) -> tuple[set[str], tuple[str, ...]] | None:
    """The variables a protocol's recording will hold, before running it.

    Returns
    -------
    (set of str, tuple of str) or None
        Exact names and name prefixes (a ``simulation`` records ``<record>_<variable>``
        and its measurements ``<name>...``); ``None`` for a kind not known here.
    """
    if protocol.kind != "simulation":
        return _KIND_VARIABLES.get(protocol.kind)
    names: set[str] = set()
    prefixes: list[str] = []
    for rec in protocol.records:
        names.update(f"{rec.name}_{v}" for v in rec.variables)
        if rec.spikes:
            names.update((f"{rec.name}_spike_time", f"{rec.name}_spike_neuron"))
    names.update(
        f"stim{k}_label" for k, s in enumerate(protocol.stimuli) if s.kind == "dataset_poisson"
    )
    for spec in protocol.analysis:
        prefix = spec.get("name") or _MEASUREMENT_PREFIXES.get(spec.get("kind"))
        if prefix is None:
            return None  # a measurement kind whose names are not known here
        prefixes.append(str(prefix))
    return names, tuple(prefixes)


def _check_metric(proto: Protocol, metric: str, where: str) -> None:
    known = recording_variables(proto)
    if known is None:
        return
    names, prefixes = known
    if metric in names or any(metric.startswith(p) for p in prefixes):
        return
    listed = ", ".join(sorted(names) + [f"{p}..." for p in sorted(set(prefixes))])
    if len(listed) > 200:
        listed = listed[:197] + "..."
    raise NeurosimError(
        f"--metric {excerpt(metric)}: the recording of {where} will have no such variable; "
        f"it will have: {listed}"
    )


def _metric(ds: xr.Dataset, name: str, where: str) -> float:
    if name not in ds:
        known = ", ".join(sorted(str(v) for v in ds.data_vars))
        raise NeurosimError(
            f"{where}: the recording has no variable {name!r}; it has: {excerpt(known, 200)}"
        )
    values = np.asarray(ds[name].values, dtype=float).reshape(-1)
    if not len(values):
        raise NeurosimError(f"{where}: variable {name!r} is empty")
    return float(values[-1])


def _validate(protocol, params, metric, overrides) -> Protocol:
    """Check the whole setup before any trial; return the protocol at the low corner."""
    keys = [p.key for p in params]
    if len(set(keys)) != len(keys):
        raise NeurosimError(f"--param: a key is given twice ({', '.join(keys)})")
    _check_units(protocol, params, overrides)
    corners = {}
    for end in ("low", "high"):
        sets = [p.setting(getattr(p, end)) for p in params]
        try:
            corners[end] = load_protocol(protocol, [*overrides, *sets])
        except NeurosimError as err:
            raise NeurosimError(
                f"tune: with every --param at its {end} end ({'; '.join(sets)}): {err}"
            ) from None
    _check_metric(corners["low"], metric, str(protocol))
    return corners["low"]


#: ``--optimizer auto``: the optimizer ``bench_blackbox.py`` measured best, by dimension
#: (26 moved families, 100 seeds, median regret; README, issue 17). For 1 to 6 settings
#: the learned optimizer (the mixture network in 1-2 d, the gated one in 3-6 d): at step
#: 100 better than random search on all 26 families, better than CMA-ES on 12, level on
#: 11, worse on 3 (Levy1, Rastrigin4, Levy6); at steps 25 and 50 better than CMA-ES on
#: 23 and 21 and never worse.
AUTO_OPTIMIZER = dict.fromkeys(range(1, 7), "learned")


#: The learned optimizer's training horizon: beyond it, ``auto`` falls back to CMA-ES
#: (the benchmark measured nothing past step 100 and the network never ran that long).
AUTO_HORIZON = 100


def auto_optimizer(dim: int, budget: int = 30) -> str:
    """The optimizer ``--optimizer auto`` picks for ``dim`` tuned settings and ``budget`` trials."""
    if budget > AUTO_HORIZON:
        return "cma"
    return AUTO_OPTIMIZER.get(dim, "cma")


def tune(
    protocol: str | Path,
    params: list[TuneParam],
    *,
    metric: str,
    optimizer: str = "auto",
    budget: int = 30,
    maximize: bool = False,
    seed: int = 0,
    out_dir: str | Path = "results/tune",
    overrides: list[str] | None = None,
    resume: bool = False,
    progress: bool = True,
    weights: str | Path | None = None,
) -> xr.Dataset:
    """Minimise (or maximise) a protocol's metric over box-bounded settings.

    Parameters
    ----------
    protocol : str or Path
        Protocol file or shipped protocol name.
    params : list of TuneParam
        The tuned settings and their ranges (:func:`parse_param`).
    metric : str
        Recording variable to minimise (its last value).
    optimizer : str
        ``auto`` (:func:`auto_optimizer`), ``cma``, ``random``, ``learned``,
        ``tpe``, ``ngopt`` or ``botorch``.
    budget : int
        Number of trials, failed ones included.
    maximize : bool
        Maximise the metric instead.
    seed : int
        Optimizer seed.
    out_dir : str or Path
        ``tune.nc`` and one ``trialNNNN/`` folder per trial go here.
    overrides : list of str, optional
        ``--set`` overrides applied in every trial.
    resume : bool
        Replay the trials of ``<out_dir>/tune.nc`` and continue to ``budget``.
    progress : bool
        Show a progress bar.
    weights : str or Path, optional
        Weights of the ``learned`` optimizer (default: the shipped ones).

    Returns
    -------
    xarray.Dataset
        ``params`` (trial x param, in each param's ``unit``), ``metric`` (trial;
        NaN for a failed trial), ``status`` (``ok``, ``nonfinite`` or ``error``),
        ``message``, ``best_params``, ``best_metric`` (over the ``ok`` trials);
        also written to ``<out_dir>/tune.nc``.

    Raises
    ------
    NeurosimError
        For a wrong setup (before any trial), or when the first
        :data:`MAX_FIRST_FAILURES` trials all fail.
    """
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise NeurosimError(f"--budget: has to be an integer >= 1, got {excerpt(budget)}")
    if not params:
        raise NeurosimError("tune: give at least one --param KEY=LOW:HIGH")
    if optimizer == "auto":
        optimizer = auto_optimizer(len(params), budget)
    if weights is not None and optimizer != "learned":
        raise NeurosimError(f"--weights: only for --optimizer learned, got {optimizer!r}")
    overrides = list(overrides or [])
    proto = _validate(protocol, params, metric, overrides)
    out = Path(out_dir)
    store = out / "tune.nc"
    options = {"weights": weights} if weights is not None else {}
    bounds = [(p.low, p.high) for p in params]
    sign = -1.0 if maximize else 1.0
    trials = _Trials(lambda: make_optimizer(optimizer, bounds, seed=seed, **options), sign)
    if resume:
        if not store.exists():
            # a silent fresh start would look like a resumed one
            raise missing_checkpoint(store)
        _replay(store, params, trials)
    started = now()
    bar = None
    if progress:
        from neurosim.progress import progress_bar

        bar = progress_bar(
            total=budget, initial=len(trials.xs), desc=f"tune ({optimizer})", unit="trial"
        )
    while len(trials.xs) < budget:
        x = trials.ask()
        sets = [p.setting(v) for p, v in zip(params, x, strict=True)]
        where = f"{protocol} trial {len(trials.xs)}"
        try:
            proto = load_protocol(protocol, [*overrides, *sets])
            result = run_protocol(proto, out / f"trial{len(trials.xs):04d}", progress=False)
        except NeurosimError as err:
            y, status, message = math.nan, "error", str(err)
        else:
            # A wrong metric name is the setup's fault, not the trial's: it ends the run.
            y = _metric(result.dataset, metric, where)
            status, message = ("ok", "") if math.isfinite(y) else ("nonfinite", f"{metric} = {y}")
        trials.add(np.asarray(x, float), y, status, message)
        ds = _dataset(params, trials, maximize, metric, optimizer, proto, started)
        save_recording(ds, store)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(best=f"{float(ds.best_metric):.4g}")
        if not trials.ok_count() and len(trials.xs) >= min(budget, MAX_FIRST_FAILURES):
            if bar is not None:
                bar.close()
            last = message if len(message) <= 160 else message[:157] + "..."
            raise NeurosimError(
                f"tune: the first {len(trials.xs)} trials all failed (last: {last}); see {store}"
            )
    if bar is not None:
        bar.close()
    return load_recording(store)


def _replay(store: Path, params: list[TuneParam], trials: _Trials) -> None:
    """Add the trials of an earlier run's ``tune.nc`` (``--resume``)."""
    old = load_recording(store)  # an unreadable file: "... is truncated or not a ..."
    if not {"params", "metric", "param", "trial"} <= set(old.variables):
        raise NeurosimError(f"--resume: {store} is truncated or not a tune record")
    # files written before units existed have no unit coordinate: plain numbers
    units = old["unit"].values if "unit" in old.coords else ["1"] * old.sizes["param"]
    stored = [f"{k} [{u}]" for k, u in zip(old.param.values, units, strict=True)]
    wanted = [f"{p.key} [{p.unit or '1'}]" for p in params]
    if stored != wanted:
        raise NeurosimError(
            f"--resume: {store} tunes {', '.join(stored)}, not {', '.join(wanted)} "
            "(give the same --param keys and units, or another --out)"
        )
    status = old["status"].values if "status" in old else ["ok"] * old.sizes["trial"]
    message = old["message"].values if "message" in old else [""] * old.sizes["trial"]
    for x, y, s, m in zip(old.params.values, old.metric.values, status, message, strict=True):
        trials.add(np.asarray(x, float), float(y), str(s), str(m))


class _Trials:
    """The trials so far and the optimizer that has been told them.

    A failed trial is told as the worst finite value so far (0 while there is
    none); when that value changes, a fresh optimizer is told every trial again.
    """

    def __init__(self, make, sign: float) -> None:
        self.make, self.sign = make, sign
        self.xs: list[np.ndarray] = []
        self.ys: list[float] = []
        self.status: list[str] = []
        self.message: list[str] = []
        self.opt = make()
        self.penalty = 0.0

    def ok_count(self) -> int:
        return sum(s == "ok" for s in self.status)

    def _worst(self) -> float:
        told = [self.sign * y for y, s in zip(self.ys, self.status, strict=True) if s == "ok"]
        return max(told) if told else 0.0

    def add(self, x: np.ndarray, y: float, status: str, message: str) -> None:
        self.xs.append(x)
        self.ys.append(y)
        self.status.append(status)
        self.message.append(message)
        worst = self._worst()
        first = len(self.xs) - 1  # tell the new trial only ...
        if worst != self.penalty and self.ok_count() < len(self.status):
            # ... or replay all to a fresh optimizer: every failure gets the same penalty.
            self.opt, first = self.make(), 0
        self.penalty = worst
        for i in range(first, len(self.xs)):
            ok = self.status[i] == "ok"
            self.opt.tell(self.xs[i], self.sign * self.ys[i] if ok else worst)

    def ask(self) -> np.ndarray:
        return self.opt.ask()


def _dataset(params, trials: _Trials, maximize, metric, optimizer, proto, started) -> xr.Dataset:
    y = np.asarray(trials.ys, dtype=float)
    ok = np.asarray([s == "ok" for s in trials.status])
    xs = np.asarray(trials.xs, dtype=float)
    if ok.any():
        masked = np.where(ok, y, -np.inf if maximize else np.inf)
        k = int(np.argmax(masked) if maximize else np.argmin(masked))
        best_x, best_y = xs[k], float(y[k])
    else:
        k, best_x, best_y = -1, np.full(len(params), np.nan), math.nan
    names = [p.key for p in params]
    units = [p.unit or "1" for p in params]
    ds = xr.Dataset(
        {
            "params": (("trial", "param"), xs, {"units": "see unit"}),
            "metric": ("trial", y, {"units": "1", "name": metric}),
            "status": ("trial", np.asarray(trials.status, dtype=str)),
            "message": ("trial", np.asarray(trials.message, dtype=str)),
            "best_params": ("param", best_x, {"units": "see unit"}),
            "best_metric": ((), best_y, {"units": "1", "trial": k}),
            "low": ("param", [p.low for p in params], {"units": "see unit"}),
            "high": ("param", [p.high for p in params], {"units": "see unit"}),
        },
        coords={"param": names, "trial": np.arange(len(y)), "unit": ("param", units)},
    )
    ds.attrs.update(
        protocol_provenance(
            proto, started, optimizer=optimizer, metric=metric, goal="max" if maximize else "min"
        )
    )
    return ds


_TEST_FUNCTION_KEYS = {
    "function": f"one of {', '.join(FUNCTIONS)}",
    "x": "the point, a list of numbers inside the function's box",
}


@protocol_kind("test_function")
def run_test_function(
    protocol: Protocol, out_dir: Path, *, progress: bool = True, resume: bool = False
) -> RunResult:
    """Evaluate a benchmark function at ``training.x``; the recording holds ``value``."""
    where = protocol.where("training")
    spec = check_keys(protocol.data.get("training") or {}, where, ("function", "x"), ())
    name = expect(spec["function"], str, f"{where}.function", _TEST_FUNCTION_KEYS["function"])
    if name not in FUNCTIONS:
        raise NeurosimError(f"{where}.function: unknown {name!r}; known: {', '.join(FUNCTIONS)}")
    fn = FUNCTIONS[name]
    x = np.asarray(expect(spec["x"], list, f"{where}.x", _TEST_FUNCTION_KEYS["x"]), dtype=float)
    if x.shape != (len(fn.bounds),):
        raise NeurosimError(f"{where}.x: {name} needs {len(fn.bounds)} numbers, got {len(x)}")
    started = now()
    ds = xr.Dataset(
        {
            "value": ((), fn.f(x), {"units": "1"}),
            "x": ("dim", x, {"units": "1"}),
            "regret": ((), fn.f(x) - fn.minimum, {"units": "1"}),
        }
    )
    ds.attrs.update(protocol_provenance(protocol, started, function=name))
    from neurosim.runner import write_outputs

    return write_outputs(protocol, ds, out_dir)
