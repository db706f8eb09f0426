"""Full LAMMPS MD steps with ``pair_style m3gnet``: new engine vs the triple formulation (CPU).

    .venv/bin/python benchmarks/bench_plugin.py [--cells nabh4:3 nabh4:4 nabh4:5 onbh:2] \
        [--dtypes float32 float64] [--threads 1 2] [--ranks 2] [--steps 5] [--repeats 2] \
        [--refenv ../refenv] [--baseline OLD_SRC:OLD_PLUGIN_DIR] [--json out.json]
    .venv/bin/python benchmarks/bench_plugin.py --table out.json [more.json ...]   # README table

Cells: ``nabh4:n`` is the 24-atom ordered NaBH4 cell x n^3 (3: 648, 4: 1536, 5: 3000 atoms),
``onbh:n`` the 128-atom o-NBH cell x n^3 (2: 1024 atoms). For every cell, dtype and thread count it
runs, interleaved (A, B, A, B, ...; the best of ``--repeats`` is kept):

* ``density``: the model exported with ``--threebody density --no-compile`` (TorchScript),
* ``compiled``: the density model with the compiled engine (the default of ``python -m pydriver export``:
  AOTInductor energy + gradient on one rank, the per-block packages on every rank of ``--ranks``;
  the packages come from the cache folder after the first export),
* ``triples``: the same model exported with ``--threebody triples`` (explicit triple list),
* ``baseline`` (``--baseline``): another source tree's exporter and plugin, e.g. the previous release,
* ``ref`` (``--refenv``): the matgl 1.3.0 DGL reference (corrected), one energy+forces+stress call.

Each LAMMPS run is its own process (``lmp`` with :func:`lammps_env`, i.e. libtorch and tcmalloc
preloaded): ms per MD step is LAMMPS's loop time of a second ``run`` (after warm-up) divided by its
steps, peak RSS is that process's maximum resident set (``wait4``; with ``--ranks`` the largest
rank). A killed process (out of memory) is recorded as ``OOM``, not skipped. LAMMPS's "% CPU use"
is printed so that a busy machine is visible. ``--ranks N`` adds ``mpirun -np N`` x 1 thread.

``--model-only``: no LAMMPS; one energy + dE/d(bond vectors) call of each exported model in this
process (torch threads = first ``--threads``), interleaved, CPU time per call (wall time with more
than one thread), best of ``--repeats``: the A/B used for the engine table in the README, robust on
a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import ase.io
from ase.io.lammpsdata import write_lammps_data

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from pydriver.lammps.session import lammps_env, lmp_executable  # noqa: E402
from pydriver.m3gnet.export import export_checkpoint  # noqa: E402

MODELS = Path(os.environ.get("M3GNET_MODELS_DIR", ROOT.parent / "shared" / "models"))
CHECKPOINT = MODELS / "M3GNet-r2SCAN-NaBH"
TOOLS = ROOT.parent / "shared" / "tools"
CELLS = {"nabh4": ROOT / "examples" / "structures" / "NaBH4.extxyz",
         "onbh": ROOT / "examples" / "structures" / "oNBH.extxyz"}
DECK = """units metal
atom_style atomic
read_data data.lmp
pair_style m3gnet
pair_coeff * * {model} Na B H
velocity all create 300 1
fix nve all nve
timestep 0.0005
thermo 0
run 2
run {steps}
"""
EXPORT = ("import sys; sys.path.insert(0, sys.argv[1]); from pydriver.m3gnet.export import export_checkpoint as e; "
          "kw = {'threebody': sys.argv[5]} if sys.argv[5] != '-' else {}; "
          "kw.update({'compiled': True} if sys.argv[6] == '1' else {}); "
          "e(sys.argv[2], sys.argv[3], dtype=sys.argv[4], **kw)")
REF_SCRIPT = """
import sys, time, torch, ase.io, matgl
sys.path.insert(0, {tools!r})
import reference_calc as rc
rc.correct_three_body_indexing()
if {dtype!r} == "float64":
    matgl.set_default_dtype("float", 64)
torch.set_num_threads({threads})
pot = rc.load_potential(__import__("pathlib").Path({model!r}))
atoms = ase.io.read({xyz!r})
with torch.enable_grad():
    rc.evaluate(pot, atoms)
    best = 1e9
    for _ in range(3):
        t = time.perf_counter(); rc.evaluate(pot, atoms); best = min(best, time.perf_counter() - t)
