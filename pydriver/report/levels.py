"""One condition's number with its uncertainty, read from a ``report.json``: the input of the comparisons.

A condition is a structure, its anion mass factors and a set point (replicates within
:data:`pydriver.report.arrhenius.REPLICATE_TOLERANCE_K`), named as the report names them
(``"Na3(BH4)(B12H12) (oNBH)"``, ``"BH4 x5"`` or ``"unscaled"``). Each reader returns a :class:`Level`:
a value with a one-sigma error of its logarithm (``scale="log"``: D, sigma, hop rates, reorientation
times, coupling factors) or of itself (``scale="linear"``: Ea), the degrees of freedom of its 95 %
quantile, and how many runs it rests on; or a one-sided 95 % bound (a condition whose D is not
resolved from zero is an upper bound, an anion that does not turn within the run a lower bound on
its reorientation time); or no value and the reason.

The numbers are the report's own wherever the report pools them: D of replicates from
``replicates`` (:mod:`pydriver.report.replicates`), sigma at a set point from the Arrhenius group's
pooled ``temperatures`` and hop rates from the hop-rate group's (:mod:`pydriver.report.arrhenius`,
:mod:`pydriver.report.mechanism`), Ea from the groups' fits. What the report keeps per run only
(reorientation times, coupling factors; sigma of a report fitted in ``D`` mode) is pooled here with
the report's one rule, :func:`pydriver.report.arrhenius.pool_log_values` (inverse-variance mean of
``ln value``, error widened by the Birge ratio when replicates disagree). The 95 % quantile is the
report's: Student t on ``n - 1`` degrees of freedom where the pooled error was widened, else normal;
for a single run, the degrees of freedom that reproduce the run's own 95 % interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

from pydriver.analysis.diffusion import fit_line
from pydriver.report.arrhenius import REPLICATE_TOLERANCE_K, pool_log_values
from pydriver.report.mechanism import HOP_RATE_KEY
from pydriver.units import BOLTZMANN_EV_K

Z95 = float(stats.norm.ppf(0.975))
#: keys of one run's transport quantity: value, one-sigma error, 95 % interval, 95 % upper bound (not resolved)
TRANSPORT = {"D": ("diffusivity_cm2_s", "diffusivity_std_cm2_s", "diffusivity_ci95_cm2_s",
                   "diffusivity_upper_bound_95_cm2_s", "cm^2/s"),
             "sigma": ("conductivity_mS_cm", "conductivity_std_mS_cm", "conductivity_ci95_mS_cm",
                       "conductivity_upper_bound_95_mS_cm", "mS/cm")}
#: mobile-Na fraction definitions -> report-row column (docs/analysis.md, "Active Na")
FRACTIONS = {"msd_21A2": "active_fraction", "d_threshold": "active_fraction_d_threshold", "hops": "fraction_hops"}


@dataclass(frozen=True)
class Level:
    """One condition's number.

    Attributes
    ----------
    label : what it is (``"D, Na3(BH4)(B12H12) (oNBH), unscaled, 750 K"``).
    value : the estimate, or the 95 % bound when ``bound`` is set; None when there is no number.
    sigma : one-sigma error of ``ln value`` (``scale="log"``) or of ``value`` (``"linear"``); None for bounds.
    scale : ``"log"`` or ``"linear"``.
    dof : degrees of freedom of the 95 % quantile (``inf``: normal).
    bound : None, ``"upper"`` or ``"lower"``: ``value`` is a one-sided 97.5 % limit (the upper end of a
        two-sided 95 % interval, as the report's ``*_upper_bound_95_*`` columns).
    n_runs : runs of the condition; n_used : runs the number rests on.
    unit : unit of ``value``.
    reason : why there is no number (``value`` None) or what qualifies it (e.g. ``extrapolated``).
    """

    label: str
    value: float | None
    sigma: float | None = None
    scale: str = "log"
    dof: float = math.inf
    bound: str | None = None
    n_runs: int = 0
    n_used: int = 0
    unit: str = ""
    reason: str | None = None

    @property
    def resolved(self) -> bool:
        """True when the level is a value with an error (not a bound, not missing)."""
        return self.value is not None and self.bound is None and self.sigma is not None

    @property
    def q95(self) -> float:
        """Two-sided 95 % quantile: Student t on ``dof`` degrees of freedom, normal when ``dof`` is infinite."""
        return Z95 if math.isinf(self.dof) else float(stats.t.ppf(0.975, self.dof))

    def ci95(self) -> tuple[float | None, float | None]:
        """The 95 % interval; a bound gives an open end (None); no value or no error gives (None, None)."""
        if self.value is None or (self.bound is None and self.sigma is None):
            return None, None
        if self.bound == "upper":
            return None, self.value
        if self.bound == "lower":
            return self.value, None
        half = self.q95 * self.sigma
        if self.scale == "log":
            return self.value * math.exp(-half), self.value * math.exp(half)
        return self.value - half, self.value + half

    def as_dict(self) -> dict:
        """JSON-ready dict (``dof`` None when infinite)."""
        lo, hi = self.ci95()
        return {"label": self.label, "value": self.value, "ci95": [lo, hi], "sigma": self.sigma, "scale": self.scale,
                "dof": None if math.isinf(self.dof) else self.dof, "bound": self.bound, "n_runs": self.n_runs,
                "n_used": self.n_used, "unit": self.unit, "reason": self.reason}


def dof_from_quantile(q95: float) -> float:
    """Degrees of freedom whose two-sided 95 % Student-t quantile is ``q95`` (``inf`` at or below the normal one)."""
    if not np.isfinite(q95) or q95 <= Z95 * (1.0 + 1e-6):
        return math.inf
    return float(optimize.brentq(lambda nu: stats.t.ppf(0.975, nu) - q95, 0.05, 1e9, xtol=1e-10))


def _interval_dof(ci95, sigma: float, log: bool) -> float:
    """Degrees of freedom implied by a 95 % interval and its one-sigma error (half-width over sigma)."""
    if not ci95 or ci95[0] is None or ci95[1] is None or not sigma or sigma <= 0:
        return math.inf
    lo, hi = float(ci95[0]), float(ci95[1])
    if log:
        if lo <= 0 or hi <= 0:
            return math.inf
        return dof_from_quantile(math.log(hi / lo) / (2.0 * sigma))
    return dof_from_quantile((hi - lo) / (2.0 * sigma))


def _pooled_dof(n: int, chi2: float | None) -> float:
    """The report's rule: Student t on ``n - 1`` when the replicates' scatter widened the error, else normal."""
    return float(n - 1) if n > 1 and chi2 is not None and chi2 / (n - 1) > 1.0 else math.inf


def formula_of(structure: str) -> str:
    """Reduced formula of a report's structure name (``"NaBH4 (NaBH4_relaxed)"`` -> ``"NaBH4"``)."""
    return structure.split(" (")[0]


def find_structure(report: dict, formula: str) -> str | None:
    """The report's structure name of ``formula`` (``"NaBH4"``, or ``"Na3(BH4)(B12H12)"``); None if absent.

    Raises
    ------
    ValueError
        If several structure names share the formula (e.g. orderings of one phase named by their files):
        their runs are then not pooled as replicates, and no comparison would be of one phase.
    """
    names = sorted({r["structure"] for r in report["runs"] if formula_of(r["structure"]) == formula})
    if len(names) > 1:
        raise ValueError(f"{len(names)} structures of {formula} in the report ({', '.join(names)}): their runs are "
                         "not replicates of one phase; give the runs one structure name")
    return names[0] if names else None


def condition_rows(report: dict, structure: str, mass_factors: str, temperature_K: float,
                   tolerance_K: float = REPLICATE_TOLERANCE_K) -> list[dict]:
    """The report's run rows of one condition (set point within ``tolerance_K``)."""
    return [r for r in report["runs"] if r["structure"] == structure and r["mass_factors"] == mass_factors
            and abs(float(r["temperature_K"]) - temperature_K) <= tolerance_K]


def set_points(report: dict, structure: str, mass_factors: str = "unscaled") -> list[float]:
    """Distinct set points (K) of a structure and mass setting, ascending."""
    return sorted({float(r["temperature_K"]) for r in report["runs"]
                   if r["structure"] == structure and r["mass_factors"] == mass_factors})


def _label(quantity: str, structure: str, mass_factors: str, temperature_K: float) -> str:
    return f"{quantity}, {structure}, {mass_factors}, {temperature_K:g} K"


def _missing(label: str, reason: str, n_runs: int = 0, unit: str = "", scale: str = "log") -> Level:
    return Level(label, None, scale=scale, n_runs=n_runs, unit=unit, reason=reason)


def _solid(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r.get("framework_solid") is not False]


def _positive(x) -> bool:
    return x is not None and np.isfinite(x) and x > 0


def _run_sigma_ln(row: dict, value_key: str, err_key: str) -> float | None:
    """The run's calibrated log error (``diffusivity_sigma_ln``: the same for D and Nernst-Einstein sigma),
    else error / value (analyses without it; the report's Arrhenius point does the same)."""
    s = row.get("diffusivity_sigma_ln")
    if _positive(s):
        return float(s)
    value, err = row.get(value_key), row.get(err_key)
    return float(err / value) if _positive(value) and _positive(err) else None


def _upper_bound(row: dict, key: str, err_key: str, bound_key: str) -> float | None:
    """The run's 95 % upper bound; analyses older than that column give ``max(value, 0) + 1.96 std``."""
    bound = row.get(bound_key)
    if bound is not None and np.isfinite(bound):
        return float(bound)
    value, err = row.get(key), row.get(err_key)
    if value is None or err is None or not (np.isfinite(value) and np.isfinite(err)) or err <= 0:
        return None
    return max(float(value), 0.0) + Z95 * float(err)


def _pool_runs(label: str, values: list[float], sigmas: list[float], n_runs: int, unit: str, reason=None) -> Level:
    """Level of runs pooled with the report's rule (:func:`pool_log_values`)."""
    pool = pool_log_values(values, sigmas)
    return Level(label, float(np.exp(pool["mean_ln"])), pool["sigma_ln"], "log",
                 _pooled_dof(len(values), pool["chi2"]), None, n_runs, len(values), unit, reason)


def transport_level(report: dict, structure: str, mass_factors: str, temperature_K: float,
                    quantity: str = "D") -> Level:
    """Na self-diffusivity (``quantity="D"``, cm^2/s) or Nernst-Einstein conductivity (``"sigma"``, mS/cm).

    Runs count as the report counts them: framework solid, diffusive, value > 0 with a finite log error.
    Pooled replicates come from the report (``replicates`` for D, the Arrhenius group's ``temperatures``
    for sigma when the report fitted ``sigma_T``); one run is its own value with the degrees of freedom of
    its 95 % interval. When no run is resolved the level is an upper bound: the largest of the runs'
    ``*_upper_bound_95_*`` (each a 97.5 % one-sided limit of the same quantity; the largest is conservative;
    analyses older than that column: ``max(value, 0) + 1.96 std``).
    """
    if quantity not in TRANSPORT:
        raise ValueError(f"transport quantity {quantity!r}; allowed {tuple(TRANSPORT)}")
    key, err_key, ci_key, bound_key, unit = TRANSPORT[quantity]
    label = _label(quantity, structure, mass_factors, temperature_K)
    rows = condition_rows(report, structure, mass_factors, temperature_K)
    if not rows:
        return _missing(label, f"no runs of {structure}, {mass_factors} at {temperature_K:g} K", 0, unit)
    solid = _solid(rows)
    if not solid:
        return _missing(label, f"framework not solid in all {len(rows)} run(s)", len(rows), unit)
    used = [r for r in solid if r.get("diffusive") is not False and _positive(r.get(key))
            and _run_sigma_ln(r, key, err_key) is not None]
    if not used:
        bounds = [b for b in (_upper_bound(r, key, err_key, bound_key) for r in solid) if b is not None]
        if not bounds:
            return _missing(label, "no run resolved and no upper bound", len(rows), unit)
        return Level(label, float(max(bounds)), None, "log", math.inf, "upper", len(rows), 0, unit,
                     f"not diffusive in {len(solid)} solid run(s): 95 % upper bound")
    note = None if len(used) == len(rows) else f"{len(rows) - len(used)} of {len(rows)} run(s) not used"
    if len(used) == 1:
        r = used[0]
        sigma = _run_sigma_ln(r, key, err_key)
        return Level(label, float(r[key]), sigma, "log", _interval_dof(r.get(ci_key), sigma, True), None,
                     len(rows), 1, unit, note)
    pooled = _report_pool(report, structure, mass_factors, temperature_K, quantity, len(used))
    if pooled is not None:
        value, sigma, dof = pooled
        return Level(label, value, sigma, "log", dof, None, len(rows), len(used), unit, note)
    return _pool_runs(label, [float(r[key]) for r in used], [_run_sigma_ln(r, key, err_key) for r in used],
                      len(rows), unit, note)


def _report_pool(report: dict, structure: str, mass_factors: str, temperature_K: float, quantity: str,
                 n_used: int) -> tuple[float, float, float] | None:
    """(value, sigma_ln, dof) of the report's own pooling of the condition, when it has one for ``n_used`` runs."""
    if quantity == "D":
        for c in report.get("replicates") or []:
            if (c["structure"] == structure and c["mass_factors"] == mass_factors and c.get("n_resolved") == n_used
                    and abs(c["temperature_K"] - temperature_K) <= REPLICATE_TOLERANCE_K and "sigma_ln" in c):
                return c["diffusivity_cm2_s"], c["sigma_ln"], _pooled_dof(n_used, c.get("chi2"))
        return None
    group = (report.get("arrhenius") or {}).get(f"{structure}, {mass_factors}")
    if not group or group.get("mode") != "sigma_T":
        return None
    for t in group.get("temperatures") or []:
        if abs(t["set_temperature_K"] - temperature_K) <= REPLICATE_TOLERANCE_K and t["n_replicates"] == n_used:
            return t["value"], t["sigma_ln"], _pooled_dof(n_used, t.get("chi2"))
    return None


def arrhenius_line_level(report: dict, structure: str, mass_factors: str, temperature_K: float,
                         group_key: str = "arrhenius") -> Level:
    """The fitted Arrhenius line of a group at ``temperature_K``, with its 95 % interval.

    The line is the report's fit of the group's pooled points (``temperatures``), refitted with
    :func:`pydriver.analysis.diffusion.fit_line` (the same weighted least squares, weights
    ``1 / sigma_ln^2``, covariance scaled by the reduced chi^2 when above 1) to get the covariance the
    report does not store; the refit must give the report's Ea. The log error at T is
    ``sqrt(g^T C g)`` with ``g = (1/T, 1)``, Student t on ``n - 2`` where the covariance was scaled.
    For ``sigma_T`` the line is ``ln(sigma T)`` and the level is sigma (mS/cm); for ``D``, D; for the hop-rate
    group (``group_key="hop_rate_arrhenius"``), the hop rate. ``reason`` says ``extrapolated`` outside the
    fitted temperatures.

    Raises
    ------
    ValueError
        If the refit does not reproduce the report's Ea (the report was edited or made by other code).
    """
    label = f"{group_key.replace('_', ' ')} line, {structure}, {mass_factors}, {temperature_K:g} K"
    group = (report.get(group_key) or {}).get(f"{structure}, {mass_factors}")
    if group is None:
        return _missing(label, f"no {group_key.replace('_', ' ')} group {structure}, {mass_factors}")
    fit = group.get("fit")
    if fit is None:
        return _missing(label, f"no fit: {group.get('fit_reason')}", len(group.get("points") or []))
    mode = group["mode"]
    unit = {"sigma_T": "mS/cm", "D": "cm^2/s"}.get(mode, group.get("unit", ""))
    pts = group["temperatures"]
    t = np.array([p["temperature_K"] for p in pts], dtype=float)
    y = np.log([p["value"] * (p["temperature_K"] if mode == "sigma_T" else 1.0) for p in pts])
    w = 1.0 / np.square([p["sigma_ln"] for p in pts])
    slope, intercept, cov = fit_line(1.0 / t, y, w)
    if not math.isclose(-slope * BOLTZMANN_EV_K, fit["ea_eV"], rel_tol=1e-6, abs_tol=1e-9):
        raise ValueError(f"{label}: refit Ea {-slope * BOLTZMANN_EV_K:.6g} eV differs from the report's "
                         f"{fit['ea_eV']:.6g} eV")
    g = np.array([1.0 / temperature_K, 1.0])
    ln_value = slope / temperature_K + intercept - (math.log(temperature_K) if mode == "sigma_T" else 0.0)
    scaled = fit.get("birge_ratio") is not None and fit["birge_ratio"] > 1.0
    extrapolated = not t.min() <= temperature_K <= t.max()
    return Level(label, float(math.exp(ln_value)), float(math.sqrt(g @ cov @ g)), "log",
                 float(len(t) - 2) if scaled else math.inf, None, len(group["points"]),
                 sum(p["n_replicates"] for p in pts), unit,
                 f"extrapolated from {t.min():.0f}-{t.max():.0f} K" if extrapolated else None)


def ea_level(report: dict, structure: str, mass_factors: str, group_key: str = "arrhenius") -> Level:
    """Activation energy (eV) of a group's Arrhenius fit (``group_key``: ``arrhenius`` for the MSD-based D
    or sigma, ``hop_rate_arrhenius`` for hop rates), linear scale, the degrees of freedom of its 95 % interval."""
    label = f"Ea ({group_key.replace('_', ' ')}), {structure}, {mass_factors}"
    group = (report.get(group_key) or {}).get(f"{structure}, {mass_factors}")
    if group is None:
        why = ("no hop numbers (analysed without the mechanism)" if group_key == "hop_rate_arrhenius"
               else f"no runs of {structure}, {mass_factors}")
        return _missing(label, why, 0, "eV", "linear")
    n_runs = len(group.get("points") or [])
    fit = group.get("fit")
    if fit is None:
        return _missing(label, f"no fit: {group.get('fit_reason')}", n_runs, "eV", "linear")
    n_used = sum(p.get("n_replicates", 1) for p in group.get("temperatures") or [])
    return Level(label, float(fit["ea_eV"]), float(fit["ea_std_eV"]), "linear",
                 _interval_dof(fit.get("ea_ci95_eV"), fit["ea_std_eV"], False), None, n_runs, n_used, "eV",
                 f"{len(group.get('temperatures') or [])} temperatures")


def hop_rate_level(report: dict, structure: str, mass_factors: str, temperature_K: float) -> Level:
    """Na hop rate per ion (1/ps): the hop-rate group's pooled point at the set point; a condition without
    hops is an upper bound (the largest of its runs' 95 % Poisson limits)."""
    label = _label("hop rate", structure, mass_factors, temperature_K)
    group = (report.get("hop_rate_arrhenius") or {}).get(f"{structure}, {mass_factors}")
    rows = condition_rows(report, structure, mass_factors, temperature_K)
    if group is None:
        return _missing(label, "no hop numbers (analysed without the mechanism)", len(rows), "1/ps")
    points = [p for p in group["points"] if abs(p["set_temperature_K"] - temperature_K) <= REPLICATE_TOLERANCE_K]
    if not points:
        return _missing(label, f"no runs of {structure}, {mass_factors} at {temperature_K:g} K", 0, "1/ps")
    for t in group.get("temperatures") or []:
        if abs(t["set_temperature_K"] - temperature_K) <= REPLICATE_TOLERANCE_K:
            n = t["n_replicates"]
            dof = _pooled_dof(n, t.get("chi2"))
            if n == 1:  # one run: the degrees of freedom of its own 95 % interval
                run = next(p["run_dir"] for p in points if p["included"])
                ci95 = next((r.get(f"{HOP_RATE_KEY}_ci95") for r in rows if r["run_dir"] == run), None)
                dof = _interval_dof(ci95, t["sigma_ln"], True)
            return Level(label, t["value"], t["sigma_ln"], "log", dof, None, len(points), n, "1/ps")
    bounds = [p["upper_bound"] for p in points if p.get("upper_bound") is not None]
    if bounds:
        return Level(label, float(max(bounds)), None, "log", math.inf, "upper", len(points), 0, "1/ps",
                     "no hops: 95 % upper bound")
    return _missing(label, "; ".join(sorted({str(p["excluded_reason"]) for p in points})), len(points), "1/ps")


def _per_run_log_level(label: str, rows: list[dict], unit: str, value_sigma, lower_key: str | None = None) -> Level:
    """Runs' (value, sigma_ln) pooled with the report's rule; a one-run level keeps that run's quantile."""
    solid = _solid(rows)
    if not rows or not solid:
        return _missing(label, "no runs" if not rows else "framework not solid", len(rows), unit)
    pairs = [value_sigma(r) for r in solid]
    used = [(v, s, dof) for v, s, dof in pairs if _positive(v) and _positive(s)]
    if not used:
        bounds = [r.get(lower_key) for r in solid if lower_key and _positive(r.get(lower_key))]
        if bounds:  # each a lower limit of the same quantity: the smallest is conservative
            return Level(label, float(min(bounds)), None, "log", math.inf, "lower", len(rows), 0, unit,
                         "not resolved within the run: lower bound")
        return _missing(label, "not resolved in any run", len(rows), unit)
    note = None if len(used) == len(rows) else f"{len(rows) - len(used)} of {len(rows)} run(s) not used"
    if len(used) == 1:
        v, s, dof = used[0]
        return Level(label, float(v), float(s), "log", dof, None, len(rows), 1, unit, note)
    return _pool_runs(label, [u[0] for u in used], [u[1] for u in used], len(rows), unit, note)


def reorientation_level(report: dict, structure: str, mass_factors: str, temperature_K: float, kind: str,
                        l: int = 1) -> Level:
    """Reorientation time tau_l (ps) of one anion kind (``tau_std_ps = tau * sigma_ln``, the jackknife of
    ``ln tau`` over anions, docs/analysis.md "Reorientation"; normal quantile: the row keeps no anion count).
    Anions that do not turn within any run give a lower bound (the smallest of the runs')."""
    prefix = f"reorientation_{kind}_tau_{l}"

    def value_sigma(r):
        tau, std = r.get(f"{prefix}_ps"), r.get(f"{prefix}_std_ps")
        return tau, (std / tau if _positive(tau) and _positive(std) else None), math.inf

    return _per_run_log_level(_label(f"{kind} tau_{l}", structure, mass_factors, temperature_K),
                              condition_rows(report, structure, mass_factors, temperature_K), "ps", value_sigma,
                              f"{prefix}_lower_bound_ps")


def coupling_level(report: dict, structure: str, mass_factors: str, temperature_K: float, kind: str) -> Level:
    """Rotation-hop coupling factor of one anion kind (hop rate near a turning anion over the rate otherwise;
    1 = no coupling). Its 95 % interval is exp(ln RR +/- 1.96 se) (Greenland & Robins 1985), so
    ``sigma_ln = ln(hi / lo) / (2 x 1.96)``, normal."""
    key = f"coupling_{kind}_factor"

    def value_sigma(r):
        value, ci = r.get(key), r.get(f"{key}_ci95")
        ok = _positive(value) and ci and _positive(ci[0]) and _positive(ci[1])
        return value, (math.log(ci[1] / ci[0]) / (2.0 * Z95) if ok else None), math.inf

    return _per_run_log_level(_label(f"{kind} coupling factor", structure, mass_factors, temperature_K),
                              condition_rows(report, structure, mass_factors, temperature_K), "", value_sigma)


def fraction_counts(report: dict, structure: str, mass_factors: str, temperature_K: float,
                    definition: str = "msd_21A2") -> dict:
    """Mobile-Na count of a condition, replicates summed: ``k`` mobile of ``n`` Na.

    ``definition``: ``msd_21A2`` (own MSD >= 21 A^2 at half the run), ``d_threshold`` (own D resolved above
    3.5e-7 cm^2/s) or ``hops`` (>= 2 net site-to-site hops; ``active.fraction_hops``); docs/analysis.md.
    Per run ``n`` is ``active_n_ions`` and ``k`` the fraction times ``n`` (exact counts: the fraction is
    ``k / n``). Runs whose framework is not solid are left out.

    Returns
    -------
    dict -- ``label``, ``definition``, ``k``, ``n`` (None without data), ``fraction``, ``n_runs``, ``n_used``,
    ``reason``.
    """
    if definition not in FRACTIONS:
        raise ValueError(f"mobile-Na definition {definition!r}; allowed {tuple(FRACTIONS)}")
    column = FRACTIONS[definition]
    rows = condition_rows(report, structure, mass_factors, temperature_K)
    used = [r for r in _solid(rows) if r.get(column) is not None and r.get("active_n_ions")]
    out = {"label": _label(f"mobile Na ({definition})", structure, mass_factors, temperature_K),
           "definition": definition, "k": None, "n": None, "fraction": None, "n_runs": len(rows),
           "n_used": len(used), "reason": None}
    if not used:
        out["reason"] = "no runs" if not rows else f"no {definition} counts in the runs (analysed before they existed)"
        return out
    k = sum(int(round(float(r[column]) * int(r["active_n_ions"]))) for r in used)
    n = sum(int(r["active_n_ions"]) for r in used)
    out.update({"k": k, "n": n, "fraction": k / n})
    return out


def slab_time_counts(report: dict, structure: str, mass_factors: str, temperature_K: float, kind: str) -> dict:
    """Na time in one anion kind's slabs (``sites.slabs``, o-NBH) of a condition, replicates summed by ion.

    Per run ``n`` is ``slab_n_ions`` and ``k`` is ``slab_time_<kind> x n``: each ion counts the fraction
    of its frames it spent in those slabs, so ``k`` is fractional and ``k / n`` is the ion-weighted
    fraction of the Na time (the count of each run's own Jeffreys interval). Runs whose framework is
    not solid are left out.

    Returns
    -------
    dict -- ``label``, ``kind``, ``k``, ``n`` (None without data), ``fraction``, ``n_runs``, ``n_used``,
    ``reason`` (why there is no number: no runs, no slabs, or analysed without ``sites.slabs``).
    """
    column = f"slab_time_{kind}"
    rows = condition_rows(report, structure, mass_factors, temperature_K)
    solid = _solid(rows)
    used = [r for r in solid if r.get("slab_n_ions") and r.get(column) is not None]
    out = {"label": _label(f"Na time in {kind} slabs", structure, mass_factors, temperature_K), "kind": kind,
           "k": None, "n": None, "fraction": None, "n_runs": len(rows), "n_used": len(used), "reason": None}
    if not used:
        flat = sorted({str(r["slabs_reason"]) for r in solid if r.get("slabs_reason")})
        out["reason"] = ("no runs" if not rows else "framework not solid" if not solid
                         else f"no anion slabs: {'; '.join(flat)}" if flat
                         else "no anion-slab numbers in the runs (analysed without sites.slabs: re-run analyze)")
        return out
    n = sum(int(r["slab_n_ions"]) for r in used)
    k = min(float(n), sum(float(r[column]) * int(r["slab_n_ions"]) for r in used))
    out.update({"k": k, "n": n, "fraction": k / n})
    return out
