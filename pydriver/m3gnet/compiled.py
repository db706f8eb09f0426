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

Under MPI ``comm halo`` the plugin runs the model one interaction block at a time, exchanging node
features between blocks, so it needs each block on its own. Two more packages serve every block (the
block's weights are inputs, in the order of :func:`block_weight_names`)::

    block:      (node_feat (N, F), edge_feat (E, H), edge_vec (E, 3), edge_index (2, E), short (Es,), *weights)
                -> (edge_feat out (E, H), node-update sums (N, F), *saved)
    block_grad: (*saved, grad_sums (N, F), grad_edge_out (E, H))
                -> (dE/d node_feat (N, F), dE/d edge_feat (E, H), dE/d edge_vec (E, 3))

``saved`` are the forward's activations that the backward reads (a few tens of tensors, most (E, H)),
chosen by torch's min-cut partitioner of the traced forward + backward graph (what ``torch.compile``
does for training), so neither call repeats the other's work; the caller keeps them from one call to the
other. The bond basis and the three-body geometry are computed from ``edge_vec`` inside the block, so
their gradient is part of ``dE/d edge_vec``. The embedding and the readout stay TorchScript (a few per
cent of a step).

CPU packages are compiled for the instruction set torch reports (``torch.backends.cpu.get_cpu_capability``,
recorded in the metadata) with the matching portable ``-march`` level (x86-64-v4 for AVX512, v3 for AVX2)
rather than ``-march=native``, so a package runs on every CPU with that instruction set.

