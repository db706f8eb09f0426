"""``python -m pydriver deck`` and ``python -m pydriver structure`` called in-process."""

from __future__ import annotations

import json
from pathlib import Path

from pydriver.cli.main import main


def test_structure_command(example_structures_dir, tmp_path, capsys):
    data = tmp_path / "data.lmp"
    assert main(["structure", str(example_structures_dir / "NaBH4.extxyz"), "-o", str(data), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["anion_counts"] == {"BH4": 32} and summary["supercell"] == [2, 2, 2]
    assert [t["label"] for t in summary["types"]] == ["Na", "B_BH4", "H_BH4"]
    assert "Atom Type Labels" in data.read_text()
    assert main(["structure", str(example_structures_dir / "NaBH4.cif"), "--supercell", "1", "1", "1"]) == 0
    assert "4 BH4" in capsys.readouterr().out


def test_deck_command(example_structures_dir, tmp_path):
    model = tmp_path / "model.pt"
    model.write_bytes(b"placeholder")
    out = tmp_path / "run"
    args = ["deck", str(example_structures_dir / "NaBH4.extxyz"), "--model", str(model), "--temp", "450",
            "--bh4-mass-factor", "2", "--b12-mass-factor", "5", "--equil-steps", "100", "--prod-steps", "1000",
            "--dump-every", "20", "--seed", "99", "--gpus", "1", "-o", str(out)]
    assert main(args) == 0
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["temperature_K"] == 450.0 and manifest["seed"] == 99 and manifest["device"] == "cuda"
    assert manifest["mass_factors"] == {"BH4": 2.0, "B12H12": 5.0}
    assert manifest["types"][2]["mass_amu"] == 2 * 1.008
    assert "pair_style      m3gnet device cuda" in (out / "in.lammps").read_text()


def test_deck_command_errors(example_structures_dir, tmp_path, capsys):
    model = tmp_path / "model.pt"
    model.write_bytes(b"placeholder")
    base = ["deck", str(example_structures_dir / "NaBH4.extxyz"), "-o", str(tmp_path / "run")]
    assert main([*base, "--model", str(model), "--b12-mass-factor", "-1"]) == 2
    assert "mass factor for B12H12 must be a positive finite number, got -1.0" in capsys.readouterr().err
    assert main([*base, "--model", str(tmp_path / "missing.pt")]) == 2
    assert f"error: model file not found: {tmp_path / 'missing.pt'} (give an exported" in capsys.readouterr().err
    assert main([*base, "--model", str(tmp_path)]) == 2  # a folder, but no checkpoint
    assert "neither an exported model file nor a matgl checkpoint" in capsys.readouterr().err


NABH_CHECKPOINT = "/work/shared/models/M3GNet-r2SCAN-NaBH"


def test_deck_exports_checkpoint_folder(example_structures_dir, tmp_path):
    out = tmp_path / "run"
    assert main(["deck", str(example_structures_dir / "NaBH4.extxyz"), "--model", str(NABH_CHECKPOINT),
                 "--model-dtype", "float32", "--supercell", "1", "1", "1", "-o", str(out)]) == 0
    manifest = json.loads((out / "run.json").read_text())
    assert (out / "model.pt").is_file() and manifest["model"]["dtype"] == "float32"
    assert manifest["model"]["source"] == str(NABH_CHECKPOINT)
    assert "pair_coeff      * * model.pt Na B H" in (out / "in.lammps").read_text()


def li_structure(example_structures_dir, tmp_path):
    """NaBH4 with Li in place of Na: an element the NaBH model does not know."""
    from ase.io import read, write

    atoms = read(example_structures_dir / "NaBH4.extxyz")
    atoms.symbols[atoms.symbols == "Na"] = "Li"
    path = tmp_path / "LiBH4.extxyz"
    write(path, atoms)
    return path


def stderr_lines(capsys) -> list[str]:
    return capsys.readouterr().err.strip().splitlines()


def test_deck_checks_elements_before_writing(example_structures_dir, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["deck", str(li_structure(example_structures_dir, tmp_path)), "--model", NABH_CHECKPOINT, "-o", str(out)]
    assert main(args) == 2
    assert stderr_lines(capsys) == ["python -m pydriver deck: error: structure has Li; "
                                    "model M3GNet-r2SCAN-NaBH has Na, B, H"]
    assert not out.exists()


def test_failed_deck_leaves_no_run_directory(example_structures_dir, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["deck", str(example_structures_dir / "NaBH4.extxyz"), "--model", str(tmp_path / "no.pt"),
                 "-o", str(out)]) == 2
    assert len(stderr_lines(capsys)) == 1 and not out.exists()  # it failed after creating the folder


def test_semantic_errors_are_one_line_without_usage(example_structures_dir, tmp_path, capsys):
    missing = tmp_path / "missing.cif"
    model = tmp_path / "model.pt"
    model.write_bytes(b"placeholder")
    cases = [
        (["structure", str(missing)], f"python -m pydriver structure: error: structure file {missing} does not exist"),
        (["deck", str(missing), "--model", str(model), "-o", str(tmp_path / "r")],
         f"python -m pydriver deck: error: structure file {missing} does not exist"),
        (["deck", str(example_structures_dir / "NaBH4.extxyz"), "--model", str(model), "--dt-ps", "-1",
          "-o", str(tmp_path / "r")], "python -m pydriver deck: error: --dt-ps must be > 0.0, got -1.0"),
    ]
    for args, expected in cases:
        assert main(args) == 2, args
        assert stderr_lines(capsys) == [expected]


def test_dt_flag_aliases_and_defaults_in_help(example_structures_dir, tmp_path, capsys):
    from pydriver.structures.supercell import DEFAULT_MIN_WIDTH_A

    model = tmp_path / "model.pt"
    model.write_bytes(b"placeholder")
    for flag in ("--dt-ps", "--dt", "--timestep"):
        out = tmp_path / flag.strip("-")
        assert main(["deck", str(example_structures_dir / "NaBH4.extxyz"), "--model", str(model), flag, "0.0005",
                     "-o", str(out)]) == 0
        assert json.loads((out / "run.json").read_text())["dt_ps"] == 0.0005
    capsys.readouterr()
    try:
        main(["deck", "--help"])
    except SystemExit:
        pass
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--dt-ps PS time step in ps (default 0.001)" in help_text and "--timestep" not in help_text
    assert f"(default {DEFAULT_MIN_WIDTH_A})" in help_text and "(default float32)" in help_text


def test_job_script_holds_no_path_of_this_machine(example_structures_dir, tmp_path):
    import sys

    model = tmp_path / "model.pt"
    model.write_bytes(b"placeholder")
    out = tmp_path / "run"
    assert main(["deck", str(example_structures_dir / "NaBH4.extxyz"), "--model", str(model), "-o", str(out)]) == 0
    job = (out / "job.slurm").read_text()
    assert "LMP_DEFAULT=lmp\n" in job and 'LMP="${LMP:-$LMP_DEFAULT}"' in job  # $LMP, else lmp on PATH
    assert str(tmp_path) not in job and str(Path(sys.executable).parent) not in job


def test_library_warnings_are_one_log_line(example_structures_dir, monkeypatch, caplog, capsys):
    import warnings

    from pydriver.cli import structure

    def run(args):
        warnings.warn("Issues encountered while parsing CIF: 2 fractional coordinates rounded to ideal values",
                      UserWarning)  # harmless: silenced
        warnings.warn("first line\nsecond line", RuntimeWarning)
        return 0

    monkeypatch.setattr(structure.CLICommand, "run", staticmethod(run))
    assert main(["structure", str(example_structures_dir / "NaBH4.cif")]) == 0
    records = [r for r in caplog.records if r.name == "pydriver.cli"]
    assert [r.getMessage() for r in records] == ["test_deck_cli: first line; second line (RuntimeWarning)"]
    assert capsys.readouterr().err == ""
