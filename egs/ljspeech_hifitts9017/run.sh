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
#   4  decoders per alpha (experiment=paper with diffusion.alpha=...), encoder frozen
#   5  synthesis of the test sentences per speaker x sampler x N x seed;  6  levytts eval;  7  tables
#   Stage 4 options: --train-seed K (the decoders' training seed), --dec-lr-decay START:END:FINAL (half-cosine lr)
#
# Several rare speakers: --rare "9017:10 92:5 libritts:1088:3" ([hifitts:|libritts:]SPEAKER:MINUTES items; the
# default "9017:10" is the paper's set). More than one item (or a LibriTTS one) builds a SECOND set in
# --data-dir/multi (filelists/, average_voice/, speakers.txt, textgrids/) and --exp-dir with _multi appended:
# stage 0 also reads every HiFi-TTS rare speaker (--data-dir/hifitts<id>), stage 1 mixes lj with the rare
# speakers at their minutes and leaves every rare speaker id out of the LibriTTS average-voice split (the encoder
# never sees them), stage 2 aligns the multi set, stages 3-7 train a new encoder and decoders on it.
set -euo pipefail
cd "$(dirname "$0")/../.."

stage=0
stop_stage=100
ljspeech=""; hifitts=""; libritts=""
data_dir=data/ljspeech_hifitts9017         # configs/tts/data/ljspeech_hifitts9017.yaml reads data_dir/filelists/*.txt
exp_dir=exp/ljspeech_hifitts9017
seed=1234
minutes_lj=1000; minutes_rare=10; rare=9017
rare_spec=""                               # --rare "[hifitts:|libritts:]SPK:MIN ...": empty = "$rare:$minutes_rare"
n_test=100; n_val=5
alphas="2.0 1.8 1.5"
seeds="0"
enc_steps=200000; dec_steps=1700000        # the paper trains the decoder 2800 epochs; set what your GPUs allow
eval_per_speaker=100
conditions="ode:euler:30 ode:euler:50 ode:euler:100"
eta="popov:0.3,0.3"
jobs=1                                     # decoder trainings / syntheses at a time
train_seed=""; dec_lr_decay=""             # --train-seed K, --dec-lr-decay START:END:FINAL (stage 4; empty: the config's)
python=${PYTHON:-.venv/bin/python}
# the audio settings are read from the data config (one place; configs/tts/data/ljspeech_hifitts9017.yaml), not copied here
read -r sample_rate hop_length < <("$python" -c "from omegaconf import OmegaConf; c = OmegaConf.load('configs/tts/data/ljspeech_hifitts9017.yaml'); print(c.sample_rate, c.hop_length)") \
  || { echo "run.sh: cannot read sample_rate / hop_length from configs/tts/data/ljspeech_hifitts9017.yaml" >&2; exit 1; }
levytts=${LEVYTTS:-.venv/bin/levytts}

while [ $# -gt 0 ]; do
  # every option but --help takes a value
  if [ $# -lt 2 ] && [ "$1" != -h ] && [ "$1" != --help ]; then echo "run.sh: $1 needs a value (see --help)" >&2; exit 2; fi
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
    --rare) rare_spec=$2; shift 2 ;;
    --train-seed) train_seed=$2; shift 2 ;;
    --dec-lr-decay) dec_lr_decay=$2; shift 2 ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
# shellcheck source=../common/imbalanced_stages.sh
source egs/common/imbalanced_stages.sh   # the shared stages 3-7 (functions only) and check_decoder_options
check_decoder_options || exit 2
# --rare: "9017:10" (one HiFi-TTS item) is the paper's set in --data-dir; anything else the multi-rare set
read -r -a rare_items <<< "${rare_spec:-$rare:$minutes_rare}"
rare_names=(); rare_minutes=(); rare_corpora=()
for item in "${rare_items[@]}"; do
  if ! [[ $item =~ ^((hifitts|libritts):)?([A-Za-z0-9_]+):([0-9]+(\.[0-9]*)?|\.[0-9]+)$ ]]; then
    echo "run.sh: --rare takes [hifitts:|libritts:]SPEAKER:MINUTES items (e.g. \"9017:10 92:5\"), got '$item'" >&2; exit 2
  fi
  name=${BASH_REMATCH[3]}
  if [ "$name" = lj ] || [[ " ${rare_names[*]} " == *" $name "* ]]; then
    echo "run.sh: --rare: speaker $name is lj or given twice" >&2; exit 2
  fi
  rare_names+=("$name"); rare_minutes+=("${BASH_REMATCH[4]}"); rare_corpora+=("${BASH_REMATCH[2]:-hifitts}")
