#!/usr/bin/env python
"""Cost of the paper-scale study from measured ms/step: the tables of examples/study_paper/README.md.

    .venv/bin/python examples/study_paper/cost.py

Runs and MD steps come from the configs (``study.yaml`` and ``study_gpu.yaml`` expand into the same
runs). ms per MD step comes from the committed benchmark results (``benchmarks/results/*.json``; the
1024-atom o-NBH cell, float32, compiled engine, full LAMMPS MD steps on the project's 2-core VM), each
quoted with its file and date; nothing is timed here. Precursor cells are costed at the o-NBH rate per
atom of the same ranks x threads. GPU hours are not measured: printed as a placeholder.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pydriver.structures import read_structure
from pydriver.sweep.config import SweepConfig, load_config
from pydriver.sweep.estimate import format_seconds, wall_seconds
from pydriver.sweep.expand import RunSpec, expand, md_settings

HERE = Path(__file__).resolve().parent
RESULTS = HERE.parent.parent / "benchmarks" / "results"
CPU_CONFIG, GPU_CONFIG = HERE / "study.yaml", HERE / "study_gpu.yaml"
#: full LAMMPS MD steps of o-NBH 2x2x2 (1024 atoms), float32, compiled engine, 1 or 2 threads (2026-11-30)
THREADS_FILE = RESULTS / "session6_float32.json"
#: the compiled engine on 1 and 2 MPI ranks (comm halo), 1024-atom Na3(BH4)(B12H12) test cell (2026-12-07)
RANKS_FILE = RESULTS / "mpi_compiled_halo_float32.json"
ONBH_ATOMS = 1024


@dataclass(frozen=True)
class Layout:
    """One ranks x threads choice for every run and its o-NBH (1024 atoms) rate.

    Attributes
    ----------
    ranks, threads : MPI ranks per run and OpenMP threads per rank (cores per run = ranks * threads).
    ms_per_step : ms per MD step of the 1024-atom o-NBH cell.
    source : where ``ms_per_step`` comes from (file and date, or how it is derived).
    """

    ranks: int
    threads: int
    ms_per_step: float
    source: str

    @property
    def cores(self) -> int:
        """Cores per run."""
        return self.ranks * self.threads


def _date(data: dict) -> str:
    return str(data["time"])[:10]


def _rel(path: Path) -> str:
    return path.relative_to(HERE.parent.parent).as_posix()


def measured_layouts() -> list[Layout]:
    """The three CPU choices of the README's table, read from the committed benchmark results.

    Raises
    ------
    ValueError
        If a benchmark file lacks the row it is read for.
    """
    threads = json.loads(THREADS_FILE.read_text())
    rows = {(r["threads"], r["ranks"]): r["ms_per_step"] for r in threads["results"]
            if r["cell"] == "onbh:2" and r["variant"] == "compiled" and r["status"] == "ok"}
    ranks = json.loads(RANKS_FILE.read_text())
    mixed = next((r for r in ranks["results"] if r["atoms"] == ONBH_ATOMS and r["engine"] == "compiled"), None)
    if (1, 1) not in rows or (2, 1) not in rows or mixed is None:
        raise ValueError(f"{_rel(THREADS_FILE)} / {_rel(RANKS_FILE)}: no 1024-atom compiled rows")
    speedup = mixed["np1_ms"] / mixed["np2_ms"]
    return [
        Layout(1, 1, rows[(1, 1)], f"measured {_date(threads)}, `{_rel(THREADS_FILE)}` (onbh:2, 1 thread)"),
        Layout(1, 2, rows[(2, 1)], f"measured {_date(threads)}, `{_rel(THREADS_FILE)}` (onbh:2, 2 threads)"),
        Layout(2, 1, rows[(1, 1)] / speedup,
               f"derived: {rows[(1, 1)]:.0f} / {speedup:.2f}, the 2-rank speed-up of the compiled engine measured "
               f"{_date(ranks)} on the 1024-atom Na3(BH4)(B12H12) test cell `{mixed['cell']}` "
               f"({mixed['np1_ms']:.0f} -> {mixed['np2_ms']:.0f} ms/step, `{_rel(RANKS_FILE)}`); o-NBH on 2 compiled "
               "ranks is not measured"),
    ]


def same_runs(cpu: SweepConfig, gpu: SweepConfig) -> list[RunSpec]:
    """The runs of both variants (ValueError if they differ: the variants must run the same study)."""
    cpu_runs, gpu_runs = expand(cpu), expand(gpu)
    if [r.name for r in cpu_runs] != [r.name for r in gpu_runs]:
        raise ValueError(f"{CPU_CONFIG.name} and {GPU_CONFIG.name} expand into different runs")
    return cpu_runs


@lru_cache(maxsize=None)
def _atoms_in_file(path: str) -> int:
    return len(read_structure(path))


def atoms_of(spec: RunSpec) -> int:
    """Atoms of a run's cell (its structure file times its explicit supercell)."""
    return _atoms_in_file(str(spec.structure_file)) * math.prod(spec.supercell or (1, 1, 1))


