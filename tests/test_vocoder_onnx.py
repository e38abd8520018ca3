"""HiFi-GAN through its cached ONNX export (levytts.vocoder.exported): ONNX Runtime and OpenVINO equal PyTorch,
the cache is written once (atomically, named by the weights' hash) and reused, and a missing extra is one line.

Skipped per backend when its package (or ``onnx``, which the export needs) is not installed: pip install
'levytts[onnx]' / 'levytts[openvino]'."""
from __future__ import annotations

import hashlib
import importlib.util
import json
import math

import pytest
import torch

from levytts.audio.mel import mel_spectrogram
from levytts.vocoder import HiFiGANConfig, HiFiGANGenerator, load_vocoder
from levytts.vocoder import exported as ex
from levytts.vocoder.vocoder import vocode_pieces

MEL = dict(sample_rate=22050, n_fft=1024, hop_length=256, win_length=1024, n_mels=80, f_min=0.0, f_max=8000.0)
TINY = dict(resblock="1", upsample_rates=[4, 4], upsample_kernel_sizes=[8, 8], upsample_initial_channel=16,
            resblock_kernel_sizes=[3, 5], resblock_dilation_sizes=[[1, 3, 5], [1, 3, 5]], num_mels=80, n_fft=64,
            hop_size=16, win_size=64, sampling_rate=8000, fmin=0, fmax=4000)
#: max |Δ| of the exported float32 graph against PyTorch eager on the universal V1 (waveform in [-1, 1]);
#: measured 4e-6 (ONNX Runtime 1.32) and 7e-6 (OpenVINO 2026.4)
ATOL = 1e-4


def _installed(backend: str) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("onnx", backend))


