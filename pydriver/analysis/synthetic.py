"""Synthetic trajectories with known answers and a LAMMPS text-dump writer (tests, benchmarks).

Kept in the package, not under tests/, because users need it too: to check the analysis on their
machine against an exact answer before trusting it on real runs, and to build demos such as
``examples/report_demo/make_report_demo.py``.

* :func:`random_walk` -- Gaussian random walk with a set diffusivity: MSD = 6 D t exactly.
* :func:`hopping_crystal` -- ions vibrating on lattice sites and hopping between them as a Poisson
  process (optionally in concerted groups): the regime of real solid electrolytes, with the exact
  tracer and charge diffusivity as :class:`HoppingTruth`.
* :func:`rigid_rotors` -- molecules spinning at a set angular speed (rotation analysis).
* :func:`site_lattice_gas` -- ions hopping on a site lattice with two known site energies (sites,
  occupancies, hop rates, residence times, back jumps).
* :func:`rotational_diffusion`, :func:`orientation_jumps` -- rigid anions reorienting by rotational
  diffusion with a set D_r, or by jumps between symmetry-equivalent orientations at a set rate.
* :func:`coupled_hops_and_jumps` -- ion hops made more likely by a known factor after a neighbouring
  anion turns (rotation-hop coupling).
* :func:`write_lammps_dump` -- writes ``dump custom`` text (optionally gzip, triclinic, images).
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pydriver.units import A2_PS_TO_CM2_S, BOLTZMANN_EV_K


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


def _ou_vibration(rng: np.random.Generator, n_frames: int, n_atoms: int, rms_A: float, time_ps: float,
                  dt_frame_ps: float) -> np.ndarray:
    """(n_frames, n_atoms, 3) Ornstein-Uhlenbeck displacements: per-component RMS ``rms_A``, correlation ``time_ps``."""
    if rms_A <= 0:
        return np.zeros((n_frames, n_atoms, 3))
    rho = np.exp(-dt_frame_ps / time_ps) if time_ps > 0 else 0.0
    noise = rng.normal(0.0, rms_A, (n_frames, n_atoms, 3))
    kick = np.sqrt(1.0 - rho**2)
    for f in range(1, n_frames):
        noise[f] = rho * noise[f - 1] + kick * noise[f]
    return noise


@dataclass(frozen=True)
class SiteLatticeTruth:
    """Exact answers of a :func:`site_lattice_gas` trajectory.

    Attributes
    ----------
    cell_A : (3, 3) periodic cell (cube of ``n_per_edge`` sites of spacing ``lattice_A``).
    site_frac : (n_sites, 3) fractional site positions; site_family : (n_sites,) 0 or 1
        (checkerboard: every neighbour of a site is of the other family); site_energy_eV : (n_sites,).
    occupancy_per_site : (n_sites,) mean number of ions on each site, ``N exp(-E_s/kT) / Z``.
    family_occupancy : (2,) mean ions per site of each family.
    rate_constant_per_ps : (2,) rate of one hop to one given neighbour from a site of each family,
        ``nu exp(-(E_to - E_from) / 2kT)`` (detailed balance).
    residence_time_ps : (2,) mean residence on a site of each family, ``1 / (6 k)``.
    hop_rate_per_ion_per_ps : mean hops per ion per ps, ``6 nu / cosh(dE / 2kT)``.
    back_jump_probability : 1/6 (the six neighbours of a site are equivalent).
    jump_length_A : lattice spacing; diffusivity_cm2_s : ``Gamma a^2 / 6`` (uncorrelated jumps).
    hops_per_ion : (n_ions,) hops each ion made in this realisation.
    """

    cell_A: np.ndarray
    site_frac: np.ndarray
    site_family: np.ndarray
    site_energy_eV: np.ndarray
    occupancy_per_site: np.ndarray
    family_occupancy: np.ndarray
    rate_constant_per_ps: np.ndarray
    residence_time_ps: np.ndarray
    hop_rate_per_ion_per_ps: float
    back_jump_probability: float
    jump_length_A: float
    diffusivity_cm2_s: float
    hops_per_ion: np.ndarray


def site_lattice_gas(n_frames: int, n_ions: int, dt_frame_ps: float, attempt_rate_per_ps: float,
                     temperature_K: float, family_energy_eV: float = 0.05, n_per_edge: int = 6,
                     lattice_A: float = 3.0, vibration_rms_A: float = 0.3, vibration_time_ps: float = 0.05,
                     seed: int = 0) -> tuple[np.ndarray, SiteLatticeTruth]:
    """Independent ions hopping on a simple-cubic site lattice with two site energies.

    Sites form a periodic ``n_per_edge``^3 cube (``n_per_edge`` even); family 1 (sites with odd
    ``i + j + k``) lies ``family_energy_eV`` above family 0, so every hop changes family. Each ion
    is a continuous-time Markov chain (exact Gillespie times) with rate
    ``k = nu exp(-(E_to - E_from) / 2kT)`` to each of its 6 neighbours, which obeys detailed
    balance; it starts from the equilibrium distribution, so site occupancies are stationary:
    ``p_s = exp(-E_s / kT) / Z``. Ions do not exclude each other (several may share a site), which
    keeps every answer exact. On top of the site each ion vibrates as in :func:`hopping_crystal`.

    Parameters
    ----------
    n_frames, n_ions : trajectory size; dt_frame_ps : time between frames.
    attempt_rate_per_ps : nu; temperature_K : T of the Boltzmann factors.
    family_energy_eV : E of family 1 minus E of family 0.
    n_per_edge : sites along each cell edge (even, >= 2); lattice_A : site spacing.
    vibration_rms_A, vibration_time_ps : Ornstein-Uhlenbeck vibration about the site.
    seed : random seed.

    Returns
    -------
    positions_A : (n_frames, n_ions, 3) unwrapped positions; truth : :class:`SiteLatticeTruth`.

    Raises
    ------
    ValueError
        On non-positive sizes, rates or temperature, or an odd ``n_per_edge``.
    """
    if n_frames < 2 or n_ions < 1 or dt_frame_ps <= 0 or attempt_rate_per_ps <= 0 or temperature_K <= 0:
        raise ValueError("site_lattice_gas: need n_frames >= 2, n_ions >= 1 and positive dt, rate and temperature")
    if n_per_edge < 2 or n_per_edge % 2:
        raise ValueError(f"n_per_edge={n_per_edge} must be even and >= 2 (checkerboard families)")
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(*[np.arange(n_per_edge)] * 3, indexing="ij"), axis=-1).reshape(-1, 3)
    family = grid.sum(axis=1) % 2
    energy = family * family_energy_eV
    beta = 1.0 / (BOLTZMANN_EV_K * temperature_K)
    weight = np.exp(-beta * energy)
    p_site = weight / weight.sum()
    k_family = attempt_rate_per_ps * np.exp(-beta * np.array([family_energy_eV, -family_energy_eV]) / 2.0)
    start = rng.choice(grid.shape[0], n_ions, p=p_site)
    duration = (n_frames - 1) * dt_frame_ps
    frame_times = np.arange(n_frames) * dt_frame_ps
    sites = np.empty((n_frames, n_ions, 3))
    hops = np.zeros(n_ions, dtype=np.int64)
    for ion in range(n_ions):
        point, fam, t = grid[start[ion]].astype(np.float64), int(family[start[ion]]), 0.0
        times, points = [0.0], [point.copy()]
        while True:
            t += rng.exponential(1.0 / (6.0 * k_family[fam]))
            if t > duration:
                break
            point = point + HOP_DIRECTIONS[rng.integers(0, 6)]
            fam = 1 - fam
            times.append(t)
            points.append(point.copy())
        hops[ion] = len(times) - 1
        sites[:, ion] = np.asarray(points)[np.searchsorted(times, frame_times, side="right") - 1]
    positions = sites * lattice_A + _ou_vibration(rng, n_frames, n_ions, vibration_rms_A, vibration_time_ps,
                                                  dt_frame_ps)
    family_p = np.array([p_site[family == f].sum() for f in (0, 1)])
    rate = float(6.0 * (family_p * k_family).sum())
    truth = SiteLatticeTruth(
        cell_A=np.eye(3) * n_per_edge * lattice_A, site_frac=grid / n_per_edge, site_family=family,
        site_energy_eV=energy, occupancy_per_site=n_ions * p_site,
        family_occupancy=np.array([n_ions * p_site[family == f].mean() for f in (0, 1)]),
        rate_constant_per_ps=k_family, residence_time_ps=1.0 / (6.0 * k_family), hop_rate_per_ion_per_ps=rate,
        back_jump_probability=1.0 / 6.0, jump_length_A=lattice_A,
        diffusivity_cm2_s=rate * lattice_A**2 / 6.0 * A2_PS_TO_CM2_S, hops_per_ion=hops)
    return positions, truth


def tetrahedron_offsets(bond_A: float = 1.21) -> np.ndarray:
    """(4, 3) vertex offsets of a regular tetrahedron (BH4: B-H bonds of ``bond_A``) about its centre."""
    return bond_A * np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) / np.sqrt(3.0)


def icosahedron_offsets(radius_A: float = 1.70) -> np.ndarray:
    """(12, 3) vertex offsets of a regular icosahedron (the B12 cage of B12H12) at ``radius_A``."""
    phi = (1.0 + np.sqrt(5.0)) / 2.0
    v = []
    for a in (-1.0, 1.0):
        for b in (-phi, phi):
            v += [[0.0, a, b], [a, b, 0.0], [b, 0.0, a]]
    v = np.array(v)
    return radius_A * v / np.linalg.norm(v, axis=1, keepdims=True)


def _rotation_matrices(rotvec: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices of rotation vectors ``(..., 3)`` (Rodrigues)."""
    angle = np.linalg.norm(rotvec, axis=-1, keepdims=True)
    axis = rotvec / np.where(angle > 0, angle, 1.0)
    x, y, z = axis[..., 0], axis[..., 1], axis[..., 2]
    zero = np.zeros_like(x)
    k = np.stack([np.stack([zero, -z, y], -1), np.stack([z, zero, -x], -1), np.stack([-y, x, zero], -1)], -2)
    s, c = np.sin(angle)[..., None], np.cos(angle)[..., None]
    return np.eye(3) + s * k + (1.0 - c) * (k @ k)


