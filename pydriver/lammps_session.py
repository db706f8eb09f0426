"""Moved to :mod:`pydriver.lammps.session` (kept so old imports keep working)."""
from pydriver.lammps.session import lammps_env, lmp_executable, start_lammps  # noqa: F401
