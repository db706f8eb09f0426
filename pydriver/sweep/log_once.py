"""A sweep's repeated per-run log lines shown once.

Writing the decks of a sweep reads the same structure file, builds the same supercell and finds the
same too-narrow cell for every temperature, mass factor and seed: the lines are identical run after
run. Within :func:`once_per_message` each distinct message of :data:`REPEATING_LOGGERS` is passed on
the first time only (every time when the logger is at DEBUG, ``-vv``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

#: loggers whose lines repeat unchanged for every run of one structure
REPEATING_LOGGERS = ("pydriver.structures.io", "pydriver.structures.supercell", "pydriver.structures.system",
                     "pydriver.deck.writer")


class OncePerMessage(logging.Filter):
    """Drops a record whose logger, level and formatted message were seen before."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[tuple[str, int, str]] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, record.getMessage())
        if key not in self.seen:
            self.seen.add(key)
            return True
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


@contextmanager
def once_per_message(names: Sequence[str] = REPEATING_LOGGERS) -> Iterator[OncePerMessage]:
    """Within the block, each distinct message of the loggers ``names`` is logged once."""
    once = OncePerMessage()
    loggers = [logging.getLogger(name) for name in names]
    for logger in loggers:
        logger.addFilter(once)
    try:
        yield once
    finally:
        for logger in loggers:
            logger.removeFilter(once)
