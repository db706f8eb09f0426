"""Ahead-of-time compiled energy + gradient of M3GNet (AOTInductor), for the plugin and the calculator.

Why hand-written: the TorchScript model spends ~70 % of a step in unfused per-bond elementwise work
(gated MLPs and their backward, issue 11). Inductor fuses it; AOTInductor packages the result as a
shared library that C++ loads without Python (``torch::inductor::AOTIModelPackageLoader``), the route
NequIP/Allegro take for their LAMMPS models.

CPU packages run their fused loops on the run's thread count (``cpp.dynamic_threads`` with the code
generation rules of :mod:`pydriver.m3gnet.cpu_loops`: no atomic adds, no parallel region per bond),
and their matrix products are extern calls on torch's threads, so one package serves every thread
count: in-process, 648-atom NaBH4, float32, 2 threads 330 ms vs 464 ms for the earlier one-thread
package, no slower on one thread (:data:`THREADS_RUN_TIME` in the metadata). Where this torch lacks the
hooks of those rules, the package is compiled for one thread (``threads`` 1), as before. Tried and
dropped: sums over bonds as reductions over padded neighbour tables built in the graph (no faster).

On the CPU the bias of every Linear is added after the matrix product (:class:`_UnfuseBiasAddmm`), so
that the add fuses into the activation: 1.1-1.2x on one thread.

The compiled function (one graph: forward and the input-gradient backward, traced with ``make_fx``)::

    (species (N,) int64, edge_index (2, E) int64, edge_vec (E, 3) A, short (Es,) int64, node_weight (N,))
        -> (node_energy (N,) eV, dE/d edge_vec (E, 3) eV/A)   with E = sum_i node_weight_i node_energy_i

``short`` are the ids of the bonds within the three-body cutoff (``M3GNetPES.short_bonds``, computed by the
caller because its length is data-dependent); ``node_weight`` is 1 for counted nodes and 0 for the rest
(ghost nodes of the plugin's ``comm shell``). N, E and Es are dynamic (at least 2 each). The three-body
sum is the density form (:mod:`pydriver.m3gnet.threebody`).

Packages are specific to the device (cpu/cuda) and to the torch version that built them; the exporter
stores them inside the model file (``compiled_<device>.pt2`` extra files, metadata ``compiled``) and the
plugin falls back to TorchScript, saying why, when none fits. Parity: float64 compiled = TorchScript to
round-off (``tests/m3gnet/test_compiled.py``, ``tests/plugin/test_compiled_plugin.py``).
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import time
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch._inductor.custom_graph_pass import CustomGraphPass

from pydriver.m3gnet.model import M3GNetPES

log = logging.getLogger(__name__)

THREADS_RUN_TIME = 0  # metadata "threads" of a CPU package whose loops take the run's thread count
LOOP_DECISION_THREADS = 2  # torch threads while compiling: Inductor decides loops for more than one thread
EXAMPLE_GRID = 7  # example graph: 7^3 = 343 atoms (Inductor's loop decisions use its sizes as hints)

EnergyGradient = Callable[..., tuple[torch.Tensor, torch.Tensor]]


def check_compilable(threebody: str, device: str = "cpu") -> None:
    """Raise ValueError unless a model of this three-body form can be compiled for ``device`` here.

    Only the density form is compiled; a CUDA package needs a CUDA device on this machine.
    """
    if threebody != "density":
        raise ValueError("only the density three-body form can be compiled (export with threebody='density')")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("a CUDA package must be compiled on a machine with a CUDA device")


def energy_gradient(model: M3GNetPES) -> EnergyGradient:
    """The eager function that is compiled (see the module docstring for inputs and outputs).

    Raises
    ------
    ValueError
        If ``model`` uses the triple formulation (only the density form is compiled).
    """
    check_compilable(model.threebody_mode)

    def fn(species: torch.Tensor, edge_index: torch.Tensor, edge_vec: torch.Tensor, short: torch.Tensor,
           node_weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        edge_vec = edge_vec.detach().requires_grad_(True)
        with torch.enable_grad():
            dist = torch.linalg.norm(edge_vec, dim=1)
            tb = model.density_geometry(edge_index, edge_vec, dist, short)
            energies = model.energies_from_geometry(species, edge_index, dist, tb)
            (grad,) = torch.autograd.grad((energies * node_weight).sum(), [edge_vec])
        return energies.detach(), grad

    return fn


def example_graph(model: M3GNetPES, device: str = "cpu", seed: int = 0) -> tuple[torch.Tensor, ...]:
    """A periodic graph to trace with: 343 atoms of random species on a jittered 2.3 A cubic lattice.

    N, E and Es differ from each other and from every fixed dimension of the model, so that tracing
    keeps them as three independent symbols; their sizes (343, ~12,900, ~7,600) are the hints with which
    Inductor decides which loops to parallelise, so they are of a production cell's order.
    """
    from ase import Atoms  # noqa: PLC0415  (ase: a dependency of the model package's neighbour lists)

    from pydriver.m3gnet.neighbors import edge_list  # noqa: PLC0415

    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(*[np.arange(EXAMPLE_GRID)] * 3, indexing="ij"), -1).reshape(-1, 3) * 2.3
    atoms = Atoms(numbers=[1] * len(grid), positions=grid + rng.normal(0, 0.15, grid.shape),
                  cell=[2.3 * EXAMPLE_GRID] * 3, pbc=True)
    index, vec = edge_list(atoms, model.cutoff)
    dtype = model.node_embedding.weight.dtype
    edge_vec = torch.tensor(vec, dtype=dtype, device=device)
    short = model.short_bonds(torch.linalg.norm(edge_vec, dim=1))
    species = torch.tensor(rng.integers(0, model.node_embedding.weight.shape[0], len(atoms)), device=device)
    node_weight = torch.ones(len(atoms), dtype=dtype, device=device)
    return species, torch.from_numpy(index).to(device), edge_vec, short, node_weight


class _Traced(torch.nn.Module):
    """``torch.export`` needs a module; this one runs the traced forward + backward graph."""

    def __init__(self, graph: torch.nn.Module) -> None:
        super().__init__()
        self.traced = graph

    def forward(self, species, edge_index, edge_vec, short, node_weight):  # noqa: ANN001, ANN201
        return self.traced(species, edge_index, edge_vec, short, node_weight)


class _UnfuseBiasAddmm(CustomGraphPass):
    """Inductor post-grad pass: ``addmm(bias, x, w)`` -> ``mm(x, w) + bias``.

    Why: on the CPU, Inductor keeps ``addmm`` as one extern call that first copies the broadcast bias
    into the (E, H) output (13 % of a 648-atom step); as ``mm`` + add, the add fuses into the SiLU that
    follows. Inductor does this itself only on GPUs (``should_prefer_unfused_addmm``). ``threads`` (the
    package's loop form, as in the metadata) only enters :meth:`uuid`, i.e. Inductor's cache key.
    """

    def __init__(self, threads: int = THREADS_RUN_TIME) -> None:
        self.threads = threads

    def __call__(self, graph: torch.fx.Graph) -> None:
        aten = torch.ops.aten
        for node in list(graph.nodes):
            if node.op != "call_function" or node.target is not aten.addmm.default or node.kwargs:
                continue
            bias, mat1, mat2 = node.args
            with graph.inserting_before(node):
                product = graph.call_function(aten.mm.default, (mat1, mat2))
                total = graph.call_function(aten.add.Tensor, (product, bias))
            product.meta = dict(node.meta)
            total.meta = dict(node.meta)
            node.replace_all_uses_with(total)
            graph.erase_node(node)

    def uuid(self) -> str:
        return f"pydriver-unfuse-bias-addmm-1-threads-{self.threads}"


def compile_package(model: M3GNetPES, out_path: str | Path, device: str = "cpu") -> tuple[Path, int]:
    """Compile ``model``'s energy + gradient with AOTInductor into the package ``out_path`` (.pt2).

    Takes 1-2 minutes on a 2-core CPU (C++ compilation of the generated kernels); needs a C++ compiler
    (and a CUDA device for ``device="cuda"``).

    Returns
    -------
    (path, threads): ``threads`` for the metadata: :data:`THREADS_RUN_TIME` (0) for a CPU package whose
    loops take the run's thread count, 1 where this torch lacks the hooks of :mod:`pydriver.m3gnet.cpu_loops`
    (a one-thread package), 0 for CUDA.

    Raises
    ------
    ValueError
        For the triple formulation or a CUDA compile without a CUDA device.
    """
    from torch.export import Dim  # noqa: PLC0415
    from torch.fx.experimental.proxy_tensor import make_fx  # noqa: PLC0415

    from pydriver.m3gnet.cpu_loops import UnsupportedInductor, run_time_thread_loops  # noqa: PLC0415

    check_compilable(model.threebody_mode, device)
    fn = energy_gradient(model)
    model = model.to(device)
    example = example_graph(model, device)
    t0 = time.perf_counter()
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch_threads = torch.get_num_threads()
    threads = THREADS_RUN_TIME
    with warnings.catch_warnings(), contextlib.ExitStack() as stack:
        warnings.simplefilter("ignore", FutureWarning)  # torch-internal notices of the export machinery
        # the model's weights are real tensors: they become constants of the traced graph
        graph = make_fx(fn, tracing_mode="symbolic", _allow_non_fake_inputs=True)(*example)
        n_nodes, n_edges, n_short = Dim("n_nodes", min=2), Dim("n_edges", min=2), Dim("n_short", min=2)
        program = torch.export.export(_Traced(graph), example, strict=False,
                                      dynamic_shapes=({0: n_nodes}, {1: n_edges}, {0: n_edges}, {0: n_short},
                                                      {0: n_nodes}))
        if device == "cpu":
            try:
                stack.enter_context(run_time_thread_loops())
                torch.set_num_threads(LOOP_DECISION_THREADS)  # the run sets the count the loops use
            except UnsupportedInductor as exc:
                log.warning("compiling a one-thread CPU package (%s)", exc)
                threads = 1
                torch.set_num_threads(1)  # Inductor generates CPU loops for the current thread count
        # the custom pass's uuid enters Inductor's cache key: packages of either loop form never mix
        unfuse = _UnfuseBiasAddmm(threads) if device == "cpu" else None  # GPUs: Inductor's own rule
        try:
            with torch._inductor.config.patch({"post_grad_custom_post_pass": unfuse}):
                torch._inductor.aoti_compile_and_package(program, package_path=str(out))
        finally:
            torch.set_num_threads(torch_threads)
    log.info("compiled energy + gradient for %s in %.0f s", device, time.perf_counter() - t0)
    return out, threads


def compile_bytes(model: M3GNetPES, device: str = "cpu") -> tuple[bytes, int]:
    """:func:`compile_package` into memory: (package bytes the exporter stores in the model file, threads)."""
    with tempfile.TemporaryDirectory(prefix="m3gnet-aoti-") as tmp:
        path, threads = compile_package(model, Path(tmp) / "model.pt2", device)
        return path.read_bytes(), threads


def load_package(data: bytes) -> EnergyGradient:
    """A callable of the module docstring's signature from package bytes (for the ASE calculator)."""
    with tempfile.TemporaryDirectory(prefix="m3gnet-aoti-") as tmp:
        path = Path(tmp) / "model.pt2"
        path.write_bytes(data)
        return torch._inductor.aoti_load_package(str(path))
