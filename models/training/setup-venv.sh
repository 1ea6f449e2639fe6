#!/usr/bin/env bash
# Creates models/training/.venv and installs the pinned requirements (torch==2.13.0 CPU).
# Idempotent: when the venv exists and requirements.txt is unchanged since the last
# successful install, it only checks that the imports work and exits (about 2 s).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HERE/.venv"
REQ="$HERE/requirements.txt"
STAMP="$VENV/.requirements.sha256"
PY="${PYTHON:-python3}"

want="$(sha256sum "$REQ" | cut -d' ' -f1)"
# make `python -m pe_teachers...` work from any working directory (the Node CLI spawns it)
write_pth() {
  local sp
  sp="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  echo "$HERE" > "$sp/pe_teachers_src.pth"
}
if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
  write_pth
  if "$VENV/bin/python" -c "import torch, mediapipe, dlib, cv2, sentence_transformers" >/dev/null 2>&1; then
    echo "models/training/.venv is up to date"
    exit 0
  fi
fi

if [[ ! -x "$VENV/bin/python" ]]; then
  "$PY" -m venv "$VENV"
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
# torch first, pinned, so that nothing else can pull a CUDA build of torch.
# On these machines `pip install torch==2.13.0` takes a local CPU wheel; elsewhere set
# PE_TORCH_INDEX=https://download.pytorch.org/whl/cpu to get the CPU build from PyTorch's index.
if ! "$VENV/bin/python" -c "import torch,sys; sys.exit(0 if torch.__version__.startswith('2.13.0') else 1)" >/dev/null 2>&1; then
  if [[ -n "${PE_TORCH_INDEX:-}" ]]; then
    "$VENV/bin/pip" install --index-url "$PE_TORCH_INDEX" torch==2.13.0
  else
    "$VENV/bin/pip" install torch==2.13.0
  fi
fi
"$VENV/bin/pip" install -q -r "$REQ"
"$VENV/bin/python" -c "import torch, mediapipe, dlib, cv2, sentence_transformers; print('torch', torch.__version__)"
write_pth
echo "$want" > "$STAMP"
echo "models/training/.venv ready"
