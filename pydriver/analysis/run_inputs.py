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
from pydriver.structures.atom_types import AtomType

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
    dump_file: str | None = None
    source: str = MANIFEST_FILE


def element_mass_amu(element: str) -> float:
    """Standard atomic mass of ``element`` (pymatgen), amu."""
    from pymatgen.core import Element

    try:
        return float(Element(element).atomic_mass)
    except ValueError as exc:
        raise ValueError(f"unknown element {element!r} in type map") from exc


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
                       formula=manifest.formula, dump_file=manifest.dump_file)


def resolve_metadata(run_dir: Path, temperature_K: float | None = None, dt_ps: float | None = None,
                     type_map: str | None = None) -> RunMetadata:
    """run.json if present (explicit values override it), else the explicit values alone.

    Raises
    ------
    ValueError
        If there is no run.json and temperature, time step or type map is missing.
    """
    run_json = run_dir / MANIFEST_FILE
    if run_json.is_file():
        meta = load_run_json(run_json)
    else:
        missing = [n for n, v in (("--temp", temperature_K), ("--timestep", dt_ps), ("--types", type_map))
                   if v is None]
        if missing:
            raise ValueError(f"{run_dir}: no {MANIFEST_FILE}; give {', '.join(missing)}")
        meta = RunMetadata(float(temperature_K), float(dt_ps), parse_type_map(type_map), source="options")
        return meta
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


def thermo_means(path: Path) -> dict:
    """Means of Temp, Volume and Press over the last thermo block of ``log.lammps`` (may be empty)."""
    if not path.is_file():
        return {}
    header, rows = None, []
    for line in path.read_text(errors="replace").splitlines():
        fields = line.split()
        if fields and fields[0] == "Step":
            header, rows = fields, []
        elif fields and fields[0] == "Loop":
            header = header if rows else None
        elif header and len(fields) == len(header):
            try:
                rows.append([float(v) for v in fields])
            except ValueError:
                continue
    if not rows:
        return {}
    data = np.array(rows)
    names = {"Temp": "thermo_temperature_K", "Volume": "thermo_volume_A3", "Press": "thermo_pressure_bar"}
    return {key: float(data[:, header.index(col)].mean()) for col, key in names.items() if col in header}
