"""``pair_style m3gnet compiled ...``: the AOTInductor package through the real plugin.

Parity with the golden data (float64, core-engine tolerances) and with the TorchScript path of the same
file (round-off), per-atom energy/virial bookkeeping, an MD trajectory with neighbour-list rebuilds (the
graph changes size every few steps), the engine line in the log, and the errors.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from ase.io.lammpsdata import write_lammps_data

from pydriver.lammps.session import lammps_env
from pydriver.lammps.single_point import lammps_single_point
from tests.golden import MATPES, NABH, TOL, golden_frames
from tests.m3gnet.model_edit import edited_copy, foreign_package
from tests.plugin.test_errors import _error_of

pytestmark = pytest.mark.lammps


@pytest.mark.parametrize("checkpoint", [NABH, MATPES])
def test_compiled_plugin_matches_reference_and_torchscript(compiled_models, checkpoint):
    model = compiled_models[checkpoint]
    elements = ["Na", "B", "H"] if checkpoint == NABH else None
    tol = TOL["float64"]
    for atoms, ref in golden_frames(checkpoint):
        name = atoms.info["name"]
        res = lammps_single_point(atoms, model, elements, pair_style="m3gnet compiled yes")
        old = lammps_single_point(atoms, model, elements, pair_style="m3gnet compiled no")
        n = len(atoms)
        assert abs(res.energy_eV - ref["energy"]) / n < tol["energy_eV_atom"], name
        assert np.abs(res.forces_eV_A - np.array(ref["forces"])).max() < tol["force_eV_A"], name
        assert np.abs(res.stress_eV_A3 - np.array(ref["stress"])).max() < tol["stress_eV_A3"], name
        assert res.energy_eV == pytest.approx(old.energy_eV, rel=1e-12, abs=1e-10), name
        np.testing.assert_allclose(res.forces_eV_A, old.forces_eV_A, atol=1e-10, err_msg=name)
        np.testing.assert_allclose(res.stress_eV_A3, old.stress_eV_A3, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(res.energies_eV, old.energies_eV, atol=1e-10, err_msg=name)
        assert res.energies_eV.sum() == pytest.approx(res.energy_eV, abs=1e-8 * n)
        np.testing.assert_allclose(res.atom_stress_sum_eV_A3, res.stress_eV_A3, atol=1e-10)


DECK = """units metal
atom_style atomic
read_data data.lmp
pair_style m3gnet compiled {mode}
pair_coeff * * {model} Na B H
velocity all create 900.0 4928459 mom yes rot yes dist gaussian
timestep 0.001
neighbor 0.3 bin
neigh_modify every 1 delay 0 check yes
fix nve all nve
thermo 10
thermo_style custom step temp pe etotal
thermo_modify format float %.12f
run 60
write_dump all custom final.dump id x y z modify sort id format float %.12f
"""


def _md(tmp: Path, model: Path, mode: str, atoms, steps: int = 60, threads: int = 1) -> tuple[str, np.ndarray]:
    tmp.mkdir()
    write_lammps_data(tmp / "data.lmp", atoms, specorder=["Na", "B", "H"], masses=True, units="metal")
    (tmp / "in.md").write_text(DECK.format(model=model, mode=mode).replace("run 60", f"run {steps}"))
    env = dict(lammps_env(preload=False), OMP_NUM_THREADS=str(threads))  # the launcher preloads libtorch
    out = subprocess.run([str(Path(sys.executable).parent / "lmp"), "-in", "in.md"], cwd=tmp, env=env,
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    xyz = np.loadtxt(tmp / "final.dump", skiprows=9)[:, 1:]
    return out.stdout, xyz


def test_compiled_md_follows_the_torchscript_trajectory(compiled_models, tmp_path):
    """60 steps of 1 fs at 900 K (neighbour lists rebuilt as atoms move): same positions to 1e-8 A."""
    atoms = next(a for a, _ in golden_frames(NABH) if a.info["name"] == "nabh4_ordered") * (2, 1, 1)
    log_c, x_c = _md(tmp_path / "compiled", compiled_models[NABH], "yes", atoms)
    log_t, x_t = _md(tmp_path / "torchscript", compiled_models[NABH], "no", atoms)
    assert "engine compiled energy+gradient (AOTInductor package built by torch" in log_c
    assert "engine TorchScript: compiled no" in log_t
    rebuilds = int(log_c.split("Neighbor list builds = ")[1].split()[0])
    assert rebuilds >= 2, "the graph never changed during the run"
    assert np.abs(x_c - x_t).max() < 1e-8
    assert np.abs(x_c - atoms.positions).max() > 0.01  # the atoms moved


def test_compiled_package_serves_any_thread_count(compiled_models, tmp_path):
    """``compiled auto`` runs the package with 1 and 2 threads (its matrix products use the threads), and
    10 MD steps follow the 2-thread TorchScript trajectory."""
    atoms = next(a for a, _ in golden_frames(NABH) if a.info["name"] == "nabh4_ordered")
    log_1, x_1 = _md(tmp_path / "one", compiled_models[NABH], "auto", atoms, steps=10, threads=1)
    log_2, x_2 = _md(tmp_path / "two", compiled_models[NABH], "auto", atoms, steps=10, threads=2)
    log_t, x_t = _md(tmp_path / "ts", compiled_models[NABH], "no", atoms, steps=10, threads=2)
    for log in (log_1, log_2):
        assert "engine compiled energy+gradient" in log and "matrix products on the run's threads" in log
    assert "2 torch thread(s) per MPI rank" in log_2
    pe = [float(log.split("Step")[1].splitlines()[1].split()[2]) for log in (log_1, log_2, log_t)]
    assert pe[0] == pytest.approx(pe[2], rel=1e-12) and pe[1] == pytest.approx(pe[2], rel=1e-12)
    assert np.abs(x_1 - x_t).max() < 1e-9 and np.abs(x_2 - x_t).max() < 1e-9


def test_compiled_keyword_errors(exported):
    plain = exported(NABH, "float64")
    msg = _error_of(["pair_style m3gnet compiled yes", f"pair_coeff * * {plain} Na B H"])
    assert "compiled yes but the file has no compiled package for cpu (exported with --no-compile)" in msg
    assert msg.count("Pair style m3gnet:") == 1
    assert "compiled 'fast' is not auto, yes or no" in _error_of(["pair_style m3gnet compiled fast"])
    assert "Pair style m3gnet: keyword 'compiled' needs a value" in _error_of(["pair_style m3gnet compiled"])
    assert "Pair style m3gnet: keyword 'comm' needs a value" in _error_of(["pair_style m3gnet comm"])


def _run0_log(tmp: Path, model: Path, style: str = "") -> tuple[str, float]:
    """LAMMPS's output and the energy of ``run 0`` on the 24-atom ordered cell."""
    tmp.mkdir()
    atoms = next(a for a, _ in golden_frames(NABH) if a.info["name"] == "nabh4_ordered")
    write_lammps_data(tmp / "data.lmp", atoms, specorder=["Na", "B", "H"], masses=True, units="metal")
    deck = (f"units metal\natom_style atomic\nread_data data.lmp\npair_style m3gnet {style}\n"
            f"pair_coeff * * {model} Na B H\nthermo_modify format float %.15g\nrun 0\n")
    (tmp / "in.run0").write_text(deck)
    out = subprocess.run([str(Path(sys.executable).parent / "lmp"), "-in", "in.run0"], cwd=tmp,
                         env=lammps_env(preload=False), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    lines = out.stdout.splitlines()
    row = next(k for k, line in enumerate(lines) if line.split()[:1] == ["Step"])
    return out.stdout, float(lines[row + 1].split()[2])


@pytest.mark.parametrize("entry,why", [
    ({"torch": "2.0.0+cpu"}, f"its cpu package was built by torch 2.0.0+cpu, this plugin uses libtorch "
                             f"{torch.__version__.split('+')[0]} (re-export the file with this torch)"),
    ({"cpu_capability": "SVE256"}, f"its cpu package was compiled for SVE256 CPUs, this CPU has "
                                   f"{torch.backends.cpu.get_cpu_capability()} (re-export the file on this machine)"),
])
def test_a_package_from_another_torch_or_cpu_runs_torchscript(exported, tmp_path, entry, why):
    """A file compiled elsewhere (metadata edited, checksums consistent): the plugin says why in its engine
    line and runs TorchScript with the same energy; ``compiled yes`` is one error line naming the mismatch."""
    plain = exported(NABH, "float64")
    path = foreign_package(plain, tmp_path / "foreign.pt", **entry)
    log, energy = _run0_log(tmp_path / "foreign", path)
    _, reference = _run0_log(tmp_path / "plain", plain)
    assert f"Pair style m3gnet: engine TorchScript: {why}\n" in log
    assert energy == reference
    msg = _error_of(["pair_style m3gnet compiled yes", f"pair_coeff * * {path} Na B H"])
    assert f"Pair style m3gnet: compiled yes but {why}" in msg and msg.count("Pair style m3gnet:") == 1


def test_compiled_yes_under_comm_halo_needs_the_block_packages(compiled_models, tmp_path):
    """A compiled file without the per-block packages (written before them): halo runs TorchScript and
    says so; ``compiled yes`` under comm halo is an error naming the reason."""
    older = edited_copy(compiled_models[NABH], tmp_path / "older.pt",
                        lambda meta: meta["compiled"]["cpu"].pop("halo"))
    log, _ = _run0_log(tmp_path / "auto", older, "comm halo")
    note = ("TorchScript: the file's cpu packages predate comm halo's per-block packages (re-export it for the "
            "compiled engine on several ranks)")
    assert f"Pair style m3gnet: engine {note}\n" in log
    msg = _error_of(["pair_style m3gnet comm halo compiled yes", f"pair_coeff * * {older} Na B H", "run 0"])
    assert f"Pair style m3gnet: compiled yes but under comm halo the engine would be {note}" in msg
    assert msg.count("Pair style m3gnet:") == 1
