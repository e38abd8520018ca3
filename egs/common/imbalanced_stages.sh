# Stages shared by egs/offline_imbalanced/run.sh and egs/ljspeech_hifitts9017/run.sh (sourced, not run).
# Popov et al. 2024 §5.2 / App. C: average-voice encoder pre-training, one decoder per α with the encoder
# frozen, synthesis of the held-out test sentences per speaker × sampler × N, `levytts eval`, tables.
# Every function is resumable: training continues from last.ckpt, synthesis keeps existing wavs, and
# evaluation skips a (α, seed) whose summary CSV exists.
#
# The caller sets: levytts, data_config (configs/tts/data/<name>), data_dir, exp_dir, alphas, seeds,
# enc_experiment, dec_experiment, enc_steps, dec_steps, eval_per_speaker, conditions (and optionally
# conditions_extra_seeds, the grid for every seed after the first), speakers (frequent, then the rare one(s)),
# jobs, eta, overrides (extra hydra overrides, may be empty) and optionally t_start (reverse process start time,
# a study option: empty = from T), encoder (a checkpoint holding the frozen encoder; default: the encoder stage's),
# train_seed (the decoders' training seed; empty = the config's), dec_lr_decay (START:END:FINAL: the decoders'
# learning rate follows a half cosine from train.lr at step START to FINAL at END; empty = constant)
# and split_summary (the decoder split's summary.json from `levytts data mix`: minutes per speaker in the tables).

log() { echo "[$(date +%H:%M:%S)] $*"; }

# At most $jobs background commands at a time: start one with `cmd > log 2>&1 &`, then `pool_started WHAT`;
# `pool_drain WHAT` waits for the rest. Either returns 1 (after saying WHAT failed) when a command fails.
pool_running=0
pool_started() {
  pool_running=$((pool_running + 1))
  if [ "$pool_running" -ge "$jobs" ]; then
    wait -n || { echo "$1 failed" >&2; return 1; }
    pool_running=$((pool_running - 1))
  fi
}
pool_drain() {
  while [ "$pool_running" -gt 0 ]; do
    wait -n || { echo "$1 failed" >&2; return 1; }
    pool_running=$((pool_running - 1))
  done
}

# The decoder options both recipes take (--train-seed, --dec-lr-decay), checked before any stage runs
check_decoder_options() {
  if [ -n "${train_seed:-}" ] && ! { [[ $train_seed =~ ^[0-9]{1,10}$ ]] && [ "$train_seed" -lt 4294967296 ]; }; then
    echo "run.sh: --train-seed takes an integer in [0, 2^32), got '$train_seed'" >&2; return 2
  fi
  local num='([0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?)'
  if [ -n "${dec_lr_decay:-}" ] && ! [[ $dec_lr_decay =~ ^([0-9]{1,9}):([0-9]{1,9}):$num$ ]]; then
    echo "run.sh: --dec-lr-decay takes START:END:FINAL_LR (e.g. 15000:20000:1e-5), got '$dec_lr_decay'" >&2; return 2
  fi
  if [ -n "${dec_lr_decay:-}" ] && [ "$((10#${BASH_REMATCH[1]}))" -ge "$((10#${BASH_REMATCH[2]}))" ]; then
    echo "run.sh: --dec-lr-decay: START must be below END, got '$dec_lr_decay'" >&2; return 2
  fi
  return 0
}

# stage: the average-voice encoder (teacher-forced TextGrid durations) on the pre-training split
stage_encoder() {
  log "encoder pre-training: $enc_experiment, $enc_steps steps → $exp_dir/avg_voice"
  # shellcheck disable=SC2086  # $overrides is a word list
  "$levytts" train experiment="$enc_experiment" data="$data_config" data.data_dir="$data_dir" \
    run_dir="$exp_dir/avg_voice" trainer.max_steps="$enc_steps" $overrides
}