def _random_orientations(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, 3, 3) rotation matrices uniform on SO(3) (QR of Gaussian matrices, sign-fixed)."""
    q, r = np.linalg.qr(rng.normal(size=(n, 3, 3)))
    q = q * np.sign(np.diagonal(r, axis1=1, axis2=2))[:, None, :]
    q[np.linalg.det(q) < 0, :, 0] *= -1.0
    return q


def _place(orient: np.ndarray, offsets_A: np.ndarray, centers_A: np.ndarray) -> np.ndarray:
    """(n_frames, n_mol * n_per, 3) positions of rigid molecules with orientations (n_frames, n_mol, 3, 3)."""
    pos = centers_A[None, :, None, :] + np.einsum("fmij,pj->fmpi", orient, offsets_A)
    return pos.reshape(orient.shape[0], -1, 3)


def rotational_diffusion(n_frames: int, centers_A: np.ndarray, offsets_A: np.ndarray,
                         rotational_diffusivity_per_ps: float, dt_frame_ps: float, seed: int = 0) -> np.ndarray:
    """Rigid molecules in isotropic rotational diffusion with a set ``D_r`` (orientation correlation).

    Each frame the orientation is multiplied by rotations about Gaussian rotation vectors of
    variance ``2 D_r dt`` per component, in sub-steps with ``2 D_r dt <= 0.01`` (a step of variance s^2
    decays C_1 by ``1/3 + 2/3 (1 - s^2) exp(-s^2 / 2)``, whose rate is ``2 D_r (1 + s^2 / 12)``: within
    0.1 % of the limit). Exact answers (Debye):
    ``C_l(t) = <P_l(u(0) . u(t))> = exp(-l (l + 1) D_r t)``: tau_1 = 1 / (2 D_r), tau_2 = 1 / (6 D_r).

    Parameters
    ----------
    centers_A : (n_mol, 3) fixed centres; offsets_A : (n_per, 3) atom offsets from the centre.
    rotational_diffusivity_per_ps : D_r (rad^2/ps); dt_frame_ps : time between frames.

    Returns
    -------
    positions_A : (n_frames, n_mol * n_per, 3), molecule-major order, random initial orientations.
    """
    rng = np.random.default_rng(seed)
    centers_A = np.asarray(centers_A, dtype=np.float64)
    n_mol = len(centers_A)
    n_sub = max(1, int(np.ceil(2.0 * rotational_diffusivity_per_ps * dt_frame_ps / 0.01)))
    sigma = np.sqrt(2.0 * rotational_diffusivity_per_ps * dt_frame_ps / n_sub)
    orient = np.empty((n_frames, n_mol, 3, 3))
    orient[0] = _random_orientations(rng, n_mol)
    for f in range(1, n_frames):
        r = orient[f - 1]
        for _ in range(n_sub):
            r = _rotation_matrices(rng.normal(0.0, sigma, (n_mol, 3))) @ r
        orient[f] = r
    return _place(orient, np.asarray(offsets_A, float), centers_A)


def symmetry_jumps(offsets_A: np.ndarray, order: int) -> np.ndarray:
    """(n_ops, 3, 3) body-frame rotations by ``2 pi m / order`` (m = 1..order-1) about each vertex axis.

    For a tetrahedron with ``order=3`` (8 C3 operations) and an icosahedron with ``order=5``
    (48 C5 operations) these are symmetry operations: they map the vertex set onto itself. Offsets
    of zero length (a central atom, the B of BH4) are skipped.
    """
    offsets_A = np.asarray(offsets_A, float)
    length = np.linalg.norm(offsets_A, axis=1)
    axes = offsets_A[length > 1e-9] / length[length > 1e-9, None]  # an atom at the centre gives no axis
    angles = 2.0 * np.pi * np.arange(1, order) / order
    return _rotation_matrices((axes[:, None, :] * angles[None, :, None]).reshape(-1, 3))


def orientation_jumps(n_frames: int, centers_A: np.ndarray, offsets_A: np.ndarray, jump_rate_per_ps: float,
                      dt_frame_ps: float, order: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Rigid molecules that jump between symmetry-equivalent orientations at Poisson times.

    Each jump applies one of :func:`symmetry_jumps` (``offsets_A``, ``order``), picked uniformly, in
    the body frame, so the molecule's vertex positions map onto the previous vertex positions
    (atoms exchange places). For a tetrahedron with C3 jumps a vertex is, after one jump, on each
    of the four vertex directions with probability 1/4, so
    ``C_1(t) = C_2(t) = exp(-k t)`` exactly (tau_1 = tau_2 = 1 / k; rotational diffusion gives
    tau_1 / tau_2 = 3).

    Returns
    -------
    positions_A : (n_frames, n_mol * n_per, 3); jumps_per_molecule : (n_mol,) jumps made.
    """
    rng = np.random.default_rng(seed)
    centers_A = np.asarray(centers_A, dtype=np.float64)
    counts = rng.poisson(jump_rate_per_ps * dt_frame_ps, (n_frames - 1, len(centers_A)))
    orient = _jumped_orientations(rng, counts, symmetry_jumps(offsets_A, order))
    return _place(orient, np.asarray(offsets_A, float), centers_A), counts.sum(axis=0)