done
[ "${#rare_names[@]}" -ge 1 ] || { echo "run.sh: --rare needs at least one SPEAKER:MINUTES item" >&2; exit 2; }
corpus_dir=$data_dir                       # stage 0's corpus filelists (shared by both sets)
multi=false
if [ "${#rare_names[@]}" -eq 1 ] && [ "${rare_corpora[0]}" = hifitts ]; then
  rare=${rare_names[0]}; minutes_rare=${rare_minutes[0]}
else
  multi=true; data_dir=$corpus_dir/multi; exp_dir=${exp_dir}_multi
fi

need_dir() {  # need_dir OPTION VALUE
  if [ -z "$2" ] || [ ! -d "$2" ]; then
    echo "run.sh: stage $stage needs $1 DIR (the corpus root; got '${2}')" >&2; exit 2
  fi
}

if [ "$stage" -le 0 ] && [ "$stop_stage" -ge 0 ]; then
  need_dir --ljspeech "$ljspeech"; need_dir --hifitts "$hifitts"; need_dir --libritts "$libritts"
  log "stage 0: read LJSpeech, HiFi-TTS ${rare_names[*]} and LibriTTS into $corpus_dir"
  "$levytts" data prepare --source "ljspeech=$ljspeech" --out-dir "$corpus_dir/ljspeech"
  for i in "${!rare_names[@]}"; do
    if [ "${rare_corpora[$i]}" = hifitts ]; then
      "$levytts" data prepare --source "hifitts=$hifitts" --speakers "${rare_names[$i]}" --out-dir "$corpus_dir/hifitts${rare_names[$i]}"
    fi
  done
  "$levytts" data prepare --source "libritts=$libritts" --out-dir "$corpus_dir/libritts"
fi

if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ] && [ "$multi" = true ]; then
  sources=(--source "filelist=$corpus_dir/ljspeech/filelist.txt"); minutes_args=("lj=$minutes_lj")
  for i in "${!rare_names[@]}"; do
    name=${rare_names[$i]}
    if [ "${rare_corpora[$i]}" = libritts ]; then  # the speaker's own filelist, so it is never mixed with a namesake
      grep -q -x -F "$name" "$corpus_dir/libritts/speakers.txt" || { echo "run.sh: --rare: no LibriTTS speaker $name" >&2; exit 2; }
      "$levytts" data prepare --source "filelist=$corpus_dir/libritts/filelist.txt" --speakers "$name" \
        --out-dir "$data_dir/libritts$name"
      sources+=(--source "filelist=$data_dir/libritts$name/filelist.txt")
    else
      sources+=(--source "filelist=$corpus_dir/hifitts$name/filelist.txt")
    fi
    minutes_args+=("$name=${rare_minutes[$i]}")
  done
  log "stage 1: multi-rare mix (${minutes_args[*]} min) in $data_dir and the LibriTTS average-voice split without them"
  "$levytts" data mix "${sources[@]}" --minutes "${minutes_args[@]}" --n-test "$n_test" --n-val "$n_val" --seed "$seed" \
    --out-dir "$data_dir"
  # every rare speaker id is left out of the encoder's data (a HiFi-TTS reader may be a LibriTTS speaker too)
  avg=$({ grep -v -x -F -f <(printf '%s\n' lj "${rare_names[@]}") "$corpus_dir/libritts/speakers.txt" || true; } | sed 's/$/=all/')
  [ -n "$avg" ] || { echo "run.sh: stage 1: no LibriTTS speaker left for the average-voice split" >&2; exit 2; }
  # shellcheck disable=SC2086  # one SPEAKER=all word per LibriTTS speaker
  "$levytts" data mix --source "filelist=$corpus_dir/libritts/filelist.txt" --minutes $avg \
    --n-test 1 --n-val 1 --seed "$seed" --out-dir "$data_dir/average_voice"
  { printf '%s\n' lj "${rare_names[@]}"; sed 's/=all$//' <<< "$avg"; } > "$data_dir/speakers.txt.tmp"
  mv "$data_dir/speakers.txt.tmp" "$data_dir/speakers.txt"
elif [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
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

data_config=ljspeech_hifitts9017; enc_experiment=avg_voice_pretrain; dec_experiment=paper
speakers="lj ${rare_names[*]}"; test_split=.; split_summary="$data_dir/summary.json"
overrides="+data.pretrain_train_filelist_path=$data_dir/average_voice/filelists/train.txt +data.pretrain_valid_filelist_path=$data_dir/average_voice/filelists/val.txt"

if [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ]; then stage_encoder; fi
if [ "$stage" -le 4 ] && [ "$stop_stage" -ge 4 ]; then stage_decoders; fi
if [ "$stage" -le 5 ] && [ "$stop_stage" -ge 5 ]; then stage_synth; fi
if [ "$stage" -le 6 ] && [ "$stop_stage" -ge 6 ]; then stage_eval; fi
if [ "$stage" -le 7 ] && [ "$stop_stage" -ge 7 ]; then stage_table; fi
