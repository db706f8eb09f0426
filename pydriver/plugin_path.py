"""Moved to :mod:`pydriver.lammps.plugin_path` (kept so old imports keep working)."""
from pydriver.lammps.plugin_path import *  # noqa: F401,F403
from pydriver.lammps.plugin_path import plugin_dir, plugin_file, templates_dir  # noqa: F401
