"""HiFi-GAN run from an exported ONNX graph by ONNX Runtime or OpenVINO (optional extras; CPU only).

    voc = load_vocoder("universal", mel_cfg, backend="openvino")   # or "onnxruntime"; "torch" is the default

The generator is exported once (``torch.onnx.export``, opset 17, dynamic batch and time axes) to a file in the
cache directory (``$LEVYTTS_CACHE_DIR``, default ``~/.cache/levytts``, subfolder ``vocoder``) named by the SHA-256
of the checkpoint bytes and of its generator config, written atomically; later processes read that file and
never load the PyTorch weights. Both runtimes use the ONNX file and ``torch.get_num_threads()`` threads, in
float32: outputs equal PyTorch's to ~1e-5 (tests/test_vocoder_onnx.py). Speed: benchmarks/vocoder_backends.py.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import threading
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from levytts.vocoder.hifigan import HiFiGANConfig, load_hifigan, resolve_hifigan

TORCH = "torch"
ONNXRUNTIME = "onnxruntime"
OPENVINO = "openvino"
BACKENDS = (TORCH, ONNXRUNTIME, OPENVINO)
#: the extra that installs each exported backend's packages (pyproject.toml)
EXTRAS = {ONNXRUNTIME: "onnx", OPENVINO: "openvino"}
ONNX_OPSET = 17
#: bump when the exported graph changes (HiFiGANGenerator.forward, the export arguments): old cache files are ignored
EXPORT_VERSION = 1


def cache_dir() -> Path:
    """Where exported vocoders are kept: ``$LEVYTTS_CACHE_DIR/vocoder``, default ``~/.cache/levytts/vocoder``."""
    root = os.environ.get("LEVYTTS_CACHE_DIR")
    return (Path(root) if root else Path.home() / ".cache" / "levytts") / "vocoder"


def require(backend: str) -> None:
    """Raise ValueError (one line) when ``backend``'s runtime, or the ``onnx`` package its export needs, is missing."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown vocoder backend {backend!r}; valid: {', '.join(BACKENDS)}")
    import importlib.util

    for module in ("onnx", backend):  # torch.onnx.export needs the onnx package
        if backend != TORCH and importlib.util.find_spec(module) is None:
            raise ValueError(f"the {backend} vocoder backend needs the '{module}' package: "
                             f"pip install 'levytts[{EXTRAS[backend]}]' (or use --vocoder-backend torch)")


def onnx_cache_path(ckpt_path: str | Path, cfg: HiFiGANConfig, directory: str | Path | None = None) -> Path:
    """The cache file of a checkpoint's ONNX export: named by the SHA-256 of its bytes and generator config."""
    h = hashlib.sha256()
    with open(ckpt_path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    fields = {k: v for k, v in dataclasses.asdict(cfg).items() if k != "extra"}
    h.update(json.dumps(fields, sort_keys=True).encode())
    directory = cache_dir() if directory is None else Path(directory)
    return directory / f"hifigan-{h.hexdigest()[:20]}-v{EXPORT_VERSION}-opset{ONNX_OPSET}.onnx"


def export_onnx(generator: nn.Module, path: str | Path) -> Path:
    """Export a HiFi-GAN generator (float32, CPU) to ONNX at ``path`` atomically: input ``mel`` (B, n_mels, T),
    output ``audio`` (B, T·hop), B and T dynamic."""
    from levytts.audio.io import atomic_write

    path = Path(path)
    mel = torch.zeros(1, generator.cfg.num_mels, 32)
    with atomic_write(path) as tmp, warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the legacy-exporter deprecation and the tracer's note on the shape check
        torch.onnx.export(generator.float().cpu().eval(), (mel,), str(tmp), dynamo=False, opset_version=ONNX_OPSET,
                          input_names=["mel"], output_names=["audio"],
                          dynamic_axes={"mel": {0: "batch", 2: "frames"}, "audio": {0: "batch", 1: "samples"}})
    return path


class _OnnxRuntime:
    def __init__(self, path: Path, threads: int, dtype: str):
        assert dtype == "float32", dtype  # checked by load_exported_generator
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

    def __call__(self, mel: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"mel": mel})[0]


