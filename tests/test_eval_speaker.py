"""GE2E speaker similarity on offline voices: same audio ~ 1, one voice > two voices."""
import shutil
import subprocess

import numpy as np
import pytest

from levytts.eval.speaker import GE2EScorer, Scorer, cosine_matrix, make_scorer, speaker_similarity

pytestmark = pytest.mark.skipif(shutil.which("flite") is None, reason="needs Debian flite (scripts/setup.sh)")

SENTENCES = ["The quick brown fox jumps over the lazy dog.", "She sells sea shells by the sea shore."]


def flite(text: str, voice: str, path) -> str:
    subprocess.run(["flite", "-voice", voice, "-t", text, "-o", str(path)], check=True)
    return str(path)


@pytest.fixture(scope="module")
def voices(tmp_path_factory):
    """Two sentences in each of flite's slt (US female) and rms (US male) voices: {(voice, i): path}."""
    root = tmp_path_factory.mktemp("voices")
    return {(v, i): flite(s, v, root / f"{v}_{i}.wav") for v in ("slt", "rms") for i, s in enumerate(SENTENCES)}


@pytest.fixture(scope="module")
def ge2e():
    return GE2EScorer()


def test_same_audio_similarity_is_one(voices, ge2e):
    assert speaker_similarity([voices["slt", 0]], [voices["slt", 0]], scorer=ge2e) == pytest.approx(1.0, abs=1e-5)


def test_one_voice_scores_higher_than_two(voices, ge2e):
    same = {v: speaker_similarity([voices[v, 0]], [voices[v, 1]], scorer=ge2e) for v in ("slt", "rms")}
    cross = [speaker_similarity([voices[a, 0]], [voices[b, 1]], scorer=ge2e) for a, b in (("slt", "rms"), ("rms", "slt"))]
    # Measured here: same voice 0.90 (rms) / 0.94 (slt), slt vs rms 0.57 / 0.61; require a clear gap.
    assert min(same.values()) > max(cross) + 0.1, (same, cross)


class EnvelopeScorer(Scorer):
    """A cheap stand-in embedding (level statistics of the waveform), to check how pairs are averaged."""

    name = "envelope"

    def embed_waveform(self, wav):
        return np.array([np.abs(wav).mean(), wav.std(), np.abs(wav).max(), 0.01])


def test_similarity_is_mean_over_pairs(voices):
    scorer = EnvelopeScorer()
    wavs, refs = [voices["slt", 0], voices["rms", 0], voices["rms", 1]], [voices["slt", 1], voices["rms", 1]]
    pairs = [float(np.dot(scorer.embed(w), scorer.embed(r))) for w in wavs for r in refs]
    assert len(set(np.round(pairs, 6))) > 1  # the pairs differ, so the mean is a real check
    assert speaker_similarity(wavs, refs, scorer=scorer) == pytest.approx(np.mean(pairs), abs=1e-12)


def test_scorer_spec_errors():
    with pytest.raises(ValueError, match="unknown speaker scorer"):
        make_scorer("xvector")
    with pytest.raises(FileNotFoundError, match="CAM\\+\\+ checkpoint not found"):
        make_scorer("campplus:/nonexistent/campplus.bin")
    with pytest.raises(ValueError, match="at least one"):
        speaker_similarity([], ["a.wav"])


def test_cosine_matrix():
    a, b = np.array([[1.0, 0.0], [0.0, 2.0]]), np.array([[3.0, 3.0]])
    np.testing.assert_allclose(cosine_matrix(a, b), [[2**-0.5], [2**-0.5]])
