#!/usr/bin/env bash
# Align a levytts filelist with Montreal Forced Aligner (MFA) and check the TextGrids.
#
#   tools/mfa_align.sh FILELIST OUT_DIR [NUM_JOBS]
#
# Writes OUT_DIR/mfa_corpus/<speaker>/<utt>.{wav,lab} (levytts data mfa-corpus) and
# OUT_DIR/textgrids/<speaker>/<utt>.TextGrid (mfa align), then checks that every TextGrid's phone
# durations sum to the mel length (levytts data durations). Use OUT_DIR/textgrids as the data
# config's textgrid_dir.
#
# MFA is NOT installable on the levytts development machines: it needs conda (Kaldi binaries) and
# downloads its acoustic model and dictionary. Where you have internet:
#   conda create -n aligner -c conda-forge montreal-forced-aligner && conda activate aligner
#   mfa model download acoustic english_us_arpa && mfa model download dictionary english_us_arpa
# english_us_arpa is the ARPAbet-with-stress phone set that levytts.text produces (CMUdict-based).
# Mel parameters default to the HiFi-GAN ones (docs/design.md section 7); override with SAMPLE_RATE / HOP_LENGTH.
set -euo pipefail
if [ $# -lt 2 ]; then
  sed -n '2,20p' "$0"; exit 2
fi
FILELIST=$1; OUT=$2; JOBS=${3:-2}
SAMPLE_RATE=${SAMPLE_RATE:-22050}; HOP_LENGTH=${HOP_LENGTH:-256}
LEVYTTS=${LEVYTTS:-levytts}
if ! command -v mfa >/dev/null 2>&1; then
  echo "mfa_align.sh: 'mfa' not found: install Montreal Forced Aligner with conda (see the header of $0)" >&2
  exit 2
fi
mkdir -p "$OUT"
"$LEVYTTS" data mfa-corpus "$FILELIST" --out-dir "$OUT/mfa_corpus"
mfa align --clean -j "$JOBS" "$OUT/mfa_corpus" english_us_arpa english_us_arpa "$OUT/textgrids"
"$LEVYTTS" data durations "$FILELIST" --textgrid-dir "$OUT/textgrids" \
  --sample-rate "$SAMPLE_RATE" --hop-length "$HOP_LENGTH"
