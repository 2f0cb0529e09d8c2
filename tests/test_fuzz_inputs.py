"""Property-based fuzzing of protocol and model files (issue 13, part 2).

Hypothesis mutates a tiny valid protocol and the model file it names with
hostile values: wrong types, NaN and infinities, huge and negative numbers,
deep and long expressions, odd names, unknown keys, deleted keys and YAML
alias bombs, in the files and in ``--set`` overrides. Every variant goes
through ``neurosim run FILE --check`` (the full validation and memory
estimate, no simulation) and must end with exit
status 0, or 2 with one line under 300 characters and no traceback, within
10 s, with nothing written in the working folder or under ``--out``.

The run is derandomized with no example database, so CI sees the same
1,000 variants every time.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from test_hostile_inputs import LIMIT_S, alarm

from neurosim.cli import main
from neurosim.errors import ERROR_LINE_LIMIT
from neurosim.model import MODELS_DIR

MODEL = yaml.safe_load((MODELS_DIR / "lif.yaml").read_text()) | {"name": "fuzzmodel"}

PROTOCOL = {
    "name": "fuzz",
    "description": "The protocol the fuzz test mutates.",
    "seed": 1,
    "dt": "0.1 ms",
    "duration": "5 ms",
    "populations": {
        "cell": {
            "model": "fuzzmodel.yaml",
            "n": 2,
            "params": {"g_L": "10 nS", "C": {"dist": "normal", "mean": "100 pF", "std": "1 pF"}},
            "initial": {"v": "-70 mV"},
        }
    },
    "stimuli": [
        {
            "kind": "current_step",
            "population": "cell",
            "variable": "I",
            "amplitude": "300 pA",
            "start": "1 ms",
            "stop": "4 ms",
            "neurons": [0, 1],
        },
        {
            "kind": "current_alpha",
            "population": "cell",
            "variable": "I",
            "amplitude": {"linspace": ["0 pA", "10 pA"]},
            "onset": "1 ms",
            "tau": "1 ms",
        },
    ],
    "record": [{"population": "cell", "variables": ["v", "I"], "dt": "0.1 ms", "neurons": "all"}],
    "analysis": [
        {"kind": "steady_state", "record": "cell", "variable": "v", "start": "1 ms", "stop": "4 ms"}
    ],
    "output": {"name": "fuzz_out", "formats": ["netcdf"], "plots": []},
}


@pytest.fixture(scope="module", autouse=True)
def imported():
    """Import every protocol kind (torch included) once, outside the alarms."""
    from neurosim import kinds

    kinds.register_all()


def paths(node, prefix=()):
    """Every key path of a nested dict/list (containers included)."""
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from paths(value, (*prefix, index))


PROTOCOL_PATHS = [p for p in paths(PROTOCOL) if p]
MODEL_PATHS = [p for p in paths(MODEL) if p]


def bomb(depth: int) -> list:
    """A list whose YAML dump uses aliases and expands to 10**(depth+1) items."""
    value: list = [0] * 10
    for _ in range(depth):
        value = [value] * 10
    return value


numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1, 2**32 - 1, 2**32, 10**9, 10**12, 1e9, 1e-12, 1e308, -0.0]),
)
units = st.sampled_from(
    ["ms", "s", "second", "pA", "nA", "mV", "V", "kV", "nS", "pF", "Hz", "µs", "parsec", "", "1/ms"]
)
quantities = st.builds(lambda x, u: f"{x} {u}", numbers, units)
expressions = st.one_of(
    st.builds(lambda k: "-" * k + "1 ms", st.integers(0, 300)),
    st.builds(lambda k: "+".join(["v"] * k), st.integers(1, 3000)),
    st.builds(lambda k: "(" * k + "1 pA" + ")" * k, st.integers(0, 250)),
    st.sampled_from(
        [
            "9**9**9 pA",
            "10**400 pA",
            "(-1)**0.5 mV",
            "__import__('os').system('true')",
            "pA.__class__",
            "1/0 ms",
            "v > V_th",
            "v = V_reset",
            "dv/dt = -v/(10*ms) : volt",
            "dv/dt = v**9**9/ms : volt",
            "lambda: 1",
            "'text'",
            "1e999",
            "nan",
            "v[0]",
        ]
    ),
)
names = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=12),
    st.sampled_from(["../x", "/abs/x", "", ".hidden", "a/b", "cell", "v", "I", "lif", "all", "C"]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, quantities, expressions, names)
values = st.one_of(
    st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(names, inner, max_size=3),
        max_leaves=8,
    ),
    st.builds(bomb, st.integers(1, 6)),
)


@st.composite
def overrides(draw):
    """Zero or one ``--set KEY=VALUE`` with a hostile value in YAML flow syntax."""
    if draw(st.integers(0, 3)):
        return []
    key = ".".join(str(part) for part in draw(st.sampled_from(PROTOCOL_PATHS)))
    text = yaml.safe_dump(draw(values), default_flow_style=True, allow_unicode=True, width=10**6)
    return [f"{key}={text.removesuffix(chr(10)).removesuffix(chr(10) + '...')}"]


@st.composite
def variants(draw):
    """A (protocol, model) pair with one to three hostile mutations."""
    protocol, model = copy.deepcopy(PROTOCOL), copy.deepcopy(MODEL)
    for _ in range(draw(st.integers(1, 3))):
        in_model = draw(st.booleans()) and draw(st.booleans())  # one mutation in four
        root, where = (model, MODEL_PATHS) if in_model else (protocol, PROTOCOL_PATHS)
        path = draw(st.sampled_from(where))
        parent = root
        try:
            for key in path[:-1]:
                parent = parent[key]
            parent[path[-1]]
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation replaced this part
        action = draw(st.sampled_from(["replace", "replace", "replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(values)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent[path[-1]], dict):
            parent[path[-1]][draw(names)] = draw(values)
    return protocol, model


@settings(
    max_examples=int(os.environ.get("NEUROSIM_FUZZ_EXAMPLES", 1000)),
    derandomize=True,
    database=None,
    deadline=None,  # a hang is caught by the alarm, not by timing
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(variant=variants(), sets=overrides())
def test_every_variant_is_valid_or_one_line(variant, sets):
    protocol, model = variant
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "fuzz.yaml").write_text(yaml.safe_dump(protocol, allow_unicode=True))
        (work / "fuzzmodel.yaml").write_text(yaml.safe_dump(model, allow_unicode=True))
        before = sorted(work.iterdir())
        out, err = io.StringIO(), io.StringIO()
        cwd = os.getcwd()
        os.chdir(work)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                with alarm(LIMIT_S):
                    args = ["run", "fuzz.yaml", "--check", "--out", "out"]
                    status = main(args + [a for s in sets for a in ("--set", s)])
        finally:
            os.chdir(cwd)
        assert sorted(work.iterdir()) == before  # nothing written, --out not created
        message = err.getvalue()
        event(f"exit status {status}")
        assert status in (0, 2), message
        assert "Traceback" not in message + out.getvalue()
        if status == 2:
            assert message.startswith("neurosim: error: "), message
            assert message.count("\n") == 1 and message.endswith("\n"), message
            assert len(message) <= len("neurosim: error: \n") + ERROR_LINE_LIMIT, message
        else:
            assert "valid simulation protocol" in out.getvalue()
