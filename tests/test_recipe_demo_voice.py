"""The bundled demo voice (levytts/pretrained/demo_voice.pt): loads, speaks, round-trips through export,
and `levytts synth` uses it when no --checkpoint is given; the offline recipe end to end (slow)."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from levytts.pretrained import demo_voice_path
from levytts.tts.checkpoint import export_checkpoint
from levytts.tts.synth import load_demo_voice

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def demo():
    torch.set_num_threads(1)
    return load_demo_voice(vocoder="universal")


def test_bundled_voice_is_small_and_has_the_rare_speaker(demo):
    path = demo_voice_path()
    assert path.stat().st_size < 15 * 2**20
    assert {"slt", "awb"} <= set(demo.speakers)
    assert demo.sample_rate == 22050 and demo.vocoder.name == "hifigan"
    # only the voices its decoder learnt are offered, the rare one marked (the encoder-only voices are not)
    assert demo.trained_speakers == ["slt", "awb"] and demo.rare_speakers() == ["awb"]




def test_bundled_voice_samples_from_noise():
    """The demo voice generates from T: no stored truncated start (t_start), the diffusion decoder does the work."""
    hp = torch.load(demo_voice_path(), map_location="cpu", weights_only=True)["hyper_parameters"]
    assert "t_start" not in (hp.get("synth_defaults") or {}), hp.get("synth_defaults")
    assert hp["cfg"]["diffusion"]["schedule"] == "linear" and hp["cfg"]["diffusion"]["alpha"] == 1.5


def test_bundled_voice_speaks_a_short_sentence(demo):
    out = demo.synth("Hello there.", speaker="awb", steps=10, seed=0)
    audio = out["audio"]
    assert audio.dtype == np.float32 and audio.ndim == 1 and np.isfinite(audio).all()
    seconds = len(audio) / out["sample_rate"]
    assert 0.4 < seconds < 3.0, seconds  # two words: neither silence nor a runaway duration
    assert 0.01 < np.abs(audio).max() <= 1.0 + 1e-4 and audio.std() > 1e-3
    # longer text → longer audio (durations come from the trained predictor)
    longer = demo.synth("Hello there. How are you today?", speaker="awb", steps=2, seed=0)
    assert longer["seconds"] > seconds


# three of the corpus's held-out test sentences (never in any training split) and one sentence of our own
UNSEEN = ["A car is just a big purse on wheels.", "He asserted that they could write the specifications and do it right.",
          "Your guess is as good as mine.", "The weather is nice today, so we will walk to the old harbour."]


def test_bundled_voice_is_intelligible_on_unseen_sentences(demo, tmp_path):
    """pocketsphinx (en-us) transcribes the rare speaker's synthesis of sentences it never saw.

    The voice samples from T with its stored defaults (ODE, exponential integrator, N = 4). Measured before export:
    WER 0.40 (awb) / 0.33 (slt) on all 20 held-out sentences (docs/demo_voice.md); the flite renders of those
    sentences score 0.20 / 0.25. The previous, truncated-start voice scored 0.34 / 0.42, and the phone-constant one ≈ 1.
    """
    from levytts.audio.io import save_wav
    from levytts.eval import word_error_rate

    wavs = []
    for i, text in enumerate(UNSEEN):
        out = demo.synth(text, speaker="awb", seed=i)  # the voice's defaults: ODE EI, N = 4, from T
        wavs.append(save_wav(tmp_path / f"{i}.wav", out["audio"], out["sample_rate"]))
    assert word_error_rate(wavs, UNSEEN) < 0.4


def _flite(voice: str, text: str, path: Path) -> Path:
    subprocess.run(["flite", "-voice", voice, "-t", text, "-o", str(path)], check=True, capture_output=True)
    return path


# sentences of our own for the speaker references (none is a training or test sentence of the corpus)
REF_TEXTS = ["The little boat drifted slowly past the lighthouse.", "Please remember to bring your umbrella tomorrow.",
             "Seven green bottles were standing on the kitchen shelf.", "We listened to the rain until morning."]


def test_bundled_voices_sound_like_their_own_speaker(demo, tmp_path):
    """Each trained voice, sampled from T, is closer (GE2E) to its own speaker's flite renders than to the other's.

    The decoder's job in the paper's set-up: the encoder's μ is an average voice of OTHER speakers (measured on 20
    held-out sentences: μ is 0.545 to awb's renders and 0.620 to slt's, i.e. neither speaker).
    """
    if shutil.which("flite") is None:
        pytest.skip("flite not installed")
    from levytts.audio.io import save_wav
    from levytts.eval import speaker_similarity

    refs = {v: [_flite(v, t, tmp_path / f"ref_{v}_{i}.wav") for i, t in enumerate(REF_TEXTS)] for v in ("awb", "slt")}
    for spk, other in (("awb", "slt"), ("slt", "awb")):
        wavs = [save_wav(tmp_path / f"{spk}_{i}.wav", demo.synth(t, speaker=spk, seed=i)["audio"], demo.sample_rate)
                for i, t in enumerate(UNSEEN[:3])]
        own, wrong = speaker_similarity(wavs, refs[spk]), speaker_similarity(wavs, refs[other])
        assert own > wrong + 0.03, (spk, own, wrong)


def test_export_roundtrip_matches_the_bundled_weights(tmp_path, demo):
    fp32 = export_checkpoint(demo_voice_path(), tmp_path / "v32.pt", dtype=torch.float32)
    from levytts.tts.synth import TTS

    again = TTS(fp32, vocoder=None)
    a = demo.model.state_dict()
    b = again.model.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(ValueError, match="not a levytts training checkpoint"):
        torch.save({"weights": 1}, tmp_path / "bad.pt")
        export_checkpoint(tmp_path / "bad.pt", tmp_path / "out.pt")
    with pytest.raises(FileNotFoundError):
        export_checkpoint(tmp_path / "missing.ckpt", tmp_path / "out.pt")
    with pytest.raises(ValueError, match="unknown sampler default"):
        export_checkpoint(demo_voice_path(), tmp_path / "out.pt", synth_defaults={"temprature": 1.5})
    stored = export_checkpoint(demo_voice_path(), tmp_path / "ei.pt", synth_defaults={"solver": "ei", "steps": 4})
    assert TTS(stored, vocoder=None).defaults["solver"] == "ei"


def test_synth_cli_defaults_to_the_bundled_voice(tmp_path):
    from levytts.cli import main

    wav = tmp_path / "hello.wav"
    assert main(["synth", "--text", "Hello there.", "--speaker", "awb", "--steps", "2", "--out", str(wav)]) == 0
    audio, sr = sf.read(str(wav))
    assert sr == 22050 and 0.4 < len(audio) / sr < 3.0 and np.isfinite(audio).all()
    assert main(["synth", "--text", "Hello.", "--speaker", "nobody", "--out", str(wav)]) == 2


@pytest.mark.slow
def test_offline_recipe_small_all_stages(tmp_path):
    if shutil.which("flite") is None:
        pytest.skip("flite not installed")
    env = dict(os.environ, PYTHON=sys.executable, LEVYTTS=str(BIN / "levytts"))
    proc = subprocess.run(["bash", str(ROOT / "egs" / "offline_imbalanced" / "run.sh"), "--small", "true",
                           "--data-dir", str(tmp_path / "data"), "--exp-dir", str(tmp_path / "exp")],
                          capture_output=True, text=True, env=env, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    exp = tmp_path / "exp"
    for a in ("2.0", "1.5"):
        for cond in ("ode_N2", "sde-e_ei_N2"):
            assert len(list((exp / "synth" / f"a{a}" / "seed0" / cond).glob("*.wav"))) == 2
        assert (exp / "eval" / f"a{a}_seed0.csv").is_file()
    table = (exp / "results_tables.md").read_text()
    assert "GE2E speaker similarity" in table and "slt α=1.5" in table and "awb α=2" in table
    assert (exp / "figures" / "imbalanced_similarity.png").is_file()
    assert (exp / "demo_voice.pt").is_file()
