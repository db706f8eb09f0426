#!/usr/bin/env python
"""NPT validation of the relaxed models against the published lattices, from the study's own runs.

The study (``examples/study_cpu/study.yaml``) runs each phase with the plugin at its measured
temperature (o-NBH 523 K, Na2B12H12 and NaBH4 298 K): NPT at 1 bar, 1 fs, Nose-Hoover damping 0.1 ps
(T) and 1 ps (P), ``aniso`` for the orthogonal cells and ``tri`` for the monoclinic one. This script
runs :mod:`pydriver.thermo.npt_lattice` on those run directories (mean unit cell over the production
part, halves, deviation from published), writes ``validation.json`` beside it and prints a markdown table.

    .venv/bin/python examples/structures/validate_npt.py examples/study_cpu/results
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from pydriver.thermo.npt_lattice import NABH_MEASURED, find_runs, markdown_table, validate_run

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    """Validate (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="the study's sweep folder (run directories inside)")
    parser.add_argument("-o", "--output", type=Path, default=HERE / "validation.json")
    args = parser.parse_args(argv)
    runs = find_runs(args.results, NABH_MEASURED)
    missing = sorted(set(NABH_MEASURED) - set(runs))
    if missing:
        raise SystemExit(f"validate_npt.py: no finished run at the measured temperature for {missing} in {args.results}")
    results = {name: validate_run(NABH_MEASURED[name], run_dir, HERE) for name, run_dir in runs.items()}
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(markdown_table(results))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
