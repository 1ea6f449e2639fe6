#!/usr/bin/env bash
# Runs the teachers' pytest suite in models/training/.venv (run setup-venv.sh first).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [[ ! -x "$HERE/.venv/bin/python" ]]; then
  echo "models/training/.venv missing: run models/training/setup-venv.sh" >&2
  exit 1
fi
cd "$HERE"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" GLOG_minloglevel=2 TF_CPP_MIN_LOG_LEVEL=2
exec "$HERE/.venv/bin/python" -m pytest -q -p no:cacheprovider tests "$@"
