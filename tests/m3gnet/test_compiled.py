"""The AOTInductor-compiled energy + gradient (``export --compile``) against the golden data and TorchScript.

float64 compiled = TorchScript to round-off (Inductor fuses and reorders sums: 1e-12 relative); the
golden tolerances are those of the core-engine issue. The per-block packages of ``comm halo`` against the
TorchScript block and its autograd; a file whose package was built by another torch or for another CPU
is refused in one line and runs TorchScript.
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
from pydriver.model_file import block_files, capability_fits, compiled_file, read_metadata
from pydriver.m3gnet.neighbors import edge_list
from tests.conftest import MODELS_DIR
from tests.golden import MATPES, NABH, TOL, golden_frames
from tests.m3gnet.model_edit import foreign_package


@pytest.mark.parametrize("checkpoint", [NABH, MATPES])
def test_compiled_calculator_matches_reference_and_torchscript(compiled_models, checkpoint):
    path = compiled_models[checkpoint]
    meta = read_metadata(path)
    block, block_grad = block_files("cpu")
    assert meta["compiled"]["cpu"] == {"file": compiled_file("cpu"), "torch": torch.__version__,
                                       "threads": THREADS_RUN_TIME,
                                       "cpu_capability": torch.backends.cpu.get_cpu_capability(),
                                       "halo": {"block": block, "block_grad": block_grad,
                                                "weights": meta["compiled"]["cpu"]["halo"]["weights"]}}
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


def test_block_packages_match_the_torchscript_blocks(compiled_models):
    """Each interaction block through the ``comm halo`` packages (weights as inputs) = the TorchScript
    ``block_messages`` and its autograd, on a graph whose bonds start at some nodes only (as on a rank)."""
    path = compiled_models[NABH]
    meta = read_metadata(path)
    halo = meta["compiled"]["cpu"]["halo"]
    extra = {halo["block"]: "", halo["block_grad"]: ""}
    module = torch.jit.load(str(path), _extra_files=extra)
    forward, backward = load_package(extra[halo["block"]]), load_package(extra[halo["block_grad"]])
    atoms = next(a for a, _ in golden_frames(NABH) if a.info["name"] == "nabh4_triclinic") * (2, 1, 1)
    index, vec = edge_list(atoms, meta["cutoff_A"])
    owned = index[0] < len(atoms) // 2  # bonds of the first half of the atoms, ending anywhere
    edge_index = torch.from_numpy(index[:, owned].copy())
    edge_vec = torch.tensor(vec[owned], requires_grad=True)
    species = torch.tensor([meta["elements"].index(s) for s in atoms.get_chemical_symbols()])
    params = dict(module.named_parameters())
    assert halo["weights"] == [n.split(".", 2)[2] for n in params if n.startswith("blocks.0.")]
    dist = torch.linalg.norm(edge_vec, dim=1)
    rbf = module.radial(dist)
    tb = module.threebody(edge_index, edge_vec, dist, len(atoms))
    short = module.short_bonds(dist.detach())
    node_feat, edge_feat = module.embed(species, rbf)
    gen = torch.Generator().manual_seed(3)
    for b in range(meta["nblocks"]):
        weights = [params[f"blocks.{b}.{n}"] for n in halo["weights"]]
        x = node_feat.detach().requires_grad_(True)
        e = edge_feat.detach().requires_grad_(True)
        e_out, sums = module.block_messages(b, x, e, rbf, edge_index, tb)
        c_out, c_sums, *saved = forward(x.detach(), e.detach(), edge_vec.detach(), edge_index, short, *weights)
        torch.testing.assert_close(c_out, e_out.detach(), rtol=0, atol=1e-11)
        torch.testing.assert_close(c_sums, sums.detach(), rtol=0, atol=1e-11)
        g_sums = torch.randn(sums.shape, generator=gen, dtype=sums.dtype)
        g_edge = torch.randn(e_out.shape, generator=gen, dtype=e_out.dtype)
        ref = torch.autograd.grad([sums, e_out], [x, e, edge_vec], [g_sums, g_edge], retain_graph=True)
        got = backward(*saved, g_sums, g_edge)
        for name, a, r in zip(("node_feat", "edge_feat", "edge_vec"), got, ref):
            torch.testing.assert_close(a, r, rtol=0, atol=1e-10, msg=f"block {b} d/d{name}")
        node_feat, edge_feat = node_feat + sums.detach(), e_out.detach()


def test_compiled_packages_come_from_the_cache_on_a_second_export(compiled_models, monkeypatch, tmp_path):
    """The fixture compiled into a fresh cache folder: exporting the same checkpoint again (another
    file) compiles nothing and stores the same packages."""
    from pydriver.m3gnet import compiled  # noqa: PLC0415

    def no_compile(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("compiled again despite the cache")

    monkeypatch.setenv("PYDRIVER_CACHE_DIR", str(compiled_models["cache"]))
    monkeypatch.setattr(compiled, "compile_packages", no_compile)
    again = export_checkpoint(MODELS_DIR / NABH, tmp_path / "again.pt", dtype="float64", compiled=True)
    first, second = read_metadata(compiled_models[NABH]), read_metadata(again)
    assert first["compiled"] == second["compiled"]
    packages = [name for name in first["entry_sha256"] if name.startswith("extra/compiled_cpu")]
    assert len(packages) == 3
    assert [first["entry_sha256"][n] for n in packages] == [second["entry_sha256"][n] for n in packages]


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
    with pytest.raises(ValueError, match="has no compiled package for cpu \\(exported with --no-compile\\)"):
        M3GNetCalculator(nabh_model_f64, compiled=True)


@pytest.mark.parametrize("entry,why", [
    ({"torch": "2.0.0+cpu"}, f"its cpu package was built by torch 2.0.0+cpu, this is torch {torch.__version__}"),
    ({"cpu_capability": "SVE256"},
     f"its cpu package was compiled for SVE256 CPUs, this CPU has {torch.backends.cpu.get_cpu_capability()}"),
])
def test_a_package_from_another_torch_or_cpu_is_refused_in_one_line(nabh_model_f64, tmp_path, caplog, entry, why):
    """A file compiled elsewhere: auto says why in one warning and runs TorchScript (same numbers as the
    file without a package); ``compiled=True`` raises that line."""
    path = foreign_package(nabh_model_f64, tmp_path / "foreign.pt", **entry)
    atoms = next(a for a, _ in golden_frames(NABH) if a.info["name"] == "nabh4_ordered")
    with caplog.at_level("WARNING", logger="pydriver.m3gnet.calculator"):
        calc = M3GNetCalculator(path)
    assert calc.compiled is None
    warned = [r.getMessage() for r in caplog.records if r.name == "pydriver.m3gnet.calculator"]
    assert warned == [f"{path}: {why}; using TorchScript (re-export the file here for the compiled engine)"]
    reference = M3GNetCalculator(nabh_model_f64)
    assert calc.get_potential_energy(atoms.copy()) == reference.get_potential_energy(atoms.copy())
    with pytest.raises(ValueError) as info:
        M3GNetCalculator(path, compiled=True)
    assert str(info.value) == f"{path}: {why}"


def test_capability_order():
    assert capability_fits("AVX2", "AVX512") and capability_fits("AVX512", "AVX512")
    assert not capability_fits("AVX512", "AVX2") and not capability_fits("AVX2", "DEFAULT")
    assert capability_fits("DEFAULT", "SVE256") and capability_fits("SVE256", "SVE256")
    assert not capability_fits("SVE256", "AVX512") and not capability_fits("AVX2", "SVE256")


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
