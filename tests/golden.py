"""Golden reference data (tests/data/golden) and the parity tolerances of the core-engine issue."""

from __future__ import annotations

import json
from pathlib import Path

import ase.io
from tests.conftest import MODELS_DIR

GOLDEN_DIR = Path(__file__).resolve().parent / "data" / "golden"
NABH = "M3GNet-r2SCAN-NaBH"
MP = "M3GNet-MP-2021.2.8-PES"
MATPES = "M3GNet-MatPES-r2SCAN-v2025.1-PES"
CHECKPOINTS = [NABH, MP, MATPES]
# parity tolerances of the core-engine issue (vs the float64 reference)
TOL = {
    "float64": {"energy_eV_atom": 1e-5, "force_eV_A": 1e-4, "stress_eV_A3": 1e-5},
    "float32": {"energy_eV_atom": 1e-4, "force_eV_A": 2e-3, "stress_eV_A3": 1e-4},
}


def golden_frames(checkpoint: str) -> list[tuple[ase.Atoms, dict]]:
    """(structure, reference dict) pairs for one checkpoint."""
    ref = json.loads((GOLDEN_DIR / f"golden_{checkpoint}.json").read_text())
    xyz = "structures_nabh.extxyz" if checkpoint == NABH else "structures_extra.extxyz"
    frames = ase.io.read(GOLDEN_DIR / xyz, index=":")
    assert len(frames) == len(ref["frames"])
    return list(zip(frames, ref["frames"]))
