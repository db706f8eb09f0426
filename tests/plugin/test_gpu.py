"""CUDA parity: the plugin with `device cuda` against the float64 reference (skipped without CUDA)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pydriver.lammps.single_point import lammps_single_point
from tests.golden import NABH, TOL, golden_frames

pytestmark = [pytest.mark.gpu, pytest.mark.lammps,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device visible to torch")]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("comm", ["auto", "halo"])
def test_cuda_matches_reference(exported, dtype, comm):
    model = exported(NABH, dtype)
    tol = TOL[dtype]
    for atoms, ref in golden_frames(NABH):
        res = lammps_single_point(atoms, model, ["Na", "B", "H"], pair_style=f"m3gnet device cuda comm {comm}")
        assert abs(res.energy_eV - ref["energy"]) / len(atoms) < tol["energy_eV_atom"]
        assert np.abs(res.forces_eV_A - np.array(ref["forces"])).max() < tol["force_eV_A"]
        assert np.abs(res.stress_eV_A3 - np.array(ref["stress"])).max() < tol["stress_eV_A3"]
