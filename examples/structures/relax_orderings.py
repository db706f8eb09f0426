#!/usr/bin/env python
"""Relax every recorded o-NBH Na ordering of one site set and write each as a structure file.

The orderings of ``onbh_orderings.json`` (:func:`pydriver.structures.search.onbh.build_onbh`) are
replicates of the partially occupied phase for MD (a sweep's ``replicate_files``) and the input of
its configurational entropy. Each is built by
:func:`~pydriver.structures.search.onbh.ordering_structure`, relaxed (cell and positions, float32,
:func:`~pydriver.structures.search.relax.relax_structure`) and written to
``onbh_orderings/oNBH_<site set>_r<rank>.extxyz``; ``onbh_orderings/relaxed.json`` records the
energies, steps and remaining forces.

    PYTHONPATH=. .venv/bin/python examples/structures/relax_orderings.py [--site-set bh4_slabs] [--fmax 0.01]
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from ase.io import write

from pydriver.structures.search import software_versions
from pydriver.structures.search.onbh import ordering_structure
from pydriver.structures.search.records import energy_report, space_group
from pydriver.structures.search.relax import relax_structure

HERE = Path(__file__).resolve().parent
MODEL_DIR = HERE.parents[2] / "shared" / "models" / "M3GNet-r2SCAN-NaBH"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site-set", default="bh4_slabs")
    parser.add_argument("--fmax", type=float, default=0.01, help="force criterion in eV/A (default 0.01)")
    parser.add_argument("--max-steps", type=int, default=600)
    parser.add_argument("--model-dir", type=Path, default=MODEL_DIR)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    import torch

    from pydriver.m3gnet.calculator import M3GNetCalculator

    torch.set_num_threads(1)
    calc = M3GNetCalculator.from_checkpoint(args.model_dir, dtype="float32")
    record = json.loads((HERE / "onbh_orderings.json").read_text())
    out = HERE / "onbh_orderings"
    out.mkdir(exist_ok=True)
    summary_path = out / "relaxed.json"
    done = json.loads(summary_path.read_text()) if summary_path.is_file() else {"orderings": {}}
    for ordering in record["site_sets"][args.site_set]["orderings"]:
        name = f"oNBH_{args.site_set}_r{ordering['rank']}"
        if name in done["orderings"]:  # resumable: one file per ordering
            continue
        relaxed, info = relax_structure(ordering_structure(record, args.site_set, ordering["rank"]), calc,
                                        fmax_eV_A=args.fmax, max_steps=args.max_steps, pressure_tol_GPa=0.05,
                                        optimizer="FIRE+BFGS")
        write(out / f"{name}.extxyz", relaxed)
        done["orderings"][name] = {"site_set": args.site_set, "rank": ordering["rank"],
                                   "multiplicity": ordering["multiplicity"], **info,
                                   **energy_report(relaxed, calc), "space_group_0.1": space_group(relaxed, 0.1),
                                   "cell_A": [float(x) for x in relaxed.cell.cellpar()]}
        done["software"] = software_versions(args.model_dir, "examples/structures/relax_orderings.py")
        summary_path.write_text(json.dumps(done, indent=1, default=str) + "\n")
        logging.info("%s: %.4f eV/atom, %d steps, max force %.3f eV/A", name,
                     done["orderings"][name]["energy_per_atom_eV"], info["steps"], info["max_force_eV_A"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
