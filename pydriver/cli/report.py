"""Combine analysed runs into one report (report.md, self-contained report.html, PNGs, JSON, CSV).

Groups runs by structure and mass factors, fits Arrhenius laws weighted by the uncertainties
(Ea with bootstrap uncertainty, sigma at 300 K with a 95% interval, marked extrapolated), leaving out
non-diffusive and undefined points with a warning each, and plots active Na and anion rotation vs
mass factor.
"""

from __future__ import annotations

import logging

from pydriver.report.build import build_report

log = logging.getLogger(__name__)


class CLICommand:
    """Combine analysed runs (analysis.json) into a report with Arrhenius fits and plots.

    Example: python -m pydriver report runs/ -o report/
    """

    @staticmethod
    def add_arguments(parser) -> None:
        """Register the options of ``report``."""
        parser.add_argument("dirs", nargs="+", metavar="DIR", help="run directories or folders containing them")
        parser.add_argument("-o", "--output", default="report", help="output folder (default ./%(default)s)")
        parser.add_argument("--arrhenius", choices=("sigma_T", "D"), default="sigma_T",
                            help="fit ln(sigma T) or ln D vs 1/T (default %(default)s)")
        parser.add_argument("--bootstrap", type=int, default=2000,
                            help="bootstrap resamples for Ea (default %(default)s)")

    @staticmethod
    def run(args) -> int:
        """Build the report; exit code 0 on success."""
        report = build_report(args.dirs, args.output, args.arrhenius, args.bootstrap)
        log.info("report of %d runs in %s", len(report["runs"]), args.output)
        return 0
