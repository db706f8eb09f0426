"""``python -m pydriver next-chunk``: the public command the adaptive job scripts loop on."""

from __future__ import annotations

import json

from pydriver.cli.main import main


def test_next_chunk_prints_the_first_chunk_end(example_structures_dir, tmp_path, capsys):
    model = tmp_path / "model.pt"
    model.write_bytes(b"placeholder")
    run_dir = tmp_path / "run"
    assert main(["-q", "deck", str(example_structures_dir / "NaBH4.extxyz"), "--model", str(model), "-o", str(run_dir),
                 "--equil-steps", "100", "--dump-every", "10", "--target-hops", "100", "--min-prod-ps", "0.5",
                 "--max-prod-ps", "2", "--check-every-ps", "0.5"]) == 0
    assert 'END="$("$PYTHON" -m pydriver next-chunk .)"' in (run_dir / "job.slurm").read_text()
    capsys.readouterr()
    assert main(["-q", "next-chunk", str(run_dir)]) == 0
    assert capsys.readouterr().out == "600\n"  # 100 equilibration + 0.5 ps of 1 fs steps; nothing run yet
    assert json.loads((run_dir / "adaptive.json").read_text())["chunk_end_step"] == 600


def test_next_chunk_errors_are_one_line(tmp_path, capsys):
    assert main(["next-chunk", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"python -m pydriver next-chunk: error: {tmp_path}: no readable run.json"]


def test_the_former_precision_rule_is_refused_with_a_pointer(example_structures_dir, tmp_path, capsys):
    model = tmp_path / "model.pt"
    model.write_bytes(b"placeholder")
    assert main(["deck", str(example_structures_dir / "NaBH4.extxyz"), "--model", str(model), "-o",
                 str(tmp_path / "run"), "--target-rel-error-d", "0.2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "use --target-hops N" in err[0] and not (tmp_path / "run").exists()
