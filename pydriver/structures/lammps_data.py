"""Write and read LAMMPS data files (``atom_style full``, type labels, image flags)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from pydriver.structures.atom_types import AtomType
from pydriver.structures.lammps_box import LammpsBox

log = logging.getLogger(__name__)

SECTION_NAMES = ("Atom Type Labels", "Masses", "Atoms", "Velocities", "Pair Coeffs", "PairIJ Coeffs")


def write_lammps_data(
    path: str | Path,
    box: LammpsBox,
    types: list[AtomType],
    type_ids: np.ndarray,
    molecule_ids: np.ndarray,
    positions_A: np.ndarray,
    images: np.ndarray,
    title: str = "written by pydriver.structures",
    masses_amu: list[float] | None = None,
) -> Path:
    """Write an ``atom_style full`` data file with ``Atom Type Labels`` and image flags.

    Parameters
    ----------
    path : output file.
    box : the LAMMPS box (tilts written only if :attr:`LammpsBox.is_triclinic`).
    types : the atom types; their labels go to ``Atom Type Labels``.
    type_ids : (n_atoms,) type number per atom.
    molecule_ids : (n_atoms,) molecule ID per atom (0 = no molecule).
    positions_A : (n_atoms, 3) wrapped positions in the box frame, in A.
    images : (n_atoms, 3) int image flags (unwrapped = wrapped + images @ cell).
    title : first (comment) line.
    masses_amu : per-type masses (default: the element masses of ``types``), in amu.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    masses_amu = masses_amu if masses_amu is not None else [t.mass_amu for t in types]
    lines = [f"# {title}", "", f"{len(type_ids)} atoms", f"{len(types)} atom types", ""]
    lines += [f"0.0 {box.lx_A:.10f} xlo xhi", f"0.0 {box.ly_A:.10f} ylo yhi", f"0.0 {box.lz_A:.10f} zlo zhi"]
    if box.is_triclinic:
        lines.append(f"{box.xy_A:.10f} {box.xz_A:.10f} {box.yz_A:.10f} xy xz yz")
    lines += ["", "Atom Type Labels", ""]
    lines += [f"{t.type} {t.label}" for t in types]
    lines += ["", "Masses", ""]
    lines += [f"{t.type} {m:.8f} # {t.label}" for t, m in zip(types, masses_amu)]
    lines += ["", "Atoms # full", ""]
    for n, (t, mol, x, im) in enumerate(zip(type_ids, molecule_ids, positions_A, images), start=1):
        lines.append(f"{n} {mol} {t} 0.0 {x[0]:.10f} {x[1]:.10f} {x[2]:.10f} {im[0]} {im[1]} {im[2]}")
    path.write_text("\n".join(lines) + "\n")
    log.info("wrote %s (%d atoms, %d types)", path, len(type_ids), len(types))
    return path


def _parse_header(lines: list[str]) -> tuple[dict, int]:
    """Header counts and box; returns (header dict, index of the first section line)."""
    header: dict = {"xy_A": 0.0, "xz_A": 0.0, "yz_A": 0.0}
    for n, raw in enumerate(lines[1:], start=1):
        line = raw.split("#")[0].strip()
        if not line:
            continue
        if line in SECTION_NAMES or line.split()[0] in ("Atoms", "Velocities", "Bonds"):
            return header, n
        words = line.split()
        if words[-1] == "atoms":
            header["n_atoms"] = int(words[0])
        elif words[-2:] == ["atom", "types"]:
            header["n_types"] = int(words[0])
        elif words[-2:] in (["xlo", "xhi"], ["ylo", "yhi"], ["zlo", "zhi"]):
            header[f"l{words[-2][0]}_A"] = float(words[1]) - float(words[0])
        elif words[-3:] == ["xy", "xz", "yz"]:
            header.update(xy_A=float(words[0]), xz_A=float(words[1]), yz_A=float(words[2]))
    raise ValueError("no sections found in data file")


def read_lammps_data(path: str | Path) -> dict:
    """Parse a data file written by us or by LAMMPS's ``write_data`` (``atom_style full``).

    Returns
    -------
    dict
        ``box`` (LammpsBox), ``labels`` {type: label}, ``masses_amu`` {type: mass},
        and per-atom arrays sorted by atom ID: ``ids``, ``molecule_ids``, ``type_ids``,
        ``positions_A`` (n_atoms, 3), ``images`` (n_atoms, 3).
    """
    lines = Path(path).read_text().splitlines()
    header, start = _parse_header(lines)
    sections: dict[str, list[list[str]]] = {}
    current = None
    for raw in lines[start:]:
        line = raw.split("#")[0].strip()
        if not line:
            continue
        if line in SECTION_NAMES or line.split()[0] in ("Atoms", "Velocities", "Bonds"):
            current = line.split()[0] if line.split()[0] in ("Atoms", "Velocities") else line
            sections[current] = []
        else:
            sections[current].append(line.split())
    labels = {int(r[0]): r[1] for r in sections.get("Atom Type Labels", [])}
    label_to_type = {v: k for k, v in labels.items()}
    masses = {int(label_to_type.get(r[0], r[0])): float(r[1]) for r in sections.get("Masses", [])}
    rows = sorted(sections["Atoms"], key=lambda r: int(r[0]))
    images = np.array([[int(v) for v in r[7:10]] if len(r) >= 10 else [0, 0, 0] for r in rows], dtype=int)
    box = LammpsBox(header["lx_A"], header["ly_A"], header["lz_A"], header["xy_A"], header["xz_A"], header["yz_A"])
    return {
        "box": box,
        "labels": labels,
        "masses_amu": masses,
        "ids": np.array([int(r[0]) for r in rows]),
        "molecule_ids": np.array([int(r[1]) for r in rows]),
        "type_ids": np.array([int(label_to_type.get(r[2], r[2])) for r in rows]),
        "positions_A": np.array([[float(v) for v in r[4:7]] for r in rows]),
        "images": images,
    }
