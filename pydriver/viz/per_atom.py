"""Per-atom results of the mobile ions (MSD, active flag) for colouring (no OVITO import).

Source, in order: the analysis's per-atom table (``per_atom.csv``, columns ``id,msd_A2,active``;
adapt :func:`read_per_atom_csv` if its columns change), else ``analysis.json``'s
``active.ion_msd_at_lag_A2`` (one value per mobile ion in ascending atom-id order, as the analysis
reads the id-sorted dump) with its ``active_threshold_A2``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pydriver.rundir import AnalysisSummary


@dataclass
class PerAtom:
    """Per-ion values, one row per mobile ion.

    Attributes
    ----------
    ids : (n_ions,) LAMMPS atom ids.
    msd_A2 : (n_ions,) each ion's MSD in A^2 (at the analysis's active lag).
    active : (n_ions,) bool, the analysis's active flag.
    """

    ids: np.ndarray
    msd_A2: np.ndarray
    active: np.ndarray

    @property
    def active_ids(self) -> np.ndarray:
        """Ids of the active ions."""
        return self.ids[self.active]


def read_per_atom_csv(path: str | Path) -> PerAtom:
    """Read ``per_atom.csv`` (header ``id,msd_A2,active``; active as 0/1 or true/false).

    Raises
    ------
    ValueError
        If a column is missing or the file has no rows.
    """
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        raise ValueError(f"{path}: no rows")
    missing = [c for c in ("id", "msd_A2", "active") if c not in rows[0]]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}; have {list(rows[0])}")
    ids = np.array([int(r["id"]) for r in rows])
    msd = np.array([float(r["msd_A2"]) for r in rows])
    active = np.array([str(r["active"]).strip().lower() in ("1", "true", "yes") for r in rows])
    return PerAtom(ids, msd, active)


def from_summary(summary: AnalysisSummary, mobile_ids: np.ndarray) -> PerAtom:
    """Per-ion MSD and active flag from ``analysis.json`` (before per_atom.csv existed).

    Parameters
    ----------
    summary : the analysis summary (needs ``active.ion_msd_at_lag_A2`` and ``active_threshold_A2``).
    mobile_ids : (n_ions,) ids of the mobile ions in the dump.

    Raises
    ------
    ValueError
        If the summary has no per-ion MSD or their number differs from ``mobile_ids``.
    """
    msd = summary.active.get("ion_msd_at_lag_A2")
    threshold = summary.active.get("active_threshold_A2")
    if msd is None or threshold is None:
        raise ValueError("analysis.json has no active.ion_msd_at_lag_A2; rerun `python -m pydriver analyze`")
    msd = np.asarray(msd, dtype=np.float64)
    ids = np.sort(np.asarray(mobile_ids))
    if msd.size != ids.size:
        raise ValueError(f"analysis.json lists {msd.size} mobile ions, the dump has {ids.size}")
    return PerAtom(ids, msd, msd >= float(threshold))
