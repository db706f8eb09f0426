"""The one trajectory object every reader delivers, and the pieces readers share.

:class:`Trajectory` holds unwrapped Cartesian positions memory-mapped from a float32 scratch file
(:class:`FrameSink`), the cell of every frame and per-atom identities. :class:`Unwrapper` turns the
coordinates of one frame (any LAMMPS position style, or wrapped positions from other codes) into
unwrapped Cartesian positions, exactly for triclinic cells and boxes that change and move under NPT.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from pydriver.analysis.cell import cart_to_frac, frac_to_cart

log = logging.getLogger(__name__)

#: how positions were obtained (``Trajectory.coordinates``)
COORDINATE_KINDS = ("unwrapped", "images", "min_image")
#: where ``Trajectory.steps`` come from (``Trajectory.step_source``): step numbers in the file, time
#: stamps in the file (``times_fs``; steps follow once the MD time step is known), ``--dump-every``
#: times the frame index, or nothing (frame index; the frame interval is unknown)
STEP_SOURCES = ("file", "time", "dump_every", "unknown")


@dataclass(frozen=True)
class NonFinite:
    """The first frame holding a non-finite position (nan or inf): where a run blew up.

    Attributes
    ----------
    frame : frame index in the trajectory.
    step : its MD step.
    atom_ids : ids of the atoms with a non-finite coordinate in that frame (empty: the cell itself).
    """

    frame: int
    step: int
    atom_ids: tuple[int, ...]

    def describe(self) -> str:
        """``atom 6 from step 15000`` (at most five ids named)."""
        ids = self.atom_ids
        if not ids:
            return f"the cell from step {self.step}"
        named = ", ".join(str(i) for i in ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
        return f"atom{'s' if len(ids) > 1 else ''} {named} from step {self.step}"

    def warning(self) -> str:
        """The readers' warning: ``non-finite positions (nan or inf) of atom 6 from step 15000``."""
        return f"non-finite positions (nan or inf) of {self.describe()}"


@dataclass
class Trajectory:
    """Unwrapped trajectory (from a LAMMPS dump, an XDATCAR, an extxyz/ASE file, ...).

    Attributes
    ----------
    steps : (n_frames,) int64 -- MD steps (LAMMPS timesteps; for files without step numbers
        ``frame index * dump_every``).
    positions_A : (n_frames, n_atoms, 3) float32 -- unwrapped Cartesian positions (memory-mapped).
    cells_A : (n_frames, 3, 3) float64 -- cell vectors as rows (a, b, c).
    ids : (n_atoms,) int64 -- atom ids, ascending; row j of every frame is atom ``ids[j]``.
    types : (n_atoms,) int64 -- atom types (LAMMPS types; numbered from 1 by element otherwise).
    mol_ids : (n_atoms,) int64 or None -- molecule ids when the file has them.
    coordinates : one of :data:`COORDINATE_KINDS`.
    elements : (n_atoms,) str or None -- element per atom when the file names it (``element``
        column, type labels, XDATCAR/extxyz symbols).
    source_format : ``lammps-dump`` or ``ase:<format>``.
    warnings : what the reader warned about (also logged).
    first_nonfinite : the first frame with a nan/inf position, or None (frames from it on are
        not usable: :func:`finite_part`).
    step_source : one of :data:`STEP_SOURCES`.
    times_fs : (n_frames,) float64 or None -- time stamps of the file in fs (``step_source == "time"``).
    dt_ps_in_file : the MD time step the file records (ASE .traj of an MD run), or None.
    """

    steps: np.ndarray
    positions_A: np.ndarray
    cells_A: np.ndarray
    ids: np.ndarray
    types: np.ndarray
    mol_ids: np.ndarray | None
    coordinates: str
    warnings: list[str] = field(default_factory=list)
    elements: np.ndarray | None = None
    source_format: str = "lammps-dump"
    first_nonfinite: NonFinite | None = None
    step_source: str = "file"
    times_fs: np.ndarray | None = None
    dt_ps_in_file: float | None = None

    @property
    def n_frames(self) -> int:
        """Number of frames."""
        return int(self.positions_A.shape[0])

    @property
    def n_atoms(self) -> int:
        """Number of atoms."""
        return int(self.positions_A.shape[1])

    @property
    def volumes_A3(self) -> np.ndarray:
        """(n_frames,) cell volumes in A^3."""
        return np.abs(np.linalg.det(self.cells_A))

    def select_frames(self, frames: slice) -> Trajectory:
        """The same trajectory restricted to a contiguous range of frames (positions stay mapped)."""
        nonfinite = self.first_nonfinite
        if nonfinite is not None:
            kept = np.arange(self.n_frames)[frames]
            inside = np.flatnonzero(kept >= nonfinite.frame)
            nonfinite = (NonFinite(int(inside[0]), int(self.steps[kept[inside[0]]]), nonfinite.atom_ids)
                         if inside.size else None)
        return replace(self, steps=self.steps[frames], positions_A=self.positions_A[frames],
                       cells_A=self.cells_A[frames], warnings=list(self.warnings), first_nonfinite=nonfinite,
                       times_fs=None if self.times_fs is None else self.times_fs[frames])


