"""Build the parity structures and their golden reference data (matgl 1.3.0 DGL, corrected indexing).

Run from the repository root (needs the reference env of ../shared/tools, ~1 min):

    bash ../shared/tools/reference-env.sh ../refenv
    .venv/bin/python tests/data/golden/make_golden.py --refenv ../refenv

Writes ``structures_nabh.extxyz`` (Na-B-H cells, all three checkpoints), ``structures_extra.extxyz``
(NaCl, Si; universal checkpoints only) and ``golden_<checkpoint>.json`` (float64 energies, forces,
stress in eV/A^3 with ASE sign, per-atom energies). Structures are deterministic (fixed seeds).
"""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

import ase.io
import numpy as np
from ase import Atoms
from ase.build import bulk

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[2].parent / "shared"
MODELS = ["M3GNet-r2SCAN-NaBH", "M3GNet-MP-2021.2.8-PES", "M3GNet-MatPES-r2SCAN-v2025.1-PES"]
PHI = (1 + 5**0.5) / 2
TETRA = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) / np.sqrt(3)


def bh4(center: np.ndarray, sign: int, bh_A: float = 1.21) -> tuple[list[str], np.ndarray]:
    """B + 4 H; ``sign`` -1 gives the inverted tetrahedron."""
    return ["B"] + ["H"] * 4, np.vstack([center, center + sign * bh_A * TETRA])


def b12h12(center: np.ndarray, bb_A: float = 1.78, bh_A: float = 1.20) -> tuple[list[str], np.ndarray]:
    """Icosahedral B12H12 (vertices (0, +-1, +-phi) and cyclic permutations)."""
    verts = []
    for s1 in (1, -1):
        for s2 in (1, -1):
            verts += [[0, s1, s2 * PHI], [s1, s2 * PHI, 0], [s2 * PHI, 0, s1]]
    unit = np.array(verts) / np.linalg.norm(verts[0])
    r_b = bb_A * np.sin(2 * np.pi / 5)
    return ["B"] * 12 + ["H"] * 12, np.vstack([center + r_b * unit, center + (r_b + bh_A) * unit])


def nabh4_ordered(a_A: float = 6.10) -> Atoms:
    """Ordered cubic NaBH4, 24 atoms: rock-salt Na/B, tetrahedra alternating in orientation."""
    fcc = np.array([[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]]) * a_A
    symbols, pos = [], []
    for i, p in enumerate(fcc):
        s, x = bh4(p + np.array([0.5 * a_A, 0, 0]), 1 if i % 2 == 0 else -1)
        symbols += ["Na"] + s
        pos += [p] + list(x)
    return Atoms(symbols, positions=pos, cell=np.eye(3) * a_A, pbc=True)


def na2b12h12_primitive(a_A: float = 9.6) -> Atoms:
    """Antifluorite-like Na2B12H12 in the fcc primitive cell (26 atoms, triclinic, edges 6.8 A)."""
    cell = 0.5 * a_A * np.array([[0, 1, 1], [1, 0, 1], [1, 1, 0]])
    s, x = b12h12(np.zeros(3))
    na = np.array([[0.25, 0.25, 0.25], [0.75, 0.75, 0.75]]) @ cell
    return Atoms(s + ["Na", "Na"], positions=np.vstack([x, na]), cell=cell, pbc=True)


def mixed_nbh(a_A: float = 8.0) -> Atoms:
    """Na3(BH4)(B12H12) toy cubic cell (32 atoms): B12H12 at the origin, BH4 at the body centre."""
    s1, x1 = b12h12(np.zeros(3))
    s2, x2 = bh4(np.full(3, 0.5 * a_A), 1)
    na = np.array([[0.5, 0, 0], [0, 0.5, 0], [0, 0, 0.5]]) * a_A
    return Atoms(s1 + s2 + ["Na"] * 3, positions=np.vstack([x1, x2, na]), cell=np.eye(3) * a_A, pbc=True)


def rattled(atoms: Atoms, seed: int, amp_A: float = 0.08, strain: float = 0.02) -> Atoms:
    rng = np.random.default_rng(seed)
    out = atoms.copy()
    eps = np.eye(3) + strain * (rng.random((3, 3)) - 0.5)
    out.set_cell(out.cell @ eps, scale_atoms=True)
    out.positions += amp_A * rng.standard_normal(out.positions.shape)
    return out


def triclinic(atoms: Atoms) -> Atoms:
    out = atoms.copy()
    shear = np.array([[1.0, 0.0, 0.0], [0.12, 1.0, 0.0], [-0.08, 0.15, 1.0]])
    out.set_cell(out.cell @ shear, scale_atoms=True)
    return out


def nabh4_smallest(a_A: float = 6.10) -> Atoms:
    """NaBH4 rock-salt primitive cell (6 atoms, edges 4.3 A < cutoff): many images of each neighbour."""
    cell = 0.5 * a_A * np.array([[0, 1, 1], [1, 0, 1], [1, 1, 0]])
    s, x = bh4(np.array([0.5 * a_A, 0, 0]), 1)
    return rattled(Atoms(["Na"] + s, positions=np.vstack([np.zeros(3), x]), cell=cell, pbc=True), seed=3, strain=0)


def nabh_structures() -> list[Atoms]:
    base = nabh4_ordered()
    frames = {
        "nabh4_ordered": base,
        "na2b12h12_fcc_primitive": rattled(na2b12h12_primitive(), seed=1, amp_A=0.03),
        "na3_bh4_b12h12_mixed": rattled(mixed_nbh(), seed=2, amp_A=0.03),
        "nabh4_rattled": rattled(base, seed=4),
        "nabh4_triclinic": rattled(triclinic(base), seed=5, amp_A=0.04, strain=0.0),
        "nabh4_primitive_small": nabh4_smallest(),
    }
    out = []
    for name, atoms in frames.items():
        atoms.wrap()
        atoms.info["name"] = name
        out.append(atoms)
    return out


def extra_structures() -> list[Atoms]:
    nacl = rattled(bulk("NaCl", "rocksalt", a=5.69, cubic=True), seed=6, amp_A=0.05)
    si = rattled(bulk("Si", "diamond", a=5.43), seed=7, amp_A=0.05)
    for name, atoms in (("nacl_rattled", nacl), ("si_primitive_rattled", si)):
        atoms.wrap()
        atoms.info["name"] = name
    return [nacl, si]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--refenv", type=Path, required=True, help="reference env built by reference-env.sh")
    ap.add_argument("--models", type=Path, default=SHARED / "models")
    a = ap.parse_args()
    ase.io.write(HERE / "structures_nabh.extxyz", nabh_structures())
    ase.io.write(HERE / "structures_extra.extxyz", nabh_structures() + extra_structures())
    for model in MODELS:
        inp = HERE / ("structures_nabh.extxyz" if model == MODELS[0] else "structures_extra.extxyz")
        subprocess.run([str(a.refenv / "bin" / "python"), str(SHARED / "tools" / "reference_calc.py"),
                        str(a.models / model), str(inp), str(HERE / f"golden_{model}.json"), "--dtype", "float64"],
                       check=True)


if __name__ == "__main__":
    main()
