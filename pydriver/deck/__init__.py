"""Run directories for M3GNet NPT MD in LAMMPS: data file, Jinja2-rendered deck and job script, manifest.

See ``docs/run_directory.md`` for the layout and :mod:`pydriver.rundir` for its file names.
"""

from pydriver.deck.model_ref import resolve_model, sha256_file
from pydriver.deck.render import render
from pydriver.deck.settings import JobSettings, MDSettings
from pydriver.deck.writer import deck_context, write_run_directory
from pydriver.rundir import (DATA_FILE, DUMP_FILE, INPUT_FILE, JOB_FILE, MANIFEST_FILE, RESTART_DIR,
                             dump_timesteps)

__all__ = [
    "DATA_FILE", "DUMP_FILE", "INPUT_FILE", "JOB_FILE", "MANIFEST_FILE", "RESTART_DIR", "JobSettings",
    "MDSettings", "deck_context", "dump_timesteps", "render", "resolve_model", "sha256_file", "write_run_directory",
]
