"""``python -m pydriver`` dispatcher (ASE-style: one module per subcommand).

Each subcommand module defines ``CLICommand`` with a docstring (first line = help), a static
``add_arguments(parser)`` and a static ``run(args)``. Expected user errors raise
:class:`CLIError` (or ``ValueError``/``FileNotFoundError``) and end with exit code 2 and one
line; ``-T/--traceback`` re-raises them.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from pydriver import __version__

# (command name, module) -- adding a command touches this list and one new module.
COMMANDS: list[tuple[str, str]] = [
    ("export", "pydriver.cli.export"),
    ("analyze", "pydriver.cli.analyze"),
    ("report", "pydriver.cli.report"),
    ("structure", "pydriver.cli.structure"),
    ("deck", "pydriver.cli.deck"),
    ("sweep", "pydriver.cli.sweep"),
    ("thermo", "pydriver.cli.thermo"),
]


class CLIError(Exception):
    """An expected user error: printed as one line, exit code 2."""


def _build_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    parser = argparse.ArgumentParser(prog="python -m pydriver", description=__doc__.splitlines()[0])
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
    if not getattr(ns, "_run", None):
        parser.print_help()
        return 0
    try:
        result = ns._run(ns)
    except (CLIError, ValueError, FileNotFoundError, KeyError) as exc:
        if ns.traceback:
            raise
        subparsers[ns.command].print_usage(sys.stderr)
        print(f"{parser.prog} {ns.command}: error: {exc}", file=sys.stderr)
        return 2
    return int(result or 0)
