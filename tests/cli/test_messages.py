"""Error messages name what the user wrote: the deck's flags, a close config key, config paths as written."""

from __future__ import annotations

import pytest

from pydriver.cli.deck import FLAG_OF_FIELD, CLICommand
from pydriver.cli.main import main


def _stderr_lines(capsys) -> list[str]:
    return capsys.readouterr().err.strip().splitlines()


@pytest.fixture
def deck_args(example_structures_dir, tmp_path):
    model = tmp_path / "model.pt"
    model.write_bytes(b"placeholder")
    return ["deck", str(example_structures_dir / "NaBH4.extxyz"), "--model", str(model), "-o", str(tmp_path / "run")]


@pytest.mark.parametrize(("flags", "message"), [
    (["--temp", "-5"], "--temp must be > 0.0, got -5.0"),
    (["--tdamp", "0"], "--tdamp must be > 0.0, got 0.0"),
    (["--ranks", "0"], "--ranks must be an integer >= 1, got 0"),
    (["--time", "1h"], "--time must look like HH:MM:SS or D-HH:MM:SS, got '1h'"),
    (["--target-hops", "-1"], "--target-hops must be > 0.0, got -1.0"),
])
def test_deck_errors_name_the_flag(deck_args, tmp_path, capsys, flags, message):
    assert main([*deck_args, *flags]) == 2
    assert _stderr_lines(capsys) == [f"python -m pydriver deck: error: {message}"]
    assert not (tmp_path / "run").exists()


def test_every_named_flag_is_a_deck_option():
    import argparse

    parser = argparse.ArgumentParser()
    CLICommand.add_arguments(parser)
    assert set(FLAG_OF_FIELD.values()) <= set(parser._option_string_actions)


@pytest.fixture
def sweep_config(example_structures_dir, tmp_path):
    (tmp_path / "model.pt").write_bytes(b"placeholder")
    (tmp_path / "structures").symlink_to(example_structures_dir)  # a path through a symlink, as in a checkout
    path = tmp_path / "scan.yaml"
    path.write_text("structures:\n  - {name: NaBH4, file: structures/NaBH4.extxyz}\n"
                    "temperatures_K: [400]\nmodel: {path: model.pt}\n")
    return path


@pytest.mark.parametrize(("change", "message"), [
    (("temperatures_K:", "temperature_K:"), "unknown key 'temperature_K' (did you mean 'temperatures_K'?); "
                                            "allowed keys: "),
    (("{path: model.pt}", "{path: model.pt, dtpye: float32}"), "model: unknown key 'dtpye' (did you mean 'dtype'?)"),
])
def test_unknown_config_key_suggests_the_close_one(sweep_config, capsys, change, message):
    sweep_config.write_text(sweep_config.read_text().replace(*change))
    assert main(["sweep", "run", str(sweep_config), "--dry-run"]) == 2
    (line,) = _stderr_lines(capsys)
    assert message in line


def test_unknown_config_key_without_a_close_one(sweep_config, capsys):
    sweep_config.write_text(sweep_config.read_text() + "colour: blue\n")
    assert main(["sweep", "run", str(sweep_config), "--dry-run"]) == 2
    (line,) = _stderr_lines(capsys)
    assert "unknown key 'colour'; allowed keys: name, " in line and "did you mean" not in line


@pytest.mark.parametrize(("change", "message"), [
    (("structures/NaBH4.extxyz", "structures/NaBH4x.extxyz"),
     "structures: file structures/NaBH4x.extxyz (relative to the config file's folder) (structure 'NaBH4') "
     "not found"),
    (("{path: model.pt}", "{path: structures/missing.pt}"),
     "model.path structures/missing.pt (relative to the config file's folder) not found (an exported .pt file or "
     "a matgl checkpoint folder)"),
])
def test_config_path_errors_show_the_path_as_written(sweep_config, monkeypatch, capsys, change, message):
    monkeypatch.chdir(sweep_config.parent)
    sweep_config.write_text(sweep_config.read_text().replace(*change))
    assert main(["sweep", "run", "scan.yaml", "--dry-run"]) == 2
    assert _stderr_lines(capsys) == [f"python -m pydriver sweep: error: scan.yaml: {message}"]
