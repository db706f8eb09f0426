"""Transport analysis of LAMMPS runs: dump reading, MSD/D/conductivity, active Na, anion rotation,
structure statistics and Na density (see docs/analysis.md)."""

from pydriver.analysis.dump_reader import Trajectory, read_lammps_dump
from pydriver.analysis.transport import DiffusionAnalysis

__all__ = ["DiffusionAnalysis", "Trajectory", "read_lammps_dump", "analyze_run"]


def analyze_run(*args, **kwargs):
    """Analyse a run directory; see :func:`pydriver.analysis.run_analysis.analyze_run`."""
    from pydriver.analysis.run_analysis import analyze_run as _analyze_run

    return _analyze_run(*args, **kwargs)
