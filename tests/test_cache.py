"""The package's one cache folder: where it is, and that an unwritable one only costs a note."""

from __future__ import annotations

import errno
import logging
import os

import pytest

from pydriver import cache
from pydriver.cli.main import main


@pytest.fixture(autouse=True)
def fresh_notes(monkeypatch):
    monkeypatch.setattr(cache, "_noted", set())


def test_cache_folder_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("PYDRIVER_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_dir() == tmp_path / "xdg" / "pydriver"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.cache_path() == tmp_path / "home" / ".cache" / "pydriver"
    monkeypatch.setenv("PYDRIVER_CACHE_DIR", str(tmp_path / "mine"))
    assert cache.write_cache_file("a.json", "{}\n") == tmp_path / "mine" / "a.json"
    assert (tmp_path / "mine" / "a.json").read_text() == "{}\n"
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["a.json"]  # no probe or temporary file left


@pytest.mark.parametrize("kind", ["path through a file", "read-only file system", "disk full"])
def test_unwritable_cache_is_one_note_and_no_cache(kind, tmp_path, monkeypatch, caplog):
    folder = tmp_path / "cache"
    if kind == "path through a file":
        (tmp_path / "file").write_text("x")
        folder = tmp_path / "file" / "cache"
    else:
        code = errno.EROFS if kind == "read-only file system" else errno.ENOSPC

        def refuse(*_a, **_k):
            raise OSError(code, os.strerror(code))

        monkeypatch.setattr(cache.tempfile, "NamedTemporaryFile", refuse)
        monkeypatch.setattr(cache.tempfile, "mkstemp", refuse)
    monkeypatch.setenv("PYDRIVER_CACHE_DIR", str(folder))
    with caplog.at_level(logging.WARNING, logger="pydriver.cache"):
        assert cache.cache_dir() is None
        assert cache.write_cache_file("a.json", "{}") is None
    notes = [r.getMessage() for r in caplog.records]
    assert len(notes) == 1 and notes[0].startswith(f"no cache: {folder} is not writable")
    assert "PYDRIVER_CACHE_DIR" in notes[0]


def test_failed_cache_write_after_the_probe_is_one_note(tmp_path, monkeypatch, caplog):
    """The folder was writable at the probe, the write itself fails (disk filled up): no exception, no leftovers."""
    monkeypatch.setenv("PYDRIVER_CACHE_DIR", str(tmp_path))

    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(cache.os, "replace", full)
    with caplog.at_level(logging.WARNING, logger="pydriver.cache"):
        assert cache.write_cache_file("a.json", "{}") is None
    assert "No space left on device" in caplog.text
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("unwritable", [False, True])
def test_deck_estimate_works_without_a_writable_cache(unwritable, tmp_path, example_structures_dir, monkeypatch,
                                                     capsys, caplog):
    """``deck --estimate`` through the CLI: the timing is measured and printed; the cache is only a note."""
    from pydriver.sweep import estimate

    (tmp_path / "file").write_text("x")
    folder = tmp_path / ("file" if unwritable else "") / "cache"
    monkeypatch.setenv("PYDRIVER_CACHE_DIR", str(folder))
    monkeypatch.setattr(estimate, "measure", lambda *a, **k: 20.0)
    (tmp_path / "model.pt").write_bytes(b"placeholder")
    args = ["deck", str(example_structures_dir / "NaBH4.extxyz"), "--model", str(tmp_path / "model.pt"),
            "--supercell", "1", "1", "1", "--equil-steps", "100", "--prod-steps", "900", "-o", str(tmp_path / "run"),
            "--estimate"]
    with caplog.at_level(logging.WARNING):
        assert main(args) == 0
    assert "estimate: 1000 steps x 20.0 ms/step = 20s" in capsys.readouterr().out
    notes = [r.getMessage() for r in caplog.records if r.name == "pydriver.cache"]
    assert len(notes) == int(unwritable)
    assert (folder / "step_timing.json").is_file() != unwritable
