#!/usr/bin/env bash
# Recipe: levytts on the offline SYNTHETIC imbalanced corpus (flite voices; see docs/speech_data.md).
# ESPnet-style: stages run in order from --stage to --stop-stage; each is resumable (re-running a stage
# rebuilds its outputs). All logic is in the levytts package; this script only orders the stages.
#
#   egs/offline_imbalanced/run.sh                       # data stages 0-2 at default size
#   egs/offline_imbalanced/run.sh --small true          # tiny corpus (about a minute) for smoke tests
#   egs/offline_imbalanced/run.sh --stage 1 --stop-stage 2
#
# Data stages (this file); training stages are appended after them (stage 3 onwards).
#   0  build the corpus: data/offline_imbalanced/{wavs,textgrids,all.txt,test_sentences.txt,...}
#   1  mix: imbalanced/ (frequent + rare, by minutes) and average_voice/ (the other voices) splits
#   2  check that every TextGrid's durations sum to its mel length
set -euo pipefail
cd "$(dirname "$0")/../.."

stage=0
stop_stage=100
small=false
data_dir=data/offline_imbalanced
seed=1234
frequent=slt; rare=awb
minutes_frequent=100; minutes_rare=1; minutes_other=10
n_test=20; n_val=5
jobs=2
sample_rate=22050; hop_length=256          # must match configs/data/offline_imbalanced.yaml
python=${PYTHON:-.venv/bin/python}
levytts=${LEVYTTS:-.venv/bin/levytts}

while [ $# -gt 0 ]; do
  case "$1" in
    --stage) stage=$2; shift 2 ;;
    --stop-stage|--stop_stage) stop_stage=$2; shift 2 ;;
    --small) small=$2; shift 2 ;;
    --data-dir|--data_dir) data_dir=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [ "$small" = true ]; then
  minutes_frequent=1; minutes_rare=0.2; minutes_other=0.2; n_test=2; n_val=1
fi
others=$(sed -n 's/^\([^=]*\)=.*/\1/p' <<< "$("$python" -c 'from levytts.data.offline_corpus import DEFAULT_VOICES; print("\n".join(DEFAULT_VOICES))')" | grep -v -x -e "$frequent" -e "$rare" | tr '\n' ' ')
log() { echo "[$(date +%H:%M:%S)] $*"; }

if [ "$stage" -le 0 ] && [ "$stop_stage" -ge 0 ]; then
  log "stage 0: build the synthetic corpus in $data_dir"
  small_flag=""; [ "$small" = true ] && small_flag="--small"
  "$python" tools/make_offline_corpus.py --out-dir "$data_dir" --seed "$seed" --jobs "$jobs" \
    --frequent "$frequent" --rare "$rare" --minutes-frequent "$minutes_frequent" --minutes-rare "$minutes_rare" \
    --minutes-other "$minutes_other" --n-test "$n_test" --n-val "$n_val" --sample-rate "$sample_rate" --hop-length "$hop_length" $small_flag
fi

if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
  log "stage 1: imbalanced split ($frequent ${minutes_frequent} min, $rare ${minutes_rare} min) and average-voice split"
  "$levytts" data mix --source "filelist=$data_dir/all.txt" --minutes "$frequent=$minutes_frequent" "$rare=$minutes_rare" \
    --held-out-texts "$data_dir/test_sentences.txt" --n-test "$n_test" --n-val "$n_val" --seed "$seed" \
    --out-dir "$data_dir/imbalanced"
  present=$(grep -x -f <(tr ' ' '\n' <<< "$others" | grep .) "$data_dir/speakers.txt" | sed 's/$/=all/' | tr '\n' ' ')
  # shellcheck disable=SC2086  # one SPEAKER=all word per speaker
  "$levytts" data mix --source "filelist=$data_dir/all.txt" --minutes $present \
    --held-out-texts "$data_dir/test_sentences.txt" --n-test "$n_test" --n-val "$n_val" --seed "$seed" \
    --out-dir "$data_dir/average_voice"
fi

if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
  log "stage 2: TextGrid durations vs mel lengths"
  for split in imbalanced average_voice; do
    for list in train val test; do
      "$levytts" data durations "$data_dir/$split/filelists/$list.txt" --textgrid-dir "$data_dir/textgrids" \
        --sample-rate "$sample_rate" --hop-length "$hop_length"
    done
  done
fi
