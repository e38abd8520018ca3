"""Speaker similarity: cosine between speaker-verification embeddings of synthesised and real speech.

Two scorers, chosen by a spec string:
  - ``"ge2e"``: resemblyzer's GE2E encoder (Wan et al. 2018); its weights ship inside the
    ``resemblyzer`` wheel, so this is the default that always works offline. Its own preprocessing
    (16 kHz, volume normalisation, WebRTC-VAD trimming of long silences) is applied.
  - ``"campplus:PATH"``: CAM++ (levytts.eval.campplus) from a 3D-Speaker checkpoint at PATH, fed
    3D-Speaker's front end (16 kHz Kaldi fbank, 80 bins, mean-normalised).
Every report names the scorer it used (``Scorer.name``), since the two give different scales.
"""
from __future__ import annotations

import os
import warnings
from typing import Sequence

import numpy as np
import torch

from levytts.audio.io import load_audio


class Scorer:
    """A speaker embedding extractor. Subclasses set ``name`` and ``sample_rate`` and implement ``embed_waveform``."""

    name: str = "base"
    sample_rate: int = 16000

    def embed_waveform(self, wav: np.ndarray) -> np.ndarray:
        """Embed a mono waveform at ``self.sample_rate``, shape (n_samples,) -> unit vector (D,)."""
        raise NotImplementedError

    def embed(self, path_or_wav: str | os.PathLike | np.ndarray) -> np.ndarray:
        """Embed a file (resampled to ``self.sample_rate``) or a waveform already at that rate: -> unit vector (D,)."""
        if isinstance(path_or_wav, np.ndarray):
            wav = path_or_wav.astype(np.float32)
        else:
            wav, _ = load_audio(path_or_wav, self.sample_rate)
        emb = np.asarray(self.embed_waveform(wav), dtype=np.float64)
        norm = np.linalg.norm(emb)
        if not np.isfinite(norm) or norm == 0:
            raise ValueError(f"{self.name}: got a zero or non-finite speaker embedding (silent audio?)")
        return emb / norm


class GE2EScorer(Scorer):
    """resemblyzer's GE2E voice encoder (256-d), with resemblyzer's own preprocessing."""

    name = "ge2e"

    def __init__(self, device: str | torch.device = "cpu"):
        with warnings.catch_warnings():
            # webrtcvad imports pkg_resources, which warns on every import; harmless here.
            warnings.simplefilter("ignore", UserWarning)
            from resemblyzer import VoiceEncoder, preprocess_wav
            from resemblyzer.hparams import sampling_rate
        self.sample_rate = int(sampling_rate)
        self._preprocess = preprocess_wav
        self._encoder = VoiceEncoder(device=device, verbose=False)

    def embed_waveform(self, wav: np.ndarray) -> np.ndarray:
        processed = self._preprocess(wav, source_sr=None)  # already at self.sample_rate
        if processed.size == 0:
            raise ValueError("ge2e: no speech left after voice-activity trimming")
        return self._encoder.embed_utterance(processed)


class CAMPPlusScorer(Scorer):
    """CAM++ from a 3D-Speaker checkpoint, with 3D-Speaker's Kaldi fbank front end."""

    def __init__(self, checkpoint: str | os.PathLike, device: str | torch.device = "cpu", sample_rate: int = 16000):
        from levytts.eval.campplus import load_campplus
        from levytts.eval.fbank import FbankConfig

        self.model = load_campplus(checkpoint, device)
        self.device = torch.device(device)
        self.sample_rate = sample_rate
        self.fbank_config = FbankConfig(sample_rate=sample_rate, num_mel_bins=self.model.feat_dim, mean_norm=True)
        self.name = f"campplus:{os.fspath(checkpoint)}"

    @torch.no_grad()
    def embed_waveform(self, wav: np.ndarray) -> np.ndarray:
        from levytts.eval.fbank import kaldi_fbank

        feats = kaldi_fbank(torch.from_numpy(wav), self.fbank_config)  # (T, 80)
        return self.model(feats.unsqueeze(0).to(self.device))[0].cpu().numpy()


def make_scorer(spec: str | Scorer = "ge2e", device: str | torch.device = "cpu") -> Scorer:
    """Build a scorer from ``"ge2e"`` or ``"campplus:PATH"`` (a Scorer instance is returned unchanged)."""
    if isinstance(spec, Scorer):
        return spec
    if spec == "ge2e":
        return GE2EScorer(device)
    if spec.startswith("campplus:") and len(spec) > len("campplus:"):
        return CAMPPlusScorer(spec[len("campplus:"):], device)
    raise ValueError(f"unknown speaker scorer {spec!r}: use 'ge2e' or 'campplus:/path/to/campplus_checkpoint.bin'")


def cosine_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarities between rows: a (N, D), b (M, D) -> (N, M)."""
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return a @ b.T


def speaker_similarity(wavs: Sequence[str | os.PathLike], refs: Sequence[str | os.PathLike],
                       scorer: str | Scorer = "ge2e") -> float:
    """Mean cosine similarity over all (synthesised, reference) pairs of one speaker's utterances.

    Args:
        wavs: synthesised utterances of one speaker (audio files).
        refs: real recordings of the same speaker (audio files).
        scorer: ``"ge2e"``, ``"campplus:PATH"`` or a Scorer.

    Returns:
        mean over i, j of cos(e(wavs[i]), e(refs[j])), in [-1, 1].
    """
    if not wavs or not refs:
        raise ValueError("speaker_similarity needs at least one synthesised and one reference file")
    scorer = make_scorer(scorer)
    synth = np.stack([scorer.embed(w) for w in wavs])
    real = np.stack([scorer.embed(r) for r in refs])
    return float(cosine_matrix(synth, real).mean())
