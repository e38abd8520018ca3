# Shared body of the image recipes (recipes/{cifar10,cifar10lt,fashion_mnist_lt}/run.sh), sourced by them
# after they set: exp (hydra experiment name under configs/image/experiment) and fixture_kind (the
# `levytts image make-fixture --kind` written for --quick when no --data is given; empty: none needed).
# Stages (all logic lives in `levytts image ...`; every stage is resumable):
#   0 prepare data   1 feature classifier   2 train (per α)   3 sampler grid (per α)
#   4 evaluate (per α)   5 report (markdown tables)
# Options: [--stage N] [--stop-stage N] [--quick] [--alphas "1.8 2.0"] [--diffusion lim|dlpm] [--data PATH] [-- hydra overrides]
set -euo pipefail
cd "$(dirname "$0")/../.."
stage=0; stop_stage=100; quick=false; alphas="1.8 2.0"; data=""; diffusion=lim
if [ -z "${PYTHON:-}" ] && [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; fi  # the venv of scripts/setup.sh
python=${PYTHON:-python3}
while [ $# -gt 0 ]; do
  case "$1" in
    --stage) stage=$2; shift 2 ;;
    --stop-stage|--stop_stage) stop_stage=$2; shift 2 ;;
    --quick) quick=true; shift ;;
    --alphas) alphas=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --diffusion) diffusion=$2; shift 2 ;;  # lim | dlpm
    -h|--help) awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;;  # the header comment
    --) shift; break ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
overrides=("diffusion=$diffusion" "$@")
if $quick; then
  overrides+=(preset=quick)   # configs/image/preset/quick.yaml: smoke sizes on top of the experiment
  if [ -z "$data" ] && [ -n "$fixture_kind" ]; then  # the real data cannot be downloaded here: a tiny fixture in its real format
    data=exp/image/fixtures/$fixture_kind
    $python -m levytts.cli image make-fixture --kind "$fixture_kind" --out "$data"
  fi
fi
[ -n "$data" ] && overrides+=("data.root=$(realpath "$data")")
img() { $python -m levytts.cli image "$1" experiment=$exp "${@:2}" ${overrides[@]+"${overrides[@]}"}; }
runs=""; for a in $alphas; do runs="$runs,${diffusion}_alpha$a"; done; runs="[${runs#,}]"

if [ $stage -le 0 ] && [ $stop_stage -ge 0 ]; then img prepare; fi
if [ $stage -le 1 ] && [ $stop_stage -ge 1 ]; then img classifier; fi
for a in $alphas; do
  if [ $stage -le 2 ] && [ $stop_stage -ge 2 ]; then img train diffusion.alpha=$a; fi
  if [ $stage -le 3 ] && [ $stop_stage -ge 3 ]; then img sample diffusion.alpha=$a; fi
  if [ $stage -le 4 ] && [ $stop_stage -ge 4 ]; then img evaluate diffusion.alpha=$a; fi
done
if [ $stage -le 5 ] && [ $stop_stage -ge 5 ]; then img report "report.runs=$runs"; fi
