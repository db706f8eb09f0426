"""Transport analysis of MD trajectories (LAMMPS dumps, XDATCAR, extxyz): reading, MSD/D/conductivity,
diffusive-regime diagnostics, active Na, anion rotation, structure statistics and Na density
(see docs/analysis.md)."""

from pydriver.analysis.ase_reader import read_ase_trajectory
from pydriver.analysis.dump_reader import read_lammps_dump
from pydriver.analysis.options import AnalysisOptions
from pydriver.analysis.run_analysis import analyze_file, analyze_paths, analyze_run, load_trajectory
from pydriver.analysis.trajectory import Trajectory
from pydriver.analysis.transport import DiffusionAnalysis

__all__ = ["AnalysisOptions", "DiffusionAnalysis", "Trajectory", "analyze_file", "analyze_paths", "analyze_run",
           "load_trajectory", "read_ase_trajectory", "read_lammps_dump"]
