"""The paper-scale study (examples/study_paper): its configs, job scripts and cost tables cannot rot.

* Both configs load and expand into the same 372 runs; they differ only in where the runs go
  (model device, ranks x threads, SLURM resources, name), never in physics.
* Precursor cells are >= 10 A wide and run only where their phase exists.
* The committed SLURM scripts are what the sweep's code writes now (``make_slurm.py``).
* The README's tables are what ``cost.py`` prints from the configs and the committed benchmark results.
"""

from __future__ import annotations

import importlib.util
import math
import sys

import yaml

from pydriver.structures import read_structure
from pydriver.structures.supercell import perpendicular_widths_A
from pydriver.sweep.config import load_config
from pydriver.sweep.expand import expand
from tests.conftest import REPO_ROOT

STUDY = REPO_ROOT / "examples" / "study_paper"
#: config keys the two variants may differ in (where the runs go, not what they compute)
RESOURCE_KEYS = {"name", "mpi_ranks", "threads_per_rank", "slurm"}
#: highest temperature (K) of the phase each precursor model represents: NaBH4 melts near 778 K,
#: Na2B12H12 leaves its low-temperature structure near 529 K (SCIENCE.md)
PHASE_LIMIT_K = {"NaBH4": 778.0, "Na2B12H12": 529.0}


def _module(name: str):
    spec = importlib.util.spec_from_file_location(f"study_paper_{name}", STUDY / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_variants_run_the_same_study():
    cpu, gpu = load_config(STUDY / "study.yaml"), load_config(STUDY / "study_gpu.yaml")
    cpu_runs, gpu_runs = expand(cpu), expand(gpu)
    assert [r.name for r in cpu_runs] == [r.name for r in gpu_runs]
    assert len(cpu_runs) == 372 and len({r.name for r in cpu_runs}) == 372
    raw = {v: yaml.safe_load((STUDY / f).read_text()) for v, f in (("cpu", "study.yaml"), ("gpu", "study_gpu.yaml"))}
    differ = {k for k in raw["cpu"].keys() | raw["gpu"].keys() if raw["cpu"].get(k) != raw["gpu"].get(k)}
    assert differ - RESOURCE_KEYS == {"model"}, differ
    model = {v: {k: x for k, x in raw[v]["model"].items() if k != "device"} for v in raw}
    assert model["cpu"] == model["gpu"]
    assert (cpu.model.device, gpu.model.device, gpu.slurm.gpus_per_node) == ("cpu", "cuda", 1)
    assert cpu.md.prod_steps == 1_000_000 and cpu.md.dt_ps == 0.001 and cpu.md.target is None


def test_cells_are_10_A_wide_and_precursors_stay_in_their_phase():
    config = load_config(STUDY / "study.yaml")
    for structure in config.structures:
        atoms = read_structure(structure.file)
        widths = perpendicular_widths_A(atoms.cell[:] * [[n] for n in structure.supercell])
        assert min(widths) > 10.0, (structure.label, widths)
    for run in expand(config):
        if run.structure in PHASE_LIMIT_K:
            assert run.temperature_K < PHASE_LIMIT_K[run.structure], run.name
            assert all(f == 1 for f in run.mass_factors.values()), run.name


def test_committed_slurm_scripts_are_what_the_code_writes():
    stale = _module("make_slurm").stale_scripts()
    assert not stale, (f"examples/study_paper/slurm/ differs from what the sweep writes now: {stale}; rewrite with "
                       "`PYTHONPATH=. .venv/bin/python examples/study_paper/make_slurm.py`")


def test_readme_tables_are_what_cost_py_prints():
    cost = _module("cost")
    cpu, gpu = load_config(cost.CPU_CONFIG), load_config(cost.GPU_CONFIG)
    runs = cost.same_runs(cpu, gpu)
    layouts = cost.measured_layouts()
    readme = (STUDY / "README.md").read_text()
    for table in (cost.runs_table(cpu, runs), cost.sources_table(layouts), cost.cpu_table(cpu, runs, layouts),
                  cost.parts_table(cpu, runs, layouts[0]), cost.gpu_table(gpu, runs)):
        for line in table.splitlines():
            assert line in readme, f"examples/study_paper/README.md lacks (or has other numbers than) this row:\n{line}"
    one_core = next(la for la in layouts if la.cores == 1)
    assert math.isclose(one_core.ms_per_step, 887.0, rel_tol=0.01)  # README "Performance", onbh:2 1 x 1
