"""The DDPM U-Net (Ho et al. 2020) used by LIM for images, with an optional class embedding.

Architecture as in the DDPM CIFAR-10 model (and LIM's image experiments): a sinusoidal embedding of
the scaled time (t·1000 as in LIM, or the continuous t) passed through a 2-layer MLP; residual blocks
GroupNorm → SiLU → conv with the time embedding added after the first conv; self-attention at the
resolutions in ``attn_resolutions``; stride-2 conv down-sampling and nearest + conv up-sampling; skip
connections from every down block. The CIFAR-10 configuration is ch = 128, ch_mult = (1, 2, 2, 2),
num_res_blocks = 2, attn_resolutions = (16,), dropout = 0.1. Written here (not taken from a package)
because no maintained pip package ships this exact network and it is short.

Class conditioning (optional): a learned embedding of the label (index ``num_classes`` is the
"no label" token) is added to the time embedding.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding (DDPM / Transformer).

    Args:
        t: times, shape (B,), already scaled (e.g. t·1000).
        dim: embedding size.
    Returns:
        (B, dim) tensor [sin(t f_k), cos(t f_k)], f_k = max_period^{-k/(dim/2 - 1)}.
    """
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / max(half - 1, 1))
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.sin(args), torch.cos(args)], dim=1)
    if dim % 2:
        emb = F.pad(emb, (0, 1))
    return emb


def _norm(channels: int, groups: int) -> nn.GroupNorm:
    g = math.gcd(channels, groups)
    return nn.GroupNorm(g, channels, eps=1e-6)


class ResBlock(nn.Module):
    """GN → SiLU → conv3 (+ time embedding) → GN → SiLU → dropout → conv3 (zero-init), with a 1×1 skip."""

    def __init__(self, in_ch: int, out_ch: int, temb_ch: int, dropout: float, groups: int):
        super().__init__()
        self.norm1 = _norm(in_ch, groups)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.temb_proj = nn.Linear(temb_ch, out_ch)
        self.norm2 = _norm(out_ch, groups)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else nn.Identity()

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        """x (B, C_in, H, W), temb (B, temb_ch) → (B, C_out, H, W)."""
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.temb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return self.skip(x) + h