class FrameSink:
    """Append-only float32 scratch file of ``(n_atoms, 3)`` frames, rewindable, mapped at the end."""

    def __init__(self, n_atoms: int, scratch_dir: Path | None):
        fd, name = tempfile.mkstemp(prefix="pydriver_traj_", suffix=".f32", dir=scratch_dir)
        self.path = Path(name)
        self.fh = os.fdopen(fd, "w+b")
        self.frame_bytes = n_atoms * 3 * 4
        self.n_atoms = n_atoms

    def rewind(self, n_frames: int) -> None:
        """Forget every frame from index ``n_frames`` on."""
        self.fh.seek(n_frames * self.frame_bytes)
        self.fh.truncate()

    def append(self, positions: np.ndarray) -> None:
        """Append one ``(n_atoms, 3)`` frame."""
        self.fh.write(np.ascontiguousarray(positions, dtype=np.float32).tobytes())

    def read_back(self, index: int) -> np.ndarray:
        """Frame ``index`` as ``(n_atoms, 3)`` float64 (the file position stays at the end)."""
        self.fh.flush()
        self.fh.seek(index * self.frame_bytes)
        raw = self.fh.read(self.frame_bytes)
        self.fh.seek(0, os.SEEK_END)
        return np.frombuffer(raw, dtype=np.float32).reshape(-1, 3).astype(np.float64)

    def finish(self, n_frames: int) -> np.ndarray:
        """Close and memory-map the frames as ``(n_frames, n_atoms, 3)`` float32."""
        self.fh.close()
        if n_frames == 0:
            self.path.unlink(missing_ok=True)
            return np.zeros((0, self.n_atoms, 3), dtype=np.float32)
        mm = np.memmap(self.path, dtype=np.float32, mode="r", shape=(n_frames, self.n_atoms, 3))
        try:  # the mapping keeps the data alive on POSIX; the name can go now
            self.path.unlink()
        except OSError:  # pragma: no cover - e.g. Windows
            pass
        return mm

    def discard(self) -> None:
        """Close and delete the scratch file (after an error)."""
        if not self.fh.closed:
            self.fh.close()
        self.path.unlink(missing_ok=True)


class Unwrapper:
    """Turns the coordinates of one frame into unwrapped Cartesian positions (A).

    Parameters
    ----------
    kind : ``unwrapped`` (``xu``/``xsu``), ``images`` (``x``/``xs`` with ``ix iy iz``) or
        ``min_image`` (wrapped ``x``/``xs`` alone, or positions from other codes).
    scaled : coordinates are fractional (``xs``, ``xsu``) rather than Cartesian.

    Notes
    -----
    Every style is reduced to fractional coordinates of its own frame's cell and origin, then
    mapped back with the same cell and origin: ``r = origin + (s + n) . cell``. That is LAMMPS' own
    definition of ``xu`` (``x + ix a + iy b + iz c`` with ``x`` including the box origin), so all
    styles give identical positions for triclinic boxes and for origins that move under NPT. For
    ``min_image`` the image counts ``n`` are tracked from minimum-image steps of ``s`` between
    consecutive frames, starting from 0 in the first frame.
    """

    def __init__(self, kind: str, scaled: bool = False):
        if kind not in COORDINATE_KINDS:
            raise ValueError(f"coordinate kind {kind!r}; allowed {COORDINATE_KINDS}")
        self.kind, self.scaled = kind, scaled
        self.prev_frac: np.ndarray | None = None
        self.image: np.ndarray | None = None
        self.max_jump_frac = 0.0

    def __call__(self, xyz: np.ndarray, images: np.ndarray | None, cell: np.ndarray,
                 origin: np.ndarray) -> np.ndarray:
        """Unwrapped ``(n_atoms, 3)`` positions of one frame (rows sorted like the previous frames)."""
        frac = np.asarray(xyz, dtype=np.float64) if self.scaled else cart_to_frac(xyz - origin, cell)
        if self.kind == "unwrapped":
            return frac_to_cart(frac, cell) + origin
        if self.kind == "images":
            return frac_to_cart(frac + images, cell) + origin
        if self.prev_frac is None:
            self.image = np.zeros_like(frac)
        else:  # track image counts like LAMMPS: x_unwrapped = x + image . cell(t), exact under NPT
            dfrac = frac - self.prev_frac
            jump = np.round(dfrac)
            self.max_jump_frac = max(self.max_jump_frac, float(np.abs(dfrac - jump).max(initial=0.0)))
            self.image = self.image - jump
        self.prev_frac = frac
        return frac_to_cart(frac + self.image, cell) + origin

    def restart_from(self, positions_A: np.ndarray | None, cell: np.ndarray | None, origin: np.ndarray | None) -> None:
        """Continue minimum-image tracking from an already unwrapped frame (``None``: from scratch)."""
        if positions_A is None:
            self.prev_frac = self.image = None
            return
        frac = cart_to_frac(positions_A - origin, cell)
        self.image = np.floor(frac + 1e-6)
        self.prev_frac = frac - self.image


