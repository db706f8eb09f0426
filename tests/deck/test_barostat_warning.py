"""Decks warn before NPT with an anisotropic barostat on a cell narrower than twice the model cutoff."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from pydriver.deck import MDSettings, write_run_directory, writer
from pydriver.structures.builders import nabh4_cubic
from tests.conftest import NABH_CHECKPOINT


def test_warning_only_for_anisotropic_coupling_on_a_narrow_cell():
    cubic_6 = np.eye(3) * 6.05
    message = writer.barostat_warning(cubic_6, "aniso", 5.0)
    assert message.startswith("NPT with an anisotropic barostat (aniso) on a cell of widths 6.05 x 6.05 x 6.05 A")
    assert "twice the model cutoff (10 A)" in message and "--min-width 10" in message and "--couple iso" in message
    assert writer.barostat_warning(cubic_6, "tri", 5.0) is not None
    assert writer.barostat_warning(cubic_6, "iso", 5.0) is None
    assert writer.barostat_warning(cubic_6 * 2, "aniso", 5.0) is None  # 12.1 A >= 10 A
    assert writer.barostat_warning(cubic_6, "aniso", None) is None  # cutoff unknown
    sheared = np.array([[10.0, 0, 0], [8.0, 6.0, 0], [0, 0, 12.0]])  # b long, but the width along y is 6 A
    assert "narrower" in writer.barostat_warning(sheared, "tri", 5.0)


def test_cutoff_read_from_the_model_without_torch(tmp_path):
    fake = tmp_path / "fake.pt"
    fake.write_bytes(b"not a model")
    assert writer.model_cutoff_A(fake) is None
    if not NABH_CHECKPOINT.is_dir():
        pytest.skip("model checkpoints not present")
    assert writer.model_cutoff_A(NABH_CHECKPOINT) == 5.0


def test_deck_logs_the_warning(tmp_path, monkeypatch, caplog):
    fake = tmp_path / "fake.pt"
    fake.write_bytes(b"not a model")
    monkeypatch.setattr(writer, "model_cutoff_A", lambda model: 5.0)
    with caplog.at_level(logging.WARNING, logger="pydriver.deck.writer"):
        write_run_directory(nabh4_cubic(), fake, tmp_path / "small", replication=(1, 1, 1))
    assert "anisotropic barostat (aniso)" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="pydriver.deck.writer"):
        write_run_directory(nabh4_cubic(), fake, tmp_path / "iso", replication=(1, 1, 1), md=MDSettings(couple="iso"))
        write_run_directory(nabh4_cubic(), fake, tmp_path / "big")  # default supercell: every width > 10 A
    assert "anisotropic barostat" not in caplog.text
