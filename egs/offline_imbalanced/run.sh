#!/usr/bin/env bash
# Recipe: levytts on the offline SYNTHETIC imbalanced corpus (flite voices; see docs/speech_data.md).
# ESPnet-style: stages run in order from --stage to --stop-stage; each is resumable (re-running a stage
# rebuilds its outputs). All logic is in the levytts package; this script only orders the stages.
#
#   egs/offline_imbalanced/run.sh                       # data stages 0-2 at default size
#   egs/offline_imbalanced/run.sh --small true          # tiny corpus (about a minute) for smoke tests
#   egs/offline_imbalanced/run.sh --stage 1 --stop-stage 2
#   egs/offline_imbalanced/run.sh --stage 1 --rare "rms:9.5 kal:3 awb:1"   # several rare speakers (see below)
#
# Data stages:
#   0  build the corpus: data/offline_imbalanced/{wavs,textgrids,all.txt,test_sentences.txt,...}
#   1  mix: imbalanced/ (frequent + rare, by minutes) and average_voice/ (the other voices) splits
#   2  check that every TextGrid's durations sum to its mel length
# Experiment stages (Popov et al. 2024 §5.2; shared with egs/ljspeech_hifitts9017 via egs/common/imbalanced_stages.sh):
#   3  average-voice encoder pre-training on average_voice/ (TextGrid durations) → exp/offline_imbalanced/avg_voice
#   4  one decoder per alpha in --alphas (frozen encoder, imbalanced/ split) → exp/offline_imbalanced/decoder_a<alpha>
#   5  synthesis of the held-out test sentences per speaker × sampler × N × seed → exp/offline_imbalanced/synth
#   6  levytts eval (GE2E similarity, pocketsphinx WER, MCD vs the reference renders) → exp/offline_imbalanced/eval
#   7  tables and figures (docs/results/imbalanced_speakers.md is written from them by hand)
#   8  export the alpha=1.5 decoder as the bundled demo voice (--export-demo true) → levytts/pretrained/demo_voice.pt
#   9  check the exported voice: all held-out test sentences of the trained speakers → WER/similarity, RTF of `levytts synth`
# Every sample starts from T (x_T = γ(T)ξ); --t-start T0 starts at T0 from γ(T0)ξ instead (a study option).
# Options: --stage --stop-stage --small --data-dir --exp-dir --seed --jobs --alphas "2.0 1.8 1.5" --seeds "0 1"
#   --enc-steps --dec-steps --eval-per-speaker --conditions "ode:euler:10 sde-e:ei:10 mu" --eta popov:0.3,0.3
#   --t-start --encoder CKPT (stage 4's frozen encoder; e.g. levytts/pretrained/demo_voice.pt skips stage 3)
#   --decoder-experiment offline_decoder|offline_decoder_conv1d (configs/tts/experiment/; decoder_a<alpha> run dirs)
#   --export-demo true  --rare "SPK:MIN ..." (default awb:1)
#   --train-seed K (stage 4's training seed; a second seed: its own --exp-dir, the first run's --encoder)
#   --dec-lr-decay START:END:FINAL (stage 4: lr from train.lr at step START down a half cosine to FINAL at END)
# Several rare speakers: --rare with more than one SPEAKER:MINUTES item (corpus voices other than the frequent
# slt) builds a SECOND set next to the one-rare one: stage 1 writes DATA/imbalanced_multi/ (slt + the rare
# speakers at their minutes) and DATA/average_voice_multi/ (the remaining voices: the encoder never sees a rare
# speaker), and stages 2-9 use those splits and EXP_multi/ (a new encoder too). Stage 0 builds the same corpus
# as without --rare (so the one-rare results stay valid): it has about 10 min of each voice but only 1.3 min of
# awb, and stage 1 stops when a rare speaker is short of its minutes. E.g. --rare "rms:9.5 kal:3 awb:1" (its
# average voice: slt_low, rms_high, kal_high; pitch-shifted voices count as other speakers, as slt_low does here).
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
exp_dir=exp/offline_imbalanced
alphas="2.0 1.8 1.5"                       # 2.0 = the Gaussian baseline (noise variance 2)
seeds="0 1"                                # synthesis seeds
enc_steps=3000; dec_steps=10000            # CPU sizes (configs/tts/experiment/offline_{avg_voice,decoder}.yaml)
eval_per_speaker=20
conditions="ode:euler:10 ode:euler:30 ode:euler:50 ode:euler:100 sde-e:ei:5 sde-e:ei:10 sde-e:ei:20 mu"   # mu: no-decoder control
conditions_extra_seeds="ode:euler:10 sde-e:ei:5 sde-e:ei:10 sde-e:ei:20"   # the low-N grid for seeds after the first (CPU budget)
eta="popov:0.3,0.3"                        # SDE-E η_t (Popov eq. 22 with δ = η: constant 0.3, decaying near t = 0)
export_demo=false
t_start=""                                 # empty: every sample starts from T (x_T = γ(T)ξ). A number starts at that t from
                                           # γ(t)ξ instead (a truncated, SDEdit-like start; a study option, not the default)
