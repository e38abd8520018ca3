"""``--shard i/n``: split a filelist over n processes. Shard i takes every utterance whose position p in the filelist
has p % n == i, so shards are disjoint, cover the list, and each utterance keeps its position (its seed, its row)."""
from __future__ import annotations

import re


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"i/n"`` → (i, n) with 0 <= i < n; None → None. A bad value is a one-line ValueError."""
    if text is None:
        return None
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
    if not m:
        raise ValueError(f"bad --shard {text!r}: expected i/n with whole numbers 0 <= i < n (e.g. 0/2)")
    i, n = int(m[1]), int(m[2])
    if n < 1 or i >= n:
        raise ValueError(f"bad --shard {text!r}: need n >= 1 and 0 <= i < n (e.g. 0/2 and 1/2 for two processes)")
    return i, n


def in_shard(position: int, shard: tuple[int, int] | None) -> bool:
    """Whether the utterance at ``position`` of the filelist belongs to ``shard`` (None: no sharding, all do)."""
    return shard is None or position % shard[1] == shard[0]
