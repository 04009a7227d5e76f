"""The ``relreps`` command line: a thin layer over the library and the experiments."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from relreps import __version__


def _cmd_similarities(args: argparse.Namespace) -> int:
    from relreps.similarities import INVARIANCES, get_similarity, similarity_names

    columns = sorted(INVARIANCES)
    print("| similarity | " + " | ".join(columns) + " | description |")
    print("|---|" + "---|" * len(columns) + "---|")
    for name in similarity_names():
        entry = get_similarity(name)
        marks = ["yes" if c in entry.invariances else "no" for c in columns]
        print(f"| `{name}` | " + " | ".join(marks) + f" | {entry.description} |")
    print("\nWith center='anchors', every similarity is also translation-invariant.")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from relreps.demo import run_demo

    run_demo(seed=args.seed)
    return 0


def _cmd_reproduce(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from relreps.experiments import registry

    if args.list or args.experiment is None:
        for experiment in registry.experiments():
            print(f"{experiment.name:20s} {experiment.summary}")
        if args.experiment is None and not args.list:
            print(
                "\nRun one with: relreps reproduce NAME [--quick] (see relreps reproduce NAME -h)"
            )
        return 0
    try:
        experiment = registry.get(args.experiment)
    except KeyError as error:
        parser.error(str(error.args[0]))
    sub = argparse.ArgumentParser(
        prog=f"relreps reproduce {experiment.name}", description=experiment.summary
    )
    experiment.add_arguments(sub)
    options = sub.parse_args(args.rest)
    options.arguments = list(args.rest)  # recorded in the report as the command to rerun
    return int(experiment.run(options) or 0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="relreps",
        description="Relative representations: compare, stitch and translate latent spaces.",
    )
    parser.add_argument("--version", action="version", version=f"relreps {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser("demo", help="a 10-second end-to-end demonstration of the core")
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(handler=_cmd_demo)

    sims = commands.add_parser("similarities", help="list similarities and their invariances")
    sims.set_defaults(handler=_cmd_similarities)

    reproduce = commands.add_parser(
        "reproduce",
        help="reproduce an experiment of the paper (relreps reproduce --list)",
        add_help=False,
    )
    reproduce.add_argument("experiment", nargs="?", help="experiment name (see --list)")
    reproduce.add_argument("--list", action="store_true", help="list the experiments")
    reproduce.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    reproduce.set_defaults(handler=lambda a: _cmd_reproduce(a, parser))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    # "relreps reproduce -h" lists experiments; "relreps reproduce NAME -h" is its own help.
    if argv[:1] == ["reproduce"] and len(argv) == 2 and argv[1] in ("-h", "--help"):
        argv = ["reproduce", "--list"]
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print(
            "\nInterrupted. Finished work is saved; run the same command again to resume.",
            file=sys.stderr,
        )
        return 130
    except (ValueError, TypeError, KeyError, FileNotFoundError, ImportError, RuntimeError) as error:
        # Errors we raise on bad input are written to be read: show the message, not a traceback
        # (RELREPS_DEBUG=1 shows the traceback too).
        if os.environ.get("RELREPS_DEBUG"):
            raise
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"relreps: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
