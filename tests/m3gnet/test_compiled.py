"""The AOTInductor-compiled energy + gradient (``export --compile``) against the golden data and TorchScript.

float64 compiled = TorchScript to round-off (Inductor fuses and reorders sums: 1e-12 relative); the
golden tolerances are those of the core-engine issue.
"""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
import torch

from pydriver.m3gnet.calculator import M3GNetCalculator
from pydriver.m3gnet.compiled import THREADS_RUN_TIME, energy_gradient, load_package
from pydriver.m3gnet.export import build_model, export_checkpoint
from pydriver.model_file import compiled_file, read_metadata
from pydriver.m3gnet.neighbors import edge_list
from tests.conftest import MODELS_DIR
from tests.golden import MATPES, NABH, TOL, golden_frames


@pytest.mark.parametrize("checkpoint", [NABH, MATPES])
def test_compiled_calculator_matches_reference_and_torchscript(compiled_models, checkpoint):
    path = compiled_models[checkpoint]
    meta = read_metadata(path)
    assert meta["compiled"]["cpu"] == {"file": compiled_file("cpu"), "torch": torch.__version__,
                                       "threads": THREADS_RUN_TIME}
    compiled = M3GNetCalculator(path, compiled=True)
    scripted = M3GNetCalculator(path, compiled=False)
    assert compiled.compiled is not None and scripted.compiled is None
    tol = TOL["float64"]
    for atoms, ref in golden_frames(checkpoint):
        name = atoms.info["name"]
        a, b = atoms.copy(), atoms.copy()
        a.calc, b.calc = compiled, scripted
        n = len(atoms)
        assert abs(a.get_potential_energy() - ref["energy"]) / n < tol["energy_eV_atom"], name
        assert np.abs(a.get_forces() - np.array(ref["forces"])).max() < tol["force_eV_A"], name
        assert a.get_potential_energy() == pytest.approx(b.get_potential_energy(), rel=1e-12, abs=1e-10), name
        np.testing.assert_allclose(a.get_forces(), b.get_forces(), atol=1e-10, err_msg=name)
        np.testing.assert_allclose(a.get_stress(), b.get_stress(), atol=1e-12, err_msg=name)
        np.testing.assert_allclose(a.get_potential_energies(), b.get_potential_energies(), atol=1e-10, err_msg=name)


def test_node_weight_differentiates_the_counted_nodes_only(compiled_models):
    """Ghost nodes of ``comm shell`` have weight 0: the gradient is that of the owned nodes' energy sum."""
    path = compiled_models[NABH]
    atoms = next(a for a, _ in golden_frames(NABH) if a.info["name"] == "nabh4_ordered")
    extra = {compiled_file("cpu"): ""}
    module = torch.jit.load(str(path), _extra_files=extra)
    package = load_package(extra[compiled_file("cpu")])
    index, vec = edge_list(atoms, 5.0)
    species = torch.tensor([["Na", "B", "H"].index(s) for s in atoms.get_chemical_symbols()])
    index = torch.from_numpy(index)
    edge_vec = torch.tensor(vec, requires_grad=True)
    weight = torch.zeros(len(atoms), dtype=torch.float64)
    weight[:5] = 1.0
    short = module.short_bonds(torch.linalg.norm(edge_vec.detach(), dim=1))
    energies, grad = package(species, index, edge_vec.detach(), short, weight)
    ref = module(species, index, edge_vec)
    (ref_grad,) = torch.autograd.grad(ref[:5].sum(), [edge_vec])
    torch.testing.assert_close(energies, ref.detach(), rtol=0, atol=1e-10)
    torch.testing.assert_close(grad, ref_grad, rtol=0, atol=1e-10)
    assert float(grad.abs().sum()) > 0.0


def test_compile_needs_the_density_form(tmp_path):
    model, _ = build_model(MODELS_DIR / NABH, "float64", threebody="triples")
    with pytest.raises(ValueError, match="only the density three-body form can be compiled"):
        energy_gradient(model)
    with pytest.raises(ValueError, match="only the density three-body form can be compiled"):
        export_checkpoint(MODELS_DIR / NABH, tmp_path / "m.pt", threebody="triples", compiled=True)


