"""Active ions, anion rotation, coordination/RDF/NGP/van Hove and density grids on known data."""

import numpy as np
import pytest

from pydriver.analysis import density, molecules, rotation, structure_stats
from pydriver.analysis.active import active_ions, ever_active_vs_time
from pydriver.analysis.synthetic import random_walk, rigid_rotors

BH4 = np.array([[0, 0, 0], [0.7, 0.7, 0.7], [0.7, -0.7, -0.7], [-0.7, 0.7, -0.7], [-0.7, -0.7, 0.7]])


def test_active_fraction_known_split():
    t = np.arange(101) * 1.0
    msd = np.column_stack([0.5 * t] * 3 + [np.full_like(t, 5.0)] * 7)  # 3 ions reach 25 A^2 at 50 ps
    res = active_ions(msd, t)
    assert res["active_lag_ps"] == 50.0
    assert res["active_fraction"] == pytest.approx(0.3)
    assert res["active_fraction_vs_lag"][10] == 0.0 and res["active_fraction_vs_lag"][60] == pytest.approx(0.3)
    with pytest.raises(ValueError, match="threshold"):
        active_ions(msd, t, threshold_A2=0)


def test_ever_active_is_monotonic():
    pos = random_walk(200, 20, 1e-5, 0.1, seed=1)
    frac = ever_active_vs_time(pos, np.arange(20), threshold_A2=5.0)
    assert np.all(np.diff(frac) >= 0) and frac[0] == 0 and frac[-1] > 0.5


@pytest.mark.parametrize("omega", [0.5, 2.0])
def test_rotation_rate_of_rigid_rotors(omega):
    dt = 0.01
    centers = np.array([[2.0, 2.0, 2.0], [7.0, 7.0, 7.0], [2.0, 7.0, 4.0]])
    pos = rigid_rotors(50, centers, BH4, omega, dt, seed=3)
    pos = pos + np.cumsum(np.full((50, 1, 3), 0.01), axis=0)  # translation must not count
    cells = np.repeat(np.eye(3)[None] * 10.0, 50, axis=0)
    mols = molecules.Molecules([np.arange(5) + 5 * i for i in range(3)], ["BH4"] * 3, "mol")
    masses = np.tile([10.8, 1.0, 1.0, 1.0, 1.0], 3)
    res = rotation.anion_rotation(pos, cells, mols, masses, dt)["BH4"]
    # chord / radius per interval = 2 sin(omega dt / 2) (rotation axis random: atoms off-axis move less)
    assert res["n_anions"] == 3
    assert res["radius_A"] == pytest.approx(4 * np.sqrt(3 * 0.49) / 5, rel=1e-6)
    assert 0.4 * omega < res["rotation_rate_rad_ps"] <= omega * 1.001


def test_rotation_about_perpendicular_axis_exact():
    dt, omega = 0.01, 1.5
    ring = np.array([[1.2, 0, 0], [-1.2, 0, 0], [0, 1.2, 0], [0, -1.2, 0]])
    angles = omega * dt * np.arange(20)
    pos = np.stack([ring @ np.array([[np.cos(a), np.sin(a), 0], [-np.sin(a), np.cos(a), 0], [0, 0, 1]])
                    for a in angles]) + 5.0
    mols = molecules.Molecules([np.arange(4)], ["X4"], "mol")
    res = rotation.anion_rotation(pos, np.repeat(np.eye(3)[None] * 10, 20, 0), mols, np.ones(4), dt)
    assert res["X4"]["rotation_rate_rad_ps"] == pytest.approx(2 * np.sin(omega * dt / 2) / dt, rel=1e-6)


def test_clusters_found_across_periodic_boundary():
    cell = np.eye(3) * 10.0
    pos = np.vstack([BH4 + [0.2, 5, 5], BH4 + [5, 5, 5], [[8.0, 8.0, 8.0]]]) % 10.0
    elements = np.array(["B", "H", "H", "H", "H"] * 2 + ["Na"])
    mols = molecules.from_clusters(pos, cell, np.arange(10), elements)
    assert sorted(mols.kinds) == ["BH4", "BH4"]
    assert sorted(len(m) for m in mols.members) == [5, 5]


