"""Sweep config validation: defaults, and errors that name the bad key, its value and the allowed values."""

from __future__ import annotations

from pathlib import Path

import pytest

from pydriver.sweep.config import DEFAULT_TEMPERATURES_K, config_from_dict, load_config


@pytest.fixture
def base(tmp_path, example_structures_dir) -> dict:
    model = tmp_path / "model.pt"
    model.write_bytes(b"placeholder")
    return {"structures": [str(example_structures_dir / "NaBH4.extxyz")], "model": {"path": str(model)}}


def test_defaults(base, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = config_from_dict(base, default_name="demo")
    assert cfg.temperatures_K == DEFAULT_TEMPERATURES_K
    assert cfg.temperatures_K == [300, 325, 350, 375, 400, 425, 450, 475, 500, 550, 600, 700, 800]
    assert cfg.output == tmp_path / "sweep-demo"
    assert cfg.structures[0].label == "NaBH4" and cfg.seed_list == [1]
    assert cfg.executor == "local" and cfg.model.dtype == "float32" and cfg.md.dt_ps == 0.001
    assert cfg.md.equil_steps == 50_000 and cfg.md.prod_steps == 1_000_000


@pytest.mark.parametrize("patch, expected", [
    ({"temperature": [300]}, ["temperature", "allowed keys", "temperatures_K"]),
    ({"md": {"steps": 10}}, ["md", "unknown key 'steps'", "prod_steps"]),
    ({"executor": "lokal"}, ["executor", "'local' or 'slurm'", '"lokal"']),
    ({"mass_mode": "all"}, ["mass_mode", "product", "one_at_a_time", '"all"']),
    ({"model": {"path": "m.pt", "dtype": "float16"}}, ["model.dtype", "float32", "float64", '"float16"']),
    ({"mass_factors": {"CH4": [1]}}, ["mass_factors", "'CH4'", "BH4", "B12H12"]),
    ({"mass_factors": {"BH4": [1, -2]}}, ["mass_factors", "-2", "positive"]),
    ({"temperatures_K": [300, 400, 300]}, ["temperatures_K", "[300.0]", "more than once"]),
    ({"temperatures_K": [0]}, ["temperatures_K", "0", "> 0"]),
    ({"seeds": [1], "replicas": 2}, ["seeds", "replicas"]),
    ({"md": {"prod_steps": 0}}, ["md.prod_steps", "greater than or equal to 1", "0"]),
    ({"structures": []}, ["structures", "at least 1"]),
    ({"structures": [{"file": "a.cif", "supercell": [1, 0, 1]}]}, ["structures.0.supercell", "[1, 0, 1]"]),
    ({"mpi_ranks": "two"}, ["mpi_ranks", "integer", '"two"']),
    ({"local": {"gpu": 1}}, ["local", "unknown key 'gpu'", "gpus"]),
])
def test_errors_name_key_value_and_allowed(base, patch, expected):
    data = {**base, **patch}
    if "model" in patch:
        data["model"] = {**base["model"], **{k: v for k, v in patch["model"].items() if k != "path"}}
    with pytest.raises(ValueError) as info:
        config_from_dict(data, source="cfg.yaml")
    message = str(info.value)
    assert message.startswith("cfg.yaml: ")
    for text in expected:
        assert text in message, message


def test_missing_required_and_files(base, tmp_path):
    with pytest.raises(ValueError, match="model: required key is missing"):
        config_from_dict({"structures": base["structures"]})
    with pytest.raises(FileNotFoundError, match="nowhere.cif"):
        config_from_dict({**base, "structures": ["nowhere.cif"]}, base_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="model.path"):
        config_from_dict({**base, "model": {"path": str(tmp_path / "missing.pt")}})


def test_duplicate_structure_names(base):
    s = base["structures"][0]
    with pytest.raises(ValueError, match=r"structure names \['NaBH4'\] are not unique"):
        config_from_dict({**base, "structures": [s, s]})
    cfg = config_from_dict({**base, "structures": [s, {"file": s, "name": "NaBH4-b"}], "replicas": 3})
    assert [x.label for x in cfg.structures] == ["NaBH4", "NaBH4-b"] and cfg.seed_list == [1, 2, 3]


def test_yaml_and_toml_files_resolve_relative_paths(tmp_path, example_structures_dir):
    (tmp_path / "model.pt").write_bytes(b"placeholder")
    structure = Path(example_structures_dir / "NaBH4.extxyz")
    (tmp_path / "NaBH4.extxyz").write_text(structure.read_text())
    (tmp_path / "scan.yaml").write_text("structures: [NaBH4.extxyz]\nmodel: {path: model.pt}\n"
                                        "temperatures_K: [400, 500]\noutput: out\n")
    cfg = load_config(tmp_path / "scan.yaml")
    assert cfg.name == "scan" and cfg.output == tmp_path / "out" and cfg.model.path == tmp_path / "model.pt"
    assert cfg.structures[0].file == tmp_path / "NaBH4.extxyz"
    (tmp_path / "scan2.toml").write_text('structures = ["NaBH4.extxyz"]\ntemperatures_K = [400]\n'
                                         '[model]\npath = "model.pt"\n[md]\nprod_steps = 100\n')
    cfg = load_config(tmp_path / "scan2.toml")
    assert cfg.md.prod_steps == 100 and cfg.name == "scan2"
    (tmp_path / "bad.yaml").write_text("structures: [unclosed\n")
    with pytest.raises(ValueError, match="not valid YAML"):
        load_config(tmp_path / "bad.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ValueError, match="top level must be a mapping"):
        load_config(tmp_path / "list.yaml")
    with pytest.raises(ValueError, match=r"suffix '.json' not one of"):
        load_config(tmp_path / "scan.json")


def test_model_compile_exports_a_compiled_file_once(tmp_path, example_structures_dir, monkeypatch):
    """``model.compile: true`` exports the checkpoint folder with the AOTInductor package, to its own file."""
    import pydriver.m3gnet.export as export_mod
    from pydriver.sweep.runner import export_model_once, model_file_for
    from tests.conftest import NABH_CHECKPOINT

    calls = []

    def fake_export(source, out, dtype="float64", compiled=False, **_):
        calls.append((Path(source).name, dtype, compiled, Path(out).name))
        Path(out).write_bytes(b"model")
        return Path(out)

    monkeypatch.setattr(export_mod, "export_checkpoint", fake_export)
    raw = {"structures": [str(example_structures_dir / "NaBH4.extxyz")], "output": str(tmp_path / "out"),
           "model": {"path": str(NABH_CHECKPOINT), "compile": True}}
    cfg = config_from_dict(raw, default_name="c")
    assert model_file_for(cfg).name == "M3GNet-r2SCAN-NaBH-float32-compiled.pt"
    assert export_model_once(cfg) == model_file_for(cfg) and export_model_once(cfg).read_bytes() == b"model"
    # the final name (the exporter writes atomically and logs the name it was given, not a temporary one)
    assert calls == [("M3GNet-r2SCAN-NaBH", "float32", True, "M3GNet-r2SCAN-NaBH-float32-compiled.pt")]
    raw["model"]["compile"] = False
    assert model_file_for(config_from_dict(raw, default_name="c")).name == "M3GNet-r2SCAN-NaBH-float32.pt"
