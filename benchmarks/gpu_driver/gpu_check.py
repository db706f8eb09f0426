"""GPU check without LAMMPS: the exported models through Python (torch.jit) and the C++ driver.

The TorchScript checks need only torch, numpy and the standard-library module ``pydriver.model_file``
(the model file's contract; no ase, no LAMMPS), so that they run on a bare GPU machine; the compile
processes and the Python side of the compiled checks import pydriver (this repository on PYTHONPATH)
with scipy, sympy and ase (``gpu_check.sh`` installs the carried ase wheel).
Inputs come from ``carry/`` (written by ``benchmarks/gpu_check.sh --prepare``): exported models
(``<checkpoint>-<dtype>-<threebody>.pt``) and the repository's golden data. Writes one JSON.

Parity: every golden structure, every carried model, Python and driver, against the committed
float64 reference (tolerances of tests/golden.py). Compiled: the NaBH checkpoint (``carry/checkpoints``)
is exported here with an AOTInductor package for the device (``compile_models.py``, one process per
dtype, running while the TorchScript checks do: a package only loads into the torch that built it);
those files go through the same parity (Python through ``aoti_load_package``, the driver with
``--compiled yes``) and speed runs. Speed: NaBH4 supercells and the 1024-atom o-NBH
cell, ms per energy+forces evaluation (best of ``--repeat``; the first call, which includes
TorchScript profiling and CUDA start-up, is reported separately).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from pydriver.model_file import compiled_file, read_metadata  # stdlib only; gpu_check.sh puts the repo on PYTHONPATH

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "data" / "golden"
TOL = {"float64": {"energy_eV_atom": 1e-5, "force_eV_A": 1e-4},
       "float32": {"energy_eV_atom": 1e-4, "force_eV_A": 2e-3}}
NABH = "M3GNet-r2SCAN-NaBH"


def read_extxyz(path: Path) -> list[dict]:
    """Frames of an extxyz file: name, cell (3, 3) A (rows = lattice vectors), symbols, positions (n, 3) A."""
    lines = path.read_text().splitlines()
    frames, k = [], 0
    while k < len(lines):
        if not lines[k].strip():
            k += 1
            continue
        n = int(lines[k])
        comment = lines[k + 1]
        info = dict(_comment_items(comment))
        cols, col, spec_col, pos_col = info["Properties"].split(":"), 0, 0, 1
        for name, _, count in zip(cols[0::3], cols[1::3], cols[2::3]):
            spec_col = col if name == "species" else spec_col
            pos_col = col if name == "pos" else pos_col
            col += int(count)
        rows = [ln.split() for ln in lines[k + 2:k + 2 + n]]
        frames.append({"name": info.get("name", f"frame{len(frames)}"),
                       "cell": np.array(info["Lattice"].split(), dtype=float).reshape(3, 3),
                       "symbols": [r[spec_col] for r in rows],
                       "positions": np.array([r[pos_col:pos_col + 3] for r in rows], dtype=float)})
        k += 2 + n
    return frames


def _comment_items(comment: str):
    key, i = "", 0
    while i < len(comment):
        j = comment.find("=", i)
        if j < 0:
            return
        key = comment[i:j].strip()
        if comment[j + 1] == '"':
            end = comment.index('"', j + 2)
            yield key, comment[j + 2:end]
            i = end + 1
        else:
            end = comment.find(" ", j + 1)
            end = len(comment) if end < 0 else end
            yield key, comment[j + 1:end]
            i = end + 1


def write_extxyz(path: Path, frame: dict) -> None:
    lat = " ".join(f"{x:.10f}" for x in frame["cell"].reshape(-1))
    rows = [f"{s} {p[0]:.10f} {p[1]:.10f} {p[2]:.10f}" for s, p in zip(frame["symbols"], frame["positions"])]
    path.write_text(f"{len(rows)}\nLattice=\"{lat}\" Properties=species:S:1:pos:R:3 name={frame['name']} "
                    f"pbc=\"T T T\"\n" + "\n".join(rows) + "\n")


def supercell(frame: dict, n: int, name: str) -> dict:
    shifts = np.array(list(itertools.product(range(n), repeat=3)), dtype=float) @ frame["cell"]
    pos = (shifts[:, None, :] + frame["positions"][None]).reshape(-1, 3)
    return {"name": name, "cell": frame["cell"] * n, "symbols": frame["symbols"] * len(shifts), "positions": pos}


def neighbor_graph(pos: torch.Tensor, cell: torch.Tensor, cutoff_A: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Periodic bonds within ``cutoff_A`` (all images, no self bond) by a cell list in fractional coordinates.

    Returns ``edge_index`` (2, E) sorted by source and ``edge_vec`` (E, 3) = r_dst + shift - r_src, float64.
    """
    dev = pos.device
    inv = torch.linalg.inv(cell)
    frac = pos @ inv
    frac = frac - torch.floor(frac)
    wrapped = frac @ cell
    spacing = 1.0 / inv.norm(dim=0)  # distances between lattice planes
    nb = torch.clamp(torch.floor(spacing / cutoff_A), min=1).long()
    reach = torch.ceil(cutoff_A * nb / spacing).long().tolist()
    b = torch.minimum((frac * nb).long(), nb - 1)
    flat = (b[:, 0] * nb[1] + b[:, 1]) * nb[2] + b[:, 2]
    n_bins = int(nb.prod())
    counts = torch.bincount(flat, minlength=n_bins)
    order = torch.argsort(flat, stable=True)
    start = torch.cumsum(counts, 0) - counts
    rank = torch.arange(len(flat), device=dev) - start[flat[order]]
    table = torch.full((n_bins, int(counts.max())), -1, dtype=torch.long, device=dev)
    table[flat[order], rank] = order
    axes = [torch.arange(int(x), device=dev) for x in nb]
    grid = torch.stack(torch.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    src, dst, vecs = [], [], []
    for off in itertools.product(*[range(-r, r + 1) for r in reach]):
        t = grid + torch.tensor(off, device=dev)
        s = torch.div(t, nb, rounding_mode="floor")
        w = t - s * nb
        nbr = (w[:, 0] * nb[1] + w[:, 1]) * nb[2] + w[:, 2]
        i = table[:, :, None].expand(-1, -1, table.shape[1])
        j = table[nbr][:, None, :].expand(-1, table.shape[1], -1)
        shift = (s.to(cell.dtype) @ cell)[:, None, None, :]
        vec = wrapped[j.clamp(min=0)] + shift - wrapped[i.clamp(min=0)]
        keep = (i >= 0) & (j >= 0) & ((vec * vec).sum(-1) < cutoff_A**2)
        keep &= ~((i == j) & (s == 0).all(dim=1)[:, None, None])
        src.append(i[keep])
        dst.append(j[keep])
        vecs.append(vec[keep])
    src_t, dst_t, vec_t = torch.cat(src), torch.cat(dst), torch.cat(vecs)
    perm = torch.argsort(src_t, stable=True)
    return torch.stack([src_t[perm], dst_t[perm]]), vec_t[perm]


class PythonModel:
    """An exported model through torch.jit, or through its AOTInductor package: energy and forces (eV, eV/A)."""

    def __init__(self, path: Path, device: str, compiled: bool = False) -> None:
        self.device = torch.device(device)
        self.meta = read_metadata(path, verify=True)
        package = compiled_file(self.device.type)
        extra = {package: ""} if compiled else {}
        self.module = torch.jit.load(str(path), map_location=device, _extra_files=extra)
        self.dtype = torch.float32 if self.meta["dtype"] == "float32" else torch.float64
        self.package = None
        if compiled:  # the package's inputs and outputs: pydriver/m3gnet/compiled.py
            if not extra[package]:
                raise ValueError(f"{path.name} holds no {package}")
            # pydriver is importable wherever a compiled file exists: compile_models.py made it with pydriver
            from pydriver.m3gnet.compiled import load_package  # noqa: PLC0415

            self.package = load_package(extra[package])

    def graph(self, frame: dict):
        pos = torch.tensor(frame["positions"], dtype=torch.float64, device=self.device)
        cell = torch.tensor(frame["cell"], dtype=torch.float64, device=self.device)
        edge_index, edge_vec = neighbor_graph(pos, cell, float(self.meta["cutoff_A"]))
        species = torch.tensor([self.meta["elements"].index(s) for s in frame["symbols"]], device=self.device)
        return species, edge_index, edge_vec

    def evaluate(self, species, edge_index, edge_vec) -> tuple[float, np.ndarray]:
        if self.package is not None:
            vec = edge_vec.to(self.dtype)
            short = self.module.short_bonds(torch.linalg.norm(vec, dim=1))
            weight = torch.ones(species.shape[0], dtype=self.dtype, device=self.device)
            energies, grad = self.package(species, edge_index, vec, short, weight)
            total = energies.sum()
        else:
            vec = edge_vec.to(self.dtype).requires_grad_(True)
            energies = self.module(species, edge_index, vec)
            total = energies.sum()
            (grad,) = torch.autograd.grad(total, [vec])
        forces = torch.zeros(species.shape[0], 3, dtype=torch.float64, device=self.device)
        forces.index_add_(0, edge_index[0], grad.double())
        forces.index_add_(0, edge_index[1], -grad.double())
        return float(total.detach()) + self.meta["data_mean_eV"], forces.cpu().numpy()

    def timed(self, frame: dict, repeat: int) -> dict:
        species, edge_index, edge_vec = self.graph(frame)
        times = []
        for _ in range(repeat):
            if self.device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            energy, forces = self.evaluate(species, edge_index, edge_vec)  # .cpu() synchronises
            times.append(1000 * (time.perf_counter() - t0))
        return {"energy_eV": energy, "forces_eV_A": forces, "ms": min(times), "ms_first": times[0],
                "n_edges": int(edge_index.shape[1])}


def run_driver(driver: Path, model: Path, xyz: Path, device: str, repeat: int) -> list[dict]:
    """The C++ driver's JSON lines; a ``*-compiled.pt`` model must run its package (``--compiled yes``)."""
    compiled = "yes" if model.stem.endswith("-compiled") else "no"
    out = subprocess.run([str(driver), str(model), str(xyz), "--device", device, "--repeat", str(repeat),
                          "--compiled", compiled], capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        raise RuntimeError(f"driver failed on {xyz.name}: {out.stderr.strip()[-500:]}")
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def parity(models: list[Path], driver: Path | None, device: str, tmp: Path) -> list[dict]:
    rows = []
    for path in models:
        ckpt, dtype, threebody = path.stem.rsplit("-", 2)
        ref = json.loads((GOLDEN / f"golden_{ckpt}.json").read_text())["frames"]
        xyz = GOLDEN / ("structures_nabh.extxyz" if ckpt == NABH else "structures_extra.extxyz")
        frames = read_extxyz(xyz)
        py = PythonModel(path, device, compiled=threebody == "compiled")
        drv = run_driver(driver, path, xyz, device, 1) if driver else [None] * len(frames)
        for frame, r, d in zip(frames, ref, drv):
            n = len(frame["symbols"])
            res = {"py": py.timed(frame, 1)}
            if d is not None:
                res["cpp"] = {"energy_eV": d["energy_eV"], "forces_eV_A": np.array(d["forces_eV_A"]).reshape(-1, 3)}
            for side, v in res.items():
                de = abs(v["energy_eV"] - r["energy"]) / n
                df = float(np.abs(v["forces_eV_A"] - np.array(r["forces"])).max())
                ok = de < TOL[dtype]["energy_eV_atom"] and df < TOL[dtype]["force_eV_A"]
                rows.append({"checkpoint": ckpt, "dtype": dtype, "threebody": threebody, "structure": frame["name"],
                             "side": side, "dE_eV_atom": de, "dF_eV_A": df, "ok": bool(ok)})
    return rows


def speed(model: Path, driver: Path | None, device: str, tmp: Path, sizes: list[str], repeat: int,
          deadline: float) -> list[dict]:
    nabh4 = read_extxyz(ROOT / "examples" / "structures" / "NaBH4.extxyz")[0]
    onbh = read_extxyz(ROOT / "examples" / "structures" / "oNBH.extxyz")[0]
    cells = {"onbh:2": supercell(onbh, 2, "oNBH_2x2x2")}
    cells.update({f"nabh4:{n}": supercell(nabh4, n, f"NaBH4_{n}x{n}x{n}") for n in range(1, 9)})
    py = PythonModel(model, device, compiled=model.stem.endswith("-compiled"))
    rows = []
    for spec in sizes:
        frame = cells[spec]
        xyz = tmp / f"{frame['name']}.extxyz"
        write_extxyz(xyz, frame)
        row = {"cell": spec, "n_atoms": len(frame["symbols"]), "model": model.name}
        if time.time() > deadline:
            rows.append(dict(row, skipped="time budget (--budget-s) spent"))
            continue
        try:
            p = py.timed(frame, repeat)
            row.update(py_ms=p["ms"], py_ms_first=p["ms_first"], n_edges=p["n_edges"], py_energy_eV=p["energy_eV"])
        except torch.cuda.OutOfMemoryError as exc:
            row["py_error"] = f"OOM: {str(exc)[:200]}"
        if device == "cuda":
            row["py_peak_GiB"] = torch.cuda.max_memory_allocated() / 2**30
            torch.cuda.reset_peak_memory_stats()
        if driver:
            try:
                d = run_driver(driver, model, xyz, device, repeat)[0]
                row.update(cpp_ms=d["ms"], cpp_ms_first=d["ms_first"], cpp_energy_eV=d["energy_eV"],
                           cpp_compiled=d["compiled"])
                if "py_energy_eV" in row:
                    row["cpp_vs_py_dE_eV_atom"] = abs(d["energy_eV"] - row["py_energy_eV"]) / row["n_atoms"]
            except RuntimeError as exc:
                row["cpp_error"] = str(exc)
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def start_compiles(carry: Path, out_dir: Path, device: str, dtypes: list[str], tmp: Path) -> dict:
    """Start one ``compile_models.py`` process per dtype (they run while the TorchScript checks do).

    Returns {dtype: (process, output model path, log path)}.
    """
    ckpt = carry / "checkpoints" / NABH
    if not dtypes or not ckpt.is_dir():
        return {}
    out_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    jobs = {}
    for dtype in dtypes:
        model = out_dir / f"{NABH}-{dtype}-compiled.pt"
        log = tmp / f"gpu-check-compile-{dtype}.log"
        proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("compile_models.py")), str(ckpt),
                                 str(model), "--dtype", dtype, "--device", device],
                                stdout=log.open("w"), stderr=subprocess.STDOUT, env=env)
        jobs[dtype] = (proc, model, log)
    return jobs


