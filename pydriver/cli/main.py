"""M3GNet molecular dynamics in LAMMPS: export models, build decks, run sweeps, analyse and report.

Each subcommand module defines ``CLICommand`` with a docstring (first line = help), a static
``add_arguments(parser)`` and a static ``run(args)``. Expected user errors raise
:class:`CLIError` (or ``ValueError``/``OSError`` such as ``FileNotFoundError``) and end with exit
code 2 and exactly one stderr line, ``python -m pydriver COMMAND: error: MESSAGE``, without the
usage block (argparse prints usage only for syntax errors); ``-T/--traceback`` re-raises them.
Other exceptions are bugs and keep their traceback. Python warnings of the libraries we call are
shown as one log line each (harmless ones, listed in :data:`SILENCED_WARNINGS`, not at all).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from pydriver import __version__

# (command name, module) -- adding a command touches this list and one new module.
COMMANDS: list[tuple[str, str]] = [
    ("export", "pydriver.cli.export"),
    ("analyze", "pydriver.cli.analyze"),
    ("report", "pydriver.cli.report"),
    ("structure", "pydriver.cli.structure"),
    ("deck", "pydriver.cli.deck"),
    ("sweep", "pydriver.cli.sweep"),
    ("render", "pydriver.cli.render"),
    ("thermo", "pydriver.cli.thermo"),
    ("next-chunk", "pydriver.cli.next_chunk"),
]


#: (message regex, why it is harmless): warnings not shown
SILENCED_WARNINGS = [
    (r"Issues encountered while parsing CIF: .*fractional coordinates rounded",
     "pymatgen snaps coordinates within 1e-4 of special positions; the structure is as intended"),
]
#: third-party loggers held at WARNING: their INFO lines say nothing a user can act on
#: (numexpr: "NumExpr defaulting to 2 threads.", on the first pandas/pymatgen expression)
QUIET_LOGGERS = ("numexpr",)
#: exceptions that are user errors (one line, exit 2); anything else is a bug and shows a traceback
USER_ERRORS = (ValueError, OSError)

log = logging.getLogger("pydriver.cli")


class CLIError(Exception):
    """An expected user error: printed as one line, exit code 2."""


def one_line(text: object) -> str:
    """``text`` on one line: line breaks of multi-problem messages become ``'; '``."""
    return "; ".join(part.strip() for part in str(text).splitlines() if part.strip())


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """``warnings.showwarning`` replacement: one log line, ``WARNING pydriver.cli: <package>: message``."""
    parts = Path(filename).parts
    package = parts[parts.index("site-packages") + 1] if "site-packages" in parts else Path(filename).stem
    log.warning("%s: %s (%s)", package, one_line(message), category.__name__)


def _configure_warnings() -> None:
    for pattern, _why in SILENCED_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)
    warnings.showwarning = _show_warning


def _build_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The top-level parser and one subparser per command of :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(prog="python -m pydriver", description=__doc__.splitlines()[0],
                                     epilog="`python -m pydriver COMMAND --help` shows a command's options; "
                                            "README.md and docs/ are the manual.")
    parser.add_argument("--version", action="version", version=f"pydriver {__version__}")
    parser.add_argument("-T", "--traceback", action="store_true", help="show the full traceback on errors")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers: dict[str, argparse.ArgumentParser] = {}
    for name, module_name in COMMANDS:
        module = importlib.import_module(module_name)
        cmd = module.CLICommand
        doc = (cmd.__doc__ or "").strip()
        sp = sub.add_parser(name, help=doc.splitlines()[0] if doc else "", description=doc,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
        cmd.add_arguments(sp)
        sp.set_defaults(_run=cmd.run)
        subparsers[name] = sp
    return parser, subparsers


def main(args: Sequence[str] | None = None) -> int:
    """Run the CLI with ``args`` (default ``sys.argv[1:]``); returns the exit code."""
    parser, subparsers = _build_parser()
    ns = parser.parse_args(args)
    level = logging.WARNING if ns.quiet else (logging.DEBUG if ns.verbose > 1 else logging.INFO)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    for name in QUIET_LOGGERS:  # -vv shows them too
        logging.getLogger(name).setLevel(logging.NOTSET if level <= logging.DEBUG else logging.WARNING)
    if not getattr(ns, "_run", None):
        parser.print_help()
        return 0
    with warnings.catch_warnings():
        _configure_warnings()
        try:
            result = ns._run(ns)
        except (CLIError, *USER_ERRORS) as exc:
            if ns.traceback:
                raise
            print(f"{parser.prog} {ns.command}: error: {one_line(exc)}", file=sys.stderr)
            return 2
    return int(result or 0)
