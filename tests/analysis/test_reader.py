"""LAMMPS dump reader: coordinate flavours, NPT/triclinic cells, gzip and damaged dumps."""

import logging

import numpy as np
import pytest

from pydriver.analysis.dump_reader import read_lammps_dump
from pydriver.analysis.synthetic import random_walk, write_lammps_dump

N_FRAMES, N_ATOMS = 30, 12


@pytest.fixture
def walk():
    return random_walk(N_FRAMES, N_ATOMS, 1e-4, 0.1, seed=3, start_A=np.random.default_rng(1).uniform(0, 9, (N_ATOMS, 3)))


def npt_cells(tilt=True):
    """Box that breathes by +-3 % with tilts (triclinic NPT)."""
    scale = 1.0 + 0.03 * np.sin(np.arange(N_FRAMES) / 4.0)
    base = np.array([[10.0, 0, 0], [1.5 if tilt else 0, 11.0, 0], [-1.0 if tilt else 0, 0.8 if tilt else 0, 12.0]])
    return base[None] * scale[:, None, None]


@pytest.mark.parametrize("columns", ["xu", "image", "wrapped"])
@pytest.mark.parametrize("tilt", [False, True])
def test_unwrapped_positions_recovered(tmp_path, walk, columns, tilt):
    cells = npt_cells(tilt)
    path = write_lammps_dump(tmp_path / "dump.lammpstrj", walk, np.ones(N_ATOMS, int), cells, columns=columns)
    traj = read_lammps_dump(path)
    assert traj.positions_A.shape == (N_FRAMES, N_ATOMS, 3)
    assert traj.positions_A.dtype == np.float32
    np.testing.assert_allclose(traj.cells_A, cells, atol=1e-8)
    # minimum-image unwrapping tracks image counts from 0 at frame 0, i.e. it equals the true
    # path minus the frame-0 image n0 expressed in each frame's cell (as LAMMPS' own images would)
    expected = walk
    if columns == "wrapped":
        n0 = np.floor(walk[0] @ np.linalg.inv(cells[0]))
        expected = walk - np.einsum("ak,fkl->fal", n0, cells)
        assert traj.coordinates == "min_image"
    np.testing.assert_allclose(traj.positions_A, expected, atol=2e-4)


def test_wrapped_warns_about_stride(tmp_path, walk, caplog):
    path = write_lammps_dump(tmp_path / "d.lammpstrj", walk, np.ones(N_ATOMS, int), columns="wrapped")
    with caplog.at_level(logging.WARNING):
        traj = read_lammps_dump(path)
    assert any("stride" in w for w in traj.warnings)
    assert "stride" in caplog.text


