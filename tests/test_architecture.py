"""The package's structure (docs/architecture.md): import-linter contracts hold and no module import
cycle exists in ``pydriver`` (function-local imports included: grimp reads every import statement)."""

from __future__ import annotations

import os
import subprocess
import sys

import grimp

from tests.conftest import REPO_ROOT


def _env() -> dict[str, str]:
    # the source tree, not an installed copy of pydriver
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}


def test_import_linter_contracts_hold():
    lint = os.path.join(os.path.dirname(sys.executable), "lint-imports")
    out = subprocess.run([lint, "--config", str(REPO_ROOT / "pyproject.toml")], cwd=REPO_ROOT, env=_env(),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout


def import_cycles(package: str = "pydriver") -> list[list[str]]:
    """Strongly connected components (> 1 module) of the module import graph (Tarjan)."""
    code = f"""
import grimp, json, sys
g = grimp.build_graph({package!r})
print(json.dumps({{m: sorted(x for x in g.find_modules_directly_imported_by(m)) for m in g.modules}}))
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=_env(), capture_output=True, text=True,
                         timeout=300, check=True)
    import json

    edges = json.loads(out.stdout)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, []):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for module in sorted(edges):
        if module not in index:
            visit(module)
    return cycles


def test_no_import_cycles():
    assert import_cycles() == []


def test_cycle_finder_sees_a_cycle(tmp_path, monkeypatch):
    """The finder itself: a two-module cycle hidden behind a function-local import is reported."""
    pkg = tmp_path / "cyclepkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from cyclepkg import b\n")
    (pkg / "b.py").write_text("def f():\n    from cyclepkg import a  # hidden\n    return a\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setattr(sys.modules[__name__], "REPO_ROOT", tmp_path)
    assert import_cycles("cyclepkg") == [["cyclepkg.a", "cyclepkg.b"]]
    assert grimp is not None
