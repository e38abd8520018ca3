#!/usr/bin/env bash
# 2-D toy studies of the LIM / DLPM / Popov papers (docs/toy2d.md). ESPnet-style stages:
#   1 two Gaussians 10:1 (LIM Fig. 3)      2 heavy-tailed data, MSLE (DLPM)
#   3 9-Gaussian grid, F1 (DLPM)           4 sampler comparison on the stage-3 models
#   5 variation of α-stable vs Gamma paths (Popov Fig. 3)
# Usage: recipes/toy2d/run.sh [--stage N] [--stop-stage M] [--quick] [--publish] [--seeds S]
#                             [--results FILE.md] [--figures DIR] [--exp DIR] [--threads T]
# Outputs: exp/toy2d/toy2d.md, exp/toy2d/figures/toy2d_*.png, models in exp/toy2d (--quick: exp/toy2d/quick/).
# --publish writes the page and figures into docs/results/toy2d.md and docs/figures/ (not with --quick).
# All logic is in levytts/toy; this script only orders the stages. Run from the repository root.
set -euo pipefail

stage=1
stop_stage=5
extra=()
if [ -z "${PYTHON:-}" ] && [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; fi  # the venv of scripts/setup.sh
PYTHON=${PYTHON:-python3}

while [ $# -gt 0 ]; do
  case "$1" in
    --stage) stage=$2; shift 2 ;;
    --stop-stage|--stop_stage) stop_stage=$2; shift 2 ;;
    --quick) extra+=(--quick); shift ;;
    --publish) extra+=(--publish); shift ;;
    --seeds|--results|--figures|--exp|--threads) extra+=("$1" "$2"); shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
done

for k in 1 2 3 4 5; do
  if [ "$k" -ge "$stage" ] && [ "$k" -le "$stop_stage" ]; then
    echo "=== toy2d stage $k ==="
    "$PYTHON" -m levytts.cli toy2d --stage "$k" --stop-stage "$k" "${extra[@]}"
  fi
done
