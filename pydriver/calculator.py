"""Moved to :mod:`pydriver.m3gnet.calculator` (kept so old imports keep working)."""
from pydriver.m3gnet.calculator import M3GNetCalculator  # noqa: F401
