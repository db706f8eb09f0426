"""Trajectories that used to crash or mislead `analyze`: cut gzip dumps, runs that blew up (nan),
files without a frame interval, a missing diffusing species, too few frames for the blocks. Each
through the real CLI, asserting the message (one line, naming the option) or the values."""

import json

import numpy as np
import pytest

from pydriver.analysis.synthetic import random_walk, write_lammps_dump
from pydriver.cli.main import main

N_NA, N_B, N_FRAMES = 12, 6, 200
DT_PS, DUMP_EVERY = 0.002, 10
CELL = np.diag([12.0, 11.0, 13.0])
OPTS = ["--temp", "600", "--dt-ps", str(DT_PS), "--no-plots", "--max-frames", "5"]


def frames(n_frames=N_FRAMES, seed=0):
    rng = np.random.default_rng(seed)
    na = random_walk(n_frames, N_NA, 3e-5, DT_PS * DUMP_EVERY, seed=seed, start_A=rng.uniform(0, 10, (N_NA, 3)))
    b = random_walk(n_frames, N_B, 1e-7, DT_PS * DUMP_EVERY, seed=seed + 1, start_A=rng.uniform(0, 10, (N_B, 3)))
    return np.concatenate([na, b], axis=1), np.array(["Na"] * N_NA + ["B"] * N_B)


def dump(path, pos, elements, steps=None):
    steps = np.arange(len(pos)) * DUMP_EVERY if steps is None else steps
    with np.errstate(invalid="ignore"):
        return write_lammps_dump(path, pos, np.where(elements == "Na", 1, 2), np.repeat(CELL[None], len(pos), 0),
                                 steps=steps, elements=elements)


def analyse(path, out, *extra) -> dict:
    assert main(["analyze", str(path), "-o", str(out), *OPTS, *extra]) == 0
    return json.loads((out / "analysis.json").read_text())


