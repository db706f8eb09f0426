"""The run-directory contract (docs/run_directory.md): file names, format tags and typed records.

One MD run is one directory. Decks write it, LAMMPS fills it, the analysis reads it and writes
``analysis.json``, sweeps drive it and the report collects it. Every file name and format tag of
that contract is defined here and only here; the Jinja2 templates receive the names from
:func:`template_names`. The typed records :class:`RunManifest` (``run.json``) and
:class:`AnalysisSummary` (``analysis.json``) follow pymatgen-analysis-diffusion's
``as_dict``/``from_dict`` convention as ``to_dict``/``from_dict``.

This module is the bottom of the driver's layers: it imports no other part of ``pydriver`` except
the :class:`~pydriver.structures.atom_types.AtomType` record.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from pydriver.structures.atom_types import AtomType, element_mass_amu

# ---- files of a run directory -------------------------------------------------------------------
DATA_FILE = "data.lmp"
INPUT_FILE = "in.lammps"
JOB_FILE = "job.slurm"
MANIFEST_FILE = "run.json"
LOG_FILE = "log.lammps"
DUMP_FILE = "dump.lammpstrj"
#: dump names a reader accepts, in order of preference (LAMMPS writes ``.gz`` with ``dump ... .gz``)
DUMP_NAMES = (DUMP_FILE, f"{DUMP_FILE}.gz")
RESTART_DIR = "restart"
#: restart files are ``RESTART_DIR/RESTART_PREFIX<step>``
RESTART_PREFIX = "restart."
MODEL_FILE = "model.pt"
ANALYSIS_FILE = "analysis.json"
#: per-atom results of the diffusing species (columns id, msd_A2, active), written by the analysis
PER_ATOM_FILE = "per_atom.csv"
#: the other files the analysis writes (``files`` section of analysis.json; docs/run_directory.md)
ANALYSIS_TABLE_FILE = "analysis.csv"  # one row: every scalar of analysis.json
MSD_TABLE_FILE = "msd.csv"  # MSD per species label, MSCD, active fractions against lag time
MSD_PLOT_FILE = "msd.png"
NGP_TABLE_FILE = "ngp.csv"  # non-Gaussian parameter against lag time
VAN_HOVE_TABLE_FILE = "van_hove.csv"  # self part of the van Hove function at a few lags
SITES_TABLE_FILE = "sites.csv"  # one row per mobile-ion site: position, family, occupancy, residence time
SITE_HOPS_TABLE_FILE = "site_hops.csv"  # hops per ordered site pair (from_site, to_site, n_hops)
REORIENTATION_TABLE_FILE = "reorientation.csv"  # C_1, C_2 of each anion kind against lag time
REORIENTATION_PLOT_FILE = "reorientation.png"
#: mobile-ion probability density grids are ``<element>`` + one of these
DENSITY_GRID_SUFFIXES = ("_density.CHGCAR", "_density.cube")
#: OVITO session state written by ``python -m pydriver render --session`` (pydriver.viz)
OVITO_SESSION_FILE = "pipeline.ovito"
ANALYSIS_LOG = "analysis.log"
#: sweep bookkeeping inside a run directory
STATE_FILE = "sweep_state.json"
RUN_LOG = "sweep_run.log"
EXIT_CODE_FILE = ".sweep_exit_code"
#: SLURM job id of the array task running this run directory
JOB_ID_FILE = ".sweep_job_id"
#: held (``flock``) by the job running LAMMPS in this directory; JSON naming the holder (host, pid, start)
RUN_LOCK = ".run.lock"
#: adaptive production length: chunk end, stopping-rule history, final verdict
ADAPTIVE_FILE = "adaptive.json"
CORRUPT_DIR = "corrupt"

# ---- files of a sweep folder --------------------------------------------------------------------
SWEEP_MANIFEST = "sweep.json"
#: held (``flock``) by the ``sweep run`` working on this folder; JSON naming the holder
SWEEP_LOCK = ".sweep.lock"
MODEL_FOLDER = "model"
#: copies of the structure files a sweep was prepared from (``inputs/<structure>/<file>``), so it moves whole
INPUTS_FOLDER = "inputs"
#: run directories a ``sweep run --rerun-changed`` replaced, kept as ``<run>-<time>/``
SUPERSEDED_FOLDER = "superseded"
REPORT_FOLDER = "report"
#: SLURM job-array scripts and their task output (``array-<time>.slurm``, ``<array id>_<task>.out``)
SLURM_FOLDER = "slurm"

# ---- format tags --------------------------------------------------------------------------------
RUN_FORMAT = "pydriver-run/1"
ANALYSIS_FORMAT = "pydriver-analysis/1"
SWEEP_FORMAT = "pydriver-sweep/1"
REPORT_FORMAT = "pydriver-report/1"


def template_names() -> dict[str, str]:
    """File names the Jinja2 templates use (``in.lammps.j2``, ``job.slurm.j2``, the array script)."""
    return {"data_file": DATA_FILE, "dump_file": DUMP_FILE, "restart_dir": RESTART_DIR,
            "log_file": LOG_FILE, "input_file": INPUT_FILE, "job_file": JOB_FILE,
            "exit_code_file": EXIT_CODE_FILE, "job_id_file": JOB_ID_FILE, "lock_file": RUN_LOCK}


def coordination_table_file(anion_kind: str) -> str:
    """Coordination number of the mobile ion by one anion kind against time: ``cn_<kind>.csv``."""
    return f"cn_{anion_kind}.csv"


def rdf_table_file(pair: str) -> str:
    """Radial distribution function of one pair (e.g. ``Na-BH4``): ``rdf_<pair>.csv``."""
    return f"rdf_{pair}.csv"


def density_grid_files(element: str) -> tuple[str, str]:
    """The density grids of ``element``: ``(<element>_density.CHGCAR, <element>_density.cube)``."""
    return tuple(f"{element}{suffix}" for suffix in DENSITY_GRID_SUFFIXES)


def find_dump(run_dir: str | Path, name: str | None = None) -> Path:
    """The dump file of a run directory: ``name`` (from ``run.json``) or one of :data:`DUMP_NAMES`.

    Raises
    ------
    FileNotFoundError
        If none of the candidates exists.
    """
    run_dir = Path(run_dir)
    names = ([name] if name else []) + [n for n in DUMP_NAMES if n != name]
    for candidate in names:
        for path in (run_dir / candidate, run_dir / f"{candidate}.gz"):
            if path.is_file():
                return path
    raise FileNotFoundError(f"{run_dir}: no dump file; looked for {names}")


def _check_record(data: dict, expected_format: str, required: tuple[str, ...], what: str) -> None:
    """Raise ``ValueError`` naming ``what`` if the format tag differs or required keys are missing."""
    if data.get("format") != expected_format:
        raise ValueError(f"{what}: format {data.get('format')!r}; expected {expected_format!r}")
    missing = [k for k in required if k not in data]
    if missing:
        raise ValueError(f"{what}: missing keys {missing}")


def _known(cls, data: dict) -> dict:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


@dataclass
class RunManifest:
    """``run.json``: what a run directory holds and how it was made (format :data:`RUN_FORMAT`).

    Attributes (units in names) mirror the JSON keys; ``types`` holds one
    :class:`~pydriver.structures.atom_types.AtomType` per LAMMPS type with ``mass_amu`` the mass used
    in the run (mass-scaled) and ``element_mass_amu`` the element's. Keys a reader does not know are
    kept in ``extra`` and written back unchanged.
    """

    temperature_K: float
    dt_ps: float
    types: list[AtomType]
    structure_source: str | None = None
    structure_name: str | None = None
    formula: str | None = None
    n_atoms: int | None = None
    supercell: list[int] | None = None
    anion_counts: dict[str, int] = field(default_factory=dict)
    pair_coeff_elements: list[str] = field(default_factory=list)
    mass_factors: dict[str, float] = field(default_factory=dict)
    pressure_bar: float | None = None
    equil_steps: int | None = None
    prod_steps: int | None = None
    dump_every: int | None = None
    dump_file: str = DUMP_FILE
    dump_columns: list[str] = field(default_factory=list)
    production_start_step: int | None = None
    thermo_every: int | None = None
    log_file: str = LOG_FILE
    restart_every: int | None = None
    restart_dir: str = RESTART_DIR
    barostat: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    device: str | None = None
    plugin_path: str | None = None
    model: dict[str, Any] = field(default_factory=dict)
    job: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, Any] = field(default_factory=dict)
    element_masses_amu: dict[int, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready dict in the documented key order."""
        out: dict[str, Any] = {"format": RUN_FORMAT}
        for f in fields(self):
            if f.name in ("extra", "element_masses_amu"):
                continue
            value = getattr(self, f.name)
            if f.name == "types":
                value = [{**t.as_dict(), **({"element_mass_amu": self.element_masses_amu[t.type]}
                                             if t.type in self.element_masses_amu else {})} for t in value]
            out[f.name] = value
        out.update(self.extra)
        return out

    @classmethod
    def from_dict(cls, data: dict, where: str = MANIFEST_FILE) -> RunManifest:
        """Parse a ``run.json`` dict.

        Raises
        ------
        ValueError
            If the format tag is not :data:`RUN_FORMAT` or a required key is missing.
        """
        _check_record(data, RUN_FORMAT, ("temperature_K", "dt_ps", "types"), where)
        types, element_masses = [], {}
        for t in data["types"]:
            mass = t.get("mass_amu")
            if mass is None:
                mass = element_mass_amu(t["element"])
            types.append(AtomType(int(t["type"]), t["label"], t["element"], t.get("anion"), float(mass)))
            if "element_mass_amu" in t:
                element_masses[int(t["type"])] = float(t["element_mass_amu"])
        known = _known(cls, data)
        known.update(types=types, element_masses_amu=element_masses,
                     temperature_K=float(data["temperature_K"]), dt_ps=float(data["dt_ps"]),
                     mass_factors=data.get("mass_factors") or {})
        extra = {k: v for k, v in data.items() if k not in known and k != "format"}
        return cls(**known, extra=extra)

    @classmethod
    def read(cls, run_dir: str | Path) -> RunManifest:
        """``RUN_DIR/run.json``.

        Raises
        ------
        FileNotFoundError
            If the run directory has no ``run.json``.
        ValueError
            If it is not a ``run.json`` of this format.
        """
        path = Path(run_dir) / MANIFEST_FILE
        if not path.is_file():
            raise FileNotFoundError(f"no {MANIFEST_FILE} in {run_dir}")
        return cls.from_dict(json.loads(path.read_text()), str(path))

    def write(self, run_dir: str | Path) -> Path:
        """Write ``RUN_DIR/run.json``; returns its path."""
        path = Path(run_dir) / MANIFEST_FILE
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return path

    @property
    def types_by_number(self) -> dict[int, AtomType]:
        """``{LAMMPS type: AtomType}``."""
        return {t.type: t for t in self.types}


