"""Validation: bad items are reported, skipped and counted; the run goes on.

Length checks (what training can use; the mel definition is the data config's, default below):
- ``audio shorter than one STFT window``: fewer than ``n_fft`` samples at ``sample_rate`` (the mel's
  reflect padding and first window need them; 46 samples gave a loader error without a file name);
- ``fewer mel frames than tokens``: T = n_samples // hop_length < L tokens (phones, interspersed with
  blanks when ``add_blank``: 2·phones + 1) — monotonic alignment then gives tokens zero frames;
- ``too many mel frames per token``: T > ``max_frames_per_token``·L (default 50 frames ≈ 0.58 s per
  token at 22.05 kHz / hop 256, over a second per phone with blanks): silence, or a transcript of a
  small part of the audio.
"""
from __future__ import annotations

import math
import sys
from collections import Counter
from dataclasses import replace

from levytts.data.filelists import Utterance

PROBLEMS = ("missing audio", "corrupt audio", "empty audio", "empty text", "unknown speaker", "unspeakable text",
            "audio shorter than one STFT window", "fewer mel frames than tokens", "too many mel frames per token")
MEL_DEFAULTS = {"sample_rate": 22050, "n_fft": 1024, "hop_length": 256}  # configs/tts/data/*.yaml
MAX_FRAMES_PER_TOKEN = 50.0


def resampled_length(n_samples: int, file_rate: int, sample_rate: int) -> int:
    """Samples after resampling ``file_rate`` → ``sample_rate`` as levytts.audio.io.load_audio does (soxr rounds)."""
    if file_rate == sample_rate:
        return int(n_samples)
    return int(math.floor(n_samples * sample_rate / file_rate + 0.5))


def n_tokens(n_phones: int, add_blank: bool = True) -> int:
    """Model input length for ``n_phones`` phones (SymbolTable.intersperse puts a blank around each)."""
    return 2 * n_phones + 1 if add_blank else n_phones


def length_problem(n_samples: int, file_rate: int, n_phones: int | None, sample_rate: int = 22050,
                   n_fft: int = 1024, hop_length: int = 256, add_blank: bool = True,
                   max_frames_per_token: float | None = MAX_FRAMES_PER_TOKEN) -> str | None:
    """The length problem of one utterance (see the module docstring), or None; ``n_phones=None``
    checks the audio alone."""
    n = resampled_length(n_samples, file_rate, sample_rate)
    if n < n_fft:
        return "audio shorter than one STFT window"
    if n_phones is None:
        return None
    frames, tokens = n // hop_length, n_tokens(n_phones, add_blank)
    if frames < tokens:
        return "fewer mel frames than tokens"
    if max_frames_per_token is not None and frames > max_frames_per_token * tokens:
        return "too many mel frames per token"
    return None


def validate_utterances(utterances: list[Utterance], speakers: list[str] | None = None, check_text: bool = True,
                        log="stderr", max_reports: int = 20, mel: dict | None = None, add_blank: bool = True,
                        max_frames_per_token: float | None = MAX_FRAMES_PER_TOKEN) -> tuple[list[Utterance], Counter]:
    """Keep the usable utterances.

    Checks: audio file exists, its header decodes, it has samples (via soundfile.info, no full decode);
    text is non-empty (and, with ``check_text``, phonemises); speaker is in ``speakers`` when given;
    the length checks of the module docstring with ``mel`` (``sample_rate``, ``n_fft``, ``hop_length``;
    default :data:`MEL_DEFAULTS`) and ``add_blank`` — the frames-per-token ones need ``check_text``.
    The first ``max_reports`` problems are printed one a line to ``log`` (a file object; ``"stderr"``
    is the current sys.stderr, ``None`` prints nothing), then a summary line with counts.

    Returns:
        (kept utterances with ``duration`` filled in, Counter problem → count).
    """
    import soundfile as sf

    from levytts.text import Phonemizer

    if log == "stderr":
        log = sys.stderr
    phonemizer = Phonemizer() if check_text else None
    mel = {**MEL_DEFAULTS, **{k: int(v) for k, v in (mel or {}).items() if k in MEL_DEFAULTS}}
    known = set(speakers) if speakers is not None else None
    kept, problems = [], Counter()
    for utt in utterances:
        problem = info = None
        duration = utt.duration
        if known is not None and utt.speaker not in known:
            problem = "unknown speaker"
        elif not utt.text.strip():
            problem = "empty text"
        else:
            try:
                info = sf.info(utt.wav_path)
                duration = info.frames / info.samplerate if info.samplerate else 0.0
                if info.frames <= 0 or not info.samplerate:
                    problem = "empty audio"
            except FileNotFoundError:
                problem = "missing audio"
            except Exception:  # soundfile raises LibsndfileError / RuntimeError on corrupt headers
                import os

                problem = "missing audio" if not os.path.exists(utt.wav_path) else "corrupt audio"
        n_phones = None
        if problem is None and phonemizer is not None:
            try:
                n_phones = len(phonemizer(utt.text)[1])
            except ValueError:
                problem = "unspeakable text"
        if problem is None:
            problem = length_problem(info.frames, info.samplerate, n_phones, add_blank=add_blank,
                                     max_frames_per_token=max_frames_per_token, **mel)
        if problem is None:
            kept.append(replace(utt, duration=duration))
            continue
        problems[problem] += 1
        if sum(problems.values()) <= max_reports and log is not None:
            print(f"skipping {utt.wav_path} ({utt.speaker}): {problem}", file=log)
    if log is not None:
        detail = ", ".join(f"{k}: {v}" for k, v in sorted(problems.items())) or "none"
        print(f"validated {len(utterances)} utterances: kept {len(kept)}, skipped {sum(problems.values())} ({detail})",
              file=log)
    return kept, problems
