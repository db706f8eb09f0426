"""Reports across analysed runs: tables, Arrhenius fits and plots (markdown, HTML, PNG, JSON, CSV)."""

from pydriver.report.build import build_report
from pydriver.report.rows import find_analyses

__all__ = ["build_report", "find_analyses"]