def _jumped_orientations(rng: np.random.Generator, counts: np.ndarray, ops: np.ndarray) -> np.ndarray:
    """(n_frames, n_mol, 3, 3) orientations: random start, then ``counts[f - 1, m]`` random ``ops`` at frame f."""
    n_frames, n_mol = counts.shape[0] + 1, counts.shape[1]
    orient = np.empty((n_frames, n_mol, 3, 3))
    orient[0] = _random_orientations(rng, n_mol)
    for f in range(1, n_frames):
        orient[f] = orient[f - 1]
        for m in np.flatnonzero(counts[f - 1]):
            for op in rng.integers(0, len(ops), counts[f - 1, m]):
                orient[f, m] = orient[f, m] @ ops[op]
    return orient


@dataclass(frozen=True)
class CouplingTruth:
    """Exact answers of :func:`coupled_hops_and_jumps`.

    ``enhancement_factor``: hop rate of an ion within ``window_ps`` after a neighbouring anion
    jumped, over its rate otherwise; ``hop_rate_per_ps``: the rate otherwise; ``jump_rate_per_ps``:
    anion jumps per anion per ps; ``neighbour_distance_A``: ion site to adjacent anion centre
    (``a sqrt(3) / 2``; the next anions are ``a sqrt(11) / 2`` away); ``cell_A``: the periodic cell.
    """

    enhancement_factor: float
    window_ps: float
    hop_rate_per_ps: float
    jump_rate_per_ps: float
    neighbour_distance_A: float
    cell_A: np.ndarray


