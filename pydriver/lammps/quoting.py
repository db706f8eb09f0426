"""Quoting paths for the files we generate: LAMMPS input lines, bash scripts and ``#SBATCH`` lines.

Every path a deck or a job script holds goes through one of these, so a checkout, venv, model or
run directory under ``.../sp ace/my venv`` or ``.../données/Na₂B₁₂H₁₂`` works unchanged. The Jinja2
templates get them as the filters ``lmp``, ``lmp_comment``, ``sh`` and ``sbatch``
(:mod:`pydriver.deck.render`).

LAMMPS replaces non-ASCII bytes of every input line before it parses it (LAMMPS 2025.7: "Detected
non-ASCII characters in input", ``é`` becomes byte ``0xa9``) and substitutes ``$`` even inside
quotes, so no quoting carries those: a deck names files relative to its run directory (where
LAMMPS runs), and :func:`lammps_path` makes such a path relative when that one is plain, else
refuses in one line.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

#: characters a LAMMPS input word cannot hold in any quoting (LAMMPS 2025.7: ``$`` is substituted
#: inside quotes too, a quote inside other quotes is "unmatched", non-ASCII bytes are replaced)
_LAMMPS_UNQUOTABLE = set("$'\"\n\r")


def _lammps_problem(text: str) -> str | None:
    """Why ``text`` cannot be one LAMMPS input word, or ``None``."""
    if not text.isascii():
        return "LAMMPS replaces non-ASCII characters in its input"
    bad = sorted(_LAMMPS_UNQUOTABLE.intersection(text))
    if bad:
        return f"a LAMMPS input cannot hold {' '.join(repr(c) for c in bad)} in a file name"
    return None


def lammps_quote(word: object) -> str:
    """One LAMMPS input word holding ``word`` verbatim: as it is, or in double quotes when it holds
    whitespace or ``#`` (LAMMPS manual, "Parsing rules"; checked against LAMMPS 2025.7).

    Raises
    ------
    ValueError
        For what no LAMMPS quoting carries: non-ASCII characters, ``$``, quotes, line breaks
        (:func:`lammps_path` writes such paths relative to the run directory where it can).
    """
    text = str(word)
    problem = _lammps_problem(text)
    if problem:
        raise ValueError(f"{text!r}: {problem}; use a path without them")
    if text and not any(c.isspace() or c == "#" for c in text):
        return text
    return f'"{text}"'


def lammps_comment(text: object) -> str:
    """``text`` for a ``#`` comment of a LAMMPS input: non-ASCII characters as ``\\N`` escapes, one line."""
    return str(text).encode("ascii", "backslashreplace").decode().replace("\n", " ").replace("\r", " ")


def lammps_path(path: str | Path, base: str | Path) -> str:
    """``path`` as a LAMMPS input running in folder ``base`` can name it: unchanged when
    :func:`lammps_quote` takes it, else relative to ``base`` when that one is (e.g. a model beside a
    run directory under ``données/``).

    Raises
    ------
    ValueError
        ``'/x/mödel.pt': LAMMPS replaces non-ASCII characters in its input; rename it, or copy it
        into the run directory (deck --copy-model)``.
    """
    text = str(path)
    problem = _lammps_problem(text)
    if problem is None:
        return text
    relative = os.path.relpath(Path(base, path).resolve(), Path(base).resolve())
    if _lammps_problem(relative) is None:
        return relative
    raise ValueError(f"{text!r}: {problem}; rename it, or copy it into the run directory (deck --copy-model)")


def run_relative_path(path: str | Path, run_dir: str | Path) -> str:
    """How a run directory names a file it uses: relative to the run directory when the file lies in
    the folder that holds it (a sweep folder: ``../model/m.pt``; the run directory itself:
    ``model.pt``), so the folder can move, to another machine too; else absolute (a file of yours
    elsewhere, e.g. a model in a shared folder).
    """
    target = Path(run_dir, path).resolve()
    run_dir = Path(run_dir).resolve()
    if target.is_relative_to(run_dir.parent):
        return os.path.relpath(target, run_dir)
    return str(target)


def shell_quote(word: object) -> str:
    """One bash word holding ``word`` verbatim (:func:`shlex.quote`: single quotes when needed)."""
    return shlex.quote(str(word))


def sbatch_quote(word: object) -> str:
    """An ``#SBATCH --option=VALUE`` value holding ``word``: double quotes when it has whitespace or quotes.

    sbatch reads script directives with its own small parser (not bash): double quotes group, a
    backslash escapes the next character.
    """
    text = str(word)
    if not any(c.isspace() or c in "\"'\\" for c in text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
