"""Render a run (or a dump) headless with OVITO: structure, anions, active Na, Na density, hops, rotation, sites.

Reads RUN_DIR (dump.lammpstrj, run.json, analysis.json, Na_density.CHGCAR, per_atom.csv, sites.csv,
site_hops.csv) or a dump file. Modes active/density/sites (and hops, when no --ions) use the analysis
(`python -m pydriver analyze RUN_DIR` first). --session writes an .ovito file that opens in the
free OVITO desktop application with the same pipeline. See README "Visualisation".

Examples:
  python -m pydriver render runs/oNBH_600K --what density -o density.png --density-threshold-per-A3 0.05
  python -m pydriver render runs/oNBH_600K --what hops --movie hops.mp4 --frames 0:60
  python -m pydriver render runs/oNBH_600K --what sites -o sites.png
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

#: = pydriver.viz.scene.MODES, repeated so that --help does not import ovito (a test keeps them equal)
MODES = ("structure", "anions", "active", "density", "hops", "rotation", "sites")


#: scene notes another log line already states (the density isolevel and range: pydriver.viz.density; the
#: traced ions: pydriver.viz.scene): logged at DEBUG here
NOTES_LOGGED_ELSEWHERE = frozenset({"threshold_per_A3", "density_range_per_A3", "ion_ids"})


def note_text(value) -> str:
    """A scene note as a log line shows it: floats to 3 significant figures, also inside lists and tuples."""
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(note_text(v) for v in value) + "]"
    return str(value)


def log_notes(notes: dict) -> None:
    """Log a scene's notes, one line each: INFO, or DEBUG for :data:`NOTES_LOGGED_ELSEWHERE`."""
    for key, value in notes.items():
        log.log(logging.DEBUG if key in NOTES_LOGGED_ELSEWHERE else logging.INFO, "%s: %s", key, note_text(value))


def _frames(text: str) -> tuple[int, int]:
    first, sep, last = text.partition(":")
    if not sep or not first.strip().isdigit() or not last.strip().isdigit():
        raise ValueError(f"--frames {text!r}; expected FIRST:LAST, e.g. 0:50")
    return int(first), int(last)


def _ids(text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        return [int(v) for v in text.replace(",", " ").split()]
    except ValueError as exc:
        raise ValueError(f"--ions {text!r}; expected atom ids, e.g. 3,7,12") from exc


class CLICommand:
    """Render a run or dump with OVITO (headless Tachyon): PNG, MP4/GIF movie or .ovito session.

    Example: python -m pydriver render runs/oNBH_600K --what anions -o anions.png --size 640 480
    """

    @staticmethod
    def add_arguments(parser) -> None:
        """Register the options of ``render``."""
        parser.add_argument("source", metavar="RUN_DIR_OR_DUMP", help="run directory or LAMMPS dump")
        parser.add_argument("--what", choices=MODES, default="structure", help="what to show (default structure)")
        parser.add_argument("-o", "--output", help="PNG to write")
        parser.add_argument("--frame", type=int, default=0, help="frame of the dump for the PNG (default 0)")
        parser.add_argument("--size", type=int, nargs=2, metavar=("W", "H"), default=(640, 480),
                            help="image size in pixels (default 640 480)")
        parser.add_argument("--density-threshold-per-A3", type=float, metavar="X",
                            help="isosurface level in Na per A^3 (default 5x the mean density)")
        parser.add_argument("--movie", metavar="OUT.mp4|gif", help="render --frames as a movie")
        parser.add_argument("--frames", default=None, metavar="A:B", help="movie/trajectory-line frames (default all)")
        parser.add_argument("--fps", type=int, default=10, help="movie frames per second (default 10)")
        parser.add_argument("--ions", help="Na ids to trace in --what hops, e.g. 3,7 (default: active ones)")
        parser.add_argument("--anion", type=int, help="molecule id of the anion traced in --what rotation")
        parser.add_argument("--color-by", choices=("active", "msd"), default="active",
                            help="--what active: active flag or per-atom MSD (default active)")
        parser.add_argument("--no-polyhedra", action="store_true", help="anions as bonds only")
        parser.add_argument("--types", help="type map for a dump without run.json or element column, "
                                            "e.g. '1:Na 2:B_BH4 3:H_BH4'")
        parser.add_argument("--session", metavar="OUT.ovito", nargs="?", const="",
                            help="also write an OVITO session state for the desktop app "
                                 "(default RUN_DIR/pipeline.ovito)")

    @staticmethod
    def run(args) -> int:
        """Build the pipelines and write the requested outputs; exit code 0 on success."""
        from pydriver.cli.main import CLIError

        if not (args.output or args.movie or args.session is not None):
            raise CLIError("nothing to write: give -o OUT.png, --movie OUT.mp4 or --session OUT.ovito")
        try:
            from pydriver.viz import render, session
            from pydriver.viz.run_files import locate
            from pydriver.viz.scene import SceneOptions, build_scene
        except ImportError as exc:
            raise CLIError(f"render needs the ovito package ({exc}); install it: "
                           "pip install 'm3gnet-lammps[viz]' (or rerun ./setup.sh)") from exc
        from pydriver.analysis.run_inputs import parse_type_map

        frames = _frames(args.frames) if args.frames else None
        files = locate(args.source, parse_type_map(args.types) if args.types else None)
        opts = SceneOptions(what=args.what, threshold_per_A3=args.density_threshold_per_A3, ion_ids=_ids(args.ions),
                            anion_mol=args.anion, color_by=args.color_by, polyhedra=not args.no_polyhedra,
                            line_frames=frames if args.what in ("hops", "rotation") else None)
        try:
            scene = build_scene(files, opts)
            log_notes(scene.notes)
            size = tuple(args.size)
            movie_frames = frames or (0, scene.n_frames - 1)
            render.check_request(scene.n_frames, args.frame, args.movie, movie_frames if args.movie else frames)
            if args.output:
                render.render_image(scene, args.output, size, args.frame)
            if args.movie:
                render.render_movie(scene, args.movie, movie_frames, size, args.fps)
            if args.session is not None:
                session.write_session(scene, args.session or session.default_path(files.dump.parent))
        except RuntimeError as exc:  # OVITO reports pipeline and renderer failures as RuntimeError
            raise CLIError(str(exc).strip().splitlines()[0]) from exc
        return 0
