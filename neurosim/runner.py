"""Running protocols: Brian2 targets, the simulation kind, outputs.

``run_protocol`` dispatches on the protocol's ``kind``. The ``simulation``
kind builds populations from model files, attaches stimuli and monitors,
runs one Brian2 ``Network``, turns the monitors into a recording Dataset, runs
the protocol's measurements and writes the recording and plots atomically.
Other kinds (learning protocols) register themselves in ``PROTOCOL_KINDS``.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gc
import hashlib
import importlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import brian2
import numpy as np
import xarray as xr
import yaml
from brian2 import Network, PoissonInput, SpikeMonitor, StateMonitor, TimedArray, prefs

from neurosim.analysis import run_measurements
from neurosim.errors import NeurosimError
from neurosim.kinds import PROTOCOL_KINDS, protocol_kind
from neurosim.memory import max_workers
from neurosim.networks.projections import (
    build_projection,
    pair_positions,
    population_positions,
    target_inputs,
)
from neurosim.progress import brian2_report
from neurosim.protocol import Protocol, Stimulus
from neurosim.recording import (
    final_synapse_arrays,
    now,
    provenance,
    save_recording,
    spike_table,
    state_arrays,
    synapse_arrays,
)
from neurosim.units import display_unit, unit_name

__all__ = [
    "RunResult",
    "brian2_target",
    "cache_dir",
    "check_protocol",
    "expected_outputs",
    "protocol_provenance",
    "run_protocol",
    "simulate",
    "simulate_dataset",
    "standalone_folder",
    "write_outputs",
]


@dataclass
class RunResult:
    """What a protocol run produced: its recording, the files and summary lines."""

    dataset: xr.Dataset
    files: list[Path] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)


#: Functions that check a learning kind's own sections (``training:``) without
#: running anything, as "module:function" taking the Protocol.
SECTION_CHECKS = {
    "segregated_dendrite": "neurosim.networks.segregated_protocol:training_config",
    "feedback_alignment": "neurosim.networks.linear_fa:config_from_protocol",
}


def check_protocol(protocol: Protocol) -> str:
    """Check a loaded protocol as far as possible without running it (``run --check``).

    :func:`~neurosim.protocol.load_protocol` has already checked every key
    and, for a simulation, the memory estimate; a learning kind's
    ``training:`` section is checked here where the kind provides a check
    (:data:`SECTION_CHECKS`), otherwise when its run starts.

    Returns
    -------
    str
        One line describing the protocol and the estimate.
    """
    from neurosim.memory import available_memory
    from neurosim.protocol import estimate_memory

    where = protocol.path or protocol.name
    if protocol.kind != "simulation":
        check = SECTION_CHECKS.get(protocol.kind)
        if check is not None:
            module, name = check.split(":")
            getattr(importlib.import_module(module), name)(protocol)
        scope = "all sections" if check else "training: is checked when the run starts"
        return f"{where}: valid {protocol.kind} protocol ({scope})"
    parts = estimate_memory(protocol)
    available = available_memory()
    neurons = sum(p["n"] for p in protocol.populations.values())
    steps = int(np.ceil(float(protocol.duration / protocol.dt)))
    return (
        f"{where}: valid simulation protocol: {neurons} neurons, {steps} steps, "
        f"estimated memory {sum(parts.values()) / 1e6:.3g} MB"
        + (f" of {available / 1e6:.3g} MB available" if available else "")
    )


def cache_dir() -> Path:
    """Neurosim's cache folder: ``$NEUROSIM_CACHE`` or ``$XDG_CACHE_HOME/neurosim``."""
    root = os.environ.get("NEUROSIM_CACHE")
    if root:
        return Path(root)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "neurosim"


