"""Grad-TTS's 2-D mel U-Net ε̂(x_t, t | μ, speaker) (Popov et al. 2021, "GradLogPEstimator2d").

The input is a 2- or 3-channel image (B, C_in, n_mels, T): the diffusion state x_t, the encoder's
μ, and (multi-speaker) the speaker embedding mapped to an n_mels column repeated over T. Every block
multiplies by the frame mask, so padded frames never influence valid ones or receive output. T must be
divisible by 2^(len(dim_mults) - 1): :meth:`UNetDecoder.pad_length` gives the padded length.
"""
from __future__ import annotations

import math

import torch
from torch import nn


class SinusoidalTimeEmbedding(nn.Module):
    """t (B,) → (B, dim) sinusoidal features of scale·t (Grad-TTS uses scale = 1000 with t ∈ [0, 1])."""

    def __init__(self, dim: int, scale: float = 1000.0):
        super().__init__()
        self.dim, self.scale = dim, scale

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        half = self.dim // 2
        freqs = torch.exp(-math.log(10000) * torch.arange(half, device=t.device, dtype=torch.float32) / (half - 1))
        arg = self.scale * t.float()[:, None] * freqs[None, :]
        return torch.cat([arg.sin(), arg.cos()], dim=-1).to(t.dtype)


def with_speaker_channel(channels: list[torch.Tensor], decoder: nn.Module, spk_emb: torch.Tensor | None):
    """``channels`` (each (B, n_mels, T)) plus, for a multi-speaker decoder, ``decoder.spk_mlp(spk_emb)`` repeated
    over T. ValueError when a multi-speaker decoder gets no speaker embedding."""
    if decoder.n_spks > 1:
        if spk_emb is None:
            raise ValueError("multi-speaker decoder: pass the speaker embedding")
        channels = channels + [decoder.spk_mlp(spk_emb).unsqueeze(-1).expand(-1, -1, channels[0].shape[-1])]
    return channels


class Block(nn.Module):
    """conv3×3 → GroupNorm → Mish, masked."""

    def __init__(self, dim: int, dim_out: int, groups: int = 8):
        super().__init__()
        self.conv = nn.Conv2d(dim, dim_out, 3, padding=1)
        self.norm = nn.GroupNorm(groups, dim_out)
        self.act = nn.Mish()

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.conv(x * mask))) * mask


class ResnetBlock(nn.Module):
    """Two Blocks with the time embedding added in between, plus a 1×1 residual."""

    def __init__(self, dim: int, dim_out: int, time_dim: int, groups: int = 8):
        super().__init__()
        self.time_mlp = nn.Sequential(nn.Mish(), nn.Linear(time_dim, dim_out))
        self.block1 = Block(dim, dim_out, groups)
        self.block2 = Block(dim_out, dim_out, groups)
        self.res = nn.Conv2d(dim, dim_out, 1) if dim != dim_out else nn.Identity()

    def forward(self, x: torch.Tensor, mask: torch.Tensor, t_emb: torch.Tensor) -> torch.Tensor:
        h = self.block1(x, mask) + self.time_mlp(t_emb)[:, :, None, None]
        h = self.block2(h, mask)
        return h + self.res(x * mask)


