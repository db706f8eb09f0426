"""Synthetic trajectories with known answers and a LAMMPS text-dump writer (tests, benchmarks).

Kept in the package, not under tests/, because users need it too: to check the analysis on their
machine against an exact answer before trusting it on real runs, and to build demos such as
``examples/report_demo/make_report_demo.py``.

* :func:`random_walk` -- Gaussian random walk with a set diffusivity: MSD = 6 D t exactly.
* :func:`hopping_crystal` -- ions vibrating on lattice sites and hopping between them as a Poisson
  process (optionally in concerted groups): the regime of real solid electrolytes, with the exact
  tracer and charge diffusivity as :class:`HoppingTruth`.
* :func:`rigid_rotors` -- molecules spinning at a set angular speed (rotation analysis).
* :func:`write_lammps_dump` -- writes ``dump custom`` text (optionally gzip, triclinic, images).
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pydriver.analysis.diffusion import A2_PS_TO_CM2_S


def random_walk(n_frames: int, n_atoms: int, diffusivity_cm2_s: float, dt_frame_ps: float,
                seed: int = 0, start_A: np.ndarray | None = None) -> np.ndarray:
    """Positions ``(n_frames, n_atoms, 3)`` in A of independent 3-D Gaussian walkers.

    Each Cartesian step has variance ``2 D dt``, so ``<|r(t) - r(0)|^2> = 6 D t``.
    """
    rng = np.random.default_rng(seed)
    d_A2_ps = diffusivity_cm2_s / A2_PS_TO_CM2_S
    steps = rng.normal(0.0, np.sqrt(2.0 * d_A2_ps * dt_frame_ps), (n_frames, n_atoms, 3))
    steps[0] = 0.0 if start_A is None else start_A
    return np.cumsum(steps, axis=0)


@dataclass(frozen=True)
class HoppingTruth:
    """Exact answers of a :func:`hopping_crystal` trajectory.

    ``diffusivity_cm2_s`` is the tracer D = Gamma a^2 / 6 (a random walk of jumps of length ``a`` at
    rate Gamma; vibrations add only a constant MSD offset); ``charge_diffusivity_cm2_s`` is
    ``group_size`` times it (members of a concerted group always jump together, so the collective
    displacement grows ``group_size`` times faster); ``haven_ratio`` = 1 / group_size.
    """

    diffusivity_cm2_s: float
    charge_diffusivity_cm2_s: float
    haven_ratio: float
    hop_rate_per_ion_per_ps: float
    jump_length_A: float
    msd_offset_A2: float


HOP_DIRECTIONS = np.vstack([np.eye(3), -np.eye(3)])  # simple-cubic site lattice: 6 neighbours


def hopping_crystal(n_frames: int, n_ions: int, dt_frame_ps: float, hop_rate_per_ps: float,
                    jump_length_A: float = 3.0, vibration_rms_A: float = 0.3, vibration_time_ps: float = 0.05,
                    group_size: int = 1, seed: int = 0) -> tuple[np.ndarray, HoppingTruth]:
    """Ions vibrating about simple-cubic lattice sites and hopping between neighbouring sites.

    Each ion (or each concerted group of ``group_size`` ions, which jump together by the same
    vector) jumps at Poisson times with rate ``hop_rate_per_ps`` to one of the 6 neighbouring sites
    (jump length ``jump_length_A``). On top of the site position each ion vibrates as an independent
    3-D Ornstein-Uhlenbeck process: per-component RMS ``vibration_rms_A``, correlation time
    ``vibration_time_ps`` (so successive frames are correlated as in MD). Hops fall between frames.

    Parameters
    ----------
    n_frames, n_ions : trajectory size; ``n_ions`` must be a multiple of ``group_size``.
    dt_frame_ps : time between frames.
    hop_rate_per_ps : Gamma, jumps per ion per ps.
    jump_length_A : a, site-to-site distance.
    vibration_rms_A : RMS vibration per Cartesian component (0 for none).
    vibration_time_ps : correlation time of the vibration (0: independent every frame).
    group_size : ions per concerted group (1: independent ions, Haven ratio 1).
    seed : random seed.

    Returns
    -------
    positions_A : (n_frames, n_ions, 3) unwrapped positions.
    truth : :class:`HoppingTruth` (exact D, charge D, Haven ratio, MSD offset ``6 vibration_rms^2``
        at lags much longer than the vibration time).

    Raises
    ------
    ValueError
        On non-positive sizes or a ``group_size`` that does not divide ``n_ions``.
    """
    if n_frames < 2 or n_ions < 1 or dt_frame_ps <= 0 or hop_rate_per_ps < 0:
        raise ValueError(f"hopping_crystal: need n_frames >= 2, n_ions >= 1, dt_frame_ps > 0, hop_rate >= 0; got "
                         f"{n_frames}, {n_ions}, {dt_frame_ps}, {hop_rate_per_ps}")
    if group_size < 1 or n_ions % group_size:
        raise ValueError(f"group_size={group_size} must be >= 1 and divide n_ions={n_ions}")
    rng = np.random.default_rng(seed)
    n_groups = n_ions // group_size
    hops = rng.poisson(hop_rate_per_ps * dt_frame_ps, size=(n_frames - 1, n_groups))
    jumps = np.zeros((n_frames - 1, n_groups, 3))
    where = np.nonzero(hops)
    for frame, group in zip(*where):  # sparse: a few hops per ion in a whole run
        picks = rng.integers(0, 6, hops[frame, group])
        jumps[frame, group] = jump_length_A * HOP_DIRECTIONS[picks].sum(axis=0)
    sites = np.concatenate([np.zeros((1, n_groups, 3)), np.cumsum(jumps, axis=0)])
    sites = np.repeat(sites, group_size, axis=1)
    sites += rng.uniform(0.0, 20.0, (1, n_ions, 3))
    positions = sites
    if vibration_rms_A > 0:
        rho = np.exp(-dt_frame_ps / vibration_time_ps) if vibration_time_ps > 0 else 0.0
        noise = rng.normal(0.0, vibration_rms_A, (n_frames, n_ions, 3))
        vib = np.empty_like(noise)
        vib[0] = noise[0]
        kick = np.sqrt(1.0 - rho**2)
        for f in range(1, n_frames):
            vib[f] = rho * vib[f - 1] + kick * noise[f]
        positions = sites + vib
    d_A2_ps = hop_rate_per_ps * jump_length_A**2 / 6.0
    truth = HoppingTruth(diffusivity_cm2_s=d_A2_ps * A2_PS_TO_CM2_S,
                         charge_diffusivity_cm2_s=group_size * d_A2_ps * A2_PS_TO_CM2_S,
                         haven_ratio=1.0 / group_size, hop_rate_per_ion_per_ps=hop_rate_per_ps,
                         jump_length_A=jump_length_A, msd_offset_A2=6.0 * vibration_rms_A**2)
    return positions, truth


def rigid_rotors(n_frames: int, centers_A: np.ndarray, offsets_A: np.ndarray, omega_rad_ps: float,
                 dt_frame_ps: float, seed: int = 0) -> np.ndarray:
    """Molecules rotating rigidly about random axes at ``omega_rad_ps``.

    Parameters
    ----------
    centers_A : (n_mol, 3) fixed centres of mass; offsets_A : (n_per, 3) atom offsets from the centre
        (with equal masses their mean must be 0).

    Returns
    -------
    positions_A : (n_frames, n_mol * n_per, 3), molecule-major order.
    """
    rng = np.random.default_rng(seed)
    axes = rng.normal(size=(len(centers_A), 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    out = np.empty((n_frames, len(centers_A), len(offsets_A), 3))
    for f in range(n_frames):
        angle = omega_rad_ps * dt_frame_ps * f
        for m, k in enumerate(axes):  # Rodrigues' rotation formula
            v = offsets_A
            rot = v * np.cos(angle) + np.cross(k, v) * np.sin(angle) + np.outer(v @ k, k) * (1 - np.cos(angle))
            out[f, m] = centers_A[m] + rot
    return out.reshape(n_frames, -1, 3)


POSITION_STYLES = {"xu": ["xu", "yu", "zu"], "image": ["x", "y", "z", "ix", "iy", "iz"], "wrapped": ["x", "y", "z"],
                   "xsu": ["xsu", "ysu", "zsu"], "xs_image": ["xs", "ys", "zs", "ix", "iy", "iz"],
                   "xs": ["xs", "ys", "zs"]}
EXTRA_COLUMNS = ["vx", "vy", "vz", "q", "c_pe", "v_tag"]


def write_lammps_dump(path, positions_A, types, cells_A=None, steps=None, mol_ids=None, columns="xu",
                      order=None, tilt: bool = False, origins_A=None, elements=None, extra: bool = False) -> Path:
    """Write a LAMMPS ``dump custom`` text file.

    Parameters
    ----------
    path : output (``.gz`` suffix -> gzip).
    positions_A : (n_frames, n_atoms, 3) unwrapped positions.
    types : (n_atoms,) atom types; mol_ids : (n_atoms,) or None (no ``mol`` column).
    cells_A : (n_frames, 3, 3) LAMMPS-form cells (a along x, b in xy) or (3, 3); default 20 A cube.
    steps : (n_frames,) timesteps (default 0, 1, ...).
    columns : a key of :data:`POSITION_STYLES`: ``"xu"`` (unwrapped), ``"image"`` (wrapped x + ix),
        ``"wrapped"`` (x only), ``"xsu"`` (scaled unwrapped), ``"xs_image"`` (xs + ix), ``"xs"``.
    order : callable ``frame -> permutation`` to shuffle atom lines, or None.
    tilt : write a triclinic header even for orthogonal cells.
    origins_A : (n_frames, 3) or (3,) box origin (xlo, ylo, zlo); default 0.
    elements : (n_atoms,) element names for an ``element`` string column, or None.
    extra : add the columns of :data:`EXTRA_COLUMNS` (numbers) after the positions.
    """
    positions_A = np.asarray(positions_A, dtype=np.float64)
    n_frames, n_atoms, _ = positions_A.shape
    cells = np.broadcast_to(np.diag([20.0] * 3) if cells_A is None else np.asarray(cells_A, float), (n_frames, 3, 3))
    origins = np.broadcast_to(np.zeros(3) if origins_A is None else np.asarray(origins_A, float), (n_frames, 3))
    steps = np.arange(n_frames) if steps is None else np.asarray(steps)
    names = ["id", "type"] + (["mol"] if mol_ids is not None else []) + (["element"] if elements is not None else [])
    names += POSITION_STYLES[columns] + (EXTRA_COLUMNS if extra else [])
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wt") as fh:
        for f in range(n_frames):
            cell = cells[f]
            frac = (positions_A[f] - origins[f]) @ np.linalg.inv(cell)
            image = np.floor(frac)
            xyz = {"xu": positions_A[f], "xsu": frac, "xs": frac - image, "xs_image": frac - image}.get(
                columns, origins[f] + (frac - image) @ cell)
            table = [[str(i) for i in range(1, n_atoms + 1)], [str(int(t)) for t in types]]
            table += [[str(int(m)) for m in mol_ids]] if mol_ids is not None else []
            table += [[str(e) for e in elements]] if elements is not None else []
            table += [[f"{v:.9g}" for v in xyz[:, k]] for k in range(3)]
            table += [[str(int(v)) for v in image[:, k]] for k in range(3)] if "ix" in names else []
            table += [[f"{v:.4g}" for v in np.sin(np.arange(n_atoms) + k + f)] for k in range(len(EXTRA_COLUMNS))
                      ] if extra else []
            fh.write(_header(steps[f], n_atoms, cell, tilt, names, origins[f]))
            perm = np.arange(n_atoms) if order is None else order(f)
            rows = [" ".join(col[i] for col in table) for i in perm]
            fh.write("\n".join(rows) + "\n")
    return Path(path)


def _header(step, n_atoms, cell, tilt, names, origin=(0.0, 0.0, 0.0)) -> str:
    lx, ly, lz = cell[0, 0], cell[1, 1], cell[2, 2]
    xy, xz, yz = cell[1, 0], cell[2, 0], cell[2, 1]
    xlo, ylo, zlo = origin
    triclinic = tilt or any(abs(v) > 0 for v in (xy, xz, yz))
    lines = ["ITEM: TIMESTEP", str(int(step)), "ITEM: NUMBER OF ATOMS", str(n_atoms)]
    if triclinic:  # bounding box of the tilted cell (LAMMPS Howto_triclinic)
        xlo_b = xlo + min(0.0, xy, xz, xy + xz)
        xhi_b = xlo + lx + max(0.0, xy, xz, xy + xz)
        lines += ["ITEM: BOX BOUNDS xy xz yz pp pp pp", f"{xlo_b:.10f} {xhi_b:.10f} {xy:.10f}",
                  f"{ylo + min(0.0, yz):.10f} {ylo + ly + max(0.0, yz):.10f} {xz:.10f}",
                  f"{zlo:.10f} {zlo + lz:.10f} {yz:.10f}"]
    else:
        lines += ["ITEM: BOX BOUNDS pp pp pp", f"{xlo:.10f} {xlo + lx:.10f}", f"{ylo:.10f} {ylo + ly:.10f}",
                  f"{zlo:.10f} {zlo + lz:.10f}"]
    lines.append("ITEM: ATOMS " + " ".join(names))
    return "\n".join(lines) + "\n"
