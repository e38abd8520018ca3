#!/usr/bin/env bash
# Recipe: Popov et al. 2024 §5.2 / Table 5 / App. C — the imbalanced-speaker TTS experiment.
# 1000 min of LJSpeech ("lj") + 10 min of HiFi-TTS speaker 9017; the average-voice encoder pre-trained on
# LibriTTS with MFA phone durations; decoders with Gaussian noise (alpha 2.0) and alpha = 1.8, 1.5;
# 100 test sentences per speaker; ODE Euler with N = 30, 50, 100; speaker similarity table.
# ESPnet-style: stages from --stage to --stop-stage, each resumable. The corpora are NOT on the levytts
# development machines: the data stages are tested on tiny fixtures in the real on-disk layouts
# (tests/test_recipe_paper.py); stages 3-7 are the same code as egs/offline_imbalanced (egs/common/imbalanced_stages.sh).
#
#   egs/ljspeech_hifitts9017/run.sh --ljspeech /data/LJSpeech-1.1 --hifitts /data/hi_fi_tts_v0 \
#       --libritts /data/LibriTTS [--stage N] [--stop-stage M] [--data-dir DIR] [--exp-dir DIR]
#
#   0  read the corpora (levytts data prepare): ljspeech/, hifitts9017/, libritts/ filelists under --data-dir
#   1  the imbalanced mix (lj=1000 min, 9017=10 min, 100 test + 5 val sentences per speaker, test texts held
#      out) in --data-dir/filelists, the average-voice split of LibriTTS in --data-dir/average_voice, and
#      --data-dir/speakers.txt (lj, 9017, then the LibriTTS speakers: the model's speaker table)
#   2  Montreal Forced Aligner over every utterance (tools/mfa_align.sh) → --data-dir/textgrids, checked
#   3  average-voice encoder pre-training (experiment=avg_voice_pretrain) on the LibriTTS split
#   4  decoders per alpha (experiment=paper_levy_1.5 with diffusion.alpha=...), encoder frozen
#   5  synthesis of the test sentences per speaker x sampler x N x seed;  6  levytts eval;  7  tables
set -euo pipefail
cd "$(dirname "$0")/../.."

stage=0
stop_stage=100
ljspeech=""; hifitts=""; libritts=""
data_dir=data/ljspeech_hifitts9017         # configs/data/ljspeech_hifitts9017.yaml reads data_dir/filelists/*.txt
exp_dir=exp/ljspeech_hifitts9017
seed=1234
minutes_lj=1000; minutes_rare=10; rare=9017
n_test=100; n_val=5
alphas="2.0 1.8 1.5"
seeds="0"
enc_steps=200000; dec_steps=1700000        # the paper trains the decoder 2800 epochs; set what your GPUs allow
eval_per_speaker=100
conditions="ode:euler:30 ode:euler:50 ode:euler:100"
eta="popov:0.3,0.3"
jobs=1                                     # decoder trainings / syntheses at a time
sample_rate=22050; hop_length=256          # must match configs/data/ljspeech_hifitts9017.yaml
python=${PYTHON:-.venv/bin/python}
levytts=${LEVYTTS:-.venv/bin/levytts}

while [ $# -gt 0 ]; do
  case "$1" in
    --stage) stage=$2; shift 2 ;;
    --stop-stage|--stop_stage) stop_stage=$2; shift 2 ;;
    --ljspeech) ljspeech=$2; shift 2 ;;
    --hifitts) hifitts=$2; shift 2 ;;
    --libritts) libritts=$2; shift 2 ;;
    --data-dir|--data_dir) data_dir=$2; shift 2 ;;
    --exp-dir|--exp_dir) exp_dir=$2; shift 2 ;;
    --alphas) alphas=$2; shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    --enc-steps) enc_steps=$2; shift 2 ;;
    --dec-steps) dec_steps=$2; shift 2 ;;
    --n-test) n_test=$2; eval_per_speaker=$2; shift 2 ;;
    --n-val) n_val=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
# shellcheck source=../common/imbalanced_stages.sh
source egs/common/imbalanced_stages.sh

need_dir() {  # need_dir OPTION VALUE
  if [ -z "$2" ] || [ ! -d "$2" ]; then
    echo "run.sh: stage $stage needs $1 DIR (the corpus root; got '${2}')" >&2; exit 2
  fi
}

if [ "$stage" -le 0 ] && [ "$stop_stage" -ge 0 ]; then
  need_dir --ljspeech "$ljspeech"; need_dir --hifitts "$hifitts"; need_dir --libritts "$libritts"
  log "stage 0: read LJSpeech, HiFi-TTS $rare and LibriTTS into $data_dir"
  "$levytts" data prepare --source "ljspeech=$ljspeech" --out-dir "$data_dir/ljspeech"
  "$levytts" data prepare --source "hifitts=$hifitts" --speakers "$rare" --out-dir "$data_dir/hifitts$rare"
  "$levytts" data prepare --source "libritts=$libritts" --out-dir "$data_dir/libritts"
fi

if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
  log "stage 1: imbalanced mix (lj ${minutes_lj} min, $rare ${minutes_rare} min) and the LibriTTS average-voice split"
  "$levytts" data mix --source "filelist=$data_dir/ljspeech/filelist.txt" --source "filelist=$data_dir/hifitts$rare/filelist.txt" \
    --minutes "lj=$minutes_lj" "$rare=$minutes_rare" --n-test "$n_test" --n-val "$n_val" --seed "$seed" --out-dir "$data_dir"
  # shellcheck disable=SC2046  # one SPEAKER=all word per LibriTTS speaker
  "$levytts" data mix --source "filelist=$data_dir/libritts/filelist.txt" --minutes $(sed 's/$/=all/' "$data_dir/libritts/speakers.txt") \
    --n-test 1 --n-val 1 --seed "$seed" --out-dir "$data_dir/average_voice"
  # the model's speaker table: the two target speakers first, then the (encoder-only) LibriTTS speakers
  { printf 'lj\n%s\n' "$rare"; grep -v -x -e lj -e "$rare" "$data_dir/libritts/speakers.txt" || true; } > "$data_dir/speakers.txt.tmp"
  mv "$data_dir/speakers.txt.tmp" "$data_dir/speakers.txt"
fi

if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
  log "stage 2: Montreal Forced Aligner phone durations → $data_dir/textgrids"
  cat "$data_dir"/filelists/{train,val,test}.txt "$data_dir"/average_voice/filelists/{train,val,test}.txt > "$data_dir/align_all.txt"
  SAMPLE_RATE=$sample_rate HOP_LENGTH=$hop_length LEVYTTS=$levytts bash tools/mfa_align.sh "$data_dir/align_all.txt" "$data_dir" "$jobs"
fi

data_config=ljspeech_hifitts9017; enc_experiment=avg_voice_pretrain; dec_experiment=paper_levy_1.5
speakers="lj $rare"; test_split=.
overrides="+data.pretrain_train_filelist_path=$data_dir/average_voice/filelists/train.txt +data.pretrain_valid_filelist_path=$data_dir/average_voice/filelists/val.txt"

if [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ]; then stage_encoder; fi
if [ "$stage" -le 4 ] && [ "$stop_stage" -ge 4 ]; then stage_decoders; fi
if [ "$stage" -le 5 ] && [ "$stop_stage" -ge 5 ]; then stage_synth; fi
if [ "$stage" -le 6 ] && [ "$stop_stage" -ge 6 ]; then stage_eval; fi
if [ "$stage" -le 7 ] && [ "$stop_stage" -ge 7 ]; then stage_table; fi