decoder_experiment=offline_decoder_conv1d  # stage 4's config: offline_decoder_conv1d (the demo voice's 1-D decoder) | offline_decoder (width-16 2-D U-Net)
rare_spec=""                               # --rare "SPK:MIN ...": empty = "$rare:$minutes_rare" (one rare speaker)
train_seed=""                              # stage 4's training seed (--train-seed); empty: the config's (1234)
dec_lr_decay=""                            # --dec-lr-decay START:END:FINAL (half-cosine lr decay); empty: constant lr
encoder=""                                 # frozen encoder checkpoint for stage 4; empty: stage 3's
                                           # (exp_dir/avg_voice/checkpoints/last.ckpt). The bundled demo voice holds one.
python=${PYTHON:-.venv/bin/python}
# the audio settings are read from the data config (one place; configs/tts/data/offline_imbalanced.yaml), not copied here
read -r sample_rate hop_length < <("$python" -c "from omegaconf import OmegaConf; c = OmegaConf.load('configs/tts/data/offline_imbalanced.yaml'); print(c.sample_rate, c.hop_length)") \
  || { echo "run.sh: cannot read sample_rate / hop_length from configs/tts/data/offline_imbalanced.yaml" >&2; exit 1; }
levytts=${LEVYTTS:-.venv/bin/levytts}

while [ $# -gt 0 ]; do
  # every option but --help takes a value
  if [ $# -lt 2 ] && [ "$1" != -h ] && [ "$1" != --help ]; then echo "run.sh: $1 needs a value (see --help)" >&2; exit 2; fi
  case "$1" in
    --stage) stage=$2; shift 2 ;;
    --stop-stage|--stop_stage) stop_stage=$2; shift 2 ;;
    --small) small=$2; shift 2 ;;
    --data-dir|--data_dir) data_dir=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --exp-dir|--exp_dir) exp_dir=$2; shift 2 ;;
    --alphas) alphas=$2; shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    --enc-steps) enc_steps=$2; shift 2 ;;
    --dec-steps) dec_steps=$2; shift 2 ;;
    --eval-per-speaker) eval_per_speaker=$2; shift 2 ;;
    --conditions) conditions=$2; conditions_extra_seeds=$2; shift 2 ;;
    --eta) eta=$2; shift 2 ;;
    --export-demo) export_demo=$2; shift 2 ;;
    --t-start) t_start=$2; shift 2 ;;
    --encoder) encoder=$2; shift 2 ;;
    --decoder-experiment) decoder_experiment=$2; shift 2 ;;
    --rare) rare_spec=$2; shift 2 ;;
    --train-seed) train_seed=$2; shift 2 ;;
    --dec-lr-decay) dec_lr_decay=$2; shift 2 ;;
    -h|--help) sed -n '2,37p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
# shellcheck source=../common/imbalanced_stages.sh
source egs/common/imbalanced_stages.sh   # the shared stages 3-7 (functions only) and check_decoder_options
check_decoder_options || exit 2
if [ "$small" = true ]; then
  minutes_frequent=1; minutes_rare=0.2; minutes_other=0.2; n_test=2; n_val=1
  [ "$exp_dir" = exp/offline_imbalanced ] && exp_dir=exp/offline_imbalanced_small
  alphas="2.0 1.5"; seeds=0; enc_steps=4; dec_steps=4; eval_per_speaker=1; conditions="ode:euler:2 sde-e:ei:2"
fi
# --rare: one SPEAKER:MINUTES item replaces the rare speaker (today's layout); several make the multi-rare set
read -r -a rare_items <<< "${rare_spec:-$rare:$minutes_rare}"
rare_names=(); rare_minutes=()
for item in "${rare_items[@]}"; do
  if ! [[ $item =~ ^([A-Za-z0-9_]+):([0-9]+(\.[0-9]*)?|\.[0-9]+)$ ]]; then
    echo "run.sh: --rare takes SPEAKER:MINUTES items (e.g. \"rms:9.5 kal:3 awb:1\"), got '$item'" >&2; exit 2
  fi
  name=${BASH_REMATCH[1]}
  if [ "$name" = "$frequent" ] || [[ " ${rare_names[*]} " == *" $name "* ]]; then
    echo "run.sh: --rare: $name is the frequent speaker or given twice" >&2; exit 2
  fi
  rare_names+=("$name"); rare_minutes+=("${BASH_REMATCH[2]}")
