"""Evaluation of synthesised speech: speaker similarity (GE2E or CAM++), WER (pocketsphinx), MCD and F0.

Public API:
    speaker_similarity(wavs, refs, scorer="ge2e" | "campplus:PATH") -> float
    word_error_rate(wavs, texts) -> float
    mel_cepstral_distortion(synth_path, ref_path) -> float
CLI: ``levytts eval`` (levytts.eval.cli). See docs/evaluation.md.
"""
from levytts.eval.asr import word_error_rate
from levytts.eval.distances import mel_cepstral_distortion
from levytts.eval.speaker import speaker_similarity

__all__ = ["speaker_similarity", "word_error_rate", "mel_cepstral_distortion"]
