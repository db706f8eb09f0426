"""ASE calculator over an exported ``pair_style m3gnet`` model file (no LAMMPS needed).

Forces and stress come from the same ``dE/d edge_vec`` that the LAMMPS plugin uses:
``F_src += g``, ``F_dst -= g`` and ``stress = sym(sum_e g_e (x) vec_e) / V`` (ASE sign convention,
eV/A^3).
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np
import torch
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes

from pydriver.m3gnet.export import DTYPES, export_checkpoint
from pydriver.m3gnet.neighbors import edge_list
from pydriver.model_file import compiled_mismatch, read_metadata

log = logging.getLogger(__name__)


class M3GNetCalculator(Calculator):
    """ASE calculator for an exported M3GNet model.

    Parameters
    ----------
    model_path : file written by ``python -m pydriver export`` (or :func:`export_checkpoint`).
    device : "cpu" or "cuda" (default: the device recorded in the file, falling back to cpu).
    compiled : use the file's AOTInductor package for this device (:mod:`pydriver.m3gnet.compiled`):
        None (default) when the file has one built by this torch version for an instruction set this CPU
        has (any thread count: its loops and matrix products run on torch's threads; otherwise a one-line
        warning and TorchScript), True to require it (ValueError otherwise), False for TorchScript.

    Provides ``energy``, ``free_energy``, ``energies`` (per atom), ``forces`` and ``stress``.
    """

    implemented_properties = ["energy", "free_energy", "energies", "forces", "stress"]

    def __init__(self, model_path: str | Path, device: str | None = None, compiled: bool | None = None,
                 **kwargs) -> None:
        if compiled not in (None, True, False):
            raise ValueError(f"compiled={compiled!r}: use None (auto), True or False")
        super().__init__(**kwargs)
        self.model_path = Path(model_path)
        # every archive entry against its sha256 recorded at export (ValueError naming a damaged entry)
        self.metadata = read_metadata(self.model_path, verify=True)
        if device is None:
            device = self.metadata["device"] if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        self.dtype = DTYPES[self.metadata["dtype"]]
        entry = self.metadata.get("compiled", {}).get(self.device.type)
        extra = {entry["file"]: ""} if entry is not None and compiled is not False else {}
        self.model = torch.jit.load(str(self.model_path), map_location=self.device, _extra_files=extra)
        self.elements = list(self.metadata["elements"])
        self.cutoff_A = float(self.metadata["cutoff_A"])
        self.compiled = self._load_compiled(compiled, entry, extra)

    def _load_compiled(self, request: bool | None, entry: dict | None, extra: dict):  # noqa: ANN202
        """The AOTInductor callable of the package in ``extra`` (read with the model), or None, saying why.

        A package built by another torch or for a CPU instruction set this CPU lacks is refused in one
        line (ValueError with ``compiled=True``, else a logged warning and TorchScript).
        """
        if request is False:
            return None
        reason = None
        if entry is None:
            reason = (f"{self.model_path} has no compiled package for {self.device.type} (exported with "
                      "--no-compile)")
        else:
            mismatch = compiled_mismatch(entry, self.device.type, torch.__version__,
                                         torch.backends.cpu.get_cpu_capability())
            if mismatch is not None:
                reason = f"{self.model_path}: {mismatch}"
        if reason is not None:
            if request:
                raise ValueError(reason)
            if entry is not None:  # a package is there but cannot run here: say why
                log.warning("%s; using TorchScript (re-export the file here for the compiled engine)", reason)
            return None
        from pydriver.m3gnet.compiled import load_package  # noqa: PLC0415  (inductor: heavy)

        return load_package(extra[entry["file"]])

    @classmethod
    def from_checkpoint(cls, model_dir: str | Path, dtype: str = "float64", **kwargs) -> M3GNetCalculator:
        """Export the matgl checkpoint in ``model_dir`` to a temporary file and load it."""
        tmp = Path(tempfile.mkdtemp(prefix="m3gnet-")) / "model.pt"
        export_checkpoint(model_dir, tmp, dtype=dtype)
        return cls(tmp, **kwargs)

    def _species(self, atoms: Atoms) -> torch.Tensor:
        index = {el: i for i, el in enumerate(self.elements)}
        missing = sorted(set(atoms.get_chemical_symbols()) - set(index))
        if missing:
            raise ValueError(f"elements {missing} not in model {self.metadata['model_name']} ({len(index)} elements)")
        return torch.tensor([index[s] for s in atoms.get_chemical_symbols()], device=self.device)

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes) -> None:
        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms
        species = self._species(atoms)
        edge_index_np, edge_vec_np = edge_list(atoms, self.cutoff_A)
        edge_index = torch.from_numpy(edge_index_np).to(self.device)
        edge_vec = torch.tensor(edge_vec_np, dtype=self.dtype, device=self.device, requires_grad=True)
        short = (self.model.short_bonds(torch.linalg.norm(edge_vec.detach(), dim=1)) if self.compiled is not None
                 else None)
        if self.compiled is not None and len(atoms) >= 2 and edge_vec.shape[0] >= 2 and short.shape[0] >= 2:
            ones = torch.ones(len(atoms), dtype=self.dtype, device=self.device)
            energies, grad = self.compiled(species, edge_index, edge_vec.detach(), short, ones)
        else:  # TorchScript (also for graphs below the compiled package's minimum sizes)
            energies = self.model(species, edge_index, edge_vec)
            (grad,) = torch.autograd.grad(energies.sum(), [edge_vec])
        energies = energies.detach().double() + self.metadata["data_mean_eV"] / len(atoms)
        energy = energies.sum()
        g = grad.double().cpu().numpy()
        forces = np.zeros((len(atoms), 3))
        np.add.at(forces, edge_index_np[0], g)
        np.subtract.at(forces, edge_index_np[1], g)
        self.results["energy"] = self.results["free_energy"] = float(energy.detach())
        self.results["energies"] = energies.detach().cpu().numpy()
        self.results["forces"] = forces
        if atoms.cell.rank == 3:
            virial = g.T @ edge_vec_np  # sum_e g_a vec_b
            stress = 0.5 * (virial + virial.T) / atoms.get_volume()
            self.results["stress"] = stress.reshape(9)[[0, 4, 8, 5, 2, 1]]
