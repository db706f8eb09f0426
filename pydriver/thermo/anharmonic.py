"""Anharmonic (and rotational-disorder) free energy from NPT MD enthalpies by Gibbs-Helmholtz integration.

From a temperature T0 where the harmonic model holds, the Gibbs-Helmholtz relation
d(G/T)/dT = -H/T^2 gives

    G(T) / T = G(T0) / T0 - integral_{T0}^{T} H(T') / T'^2 dT'

(e.g. D. Frenkel, B. Smit, *Understanding Molecular Simulation*, 2nd ed., 2002, sec. 7.1;
for crystals with rotating anions, the enthalpy jump of an order-disorder transition enters as
its latent heat over T). H(T) is taken piecewise linear between the MD temperatures, for which
the integral is exact: on [t1, t2] with H = h1 + s (T - t1),
integral H / T^2 dT = (h1 - s t1) (1/ta - 1/tb) + s ln(tb / ta). Errors of the H(T) samples
(independent) propagate linearly.

Classical MD and quantum phonons are combined through the anharmonic *correction*
(:func:`anharmonic_correction`): dH(T) = H_MD(T) - H_harm,classical(T), with
H_harm,classical = E_ref + (3 - 3/N) k_B T per atom (N atoms in the MD cell, momentum conserved),
is integrated with dG(T0) = 0, and added to the quantum harmonic G(T) of the phase. Classical
nuclei cancel to first order in the difference. E_ref is by default aligned so that dH(T0) = 0:
an offset between the MD energies and the static energy of the phonon calculation (float32 MD,
another relaxation) would otherwise enter G as offset * (1 - T/T0); the offset is reported.

:func:`md_enthalpy` reads the mean enthalpy per atom of an NPT run from its ``log.lammps``
(TotEng + Press * Volume, LAMMPS ``units metal``) over the production part, with the error from
the statistical inefficiency of the series (pymbar through :mod:`pydriver.analysis.equilibration`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pydriver.analysis.equilibration import statistical_inefficiency
from pydriver.analysis.run_inputs import production_records
from pydriver.rundir import LOG_FILE, MANIFEST_FILE, RunManifest
from pydriver.units import BOLTZMANN_EV_K, EV_A3_TO_BAR


def _check_samples(temperatures_K, enthalpy_eV, enthalpy_err_eV) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t = np.asarray(temperatures_K, dtype=float).ravel()
    h = np.asarray(enthalpy_eV, dtype=float).ravel()
    err = np.zeros_like(h) if enthalpy_err_eV is None else np.asarray(enthalpy_err_eV, dtype=float).ravel()
    if not (t.shape == h.shape == err.shape) or t.size < 2:
        raise ValueError(f"need at least two MD temperatures with one enthalpy (and error) each; got {t.size}, "
                         f"{h.size}, {err.size}")
    if np.any(t <= 0) or np.any(np.diff(np.sort(t)) == 0) or not np.all(np.isfinite(h)):
        raise ValueError("MD temperatures must be > 0 K and distinct, enthalpies finite")
    order = np.argsort(t)
    return t[order], h[order], err[order]


def _integral_weights(t: np.ndarray, t0: float, t_out: np.ndarray) -> np.ndarray:
    """(n_out, n) weights W with integral_{t0}^{T} H / T'^2 dT' = W @ H for H piecewise linear on ``t``."""
    n = t.size
    out = np.zeros((t_out.size, n))

    def segment(ta: float, tb: float, k: int) -> np.ndarray:
        """Weights of integral_{ta}^{tb} over segment k = [t_k, t_k+1] (ta, tb inside it)."""
        t1, t2 = t[k], t[k + 1]
        w = np.zeros(n)
        inv, log_ratio = 1.0 / ta - 1.0 / tb, np.log(tb / ta)
        # H = h1 (t2 - T) / (t2 - t1) + h2 (T - t1) / (t2 - t1)
        w[k] = (t2 * inv - log_ratio) / (t2 - t1)
        w[k + 1] = (log_ratio - t1 * inv) / (t2 - t1)
        return w

    def from_start(T: float) -> np.ndarray:
        """Weights of integral_{t[0]}^{T}."""
        w = np.zeros(n)
        for k in range(n - 1):
            lo, hi = t[k], min(t[k + 1], T)
            if hi <= lo:
                break
            w += segment(lo, hi, k)
        return w

    base = from_start(t0)
    for j, T in enumerate(t_out):
        out[j] = from_start(T) - base
    return out


def gibbs_helmholtz(temperatures_K, enthalpy_eV, enthalpy_err_eV, T0_K: float, G0_eV: float,
                    temperatures_out_K) -> tuple[np.ndarray, np.ndarray]:
    """G(T) = T [G(T0) / T0 - integral_{T0}^{T} H / T'^2 dT'] with H piecewise linear between samples.

    Parameters
    ----------
    temperatures_K : (n,) MD temperatures, in K (n >= 2, distinct, > 0; any order).
    enthalpy_eV : (n,) mean enthalpy at each, in eV (any extensive unit: per atom, per cell).
    enthalpy_err_eV : (n,) standard errors of those means, in eV (independent), or None.
    T0_K : reference temperature, in K, inside [min, max] of ``temperatures_K``.
    G0_eV : G(T0), in eV (same unit as H).
    temperatures_out_K : (m,) temperatures at which G is wanted, in K.

    Returns
    -------
    (G (m,), G_err (m,)) in eV; NaN outside [min, max] of ``temperatures_K`` (no extrapolation).
    G_err = T sqrt(sum_i W_i(T)^2 err_i^2) with W the integration weights of the samples.

    Raises
    ------
    ValueError for fewer than two samples, mismatched lengths, T <= 0, repeated temperatures, or
    T0 outside the sampled range.
    """
    t, h, err = _check_samples(temperatures_K, enthalpy_eV, enthalpy_err_eV)
    if not t[0] <= T0_K <= t[-1]:
        raise ValueError(f"T0 {T0_K} K outside the MD temperatures [{t[0]:g}, {t[-1]:g}] K: "
                         "add a run at the low temperature where the harmonic model holds")
    t_out = np.atleast_1d(np.asarray(temperatures_out_K, dtype=float))
    inside = (t_out >= t[0]) & (t_out <= t[-1])
    g = np.full(t_out.shape, np.nan)
    g_err = np.full(t_out.shape, np.nan)
    w = _integral_weights(t, float(T0_K), t_out[inside])
    g[inside] = t_out[inside] * (G0_eV / T0_K - w @ h)
    g_err[inside] = t_out[inside] * np.sqrt((w**2) @ (err**2))
    return g, g_err


def anharmonic_correction(temperatures_K, enthalpy_eV_per_atom, enthalpy_err_eV_per_atom, n_atoms_md: int,
                          T0_K: float, temperatures_out_K, static_energy_eV_per_atom: float | None = None,
                          align_at_T0: bool = True) -> dict:
    """Anharmonic free-energy correction per atom from MD enthalpies (module docstring).

    dH(T) = H_MD(T) - [E_ref + (3 - 3 / N) k_B T], dG(T) = gibbs_helmholtz(dH, dG(T0) = 0).

    Parameters
    ----------
    temperatures_K, enthalpy_eV_per_atom, enthalpy_err_eV_per_atom : (n,) MD temperatures (K), mean
        enthalpies per atom (eV) and their standard errors (eV; or None).
    n_atoms_md : atoms in the MD cell (for the 3N - 3 classical degrees of freedom).
    T0_K : reference temperature, in K (a sampled one, or inside the sampled range).
    temperatures_out_K : (m,) output temperatures, in K.
    static_energy_eV_per_atom : static energy of the phonon calculation's structure, in eV/atom
        (needed when ``align_at_T0`` is false; reported as the offset otherwise).
    align_at_T0 : E_ref such that dH(T0) = 0 (default) instead of the static energy.

    Returns
    -------
    dict with ``temperatures_K`` (m,), ``dG_eV_per_atom`` (m,), ``dG_err_eV_per_atom`` (m,) (NaN outside
    the MD range), ``dH_eV_per_atom`` (n,) at the MD temperatures, ``E_ref_eV_per_atom``, ``T0_K`` and
    ``offset_at_T0_eV_per_atom`` (H_MD(T0) - E_static - (3 - 3/N) k_B T0, or None without a static energy).

    Raises
    ------
    ValueError for bad samples (see :func:`gibbs_helmholtz`), n_atoms_md < 2, or neither a static
    energy nor ``align_at_T0``.
    """
    t, h, err = _check_samples(temperatures_K, enthalpy_eV_per_atom, enthalpy_err_eV_per_atom)
    if n_atoms_md < 2:
        raise ValueError(f"n_atoms_md must be >= 2, got {n_atoms_md}")
    dof = 3.0 - 3.0 / n_atoms_md
    h_at_t0 = float(np.interp(T0_K, t, h))
    offset = None if static_energy_eV_per_atom is None else h_at_t0 - static_energy_eV_per_atom - dof * BOLTZMANN_EV_K * T0_K
    if align_at_T0:
        e_ref = h_at_t0 - dof * BOLTZMANN_EV_K * T0_K
    elif static_energy_eV_per_atom is None:
        raise ValueError("anharmonic correction: give static_energy_eV_per_atom or align_at_T0=True")
    else:
        e_ref = float(static_energy_eV_per_atom)
    dh = h - e_ref - dof * BOLTZMANN_EV_K * t
    t_out = np.atleast_1d(np.asarray(temperatures_out_K, dtype=float))
    dg, dg_err = gibbs_helmholtz(t, dh, err, T0_K, 0.0, t_out)
    return {"temperatures_K": t_out.tolist(), "dG_eV_per_atom": dg.tolist(), "dG_err_eV_per_atom": dg_err.tolist(),
            "md_temperatures_K": t.tolist(), "dH_eV_per_atom": dh.tolist(), "H_err_eV_per_atom": err.tolist(),
            "E_ref_eV_per_atom": e_ref, "T0_K": float(T0_K), "n_atoms_md": int(n_atoms_md),
            "offset_at_T0_eV_per_atom": offset, "aligned_at_T0": bool(align_at_T0)}


def md_enthalpy(run_dir: str | Path) -> dict:
    """Mean enthalpy per atom of an NPT run over its production part.

    H = TotEng + Press * Volume (``units metal``: eV, bar, A^3) per thermo row, divided by the
    run's atom count (``run.json`` ``n_atoms``).

    Returns
    -------
    dict with ``temperature_K`` (the run's set point), ``H_eV_per_atom``, ``H_err_eV_per_atom``
    (std * sqrt(g / n), g the statistical inefficiency), ``n_rows``, ``n_atoms``, ``run``.

    Raises
    ------
    FileNotFoundError if ``run.json`` or ``log.lammps`` is missing; ValueError if the log has fewer
    than 10 production rows or lacks TotEng, Press or Volume.
    """
    run_dir = Path(run_dir)
    for name in (MANIFEST_FILE, LOG_FILE):
        if not (run_dir / name).is_file():
            raise FileNotFoundError(f"{run_dir / name} not found (anharmonic runs: NPT run directories)")
    manifest = RunManifest.from_dict(json.loads((run_dir / MANIFEST_FILE).read_text()), str(run_dir / MANIFEST_FILE))
    if not manifest.n_atoms:
        raise ValueError(f"{run_dir / MANIFEST_FILE}: no n_atoms (needed for the enthalpy per atom)")
    records = production_records(run_dir / LOG_FILE, manifest.production_start_step or 0)
    if len(records) < 10 or any(k not in records[0] for k in ("TotEng", "Press", "Volume")):
        raise ValueError(f"{run_dir / LOG_FILE}: need >= 10 production thermo rows with TotEng Press Volume")
    h = np.array([r["TotEng"] + r["Press"] * r["Volume"] / EV_A3_TO_BAR for r in records]) / manifest.n_atoms
    g = statistical_inefficiency(h)
    return {"run": run_dir.name, "temperature_K": float(manifest.temperature_K), "H_eV_per_atom": float(h.mean()),
            "H_err_eV_per_atom": float(h.std(ddof=1) * np.sqrt(g / h.size)), "n_rows": int(h.size),
            "n_atoms": int(manifest.n_atoms)}
