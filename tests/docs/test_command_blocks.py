"""Every ```bash block of README.md, docs/ and examples/*/README.md runs as written from a checkout after
set-up, without an activated venv (PATH without .venv/bin), in a sandbox that looks like the checkout.

A block that cannot run here is preceded by ``<!-- not tested: REASON -->`` (an HPC ``mpirun -np 8``,
CMake against another LAMMPS, placeholders, hour-long searches, the GPU script); the reason is listed in
the test report. Blocks of one file run in order in one sandbox, so a later block may use what an
earlier one made (``m.pt``, ``data.lmp``). Results the docs state are checked where they are numbers
(the quick start's ``run 0`` energy against the ASE calculator on the same data file).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.lammps

BLOCK = re.compile(r"(?P<before>(?:^[^\n]*\n){0,3})^```bash[ \t]*\n(?P<body>.*?)^```[ \t]*$", re.M | re.S)
NOT_TESTED = re.compile(r"<!--\s*not tested:\s*(?P<reason>.*?)\s*-->")


def doc_files() -> list[Path]:
    """The markdown files whose command blocks are part of the product."""
    files = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md")),
             *sorted(REPO_ROOT.glob("examples/*/README.md"))]
    return [f for f in files if f.is_file()]


def command_blocks(path: Path) -> list[tuple[str, str | None]]:
    """``(body, reason)`` for each ```bash block; ``reason`` is None for a tested block."""
    out = []
    for m in BLOCK.finditer(path.read_text()):
        marker = NOT_TESTED.search(m.group("before"))
        out.append((m.group("body"), marker.group("reason") if marker else None))
    return out


def _sandbox(tmp_path: Path) -> Path:
    """``tmp/main`` with the checkout's top-level entries linked in and ``tmp/shared`` -> ../shared,
    so relative paths of the docs (``.venv/bin/...``, ``../shared/models``) resolve as in a checkout
    while files the commands write land in the sandbox."""
    root = tmp_path / "main"
    root.mkdir()
    for entry in REPO_ROOT.iterdir():
        if entry.name in (".git", "build") or entry.name.startswith(".pytest"):
            continue
        (root / entry.name).symlink_to(entry)
    shared = REPO_ROOT.parent / "shared"
    if shared.exists():
        (tmp_path / "shared").symlink_to(shared)
    return root


def _env() -> dict[str, str]:
    venv_bin = str(REPO_ROOT / ".venv" / "bin")
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and os.path.realpath(p) != venv_bin]
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env["PATH"] = os.pathsep.join(path)
    env["OMP_NUM_THREADS"] = "1"
    return env


def _ids() -> list[str]:
    return [str(p.relative_to(REPO_ROOT)) for p in doc_files()]


def test_docs_have_command_blocks():
    """The collector finds the README's set-up and quick-start blocks (guards the regex)."""
    blocks = command_blocks(REPO_ROOT / "README.md")
    assert any("./setup.sh" in body for body, _ in blocks)
    assert any("pydriver export" in body and reason is None for body, reason in blocks)


def test_untested_blocks_say_why():
    """Every skipped block carries a reason of a few words (listed in the report)."""
    for path in doc_files():
        for body, reason in command_blocks(path):
            if reason is not None:
                assert len(reason.split()) >= 2, f"{path}: block without a real reason: {body[:60]!r}"


@pytest.mark.slow
@pytest.mark.parametrize("doc", _ids())
def test_command_blocks_run_as_written(doc, tmp_path, record_property):
    path = REPO_ROOT / doc
    root = _sandbox(tmp_path)
    skipped = []
    for i, (body, reason) in enumerate(command_blocks(path)):
        if reason is not None:
            skipped.append(f"block {i + 1}: {reason}")
            continue
        if "./setup.sh" in body:  # set-up already ran (this test runs from ./test.sh after it)
            body = body.replace("./setup.sh", "true")
        out = subprocess.run(["bash", "-euo", "pipefail", "-c", body], cwd=root, env=_env(), capture_output=True,
                             text=True, timeout=600)
        assert out.returncode == 0, f"{doc} block {i + 1} failed:\n{body}\n--- stdout\n{out.stdout[-3000:]}" \
                                    f"\n--- stderr\n{out.stderr[-3000:]}"
        check = CHECKS.get((doc, i))
        if check is not None:
            check(root, out.stdout)
    record_property("not_tested", skipped)
    if skipped:
        print(f"{doc}: not tested: " + "; ".join(skipped))


def _check_quick_start_energy(root: Path, stdout: str) -> None:
    """The quick start's ``run 0`` potential energy equals the ASE calculator's on the same structure
    (the supercell ``pydriver structure`` builds; parity of both with the reference is tested elsewhere)."""
    from pydriver.m3gnet.calculator import M3GNetCalculator
    from pydriver.structures import prepare_system, read_structure

    lines = stdout.splitlines()
    header = next(k for k, line in enumerate(lines) if "E_pair" in line.split())
    names = lines[header].split()
    pe = float(lines[header + 1].split()[names.index("E_pair")])
    atoms = prepare_system(read_structure(root / "examples/structures/NaBH4.extxyz")).atoms.copy()
    atoms.calc = M3GNetCalculator(str(root / "m.pt"))
    assert pe == pytest.approx(atoms.get_potential_energy(), abs=1e-4 * len(atoms))


#: (doc, block index) -> check of its output
CHECKS = {("README.md", 1): _check_quick_start_energy}


def test_sandbox_keeps_checkout_clean(tmp_path):
    """Files the commands write land in the sandbox, not in the checkout, and ../shared resolves."""
    root = _sandbox(tmp_path)
    probe = "sandbox-probe-written-by-tests.txt"
    (root / probe).write_text("x")
    assert (tmp_path / "main" / probe).read_text() == "x"
    assert not (REPO_ROOT / probe).exists()
    assert (root / ".." / "shared" / "models").resolve() == (REPO_ROOT.parent / "shared" / "models").resolve()
