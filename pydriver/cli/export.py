"""Export a matgl M3GNet checkpoint folder to a model file for ``pair_style m3gnet``.

Example::

    python -m pydriver export ../shared/models/M3GNet-r2SCAN-NaBH nabh.pt --dtype float32
    python -m pydriver export ../shared/models/M3GNet-r2SCAN-NaBH nabh.pt --no-compile   # TorchScript only

then in LAMMPS: ``pair_style m3gnet`` / ``pair_coeff * * nabh.pt Na B H``.
"""

from __future__ import annotations

import argparse
import json
import sys

from pydriver.m3gnet.precision import DEFAULT_DTYPE, DEVICES, DTYPE_NAMES
from pydriver.model_file import read_metadata


class CLICommand:
    """Export a matgl M3GNet checkpoint (model.json, model.pt, state.pt) to a model file.

    The output holds the whole model (TorchScript), its compiled packages (unless --no-compile) and a
    metadata.json (elements, cutoffs, dtype, source hash) that the LAMMPS plugin and the ASE
    calculator read. float64 reproduces the reference to
    round-off (use it for validation); float32, the default for production MD, agrees to ~1e-6
    eV/atom and is 2-3x faster on CPU.
    """

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("model_dir", help="matgl checkpoint folder")
        parser.add_argument("output", help="output model file (e.g. model.pt)")
        parser.add_argument("--dtype", choices=DTYPE_NAMES, default=DEFAULT_DTYPE,
                            help=f"precision of the exported model (default: {DEFAULT_DTYPE})")
        parser.add_argument("--device", choices=DEVICES, default="cpu",
                            help="default device recorded for the plugin (default: cpu)")
        parser.add_argument("--threebody", choices=["density", "triples"], default="density",
                            help="three-body formulation: per-atom density (O(bonds), default) or explicit "
                                 "triples (matgl's literal sum; same numbers, slower)")
        parser.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                            help="store AOTInductor-compiled packages for --device (default where possible: density "
                                 "form, and a CUDA device for --device cuda; faster MD on one rank and under MPI; "
                                 "a few minutes the first time, then seconds from the cache folder; needs a C++ "
                                 "compiler). --no-compile: TorchScript only")

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        from pydriver.m3gnet.export import export_checkpoint  # noqa: PLC0415 (keeps --help fast)

        compiled = args.compile
        if compiled is None:  # the default: compile where it can be done here
            from pydriver.m3gnet.compiled import check_compilable  # noqa: PLC0415 (torch)

            try:
                check_compilable(args.threebody, args.device)
                compiled = True
            except ValueError as exc:
                print(f"TorchScript only: {exc}", file=sys.stderr)
                compiled = False
        out = export_checkpoint(args.model_dir, args.output, dtype=args.dtype, device=args.device,
                                threebody=args.threebody, compiled=compiled)
        meta = read_metadata(out)
        summary = {k: meta[k] for k in ("model_name", "dtype", "device", "cutoff_A", "threebody_cutoff_A", "nblocks")}
        summary["n_elements"] = len(meta["elements"])
        # the metadata entry without file names: {device: {"torch": ..., "threads": ..., "cpu_capability": ...,
        # "halo": true when the per-block packages of MPI comm halo are there}}
        summary["compiled"] = {dev: {"torch": entry["torch"], "threads": entry["threads"],
                                     "cpu_capability": entry.get("cpu_capability"), "halo": "halo" in entry}
                               for dev, entry in meta.get("compiled", {}).items()}
        print(f"wrote {out}: {json.dumps(summary)}")
        return 0
