"""Committed results and configs hold no absolute path of the machine that wrote them: run directories, sweep
folders and their job scripts name files relative to themselves (docs/sweep.md, "Prepare here, run there")."""

from __future__ import annotations

import re
import subprocess

from tests.conftest import REPO_ROOT

#: machine paths: home folders, temporary folders, this project's work folders
MACHINE_PATH = re.compile(r"(?<![\w.~-])/(?:work|home|tmp|root|Users|scratch)/[^\s\"',)]*")
#: data files a run, a sweep or a workflow writes (not prose: docs may show `-o /tmp/x` as an example)
DATA_SUFFIXES = (".json", ".yaml", ".yml", ".toml", ".lammps", ".slurm", ".csv")
#: files of other workflows that still carry such paths, to be rewritten relative where they are made
KNOWN: set[str] = set()  # committed files allowed to keep machine paths: none


def committed_data_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "examples", "benchmarks/results"], cwd=REPO_ROOT, capture_output=True,
                         text=True, check=True).stdout.split()
    return [f for f in out if f.endswith(DATA_SUFFIXES) or f.rsplit("/", 1)[-1] in ("job.slurm", "in.lammps")]


def test_committed_results_name_no_machine_paths():
    offenders = {}
    for name in committed_data_files():
        path = REPO_ROOT / name
        if not path.is_file():
            continue
        found = MACHINE_PATH.findall(path.read_text(errors="replace"))
        if found:
            offenders[name] = sorted(set(found))[:2]
    new = {k: v for k, v in offenders.items() if k not in KNOWN}
    assert not new, f"absolute paths of the writing machine (write them relative to the file's folder): {new}"
    assert not KNOWN - set(offenders), f"no longer carry machine paths, drop them from KNOWN: {KNOWN - set(offenders)}"
