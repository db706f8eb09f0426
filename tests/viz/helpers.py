"""Helpers of the visualisation tests: isosurface pieces of an OVITO mesh, a per-atom table to read back."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pydriver.viz.per_atom import PerAtom


@dataclass
class Pieces:
    """Closed pieces of an isosurface: ``centroids_A`` (n, 3) and ``volumes_A3`` (n,)."""

    centroids_A: np.ndarray
    volumes_A3: np.ndarray


def isosurface_pieces(data, name: str = "isosurface") -> Pieces:
    """Pieces (filled regions) of an isosurface mesh: enclosed volume and volume centroid.

    The centroid of each piece is the volume-weighted mean over the tetrahedra spanned by its faces
    and a reference point (divergence theorem); the mesh is unwrapped with ``to_triangle_mesh``, so
    pieces crossing the cell boundary are cut there and their centroids are not meaningful.

    Parameters
    ----------
    data : an OVITO DataCollection after ``CreateIsosurfaceModifier(identify_regions=True)``.
    """
    mesh = data.surfaces[name]
    regions = mesh.regions
    filled = np.flatnonzero(np.asarray(regions["Filled"]).astype(bool))
    volumes = np.asarray(regions["Volume"])[filled]
    positions = np.asarray(mesh.vertices["Position"])
    faces = np.asarray(mesh.get_face_vertices())
    face_region = np.asarray(mesh.faces["Region"])
    centroids = []
    for r in filled:
        tri = positions[faces[face_region == r]]  # (n_faces, 3, 3)
        ref = tri.reshape(-1, 3).mean(axis=0)
        a, b, c = tri[:, 0] - ref, tri[:, 1] - ref, tri[:, 2] - ref
        vol = np.einsum("ij,ij->i", a, np.cross(b, c)) / 6.0
        cent = ref + (a + b + c) / 4.0
        centroids.append((vol[:, None] * cent).sum(axis=0) / vol.sum() if abs(vol.sum()) > 0 else ref)
    return Pieces(np.array(centroids).reshape(-1, 3), volumes)


def write_per_atom_csv(path: str | Path, per_atom: PerAtom) -> Path:
    """Write the ``id,msd_A2,active`` table (tests and synthetic runs)."""
    path = Path(path)
    lines = ["id,msd_A2,active"] + [f"{i},{m:.6f},{int(a)}" for i, m, a in
                                    zip(per_atom.ids, per_atom.msd_A2, per_atom.active)]
    path.write_text("\n".join(lines) + "\n")
    return path
