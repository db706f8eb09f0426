"""Render the Jinja2 templates (``templates/in.lammps.j2``, ``templates/job.slurm.j2``)."""

from __future__ import annotations

from functools import lru_cache

import jinja2

from pydriver.lammps.plugin_path import templates_dir
from pydriver.lammps.quoting import lammps_comment, lammps_quote, sbatch_quote, shell_quote

INPUT_TEMPLATE = "in.lammps.j2"
JOB_TEMPLATE = "job.slurm.j2"


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """Jinja2 environment over :func:`pydriver.lammps.plugin_path.templates_dir` with ``StrictUndefined``.

    Filters for every path a template writes (:mod:`pydriver.lammps.quoting`): ``lmp`` (a LAMMPS
    input word), ``lmp_comment`` (text in a LAMMPS comment), ``sh`` (a bash word), ``sbatch`` (an
    ``#SBATCH`` option value).
    """
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # noqa: S701  (LAMMPS input and shell, not HTML)
    )
    env.filters.update(lmp=lammps_quote, lmp_comment=lammps_comment, sh=shell_quote, sbatch=sbatch_quote)
    return env


def render(template_name: str, context: dict) -> str:
    """Render one template; a missing variable raises ``jinja2.UndefinedError``."""
    return environment().get_template(template_name).render(**context)
