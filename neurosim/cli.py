"""The ``neurosim`` command line.

User errors (a wrong file, key, unit or shape) print one line on stderr and
exit with status 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from pathlib import Path

from neurosim._version import __version__
from neurosim.errors import ERROR_LINE_LIMIT, NeurosimError, one_line

__all__ = ["main"]


def _cmd_run(args: argparse.Namespace) -> int:
    from neurosim.protocol import load_protocol
    from neurosim.runner import run_protocol

    protocol = load_protocol(args.protocol, args.set)
    if getattr(args, "check", False):
        from neurosim.runner import check_protocol

        print(check_protocol(protocol))
        return 0
    result = run_protocol(protocol, args.out, progress=not args.quiet, resume=args.resume)
    for line in result.summary:
        print(line)
    for path in result.files:
        print(f"wrote {path}")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from neurosim.protocol import load_protocol

    protocol = load_protocol(args.protocol, args.set)
    if protocol.kind != "comparison":
        raise NeurosimError(
            f"{protocol.where('kind')}: neurosim compare needs a protocol of kind "
            f"'comparison', got {protocol.kind!r} (use neurosim run)"
        )
    return _cmd_run(args)


def _cmd_tune(args: argparse.Namespace) -> int:
    from neurosim.blackbox.tune import parse_param, tune

    params = [parse_param(text) for text in args.param]
    out = args.out or Path("results") / "tune"
    ds = tune(
        args.protocol,
        params,
        metric=args.metric,
        optimizer=args.optimizer,
        budget=args.budget,
        maximize=args.maximize,
        seed=args.seed,
        out_dir=out,
        overrides=args.set,
        resume=args.resume,
        progress=not args.quiet,
        weights=args.weights,
    )
    best = ", ".join(
        f"{k}={float(v):.6g}{'' if u == '1' else ' ' + str(u)}"
        for k, v, u in zip(ds.param.values, ds.best_params.values, ds.unit.values, strict=True)
    )
    failed = int((ds.status != "ok").sum())
    print(
        f"best {args.metric} = {float(ds.best_metric):.6g} at {best} "
        f"({ds.sizes['trial']} trials, {failed} failed)"
    )
    print(f"wrote {out / 'tune.nc'}")
    return 0


def _cmd_train_optimizer(args: argparse.Namespace) -> int:
    from neurosim.blackbox.learned import TrainConfig, export_weights, train_optimizer

    # options left out keep TrainConfig's defaults (the parser does not import torch to read them)
    given = {
        key: getattr(args, key)
        for key in (
            "iterations",
            "loss",
            "arch",
            "functions",
            "bowl_fraction",
            "regret_floor",
            "gate_lower",
            "lengthscale",
            "batch",
            "learning_rate",
        )
        if getattr(args, key) is not None
    }
    if "lengthscale" in given:
        given["lengthscale"] = tuple(given["lengthscale"])
    config = TrainConfig(
        dim=args.dim,
        curriculum=not args.no_curriculum,
        gate_penalty=not args.no_gate_penalty,
        seed=args.seed,
        **given,
    )
    out = args.out or Path("results") / f"learned_optimizer_dim{args.dim}.pt"
    _, losses = train_optimizer(
        config,
        out,
        resume=args.resume,
        progress=not args.quiet,
        device=args.device,
        max_seconds=None if args.max_minutes is None else 60 * args.max_minutes,
    )
    print(f"loss: first 50 iterations {sum(losses[:50]) / len(losses[:50]):.5f}, "
          f"last 50 {sum(losses[-50:]) / len(losses[-50:]):.5f}")  # fmt: skip
    print(f"wrote {out}")
    if args.export is not None:
        print(f"wrote {export_weights(out, args.export)}")
    return 0


def _cmd_rl_train(args: argparse.Namespace) -> int:
    from neurosim.rl.run import make_config, train

    sets = list(args.set)
    sets += [f"{key}={value}" for key, value in (("total_steps", args.steps),
             ("seed", args.seed)) if value is not None]  # fmt: skip
    config = make_config(args.algorithm, args.env, sets)
    out = args.out or Path("results") / f"{args.algorithm}_{args.env}_seed{config.seed}"
    if not args.quiet:
        # a default DDPG run is a million steps: say so before it starts (issue 18)
        every = getattr(config, "eval_every", 0)
        print(
            f"{args.algorithm} on {config.env_id}: {config.total_steps:,} environment steps"
            + (f", evaluated every {every:,}" if every else ", evaluated at the end")
            + f", writing {out}",
            flush=True,
        )
    ds = train(args.algorithm, config, out, resume=args.resume, progress=not args.quiet)
    final = ds.evaluation_return.isel(evaluation=-1).values if ds.sizes["evaluation"] else []
    if len(final):
        print(f"evaluation return {float(final.mean()):.2f} +- {float(final.std()):.2f} "
              f"over {len(final)} episodes")  # fmt: skip
    print(f"wrote {out}")
    return 0


def _cmd_rl_control(args: argparse.Namespace) -> int:
    from neurosim.rl.run import control, control_out

    out = args.out or control_out(args.checkpoint)
    brian, torch_returns, files = control(
        args.checkpoint, out, env_id=args.env, episodes=args.episodes, seed=args.seed
    )
    for k, (b, t) in enumerate(zip(brian, torch_returns, strict=True)):
        print(f"episode {k}: Brian2 return {b:.3f}, torch return {t:.3f}")
    for path in files:
        print(f"wrote {path}")
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    from neurosim.sweep import parse_grid, run_sweep

    result = run_sweep(
        args.protocol,
        parse_grid(args.grid),
        args.seeds,
        args.out or Path("results") / "sweep",
        scheduler=args.scheduler,
        n_workers=args.workers,
        progress=not args.quiet,
        set_overrides=args.set,
    )
    print(f"{result.submitted} points run, {result.skipped} already done")
    print(f"wrote {result.path}")
    return 0


def _cmd_analyze(args: argparse.Namespace) -> int:
    from neurosim.analysis.accessor import analyze, report
    from neurosim.recording import save_recording

    summary = analyze(args.recording, bin=args.fano_window, select=args.select)
    print(report(summary))
    if args.out is not None:
        print(f"wrote {save_recording(summary, args.out)}")
    return 0


#: Every plot kind (:data:`neurosim.plotting.PLOTS` once every kind module is
#: imported; listed here so that ``--help`` imports neither matplotlib nor torch).
PLOT_KINDS = (
    "traces", "raster", "rates", "activity", "stacked_raster", "rate_boxplot", "fi_curve",
    "weights", "curves", "learning_curve", "class_templates", "weight_change",
    "compartments", "comparison_curves", "comparison_angles", "fa_curves", "stdp_window",
)  # fmt: skip


def _cmd_plot(args: argparse.Namespace) -> int:
    from neurosim.kinds import register_all
    from neurosim.plotting import plot
    from neurosim.recording import load_recording

    register_all()  # the kinds defined beside their networks

    if args.recording.suffix == ".npz":  # a segregated run's checkpoint: a run in progress
        from neurosim.networks.segregated_protocol import checkpoint_recording

        ds = checkpoint_recording(args.recording)
    else:
        ds = load_recording(args.recording, neurosim_only=True)
    out = args.out or args.recording.with_name(f"{args.recording.stem}_{args.kind}.png")
    for path in plot(ds, args.kind, out):
        print(f"wrote {path}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from neurosim.export import export
    from neurosim.recording import load_recording

    ds = load_recording(args.recording, neurosim_only=True)
    print(f"wrote {export(ds, args.format, args.out)}")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from neurosim.datasets import KNOWN_SETS, SUBSETS
    from neurosim.model import list_models
    from neurosim.protocol import list_protocols

    data_sets = [
        (name, f"{k.title}, {len(k.classes)} classes ({k.homepage})")
        for name, k in KNOWN_SETS.items()
    ] + [
        (name, f"{KNOWN_SETS[s.parent].title} subset shipped in data/{s.file}")
        for name, s in SUBSETS.items()
    ]
    for title, items in (
        ("models", list_models()),
        ("protocols", list_protocols()),
        ("data sets (training.dataset; also a path to .npz, IDX or class folders)", data_sets),
    ):
        print(f"{title}:")
        width = max((len(name) for name, _ in items), default=0)
        for name, description in items:
            print(f"  {name:<{width}}  {description}")
    return 0


def _add_set_argument(cmd: argparse.ArgumentParser, help: str) -> None:
    cmd.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=help)


def _add_run_arguments(cmd: argparse.ArgumentParser, positional: bool = True) -> None:
    if positional:
        cmd.add_argument(
            "protocol", help="protocol file (protocols/*.yaml) or shipped protocol name"
        )
    cmd.add_argument(
        "--out", type=_path_arg, default=None, help="output folder (default results/NAME)"
    )
    _add_set_argument(
        cmd,
        "override a protocol setting, e.g. --set populations.cell.n=10 "
        "(repeatable; values in YAML syntax)",
    )
    cmd.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    cmd.add_argument("--quiet", action="store_true", help="no progress bar")


class _DefaultsFormatter(argparse.HelpFormatter):
    """``--help`` shows every option's default.

    An option whose help already says its default (or what happens without it,
    for defaults of None) keeps its text; flags and empty lists show none.
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            not action.option_strings
            or "default" in text
            or default is None
            or default is False
            or default == []
            or default is argparse.SUPPRESS
        ):
            return text
        return f"{text} (default: %(default)s)"


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (exit status 2).

    argparse prints the whole usage block before the error; a wrong option
    value should read like every other bad input: ``neurosim rl-train: error:
    argument --episodes: invalid int value: '1.5'``. ``--help`` still shows
    the usage and every default (:class:`_DefaultsFormatter`). Sub-commands'
    parsers are made by ``add_parser`` with this class.
    """

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", _DefaultsFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _path_arg(text: str) -> Path:
    """An argparse type: a path the shell left unexpanded or too long is a usage error."""
    from neurosim.paths import user_path

    try:
        return user_path(text, "path")
    except NeurosimError as err:
        raise argparse.ArgumentTypeError(str(err).removeprefix("path: ")) from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``neurosim`` command."""
    parser = _Parser(
        prog="neurosim",
        description="Multi-compartment neurons and random-feedback learning in Brian2.",
    )
    parser.add_argument("--version", action="version", version=f"neurosim {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="run a protocol file and write its recording and plots",
        description="Run a protocol (a file or a shipped protocol's name).",
    )
    _add_run_arguments(run)
    run.add_argument(
        "--check",
        action="store_true",
        help="validate the protocol and estimate its memory, run nothing, write nothing",
    )
    run.set_defaults(func=_cmd_run)

    compare = sub.add_parser(
        "compare",
        help="train the networks of a comparison protocol and write the report",
        description="Train the segregated-dendrite network (Brian2) and torch MLPs "
        "(backprop, FA, DFA, shallow) on the same data; write a table, curves and angles.",
    )
    _add_run_arguments(compare)
    compare.set_defaults(func=_cmd_compare)

    tun = sub.add_parser(
        "tune",
        help="tune protocol settings against a metric of its recording",
        description="Tune protocol settings (--param KEY=LOW:HIGH, keys as for --set) to "
        "minimise a variable of the protocol's recording (its last value). The setup is "
        "checked before the first trial. A trial whose metric is NaN or infinite, or whose "
        "run fails, is recorded as failed and the optimizer is told the worst value so far. "
        "Every trial is written to OUT/tune.nc as it ends, each trial's run to "
        "OUT/trialNNNN/.",
    )
    tun.add_argument("protocol", help="protocol file or shipped protocol name")
    tun.add_argument("--param", action="append", default=[], metavar="KEY=LOW:HIGH",
                     help="a tuned setting and its range, with the key's units if it has "
                     "any: stimuli.0.amplitude=0:100pA (repeatable)")  # fmt: skip
    tun.add_argument("--metric", required=True, help="recording variable to minimise")
    tun.add_argument("--maximize", action="store_true", help="maximise the metric instead")
    tun.add_argument("--optimizer", default="auto",
                     choices=("auto", "learned", "cma", "tpe", "ngopt", "random", "botorch"),
                     help="auto (default): the optimizer benchmarks/bench_blackbox.py measured "
                     "best for the number of --param and the --budget: the learned "
                     "optimizer for 1 to 6 settings and budgets up to its training horizon "
                     "of 100 (at step 100 better than random search on all 26 moved test "
                     "families, better than or level with CMA-ES on 23; ahead of CMA-ES "
                     "at steps 25-50); CMA-ES for more than 6 settings and for budgets "
                     "over 100")  # fmt: skip
    tun.add_argument("--budget", type=int, default=30,
                     help="number of trials, failed ones included")  # fmt: skip
    tun.add_argument("--seed", type=int, default=0, help="seed of the optimizer")
    tun.add_argument("--weights", type=_path_arg, default=None,
                     help="learned optimizer's weights (default: the shipped ones)")  # fmt: skip
    tun.add_argument("--out", type=_path_arg, default=None,
                     help="output folder: tune.nc, trialNNNN/ (default results/tune)")  # fmt: skip
    _add_set_argument(tun, "override a protocol setting in every trial (repeatable)")
    tun.add_argument("--resume", action="store_true",
                     help="replay the trials of OUT/tune.nc and continue to --budget")  # fmt: skip
    tun.add_argument("--quiet", action="store_true", help="no progress bar")
    tun.set_defaults(func=_cmd_tune)

    tro = sub.add_parser(
        "train-optimizer",
        help="train the learned black-box optimizer on GP samples",
        description="Train the RNN black-box optimizer (Chen et al. 2017; gated by default) "
        "on Gaussian-process samples.",
    )
    tro.add_argument("--dim", type=int, required=True,
                     help="function dimension (>= 1; weights for 1..6 are shipped)")  # fmt: skip
    tro.add_argument("--iterations", type=int, default=None, help="Adam steps (default 2500)")
    tro.add_argument(
        "--loss",
        default=None,
        choices=("sum", "oi", "ei", "min", "late", "log_regret"),
        help="training loss (default min: the area under the best-so-far curve; late: "
        "the same weighted towards the end of the budget; log_regret: the log of the "
        "regret at every step)",
    )
    tro.add_argument(
        "--arch",
        default=None,
        choices=("gated", "mixture", "chen2017"),
        help="gated (default: blends a uniform point into a step from the best point), "
        "mixture (takes one or the other per query) or the paper's chen2017 network",
    )
    tro.add_argument(
        "--functions",
        default=None,
        choices=("gp_bowl", "gp"),
        help="training functions: GP samples plus random bowls (default) or GP samples only",
    )
    tro.add_argument(
        "--bowl-fraction",
        type=float,
        default=None,
        help="with gp_bowl, the fraction of functions that get a bowl (default 0.3)",
    )
    tro.add_argument(
        "--regret-floor",
        type=float,
        default=None,
        help="log_regret: the scaled regret added inside the log "
        "(default 1e-5, above float32 rounding)",
    )
    tro.add_argument(
        "--gate-lower",
        type=float,
        default=None,
        help="gated and mixture networks: the gate pre-activation below which the "
        "penalty starts (default -3, gate >= 0.05)",
    )
    tro.add_argument(
        "--lengthscale",
        type=float,
        nargs=2,
        default=None,
        metavar=("LOW", "HIGH"),
        help="range of the GP samples' length scales, log-uniform, times sqrt(dim) "
        "(default 0.1 0.6, the prior of the benchmark's GP samples)",
    )
    tro.add_argument(
        "--no-curriculum", action="store_true", help="full horizon from the first iteration"
    )
    tro.add_argument(
        "--no-gate-penalty",
        action="store_true",
        help="gated network: let the gate saturate (by default its pre-activation is "
        "penalised beyond +-3)",
    )
    tro.add_argument(
        "--seed", type=int, default=0, help="seed of the network and the training functions"
    )
    tro.add_argument("--batch", type=int, default=None, help="GP functions per step (64)")
    tro.add_argument("--learning-rate", type=float, default=None, help="Adam step size (1e-3)")
    tro.add_argument("--device", default="cpu", help="torch device of the rollouts (cpu, cuda)")
    tro.add_argument(
        "--max-minutes", type=float, default=None, help="stop (with a checkpoint) after this"
    )
    tro.add_argument("--out", type=_path_arg, default=None, help="checkpoint file (.pt)")
    tro.add_argument("--resume", action="store_true", help="continue from --out")
    tro.add_argument(
        "--export",
        type=_path_arg,
        default=None,
        help="also write the bare weights here (data/learned_optimizer/dim<d>.pt to ship them)",
    )
    tro.add_argument("--quiet", action="store_true", help="no progress bar")
    tro.set_defaults(func=_cmd_train_optimizer)

    rlt = sub.add_parser(
        "rl-train",
        help="train an A3C or DDPG agent on a gymnasium environment",
        description="Train A3C (Mnih et al. 2016) or DDPG (Lillicrap et al. 2016). "
        "Defaults are the paper's, then the documented settings for the environment.",
    )
    rlt.add_argument("algorithm", help="a3c or ddpg")
    rlt.add_argument("--env", required=True, help="gymnasium id, e.g. CartPole-v1, Pendulum-v1")
    rlt.add_argument(
        "--steps",
        type=int,
        default=None,
        help="environment steps (default: the config's total_steps: 500,000 for a3c, "
        "1,000,000 for ddpg, unless the environment's settings say otherwise)",
    )
    rlt.add_argument(
        "--seed", type=int, default=None, help="seed of the run (default: the config's, 0)"
    )
    rlt.add_argument(
        "--out",
        type=_path_arg,
        default=None,
        help="output folder (default results/ALGORITHM_ENV_seedSEED)",
    )
    _add_set_argument(rlt, "override a config field, e.g. --set rule=fa (repeatable)")
    rlt.add_argument("--resume", action="store_true", help="continue from the checkpoint")
    rlt.add_argument("--quiet", action="store_true", help="no progress bar")
    rlt.set_defaults(func=_cmd_rl_train)

    rlc = sub.add_parser(
        "rl-control",
        help="run a trained actor as a Brian2 rate network in closed loop",
        description="Run the actor of an rl-train checkpoint as a Brian2 network of rate "
        "neurons driving its environment; compare with the torch actor; record and plot.",
    )
    rlc.add_argument("checkpoint", help="checkpoint.pt of neurosim rl-train")
    rlc.add_argument("--env", default=None, help="environment (default: the training one)")
    rlc.add_argument("--episodes", type=int, default=5, help="closed-loop episodes to run")
    rlc.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the first episode (episode k resets with seed + k)",
    )
    rlc.add_argument(
        "--out",
        type=_path_arg,
        default=None,
        help="output folder (default results/NAME/controller)",
    )
    rlc.set_defaults(func=_cmd_rl_control)

    swp = sub.add_parser(
        "sweep",
        help="run a protocol over a grid of settings on Dask (resumable)",
        description="Run a protocol at every point of a grid of settings (keys as for --set), "
        "one Dask task per point, into one Zarr store OUT/sweep.zarr; rerun to resume.",
    )
    swp.add_argument("protocol", help="protocol file or shipped protocol name")
    swp.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=V1,V2,...",
        help="sweep a setting over values (repeatable: cartesian product)",
    )
    swp.add_argument(
        "--seeds", type=int, default=None, metavar="N", help="also sweep the seed over 0..N-1"
    )
    swp.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="running Dask scheduler, tcp://host:port (default: a local cluster)",
    )
    swp.add_argument(
        "--workers", type=int, default=2, metavar="N", help="local cluster worker processes"
    )
    swp.add_argument(
        "--out", type=_path_arg, default=None, help="output folder (default results/sweep)"
    )
    _add_set_argument(swp, "override a protocol setting at every point (repeatable)")
    swp.add_argument("--quiet", action="store_true", help="no progress bar")
    swp.set_defaults(func=_cmd_sweep)

    ana = sub.add_parser(
        "analyze",
        help="spike statistics and summaries of a recording",
        description="Per record: neurons, spikes, mean rate, CV, Fano factor; state "
        "variables; learning-curve summaries. A sweep store (neurosim sweep) is "
        "summarised per point over its sweep dimensions.",
    )
    ana.add_argument("recording", type=_path_arg, help="recording file (.nc or .zarr)")
    ana.add_argument(
        "--out", type=_path_arg, default=None, help="also write the summary (.nc/.zarr)"
    )
    ana.add_argument("--fano-window", default="100 ms", help="counting window of the Fano factor")
    ana.add_argument(
        "--select",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a sweep store: analyse only the points at this sweep value (repeatable; "
        "without it, every point is summarised over the sweep dimensions)",
    )
    ana.set_defaults(func=_cmd_analyze)

    plo = sub.add_parser(
        "plot",
        help="plot a recording (PNG or SVG by suffix)",
        description="Plot a recording as one figure of the chosen kind.",
    )
    plo.add_argument(
        "recording",
        type=_path_arg,
        help="recording file (.nc or .zarr), or the checkpoint.npz of a segregated run "
        "(a run still training: learning_curve, weights, class_templates, compartments)",
    )
    plo.add_argument("--kind", required=True, help=f"one of {', '.join(PLOT_KINDS)}")
    plo.add_argument(
        "--out", type=_path_arg, default=None, help="image (default RECORDING_KIND.png)"
    )
    plo.set_defaults(func=_cmd_plot)

    exp = sub.add_parser(
        "export",
        help="export a recording to NWB or Neo",
        description="Write a recording as NWB (pynwb) or as a Neo Block (.mat, .pkl, .nix).",
    )
    exp.add_argument("recording", type=_path_arg, help="recording file (.nc or .zarr)")
    exp.add_argument("--format", required=True, choices=("nwb", "neo"), help="file format")
    exp.add_argument(
        "--out",
        type=_path_arg,
        required=True,
        help="nwb: .nwb; neo: .mat, .pkl or .nix (needs nixio)",
    )
    exp.set_defaults(func=_cmd_export)

    lst = sub.add_parser(
        "list",
        help="list shipped models and protocols",
        description="List the shipped models and protocols with one line each.",
    )
    lst.set_defaults(func=_cmd_list)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``neurosim`` command; returns the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.getLogger("brian2").setLevel(logging.WARNING if args.debug else logging.ERROR)
    out = getattr(args, "out", None)
    kept = next(p for p in (out, *out.parents) if p.exists()) if out is not None else None
    done = False
    try:
        status = args.func(args)
        done = True
        return status
    except NeurosimError as err:
        if args.debug:
            raise
        # one line, cut as a last safeguard; long enough for a path and two SHA-256s
        print(f"neurosim: error: {one_line(str(err), ERROR_LINE_LIMIT)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:
        # a trainer that stopped cleanly says where its checkpoint is
        print(f"neurosim: interrupted{f': {err}' if str(err) else ''}", file=sys.stderr)
        return 130
    finally:
        if out is not None and not done:
            _remove_if_empty(out, kept)


def _remove_if_empty(out: Path, kept: Path) -> None:
    """Remove the folders a failed command created for ``--out`` while they hold no file."""
    from neurosim.atomic import remove_empty_dirs

    if kept == out or not out.is_dir():
        return
    for folder, _, _ in os.walk(out, topdown=False):
        with contextlib.suppress(OSError):  # not empty: keep it
            os.rmdir(folder)
    remove_empty_dirs(out.parent, keep=kept)


if __name__ == "__main__":
    sys.exit(main())
