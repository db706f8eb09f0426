"""Small TorchScript-able layers of M3GNet, built from a matgl state dict (no matgl import).

``DenseStack`` is matgl's ``MLP``; ``GatedStack`` is matgl's ``GatedMLP``: ``layers(x) * gates(x)``
where hidden layers use SiLU, the last ``layers`` Linear is SiLU-activated only if ``activate_last``,
and the last ``gates`` Linear is followed by a sigmoid.
"""

from __future__ import annotations

import re

import torch
from torch import nn


def linear_indices(state: dict[str, torch.Tensor], prefix: str) -> list[int]:
    """Sorted indices i of ``{prefix}.{i}.weight`` keys in ``state``."""
    pat = re.compile(re.escape(prefix) + r"\.(\d+)\.weight$")
    return sorted(int(m.group(1)) for k in state if (m := pat.match(k)))


def linear_from_state(state: dict[str, torch.Tensor], prefix: str) -> nn.Linear:
    """An ``nn.Linear`` holding ``{prefix}.weight`` (and ``{prefix}.bias`` if present)."""
    weight = state[f"{prefix}.weight"]
    bias = state.get(f"{prefix}.bias")
    lin = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
    with torch.no_grad():
        lin.weight.copy_(weight)
        if bias is not None:
            lin.bias.copy_(bias)
    return lin


def linears_from_state(state: dict[str, torch.Tensor], prefix: str) -> nn.ModuleList:
    idx = linear_indices(state, prefix)
    if not idx:
        raise KeyError(f"no linear layers under {prefix!r} in the state dict")
    return nn.ModuleList([linear_from_state(state, f"{prefix}.{i}") for i in idx])


class DenseStack(nn.Module):
    """matgl ``MLP``: Linear layers with ``activation`` between them (and after the last if asked)."""

    def __init__(self, linears: nn.ModuleList, activation: str, activate_last: bool) -> None:
        super().__init__()
        self.linears = linears
        self.sigmoid_act = activation == "sigmoid"
        self.activate_last = activate_last
        self.n = len(linears)

    def _act(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(x) if self.sigmoid_act else nn.functional.silu(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, lin in enumerate(self.linears):
            x = lin(x)
            if i < self.n - 1 or self.activate_last:
                x = self._act(x)
        return x

    @staticmethod
    def from_state(state: dict[str, torch.Tensor], prefix: str, activation: str, activate_last: bool) -> DenseStack:
        return DenseStack(linears_from_state(state, prefix), activation, activate_last)


class GatedStack(nn.Module):
    """matgl ``GatedMLP``: ``layers(x) * gates(x)``."""

    def __init__(self, layers: nn.ModuleList, gates: nn.ModuleList, activate_last: bool) -> None:
        super().__init__()
        self.layers = layers
        self.gates = gates
        self.activate_last = activate_last
        self.n = len(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = x
        for i, lin in enumerate(self.layers):
            a = lin(a)
            if i < self.n - 1 or self.activate_last:
                a = nn.functional.silu(a)
        g = x
        for i, lin in enumerate(self.gates):
            g = lin(g)
            g = nn.functional.silu(g) if i < self.n - 1 else torch.sigmoid(g)
        return a * g

    @staticmethod
    def from_state(state: dict[str, torch.Tensor], prefix: str, activate_last: bool) -> GatedStack:
        return GatedStack(linears_from_state(state, f"{prefix}.layers"),
                          linears_from_state(state, f"{prefix}.gates"), activate_last)


class GatedEdgeStack(nn.Module):
    """A ``GatedStack`` applied to ``cat([v[src], v[dst], e])`` without building the concatenation.

    The first Linear of ``layers`` and ``gates`` is split by input block: the node blocks are applied
    once per node and gathered per edge, so the per-edge cost of the first layer drops from
    (2F + Fe) x H to Fe x H. Mathematically identical to matgl's GatedMLP on the concatenation.
    Each path (layers ``a``, gates ``g``) has its own contiguous node projections (gathered with
    ``index_select``, whose backward is a cheap ``index_add``), and the edge product is an ``addmm``
    onto the gathered sum, so no (E, 2H) tensor is sliced and no extra pass over E x H is made.
    """

    def __init__(self, gated: GatedStack, node_dim: int) -> None:
        super().__init__()
        self.hidden = int(gated.layers[0].weight.shape[0])
        self.src_a, self.dst_a, self.edge_a = self._split(gated.layers[0], node_dim)
        self.src_g, self.dst_g, self.edge_g = self._split(gated.gates[0], node_dim)
        self.layers = nn.ModuleList(list(gated.layers)[1:])
        self.gates = nn.ModuleList(list(gated.gates)[1:])
        self.activate_last = gated.activate_last
        self.n = len(self.layers)

    @staticmethod
    def _split(first: nn.Linear, node_dim: int) -> tuple[nn.Linear, nn.Linear, nn.Linear]:
        """(src part with the bias, dst part, edge part) of a Linear on cat([v_src, v_dst, e])."""
        weight = first.weight
        out_dim = int(weight.shape[0])
        src = nn.Linear(node_dim, out_dim, bias=True)
        dst = nn.Linear(node_dim, out_dim, bias=False)
        edge = nn.Linear(int(weight.shape[1]) - 2 * node_dim, out_dim, bias=False)
        with torch.no_grad():
            src.weight.copy_(weight[:, :node_dim])
            src.bias.copy_(first.bias)
            dst.weight.copy_(weight[:, node_dim:2 * node_dim])
            edge.weight.copy_(weight[:, 2 * node_dim:])
        return src, dst, edge

    def forward(self, node_feat: torch.Tensor, edge_feat: torch.Tensor, src: torch.Tensor,
                dst: torch.Tensor) -> torch.Tensor:
        a = torch.addmm(self.src_a(node_feat).index_select(0, src) + self.dst_a(node_feat).index_select(0, dst),
                        edge_feat, self.edge_a.weight.t())
        g = torch.addmm(self.src_g(node_feat).index_select(0, src) + self.dst_g(node_feat).index_select(0, dst),
                        edge_feat, self.edge_g.weight.t())
        last = self.n == 0
        a = nn.functional.silu(a) if (not last or self.activate_last) else a
        g = torch.sigmoid(g) if last else nn.functional.silu(g)
        for i, lin in enumerate(self.layers):
            a = lin(a)
            if i < self.n - 1 or self.activate_last:
                a = nn.functional.silu(a)
        for i, lin in enumerate(self.gates):
            g = lin(g)
            g = nn.functional.silu(g) if i < self.n - 1 else torch.sigmoid(g)
        return a * g
