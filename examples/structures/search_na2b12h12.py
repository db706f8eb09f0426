#!/usr/bin/env python
"""Na2B12H12 near the published volume: P2_1/n (No. 14), Z = 2, V = 537.3 A^3.

Runs :func:`pydriver.structures.search.na2b12h12.search_na2b12h12` (pyxtal candidates, screening,
constant-volume and free relaxations, P2_1/n cell choice; README.md has the run). Every field of
``Na2B12H12Settings`` is an option. Writes ``Na2B12H12.{extxyz,cif,json}`` and
``na2b12h12_search.json`` into ``--out-dir``.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import ase.io

from pydriver.structures.search import software_versions
from pydriver.structures.search.na2b12h12 import Na2B12H12Settings, search_na2b12h12
from pydriver.structures.search.options import option_specs, settings_from

HERE = Path(__file__).resolve().parent
MODEL_DIR = HERE.parents[2] / "shared" / "models" / "M3GNet-r2SCAN-NaBH"


def main(argv: list[str] | None = None) -> int:
    """Parse the options, load the potential (float32 relaxations, float64 energies) and search."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=MODEL_DIR)
    parser.add_argument("--out-dir", type=Path, default=HERE)
    parser.add_argument("--previous", type=Path, default=HERE / "Na2B12H12.extxyz",
                        help="model to compare with (read before it is overwritten)")
    for flag, kwargs in option_specs(Na2B12H12Settings):
        parser.add_argument(flag, **kwargs)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    import torch

    from pydriver.m3gnet.calculator import M3GNetCalculator

    torch.set_num_threads(1)
    calc32 = M3GNetCalculator.from_checkpoint(args.model_dir, dtype="float32")
    calc64 = M3GNetCalculator.from_checkpoint(args.model_dir, dtype="float64")
    search_na2b12h12(settings_from(Na2B12H12Settings, args), args.out_dir, calc32, calc64, ase.io.read(args.previous),
                     args.previous.name, software_versions(args.model_dir, "examples/structures/search_na2b12h12.py"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
