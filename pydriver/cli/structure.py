"""Inspect a structure: anions, LAMMPS types, supercell; optionally write the LAMMPS data file.

Examples::

    python -m pydriver structure examples/structures/NaBH4.extxyz
    python -m pydriver structure o-NBH.cif --supercell 2 2 2 -o data.lmp --json
"""

from __future__ import annotations

import json

from pydriver.structures.supercell import DEFAULT_MIN_WIDTH_A


class CLICommand:
    """Show anions, atom types and supercell of a structure; write data.lmp with -o."""

    @staticmethod
    def add_arguments(parser) -> None:
        """Add this command's options to ``parser``."""
        parser.add_argument("structure", help="CIF, POSCAR or extxyz file")
        parser.add_argument("--supercell", nargs=3, type=int, metavar=("N1", "N2", "N3"),
                            help="replication counts (default: smallest with every width > --min-width)")
        parser.add_argument("--min-width", type=float, default=DEFAULT_MIN_WIDTH_A, metavar="A",
                            help=f"minimum perpendicular supercell width in A (default {DEFAULT_MIN_WIDTH_A})")
        parser.add_argument("-o", "--output", metavar="DATA_FILE", help="write a LAMMPS data file (atom_style full)")
        parser.add_argument("--json", action="store_true", help="print the summary as JSON")

    @staticmethod
    def run(args) -> int:
        """Run the command; returns the exit code."""
        from pydriver.structures import prepare_system, read_structure  # noqa: PLC0415

        system = prepare_system(read_structure(args.structure), args.supercell, args.min_width)
        summary = system.summary()
        if args.output:
            system.write_data(args.output)
            summary["data_file"] = args.output
        if args.json:
            print(json.dumps(summary, indent=2))
            return 0
        print(f"{summary['formula']}: {summary['n_atoms']} atoms, supercell {'x'.join(map(str, summary['supercell']))}, "
              f"widths {summary['perpendicular_widths_A']} A, {'triclinic' if summary['triclinic'] else 'orthogonal'} box")
        print("anions: " + (", ".join(f"{n} {k}" for k, n in summary["anion_counts"].items()) or "none"))
        for t in summary["types"]:
            print(f"  type {t['type']:2d}  {t['label']:<10s} element {t['element']:<2s}  mass {t['mass_amu']:.4f} amu")
        print("pair_coeff * * MODEL.pt " + " ".join(summary["pair_coeff_elements"]))
        if args.output:
            print(f"wrote {args.output}")
        return 0