@contextlib.contextmanager
def standalone_folder(cache: Path, key: str) -> Iterator[Path]:
    """A ``cpp_standalone`` project folder for ``key``, held by this process alone.

    Brian2 writes the generated code, the binary and the run's results into
    the project folder, so two processes running the same network (a sweep's
    workers, two terminals, parallel tests) must not share one. The folder is
    ``<cache>/standalone/<key>`` while no other process holds it (an advisory
    ``flock``, released when the process ends, however it ends), otherwise
    ``<key>-1``, ``<key>-2``, ...: each one keeps its build for the next run.
    """
    root = cache / "standalone"
    root.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # no flock (Windows): one folder per key, as Brian2 does
        yield root / key
        return
    slots = max_workers() + 1
    for slot in range(slots):
        name = key if slot == 0 else f"{key}-{slot}"
        handle = open(root / f"{name}.lock", "a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        try:
            yield root / name
        finally:
            handle.close()  # releases the lock
        return
    raise NeurosimError(
        f"{root}: all {slots} project folders of build {key} are in use by other processes"
    )


#: The C++ standard headers that Brian2's generated files include: parsing them
#: is most of the compile time of a small source file (about 0.4 s of 0.6 s).
_STANDARD_HEADERS = (
    "algorithm assert.h climits cmath ctime fstream iostream iterator limits map "
    "math.h random stdint.h stdlib.h string utility vector"
).split()


@functools.lru_cache(maxsize=4)
def _compiler_version(compiler: str) -> str:
    """``compiler --version`` (asked once per process)."""
    import subprocess

    return subprocess.run(
        [compiler, "--version"], capture_output=True, text=True, check=False
    ).stdout


def precompiled_header(flags: list[str]) -> list[str]:
    """Compiler flags that include a precompiled header of the standard headers.

    The header is compiled once per compiler and ``flags`` into
    :func:`cache_dir` (``pch/``); every file of a ``cpp_standalone`` project
    then starts from it instead of parsing the standard headers again, which
    halves a cold build. Where it cannot be made (no ``g++``), or a compiler
    finds it does not match, the headers are simply parsed as before.
    """
    import shutil
    import subprocess

    compiler = os.environ.get("CXX", "g++")
    if shutil.which(compiler) is None or " " in str(cache_dir()):
        return []  # the makefile's flags are not quoted
    text = "".join(f"#include <{name}>\n" for name in _STANDARD_HEADERS)
    version = _compiler_version(compiler)
    key = hashlib.sha1("\0".join([compiler, version, text, *flags]).encode()).hexdigest()[:16]
    folder = cache_dir() / "pch" / key
    header = folder / "neurosim_std.h"
    if not (folder / "neurosim_std.h.gch").is_file():
        folder.mkdir(parents=True, exist_ok=True)
        header.write_text(text)
        # compiled beside the header under a private name, then renamed: a
        # concurrent build sees either no .gch (parses the headers) or a whole one
        partial = folder / f"neurosim_std.h.gch.{os.getpid()}"
        done = subprocess.run(
            [compiler, "-x", "c++-header", *flags, str(header), "-o", str(partial)],
            capture_output=True,
            check=False,
        )
        if done.returncode != 0:
            partial.unlink(missing_ok=True)
            return []
        partial.replace(folder / "neurosim_std.h.gch")
    # one token: Brian2 passes its flags on one by one (a separate "-include" is lost)
    return [f"-include{header}"]


@contextlib.contextmanager
def brian2_target(target: str, build_key: str, seed: int) -> Iterator[None]:
    """Select a Brian2 code-generation target for the duration of a run.

    The run context: every Brian2 preference and device set here is restored
    afterwards. Cython builds are cached under :func:`cache_dir` so that each
    model is compiled once per machine; a ``cpp_standalone`` project is built
    in a folder keyed by ``build_key`` (with :func:`precompiled_header`) and
    the device is reset afterwards, so several runs can follow each other in
    one process.
    """
    names = (
        "codegen.target",
        "codegen.runtime.cython.cache_dir",
        "codegen.cpp.extra_compile_args_gcc",
        "devices.cpp_standalone.extra_make_args_unix",
    )
    saved = {name: prefs[name] for name in names}
    brian2.seed(seed)
    try:
        if target == "cpp_standalone":
            # Objects of an earlier run still alive (reference cycles) would make
            # Brian2 number this run's automatic names ("..._codeobject_1"), which
            # changes the generated code and forces a full rebuild. Collected here,
            # once the earlier run's frames are gone, not at its end.
            gc.collect()
            # Brian2's default `make -j` starts one compiler per source file at once
            prefs.devices.cpp_standalone.extra_make_args_unix = [f"-j{os.cpu_count() or 1}"]
            flags = list(saved["codegen.cpp.extra_compile_args_gcc"])
            prefs.codegen.cpp.extra_compile_args_gcc = flags + precompiled_header(flags)
            key = hashlib.sha1(build_key.encode()).hexdigest()[:16]
            with standalone_folder(cache_dir(), key) as folder:
                brian2.set_device(
                    "cpp_standalone", directory=str(folder), build_on_run=True, with_output=False
                )
                _free_before_binary(brian2.get_device())
                try:
                    brian2.seed(seed)
                    yield
                finally:
                    brian2.device.__dict__.pop("run", None)  # _free_before_binary's
                    brian2.device.reinit()
                    brian2.device.activate()
                    brian2.set_device("runtime")
            return
        prefs.codegen.target = target
        if target == "cython":
            prefs.codegen.runtime.cython.cache_dir = str(cache_dir() / "cython")
        yield
    finally:
        for name, value in saved.items():
            prefs[name] = value


def _trim_heap() -> None:
    """Hand freed heap memory back to the system (glibc keeps it otherwise)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


def _free_before_binary(device) -> None:
    """Let the binary start without Python's copies of the initial data.

    Brian2 keeps the arrays it writes for the binary (connections, weights,
    delays: 24 bytes a synapse) until the device is reset; the binary then
    holds its own. Once they are on disk Python's are dropped, so a network's
    peak memory is the larger of the two processes', not their sum (the
    full-scale cortical microcircuit's 0.3 billion synapses need it).
    """
    run = device.run

    def run_freed(*args, **kwargs):
        device.static_arrays.clear()
        # values known before the run; afterwards Brian2 reads every array from the results
        for var in device.array_cache:
            device.array_cache[var] = None
        gc.collect()
        _trim_heap()
        return run(*args, **kwargs)

    device.run = run_freed  # the instance's, until the device is reset


def run_protocol(
    protocol: Protocol,
    out_dir: str | Path | None = None,
    *,
    progress: bool = True,
    resume: bool = False,
) -> RunResult:
    """Run a validated protocol and write its outputs.

    Parameters
    ----------
    protocol : Protocol
        From :func:`neurosim.protocol.load_protocol`.
    out_dir : str or Path, optional
        Output folder (default ``results/<protocol name>``).
    progress : bool
        Show a progress bar.
    resume : bool
        Continue from the last checkpoint (learning protocols).

    Returns
    -------
    RunResult
    """
    out = Path(out_dir) if out_dir is not None else Path("results") / protocol.name
    return PROTOCOL_KINDS[protocol.kind](protocol, out, progress=progress, resume=resume)


def _envelope(stim: Stimulus, duration, dt) -> np.ndarray:
    """Dimensionless time course of a current stimulus, sampled every ``dt``."""
    t = np.arange(int(np.ceil(float(duration / dt))) + 1) * float(dt)
    spec = stim.spec
    if stim.kind == "current_epsc":
        # double exponential, normalised so that its peak equals the amplitude
        rise, decay = float(spec["tau_rise"]), float(spec["tau_decay"])
        peak = rise * decay / (decay - rise) * np.log(decay / rise)
        norm = np.exp(-peak / decay) - np.exp(-peak / rise)
        s = t - float(spec["onset"])
        return np.where(s >= 0, (np.exp(-s / decay) - np.exp(-s / rise)) / norm, 0.0)
    if stim.kind == "current_alpha":
        x = (t - float(spec["onset"])) / float(spec["tau"])
        return np.where(x >= 0, x * np.exp(1 - x), 0.0)
    start = float(spec.get("start", 0.0))
    stop = float(spec.get("stop", duration))
    inside = (t >= start - 1e-12) & (t < stop - 1e-12)
    if stim.kind == "current_step":
        return inside.astype(float)
    return np.where(inside, (t - start) / (stop - start), 0.0)  # current_ramp


def _attach_stimuli(
    protocol: Protocol, groups: dict[str, brian2.NeuronGroup]
) -> tuple[list, dict[str, np.ndarray]]:
    """Drive input variables with TimedArray envelopes; add Poisson and dataset inputs.

    Returns the Brian2 objects to add to the network and the labels of the
    images each dataset stimulus presents, by stimulus name.
    """
    objects: list = []
    presented: dict[str, np.ndarray] = {}
    terms: dict[tuple[str, str], list[str]] = {}
    # envelopes are sampled at the finest step of any population, so no group sees a coarser input
    dt = protocol.finest_dt
    for k, stim in enumerate(protocol.stimuli):
        group = groups[stim.population]
        if stim.kind == "poisson":
            # through a synapse model: the weight goes to its state (target_inputs)
            variable = (
                f"{stim.synapse.added_variable(stim.where)}_{stim.state_key}"
                if stim.synapse is not None
                else stim.variable
            )
            objects.append(
                PoissonInput(
                    group,
                    variable,
                    stim.spec["n_inputs"],
                    stim.spec["rate"],
                    weight=stim.spec["weight"],
                )
            )
            continue
        if stim.kind == "dataset_poisson":
            made, labels = _dataset_input(stim, k, group)
            objects.extend(made)
            presented[f"stim{k}"] = labels
            continue
        amp = f"stim{k}_amp"
        amplitude = stim.spec["amplitude"]
        values = np.broadcast_to(
            np.asarray(amplitude, float)
            if not isinstance(amplitude, list)
            else np.array([float(a) for a in amplitude]),
            (len(group),),
        ).copy()
        neurons = stim.spec.get("neurons", True)
        if neurons is not True:
            mask = np.zeros(len(group), bool)
            mask[neurons] = True
            values[~mask] = 0.0
        setattr(group, amp, values * _si(protocol.models[stim.population].variables[stim.variable]))
        group.namespace[f"stim{k}_env"] = TimedArray(_envelope(stim, protocol.duration, dt), dt=dt)
        terms.setdefault((stim.population, stim.variable), []).append(f"{amp}*stim{k}_env(t)")
    for (pop, var), parts in terms.items():
        # an input that synapses also feed is the sum of the stimuli (var_ext) and theirs
        target = f"{var}_ext" if f"{var}_ext" in groups[pop].variables else var
        groups[pop].run_regularly(
            f"{target} = {' + '.join(parts)}", when="start", name=f"{pop}_drive_{var}"
        )
    return objects, presented


def dataset_images(spec: dict) -> tuple[np.ndarray, np.ndarray]:
    """Images (as intensities in [0, 1], flattened) and labels a dataset stimulus presents."""
    from neurosim.datasets import load_dataset

    split = spec.get("split", "train")
    data = load_dataset(spec["dataset"])
    images = data.intensities(split)
    labels = data.train_labels if split == "train" else data.test_labels
    count = spec.get("images", len(images))
    if count > len(images):
        raise NeurosimError(f"images: {count} asked for, the {split} split has {len(images)}")
    return images[:count].reshape(count, -1), labels[:count]


def _dataset_input(stim: Stimulus, k: int, group: brian2.NeuronGroup) -> tuple[list, np.ndarray]:
    """Poisson pixels driven by a TimedArray of images, connected to the group."""
    images, labels = dataset_images(stim.spec)
    max_rate = stim.spec.get("max_rate", 200 * brian2.Hz)
    # rates[t, pixel]: one row per presentation, read from inside the simulation
    pixels = TimedArray(images * max_rate, dt=stim.spec["presentation"], name=f"stim{k}_images")
    source = brian2.PoissonGroup(
        images.shape[1],
        rates=f"stim{k}_images(t, i)",
        namespace={f"stim{k}_images": pixels},
        name=f"stim{k}_pixels",
    )
    synapses = brian2.Synapses(
        source,
        group,
        on_pre=f"{stim.variable}_post += stim{k}_w",
        namespace={f"stim{k}_w": stim.spec["weight"]},
        name=f"stim{k}_synapses",
    )
    synapses.connect(p=float(stim.spec.get("connect_p", 1.0)))
    return [source, synapses], labels


def _si(variable):
    """The SI unit of a model variable as a Brian2 quantity (1 if dimensionless)."""
    dim = variable.dimension
    return brian2.Quantity(1.0, dim=dim)


def _stimulus_declarations(protocol: Protocol, population: str) -> str:
    lines = []
    for k, stim in enumerate(protocol.stimuli):
        if stim.population == population and not stim.kind.endswith("poisson"):
            var = protocol.models[population].variables[stim.variable]
            lines.append(f"stim{k}_amp : {unit_name(var.dimension)} (constant)")
    return "\n".join(lines)


@protocol_kind("simulation")
def simulate(
    protocol: Protocol, out_dir: Path, *, progress: bool = True, resume: bool = False
) -> RunResult:
    """Run a ``simulation`` protocol and write its outputs (see :func:`simulate_dataset`)."""
    return write_outputs(protocol, simulate_dataset(protocol, progress=progress), out_dir)


def simulate_dataset(protocol: Protocol, *, progress: bool = False) -> xr.Dataset:
    """Run a ``simulation`` protocol: populations, projections, stimuli, monitors, one run.

    Returns
    -------
    xarray.Dataset
        The recording, measurements and provenance (nothing is written).
    """
    if protocol.duration is None:
        raise NeurosimError(f"{protocol.where('duration')}: a simulation needs a duration")
    started = now()
    clock = time.perf_counter()
    rng = np.random.default_rng(protocol.seed)
    # The seed is not part of the build key: another seed regenerates the same
    # code with new data, and make recompiles only what changed (main.cpp).
    unseeded = yaml.safe_dump({k: v for k, v in protocol.data.items() if k != "seed"})
    with brian2_target(protocol.target, f"{protocol.name}:{unseeded}", protocol.seed):
        brian2.defaultclock.dt = protocol.dt
        groups = {}
        synaptic = target_inputs(
            [*protocol.projections, *(s for s in protocol.stimuli if s.synapse is not None)],
            protocol.models,
        )
        for name, pop in protocol.populations.items():
            model = protocol.models[name]
            eqs, summed, constants = synaptic.get(name, ("", {}, {}))
            groups[name] = model.neuron_group(
                pop["n"],
                params=pop.get("params"),
                initial=pop.get("initial"),
                name=name,
                method=pop.get("method"),
                rng=rng,
                where=protocol.where(f"populations.{name}"),
                extra_equations=_stimulus_declarations(protocol, name) + "\n" + eqs,
                dt=pop.get("dt"),
                summed_inputs=summed,
                extra_namespace=constants,
            )
        inputs, presented = _attach_stimuli(protocol, groups)
        # one generator per projection: adding one leaves the others' synapses as they were
        synapses = [
            build_projection(
                proj,
                groups,
                np.random.default_rng([protocol.seed, 1, k]),
                pair_positions(
                    protocol.populations, proj.source, proj.target, protocol.seed, proj.name
                )
                if proj.needs_positions
                else None,
            )
            for k, proj in enumerate(protocol.projections)
        ]
        net = Network(*groups.values(), *inputs, *synapses)
        synapse_monitors, final_values = [], []
        for k, (proj, syn) in enumerate(zip(protocol.projections, synapses, strict=True)):
            if proj.record is None:
                continue
            pre, post = syn.neurosim_pairs
            chosen = np.arange(len(pre))
            if proj.record.synapses is not None and proj.record.synapses < len(pre):
                sample = np.random.default_rng([protocol.seed, 2, k])
                chosen = np.sort(sample.choice(len(pre), proj.record.synapses, replace=False))
            if proj.record.at_end:  # read from the synapses after the run
                final_values.append((proj, syn, chosen, pre[chosen], post[chosen]))
                continue
            mon = StateMonitor(
                syn,
                list(proj.record.variables),
                record=chosen,
                dt=proj.record.dt,
                name=f"{proj.name}_synapses",
            )
            synapse_monitors.append((proj, mon, pre[chosen], post[chosen]))
            net.add(mon)
        monitors = []
        for rec in protocol.records:
            state = StateMonitor(
                groups[rec.population],
                rec.variables,
                record=rec.neurons,
                dt=rec.dt,
                name=f"{rec.name}_state",
            )
            spikes = (
                SpikeMonitor(groups[rec.population], name=f"{rec.name}_spikes")
                if rec.spikes
                else None
            )
            monitors.append((rec, state, spikes))
            net.add(*(m for m in (state, spikes) if m is not None))
        report = brian2_report(protocol.name, protocol.target == "cpp_standalone", progress)
        run_start = time.perf_counter()
        net.run(protocol.duration, report=report, report_period=1 * brian2.second)
        timing = _timing(protocol.target, clock, run_start)
        arrays: dict[str, xr.DataArray] = {}
        for rec, state, spikes in monitors:
            model = protocol.models[rec.population]
            comps = {v: model.compartment_of(v) for v in rec.variables if model.compartment_of(v)}
            arrays.update(state_arrays(rec.name, state, rec.variables, comps))
            if spikes is not None:
                arrays.update(spike_table(rec.name, spikes))
            if rec.labels:
                _label_neurons(arrays, rec, protocol.populations[rec.population]["n"])
        for proj, mon, pre, post in synapse_monitors:
            arrays.update(synapse_arrays(proj.name, mon, list(proj.record.variables), pre, post))
        for proj, syn, chosen, pre, post in final_values:
            variables = list(proj.record.variables)
            arrays.update(final_synapse_arrays(proj.name, syn, variables, chosen, pre, post))
    for name, pop in protocol.populations.items():
        if "positions" in pop:  # where each neuron is (m), for spatial analysis
            where = population_positions(protocol.populations, name, protocol.seed)
            arrays[f"{name}_position"] = xr.DataArray(
                where, dims=(f"{name}_cell", f"{name}_axis"), attrs={"units": "metre"}
            )
    for name, labels in presented.items():
        arrays[f"{name}_label"] = xr.DataArray(
            labels.astype(np.int64), dims=(f"{name}_image",), attrs={"units": "1"}
        )
    ds = xr.Dataset(arrays)
    scaled = {}
    if protocol.scaling.get("scale", 1.0) != 1.0:
        # what scale did, beside the protocol as written (which keeps ``scale``)
        scaled["scale"] = protocol.scaling["scale"]
        for pop, amplitude in protocol.scaling.get("dc", {}).items():
            scaled[f"scaling_dc_{pop}"] = amplitude
    ds.attrs = protocol_provenance(
        protocol, started, duration=float(protocol.duration), **scaled, **timing
    )
    return run_measurements(ds, protocol.analysis, str(protocol.path or protocol.name))


def _label_neurons(arrays: dict[str, xr.DataArray], rec, n: int) -> None:
    """Attach a record's neuron names (``labels``) to its arrays, as JSON index -> name."""
    indices = range(n) if rec.neurons is True else rec.neurons
    text = json.dumps(dict(zip(map(str, indices), rec.labels, strict=True)))
    names = [f"{rec.name}_{v}" for v in rec.variables]
    names += [f"{rec.name}_spike_time", f"{rec.name}_spike_neuron"]
    for name in names:
        if name in arrays:
            arrays[name].attrs["neuron_labels"] = text


def _timing(target: str, clock: float, run_start: float) -> dict[str, float]:
    """Wall times of a run (s) and, in ``cpp_standalone``, the binary's own.

    ``timing_wall_s``: the whole build and run; ``timing_setup_s``: Python
    objects and connections before ``run()``. ``cpp_standalone``:
    ``timing_compile_s`` (``make``), ``timing_binary_s`` (wall of the binary:
    loading, simulation, writing results) and ``timing_run_cpu_s`` (the
    simulation loop's CPU time, Brian2's ``std::clock()`` measurement).
    """
    end = time.perf_counter()
    out = {"timing_wall_s": end - clock, "timing_setup_s": run_start - clock}
    if target == "cpp_standalone":
        device = brian2.get_device()
        steps = (device.timers.get("compile") or {}).values()
        out["timing_compile_s"] = float(sum(v for v in steps if v))  # "clean" may be None
        out["timing_binary_s"] = float(device.timers.get("run_binary") or 0.0)
        out["timing_run_cpu_s"] = float(device._last_run_time)
    return out


def protocol_provenance(protocol: Protocol, started: str, **fields) -> dict:
    """Provenance attributes of a protocol's recording (ends now).

    The effective protocol text, its name, seed, target and ``--set``
    overrides, the start and end time, plus ``fields`` of the protocol kind.
    """
    return provenance(
        protocol=protocol.text,
        protocol_name=protocol.name,
        seed=protocol.seed,
        target=protocol.target,
        start_time=started,
        end_time=now(),
        overrides="; ".join(protocol.overrides),
        **fields,
    )


def expected_outputs(protocol: Protocol, out_dir: Path) -> list[Path]:
    """The recordings and plots :func:`write_outputs` writes for ``protocol``."""
    recordings, plots = _output_paths(protocol, out_dir)
    return recordings + [path for _, path in plots]


def _output_paths(protocol: Protocol, out_dir: Path) -> tuple[list[Path], list[tuple[str, Path]]]:
    """The recording paths, and ``(kind, path)`` of each plot."""
    name = protocol.output.get("name", protocol.name)
    formats = protocol.output.get("formats", ["netcdf"])
    recordings = [out_dir / f"{name}{'.nc' if fmt == 'netcdf' else '.zarr'}" for fmt in formats]
    plots = [
        (kind, out_dir / f"{name}_{kind}.png") for kind in protocol.output.get("plots", ["traces"])
    ]
    return recordings, plots


def _check_not_less(ds: xr.Dataset, path: Path) -> None:
    """Refuse to replace the recording at ``path`` by one with fewer variables or epochs."""
    if not path.exists():
        return
    try:
        if path.suffix == ".nc":
            old = xr.open_dataset(path, engine="h5netcdf")
        else:
            old = xr.open_zarr(path, consolidated=False)
    except Exception:  # an unreadable file holds nothing to keep
        return
    with old:
        lost = sorted(str(v) for v in set(old.data_vars) - set(ds.data_vars))
        fewer = old.sizes.get("epoch", 0) > ds.sizes.get("epoch", 0)
        if lost or fewer:
            what = (
                f"variables {', '.join(lost[:4])}{' ...' if len(lost) > 4 else ''}"
                if lost
                else f"{old.sizes['epoch']} epochs"
            )
            raise NeurosimError(
                f"{path}: not overwritten: it holds {what} that the resumed run lacks"
            )


def write_outputs(
    protocol: Protocol, ds: xr.Dataset, out_dir: Path, *, resume: bool = False
) -> RunResult:
    """Save the recording in the protocol's formats and draw its plots.

    With ``resume`` (a resumed run), an existing recording is never replaced
    by one with fewer variables or fewer epochs: that is a
    :class:`NeurosimError` and nothing is written.
    """
    from neurosim import plotting

    recordings, plots = _output_paths(protocol, out_dir)
    if resume:
        for path in recordings:
            _check_not_less(ds, path)
    files = [save_recording(ds, path) for path in recordings]
    for kind, path in plots:
        files.extend(plotting.plot(ds, kind, path))
    summary = [
        f"{var} = {_format_values(ds[var])}"
        for var in ds.data_vars
        if "measurement" in ds[var].attrs
    ]
    return RunResult(ds, files, summary)


def _format_values(da: xr.DataArray) -> str:
    units = da.attrs.get("units", "")
    factor, label = display_unit(units, units)  # "1" stays "1" in the run's summary
    values = np.atleast_1d(da.values) * factor
    shown = ", ".join(f"{v:.6g}" for v in values[:6]) + (" ..." if values.size > 6 else "")
    return f"[{shown}] {label}".rstrip()
