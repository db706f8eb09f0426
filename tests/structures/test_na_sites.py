"""Candidate cation sites and Ewald orderings (pydriver.structures.na_sites) on cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from pydriver.structures.na_sites import (
    close_under_symmetry,
    ewald_matrix,
    periodic_distances_A,
    rank_orderings,
    site_orbits,
    tetrahedral_voids,
    void_minima,
)
from pydriver.units import COULOMB_EV_A

A_A = 5.0
FCC = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
#: Madelung constant of zincblende referred to the nearest-neighbour distance
MADELUNG_ZINCBLENDE = 1.6380550


def _fcc_symmetry():
    import spglib

    cell = np.eye(3) * A_A
    return cell, spglib.get_symmetry((cell, FCC, [17] * 4), symprec=1e-3)


def test_fcc_voids_are_8_tetrahedral_and_4_octahedral():
    cell, sym = _fcc_symmetry()
    voids = tetrahedral_voids(cell, FCC)
    assert len(voids.frac_coords) == 12
    tet = voids.n_vertices == 4
    oct_ = voids.n_vertices == 6
    assert tet.sum() == 8 and oct_.sum() == 4
    assert np.allclose(voids.radius_A[tet], np.sqrt(3) / 4 * A_A)
    assert np.allclose(voids.radius_A[oct_], A_A / 2)
    assert np.allclose(np.sort(voids.frac_coords[tet] % 0.5, axis=0), 0.25)
    orbits = site_orbits(cell, voids.frac_coords, sym["rotations"], sym["translations"])
    assert sorted(orbits.sizes) == [4, 8]  # Fm-3m 4b and 8c


def test_zincblende_is_the_best_half_filling_of_tetrahedral_sites():
    """4 cations on the 8 tetrahedral sites of an fcc anion lattice: the Ewald optimum is zincblende
    (one of the two tetrahedral sublattices), energy = -Madelung * 4 e^2 / r_nn; the runner-up is
    distinct and higher; with symmetry the two sublattices count as one ordering."""
    cell, sym = _fcc_symmetry()
    voids = tetrahedral_voids(cell, FCC)
    tet = voids.frac_coords[voids.n_vertices == 4]
    matrix = ewald_matrix(cell, np.vstack([FCC, tet]), [-1] * 4 + [1] * 8)
    distances = periodic_distances_A(cell, tet, tet)
    orbits = site_orbits(cell, tet, sym["rotations"], sym["translations"])
    ranked = rank_orderings(matrix, 4, 4, distances, 0.0, n_keep=5, n_restarts=30, seed=1,
                            permutations=orbits.permutations)
    best = tet[list(ranked[0].sites)]
    r_nn = np.sqrt(3) / 4 * A_A
    assert ranked[0].energy_eV == pytest.approx(-MADELUNG_ZINCBLENDE * 4 * COULOMB_EV_A / r_nn, rel=1e-4)
    assert ranked[0].multiplicity == 2
    # zincblende: every pair of the 4 cations at a / sqrt(2)
    d = periodic_distances_A(cell, best, best)[np.triu_indices(4, 1)]
    assert np.allclose(d, A_A / np.sqrt(2))
    assert ranked[1].energy_eV > ranked[0].energy_eV + 0.5


def test_minimum_separation_excludes_close_pairs():
    """Sites closer than the minimum separation are never occupied together; an impossible request raises."""
    cell, _ = _fcc_symmetry()
    voids = tetrahedral_voids(cell, FCC)
    sites = voids.frac_coords
    matrix = ewald_matrix(cell, np.vstack([FCC, sites]), [-1] * 4 + [1] * len(sites))
    distances = periodic_distances_A(cell, sites, sites)
    ranked = rank_orderings(matrix, 4, 4, distances, A_A / np.sqrt(2) - 0.01, n_keep=3, n_restarts=30, seed=3)
    for o in ranked:
        d = distances[np.ix_(o.sites, o.sites)][np.triu_indices(4, 1)]
        assert d.min() >= A_A / np.sqrt(2) - 0.01
    with pytest.raises(ValueError, match="no ordering"):
        rank_orderings(matrix, 4, 4, distances, A_A, n_restarts=5, seed=3)


def test_rank_orderings_is_reproducible():
    cell, _ = _fcc_symmetry()
    voids = tetrahedral_voids(cell, FCC)
    tet = voids.frac_coords[voids.n_vertices == 4]
    matrix = ewald_matrix(cell, np.vstack([FCC, tet]), [-1] * 4 + [1] * 8)
    distances = periodic_distances_A(cell, tet, tet)
    a = rank_orderings(matrix, 4, 4, distances, 0.0, n_restarts=10, seed=7)
    b = rank_orderings(matrix, 4, 4, distances, 0.0, n_restarts=10, seed=7)
    assert [(o.sites, o.energy_eV) for o in a] == [(o.sites, o.energy_eV) for o in b]


def test_void_minima_of_a_simple_cubic_framework():
    """Atoms on a simple cubic lattice: the one pocket per cell is the cube centre."""
    cell = np.eye(3) * 4.0
    sites = void_minima(cell, np.zeros((1, 3)), spacing_A=0.5)
    assert len(sites) == 1
    assert np.allclose(sites[0], 0.5, atol=0.01)


def test_close_under_symmetry_completes_orbits():
    cell, sym = _fcc_symmetry()
    completed = close_under_symmetry(cell, np.array([[0.25, 0.25, 0.25]]), sym["rotations"], sym["translations"])
    assert len(completed) == 8  # all tetrahedral sites
