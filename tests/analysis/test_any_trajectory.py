"""`analyze` on trajectories no one here wrote: element columns, any file name, XDATCAR, extxyz, no
framework, uneven frames, several inputs with -o; D equal to pymatgen-analysis-diffusion."""

import json
import logging

import numpy as np
import pytest

from pydriver.analysis.synthetic import random_walk, write_lammps_dump
from pydriver.cli.main import main

N_NA, N_B, N_FRAMES = 16, 8, 120
DT_PS, DUMP_EVERY = 0.002, 50
DT_FRAME_PS = DT_PS * DUMP_EVERY
TEMPERATURE_K = 600.0
CELL = np.array([[12.0, 0.0, 0.0], [2.0, 11.0, 0.0], [-1.5, 1.0, 13.0]])  # triclinic, NVT


def frames(seed=0, with_framework=True):
    rng = np.random.default_rng(seed)
    na = random_walk(N_FRAMES, N_NA, 3e-5, DT_FRAME_PS, seed=seed, start_A=rng.uniform(0, 10, (N_NA, 3)))
    if not with_framework:
        return na, np.array(["Na"] * N_NA)
    b = random_walk(N_FRAMES, N_B, 1e-7, DT_FRAME_PS, seed=seed + 1, start_A=rng.uniform(0, 10, (N_B, 3)))
    return np.concatenate([na, b], axis=1), np.array(["Na"] * N_NA + ["B"] * N_B)


def whole_run(extra=()):
    return ["--temp", str(TEMPERATURE_K), "--dt-ps", str(DT_PS), "--origins", "first", "--fit-start", "0",
            "--fit-end", str((N_FRAMES - 1) * DT_FRAME_PS), "--no-plots", "--max-frames", "10", *extra]


def pymatgen_d(dump_path):
    """D from pymatgen-analysis-diffusion, reading the dump with pymatgen's own LAMMPS dump parser."""
    from pymatgen.analysis.diffusion.analyzer import DiffusionAnalyzer
    from pymatgen.core import Structure
    from pymatgen.io.lammps.outputs import parse_lammps_dumps

    structures = []
    for dump in parse_lammps_dumps(str(dump_path)):
        data = dump.data.sort_values("id")
        lattice = dump.box.to_lattice()
        xyz = data[["x", "y", "z"]].to_numpy() - np.asarray(dump.box.bounds)[:, 0]
        structures.append(Structure(lattice, data["element"].tolist(), xyz, coords_are_cartesian=True))
    return DiffusionAnalyzer.from_structures(structures, "Na", TEMPERATURE_K, time_step=DT_PS * 1000,
                                             step_skip=DUMP_EVERY, smoothed=False)


def test_element_column_dump_any_name_equals_pymatgen(tmp_path):
    pos, elements = frames()
    types = np.where(elements == "Na", 1, 2)
    path = write_lammps_dump(tmp_path / "my.custom", pos, types, np.repeat(CELL[None], N_FRAMES, 0),
                             steps=np.arange(N_FRAMES) * DUMP_EVERY, columns="image", elements=elements, extra=True)
    assert main(["analyze", str(path), "-o", str(tmp_path / "out"), *whole_run()]) == 0
    res = json.loads((tmp_path / "out" / "analysis.json").read_text())
    theirs = pymatgen_d(path)
    ours = res["transport"]
    assert res["run"]["types"]["1"]["element"] == "Na" and res["run"]["metadata_source"] == "options"
    assert ours["diffusivity_cm2_s"] == pytest.approx(theirs.diffusivity, rel=1e-6)
    assert ours["charge_diffusivity_cm2_s"] == pytest.approx(theirs.chg_diffusivity, rel=1e-6)
    assert ours["conductivity_mS_cm"] == pytest.approx(theirs.conductivity, rel=1e-6)
    per_atom = np.genfromtxt(tmp_path / "out" / "per_atom.csv", delimiter=",", names=True)
    assert per_atom["id"].tolist() == list(range(1, N_NA + 1))
    assert per_atom["msd_A2"] == pytest.approx(((pos[-1, :N_NA] - pos[0, :N_NA]) ** 2).sum(axis=1), abs=2.0)


