"""Run directories: mass scaling, templates, manifest, and the resume logic (pydriver.deck)."""

from __future__ import annotations

import json
import os
import subprocess

import jinja2
import numpy as np
import pytest

from pydriver.deck import JobSettings, MDSettings, render, write_run_directory
from pydriver.deck import dump_timesteps as dump_steps
from pydriver.deck.render import INPUT_TEMPLATE, JOB_TEMPLATE
from pydriver.deck.mass_scaling import mass_commands, scaled_masses_amu
from pydriver.structures import find_anions, assign_types
from pydriver.structures.builders import nabh4_cubic
from tests.builders import mixed_anion_box, nabh4_primitive


@pytest.fixture
def fake_model(tmp_path):
    path = tmp_path / "fake model.pt"
    path.write_bytes(b"not a real model")
    return path


def test_scaled_masses_per_anion_kind():
    atoms = mixed_anion_box()
    types, _ = assign_types(atoms, find_anions(atoms))
    masses = scaled_masses_amu(types, {"BH4": 2.0, "B12H12": 5.0})
    assert masses == pytest.approx([22.98976928, 2 * 10.81, 2 * 1.008, 5 * 10.81, 5 * 1.008])
    assert mass_commands(types, {"B12H12": 5})[3] == "mass B_B12H12 54.05000000"
    with pytest.raises(ValueError, match="unknown anion kind 'Na'"):
        scaled_masses_amu(types, {"Na": 2.0})
    with pytest.raises(ValueError, match="positive finite"):
        scaled_masses_amu(types, {"BH4": 0.0})


def test_templates_are_strict():
    with pytest.raises(jinja2.UndefinedError):
        render(INPUT_TEMPLATE, {})
    with pytest.raises(jinja2.UndefinedError):
        render(JOB_TEMPLATE, {"job_name": "x"})


def test_run_directory_contents(tmp_path, fake_model):
    md = MDSettings(temperature_K=400, mass_factors={"BH4": 2.0, "B12H12": 5.0}, equil_steps=1000,
                    prod_steps=5000, dump_every=50, seed=7, dump_velocities=True)
    job = JobSettings(nodes=2, ranks_per_node=4, gpus_per_node=1, modules=["cuda/12"], partition="gpu")
    out = write_run_directory(nabh4_cubic(), fake_model, tmp_path / "run", md=md, job=job)
    deck = (out / "in.lammps").read_text()
    assert 'pair_coeff      * * "../fake model.pt" Na B H' in deck  # beside the run directory: relative
    assert "mass B_BH4 21.62000000" in deck and "mass H_BH4 2.01600000" in deck
    assert "plugin load" not in deck and "plugin " not in deck
    assert "velocity all create 400.0 7 " in deck and " aniso 1.0 1.0 1.0" in deck
    assert "custom 50 dump.lammpstrj id type element mol xu yu zu vx vy vz" in deck
    assert "element Na B H" in deck
    slurm = (out / "job.slurm").read_text()
    assert "#SBATCH --nodes=2" in slurm and "#SBATCH --gres=gpu:1" in slurm and "module load cuda/12" in slurm
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["format"] == "pydriver-run/1" and manifest["n_atoms"] == 192
    assert manifest["production_start_step"] == 1000 and manifest["dump_every"] == 50
    assert [t["label"] for t in manifest["types"]] == ["Na", "B_BH4", "H_BH4"]
    assert manifest["types"][1]["mass_amu"] == pytest.approx(21.62)
    assert manifest["mass_factors"] == {"BH4": 2.0, "B12H12": 5.0}
    assert manifest["model"]["copied"] is False and len(manifest["model"]["sha256"]) == 64
    assert manifest["model"]["path"] == "../fake model.pt" and manifest["structure_source"].startswith("ase.Atoms")
    assert manifest["dump_columns"][-3:] == ["vx", "vy", "vz"]
    assert (out / "data.lmp").is_file() and (out / "restart").is_dir()


def test_paths_are_relative_inside_the_folder_of_the_run_directory(tmp_path, fake_model, example_structures_dir):
    """Files in the folder holding the run directory (a sweep folder) are named relative to the run directory, so
    the folder moves whole; a file elsewhere keeps its absolute path (yours to keep where it is)."""
    import shutil

    sweep = tmp_path / "sweep"
    (sweep / "model").mkdir(parents=True)
    shutil.copy(fake_model, sweep / "model" / "m.pt")
    (sweep / "inputs").mkdir()
    shutil.copy(example_structures_dir / "NaBH4.extxyz", sweep / "inputs" / "NaBH4.extxyz")
    out = write_run_directory(sweep / "inputs" / "NaBH4.extxyz", sweep / "model" / "m.pt", sweep / "run")
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["structure_source"] == "../inputs/NaBH4.extxyz" and manifest["model"]["path"] == "../model/m.pt"
    assert "pair_coeff      * * ../model/m.pt Na B H" in (out / "in.lammps").read_text()
    assert str(tmp_path) not in "".join((out / name).read_text() for name in ("in.lammps", "job.slurm", "run.json"))
    elsewhere = write_run_directory(example_structures_dir / "NaBH4.extxyz", fake_model, sweep / "deep" / "run")
    manifest = json.loads((elsewhere / "run.json").read_text())
    assert manifest["model"]["path"] == str(fake_model) and manifest["structure_source"] == str(
        example_structures_dir / "NaBH4.extxyz")


