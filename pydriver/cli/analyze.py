"""Analyse MD run directories: MSD, D, conductivity, Haven ratio, active Na, anion rotation.

Reads run.json, dump.lammpstrj(.gz), data.lmp and log.lammps of each RUN_DIR and writes
analysis.json (unit-suffixed keys with uncertainties), CSV tables, msd.png and Na density grids
(CHGCAR, cube). Without run.json give --temp, --timestep and --types. See docs/analysis.md.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def _cutoffs(items) -> dict:
    out = {}
    for item in items or []:
        kind, _, value = item.partition("=")
        if not value:
            raise ValueError(f"--cn-cutoff {item!r}; expected KIND=ANGSTROM, e.g. BH4=4.0")
        out[kind] = float(value)
    return out


class CLICommand:
    """Analyse MD run directories into analysis.json (transport, active Na, rotation, structure).

    Example: python -m pydriver analyze runs/oNBH_400K --fit-start 100 --fit-end 500
    """

    @staticmethod
    def add_arguments(parser) -> None:
        """Register the options of ``analyze``."""
        from pydriver.analysis.options import AnalysisOptions

        d = AnalysisOptions()
        parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directories")
        parser.add_argument("--temp", type=float, help="temperature in K (needed without run.json)")
        parser.add_argument("--timestep", type=float, help="MD time step in ps (needed without run.json)")
        parser.add_argument("--types", help="type map without run.json, e.g. '1:Na 2:B_BH4 3:H_BH4'")
        parser.add_argument("--species", default=d.diffusing_element, help="diffusing element (default Na)")
        parser.add_argument("--charge", type=float, default=d.charge, help="its charge in e (default 1)")
        parser.add_argument("--fit-start", type=float, help="fit window start, ps (default 10%% of the run)")
        parser.add_argument("--fit-end", type=float, help="fit window end, ps (default 50%% of the run)")
        parser.add_argument("--origins", choices=("all", "first"), default=d.origins,
                            help="MSD time origins: all (FFT, default) or first (pymatgen smoothed=False)")
        parser.add_argument("--no-drift-correction", action="store_true", help="keep the framework drift")
        parser.add_argument("--blocks", type=int, default=d.n_blocks, help="blocks for block averaging")
        parser.add_argument("--uncertainty", choices=("kinisi", "block"), default=d.uncertainty,
                            help="which D uncertainty is reported as diffusivity_std_cm2_s")
        parser.add_argument("--active-threshold", type=float, default=d.active_threshold_A2,
                            help="active-ion MSD threshold, A^2 (default 21)")
        parser.add_argument("--active-lag", type=float, help="active-ion lag in ps (default half the run)")
        parser.add_argument("--cn-cutoff", action="append", metavar="KIND=A",
                            help="Na-anion centre cutoff per anion kind (default BH4=4.0, B12H12=6.0)")
        parser.add_argument("--max-frames", type=int, default=d.max_frames, help="frames for RDF/CN")
        parser.add_argument("--grid-spacing", type=float, default=d.density_spacing_A,
                            help="density grid spacing, A (default 0.2)")
        parser.add_argument("--no-plots", action="store_true", help="skip PNG output")

    @staticmethod
    def run(args) -> int:
        """Analyse each run directory; exit code 0 on success."""
        from pydriver.analysis import AnalysisOptions, analyze_run

        opts = AnalysisOptions(diffusing_element=args.species, charge=args.charge, fit_start_ps=args.fit_start,
                               fit_end_ps=args.fit_end, origins=args.origins,
                               drift_correction=not args.no_drift_correction, n_blocks=args.blocks,
                               uncertainty=args.uncertainty, active_threshold_A2=args.active_threshold,
                               active_lag_ps=args.active_lag, max_frames=args.max_frames,
                               density_spacing_A=args.grid_spacing, plots=not args.no_plots)
        opts.cn_cutoff_A.update(_cutoffs(args.cn_cutoff))
        for run_dir in args.run_dirs:
            summary = analyze_run(run_dir, opts, args.temp, args.timestep, args.types)
            tr = summary["transport"]
            log.info("%s: D = %.3e +- %.1e cm^2/s, sigma = %.3g +- %.2g mS/cm, active %.2f", run_dir,
                     tr["diffusivity_cm2_s"], tr["diffusivity_std_cm2_s"], tr["conductivity_mS_cm"],
                     tr["conductivity_std_mS_cm"], summary["active"]["active_fraction"])
        return 0
