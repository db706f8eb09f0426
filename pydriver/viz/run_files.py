"""Find what a picture needs in a run directory or next to a dump (no OVITO import).

A run directory (docs/run_directory.md) holds the dump, ``run.json`` (type labels and elements),
and after ``python -m pydriver analyze`` also ``analysis.json``, the Na density grid
(``*_density.CHGCAR``) and the per-atom table of the mobile ions. A bare dump is accepted too; its
types are then named from its ``element`` column or from a ``--types`` map.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from pydriver.rundir import (ANALYSIS_FILE, DATA_FILE, DENSITY_GRID_SUFFIXES, MANIFEST_FILE, PER_ATOM_FILE,
                             SITE_HOPS_TABLE_FILE, SITES_TABLE_FILE, AnalysisSummary, RunManifest, find_dump)
from pydriver.structures.atom_types import AtomType

log = logging.getLogger(__name__)

#: keys of ``analysis.json``'s ``files`` section that name the density grid, in order of preference
DENSITY_KEYS = ("density_chgcar", "density_cube")
#: density grids the analysis writes (``<element>_density.CHGCAR``), used without analysis.json
DENSITY_GLOBS = tuple(f"*{suffix}" for suffix in DENSITY_GRID_SUFFIXES)


@dataclass
class RunFiles:
    """Inputs of one picture.

    Attributes
    ----------
    dump : the LAMMPS text dump.
    run_dir : the run directory (the dump's folder), or ``None`` for a dump given alone.
    types : atom types by LAMMPS type number, or ``None`` when only the dump can name them.
    analysis : the run's ``analysis.json``, or ``None``.
    density : the mobile-ion density grid (CHGCAR or cube), or ``None``.
    per_atom : the analysis's per-atom table of the mobile ions, or ``None``.
    data_file : ``data.lmp`` of the run, or ``None``.
    sites : the analysis's site table (``sites.csv``), or ``None``.
    site_hops : the analysis's hops per site pair (``site_hops.csv``), or ``None``.
    """

    dump: Path
    run_dir: Path | None
    types: dict[int, AtomType] | None
    analysis: AnalysisSummary | None
    density: Path | None
    per_atom: Path | None
    data_file: Path | None = None
    sites: Path | None = None
    site_hops: Path | None = None

    def require_analysis(self, what: str) -> AnalysisSummary:
        """The analysis summary, or a one-line ``FileNotFoundError`` naming the mode that needs it."""
        if self.analysis is None:
            where = self.run_dir or self.dump.parent
            raise FileNotFoundError(f"--what {what} needs the analysis: no {ANALYSIS_FILE} in {where}; "
                                    f"run `python -m pydriver analyze {where}` first")
        return self.analysis


def locate(path: str | Path, type_map: dict[int, AtomType] | None = None) -> RunFiles:
    """Resolve ``RUN_DIR_OR_DUMP`` into the files a picture needs.

    Parameters
    ----------
    path : a run directory or a dump file (a dump inside a run directory finds the rest).
    type_map : types that override ``run.json`` (e.g. from ``--types``).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist or a run directory has no dump.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such run directory or dump file")
    if path.is_dir():
        manifest = _manifest(path)
        dump = find_dump(path, manifest.dump_file if manifest else None)
    else:
        dump = path
        manifest = _manifest(path.parent)
    run_dir = dump.parent if manifest is not None or path.is_dir() else None
    folder = dump.parent
    types = type_map or (manifest.types_by_number if manifest else None)
    analysis = AnalysisSummary.read(folder) if (folder / ANALYSIS_FILE).is_file() else None
    data_file = folder / DATA_FILE if (folder / DATA_FILE).is_file() else None
    return RunFiles(dump, run_dir, types, analysis, _density(folder, analysis), _per_atom(folder, analysis), data_file,
                    _listed(folder, analysis, "sites_csv", SITES_TABLE_FILE),
                    _listed(folder, analysis, "site_hops_csv", SITE_HOPS_TABLE_FILE))


def _manifest(folder: Path) -> RunManifest | None:
    return RunManifest.read(folder) if (folder / MANIFEST_FILE).is_file() else None


def _per_atom(folder: Path, analysis: AnalysisSummary | None) -> Path | None:
    """The per-atom table: the file ``analysis.json`` lists under a ``per_atom*`` key, else PER_ATOM_FILE."""
    listed = [name for key, name in (analysis.files if analysis else {}).items() if key.startswith("per_atom")]
    for name in [*listed, PER_ATOM_FILE]:
        if (folder / name).is_file():
            return folder / name
    return None


def _listed(folder: Path, analysis: AnalysisSummary | None, key: str, default: str) -> Path | None:
    """The file ``analysis.json`` lists under ``key``, else ``default``, if it exists in ``folder``."""
    for name in ((analysis.files if analysis else {}).get(key), default):
        if name and (folder / name).is_file():
            return folder / name
    return None


def _density(folder: Path, analysis: AnalysisSummary | None) -> Path | None:
    files = analysis.files if analysis else {}
    for key in DENSITY_KEYS:
        if files.get(key) and (folder / files[key]).is_file():
            return folder / files[key]
    for pattern in DENSITY_GLOBS:
        found = sorted(folder.glob(pattern))
        if found:
            return found[0]
    return None