# stage: one decoder per α, frozen encoder; up to $jobs trainings at a time (one CPU thread each)
stage_decoders() {
  local enc=${encoder:-$exp_dir/avg_voice/checkpoints/last.ckpt} a what="a decoder training (see $exp_dir/decoder_a*.log)"
  [ -f "$enc" ] || { echo "no encoder checkpoint $enc: run the encoder stage first" >&2; return 2; }
  local extra=()
  [ -n "${train_seed:-}" ] && extra+=("seed=$train_seed")
  if [ -n "${dec_lr_decay:-}" ]; then
    local d1 d2 d3
    IFS=: read -r d1 d2 d3 <<< "$dec_lr_decay"
    extra+=("train.lr_decay={start:$d1,end:$d2,final:$d3}")
  fi
  for a in $alphas; do
    log "decoder α=$a: $dec_experiment, $dec_steps steps → $exp_dir/decoder_a$a (log: $exp_dir/decoder_a$a.log)"
    mkdir -p "$exp_dir"
    # shellcheck disable=SC2086
    "$levytts" train experiment="$dec_experiment" data="$data_config" data.data_dir="$data_dir" diffusion.alpha="$a" \
      model.encoder.pretrained="$enc" run_dir="$exp_dir/decoder_a$a" trainer.max_steps="$dec_steps" "${extra[@]}" $overrides \
      > "$exp_dir/decoder_a$a.log" 2>&1 &
    pool_started "$what" || return 1
  done
  pool_drain "$what" || return 1
  for a in $alphas; do tail -n 1 "$exp_dir/decoder_a$a.log"; done
}

# stage: the evaluation list (first $eval_per_speaker test utterances of each speaker) and the synthesis grid
stage_synth() {
  local test_list="$data_dir/${test_split:-imbalanced}/filelists/test.txt" a s what="synthesis (see $exp_dir/synth_*.log)"
  # shellcheck disable=SC2086
  "$levytts" imbalanced test-list --filelist "$test_list" --per-speaker "$eval_per_speaker" --speakers $speakers \
    --out "$exp_dir/eval_list.txt"
  local first_seed=${seeds%% *} conds
  for a in $alphas; do
    for s in $seeds; do
      # the seeds after the first may run a cheaper grid ($conditions_extra_seeds, default: the full grid)
      conds=$conditions; [ "$s" != "$first_seed" ] && conds=${conditions_extra_seeds:-$conditions}
      log "synthesis α=$a seed=$s ($conds) → $exp_dir/synth/a$a/seed$s"
      # shellcheck disable=SC2086
      "$levytts" imbalanced synth --checkpoint "$exp_dir/decoder_a$a/checkpoints/last.ckpt" \
        --filelist "$exp_dir/eval_list.txt" --out-dir "$exp_dir/synth/a$a/seed$s" --seed "$s" --eta "$eta" \
        --conditions $conds ${t_start:+--t-start "$t_start"} --threads 1 > "$exp_dir/synth_a${a}_seed$s.log" 2>&1 &
      pool_started "$what" || return 1
    done
  done
  pool_drain "$what" || return 1
}

# stage: `levytts eval` (GE2E similarity, pocketsphinx WER, MCD vs the reference renders) per α × seed
stage_eval() {
  local a s what="eval (see $exp_dir/eval/*.log)"
  mkdir -p "$exp_dir/eval"
  for a in $alphas; do
    for s in $seeds; do
      if [ -f "$exp_dir/eval/a${a}_seed$s.csv" ]; then log "eval α=$a seed=$s: done"; continue; fi
      log "eval α=$a seed=$s (log: $exp_dir/eval/a${a}_seed$s.log)"
      OMP_NUM_THREADS=1 "$levytts" eval --synth-dir "$exp_dir/synth/a$a/seed$s" --filelist "$exp_dir/eval_list.txt" \
        --ref-dir "$PWD" --no-f0 --out "$exp_dir/eval/a${a}_seed$s.md" > "$exp_dir/eval/a${a}_seed$s.log" 2>&1 &
      pool_started "$what" || return 1
    done
  done
  pool_drain "$what" || return 1
}

# stage: tables (markdown fragment) and figures over α, N and seeds
stage_table() {
  local figures=${figures_dir:-$exp_dir/figures}
  mkdir -p "$figures"
  local summary=${split_summary:-}
  if [ -n "$summary" ] && [ ! -f "$summary" ]; then summary=""; fi
  # shellcheck disable=SC2086
  "$levytts" imbalanced table --eval-dir "$exp_dir/eval" --out "$exp_dir/results_tables.md" --figures "$figures" \
    --speakers $speakers ${summary:+--split-summary "$summary"}
  cat "$exp_dir/results_tables.md"
}
