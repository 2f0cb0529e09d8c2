"""The ``neurosim`` command line.

User errors (a wrong file, key, unit or shape) print one line on stderr and
exit with status 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from neurosim._version import __version__
from neurosim.errors import NeurosimError

__all__ = ["main"]


def _cmd_run(args: argparse.Namespace) -> int:
    from neurosim.protocol import load_protocol
    from neurosim.runner import run_protocol

    protocol = load_protocol(args.protocol, args.set)
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


def _cmd_list(args: argparse.Namespace) -> int:
    from neurosim.model import list_models
    from neurosim.protocol import list_protocols

    for title, items in (("models", list_models()), ("protocols", list_protocols())):
        print(f"{title}:")
        width = max((len(name) for name, _ in items), default=0)
        for name, description in items:
            print(f"  {name:<{width}}  {description}")
    return 0


def _add_run_arguments(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("protocol", help="protocol file (protocols/*.yaml) or shipped protocol name")
    cmd.add_argument("--out", type=Path, default=None, help="output folder (default results/NAME)")
    cmd.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a protocol setting, e.g. --set populations.cell.n=10 "
        "(repeatable; values in YAML syntax)",
    )
    cmd.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    cmd.add_argument("--quiet", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``neurosim`` command."""
    parser = argparse.ArgumentParser(
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
    run.set_defaults(func=_cmd_run)

    compare = sub.add_parser(
        "compare",
        help="train the networks of a comparison protocol and write the report",
        description="Train the segregated-dendrite network (Brian2) and torch MLPs "
        "(backprop, FA, DFA, shallow) on the same data; write a table, curves and angles.",
    )
    _add_run_arguments(compare)
    compare.set_defaults(func=_cmd_compare)

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
    try:
        return args.func(args)
    except NeurosimError as err:
        if args.debug:
            raise
        print(f"neurosim: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("neurosim: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
