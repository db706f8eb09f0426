"""Print the step the next LAMMPS chunk of an adaptive run must reach; nothing once the run is finished.

The job script of a run written with a precision target (``deck --target-rel-error-d``, a sweep's
``md.target``) loops on this command: after each chunk it analyses the run, records the verdict in
``adaptive.json`` and prints the next end step, or nothing once D is precise enough and the run is
diffusive (``converged``) or production reached its cap (``capped``). See ``docs/run_directory.md``.
"""

from __future__ import annotations

from pathlib import Path


class CLICommand:
    """Print the step an adaptive run's next MD chunk must reach (nothing when the run is finished).

    Example (what job.slurm runs): cd RUN_DIR && python -m pydriver next-chunk .
    """

    @staticmethod
    def add_arguments(parser) -> None:
        """Register the arguments of ``next-chunk``."""
        parser.add_argument("run_dir", metavar="RUN_DIR", help="run directory written with a precision target")

    @staticmethod
    def run(args) -> int:
        """Print the end step of the next chunk, or nothing; exit code 0 (2 with one line when the disk
        cannot hold what the chunk will write)."""
        from pydriver.sweep.adaptive import next_chunk  # noqa: PLC0415  (analysis stack, only for this command)

        end = next_chunk(args.run_dir)
        if end is not None:
            from pydriver.sweep.disk import check_chunk_space  # noqa: PLC0415

            # the chunk starts only if the disk holds what it will write (one-line error, exit 2)
            check_chunk_space(Path(args.run_dir), end)
            print(end)
        return 0
