"""The CPU study's committed results regenerate (no MD, seconds).

For the study in the 10 A cell (``results512/``) and the first pass in the unit cells (``results/``):

* ``report/report.json`` is what the report code makes of the committed per-run analyses
  (every number, not only the checked columns of test_study_cpu.py);
* ``claims.json`` is what ``claims.py`` makes of the committed report and thermodynamics;

and every generated block of ``examples/study_cpu/README.md`` is what ``summarize.py`` and ``claims.py``
print now for ``results512/``.

After new runs or a change of the report code: ``.venv/bin/python examples/study_cpu/regenerate.py`` (and
``regenerate.py examples/study_cpu/results`` for the first pass).
"""

from __future__ import annotations

import importlib.util
import json
import math
import shutil
from pathlib import Path

import pytest

from pydriver.report import build
from pydriver.report.generated import read_blocks
from pydriver.rundir import ANALYSIS_FILE

REPO_ROOT = Path(__file__).resolve().parents[2]
STUDY = REPO_ROOT / "examples" / "study_cpu"
RESULTS = STUDY / "results512"  # the study the README shows
REPORT = RESULTS / "report" / "report.json"
ALL_RESULTS = [pytest.param(STUDY / "results512", id="results512"), pytest.param(STUDY / "results", id="results")]
#: report-row keys read from files that are not committed (the run's exported model): machine-dependent
UNCOMMITTED_INPUTS = {"model_dtype"}
REGENERATE = ("run `.venv/bin/python examples/study_cpu/regenerate.py [examples/study_cpu/results]` and commit what "
              "it changes")

pytestmark = pytest.mark.skipif(not REPORT.is_file(), reason="study results not committed yet")