class LinearAttention(nn.Module):
    """Linear attention over all (mel bin, frame) positions (softmax over keys' positions)."""

    def __init__(self, dim: int, heads: int = 4, dim_head: int = 32):
        super().__init__()
        self.heads = heads
        hidden = heads * dim_head
        self.to_qkv = nn.Conv2d(dim, 3 * hidden, 1, bias=False)
        self.to_out = nn.Conv2d(hidden, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, _, H, W = x.shape
        q, k, v = self.to_qkv(x).reshape(B, 3, self.heads, -1, H * W).unbind(1)  # (B, heads, d, N)
        k = k.softmax(dim=-1)
        context = torch.einsum("bhdn,bhen->bhde", k, v)
        out = torch.einsum("bhde,bhdn->bhen", context, q)
        return self.to_out(out.reshape(B, -1, H, W))


class ResidualRezeroAttention(nn.Module):
    """x + g · Attn(x), g initialised at 0 (ReZero)."""

    def __init__(self, dim: int):
        super().__init__()
        self.attn = LinearAttention(dim)
        self.g = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.g * self.attn(x)


class UNetDecoder(nn.Module):
    """ε̂(x_t, t | μ, spk).

    Args:
        n_mels: mel bins (must be divisible by 2^(len(dim_mults) - 1)).
        dim: base channel count; dim_mults: channel multipliers per resolution.
        n_spks: number of speakers (> 1 adds the speaker channel); spk_emb_dim: speaker embedding size.
        pe_scale: time-embedding scale.

    Forward:
        x (B, n_mels, T): diffusion state; mask (B, 1, T); mu (B, n_mels, T); t (B,);
        spk_emb (B, spk_emb_dim) or None. Returns ε̂ (B, n_mels, T), zero on padding.
    """

    def __init__(self, n_mels: int = 80, dim: int = 64, dim_mults=(1, 2, 4), groups: int = 8, n_spks: int = 1,
                 spk_emb_dim: int = 64, pe_scale: float = 1000.0):
        super().__init__()
        self.n_downs = len(dim_mults) - 1
        if n_mels % 2**self.n_downs:
            raise ValueError(f"n_mels ({n_mels}) must be divisible by {2 ** self.n_downs} for dim_mults={list(dim_mults)}")
        self.n_spks = n_spks
        if n_spks > 1:
            self.spk_mlp = nn.Sequential(nn.Linear(spk_emb_dim, 4 * spk_emb_dim), nn.Mish(),
                                         nn.Linear(4 * spk_emb_dim, n_mels))
        self.time_emb = SinusoidalTimeEmbedding(dim, pe_scale)
        self.time_mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.Mish(), nn.Linear(4 * dim, dim))
        dims = [2 + (n_spks > 1)] + [dim * m for m in dim_mults]
        pairs = list(zip(dims[:-1], dims[1:]))
        self.downs = nn.ModuleList()
        for i, (d_in, d_out) in enumerate(pairs):
            last = i == len(pairs) - 1
            self.downs.append(nn.ModuleList([
                ResnetBlock(d_in, d_out, dim, groups), ResnetBlock(d_out, d_out, dim, groups),
                ResidualRezeroAttention(d_out),
                nn.Conv2d(d_out, d_out, 3, 2, 1) if not last else nn.Identity()]))
        mid = dims[-1]
        self.mid1, self.mid_attn, self.mid2 = ResnetBlock(mid, mid, dim, groups), ResidualRezeroAttention(mid), \
            ResnetBlock(mid, mid, dim, groups)
        self.ups = nn.ModuleList()
        for d_in, d_out in reversed(pairs[1:]):
            self.ups.append(nn.ModuleList([
                ResnetBlock(2 * d_out, d_in, dim, groups), ResnetBlock(d_in, d_in, dim, groups),
                ResidualRezeroAttention(d_in), nn.ConvTranspose2d(d_in, d_in, 4, 2, 1)]))
        self.final_block = Block(dim, dim, groups)
        self.final_conv = nn.Conv2d(dim, 1, 1)

    def pad_length(self, length: int) -> int:
        """Smallest length ≥ ``length`` divisible by 2^n_downs."""
        f = 2**self.n_downs
        return int(math.ceil(length / f) * f)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, mu: torch.Tensor, t: torch.Tensor,
                spk_emb: torch.Tensor | None = None) -> torch.Tensor:
        if x.shape[-1] % 2**self.n_downs:
            raise ValueError(f"mel length {x.shape[-1]} must be divisible by {2 ** self.n_downs} (use pad_length)")
        t_emb = self.time_mlp(self.time_emb(t))
        h = torch.stack(with_speaker_channel([mu, x], self, spk_emb), dim=1)  # (B, C_in, n_mels, T)
        m = mask.unsqueeze(1)  # (B, 1, 1, T)
        masks, skips = [m], []  # masks[i]: frame mask at the resolution of level i
        for i, (res1, res2, attn, down) in enumerate(self.downs):
            mk = masks[-1]
            h = attn(res2(res1(h, mk, t_emb), mk, t_emb))
            skips.append(h)
            h = down(h * mk)
            if i < self.n_downs:
                masks.append(mk[:, :, :, ::2])
        mk = masks[-1]
        h = self.mid2(self.mid_attn(self.mid1(h, mk, t_emb)), mk, t_emb)
        for res1, res2, attn, up in self.ups:
            mk = masks.pop()
            h = torch.cat([h, skips.pop()], dim=1)
            h = attn(res2(res1(h, mk, t_emb), mk, t_emb))
            h = up(h * mk)
        h = self.final_block(h, m)
        return (self.final_conv(h * m) * m).squeeze(1)


