"""Log lines a user can act on: third-party chatter held back, numbers rounded, nothing said twice."""

from __future__ import annotations

import logging

from pydriver.cli.main import QUIET_LOGGERS, main
from pydriver.cli.render import log_notes, note_text


def test_third_party_info_lines_are_held_back_unless_debugging():
    try:
        assert main([]) == 0  # no command: help, after the logging set-up
        assert logging.getLogger("numexpr").level == logging.WARNING and "numexpr" in QUIET_LOGGERS
        assert not logging.getLogger("numexpr.utils").isEnabledFor(logging.INFO)
        assert main(["-vv"]) == 0
        assert logging.getLogger("numexpr").level == logging.NOTSET
    finally:
        logging.getLogger("numexpr").setLevel(logging.NOTSET)


def test_render_notes_rounded_and_not_repeated(caplog):
    assert note_text(0.0826768575979573) == "0.0827"
    assert note_text((0.0, 39.67423423071539)) == "[0, 39.7]" and note_text([2, 3, 1]) == "[2, 3, 1]"
    with caplog.at_level(logging.DEBUG, logger="pydriver.cli.render"):
        log_notes({"threshold_per_A3": 0.0826768575979573, "ion_ids": [2, 3, 1], "n_sites": 4})
    levels = {r.getMessage(): r.levelname for r in caplog.records}
    # the isolevel and the traced ions have their own INFO lines (pydriver.viz.density, pydriver.viz.scene)
    assert levels == {"threshold_per_A3: 0.0827": "DEBUG", "ion_ids: [2, 3, 1]": "DEBUG", "n_sites: 4": "INFO"}
