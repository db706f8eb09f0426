"""Editing the config between resumes: every run records its parameters; a resume compares them field
by field, refuses in one line naming the runs and fields, or reruns exactly those with
``--rerun-changed``; a moved sweep is not a change (through the CLI, no LAMMPS: ``--no-submit``)."""

from __future__ import annotations

import json
import shutil

import pytest

from pydriver.cli.main import main
from pydriver.sweep.run_state import RunState

RUNS = ["NaBH4_T400_bh4x1_s1", "NaBH4_T500_bh4x1_s1"]


def write_config(folder, structure, pressure_bar=1.0, dtype="float32"):
    path = folder / "scan.yaml"
    path.write_text(f"""
structures: [{{name: NaBH4, file: {structure}, supercell: [1, 1, 1]}}]
temperatures_K: [400, 500]
mass_factors: {{BH4: [1]}}
md: {{equil_steps: 10, prod_steps: 20, dump_every: 5, pressure_bar: {pressure_bar}}}
model: {{path: model.pt, dtype: {dtype}}}
executor: slurm
estimate: false
output: out
""")
    return path


def pretend_it_ran(run_dir):
    (run_dir / "log.lammps").write_text("Step Temp\n   30 400\n")
    (run_dir / "restart" / "restart.30").write_bytes(b"LammpS RestartT\0" * 2)
    state = RunState.load(run_dir)
    state.status, state.attempts = "done", 1
    state.save(run_dir)


@pytest.fixture
def sweep(tmp_path, example_structures_dir):
    folder = tmp_path / "study"
    folder.mkdir()
    (folder / "model.pt").write_bytes(b"placeholder")
    structure = example_structures_dir / "NaBH4.extxyz"
    config = write_config(folder, structure)
    assert main(["-q", "sweep", "run", str(config), "--no-submit"]) == 0
    pretend_it_ran(folder / "out" / RUNS[0])
    return folder, structure


def test_changed_config_is_refused_naming_runs_and_fields(sweep, capsys):
    folder, structure = sweep
    config = write_config(folder, structure, pressure_bar=20000, dtype="float64")
    before = (folder / "out" / "sweep.json").read_text()
    capsys.readouterr()
    assert main(["sweep", "run", str(config), "--no-submit"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert (f"the config changed for 1 run(s) that ran with other parameters: {RUNS[0]} (md.pressure_bar 1.0 -> "
            "20000.0, model.dtype 'float32' -> 'float64'); rerun exactly those with `sweep run CONFIG "
            "--rerun-changed`") in err[0]
    assert (folder / "out" / "sweep.json").read_text() == before  # nothing written
    assert json.loads((folder / "out" / RUNS[0] / "run.json").read_text())["pressure_bar"] == 1.0


def test_rerun_changed_reruns_exactly_the_changed_runs(sweep):
    folder, structure = sweep
    config = write_config(folder, structure, pressure_bar=20000, dtype="float64")
    assert main(["-q", "sweep", "run", str(config), "--no-submit", "--rerun-changed"]) == 0
    out = folder / "out"
    old = list((out / "superseded").iterdir())
    assert [p.name.rsplit("-", 1)[0] for p in old] == [RUNS[0]]
    assert (old[0] / "log.lammps").is_file()  # kept, not deleted
    for name in RUNS:  # the changed run from scratch; the never-run deck rewritten
        manifest = json.loads((out / name / "run.json").read_text())
        assert manifest["pressure_bar"] == 20000.0
        state = RunState.load(out / name)
        assert state.attempts == 0 and state.parameters["model.dtype"] == "float64"
        assert not (out / name / "log.lammps").exists()
    assert json.loads((out / "sweep.json").read_text())["config"]["md"]["pressure_bar"] == 20000.0


def test_moved_sweep_is_not_a_change(sweep, tmp_path, capsys):
    folder, _structure = sweep
    moved = tmp_path / "sp ace" / "cluster copy"
    moved.parent.mkdir()
    shutil.move(folder, moved)
    assert main(["-q", "sweep", "run", str(moved / "scan.yaml"), "--no-submit"]) == 0
    assert RunState.load(moved / "out" / RUNS[0]).attempts == 1  # kept as it was
    assert "changed" not in capsys.readouterr().err


def write_export(path, source_sha256, engine_bytes):
    """A model file as the exporter lays it out (metadata + one entry), without torch."""
    import zipfile

    from pydriver.model_file import FORMAT_NAME, FORMAT_VERSION
    meta = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "source_sha256": source_sha256,
            "dtype": "float32"}
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("model/extra/compiled_cpu.pt2", engine_bytes)
        archive.writestr("model/extra/metadata.json", json.dumps(meta))


def test_reexported_model_of_the_same_checkpoint_is_not_a_change(tmp_path, example_structures_dir, capsys):
    """Compiled packages differ between exports of one checkpoint (code generation depends on the machine):
    the run is identified by the checkpoint (``model.source_sha256``), not by the file's bytes."""
    folder = tmp_path / "study"
    folder.mkdir()
    write_export(folder / "model.pt", "a" * 64, b"engine built on machine 1")
    config = write_config(folder, example_structures_dir / "NaBH4.extxyz")
    assert main(["-q", "sweep", "run", str(config), "--no-submit"]) == 0
    pretend_it_ran(folder / "out" / RUNS[0])
    assert RunState.load(folder / "out" / RUNS[0]).parameters["model.source_sha256"] == "a" * 64

    write_export(folder / "model.pt", "a" * 64, b"engine built on machine 2")
    assert main(["-q", "sweep", "run", str(config), "--no-submit"]) == 0
    assert RunState.load(folder / "out" / RUNS[0]).attempts == 1  # kept as it was

    write_export(folder / "model.pt", "b" * 64, b"engine built on machine 2")
    capsys.readouterr()
    assert main(["sweep", "run", str(config), "--no-submit"]) == 2
    err = capsys.readouterr().err
    assert f"{RUNS[0]} (model.source_sha256 '{'a' * 64}' -> '{'b' * 64}')" in err


def test_parameters_recorded_by_file_hash_are_upgraded_when_the_file_is_unchanged(tmp_path, example_structures_dir,
                                                                                    capsys):
    """Runs recorded before ``model.source_sha256`` named the model by the file's sha256: the same file is the
    same model (the record is upgraded), another file is reported as a change."""
    from pydriver.deck import sha256_file

    folder = tmp_path / "study"
    folder.mkdir()
    write_export(folder / "model.pt", "a" * 64, b"engine")
    config = write_config(folder, example_structures_dir / "NaBH4.extxyz")
    assert main(["-q", "sweep", "run", str(config), "--no-submit"]) == 0
    run_dir = folder / "out" / RUNS[0]
    pretend_it_ran(run_dir)
    state = RunState.load(run_dir)
    legacy = {k: v for k, v in state.parameters.items() if k != "model.source_sha256"}
    state.parameters = {**legacy, "model.sha256": sha256_file(folder / "model.pt")}
    state.save(run_dir)

    assert main(["-q", "sweep", "run", str(config), "--no-submit"]) == 0
    upgraded = RunState.load(run_dir)
    assert upgraded.attempts == 1 and upgraded.parameters["model.source_sha256"] == "a" * 64
    assert "model.sha256" not in upgraded.parameters

    state = RunState.load(run_dir)
    state.parameters = {**legacy, "model.sha256": "0" * 64}  # another file than the one here
    state.save(run_dir)
    capsys.readouterr()
    assert main(["sweep", "run", str(config), "--no-submit"]) == 2
    assert f"model.sha256 '{'0' * 64}' -> None" in capsys.readouterr().err
