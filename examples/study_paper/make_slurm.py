#!/usr/bin/env python
"""Write the committed SLURM scripts of the paper-scale study (``slurm/``) exactly as the sweep writes them.

    PYTHONPATH=. .venv/bin/python examples/study_paper/make_slurm.py           # rewrite slurm/cpu/ and slurm/gpu/
    PYTHONPATH=. .venv/bin/python examples/study_paper/make_slurm.py --check   # exit 1 if they differ from the code's

Per variant (``cpu``: ``study.yaml``, ``gpu``: ``study_gpu.yaml``): ``array-paper.slurm``, the job array
of all runs that ``sweep run`` writes and submits on its first call (in the sweep folder:
``OUT/slurm/array-<time>.slurm``, submitted from ``OUT/slurm``), and ``<run>/job.slurm`` of one
representative run (``OUT/<run>/job.slurm``; every run's script differs from it only in its job name).
Both are rendered through the sweep's own code (:func:`pydriver.sweep.executors.slurm.write_array_script`,
:func:`pydriver.deck.writer.job_context`); no deck, model export or LAMMPS run is needed.
``tests/sweep/test_study_paper.py`` checks the committed files against this.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from pydriver.deck.render import JOB_TEMPLATE, render
from pydriver.deck.writer import job_context
from pydriver.rundir import JOB_FILE
from pydriver.sweep.config import load_config
from pydriver.sweep.executors.slurm import write_array_script
from pydriver.sweep.expand import expand, job_settings, md_settings

HERE = Path(__file__).resolve().parent
OUT = HERE / "slurm"
VARIANTS = {"cpu": HERE / "study.yaml", "gpu": HERE / "study_gpu.yaml"}
#: the array script's tag (the sweep uses the submission time)
TAG = "paper"
#: the run whose job script is committed
EXAMPLE_RUN = "oNBH_T500_bh4x1_b12x1_o1_s1"


def generated_scripts() -> dict[str, str]:
    """``{path relative to slurm/: text}`` of every committed script, as the code writes them now.

    Raises
    ------
    ValueError
        If a config has no run named :data:`EXAMPLE_RUN`.
    """
    scripts = {}
    for variant, config_file in VARIANTS.items():
        config = load_config(config_file)
        runs = expand(config)
        example = next((r for r in runs if r.name == EXAMPLE_RUN), None)
        if example is None:
            raise ValueError(f"{config_file.name} has no run {EXAMPLE_RUN}")
        with tempfile.TemporaryDirectory(prefix="pydriver-study-paper-") as tmp:
            folder = Path(tmp) / f"sweep-{config.name}"
            array = write_array_script(config.model_copy(update={"output": folder}),
                                       [folder / r.name for r in runs], TAG)
            scripts[f"{variant}/{array.name}"] = array.read_text()
        job = render(JOB_TEMPLATE, job_context(job_settings(config, example), md_settings(config, example)))
        scripts[f"{variant}/{EXAMPLE_RUN}/{JOB_FILE}"] = job
    return scripts


def stale_scripts(out: Path = OUT) -> list[str]:
    """Paths (relative to ``out``) whose committed text differs from :func:`generated_scripts` or is missing."""
    return [name for name, text in generated_scripts().items()
            if not (out / name).is_file() or (out / name).read_text() != text]


def main(argv: list[str]) -> int:
    """Write the scripts, or with ``--check`` list those that differ (exit 1)."""
    if "--check" in argv:
        stale = stale_scripts()
        for name in stale:
            print(f"differs from the code's: {(OUT / name).relative_to(HERE)}")
        return 1 if stale else 0
    for name, text in generated_scripts().items():
        path = OUT / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(0o755)
        print(f"wrote {path.relative_to(HERE)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
