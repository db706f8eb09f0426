"""Cross-check on one real LAMMPS trajectory: D, conductivity, charge D and Haven ratio against
pymatgen-analysis-diffusion's DiffusionAnalyzer (smoothed=False, same fit range) and the MSD curve
against MDAnalysis EinsteinMSD."""

import os
import subprocess

import numpy as np
import pytest

from pydriver.analysis.dump_reader import read_lammps_dump
from pydriver.analysis.transport import DiffusionAnalysis
from pydriver.lammps.session import lmp_executable, mpi_library_dir

DT_PS = 0.002
DUMP_EVERY = 10
TEMPERATURE_K = 600.0

LJ_DECK = f"""
units metal
atom_style full
boundary p p p
lattice fcc 5.5
region box block 0 3 0 3 0 3
create_box 2 box
create_atoms 1 box
mass 1 22.99
mass 2 10.81
set type 1 type/fraction 2 0.7 12345
pair_style lj/cut 6.0
pair_coeff 1 1 0.005 2.6
pair_coeff 2 2 0.02 2.9
pair_coeff 1 2 0.01 2.8
velocity all create {TEMPERATURE_K} 4928459
fix 1 all langevin {TEMPERATURE_K} {TEMPERATURE_K} 0.2 48279
fix 2 all nve
timestep {DT_PS}
run 500
reset_timestep 0
dump d all custom {DUMP_EVERY} dump.lammpstrj id type xu yu zu
run 3000
"""


def lammps_env():
    env = dict(os.environ)
    lib = mpi_library_dir()
    if lib is not None:
        env["LD_LIBRARY_PATH"] = ":".join(p for p in (env.get("LD_LIBRARY_PATH"), str(lib)) if p)
    return env


@pytest.fixture(scope="module")
def lj_trajectory(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lj")
    (folder / "in.lj").write_text(LJ_DECK)
    subprocess.run([lmp_executable(), "-in", "in.lj", "-log", "log.lammps", "-screen", "none"], cwd=folder,
                   env=lammps_env(), check=True, timeout=120)
    return folder / "dump.lammpstrj"


def structures_from(traj, symbols):
    from pymatgen.core import Lattice, Structure

    return [Structure(Lattice(traj.cells_A[f]), symbols, np.asarray(traj.positions_A[f], dtype=float),
                      coords_are_cartesian=True) for f in range(traj.n_frames)]


@pytest.mark.lammps
def test_matches_pymatgen_diffusion_analyzer(lj_trajectory):
    from pymatgen.analysis.diffusion.analyzer import DiffusionAnalyzer
    from pymatgen.core import Species

    traj = read_lammps_dump(lj_trajectory)
    symbols = np.where(traj.types == 1, "Na", "B")
    ours = DiffusionAnalysis(traj.positions_A, (traj.steps - traj.steps[0]) * DT_PS, symbols, symbols,
                             traj.volumes_A3, TEMPERATURE_K, origins="first", fit_start_ps=0.0,
                             fit_end_ps=(traj.steps[-1] - traj.steps[0]) * DT_PS).run().results
    species = [Species("Na", 1) if s == "Na" else Species("B", 3) for s in symbols]
    theirs = DiffusionAnalyzer.from_structures(structures_from(traj, species), "Na", TEMPERATURE_K,
                                               time_step=DT_PS * 1000, step_skip=DUMP_EVERY, smoothed=False)
    assert ours["diffusivity_cm2_s"] > 1e-6  # the Na sublattice really diffuses
    assert ours["diffusivity_cm2_s"] == pytest.approx(theirs.diffusivity, rel=0.01)
    assert ours["conductivity_mS_cm"] == pytest.approx(theirs.conductivity, rel=0.01)
    assert ours["charge_diffusivity_cm2_s"] == pytest.approx(theirs.chg_diffusivity, rel=0.01)
    assert ours["haven_ratio"] == pytest.approx(theirs.haven_ratio, rel=0.01)
    assert ours["diffusivity_ols_std_cm2_s"] == pytest.approx(theirs.diffusivity_std_dev, rel=0.01)
    np.testing.assert_allclose(ours["mobile_msd_A2"], theirs.msd, rtol=0.01, atol=1e-4)


@pytest.mark.lammps
def test_msd_matches_mdanalysis_einstein_msd(lj_trajectory):
    import MDAnalysis as mda
    from MDAnalysis.analysis.msd import EinsteinMSD

    traj = read_lammps_dump(lj_trajectory)
    u = mda.Universe(str(lj_trajectory), format="LAMMPSDUMP", dt=DT_PS * DUMP_EVERY)
    theirs = EinsteinMSD(u, select="type 1", msd_type="xyz", fft=False).run().results.timeseries
    symbols = np.where(traj.types == 1, "Na", "B")
    ours = DiffusionAnalysis(traj.positions_A, (traj.steps - traj.steps[0]) * DT_PS, symbols, symbols,
                             traj.volumes_A3, TEMPERATURE_K, drift_correction=False).run().results
    np.testing.assert_allclose(ours["msd_A2"]["Na"][1:], theirs[1:], rtol=0.01)
