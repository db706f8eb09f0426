"""Runtime estimate: the timing input, the cache, and warnings for runs longer than their limit."""

from __future__ import annotations

import json
import logging

from pydriver.cli.main import main
from pydriver.sweep import estimate


def write_deck(tmp_path, example_structures_dir, *extra) -> object:
    model = tmp_path / "model.pt"
    model.write_bytes(b"placeholder")
    out = tmp_path / "run"
    assert main(["-q", "deck", str(example_structures_dir / "NaBH4.extxyz"), "--model", str(model), "--supercell",
                 "1", "1", "1", "-o", str(out), *extra]) == 0
    return out


def test_timing_input_reuses_the_deck_setup(tmp_path, example_structures_dir):
    run_dir = write_deck(tmp_path, example_structures_dir)
    text = estimate.timing_input(run_dir, 3)
    lines = text.splitlines()
    assert lines.index("read_data data.lmp") < lines.index("pair_style      m3gnet")
    assert any(line.startswith("pair_coeff      * * ") for line in lines)
    assert [line for line in lines if line.startswith("mass ")] == [
        line for line in (run_dir / "in.lammps").read_text().splitlines() if line.startswith("mass ")]
    assert lines[-2:] == ["run 2", "run 3"] and "fix timing all nve" in lines


def test_estimate_is_cached_and_warns_over_the_limit(tmp_path, example_structures_dir, monkeypatch, caplog):
    run_dir = write_deck(tmp_path, example_structures_dir)
    monkeypatch.setenv("PYDRIVER_CACHE_DIR", str(tmp_path / "cache"))
    calls = []
    monkeypatch.setattr(estimate, "measure", lambda *a, **k: calls.append(a) or 250.0)
    with caplog.at_level(logging.INFO, logger="pydriver.sweep.estimate"):
        out = estimate.estimate_runs([("a", run_dir, 1000), ("b", run_dir, 100_000)], 3600.0, "SLURM time limit",
                                     "float32", 1)
    assert len(calls) == 1  # the second run of the same cell/model/dtype/threads uses the cache
    assert [(e.seconds, e.too_long) for e in out] == [(250.0, False), (25_000.0, True)]
    assert "b: ~6h56m, more than the SLURM time limit (1h00m): resumed over 7 jobs; shorten the run to fit one" in caplog.text
    assert "estimate: 2 runs, 7h00m in total" in caplog.text
    cache = json.loads((tmp_path / "cache" / "step_timing.json").read_text())
    assert list(cache.values()) == [{"ms_per_step": 250.0, "n_steps": 3}]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="pydriver.sweep.estimate"):
        estimate.estimate_runs([("a", run_dir, 1000), ("b", run_dir, 100_000), ("c", run_dir, 10_000)], 1e9,
                               "day", "float32", 1, parallel=2)
    # b alone on one slot (6h56m), a then c on the other: the wall time is b's
    assert "estimate: 3 runs, 7h42m in total; about 6h56m of wall time with 2 runs at a time" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="pydriver.sweep.estimate"):
        estimate.estimate_runs([("a", run_dir, 1000), ("b", run_dir, 1000), ("c", run_dir, 2000)], 1e9, "day")
    # runs with the same steps and rate share one line
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("estimate ")]
    assert lines == ["estimate 2 runs (a, ...): 1000 steps x 250.0 ms/step = 4m10s per run",
                     "estimate c: 2000 steps x 250.0 ms/step = 8m20s"]


def test_wall_seconds_is_the_makespan_of_list_scheduling():
    assert estimate.wall_seconds([10, 10, 10, 10], 2) == 20
    assert estimate.wall_seconds([30, 10, 10, 10], 2) == 30
    assert estimate.wall_seconds([5, 5, 5], 1) == 15 == estimate.wall_seconds([5, 5, 5], 0)
    assert estimate.wall_seconds([], 4) == 0


def test_deck_with_target_writes_an_adaptive_run(tmp_path, example_structures_dir):
    import sys

    run_dir = write_deck(tmp_path, example_structures_dir, "--target-hops", "50", "--min-prod-ps", "5",
                         "--max-prod-ps", "50", "--check-every-ps", "5", "--dump-every", "20")
    manifest = json.loads((run_dir / "run.json").read_text())
    assert manifest["target"] == {"min_hops": 50.0, "min_prod_ps": 5.0, "max_prod_ps": 50.0, "check_every_ps": 5.0}
    assert manifest["prod_steps"] == 50_000  # the cap
    deck = (run_dir / "in.lammps").read_text()
    assert "variable        prod_end index 100000" in deck
    job = (run_dir / "job.slurm").read_text()
    assert "PYTHON_DEFAULT=python3\n" in job and 'PYTHON="${PYDRIVER_PYTHON:-$PYTHON_DEFAULT}"' in job
    assert sys.executable not in job  # no path of the machine that wrote it
    assert 'END="$("$PYTHON" -m pydriver next-chunk .)"' in job and 'run_md "$END"' in job
