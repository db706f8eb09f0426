#!/usr/bin/env bash
# One-command set-up: creates .venv/ (Python 3.11) with torch 2.13.0 (CPU), lammps[mpi] and this
# package with its compiled pair_style m3gnet plugin. Idempotent; rerun after changing plugin/.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-$(command -v python3.11 || command -v python3)}
PIP_OPTS=(-q --disable-pip-version-check)
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
# tcmalloc: preloaded into LAMMPS by pydriver (flat memory, faster steps); optional, needs root + apt.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && ! ldconfig -p 2>/dev/null | grep -q libtcmalloc_minimal.so.4; then
  apt-get install -y -qq libtcmalloc-minimal4 >/dev/null 2>&1 || true
fi
# torch pinned: an unpinned torch pulls a multi-GB CUDA build (see README for GPU builds).
.venv/bin/python -m pip install "${PIP_OPTS[@]}" "torch==${TORCH_VERSION:-2.13.0}" "lammps[mpi]==2025.7.22.*" \
  "scikit-build-core>=0.10" ninja "cmake>=3.18"  2> >(grep -v "is ignored: it is neither" >&2)
# Build the plugin against the torch and lammps just installed (no isolated build env).
.venv/bin/python -m pip install "${PIP_OPTS[@]}" --no-build-isolation ".[test]"  2> >(grep -v "is ignored: it is neither" >&2)
.venv/bin/python -m pydriver --version
.venv/bin/python -c "import pydriver.plugin_path as p; print('plugin:', p.plugin_file())"
