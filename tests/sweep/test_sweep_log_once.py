"""A sweep shows the lines that repeat unchanged for every run of one structure once."""

from __future__ import annotations

import logging

from pydriver.deck import MDSettings, write_run_directory, writer
from pydriver.sweep.log_once import once_per_message


def _write_decks(structure, model, folder, temperatures_K) -> None:
    for t in temperatures_K:
        write_run_directory(structure, model, folder / f"T{t:g}", md=MDSettings(temperature_K=t),
                            replication=(1, 1, 1))


def test_each_structure_line_and_the_barostat_warning_once_per_sweep(tmp_path, example_structures_dir, monkeypatch,
                                                                      caplog):
    model = tmp_path / "fake.pt"
    model.write_bytes(b"not a model")
    monkeypatch.setattr(writer, "model_cutoff_A", lambda _model: 5.0)  # 6.1 A cell < 2 x 5 A: warns
    structure = example_structures_dir / "NaBH4.extxyz"
    with caplog.at_level(logging.INFO), once_per_message():
        _write_decks(structure, model, tmp_path / "sweep", (500.0, 600.0, 700.0))
    messages = [r.getMessage() for r in caplog.records]
    assert sum("anisotropic barostat (aniso)" in m for m in messages) == 1
    assert next(m for m in messages if "anisotropic" in m).startswith("Na4B4H16 (24 atoms): NPT with")
    assert sum(m.startswith("read ") for m in messages) == 1
    assert sum(m.startswith("supercell 1x1x1") for m in messages) == 1
    assert sum(m.startswith("wrote run directory") for m in messages) == 3  # these differ run by run
    caplog.clear()
    with caplog.at_level(logging.INFO):  # outside a sweep (and after one): every time
        _write_decks(structure, model, tmp_path / "single", (500.0, 600.0))
    assert sum("anisotropic barostat" in r.getMessage() for r in caplog.records) == 2
    assert not logging.getLogger("pydriver.deck.writer").filters


def test_repeats_pass_at_debug():
    log = logging.getLogger("pydriver.structures.io")
    with once_per_message() as once:
        record = log.makeRecord(log.name, logging.INFO, __file__, 1, "read %s", ("a.cif",), None)
        assert once.filter(record) is True
        assert once.filter(record) is False
        log.setLevel(logging.DEBUG)
        try:
            assert once.filter(record) is True  # -vv shows every line
        finally:
            log.setLevel(logging.NOTSET)
