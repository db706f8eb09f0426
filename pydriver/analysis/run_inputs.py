"""Inputs of one run directory (docs/run_directory.md): run.json, data.lmp molecule ids, log.lammps.

Where ``run.json`` is absent, :func:`resolve_metadata` builds the same information from
explicit values (temperature, time step, a type map such as ``1:Na 2:B_BH4 3:H_BH4``).
:func:`frame_steps` gives every frame its MD step (from the file, or ``--dump-every``) and
:func:`usable_trajectory` checks a trajectory against the analysis options before anything is
computed, with errors that name the option fixing them.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from pydriver import rundir
from pydriver.analysis.trajectory import NonFinite, Trajectory, even_part, finite_part
from pydriver.analysis.transport import MIN_FIT_POINTS, FitWindow, block_edges, resolve_fit_window
from pydriver.rundir import MANIFEST_FILE, RunManifest
from pydriver.structures.atom_types import AtomType, element_mass_amu

log = logging.getLogger(__name__)


@dataclass
class RunMetadata:
    """What the analysis needs to know about a run."""

    temperature_K: float
    dt_ps: float
    types: dict[int, AtomType]
    production_start_step: int | None = None
    mass_factors: dict = field(default_factory=dict)
    formula: str | None = None
    structure_source: str | None = None
    structure_name: str | None = None
    anion_counts: dict = field(default_factory=dict)
    dump_file: str | None = None
    source: str = MANIFEST_FILE


def parse_type_map(text: str) -> dict[int, AtomType]:
    """Parse ``"1:Na 2:B_BH4 3:H_BH4"`` (or comma separated) into type infos.

    The element is the label up to the first ``_``; the rest, if any, is the anion kind.
    """
    types = {}
    for item in text.replace(",", " ").split():
        if ":" not in item:
            raise ValueError(f"type map entry {item!r}; expected TYPE:LABEL, e.g. '1:Na 2:B_BH4'")
        key, label = item.split(":", 1)
        element, _, anion = label.partition("_")
        types[int(key)] = AtomType(int(key), label, element, anion or None, element_mass_amu(element))
    if not types:
        raise ValueError(f"empty type map {text!r}")
    return types


def load_run_json(path: Path) -> RunMetadata:
    """Read ``run.json`` (format :data:`pydriver.rundir.RUN_FORMAT`) into what the analysis needs."""
    manifest = RunManifest.from_dict(json.loads(Path(path).read_text()), str(path))
    return RunMetadata(temperature_K=manifest.temperature_K, dt_ps=manifest.dt_ps, types=manifest.types_by_number,
                       production_start_step=manifest.production_start_step, mass_factors=manifest.mass_factors,
                       formula=manifest.formula, dump_file=manifest.dump_file,
                       structure_source=manifest.structure_source, structure_name=manifest.structure_name,
                       anion_counts=dict(manifest.anion_counts))


def types_from_elements(types: np.ndarray, elements: np.ndarray) -> dict[int, AtomType]:
    """Type map from a trajectory that names its elements (``element`` column, XDATCAR, extxyz).

    Raises
    ------
    ValueError
        If one type carries two different elements.
    """
    out: dict[int, AtomType] = {}
    for t, e in zip(types.tolist(), elements.tolist()):
        if t in out and out[t].element != e:
            raise ValueError(f"type {t} is both {out[t].element} and {e} in the trajectory")
        if t not in out:
            out[t] = AtomType(int(t), str(e), str(e), None, element_mass_amu(str(e)))
    return out


def check_explicit(where: str, temperature_K: float | None, dt_ps: float | None) -> None:
    """Without run.json the temperature and time step must be given; ``ValueError`` names the options."""
    missing = [n for n, v in (("--temp", temperature_K), ("--dt-ps", dt_ps)) if v is None]
    if missing:
        raise ValueError(f"{where}: no {MANIFEST_FILE}; give {' and '.join(missing)}")


def resolve_metadata(run_json: Path | None, temperature_K: float | None = None, dt_ps: float | None = None,
                     type_map: str | None = None, elements_by_type: dict[int, AtomType] | None = None,
                     where: str = "") -> RunMetadata:
    """run.json if given (explicit values override it), else the explicit values alone.

    Parameters
    ----------
    run_json : path of ``run.json``, or None.
    temperature_K, dt_ps, type_map : explicit values (``--temp``, ``--dt-ps``, ``--types``).
    elements_by_type : types named by the trajectory itself (used when there is no type map).
    where : the input, for messages.

    Raises
    ------
    ValueError
        If there is no run.json and temperature, time step or types (type map, or elements named in
        the trajectory) are missing.
    """
    if run_json is not None:
        meta = load_run_json(run_json)
    else:
        check_explicit(where, temperature_K, dt_ps)
        if type_map is None and not elements_by_type:
            raise ValueError(f"{where}: no {MANIFEST_FILE} and the trajectory names no elements; give --types, "
                             "e.g. '1:Na 2:B_BH4 3:H_BH4'")
        types = parse_type_map(type_map) if type_map is not None else elements_by_type
        return RunMetadata(float(temperature_K), float(dt_ps), types, source="options")
    if temperature_K is not None:
        meta.temperature_K = float(temperature_K)
    if dt_ps is not None:
        meta.dt_ps = float(dt_ps)
    if type_map is not None:
        meta.types = parse_type_map(type_map)
    return meta


def find_dump(run_dir: Path, meta: RunMetadata) -> Path:
    """The dump file of a run directory (the one named in ``run.json``, else the default names)."""
    return rundir.find_dump(run_dir, meta.dump_file)


def read_data_mol_ids(path: Path) -> dict[int, int] | None:
    """Molecule id per atom id from the ``Atoms`` section of a data file (``atom_style full``)."""
    if not path.is_file():
        return None
    lines = path.read_text().splitlines()
    start = next((i for i, line in enumerate(lines) if line.split("#")[0].strip() == "Atoms"), None)
    if start is None:
        return None
    style = lines[start].split("#")[1].strip() if "#" in lines[start] else "full"
    out = {}
    for line in lines[start + 2:]:
        fields = line.split("#")[0].split()
        if not fields:
            if out:
                break
            continue
        if not fields[0].lstrip("-").isdigit():
            break
        if style in ("full", "molecular", "bond", "angle"):
            out[int(fields[0])] = int(fields[1])
    return out or None


THERMO_COLUMNS = {"Temp": "thermo_temperature_K", "Volume": "thermo_volume_A3", "Press": "thermo_pressure_bar"}


def _thermo_rows(path: Path) -> list[tuple[list[str], list[float]]]:
    """(header, values) of every thermo row in ``log.lammps``, in file order."""
    header, out = None, []
    for line in path.read_text(errors="replace").splitlines():
        fields = line.split()
        if fields and fields[0] == "Step":
            header = fields
        elif fields and fields[0] == "Loop":
            header = None
        elif header and len(fields) == len(header):
            try:
                out.append((header, [float(v) for v in fields]))
            except ValueError:
                continue
    return out


def production_records(path: Path, production_start_step: int | None = None) -> list[dict[str, float]]:
    """Thermo rows of the production part of ``log.lammps`` as {column header: value}, in step order.

    Parameters
    ----------
    path : ``log.lammps`` (may be absent: no rows).
    production_start_step : rows with ``Step >= production_start_step`` (a step written twice, e.g.
        after a restart, counts once, the later row); default: the last thermo block.
    """
    if not path.is_file():
        return []
    rows = _thermo_rows(path)
    if production_start_step is None and rows:
        last_header = rows[-1][0]
        start = len(rows)
        while start > 0 and rows[start - 1][0] is last_header:
            start -= 1
        rows = rows[start:]
    by_step: dict[int, dict[str, float]] = {}
    for header, values in rows:
        if "Step" not in header:
            continue
        record = dict(zip(header, values))
        step = int(record["Step"])
        if production_start_step is None or step >= production_start_step:
            by_step[step] = record
    return [by_step[step] for step in sorted(by_step)]


def production_thermo(path: Path | None, production_start_step: int | None = None,
                      records: list[dict[str, float]] | None = None) -> dict:
    """Mean and standard deviation of Temp, Volume and Press over the production part of ``log.lammps``.

    Parameters
    ----------
    path : ``log.lammps`` (may be absent: empty result).
    production_start_step : rows with ``Step >= production_start_step`` form the production part
        (a step written twice, e.g. after a restart, counts once, the later row); default: the last
        thermo block.
    records : the rows of :func:`production_records` when already read (then ``path`` is unused).

    Returns
    -------
    dict -- ``thermo_temperature_K``, ``thermo_temperature_std_K``, ``thermo_volume_A3``,
    ``thermo_volume_std_A3``, ``thermo_pressure_bar``, ``thermo_pressure_std_bar`` (those present),
    ``thermo_n_rows``, ``thermo_first_step``, ``thermo_last_step``; with the box columns
    ``Lx Ly Lz`` (and ``Xy Xz Yz``, as the decks print them) also the simulation box's lattice
    parameters ``thermo_cell_lengths_A`` (a, b, c), ``thermo_cell_angles_deg`` (alpha, beta, gamma)
    and their standard deviations over the rows (``..._std_A``, ``..._std_deg``); empty without
    thermo rows.
    """
    if records is None:
        records = production_records(path, production_start_step)
    by_step = {int(r["Step"]): r for r in records}
    if not by_step:
        return {}
    out: dict = {"thermo_n_rows": len(by_step), "thermo_first_step": min(by_step), "thermo_last_step": max(by_step)}
    for column, key in THERMO_COLUMNS.items():
        values = np.array([r[column] for r in by_step.values() if column in r])
        if values.size:
            unit = key.rsplit("_", 1)[1]
            out[key] = float(values.mean())
            std = float(values.std(ddof=1)) if values.size > 1 else float("nan")  # one row: undefined
            out[key.replace(f"_{unit}", f"_std_{unit}")] = std
    cellpar = box_cellpar([r for r in by_step.values()])
    if cellpar is not None:
        std = cellpar.std(axis=0, ddof=1) if len(cellpar) > 1 else np.full(6, np.nan)
        out.update(thermo_cell_lengths_A=cellpar[:, :3].mean(axis=0).tolist(),
                   thermo_cell_lengths_std_A=std[:3].tolist(),
                   thermo_cell_angles_deg=cellpar[:, 3:].mean(axis=0).tolist(),
                   thermo_cell_angles_std_deg=std[3:].tolist())
    return out


def box_cellpar(records: list[dict]) -> np.ndarray | None:
    """Lattice parameters of the box in each thermo row that has ``Lx Ly Lz`` (tilts ``Xy Xz Yz`` if present).

    Parameters
    ----------
    records : thermo rows as {column header: value}.

    Returns
    -------
    (n_rows, 6) array of a, b, c (A) and alpha, beta, gamma (deg), or ``None`` when a row lacks the box
    columns. Box to lattice parameters: LAMMPS manual, "Triclinic (non-orthogonal) simulation boxes"
    (a = lx; b = sqrt(ly^2 + xy^2); c = sqrt(lz^2 + xz^2 + yz^2); cos alpha = (xy xz + ly yz)/(b c),
    cos beta = xz/c, cos gamma = xy/b).
    """
    if not records or not all({"Lx", "Ly", "Lz"} <= r.keys() for r in records):
        return None
    lx, ly, lz = (np.array([r[k] for r in records]) for k in ("Lx", "Ly", "Lz"))
    xy, xz, yz = (np.array([r.get(k, 0.0) for r in records]) for k in ("Xy", "Xz", "Yz"))
    a = lx
    b = np.sqrt(ly**2 + xy**2)
    c = np.sqrt(lz**2 + xz**2 + yz**2)
    alpha = np.degrees(np.arccos((xy * xz + ly * yz) / (b * c)))
    beta = np.degrees(np.arccos(xz / c))
    gamma = np.degrees(np.arccos(xy / b))
    return np.column_stack([a, b, c, alpha, beta, gamma])


def frame_steps(traj: Trajectory, dt_ps: float, dump_every: int | None, where: str) -> Trajectory:
    """The trajectory with the MD step of every frame known, from the file or ``--dump-every``.

    Step numbers in the file (LAMMPS dumps, extxyz ``Timestep=``, an ASE MD ``.traj``) are used as
    they are; an explicit ``dump_every`` must agree with them. Time stamps in fs (extxyz ``Time=``)
    become steps of ``dt_ps``; an explicit ``dump_every`` overrides them (with a warning when the two
    disagree, e.g. stamps written in ps). A file with neither needs ``dump_every``.

    Parameters
    ----------
    traj : the trajectory as read (``traj.step_source``: :data:`~pydriver.analysis.trajectory.STEP_SOURCES`).
    dt_ps : the MD time step (``--dt-ps`` or run.json).
    dump_every : MD steps between frames (``--dump-every``), or None.
    where : the input, for messages.

    Raises
    ------
    ValueError
        Naming ``--dump-every`` and ``--dt-ps`` when the interval is unknown, contradicts the file,
        or the time stamps are not whole numbers of MD steps.
    """
    if dump_every is not None and dump_every < 1:
        raise ValueError(f"--dump-every {dump_every}; must be >= 1")
    usual = _usual_interval(traj.steps)
    if traj.step_source == "unknown":
        vasp = " (for an XDATCAR: VASP's NBLOCK, and --dt-ps = POTIM/1000)" if "xdatcar" in traj.source_format else ""
        raise ValueError(f"{where}: the file ({traj.source_format}) carries no step numbers or time stamps, so the "
                         "time between frames is unknown; give --dump-every N (MD steps between frames) "
                         f"together with --dt-ps (the MD time step){vasp}")
    if traj.step_source == "file":
        if dump_every is not None and traj.n_frames > 1 and dump_every != usual:
            raise ValueError(f"{where}: --dump-every {dump_every} contradicts the file, whose frames are {usual} MD "
                             "steps apart; leave --dump-every out")
        if traj.dt_ps_in_file is not None and not np.isclose(traj.dt_ps_in_file, dt_ps, rtol=1e-3):
            raise ValueError(f"{where}: --dt-ps {dt_ps:g} contradicts the MD time step recorded in the file "
                             f"({traj.dt_ps_in_file:g} ps); give --dt-ps {traj.dt_ps_in_file:g}")
        return traj
    if traj.step_source == "dump_every":
        return traj
    stamps = traj.times_fs / (1000.0 * dt_ps)
    steps = np.rint(stamps).astype(np.int64)
    from_stamps = _usual_interval(steps)
    if dump_every is not None:
        sub = replace(traj, steps=np.arange(traj.n_frames, dtype=np.int64) * dump_every, step_source="dump_every",
                      times_fs=None)
        if traj.n_frames > 1 and from_stamps != dump_every:
            sub.warnings.append(f"{where}: --dump-every {dump_every} used; the file's time stamps (Time=, read in fs) "
                                f"say {_usual_interval(traj.times_fs):g} fs = {stamps[1] - stamps[0]:g} MD steps "
                                f"of --dt-ps {dt_ps:g} between frames")
            log.warning(sub.warnings[-1])
        return _renumbered(sub)
    if np.abs(stamps - steps).max(initial=0.0) > 0.01 or np.any(np.diff(steps) <= 0):
        raise ValueError(f"{where}: the file's time stamps (Time=, read in fs) are {_usual_interval(traj.times_fs):g} "
                         f"fs apart, not a whole number of MD steps of --dt-ps {dt_ps:g}; check --dt-ps, or give "
                         "--dump-every N (MD steps between frames) to use instead of the time stamps (e.g. when "
                         "they are in ps)")
    sub = replace(traj, steps=steps, step_source="time")
    sub.warnings.append(f"{where}: frames {from_stamps} MD steps of {dt_ps:g} ps apart, from the file's time stamps "
                        "(Time=, read in fs)")
    log.info(sub.warnings[-1])
    return _renumbered(sub)


def _usual_interval(values: np.ndarray):
    """The most common difference between consecutive values (0 for one frame)."""
    gaps = np.diff(np.asarray(values))
    if gaps.size == 0:
        return 0
    found, counts = np.unique(gaps, return_counts=True)
    return found[np.argmax(counts)].item()


def _renumbered(traj: Trajectory) -> Trajectory:
    """``first_nonfinite`` with the step of its frame after the steps changed."""
    bad = traj.first_nonfinite
    if bad is not None:
        traj.first_nonfinite = NonFinite(bad.frame, int(traj.steps[bad.frame]), bad.atom_ids)
    return traj


def usable_trajectory(traj: Trajectory, meta: RunMetadata, opts, where: str) -> Trajectory:
    """The part of ``traj`` the analysis may use, or a one-line ``ValueError`` naming the option to change.

    In order: frames before the first nan/inf (:func:`~pydriver.analysis.trajectory.finite_part`,
    ``--until-first-nonfinite``), evenly spaced frames (:func:`~pydriver.analysis.trajectory.even_part`,
    ``--longest-even-part``), then the checks that need nothing computed: the diffusing species is
    present (``--species``), the fit window lies inside the run (``--fit-start``/``--fit-end``), and
    every block of the block uncertainty holds enough lags for a fit (``--blocks``).

    Parameters
    ----------
    traj : the trajectory, steps known (:func:`frame_steps`).
    meta : run metadata (types, time step).
    opts : :class:`~pydriver.analysis.options.AnalysisOptions`.
    where : the input, for messages.
    """
    traj = finite_part(traj, opts.until_first_nonfinite, where)
    traj = even_part(traj, opts.longest_even_part, where)
    check_species(traj, meta, opts.diffusing_element, where)
    duration_ps = float(traj.steps[-1] - traj.steps[0]) * meta.dt_ps
    check_blocks(traj.n_frames, duration_ps, opts, where)
    return traj


def check_species(traj: Trajectory, meta: RunMetadata, species: str, where: str) -> None:
    """``ValueError`` naming ``--species`` and the elements present when no atom is ``species``.

    Types missing from the type map are left to the analysis's own error, which names them.
    """
    types = set(traj.types.tolist())
    if not types <= set(meta.types):
        return
    present = sorted({meta.types[t].element for t in types})
    if species not in present:
        raise ValueError(f"{where}: no {species} atoms to follow (the diffusing species); elements present: "
                         f"{', '.join(present) or 'none named'}; choose one with --species, e.g. --species "
                         f"{present[0] if present else 'Na'}")


def _lags_in_block_window(n_frames: int, n_blocks: int, fraction: tuple[float, float]) -> tuple[int, int]:
    """(frames in the shortest block, lags in its fit window), blocks as the analysis cuts them."""
    frames = int(np.diff(block_edges(n_frames, n_blocks)).min())
    lag = np.arange(frames, dtype=np.float64)
    if frames < 2:
        return frames, 0
    return frames, int(resolve_fit_window(lag[-1], None, None, fraction).inside(lag).sum())


def check_blocks(n_frames: int, duration_ps: float, opts, where: str) -> None:
    """``ValueError`` naming the option and the numbers when the run is too short for the fits.

    The run needs ``2 x MIN_FIT_POINTS`` frames; an explicit fit window must lie inside the run
    (``--fit-start``/``--fit-end``); each of the ``opts.n_blocks`` blocks (``--blocks``) is fitted over
    the same fraction of its length as the whole run and needs ``MIN_FIT_POINTS`` lags in it.
    """
    if n_frames < 2 * MIN_FIT_POINTS:
        raise ValueError(f"{where}: {n_frames} frames; the analysis needs at least {2 * MIN_FIT_POINTS} (a longer "
                         "run, or frames written more often)")
    window = FitWindow.of_run(duration_ps, opts.fit_start_ps, opts.fit_end_ps, opts.fit_fraction)
    if not window.within(duration_ps):  # the window resolve_fit_window would refuse, with the flags named
        raise ValueError(f"{where}: fit window {window.start_ps:g}..{window.end_ps:g} ps does not lie inside the run "
                         f"(0..{duration_ps:g} ps); choose --fit-start and --fit-end inside it")
    fraction = (window.start_ps / duration_ps, window.end_ps / duration_ps)
    frames, lags = _lags_in_block_window(n_frames, opts.n_blocks, fraction)
    if lags >= MIN_FIT_POINTS:
        return
    fewer = [b for b in range(opts.n_blocks - 1, 1, -1) if _lags_in_block_window(n_frames, b, fraction)[1]
             >= MIN_FIT_POINTS]
    needed = _frames_needed(opts.n_blocks, fraction)
    fix = (f"use --blocks {fewer[0]}{' or fewer' if fewer[0] > 2 else ''}, or a trajectory of >= {needed} frames"
           if fewer else f"even --blocks 2 needs >= {_frames_needed(2, fraction)} frames: give a longer trajectory "
           f"(>= {needed} frames for --blocks {opts.n_blocks})")
    raise ValueError(f"{where}: {n_frames} frames make --blocks {opts.n_blocks} blocks of {frames} frames, too short "
                     f"for the block fits (the fit window, {fraction[0]:.0%}-{fraction[1]:.0%} of a block, holds "
                     f"{lags} lags; need {MIN_FIT_POINTS}): {fix}")


def _frames_needed(n_blocks: int, fraction: tuple[float, float]) -> int:
    """The fewest frames whose blocks all hold ``MIN_FIT_POINTS`` lags in their fit window."""
    n = 2 * MIN_FIT_POINTS
    while _lags_in_block_window(n, n_blocks, fraction)[1] < MIN_FIT_POINTS:
        n += 1
    return n
