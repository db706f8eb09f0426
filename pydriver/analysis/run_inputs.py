"""Inputs of one run directory (docs/run_directory.md): run.json, data.lmp molecule ids, log.lammps.

Where ``run.json`` is absent, :func:`metadata_from_options` builds the same information from
explicit values (temperature, time step, a type map such as ``1:Na 2:B_BH4 3:H_BH4``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pydriver import rundir
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
                       structure_source=manifest.structure_source, anion_counts=dict(manifest.anion_counts))


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


def production_thermo(path: Path, production_start_step: int | None = None) -> dict:
    """Mean and standard deviation of Temp, Volume and Press over the production part of ``log.lammps``.

    Parameters
    ----------
    path : ``log.lammps`` (may be absent: empty result).
    production_start_step : rows with ``Step >= production_start_step`` form the production part
        (a step written twice, e.g. after a restart, counts once, the later row); default: the last
        thermo block.

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
    by_step = {int(r["Step"]): r for r in production_records(path, production_start_step)}
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