done
[ "${#rare_names[@]}" -ge 1 ] || { echo "run.sh: --rare needs at least one SPEAKER:MINUTES item" >&2; exit 2; }
multi=false; imb_split=imbalanced; avg_split=average_voice
if [ "${#rare_names[@]}" -eq 1 ]; then
  rare=${rare_names[0]}; minutes_rare=${rare_minutes[0]}
else  # a second set: its own splits and experiment directory; stage 0's corpus is left as it is
  multi=true; imb_split=imbalanced_multi; avg_split=average_voice_multi; exp_dir=${exp_dir}_multi
  if [ "$export_demo" = true ]; then echo "run.sh: --export-demo true is for the one-rare set only" >&2; exit 2; fi
fi
voice_specs=$("$python" -c 'from levytts.data.offline_corpus import DEFAULT_VOICES; print("\n".join(DEFAULT_VOICES))')
# the average-voice (encoder) voices: every corpus voice but the frequent and the rare one(s)
others=$(sed -n 's/^\([^=]*\)=.*/\1/p' <<< "$voice_specs" | grep -v -x -F -f <(printf '%s\n' "$frequent" "${rare_names[@]}") | tr '\n' ' ')

if [ "$stage" -le 0 ] && [ "$stop_stage" -ge 0 ]; then
  log "stage 0: build the synthetic corpus in $data_dir"
  corpus_rare=$rare; size_flags=()
  if [ "$small" = true ] && [ "$multi" != true ]; then
    # the small sizes are set above; the voices of `offline-corpus --small`: the frequent and the rare one (in the
    # corpus's voice order) and rms (--small itself refuses explicit sizes)
    size_flags=(--voices $(grep -E "^($frequent|$rare)=" <<< "$voice_specs" | head -n 2) rms=rms)
  fi
  if [ "$small" = true ] && [ "$multi" = true ]; then
    # --small keeps 3 voices; the multi-rare set needs the frequent, every rare and one average voice: the same
    # small sizes (set above: rare and other voices alike 0.2 min) over those voices
    corpus_rare=${rare_names[0]}; size_flags=(--voices)
    for name in "$frequent" "${rare_names[@]}" "${others%% *}"; do
      spec=$(grep -m 1 "^$name=" <<< "$voice_specs") || { echo "run.sh: --rare: $name is not a corpus voice" >&2; exit 2; }
      size_flags+=("$spec")
    done
  fi
  "$levytts" data offline-corpus --out-dir "$data_dir" --seed "$seed" --jobs "$jobs" \
    --frequent "$frequent" --rare "$corpus_rare" --minutes-frequent "$minutes_frequent" --minutes-rare "$minutes_rare" \
    --minutes-other "$minutes_other" --n-test "$n_test" --n-val "$n_val" --sample-rate "$sample_rate" --hop-length "$hop_length" \
    "${size_flags[@]}"
fi

