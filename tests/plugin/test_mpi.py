"""MPI domain decomposition (`mpirun -np 2/3`) against the serial run on the same inputs.

Tolerances (issue 6, float64): energy 1e-8 relative, forces 1e-6 eV/A, pressure 1e-3 bar;
200 NVE steps with comm halo track the serial trajectory within 1e-6 A.
The compiled engine (a file with per-block packages) runs under comm halo too and meets the same
tolerances against the serial compiled run.
`comm shell` needs a ghost shell of nblocks x (cutoff + 3-body cutoff) (27 A for the shipped
models, too slow for CI on small cells), so its MPI test uses the NaBH weights cut to one block
with a 4 A / 3 A cutoff (shell 7 A): the communication logic under test is the same.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ase.io.lammpsdata import write_lammps_data

from pydriver.lammps.session import lammps_env
from pydriver.m3gnet.checkpoint import load_checkpoint
from pydriver.m3gnet.export import export_checkpoint
from tests.conftest import MODELS_DIR
from tests.golden import NABH, golden_frames

pytestmark = [pytest.mark.lammps, pytest.mark.mpi]
BIN = Path(sys.executable).parent

DECK = """units metal
atom_style atomic
{processors}
read_data data.lmp
pair_style m3gnet {style_args}
pair_coeff * * {model} Na B H
compute pea all pe/atom
compute spe all reduce sum c_pea
thermo_style custom step pe press pxx pyy pzz pxy pxz pyz c_spe
thermo_modify format float %.15g
{dynamics}
dump d all custom {dump_every} out.dump id proc x y z fx fy fz
dump_modify d format float %.15g sort id
run {steps}
"""
NVE = "velocity all create 300.0 87287 mom yes rot yes\ntimestep 0.0005\nfix nve all nve\nneighbor 0.5 bin\n" \
      "neigh_modify every 1 delay 0 check yes"


@dataclasses.dataclass
class Run:
    thermo: np.ndarray  # rows: step pe press pxx pyy pzz pxy pxz pyz c_spe
    frames: list[np.ndarray]  # per dump: (N, 8) id proc x y z fx fy fz
    log: str = ""  # LAMMPS's screen output


def run_lammps(tmp: Path, atoms, model: Path, nprocs: int, style_args: str = "", processors: str = "",
               steps: int = 0, dynamics: str = "", dump_every: int = 1) -> Run:
    tmp.mkdir(parents=True, exist_ok=True)
    write_lammps_data(tmp / "data.lmp", atoms, specorder=["Na", "B", "H"], masses=True, units="metal",
                      force_skew=not atoms.cell.orthorhombic)
    (tmp / "in.lammps").write_text(DECK.format(processors=processors, style_args=style_args, model=model,
                                               dynamics=dynamics, steps=steps, dump_every=dump_every))
    cmd = [str(BIN / "mpirun"), "-np", str(nprocs), str(BIN / "lmp"), "-in", "in.lammps"]
    # the wheel's lmp launcher preloads libtorch for LAMMPS; mpirun and the launchers need not load it
    out = subprocess.run(cmd, cwd=tmp, env=lammps_env(preload=False), capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    lines = out.stdout.splitlines()
    start = next(k for k, line in enumerate(lines) if line.split()[:2] == ["Step", "PotEng"])
    rows = []
    for line in lines[start + 1:]:
        parts = line.split()
        if not parts or not parts[0].isdigit():
            break
        rows.append([float(p) for p in parts])
    return Run(np.array(rows), _read_dump(tmp / "out.dump"), out.stdout)


def _read_dump(path: Path) -> list[np.ndarray]:
    text = path.read_text().split("ITEM: TIMESTEP\n")[1:]
    frames = []
    for block in text:
        lines = block.splitlines()
        n = int(lines[2])
        frames.append(np.array([[float(v) for v in line.split()] for line in lines[8:8 + n]]))
    return frames


def assert_same(serial: Run, parallel: Run, force_tol: float = 1e-6) -> None:
    np.testing.assert_allclose(parallel.thermo[:, 1], serial.thermo[:, 1], rtol=1e-8, atol=0)
    np.testing.assert_allclose(parallel.thermo[:, 9], serial.thermo[:, 9], rtol=1e-8, atol=0)  # sum pe/atom
    np.testing.assert_allclose(parallel.thermo[:, 2:9], serial.thermo[:, 2:9], atol=1e-3)  # bar
    for a, b in zip(serial.frames, parallel.frames):
        np.testing.assert_allclose(b[:, 5:8], a[:, 5:8], atol=force_tol)


def _frame(name: str):
    return next(a for a, _ in golden_frames(NABH) if a.info["name"] == name)


@pytest.fixture(scope="module")
def serial_run(tmp_path_factory):
    """``serial_run(frame, model, style_args, **kw)``: the 1-rank run of ``_frame(frame) * (2, 2, 1)``,
    made once per module and input (the 2- and 3-rank cases of a test compare with the same run)."""
    runs: dict[tuple, Run] = {}

    def get(frame: str, model: Path, style_args: str = "", **kw) -> Run:
        key = (frame, str(model), style_args, tuple(sorted(kw.items())))
        if key not in runs:
            tmp = tmp_path_factory.mktemp("serial")
            runs[key] = run_lammps(tmp, _frame(frame) * (2, 2, 1), model, 1, style_args, **kw)
        return runs[key]

    return get


@pytest.fixture(scope="module")
def one_block_model(tmp_path_factory) -> Path:
    ckpt = load_checkpoint(MODELS_DIR / NABH)
    args = dict(ckpt.model_args, nblocks=1, cutoff=4.0, threebody_cutoff=3.0)
    small = dataclasses.replace(ckpt, model_args=args, name=f"{NABH}-1block-4A-test")
    return export_checkpoint(small, tmp_path_factory.mktemp("oneblock") / "model.pt", dtype="float64")


@pytest.mark.parametrize("nprocs,processors", [(2, ""), (3, "processors 1 1 3")])
def test_halo_matches_serial_triclinic(exported, serial_run, tmp_path, nprocs, processors):
    """Rattled triclinic 96-atom NaBH4 (2x2x1 of the triclinic cell): several images in the ghost region."""
    atoms = _frame("nabh4_triclinic") * (2, 2, 1)
    model = exported(NABH, "float64")
    serial = serial_run("nabh4_triclinic", model)
    parallel = run_lammps(tmp_path / "par", atoms, model, nprocs, "comm halo", processors)
    assert_same(serial, parallel)


def test_halo_1024_atoms_np2(exported, tmp_path):
    """1024-atom mixed BH4/B12H12 cell (32-atom cell x 2x4x4), float32 model, np 2 vs serial."""
    atoms = _frame("na3_bh4_b12h12_mixed") * (2, 4, 4)
    assert len(atoms) == 1024
    model = exported(NABH, "float32")
    serial = run_lammps(tmp_path / "serial", atoms, model, 1)
    parallel = run_lammps(tmp_path / "par", atoms, model, 2, "comm halo")
    np.testing.assert_allclose(parallel.thermo[:, 1], serial.thermo[:, 1], rtol=1e-6)
    np.testing.assert_allclose(parallel.frames[0][:, 5:8], serial.frames[0][:, 5:8], atol=2e-4)


@pytest.mark.slow  # 27 s on 2 busy cores: 200 NVE steps serial and on 2 ranks
def test_halo_nve_tracks_serial_with_migration(exported, tmp_path):
    """200 NVE steps (0.5 fs, 300 K) of the rattled 24-atom cell on 2 ranks (subdomains thinner than the
    cutoff: several hops of ghosts): positions agree with serial within 1e-6 A, and atoms change rank."""
    atoms = _frame("nabh4_rattled")
    model = exported(NABH, "float64")
    kw = {"steps": 200, "dynamics": NVE, "dump_every": 200}
    serial = run_lammps(tmp_path / "serial", atoms, model, 1, **kw)
    parallel = run_lammps(tmp_path / "par", atoms, model, 2, "comm halo", **kw)
    np.testing.assert_allclose(parallel.frames[-1][:, 2:5], serial.frames[-1][:, 2:5], atol=1e-6)
    np.testing.assert_allclose(parallel.thermo[:, 1], serial.thermo[:, 1], rtol=1e-8)
    moved = np.count_nonzero(parallel.frames[0][:, 1] != parallel.frames[-1][:, 1])
    assert moved > 0, "no atom migrated between ranks: the test does not exercise migration"
    print(f"{moved} atoms changed rank; max |dx| "
          f"{np.abs(parallel.frames[-1][:, 2:5] - serial.frames[-1][:, 2:5]).max():.1e} A")


HALO_COMPILED = "engine compiled per-block packages under comm halo (AOTInductor, built by torch"


@pytest.mark.parametrize("nprocs,processors", [(2, ""), (3, "processors 1 1 3")])
def test_compiled_halo_matches_serial(compiled_models, serial_run, tmp_path, nprocs, processors):
    """The per-block packages on every rank = the serial compiled run (and the halo TorchScript run)."""
    atoms = _frame("nabh4_triclinic") * (2, 2, 1)
    model = compiled_models[NABH]
    serial = serial_run("nabh4_triclinic", model, "compiled yes")
    parallel = run_lammps(tmp_path / "par", atoms, model, nprocs, "comm halo compiled yes", processors)
    scripted = run_lammps(tmp_path / "ts", atoms, model, nprocs, "comm halo compiled no", processors)
    assert "engine compiled energy+gradient" in serial.log
    assert HALO_COMPILED in parallel.log and "engine TorchScript: compiled no" in scripted.log
    assert_same(serial, parallel)
    assert_same(scripted, parallel)


def test_compiled_halo_nve_tracks_serial_with_migration(compiled_models, tmp_path):
    """100 NVE steps of the rattled 24-atom cell on 2 ranks with the compiled engine (subdomains thinner than
    the cutoff, atoms changing rank) follow the serial compiled trajectory within 1e-6 A."""
    atoms = _frame("nabh4_rattled")
    kw = {"steps": 100, "dynamics": NVE, "dump_every": 100}
    serial = run_lammps(tmp_path / "serial", atoms, compiled_models[NABH], 1, **kw)
    parallel = run_lammps(tmp_path / "par", atoms, compiled_models[NABH], 2, "comm halo", **kw)
    assert HALO_COMPILED in parallel.log
    np.testing.assert_allclose(parallel.frames[-1][:, 2:5], serial.frames[-1][:, 2:5], atol=1e-6)
    np.testing.assert_allclose(parallel.thermo[:, 1], serial.thermo[:, 1], rtol=1e-8)
    assert np.count_nonzero(parallel.frames[0][:, 1] != parallel.frames[-1][:, 1]) > 0


@pytest.mark.parametrize("nprocs", [2, pytest.param(3, marks=pytest.mark.slow)])  # 3 ranks: 13 s, full suite only
def test_shell_matches_serial(one_block_model, serial_run, tmp_path, nprocs):
    atoms = _frame("nabh4_triclinic") * (2, 2, 1)
    kw = {"steps": 10, "dynamics": NVE, "dump_every": 10}
    serial = serial_run("nabh4_triclinic", one_block_model, **kw)
    shell = run_lammps(tmp_path / "shell", atoms, one_block_model, nprocs, "comm shell", **kw)
    assert_same(serial, shell)


def test_shell_rejects_small_comm_cutoff(one_block_model, tmp_path):
    atoms = _frame("nabh4_ordered")
    write_lammps_data(tmp_path / "data.lmp", atoms, specorder=["Na", "B", "H"], masses=True, units="metal")
    deck = DECK.format(processors="comm_modify cutoff 6.0", style_args="comm shell", model=one_block_model,
                       dynamics="", steps=0, dump_every=1)
    (tmp_path / "in.lammps").write_text(deck)
    out = subprocess.run([str(BIN / "lmp"), "-in", "in.lammps"], cwd=tmp_path, env=lammps_env(preload=False),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode != 0
    assert "comm shell needs a ghost cutoff of at least 9.000 A" in out.stdout + out.stderr
