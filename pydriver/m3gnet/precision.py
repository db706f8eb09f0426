"""Precisions and devices of an exported model: the one definition, importable without torch.

``export`` maps the names to torch dtypes; decks, sweeps and the CLI validate against the names.
"""

#: precisions of an exported model
DTYPE_NAMES = ("float32", "float64")
#: the one default precision for production MD (deck, sweep, export). float32 agrees with float64
#: to ~3e-7 eV/atom and ~7e-6 eV/A (README, parity table) and runs 2-3x faster on CPU; float64 is
#: for validation (NVE drift, finite differences), where round-off matters.
DEFAULT_DTYPE = "float32"
#: devices of ``pair_style m3gnet device ...`` and of ``export --device``
DEVICES = ("cpu", "cuda")
