"""Analyse MD runs: MSD, D, conductivity, Haven ratio, diffusive-regime checks, active Na, rotation, mechanism.

Each PATH is a run directory (run.json, dump, data.lmp, log.lammps) or a trajectory file of any
name: a LAMMPS text dump (plain or .gz), a VASP XDATCAR or an extended XYZ / ASE trajectory.
Writes analysis.json (unit-suffixed keys with uncertainties), CSV tables, per_atom.csv, msd.png and
Na density grids (CHGCAR, cube) into the run directory or the file's folder, or into -o OUT_DIR
(one subfolder per input when there are several). Without run.json give --temp, --dt-ps and
--types (--types is not needed when the dump has an element column or the file names elements),
and for files without step numbers or time stamps (XDATCAR, bare extxyz) --dump-every.
See docs/analysis.md.
"""

from __future__ import annotations

import argparse
import logging

from pydriver.analysis import AnalysisOptions, analyze_paths
from pydriver.analysis.diagnostics import DiffusiveCriteria
from pydriver.analysis.options import UNCERTAINTY_METHODS

log = logging.getLogger(__name__)


def _cutoffs(items) -> dict:
    out = {}
    for item in items or []:
        kind, _, value = item.partition("=")
        if not value:
            raise ValueError(f"--cn-cutoff {item!r}; expected KIND=ANGSTROM, e.g. BH4=4.0")
        out[kind] = float(value)
    return out


def _add_input_options(parser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="run directories or trajectory files")
    parser.add_argument("-o", "--output", metavar="OUT_DIR",
                        help="output folder (default: the run directory, or the trajectory file's folder)")
    parser.add_argument("--temp", type=float, metavar="K", help="set-point temperature in K (needed without run.json)")
    parser.add_argument("--dt-ps", type=float, metavar="PS", help="MD time step in ps (needed without run.json)")
    parser.add_argument("--timestep", dest="dt_ps", type=float, help=argparse.SUPPRESS)  # old name of --dt-ps
    parser.add_argument("--dump-every", type=int, metavar="N",
                        help="MD steps between frames, for files that carry no step numbers or time stamps "
                             "(XDATCAR: VASP's NBLOCK; extxyz without Timestep= or Time=); needed there, "
                             "together with --dt-ps")
    parser.add_argument("--types", help="type map without run.json, e.g. '1:Na 2:B_BH4 3:H_BH4'")
    parser.add_argument("--format", dest="traj_format", choices=("auto", "lammps", "ase"), default="auto",
                        help="trajectory reader: LAMMPS dump, or ASE (XDATCAR, extxyz, ...); default %(default)s")
    parser.add_argument("--longest-even-part", action="store_true",
                        help="if frames are unevenly spaced, analyse the longest evenly spaced part (warning) "
                             "instead of stopping with an error")
    parser.add_argument("--until-first-nonfinite", action="store_true",
                        help="if positions become nan or inf (a run that blew up), analyse the frames before the "
                             "first such frame (warning) instead of stopping with an error")


def _add_transport_options(parser, d: AnalysisOptions) -> None:
    parser.add_argument("--species", default=d.diffusing_element, help="diffusing element (default %(default)s)")
    parser.add_argument("--charge", type=float, default=d.charge, help="its charge in e (default %(default)s)")
    parser.add_argument("--fit-start", type=float, metavar="PS",
                        help=f"fit window start, ps (default {100 * d.fit_fraction[0]:g}%% of the run)")
    parser.add_argument("--fit-end", type=float, metavar="PS",
                        help=f"fit window end, ps (default {100 * d.fit_fraction[1]:g}%% of the run)")
    parser.add_argument("--origins", choices=("all", "first"), default=d.origins,
                        help="MSD time origins: all (FFT) or first (pymatgen smoothed=False); default %(default)s")
    parser.add_argument("--no-drift-correction", action="store_true", help="keep the framework drift")
    parser.add_argument("--blocks", type=int, default=d.n_blocks,
                        help="blocks for block averaging (default %(default)s)")
    parser.add_argument("--uncertainty", choices=UNCERTAINTY_METHODS, default=d.uncertainty,
                        help="which D uncertainty is reported as diffusivity_std_cm2_s (default %(default)s)")
    crit = DiffusiveCriteria()
    parser.add_argument("--diffusive-slope", type=float, nargs=2, metavar=("LOW", "HIGH"),
                        default=(crit.min_loglog_slope, crit.max_loglog_slope),
                        help="also require this log-log slope range of MSD minus its offset (default: no gate; "
                             "D must be resolved from zero in any case)")
    parser.add_argument("--diffusive-min-msd", type=float, default=crit.min_msd_A2, metavar="A2",
                        help="also require this mean MSD at the end of the fit window, A^2 (default 0: no gate)")