class _OpenVINO:
    def __init__(self, path: Path, threads: int, dtype: str):
        import openvino as ov

        # the precision explicitly: on CPUs with BF16 OpenVINO would otherwise pick bf16 itself
        hint = {"float32": "f32", "bfloat16": "bf16"}[dtype]
        self.model = ov.Core().compile_model(str(path), "CPU", {"INFERENCE_NUM_THREADS": threads,
                                                                "INFERENCE_PRECISION_HINT": hint})
        self.request = self.model.create_infer_request()
        self.lock = threading.Lock()  # one infer request: calls from several threads take turns

    def __call__(self, mel: np.ndarray) -> np.ndarray:
        with self.lock:
            return np.array(self.request.infer({0: mel})[0], copy=True)  # the request's buffer is reused


_RUNNERS = {ONNXRUNTIME: _OnnxRuntime, OPENVINO: _OpenVINO}


class ExportedGenerator(nn.Module):
    """A parameterless stand-in for :class:`~levytts.vocoder.hifigan.HiFiGANGenerator` (same ``cfg`` and forward
    contract: mel (B, n_mels, T) → waveform (B, T·hop)) that runs the exported graph on the CPU.

    Attributes: ``backend`` (onnxruntime | openvino), ``path`` (the ONNX file), ``threads``, ``dtype`` (the
    precision it computes in: float32, or bfloat16 with OpenVINO on a CPU that has it; output always float32)."""

    def __init__(self, cfg: HiFiGANConfig, backend: str, path: Path, threads: int, dtype: str = "float32"):
        super().__init__()
        self.cfg, self.backend, self.path, self.threads, self.dtype = cfg, backend, Path(path), threads, dtype
        self.runner = _RUNNERS[backend](self.path, threads, dtype)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        if mel.dim() != 3 or mel.shape[1] != self.cfg.num_mels:
            raise ValueError(f"mel must have shape (B, {self.cfg.num_mels}, T), got {tuple(mel.shape)}")
        x = np.ascontiguousarray(mel.detach().to("cpu", torch.float32).numpy())
        return torch.from_numpy(self.runner(x)).to(mel.device)


def load_exported_generator(spec: str | Path = "universal", config: str | Path | None = None,
                            backend: str = OPENVINO, threads: int | None = None,
                            directory: str | Path | None = None, dtype: str = "float32") -> ExportedGenerator:
    """The generator of ``spec`` (as :func:`~levytts.vocoder.hifigan.load_hifigan`) run by ``backend``.

    Uses the cached ONNX export when there is one (the PyTorch weights are then never read); otherwise, or when
    the cached file cannot be loaded, exports it first. ``threads``: default ``torch.get_num_threads()``.
    ``dtype``: ``float32``, or ``bfloat16`` (OpenVINO only: its bf16 inference precision; max |Δ| ~0.05 against
    float32, like the torch backend under bf16 autocast)."""
    require(backend)
    if backend == TORCH:
        raise ValueError("load_exported_generator runs onnxruntime or openvino; use load_hifigan for torch")
    if dtype not in ("float32", "bfloat16"):
        raise ValueError(f"dtype must be float32 or bfloat16, got {dtype!r}")
    if backend == ONNXRUNTIME and dtype != "float32":
        raise ValueError("the onnxruntime vocoder backend runs float32 only; use --vocoder-backend openvino or torch")
    ckpt_path, cfg = resolve_hifigan(spec, config)
    path = onnx_cache_path(ckpt_path, cfg, directory)
    threads = torch.get_num_threads() if threads is None else int(threads)
    if path.is_file():
        try:
            return ExportedGenerator(cfg, backend, path, threads, dtype)
        except Exception:  # a damaged cache file (disk full, a foreign file): export it again below
            path.unlink(missing_ok=True)
    generator = load_hifigan(spec, config, map_location="cpu")
    try:
        export_onnx(generator, path)
    except OSError as err:
        raise ValueError(f"cannot write the exported vocoder {path}: {err.strerror or err}; "
                         f"set LEVYTTS_CACHE_DIR to a writable folder") from err
    return ExportedGenerator(cfg, backend, path, threads, dtype)
