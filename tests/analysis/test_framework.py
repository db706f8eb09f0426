"""Framework check on synthetic trajectories: solid lattice of rotating anions with hopping Na,
diffusing anions, a cell that changes shape."""

import numpy as np
import pytest

from pydriver.analysis import framework
from pydriver.analysis.molecules import Molecules

A_CELL = 6.0  # simple cubic anion lattice, 2 x 2 x 2 sites in a 12 A cube
N_FRAMES, DT_PS = 400, 0.05  # 20 ps
TETRA = 1.2 / np.sqrt(3) * np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=float)


def _random_rotations(rng, n):
    q = rng.normal(size=(n, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    w, x, y, z = q.T
    return np.stack([np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
                     np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
                     np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1)], 1)


def system(seed=0, anion_d_A2_ps=0.0, rotate=True, cell_end=None, na_d_A2_ps=0.5):
    """8 BH4 (B + 4 H) on a cubic lattice and 8 Na; returns positions, cells, molecules, labels, masses, mobile."""
    rng = np.random.default_rng(seed)
    sites = A_CELL * np.array(np.meshgrid(*[np.arange(2)] * 3, indexing="ij")).reshape(3, -1).T + 1.0
    n_mol = len(sites)
    centres = sites[None] + rng.normal(0, 0.12, (N_FRAMES, n_mol, 3))  # vibration, RMS 0.21 A
    if anion_d_A2_ps:
        centres += np.cumsum(rng.normal(0, np.sqrt(2 * anion_d_A2_ps * DT_PS), (N_FRAMES, n_mol, 3)), axis=0)
    rot = _random_rotations(rng, N_FRAMES * n_mol).reshape(N_FRAMES, n_mol, 3, 3) if rotate else \
        np.broadcast_to(np.eye(3), (N_FRAMES, n_mol, 3, 3))
    h = centres[:, :, None, :] + np.einsum("fmij,kj->fmki", rot, TETRA)
    anions = np.concatenate([centres[:, :, None, :], h], axis=2).reshape(N_FRAMES, n_mol * 5, 3)
    na = sites + A_CELL / 2 + np.cumsum(rng.normal(0, np.sqrt(2 * na_d_A2_ps * DT_PS), (N_FRAMES, n_mol, 3)), 0)
    positions = np.concatenate([anions, na], axis=1)
    cells = np.broadcast_to(np.eye(3) * 2 * A_CELL, (N_FRAMES, 3, 3)).copy()
    if cell_end is not None:  # the box deforms linearly in time; atoms follow affinely
        f = np.linspace(0, 1, N_FRAMES)[:, None]
        lengths = (1 - f) * 2 * A_CELL + f * np.asarray(cell_end)
        cells = np.einsum("fi,ij->fij", lengths, np.eye(3))
        frac = positions / (2 * A_CELL)
        positions = np.einsum("fni,fij->fnj", frac, cells)
    members = [np.arange(5 * m, 5 * m + 5) for m in range(n_mol)]
    labels = np.array((["B_BH4"] + ["H_BH4"] * 4) * n_mol + ["Na"] * n_mol)
    masses = np.where(labels == "Na", 22.99, np.where(labels == "B_BH4", 10.81, 1.008))
    mobile = np.arange(5 * n_mol, 6 * n_mol)
    return positions, cells, Molecules(members, ["BH4"] * n_mol, "mol"), labels, masses, mobile


def check(**kwargs):
    pos, cells, mols, labels, masses, mobile = system(**kwargs)
    return framework.framework_check(pos, cells, mols, labels, masses, mobile, None, DT_PS)


def test_solid_framework_with_hopping_na_is_solid():
    out = check()
    assert out["solid"] is True and out["reason"] is None
    # vibration RMS 0.12 A per component: sqrt(3) x 0.12 = 0.208 A over nearest distance 6 A
    assert out["lindemann_ratio"] == pytest.approx(0.208 / 6.0, rel=0.05)
    assert out["species"]["BH4"]["diffusing"] is False
    assert out["species"]["BH4"]["msd_half_run_A2"] == pytest.approx(2 * 3 * 0.12**2, rel=0.1)
    assert "Na" not in out["species"]
    assert out["cell"]["block_volume_range"] == pytest.approx(0.0, abs=1e-12)


def test_anions_rotating_in_place_are_solid_although_h_moves():
    pos, cells, mols, labels, masses, mobile = system(rotate=True)
    h = np.flatnonzero(labels == "H_BH4")
    h_msd = ((pos[200:, h] - pos[:200, h]) ** 2).sum(-1).mean()
    assert h_msd > 2.5  # random orientations: H moves about 2 x 1.2^2 A^2 by rotation alone
    out = framework.framework_check(pos, cells, mols, labels, masses, mobile, None, DT_PS)
    assert out["solid"] is True


def test_diffusing_anions_are_not_solid():
    out = check(anion_d_A2_ps=0.3)  # MSD 6 D t = 18 A^2 at 10 ps
    assert out["solid"] is False
    assert out["species"]["BH4"]["diffusing"] is True
    assert out["species"]["BH4"]["msd_half_run_A2"] == pytest.approx(18.0, rel=0.35)
    assert "BH4 diffuses" in out["reason"] and "Lindemann" in out["reason"]


def test_cell_changing_shape_is_not_solid():
    # the study's NaBH4 cell under the anisotropic barostat: cubic to about 4.4 x 8.8 x 8.0 per 6.05 A
    out = check(cell_end=(2 * 4.4, 2 * 8.8, 2 * 8.0))
    assert out["solid"] is False
    assert "cell length b changed" in out["reason"] and "volume changed" in out["reason"]
    assert out["cell"]["length_max_change_vs_first"][0] == pytest.approx(1 - 4.4 / 6.0, rel=1e-6)
    assert out["cell"]["volume_max_change_vs_first"] == pytest.approx(4.4 * 8.8 * 8.0 / 216 - 1, rel=1e-6)
    assert out["cell"]["last_cell_A"][:3] == pytest.approx([8.8, 17.6, 16.0])


def test_small_volume_fluctuations_are_solid():
    pos, cells, mols, labels, masses, mobile = system()
    scale = 1 + 0.03 * np.sin(np.arange(N_FRAMES) * 0.7)  # 3 % length breathing, about 9 % in volume
    out = framework.framework_check(pos * scale[:, None, None], cells * scale[:, None, None], mols, labels,
                                    masses, mobile, None, DT_PS)
    assert out["solid"] is True
    assert out["cell"]["volume_max_change_vs_mean"] > 0.08


def test_loose_framework_atoms_are_tested_by_label():
    rng = np.random.default_rng(3)
    walk = np.cumsum(rng.normal(0, np.sqrt(2 * 0.3 * DT_PS), (N_FRAMES, 10, 3)), axis=0)
    still = rng.normal(0, 0.1, (N_FRAMES, 10, 3)) + rng.uniform(0, 12, (10, 3))
    pos = np.concatenate([walk, still], axis=1)
    labels = np.array(["Cl"] * 10 + ["S"] * 10)
    cells = np.broadcast_to(np.eye(3) * 12.0, (N_FRAMES, 3, 3))
    out = framework.framework_check(pos, cells, Molecules([], [], "none"), labels, np.ones(20),
                                    np.zeros(0, dtype=int), None, DT_PS)
    assert out["lindemann_ratio"] is None
    assert out["species"]["Cl"]["diffusing"] is True and out["species"]["S"]["diffusing"] is False
    assert out["reason"].startswith("Cl diffuses")


def test_nearest_distances_include_periodic_images():
    cell = np.diag([5.0, 7.0, 9.0])
    assert framework.nearest_distances_A(np.zeros((1, 3)), cell) == pytest.approx([5.0])
    two = np.array([[0.0, 0.0, 0.0], [2.0, 0.0, 0.0]])
    assert framework.nearest_distances_A(two, cell) == pytest.approx([2.0, 2.0])