def test_plugin_couple_and_copy(tmp_path, fake_model):
    md = MDSettings(plugin_path="/opt/lib/m3gnetplugin.so", device="cuda")
    out = write_run_directory(nabh4_primitive(), fake_model, tmp_path / "tri", md=md, copy_model=True)
    deck = (out / "in.lammps").read_text()
    assert "plugin          load /opt/lib/m3gnetplugin.so" in deck
    assert "pair_style      m3gnet device cuda" in deck and "pair_coeff      * * model.pt Na B H" in deck
    assert " tri 1.0 1.0 1.0" in deck and "change_box" not in deck
    assert (out / "model.pt").read_bytes() == fake_model.read_bytes()
    forced = write_run_directory(nabh4_cubic(), fake_model, tmp_path / "forced", md=MDSettings(couple="tri"))
    assert 'if "${resume} == 0" then "change_box all triclinic"' in (forced / "in.lammps").read_text()


def test_relaxation_noise_in_the_cell_gives_an_orthogonal_box_and_aniso(tmp_path, fake_model, example_structures_dir):
    """The relaxed o-NBH cell has off-diagonal elements of ~1e-7 A: its deck must get an orthogonal box and the
    `aniso` barostat (with `tri` the orthorhombic cell sheared to alpha ~ 88 deg in the CPU study), while a real
    tilt (monoclinic Na2B12H12, beta = 91 deg) keeps `tri`."""
    from pydriver.structures import read_structure
    from pydriver.structures.lammps_box import to_lammps_frame

    onbh = read_structure(example_structures_dir / "oNBH.extxyz")
    off_diagonal = onbh.cell.array[~np.eye(3, dtype=bool)]
    assert 1e-9 < np.abs(off_diagonal).max() < 1e-6  # the noise this test is about
    box, positions = to_lammps_frame(onbh.cell.array, onbh.positions)
    assert not box.is_triclinic and (box.xy_A, box.xz_A, box.yz_A) == (0.0, 0.0, 0.0)
    # same fractional coordinates; the box differs from the cell by the noise only
    assert positions @ np.linalg.inv(box.cell) == pytest.approx(onbh.get_scaled_positions(wrap=False), abs=1e-12)
    assert box.cell == pytest.approx(np.diag(onbh.cell.lengths()), abs=1e-6)
    deck = (write_run_directory(onbh, fake_model, tmp_path / "onbh") / "in.lammps").read_text()
    assert " aniso 1.0 1.0 1.0" in deck and " tri " not in deck
    mono = read_structure(example_structures_dir / "Na2B12H12.extxyz")
    deck = (write_run_directory(mono, fake_model, tmp_path / "mono") / "in.lammps").read_text()
    assert " tri 1.0 1.0 1.0" in deck


@pytest.mark.parametrize(("field", "value", "message"), [
    ("temperature_K", -5.0, "temperature_K must be > 0"),
    ("couple", "xyz", "couple must be one of"),
    ("dump_every", 0, "dump_every must be an integer >= 1"),
])
def test_invalid_settings(tmp_path, fake_model, field, value, message):
    with pytest.raises(ValueError, match=message):
        write_run_directory(nabh4_cubic(), fake_model, tmp_path / "bad", md=MDSettings(**{field: value}))


def run_job(run_dir, env, **kwargs):
    from pydriver.lammps.session import lmp_executable

    env = {**env, "MPIRUN": "", "LMP": lmp_executable()}
    return subprocess.run(["bash", "job.slurm"], cwd=run_dir, env=env, capture_output=True, text=True, **kwargs)


def use_pair_zero(run_dir) -> None:
    """Swap the m3gnet pair style for `pair_style zero` (tests of the deck flow without the plugin)."""
    deck = (run_dir / "in.lammps").read_text().splitlines()
    deck = ["pair_style zero 5.0" if line.startswith("pair_style") else
            "pair_coeff * *" if line.startswith("pair_coeff") else line for line in deck]
    (run_dir / "in.lammps").write_text("\n".join(deck) + "\n")


@pytest.mark.parametrize("couple", ["auto", "tri"])
def test_triclinic_deck_runs_with_pair_zero(tmp_path, fake_model, couple):
    md = MDSettings(equil_steps=10, prod_steps=20, dump_every=10, thermo_every=10, restart_every=10, couple=couple)
    structure = nabh4_primitive() if couple == "auto" else nabh4_cubic()
    out = write_run_directory(structure, fake_model, tmp_path / "run", md=md)
    use_pair_zero(out)
    proc = run_job(out, dict(os.environ))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "xy xz yz" in proc.stdout or "triclinic" in proc.stdout
    assert dump_steps(out / "dump.lammpstrj") == [10, 20, 30]


def test_resume_logic_with_pair_zero(tmp_path, fake_model):
    """Deck flow (equilibration, production dumps, restarts, resume) with `pair_style zero`: no plugin."""
    md = MDSettings(equil_steps=100, prod_steps=200, dump_every=20, thermo_every=50, restart_every=50)
    out = write_run_directory(nabh4_cubic(), fake_model, tmp_path / "run", md=md, replication=(1, 1, 1))
    use_pair_zero(out)
    first = run_job(out, dict(os.environ))
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    assert dump_steps(out / "dump.lammpstrj") == list(range(100, 301, 20))
    for step in (200, 250, 300):  # pretend the job died right after step 150
        (out / "restart" / f"restart.{step}").unlink()
    second = run_job(out, dict(os.environ))
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]
    assert "resuming from restart/restart.150" in second.stdout
    assert dump_steps(out / "dump.lammpstrj") == list(range(100, 301, 20))
    log = (out / "log.lammps").read_text()
    assert log.count("Step") == 3  # equilibration, production, resumed production
    starts = [int(block.split("\n")[1].split()[0]) for block in log.split("   Step")[1:]]
    assert starts == [0, 100, 150]