def uneven_gaps(values: np.ndarray, rtol: float = 1e-6) -> np.ndarray:
    """Indices ``i`` where ``values[i + 1] - values[i]`` differs from the most common interval.

    The definition of evenly spaced frames for the whole analysis; ``values`` are MD steps or frame
    times (ps). Returns an int array, empty for evenly spaced values (and for fewer than 3).
    """
    values = np.asarray(values)
    if values.size < 3:
        return np.zeros(0, dtype=np.int64)
    gaps = np.diff(values)
    found, counts = np.unique(gaps, return_counts=True)
    usual = found[np.argmax(counts)]
    return np.flatnonzero(np.abs(gaps - usual) > rtol * abs(usual))


def uneven_steps(steps: np.ndarray, rtol: float = 1e-6) -> list[tuple[int, int]]:
    """Consecutive step pairs ``(step_a, step_b)`` whose interval differs from the most common one."""
    steps = np.asarray(steps)
    return [(int(steps[i]), int(steps[i + 1])) for i in uneven_gaps(steps, rtol)]


def longest_even_part(steps: np.ndarray) -> slice:
    """Frame slice of the longest run of evenly spaced consecutive frames."""
    gaps = np.diff(np.asarray(steps))
    best, start = (0, min(1, len(steps))), 0
    for i in range(1, len(gaps) + 1):
        if i == len(gaps) or gaps[i] != gaps[start]:
            if i - start + 1 > best[1] - best[0]:
                best = (start, i + 1)
            start = i
    return slice(*best)


def even_part(traj: Trajectory, longest_even_part_only: bool, where: str) -> Trajectory:
    """The trajectory if its frames are evenly spaced, else its longest evenly spaced part or an error.

    This is the one even-spacing check of the analysis (MSDs over time origins need frames at one
    interval).

    Parameters
    ----------
    traj : the trajectory.
    longest_even_part_only : analyse the longest evenly spaced part (warning recorded in
        ``traj.warnings``) instead of raising (``--longest-even-part``).
    where : the input, for messages.

    Raises
    ------
    ValueError
        Naming the offending steps and ``--longest-even-part``, unless ``longest_even_part_only``.
    """
    bad = uneven_steps(traj.steps)
    if not bad:
        return traj
    part = longest_even_part(traj.steps)
    first, last = int(traj.steps[part][0]), int(traj.steps[part][-1])
    listed = ", ".join(f"{a} -> {b}" for a, b in bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
    if not longest_even_part_only:
        raise ValueError(f"{where}: frames are not evenly spaced at steps {listed}; dump at a fixed interval, "
                         f"or analyse the longest evenly spaced part (steps {first}..{last}, "
                         f"{part.stop - part.start} frames) with --longest-even-part")
    message = (f"{where}: frames are not evenly spaced at steps {listed}; analysing the longest evenly spaced "
               f"part only: steps {first}..{last} ({part.stop - part.start} of {traj.n_frames} frames)")
    log.warning(message)
    sub = traj.select_frames(part)
    sub.warnings.append(message)
    return sub


def finite_part(traj: Trajectory, until_first_nonfinite: bool, where: str) -> Trajectory:
    """The trajectory if every position is finite, else the frames before the first nan/inf or an error.

    Parameters
    ----------
    traj : the trajectory (``traj.first_nonfinite`` set by the reader).
    until_first_nonfinite : analyse the frames before the first non-finite one (warning recorded in
        ``traj.warnings``) instead of raising (``--until-first-nonfinite``).
    where : the input, for messages.

    Raises
    ------
    ValueError
        Naming the atom ids and the first step with non-finite values, unless
        ``until_first_nonfinite``; also when the very first frame is non-finite.
    """
    bad = traj.first_nonfinite
    if bad is None:
        return traj
    what = f"{where}: non-finite positions (nan or inf) of {bad.describe()} (frame {bad.frame + 1} of {traj.n_frames})"
    if bad.frame == 0:
        raise ValueError(f"{what}: no frame before it to analyse; check the run's log for where it blew up")
    if not until_first_nonfinite:
        raise ValueError(f"{what}; the run blew up there: analyse the {bad.frame} frames before it with "
                         "--until-first-nonfinite, or rerun from an earlier restart")
    message = (f"{what}; analysing the {bad.frame} frames before it only (steps {int(traj.steps[0])}.."
               f"{int(traj.steps[bad.frame - 1])})")
    log.warning(message)
    sub = traj.select_frames(slice(0, bad.frame))
    sub.warnings.append(message)
    return sub
