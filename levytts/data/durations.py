"""Phone durations in mel frames from TextGrid files (what Montreal Forced Aligner writes).

MFA writes a TextGrid per utterance with interval tiers ``words`` and ``phones``; silences are
empty intervals (older versions: ``sil`` / ``sp``), unalignable words ``spn``. Here every silence
label becomes ``sp`` (the phonemizer's pause token) so training and synthesis share one symbol set.

Frames: a boundary at time t falls on frame round(t · sample_rate / hop_length); durations are the
differences, so they sum to the rounded end time. That sum must equal the mel length
(n_samples // hop_length): within ``tolerance`` frames the last phone absorbs the difference
(rounding of the end time, trailing samples); beyond it a ValueError names the utterance.
"""
from __future__ import annotations

import os
from pathlib import Path

SILENCE_LABELS = ("", "sil", "sp", "<eps>", "pau")


def read_textgrid_phones(path: str | os.PathLike, tier: str = "phones",
                         silence_token: str = "sp") -> list[tuple[float, float, str]]:
    """(start, end, phone) intervals of ``tier``, covering the whole file, silences as ``silence_token``.

    Gaps between intervals (praatio drops empty intervals on some files) are filled with silence;
    adjacent silences are merged.
    """
    from praatio import textgrid

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"TextGrid not found: {path}")
    try:
        grid = textgrid.openTextgrid(str(path), includeEmptyIntervals=True, reportingMode="silence")
    except Exception as err:  # praatio raises several exception types on malformed files
        raise ValueError(f"cannot parse TextGrid {path}: {err}") from err
    if tier not in grid.tierNames:
        raise ValueError(f"TextGrid {path} has no tier {tier!r} (tiers: {list(grid.tierNames)})")
    entries = grid.getTier(tier).entries
    out: list[tuple[float, float, str]] = []
    cursor = grid.minTimestamp
    for start, end, label in list(entries) + [(grid.maxTimestamp, grid.maxTimestamp, "")]:
        if start > cursor + 1e-9:
            out.append((cursor, start, silence_token))
        if end > start:
            label = label.strip()
            out.append((start, end, silence_token if label in SILENCE_LABELS else label))
        cursor = max(cursor, end)
    merged: list[tuple[float, float, str]] = []
    for start, end, label in out:
        if merged and label == silence_token and merged[-1][2] == silence_token:
            merged[-1] = (merged[-1][0], end, label)
        else:
            merged.append((start, end, label))
    return merged


def textgrid_to_durations(path: str | os.PathLike, n_frames: int, sample_rate: int, hop_length: int,
                          tier: str = "phones", tolerance: int = 2, silence_token: str = "sp",
                          ) -> tuple[list[str], list[int]]:
    """Phones and their durations in frames, summing to ``n_frames``.

    Args:
        path: TextGrid file.
        n_frames: mel length of the utterance (n_samples // hop_length).
        sample_rate, hop_length: of the mel (from the data config).
        tolerance: largest |sum - n_frames| the last phone may absorb.

    Returns:
        (phones, durations): lists of equal length; durations are ints ≥ 0 with sum n_frames.

    Raises:
        ValueError: the durations cannot be made to sum to n_frames (message names the file).
    """
    intervals = read_textgrid_phones(path, tier=tier, silence_token=silence_token)
    if not intervals:
        raise ValueError(f"TextGrid {path} has no intervals in tier {tier!r}")
    frames_per_second = sample_rate / hop_length
    bounds = [round(intervals[0][0] * frames_per_second)] + [round(end * frames_per_second) for _, end, _ in intervals]
    durations = [b - a for a, b in zip(bounds[:-1], bounds[1:])]
    phones = [label for _, _, label in intervals]
    diff = n_frames - sum(durations)
    if abs(diff) > tolerance or durations[-1] + diff < 0:
        raise ValueError(f"durations in {path} sum to {sum(durations)} frames but the mel has {n_frames} "
                         f"(difference {diff}, tolerance {tolerance}): wrong audio/TextGrid pair or wrong "
                         f"sample_rate/hop_length ({sample_rate}/{hop_length})?")
    durations[-1] += diff
    return phones, durations


def write_textgrid(path: str | os.PathLike, phones: list[tuple[float, float, str]],
                   words: list[tuple[float, float, str]] | None = None, duration: float | None = None) -> Path:
    """Write an MFA-style TextGrid (long format, tiers ``words`` and ``phones``) atomically.

    Args:
        phones: (start, end, label) intervals in seconds; silences may be given as ``""``.
        words: (start, end, word) intervals; None writes an empty words tier.
        duration: xmax of the grid (default: end of the last phone).
    """
    from praatio import textgrid
    from praatio.data_classes.interval_tier import IntervalTier

    from levytts.audio.io import atomic_write

    if not phones:
        raise ValueError(f"no phone intervals to write to {path}")
    xmax = round(duration if duration is not None else phones[-1][1], 6)
    grid = textgrid.Textgrid(minTimestamp=0.0, maxTimestamp=xmax)
    def tidy(intervals):  # 1 µs resolution, as aligners write (no 0.29400000000000004)
        return [(round(s, 6), round(e, 6), lab) for s, e, lab in intervals if round(e, 6) > round(s, 6)]

    grid.addTier(IntervalTier("words", tidy(words or []), 0.0, xmax))
    grid.addTier(IntervalTier("phones", tidy(phones), 0.0, xmax))
    path = Path(path)
    with atomic_write(path, suffix=".TextGrid") as tmp:
        grid.save(str(tmp), format="long_textgrid", includeBlankSpaces=True)
    return path
