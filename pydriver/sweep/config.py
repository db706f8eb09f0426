"""Sweep configuration (YAML or TOML), validated with pydantic.

A sweep is structures x anion-mass factors x temperatures x seeds, each point one MD run. Every
section rejects unknown keys, naming the key and the allowed ones; :func:`load_config` turns
pydantic's errors into one ``ValueError`` whose lines name the bad key, the value and what is
allowed. Relative paths in the file are relative to the file's folder. See ``docs/sweep.md``.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

log = logging.getLogger(__name__)

#: SCIENCE.md: 300-500 K every 25 K, then 550, 600, 700, 800 K
DEFAULT_TEMPERATURES_K = [float(t) for t in range(300, 501, 25)] + [550.0, 600.0, 700.0, 800.0]
EXECUTORS = ("local", "slurm")
DTYPES = ("float32", "float64")
DEVICES = ("cpu", "cuda")
MASS_MODES = ("product", "one_at_a_time", "together")
COUPLINGS = ("auto", "tri", "aniso", "iso")
CONFIG_SUFFIXES = (".yaml", ".yml", ".toml")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_ANION_KIND = re.compile(r"^(BH4|B(\d+)H\2)$")


def _checked_name(value: str | None, what: str) -> str | None:
    """``value`` if it is a usable folder-name part, else ValueError naming ``what``."""
    if value is not None and not _NAME.match(value):
        raise ValueError(f"{what} name {value!r} may hold only letters, digits, '.', '_' and '-'")
    return value


class _Section(BaseModel):
    """Base of every section: unknown keys are errors that list the allowed keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(str(k) for k in data if k not in cls.model_fields)
            if unknown:
                raise ValueError(f"unknown key {unknown[0]!r}; allowed keys: {', '.join(cls.model_fields)}")
        return data


class StructureConfig(_Section):
    """One structure of the scan.

    Attributes
    ----------
    file : unit-cell file (CIF, POSCAR, extxyz).
    name : short name used in run names (default: the file stem); letters, digits, ``.``, ``-``.
    supercell : explicit replication (n1, n2, n3); default: the sweep's supercell rule.
    min_width_A : minimum perpendicular supercell width for this structure, in A.
    """

    file: Path
    name: str | None = None
    supercell: tuple[int, int, int] | None = None
    min_width_A: float | None = Field(default=None, gt=0)

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


class MDConfig(_Section):
    """MD settings shared by all runs (LAMMPS metal units; see :class:`pydriver.deck.MDSettings`)."""

    equil_steps: int = Field(default=50_000, ge=0)
    prod_steps: int = Field(default=1_000_000, ge=1)
    dump_every: int = Field(default=100, ge=1)
    thermo_every: int = Field(default=1000, ge=1)
    restart_every: int = Field(default=10_000, ge=1)
    dt_ps: float = Field(default=0.001, gt=0)
    pressure_bar: float = 1.0
    tdamp_ps: float = Field(default=0.1, gt=0)
    pdamp_ps: float = Field(default=1.0, gt=0)
    couple: Literal[COUPLINGS] = "auto"
    dump_velocities: bool = False


class ModelConfig(_Section):
    """The potential: an exported ``.pt`` file or a matgl checkpoint folder (exported once per sweep)."""

    path: Path
    dtype: Literal[DTYPES] = "float32"
    device: Literal[DEVICES] | None = None
    plugin_path: str | None = None


class LocalConfig(_Section):
    """Local executor: runs ``lmp`` here, a few at a time within a CPU and GPU budget."""

    max_parallel: int | None = Field(default=None, ge=1)
    cpus: int | None = Field(default=None, ge=1)
    gpus: int = Field(default=0, ge=0)
    poll_s: float = Field(default=2.0, gt=0)


class SlurmConfig(_Section):
    """SLURM executor: one job array (default) or one job per run, submitted with ``sbatch``."""

    array: bool = True
    max_concurrent: int | None = Field(default=None, ge=1)
    partition: str | None = None
    account: str | None = None
    time: str = "24:00:00"
    nodes: int = Field(default=1, ge=1)
    gpus_per_node: int = Field(default=0, ge=0)
    modules: list[str] = Field(default_factory=list)
    launcher: str = "srun"
    lmp: str = "lmp"
    sbatch_args: list[str] = Field(default_factory=list)
    poll_s: float = Field(default=60.0, gt=0)


class AnalysisConfig(_Section):
    """Analysis of each finished run (``analysis.json``) and the final report."""

    enabled: bool = True
    report: bool = True
    fit_start_ps: float | None = Field(default=None, ge=0)
    fit_end_ps: float | None = Field(default=None, gt=0)
    n_blocks: int = Field(default=5, ge=2)
    plots: bool = True
    extra_args: list[str] = Field(default_factory=list)


class SweepConfig(_Section):
    """A temperature x mass-factor scan; see ``docs/sweep.md`` for every key."""

    name: str | None = None
    output: Path | None = None
    structures: list[StructureConfig] = Field(min_length=1)
    min_width_A: float = Field(default=10.0, gt=0)
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
        for t in value:
            if not t > 0:
                raise ValueError(f"temperature {t} K must be > 0")
        duplicates = sorted({t for t in value if value.count(t) > 1})
        if duplicates:
            raise ValueError(f"temperatures {duplicates} K listed more than once")
        return [float(t) for t in value]

    @field_validator("mass_factors")
    @classmethod
    def _check_mass_factors(cls, value: dict[str, list[float]]) -> dict[str, list[float]]:
        for kind, factors in value.items():
            if not _ANION_KIND.match(kind):
                raise ValueError(f"unknown anion kind {kind!r}; allowed: 'BH4' or 'B{{n}}H{{n}}' (e.g. 'B12H12')")
            if not factors:
                raise ValueError(f"mass_factors.{kind} is empty; give at least one factor, e.g. [1]")
            bad = [f for f in factors if not 0 < f < float("inf")]
            if bad:
                raise ValueError(f"mass factor {bad[0]} for {kind} must be a positive finite number")
            if len(set(factors)) != len(factors):
                raise ValueError(f"mass_factors.{kind} {factors} lists a factor more than once")
        return value

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
            import tomllib  # noqa: PLC0415
        except ModuleNotFoundError:  # Python 3.10
            import tomli as tomllib  # noqa: PLC0415

        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path}: not valid TOML: {exc}") from exc
    else:
        import yaml  # noqa: PLC0415

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
    structures = [s.model_copy(update={"file": _resolve(s.file, base)}) for s in cfg.structures]
    for s in structures:
        if not s.file.is_file():
            raise FileNotFoundError(f"{source}: structures: file {s.file} (structure {s.label!r}) not found")
    model = cfg.model.model_copy(update={"path": _resolve(cfg.model.path, base)})
    if not model.path.exists():
        raise FileNotFoundError(f"{source}: model.path {model.path} not found (an exported .pt file or a "
                                "matgl checkpoint folder)")
    name = cfg.name or default_name
    output = _resolve(cfg.output, base) if cfg.output else (Path.cwd() / f"sweep-{name}").resolve()
    return cfg.model_copy(update={"structures": structures, "model": model, "name": name, "output": output})


def load_config(path: str | Path) -> SweepConfig:
    """Read and validate a sweep config file (``.yaml``/``.yml`` or ``.toml``).

    Parameters
    ----------
    path : the config file; its stem is the default sweep name (output ``./sweep-<name>``).

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
