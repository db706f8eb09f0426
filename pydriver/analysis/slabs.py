"""Anion slabs of layered mixed-anion structures (o-NBH): which slab each Na site and each Na is in.

o-NBH, Na3(BH4)(B12H12) (Y. Sadikin et al., Adv. Energy Mater. 5, 1501016 (2015)), stacks its anions
in layers perpendicular to b: B12H12 double layers alternate with BH4 double layers, and the Na sit
in seven partially occupied tetrahedral site families within the BH4-containing slabs, none in the
B12H12 slabs. This module measures that picture on any structure or trajectory with two anion kinds.

Definitions (all from the anion centres of the cell itself, periodic):

* **Layers** (:func:`find_layers`): the anion centres sorted by their fractional coordinate along
  the stacking axis (periodic) fall into runs of one kind, the slabs; a run is split into layers
  where two neighbouring centres are more than ``layer_gap_A`` apart along the axis normal.
* **Stacking axis**: given, or the lattice axis along which the facing layers of neighbouring slabs
  are farthest apart, at least ``min_slab_gap_A`` (in o-NBH b, 1.6-2.3 A; along a and c the two
  kinds share layers, or are at most 0.7 A apart in the relaxed orderings).
* **Slab of a point** (:func:`point_slabs`, :func:`classify`): the kind of its nearest layer along the axis normal, so a
  boundary between two slabs lies halfway between the facing layers of different kinds. With it
  come the kinds of the two layers around the point (``between``, e.g. ``B12H12|B12H12``: a point
  between two layers of one kind is in that slab whatever the boundary rule; only points between
  layers of different kinds depend on it) and ``margin_A``, its distance to the nearest boundary.
* **Coordination** of a site: anion centres of each kind within the Na-anion coordination cutoffs
  of :mod:`pydriver.analysis.structure_stats` (BH4 4.0 A, B12H12 6.0 A).
* **Reference match** (:func:`match_reference`): each site's nearest site of a reference structure
  (e.g. the sites of a published or modelled ordering, tiled onto the run's cell) within a tolerance,
  and that site's family.

Na over time are classified frame by frame against the layers' positions in that frame (the mean
fractional coordinate of each layer's anions), so layers that breathe or shift move the boundaries
with them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from pydriver.analysis.active import jeffreys_interval
from pydriver.analysis.site_reference import (DEFAULT_MATCH_TOLERANCE_A, Reference, align_reference, family_table,
                                              match_reference, periodic_distances_A)
from pydriver.analysis.sites import Sites
from pydriver.analysis.structure_stats import DEFAULT_CN_CUTOFF_A, FALLBACK_CN_CUTOFF_A

log = logging.getLogger(__name__)

#: neighbouring anion centres of one kind farther apart than this along the stacking normal are two layers (A)
DEFAULT_LAYER_GAP_A = 1.0
#: the facing layers of two neighbouring slabs are at least this far apart along the normal (A)
DEFAULT_MIN_SLAB_GAP_A = 1.0
AXIS_NAMES = "abc"
#: frames per chunk when classifying ions
FRAME_CHUNK = 1024
#: bins of the ions' density profile along the stacking axis (over one cell, fractional)
PROFILE_BINS = 100


@dataclass(frozen=True)
class Layers:
    """Anion layers along a stacking axis.

    Attributes
    ----------
    axis : 0, 1 or 2 (a, b, c).
    frac : (n_layers,) positions along the axis, fractional, sorted, in [0, 1).
    kind : anion kind of each layer.
    member : (n_anions,) layer index of each anion.
    spacing_A : repeat distance along the axis normal (the interplanar spacing of the cell's (100),
        (010) or (001) planes), A; fractional differences along the axis times this are distances.
    """

    frac: np.ndarray
    kind: tuple[str, ...]
    member: np.ndarray
    axis: int
    spacing_A: float

    @property
    def n_layers(self) -> int:
        """Number of layers."""
        return int(self.frac.size)

    @property
    def kinds(self) -> tuple[str, ...]:
        """The anion kinds present, sorted."""
        return tuple(sorted(set(self.kind)))

    def boundaries(self) -> np.ndarray:
        """Fractional positions of the slab boundaries: halfway between neighbouring layers of different kinds."""
        f, kinds = self.frac, self.kind
        nxt = np.roll(np.arange(f.size), -1)
        gap = (f[nxt] - f) % 1.0
        mid = (f + 0.5 * gap) % 1.0
        return np.array([m for i, m in enumerate(mid) if kinds[i] != kinds[nxt[i]]])


def spacing_along_A(cell_A: np.ndarray, axis: int) -> float:
    """Interplanar spacing (A) of the lattice planes normal to reciprocal axis ``axis`` (1 / |b_axis*|)."""
    return float(1.0 / np.linalg.norm(np.linalg.inv(np.asarray(cell_A, dtype=float))[:, axis]))


def circular_mean_frac(frac: np.ndarray, axis: int = 0) -> np.ndarray:
    """Mean of periodic fractional coordinates along ``axis`` of the array, in [0, 1).

    The argument of the mean of exp(2 pi i x): right for wrapped and for unwrapped coordinates.
    """
    z = np.exp(2j * np.pi * np.asarray(frac, dtype=float)).mean(axis=axis)
    return (np.angle(z) / (2 * np.pi)) % 1.0


def _layers_along(s: np.ndarray, kinds: np.ndarray, spacing_A: float, gap_A: float):
    """Layers of positions ``s`` (fractional, one axis): runs of one kind in sorted order, split at gaps.

    Returns (positions, kinds, member, smallest distance between the facing layers of two neighbouring
    slabs in A); needs two kinds.
    """
    order = np.argsort(s, kind="stable")
    ends = kinds[order] != np.roll(kinds[order], -1)  # the next centre (periodic) is of another kind
    ring = np.roll(order, -(int(np.argmax(ends)) + 1))  # start at the first centre of a run
    s_ring, k_ring = s[ring], kinds[ring]
    gap_before = (s_ring - np.roll(s_ring, 1)) % 1.0 * spacing_A
    new_run = np.concatenate([[False], k_ring[1:] != k_ring[:-1]])
    label = np.cumsum(new_run | (gap_before > gap_A) & (np.arange(s.size) > 0))
    member = np.empty(s.size, dtype=int)
    member[ring] = label
    n_layers = int(label[-1]) + 1
    pos = np.array([circular_mean_frac(s[member == layer]) for layer in range(n_layers)])
    layer_kind = [kinds[member == layer][0] for layer in range(n_layers)]
    facing = [i for i in range(n_layers) if layer_kind[i] != layer_kind[(i + 1) % n_layers]]
    slab_gap = min(((pos[(i + 1) % n_layers] - pos[i]) % 1.0) * spacing_A for i in facing)
    sort = np.argsort(pos, kind="stable")
    rank = np.empty_like(sort)
    rank[sort] = np.arange(sort.size)
    return pos[sort], tuple(layer_kind[i] for i in sort), rank[member], float(slab_gap)


def find_layers(centres_frac: np.ndarray, kinds, cell_A: np.ndarray, axis: int | None = None,
                layer_gap_A: float = DEFAULT_LAYER_GAP_A, min_slab_gap_A: float = DEFAULT_MIN_SLAB_GAP_A) -> Layers:
    """Anion layers of a structure: the centres grouped along the stacking axis.

    Along an axis the centres, sorted by their fractional coordinate (periodic), fall into runs of one
    kind (the slabs); a run is split into layers where neighbouring centres are more than
    ``layer_gap_A`` apart. The axis is layered when the facing layers of every two neighbouring slabs
    are at least ``min_slab_gap_A`` apart (along a lattice axis on which the kinds share layers, they
    are 0 A apart, or the kinds alternate within a layer and make many thin slabs).

    Parameters
    ----------
    centres_frac : (n_anions, 3) fractional anion centres (any periodic image).
    kinds : (n_anions,) anion kind of each centre (``BH4``, ``B12H12``, ...).
    cell_A : (3, 3) cell (rows a, b, c).
    axis : stacking axis (0, 1, 2); None: the axis whose neighbouring slabs are farthest apart.
    layer_gap_A : centres of one kind farther apart than this along the axis normal are two layers.
    min_slab_gap_A : least distance between the facing layers of neighbouring slabs.

    Raises
    ------
    ValueError
        If fewer than two anion kinds are present, or no axis (the given one) is layered: the
        structure is not built of slabs.
    """
    centres_frac = np.asarray(centres_frac, dtype=float) % 1.0
    kinds = np.asarray(kinds, dtype=object)
    if centres_frac.ndim != 2 or centres_frac.shape[1] != 3 or centres_frac.shape[0] != kinds.size:
        raise ValueError(f"centres_frac has shape {centres_frac.shape} for {kinds.size} kinds; need (n_anions, 3)")
    if len(set(kinds)) < 2:
        raise ValueError(f"slabs need two anion kinds; the structure has {sorted(set(kinds))}")
    candidates = range(3) if axis is None else [int(axis)]
    found = []
    for k in candidates:
        spacing = spacing_along_A(cell_A, k)
        pos, layer_kind, member, slab_gap = _layers_along(centres_frac[:, k], kinds, spacing, layer_gap_A)
        if slab_gap >= min_slab_gap_A:
            found.append((slab_gap, -k, Layers(pos, layer_kind, member, k, spacing)))
    if not found:
        where = "any lattice axis" if axis is None else f"axis {AXIS_NAMES[int(axis)]}"
        raise ValueError(f"the anion kinds form no slabs along {where} (neighbouring slabs' facing layers at least "
                         f"{min_slab_gap_A} A apart): the structure is not built of anion slabs")
    return max(found, key=lambda item: item[:2])[2]


def classify(s: np.ndarray, layer_frac: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nearest layer and the layers just below and above each position, along one axis (periodic).

    Parameters
    ----------
    s : (..., n) fractional positions along the stacking axis.
    layer_frac : (..., n_layers) layer positions (broadcast against ``s``'s leading dimensions).

    Returns
    -------
    nearest, below, above : (..., n) layer indices (below: the nearest layer at or under the point
    going down the axis, periodic; above: the nearest one over it).
    """
    d = (np.asarray(s, dtype=float)[..., :, None] - np.asarray(layer_frac, dtype=float)[..., None, :]) % 1.0
    below = np.argmin(d, axis=-1)
    above = np.argmin((1.0 - d) % 1.0 + (d == 0), axis=-1)  # a point on a layer: that layer is below it
    nearest = np.argmin(np.minimum(d, 1.0 - d), axis=-1)
    return nearest, below, above


