"""The ``rankbench`` command line: one module per subcommand.

Each subcommand module exposes ``register(subparsers)`` (adds its parser and sets ``func``) and a
function ``run(args) -> int``. Data goes to stdout, messages to stderr. A :class:`RankbenchError`
becomes ``error: ...`` / ``hint: ...`` and its exit code, never a traceback; Ctrl-C exits 130.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings

from rankbench import interrupt
from rankbench.errors import EXIT_INTERRUPTED, RankbenchError, RankbenchWarning
from rankbench.threads import choose_wait_policy
from rankbench.version import __version__

# Subcommand modules, in the order `--help` lists them.
SUBCOMMANDS = (
    "audit",
    "suggest",
    "compress",
    "run",
    "init_config",
    "aggregate",
    "report",
    "compare",
    "plan",
    "schema",
)
TORCH_COMMANDS = ("run",)  # the ones that train or evaluate; the rest never start an OpenMP pool


def _show_warning(message, category, filename, lineno, file=None, line=None):  # noqa: ARG001
    if issubclass(category, RankbenchWarning):
        print(f"warning: {message}", file=sys.stderr)
    else:  # third-party noise stays out of the user's way unless asked for
        if os.environ.get("RANKBENCH_SHOW_ALL_WARNINGS"):
            print(f"{category.__name__}: {message}", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rankbench",
        description="Audit LoRA adapters exactly, suggest smaller ranks, and prove them with a bench.",
    )
    parser.add_argument("--version", action="version", version=f"rankbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f"rankbench.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    warnings.showwarning = _show_warning
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in TORCH_COMMANDS:
        choose_wait_policy()  # before torch loads libgomp: spin briefly when idle, sleep when busy
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        with interrupt.catching():
            return int(args.func(args) or 0)
    except RankbenchError as exc:
        print(exc.render(), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted: finished stages are kept; run the same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `rankbench audit --json X | head`
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
