"""`python -m pydriver export` in-process: writes a loadable model; bad input exits 2 with one line."""

from __future__ import annotations

from pydriver.cli.main import main
from pydriver.model_file import read_metadata
from tests.conftest import MODELS_DIR


def test_export_writes_model(tmp_path, capsys):
    out = tmp_path / "nabh.pt"
    assert main(["export", str(MODELS_DIR / "M3GNet-r2SCAN-NaBH"), str(out), "--dtype", "float32", "--no-compile"]) == 0
    meta = read_metadata(out)
    assert meta["dtype"] == "float32" and meta["elements"] == ["H", "B", "Na"]
    printed = capsys.readouterr().out
    assert '"model_name": "M3GNet-r2SCAN-NaBH"' in printed and '"compiled": {}' in printed


def test_export_bad_folder_exits_2(tmp_path, capsys):
    assert main(["export", str(tmp_path / "missing"), str(tmp_path / "m.pt")]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "Traceback" not in err


def test_export_errors_are_one_line(tmp_path, capsys):
    assert main(["export", str(tmp_path / "missing"), str(tmp_path / "m.pt")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("python -m pydriver export: error: ")
    assert "usage:" not in lines[0]