BACKENDS = [pytest.param(b, marks=pytest.mark.skipif(not _installed(b), reason=f"{b} or onnx not installed "
                                                      f"(pip install 'levytts[{ex.EXTRAS[b]}]')"))
            for b in (ex.ONNXRUNTIME, ex.OPENVINO)]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One cache directory for the universal-vocoder tests of this module (one export, ~4 s)."""
    return tmp_path_factory.mktemp("levytts_cache")


@pytest.fixture
def use_cache(cache, monkeypatch):
    monkeypatch.setenv("LEVYTTS_CACHE_DIR", str(cache))
    return cache / "vocoder"


@pytest.fixture(scope="module")
def speech_like_mel():
    """Log-mel (1, 80, 129) of 1.5 s of a gliding harmonic tone with a syllable-like envelope and a little noise."""
    sr, n = MEL["sample_rate"], int(1.5 * MEL["sample_rate"])
    t = torch.arange(n) / sr
    f0 = 110 + 60 * torch.sin(2 * math.pi * 0.7 * t)
    phase = 2 * math.pi * torch.cumsum(f0, 0) / sr
    voiced = sum(torch.sin(k * phase) / k for k in range(1, 30))
    env = 0.5 * (1 - torch.cos(2 * math.pi * 3 * t)).clamp(min=0)
    audio = 0.1 * env * voiced + 0.003 * torch.randn(n, generator=torch.Generator().manual_seed(0))
    return mel_spectrogram(audio[None].float(), MEL)


@pytest.fixture(scope="module")
def torch_vocoder():
    return load_vocoder("universal", MEL)


@pytest.mark.parametrize("backend", BACKENDS)
def test_universal_equals_pytorch(backend, use_cache, speech_like_mel, torch_vocoder):
    voc = load_vocoder("universal", MEL, backend=backend)
    assert voc.backend == backend and voc.name == "hifigan" and voc.generator is not None
    assert voc.generator.path.parent == use_cache
    mel = speech_like_mel
    with torch.no_grad():
        for x in (mel, mel[:, :, :1], mel[:, :, :37], torch.cat([mel, mel.flip(-1)])):  # any length, batch
            ref, got = torch_vocoder(x), voc(x)
            assert got.shape == ref.shape == (x.shape[0], x.shape[-1] * MEL["hop_length"]) and got.dtype == torch.float32
            assert (got - ref).abs().max().item() <= ATOL


@pytest.mark.parametrize("backend", BACKENDS)
def test_pieces_join_to_the_whole(backend, use_cache, speech_like_mel):
    """vocode_pieces (TTS first-piece streaming) sees an exported generator as HiFi-GAN: pieces with context."""
    voc = load_vocoder("universal", MEL, backend=backend)
    whole = voc(speech_like_mel)[0]
    joined = torch.cat(list(vocode_pieces(voc, speech_like_mel, [0, 40, speech_like_mel.shape[-1]])))
    assert joined.shape == whole.shape
    assert (joined - whole).abs().max().item() <= ATOL


def _tiny_checkpoint(path):
    torch.manual_seed(3)
    gen = HiFiGANGenerator(HiFiGANConfig.from_dict(TINY))
    torch.save({"generator": gen.state_dict()}, path / "g_tiny")
    (path / "config.json").write_text(json.dumps(TINY))
    return path / "g_tiny", gen.eval()


@pytest.mark.parametrize("backend", BACKENDS)
def test_cache_written_once_named_by_hash_and_reused(backend, tmp_path, monkeypatch):
    ckpt, gen = _tiny_checkpoint(tmp_path)
    cache = tmp_path / "cache"
    monkeypatch.setenv("LEVYTTS_CACHE_DIR", str(cache))
    tiny_mel = dict(sample_rate=8000, n_fft=64, hop_length=16, win_length=64, n_mels=80, f_min=0.0, f_max=4000.0)
    voc = load_vocoder(ckpt, tiny_mel, backend=backend)
    files = sorted((cache / "vocoder").iterdir())
    assert files == [voc.generator.path]  # the export only: no temporary file left behind
    digest = hashlib.sha256(ckpt.read_bytes())
    digest.update(json.dumps({k: v for k, v in HiFiGANConfig.from_dict(TINY).__dict__.items() if k != "extra"},
                             sort_keys=True, default=list).encode())
    assert files[0].name.startswith(f"hifigan-{digest.hexdigest()[:20]}-")
    mel = torch.randn(2, 80, 9)
    with torch.no_grad():
        torch.testing.assert_close(voc(mel), gen(mel), atol=1e-5, rtol=1e-4)
    stamp = files[0].stat().st_mtime_ns

    def no_torch_load(*a, **k):
        raise AssertionError("the PyTorch weights were read although the export is cached")

    monkeypatch.setattr(ex, "load_hifigan", no_torch_load)
    again = load_vocoder(ckpt, tiny_mel, backend=backend)  # a second process: reads the cached file only
    assert again.generator.path == files[0] and files[0].stat().st_mtime_ns == stamp
    torch.testing.assert_close(again(mel), gen(mel), atol=1e-5, rtol=1e-4)
    # other weights -> another cache file
    torch.save({"generator": {k: v + 0.01 for k, v in gen.state_dict().items()}}, ckpt)
    monkeypatch.undo()
    monkeypatch.setenv("LEVYTTS_CACHE_DIR", str(cache))
    other = load_vocoder(ckpt, tiny_mel, backend=backend)
    assert other.generator.path != files[0] and len(list((cache / "vocoder").iterdir())) == 2


@pytest.mark.parametrize("backend", BACKENDS)
def test_damaged_cache_file_is_exported_again(backend, tmp_path, monkeypatch):
    ckpt, gen = _tiny_checkpoint(tmp_path)
    monkeypatch.setenv("LEVYTTS_CACHE_DIR", str(tmp_path / "cache"))
    path = ex.onnx_cache_path(ckpt, HiFiGANConfig.from_dict(TINY))
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not an onnx file")
    g = ex.load_exported_generator(ckpt, backend=backend)
    mel = torch.randn(1, 80, 5)
    with torch.no_grad():
        torch.testing.assert_close(g(mel), gen(mel), atol=1e-5, rtol=1e-4)
    assert path.stat().st_size > 1000


def test_missing_extra_is_one_line(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "openvino" else real(name, *a))
    with pytest.raises(ValueError, match=r"needs the 'openvino' package: pip install 'levytts\[openvino\]'") as err:
        load_vocoder("universal", MEL, backend="openvino")
    assert "\n" not in str(err.value)


def test_backend_argument_errors():
    with pytest.raises(ValueError, match="unknown vocoder backend 'tensorrt'"):
        load_vocoder("universal", MEL, backend="tensorrt")
    for b in (ex.ONNXRUNTIME, ex.OPENVINO):
        if _installed(b):
            with pytest.raises(ValueError, match="Griffin-Lim runs in torch"):
                load_vocoder("griffin-lim", MEL, backend=b)
            with pytest.raises(ValueError, match="CPU only"):
                load_vocoder("universal", MEL, device="cuda", backend=b)


@pytest.mark.parametrize("backend", BACKENDS)
def test_bfloat16(backend, use_cache, speech_like_mel, torch_vocoder):
    """OpenVINO's bf16 inference precision (for --dtype bfloat16) is as far from float32 as the torch backend under
    bf16 autocast (TTS's --dtype bfloat16; measured on a demo-voice mel: max |Δ| 0.050 vs 0.055, mean 9e-4 both);
    ONNX Runtime refuses bf16 in one line."""
    if backend == ex.ONNXRUNTIME:
        with pytest.raises(ValueError, match="runs float32 only"):
            load_vocoder("universal", MEL, backend=backend, dtype="bfloat16")
        return
    from levytts.tts.synth import autocast_forward

    voc = load_vocoder("universal", MEL, backend=backend, dtype="bfloat16")
    assert voc.generator.dtype == "bfloat16"
    torch_bf16 = load_vocoder("universal", MEL)
    autocast_forward(torch_bf16.generator, "cpu", torch.bfloat16)
    with torch.no_grad():
        ref, got, autocast = torch_vocoder(speech_like_mel), voc(speech_like_mel), torch_bf16(speech_like_mel)
    assert got.dtype == torch.float32 and got.shape == ref.shape
    err, err_autocast = (got - ref).abs(), (autocast - ref).abs()
    assert err.max() <= 1.5 * err_autocast.max() + 1e-3 and err.mean() <= 1.5 * err_autocast.mean() + 1e-4


@pytest.mark.parametrize("backend", BACKENDS)
def test_unwritable_cache_is_one_line(backend, tmp_path, monkeypatch):
    ckpt, _ = _tiny_checkpoint(tmp_path)
    (tmp_path / "file").write_text("")  # a file where the cache folder should be
    monkeypatch.setenv("LEVYTTS_CACHE_DIR", str(tmp_path / "file"))
    with pytest.raises(ValueError, match="cannot write the exported vocoder .*LEVYTTS_CACHE_DIR") as err:
        ex.load_exported_generator(ckpt, backend=backend)
    assert "\n" not in str(err.value)
