#!/usr/bin/env bash
# Creates parity/.venv with the pinned reference stack (idempotent: a stamp records what was
# installed; rerunning with unchanged requirement files does nothing).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"
py="${PYTHON:-python3}"
stamp="$venv/.parity-stamp"
want="$(cat "$here/requirements.txt" "$here/requirements-torch.txt" | sha256sum | cut -d' ' -f1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "parity/.venv is up to date"
  exit 0
fi
"$py" -c 'import sys; assert sys.version_info[:2] >= (3, 10), "Python >= 3.10 needed"'
[[ -x "$venv/bin/python" ]] || "$py" -m venv "$venv"
pip=("$venv/bin/python" -m pip install --disable-pip-version-check -q --only-binary=:all:)
"${pip[@]}" -r "$here/requirements.txt"
# torch from PyPI with its CUDA runtime wheels (see requirements-torch.txt for why).
"${pip[@]}" -r "$here/requirements-torch.txt"
"$venv/bin/python" - <<'PY'
import torch, torchvision, transformers, qwen_vl_utils, decord, numpy
print("torch", torch.__version__, "torchvision", torchvision.__version__, "transformers", transformers.__version__,
      "decord", decord.__version__, "numpy", numpy.__version__)
PY
echo "$want" > "$stamp"
