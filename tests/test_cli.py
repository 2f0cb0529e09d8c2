import re
import subprocess
import sys

import pytest

from neurosim import load_protocol
from neurosim.cli import main
from neurosim.errors import NeurosimError
from neurosim.protocol import PROTOCOLS_DIR

SMOKE = PROTOCOLS_DIR / "smoke_passive.yaml"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "duration: 400 ms",
            "duraton: 400 ms",
            r"unknown key 'duraton' \(did you mean 'duration'\?\)",
        ),
        (
            "amplitude: 50 pA",
            "amplitude: 50 mV",
            "stimuli\\[0\\].amplitude: '50 mV' has units of volt, expected amp",
        ),
        ("duration: 400 ms", "duration: 400 nS", "duration: '400 nS' has units of siemens"),
        ("populations:\n", "populations: [\n", "malformed YAML at line"),
        (
            "model: passive_pyramidal",
            "model: no_such_model",
            "populations.cell.model: no model 'no_such_model'",
        ),
        ("variable: I_s, amplitude", "variable: v_s, amplitude", "'v_s' is not an input variable"),
        ("target: numpy", "target: gpu", "unknown Brian2 target 'gpu'"),
        ("variables: [v_s, v_b, v_a, I_s]", "variables: [v_x]", "'v_x' is not a variable"),
        (
            "start: 300 ms, stop: 350 ms}",
            "start: 300 ms, stop: 350 ms, colour: red}",
            "unknown key 'colour'",
        ),
    ],
)
def test_bad_protocols_exit_2_with_one_line(variant, capsys, old, new, message):
    path = variant(SMOKE, old, new)
    assert main(["run", str(path), "--out", str(path.parent / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("neurosim: error: ")
    assert str(path) in err
    assert re.search(message, err), err


def test_missing_protocol_file(tmp_path, capsys):
    assert main(["run", str(tmp_path / "missing.yaml")]) == 2
    assert (
        capsys.readouterr().err
        == f"neurosim: error: protocol file not found: {tmp_path / 'missing.yaml'}\n"
    )


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(NeurosimError):
        main(["--debug", "run", str(tmp_path / "missing.yaml")])


def test_no_traceback_in_a_real_process(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "neurosim", "run", str(tmp_path / "x.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip() == f"neurosim: error: protocol file not found: {tmp_path / 'x.yaml'}"


def test_set_overrides_and_bad_overrides():
    protocol = load_protocol("smoke_passive", ["populations.cell.n=4", "stimuli.0.amplitude=70 pA"])
    assert protocol.populations["cell"]["n"] == 4
    assert float(protocol.stimuli[0].spec["amplitude"]) == pytest.approx(70e-12)
    assert "n: 4" in protocol.text
    with pytest.raises(NeurosimError, match=r"has no key 'populations\.cel'"):
        load_protocol("smoke_passive", ["populations.cel.n=4"])
    with pytest.raises(NeurosimError, match="expected key=value"):
        load_protocol("smoke_passive", ["seed"])
    with pytest.raises(NeurosimError, match=r"has no item stimuli\.3"):
        load_protocol("smoke_passive", ["stimuli.3.amplitude=1 pA"])


def test_version_list_and_help(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith("neurosim ")
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "passive_pyramidal" in out and "smoke_passive" in out
    # every data set a protocol can name by name
    assert "fashion_mnist " in out and "emnist_letters " in out and "fashion_mnist_subset" in out
    for command in (["--help"], ["run", "--help"], ["list", "--help"]):
        with pytest.raises(SystemExit) as info:
            main(command)
        assert info.value.code == 0
        assert "usage: neurosim" in capsys.readouterr().out


def _subcommands():
    import argparse

    from neurosim.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices


@pytest.mark.parametrize("command", sorted(_subcommands()))
def test_every_option_has_help_and_shows_its_default(command, capsys):
    """Issue 18: each subcommand's --help explains every option and shows its default."""
    import argparse

    parser = _subcommands()[command]
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for action in parser._actions:
        if not action.option_strings or isinstance(action, argparse._HelpAction):
            continue
        name = action.option_strings[-1]
        assert action.help, f"{command} {name}: no help text"
        trivial = action.default in (None, False, []) or action.default is argparse.SUPPRESS
        if not trivial:
            # the shown help of this option names its default value
            shown = parser.formatter_class("x")._get_help_string(action) % vars(action)
            assert "default" in shown and " ".join(shown.split()) in text, (command, name)
    if command == "tune":
        assert "--budget BUDGET number of trials, failed ones included (default: 30)" in text
        assert "(default: auto)" not in text  # its own help says what auto picks


@pytest.mark.parametrize(
    "argv",
    [
        ["rl-train", "a3c", "--env", "CartPole-v1", "--episodes", "1.5"],
        ["sweep", "smoke_passive", "--workers", "1.5"],
        ["export", "x.nc", "--format", "nix"],
        ["no-such-command"],
        ["run"],
        [],
    ],
)
def test_usage_errors_are_one_line(argv, capsys):
    # argparse's own errors (wrong option types, choices, missing arguments)
    # read like every other bad input: one line naming the problem, exit 2
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("neurosim") and "error:" in lines[0]
    assert "usage:" not in captured.err


def test_set_and_grid_read_numbers_as_numbers():
    from neurosim.protocol import apply_overrides
    from neurosim.sweep import parse_grid

    # YAML 1.1 reads 1e-3 (no dot) as a string; --set and --grid read YAML 1.2 numbers
    data = apply_overrides({"training": {}}, ["training.learning_rate=1e-3", "seed=2E3"], "p")
    assert data == {"training": {"learning_rate": 0.001}, "seed": 2000.0}
    assert apply_overrides({}, ["name='1e-3'"], "p") == {"name": "1e-3"}
    assert parse_grid(["training.learning_rate=1e-3,2e-3"]) == {
        "training.learning_rate": [0.001, 0.002]
    }


def test_rl_train_set_reads_numbers_and_checks_their_type():
    from neurosim.rl.run import make_config

    config = make_config("ddpg", "Pendulum-v1", ["actor_lr=1e-3", "batch_size=32"])
    assert config.actor_lr == 0.001
    assert config.batch_size == 32
    for bad, message in [
        ("actor_lr=abc", "expected a number"),
        ("batch_size=1.5", "expected an integer"),
        ("nope=1", "has no field 'nope'"),
    ]:
        with pytest.raises(NeurosimError, match=message):
            make_config("ddpg", "Pendulum-v1", [bad])


def test_progress_bars_show_on_terminals_only():
    """Issue 18: bars on a terminal, never in a log or a pipe, none with --quiet."""
    import io
    from pathlib import Path

    from neurosim.progress import progress_bar

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    assert not progress_bar(total=3, file=Terminal()).disable
    assert progress_bar(total=3, file=Terminal(), enabled=False).disable
    assert progress_bar(total=3, file=io.StringIO()).disable
    # every long command draws its bar through progress_bar
    package = Path(__file__).parents[1] / "neurosim"
    direct = [
        p.name
        for p in package.rglob("*.py")
        if p.name != "progress.py"
        and re.search(r"^\s*from tqdm|^\s*import tqdm", p.read_text(), re.M)
    ]
    assert direct == []


def test_rl_train_says_how_long_it_will_run(tmp_path, capsys):
    """Issue 18: a run announces its length (a default DDPG run is a million steps)."""
    argv = ["rl-train", "ddpg", "--env", "Pendulum-v1", "--steps", "20",
            "--set", "eval_episodes=1", "--out", str(tmp_path / "run")]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        f"ddpg on Pendulum-v1: 20 environment steps, evaluated every 1,000, "
        f"writing {tmp_path / 'run'}"
    )
    assert main([*argv, "--quiet", "--out", str(tmp_path / "quiet")]) == 0
    assert "environment steps" not in capsys.readouterr().out
