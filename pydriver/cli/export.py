"""Export a matgl M3GNet checkpoint folder to a TorchScript file for ``pair_style m3gnet``.

Example::

    python -m pydriver export ../shared/models/M3GNet-r2SCAN-NaBH nabh.pt --dtype float32

then in LAMMPS: ``pair_style m3gnet`` / ``pair_coeff * * nabh.pt Na B H``.
"""

from __future__ import annotations

import argparse
import json

from pydriver.m3gnet.precision import DEFAULT_DTYPE, DEVICES, DTYPE_NAMES
from pydriver.model_file import read_metadata


class CLICommand:
    """Export a matgl M3GNet checkpoint (model.json, model.pt, state.pt) to a TorchScript model file.

    The output holds the whole model and a metadata.json (elements, cutoffs, dtype, source hash)
    that the LAMMPS plugin and the ASE calculator read. float64 reproduces the reference to
    round-off (use it for validation); float32, the default for production MD, agrees to ~1e-6
    eV/atom and is 2-3x faster on CPU.
    """

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("model_dir", help="matgl checkpoint folder")
        parser.add_argument("output", help="output TorchScript file (e.g. model.pt)")
        parser.add_argument("--dtype", choices=DTYPE_NAMES, default=DEFAULT_DTYPE,
                            help=f"precision of the exported model (default: {DEFAULT_DTYPE})")
        parser.add_argument("--device", choices=DEVICES, default="cpu",
                            help="default device recorded for the plugin (default: cpu)")
        parser.add_argument("--threebody", choices=["density", "triples"], default="density",
                            help="three-body formulation: per-atom density (O(bonds), default) or explicit "
                                 "triples (matgl's literal sum; same numbers, slower)")
        parser.add_argument("--compile", action="store_true",
                            help="also store an AOTInductor-compiled energy+gradient for --device (1-2 min, "
                                 "needs a C++ compiler; ~1.6x faster steps on one MPI rank)")

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        from pydriver.m3gnet.export import export_checkpoint  # noqa: PLC0415 (keeps --help fast)

        out = export_checkpoint(args.model_dir, args.output, dtype=args.dtype, device=args.device,
                                threebody=args.threebody, compiled=args.compile)
        meta = read_metadata(out)
        summary = {k: meta[k] for k in ("model_name", "dtype", "device", "cutoff_A", "threebody_cutoff_A", "nblocks")}
        summary["n_elements"] = len(meta["elements"])
        # the metadata entry without its archive file name: {device: {"torch": ..., "threads": ...}}
        summary["compiled"] = {dev: {k: v for k, v in entry.items() if k != "file"}
                               for dev, entry in meta.get("compiled", {}).items()}
        print(f"wrote {out}: {json.dumps(summary)}")
        return 0
