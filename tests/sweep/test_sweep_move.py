"""Prepare here, run there: a half-finished sweep folder moved (alone) to another absolute path, then to one with
a space and non-ASCII characters, resumed there with ``sweep run FOLDER``, a failed run retried, and reported.

24-atom NaBH4, two temperatures, 10 + 20 steps, the real plugin. The config, model and structure file it was
prepared from are deleted before it resumes: the folder holds all it needs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pydriver.cli.main import main
from pydriver.sweep.run_state import RunState

pytestmark = pytest.mark.lammps
RUNS = ["NaBH4_T500_bh4x1_s1", "NaBH4_T600_bh4x1_s1"]


def prepare(folder: Path, model: Path, structure: Path) -> Path:
    """Config, model and structure in ``folder``; the sweep written (not run) to ``folder/sweep``."""
    folder.mkdir(parents=True)
    shutil.copy(model, folder / "nabh f32.pt")
    shutil.copy(structure, folder / "NaBH4.extxyz")
    config = folder / "study.yaml"
    config.write_text("""
name: moved
structures: [{name: NaBH4, file: NaBH4.extxyz, supercell: [1, 1, 1]}]
temperatures_K: [500, 600]
mass_factors: {BH4: [1]}
md: {equil_steps: 10, prod_steps: 20, dump_every: 1, thermo_every: 5, restart_every: 10}
model: {path: nabh f32.pt, dtype: float32, device: cpu}
executor: slurm
local: {cpus: 2, max_parallel: 2, poll_s: 0.2}
analysis: {n_blocks: 3, plots: false}
estimate: false
output: sweep
""")
    assert main(["-q", "sweep", "run", str(config), "--no-submit"]) == 0
    return folder / "sweep"


def status(target: Path, capsys) -> dict:
    capsys.readouterr()
    assert main(["sweep", "status", str(target), "--json"]) == 0
    out = capsys.readouterr().out
    return json.loads(out[out.index("{"):])


def text_files(sweep: Path) -> str:
    """Every deck, job script, manifest and state file of the sweep folder, concatenated."""
    names = ("in.lammps", "job.slurm", "run.json", "sweep.json", "sweep_state.json", "*.slurm")
    return "".join(p.read_text() for name in names for p in sweep.rglob(name))


@pytest.mark.slow  # 40 s on 2 busy cores: three short LAMMPS runs, two analyses, the report
def test_half_finished_sweep_moves_twice_and_finishes_there(tmp_path, nabh_model_f32, example_structures_dir,
                                                            capsys):
    from pydriver.lammps.session import lammps_env, lmp_executable

    laptop = tmp_path / "laptop"
    sweep = prepare(laptop, nabh_model_f32, example_structures_dir / "NaBH4.extxyz")
    assert sorted(p.name for p in (sweep / "inputs" / "NaBH4").iterdir()) == ["NaBH4.extxyz"]
    models = [p.name for p in (sweep / "model").iterdir()]
    assert len(models) == 1 and re.fullmatch(r"nabh f32-[0-9a-f]{12}\.pt", models[0]), models
    assert str(tmp_path) not in text_files(sweep)  # every path relative to the folder
    # half of it runs here (its job script by hand), the other run's deck gets an error LAMMPS will report
    env = {**lammps_env(preload=False), "LMP": lmp_executable(), "OMP_NUM_THREADS": "1"}
    env = {k: v for k, v in env.items() if k != "MPIRUN" and not k.startswith("SLURM_")}
    subprocess.run(["bash", str(sweep / RUNS[0] / "job.slurm")], env=env, check=True, capture_output=True,
                   timeout=300)
    deck = sweep / RUNS[1] / "in.lammps"
    good = deck.read_text()
    deck.write_text(re.sub(r"(pair_coeff .*\n)", r"\1pair_coeff      * * ../model/gone.pt Na B H\n", good, count=1))

    # move 1: the folder alone, to another absolute path; what it was prepared from is gone
    cluster = tmp_path / "cluster" / "scratch"
    cluster.parent.mkdir()
    shutil.move(sweep, cluster)
    shutil.rmtree(laptop)
    assert status(cluster / "sweep.json", capsys)["counts"] == {"done": 1, "pending": 1}
    assert main(["-q", "sweep", "run", str(cluster), "--executor", "local", "--no-progress"]) == 1
    failed = {r["name"]: r for r in status(cluster, capsys)["runs"]}[RUNS[1]]
    assert failed["status"] == "failed"
    assert "ERROR: Pair style m3gnet: cannot open model file ../model/gone.pt" in failed["message"], failed
    assert failed["message"].startswith("exit code 1: ERROR") and ".cpp:" not in failed["message"]

    # move 2: to a path with a space and non-ASCII characters; fixed, retried, reported there
    there = tmp_path / "sp ace" / "données Na₂B₁₂H₁₂"
    there.parent.mkdir()
    shutil.move(cluster, there)
    (there / RUNS[1] / "in.lammps").write_text(good)
    assert main(["-q", "sweep", "run", str(there / "sweep.json"), "--executor", "local", "--no-progress",
                 "--retry-failed"]) == 0
    assert status(there, capsys)["counts"] == {"analyzed": 2}
    report = json.loads((there / "report" / "report.json").read_text())
    assert sorted(Path(r["run_dir"]).name for r in report["runs"]) == RUNS
    assert RunState.load(there / RUNS[0]).attempts == 0  # ran by hand before the moves, not again
    assert RunState.load(there / RUNS[1]).attempts == 1  # the failed attempt's count was reset by the retry
    assert str(tmp_path) not in text_files(there)
    assert (there / RUNS[1] / "restart" / "restart.30").is_file()


def test_moved_folder_runs_and_reports_status_without_its_inputs(tmp_path, example_structures_dir, capsys):
    """No LAMMPS: the folder alone, moved under a space and non-ASCII, is found from itself, its sweep.json or a
    config whose structure files are gone; `sweep run FOLDER` keeps its decks."""
    laptop = tmp_path / "laptop"
    laptop.mkdir()
    (laptop / "m.pt").write_bytes(b"placeholder")
    shutil.copy(example_structures_dir / "NaBH4.extxyz", laptop / "NaBH4.extxyz")
    config = laptop / "scan.yaml"
    config.write_text("""