def runs_table(config: SweepConfig, runs: list[RunSpec]) -> str:
    """Per structure: cell, temperatures, mass settings, replicates, runs and MD steps per run."""
    lines = ["| structure | atoms (Na) | temperatures (K) | anion mass settings | replicates | runs "
             "| MD steps per run |", "|---|---|---|---|---|---|---|"]
    for structure in config.structures:
        mine = [r for r in runs if r.structure == structure.label]
        temps = sorted({r.temperature_K for r in mine})
        settings = sorted({tuple(sorted(r.mass_factors.items())) for r in mine})
        files = sorted({r.structure_index for r in mine}, key=lambda i: i or 0)
        steps = {md_settings(config, r).equil_steps + md_settings(config, r).prod_steps for r in mine}
        atoms = read_structure(structure.file)
        n_atoms = len(atoms) * math.prod(structure.supercell or (1, 1, 1))
        n_na = atoms.get_chemical_symbols().count("Na") * math.prod(structure.supercell or (1, 1, 1))
        temp_text = f"{temps[0]:g}-{temps[-1]:g} ({len(temps)})"
        lines.append(f"| {structure.label} | {n_atoms} ({n_na}) | {temp_text} | {len(settings)} | "
                     f"{len(files) * len(config.seed_list)} | {len(mine)} | {', '.join(f'{s:,}' for s in steps)} |")
    total_steps = sum(md_settings(config, r).equil_steps + md_settings(config, r).prod_steps for r in runs)
    lines.append(f"| all | | | | | {len(runs)} | {total_steps:,} in all |")
    return "\n".join(lines)


def _seconds(layout: Layout, config: SweepConfig, spec: RunSpec, atoms: int) -> float:
    md = md_settings(config, spec)
    return (md.equil_steps + md.prod_steps) * layout.ms_per_step * atoms / ONBH_ATOMS / 1000.0


def cpu_table(config: SweepConfig, runs: list[RunSpec], layouts: list[Layout]) -> str:
    """Core-hours per ranks x threads choice (o-NBH, precursors) and the study's wall time on the cores of
    ``slurm.max_concurrent`` one-core runs (runs at a time = those cores / cores per run)."""
    atoms = {r.name: atoms_of(r) for r in runs}
    cores = config.slurm.max_concurrent or len(runs)
    limit_h = _hours(config.slurm.time)
    lines = ["| ranks x threads per run | o-NBH ms/step | o-NBH run: wall time | jobs of "
             f"{limit_h:g} h per o-NBH run | core-hours: o-NBH | core-hours: precursors | core-hours: all "
             f"| wall time of the study on {cores} cores |", "|---|---|---|---|---|---|---|---|"]
    for layout in layouts:
        seconds = {r.name: _seconds(layout, config, r, atoms[r.name]) for r in runs}
        onbh = [seconds[r.name] for r in runs if atoms[r.name] == ONBH_ATOMS]
        rest = [seconds[r.name] for r in runs if atoms[r.name] != ONBH_ATOMS]
        core_h = [sum(s) * layout.cores / 3600.0 for s in (onbh, rest)]
        per_run = max(onbh)
        wall = wall_seconds([seconds[r.name] for r in runs], cores // layout.cores)
        lines.append(f"| {layout.ranks} x {layout.threads} | {layout.ms_per_step:.0f} | {per_run / 3600:.0f} h "
                     f"({format_seconds(per_run)}) | {math.ceil(per_run / 3600 / limit_h)} | {core_h[0]:,.0f} | "
                     f"{core_h[1]:,.0f} | {sum(core_h):,.0f} | {wall / 86400:.0f} days "
                     f"({cores // layout.cores} runs at a time) |")
    return "\n".join(lines)


def parts_table(config: SweepConfig, runs: list[RunSpec], layout: Layout) -> str:
    """Core-hours of the study's parts at one ranks x threads choice (what dropping a part saves)."""
    def part(r: RunSpec) -> str:
        if r.structure != "oNBH":
            return f"precursors ({r.structure})"
        scaled = any(f != 1 for f in r.mass_factors.values())
        return "o-NBH mass experiment (8 scaled settings)" if scaled else "o-NBH temperature series (natural masses)"

    totals: dict[str, list[float]] = {}
    for r in runs:
        totals.setdefault(part(r), []).append(_seconds(layout, config, r, atoms_of(r)))
    lines = [f"| part | runs | core-hours at {layout.ranks} x {layout.threads} |", "|---|---|---|"]
    lines += [f"| {name} | {len(s)} | {sum(s) * layout.cores / 3600:,.0f} |" for name, s in totals.items()]
    return "\n".join(lines)


def sources_table(layouts: list[Layout]) -> str:
    """Where each o-NBH ms/step comes from."""
    lines = ["| ranks x threads | ms/step (1024-atom o-NBH) | source |", "|---|---|---|"]
    lines += [f"| {la.ranks} x {la.threads} | {la.ms_per_step:.0f} | {la.source} |" for la in layouts]
    return "\n".join(lines)


def gpu_table(config: SweepConfig, runs: list[RunSpec]) -> str:
    """GPU hours: the runs and steps are known, the rate is not (no GPU has run this engine)."""
    steps = sum(md_settings(config, r).equil_steps + md_settings(config, r).prod_steps for r in runs)
    return "\n".join(["| runs | MD steps | GPU ms/step (1024-atom o-NBH) | GPU-hours |", "|---|---|---|---|",
                      f"| {len(runs)} | {steps:,} | not measured yet | not measured yet |"])


def _hours(slurm_time: str) -> float:
    """SLURM ``[D-]HH:MM:SS`` in hours."""
    days, _, clock = slurm_time.rpartition("-")
    h, m, s = (int(x) for x in clock.split(":"))
    return int(days or 0) * 24 + h + m / 60 + s / 3600


def main() -> None:
    """Print the README's tables."""
    cpu, gpu = load_config(CPU_CONFIG), load_config(GPU_CONFIG)
    runs = same_runs(cpu, gpu)
    layouts = measured_layouts()
    tables = (("Runs", runs_table(cpu, runs)), ("ms/step on CPU", sources_table(layouts)),
              ("Cost on CPU nodes", cpu_table(cpu, runs, layouts)), ("Parts", parts_table(cpu, runs, layouts[0])),
              ("Cost on GPUs", gpu_table(gpu, runs)))
    for title, table in tables:
        print(f"## {title}\n\n{table}\n")


if __name__ == "__main__":
    main()
