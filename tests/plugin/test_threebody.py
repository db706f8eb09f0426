"""The per-atom density form of the three-body sum equals the explicit triple sum (float64).

Both exports of every checkpoint on every golden structure, plus cells with exactly collinear
triples (cos theta = -1), where only matgl's clamp of cos theta to [-1 + 1e-7, 1 - 1e-7], applied by
the triple form alone, separates them.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk

from pydriver.m3gnet.export import build_model
from pydriver.m3gnet.neighbors import edge_list
from tests.conftest import MODELS_DIR
from tests.golden import CHECKPOINTS, NABH, golden_frames

EXACT_EV = 1e-12  # per atom, and eV/A for dE/d(edge vector)
COLLINEAR_EV = 1e-8  # clamp of cos(theta) by 1e-7 in the triple form only


def _collinear_cells(checkpoint: str) -> list[Atoms]:
    if checkpoint == NABH:
        sc = Atoms("Na", cell=np.eye(3) * 3.2, pbc=True) * (2, 2, 2)
        chain = Atoms("NaB", positions=[[0, 0, 0], [1.9, 0, 0]], cell=[3.8, 8.0, 8.0], pbc=True)
        return [sc, chain]
    return [bulk("NaCl", "rocksalt", a=5.0, cubic=True), Atoms("Na", cell=np.eye(3) * 3.1, pbc=True)]


def _energy_and_grad(model, atoms: Atoms, elements: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    species = torch.tensor([elements.index(s) for s in atoms.get_chemical_symbols()])
    edge_index, edge_vec = edge_list(atoms, model.cutoff)
    vec = torch.tensor(edge_vec, dtype=torch.float64, requires_grad=True)
    energies = model(species, torch.from_numpy(edge_index), vec)
    (grad,) = torch.autograd.grad(energies.sum(), vec)
    return energies.detach(), grad


@pytest.mark.parametrize("checkpoint", CHECKPOINTS)
def test_density_equals_triples(checkpoint):
    density, meta = build_model(MODELS_DIR / checkpoint, "float64", "density")
    triples, _ = build_model(MODELS_DIR / checkpoint, "float64", "triples")
    scripted = torch.jit.script(density)  # the exported path must agree as well
    elements = meta["elements"]
    # the ordered NaBH4 cell has exactly collinear triples too (1.5e-11 eV/atom apart)
    frames = [(a, COLLINEAR_EV if a.info["name"] == "nabh4_ordered" else EXACT_EV) for a, _ in golden_frames(checkpoint)]
    frames += [(a, COLLINEAR_EV) for a in _collinear_cells(checkpoint)]
    worst: dict[float, float] = {}
    for atoms, tol in frames:
        e_ref, g_ref = _energy_and_grad(triples, atoms, elements)
        for model in (density, scripted):
            e, g = _energy_and_grad(model, atoms, elements)
            name = atoms.info.get("name", atoms.get_chemical_formula())
            de, dg = (e - e_ref).abs().max().item(), (g - g_ref).abs().max().item()
            assert de < tol, f"{name}: per-atom energies differ by {de:.1e} eV"
            assert dg < tol, f"{name}: dE/d(edge vector) differs by {dg:.1e} eV/A"
            worst[tol] = max(worst.get(tol, 0.0), de, dg)
    print(f"{checkpoint}: max difference {worst}")


def test_unknown_threebody_mode_is_rejected():
    with pytest.raises(ValueError, match=r"threebody 'pairs' not in \['density', 'triples'\]"):
        build_model(MODELS_DIR / NABH, "float64", "pairs")


@pytest.mark.lammps
@pytest.mark.parametrize("comm", ["auto", "halo"])
def test_plugin_runs_both_formulations(exported, tmp_path, comm):
    """Both exports through LAMMPS, serial graph and the block-by-block halo path, agree to round-off."""
    from pydriver.lammps.single_point import lammps_single_point  # noqa: PLC0415
    from pydriver.m3gnet.export import export_checkpoint  # noqa: PLC0415

    triples = export_checkpoint(MODELS_DIR / NABH, tmp_path / "triples.pt", dtype="float64", threebody="triples")
    atoms = next(a for a, _ in golden_frames(NABH) if a.info["name"] == "nabh4_triclinic")
    style = f"m3gnet comm {comm}"
    ref = lammps_single_point(atoms, exported(NABH, "float64"), ["Na", "B", "H"], pair_style=style)
    res = lammps_single_point(atoms, triples, ["Na", "B", "H"], pair_style=style)
    assert abs(res.energy_eV - ref.energy_eV) < 1e-10
    assert np.abs(res.forces_eV_A - ref.forces_eV_A).max() < 1e-10
    assert np.abs(res.stress_eV_A3 - ref.stress_eV_A3).max() < 1e-12
