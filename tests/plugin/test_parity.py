"""LAMMPS ``run 0`` through the real plugin vs golden data of the corrected matgl 1.3.0 reference.

Tolerances (issue 3): float64 1e-5 eV/atom, 1e-4 eV/A, 1e-5 eV/A^3; float32 1e-4 eV/atom, 2e-3 eV/A.
Per-atom energies must sum to the total and match the reference's per-atom energies; the summed
per-atom virial (compute stress/atom) must equal the global virial.
"""

from __future__ import annotations

import numpy as np
import pytest

from pydriver.lammps.single_point import lammps_single_point
from tests.golden import CHECKPOINTS, NABH, TOL, golden_frames

pytestmark = pytest.mark.lammps


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("checkpoint", CHECKPOINTS)
def test_lammps_matches_reference(exported, checkpoint, dtype):
    model = exported(checkpoint, dtype)
    tol = TOL[dtype]
    elements = ["Na", "B", "H"] if checkpoint == NABH else None
    worst = {"energy": 0.0, "force": 0.0, "stress": 0.0}
    for atoms, ref in golden_frames(checkpoint):
        res = lammps_single_point(atoms, model, elements)
        n = len(atoms)
        de = abs(res.energy_eV - ref["energy"]) / n
        df = np.abs(res.forces_eV_A - np.array(ref["forces"])).max()
        ds = np.abs(res.stress_eV_A3 - np.array(ref["stress"])).max()
        name = atoms.info["name"]
        assert de < tol["energy_eV_atom"], f"{name}: energy off by {de:.2e} eV/atom"
        assert df < tol["force_eV_A"], f"{name}: forces off by {df:.2e} eV/A"
        assert ds < tol["stress_eV_A3"], f"{name}: stress off by {ds:.2e} eV/A^3"
        # per-atom energy and virial bookkeeping
        assert res.energies_eV.sum() == pytest.approx(res.energy_eV, abs=1e-8 * n)
        if ref["energies"] is not None:
            dea = np.abs(res.energies_eV - np.array(ref["energies"])).max()
            assert dea < 10 * tol["energy_eV_atom"], f"{name}: per-atom energies off by {dea:.2e}"
        np.testing.assert_allclose(res.atom_stress_sum_eV_A3, res.stress_eV_A3, atol=1e-10)
        worst = {k: max(worst[k], v) for k, v in zip(worst, (de, df, ds))}
    print(f"{checkpoint} {dtype}: max |dE| {worst['energy']:.1e} eV/atom, |dF| {worst['force']:.1e} eV/A, "
          f"|dS| {worst['stress']:.1e} eV/A^3")
