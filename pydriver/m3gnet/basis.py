"""Radial and angular bases of M3GNet exactly as matgl 1.x defines them (TorchScript-able).

* Spherical Bessel radial basis (``use_smooth=False``), Chen & Ong, Nat. Comput. Sci. 2, 718 (2022),
  eq. 1: ``sqrt(2/rc^3) j_l(z_ln r/rc) / |j_{l+1}(z_ln)|`` for l < max_l, n < max_n, ``r`` clamped to rc,
  with z_ln the n-th root of j_l. matgl stores the roots in float32; we round them the same way so that
  float64 exports reproduce the float64 reference.
* Smooth spherical Bessel basis (``use_smooth=True``), Kocer et al., J. Chem. Phys. 150, 154102 (2019)
  (arXiv:1907.02374), as matgl's ``_get_lambda_func``.
* Real spherical harmonics Y_l^0(cos theta) = sqrt((2l+1)/4pi) P_l(cos theta) (no phi dependence).
* Polynomial envelope 1 - 10 x^3 + 15 x^4 - 6 x^5 (Gasteiger et al., arXiv:2003.03123), used as the
  three-body cutoff.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.optimize import brentq
from scipy.special import spherical_jn


def spherical_bessel_roots(max_l: int, max_n: int) -> np.ndarray:
    """First ``max_n`` positive roots of j_l for l < max_l, shape (max_l, max_n), float64."""
    roots = np.zeros((max_l, max_n))
    for l_order in range(max_l):
        found: list[float] = []
        x = 1e-3
        step = 0.1
        prev = spherical_jn(l_order, x)
        while len(found) < max_n:
            x_next = x + step
            cur = spherical_jn(l_order, x_next)
            if prev * cur < 0:
                found.append(brentq(lambda t: spherical_jn(l_order, t), x, x_next, xtol=1e-15, rtol=1e-15))
            x, prev = x_next, cur
        roots[l_order] = found
    return roots


def spherical_jn_torch(order: int, x: torch.Tensor) -> torch.Tensor:
    """Spherical Bessel j_0..j_order of ``x`` by upward recurrence; returns (..., order+1).

    The explicit forms (what sympy's ``expand_func(jn)`` gives, as used by matgl) follow from the same
    recurrence j_{l+1} = (2l+1)/x j_l - j_{l-1}.
    """
    sin_x = torch.sin(x)
    cos_x = torch.cos(x)
    j_prev = sin_x / x
    out = [j_prev]
    if order >= 1:
        j_cur = sin_x / (x * x) - cos_x / x
        out.append(j_cur)
        for l_order in range(1, order):
            j_next = (2 * l_order + 1) / x * j_cur - j_prev
            out.append(j_next)
            j_prev, j_cur = j_cur, j_next
    return torch.stack(out, dim=-1)


def _sympy_jn_float32(order: int, x: torch.Tensor) -> torch.Tensor:
    """j_order(x) evaluated in float32 from sympy's expanded closed form, exactly as matgl does."""
    import sympy  # noqa: PLC0415  (a torch dependency; only needed at export time)

    sym = sympy.symbols("x")
    func = sympy.lambdify(sym, sympy.expand_func(sympy.functions.special.bessel.jn(order, sym)), torch)
    return func(x.to(torch.float32))


class SphericalBesselBasis(torch.nn.Module):
    """matgl's ``SphericalBesselFunction(max_l, max_n, cutoff, smooth=False)``: (E,) -> (E, max_l*max_n).

    Columns are ordered l-major: [l=0: n=0..max_n-1, l=1: ..., ...].
    """

    def __init__(self, max_l: int, max_n: int, cutoff: float) -> None:
        super().__init__()
        self.max_l = max_l
        self.max_n = max_n
        self.cutoff = cutoff
        roots32 = spherical_bessel_roots(max_l, max_n).astype(np.float32)  # matgl keeps float32 roots
        # matgl evaluates the normalisation |j_{l+1}(root)| in float32, with sympy's expanded formulas
        norm = torch.stack([_sympy_jn_float32(l_order + 1, torch.tensor(roots32[l_order])).abs()
                            for l_order in range(max_l)])
        self.register_buffer("roots", torch.tensor(roots32.astype(np.float64)).reshape(-1))
        self.register_buffer("scale", (math.sqrt(2.0 / cutoff**3) / norm.double()).reshape(-1))
        self.register_buffer("l_index", torch.arange(max_l).repeat_interleave(max_n))

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        r_c = torch.clamp(r, max=self.cutoff)
        x = r_c[:, None] * self.roots[None, :] / self.cutoff  # (E, L*N)
        j_all = spherical_jn_torch(self.max_l - 1, x)  # (E, L*N, max_l)
        j_sel = torch.gather(j_all, 2, self.l_index.view(1, -1, 1).expand(x.shape[0], -1, 1)).squeeze(2)
        return j_sel * self.scale[None, :]


class SmoothBesselBasis(torch.nn.Module):
    """matgl's smooth basis ``_get_lambda_func(max_n, cutoff)``: (E,) -> (E, max_n)."""

    def __init__(self, max_n: int, cutoff: float) -> None:
        super().__init__()
        self.max_n = max_n
        self.cutoff = cutoff
        n = np.arange(max_n, dtype=np.float64)
        pref = (-1.0) ** n * math.sqrt(2.0) * math.pi / cutoff**1.5 * (n + 1) * (n + 2) / np.sqrt(
            (n + 1) ** 2 + (n + 2) ** 2)
        en = n**2 * (n + 2) ** 2 / (4 * (n + 1) ** 4 + 1)
        dn = [1.0]
        for i in range(1, max_n):
            dn.append(1 - en[i] / dn[-1])
        self.register_buffer("pref", torch.tensor(pref))
        self.register_buffer("en", torch.tensor(en))
        self.register_buffer("dn", torch.tensor(dn))

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        n = torch.arange(self.max_n, dtype=r.dtype, device=r.device)
        a = r[:, None] * (n[None, :] + 1) * math.pi / self.cutoff
        b = r[:, None] * (n[None, :] + 2) * math.pi / self.cutoff
        fnr = self.pref[None, :] * (torch.sin(a) / a + torch.sin(b) / b)
        g = [fnr[:, 0]]
        for i in range(1, self.max_n):
            g.append((fnr[:, i] + torch.sqrt(self.en[i] / self.dn[i - 1]) * g[i - 1]) / torch.sqrt(self.dn[i]))
        return torch.stack(g, dim=1)


def spherical_harmonics_m0(max_l: int, cos_theta: torch.Tensor) -> torch.Tensor:
    """Y_l^0(cos theta) for l < max_l via the Legendre recurrence: (T,) -> (T, max_l)."""
    p_prev = torch.ones_like(cos_theta)
    out = [p_prev * math.sqrt(1.0 / (4 * math.pi))]
    if max_l > 1:
        p_cur = cos_theta
        out.append(p_cur * math.sqrt(3.0 / (4 * math.pi)))
        for l_order in range(1, max_l - 1):
            p_next = ((2 * l_order + 1) * cos_theta * p_cur - l_order * p_prev) / (l_order + 1)
            out.append(p_next * math.sqrt((2 * l_order + 3) / (4 * math.pi)))
            p_prev, p_cur = p_cur, p_next
    return torch.stack(out, dim=1)


def polynomial_cutoff(r: torch.Tensor, cutoff: float) -> torch.Tensor:
    """Envelope 1 - 10x^3 + 15x^4 - 6x^5 with x = r/cutoff; zero beyond the cutoff."""
    x = r / cutoff
    env = 1.0 - 10.0 * x**3 + 15.0 * x**4 - 6.0 * x**5
    return torch.where(r <= cutoff, env, torch.zeros_like(env))
