"""Intelligibility: word error rate of synthesised speech under pocketsphinx's offline en-us model.

pocketsphinx (CMU Sphinx, continuous HMM acoustic model + 3-gram LM, both inside its wheel) is the
only English recogniser available offline here. Its absolute WER is high even on real speech; use it
to compare systems, not as an absolute intelligibility score. Both the reference texts and the
recognised texts go through ``levytts.eval.text_norm.normalize_for_wer``; errors are counted with jiwer.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from levytts.audio.io import load_audio
from levytts.eval.text_norm import normalize_for_wer


class PocketSphinxASR:
    """Offline English recogniser (pocketsphinx's default en-us model); one decoder, reused across files.

    Args:
        sample_rate: rate the acoustic model was trained at (16 kHz for the shipped en-us model);
            audio is resampled to it.
    """

    def __init__(self, sample_rate: int = 16000):
        from pocketsphinx import Decoder

        self.sample_rate = sample_rate
        self._decoder = Decoder(samprate=sample_rate, logfn=os.devnull)

    def transcribe_waveform(self, wav: np.ndarray) -> str:
        """Recognise a mono waveform at ``self.sample_rate``, shape (n_samples,); returns lower-case words."""
        pcm = (np.clip(wav, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
        self._decoder.start_utt()
        self._decoder.process_raw(pcm, full_utt=True)
        self._decoder.end_utt()
        hyp = self._decoder.hyp()
        return hyp.hypstr if hyp is not None else ""

    def transcribe(self, path: str | os.PathLike) -> str:
        """Recognise an audio file (any rate soundfile reads)."""
        wav, _ = load_audio(path, self.sample_rate)
        return self.transcribe_waveform(wav)


@dataclass
class WERCounts:
    """Word-level edit counts of one or more utterances (WER = errors / ref_words)."""

    substitutions: int = 0
    deletions: int = 0
    insertions: int = 0
    ref_words: int = 0

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def wer(self) -> float:
        return self.errors / self.ref_words if self.ref_words else float("nan")

    def __add__(self, other: "WERCounts") -> "WERCounts":
        return WERCounts(self.substitutions + other.substitutions, self.deletions + other.deletions,
                         self.insertions + other.insertions, self.ref_words + other.ref_words)


def wer_counts(reference: str, hypothesis: str) -> WERCounts:
    """Edit counts between a reference and a hypothesis, both normalised with ``normalize_for_wer``."""
    import jiwer

    ref, hyp = normalize_for_wer(reference), normalize_for_wer(hypothesis)
    if not ref:
        raise ValueError(f"reference text {reference!r} has no words after normalisation")
    if not hyp:  # jiwer rejects empty strings; everything was deleted
        return WERCounts(deletions=len(ref.split()), ref_words=len(ref.split()))
    out = jiwer.process_words(ref, hyp)
    return WERCounts(out.substitutions, out.deletions, out.insertions, len(ref.split()))


def word_error_rate(wavs: Sequence[str | os.PathLike], texts: Sequence[str],
                    asr: PocketSphinxASR | None = None) -> float:
    """Corpus word error rate of audio files against their texts (total errors / total reference words).

    Args:
        wavs: audio files.
        texts: the sentence each file should say (raw text; normalised here).
        asr: recogniser to reuse; a new PocketSphinxASR by default.
    """
    if len(wavs) != len(texts):
        raise ValueError(f"word_error_rate: {len(wavs)} files but {len(texts)} texts")
    if not wavs:
        raise ValueError("word_error_rate needs at least one file")
    asr = asr or PocketSphinxASR()
    total = WERCounts()
    for wav, text in zip(wavs, texts):
        total = total + wer_counts(text, asr.transcribe(wav))
    return total.wer
