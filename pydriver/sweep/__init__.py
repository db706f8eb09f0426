"""Temperature x anion-mass sweeps of M3GNet NPT MD: config, expansion, executors, resume, report.

Typical use::

    from pydriver.sweep import load_config, run_sweep
    result = run_sweep(load_config("examples/sweep/tiny.yaml"))

See ``docs/sweep.md``.
"""

from pydriver.sweep.config import DEFAULT_TEMPERATURES_K, SweepConfig, config_from_dict, load_config
from pydriver.sweep.expand import RunSpec, expand, run_name
from pydriver.sweep.lifecycle import Stop
from pydriver.sweep.runner import plan, run_sweep
from pydriver.sweep.status_table import sweep_status

__all__ = ["DEFAULT_TEMPERATURES_K", "RunSpec", "Stop", "SweepConfig", "config_from_dict", "expand",
           "load_config", "plan", "run_name", "run_sweep", "sweep_status"]
