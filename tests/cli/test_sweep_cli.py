"""``python -m pydriver sweep`` called in-process (no LAMMPS: dry run, errors, --no-submit, status)."""

from __future__ import annotations

import json

import pytest

from pydriver.cli.main import main


@pytest.fixture
def config_file(tmp_path, example_structures_dir):
    (tmp_path / "model.pt").write_bytes(b"placeholder")
    path = tmp_path / "scan.yaml"
    path.write_text(f"""
structures:
  - {{name: NaBH4, file: {example_structures_dir / 'NaBH4.extxyz'}, supercell: [1, 1, 1]}}
temperatures_K: [400, 500]
mass_factors: {{BH4: [1, 5], B12H12: [1]}}
md: {{equil_steps: 10, prod_steps: 20, dump_every: 5}}
model: {{path: model.pt}}
slurm: {{partition: debug, time: "01:00:00", sbatch_args: ["--qos=short"]}}
""")
    return path


def test_dry_run_lists_runs(config_file, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["sweep", "run", str(config_file), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"4 runs in {tmp_path / 'sweep-scan'}" in out
    names = [line.split("\t")[0] for line in out.splitlines()[1:]]
    assert names == ["NaBH4_T400_bh4x1_b12x1_s1", "NaBH4_T500_bh4x1_b12x1_s1", "NaBH4_T400_bh4x5_b12x1_s1",
                     "NaBH4_T500_bh4x5_b12x1_s1"]
    assert all(line.endswith("\tnew") for line in out.splitlines()[1:])
    assert not (tmp_path / "sweep-scan").exists()


def test_config_error_exit_code(config_file, capsys):
    config_file.write_text(config_file.read_text() + "executor: cluster\n")
    assert main(["sweep", "run", str(config_file), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "executor: Input should be 'local' or 'slurm'" in err and '"cluster"' in err


def test_no_submit_writes_job_array_and_status(config_file, tmp_path, capsys):
    out_dir = tmp_path / "out"
    assert main(["-q", "sweep", "run", str(config_file), "-o", str(out_dir), "--executor", "slurm", "--no-submit"]) == 0
    script = next((out_dir / "slurm").glob("array-*.slurm")).read_text()
    assert "#SBATCH --array=0-3\n" in script and "#SBATCH --partition=debug" in script
    assert "#SBATCH --qos=short" in script and "#SBATCH --time=01:00:00" in script
    assert "\n    ../NaBH4_T500_bh4x5_b12x1_s1\n" in script and str(tmp_path) not in script  # relative: the folder moves
    job = (out_dir / "NaBH4_T400_bh4x1_b12x1_s1" / "job.slurm").read_text()
    assert "#SBATCH --job-name=NaBH4_T400_bh4x1_b12x1_s1" in job
    manifest = json.loads((out_dir / "sweep.json").read_text())
    assert manifest["format"] == "pydriver-sweep/1" and len(manifest["runs"]) == 4
    capsys.readouterr()
    assert main(["sweep", "status", str(out_dir), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["counts"] == {"pending": 4}
    assert {r["final_step"] for r in status["runs"]} == {30}
    assert main(["sweep", "status", str(out_dir)]) == 0
    assert "NaBH4_T500_bh4x5_b12x1_s1" in capsys.readouterr().out
    assert main(["sweep", "status", str(tmp_path)]) == 2


def test_sweep_errors_are_one_line(tmp_path, capsys):
    assert main(["sweep", "run", str(tmp_path / "nothere.yaml")]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"python -m pydriver sweep: error: config file {tmp_path / 'nothere.yaml'} not found"]
    assert main(["sweep", "status", str(tmp_path)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "sweep.json not found or unreadable: not a sweep folder" in lines[0]


def test_output_folder_is_relative_to_the_config(config_file, tmp_path, monkeypatch, capsys):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["sweep", "run", str(config_file), "--dry-run"]) == 0
    assert f"4 runs in {tmp_path / 'sweep-scan'}" in capsys.readouterr().out
    assert main(["-q", "sweep", "run", str(config_file), "--executor", "slurm", "--no-submit"]) == 0
    assert (tmp_path / "sweep-scan" / "sweep.json").is_file() and not list(elsewhere.iterdir())
    third = tmp_path / "third"
    third.mkdir()
    monkeypatch.chdir(third)
    capsys.readouterr()
    assert main(["sweep", "status", str(config_file), "--json"]) == 0  # the config finds its sweep
    assert json.loads(capsys.readouterr().out)["counts"] == {"pending": 4}
    assert main(["sweep", "status", str(tmp_path / "sweep-scan"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["counts"] == {"pending": 4}


def test_structure_with_elements_outside_the_model_stops_before_writing(config_file, tmp_path, capsys,
                                                                         example_structures_dir):
    from ase.io import read, write

    from tests.conftest import NABH_CHECKPOINT

    atoms = read(example_structures_dir / "NaBH4.extxyz")
    atoms.symbols[atoms.symbols == "Na"] = "Li"
    write(tmp_path / "LiBH4.extxyz", atoms)
    text = config_file.read_text().replace("model: {path: model.pt}",
                                           f"model: {{path: {NABH_CHECKPOINT}}}")
    config_file.write_text(text.replace("supercell: [1, 1, 1]}", "supercell: [1, 1, 1]}\n  - LiBH4.extxyz"))
    assert main(["sweep", "run", str(config_file), "--executor", "slurm", "--no-submit"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"python -m pydriver sweep: error: structure LiBH4 ({tmp_path / 'LiBH4.extxyz'}): structure has Li; "
        "model M3GNet-r2SCAN-NaBH has Na, B, H"]
    assert not (tmp_path / "sweep-scan").exists()