class AttnBlock(nn.Module):
    """Single-head self-attention over the H·W positions (DDPM), residual, zero-initialised output."""

    def __init__(self, ch: int, groups: int):
        super().__init__()
        self.norm = _norm(ch, groups)
        self.qkv = nn.Conv2d(ch, 3 * ch, 1)
        self.proj = nn.Conv2d(ch, ch, 1)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, C, H, W) → (B, C, H, W)."""
        B, C, H, W = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(B, 3, C, H * W).unbind(1)
        out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        return x + self.proj(out.transpose(1, 2).reshape(B, C, H, W))


class DDPMUNet(nn.Module):
    """ε-prediction U-Net.

    Args:
        in_channels: image channels (3 for CIFAR-10, 1 for Fashion-MNIST).
        resolution: input height = width (must be divisible by 2^(len(ch_mult)-1)).
        ch: base channels.
        ch_mult: channel multiplier per resolution level.
        num_res_blocks: residual blocks per level (the up path has one more, as in DDPM).
        attn_resolutions: resolutions (in pixels) with self-attention.
        dropout: dropout in the residual blocks.
        num_classes: 0 for unconditional; otherwise a label embedding is added to the time embedding.
        time_scale: the network sees t·time_scale (1000 as LIM; 1 for the continuous t).
        norm_groups: GroupNorm groups (32 in DDPM; gcd with the channels is used).
    """

    def __init__(self, in_channels: int = 3, resolution: int = 32, ch: int = 128, ch_mult: Sequence[int] = (1, 2, 2, 2),
                 num_res_blocks: int = 2, attn_resolutions: Sequence[int] = (16,), dropout: float = 0.1,
                 num_classes: int = 0, time_scale: float = 1000.0, norm_groups: int = 32):
        super().__init__()
        ch_mult = tuple(int(m) for m in ch_mult)
        if resolution % (2 ** (len(ch_mult) - 1)):
            raise ValueError(f"resolution {resolution} is not divisible by 2^(len(ch_mult)-1) = {2 ** (len(ch_mult) - 1)}")
        self.in_channels, self.resolution, self.ch = in_channels, resolution, ch
        self.num_classes, self.time_scale = int(num_classes), float(time_scale)
        temb_ch = 4 * ch
        self.temb = nn.Sequential(nn.Linear(ch, temb_ch), nn.SiLU(), nn.Linear(temb_ch, temb_ch))
        self.label_emb = nn.Embedding(self.num_classes + 1, temb_ch) if self.num_classes > 0 else None
        self.conv_in = nn.Conv2d(in_channels, ch, 3, padding=1)

        self.down = nn.ModuleList()
        skip_chs, cur, res = [ch], ch, resolution
        for level, mult in enumerate(ch_mult):
            for _ in range(num_res_blocks):
                blocks = [ResBlock(cur, ch * mult, temb_ch, dropout, norm_groups)]
                cur = ch * mult
                if res in attn_resolutions:
                    blocks.append(AttnBlock(cur, norm_groups))
                self.down.append(nn.ModuleList(blocks))
                skip_chs.append(cur)
            if level != len(ch_mult) - 1:
                self.down.append(nn.ModuleList([nn.Conv2d(cur, cur, 3, stride=2, padding=1)]))
                skip_chs.append(cur)
                res //= 2

        self.mid = nn.ModuleList([ResBlock(cur, cur, temb_ch, dropout, norm_groups), AttnBlock(cur, norm_groups),
                                  ResBlock(cur, cur, temb_ch, dropout, norm_groups)])

        self.up = nn.ModuleList()
        for level, mult in reversed(list(enumerate(ch_mult))):
            for _ in range(num_res_blocks + 1):
                blocks = [ResBlock(cur + skip_chs.pop(), ch * mult, temb_ch, dropout, norm_groups)]
                cur = ch * mult
                if res in attn_resolutions:
                    blocks.append(AttnBlock(cur, norm_groups))
                self.up.append(nn.ModuleList(blocks))
            if level != 0:
                self.up.append(nn.ModuleList([nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(cur, cur, 3, padding=1)]))
                res *= 2
        self.norm_out = _norm(cur, norm_groups)
        self.conv_out = nn.Conv2d(cur, in_channels, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Predict ε.

        Args:
            x: noisy images, shape (B, C, H, W).
            t: diffusion times in [0, T], shape (B,).
            y: class labels (B,) int64 in [0, num_classes) (or num_classes = "no label"); ignored when
                the model is unconditional, "no label" when None.
        Returns:
            ε̂, shape (B, C, H, W).
        """
        if x.shape[1:] != (self.in_channels, self.resolution, self.resolution):
            raise ValueError(f"expected images (B, {self.in_channels}, {self.resolution}, {self.resolution}), "
                             f"got {tuple(x.shape)}")
        temb = self.temb(timestep_embedding(t * self.time_scale, self.ch))
        if self.label_emb is not None:
            if y is None:
                y = torch.full((x.shape[0],), self.num_classes, dtype=torch.long, device=x.device)
            temb = temb + self.label_emb(y)
        h = self.conv_in(x)
        skips = [h]
        for blocks in self.down:
            if isinstance(blocks[0], ResBlock):
                h = blocks[0](h, temb)
                for b in blocks[1:]:
                    h = b(h)
            else:
                h = blocks[0](h)
            skips.append(h)
        h = self.mid[0](h, temb)
        h = self.mid[1](h)
        h = self.mid[2](h, temb)
        for blocks in self.up:
            if isinstance(blocks[0], ResBlock):
                h = blocks[0](torch.cat([h, skips.pop()], dim=1), temb)
                for b in blocks[1:]:
                    h = b(h)
            else:
                for b in blocks:
                    h = b(h)
        return self.conv_out(F.silu(self.norm_out(h)))