def refused(path, capsys, *extra) -> str:
    assert main(["analyze", str(path), *OPTS, *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err


def test_gzip_dump_cut_by_a_killed_job_is_analysed_like_the_cut_plain_copy(tmp_path):
    import zlib

    pos, elements = frames()
    path = dump(tmp_path / "dump.lammpstrj.gz", pos, elements)
    data = path.read_bytes()
    path.write_bytes(data[: int(0.7 * len(data))])
    plain = tmp_path / "plain.lammpstrj"
    plain.write_bytes(zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(path.read_bytes()))
    cut, ref = analyse(path, tmp_path / "gz"), analyse(plain, tmp_path / "plain")
    assert 0.6 * N_FRAMES < cut["run"]["n_frames"] == ref["run"]["n_frames"] < N_FRAMES
    assert cut["transport"]["diffusivity_cm2_s"] == ref["transport"]["diffusivity_cm2_s"]
    assert any("gzip stream ends before its end marker" in w for w in cut["warnings"])
    assert any("incomplete last frame" in w for w in cut["warnings"])


def test_nan_names_atom_and_first_step_and_is_cut_only_when_asked(tmp_path, capsys):
    pos, elements = frames()
    blown = pos.copy()
    blown[150:, 5] = np.nan  # atom id 6 from step 1500 on
    path = dump(tmp_path / "dump.lammpstrj", blown, elements)
    err = refused(path, capsys)
    assert "non-finite positions (nan or inf) of atom 6 from step 1500 (frame 151 of 200)" in err
    assert "--until-first-nonfinite" in err
    res = analyse(path, tmp_path / "cut", "--until-first-nonfinite")
    ref = analyse(dump(tmp_path / "before.lammpstrj", pos[:150], elements), tmp_path / "ref")
    assert (res["run"]["n_frames"], res["run"]["last_step"]) == (150, 1490)
    assert res["transport"]["diffusivity_cm2_s"] == pytest.approx(ref["transport"]["diffusivity_cm2_s"], rel=1e-12)
    assert res["parameters"]["until_first_nonfinite"] is True
    assert any("analysing the 150 frames before it only (steps 0..1490)" in w for w in res["warnings"])


def test_nan_in_the_first_frame_is_refused_even_when_asked(tmp_path, capsys):
    pos, elements = frames(20)
    pos[:, 0, 1] = np.inf
    err = refused(dump(tmp_path / "dump.lammpstrj", pos, elements), capsys, "--until-first-nonfinite")
    assert "of atom 1 from step 0 (frame 1 of 20): no frame before it to analyse" in err


def _ase_images(pos, elements):
    from ase import Atoms

    images = [Atoms(symbols=elements.tolist(), positions=p, cell=CELL, pbc=True) for p in pos]
    for im in images:
        im.wrap()
    return images


@pytest.mark.parametrize("key, values", [("Time", lambda k: 20.0 * k), ("time", lambda k: 20.0 * k + 400.0),
                                         ("Timestep", lambda k: 10 * k + 1000), ("step", lambda k: 10 * k)])
def test_extxyz_frame_interval_read_from_the_file_gives_the_dump_result(tmp_path, key, values):
    from ase.io import write

    pos, elements = frames()
    images = _ase_images(pos, elements)
    for k, im in enumerate(images):
        im.info[key] = values(k)  # every 10 MD steps of 2 fs: Time in fs, or the step itself
    write(tmp_path / "md.extxyz", images, format="extxyz")
    res = analyse(tmp_path / "md.extxyz", tmp_path / "xyz")
    ref = analyse(dump(tmp_path / "d.lammpstrj", pos, elements), tmp_path / "dump")
    assert res["transport"]["dt_frame_ps"] == pytest.approx(DT_PS * DUMP_EVERY, rel=1e-12)
    assert res["transport"]["diffusivity_cm2_s"] == pytest.approx(ref["transport"]["diffusivity_cm2_s"], rel=1e-6)
    assert res["run"]["first_step"] == values(0) // (2 if key.lower() == "time" else 1)


def test_ase_md_traj_interval_and_time_step_read_from_its_description(tmp_path, capsys):
    from ase import units
    from ase.io.trajectory import Trajectory

    pos, elements = frames()
    with Trajectory(str(tmp_path / "md.traj"), "w") as traj:  # what ase.md writes with loginterval=10
        traj.set_description({"type": "molecular-dynamics", "md-type": "Langevin", "timestep": 2 * units.fs,
                              "interval": DUMP_EVERY})
        for im in _ase_images(pos, elements):
            traj.write(im)
    res = analyse(tmp_path / "md.traj", tmp_path / "traj")
    ref = analyse(dump(tmp_path / "d.lammpstrj", pos, elements), tmp_path / "dump")
    assert res["transport"]["diffusivity_cm2_s"] == pytest.approx(ref["transport"]["diffusivity_cm2_s"], rel=1e-6)
    assert main(["analyze", str(tmp_path / "md.traj"), *OPTS, "--dt-ps", "0.001"]) == 2
    assert "--dt-ps 0.001 contradicts the MD time step recorded in the file (0.002 ps)" in capsys.readouterr().err


@pytest.mark.parametrize("name, fmt", [("XDATCAR", "vasp-xdatcar"), ("md.extxyz", "extxyz")])
def test_files_without_an_interval_need_dump_every(tmp_path, capsys, name, fmt):
    from ase.io import write

    pos, elements = frames(40)
    write(tmp_path / name, _ase_images(pos, elements), format=fmt)
    err = refused(tmp_path / name, capsys)
    assert "carries no step numbers or time stamps" in err and "give --dump-every N" in err and "--dt-ps" in err
    res = analyse(tmp_path / name, tmp_path / "out", "--dump-every", str(DUMP_EVERY))
    assert res["transport"]["dt_frame_ps"] == pytest.approx(DT_PS * DUMP_EVERY)


def test_dump_every_contradicting_the_file_or_stamps_off_the_time_step(tmp_path, capsys):
    from ase.io import write

    pos, elements = frames(40)
    err = refused(dump(tmp_path / "d.lammpstrj", pos, elements), capsys, "--dump-every", "1")
    assert "--dump-every 1 contradicts the file, whose frames are 10 MD steps apart" in err
    images = _ase_images(pos, elements)
    for k, im in enumerate(images):
        im.info["Time"] = 0.02 * k  # written in ps, read in fs: 0.01 MD steps between frames
    write(tmp_path / "ps.extxyz", images, format="extxyz")
    err = refused(tmp_path / "ps.extxyz", capsys)
    assert "not a whole number of MD steps of --dt-ps 0.002" in err and "--dump-every" in err
    res = analyse(tmp_path / "ps.extxyz", tmp_path / "out", "--dump-every", str(DUMP_EVERY))
    assert res["transport"]["dt_frame_ps"] == pytest.approx(DT_PS * DUMP_EVERY)
    assert any("--dump-every 10 used; the file's time stamps" in w for w in res["warnings"])


def test_missing_species_names_plain_elements_and_the_flag(tmp_path, capsys):
    pos, _ = frames(40)
    path = write_lammps_dump(tmp_path / "cu.lammpstrj", pos, np.ones(N_NA + N_B, int),
                             elements=np.array(["Cu"] * (N_NA + N_B)))
    err = refused(path, capsys)
    assert err.endswith("no Na atoms to follow (the diffusing species); elements present: Cu; choose one with "
                        "--species, e.g. --species Cu")


@pytest.mark.parametrize("n_frames, extra, expected", [
    (12, [], "12 frames make --blocks 5 blocks of 2 frames, too short for the block fits (the fit window, 10%-50% "
             "of a block, holds 0 lags; need 3): even --blocks 2 needs >= 14 frames: give a longer trajectory "
             "(>= 35 frames for --blocks 5)"),
    (30, [], "30 frames make --blocks 5 blocks of 6 frames, too short for the block fits (the fit window, 10%-50% "
             "of a block, holds 2 lags; need 3): use --blocks 4 or fewer, or a trajectory of >= 35 frames"),
    (4, [], "4 frames; the analysis needs at least 6"),
    (30, ["--fit-end", "5"], "fit window 0.058..5 ps does not lie inside the run (0..0.58 ps); choose --fit-start "
                             "and --fit-end inside it"),
])
def test_short_trajectory_names_blocks_and_the_numbers(tmp_path, capsys, n_frames, extra, expected):
    pos, elements = frames(n_frames)
    assert expected in refused(dump(tmp_path / "short.lammpstrj", pos, elements), capsys, *extra)


@pytest.mark.parametrize("fraction", [(0.1, 0.5), (0.0, 0.3), (0.2, 0.9)])
def test_block_check_agrees_with_the_transport_fits(fraction):
    """check_blocks refuses exactly the frame counts for which the block fits would fail."""
    from pydriver.analysis.options import AnalysisOptions
    from pydriver.analysis.run_inputs import check_blocks
    from pydriver.analysis.transport import DiffusionAnalysis

    pos, elements = frames(60)
    for n_blocks in (2, 3, 5):
        for n in range(6, 60, 3):
            opts = AnalysisOptions(n_blocks=n_blocks, fit_fraction=fraction)
            time_ps = np.arange(n) * DT_PS * DUMP_EVERY
            try:
                check_blocks(n, float(time_ps[-1]), opts, "x")
                ours = True
            except ValueError:
                ours = False
            try:
                DiffusionAnalysis(pos[:n], time_ps, elements, elements, np.full(n, 1716.0), 600.0,
                                  fit_fraction=fraction, n_blocks=n_blocks).run()
                theirs = True
            except ValueError:
                theirs = False
            assert ours == theirs, (n_blocks, n)


@pytest.mark.parametrize("name", ["md.extxyz", "md.extxyz.gz"])
def test_cut_extxyz_keeps_the_complete_frames(tmp_path, name):
    import gzip

    from ase.io import write

    from pydriver.analysis.ase_reader import read_ase_trajectory

    pos, elements = frames(40)
    write(tmp_path / "md.extxyz", _ase_images(pos, elements), format="extxyz")
    data = (tmp_path / "md.extxyz").read_bytes()
    if name.endswith(".gz"):  # the compressed stream cut anywhere
        data = gzip.compress(data)
        cut = int(0.7 * len(data))
    else:  # cut inside an atom line
        cut = data.index(b"\n", int(0.7 * len(data))) + 5
    (tmp_path / name).write_bytes(data[:cut])
    traj = read_ase_trajectory(tmp_path / name, dump_every=DUMP_EVERY)
    assert 20 < traj.n_frames < 40
    assert any(f"unreadable after frame {traj.n_frames}" in w and "complete frames before it are read" in w
               for w in traj.warnings)
    frac = np.linalg.solve(CELL.T, (traj.positions_A - pos[: traj.n_frames]).reshape(-1, 3).T)
    np.testing.assert_allclose(frac, np.round(frac), atol=1e-6)  # the same positions up to whole cells
