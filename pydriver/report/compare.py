"""Comparisons of conditions with 95 % intervals, and verdicts on claims by stated rules.

The inputs are :class:`pydriver.report.levels.Level` (one condition's number, read from a
``report.json``) and the mobile-Na counts of :func:`pydriver.report.levels.fraction_counts`:

* :func:`ratio` of two log-scale levels (D, sigma, hop rates, reorientation times, coupling
  factors): ``ln(a / b) = ln a - ln b`` with ``sigma = sqrt(sigma_a^2 + sigma_b^2)`` (independent
  conditions) and a Student-t quantile on the Welch-Satterthwaite degrees of freedom
  ``(s_a^2 + s_b^2)^2 / (s_a^4 / nu_a + s_b^4 / nu_b)`` (Welch, Biometrika 34 (1947) 28;
  Satterthwaite, Biometrics Bull. 2 (1946) 110), normal when both are normal. When a level is a
  one-sided bound the ratio is one too: ``a / b >= a_low / b_high`` and ``a / b <= a_high / b_low``,
  each end a one-sided 97.5 % limit (the ends of the levels' two-sided 95 % intervals, or their
  bounds), so a bound holds with >= 0.975^2 = 95 % probability for independent conditions. A
  condition that is not diffusive (an upper bound on D) thus gives a lower bound on the ratio of a
  diffusive one to it.
* :func:`difference` of two linear levels (Ea of two Arrhenius groups): ``a - b``, the same error
  and degrees of freedom.
* :func:`fraction_difference` of two mobile-Na fractions ``k_a / n_a - k_b / n_b``: the MOVER
  interval (Newcombe, Stat. Med. 17 (1998) 873, method 10; Zou & Donner, Stat. Med. 27 (2008) 1693)
  built from the two Jeffreys 95 % intervals the report uses for one fraction
  (:func:`pydriver.analysis.active.jeffreys_interval`): ``L = d - sqrt((p_a - l_a)^2 + (u_b - p_b)^2)``,
  ``U = d + sqrt((u_a - p_a)^2 + (p_b - l_b)^2)``. It counts ions as independent trials, as the
  report's interval does; ions that hop together make the true spread larger.

Every comparison is a JSON-ready dict: ``kind`` (``ratio``, ``difference``), ``a``, ``b`` (the levels),
``estimate`` (None for a bound), ``ci95`` ([low, high], None for an open end; both None when nothing
is determined), ``bound`` (None, ``lower``, ``upper`` or ``none``), ``sigma``, ``dof``, ``method``,
``reason``.

Verdicts (:func:`verdict`): ``supported`` when the 95 % interval excludes the null value on the
claimed side, ``contradicted`` when it excludes it on the other side, otherwise ``not resolved at
this cost``. :func:`equivalence_verdict` judges a claim of *little change*: supported when the
interval lies within +/- the margin, contradicted when it lies wholly outside it.
"""

from __future__ import annotations

import math

from scipy import stats

from pydriver.analysis.active import jeffreys_interval
from pydriver.report.levels import Z95, Level

SUPPORTED = "supported"
NOT_RESOLVED = "not resolved at this cost"
CONTRADICTED = "contradicted"
VERDICTS = (SUPPORTED, NOT_RESOLVED, CONTRADICTED)


def welch_dof(s_a: float, nu_a: float, s_b: float, nu_b: float) -> float:
    """Welch-Satterthwaite degrees of freedom of ``s_a^2 + s_b^2`` (``inf`` when both are infinite)."""
    terms = [s**4 / nu for s, nu in ((s_a, nu_a), (s_b, nu_b)) if not math.isinf(nu) and s > 0]
    if not terms:
        return math.inf
    return (s_a**2 + s_b**2) ** 2 / sum(terms)


def _q95(dof: float) -> float:
    return Z95 if math.isinf(dof) else float(stats.t.ppf(0.975, dof))


def _result(kind: str, a: Level, b: Level, estimate=None, ci95=(None, None), bound=None, sigma=None,
            dof=None, method="", reason=None) -> dict:
    return {"kind": kind, "a": a.as_dict(), "b": b.as_dict(), "estimate": estimate,
            "ci95": [ci95[0], ci95[1]], "bound": bound, "sigma": sigma,
            "dof": None if dof is None or math.isinf(dof) else dof, "method": method, "reason": reason}


def _missing_reason(a: Level, b: Level) -> str | None:
    missing = [f"{x.label}: {x.reason or 'no value'}" for x in (a, b) if x.value is None]
    return "; ".join(missing) if missing else None


