"""Memory stays flat over an MD run: no allocation grows with run length (issue 11).

LAMMPS runs in a child process with the production environment (:func:`lammps_env`: libtorch and
tcmalloc preloaded), 96 NaBH4 atoms in float32, neighbour lists rebuilt as atoms move. The resident
set size after step 200 must be within 5 % of that after step 20 (not a timing).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pydriver.lammps.session import lammps_env
from tests.conftest import EXAMPLE_STRUCTURES
from tests.golden import NABH

pytestmark = pytest.mark.lammps

SCRIPT = """
import json, sys
import numpy as np
import ase.io
from ase.data import atomic_masses, atomic_numbers
from ase.io.lammpsdata import write_lammps_data
from pydriver.lammps.session import start_lammps

def rss_kB():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

atoms = ase.io.read(sys.argv[1]) * (2, 2, 1)
write_lammps_data(sys.argv[3], atoms, specorder=["Na", "B", "H"], masses=False, units="metal")
lmp = start_lammps()
lmp.commands_list(["units metal", "atom_style atomic", f"read_data {sys.argv[3]}"]
                  + [f"mass {t} {atomic_masses[atomic_numbers[e]]}" for t, e in enumerate(["Na", "B", "H"], 1)]
                  + ["pair_style m3gnet", f"pair_coeff * * {sys.argv[2]} Na B H",
                     "neighbor 0.5 bin", "neigh_modify every 1 delay 0 check yes",
                     "velocity all create 600 7", "fix nve all nve", "timestep 0.0005", "thermo 0"])
lmp.command("run 20")
after20 = rss_kB()
lmp.command("run 180 pre no post no")
after200 = rss_kB()
print(json.dumps({"rss20_kB": after20, "rss200_kB": after200,
                  "steps": int(lmp.extract_global("ntimestep"))}))
lmp.close()
"""


@pytest.mark.slow  # 20 s on 2 busy cores: 200 MD steps
def test_rss_flat_over_200_steps(exported, tmp_path):
    model = exported(NABH, "float32")
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(EXAMPLE_STRUCTURES / "NaBH4.extxyz"), str(model),
                          str(tmp_path / "data.lmp")], env=dict(lammps_env(), OMP_NUM_THREADS="1"),
                         capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    growth = res["rss200_kB"] / res["rss20_kB"] - 1
    print(f"RSS after step 20: {res['rss20_kB'] / 1024:.0f} MiB, after 200: {res['rss200_kB'] / 1024:.0f} MiB "
          f"({100 * growth:+.1f} %)")
    assert abs(growth) < 0.05, res
