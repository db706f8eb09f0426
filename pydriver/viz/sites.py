"""Na sites and the hops between them (``--what sites``): spheres coloured by occupancy, lines weighted by hops.

Inputs are the analysis's per-run tables (docs/analysis.md, "Mechanism"): ``sites.csv`` (fractional
position and occupancy of every site in the run's mean cell) and ``site_hops.csv`` (hops per ordered
site pair). The picture is one extra pipeline of static data in the dump's cell:

* a sphere of radius :data:`SITE_RADIUS_A` at each site, coloured by its occupancy (mean ions holding
  it) with OVITO's ``ColorCodingModifier`` (Viridis from 0 to the larger of 1 and the highest
  occupancy; the property ``Occupancy`` stays on the particles for the desktop app);
* a line per site pair with hops (both directions counted together), drawn from one site to the
  other along the shortest periodic vector. Lines that leave the cell are folded into it piecewise
  by OVITO's ``LinesVis.wrapped_lines``, the same rule as the trajectory lines of
  :mod:`pydriver.viz.trajectories`, so no drawn segment spans the cell. The hop count sets the width
  (:data:`WIDTH_CLASSES`: thirds of the largest count, one ``Lines`` object each, ``Hop Count`` on
  every vertex).

Built from OVITO's own data objects and modifiers only, so ``--session`` opens in OVITO Basic.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

SITE_RADIUS_A = 0.35
#: line widths (A) of pairs with up to 1/3, 2/3 and all of the largest hop count
WIDTH_CLASSES_A = (0.06, 0.14, 0.24)
#: ``Lines`` identifier of width class k is ``LINES_PREFIX + str(k)``
LINES_PREFIX = "site_hops_"
OCCUPANCY_PROPERTY = "Occupancy"
HOP_COUNT_PROPERTY = "Hop Count"


@dataclass
class SiteNetwork:
    """Sites and the hops between them.

    Attributes
    ----------
    frac : (n_sites, 3) fractional positions; occupancy : (n_sites,) mean ions per site.
    pair : (n_pairs, 2) site indices i < j of each pair with hops; n_hops : (n_pairs,) hops i -> j plus j -> i.
    """

    frac: np.ndarray
    occupancy: np.ndarray
    pair: np.ndarray
    n_hops: np.ndarray


def _columns(path: Path, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The numeric columns ``names`` of a CSV that has them (other columns, e.g. ``slab`` text, are not read)."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        return {}
    return {k: np.array([float(r[k]) for r in rows]) for k in names if k in rows[0]}


def read_site_network(sites_csv: str | Path, site_hops_csv: str | Path | None) -> SiteNetwork:
    """Read ``sites.csv`` and ``site_hops.csv`` (None or empty: no hops) into undirected pairs.

    Raises
    ------
    ValueError
        If ``sites.csv`` lacks the columns ``site, frac_a, frac_b, frac_c, occupancy`` or a hop names
        a site that is not in it.
    """
    need = ("site", "frac_a", "frac_b", "frac_c", "occupancy")
    sites = _columns(Path(sites_csv), need)
    if any(k not in sites for k in need):
        raise ValueError(f"{sites_csv}: needs columns {', '.join(need)}; rerun `python -m pydriver analyze`")
    order = np.argsort(sites["site"])
    frac = np.c_[sites["frac_a"], sites["frac_b"], sites["frac_c"]][order]
    hops = _columns(Path(site_hops_csv), ("from_site", "to_site", "n_hops")) if site_hops_csv is not None and Path(site_hops_csv).is_file() else {}
    if hops:
        ij = np.c_[hops["from_site"], hops["to_site"]].astype(int)
        if ij.size and (ij.min() < 0 or ij.max() >= frac.shape[0]):
            raise ValueError(f"{site_hops_csv}: site index outside the {frac.shape[0]} sites of {sites_csv}")
        pair, inverse = np.unique(np.sort(ij, axis=1), axis=0, return_inverse=True)
        n_hops = np.bincount(inverse.ravel(), weights=hops["n_hops"], minlength=len(pair)).astype(int)
    else:
        pair, n_hops = np.zeros((0, 2), dtype=int), np.zeros(0, dtype=int)
    return SiteNetwork(frac, sites["occupancy"][order], pair, n_hops)


def hop_segments_A(network: SiteNetwork, cell_A: np.ndarray, origin_A=(0.0, 0.0, 0.0)) -> tuple[np.ndarray, np.ndarray]:
    """(n_pairs, 3) start and end of each pair's line: site i and site i + the shortest periodic vector to j.

    ``cell_A``: (3, 3) rows a, b, c.
    """
    d = network.frac[network.pair[:, 1]] - network.frac[network.pair[:, 0]]
    d -= np.round(d)
    start = np.asarray(origin_A) + network.frac[network.pair[:, 0]] @ cell_A
    return start, start + d @ cell_A


def width_class(n_hops: np.ndarray) -> np.ndarray:
    """Index into :data:`WIDTH_CLASSES_A` per pair: thirds of the largest hop count."""
    if n_hops.size == 0:
        return np.zeros(0, dtype=int)
    frac = n_hops / n_hops.max()
    return np.minimum((np.ceil(frac * len(WIDTH_CLASSES_A)) - 1).astype(int), len(WIDTH_CLASSES_A) - 1)


def sites_pipeline(network: SiteNetwork, cell_matrix):
    """OVITO pipeline of the sites and hop lines in the cell ``cell_matrix`` ((3, 4): vectors as columns, origin).

    Returns
    -------
    ovito.pipeline.Pipeline with particles (``Position``, ``Radius``, ``Occupancy``, coloured) and
    one ``Lines`` object per width class that has pairs; its own cell is hidden (the atoms'
    pipeline draws it).
    """
    from ovito.data import DataCollection
    from ovito.modifiers import ColorCodingModifier
    from ovito.pipeline import Pipeline, StaticSource

    from pydriver.viz import style

    cell_matrix = np.asarray(cell_matrix, dtype=float)
    vectors, origin = cell_matrix[:, :3].T, cell_matrix[:, 3]
    data = DataCollection()
    cell = data.create_cell(cell_matrix, pbc=(True, True, True))
    cell.vis.enabled = False
    n = network.frac.shape[0]
    particles = data.create_particles(count=n)
    particles.create_property("Position", data=origin + network.frac @ vectors)
    particles.create_property("Radius", data=np.full(n, SITE_RADIUS_A))
    particles.create_property(OCCUPANCY_PROPERTY, data=network.occupancy)
    start, end = hop_segments_A(network, vectors, origin)
    classes = width_class(network.n_hops)
    for k, width in enumerate(WIDTH_CLASSES_A):
        members = np.flatnonzero(classes == k)
        if members.size == 0:
            continue
        lines = data.lines.create(identifier=f"{LINES_PREFIX}{k}", vis_params={
            "width": width, "color": style.SITE_HOP_LINE_COLOR, "wrapped_lines": True, "rounded_caps": True})
        for m in members:
            lines.create_line(np.vstack([start[m], end[m]]))
        lines.create_property(HOP_COUNT_PROPERTY, data=np.repeat(network.n_hops[members], 2))
    pipeline = Pipeline(source=StaticSource(data=data))
    top = float(max(1.0, network.occupancy.max() if n else 1.0))
    pipeline.modifiers.append(ColorCodingModifier(property=OCCUPANCY_PROPERTY, start_value=0.0, end_value=top,
                                                  gradient=ColorCodingModifier.Viridis(), auto_adjust_range=False))
    log.info("sites: %d, occupancy %.2f..%.2f; %d site pairs with %d hops", n, network.occupancy.min(initial=0),
             network.occupancy.max(initial=0), len(network.pair), int(network.n_hops.sum()))
    return pipeline