def test_xdatcar_and_extxyz_give_the_dump_result(tmp_path):
    from ase import Atoms
    from ase.io import write

    pos, elements = frames(seed=4)
    images = [Atoms(symbols=elements.tolist(), positions=p, cell=CELL, pbc=True) for p in pos]
    for im in images:
        im.wrap()
    write(tmp_path / "XDATCAR", images, format="vasp-xdatcar")
    write(tmp_path / "md.extxyz", images, format="extxyz")
    write_lammps_dump(tmp_path / "d.lammpstrj", pos, np.where(elements == "Na", 1, 2),
                      np.repeat(CELL[None], N_FRAMES, 0), steps=np.arange(N_FRAMES) * DUMP_EVERY, columns="xu",
                      elements=elements)
    inputs = [str(tmp_path / n) for n in ("XDATCAR", "md.extxyz", "d.lammpstrj")]
    assert main(["analyze", *inputs, "-o", str(tmp_path / "out"), "--dump-every", str(DUMP_EVERY), *whole_run()]) == 0
    d = {name: json.loads((tmp_path / "out" / name / "analysis.json").read_text())["transport"]["diffusivity_cm2_s"]
         for name in ("XDATCAR", "md", "d")}
    assert d["XDATCAR"] == pytest.approx(d["d"], rel=1e-5)
    assert d["md"] == pytest.approx(d["d"], rel=1e-5)
    src = json.loads((tmp_path / "out" / "XDATCAR" / "analysis.json").read_text())["run"]["source_format"]
    assert src == "ase:vasp-xdatcar"


def test_no_framework_atoms(tmp_path):
    pos, elements = frames(seed=2, with_framework=False)
    path = write_lammps_dump(tmp_path / "na_only.dump.gz", pos, np.ones(N_NA, int),
                             steps=np.arange(N_FRAMES) * DUMP_EVERY,
                             elements=elements)
    assert main(["analyze", str(path), *whole_run()]) == 0
    res = json.loads((tmp_path / "analysis.json").read_text())
    assert res["anions"] == {"source": "none", "counts": {}} and res["rotation"] == {}
    tr = res["transport"]
    assert abs(tr["diffusivity_cm2_s"] - 3e-5) < 3 * tr["diffusivity_std_cm2_s"]  # the walk's D
    assert res["diagnostics"]["loglog_slope"] == pytest.approx(1.0, abs=0.2)


def test_uneven_frames_error_names_steps_or_longest_part(tmp_path, capsys, caplog):
    pos, elements = frames(seed=3)
    steps = np.arange(N_FRAMES) * 10
    steps[40:] += 5  # one odd interval: 390 -> 405
    path = write_lammps_dump(tmp_path / "d.lammpstrj", pos, np.where(elements == "Na", 1, 2), steps=steps,
                             elements=elements)
    assert main(["analyze", str(path), "--temp", "600", "--dt-ps", "0.002", "--no-plots"]) == 2
    err = capsys.readouterr().err
    assert "not evenly spaced at steps 390 -> 405" in err and "--longest-even-part" in err
    with caplog.at_level(logging.WARNING):
        assert main(["analyze", str(path), "--temp", "600", "--dt-ps", "0.002", "--no-plots", "--max-frames", "5",
                     "--longest-even-part"]) == 0
    res = json.loads((tmp_path / "analysis.json").read_text())
    assert res["run"]["first_step"] == 405 and res["run"]["n_frames"] == N_FRAMES - 40
    assert any("longest evenly spaced part only: steps 405..1195" in w for w in res["warnings"])


def test_file_without_elements_or_types_is_a_one_line_error(tmp_path, capsys):
    pos, _ = frames(seed=5)
    path = write_lammps_dump(tmp_path / "plain.dump", pos, np.ones(N_NA + N_B, int))
    assert main(["analyze", str(path), "--temp", "600", "--dt-ps", "0.002"]) == 2
    assert "names no elements; give --types" in capsys.readouterr().err


def test_unreadable_file_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("hello world\n")
    assert main(["analyze", str(tmp_path / "notes.txt"), "--temp", "600", "--dt-ps", "0.002"]) == 2
    assert "notes.txt: not a LAMMPS text dump, and ASE cannot read it" in capsys.readouterr().err