def _between_label(kind_a: str, kind_b: str) -> str:
    return "|".join(sorted((kind_a, kind_b)))


def point_slabs(frac: np.ndarray, layers: Layers) -> dict:
    """Slab of each point of a static structure (fractional, the cell of ``layers``).

    Returns
    -------
    dict -- ``kind`` (n,) slab kind, ``between`` (n,) ``"K1|K2"`` kinds of the layers below and above
    (sorted), ``margin_A`` (n,) distance along the axis normal to the nearest slab boundary, ``layer``
    (n,) nearest layer index.
    """
    s = np.atleast_2d(np.asarray(frac, dtype=float))[:, layers.axis] % 1.0
    nearest, below, above = classify(s, layers.frac)
    bounds = layers.boundaries()
    d = np.abs(s[:, None] - bounds[None, :]) % 1.0
    margin = np.minimum(d, 1.0 - d).min(axis=1) * layers.spacing_A
    return {"kind": [layers.kind[i] for i in nearest],
            "between": [_between_label(layers.kind[a], layers.kind[b]) for a, b in zip(below, above)],
            "margin_A": margin, "layer": nearest}


def layer_positions(centres_frac: np.ndarray, layers: Layers) -> np.ndarray:
    """(n_frames, n_layers) position of each layer in each frame: circular mean of its anions' coordinate.

    ``centres_frac`` : (n_frames, n_anions, 3) anion centres, fractional in each frame's cell.
    """
    s = np.asarray(centres_frac, dtype=float)[..., layers.axis]
    z = np.exp(2j * np.pi * s)
    onehot = np.zeros((layers.member.size, layers.n_layers))
    onehot[np.arange(layers.member.size), layers.member] = 1.0
    return (np.angle(z @ onehot) / (2 * np.pi)) % 1.0