#: top-level sections of ``analysis.json`` in written order
ANALYSIS_SECTIONS = ("run", "parameters", "transport", "diagnostics", "msd_at_half_run_A2", "msd_at_end_A2",
                     "active", "rotation", "anions", "coordination", "warnings", "files")


@dataclass
class AnalysisSummary:
    """``analysis.json``: the results of one analysed run (format :data:`ANALYSIS_FORMAT`).

    Every section is a JSON object with unit-suffixed keys (docs/analysis.md lists them); the record
    types the envelope (format, version, sections) and keeps unknown sections in ``extra``.
    """

    pydriver_version: str
    run: dict[str, Any]
    parameters: dict[str, Any]
    transport: dict[str, Any]
    diagnostics: dict[str, Any] = field(default_factory=dict)
    msd_at_half_run_A2: dict[str, float] = field(default_factory=dict)
    msd_at_end_A2: dict[str, float] = field(default_factory=dict)
    active: dict[str, Any] = field(default_factory=dict)
    rotation: dict[str, Any] = field(default_factory=dict)
    anions: dict[str, Any] = field(default_factory=dict)
    coordination: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready dict (``files`` only when output files were written)."""
        out: dict[str, Any] = {"format": ANALYSIS_FORMAT, "pydriver_version": self.pydriver_version}
        for name in ANALYSIS_SECTIONS:
            if name == "files" and not self.files:
                continue
            out[name] = getattr(self, name)
        out.update(self.extra)
        return out

    @classmethod
    def from_dict(cls, data: dict, where: str = ANALYSIS_FILE) -> AnalysisSummary:
        """Parse an ``analysis.json`` dict.

        Raises
        ------
        ValueError
            If the format tag is not :data:`ANALYSIS_FORMAT` or a required section is missing.
        """
        _check_record(data, ANALYSIS_FORMAT, ("run", "parameters", "transport"), where)
        known = _known(cls, data)
        known.setdefault("pydriver_version", "unknown")
        extra = {k: v for k, v in data.items() if k not in known and k != "format"}
        return cls(**known, extra=extra)

    @classmethod
    def read(cls, path: str | Path) -> AnalysisSummary:
        """An ``analysis.json`` file, or the one in a run directory."""
        path = Path(path)
        if path.is_dir():
            path = path / ANALYSIS_FILE
        return cls.from_dict(json.loads(path.read_text()), str(path))


def dump_timesteps(path: str | Path) -> list[int]:
    """Timesteps of the frames in a LAMMPS text dump, in file order."""
    steps = []
    with open(path) as handle:
        for line in handle:
            if line.startswith("ITEM: TIMESTEP"):
                steps.append(int(next(handle)))
    return steps
