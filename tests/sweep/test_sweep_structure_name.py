"""The sweep records its structure label in every run.json (replicate files share it)."""

from __future__ import annotations

import json
from types import SimpleNamespace

from pydriver.analysis.run_inputs import load_run_json
from pydriver.sweep.runner import _record_structure_name


def test_structure_label_is_stamped_into_existing_run_json(tmp_path):
    manifest = {"format": "pydriver-run/1", "temperature_K": 600.0, "dt_ps": 0.001,
                "types": [{"type": 1, "label": "Na", "element": "Na"}],
                "structure_source": "inputs/oNBH/oNBH_bh4_slabs_r3.extxyz"}
    (tmp_path / "run.json").write_text(json.dumps(manifest))
    run = SimpleNamespace(run_dir=tmp_path, spec=SimpleNamespace(structure="oNBH"))
    _record_structure_name(run)
    data = json.loads((tmp_path / "run.json").read_text())
    assert data["structure_name"] == "oNBH" and data["structure_source"] == manifest["structure_source"]
    assert load_run_json(tmp_path / "run.json").structure_name == "oNBH"
    _record_structure_name(SimpleNamespace(run_dir=tmp_path / "absent", spec=run.spec))  # no run.json: nothing
