"""The ``qmlstudio`` command: the GUI and headless commands over the same core.

Each command is a :class:`~qmlstudio.cli.base.Command` subclass listed in :data:`COMMANDS`;
adding one is a class with ``add_arguments`` and ``run``. Errors meant for the user (every
:class:`~qmlstudio.core.errors.QMLStudioError`) go to stderr with exit code 1; bad usage
exits with 2 (argparse); a traceback is printed only for a bug.

The commands live in modules by subject: :mod:`.runs` (``gui``, ``new``, ``train``,
``export``, ``evaluate``), :mod:`.plugins`, :mod:`.analyze` and :mod:`.study`; what they
share is in :mod:`.base`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from qmlstudio import __version__
from qmlstudio.cli.analyze import AnalyzeCommand
from qmlstudio.cli.base import PROG, Command
from qmlstudio.cli.plugins import PluginsCommand
from qmlstudio.cli.runs import (
    EvaluateCommand,
    ExportCommand,
    GuiCommand,
    NewCommand,
    TrainCommand,
)
from qmlstudio.cli.study import StudyCommand
from qmlstudio.core.errors import QMLStudioError

__all__ = ["COMMANDS", "Command", "build_parser", "main"]


COMMANDS: list[Command] = [GuiCommand(), NewCommand(), TrainCommand(), ExportCommand(), PluginsCommand(),
                           EvaluateCommand(), AnalyzeCommand(), StudyCommand()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="QML Studio: design, train and benchmark quantum machine-learning circuits.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        p = sub.add_parser(command.name, help=command.help, description=command.description or command.help)
        command.add_arguments(p)
        p.set_defaults(handler=command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``qmlstudio`` console script and ``python -m qmlstudio``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Command = getattr(args, "handler", None) or COMMANDS[0]
    try:
        return handler.run(args) or 0
    except QMLStudioError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `qmlstudio plugins | head`
        return 0
    except OSError as exc:  # a file the command could not read or write, not caught closer to it
        where = f" {exc.filename!r}" if exc.filename else ""
        print(f"{PROG}: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
