"""MD and job settings for a run directory, with defaults from the study (SCIENCE.md).

Defaults: NPT at 1 bar, time step 1 fs, Nose-Hoover damping 0.1 ps (thermostat) and 1 ps
(barostat), 50 ps equilibration then 1 ns production, dumps every 100 fs, restart files every
10 ps. Temperatures of the study run from 300 to 800 K.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

COUPLINGS = ("auto", "tri", "aniso", "iso")
DEVICES = (None, "cpu", "cuda")


def _positive(name: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value}")


def _check_step_count(name: str, value: int, minimum: int) -> None:
    if int(value) != value or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")


@dataclass
class MDSettings:
    """What the LAMMPS deck does.

    Attributes
    ----------
    temperature_K : NPT target temperature, in K.
    pressure_bar : NPT target pressure, in bar.
    dt_ps : time step, in ps.
    equil_steps, prod_steps : equilibration and production lengths, in steps.
    dump_every : production dump stride, in steps.
    dump_velocities : also dump ``vx vy vz`` (A/ps).
    thermo_every : thermo output stride, in steps.
    restart_every : restart-file stride, in steps.
    seed : velocity seed (positive integer).
    tdamp_ps, pdamp_ps : thermostat and barostat damping times, in ps.
    couple : barostat coupling: ``tri`` (non-orthogonal cells), ``aniso`` (orthogonal), ``iso``,
        or ``auto`` (``tri`` if the box is triclinic, ``aniso`` otherwise).
    mass_factors : {anion kind: mass factor}, e.g. ``{"BH4": 1.0, "B12H12": 5.0}``.
    device : ``pair_style m3gnet device ...`` (``None``: plugin default).
    plugin_path : emit ``plugin load PATH`` (HPC builds); ``None`` relies on auto-loading.
    neighbor_skin_A : neighbour-list skin, in A.
    """

    temperature_K: float = 300.0
    pressure_bar: float = 1.0
    dt_ps: float = 0.001
    equil_steps: int = 50_000
    prod_steps: int = 1_000_000
    dump_every: int = 100
    dump_velocities: bool = False
    thermo_every: int = 1000
    restart_every: int = 10_000
    seed: int = 12345
    tdamp_ps: float = 0.1
    pdamp_ps: float = 1.0
    couple: str = "auto"
    mass_factors: dict[str, float] = field(default_factory=lambda: {"BH4": 1.0, "B12H12": 1.0})
    device: str | None = None
    plugin_path: str | None = None
    neighbor_skin_A: float = 1.0

    def validate(self) -> MDSettings:
        """Raise ``ValueError`` (with the bad value and allowed values) for invalid settings."""
        for name in ("temperature_K", "dt_ps", "tdamp_ps", "pdamp_ps", "neighbor_skin_A"):
            _positive(name, getattr(self, name))
            setattr(self, name, float(getattr(self, name)))
        self.pressure_bar = float(self.pressure_bar)
        _check_step_count("equil_steps", self.equil_steps, 0)
        for name in ("prod_steps", "dump_every", "thermo_every", "restart_every", "seed"):
            _check_step_count(name, getattr(self, name), 1)
        if self.couple not in COUPLINGS:
            raise ValueError(f"couple must be one of {COUPLINGS}, got {self.couple!r}")
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {self.device!r}")
        from pydriver.deck.mass_scaling import validate_mass_factors  # noqa: PLC0415

        self.mass_factors = validate_mass_factors(self.mass_factors)
        return self

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
    launcher : MPI launcher (``srun``; ``""`` runs ``lmp`` directly); ``$MPIRUN`` overrides it.
    lmp : LAMMPS executable; ``$LMP`` overrides it.
    """

    job_name: str = "m3gnet-md"
    nodes: int = 1
    ranks_per_node: int = 1
    cpus_per_task: int = 1
    gpus_per_node: int = 0
    time: str = "24:00:00"
    partition: str | None = None
    account: str | None = None
    modules: list[str] = field(default_factory=list)
    launcher: str = "srun"
    lmp: str = "lmp"

    def validate(self) -> JobSettings:
        """Raise ``ValueError`` for invalid resources."""
        for name in ("nodes", "ranks_per_node", "cpus_per_task"):
            _check_step_count(name, getattr(self, name), 1)
        _check_step_count("gpus_per_node", self.gpus_per_node, 0)
        if not self.time or any(c not in "0123456789:-" for c in self.time):
            raise ValueError(f"time must look like HH:MM:SS or D-HH:MM:SS, got {self.time!r}")
        return self

    def as_dict(self) -> dict:
        """JSON-ready dict."""
        return asdict(self)
