"""Sweep tests keep the runtime-estimate timing cache in a temporary folder (not ~/.cache)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def timing_cache(tmp_path_factory, monkeypatch):
    """``PYDRIVER_CACHE_DIR`` for this test and the sweeps it starts (shared by the session)."""
    folder = tmp_path_factory.getbasetemp() / "timing-cache"
    monkeypatch.setenv("PYDRIVER_CACHE_DIR", str(folder))
    return folder
