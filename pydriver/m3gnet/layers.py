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