print("REF_SECONDS", best)
"""


@dataclass
class Result:
    cell: str
    atoms: int
    dtype: str
    threads: int
    ranks: int
    variant: str
    ms_per_step: float | None
    peak_rss_MiB: float | None
    cpu_use_percent: float | None
    status: str
    engine: str | None = None  # what the plugin's log says it ran ("compiled" or "TorchScript")


def run_measured(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str, float]:
    """Run ``cmd``; return (exit status, stdout, peak RSS of the process tree's largest process, MiB)."""
    out_path = cwd / "stdout.txt"
    with open(out_path, "w") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, out_path.read_text(), usage.ru_maxrss / 1024


def lammps_run(model: Path, steps: int, threads: int, ranks: int, tmp: Path,
               plugin_dir: str | None) -> tuple[float | None, float | None, float | None, str, str | None]:
    (tmp / "in.bench").write_text(DECK.format(model=model, steps=steps))
    env = dict(lammps_env(), OMP_NUM_THREADS=str(threads))
    if plugin_dir:
        env["M3GNET_PLUGIN_DIR"] = plugin_dir
        env["LAMMPS_PLUGIN_PATH"] = plugin_dir
    cmd = [lmp_executable(), "-in", "in.bench", "-log", "none"]
    if ranks > 1:
        cmd = [str(Path(sys.executable).parent / "mpirun"), "-np", str(ranks)] + cmd
    rc, out, rss = run_measured(cmd, tmp, env)
    if rc in (-9, 137) or "Killed" in out or "std::bad_alloc" in out or "out of memory" in out.lower():
        return None, rss, None, "OOM", None
    if rc != 0:
        return None, rss, None, ("error: " + out.strip().splitlines()[-1][:120] if out.strip() else f"exit {rc}"), None
    loop = re.findall(r"Loop time of ([\d.eE+-]+) on \d+ procs for (\d+) steps", out)[-1]
    cpu = re.findall(r"([\d.]+)% CPU use", out)
    engine = re.search(r"Pair style m3gnet: engine (\w+)", out)
    return (1000 * float(loop[0]) / int(loop[1]), rss, float(cpu[-1]) if cpu else None, "ok",
            engine.group(1) if engine else None)


def reference_ms(refenv: Path, xyz: Path, dtype: str, threads: int) -> tuple[float | None, str]:
    """ms per DGL reference call and a status ("ok", "OOM" when the process was killed, "error: ...")."""
    script = REF_SCRIPT.format(tools=str(TOOLS), dtype=dtype, threads=threads, model=str(CHECKPOINT), xyz=str(xyz))
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    proc = subprocess.run([str(refenv / "bin" / "python"), "-c", script], env=env, capture_output=True, text=True)
    if proc.returncode in (-9, 137) or "out of memory" in proc.stderr.lower():
        return None, "OOM"
    if proc.returncode != 0:
        return None, "error: " + (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1][:120]
    return 1000 * float(re.search(r"REF_SECONDS ([\d.eE+-]+)", proc.stdout).group(1)), "ok"


def export(src_root: Path, out: Path, dtype: str, threebody: str | None, compiled: bool = False) -> Path:
    subprocess.run([sys.executable, "-c", EXPORT, str(src_root), str(CHECKPOINT), str(out), dtype, threebody or "-",
                    "1" if compiled else "0"],
                   check=True, capture_output=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
    return out


def model_only(models: dict, cells: list[str], dtypes: list[str], threads: int, repeats: int) -> None:
    """In-process A/B of exported models (see the module docstring)."""
    import torch  # noqa: PLC0415

    from pydriver.m3gnet.neighbors import edge_list  # noqa: PLC0415

    torch.set_num_threads(threads)
    clock = time.process_time if threads == 1 else time.perf_counter
    from pydriver.m3gnet.compiled import load_package  # noqa: PLC0415
    from pydriver.model_file import compiled_file  # noqa: PLC0415

    loaded = {}
    for (v, dt), p in models.items():
        extra = {compiled_file("cpu"): ""}
        module = torch.jit.load(str(p), _extra_files=extra)
        package = load_package(extra[compiled_file("cpu")]) if v == "compiled" else None
        loaded[(v, dt)] = (module, package) if package is not None else module
    for spec in cells:
        name, n = spec.split(":")
        atoms = ase.io.read(CELLS[name]) * ((int(n),) * 3)
        edge_index, edge_vec = edge_list(atoms, 5.0)
        edge_index = torch.from_numpy(edge_index)
        species = torch.tensor([["Na", "B", "H"].index(s) for s in atoms.get_chemical_symbols()])
        for dt in dtypes:
            def call(module):
                vec = torch.tensor(edge_vec, dtype=getattr(torch, dt), requires_grad=True)
                if isinstance(module, tuple):  # (TorchScript model, compiled package)
                    short = module[0].short_bonds(torch.linalg.norm(vec.detach(), dim=1))
                    module[1](species, edge_index, vec.detach(), short, torch.ones(len(species), dtype=vec.dtype))
                    return
                torch.autograd.grad(module(species, edge_index, vec).sum(), vec)
            variants = [v for (v, d) in loaded if d == dt]
            for v in variants:  # warm-up: TorchScript profiling runs
                call(loaded[(v, dt)])
                call(loaded[(v, dt)])
            best = {v: float("inf") for v in variants}
            for _ in range(repeats):
                for v in variants:
                    t = clock()
                    call(loaded[(v, dt)])
                    best[v] = min(best[v], 1000 * (clock() - t))
            ref = best.get("baseline", best[variants[0]])
            for v in variants:
                print(f"{spec:>9} {len(atoms):>6} {dt:>8} {threads:>3} {v:>9} {best[v]:9.1f} ms/call "
                      f"{ref / best[v]:6.2f}x vs {'baseline' if 'baseline' in best else variants[0]}", flush=True)


def markdown_table(results: list[dict]) -> str:
    """README table from ``--json`` results: one row per cell, dtype and threads/ranks, ms per MD step.

    The DGL column is the reference's energy+forces+stress call on as many cores (the ranks rows: DGL with
    that many threads); the ratio is DGL over the fastest engine of the row.
    """
    rows: dict[tuple, dict[str, dict]] = {}
    for r in results:
        key = (r["cell"], r["atoms"], r["dtype"], r["threads"], r["ranks"])
        rows.setdefault(key, {})[r["variant"]] = r
    refs = {(k[0], k[2], k[3]): v["ref"] for k, v in rows.items() if "ref" in v}
    lines = ["| cell | atoms | dtype | threads x ranks | compiled | density | triples | DGL reference | "
             "DGL / fastest | peak RSS MiB (compiled / density) |", "|---" * 10 + "|"]

    def ms(r: dict | None) -> str:
        if r is None:
            return "-"
        return f"{r['ms_per_step']:.0f}" if r["ms_per_step"] else r["status"]

    for (cell, atoms, dtype, threads, ranks), v in rows.items():
        ref = v.get("ref") or refs.get((cell, dtype, threads * ranks))
        engines = [v[k]["ms_per_step"] for k in ("compiled", "density", "triples") if k in v and v[k]["ms_per_step"]]
        ratio = f"{ref['ms_per_step'] / min(engines):.2f}x" if ref and ref["ms_per_step"] and engines else "-"
        rss = " / ".join(f"{v[k]['peak_rss_MiB']:.0f}" if k in v and v[k]["peak_rss_MiB"] else "-"
                         for k in ("compiled", "density"))
        # what the plugin's log said it ran; older JSON without it: compiled files ran TorchScript on several
        # ranks and threads (and may record "TorchScript:", colon included)
        engine = (v["compiled"].get("engine") or "").rstrip(":") or None if "compiled" in v else None
        old_rule = "compiled" in v and engine is None and (ranks > 1 or threads > 1)
        note = " (TorchScript)" if engine == "TorchScript" or old_rule else ""
        ref_txt = ms(ref) + (f" ({threads * ranks} threads)" if ranks > 1 and ref else "")
        lines.append(f"| {cell} | {atoms} | {dtype} | {threads} x {ranks} | {ms(v.get('compiled'))}{note} | "
                     f"{ms(v.get('density'))} | {ms(v.get('triples'))} | {ref_txt} | {ratio} | {rss} |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", nargs="+", default=["nabh4:3", "nabh4:4", "nabh4:5", "onbh:2"],
                    help="NAME:N supercells (nabh4, onbh)")
    ap.add_argument("--dtypes", nargs="+", default=["float32", "float64"], choices=["float32", "float64"])
    ap.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--ranks", nargs="*", type=int, default=[2], help="also run mpirun -np N x 1 thread")
    ap.add_argument("--variants", nargs="+", default=["compiled", "density", "triples"],
                    choices=["compiled", "density", "triples"])
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=2, help="interleaved repeats; the best is kept")
    ap.add_argument("--refenv", type=Path, help="matgl 1.3.0 reference env (../shared/tools/reference-env.sh)")
    ap.add_argument("--baseline", help="OLD_SRC_ROOT:OLD_PLUGIN_DIR: another version's exporter and plugin")
    ap.add_argument("--json", type=Path, help="write all results here")
    ap.add_argument("--model-only", action="store_true", help="in-process model A/B without LAMMPS")
    ap.add_argument("--table", nargs="+", type=Path, metavar="JSON",
                    help="print the README table of earlier --json results and exit")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    a = parse_args(argv)
    if a.table:
        print(markdown_table([r for path in a.table for r in json.loads(path.read_text())["results"]]))
        return
    results: list[Result] = []
    if not a.model_only:
        print(f"{'cell':>9} {'atoms':>6} {'dtype':>8} {'thr':>3} {'rk':>2} {'variant':>9} {'ms/step':>9} "
              f"{'peak MiB':>9} {'CPU%':>5} {'vs density':>10}")
    with tempfile.TemporaryDirectory(prefix="bench-m3gnet-") as tmpdir:
        tmp = Path(tmpdir)
        variants: dict[str, tuple[Path, str | None, str | None]] = {
            v: (ROOT, "density" if v == "compiled" else v, None) for v in a.variants}
        if a.baseline:
            old_src, old_plugin = a.baseline.split(":")
            variants["baseline"] = (Path(old_src), None, old_plugin)
        print("exporting", ", ".join(f"{v} {dt}" for v in variants for dt in a.dtypes),
              "(compiled: 1-2 min each)", flush=True)
        models = {(v, dt): export(src, tmp / f"{v}_{dt}.pt", dt, tb, v == "compiled")
                  for v, (src, tb, _) in variants.items() for dt in a.dtypes}
        if a.model_only:
            model_only(models, a.cells, a.dtypes, a.threads[0], a.repeats)
            return
        for spec in a.cells:
            name, n = spec.split(":")
            atoms = ase.io.read(CELLS[name]) * ((int(n),) * 3)
            write_lammps_data(tmp / "data.lmp", atoms, specorder=["Na", "B", "H"], masses=True, units="metal")
            xyz = tmp / f"{name}{n}.extxyz"
            ase.io.write(xyz, atoms)
            configs = [(t, 1) for t in a.threads] + [(1, r) for r in a.ranks if r > 1]
            for dt in a.dtypes:
                for threads, ranks in configs:
                    best: dict[str, Result] = {}
                    for _ in range(a.repeats):
                        for v, (_, _, plugin) in variants.items():
                            ms, rss, cpu, status, engine = lammps_run(models[(v, dt)], a.steps, threads, ranks, tmp,
                                                                      plugin)
                            r = Result(spec, len(atoms), dt, threads, ranks, v, ms, rss, cpu, status, engine)
                            if v not in best or (ms is not None and (best[v].ms_per_step is None
                                                                     or ms < best[v].ms_per_step)):
                                best[v] = r
                    if a.refenv and ranks == 1:
                        ms, status = reference_ms(a.refenv, xyz, dt, threads)
                        best["ref"] = Result(spec, len(atoms), dt, threads, 1, "ref", ms, None, None, status)
                    dens = best.get("density")
                    for r in best.values():
                        ratio = (f"{r.ms_per_step / dens.ms_per_step:9.2f}x" if dens and dens.ms_per_step
                                 and r.ms_per_step else "")
                        ms_txt = f"{r.ms_per_step:9.1f}" if r.ms_per_step else f"{r.status:>9}"
                        rss_txt = f"{r.peak_rss_MiB:9.0f}" if r.peak_rss_MiB else f"{'':>9}"
                        cpu_txt = f"{r.cpu_use_percent:5.0f}" if r.cpu_use_percent else f"{'':>5}"
                        print(f"{spec:>9} {r.atoms:>6} {dt:>8} {threads:>3} {ranks:>2} {r.variant:>9} {ms_txt} "
                              f"{rss_txt} {cpu_txt} {ratio:>10}", flush=True)
                        results.append(r)
    if a.json:
        a.json.write_text(json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%S"),
                                      "results": [asdict(r) for r in results]}, indent=1))


if __name__ == "__main__":
    main()
