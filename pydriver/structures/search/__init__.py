"""Structure models from published data and a potential: relaxation, records, searches.

- :mod:`~pydriver.structures.search.relax`: :func:`relax_structure`, the package's one relaxation
  helper (cell and positions, optional symmetry constraint); also used before phonons by
  :mod:`pydriver.thermo.workflow`.
- :mod:`~pydriver.structures.search.records`: lattice / space group / energy records, the model files
  (extxyz, CIF, provenance JSON) and package versions.
- :mod:`~pydriver.structures.search.pyxtal_search`: rigid-ion candidates with pyxtal, screening,
  de-duplication, relaxation stages.
- :mod:`~pydriver.structures.search.onbh`: o-NBH framework in the published cell, candidate Na sites,
  Ewald-ranked Na orderings (:mod:`pydriver.structures.na_sites`), relaxations.
- :mod:`~pydriver.structures.search.na2b12h12`: Na2B12H12 at the published volume, P2_1/n cell choice.

The potential enters only as ASE calculators passed in by the caller (this package never imports
the model). pyxtal is needed only by the pyxtal searches.
"""

from pydriver.structures.search.records import describe, energy_report, space_group, software_versions, write_model_files
from pydriver.structures.search.relax import relax_structure

__all__ = ["describe", "energy_report", "relax_structure", "software_versions", "space_group", "write_model_files"]
