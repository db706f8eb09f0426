#!/usr/bin/env python
"""The earlier search without published cells: predicted Na2B12H12 and o-NBH models, relaxed NaBH4.

pyxtal rigid-ion candidates in the space group and Z of each phase at volumes estimated from the
Na2B12H12 density (``PHASES``), screened, de-duplicated and relaxed with the potential
(:func:`pydriver.structures.search.pyxtal_search.search_phase`); the ordered cubic NaBH4 model
(a = 6.10 A) relaxed the same way (``NaBH4_relaxed.*``). ``--refine`` continues relaxing the
written models (with ``--pressure-tol-GPa``). Every field of ``SearchSettings`` is an option
(the number of candidates per phase is ``N_CANDIDATES``).
The predicted models were replaced by ``build_onbh.py`` and ``search_na2b12h12.py``; ``NaBH4_relaxed.*``
is still this script's.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from pydriver.structures.builders import nabh4_cubic
from pydriver.structures.search import software_versions
from pydriver.structures.search.options import option_specs, settings_from
from pydriver.structures.search.pyxtal_search import PhaseSpec, SearchSettings, refine_model, relax_model, search_phase

HERE = Path(__file__).resolve().parent
MODEL_DIR = HERE.parents[2] / "shared" / "models" / "M3GNet-r2SCAN-NaBH"
#: space group, ions per cell, target volume per cell (A^3) from the known Na2B12H12 density
#: (~393 A^3/f.u.) and V(o-NBH) ~ V(Na2B12H12) + V(NaBH4) per f.u.
PHASES = {
    "Na2B12H12": PhaseSpec(14, {"B12H12": 2, "BH4": 0, "Na": 4}, 786.0),
    "oNBH": PhaseSpec(36, {"B12H12": 4, "BH4": 4, "Na": 12}, 1800.0),
}
N_CANDIDATES = {"Na2B12H12": 16, "oNBH": 24}
NABH4_STATUS = "ordered cubic model (F-43m), built at a = 6.10 A, B-H 1.21 A; relaxed with the potential"


def main(argv: list[str] | None = None) -> int:
    """Parse the options, load the potential (float32 relaxations, float64 energies) and search."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=MODEL_DIR)
    parser.add_argument("--out-dir", type=Path, default=HERE)
    parser.add_argument("--phases", nargs="+", default=["NaBH4", *PHASES])
    parser.add_argument("--refine", action="store_true", help="continue relaxing the written structures")
    for flag, kwargs in option_specs(SearchSettings, exclude=("n_candidates",)):
        parser.add_argument(flag, **kwargs)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    import torch

    from pydriver.m3gnet.calculator import M3GNetCalculator

    torch.set_num_threads(1)
    calcs = [M3GNetCalculator.from_checkpoint(args.model_dir, dtype=d) for d in ("float32", "float64")]
    software = software_versions(args.model_dir, "examples/structures/search_structures.py")
    settings = settings_from(SearchSettings, args)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for phase in args.phases:
        name = "NaBH4_relaxed" if phase == "NaBH4" else phase
        if args.refine:
            refine_model(name, settings, *calcs, args.out_dir, software)
        elif phase == "NaBH4":
            relax_model(name, nabh4_cubic(), NABH4_STATUS, settings, *calcs, args.out_dir, software)
        else:
            search_phase(phase, PHASES[phase], settings_from(SearchSettings, args, n_candidates=N_CANDIDATES[phase]),
                         *calcs, args.out_dir, software)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
