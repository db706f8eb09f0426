"""M3GNet's three-body bond update in two exact formulations (TorchScript-able helpers).

matgl's ``ThreeBodyInteractions`` (Chen & Ong, Nat. Comput. Sci. 2, 718 (2022), eq. 2) updates each
short bond ij (r_ij <= threebody cutoff) with

    t_ij[c] = sum_{k != j} R_c(r_ik) fc(r_ij) fc(r_ik) Y_l(c)^0(cos theta_jik) gate_c(k)

over the other short bonds ik of the same source atom i (c = (l, n) column, l-major).

* ``triples``: the literal sum over an explicit list of (ij, ik) pairs, O(triples) memory
  (~730 triples per atom in NaBH4). matgl clamps cos(theta) to [-1 + eps, 1 - eps]; so do we.
* ``density``: the addition theorem of spherical harmonics,
  P_l(u . v) = sum_k p_lk (u . v)^k = sum_alpha w_l(alpha) u^alpha v^alpha  (Cartesian monomials
  u^alpha = ux^a uy^b uz^c with |alpha| <= l; w_l(alpha) = p_{l,|alpha|} |alpha|! / alpha!),
  turns the sum into a per-atom density  D_i[c, alpha] = sum_k R_c(r_ik) fc(r_ik) gate_c(k) u_ik^alpha
  contracted per bond with u_ij^alpha, minus the k = j self term (P_l(1) = 1):

    t_ij[c] = fc(r_ij) s_l [ sum_alpha w_l(alpha) u_ij^alpha D_i[c, alpha] - R_c(r_ij) fc(r_ij) gate_c(j) ]

  with s_l = sqrt((2l+1)/4pi) (Y_l^0 = s_l P_l). Memory is O(bonds). The only difference to the
  triple form is matgl's cos clamp, which matters only for exactly collinear triples (~1e-10 eV).
"""

from __future__ import annotations

import math
from typing import List

import numpy as np
import torch

THREEBODY_MODES = ("density", "triples")


def legendre_coefficients(max_l: int) -> np.ndarray:
    """Power-series coefficients p[l, k] of P_l(c) = sum_k p[l, k] c^k for l < max_l."""
    coef = np.zeros((max(max_l, 2), max(max_l, 2)))
    coef[0, 0] = 1.0
    coef[1, 1] = 1.0
    for l_order in range(1, max_l - 1):  # (l+1) P_{l+1} = (2l+1) c P_l - l P_{l-1}
        coef[l_order + 1, 1:] += (2 * l_order + 1) * coef[l_order, :-1]
        coef[l_order + 1] -= l_order * coef[l_order - 1]
        coef[l_order + 1] /= l_order + 1
    return coef[:max_l, :max_l]


def monomial_tables(max_l: int) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int, int]]]:
    """Cartesian monomials u^alpha with |alpha| < max_l, each built from a lower one times one coordinate.

    Returns ``parent`` and ``coord`` (A,) int arrays (monomial a = monomial parent[a] * u[coord[a]];
    entry 0 is the constant 1 with parent = coord = -1) and the exponent tuples alpha.
    """
    alphas: list[tuple[int, int, int]] = [(0, 0, 0)]
    parent = [-1]
    coord = [-1]
    level = [0]
    for _ in range(1, max_l):
        nxt = []
        for a in level:
            base = alphas[a]
            last = max([d for d in range(3) if base[d] > 0], default=0)
            for d in range(last, 3):  # each monomial once: coordinates added in non-decreasing order
                new = list(base)
                new[d] += 1
                alphas.append(tuple(new))
                parent.append(a)
                coord.append(d)
                nxt.append(len(alphas) - 1)
        level = nxt
    return np.array(parent), np.array(coord), alphas


def density_weights(max_l: int, max_n: int) -> torch.Tensor:
    """W[c, a] = s_l p_{l,|alpha|} |alpha|!/alpha! for column c = l * max_n + n; (max_l*max_n, A) float64."""
    coef = legendre_coefficients(max_l)
    _, _, alphas = monomial_tables(max_l)
    w = np.zeros((max_l * max_n, len(alphas)))
    for l_order in range(max_l):
        s_l = math.sqrt((2 * l_order + 1) / (4 * math.pi))
        for a, alpha in enumerate(alphas):
            k = sum(alpha)
            multinomial = math.factorial(k) / np.prod([math.factorial(x) for x in alpha])
            w[l_order * max_n:(l_order + 1) * max_n, a] = s_l * coef[l_order, k] * multinomial
    return torch.tensor(w)


def monomials(unit: torch.Tensor, parent: List[int], coord: List[int]) -> torch.Tensor:
    """u^alpha for every row of ``unit`` (Es, 3) in the order of :func:`monomial_tables`: (Es, A)."""
    cols = [torch.ones_like(unit[:, 0])]
    for a in range(1, len(parent)):
        cols.append(cols[parent[a]] * unit[:, coord[a]])
    return torch.stack(cols, dim=1)


def density_update(gate: torch.Tensor, n_nodes: int, src: torch.Tensor, dst: torch.Tensor,
                   radial_fc: torch.Tensor, fc: torch.Tensor, mono: torch.Tensor, weight: torch.Tensor,
                   self_scale: torch.Tensor) -> torch.Tensor:
    """Three-body update t (Es, C) of the short bonds src -> dst (see the module docstring).

    gate : (N, C) per-node gates; radial_fc : (Es, C) R_c(r) fc(r); fc : (Es,); mono : (Es, A);
    weight : (C, A) ``density_weights``; self_scale : (C,) s_l of each column.
    """
    g = radial_fc * gate.index_select(0, dst)  # (Es, C)
    per_bond = g[:, :, None] * mono[:, None, :]  # (Es, C, A)
    dens = torch.zeros(n_nodes, per_bond.shape[1], per_bond.shape[2], dtype=g.dtype, device=g.device)
    dens = dens.index_add(0, src, per_bond) * weight[None, :, :]
    contracted = torch.bmm(dens.index_select(0, src), mono[:, :, None]).squeeze(2)  # (Es, C)
    return fc[:, None] * (contracted - self_scale[None, :] * g)
