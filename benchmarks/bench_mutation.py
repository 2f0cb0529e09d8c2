"""Mutation score of the learning rules, the feedback bridge, the optimizer and the RL agents.

A mutation tool makes many small deliberate bugs ("mutants": a flipped sign, ``<``
for ``<=``, a changed constant, a dropped argument) one at a time and runs the
tests that cover the mutated function; a mutant is *killed* when a test fails,
*survived* when all pass. The score says how much of the code's behaviour the
tests pin down.

This script runs mutmut 3 (``pip install -e '.[mutation]'``) group by group,
each group with its own test selection and wall-clock cap, in a temporary copy
of the repository (``neurosim/``, ``tests/``, ``models/``, ``protocols/``,
``data/``, ``pyproject.toml``, ``setup.cfg``), so it never touches the working
tree; the mutmut configuration is appended to the copy's ``pyproject.toml``.
mutmut first runs the group's tests once with tracing (to learn which tests
cover which function) and once clean, then runs the mutants, the fastest
first; when the cap is reached the rest count as "not checked".

Per group it prints killed, survived, timeout (a mutant that made the tests
hang or loop: detected), no tests (no test in the selection calls the mutated
function), not checked (cap reached), and

    score = (killed + timeout) / (killed + timeout + survived),

over the mutants that were run with at least one covering test; "strict"
counts timeouts as not detected (a timeout may be a real hang, or a mutant
that only made the tests slower than mutmut's CPU-time limit). The overall
line sums the groups. A partial run (any "not checked") is labelled as such.

Usage::

    nice -n 5 python benchmarks/bench_mutation.py                 # all groups, 10 min each
    python benchmarks/bench_mutation.py --groups feedback,rl --cap-minutes 5
    python benchmarks/bench_mutation.py --keep /tmp/mut           # keep the copy (mutmut browse)
    python benchmarks/bench_mutation.py --keep /tmp/mut --resume  # go on where the cap stopped
    python benchmarks/bench_mutation.py --groups rl --sample 150  # estimate from 150 mutants

A complete run of a large group (``rl/`` has about 3,300 mutants) takes hours
on two cores. ``--sample N`` estimates its score instead: mutmut makes every
mutant, then runs a uniform random sample of ``N`` of them (``--sample-seed``);
the counts are the sample's, the score comes with its 95 % Wilson interval,
and the sample's names are written to the JSON so the estimate can be rerun.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: What the copy holds: the package, its tests and the data the tests read.
COPY = ("neurosim", "tests", "models", "protocols", "data", "pyproject.toml", "setup.cfg")


@dataclass(frozen=True)
class Group:
    """Files to mutate (glob patterns under ``neurosim/``) and the tests that judge them."""

    mutate: tuple[str, ...]
    tests: tuple[str, ...]


#: The groups and their test selections (pytest arguments). Slow end-to-end
#: tests (multi-minute training runs, MNIST networks) are left out: mutmut runs
#: every covering test once per mutant, so they would leave most mutants
#: unchecked within any reasonable cap. Mutants that only those tests reach
#: count as "no tests".
GROUPS: dict[str, Group] = {
    "plasticity": Group(
        ("neurosim/plasticity/*",),
        (
            "tests/test_stdp.py",
            "tests/test_feedback_alignment.py",
            "tests/test_segregated.py::test_weights_change_only_by_the_local_rule",
        ),
    ),
    "feedback": Group(
        ("neurosim/bridges/feedback.py",),
        ("tests/test_bridges.py", "-k", "not mlp_training and not round_trip"),
    ),
    "blackbox": Group(
        ("neurosim/blackbox/*",),
        ("tests/test_blackbox.py", "-k", "not training and not tune_"),
    ),
    "rl": Group(
        ("neurosim/rl/*",),
        (
            "tests/test_a3c.py",
            "tests/test_ddpg.py",
            "tests/test_rl_controller.py",
            "-k",
            "moves_log_pi or entropy_bonus or bootstrap or invalid_config or one_actor_step"
            " or tuned_config or every_activation or hand_made or other_file",
        ),
    ),
}

#: mutmut exit codes by outcome (mutmut.stats.status_by_exit_code, grouped).
OUTCOME = {
    1: "killed",
    3: "killed",
    0: "survived",
    5: "no tests",
    33: "no tests",
    None: "not checked",
}
TIMEOUT_CODES = {36, 24, -24, 152, 255}
COLUMNS = ("killed", "survived", "timeout", "no tests", "not checked", "other")


def _mutmut_config(group: Group) -> str:
    """The ``[tool.mutmut]`` table for ``group`` (TOML)."""

    def toml_list(items) -> str:
        return "[" + ", ".join(json.dumps(i) for i in items) + "]"

    return (
        "\n[tool.mutmut]\n"
        'source_paths = ["neurosim"]\n'
        f"only_mutate = {toml_list(group.mutate)}\n"
        f"also_copy = {toml_list(['models', 'protocols', 'data'])}\n"
        f"pytest_add_cli_args_test_selection = {toml_list(group.tests)}\n"
        # -p no:cacheprovider: nothing written into the copy's tests/ between runs.
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-q"]\n'
        # torch is not fork-safe once its thread pools run: a fork server
        # imports it fresh and forks each mutant's worker from there.
        'process_isolation = "forkserver"\n'
        "use_git_change_detection = false\n"
    )


def _copy_tree(dest: Path) -> None:
    for name in COPY:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(
                src, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "mutants")
            )
        elif src.exists():
            shutil.copy2(src, dest / name)


def _exit_codes(mutants: Path) -> dict[str, int | None]:
    """Every mutant's mutmut exit code (None: not run yet) from the per-file ``.meta`` records."""
    codes: dict[str, int | None] = {}
    for meta in mutants.rglob("*.py.meta"):
        codes.update(json.loads(meta.read_text())["exit_code_by_key"])
    return codes