structures: [{name: NaBH4, file: NaBH4.extxyz, supercell: [1, 1, 1]}]
temperatures_K: [500, 600]
mass_factors: {BH4: [1]}
md: {equil_steps: 10, prod_steps: 20, dump_every: 5}
model: {path: m.pt}
executor: slurm
estimate: false
output: out
""")
    assert main(["-q", "sweep", "run", str(config), "--no-submit"]) == 0
    decks = {name: (laptop / "out" / name / "in.lammps").read_text() for name in RUNS}
    there = tmp_path / "sp ace" / "données Na₂B₁₂H₁₂"
    there.parent.mkdir()
    shutil.move(laptop / "out", there)
    (laptop / "NaBH4.extxyz").unlink()
    (laptop / "m.pt").unlink()
    config.write_text(config.read_text().replace("output: out", f"output: {there}"))
    for target in (there, there / "sweep.json", config):  # the config's structure file is gone: not needed
        assert status(target, capsys)["counts"] == {"pending": 2}
    assert main(["-q", "sweep", "run", str(there), "--no-submit"]) == 0
    assert {name: (there / name / "in.lammps").read_text() for name in RUNS} == decks  # nothing rewritten
    assert str(tmp_path) not in text_files(there)
    script = sorted((there / "slurm").glob("array-*.slurm"))[-1]
    assert "\n    ../NaBH4_T500_bh4x1_s1\n" in script.read_text() and "#SBATCH --output=%A_%a.out" in script.read_text()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    wrong = subprocess.run(["bash", str(script), "0"], env={**env, "SLURM_SUBMIT_DIR": str(tmp_path)},
                           capture_output=True, text=True, timeout=60)
    assert wrong.returncode == 2 and "error: submit from the script's folder: cd OUT/slurm && sbatch" in wrong.stderr
    # a deck written with an absolute model path that is gone (an older version, another machine): rewritten
    deck = there / RUNS[0] / "in.lammps"
    deck.write_text(re.sub(r"\.\./model/", "/gone/machine/model/", decks[RUNS[0]]))
    assert main(["-q", "sweep", "run", str(there), "--no-submit"]) == 0
    assert deck.read_text() == decks[RUNS[0]]
    capsys.readouterr()
    assert main(["sweep", "run", str(config), "--no-submit"]) == 2  # the config itself still needs its inputs
    assert "NaBH4.extxyz" in capsys.readouterr().err
    (tmp_path / "notes.txt").write_text("x")
    assert main(["sweep", "status", str(tmp_path / "notes.txt")]) == 2
    assert "give a sweep config" in capsys.readouterr().err


def test_failure_cause_is_the_last_attempts_error(tmp_path):
    from pydriver.sweep.outputs import failure_cause

    log = tmp_path / "log.lammps"
    log.write_text("units           metal\nERROR: Pair style m3gnet: old problem (src/pair_m3gnet.cpp:136)\n"
                   "units           metal\nStep Temp\n")
    assert failure_cause(tmp_path) is None  # the error was an earlier attempt's
    log.write_text(log.read_text() + "ERROR: Pair style m3gnet: cannot open model file m.pt "
                   "(/src/plugin/pair_m3gnet.cpp:136)\n")
    assert failure_cause(tmp_path) == "ERROR: Pair style m3gnet: cannot open model file m.pt"
    log.unlink()
    (tmp_path / "sweep_run.log").write_text("=== attempt 1 on h ===\nerror: no LAMMPS executable 'lmp' here: set LMP\n")
    assert failure_cause(tmp_path).startswith("error: no LAMMPS executable 'lmp' here")
    job_out = tmp_path / "12_0.out"
    (tmp_path / "sweep_run.log").unlink()
    job_out.write_text("array task 0: ../run\nbash: line 3: module: command not found\n")
    assert failure_cause(tmp_path, (job_out,)) == "bash: line 3: module: command not found"


def test_replicate_files_are_staged_and_the_checkpoint_recorded_relative(tmp_path, example_structures_dir):
    """Replicate files are copied into the folder like ``file``; a checkpoint folder outside the sweep
    folder is recorded relative to it (a checkout and the models beside it stay a pair)."""
    from pydriver.sweep.config import config_from_dict
    from pydriver.sweep.relocate import manifest_config, stage_inputs
    from tests.conftest import MODELS_DIR

    other = tmp_path / "given" / "NaBH4_o2.extxyz"
    other.parent.mkdir()
    shutil.copy(example_structures_dir / "NaBH4.extxyz", other)
    checkpoint = MODELS_DIR / "M3GNet-r2SCAN-NaBH"
    cfg = config_from_dict({"structures": [{"file": str(example_structures_dir / "NaBH4.extxyz"), "name": "NaBH4",
                                            "replicate_files": [str(other)]}],
                            "model": {"path": str(checkpoint)}, "output": str(tmp_path / "out" / "sweep")})
    staged = stage_inputs(cfg)
    assert staged.structures[0].replicate_files == [tmp_path / "out" / "sweep" / "inputs" / "NaBH4" / "NaBH4_o2.extxyz"]
    assert staged.structures[0].replicate_files[0].read_bytes() == other.read_bytes()
    manifest = manifest_config(staged, tmp_path / "out" / "sweep" / "model" / "m.pt")
    entry = manifest["config"]["structures"][0]
    assert entry["file"] == "inputs/NaBH4/NaBH4.extxyz" and entry["replicate_files"] == ["inputs/NaBH4/NaBH4_o2.extxyz"]
    path = manifest["config"]["model"]["path"]
    assert not Path(path).is_absolute() and (tmp_path / "out" / "sweep" / path).resolve() == checkpoint.resolve()