def test_calculator_uses_the_package_with_any_thread_count(compiled_models):
    """Auto takes the package with 1 and 2 torch threads; forces agree with TorchScript to 1e-10 eV/A."""
    atoms = next(a for a, _ in golden_frames(NABH) if a.info["name"] == "nabh4_ordered")
    threads = torch.get_num_threads()
    forces = []
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            calc = M3GNetCalculator(compiled_models[NABH])
            assert calc.compiled is not None
            forces.append(calc.get_forces(atoms.copy()))
        reference = M3GNetCalculator(compiled_models[NABH], compiled=False).get_forces(atoms.copy())
    finally:
        torch.set_num_threads(threads)
    assert np.abs(forces[0] - reference).max() < 1e-10 and np.abs(forces[1] - reference).max() < 1e-10


def test_calculator_requires_a_package_only_when_asked(nabh_model_f64):
    assert M3GNetCalculator(nabh_model_f64).compiled is None  # auto: TorchScript
    with pytest.raises(ValueError, match="compiled='no': use None \\(auto\\), True or False"):
        M3GNetCalculator(nabh_model_f64, compiled="no")
    with pytest.raises(ValueError, match="has no compiled package for cpu \\(export with --compile\\)"):
        M3GNetCalculator(nabh_model_f64, compiled=True)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present: the compile would run")
def test_cuda_package_needs_a_cuda_device(tmp_path):
    with pytest.raises(ValueError, match="a CUDA package must be compiled on a machine with a CUDA device"):
        export_checkpoint(MODELS_DIR / NABH, tmp_path / "m.pt", device="cuda", compiled=True)
    assert not (tmp_path / "m.pt").exists()


def test_unfuse_bias_pass_rewrites_addmm_and_keeps_values():
    """The CPU post-grad pass turns every addmm into mm + add (the add then fuses into the next loop)."""
    from torch.fx.experimental.proxy_tensor import make_fx

    from pydriver.m3gnet.compiled import _UnfuseBiasAddmm

    lin = torch.nn.Linear(5, 3).double()
    x = torch.randn(7, 5, dtype=torch.float64)
    graph = make_fx(lambda t: torch.nn.functional.silu(lin(t)))(x)
    assert any(n.target is torch.ops.aten.addmm.default for n in graph.graph.nodes)
    _UnfuseBiasAddmm()(graph.graph)
    graph.recompile()
    targets = [n.target for n in graph.graph.nodes]
    assert torch.ops.aten.addmm.default not in targets and torch.ops.aten.mm.default in targets
    assert torch.allclose(graph(x), torch.nn.functional.silu(lin(x)), rtol=0, atol=1e-14)


def test_cpu_package_loops_take_the_run_threads_without_atomics_or_nested_regions(compiled_models):
    """The generated C++ follows :mod:`pydriver.m3gnet.cpu_loops`: parallel regions without a baked
    thread count, no ``atomic_add`` (scattering loop nests run serially with ``+=``), and no parallel
    region inside a loop (Inductor's per-bond fork/join in the density kernels: 100 ms vs 6 ms a call).
    Every region opens at a kernel's top level (4 or 8 spaces in), never deeper."""
    extra = {compiled_file("cpu"): ""}
    torch.jit.load(str(compiled_models[NABH]), _extra_files=extra)
    with zipfile.ZipFile(io.BytesIO(extra[compiled_file("cpu")])) as z:
        sources = [z.read(n).decode() for n in z.namelist() if n.endswith("kernel.cpp")]
    assert len(sources) == 1
    lines = sources[0].splitlines()
    regions = [ln for ln in lines if ln.lstrip().startswith("#pragma omp parallel")]
    assert len(regions) >= 10
    assert all(ln.strip() == "#pragma omp parallel" for ln in regions), {ln.strip() for ln in regions}
    assert max(len(ln) - len(ln.lstrip()) for ln in regions) <= 8
    assert not [ln for ln in lines if "atomic_add" in ln and not ln.lstrip().startswith("//")]