Packages are specific to the device (cpu/cuda), to the torch version that built them and to the CPU
instruction set; the exporter stores them inside the model file (``compiled_<device>*.pt2`` extra files,
metadata ``compiled``) and the plugin and the calculator fall back to TorchScript, saying why, when none
fits. Parity: float64 compiled = TorchScript to round-off (``tests/m3gnet/test_compiled.py``,
``tests/plugin/test_compiled.py``, ``tests/plugin/test_mpi.py``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import platform
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
    """``torch.export`` needs a module; this one runs a traced graph on its positional inputs."""

    def __init__(self, graph: torch.nn.Module) -> None:
        super().__init__()
        self.traced = graph

    def forward(self, *inputs):  # noqa: ANN002, ANN201
        return self.traced(*inputs)


class _BlockMessages(torch.nn.Module):
    """Interaction block 0 of ``model`` from ``edge_vec``: bond basis and three-body geometry, then
    :meth:`InteractionBlock.messages`. Its weights are replaced per call (:func:`block_functions`)."""

    def __init__(self, model: M3GNetPES) -> None:
        super().__init__()
        self.model = model

    def forward(self, node_feat: torch.Tensor, edge_feat: torch.Tensor, edge_vec: torch.Tensor,
                edge_index: torch.Tensor, short: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        dist = torch.linalg.norm(edge_vec, dim=1)
        rbf = self.model.bond_basis(dist)
        tb = self.model.density_geometry(edge_index, edge_vec, dist, short)
        return self.model.blocks[0].messages(node_feat, edge_feat, rbf, edge_index, tb)


def block_weight_names(model: M3GNetPES) -> list[str]:
    """Names (below ``blocks.<b>.``) of one interaction block's weights, in the order the block packages take
    them; every block has the same names and shapes (its buffers are the same for all blocks)."""
    return [name for name, _ in model.blocks[0].named_parameters()]


def block_functions(model: M3GNetPES) -> tuple[Callable, Callable]:
    """(forward, backward) of one interaction block with its weights as inputs (module docstring:
    ``block`` and ``block_grad``); ``model.blocks[b]``'s weights in :func:`block_weight_names` order give
    block ``b``.

    Raises
    ------
    ValueError
        If ``model`` uses the triple formulation (only the density form is compiled).
    """
    check_compilable(model.threebody_mode)
    wrapper = _BlockMessages(model)
    names = [f"model.blocks.0.{name}" for name in block_weight_names(model)]

    def run(inputs: tuple, weights: tuple) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.func.functional_call(wrapper, dict(zip(names, weights)), inputs)

    def forward(node_feat: torch.Tensor, edge_feat: torch.Tensor, edge_vec: torch.Tensor, edge_index: torch.Tensor,
                short: torch.Tensor, *weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return run((node_feat, edge_feat, edge_vec, edge_index, short), weights)

    def backward(node_feat: torch.Tensor, edge_feat: torch.Tensor, edge_vec: torch.Tensor, edge_index: torch.Tensor,
                 short: torch.Tensor, grad_sums: torch.Tensor, grad_edge: torch.Tensor, *weights: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x, e, v = (t.detach().requires_grad_(True) for t in (node_feat, edge_feat, edge_vec))
        with torch.enable_grad():
            edge_out, sums = run((x, e, v, edge_index, short), weights)
            gx, ge, gv = torch.autograd.grad([sums, edge_out], [x, e, v], [grad_sums, grad_edge])
        return gx, ge, gv

    return forward, backward


def block_weights(model: M3GNetPES, block: int) -> list[torch.Tensor]:
    """Block ``block``'s weights in :func:`block_weight_names` order (the block packages' last inputs)."""
    params = dict(model.blocks[block].named_parameters())
    return [params[name].detach() for name in block_weight_names(model)]


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


#: portable ``-march`` level of CPU packages for the instruction set torch reports (x86-64 only)
MARCH_FOR_CAPABILITY = {"AVX512": "x86-64-v4", "AVX2": "x86-64-v3", "DEFAULT": "x86-64"}


def cpu_capability() -> str:
    """The instruction set torch's CPU kernels use here ("AVX512", "AVX2", "DEFAULT", ...); packages are
    compiled for it and record it (``torch.backends.cpu.get_cpu_capability``)."""
    return torch.backends.cpu.get_cpu_capability()


def _march() -> str | None:
    """``-march`` for CPU packages: the portable level of :func:`cpu_capability` on x86-64, else Inductor's."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return None
    return MARCH_FOR_CAPABILITY.get(cpu_capability())


@dataclasses.dataclass
class Packages:
    """What :func:`compile_packages` builds: AOTInductor package bytes and the metadata they need."""

    energy_gradient: bytes
    block: bytes | None  # None: no halo packages (``halo=False``)
    block_grad: bytes | None
    threads: int  # metadata "threads" (see :func:`compile_packages`)
    weights: list[str]  # :func:`block_weight_names`
    cpu_capability: str


def _block_example(model: M3GNetPES, device: str) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
    """(block inputs, block_grad inputs) on the example graph, with block 0's weights."""
    species, edge_index, edge_vec, short, _ = example_graph(model, device)
    gen = torch.Generator(device="cpu").manual_seed(1)
    dtype = edge_vec.dtype
    n_nodes, n_edges = species.shape[0], edge_vec.shape[0]
    width = int(model.node_embedding.weight.shape[1])
    edge_width = int(model.edge_embedding.linears[-1].weight.shape[0])

    def rand(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=gen, dtype=dtype).to(device)

    weights = tuple(block_weights(model, 0))
    common = (rand(n_nodes, width), rand(n_edges, edge_width), edge_vec, edge_index, short)
    return common + weights, common + (rand(n_nodes, width), rand(n_edges, edge_width)) + weights


def _aoti(module: torch.nn.Module, example: tuple[torch.Tensor, ...], dynamic_shapes: tuple, out: Path,
          device: str, threads: int) -> None:
    """Export ``module`` (positional tensor inputs) with ``dynamic_shapes`` and compile it with AOTInductor
    into the package ``out``."""
    # (the module's one argument is the tuple of inputs, hence the outer tuple of dynamic shapes)
    program = torch.export.export(module, example, strict=False, dynamic_shapes=(dynamic_shapes,))
    # the custom pass's uuid enters Inductor's cache key: packages of either loop form never mix
    patch: dict = {"post_grad_custom_post_pass": _UnfuseBiasAddmm(threads) if device == "cpu" else None}
    march = _march()
    if march is not None:
        patch["cpp.march"] = march
    with torch._inductor.config.patch(patch):
        torch._inductor.aoti_compile_and_package(program, package_path=str(out))


def _traced(fn: Callable, example: tuple[torch.Tensor, ...]) -> torch.nn.Module:
    """``fn`` (forward and any autograd in it) traced into one graph on ``example``; the model's weights
    are real tensors and become constants of the graph."""
    from torch.fx.experimental.proxy_tensor import make_fx  # noqa: PLC0415

    return _Traced(make_fx(fn, tracing_mode="symbolic", _allow_non_fake_inputs=True)(*example))


class _BlockForward(torch.nn.Module):
    """The forward part of a partitioned block: its outputs and the saved tensors, without the sizes the
    partitioner also returns (the backward takes them from the saved tensors' shapes)."""

    def __init__(self, graph: torch.fx.GraphModule, n_outputs: int) -> None:
        super().__init__()
        self.graph_module = graph
        self.n_outputs = n_outputs

    def forward(self, *inputs):  # noqa: ANN002, ANN201
        return tuple(self.graph_module(*inputs)[:self.n_outputs])


class _BlockBackward(torch.nn.Module):
    """The backward part of a partitioned block on (saved tensors, tangents); each size input of the
    partitioned graph is read from the shape of one tensor input (``sizes``: (input index, dim) per size)."""

    def __init__(self, graph: torch.fx.GraphModule, sizes: list[tuple[int, int] | None]) -> None:
        super().__init__()
        self.graph_module = graph
        self.sizes = sizes

    def forward(self, *tensors):  # noqa: ANN002, ANN201
        sizes = [tensors[k].shape[d] for k, d in self.sizes]
        return tuple(self.graph_module(*sizes, *tensors))


def _partitioned_block(model: M3GNetPES, device: str) -> tuple[tuple, tuple]:
    """(module, example, dynamic shapes) of the block's forward and of its backward (module docstring:
    ``block`` and ``block_grad``), split from one traced forward + backward graph by torch's min-cut
    partitioner."""
    from torch._functorch.partitioners import min_cut_rematerialization_partition  # noqa: PLC0415
    from torch.export import Dim  # noqa: PLC0415
    from torch.fx.experimental.proxy_tensor import make_fx  # noqa: PLC0415

    forward, _ = block_functions(model)
    fwd_example, bwd_example = _block_example(model, device)
    n_weights = len(block_weight_names(model))
    joint_example = fwd_example + bwd_example[5:7]  # primals (inputs, weights), then the two tangents

    def joint(*inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        primals, tangents = inputs[:5 + n_weights], inputs[5 + n_weights:]
        x, e, v = (t.detach().requires_grad_(True) for t in primals[:3])
        with torch.enable_grad():
            edge_out, sums = forward(x, e, v, *primals[3:])
            grads = torch.autograd.grad([sums, edge_out], [x, e, v], list(tangents))
        return (edge_out, sums, *grads)

    graph = make_fx(joint, tracing_mode="symbolic", _allow_non_fake_inputs=True)(*joint_example)
    placeholders = [n for n in graph.graph.nodes if n.op == "placeholder"]
    for k, node in enumerate(placeholders):  # the partitioner tells primals from tangents by name
        tangent = k - 5 - n_weights
        node.target = node.name = f"tangents_{tangent + 1}" if tangent >= 0 else f"primals_{k + 1}"
    graph.recompile()
    fw, bw = min_cut_rematerialization_partition(graph, list(joint_example), num_fwd_outputs=2)
    fw_outputs = next(n for n in fw.graph.nodes if n.op == "output").args[0]
    n_tensors = sum(isinstance(o.meta.get("val"), torch.Tensor) for o in fw_outputs)
    assert all(isinstance(o.meta.get("val"), torch.Tensor) for o in fw_outputs[:n_tensors])

    # the symbols of N, E and Es in the traced graph, from the primals' shapes
    vals = [n.meta["val"] for n in placeholders]
    symbols = {vals[0].shape[0].node.expr: "n_nodes", vals[1].shape[0].node.expr: "n_edges",
               vals[4].shape[0].node.expr: "n_short"}
    dims = {name: Dim(name, min=2) for name in symbols.values()}

    def shape_spec(val: torch.Tensor) -> dict[int, object] | None:
        spec = {d: dims[symbols[size.node.expr]] for d, size in enumerate(val.shape)
                if isinstance(size, torch.SymInt) and size.node.expr in symbols}
        return spec or None

    bw_inputs = [n for n in bw.graph.nodes if n.op == "placeholder"]
    bw_tensors = [n for n in bw_inputs if isinstance(n.meta.get("val"), torch.Tensor)]
    sizes: list[tuple[int, int]] = []
    for node in bw_inputs[:len(bw_inputs) - len(bw_tensors)]:  # the size inputs come first
        expr = node.meta["val"].node.expr
        sizes.append(next((k, d) for k, t in enumerate(bw_tensors) for d, size in enumerate(t.meta["val"].shape)
                          if isinstance(size, torch.SymInt) and size.node.expr == expr))
    fw_module = _BlockForward(fw, n_tensors)
    saved = fw_module(*fwd_example)[2:]
    bw_module = _BlockBackward(bw, sizes)
    bw_example = tuple(saved) + bwd_example[5:7]
    fw_shapes = ({0: dims["n_nodes"]}, {0: dims["n_edges"]}, {0: dims["n_edges"]}, {1: dims["n_edges"]},
                 {0: dims["n_short"]}) + (None,) * n_weights
    bw_shapes = tuple(shape_spec(n.meta["val"]) for n in bw_tensors)
    return (fw_module, fwd_example, fw_shapes), (bw_module, bw_example, bw_shapes)


def compile_packages(model: M3GNetPES, device: str = "cpu", halo: bool = True) -> Packages:
    """Compile ``model``'s energy + gradient and (``halo``) its per-block packages with AOTInductor.

    Takes 1-2 minutes per package on a 2-core CPU (C++ compilation of the generated kernels); needs a C++
    compiler (and a CUDA device for ``device="cuda"``).

    ``Packages.threads`` for the metadata: :data:`THREADS_RUN_TIME` (0) for a CPU package whose loops take
    the run's thread count, 1 where this torch lacks the hooks of :mod:`pydriver.m3gnet.cpu_loops` (a
    one-thread package), 0 for CUDA.

    Raises
    ------
    ValueError
        For the triple formulation or a CUDA compile without a CUDA device.
    """
    from torch.export import Dim  # noqa: PLC0415

    from pydriver.m3gnet.cpu_loops import UnsupportedInductor, run_time_thread_loops  # noqa: PLC0415

    check_compilable(model.threebody_mode, device)
    model = model.to(device)
    t0 = time.perf_counter()
    torch_threads = torch.get_num_threads()
    threads = THREADS_RUN_TIME
    built: dict[str, bytes] = {}
    with warnings.catch_warnings(), contextlib.ExitStack() as stack, \
            tempfile.TemporaryDirectory(prefix="m3gnet-aoti-") as tmp:
        warnings.simplefilter("ignore", FutureWarning)  # torch-internal notices of the export machinery
        nodes, edges, shorts = Dim("n_nodes", min=2), Dim("n_edges", min=2), Dim("n_short", min=2)
        example = example_graph(model, device)
        jobs = [("energy_gradient", _traced(energy_gradient(model), example), example,
                 ({0: nodes}, {1: edges}, {0: edges}, {0: shorts}, {0: nodes}))]
        if halo:
            try:
                (fw, fw_example, fw_shapes), (bw, bw_example, bw_shapes) = _partitioned_block(model, device)
            except (ImportError, AttributeError, RuntimeError, AssertionError, StopIteration, KeyError) as exc:
                # torch's partitioner is internal: where it differs, the ranks of comm halo run TorchScript
                log.warning("no per-block packages for comm halo (its ranks will run TorchScript): %s", exc)
            else:
                jobs += [("block", fw, fw_example, fw_shapes), ("block_grad", bw, bw_example, bw_shapes)]
        if device == "cpu":
            try:
                stack.enter_context(run_time_thread_loops())
                torch.set_num_threads(LOOP_DECISION_THREADS)  # the run sets the count the loops use
            except UnsupportedInductor as exc:
                log.warning("compiling a one-thread CPU package (%s)", exc)
                threads = 1
                torch.set_num_threads(1)  # Inductor generates CPU loops for the current thread count
        try:
            for name, module, inputs, shapes in jobs:
                t1 = time.perf_counter()
                out = Path(tmp) / f"{name}.pt2"
                _aoti(module, inputs, shapes, out, device, threads)
                built[name] = out.read_bytes()
                log.info("compiled %s for %s in %.0f s", name, device, time.perf_counter() - t1)
        finally:
            torch.set_num_threads(torch_threads)
    log.info("compiled %d package(s) for %s in %.0f s", len(built), device, time.perf_counter() - t0)
    return Packages(built["energy_gradient"], built.get("block"), built.get("block_grad"), threads,
                    block_weight_names(model), cpu_capability())


def load_package(data: bytes) -> EnergyGradient:
    """A callable of the module docstring's signature from package bytes (for the ASE calculator)."""
    with tempfile.TemporaryDirectory(prefix="m3gnet-aoti-") as tmp:
        path = Path(tmp) / "model.pt2"
        path.write_bytes(data)
        return torch._inductor.aoti_load_package(str(path))
