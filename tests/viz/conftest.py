"""Runs for the visualisation tests: one small real run made with the plugin, and synthetic runs with known answers.

* ``real_run`` -- examples/structures/oNBH.extxyz (4 BH4 + 4 B12H12 + 12 Na, 128 atoms, both anion
  kinds) through ``pydriver.deck.write_run_directory`` and ``lmp``: 40 NPT steps at 600 K, float32,
  dump every 10 steps (5 frames). Measured about 30 s on the shared 2-core VM.
* ``synthetic_run`` -- a 14 A cubic cell with one BH4, one B12H12 and four Na, written as a run
  directory (run.json, dump, per_atom.csv, Na density CHGCAR): Na 1 and 2 hop 6 A, Na 3 and 4 stay;
  the density is two Gaussians (sigma 0.6 A, 1 ion each) at known sites.
* ``write_boundary_run`` -- the same cell and types with everything at the cell faces (wrapped
  ``x``, image flags or ``xu`` columns): Na 1 and 2 hop 6 A across a face, Na 3 hops 6 A inside the
  cell, Na 4 and 5 vibrate across a face (ending on the other side), Na 6 stays; the BH4 straddles
  x = 0 and the B12H12 straddles y = L.
"""

from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest

from pydriver.analysis.density import write_chgcar
from pydriver.analysis.synthetic import write_lammps_dump
from pydriver.rundir import DUMP_FILE, PER_ATOM_FILE, RunManifest
from pydriver.structures.atom_types import AtomType
from pydriver.viz.per_atom import PerAtom
from tests.viz.helpers import write_per_atom_csv

EDGE_A = 14.0
N_FRAMES = 11
HOPPERS = (1, 2)
STAYERS = (3, 4)
DENSITY_SITES_A = np.array([[3.5, 4.0, 10.0], [10.5, 9.5, 4.0]])
DENSITY_SIGMA_A = 0.6
DENSITY_SPACING_A = 0.2
TYPES = [AtomType(1, "Na", "Na", None, 22.98977), AtomType(2, "B_BH4", "B", "BH4", 10.81),
         AtomType(3, "H_BH4", "H", "BH4", 1.008), AtomType(4, "B_B12H12", "B", "B12H12", 10.81),
         AtomType(5, "H_B12H12", "H", "B12H12", 1.008)]


def _icosahedron(radius_A: float) -> np.ndarray:
    phi = (1 + 5 ** 0.5) / 2
    v = np.array([[0, s1, s2 * phi] for s1 in (-1, 1) for s2 in (-1, 1)], dtype=float)
    verts = np.concatenate([v, np.roll(v, 1, axis=1), np.roll(v, 2, axis=1)])
    return verts / np.linalg.norm(verts[0]) * radius_A


