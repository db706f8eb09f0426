"""M3GNet potential energy surface as a TorchScript-able module over an explicit edge list.

Inputs (all on one device):

* ``species`` (N,) int64: element index (position in ``elements``) of each graph node.
* ``edge_index`` (2, E) int64: directed bonds ``src -> dst`` (both directions present, as in matgl).
* ``edge_vec`` (E, 3): ``r_dst - r_src`` in A (periodic image already applied).

Output: per-node energies (N,) in eV: ``data_std * readout + element_ref (+ ZBL share)``; the
structure-level ``data_mean`` is metadata (0 for all shipped checkpoints). Everything geometric
enters through ``edge_vec``, so forces and virial are exact sums over edges of ``dE/d edge_vec``.

The math is matgl 1.3.0's DGL M3GNet (Chen & Ong, Nat. Comput. Sci. 2, 718 (2022)) with each
three-body term acting on its own bonds (matgl 1.3.0's pruned-vs-full bond index mix-up corrected).
The embedding, each interaction block and the readout are separate exported methods so that an MPI
halo exchange can run them one at a time.
"""

from __future__ import annotations

import math
from typing import List, Tuple

import torch
from torch import nn

from pydriver.m3gnet.basis import (
    SmoothBesselBasis,
    SphericalBesselBasis,
    polynomial_cutoff,
    spherical_harmonics_m0,
)
from pydriver.m3gnet.checkpoint import M3GNetCheckpoint
from pydriver.m3gnet.layers import DenseStack, GatedEdgeStack, GatedStack, linear_from_state
from pydriver.m3gnet.threebody import THREEBODY_MODES, density_update, density_weights, monomial_tables, monomials

COS_EPS = 1e-7  # matgl clamps cos(theta) to [-1 + eps, 1 - eps]
ZBL_KE_EV_A = 14.399645351950548  # e^2 / (4 pi eps0) in eV A, as matgl's NuclearRepulsion
ZBL_A0_A = 0.5291772105638411


