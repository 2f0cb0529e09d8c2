"""``neurosim tune``: tune protocol parameters with an ask/tell optimizer.

Each trial sets the tuned parameters with the protocol override mechanism
(``--set`` keys), runs the protocol, and reads the metric from its recording
(a Dataset variable; the last value when it has several, for example the
last epoch's test error). Every trial and the best parameters so far are
written atomically to ``tune.nc`` after each trial; ``--resume`` replays the
trials found there to the optimizer and continues.

Also defines the ``test_function`` protocol kind: a cheap synthetic protocol
whose recording holds ``value`` = a benchmark function of
:mod:`neurosim.blackbox.functions` at ``training.x`` (for checking tuners).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from neurosim.blackbox.asktell import make_optimizer
from neurosim.blackbox.functions import FUNCTIONS
from neurosim.errors import NeurosimError
from neurosim.protocol import Protocol, load_protocol
from neurosim.recording import now, save_recording
from neurosim.runner import RunResult, protocol_kind, protocol_provenance, run_protocol
from neurosim.schema import check_keys, expect

__all__ = ["TuneParam", "parse_param", "run_test_function", "tune"]


@dataclass(frozen=True)
class TuneParam:
    """A tuned protocol setting and its range."""

    key: str
    """Override key, as for ``--set`` (e.g. ``training.learning_rates.0``)."""
    low: float
    high: float


def parse_param(text: str) -> TuneParam:
    """Parse ``NAME=LOW:HIGH``."""
    key, sep, rng = text.partition("=")
    low, colon, high = rng.partition(":")
    try:
        lo, hi = float(low), float(high)
    except ValueError:
        lo = hi = math.nan
    if not sep or not colon or not key or not (lo < hi):
        raise NeurosimError(f"--param {text!r}: expected NAME=LOW:HIGH with LOW < HIGH")
    return TuneParam(key.strip(), lo, hi)


def _metric(ds: xr.Dataset, name: str, where: str) -> float:
    if name not in ds:
        known = ", ".join(sorted(str(v) for v in ds.data_vars))
        raise NeurosimError(f"{where}: the recording has no variable {name!r}; it has: {known}")
    values = np.asarray(ds[name].values, dtype=float).reshape(-1)
    if not len(values):
        raise NeurosimError(f"{where}: variable {name!r} is empty")
    return float(values[-1])


def tune(
    protocol: str | Path,
    params: list[TuneParam],
    *,
    metric: str,
    optimizer: str = "cma",
    budget: int = 30,
    maximize: bool = False,
    seed: int = 0,
    out_dir: str | Path = "results/tune",
    overrides: list[str] | None = None,
    resume: bool = False,
    progress: bool = True,
) -> xr.Dataset:
    """Minimise (or maximise) a protocol's metric over box-bounded settings.

    Returns
    -------
    xarray.Dataset
        ``params`` (trial x param), ``metric`` (trial), ``best_params``,
        ``best_metric``; also written to ``<out_dir>/tune.nc``.
    """
    if budget < 1:
        raise NeurosimError(f"--budget: has to be >= 1, got {budget}")
    if not params:
        raise NeurosimError("tune: give at least one --param NAME=LOW:HIGH")
    out = Path(out_dir)
    store = out / "tune.nc"
    opt = make_optimizer(optimizer, [(p.low, p.high) for p in params], seed=seed)
    sign = -1.0 if maximize else 1.0
    xs: list[np.ndarray] = []
    ys: list[float] = []
    if resume and store.exists():
        old = xr.load_dataset(store)
        for x, y in zip(old.params.values, old.metric.values, strict=True):
            opt.tell(x, sign * float(y))
            xs.append(np.asarray(x, float))
            ys.append(float(y))
    started = now()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=budget, initial=len(xs), desc=f"tune ({optimizer})", unit="trial")
    while len(xs) < budget:
        x = opt.ask()
        sets = [f"{p.key}={float(v)!r}" for p, v in zip(params, x, strict=True)]
        proto = load_protocol(protocol, [*(overrides or []), *sets])
        result = run_protocol(proto, out / f"trial{len(xs):04d}", progress=False)
        y = _metric(result.dataset, metric, str(protocol))
        opt.tell(x, sign * y)
        xs.append(np.asarray(x, float))
        ys.append(y)
        ds = _dataset(params, xs, ys, maximize, metric, optimizer, proto, started)
        save_recording(ds, store)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(best=f"{float(ds.best_metric):.4g}")
    if bar is not None:
        bar.close()
    return xr.load_dataset(store)


def _dataset(params, xs, ys, maximize, metric, optimizer, proto, started) -> xr.Dataset:
    y = np.asarray(ys)
    k = int(np.argmax(y) if maximize else np.argmin(y))
    names = [p.key for p in params]
    ds = xr.Dataset(
        {
            "params": (("trial", "param"), np.asarray(xs), {"units": "1"}),
            "metric": ("trial", y, {"units": "1", "name": metric}),
            "best_params": ("param", np.asarray(xs[k]), {"units": "1"}),
            "best_metric": ((), float(y[k]), {"units": "1", "trial": k}),
            "low": ("param", [p.low for p in params], {"units": "1"}),
            "high": ("param", [p.high for p in params], {"units": "1"}),
        },
        coords={"param": names, "trial": np.arange(len(y))},
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