def finish_compiles(jobs: dict, deadline: float) -> tuple[list[Path], list[dict]]:
    """Wait for the compile processes until ``deadline``: the compiled models and one record per dtype."""
    models, records = [], []
    for dtype, (proc, model, log) in jobs.items():
        try:
            rc = proc.wait(timeout=max(1.0, deadline - time.time()))
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = None
        text = log.read_text().strip()
        done = [json.loads(ln) for ln in text.splitlines() if ln.startswith("{")]  # compile_models.py's own line
        record = {"dtype": dtype, "model": model.name, "ok": rc == 0 and model.is_file(),
                  "seconds": done[-1]["seconds"] if done else None}
        if not record["ok"]:
            record["error"] = "timed out (--compile-timeout-s)" if rc is None else text[-500:]
        else:
            models.append(model)
        print(json.dumps({"compile": record}), flush=True)
        records.append(record)
    return models, records


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--carry", type=Path, default=Path(__file__).resolve().parent / "carry")
    ap.add_argument("--driver", type=Path, help="the built m3gnet_driver (omit: Python only)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--sizes", nargs="*", default=["nabh4:3", "onbh:2", "nabh4:5", "nabh4:8"],
                    help="nabh4:N (24 N^3 atoms; 8: 12288) and onbh:2 (1024)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", type=Path, default=Path("gpu_check.json"))
    ap.add_argument("--tmp", type=Path, default=Path("/tmp"))
    ap.add_argument("--budget-s", type=float, default=270.0,
                    help="skip remaining speed sizes once this much time has passed (recorded as skipped)")
    ap.add_argument("--compile-dtypes", nargs="*", default=["float64", "float32"],
                    help="AOTInductor packages to build here from carry/checkpoints (none: TorchScript only)")
    ap.add_argument("--compiled-dir", type=Path, default=Path("build/gpu_compiled"))
    ap.add_argument("--compile-timeout-s", type=float, default=200.0)
    a = ap.parse_args(argv)
    t0 = time.time()
    models = sorted((a.carry / "models").glob("*.pt"))
    if not models:
        print(f"no models in {a.carry / 'models'}: run benchmarks/gpu_check.sh --prepare first", file=sys.stderr)
        return 2
    jobs = start_compiles(a.carry, a.compiled_dir, a.device, a.compile_dtypes, a.tmp)
    report = {"device": a.device, "torch": torch.__version__,
              "cuda_device": torch.cuda.get_device_name(0) if a.device.startswith("cuda") else None}
    report["parity"] = parity(models, a.driver, a.device, a.tmp)
    compiled, report["compile"] = finish_compiles(jobs, t0 + a.compile_timeout_s)
    report["parity"] += parity(compiled, a.driver, a.device, a.tmp)
    bad = [r for r in report["parity"] if not r["ok"]]
    bad_compile = [r for r in report["compile"] if not r["ok"]]
    print(f"parity: {len(report['parity']) - len(bad)}/{len(report['parity'])} within tolerance "
          f"({len(compiled)} compiled model(s))", flush=True)
    report["speed"] = []
    found = {p.name: p for p in [*models, *compiled]}
    for name in (f"{NABH}-float32-compiled.pt", f"{NABH}-float32-density.pt", f"{NABH}-float32-triples.pt",
                 f"{NABH}-float64-density.pt", f"{NABH}-float64-compiled.pt"):
        if name in found:
            sizes = a.sizes if "triples" not in name else a.sizes[:2]
            report["speed"] += speed(found[name], a.driver, a.device, a.tmp, sizes, a.repeat, t0 + a.budget_s)
    report["seconds"] = time.time() - t0
    report["parity_failures"] = bad
    report["compile_failures"] = bad_compile
    a.out.write_text(json.dumps(report, indent=1))
    print(f"wrote {a.out} ({report['seconds']:.0f} s)")
    return 0 if not bad and not bad_compile else 1


if __name__ == "__main__":
    sys.exit(main())