def _add_other_options(parser, d: AnalysisOptions) -> None:
    parser.add_argument("--active-threshold", type=float, default=d.active_threshold_A2, metavar="A2",
                        help="active-ion MSD threshold, A^2 (default %(default)s)")
    parser.add_argument("--active-lag", type=float, metavar="PS",
                        help=f"active-ion lag in ps (default {100 * d.active_lag_fraction:g}%% of the run)")
    parser.add_argument("--cn-cutoff", action="append", metavar="KIND=A",
                        help="Na-anion centre cutoff per anion kind (default "
                             + ", ".join(f"{k}={v}" for k, v in d.cn_cutoff_A.items()) + ")")
    parser.add_argument("--max-frames", type=int, default=d.max_frames,
                        help="frames for RDF/CN (default %(default)s)")
    parser.add_argument("--grid-spacing", type=float, default=d.density_spacing_A, metavar="A",
                        help="density grid spacing, A (default %(default)s)")
    parser.add_argument("--no-plots", action="store_true", help="skip PNG output")


def _add_mechanism_options(parser, d: AnalysisOptions) -> None:
    parser.add_argument("--sites-file", metavar="STRUCTURE",
                        help="structure file (any ASE format) whose Na positions are the sites, tiled onto the "
                             "run's cell, with symmetry families (default: sites found as density maxima)")
    parser.add_argument("--site-reference", metavar="STRUCTURE",
                        help="structure file whose Na sites (families from its symmetry) the run's sites are "
                             "matched to in sites.slabs, for structures with anion slabs (default: none)")
    parser.add_argument("--min-net-hops", type=int, default=d.min_net_hops, metavar="K",
                        help="hops not undone by a return for an ion to count in active.fraction_hops "
                             "(default %(default)s)")
    parser.add_argument("--coupling-window", type=float, default=d.coupling_window_ps, metavar="PS",
                        help="time after an anion's reorientation event during which nearby Na count as exposed, "
                             "ps (default %(default)s)")
    parser.add_argument("--reorientation-fit-start", type=float, default=d.reorientation_fit_start_ps,
                        metavar="PS", help="first lag of the C_1/C_2 exponential fits, past the libration, ps "
                                           "(default %(default)s)")


class CLICommand:
    """Analyse MD runs or trajectory files into analysis.json (transport, diagnostics, rotation).

    Example: python -m pydriver analyze runs/oNBH_400K --fit-start 100 --fit-end 500
    """

    @staticmethod
    def add_arguments(parser) -> None:
        """Register the options of ``analyze``."""
        d = AnalysisOptions()
        _add_input_options(parser)
        _add_transport_options(parser, d)
        _add_other_options(parser, d)
        _add_mechanism_options(parser, d)

    @staticmethod
    def run(args) -> int:
        """Analyse each path; exit code 0 on success."""
        opts = AnalysisOptions(diffusing_element=args.species, charge=args.charge, fit_start_ps=args.fit_start,
                               fit_end_ps=args.fit_end, origins=args.origins,
                               drift_correction=not args.no_drift_correction, n_blocks=args.blocks,
                               uncertainty=args.uncertainty, active_threshold_A2=args.active_threshold,
                               active_lag_ps=args.active_lag, max_frames=args.max_frames,
                               density_spacing_A=args.grid_spacing, plots=not args.no_plots,
                               diffusive_slope_range=tuple(args.diffusive_slope),
                               diffusive_min_msd_A2=args.diffusive_min_msd,
                               longest_even_part=args.longest_even_part,
                               until_first_nonfinite=args.until_first_nonfinite, sites_file=args.sites_file,
                               site_reference_file=args.site_reference,
                               min_net_hops=args.min_net_hops, coupling_window_ps=args.coupling_window,
                               reorientation_fit_start_ps=args.reorientation_fit_start)
        opts.cn_cutoff_A.update(_cutoffs(args.cn_cutoff))
        for path, summary in analyze_paths(args.paths, opts, args.output, temperature_K=args.temp,
                                           dt_ps=args.dt_ps, type_map=args.types, dump_every=args.dump_every,
                                           traj_format=args.traj_format):
            tr, diag = summary["transport"], summary["diagnostics"]
            log.info("%s: D = %.3e +- %.1e cm^2/s, sigma = %.3g +- %.2g mS/cm at %s K (%s), active %.2f, %s", path,
                     tr["diffusivity_cm2_s"], tr["diffusivity_std_cm2_s"] or float("nan"), tr["conductivity_mS_cm"],
                     tr["conductivity_std_mS_cm"] or float("nan"), _fmt_t(tr["temperature_K"]),
                     tr["temperature_source"], summary["active"]["active_fraction"],
                     "diffusive" if diag["diffusive"] else f"NOT diffusive ({diag['reason']})")
        return 0


def _fmt_t(value) -> str:
    return f"{value:.0f}"
