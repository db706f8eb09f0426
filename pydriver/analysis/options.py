"""User-settable parameters of the per-run analysis (defaults documented in docs/analysis.md)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from pydriver.analysis import active, coupling, density, diagnostics, molecules, reorientation, structure_stats

DEFAULT_FIT_FRACTION = (0.1, 0.5)  # MSD fit window as fractions of the production run
DEFAULT_N_BLOCKS = 5
UNCERTAINTY_METHODS = ("ions", "kinisi", "block")
DEFAULT_UNCERTAINTY = "ions"


@dataclass
class AnalysisOptions:
    """User-settable parameters (defaults documented in docs/analysis.md)."""

    diffusing_element: str = "Na"
    charge: float = 1.0
    fit_start_ps: float | None = None
    fit_end_ps: float | None = None
    fit_fraction: tuple = DEFAULT_FIT_FRACTION
    origins: str = "all"
    drift_correction: bool = True
    n_blocks: int = DEFAULT_N_BLOCKS
    uncertainty: str = DEFAULT_UNCERTAINTY
    active_threshold_A2: float = active.DEFAULT_ACTIVE_THRESHOLD_A2
    active_lag_ps: float | None = None
    active_lag_fraction: float = active.DEFAULT_ACTIVE_LAG_FRACTION
    cn_cutoff_A: dict = field(default_factory=lambda: dict(structure_stats.DEFAULT_CN_CUTOFF_A))
    rdf_max_A: float = structure_stats.DEFAULT_RDF_MAX_A
    max_frames: int = structure_stats.DEFAULT_MAX_FRAMES
    bond_cutoff_A: float = molecules.DEFAULT_BOND_CUTOFF_A
    density_spacing_A: float = density.DEFAULT_GRID_SPACING_A
    plots: bool = True
    diffusive_slope_range: tuple = (diagnostics.DEFAULT_MIN_LOGLOG_SLOPE, diagnostics.DEFAULT_MAX_LOGLOG_SLOPE)
    diffusive_min_msd_A2: float = diagnostics.DEFAULT_MIN_MSD_A2
    longest_even_part: bool = False
    until_first_nonfinite: bool = False  # analyse the frames before the first nan/inf position
    sites_file: str | None = None  # structure whose Na positions are the sites (default: density maxima)
    site_reference_file: str | None = None  # structure whose Na site families the sites are matched to (sites.slabs)
    min_net_hops: int = active.DEFAULT_MIN_NET_HOPS  # k of active.fraction_hops
    coupling_window_ps: float = coupling.DEFAULT_COUPLING_WINDOW_PS  # exposure after a reorientation event
    reorientation_fit_start_ps: float = reorientation.DEFAULT_FIT_START_PS  # first lag of the tau fits

    def criteria(self) -> diagnostics.DiffusiveCriteria:
        """The diffusive-regime thresholds of these options."""
        low, high = self.diffusive_slope_range
        return diagnostics.DiffusiveCriteria(None if low is None else float(low), None if high is None else float(high),
                                             float(self.diffusive_min_msd_A2))

    def to_dict(self) -> dict:
        """Options as a JSON-ready dict (recorded under ``parameters`` in ``analysis.json``)."""
        d = asdict(self)
        d["fit_fraction"] = list(self.fit_fraction)
        d["diffusive_slope_range"] = list(self.diffusive_slope_range)
        return d

    @classmethod
    def from_dict(cls, data: dict) -> AnalysisOptions:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError`` naming them."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown analysis options {unknown}; known: {sorted(known)}")
        data = dict(data)
        if "fit_fraction" in data:
            data["fit_fraction"] = tuple(data["fit_fraction"])
        if "diffusive_slope_range" in data:
            data["diffusive_slope_range"] = tuple(data["diffusive_slope_range"])
        return cls(**data)
