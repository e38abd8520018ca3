"""Property-based tests of the whole synthesis path (text → normaliser → phonemizer → ids → model → mel →
audio) with the bundled demo voice: any Unicode text gives finite audio, or a ValueError with a one-line message."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

SPEAKER = "slt"


@pytest.fixture(scope="module")
def demo_tts():
    from levytts.pretrained import demo_voice_path
    from levytts.tts.synth import TTS

    return TTS(demo_voice_path(), vocoder="griffin-lim")


# any text, plus alphabets that hit the normaliser's special cases harder than uniform Unicode does
TEXTS = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(categories=["P", "S", "Zs", "Cc", "Cf"]), max_size=20),  # punctuation, symbols,
    st.text(alphabet="0123456789.,-+%$€£#/:' ", max_size=30),  # spaces, controls: numbers, money, times, ordinals
    st.text(alphabet=st.characters(categories=["L", "M", "N", "So"]), max_size=20),  # non-Latin letters, emoji
    st.lists(st.sampled_from(["Hello", "Dr.", "No.", "St.", "1st", "2nd", "3.5", "$5", "10%", "U.S.A.", "...", "!",
                              "?", ";", "-", "'", "é", "😀", "\n", "\t", "\x00", "\u200b", "日本"]),
             max_size=8).map(" ".join),
)


def check_one(tts, text):
    try:
        out = tts.synth(text, speaker=SPEAKER, steps=1)
    except ValueError as err:
        message = str(err)
        assert message and "\n" not in message and "\r" not in message, f"multi-line error: {message!r}"
        return
    mel, audio = out["mel"], out["audio"]
    assert mel.ndim == 2 and mel.shape[0] == 80 and mel.shape[1] > 0
    assert torch.isfinite(mel).all()
    assert audio is not None and audio.ndim == 1 and len(audio) > 0 and np.isfinite(audio).all()
    assert math.isfinite(out["seconds"]) and out["seconds"] > 0 and len(out["sentences"]) >= 1


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(text=TEXTS)
@example(text="")
@example(text="?!.;")
@example(text="\x00\x01\x7f")
@example(text="😀😀")
@example(text="Привет мир")
@example(text="12345678901234567890123456789")
def test_synth_gives_finite_audio_or_a_one_line_value_error(demo_tts, text):
    check_one(demo_tts, text)
