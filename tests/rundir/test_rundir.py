"""The run-directory contract (pydriver/rundir.py): typed records round-trip, bad files are refused with
their name, and every file name / format tag is defined there only."""

from __future__ import annotations

import json
import re

import pytest

from pydriver import rundir
from pydriver.rundir import AnalysisSummary, RunManifest
from pydriver.structures.atom_types import AtomType
from tests.conftest import REPO_ROOT

MANIFEST = {
    "format": rundir.RUN_FORMAT, "structure_source": "NaBH4.extxyz", "formula": "Na4B4H16", "n_atoms": 24,
    "types": [{"type": 1, "label": "Na", "element": "Na", "anion": None, "mass_amu": 22.98976928,
               "element_mass_amu": 22.98976928},
              {"type": 2, "label": "B_BH4", "element": "B", "anion": "BH4", "mass_amu": 54.05,
               "element_mass_amu": 10.81}],
    "mass_factors": {"BH4": 5.0}, "temperature_K": 500.0, "dt_ps": 0.001, "production_start_step": 100,
    "future_key": {"kept": True},
}


def test_run_manifest_round_trip_keeps_unknown_keys():
    manifest = RunManifest.from_dict(MANIFEST)
    assert manifest.types_by_number[2] == AtomType(2, "B_BH4", "B", "BH4", 54.05)
    assert manifest.element_masses_amu == {1: 22.98976928, 2: 10.81}
    out = manifest.to_dict()
    assert out["future_key"] == {"kept": True}
    assert {k: out[k] for k in MANIFEST} == MANIFEST


def test_run_manifest_written_and_read(tmp_path):
    RunManifest.from_dict(MANIFEST).write(tmp_path)
    assert json.loads((tmp_path / rundir.MANIFEST_FILE).read_text())["format"] == rundir.RUN_FORMAT
    assert RunManifest.read(tmp_path).temperature_K == 500.0


def test_foreign_or_incomplete_records_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"format 'other/1'; expected 'pydriver-run/1'"):
        RunManifest.from_dict({**MANIFEST, "format": "other/1"})
    with pytest.raises(ValueError, match=r"missing keys \['dt_ps'\]"):
        RunManifest.from_dict({k: v for k, v in MANIFEST.items() if k != "dt_ps"})
    with pytest.raises(FileNotFoundError, match="no run.json"):
        RunManifest.read(tmp_path)
    with pytest.raises(ValueError, match="missing keys"):
        AnalysisSummary.from_dict({"format": rundir.ANALYSIS_FORMAT, "run": {}})


def test_analysis_summary_round_trip():
    data = {"format": rundir.ANALYSIS_FORMAT, "pydriver_version": "0.1.0", "run": {"temperature_K": 500.0},
            "parameters": {}, "transport": {"diffusivity_cm2_s": 1e-6}, "new_section": [1, 2]}
    summary = AnalysisSummary.from_dict(data)
    assert summary.transport["diffusivity_cm2_s"] == 1e-6
    out = summary.to_dict()
    assert out["new_section"] == [1, 2] and out["format"] == rundir.ANALYSIS_FORMAT


def test_find_dump_prefers_the_named_file(tmp_path):
    (tmp_path / "dump.lammpstrj.gz").write_bytes(b"")
    assert rundir.find_dump(tmp_path).name == "dump.lammpstrj.gz"
    (tmp_path / "other.dump").write_text("")
    assert rundir.find_dump(tmp_path, "other.dump").name == "other.dump"
    with pytest.raises(FileNotFoundError, match="no dump file"):
        rundir.find_dump(tmp_path / "missing")


def _contract_literals() -> dict[str, str]:
    names = {k: v for k, v in vars(rundir).items() if k.isupper() and isinstance(v, str) and "." in v or
             (k.endswith("_FORMAT") and isinstance(v, str))}
    return {k: v for k, v in names.items() if len(v) > 6}


def test_names_and_format_tags_are_defined_only_in_rundir():
    """No module that works with run directories (analysis, deck, sweep, report, viz, CLI) spells a file
    name or format tag of the contract as a string literal (the layers below rundir cannot import it and
    use e.g. ``model.pt`` for matgl's own checkpoint files)."""
    literals = _contract_literals()
    assert {"MANIFEST_FILE", "ANALYSIS_FILE", "DUMP_FILE", "RUN_FORMAT", "ANALYSIS_FORMAT"} <= set(literals)
    offenders = []
    users = ("analysis", "deck", "sweep", "report", "viz", "cli")
    for path in sorted(p for part in users for p in (REPO_ROOT / "pydriver" / part).rglob("*.py")):
        text = path.read_text()
        for name, value in literals.items():
            for m in re.finditer(rf"[\"']{re.escape(value)}[\"']", text):
                offenders.append(f"{path.relative_to(REPO_ROOT)}:{text[:m.start()].count(chr(10)) + 1} {value}")
    assert offenders == []