if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
  minutes_args=("$frequent=$minutes_frequent")
  for i in "${!rare_names[@]}"; do minutes_args+=("${rare_names[$i]}=${rare_minutes[$i]}"); done
  log "stage 1: $imb_split split (${minutes_args[*]} min) and $avg_split split"
  if [ "$multi" = true ]; then
    for name in "${rare_names[@]}"; do
      grep -q -x -F "$name" "$data_dir/speakers.txt" || {
        echo "run.sh: --rare: $name is not a speaker of $data_dir (speakers: $(tr '\n' ' ' < "$data_dir/speakers.txt"))" >&2; exit 2; }
    done
  fi
  mix_out=$data_dir/$imb_split; [ "$multi" = true ] && mix_out=$data_dir/$imb_split.tmp
  "$levytts" data mix --source "filelist=$data_dir/all.txt" --minutes "${minutes_args[@]}" \
    --held-out-texts "$data_dir/test_sentences.txt" --n-test "$n_test" --n-val "$n_val" --seed "$seed" \
    --out-dir "$mix_out"
  if [ "$multi" = true ]; then  # the rare minutes are the point of the set: refuse a rare speaker short of them
    short=$("$python" -c 'import json, sys; s = json.load(open(sys.argv[1]))["speakers"]
print(" ".join("%s (%s of %s min)" % (k, v["train_minutes"], v["minutes_asked"]) for k, v in s.items() if v["short_of_target"]))' \
      "$mix_out/summary.json")
    if [ -n "$short" ]; then
      rm -rf "$mix_out"
      echo "run.sh: stage 1: the corpus has too little training speech of: $short; ask fewer minutes with --rare" >&2; exit 1
    fi
    rm -rf "$data_dir/$imb_split"; mv "$mix_out" "$data_dir/$imb_split"
  fi
  present=$({ grep -x -f <(tr ' ' '\n' <<< "$others" | grep .) "$data_dir/speakers.txt" || true; } | sed 's/$/=all/' | tr '\n' ' ')
  [ -n "$present" ] || { echo "run.sh: stage 1: no corpus voice left for the $avg_split split" >&2; exit 2; }
  # shellcheck disable=SC2086  # one SPEAKER=all word per speaker
  "$levytts" data mix --source "filelist=$data_dir/all.txt" --minutes $present \
    --held-out-texts "$data_dir/test_sentences.txt" --n-test "$n_test" --n-val "$n_val" --seed "$seed" \
    --out-dir "$data_dir/$avg_split"
fi

if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
  log "stage 2: TextGrid durations vs mel lengths"
  for split in "$imb_split" "$avg_split"; do
    for list in train val test; do
      "$levytts" data durations "$data_dir/$split/filelists/$list.txt" --textgrid-dir "$data_dir/textgrids" \
        --sample-rate "$sample_rate" --hop-length "$hop_length"
    done
  done
fi

# ---------------------------------------------------------------------------------------------------------
# Experiment stages (egs/common/imbalanced_stages.sh)
data_config=offline_imbalanced; enc_experiment=offline_avg_voice; dec_experiment=$decoder_experiment
speakers="$frequent ${rare_names[*]}"; test_split=$imb_split; overrides=""
split_summary="$data_dir/$imb_split/summary.json"   # training minutes per speaker for the tables
[ "$small" = true ] && overrides="preset=quick"   # configs/tts/preset/quick.yaml (batch 2, checkpoints every 2 steps)
if [ "$multi" = true ]; then  # the same corpus, speaker table and TextGrids; the *_multi splits
  for list in train valid test; do
    f=$list; [ "$list" = valid ] && f=val
    overrides+=" data.${list}_filelist_path=$data_dir/$imb_split/filelists/$f.txt"
  done
  overrides+=" data.pretrain_train_filelist_path=$data_dir/$avg_split/filelists/train.txt"
  overrides+=" data.pretrain_valid_filelist_path=$data_dir/$avg_split/filelists/val.txt"
fi

if [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ]; then stage_encoder; fi
if [ "$stage" -le 4 ] && [ "$stop_stage" -ge 4 ]; then stage_decoders; fi
if [ "$stage" -le 5 ] && [ "$stop_stage" -ge 5 ]; then stage_synth; fi
if [ "$stage" -le 6 ] && [ "$stop_stage" -ge 6 ]; then stage_eval; fi
if [ "$stage" -le 7 ] && [ "$stop_stage" -ge 7 ]; then stage_table; fi
demo_src="$exp_dir/decoder_a1.5/checkpoints/last.ckpt"
demo_dst="$exp_dir/demo_voice.pt"
[ "$export_demo" = true ] && demo_dst=levytts/pretrained/demo_voice.pt
if [ "$stage" -le 8 ] && [ "$stop_stage" -ge 8 ]; then
  log "stage 8: export $demo_src → $demo_dst (float16)"
  # sampler defaults stored with the voice: ODE, exponential integrator, N = 4, from T (docs/demo_voice.md)
  synth_defaults=(solver=ei steps=4); [ -n "$t_start" ] && synth_defaults+=("t_start=$t_start")
  "$levytts" export --checkpoint "$demo_src" --out "$demo_dst" --dtype float16 --note "egs/offline_imbalanced stage 8" \
    --synth-defaults "${synth_defaults[@]}"
fi
if [ "$stage" -le 9 ] && [ "$stop_stage" -ge 9 ]; then
  # the exported checkpoint exactly as `levytts synth` uses it (its stored defaults: ODE EI, N = 4, from T):
  # every held-out test sentence of the trained speakers → WER / similarity / MCD, then RTF of `levytts synth`
  demo_eval="$exp_dir/demo_eval"
  log "stage 9: check $demo_dst on the held-out test sentences → $demo_eval/report.md"
  mkdir -p "$demo_eval"
  "$levytts" imbalanced test-list --filelist "$data_dir/$imb_split/filelists/test.txt" --per-speaker 1000 \
    --speakers $speakers --out "$demo_eval/list.txt"
  "$levytts" imbalanced synth --checkpoint "$demo_dst" --filelist "$demo_eval/list.txt" --out-dir "$demo_eval/synth" \
    --conditions ode:ei:4 --threads 2
  OMP_NUM_THREADS=1 "$levytts" eval --synth-dir "$demo_eval/synth" --filelist "$demo_eval/list.txt" --ref-dir "$PWD" \
    --no-f0 --out "$demo_eval/report.md" > "$demo_eval/eval.log" 2>&1 || { cat "$demo_eval/eval.log" >&2; exit 1; }
  cat "$demo_eval/report.md"
  for i in 1 2; do
    "$levytts" synth --checkpoint "$demo_dst" --speaker "${rare_names[-1]}" --threads 2 --out "$demo_eval/rtf_$i.wav" \
      --text "Hello there. The weather is nice today, so we will walk to the old harbour and back before lunch."
  done
fi
