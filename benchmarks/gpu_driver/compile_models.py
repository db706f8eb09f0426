"""Export one checkpoint with an AOTInductor package built on this machine, for the GPU check.

    PYTHONPATH=<repo>:<site with ase> python3 compile_models.py CHECKPOINT_DIR OUT.pt --dtype float64 --device cuda

A compiled package only loads into the torch that built it (the plugin checks the version), so the GPU
check cannot carry packages built here: it rebuilds the NaBH checkpoint there with pydriver's exporter
(the checkpoint folder and an ase wheel travel in ``carry/``; torch, numpy, scipy and sympy are on the
GPU image). Same file as ``python -m pydriver export CHECKPOINT OUT --dtype D --device X --compile``,
without the CLI's other dependencies. Prints one JSON line: output, dtype, device, seconds; exit status
1 with the error on one line if the export fails.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", type=Path, help="matgl checkpoint folder (model.json, model.pt, state.pt)")
    ap.add_argument("out", type=Path, help="exported model file (.pt)")
    ap.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    ap.add_argument("--device", default="cuda")
    a = ap.parse_args(argv)
    t0 = time.time()
    try:
        from pydriver.m3gnet.export import export_checkpoint  # noqa: PLC0415 (after argparse: --help is quick)

        export_checkpoint(a.checkpoint, a.out, dtype=a.dtype, device=a.device.split(":")[0], compiled=True)
    except Exception as exc:  # noqa: BLE001 (reported as one line; the check records it and goes on)
        print(f"compile_models: {a.out.name}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
              file=sys.stderr)
        return 1
    print(json.dumps({"out": str(a.out), "dtype": a.dtype, "device": a.device, "seconds": time.time() - t0}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
