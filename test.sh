#!/usr/bin/env bash
# One-command test run (after ./setup.sh). Extra arguments go to pytest, e.g. ./test.sh -k parity
set -euo pipefail
cd "$(dirname "$0")"
exec .venv/bin/python -m pytest "$@"
