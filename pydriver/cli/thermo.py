"""Phase stability with phonon free energies: relax, phonons, ideal gas, convex hulls, reaction dG(T).

Examples::

    python -m pydriver thermo examples/structures/thermo_nabh.yaml --out thermo-nabh
    python -m pydriver thermo spec.yaml --out out --model nabh.pt --temperatures 300 650

Writes OUT/thermo.json (per phase: static energy, F_vib(T) or gas G(T), imaginary modes; hulls;
reaction dG), OUT/hull_static.png, OUT/hull_<T>K.png and OUT/dG.png. The spec format is in
``pydriver.thermo.workflow``.
"""

from __future__ import annotations


class CLICommand:
    """Harmonic phonon free energies (phonopy), ideal-gas G, convex hulls and a reaction dG(T)."""

    @staticmethod
    def add_arguments(parser) -> None:
        """Add this command's options to ``parser``."""
        parser.add_argument("spec", help="YAML/JSON spec: model, phases, temperatures_K, target, reaction")
        parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
        parser.add_argument("--model", help="override the spec's model (matgl folder or exported .pt)")
        parser.add_argument("--dtype", choices=["float32", "float64"], help="override the spec's dtype")
        parser.add_argument("--temperatures", nargs="+", type=float, metavar="K", help="hull temperatures")
        parser.add_argument("--min-width", type=float, metavar="A", help="phonon supercell width (default 10)")
        parser.add_argument("--no-plots", action="store_true", help="JSON only")

    @staticmethod
    def run(args) -> int:
        """Run the command; returns the exit code."""
        from pydriver.thermo.workflow import load_spec, run  # noqa: PLC0415 (torch, phonopy: heavy)

        spec = load_spec(args.spec)
        for key, value in (("model", args.model), ("dtype", args.dtype), ("temperatures_K", args.temperatures),
                           ("min_width_A", args.min_width)):
            if value is not None:
                spec[key] = value
        result = run(spec, args.out, plots=not args.no_plots)
        for name, temps in result["e_above_hull_eV_atom"].items():
            if spec.get("target"):
                print(f"{spec['target']} above hull ({name}): {1e3 * temps[spec['target']]:.1f} meV/atom")
        if "reaction" in result:
            r = result["reaction"]
            print(f"reaction dE(static) = {1e3 * r['dE_static_eV_per_fu']:.1f} meV/f.u.; dG: "
                  + ", ".join(f"{t}: {1e3 * v:.1f}" for t, v in r["dG_eV_per_fu"].items())
                  + f" meV/f.u.; sign change: {r['sign_change_K']} K"
                  + (f"; over the band of treatments: {r['sign_change_bracket_K']} K" if "sign_change_bracket_K" in r
                     else ""))
        print(f"wrote {args.out}/thermo.json")
        return 0
