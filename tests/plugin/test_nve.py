"""Energy conservation in NVE through the real plugin: 48-atom NaBH4, float64, 0.5 fs, 250 steps.

The corrected three-body indexing makes the energy smooth; matgl 1.3.0 as shipped jumps by up to
9e-3 eV per step in such a run (SCIENCE.md), i.e. 1.9e-4 eV/atom per jump in this cell. Measured
here (2-core CI machine): drift -1.6e-4 eV/atom/ps, max |E - <E>| 7.8e-5 eV/atom, mean T 322 K (96 atoms
and 500 steps: 3.4e-5 and 1.0e-4); the bounds below leave a margin of more than 6x. The per-atom
fluctuation is set by the first 100 steps (velocities from a Maxwell draw settling), so it hardly changes
with cell size or run length; the drift fit needs about 250 steps to fall well below its bound.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ase.io.lammpsdata import write_lammps_data

from pydriver.lammps.session import lammps_env
from tests.golden import NABH, golden_frames

pytestmark = [pytest.mark.lammps, pytest.mark.slow]
N_STEPS = 250
DT_PS = 0.0005

DECK = """units metal
atom_style atomic
read_data data.lmp
pair_style m3gnet
pair_coeff * * {model} Na B H
velocity all create 600.0 4928459 mom yes rot yes dist gaussian
timestep {dt}
fix nve all nve
thermo 10
thermo_style custom step temp pe ke etotal
thermo_modify format float %.10f
run {steps}
"""


def test_nve_energy_drift(exported, tmp_path):
    atoms = next(a for a, _ in golden_frames(NABH) if a.info["name"] == "nabh4_ordered") * (2, 1, 1)
    write_lammps_data(tmp_path / "data.lmp", atoms, specorder=["Na", "B", "H"], masses=True, units="metal")
    (tmp_path / "in.nve").write_text(DECK.format(model=exported(NABH, "float64"), dt=DT_PS, steps=N_STEPS))
    lmp = Path(sys.executable).parent / "lmp"
    out = subprocess.run([str(lmp), "-in", "in.nve"], cwd=tmp_path, env=lammps_env(preload=False), capture_output=True,
                         text=True, timeout=1500)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    rows = []
    lines = out.stdout.splitlines()
    start = next(k for k, line in enumerate(lines) if line.split()[:2] == ["Step", "Temp"])
    for line in lines[start + 1:]:
        parts = line.split()
        if len(parts) != 5 or not parts[0].isdigit():
            break
        rows.append([float(p) for p in parts])
    data = np.array(rows)
    assert data.shape[0] == N_STEPS // 10 + 1
    time_ps = data[:, 0] * DT_PS
    etot_per_atom = data[:, 4] / len(atoms)
    slope = np.polyfit(time_ps, etot_per_atom, 1)[0]
    fluct = np.abs(etot_per_atom - etot_per_atom.mean()).max()
    print(f"NVE {len(atoms)} atoms, {N_STEPS} x {DT_PS * 1000:.1f} fs: drift {slope:.2e} eV/atom/ps, "
          f"max |dE| {fluct:.2e} eV/atom, T {data[:, 1].mean():.0f} K")
    assert data[:, 1].mean() > 150  # the run really moved
    assert abs(slope) < 2e-3
    assert fluct < 5e-4
