"""Run directories for M3GNet NPT MD in LAMMPS: data file, Jinja2-rendered deck and job script, manifest.

See ``docs/run_directory.md`` for the layout.
"""

from pydriver.deck.model import resolve_model, sha256_file
from pydriver.deck.render import render
from pydriver.deck.rundir import (
    DATA_FILE,
    DUMP_FILE,
    INPUT_FILE,
    JOB_FILE,
    MANIFEST_FILE,
    RESTART_DIR,
    deck_context,
    dump_timesteps,
    write_run_directory,
)
from pydriver.deck.settings import JobSettings, MDSettings

__all__ = [
    "DATA_FILE", "DUMP_FILE", "INPUT_FILE", "JOB_FILE", "MANIFEST_FILE", "RESTART_DIR", "JobSettings",
    "MDSettings", "deck_context", "dump_timesteps", "render", "resolve_model", "sha256_file", "write_run_directory",
]
