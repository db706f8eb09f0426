"""Expansion of a sweep into deterministically named runs (dry-run) and writing their run directories."""

from __future__ import annotations

import json

import pytest

from pydriver.sweep.config import config_from_dict
from pydriver.sweep.expand import anion_tag, expand, mass_combinations, run_name
from pydriver.sweep.runner import plan, prepare


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "model.pt"
    path.write_bytes(b"placeholder")
    return str(path)


def test_run_name():
    assert run_name("oNBH", 400.0, {"BH4": 1.0, "B12H12": 5.0}, 1) == "oNBH_T400_bh4x1_b12x5_s1"
    assert run_name("NaBH4", 412.5, {"BH4": 1.5}, 12) == "NaBH4_T412.5_bh4x1.5_s12"
    assert anion_tag("B10H10") == "b10"


def test_mass_combinations():
    factors = {"BH4": [1, 2], "B12H12": [1, 5]}
    assert mass_combinations(factors, "product") == [{"BH4": 1, "B12H12": 1}, {"BH4": 1, "B12H12": 5},
                                                     {"BH4": 2, "B12H12": 1}, {"BH4": 2, "B12H12": 5}]
    assert mass_combinations(factors, "one_at_a_time") == [{"BH4": 1, "B12H12": 1}, {"BH4": 2, "B12H12": 1},
                                                           {"BH4": 1, "B12H12": 5}]
    assert mass_combinations(factors, "together") == [{"BH4": f, "B12H12": f} for f in (1, 2, 5)]
    with pytest.raises(ValueError, match="mass_mode 'x'; allowed"):
        mass_combinations(factors, "x")


def test_dry_run_expansion_order_and_dedup(example_structures_dir, model, tmp_path):
    cfg = config_from_dict({
        "structures": [{"file": str(example_structures_dir / "oNBH.extxyz"), "name": "oNBH"},
                       str(example_structures_dir / "NaBH4.extxyz")],
        "temperatures_K": [400, 500], "mass_factors": {"BH4": [1], "B12H12": [1, 5]}, "seeds": [1, 7],
        "model": {"path": model}, "output": str(tmp_path / "out")})
    names = [r.name for r in expand(cfg)]
    assert names[:4] == ["oNBH_T400_bh4x1_b12x1_s1", "oNBH_T400_bh4x1_b12x1_s7", "oNBH_T500_bh4x1_b12x1_s1",
                         "oNBH_T500_bh4x1_b12x1_s7"]
    assert "oNBH_T500_bh4x1_b12x5_s7" in names
    # NaBH4 has no B12H12: its b12x5 runs would repeat b12x1 and are dropped
    assert [n for n in names if n.startswith("NaBH4")] == [
        "NaBH4_T400_bh4x1_b12x1_s1", "NaBH4_T400_bh4x1_b12x1_s7", "NaBH4_T500_bh4x1_b12x1_s1",
        "NaBH4_T500_bh4x1_b12x1_s7"]
    assert len(names) == 8 + 4 and names == [r.name for r in expand(cfg)]  # deterministic
    runs = plan(cfg)
    assert runs[0].run_dir == tmp_path / "out" / names[0]
    assert not (tmp_path / "out").exists()  # planning writes nothing


def test_structure_scans_union_without_repeats(example_structures_dir, model, tmp_path):
    """A temperature series plus a mass experiment at one temperature: the shared run exists once."""
    cfg = config_from_dict({
        "structures": [{"file": str(example_structures_dir / "oNBH.extxyz"), "name": "oNBH",
                        "scans": [{"temperatures_K": [500, 600]},
                                  {"temperatures_K": [600], "mass_factors": {"BH4": [1, 5], "B12H12": [1, 5]}}]},
                       {"file": str(example_structures_dir / "NaBH4.extxyz"), "name": "NaBH4"}],
        "temperatures_K": [700], "mass_factors": {"BH4": [1], "B12H12": [1]},
        "model": {"path": model}, "output": str(tmp_path / "out")})
    names = [r.name for r in expand(cfg)]
    assert names == ["oNBH_T500_bh4x1_b12x1_s1", "oNBH_T600_bh4x1_b12x1_s1", "oNBH_T600_bh4x1_b12x5_s1",
                     "oNBH_T600_bh4x5_b12x1_s1", "oNBH_T600_bh4x5_b12x5_s1",
                     "NaBH4_T700_bh4x1_b12x1_s1"]  # no scans: the top-level keys
    with pytest.raises(ValueError, match=r"structures.0.scans.0.temperatures_K.*listed more than once"):
        config_from_dict({"structures": [{"file": str(example_structures_dir / "oNBH.extxyz"),
                                          "scans": [{"temperatures_K": [500, 500]}]}], "model": {"path": model}})
    with pytest.raises(ValueError, match="unknown key 'temperature'"):
        config_from_dict({"structures": [{"file": str(example_structures_dir / "oNBH.extxyz"),
                                          "scans": [{"temperature": [500]}]}], "model": {"path": model}})


