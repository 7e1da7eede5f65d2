#!/usr/bin/env bash
# The prepared accelerator check (tools/device_check.py): bench cases A, B, C, one SynthSAEBench-16k
# SAE for 4 minutes with its projection to 200M samples, and the two-process run; one JSON.
#   tools/device_check.sh [--cpu-smoke] [--out FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PYTHON:-.venv/bin/python}" tools/device_check.py "$@"
