"""The one worker entry point the executors run in a subprocess: analyse a run through the Python API.

Usage (what the local and SLURM executors run)::

    python -m pydriver.sweep.worker analyze RUN_DIR --options-json '{"n_blocks": 3}'

``analyze`` calls :func:`pydriver.analysis.analyze_run` with
:class:`pydriver.analysis.options.AnalysisOptions` built from the JSON (``to_dict`` keys). Exit
code 0 on success, 2 with one line on stderr for a user error (bad run directory or options).
A module entry point, not a CLI command: it takes exactly these arguments, so no argparse. The
adaptive job scripts call the public command ``python -m pydriver next-chunk`` instead.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from pydriver.analysis import AnalysisOptions, analyze_run

log = logging.getLogger(__name__)

USAGE = "usage: python -m pydriver.sweep.worker analyze RUN_DIR [--options-json JSON]"


def worker_command(run_dir: Path, options: AnalysisOptions | None = None) -> list[str]:
    """argv of a worker call (``analyze RUN_DIR``) with this interpreter (absolute, so no activated venv is needed)."""
    args = [sys.executable, "-m", "pydriver.sweep.worker", "analyze", str(run_dir)]
    if options is not None:
        args += ["--options-json", json.dumps(options.to_dict())]
    return args


def analyze(run_dir: Path, options: AnalysisOptions) -> dict:
    """Analyse one run directory (writes ``analysis.json``); returns its content."""
    summary = analyze_run(run_dir, options)
    tr = summary["transport"]
    log.info("%s: D = %.3e +- %.1e cm^2/s", run_dir, tr["diffusivity_cm2_s"], tr["diffusivity_std_cm2_s"])
    return summary


def _parse(argv: list[str]) -> tuple[Path, AnalysisOptions | None]:
    if len(argv) < 2 or argv[0] != "analyze":
        raise ValueError(f"expected an action and a run directory; got {argv}\n{USAGE}")
    run_dir, rest = Path(argv[1]), argv[2:]
    options = None
    if rest:
        if len(rest) != 2 or rest[0] != "--options-json":
            raise ValueError(f"unexpected arguments {rest}\n{USAGE}")
        try:
            options = AnalysisOptions.from_dict(json.loads(rest[1]))
        except json.JSONDecodeError as exc:
            raise ValueError(f"--options-json is not valid JSON: {exc}") from None
    return run_dir, options


def main(argv: list[str] | None = None) -> int:
    """Run one worker action; returns the exit code."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        run_dir, options = _parse(list(sys.argv[1:] if argv is None else argv))
        analyze(run_dir, options or AnalysisOptions())
    except (ValueError, FileNotFoundError) as exc:
        print(f"pydriver.sweep.worker: error: {exc}".replace("\n", "; "), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
