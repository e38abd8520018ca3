"""Validation: bad items are reported, skipped and counted; the run goes on."""
from __future__ import annotations

import sys
from collections import Counter
from dataclasses import replace

from levytts.data.filelists import Utterance

PROBLEMS = ("missing audio", "corrupt audio", "empty audio", "empty text", "unknown speaker", "unspeakable text")


def validate_utterances(utterances: list[Utterance], speakers: list[str] | None = None, check_text: bool = True,
                        log="stderr", max_reports: int = 20) -> tuple[list[Utterance], Counter]:
    """Keep the usable utterances.

    Checks: audio file exists, its header decodes, it has samples (via soundfile.info, no full decode);
    text is non-empty (and, with ``check_text``, phonemises); speaker is in ``speakers`` when given.
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
    known = set(speakers) if speakers is not None else None
    kept, problems = [], Counter()
    for utt in utterances:
        problem = None
        duration = utt.duration
        if known is not None and utt.speaker not in known:
            problem = "unknown speaker"
        elif not utt.text.strip():
            problem = "empty text"
        else:
            try:
                info = sf.info(utt.wav_path)
                duration = info.frames / info.samplerate if info.samplerate else 0.0
                if info.frames <= 0:
                    problem = "empty audio"
            except FileNotFoundError:
                problem = "missing audio"
            except Exception:  # soundfile raises LibsndfileError / RuntimeError on corrupt headers
                import os

                problem = "missing audio" if not os.path.exists(utt.wav_path) else "corrupt audio"
        if problem is None and phonemizer is not None:
            try:
                phonemizer(utt.text)
            except ValueError:
                problem = "unspeakable text"
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
