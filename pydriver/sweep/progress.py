"""Progress of running MD jobs from their thermo output: step, rate and ETA, shown with rich.

The display appears only when stderr is a terminal and logging is at INFO or more verbose
(``-q`` turns it off); otherwise a one-line summary is logged now and then.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from pydriver.rundir import LOG_FILE
from pydriver.sweep.outputs import inspect_outputs, last_thermo_step

log = logging.getLogger(__name__)

SUMMARY_EVERY_S = 60.0


@dataclass
class RunProgress:
    """Step tracking of one MD job: rate measured from the thermo steps seen since it started.

    Attributes
    ----------
    first_step, first_time : first thermo observation of this attempt (step, monotonic s).
    step : newest thermo step; ``final_step`` the run's last step (``upper_bound``: an adaptive
        run's cap, which it may not reach).
    """

    final_step: int
    upper_bound: bool = False
    first_step: int | None = None
    first_time: float | None = None
    step: int = 0
    updated: float = field(default_factory=time.monotonic)

    def update(self, log_path: Path) -> None:
        """Read the newest thermo step from ``log.lammps``."""
        step = last_thermo_step(log_path)
        if step is None:
            return
        now = time.monotonic()
        if self.first_step is None or step < self.first_step:
            self.first_step, self.first_time = step, now
        self.step, self.updated = step, now

    @property
    def steps_per_s(self) -> float | None:
        """Measured MD rate, steps/s (``None`` before two observations)."""
        if self.first_step is None or self.step <= self.first_step:
            return None
        return (self.step - self.first_step) / max(self.updated - self.first_time, 1e-9)

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the measured rate."""
        rate = self.steps_per_s
        return None if not rate else max(self.final_step - self.step, 0) / rate


def format_duration(seconds: float | None) -> str:
    """``3725 -> '1h02m'``, ``75 -> '1m15s'``; ``'?'`` for ``None``."""
    if seconds is None:
        return "?"
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def display_enabled() -> bool:
    """A live display only on a terminal and when INFO messages are shown."""
    return sys.stderr.isatty() and logging.getLogger("pydriver").getEffectiveLevel() <= logging.INFO


class ProgressBoard:
    """Overall and per-run progress: a rich live display, or periodic log lines.

    Parameters
    ----------
    total_runs : runs in the sweep; ``done_runs`` already finished at start.
    live : show the rich display (default :func:`display_enabled`).
    """

    def __init__(self, total_runs: int, done_runs: int, live: bool | None = None):
        self.total_runs, self.done_runs = total_runs, done_runs
        self.runs: dict[str, RunProgress] = {}
        self.live = display_enabled() if live is None else live
        self._progress = None
        self._tasks: dict[str, int] = {}
        self._last_summary = time.monotonic()

    def __enter__(self) -> ProgressBoard:
        if self.live:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,  # noqa: PLC0415
                                       TimeRemainingColumn)

            self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                      TextColumn("{task.fields[info]}"), TimeRemainingColumn(), transient=False)
            self._progress.start()
            self._tasks["_all"] = self._progress.add_task("runs done", total=self.total_runs,
                                                          completed=self.done_runs, info="")
        return self

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.stop()

    def start(self, name: str, final_step: int, upper_bound: bool = False) -> None:
        """A run's MD started (or was adopted); ``upper_bound``: ``final_step`` is an adaptive run's cap."""
        self.runs[name] = RunProgress(final_step, upper_bound)
        if self._progress is not None:
            self._tasks[name] = self._progress.add_task(name, total=final_step, completed=0, info="")

    def finish(self, name: str, done: bool) -> None:
        """A run's MD ended."""
        self.runs.pop(name, None)
        self.done_runs += int(done)
        if self._progress is not None:
            task = self._tasks.pop(name, None)
            if task is not None:
                self._progress.remove_task(task)
            self._progress.update(self._tasks["_all"], completed=self.done_runs)

    def refresh(self, run_dirs: dict[str, Path]) -> None:
        """Re-read thermo steps of the running runs and redraw (or log a summary every minute)."""
        for name, progress in self.runs.items():
            progress.update(run_dirs[name] / LOG_FILE)
            if progress.step >= progress.final_step:  # an adaptive run's next chunk
                progress.final_step = max(progress.final_step, inspect_outputs(run_dirs[name]).final_step or 0)
            if self._progress is not None and name in self._tasks:
                rate = progress.steps_per_s
                eta = ("≤ " if progress.upper_bound else "") + format_duration(progress.eta_s)
                info = f"{rate:.2f} steps/s ETA {eta}" if rate else "starting"
                self._progress.update(self._tasks[name], completed=progress.step, total=progress.final_step, info=info)
        if self._progress is None and time.monotonic() - self._last_summary > SUMMARY_EVERY_S:
            self._last_summary = time.monotonic()
            log.info("%s", self.summary())

    def summary(self) -> str:
        """``'3/8 runs done; running: a 45% (ETA 3m00s), b 10% of its cap (ETA ≤ 9m00s)'`` (b adaptive)."""
        parts = [f"{n} {100 * p.step / max(p.final_step, 1):.0f}%"
                 + (f" of its cap (ETA ≤ {format_duration(p.eta_s)})" if p.upper_bound
                    else f" (ETA {format_duration(p.eta_s)})")
                 for n, p in self.runs.items()]
        running = f"; running: {', '.join(parts)}" if parts else ""
        return f"{self.done_runs}/{self.total_runs} runs done{running}"