class ResBlock1d(nn.Module):
    """Two dilated conv1d → GroupNorm → Mish layers with the time embedding added in between, residual, masked."""

    def __init__(self, channels: int, time_dim: int, kernel: int = 3, dilation: int = 1, groups: int = 8):
        super().__init__()
        pad = dilation * (kernel - 1) // 2
        self.conv1 = nn.Conv1d(channels, channels, kernel, padding=pad, dilation=dilation)
        self.norm1 = nn.GroupNorm(groups, channels)
        self.conv2 = nn.Conv1d(channels, channels, kernel, padding=pad, dilation=dilation)
        self.norm2 = nn.GroupNorm(groups, channels)
        self.time_mlp = nn.Sequential(nn.Mish(), nn.Linear(time_dim, channels))
        self.act = nn.Mish()

    def forward(self, x: torch.Tensor, mask: torch.Tensor, t_emb: torch.Tensor) -> torch.Tensor:
        h = self.act(self.norm1(self.conv1(x * mask))) * mask + self.time_mlp(t_emb)[:, :, None]
        h = self.act(self.norm2(self.conv2(h * mask))) * mask
        return (x + h) * mask


class Conv1dDecoder(nn.Module):
    """ε̂(x_t, t | μ, spk) with the mel bins as channels: a stack of dilated 1-D residual blocks over time.

    The Matcha-TTS kind of decoder (a 1-D network over frames, every layer seeing the whole spectrum of a frame)
    instead of Grad-TTS's 2-D U-Net (3×3 convolutions over (mel bin, frame), which relate distant mel bins only
    through depth). Written for the CPU recipe: at 256 channels it is cheaper per frame than the width-16 U-Net.

    Args:
        n_mels: mel bins; channels: hidden width; dilations: one residual block per entry (receptive field
        1 + 2·(kernel - 1)·Σ dilations frames); kernel: conv kernel size; n_spks, spk_emb_dim: speaker conditioning
        (an n_mels-dim vector from the embedding, as the U-Net's speaker channel); pe_scale: time-embedding scale.

    Forward: x (B, n_mels, T) diffusion state; mask (B, 1, T); mu (B, n_mels, T); t (B,); spk_emb (B, spk_emb_dim)
    or None. Returns (B, n_mels, T), zero on padding. No length constraint (:meth:`pad_length` is the identity).
    """

    def __init__(self, n_mels: int = 80, channels: int = 256, dilations=(1, 2, 4, 8, 1, 2, 4, 8), kernel: int = 3,
                 groups: int = 8, n_spks: int = 1, spk_emb_dim: int = 64, pe_scale: float = 1000.0):
        super().__init__()
        self.n_spks = n_spks
        if n_spks > 1:
            self.spk_mlp = nn.Sequential(nn.Linear(spk_emb_dim, 4 * spk_emb_dim), nn.Mish(),
                                         nn.Linear(4 * spk_emb_dim, n_mels))
        time_dim = channels
        self.time_emb = SinusoidalTimeEmbedding(channels, pe_scale)
        self.time_mlp = nn.Sequential(nn.Linear(channels, 4 * channels), nn.Mish(), nn.Linear(4 * channels, time_dim))
        self.proj_in = nn.Conv1d((3 if n_spks > 1 else 2) * n_mels, channels, 1)
        self.blocks = nn.ModuleList(ResBlock1d(channels, time_dim, kernel, int(d), groups) for d in dilations)
        self.proj_out = nn.Conv1d(channels, n_mels, 1)

    def pad_length(self, length: int) -> int:
        return int(length)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, mu: torch.Tensor, t: torch.Tensor,
                spk_emb: torch.Tensor | None = None) -> torch.Tensor:
        t_emb = self.time_mlp(self.time_emb(t))
        h = self.proj_in(torch.cat(with_speaker_channel([x, mu], self, spk_emb), dim=1) * mask)
        for block in self.blocks:
            h = block(h, mask, t_emb)
        return self.proj_out(h * mask) * mask


DECODERS = {"unet2d": UNetDecoder, "conv1d": Conv1dDecoder}


def build_decoder(cfg: dict, n_mels: int, n_spks: int, spk_emb_dim: int) -> nn.Module:
    """The decoder named by ``cfg["kind"]`` (``unet2d``, the default and Grad-TTS's, or ``conv1d``)."""
    cfg = {k: v for k, v in dict(cfg).items() if v is not None}  # null: a key of the other kind, not used here
    kind = cfg.pop("kind", "unet2d")
    if kind not in DECODERS:
        raise ValueError(f"unknown decoder kind {kind!r}; valid: {', '.join(DECODERS)}")
    import inspect

    valid = [p for p in inspect.signature(DECODERS[kind]).parameters if p not in ("n_mels", "n_spks", "spk_emb_dim")]
    unknown = sorted(set(cfg) - set(valid))
    if unknown:
        raise ValueError(f"decoder kind {kind!r} has no option(s) {', '.join(unknown)} (set them to null); "
                         f"valid: {', '.join(valid)}")
    return DECODERS[kind](n_mels=n_mels, n_spks=n_spks, spk_emb_dim=spk_emb_dim, **cfg)