def _count(mutants: Path, only: set[str] | None = None) -> dict[str, int]:
    """Outcome counts (partial runs included); ``only``: count these mutants alone."""
    counts = dict.fromkeys(COLUMNS, 0)
    for key, code in _exit_codes(mutants).items():
        if only is None or key in only:
            outcome = "timeout" if code in TIMEOUT_CODES else OUTCOME.get(code, "other")
            counts[outcome] += 1
    return counts


def _wilson(counts: dict[str, int], z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson interval of the (non-strict) score from the judged mutants."""
    n = counts["killed"] + counts["timeout"] + counts["survived"]
    if not n:
        return float("nan"), float("nan")
    p = (counts["killed"] + counts["timeout"]) / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def _score(counts: dict[str, int], *, strict: bool = False) -> float:
    """Detected over judged mutants; ``strict`` counts timeouts as not detected."""
    detected = counts["killed"] + (0 if strict else counts["timeout"])
    judged = counts["killed"] + counts["timeout"] + counts["survived"]
    return detected / judged if judged else float("nan")


def _mutmut(mutmut, names, workers, base, env, log, cap_s) -> tuple[int | None, bool]:
    """``mutmut run NAMES`` in ``base`` under a wall-clock cap: (exit code, capped)."""
    # Own session: the cap ends mutmut, its fork server and every worker together.
    proc = subprocess.Popen(
        [str(mutmut), "run", "--max-children", str(workers), *names],
        cwd=base,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        proc.wait(timeout=max(cap_s, 1))
        return proc.returncode, False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        return proc.returncode, True


def run_group(
    name: str,
    group: Group,
    cap_s: float,
    workers: int,
    keep: Path | None,
    resume: bool = False,
    sample: int | None = None,
    sample_seed: int = 0,
) -> dict:
    """mutmut over one group in a fresh copy; counts, seconds and whether the cap stopped it.

    With ``resume`` and a kept copy from an earlier capped run, mutmut goes on
    in that copy (same source snapshot, mutants and coverage already made).
    """
    base = keep / name if keep else Path(tempfile.mkdtemp(prefix=f"mutation-{name}-"))
    stamp = base / "copied.txt"
    resuming = resume and stamp.exists()
    base.mkdir(parents=True, exist_ok=True)
    try:
        if not resuming:
            _copy_tree(base)
            with open(base / "pyproject.toml", "a") as f:
                f.write(_mutmut_config(group))
            stamp.write_text(time.strftime("%H:%M UTC", time.gmtime()))
        copied = stamp.read_text().strip()
        mutmut = Path(sys.executable).with_name("mutmut")
        env = {
            **os.environ,
            "NEUROSIM_CACHE": os.environ.get("NEUROSIM_CACHE", "/tmp/neurosim-cache"),
        }
        started = time.monotonic()
        log = open(base / "mutmut.log", "w")
        sample_names: list[str] | None = None
        if sample:
            # A pattern that matches nothing: mutmut makes every mutant and
            # collects the tests' coverage, then stops before running any.
            _mutmut(mutmut, ["__list_only__"], workers, base, env, log, cap_s)
            everything = sorted(_exit_codes(base / "mutants"))
            sample_names = random.Random(sample_seed).sample(
                everything, min(sample, len(everything))
            )
        left = cap_s - (time.monotonic() - started)
        code, capped = _mutmut(mutmut, sample_names or [], workers, base, env, log, left)
        log.close()
        seconds = time.monotonic() - started
        counts = _count(base / "mutants", set(sample_names) if sample_names else None)
        tail = (base / "mutmut.log").read_text(errors="replace")[-2000:]
        if not capped and code != 0 and not sum(counts.values()):
            print(
                f"{name}: mutmut failed (exit {code}); log tail:\n{tail}",
                file=sys.stderr,
            )
        return {
            "counts": counts,
            "seconds": seconds,
            "capped": capped,
            "exit": code,
            "copied": copied,
            "sample": sample_names,
            "interval": _wilson(counts),
        }
    finally:
        if keep is None:
            shutil.rmtree(base, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--groups", default=",".join(GROUPS), help="comma-separated, of: " + ", ".join(GROUPS)
    )
    parser.add_argument("--cap-minutes", type=float, default=10.0, help="wall-clock cap per group")
    parser.add_argument("--max-children", type=int, default=1, help="mutants tested in parallel")
    parser.add_argument("--keep", type=Path, help="keep the copies here (one folder per group)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    parser.add_argument(
        "--resume", action="store_true", help="go on in the copies kept by an earlier --keep run"
    )
    parser.add_argument(
        "--sample",
        type=int,
        help="run a uniform random sample of this many mutants per group (an estimate)",
    )
    parser.add_argument("--sample-seed", type=int, default=0, help="seed of --sample's draw")
    args = parser.parse_args(argv)
    if args.sample is not None and (args.sample < 1 or args.resume):
        parser.error("--sample: a positive count, and not with --resume")
    names = [g.strip() for g in args.groups.split(",") if g.strip()]
    unknown = [n for n in names if n not in GROUPS]
    if unknown:
        parser.error(f"unknown group(s) {unknown}; have {list(GROUPS)}")

    commit = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    now = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"mutation score at {commit or 'unknown commit'}, {now}")
    header = f"{'group':<12}" + "".join(f"{c:>12}" for c in COLUMNS)
    header += f"{'score':>8}{'strict':>8}{'min':>6}"
    print(header)
    results = {}
    total = dict.fromkeys(COLUMNS, 0)
    for name in names:
        r = run_group(
            name,
            GROUPS[name],
            args.cap_minutes * 60,
            args.max_children,
            args.keep,
            args.resume,
            args.sample,
            args.sample_seed,
        )
        results[name] = r
        for c in COLUMNS:
            total[c] += r["counts"][c]
        label = f" copied {r['copied']}" + (", capped: partial" if r["capped"] else "")
        if r["sample"]:
            low, high = r["interval"]
            label += f", sample of {len(r['sample'])}: 95 % interval {low:.1%}-{high:.1%}"
        print(
            f"{name:<12}"
            + "".join(f"{r['counts'][c]:>12}" for c in COLUMNS)
            + f"{_score(r['counts']):>8.1%}{_score(r['counts'], strict=True):>8.1%}"
            + f"{r['seconds'] / 60:>6.1f}{label}",
            flush=True,
        )
    partial = " (partial)" if total["not checked"] else ""
    print(
        f"{'overall':<12}"
        + "".join(f"{total[c]:>12}" for c in COLUMNS)
        + f"{_score(total):>8.1%}{_score(total, strict=True):>8.1%}{partial}"
    )
    if args.json:
        args.json.write_text(
            json.dumps({"commit": commit, "groups": results, "overall": total}, indent=1)
        )


if __name__ == "__main__":
    main()
