"""Transport analysis of LAMMPS runs: dump reading, MSD/D/conductivity, active Na, anion rotation,
structure statistics and Na density (see docs/analysis.md)."""

from pydriver.analysis.dump_reader import Trajectory, read_lammps_dump
from pydriver.analysis.options import AnalysisOptions
from pydriver.analysis.run_analysis import analyze_run
from pydriver.analysis.transport import DiffusionAnalysis

__all__ = ["AnalysisOptions", "DiffusionAnalysis", "Trajectory", "analyze_run", "read_lammps_dump"]
