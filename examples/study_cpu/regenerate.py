#!/usr/bin/env python
"""Regenerate everything the study's README reads from the committed per-run analyses, in one command.

    .venv/bin/python examples/study_cpu/regenerate.py [RESULTS_DIR]

1. the report (``report.json``, ``.md``, ``.html``, ``.csv``, PNGs) of every ``analysis.json`` under
   RESULTS_DIR (default ``results512/``, the study in the 10 A cell; ``results/`` is the first pass in
   the unit cells) into RESULTS_DIR/report, as ``python -m pydriver report RESULTS_DIR
   -o RESULTS_DIR/report`` does;
2. the claims (``claims.py``): RESULTS_DIR/claims.json and claims.md;
3. for ``results512/``, the generated blocks of README.md (``summarize.py --write-readme`` and
   ``claims.py --write-readme``, and which runs have finished, when they ran).

tests/sweep/test_study_results.py checks that the committed files are what this makes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import claims
import summarize

from pydriver.report.build import build_report
from pydriver.report.generated import write_blocks

HERE = Path(__file__).resolve().parent
#: the results whose tables README.md shows: the study in the 10 A cell
README_RESULTS = HERE / "results512"


def main(argv: list[str] | None = None) -> int:
    """Report, claims and README blocks of RESULTS_DIR."""
    argv = sys.argv[1:] if argv is None else argv
    results = Path(argv[0]) if argv else README_RESULTS
    report_json = results / "report" / "report.json"
    report = build_report([results], report_json.parent)
    result = claims.write(report_json)
    changed = False
    if results.resolve() == README_RESULTS.resolve():
        blocks = {**summarize.tables(json.loads(report_json.read_text())), **claims.readme_blocks(result),
                  "status": summarize.status_table(results)}
        changed = write_blocks(HERE / "README.md", blocks)
    print(f"report of {len(report['runs'])} runs, claims and README tables of {results} "
          f"({'README.md rewritten' if changed else 'README tables unchanged'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