def synthetic_frames(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions (N_FRAMES, 34, 3), types (34,) and molecule ids (34,) of the synthetic run."""
    rng = np.random.default_rng(seed)
    na0 = np.array([[2.0, 2.0, 2.0], [2.0, 11.0, 6.0], [7.0, 12.0, 12.0], [12.0, 2.5, 7.0]])
    bh4 = np.array([7.0, 7.0, 3.5]) + np.vstack([[0, 0, 0], 1.21 / 3 ** 0.5 * np.array(
        [[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]])])
    cage_centre = np.array([7.0, 6.5, 9.5])
    b12 = cage_centre + _icosahedron(1.70)
    h12 = cage_centre + _icosahedron(2.90)
    frames = []
    for f in range(N_FRAMES):
        na = na0 + rng.normal(0, 0.05, na0.shape)
        na[0] += [6.0 * f / (N_FRAMES - 1), 0, 0]  # hops +6 A along x
        na[1] += [0, 0, 6.0 * f / (N_FRAMES - 1)]  # hops +6 A along z
        frames.append(np.vstack([na, bh4, b12, h12]))
    types = np.array([1] * 4 + [2] + [3] * 4 + [4] * 12 + [5] * 12)
    mol = np.array([0] * 4 + [1] * 5 + [2] * 24)
    return np.array(frames), types, mol


def gaussian_density(sites_A: np.ndarray, sigma_A: float, edge_A: float, spacing_A: float) -> np.ndarray:
    """Normalised Gaussians (one ion each) on the analysis's grid: bin averages ~ values at bin centres."""
    n = int(round(edge_A / spacing_A))
    centres = (np.arange(n) + 0.5) * edge_A / n
    x, y, z = np.meshgrid(centres, centres, centres, indexing="ij")
    rho = np.zeros_like(x)
    for s in sites_A:
        rho += np.exp(-((x - s[0]) ** 2 + (y - s[1]) ** 2 + (z - s[2]) ** 2) / (2 * sigma_A**2))
    return rho / ((2 * np.pi) ** 1.5 * sigma_A**3)


def write_synthetic_run(folder, with_analysis_files: bool = True, element_column: bool = False):
    """Write the synthetic run directory; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    positions, types, mol = synthetic_frames()
    cell = np.diag([EDGE_A] * 3)
    write_lammps_dump(folder / DUMP_FILE, positions, types, cells_A=cell, mol_ids=mol)
    if element_column:
        _add_element_column(folder / DUMP_FILE, {t.type: t.element for t in TYPES})
    RunManifest(temperature_K=600.0, dt_ps=0.001, types=list(TYPES), dump_every=10,
                production_start_step=0).write(folder)
    if with_analysis_files:
        disp = ((positions[-1, :4] - positions[0, :4]) ** 2).sum(axis=1)
        write_per_atom_csv(folder / PER_ATOM_FILE, PerAtom(np.arange(1, 5), disp, disp > 21.0))
        rho = gaussian_density(DENSITY_SITES_A, DENSITY_SIGMA_A, EDGE_A, DENSITY_SPACING_A)
        write_chgcar(folder / "Na_density.CHGCAR", rho, cell, ["Na", "Na"], DENSITY_SITES_A / EDGE_A)
    return folder


def _add_element_column(path, elements: dict[int, str]) -> None:
    """Rewrite ``id type mol ...`` dump lines as ``id type element mol ...`` (what decks write); a dump
    that already has the column is left as it is."""
    if "element" in next(line for line in path.read_text().splitlines() if line.startswith("ITEM: ATOMS")).split():
        return
    out, in_atoms = [], False
    for line in path.read_text().splitlines():
        if line.startswith("ITEM: ATOMS"):
            names = line.split()[2:]
            out.append("ITEM: ATOMS " + " ".join(names[:2] + ["element"] + names[2:]))
            in_atoms = True
            continue
        if line.startswith("ITEM:"):
            in_atoms = False
        if in_atoms:
            cols = line.split()
            line = " ".join(cols[:2] + [elements[int(cols[1])]] + cols[2:])
        out.append(line)
    path.write_text("\n".join(out) + "\n")


@pytest.fixture(scope="session")
def synthetic_run(tmp_path_factory):
    """Synthetic run directory with per_atom.csv and a Na density of two Gaussians."""
    return write_synthetic_run(tmp_path_factory.mktemp("viz") / "synthetic")


@pytest.fixture
def add_element_column():
    """The dump rewriter (``id type element mol ...``) for tests."""
    return _add_element_column


@pytest.fixture(scope="session")
def real_run(tmp_path_factory, nabh_model_f32, example_structures_dir):
    """A 40-step run of oNBH (128 atoms, both anion kinds) made with the plugin."""
    from pydriver.deck import write_run_directory
    from pydriver.deck.settings import MDSettings
    from pydriver.lammps.session import lammps_env, lmp_executable

    run_dir = tmp_path_factory.mktemp("viz_real") / "oNBH_600K"
    md = MDSettings(temperature_K=600.0, equil_steps=0, prod_steps=40, dump_every=10, thermo_every=10,
                    restart_every=1000)
    write_run_directory(example_structures_dir / "oNBH.extxyz", nabh_model_f32, run_dir, md=md,
                        replication=(1, 1, 1), model_dtype="float32")
    env = {**lammps_env(preload=False), "OMP_NUM_THREADS": "1"}  # the lmp launcher preloads libtorch
    subprocess.run([lmp_executable(), "-in", "in.lammps", "-var", "resume", "0", "-log", "none", "-screen", "none"],
                   cwd=run_dir, env=env, check=True, timeout=600)
    assert (run_dir / DUMP_FILE).is_file(), os.listdir(run_dir)
    return run_dir


BOUNDARY_HOPPERS = (1, 2, 3)
BOUNDARY_VIBRATORS = (4, 5)
HOP_A = 6.0
#: Na start positions of the boundary run (A); offsets per frame in :func:`boundary_frames`
BOUNDARY_NA0_A = np.array([[11.0, 10.0, 4.0], [6.0, 2.5, 11.0], [4.0, 6.0, 10.0],
                           [0.1, 4.0, 7.0], [10.0, 12.0, 13.8], [12.0, 6.0, 1.5]])
BOUNDARY_BH4_CENTRE_A = np.array([0.3, 7.0, 5.0])
BOUNDARY_CAGE_CENTRE_A = np.array([7.0, 13.6, 7.5])


def boundary_frames(seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unwrapped positions (N_FRAMES, 35, 3), types (35,) and molecule ids (35,) of the boundary run."""
    rng = np.random.default_rng(seed)
    bh4 = BOUNDARY_BH4_CENTRE_A + np.vstack([[0, 0, 0], 1.21 / 3 ** 0.5 * np.array(
        [[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]])])
    cage = np.vstack([BOUNDARY_CAGE_CENTRE_A + _icosahedron(1.70), BOUNDARY_CAGE_CENTRE_A + _icosahedron(2.90)])
    frames = []
    for f in range(N_FRAMES):
        na = BOUNDARY_NA0_A + rng.normal(0, 0.03, BOUNDARY_NA0_A.shape)
        hop = HOP_A * f / (N_FRAMES - 1)
        na[0, 0] += hop  # 11 -> 17: across x = L
        na[1, 1] -= hop  # 2.5 -> -3.5: across y = 0
        na[2, 0] += hop  # 4 -> 10: inside the cell, parallel to Na 1
        swing = 0.35 * np.sin(3 * np.pi * f / 20)  # 0 at the start, -0.35 A at the end
        na[3, 0] += swing  # 0.1 -> -0.25: across x = 0
        na[4, 2] -= swing  # 13.8 -> 14.15: across z = L
        frames.append(np.vstack([na, bh4, cage]))
    types = np.array([1] * 6 + [2] + [3] * 4 + [4] * 12 + [5] * 12)
    mol = np.array([0] * 6 + [1] * 5 + [2] * 24)
    return np.array(frames), types, mol


def write_boundary_run(folder, columns: str = "wrapped"):
    """Write the boundary run directory (``columns``: a key of ``synthetic.POSITION_STYLES``); returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    positions, types, mol = boundary_frames()
    write_lammps_dump(folder / DUMP_FILE, positions, types, cells_A=np.diag([EDGE_A] * 3), mol_ids=mol,
                      columns=columns)
    RunManifest(temperature_K=600.0, dt_ps=0.001, types=list(TYPES), dump_every=10,
                production_start_step=0).write(folder)
    return folder
