"""examples/structures/thermo_tables.py: the README's thermo tables are what it prints from the committed
thermo.json, and a file with missing parts (an older or unfinished run) prints "not computed" instead of failing.

After a new thermo run: ``.venv/bin/python examples/structures/thermo_tables.py THERMO_JSON --write-readme``.
"""

from __future__ import annotations

import copy
import importlib.util
import json

import pytest

from pydriver.report.generated import read_blocks
from tests.conftest import EXAMPLE_STRUCTURES

SCRIPT = EXAMPLE_STRUCTURES / "thermo_tables.py"
TABLES = ("reaction", "hull", "phases", "phase_energies")


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("structures_thermo_tables", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_blocks_are_what_the_script_prints(script):
    """Every block ``<folder>.<table>`` of examples/structures/README.md equals the script's output for
    ``<folder>/thermo.json``; the committed harmonic result has its four blocks."""
    blocks = read_blocks((EXAMPLE_STRUCTURES / "README.md").read_text())
    thermo = {name: text for name, text in blocks.items() if name.rpartition(".")[2] in TABLES}
    assert {f"thermo_nabh.{t}" for t in TABLES} <= set(thermo), "README.md lacks a block of thermo_nabh"
    for folder in sorted({name.rpartition(".")[0] for name in thermo}):
        path = EXAMPLE_STRUCTURES / folder / "thermo.json"
        assert path.is_file(), f"README.md has blocks of {folder}/thermo.json, which is not there"
        for name, text in script.blocks(path).items():
            assert thermo.get(name) == text.strip("\n"), (
                f"README block {name!r} differs from what thermo_tables.py prints: run "
                f"`.venv/bin/python examples/structures/thermo_tables.py examples/structures/{folder}/thermo.json "
                "--write-readme`")


def _partial() -> dict:
    """A run of two finished phases (a crystal A2, a gas) out of three, A2 <- gas: no contributions, band, QHA."""
    grid = [0.0, 300.0, 600.0, 900.0]
    crystal = {"n_atoms": 2, "n_formula_units": 1.0, "static_energy_eV": -2.0, "static_energy_per_atom_eV": -1.0,
               "space_group": "Fm-3m (225)", "relaxation": {"steps": 5, "converged": True, "max_force_eV_A": 1e-3},
               "phonons": {"temperatures_K": grid, "supercell": [2, 2, 2], "n_displacements": 1, "mesh": [4, 4, 4],
                           "n_imaginary_gamma": 1, "n_imaginary_mesh": 3, "lowest_frequency_THz": -0.5},
               "free_energy_eV": [-1.9, -2.0, -2.2, -2.5], "lattice": {"volume_A3": 10.0}, "wall_s": 30.0}
    gas = {"n_atoms": 2, "n_formula_units": 1.0, "static_energy_eV": -6.0, "static_energy_per_atom_eV": -3.0,
           "gas": {"temperatures_K": grid}, "free_energy_eV": [-5.8, -6.0, -6.3, -6.6], "wall_s": 1.0}
    return {"spec": {"temperatures_K": [300, 600], "target": "A2", "reaction": {"A2": 1, "G": -1},
                     "phases": [{"name": "A2"}, {"name": "G", "gas": {}}, {"name": "B"}]},
            "phases": {"A2": crystal, "G": gas},
            "e_above_hull_eV_atom": {"static": {"A2": 0.01}, "300K": {"A2": 0.005}},
            "reaction": {"coefficients": {"A2": 1, "G": -1}, "dE_static_eV_per_fu": 0.1,
                         "dG_eV_per_fu": {"300K": 0.05, "600K": -0.02}, "temperatures_K": grid, "sign_change_K": 450.0}}


def test_missing_parts_read_not_computed(script):
    out = script.tables(_partial(), "run/thermo.json")
    reaction = out["reaction"]
    assert "(meV per atom, 2 atoms per formula unit)" in reaction
    assert "| harmonic vibrations (imaginary modes dropped) | -0.050 (-25.0) | -0.120 (-60.0) |" in reaction  # dG - static
    for row in ("QHA - harmonic", "anharmonic (MD, Gibbs-Helmholtz) - harmonic", "configurational, -T S_config as used",
                "band over the modelling choices: min / max"):
        assert f"| {row} | not computed | not computed |" in reaction
    assert "central curve: 450 K in 0-900 K; band not computed" in reaction
    assert "| 300 K | +5.0 | not computed |" in out["hull"] and "| 600 K | - | not computed |" in out["hull"]
    assert "| B | " + " | ".join(["not computed"] * 8) + " |" in out["phases"]
    assert "| A2 | Fm-3m (225) | 5, converged | 0 | 2x2x2 (16) | 1 | 4x4x4 (ladder not computed) | 1 / 3 (-0.50 THz) | ≥ 30 s |" \
        in out["phases"]
    assert "Compute time (one core): ≥ 31 s in all (2 of 3 phases)" in out["phases"]
    energies = out["phase_energies"]
    assert "| A2 | -1.00000 | +0.0000 | -0.1000 | not computed | not computed | not computed | not computed |" in energies
    assert "| G | -3.00000 | +0.0000 | -0.1500 | - | - | not computed | - |" in energies
    assert "| B | " + " | ".join(["not computed"] * 7) + " |" in energies
    # no reaction, no target, no phases yet: one line each, no failure
    empty = script.tables({"spec": {"phases": [{"name": "A2"}]}, "phases": {}}, "x.json")
    assert "not computed (no reaction in this file yet)" in empty["reaction"] and "no target" in empty["hull"]


def test_full_parts_band_and_bracket(script):
    data = _partial()
    grid = data["reaction"]["temperatures_K"]
    data["reaction"]["contributions_eV_per_fu"] = {
        "static": 0.1, "harmonic_vibrations": {"300K": -0.05, "600K": -0.1},
        "imaginary_treatments_minus_dropped": {"abs": {"300K": -0.002, "600K": -0.004}, "floor": {"300K": -0.01, "600K": -0.02}},
        "configurational": {"300K": -0.02, "600K": -0.04}, "qha_minus_harmonic": {"300K": 0.004, "600K": None}}
    data["band"] = {"n_combinations": 6, "reaction": {
        "temperatures_K": grid, "dG_min_eV_per_fu": [0.09, 0.0, -0.1, -0.2], "dG_max_eV_per_fu": [0.11, 0.1, 0.02, -0.01],
        "sign_change_bracket_K": [300.0, 847.4], "sign_change_bracket_open_ends": [False, False],
        "sign_change_K_over_combinations": [450.0, 800.0], "n_combinations_with_sign_change": 3},
        "hull": {"temperatures_K": grid, "candidates": {"A2": {"distance_meV_atom": {
            "central": [10.0, 5.0, 1.0, None], "min": [9.0, 1.0, -3.0, None], "max": [11.0, 9.0, 5.0, None]}}}},
        "line": {"temperatures_K": [0.0, 300.0, 600.0, 900.0]}}
    reaction = script.tables(data, "run/thermo.json")["reaction"]
    assert "| QHA - harmonic | +0.004 (+2.0) | undefined |" in reaction  # defined at 300 K only
    assert "| imaginary modes counted at abs(f): abs - dropped | -0.002 (-1.0) | -0.004 (-2.0) |" in reaction
    assert "| anharmonic (MD, Gibbs-Helmholtz) - harmonic | not computed | not computed |" in reaction
    assert "| band over 6 combinations: min / max | +0.000 (+0.0) / +0.100 (+50.0) | -0.100 (-50.0) / +0.020 (+10.0) |" \
        in reaction
    assert "the band contains 0 from 300 to 847 K; 3 of 6 combinations change sign, at 450-800 K" in reaction
    hull = script.tables(data, "run/thermo.json")["hull"]
    assert "| 0 K | - | +10.0 [+9.0, +11.0] |" in hull and "| 600 K | - | +1.0 [-3.0, +5.0] |" in hull
    assert "| 900 K | - | - [-, -] |" in hull  # no value there


def test_default_and_write_readme(script, tmp_path, monkeypatch, capsys):
    """The full run is the default only when complete; --write-readme fills existing markers, refuses missing ones."""
    data = _partial()
    full = tmp_path / "full" / "thermo.json"
    full.parent.mkdir()
    full.write_text(json.dumps(data))
    monkeypatch.setattr(script, "FULL", full)
    assert script.complete(full) == "no band, 1 phases missing" and script.default_path()[0] == script.HARMONIC
    done = copy.deepcopy(data)
    done["band"], done["phases"]["B"] = {"n_combinations": 1}, data["phases"]["A2"]
    full.write_text(json.dumps(done))
    assert script.complete(full) is None and script.default_path()[0] == full
    readme = tmp_path / "README.md"
    readme.write_text("text\n<!-- generated: full.hull -->\n<!-- /generated -->\n")
    assert script.main([str(full), "--readme", str(readme)]) == 0 and "not computed" in capsys.readouterr().out
    assert script.main([str(full), "--write-readme", "--readme", str(readme)]) == 1  # no full.reaction block
    assert "no generated block full.phase_energies, full.phases, full.reaction" in capsys.readouterr().err
    readme.write_text("".join(f"<!-- generated: full.{t} -->\n<!-- /generated -->\n" for t in TABLES))
    assert script.main([str(full), "--write-readme", "--readme", str(readme)]) == 0
    assert read_blocks(readme.read_text()) == {k: v.strip("\n") for k, v in script.blocks(full).items()}