def test_prepare_writes_decks_and_refuses_changed_parameters(example_structures_dir, model, tmp_path):
    data = {"structures": [{"file": str(example_structures_dir / "NaBH4.extxyz"), "supercell": [1, 1, 1]}],
            "temperatures_K": [450], "mass_factors": {"BH4": [1, 3]}, "model": {"path": model},
            "md": {"equil_steps": 10, "prod_steps": 20, "dump_every": 5}, "output": str(tmp_path / "out")}
    cfg = config_from_dict(data)
    runs = plan(cfg)
    prepare(cfg, runs, cfg.model.path)
    manifest = json.loads((runs[1].run_dir / "run.json").read_text())
    assert manifest["temperature_K"] == 450 and manifest["mass_factors"] == {"BH4": 3.0}
    assert manifest["n_atoms"] == 24 and manifest["seed"] == 1 and manifest["prod_steps"] == 20
    assert json.loads((runs[1].run_dir / "sweep_state.json").read_text())["status"] == "pending"
    prepare(cfg, runs, cfg.model.path)  # idempotent
    changed = config_from_dict({**data, "md": {**data["md"], "prod_steps": 40}})
    prepare(changed, plan(changed), cfg.model.path)  # decks that never ran are rewritten
    assert json.loads((runs[1].run_dir / "run.json").read_text())["prod_steps"] == 40
    state = json.loads((runs[1].run_dir / "sweep_state.json").read_text())
    assert state["parameters"]["md.prod_steps"] == 40 and state["parameters"]["temperature_K"] == 450
    (runs[1].run_dir / "log.lammps").write_text("Step Temp\n   10 450\n")  # it ran
    (runs[1].run_dir / "restart" / "restart.10").write_bytes(b"LammpS RestartT\0" * 2)
    with pytest.raises(ValueError, match=r"the config changed for 1 run\(s\) that ran with other parameters: "
                                         r"NaBH4_T450_bh4x3_s1 \(md.prod_steps 40 -> 20\); rerun exactly those with "
                                         r"`sweep run CONFIG --rerun-changed`"):
        prepare(cfg, plan(cfg), cfg.model.path)


def test_replicate_files_are_replicates_of_every_condition(example_structures_dir, model, tmp_path):
    """Other structure files of one phase (e.g. Na orderings) run at every condition, named ``_o<k>``."""
    base = example_structures_dir / "NaBH4.extxyz"
    other = tmp_path / "NaBH4_ordering2.extxyz"
    other.write_text(base.read_text())
    cfg = config_from_dict({
        "structures": [{"file": str(base), "name": "NaBH4", "replicate_files": [str(other)]}],
        "temperatures_K": [400, 500], "mass_factors": {"BH4": [1]}, "replicas": 2,
        "model": {"path": model}, "output": str(tmp_path / "out")})
    runs = expand(cfg)
    # each file's runs draw velocities with their own seeds: o1 seeds 1, 2; o2 seeds 3, 4
    assert [r.name for r in runs] == [f"NaBH4_T{t}_bh4x1_o{k}_s{s + 2 * (k - 1)}"
                                      for t in (400, 500) for k in (1, 2) for s in (1, 2)]
    assert [r.seed for r in runs[:4]] == [1, 2, 3, 4]
    assert {r.structure for r in runs} == {"NaBH4"}  # one phase: the report pools them as replicates
    assert [r.structure_file for r in runs[:4]] == [str(base)] * 2 + [str(other)] * 2
    assert runs[2].structure_index == 2 and runs[2].as_dict()["structure_index"] == 2
    with pytest.raises(FileNotFoundError, match=r"replicate_files missing.extxyz \(relative to the working"):
        config_from_dict({"structures": [{"file": str(base), "replicate_files": ["missing.extxyz"]}],
                          "model": {"path": model}})
    cfg = config_from_dict({
        "structures": [{"file": str(base), "name": "NaBH4",
                        "replicate_files": [str(example_structures_dir / "Na2B12H12.extxyz")]}],
        "temperatures_K": [400], "model": {"path": model}, "output": str(tmp_path / "out2")})
    with pytest.raises(ValueError, match="replicate files must be the same phase"):
        expand(cfg)
