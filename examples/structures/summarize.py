#!/usr/bin/env python
"""Collect the numbers of the committed models into ``structures_summary.json`` (used by README.md).

Reads ``oNBH.json``, ``Na2B12H12.json``, ``NaBH4_relaxed.json`` (float64 energies of the relaxed
models) and, if given, a ``thermo.json`` of ``python -m pydriver thermo``. Energies per formula unit
(NaBH4, Na2B12H12, Na3(BH4)(B12H12)); o-NBH relative to NaBH4 + Na2B12H12; lattices vs published.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: name -> (file stem, formula units per cell, published lattice (A, A^3); None = not published here)
PHASES = {
    "NaBH4": ("NaBH4_relaxed", 4, {"a_A": 6.16, "volume_A3": 6.16**3 / 4 * 4}),
    "Na2B12H12": ("Na2B12H12", 2, {"volume_A3": 537.3}),
    "oNBH": ("oNBH", 4, {"a_A": 8.0083, "b_A": 21.881, "c_A": 7.7672, "volume_A3": 1361.05}),
}


def main(argv: list[str] | None = None) -> int:
    """Write structures_summary.json and print it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--thermo", type=Path, help="thermo.json of python -m pydriver thermo")
    args = parser.parse_args(argv)
    out: dict = {"units": "eV, A, A^3; deviations in percent", "phases": {}}
    e_fu = {}
    for name, (stem, n_fu, published) in PHASES.items():
        prov = json.loads((HERE / f"{stem}.json").read_text())
        after = prov["after"]
        dev = {k: 100 * (after[k] / v - 1) for k, v in published.items()}
        e_fu[name] = prov["energy_eV"] / n_fu
        out["phases"][name] = {"lattice": {k: after[k] for k in ("a_A", "b_A", "c_A", "alpha_deg", "beta_deg",
                                                                  "gamma_deg", "volume_A3")},
                               "published": published, "deviation_percent": dev,
                               "energy_per_atom_eV": prov["energy_per_atom_eV"], "energy_per_fu_eV": e_fu[name],
                               "pressure_GPa": prov["pressure_GPa"]}
    de = e_fu["oNBH"] - e_fu["NaBH4"] - e_fu["Na2B12H12"]
    out["oNBH_minus_parents_static_eV_per_fu"] = de
    out["oNBH_minus_parents_static_meV_per_atom"] = 1e3 * de / 32
    # against the low-temperature NaBH4 (P4_2/nmc) reached by following the imaginary modes of the F-43m model
    low_t = json.loads((HERE / "references" / "soft_mode" / "NaBH4_soft_mode_result.json").read_text())
    e_low = low_t["static_energy_eV"] / low_t["n_formula_units"]
    out["NaBH4_lowT_P42nmc"] = {"energy_per_atom_eV": low_t["static_energy_per_atom_eV"], "energy_per_fu_eV": e_low,
                                "lattice": low_t["lattice"]}
    out["oNBH_minus_parents_lowT_NaBH4_static_eV_per_fu"] = e_fu["oNBH"] - e_low - e_fu["Na2B12H12"]
    if args.thermo:
        thermo = json.loads(args.thermo.read_text())
        out["thermo"] = {"e_above_hull_eV_atom": thermo["e_above_hull_eV_atom"],
                         "reaction": {k: v for k, v in thermo.get("reaction", {}).items()
                                      if k != "temperatures_K" and not k.endswith("_curve_eV_per_fu")}}
    (HERE / "structures_summary.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
