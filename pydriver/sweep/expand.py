"""Expand a sweep config into runs with deterministic names, and write their run directories.

Run names read ``<structure>_T<K>_<anion tags>_s<seed>``, e.g. ``oNBH_T400_bh4x1_b12x5_s1``, or
``<structure>_T<K>_<anion tags>_o<k>_s<seed>`` for a structure with ``replicate_files`` (k: which of
its files; all runs of one structure, temperature and mass factors are replicates). Mass
factors of anion kinds that a structure does not contain are set to 1 and the duplicates this
creates are dropped (NaBH4 has no B12H12, so its ``b12x5`` runs would repeat ``b12x1``).
"""

from __future__ import annotations

import itertools
import json
import logging
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

from pydriver.deck import JobSettings, MDSettings, sha256_file, write_run_directory
from pydriver.model_file import source_checkpoint_sha256
from pydriver.structures import find_anions, read_structure
from pydriver.sweep.config import SweepConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunSpec:
    """One point of the sweep.

    Attributes
    ----------
    name : run-directory name.
    structure : structure label; ``structure_file`` its file.
    temperature_K : NPT temperature, in K.
    mass_factors : {anion kind: factor} (kinds absent from the structure are 1).
    seed : velocity seed.
    structure_index : which of the structure's files (1 = ``file``, 2... = ``replicate_files``), or
        ``None`` for a structure with one file.
    supercell : explicit replication or ``None`` (then ``min_width_A`` decides), widths in A.
    """

    name: str
    structure: str
    structure_file: str
    temperature_K: float
    mass_factors: dict = field(hash=False)
    seed: int
    supercell: tuple[int, int, int] | None
    min_width_A: float
    structure_index: int | None = None

    def as_dict(self) -> dict:
        """JSON-ready dict."""
        d = asdict(self)
        d["supercell"] = list(self.supercell) if self.supercell else None
        return d


def format_number(value: float) -> str:
    """Compact number for run names: ``400.0 -> '400'``, ``1.5 -> '1.5'``."""
    return f"{float(value):g}"


def anion_tag(kind: str) -> str:
    """Short lowercase tag of an anion kind: ``BH4 -> 'bh4'``, ``B12H12 -> 'b12'``."""
    return "bh4" if kind == "BH4" else kind.split("H")[0].lower()


def run_name(structure: str, temperature_K: float, mass_factors: dict, seed: int,
             structure_index: int | None = None) -> str:
    """Deterministic run-directory name, e.g. ``oNBH_T400_bh4x1_b12x5_s1`` (``..._o2_s2`` for the
    second file of a structure with replicate files)."""
    tags = "_".join(f"{anion_tag(k)}x{format_number(v)}" for k, v in mass_factors.items())
    ordering = f"_o{structure_index}" if structure_index is not None else ""
    return f"{structure}_T{format_number(temperature_K)}_{tags}{ordering}_s{seed}"


def mass_combinations(mass_factors: dict[str, list[float]], mode: str) -> list[dict[str, float]]:
    """Mass-factor combinations of a sweep.

    Parameters
    ----------
    mass_factors : {anion kind: factors}.
    mode : ``product`` (every combination), ``one_at_a_time`` (scale one kind, the others at 1)
        or ``together`` (every kind gets the same factor, over the union of the listed factors).

    Returns
    -------
    list of dict
        {kind: factor}, kinds in the order of ``mass_factors``.
    """
    kinds = list(mass_factors)
    if mode == "product":
        return [dict(zip(kinds, combo)) for combo in itertools.product(*(mass_factors[k] for k in kinds))]
    if mode == "one_at_a_time":
        combos = [{k: 1.0 for k in kinds}]
        for kind in kinds:
            combos += [{**{k: 1.0 for k in kinds}, kind: float(f)} for f in mass_factors[kind] if f != 1.0]
        return combos
    if mode == "together":
        factors = sorted({float(f) for fs in mass_factors.values() for f in fs})
        return [{k: f for k in kinds} for f in factors]
    raise ValueError(f"mass_mode {mode!r}; allowed: product, one_at_a_time, together")


@lru_cache(maxsize=32)
def structure_anion_kinds(path: str) -> frozenset[str]:
    """Anion kinds present in a structure file (cached)."""
    return frozenset(find_anions(read_structure(path)).counts)


def replicate_seed(seed: int, structure_index: int | None, seeds: list[int]) -> int:
    """Velocity seed of a run on replicate file ``structure_index`` (1 = ``file``, 2... =
    ``replicate_files``): ``seed + (k - 1) * max(seeds)``, so every file's runs draw velocities with
    seeds no other file uses (``loop geom`` velocities of two orderings with one seed would be
    nearly the same for the shared framework atoms). E.g. seeds ``[1]``: ``o1_s1``, ``o2_s2``.
    """
    if not structure_index or structure_index == 1:
        return seed
    return seed + (structure_index - 1) * max(seeds)