def ratio(a: Level, b: Level) -> dict:
    """``a / b`` of two log-scale levels with its 95 % interval, or a one-sided bound (module docstring).

    Raises
    ------
    ValueError
        If a level is not on the log scale.
    """
    if a.scale != "log" or b.scale != "log":
        raise ValueError(f"ratio needs log-scale levels, got {a.scale} ({a.label}) and {b.scale} ({b.label})")
    reason = _missing_reason(a, b)
    if reason:
        return _result("ratio", a, b, bound="none", reason=reason)
    if a.resolved and b.resolved:
        d = math.log(a.value) - math.log(b.value)
        s = math.hypot(a.sigma, b.sigma)
        dof = welch_dof(a.sigma, a.dof, b.sigma, b.dof)
        q = _q95(dof)
        return _result("ratio", a, b, math.exp(d), (math.exp(d - q * s), math.exp(d + q * s)), None, s, dof,
                       "log ratio, errors in quadrature, Welch-Satterthwaite t" if not math.isinf(dof)
                       else "log ratio, errors in quadrature, normal")
    a_lo, a_hi = a.ci95()
    b_lo, b_hi = b.ci95()
    low = a_lo / b_hi if a_lo is not None and b_hi is not None and b_hi > 0 else None
    high = a_hi / b_lo if a_hi is not None and b_lo is not None and b_lo > 0 else None
    low = None if low is not None and low <= 0 else low
    if low is None and high is None:
        return _result("ratio", a, b, bound="none", method="bounds on the same side",
                       reason=f"both are {a.bound} bounds: the ratio is not determined")
    return _result("ratio", a, b, None, (low, high), "lower" if high is None else "upper", None, None,
                   "ratio of one-sided 97.5 % limits")


def difference(a: Level, b: Level) -> dict:
    """``a - b`` of two linear levels (e.g. Ea of two groups) with its 95 % interval."""
    if a.scale != "linear" or b.scale != "linear":
        raise ValueError(f"difference needs linear levels, got {a.scale} ({a.label}) and {b.scale} ({b.label})")
    reason = _missing_reason(a, b)
    if reason or not (a.resolved and b.resolved):
        return _result("difference", a, b, bound="none", reason=reason or "a level is a bound")
    d = a.value - b.value
    s = math.hypot(a.sigma, b.sigma)
    dof = welch_dof(a.sigma, a.dof, b.sigma, b.dof)
    q = _q95(dof)
    return _result("difference", a, b, d, (d - q * s, d + q * s), None, s, dof,
                   "difference, errors in quadrature, " + ("normal" if math.isinf(dof) else "Welch-Satterthwaite t"))


def fraction_difference(a: dict, b: dict) -> dict:
    """``k_a / n_a - k_b / n_b`` of two :func:`pydriver.report.levels.fraction_counts` with its MOVER 95 % interval."""
    def level(c: dict) -> Level:
        if c.get("k") is None:
            return Level(c["label"], None, scale="linear", n_runs=c["n_runs"], reason=c.get("reason"))
        return Level(c["label"], c["fraction"], None, "linear", math.inf, None, c["n_runs"], c["n_used"], "",
                     f"{c['k']} of {c['n']} Na")

    out = _result("difference", level(a), level(b), bound="none", method="MOVER with Jeffreys 95 % intervals",
                  reason=_missing_reason(level(a), level(b)))
    intervals = {}
    for name, c in (("a", a), ("b", b)):
        if c.get("k") is not None:
            intervals[name] = jeffreys_interval(c["k"], c["n"], 0.95)
            out[name]["ci95"] = list(intervals[name])
        out[name]["k"], out[name]["n"] = c.get("k"), c.get("n")
    if out["reason"]:
        return out
    (l_a, u_a), (l_b, u_b) = intervals["a"], intervals["b"]
    p_a, p_b = a["fraction"], b["fraction"]
    d = p_a - p_b
    out.update({"estimate": d, "ci95": [d - math.hypot(p_a - l_a, u_b - p_b), d + math.hypot(u_a - p_a, p_b - l_b)],
                "bound": None})
    return out


def verdict(comparison: dict, null: float, direction: str) -> str:
    """``supported`` / ``contradicted`` / ``not resolved at this cost`` of the claim ``estimate <direction> null``.

    ``direction``: ``">"`` (the claim is that the value exceeds ``null``) or ``"<"``. Supported when the
    95 % interval lies wholly on the claimed side of ``null``, contradicted when wholly on the other side;
    an open end (a bound) never excludes anything on its side.
    """
    if direction not in (">", "<"):
        raise ValueError(f"direction {direction!r}; allowed '>' or '<'")
    low, high = comparison["ci95"]
    above = low is not None and low > null
    below = high is not None and high < null
    if direction == ">":
        return SUPPORTED if above else CONTRADICTED if below else NOT_RESOLVED
    return SUPPORTED if below else CONTRADICTED if above else NOT_RESOLVED


def equivalence_verdict(comparison: dict, margin: float) -> str:
    """Verdict of a claim of *little change* (``|difference| < margin``): supported when the 95 % interval lies
    within ``[-margin, margin]``, contradicted when it lies wholly outside (beyond one side), else not resolved."""
    low, high = comparison["ci95"]
    if low is not None and high is not None and -margin <= low and high <= margin:
        return SUPPORTED
    if (low is not None and low > margin) or (high is not None and high < -margin):
        return CONTRADICTED
    return NOT_RESOLVED
