"""The model file is what it claims: format, checksums per archive entry, one-line refusals."""

from __future__ import annotations

import json
import re

import pytest
import torch

from pydriver import model_file
from pydriver.deck.model_ref import model_elements
from pydriver.m3gnet.calculator import M3GNetCalculator
from tests.conftest import NABH_CHECKPOINT, REPO_ROOT
from tests.golden import NABH
from tests.model_damage import damage_entry, entry_names, largest_tensors


def test_every_entry_but_the_metadata_has_its_sha256(exported):
    path = exported(NABH, "float64")
    meta = model_file.read_metadata(path, verify=True)
    assert meta["format"] == "pydriver-m3gnet" and meta["format_version"] == model_file.FORMAT_VERSION == 3
    names = set(entry_names(path)) - set(model_file.UNCHECKED_ENTRIES)
    assert set(meta[model_file.CHECKSUM_KEY]) == names
    assert all(re.fullmatch("[0-9a-f]{64}", d) for d in meta[model_file.CHECKSUM_KEY].values())
    assert model_elements(path) == ("M3GNet-r2SCAN-NaBH", meta["elements"])


@pytest.mark.parametrize("rank", [0, 1])
def test_a_damaged_weight_tensor_is_refused_naming_the_entry(exported, tmp_path, rank):
    path = exported(NABH, "float64")
    entry = largest_tensors(path)[rank]
    bad = damage_entry(path, tmp_path / "damaged.pt", entry)
    with pytest.raises(ValueError, match=f"model file {bad}: archive entry {entry} is damaged") as info:
        M3GNetCalculator(bad)
    assert "re-export it with `python -m pydriver export" in str(info.value) and "\n" not in str(info.value)
    model_file.read_metadata(bad)  # the metadata itself is intact: reading it alone does not hash


def test_a_checkpoint_folder_says_export_it_first():
    with pytest.raises(ValueError, match="is a matgl checkpoint folder; export it first with "
                                         "`python -m pydriver export"):
        model_file.read_metadata(NABH_CHECKPOINT)
    assert model_file.is_checkpoint_folder(NABH_CHECKPOINT)
    assert not model_file.is_checkpoint_folder(NABH_CHECKPOINT / "model.json")


def test_an_older_format_version_says_re_export(exported, tmp_path):
    extra = {model_file.METADATA_FILE: ""}
    module = torch.jit.load(str(exported(NABH, "float64")), _extra_files=extra)
    meta = json.loads(extra[model_file.METADATA_FILE])
    meta["format_version"] = 2
    del meta[model_file.CHECKSUM_KEY]
    module.save(str(tmp_path / "old.pt"), _extra_files={model_file.METADATA_FILE: json.dumps(meta)})
    with pytest.raises(ValueError, match="format_version 2 but this pydriver reads version 3: re-export it with "
                                         "`python -m pydriver export"):
        M3GNetCalculator(tmp_path / "old.pt")
    (tmp_path / "garbage.pt").write_bytes(b"\x00" * 64)
    with pytest.raises(ValueError, match="is not a TorchScript zip archive"):
        model_file.read_metadata(tmp_path / "garbage.pt")
    with pytest.raises(FileNotFoundError, match="not found"):
        model_file.read_metadata(tmp_path / "none.pt")


def _cpp_constant(header: str, name: str) -> str:
    found = re.search(rf"constexpr [^=]*\b{name}(?:\[\])?\s*=\s*([^;]+);", header)
    assert found, f"{name} not in plugin/m3gnet_model.h"
    return found.group(1).strip()


def test_the_plugin_constants_are_the_python_ones():
    header = (REPO_ROOT / "plugin" / "m3gnet_model.h").read_text()
    assert int(_cpp_constant(header, "FORMAT_VERSION")) == model_file.FORMAT_VERSION
    for name in ("FORMAT_NAME", "METADATA_FILE", "EXTRA_FOLDER", "CHECKSUM_KEY"):
        assert json.loads(_cpp_constant(header, name)) == getattr(model_file, name), name
    assert json.loads("[" + _cpp_constant(header, "UNCHECKED_ENTRIES").strip("{}") + "]") == list(
        model_file.UNCHECKED_ENTRIES)
    assert json.loads("[" + _cpp_constant(header, "CHECKPOINT_MARKERS").strip("{}") + "]") == list(
        model_file.CHECKPOINT_MARKERS)
    assert json.loads("[" + _cpp_constant(header, "CPU_CAPABILITY_ORDER").strip("{}") + "]") == list(
        model_file.CPU_CAPABILITY_ORDER)