def test_coordination_and_rdf_on_rock_salt():
    a = 6.1
    grid = np.array([[i, j, k] for i in range(2) for j in range(2) for k in range(2)], float) * a
    fcc = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]) * a
    na = (grid[:, None] + fcc[None]).reshape(-1, 3)
    anion = na + [a / 2, 0, 0]
    cells = np.eye(3)[None] * 2 * a
    cn = structure_stats.coordination_numbers(na[None], anion[None], cells, 4.0)
    assert cn["mean_cn"] == 6.0 and cn["cn_histogram"] == {6: 1.0}
    g = structure_stats.rdf(na[None], anion[None], cells, r_max_A=6.0, bin_A=0.1)
    peak = g["r_A"][np.argmax(g["g"])]
    assert peak == pytest.approx(a / 2, abs=0.1)


def test_ngp_zero_for_gaussian_walk_and_van_hove_normalised():
    pos = random_walk(400, 200, 1e-5, 0.1, seed=5)
    ngp = structure_stats.non_gaussian_parameter(pos, 0.1)
    assert np.all(np.abs(ngp["alpha2"]) < 0.15)
    vh = structure_stats.self_van_hove(pos, 0.1)
    for t in vh["lags_ps"]:
        p = vh[f"{t:.4g}"]["radial_probability_per_A"]
        assert np.sum(p) * (vh["r_A"][1] - vh["r_A"][0]) == pytest.approx(1.0, rel=1e-6)


def test_density_grid_integrates_to_ion_count(tmp_path):
    rng = np.random.default_rng(0)
    cell = np.array([[8.0, 0, 0], [1.0, 9.0, 0], [0, 0, 10.0]])
    pos = rng.uniform(-5, 15, (10, 6, 3))
    cells = np.repeat(cell[None], 10, axis=0)
    shape = density.grid_shape(cell, 0.5)
    rho = density.probability_density(pos, cells, np.arange(4), shape)
    volume = abs(np.linalg.det(cell))
    assert rho.sum() * volume / rho.size == pytest.approx(4.0)
    frac = pos[0] @ np.linalg.inv(cell)
    chg = density.write_chgcar(tmp_path / "Na.CHGCAR", rho, cell, ["Na"] * 4 + ["B"] * 2, frac)
    from pymatgen.io.vasp.outputs import Chgcar

    parsed = Chgcar.from_file(str(chg))
    assert parsed.data["total"].shape == shape
    np.testing.assert_allclose(parsed.data["total"] / volume, rho, rtol=1e-5)
    cube = density.write_cube(tmp_path / "Na.cube", rho, cell, ["Na"] * 4 + ["B"] * 2, frac @ cell)
    lines = cube.read_text().splitlines()
    assert int(lines[2].split()[0]) == 6 and [int(lines[i].split()[0]) for i in (3, 4, 5)] == list(shape)
    values = np.array(" ".join(lines[12:]).split(), float)
    np.testing.assert_allclose(values.reshape(shape), rho * density.BOHR_A**3, rtol=1e-4)


def test_whole_molecule_shifts_from_structures_module():
    from pydriver.structures.anions import whole_molecule_shifts

    cell = np.eye(3) * 10.0
    pos = (BH4 + [0.2, 5, 5]) % 10.0  # the H at x = -0.5 wraps to 9.5
    shifts = whole_molecule_shifts(pos, cell, [np.arange(5)], 2.0)[0]
    whole = pos + shifts @ cell
    assert np.allclose(whole - whole[0], BH4 - BH4[0])
    with pytest.raises(ValueError, match="not connected at bond cutoff 0.5 A"):
        whole_molecule_shifts(pos, cell, [np.arange(5)], 0.5)