def _script(name: str):
    spec = importlib.util.spec_from_file_location(f"study_cpu_{name}", STUDY / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _differences(committed, fresh, where: str = "") -> list[str]:
    """Paths at which two JSON values differ (floats to 1e-9 relative)."""
    if isinstance(committed, dict) and isinstance(fresh, dict):
        out = [f"{where}.{k}: only in {'committed' if k in committed else 'regenerated'}"
               for k in sorted(set(committed) ^ set(fresh)) if k not in UNCOMMITTED_INPUTS]
        for k in sorted(set(committed) & set(fresh) - UNCOMMITTED_INPUTS):
            out += _differences(committed[k], fresh[k], f"{where}.{k}")
        return out
    if isinstance(committed, list) and isinstance(fresh, list):
        if len(committed) != len(fresh):
            return [f"{where}: {len(committed)} committed vs {len(fresh)} regenerated items"]
        return [d for i, (a, b) in enumerate(zip(committed, fresh)) for d in _differences(a, b, f"{where}[{i}]")]
    if isinstance(committed, float) and isinstance(fresh, (int, float)) and not isinstance(fresh, bool):
        same = math.isclose(committed, fresh, rel_tol=1e-9, abs_tol=1e-300)
    else:
        same = committed == fresh
    return [] if same else [f"{where}: committed {committed!r}, regenerated {fresh!r}"]


@pytest.mark.parametrize("results", ALL_RESULTS)
def test_committed_report_regenerates_from_the_committed_analyses(results, tmp_path, monkeypatch):
    report_file = results / "report" / "report.json"
    committed = json.loads(report_file.read_text())
    copy = tmp_path / "results"
    for analysis in sorted(results.glob(f"*/{ANALYSIS_FILE}")):  # the run folders as committed, next to the report
        shutil.copytree(analysis.parent, copy / analysis.parent.name)
    # the PNGs take seconds and hold no numbers: not drawn here; the committed ones must exist
    monkeypatch.setattr(build, "_figures", lambda *args, **kwargs: {})
    build.build_report([copy], copy / "report")
    fresh = json.loads((copy / "report" / "report.json").read_text())
    missing = [name for name in committed["figures"].values() if not (report_file.parent / name).is_file()]
    assert not missing, f"figures of report.json not committed: {missing}"
    differences = _differences({**committed, "figures": {}}, fresh)
    assert not differences, (f"{results.name}/report/report.json is not what the report code makes of the committed "
                             f"analyses ({len(differences)} differences; {REGENERATE}):\n" + "\n".join(differences[:10]))


@pytest.mark.parametrize("results", ALL_RESULTS)
def test_committed_claims_are_what_claims_py_makes_of_the_committed_report(results):
    path = results / "claims.json"
    assert path.is_file(), f"{results.name}/claims.json is missing: {REGENERATE}"
    committed = json.loads(path.read_text())
    claims = _script("claims")
    thermo = results / committed["thermo"] if committed["thermo"] else None
    assert thermo is None or thermo.resolve() == claims.default_thermo().resolve(), \
        f"{results.name}/claims.json read {committed['thermo']}, not the current thermodynamics: {REGENERATE}"
    fresh = json.loads(json.dumps(claims.document(results / "report" / "report.json", thermo, results)))
    differences = _differences(committed, fresh)
    assert not differences, f"{results.name}/claims.json is stale ({REGENERATE}):\n" + "\n".join(differences[:10])


def test_readme_tables_are_what_the_scripts_print():
    report = json.loads(REPORT.read_text())
    claims = _script("claims")
    summarize = _script("summarize")
    expected = {**summarize.tables(report), **claims.readme_blocks(json.loads((RESULTS / "claims.json").read_text())),
                "status": summarize.status_table(RESULTS)}
    blocks = read_blocks((STUDY / "README.md").read_text())
    assert sorted(blocks) == sorted(expected), "examples/study_cpu/README.md lacks a generated block (or has another)"
    for name, table in expected.items():
        assert blocks[name] == table.strip("\n"), f"README block {name!r} differs from what the scripts print: {REGENERATE}"


def test_the_metastability_claim_reads_the_band_of_modelling_choices():
    claims = _script("claims")
    band = {"band": {"n_combinations": 4, "reaction": {"temperatures_K": [0.0, 300.0, 600.0, 900.0],
                                                       "dG_central_eV_per_fu": [0.3, 0.2, 0.1, 0.0],
                                                       "dG_min_eV_per_fu": [0.2, 0.1, -0.1, None],
                                                       "dG_max_eV_per_fu": [0.4, 0.3, 0.2, 0.1]}}}
    central, low, high, spans = claims.band_at(band, 450.0)
    assert (central, low, high) == pytest.approx((0.15, 0.0, 0.25)) and spans.startswith("band over 4 combinations")
    assert claims.band_at(band, 900.0) is None and claims.band_at(band, 1000.0) is None
    rows = claims.thermo_rows(band, "thermo.json")
    assert [r["verdict"] for r in rows] == ["supported", "not resolved at this cost"]  # 300 K: [0.1, 0.3]; 600 K: [-0.1, 0.2]
    harmonic = {"reaction": {"temperatures_K": [0.0, 1000.0], "dG_curve_eV_per_fu": [-0.1, -0.3]}}
    assert claims.thermo_rows(harmonic, None)[0]["verdict"] == "contradicted"


def test_the_slab_claim_reads_the_na_time_in_the_b12h12_slabs():
    claims = _script("claims")
    onbh = "Na3(BH4)(B12H12) (oNBH)"

    def run(t, b12, n_ions=48, **extra):
        return {"run_dir": f"T{t}", "structure": onbh, "formula": "Na12B52H64", "mass_factors": "unscaled",
                "temperature_K": t, "framework_solid": True, "slab_n_ions": n_ions, "slab_time_B12H12": b12,
                "slab_time_BH4": 1.0 - b12, **extra}

    report = {"runs": [run(523.0, 0.45), run(600.0, 0.40), run(600.0, 0.52, 12), run(750.0, 0.004, 192),
                       run(900.0, 0.02, 12)]}
    rows = claims.slab_rows(report, onbh)
    assert [r["test"] for r in rows] == [f"Na time in B12H12 slabs at {t} K < 0.05" for t in (523, 600, 750, 900)]
    assert [r["verdict"] for r in rows] == ["contradicted", "contradicted", "supported", "not resolved at this cost"]
    pooled = rows[1]["result"]  # two replicates pooled by ion
    assert (pooled["n"], rows[1]["runs"]) == (60, "2")
    assert pooled["estimate"] == pytest.approx((0.40 * 48 + 0.52 * 12) / 60)
    old = {"runs": [{k: v for k, v in r.items() if not k.startswith("slab")} for r in report["runs"]]}
    (na,) = claims.slab_rows(old, onbh)  # analysed without sites.slabs: one row, n/a
    assert na["verdict"] == "not resolved at this cost" and na["found"].startswith("n/a: no anion-slab numbers")
    mixed = {"runs": [{**old["runs"][0], "slabs_reason": "the anion kinds form no slabs"},
                      {**run(600.0, 0.0), "framework_solid": False}]}
    assert [r["found"] for r in claims.slab_rows(mixed, onbh)] == [
        "n/a: no anion slabs: the anion kinds form no slabs; framework not solid"]
