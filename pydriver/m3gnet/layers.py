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
    """

    def __init__(self, gated: GatedStack, node_dim: int) -> None:
        super().__init__()
        first_l = gated.layers[0]
        first_g = gated.gates[0]
        weight = torch.cat([first_l.weight, first_g.weight], dim=0)  # (2H, 2F + Fe)
        bias = torch.cat([first_l.bias, first_g.bias], dim=0)
        self.hidden = int(first_l.weight.shape[0])
        self.node_lin = nn.Linear(node_dim, 4 * self.hidden, bias=False)  # [src half; dst half]
        self.edge_lin = nn.Linear(weight.shape[1] - 2 * node_dim, 2 * self.hidden, bias=True)
        with torch.no_grad():
            self.node_lin.weight.copy_(torch.cat([weight[:, :node_dim], weight[:, node_dim:2 * node_dim]], dim=0))
            self.edge_lin.weight.copy_(weight[:, 2 * node_dim:])
            self.edge_lin.bias.copy_(bias)
        self.layers = nn.ModuleList(list(gated.layers)[1:])
        self.gates = nn.ModuleList(list(gated.gates)[1:])
        self.activate_last = gated.activate_last
        self.n = len(self.layers)

    def forward(self, node_feat: torch.Tensor, edge_feat: torch.Tensor, src: torch.Tensor,
                dst: torch.Tensor) -> torch.Tensor:
        node_proj = self.node_lin(node_feat)
        h2 = 2 * self.hidden
        pre = (self.edge_lin(edge_feat) + node_proj.narrow(1, 0, h2).index_select(0, src)
               + node_proj.narrow(1, h2, h2).index_select(0, dst))
        a = pre[:, :self.hidden]
        g = pre[:, self.hidden:]
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
