"""The CPU study (examples/study_cpu): its configs cannot rot, and the committed results agree with themselves.

* ``study512.yaml`` (the study in the 10 A cell) and ``study.yaml`` (the first pass in the unit cells)
  load and expand into the runs the README lists.
* The study's pipeline (same structures, model, dtype, analysis options) runs end to end on one
  short run of the cheapest structure with the real plugin: MD, analysis, report.
* The committed results were made by their config: every reported run is one of the config's runs
  (all of them for the finished first pass; the 10 A study is committed run by run as runs finish),
  each manifest's parameters equal to what the config writes today, and every number of the
  committed report equal to the run's ``analysis.json``.

The whole committed report, the claims and the README's tables are regenerated in test_study_results.py.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml

from pydriver.cli.main import main
from pydriver.report.rows import run_row
from pydriver.sweep.config import config_from_dict, load_config
from pydriver.sweep.expand import expand

REPO_ROOT = Path(__file__).resolve().parents[2]
STUDY = REPO_ROOT / "examples" / "study_cpu"
CONFIG = STUDY / "study512.yaml"
#: (config, results, all runs finished)
STUDIES = [pytest.param(STUDY / "study512.yaml", STUDY / "results512", False, id="study512"),
           pytest.param(STUDY / "study.yaml", STUDY / "results", True, id="study")]
#: report columns that must equal the run's analysis.json (through run_row, the report's own reader)
CHECKED_COLUMNS = ("diffusivity_cm2_s", "diffusivity_std_cm2_s", "conductivity_mS_cm", "conductivity_std_mS_cm",
                   "active_fraction", "temperature_K", "measured_temperature_K", "diffusive", "loglog_slope")


@pytest.mark.parametrize("config_file", [STUDY / "study512.yaml", STUDY / "study.yaml"], ids=["study512", "study"])
def test_study_config_expands_to_the_documented_runs(config_file):
    config = load_config(config_file)
    names = [r.name for r in expand(config)]
    assert len(names) == len(set(names))
    readme = (STUDY / "README.md").read_text()
    for name in names:
        assert f"`{name}`" in readme, f"{name} is not listed in examples/study_cpu/README.md"
    assert config.model.dtype == "float32" and config.md.dt_ps == 0.001


@pytest.mark.lammps
@pytest.mark.slow  # ~25 s: the study config's pipeline (the same pipeline as the tiny sweeps of the fast tier)
def test_study_pipeline_on_one_short_run(tmp_path, monkeypatch, capsys):
    """The study's own config with one structure (its unit cell), one temperature and a few steps:
    MD -> analysis -> report."""
    data = yaml.safe_load(CONFIG.read_text())
    cheapest = next(s for s in data["structures"] if s["name"] == "NaBH4")
    cheapest["scans"] = [{"temperatures_K": [cheapest["scans"][0]["temperatures_K"][0]]}]
    cheapest["supercell"] = [1, 1, 1]  # 24 atoms: the pipeline, not the 10 A cell
    data["structures"] = [cheapest]
    data["md"].update(equil_steps=20, prod_steps=200, thermo_every=10, restart_every=50, dump_every=2)
    data["output"] = str(tmp_path / "out")
    data["model"]["compile"] = False  # the pipeline, not the engine: no 1-3 min compile in the fast tier
    config = config_from_dict(data, str(CONFIG), base_dir=STUDY)
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(json.loads(config.model_dump_json()), sort_keys=False))
    monkeypatch.chdir(tmp_path)
    assert main(["-q", "sweep", "run", str(tmp_path / "study.yaml"), "--no-progress"]) == 0
    [run] = expand(config)
    analysis = json.loads((tmp_path / "out" / run.name / "analysis.json").read_text())
    assert analysis["run"]["temperature_K"] == run.temperature_K
    assert analysis["run"]["n_atoms"] == 24 and analysis["run"]["last_step"] == 220  # 20 + 200 steps
    report = json.loads((tmp_path / "out" / "report" / "report.json").read_text())
    [row] = report["runs"]
    assert row["diffusivity_cm2_s"] == pytest.approx(analysis["transport"]["diffusivity_cm2_s"], rel=1e-12)


def _equal(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-9, abs=0)
    return a == b


@pytest.mark.parametrize(("config_file", "results", "complete"), STUDIES)
def test_committed_results_agree_with_the_config_and_themselves(config_file, results, complete):
    if not (results / "report" / "report.json").is_file():
        pytest.skip("study results not committed yet")
    config = load_config(config_file)
    expected = {r.name: r for r in expand(config)}
    report = json.loads((results / "report" / "report.json").read_text())
    rows = {Path(r["run_dir"]).name: r for r in report["runs"]}
    analysed = sorted(p.parent.name for p in results.glob("*/analysis.json"))
    assert sorted(rows) == analysed, "the committed report is not the committed analyses"
    if complete:
        assert sorted(rows) == sorted(expected), "the committed report is not the committed config's runs"
    assert set(rows) <= set(expected), f"runs not in {config_file.name}: {sorted(set(rows) - set(expected))}"
    for name, row in rows.items():
        manifest = json.loads((results / name / "run.json").read_text())
        assert manifest["temperature_K"] == expected[name].temperature_K
        assert {k: float(v) for k, v in manifest["mass_factors"].items()} == expected[name].mass_factors
        analysis = json.loads((results / name / "analysis.json").read_text())
        assert _equal(row["diffusivity_cm2_s"], analysis["transport"]["diffusivity_cm2_s"])
        assert _equal(row["conductivity_mS_cm"], analysis["transport"]["conductivity_mS_cm"])
        assert _equal(row["active_fraction"], analysis["active"]["active_fraction"])
        for kind, rotation in analysis["rotation"].items():
            assert _equal(row[f"rotation_{kind}_rad_ps"], rotation["rotation_rate_rad_ps"])
        fresh = run_row(results / name / "analysis.json")
        for column in CHECKED_COLUMNS:
            assert _equal(row.get(column), fresh.get(column)), (name, column, row.get(column), fresh.get(column))