def expand(config: SweepConfig) -> list[RunSpec]:
    """All runs of a sweep, in order structure, mass factors, temperature, structure file, seed.

    Raises
    ------
    ValueError
        If two runs would get the same name.
    """
    runs: dict[str, RunSpec] = {}
    for structure in config.structures:
        present = structure_anion_kinds(str(structure.file))
        for other in structure.replicate_files or []:
            if structure_anion_kinds(str(other)) != present:
                raise ValueError(f"structure {structure.label!r}: replicate file {other} has anion kinds "
                                 f"{sorted(structure_anion_kinds(str(other)))}, {structure.file} has {sorted(present)}; "
                                 "replicate files must be the same phase")
        files = [(i + 1 if structure.replicate_files else None, f) for i, f in enumerate(structure.files)]
        seen = set()
        for scan in structure.scans or [None]:
            temperatures_K = (scan and scan.temperatures_K) or config.temperatures_K
            combos = mass_combinations((scan and scan.mass_factors) or config.mass_factors,
                                       (scan and scan.mass_mode) or config.mass_mode)
            for combo in combos:
                factors = {k: (float(v) if k in present else 1.0) for k, v in combo.items()}
                for temperature_K, (index, file), base_seed in itertools.product(temperatures_K, files, config.seed_list):
                    seed = replicate_seed(base_seed, index, config.seed_list)
                    key = (tuple(sorted(factors.items())), float(temperature_K), index, seed)
                    if key in seen:
                        continue
                    seen.add(key)
                    name = run_name(structure.label, temperature_K, factors, seed, index)
                    if name in runs:
                        raise ValueError(f"run name {name!r} is not unique; check structure names and numbers")
                    runs[name] = RunSpec(name, structure.label, str(file), float(temperature_K), factors,
                                         int(seed), structure.supercell, structure.min_width_A or config.min_width_A,
                                         index)
    return list(runs.values())


def md_settings(config: SweepConfig, spec: RunSpec) -> MDSettings:
    """:class:`pydriver.deck.MDSettings` of one run: the ``md`` section plus this run's values."""
    return config.md.settings(temperature_K=spec.temperature_K, seed=spec.seed, mass_factors=dict(spec.mass_factors),
                              device=config.model.device, plugin_path=config.model.plugin_path)


def job_settings(config: SweepConfig, spec: RunSpec) -> JobSettings:
    """:class:`pydriver.deck.JobSettings` of one run (the per-run ``job.slurm``)."""
    s = config.slurm
    return JobSettings(job_name=spec.name, nodes=s.nodes, ranks_per_node=config.mpi_ranks,
                       cpus_per_task=config.threads_per_rank, gpus_per_node=s.gpus_per_node, time=s.time,
                       partition=s.partition, account=s.account, modules=list(s.modules), launcher=s.launcher,
                       lmp=s.lmp, python=s.python)


def _flatten(prefix: str, value) -> dict:
    if isinstance(value, dict) and value and prefix.count(".") < 2:
        out = {}
        for key, item in value.items():
            out.update(_flatten(f"{prefix}.{key}", item))
        return out
    return {prefix: value}


def _model_identity(model_file: Path) -> str | None:
    """The checkpoint's sha256 for an exported file; a file the exporter did not write (or of another
    format version) by its own bytes; ``None`` before the export."""
    if not model_file.is_file():
        return None
    try:
        return source_checkpoint_sha256(model_file)
    except ValueError:
        return sha256_file(model_file)


def run_parameters(config: SweepConfig, spec: RunSpec, model_file: Path) -> dict:
    """Every parameter that defines a run's physics, flat (``{"md.pressure_bar": 1.0, ...}``).

    Files enter by content, not by path, so a sweep moved to another folder or machine has the same
    parameters: ``structure_sha256``, and the model as the checkpoint it was exported from
    (``model.source_sha256``, ``None`` before the export; a re-exported file of the same checkpoint and
    dtype is the same model, see :func:`pydriver.model_file.source_checkpoint_sha256`).
    Recorded per run when its deck is written and compared field by field on every resume
    (:func:`changed_parameters`).
    """
    params = {"structure": spec.structure, "structure_sha256": sha256_file(spec.structure_file),
              "temperature_K": spec.temperature_K, "mass_factors": dict(spec.mass_factors), "seed": spec.seed,
              "supercell": list(spec.supercell) if spec.supercell else None, "min_width_A": spec.min_width_A}
    params.update(_flatten("md", config.md.model_dump(mode="json")))
    params.update({"model.dtype": config.model.dtype, "model.device": config.model.device,
                   "model.compile": config.model.compile,
                   "model.source_sha256": _model_identity(Path(model_file))})
    return json.loads(json.dumps(params))  # JSON types, as read back from sweep_state.json


#: how parameters recorded before ``model.source_sha256`` named the model: the exported file's sha256
LEGACY_MODEL_KEY = "model.sha256"


def upgrade_parameters(recorded: dict, model_file: Path) -> dict:
    """Recorded parameters in today's form. A record naming the model by the exported file's sha256 (written
    before ``model.source_sha256``) describes the same model when that file is still the sweep's model
    file: its key is replaced by the checkpoint's sha256. Otherwise the record is returned unchanged, and
    :func:`changed_parameters` reports the difference."""
    if LEGACY_MODEL_KEY not in recorded or "model.source_sha256" in recorded:
        return recorded
    model_file = Path(model_file)
    if not model_file.is_file() or sha256_file(model_file) != recorded[LEGACY_MODEL_KEY]:
        return recorded
    upgraded = {k: v for k, v in recorded.items() if k != LEGACY_MODEL_KEY}
    upgraded["model.source_sha256"] = _model_identity(model_file)
    return upgraded


def changed_parameters(recorded: dict, current: dict) -> list[tuple[str, object, object]]:
    """``[(field, recorded value, current value)]`` for the fields that differ, in ``current``'s order."""
    keys = list(current) + [k for k in recorded if k not in current]
    return [(k, recorded.get(k), current.get(k)) for k in keys if recorded.get(k) != current.get(k)]


def write_run(config: SweepConfig, spec: RunSpec, model_file: Path, run_dir: Path) -> Path:
    """Write one run directory through the deck API (``pydriver.deck.write_run_directory``).

    ``model_file`` is the sweep's exported model, so a checkpoint folder is exported once per
    sweep instead of once per run.
    """
    return write_run_directory(spec.structure_file, model_file, run_dir, md=md_settings(config, spec),
                               job=job_settings(config, spec), replication=spec.supercell,
                               min_width_A=spec.min_width_A, copy_model=False, model_dtype=config.model.dtype)
