#!/usr/bin/env python
"""o-NBH, Na3(BH4)(B12H12), in the published Cmc2_1 cell with an ordered Na arrangement.

Runs :func:`pydriver.structures.search.onbh.build_onbh` (framework, candidate Na sites, Ewald-ranked
orderings, relaxations; its docstring and README.md describe the steps and the run). Every field of
``OnbhSettings`` is an option (``--min-na-h-A 2.0``, ``--site-sets bh4_slabs``, ``--order-only``, ...).
Writes ``oNBH.{extxyz,cif,json}`` and ``onbh_orderings.json`` into ``--out-dir``.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from pydriver.structures.search import software_versions
from pydriver.structures.search.onbh import OnbhSettings, build_onbh
from pydriver.structures.search.options import option_specs, settings_from

HERE = Path(__file__).resolve().parent
MODEL_DIR = HERE.parents[2] / "shared" / "models" / "M3GNet-r2SCAN-NaBH"


def main(argv: list[str] | None = None) -> int:
    """Parse the options, load the potential (float32 relaxations, float64 energies) and build."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=MODEL_DIR)
    parser.add_argument("--out-dir", type=Path, default=HERE)
    for flag, kwargs in option_specs(OnbhSettings):
        parser.add_argument(flag, **kwargs)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    settings = settings_from(OnbhSettings, args)
    calc32 = calc64 = None
    if not settings.order_only:
        import torch

        from pydriver.m3gnet.calculator import M3GNetCalculator

        torch.set_num_threads(1)
        calc32 = M3GNetCalculator.from_checkpoint(args.model_dir, dtype="float32")
        calc64 = M3GNetCalculator.from_checkpoint(args.model_dir, dtype="float64")
    build_onbh(settings, args.out_dir, calc32, calc64, software_versions(args.model_dir, "examples/structures/build_onbh.py"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
