"""Build an imbalanced multi-speaker set by minutes per speaker, with held-out test sentences.

The paper's set is ~1000 min of LJSpeech + ~10 min of HiFi-TTS speaker 9017. Deterministic for a
seed: utterances are sorted by path, then shuffled per speaker by ``random.Random(seed)`` visited in
sorted speaker order.

Splits, per speaker: the first ``n_test`` shuffled utterances are test, and their sentences are held
out everywhere (any speaker's utterance of a test sentence is dropped from train/val); the next
``n_val`` are validation; then train takes utterances until the speaker's minutes are reached (the
last one may overshoot by less than one utterance). A speaker with fewer minutes than asked keeps
all of them and the summary says so.
"""
from __future__ import annotations

import random
import re
from collections import defaultdict

from levytts.data.filelists import Utterance


def sentence_key(text: str) -> str:
    """Text compared for held-out sentences: lower case letters/digits/apostrophes, single spaces."""
    return " ".join(re.findall(r"[a-z0-9']+", text.lower()))


def mix_by_minutes(utterances: list[Utterance], minutes_per_speaker: dict[str, float | None] | None = None,
                   seed: int = 1234, n_test: int = 10, n_val: int = 5,
                   held_out_texts: set[str] | None = None) -> tuple[dict[str, list[Utterance]], dict]:
    """Split utterances into train/val/test.

    Args:
        utterances: with ``duration`` set (run :func:`validate_utterances` first).
        minutes_per_speaker: speaker → train minutes (None = all). Speakers not listed are left out;
            ``None`` for the whole argument keeps every speaker with all its data.
        seed: shuffling seed.
        n_test, n_val: utterances per speaker in test / validation.
        held_out_texts: extra sentences that must never be in train/val (compared by :func:`sentence_key`).

    Returns:
        ({"train": [...], "val": [...], "test": [...]}, summary): summary[speaker] holds minutes and
        counts per split, the minutes asked for, and the number of train/val items dropped because
        their sentence is held out.
    """
    by_speaker: dict[str, list[Utterance]] = defaultdict(list)
    for utt in utterances:
        if utt.duration is None:
            raise ValueError(f"utterance {utt.wav_path} has no duration: validate the filelist first")
        if minutes_per_speaker is None or utt.speaker in minutes_per_speaker:
            by_speaker[utt.speaker].append(utt)
    if minutes_per_speaker is not None:
        missing = sorted(set(minutes_per_speaker) - set(by_speaker))
        if missing:
            raise ValueError(f"no utterances for speaker(s) {missing}; speakers found: {sorted({u.speaker for u in utterances})}")
    rng = random.Random(seed)
    shuffled = {}
    for speaker in sorted(by_speaker):
        items = sorted(by_speaker[speaker], key=lambda u: u.wav_path)
        rng.shuffle(items)
        shuffled[speaker] = items
    splits: dict[str, list[Utterance]] = {"train": [], "val": [], "test": []}
    held_out = {sentence_key(t) for t in (held_out_texts or ())}
    for items in shuffled.values():
        test = [u for u in items if sentence_key(u.text) in held_out][:n_test]
        for u in items:
            if len(test) >= n_test:
                break
            if u not in test:
                test.append(u)
        splits["test"].extend(test)
        held_out.update(sentence_key(u.text) for u in test)
    summary: dict[str, dict] = {}
    for speaker, items in shuffled.items():
        test_set = {id(u) for u in splits["test"] if u.speaker == speaker}
        rest = [u for u in items if id(u) not in test_set]
        usable = [u for u in rest if sentence_key(u.text) not in held_out]
        val, pool = usable[:n_val], usable[n_val:]
        target = None if minutes_per_speaker is None else minutes_per_speaker.get(speaker)
        train, seconds = [], 0.0
        for u in pool:
            if target is not None and seconds >= 60.0 * target:
                break
            train.append(u)
            seconds += u.duration
        splits["val"].extend(val)
        splits["train"].extend(train)
        summary[speaker] = {
            "minutes_asked": target,
            "train_minutes": round(seconds / 60.0, 3),
            "train": len(train), "val": len(val),
            "test": len(test_set),
            "dropped_held_out": len(rest) - len(usable),
            "short_of_target": bool(target is not None and seconds < 60.0 * target),
        }
    return splits, summary
