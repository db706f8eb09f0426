"""Sweep and deck structure: no hidden function-local imports, one worker entry point."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from pydriver.analysis.options import AnalysisOptions
from pydriver.sweep import worker
from pydriver.sweep.config import config_from_dict

PACKAGE = Path(__file__).resolve().parents[2] / "pydriver"
#: function-local imports allowed in sweep/ and deck/, each for a heavy optional dependency
ALLOWED_LOCAL = {("sweep/runner.py", "pydriver.m3gnet.export"), ("sweep/runner.py", "pydriver.report.build"),
                 ("deck/model_ref.py", "pydriver.m3gnet.export")}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> tuple[set[str], set[str]]:
    """(module-level pydriver imports, function-local pydriver imports) of one file."""
    tree = ast.parse(path.read_text())
    top, local = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("pydriver"):
            names = {node.module} | {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            names = {a.name for a in node.names if a.name.startswith("pydriver")}
        else:
            continue
        (top if node in tree.body or node.col_offset == 0 else local).update(names)
    return top, local


def test_no_hidden_local_imports():
    """sweep/ and deck/ import pydriver modules at the top, except the listed heavy ones (import cycles, function-local
    imports included, are checked for the whole package by tests/test_architecture.py)."""
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    for path in files.values():
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith(("sweep/", "deck/")):
            _top, local = imports(path)
            hidden = {m for m in local if m in files} - {m for r, m in ALLOWED_LOCAL if r == rel}
            assert not hidden, f"{rel}: function-local imports {sorted(hidden)}"


def test_analysis_section_holds_typed_options(tmp_path, example_structures_dir):
    (tmp_path / "model.pt").write_bytes(b"placeholder")
    base = {"structures": [str(example_structures_dir / "NaBH4.extxyz")], "model": {"path": "model.pt"}}
    cfg = config_from_dict({**base, "analysis": {"n_blocks": 3, "fit_start_ps": 2.5, "report": False}},
                           base_dir=tmp_path)
    opts = cfg.analysis.analysis_options()
    assert isinstance(opts, AnalysisOptions) and opts.n_blocks == 3 and opts.fit_start_ps == 2.5
    assert cfg.analysis.report is False and cfg.analysis.options == opts.to_dict()
    with pytest.raises(ValueError, match=r"unknown analysis options \['extra_args'\]"):
        config_from_dict({**base, "analysis": {"extra_args": ["--origins", "first"]}}, base_dir=tmp_path)


def test_worker_passes_options_to_the_analysis_api(tmp_path, monkeypatch, capsys):
    seen = {}

    def fake_analyze_run(run_dir, options):
        seen["run_dir"], seen["options"] = run_dir, options
        return {"transport": {"diffusivity_cm2_s": 1e-6, "diffusivity_std_cm2_s": 1e-7}}

    monkeypatch.setattr(worker, "analyze_run", fake_analyze_run)
    opts = AnalysisOptions(n_blocks=4, origins="first", plots=False)
    argv = worker.worker_command(tmp_path, opts)
    assert argv[1:5] == ["-m", "pydriver.sweep.worker", "analyze", str(tmp_path)]
    assert worker.main(argv[3:]) == 0
    assert seen["run_dir"] == tmp_path and seen["options"] == opts
    assert worker.main(["analyze", str(tmp_path), "--options-json", json.dumps({"n_blok": 3})]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["pydriver.sweep.worker: error: unknown analysis options ['n_blok']; known: "
                   f"{sorted(AnalysisOptions.__dataclass_fields__)}"]


def test_worker_entry_point_starts_clean(tmp_path):
    """`python -m pydriver.sweep.worker` prints only its own one-line error: the package does not import the
    worker first (runpy's "found in sys.modules" RuntimeWarning landed in every run's sweep_run.log)."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-m", "pydriver.sweep.worker", "analyze",
                           str(tmp_path / "missing")], capture_output=True, text=True, cwd=PACKAGE.parent)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"pydriver.sweep.worker: error: run directory not found: "
                                                f"{tmp_path / 'missing'}"]
