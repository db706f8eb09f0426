"""Temperature x anion-mass sweeps of M3GNet NPT MD: config, expansion, executors, resume, report.

Typical use::

    from pydriver.sweep import load_config, run_sweep
    result = run_sweep(load_config("examples/sweep/tiny.yaml"))

See ``docs/sweep.md``.
"""

from importlib import import_module

#: public name -> module that defines it. Imported on first use (PEP 562), so that the worker
#: subprocesses (``python -m pydriver.sweep.worker``) start without the executors, and runpy does
#: not find the worker already imported by this package.
_EXPORTS = {"DEFAULT_TEMPERATURES_K": "config", "SweepConfig": "config", "config_from_dict": "config",
            "load_config": "config", "RunSpec": "expand", "expand": "expand", "run_name": "expand",
            "Stop": "lifecycle", "plan": "runner", "run_sweep": "runner", "sweep_status": "status_table"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f"pydriver.sweep.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'pydriver.sweep' has no attribute {name!r}")