def ion_slab_time(ion_frac: np.ndarray, layer_frac: np.ndarray, layers: Layers, chunk: int = FRAME_CHUNK
                  ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Fraction of its frames each ion spends in the slabs of each kind, and between each pair of layer kinds.

    Parameters
    ----------
    ion_frac : (n_frames, n_ions, 3) ion positions, fractional in each frame's cell.
    layer_frac : (n_frames, n_layers) from :func:`layer_positions`.

    Returns
    -------
    by_kind : kind -> (n_ions,) fraction of frames in that kind's slabs.
    by_between : ``"K1|K2"`` -> (n_ions,) fraction of frames between layers of kinds K1 and K2.
    """
    n_frames, n_ions = ion_frac.shape[:2]
    kind_names = layers.kinds
    kind_index = np.array([kind_names.index(k) for k in layers.kind])
    pairs = sorted({_between_label(a, b) for a in kind_names for b in kind_names})
    by_kind = np.zeros((len(kind_names), n_ions))
    by_between = np.zeros((len(pairs), n_ions))
    pair_of = {(a, b): pairs.index(_between_label(kind_names[a], kind_names[b]))
               for a in range(len(kind_names)) for b in range(len(kind_names))}
    pair_table = np.array([[pair_of[(a, b)] for b in range(len(kind_names))] for a in range(len(kind_names))])
    for start in range(0, n_frames, chunk):
        stop = min(n_frames, start + chunk)
        s = np.asarray(ion_frac[start:stop, :, layers.axis], dtype=float) % 1.0
        nearest, below, above = classify(s, layer_frac[start:stop])
        k_near = kind_index[nearest]
        pair = pair_table[kind_index[below], kind_index[above]]
        for i in range(len(kind_names)):
            by_kind[i] += (k_near == i).sum(axis=0)
        for i in range(len(pairs)):
            by_between[i] += (pair == i).sum(axis=0)
    return ({k: by_kind[i] / n_frames for i, k in enumerate(kind_names)},
            {p: by_between[i] / n_frames for i, p in enumerate(pairs)})


def axis_profile(ion_frac: np.ndarray, axis: int, n_bins: int = PROFILE_BINS, chunk: int = FRAME_CHUNK) -> np.ndarray:
    """Density profile of the ions along one lattice axis: ``(n_bins,)`` fraction of all ion-frames whose
    fractional coordinate along ``axis`` (wrapped into [0, 1)) falls in each of ``n_bins`` equal bins.

    ``ion_frac`` : (n_frames, n_ions, 3) fractional in each frame's cell. The bins sum to 1.
    """
    ion_frac = np.asarray(ion_frac)
    counts = np.zeros(n_bins)
    for start in range(0, ion_frac.shape[0], chunk):
        s = np.asarray(ion_frac[start:start + chunk, :, axis], dtype=float) % 1.0
        counts += np.bincount(np.minimum((s * n_bins).astype(int), n_bins - 1).ravel(), minlength=n_bins)
    return counts / max(counts.sum(), 1.0)


def site_coordination(sites_frac: np.ndarray, centres_frac: np.ndarray, kinds, cell_A: np.ndarray,
                      cutoff_A: dict[str, float] | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Anion centres of each kind around each site: count within the kind's cutoff, and the nearest distance.

    Returns
    -------
    dict kind -> ``{"n": (n_sites,) int, "nearest_A": (n_sites,), "cutoff_A": float}``; cutoffs
    default to :data:`pydriver.analysis.structure_stats.DEFAULT_CN_CUTOFF_A` (other kinds 5.0 A).
    Distances are minimum-image over the 27 neighbouring cells.
    """
    cutoff_A = dict(DEFAULT_CN_CUTOFF_A if cutoff_A is None else cutoff_A)
    kinds = np.asarray(kinds, dtype=object)
    d = periodic_distances_A(np.atleast_2d(sites_frac), np.asarray(centres_frac, dtype=float), cell_A)
    out = {}
    for kind in sorted(set(kinds)):
        cut = float(cutoff_A.get(kind, FALLBACK_CN_CUTOFF_A))
        dk = d[:, kinds == kind]
        out[kind] = {"n": (dk < cut).sum(axis=1), "nearest_A": dk.min(axis=1), "cutoff_A": cut}
    return out


def slab_analysis(ion_frac: np.ndarray, centres_frac: np.ndarray, kinds, cell_A: np.ndarray,
                  sites: Sites | None = None, occupancy_per_site: np.ndarray | None = None,
                  states: np.ndarray | None = None, reference: Reference | Sites | None = None,
                  match_tolerance_A: float = DEFAULT_MATCH_TOLERANCE_A, axis: int | None = None,
                  layer_gap_A: float = DEFAULT_LAYER_GAP_A, min_slab_gap_A: float = DEFAULT_MIN_SLAB_GAP_A,
                  cn_cutoff_A: dict[str, float] | None = None) -> dict:
    """The ``sites.slabs`` section: slabs of the anion layers, Na time in each, sites' slabs and families.

    Parameters
    ----------
    ion_frac : (n_frames, n_ions, 3) mobile ions, fractional in each frame's cell.
    centres_frac : (n_frames, n_anions, 3) anion centres, fractional in each frame's cell (any image).
    kinds : (n_anions,) anion kinds.
    cell_A : (3, 3) mean cell (the cell of ``sites`` and ``reference``).
    sites, occupancy_per_site, states : the run's sites, mean ions per site and
        (n_frames, n_ions) held site per frame (:mod:`pydriver.analysis.sites`); optional.
    reference : a :class:`~pydriver.analysis.site_reference.Reference` (laid on the run's mean anion
        centres first, :func:`~pydriver.analysis.site_reference.align_reference`) or sites already in
        the run's frame; each site is matched to its nearest reference site within
        ``match_tolerance_A``. Without one, sites that carry families (given as a structure file)
        are their own reference.
    axis, layer_gap_A, min_slab_gap_A : see :func:`find_layers`; cn_cutoff_A : see :func:`site_coordination`.

    Returns
    -------
    JSON-ready dict: ``stacking_axis``, ``spacing_A``, ``layer_gap_A``, ``min_slab_gap_A``, ``layers`` (``kind``,
    ``frac``, ``n_anions`` per layer, mean positions), ``boundaries_frac``; ``fraction_time`` (kind ->
    fraction of all ion-frames in that kind's slabs), ``fraction_time_ci68`` (kind -> 68 % Jeffreys
    interval over ions), ``fraction_time_between`` (``"K1|K2"`` -> fraction of ion-frames between
    layers of those kinds), ``n_ions_visiting`` (kind -> ions with any frame in it), ``n_ions``,
    ``n_frames``, ``profile`` (``n_bins``, ``ion_frames`` and ``first_frame``: :func:`axis_profile` along the
    stacking axis over the run and in its first frame); with sites: ``kind_per_site``, ``between_per_site``, ``margin_per_site_A``,
    ``coordination_per_site`` (kind -> counts), ``nearest_anion_per_site_A`` (kind -> distances),
    ``cn_cutoff_A``, ``n_sites_by_kind``, ``ions_by_kind`` (kind -> sum of the occupancy of its
    sites), ``ions_without_neighbour`` (kind -> ions on sites with no centre of that kind within its
    cutoff); with a reference or site families: ``reference_families`` (per family ``family``,
    ``n_reference_sites``, ``slab``, ``n_sites_found``, ``ions``, ``occupancy_per_site`` and with
    ``states`` its ``_std`` and ``_ci68``; :func:`~pydriver.analysis.site_reference.family_table`),
    ``family_per_site``, ``match_distance_per_site_A``, ``match_tolerance_A``, ``ions_unmatched``, and
    for a :class:`~pydriver.analysis.site_reference.Reference` ``reference`` (``file``, ``shift_A``,
    ``anion_rms_A``).

    Raises
    ------
    ValueError
        From :func:`find_layers` when the anions form no slabs.
    """
    cell_A = np.asarray(cell_A, dtype=float)
    kinds = list(kinds)
    centres_frac = np.asarray(centres_frac, dtype=float)
    mean_centres = circular_mean_frac(centres_frac, axis=0)
    layers = find_layers(mean_centres, kinds, cell_A, axis, layer_gap_A, min_slab_gap_A)
    per_frame = layer_positions(centres_frac, layers)
    by_kind, by_between = ion_slab_time(ion_frac, per_frame, layers)
    n_frames, n_ions = ion_frac.shape[:2]
    out: dict = {"stacking_axis": AXIS_NAMES[layers.axis], "spacing_A": layers.spacing_A, "layer_gap_A": layer_gap_A,
                 "min_slab_gap_A": min_slab_gap_A,
                 "layers": [{"kind": k, "frac": float(f), "n_anions": int((layers.member == i).sum())}
                            for i, (k, f) in enumerate(zip(layers.kind, layers.frac))],
                 "boundaries_frac": sorted(float(b) for b in layers.boundaries()),
                 "n_ions": int(n_ions), "n_frames": int(n_frames),
                 "fraction_time": {k: float(v.mean()) for k, v in by_kind.items()},
                 "fraction_time_ci68": {k: list(jeffreys_interval(float(v.sum()), n_ions)) for k, v in by_kind.items()},
                 "fraction_time_between": {k: float(v.mean()) for k, v in by_between.items()},
                 "n_ions_visiting": {k: int((v > 0).sum()) for k, v in by_kind.items()},
                 "profile": {"n_bins": PROFILE_BINS, "ion_frames": axis_profile(ion_frac, layers.axis).tolist(),
                             "first_frame": axis_profile(ion_frac[:1], layers.axis).tolist()}}
    log.info("anion slabs along %s: %d layers (%s); ion time by slab kind %s", out["stacking_axis"], layers.n_layers,
             " ".join(layers.kind), {k: round(v, 3) for k, v in out["fraction_time"].items()})
    if sites is None or sites.n_sites == 0:
        return out
    occ = np.zeros(sites.n_sites) if occupancy_per_site is None else np.asarray(occupancy_per_site, dtype=float)
    slab = point_slabs(sites.frac, layers)
    cn = site_coordination(sites.frac, mean_centres, kinds, cell_A, cn_cutoff_A)
    out.update({"kind_per_site": slab["kind"], "between_per_site": slab["between"],
                "margin_per_site_A": slab["margin_A"].tolist(),
                "coordination_per_site": {k: v["n"].tolist() for k, v in cn.items()},
                "nearest_anion_per_site_A": {k: v["nearest_A"].tolist() for k, v in cn.items()},
                "cn_cutoff_A": {k: v["cutoff_A"] for k, v in cn.items()},
                "n_sites_by_kind": {k: int(sum(s == k for s in slab["kind"])) for k in layers.kinds},
                "ions_by_kind": {k: float(occ[[s == k for s in slab["kind"]]].sum()) for k in layers.kinds},
                "ions_without_neighbour": {k: float(occ[v["n"] == 0].sum()) for k, v in cn.items()}})
    if isinstance(reference, Reference):
        ref_sites, info = align_reference(reference, mean_centres, kinds, cell_A)
        out["reference"] = {"file": reference.source, **info}
    else:
        ref_sites = sites if reference is None and sites.family is not None else reference
    if ref_sites is not None:
        match = match_reference(sites.frac, ref_sites, cell_A, match_tolerance_A)
        out.update({"match_tolerance_A": float(match_tolerance_A), "family_per_site": match["family"].tolist(),
                    "match_distance_per_site_A": match["distance_A"].tolist(),
                    "ions_unmatched": float(occ[match["family"] < 0].sum()),
                    "reference_families": family_table(ref_sites, point_slabs(ref_sites.frac, layers)["kind"],
                                                       match["family"], occ, states)})
    return out