def coupled_hops_and_jumps(n_frames: int, n_ions: int, dt_frame_ps: float, hop_rate_per_ps: float,
                           jump_rate_per_ps: float, enhancement_factor: float, window_ps: float = 0.5,
                           n_per_edge: int = 6, lattice_A: float = 3.0, vibration_rms_A: float = 0.3,
                           seed: int = 0) -> tuple[np.ndarray, np.ndarray, CouplingTruth]:
    """Ions hopping on a simple-cubic lattice whose hops are made more likely after a neighbouring anion turns.

    BH4-like tetrahedra sit at the cube centres of the ion lattice (8 around each ion site) and make
    C3 jumps at Poisson times (rate ``jump_rate_per_ps``). An anion that jumps in frame interval
    ``(f - 1, f]`` raises the hop rate of the ions then on its 8 adjacent sites to
    ``enhancement_factor x hop_rate_per_ps`` for the intervals ``(g - 1, g]`` with
    ``0 <= g - 1 - f < window_ps / dt`` (the rate is otherwise ``hop_rate_per_ps``). Hops go to one
    of the 6 neighbouring sites, at most one per ion and frame (probability ``1 - exp(-rate dt)``);
    ions do not exclude each other and vibrate as in :func:`site_lattice_gas` (uncorrelated per
    frame here). ``enhancement_factor = 1`` gives hops independent of the anions.

    Returns
    -------
    ion_positions_A : (n_frames, n_ions, 3) unwrapped; anion_positions_A : (n_frames, 5 n_anions, 3)
    (B then 4 H per anion, ``n_per_edge``^3 anions); truth : :class:`CouplingTruth`.
    """
    rng = np.random.default_rng(seed)
    n = n_per_edge
    grid = np.stack(np.meshgrid(*[np.arange(n)] * 3, indexing="ij"), axis=-1).reshape(-1, 3)
    corners = np.stack(np.meshgrid(*[np.arange(2)] * 3, indexing="ij"), axis=-1).reshape(-1, 3)
    # anion at cube centre (c + 1/2) is adjacent to sites c + corner; site s's anions: (s - corner) % n
    site_anions = np.array([np.ravel_multi_index(((g - corners) % n).T, (n, n, n)) for g in grid])
    window = max(1, int(round(window_ps / dt_frame_ps)))
    counts = rng.poisson(jump_rate_per_ps * dt_frame_ps, (n_frames - 1, len(grid)))
    site = grid[rng.integers(0, len(grid), n_ions)].astype(np.int64)  # unwrapped site coordinates
    path = np.empty((n_frames, n_ions, 3))
    path[0] = site
    boost_until = np.full(n_ions, -1)
    p_base = 1.0 - np.exp(-hop_rate_per_ps * dt_frame_ps)
    p_boost = 1.0 - np.exp(-enhancement_factor * hop_rate_per_ps * dt_frame_ps)
    for f in range(1, n_frames):
        hop = rng.random(n_ions) < np.where(boost_until >= f, p_boost, p_base)  # interval (f-1, f]
        site = site + hop[:, None] * HOP_DIRECTIONS[rng.integers(0, 6, n_ions)].astype(np.int64)
        path[f] = site
        jumped = np.flatnonzero(counts[f - 1])
        if jumped.size:  # ions now next to an anion that jumped in (f-1, f] are boosted for (f, f + window]
            index = np.ravel_multi_index((site % n).T, (n, n, n))
            near = np.isin(site_anions[index], jumped).any(axis=1)
            boost_until[near] = f + window
    ions = path * lattice_A + rng.normal(0.0, vibration_rms_A, path.shape)
    offsets = np.vstack([[0.0, 0.0, 0.0], tetrahedron_offsets()])
    orient = _jumped_orientations(rng, counts, symmetry_jumps(offsets, 3))
    anions = _place(orient, offsets, (grid + 0.5) * lattice_A)
    truth = CouplingTruth(float(enhancement_factor), window * dt_frame_ps, float(hop_rate_per_ps),
                          float(jump_rate_per_ps), lattice_A * np.sqrt(3.0) / 2.0, np.eye(3) * n * lattice_A)
    return ions, anions, truth