def test_gzip_and_shuffled_ids(tmp_path, walk):
    rng = np.random.default_rng(0)
    path = write_lammps_dump(tmp_path / "dump.lammpstrj.gz", walk, np.arange(N_ATOMS) % 3 + 1,
                             mol_ids=np.arange(N_ATOMS) // 4 + 1, order=lambda f: rng.permutation(N_ATOMS))
    traj = read_lammps_dump(path)
    np.testing.assert_allclose(traj.positions_A, walk, atol=2e-6 * 20)
    np.testing.assert_array_equal(traj.ids, np.arange(1, N_ATOMS + 1))
    np.testing.assert_array_equal(traj.types, np.arange(N_ATOMS) % 3 + 1)
    np.testing.assert_array_equal(traj.mol_ids, np.arange(N_ATOMS) // 4 + 1)


def test_truncated_last_frame_dropped_with_warning(tmp_path, walk, caplog):
    path = write_lammps_dump(tmp_path / "dump.lammpstrj", walk, np.ones(N_ATOMS, int))
    text = path.read_bytes()
    path.write_bytes(text[: len(text) - 100])  # cut inside the last frame's atom lines
    with caplog.at_level(logging.WARNING):
        traj = read_lammps_dump(path)
    assert traj.n_frames == N_FRAMES - 1
    np.testing.assert_allclose(traj.positions_A, walk[:-1], atol=1e-5)
    assert "incomplete last frame" in caplog.text


def test_truncated_header_dropped(tmp_path, walk):
    path = write_lammps_dump(tmp_path / "dump.lammpstrj", walk, np.ones(N_ATOMS, int))
    with open(path, "a") as fh:
        fh.write("ITEM: TIMESTEP\n30\nITEM: NUMBER OF ATOMS\n")
    traj = read_lammps_dump(path)
    assert traj.n_frames == N_FRAMES


def test_restart_duplicates_replaced(tmp_path, walk, caplog):
    # run wrote steps 0..19, crashed, restarted from step 15 and wrote 15..29
    a = write_lammps_dump(tmp_path / "a", walk[:20] + 100.0, np.ones(N_ATOMS, int), steps=np.arange(20) * 10)
    b = write_lammps_dump(tmp_path / "b", walk[15:], np.ones(N_ATOMS, int), steps=np.arange(15, 30) * 10)
    path = tmp_path / "dump.lammpstrj"
    path.write_bytes(a.read_bytes() + b.read_bytes())
    with caplog.at_level(logging.WARNING):
        traj = read_lammps_dump(path)
    np.testing.assert_array_equal(traj.steps, np.arange(30) * 10)
    np.testing.assert_allclose(traj.positions_A[15:], walk[15:], atol=1e-5)
    np.testing.assert_allclose(traj.positions_A[:15], walk[:15] + 100.0, atol=1e-4)
    assert "restart" in caplog.text


def test_missing_mol_column_warns(tmp_path, walk):
    path = write_lammps_dump(tmp_path / "dump.lammpstrj", walk, np.ones(N_ATOMS, int))
    traj = read_lammps_dump(path)
    assert traj.mol_ids is None
    assert any("mol" in w for w in traj.warnings)


def test_missing_position_columns_is_an_error(tmp_path, walk):
    path = write_lammps_dump(tmp_path / "dump.lammpstrj", walk, np.ones(N_ATOMS, int))
    path.write_text(path.read_text().replace("ITEM: ATOMS id type xu yu zu", "ITEM: ATOMS id type vx vy vz"))
    with pytest.raises(ValueError, match="no position columns"):
        read_lammps_dump(path)


def test_missing_atom_is_an_error(tmp_path, walk):
    path = write_lammps_dump(tmp_path / "dump.lammpstrj", walk, np.ones(N_ATOMS, int))
    lines = path.read_text().splitlines()
    frame = 9 + N_ATOMS
    lines[frame + 3] = str(N_ATOMS - 1)  # second frame claims one atom less and lacks id 1
    del lines[frame + 9]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match="differ from the first frame"):
        read_lammps_dump(path)


def test_missing_file():
    with pytest.raises(FileNotFoundError):
        read_lammps_dump("/nonexistent/dump.lammpstrj")


def npt_origins():
    """Box origin that is not zero and moves with the breathing box (NPT about the box centre)."""
    return np.array([-3.0, 2.0, 5.0])[None] + 0.2 * np.sin(np.arange(N_FRAMES) / 3.0)[:, None]


@pytest.mark.parametrize("columns", ["xu", "image", "wrapped", "xsu", "xs_image", "xs"])
@pytest.mark.parametrize("tilt", [False, True])
def test_every_position_style_exact_with_moving_origin(tmp_path, walk, columns, tilt):
    cells, origins = npt_cells(tilt), npt_origins()
    path = write_lammps_dump(tmp_path / "any_name.txt", walk, np.ones(N_ATOMS, int), cells, columns=columns,
                             origins_A=origins)
    traj = read_lammps_dump(path)
    np.testing.assert_allclose(traj.cells_A, cells, atol=1e-8)
    expected = walk
    if columns in ("wrapped", "xs"):  # image counts start from 0 at frame 0
        n0 = np.floor((walk[0] - origins[0]) @ np.linalg.inv(cells[0]))
        expected = walk - np.einsum("ak,fkl->fal", n0, cells)
        assert traj.coordinates == "min_image"
    else:
        assert traj.coordinates == ("unwrapped" if columns in ("xu", "xsu") else "images")
    np.testing.assert_allclose(traj.positions_A, expected, atol=5e-5)


def test_element_column_and_extra_columns(tmp_path, walk):
    elements = np.array(["Na", "B", "H"] * (N_ATOMS // 3))
    types = np.array([1, 2, 3] * (N_ATOMS // 3))
    rng = np.random.default_rng(5)
    path = write_lammps_dump(tmp_path / "traj.dump.gz", walk, types, elements=elements, extra=True,
                             order=lambda f: rng.permutation(N_ATOMS))
    traj = read_lammps_dump(path)
    np.testing.assert_array_equal(traj.elements, elements)
    np.testing.assert_array_equal(traj.types, types)
    np.testing.assert_allclose(traj.positions_A, walk, atol=5e-5)


def test_type_labels_name_the_elements(tmp_path, walk):
    path = write_lammps_dump(tmp_path / "d.lammpstrj", walk, np.ones(N_ATOMS, int))
    lines = path.read_text().splitlines()
    out = []
    for line in lines:
        parts = line.split()
        if len(parts) == 5 and not line.startswith("ITEM"):
            parts[1] = "Na" if int(parts[0]) % 2 else "Cl"
        out.append(" ".join(parts))
    path.write_text("\n".join(out) + "\n")
    traj = read_lammps_dump(path)
    assert traj.elements.tolist() == ["Na", "Cl"] * (N_ATOMS // 2)
    assert traj.types.tolist() == [2, 1] * (N_ATOMS // 2)  # numbered by sorted name: Cl=1, Na=2


def test_damaged_frame_in_the_middle_skipped_and_reading_resumes(tmp_path, walk, caplog):
    # a job wrote steps 0..14, was killed mid-line in frame 15, restarted from step 10 and appended 10..29
    a = write_lammps_dump(tmp_path / "a", walk[:16], np.ones(N_ATOMS, int), steps=np.arange(16) * 10)
    b = write_lammps_dump(tmp_path / "b", walk[10:], np.ones(N_ATOMS, int), steps=np.arange(10, 30) * 10)
    text_a = a.read_bytes()
    path = tmp_path / "dump.lammpstrj"
    path.write_bytes(text_a[: len(text_a) - 37] + b.read_bytes())  # cut inside a line, no newline
    with caplog.at_level(logging.WARNING):
        traj = read_lammps_dump(path)
    np.testing.assert_array_equal(traj.steps, np.arange(30) * 10)
    np.testing.assert_allclose(traj.positions_A, walk, atol=5e-5)
    assert "damaged frame at step 150 skipped" in caplog.text
    assert "timestep 100 follows 140" in caplog.text


def test_damaged_header_in_the_middle(tmp_path, walk, caplog):
    a = write_lammps_dump(tmp_path / "a", walk[:10], np.ones(N_ATOMS, int), steps=np.arange(10))
    b = write_lammps_dump(tmp_path / "b", walk[10:], np.ones(N_ATOMS, int), steps=np.arange(10, 30))
    path = tmp_path / "dump.lammpstrj"
    path.write_bytes(a.read_bytes() + b"ITEM: TIMESTEP\n10\nITEM: NUMB" + b.read_bytes())
    with caplog.at_level(logging.WARNING):
        traj = read_lammps_dump(path)
    np.testing.assert_array_equal(traj.steps, np.arange(30))
    assert "damaged frame at step 10 skipped" in caplog.text


def test_uneven_steps_named():
    from pydriver.analysis.trajectory import longest_even_part, uneven_steps

    steps = np.array([0, 10, 20, 30, 50, 60, 70, 80, 90, 100])
    assert uneven_steps(steps) == [(30, 50)]
    assert longest_even_part(steps) == slice(4, 10)


def test_uneven_gaps_of_frame_times():
    from pydriver.analysis.trajectory import uneven_gaps

    times_ps = np.arange(12) * 0.1  # float gaps differ in the last bits: still even
    assert uneven_gaps(times_ps).tolist() == []
    times_ps[7:] += 0.05
    assert uneven_gaps(times_ps).tolist() == [6]


@pytest.mark.parametrize("columns", ["xu", "wrapped"])
@pytest.mark.parametrize("cut_fraction", [0.3, 0.7, 0.97])
def test_cut_gzip_reads_every_complete_frame_like_the_cut_plain_copy(tmp_path, walk, caplog, columns, cut_fraction):
    import zlib

    path = write_lammps_dump(tmp_path / "dump.lammpstrj.gz", walk, np.ones(N_ATOMS, int), columns=columns)
    data = path.read_bytes()
    path.write_bytes(data[: int(cut_fraction * len(data))])  # a job killed while gzip was writing
    text = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(path.read_bytes())  # what can be recovered
    plain = tmp_path / "plain.lammpstrj"
    plain.write_bytes(text)
    with caplog.at_level(logging.WARNING):
        traj = read_lammps_dump(path)
    expected = read_lammps_dump(plain)
    assert 0 < traj.n_frames == expected.n_frames < N_FRAMES
    np.testing.assert_array_equal(traj.steps, expected.steps)
    np.testing.assert_allclose(traj.positions_A, walk[: traj.n_frames], atol=5e-5)
    assert (f"dump.lammpstrj.gz: gzip stream ends before its end marker: the file was cut (e.g. a job killed while "
            f"writing); read the {traj.n_frames} complete frames before it (last step {traj.n_frames - 1})"
            in traj.warnings)


def test_gzip_with_a_bad_checksum_is_read_with_a_warning(tmp_path, walk):
    path = write_lammps_dump(tmp_path / "dump.lammpstrj.gz", walk, np.ones(N_ATOMS, int))
    data = bytearray(path.read_bytes())
    data[-8] ^= 0xFF  # CRC32 of the member
    path.write_bytes(bytes(data))
    traj = read_lammps_dump(path)
    assert traj.n_frames == N_FRAMES
    assert any("gzip data damaged (CRC check failed" in w for w in traj.warnings)


@pytest.mark.parametrize("bad", ["nan", "-nan", "inf"])
def test_nonfinite_positions_recorded_with_atom_and_first_step(tmp_path, walk, bad):
    positions = walk.copy()
    positions[17:, 5] = np.nan  # atom id 6 from frame 17 on
    path = write_lammps_dump(tmp_path / "dump.lammpstrj", positions, np.ones(N_ATOMS, int),
                             steps=np.arange(N_FRAMES) * 1000, columns="wrapped")
    path.write_text(path.read_text().replace("nan", bad))
    traj = read_lammps_dump(path)
    assert traj.n_frames == N_FRAMES
    assert (traj.first_nonfinite.frame, traj.first_nonfinite.step, traj.first_nonfinite.atom_ids) == (17, 17000, (6,))
    assert "non-finite positions (nan or inf) of atom 6 from step 17000" in traj.warnings
    np.testing.assert_allclose(traj.positions_A[:17], walk[:17], atol=5e-5)  # the frames before are intact


def test_nonfinite_frames_replaced_by_a_restart_are_forgotten(tmp_path, walk):
    # the run blew up at step 150, was restarted from step 100 with a smaller time step and rewrote 100..290
    blown = walk[:18].copy()
    blown[15:, [2, 7]] = np.inf
    with np.errstate(invalid="ignore"):
        a = write_lammps_dump(tmp_path / "a", blown, np.ones(N_ATOMS, int), steps=np.arange(18) * 10)
    b = write_lammps_dump(tmp_path / "b", walk[10:], np.ones(N_ATOMS, int), steps=np.arange(10, 30) * 10)
    path = tmp_path / "dump.lammpstrj"
    path.write_bytes(a.read_bytes() + b.read_bytes())
    assert read_lammps_dump(a).first_nonfinite.describe() == "atoms 3, 8 from step 150"
    traj = read_lammps_dump(path)
    assert traj.first_nonfinite is None
    np.testing.assert_allclose(traj.positions_A, walk, atol=5e-5)