class InteractionBlock(nn.Module):
    """One three-body interaction followed by one M3GNet graph convolution."""

    def __init__(self, state: dict[str, torch.Tensor], tb_prefix: str, gc_prefix: str, density: bool,
                 tb_weight: torch.Tensor, tb_self_scale: torch.Tensor) -> None:
        super().__init__()
        self.atom_gate = DenseStack.from_state(state, f"{tb_prefix}.update_network_atom.layers", "sigmoid", True)
        self.bond_update = GatedStack.from_state(state, f"{tb_prefix}.update_network_bond", True)
        node_dim = int(state[f"{tb_prefix}.update_network_atom.layers.0.weight"].shape[1])
        self.edge_update = GatedEdgeStack(GatedStack.from_state(state, f"{gc_prefix}.conv.edge_update_func", True),
                                          node_dim)
        self.edge_weight = linear_from_state(state, f"{gc_prefix}.conv.edge_weight_func")
        self.node_update = GatedEdgeStack(GatedStack.from_state(state, f"{gc_prefix}.conv.node_update_func", True),
                                          node_dim)
        self.node_weight = linear_from_state(state, f"{gc_prefix}.conv.node_weight_func")
        self.density = density
        self.register_buffer("tb_weight", tb_weight.clone())
        self.register_buffer("tb_self_scale", tb_self_scale.clone())

    def three_body(self, node_feat: torch.Tensor, edge_feat: torch.Tensor, tb: List[torch.Tensor]) -> torch.Tensor:
        """``edge_feat`` plus the bond update of the three-body sums t_ij (matgl ThreeBodyInteractions).

        Bonds beyond the 3-body cutoff have t_ij = 0, hence the constant update ``bond_update(0)``: in the
        density form the bond MLP runs on the short bonds only (about half of them).
        """
        gate = self.atom_gate(node_feat)
        if self.density:  # tb = [short, src, dst, radial_fc, fc, mono]
            t = density_update(gate, node_feat.shape[0], tb[1], tb[2], tb[3], tb[4], tb[5],
                               self.tb_weight.to(gate.dtype), self.tb_self_scale.to(gate.dtype))
            const = self.bond_update(torch.zeros(1, t.shape[1], dtype=t.dtype, device=t.device))
            return (edge_feat + const).index_add(0, tb[0], self.bond_update(t) - const)
        # tb = [triple_ij, triple_ik, basis, dst of ik]: the literal sum over triples, corrected indexing
        basis = tb[2] * gate.index_select(0, tb[3])
        out = torch.zeros(edge_feat.shape[0], basis.shape[1], dtype=basis.dtype, device=basis.device)
        return edge_feat + self.bond_update(out.index_add(0, tb[0], basis))

    @torch.jit.export
    def messages(self, node_feat: torch.Tensor, edge_feat: torch.Tensor, rbf: torch.Tensor, edge_index: torch.Tensor,
                 tb: List[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
        """Updated bond features and the node-update sums at every destination node (N, F).

        Only the edges given are processed; under an MPI halo exchange the sums at ghost nodes are
        partial and are completed by reverse communication before ``node_feat + sums``.
        """
        src = edge_index[0]
        dst = edge_index[1]
        edge_feat = self.three_body(node_feat, edge_feat, tb)
        # graph convolution (matgl M3GNetGraphConv): edge update, then messages summed at dst
        edge_feat = torch.addcmul(edge_feat, self.edge_update(node_feat, edge_feat, src, dst), self.edge_weight(rbf))
        msg = self.node_update(node_feat, edge_feat, src, dst) * self.node_weight(rbf)
        return edge_feat, torch.zeros_like(node_feat).index_add(0, dst, msg)

    def forward(self, node_feat: torch.Tensor, edge_feat: torch.Tensor, rbf: torch.Tensor, edge_index: torch.Tensor,
                tb: List[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
        edge_feat, sums = self.messages(node_feat, edge_feat, rbf, edge_index, tb)
        return node_feat + sums, edge_feat


class M3GNetPES(nn.Module):
    """M3GNet energy model (see the module docstring for inputs and outputs)."""

    def __init__(self, ckpt: M3GNetCheckpoint, threebody: str = "density") -> None:
        super().__init__()
        if threebody not in THREEBODY_MODES:
            raise ValueError(f"threebody {threebody!r} not in {list(THREEBODY_MODES)}")
        args = ckpt.model_args
        state = ckpt.state
        self.cutoff = float(args.get("cutoff", 5.0))
        self.threebody_cutoff = float(args.get("threebody_cutoff", 4.0))
        self.max_n = int(args.get("max_n", 3))
        self.max_l = int(args.get("max_l", 3))
        self.use_smooth = bool(args.get("use_smooth", False))
        self.nblocks = int(args.get("nblocks", 3))
        self.cos_eps = COS_EPS
        self.zbl_ke_eV_A = ZBL_KE_EV_A
        if self.use_smooth:
            self.bond_basis = SmoothBesselBasis(self.max_n, self.cutoff)
            self.triple_radial = SmoothBesselBasis(self.max_n * self.max_l, self.cutoff)
        else:
            self.bond_basis = SphericalBesselBasis(self.max_l, self.max_n, self.cutoff)
            self.triple_radial = SphericalBesselBasis(self.max_l, self.max_n, self.cutoff)
        self.register_buffer("triple_l_index", torch.arange(self.max_l).repeat_interleave(self.max_n))
        self.threebody_mode = threebody
        self.density = threebody == "density"
        parent, coord, _ = monomial_tables(self.max_l)
        self.mono_parent: List[int] = [int(p) for p in parent]
        self.mono_coord: List[int] = [int(c) for c in coord]
        tb_weight = density_weights(self.max_l, self.max_n)
        tb_self_scale = torch.tensor([math.sqrt((2 * lo + 1) / (4 * math.pi)) for lo in range(self.max_l)],
                                     dtype=torch.float64).repeat_interleave(self.max_n)
        self.node_embedding = nn.Embedding.from_pretrained(state["model.embedding.layer_node_embedding.weight"].clone(),
                                                           freeze=True)
        self.edge_embedding = DenseStack.from_state(state, "model.embedding.layer_edge_embedding.layers", "silu", True)
        self.blocks = nn.ModuleList([
            InteractionBlock(state, f"model.three_body_interactions.{b}", f"model.graph_layers.{b}", self.density,
                             tb_weight, tb_self_scale)
            for b in range(self.nblocks)
        ])
        self.readout_net = GatedStack.from_state(state, "model.final_layer.gated", False)
        n_el = state["model.embedding.layer_node_embedding.weight"].shape[0]
        refs = state.get("element_refs.property_offset", ckpt.element_refs_eV)
        refs_t = torch.zeros(n_el, dtype=torch.float64) if refs is None else refs.double().reshape(-1)
        self.register_buffer("element_refs", refs_t)
        self.register_buffer("data_std", state.get("data_std", torch.tensor(ckpt.data_std)).double().reshape(()))
        self.calc_repuls = ckpt.calc_repuls
        self._init_zbl(state, list(args.get("element_types", [])))

    def _init_zbl(self, state: dict[str, torch.Tensor], elements: list[str]) -> None:
        """ZBL parameters (matgl NuclearRepulsion): softplus^-1 of the ZBL constants unless trained."""
        from ase.data import atomic_numbers  # noqa: PLC0415

        def inv_softplus(x: torch.Tensor) -> torch.Tensor:
            return x + torch.log(-torch.expm1(-x))

        defaults = {
            "a_pow": inv_softplus(torch.tensor([0.23], dtype=torch.float64)),
            "a_div": inv_softplus(torch.tensor([1.0 / (ZBL_A0_A * 0.8854)], dtype=torch.float64)),
            "exponents": inv_softplus(torch.tensor([3.19980, 0.94229, 0.40290, 0.20162], dtype=torch.float64)),
            "coefficients": inv_softplus(torch.tensor([0.18175, 0.50986, 0.28022, 0.02817], dtype=torch.float64)),
        }
        for name, default in defaults.items():
            value = state.get(f"repuls.{name}", default)
            self.register_buffer(f"zbl_{name}", value.double().reshape(-1))
        z = torch.tensor([float(atomic_numbers[e]) for e in elements] or [0.0], dtype=torch.float64)
        self.register_buffer("atomic_number", z)

    # ------------------------------------------------------------------ geometry
    @torch.jit.export
    def triples(self, edge_index: torch.Tensor, dist: torch.Tensor, n_nodes: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """All ordered pairs (ij, ik), ij != ik, of bonds sharing a source atom, both <= 3-body cutoff.

        Returns edge ids ``triple_ij``, ``triple_ik`` (T,), grouped by ``ij``.
        """
        short = torch.nonzero(dist <= self.threebody_cutoff).reshape(-1)
        src = edge_index[0][short]
        order = torch.argsort(src, stable=True)
        short = short[order]
        src = src[order]
        counts = torch.bincount(src, minlength=n_nodes)
        group_start = torch.cumsum(counts, 0) - counts
        per_bond = counts[src] - 1  # partners of each short bond
        n_short = short.shape[0]
        ij_pos = torch.repeat_interleave(torch.arange(n_short, device=dist.device), per_bond)
        first = torch.cumsum(per_bond, 0) - per_bond
        k = torch.arange(ij_pos.shape[0], device=dist.device) - first[ij_pos]
        start = group_start[src[ij_pos]]
        own = ij_pos - start
        ik_pos = start + k + (k >= own).to(k.dtype)
        return short[ij_pos], short[ik_pos]

    @torch.jit.export
    def triple_basis(self, edge_vec: torch.Tensor, dist: torch.Tensor, triple_ij: torch.Tensor,
                     triple_ik: torch.Tensor) -> torch.Tensor:
        """Radial(|ik|) x Y_l^0(cos theta_jik) x fc(|ij|) fc(|ik|): (T, max_n*max_l)."""
        # radial part and cutoff depend on one bond only: evaluate per bond, gather per triple
        unit = edge_vec / dist[:, None]
        cos_t = torch.clamp((unit.index_select(0, triple_ij) * unit.index_select(0, triple_ik)).sum(dim=1),
                            -1.0 + self.cos_eps, 1.0 - self.cos_eps)
        angular = spherical_harmonics_m0(self.max_l, cos_t).index_select(1, self.triple_l_index)
        fc_bond = polynomial_cutoff(dist, self.threebody_cutoff)
        radial = self.triple_radial(dist).index_select(0, triple_ik)
        return radial * angular * (fc_bond.index_select(0, triple_ij) * fc_bond.index_select(0, triple_ik))[:, None]

    @torch.jit.export
    def threebody(self, edge_index: torch.Tensor, edge_vec: torch.Tensor, dist: torch.Tensor,
                  n_nodes: int) -> List[torch.Tensor]:
        """Per-step three-body geometry shared by all blocks (see :mod:`pydriver.m3gnet.threebody`).

        density: [short bond ids, their src, their dst, R(r) fc(r) (Es, C), fc(r) (Es,), monomials (Es, A)];
        triples: [triple_ij, triple_ik, triple basis (T, C), dst of ik].
        """
        if self.density:
            return self.density_geometry(edge_index, edge_vec, dist, self.short_bonds(dist))
        triple_ij, triple_ik = self.triples(edge_index, dist, n_nodes)
        basis = self.triple_basis(edge_vec, dist, triple_ij, triple_ik)
        return [triple_ij, triple_ik, basis, edge_index[1].index_select(0, triple_ik)]

    @torch.jit.export
    def short_bonds(self, dist: torch.Tensor) -> torch.Tensor:
        """Ids of the bonds within the three-body cutoff (Es,) int64, ascending."""
        return torch.nonzero(dist <= self.threebody_cutoff).reshape(-1)

    @torch.jit.export
    def density_geometry(self, edge_index: torch.Tensor, edge_vec: torch.Tensor, dist: torch.Tensor,
                         short: torch.Tensor) -> List[torch.Tensor]:
        """Density-form three-body geometry of the short bonds ``short`` (see :meth:`threebody`)."""
        src = edge_index[0].index_select(0, short)
        dst = edge_index[1].index_select(0, short)
        d = dist.index_select(0, short)
        unit = edge_vec.index_select(0, short) / d[:, None]
        fc = polynomial_cutoff(d, self.threebody_cutoff)
        radial_fc = self.triple_radial(d) * fc[:, None]
        return [short, src, dst, radial_fc, fc, monomials(unit, self.mono_parent, self.mono_coord)]

    # ------------------------------------------------------------------ network parts
    @torch.jit.export
    def radial(self, dist: torch.Tensor) -> torch.Tensor:
        """Radial basis of every bond (E, n_rbf)."""
        return self.bond_basis(dist)

    @torch.jit.export
    def embed(self, species: torch.Tensor, rbf: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Initial node and edge features."""
        return self.node_embedding(species), self.edge_embedding(rbf)

    @torch.jit.export
    def block_messages(self, block: int, node_feat: torch.Tensor, edge_feat: torch.Tensor, rbf: torch.Tensor,
                       edge_index: torch.Tensor, tb: List[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
        """Interaction block ``block`` (0-based) up to the node sums: returns (edge_feat, node_sums).

        The block's new node features are ``node_feat + node_sums`` once ghost sums are reduced.
        """
        out = (edge_feat, torch.zeros_like(node_feat))
        for b, blk in enumerate(self.blocks):
            if b == block:
                out = blk.messages(node_feat, edge_feat, rbf, edge_index, tb)
        return out

    @torch.jit.export
    def readout(self, node_feat: torch.Tensor, species: torch.Tensor) -> torch.Tensor:
        """Per-node energies (eV) from final node features, without ZBL and data_mean."""
        atomic = self.readout_net(node_feat).squeeze(1)
        return atomic * self.data_std.to(atomic.dtype) + self.element_refs.to(atomic.dtype).index_select(0, species)

    @torch.jit.export
    def zbl(self, species: torch.Tensor, edge_index: torch.Tensor, dist: torch.Tensor) -> torch.Tensor:
        """Per-node ZBL repulsion (eV): half of each symmetric pair energy at its source node."""
        sp = nn.functional.softplus
        z = self.atomic_number.to(dist.dtype).index_select(0, species)
        a = z ** sp(self.zbl_a_pow.to(dist.dtype))
        src = edge_index[0]
        dst = edge_index[1]
        a_ij = (a.index_select(0, src) + a.index_select(0, dst)) * sp(self.zbl_a_div.to(dist.dtype))
        expo = a_ij[:, None] * sp(self.zbl_exponents.to(dist.dtype))[None, :]
        coef = sp(self.zbl_coefficients.to(dist.dtype))
        coef = coef / coef.abs().sum()
        screening = torch.sum(coef[None, :] * torch.exp(-expo * dist[:, None]), dim=1)
        e_ij = z.index_select(0, src) * z.index_select(0, dst) * polynomial_cutoff(dist, self.cutoff) * screening / dist
        return 0.5 * self.zbl_ke_eV_A * torch.zeros_like(z).index_add(0, src, e_ij)

    def forward(self, species: torch.Tensor, edge_index: torch.Tensor, edge_vec: torch.Tensor) -> torch.Tensor:
        dist = torch.linalg.norm(edge_vec, dim=1)
        tb = self.threebody(edge_index, edge_vec, dist, species.shape[0])
        return self.energies_from_geometry(species, edge_index, dist, tb)

    def energies_from_geometry(self, species: torch.Tensor, edge_index: torch.Tensor, dist: torch.Tensor,
                               tb: List[torch.Tensor]) -> torch.Tensor:
        """Per-node energies (N,) in eV from bond lengths and the three-body geometry ``tb``."""
        rbf = self.bond_basis(dist)
        node_feat, edge_feat = self.embed(species, rbf)
        for blk in self.blocks:
            node_feat, edge_feat = blk(node_feat, edge_feat, rbf, edge_index, tb)
        energies = self.readout(node_feat, species)
        if self.calc_repuls:
            energies = energies + self.zbl(species, edge_index, dist)
        return energies
