"""CAM++ speaker embedding network (Wang et al., 2023), compatible with 3D-Speaker checkpoints.

Architecture (3D-Speaker's ``CAMPPlus``):
  1. front module (``head``): a 2-D ResNet over the (80 × T) fbank "image" — conv 3×3, two stages of
     two basic residual blocks each halving the frequency axis, a final conv halving it again — then
     the channels and the 10 remaining frequency rows are folded into 32·10 = 320 channels;
  2. D-TDNN backbone (``xvector``): a strided TDNN layer (k = 5, stride 2, 128 channels), then three
     densely connected blocks of 12 / 24 / 16 CAM layers (growth 32, bottleneck 128, kernel 3,
     dilation 1 / 2 / 2), each followed by a transition layer halving the channels. Every CAM layer
     is BN-ReLU-conv1×1-BN-ReLU then a context-aware masking conv: a local conv whose output is
     gated by a sigmoid mask computed from the utterance mean plus 100-frame segment means;
  3. statistics pooling (mean and unbiased std over time) and a linear layer + BatchNorm without
     affine parameters giving the embedding (192-d in the released checkpoints).

Module and attribute names follow 3D-Speaker's, because they ARE the checkpoint format: a state
dict saved by 3D-Speaker loads with ``load_state_dict(strict=True)``. The code is written from the
paper and the architecture description above; ``tests/test_eval_campplus.py`` proves the match with
3D-Speaker's own module (``speakerlab-slim`` wheel) on random weights.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn


def bn_relu(channels: int, affine: bool = True, relu: bool = True) -> nn.Sequential:
    """BatchNorm1d (+ ReLU) as a Sequential whose children are named ``batchnorm`` / ``relu``."""
    layers = nn.Sequential()
    layers.add_module("batchnorm", nn.BatchNorm1d(channels, affine=affine))
    if relu:
        layers.add_module("relu", nn.ReLU())
    return layers


class ResBlock2d(nn.Module):
    """Basic 2-D residual block; ``stride`` applies to the frequency axis only.

    Input (B, C_in, F, T) -> output (B, C_out, ceil(F / stride), T).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=(stride, 1), padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = nn.Sequential()  # identity when the shape is kept
        if stride != 1 or in_channels != out_channels:
            self.shortcut.add_module("0", nn.Conv2d(in_channels, out_channels, 1, stride=(stride, 1), bias=False))
            self.shortcut.add_module("1", nn.BatchNorm2d(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.shortcut(x))


class FrontResNet(nn.Module):
    """CAM++'s front module (3D-Speaker calls it FCM): fbank (B, F, T) -> (B, channels · F/8, T)."""

    def __init__(self, feat_dim: int = 80, channels: int = 32, blocks_per_stage: tuple[int, int] = (2, 2)):
        super().__init__()
        self.conv1 = nn.Conv2d(1, channels, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.layer1 = nn.Sequential(*[ResBlock2d(channels, channels, 2 if i == 0 else 1) for i in range(blocks_per_stage[0])])
        self.layer2 = nn.Sequential(*[ResBlock2d(channels, channels, 2 if i == 0 else 1) for i in range(blocks_per_stage[1])])
        self.conv2 = nn.Conv2d(channels, channels, 3, stride=(2, 1), padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.out_channels = channels * (feat_dim // 8)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(feats.unsqueeze(1))))  # (B, C, F, T)
        x = self.layer2(self.layer1(x))  # (B, C, F/4, T)
        x = F.relu(self.bn2(self.conv2(x)))  # (B, C, F/8, T)
        return x.flatten(1, 2)  # (B, C · F/8, T)


class TDNNLayer(nn.Module):
    """Conv1d + BN-ReLU with "same" padding: (B, C_in, T) -> (B, C_out, ceil(T / stride))."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, dilation: int = 1):
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"TDNNLayer needs an odd kernel size for symmetric padding, got {kernel_size}")
        padding = (kernel_size - 1) // 2 * dilation
        self.linear = nn.Conv1d(in_channels, out_channels, kernel_size, stride, padding, dilation, bias=False)
        self.nonlinear = bn_relu(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.nonlinear(self.linear(x))


class ContextAwareMasking(nn.Module):
    """Local conv gated by a sigmoid mask from utterance-level and segment-level context.

    mask = sigmoid(W2 relu(W1 (mean_t(x) + segment_mean(x)))), output = conv(x) · mask.
    Input (B, C_bn, T) -> output (B, C_out, T).
    """

    def __init__(self, bn_channels: int, out_channels: int, kernel_size: int, dilation: int,
                 reduction: int = 2, segment_frames: int = 100):
        super().__init__()
        padding = (kernel_size - 1) // 2 * dilation
        self.segment_frames = segment_frames
        self.linear_local = nn.Conv1d(bn_channels, out_channels, kernel_size, padding=padding, dilation=dilation, bias=False)
        self.linear1 = nn.Conv1d(bn_channels, bn_channels // reduction, 1)
        self.linear2 = nn.Conv1d(bn_channels // reduction, out_channels, 1)

    def segment_mean(self, x: torch.Tensor) -> torch.Tensor:
        """Mean over consecutive segments of ``segment_frames`` frames (the last may be shorter),
        broadcast back to every frame of its segment: (B, C, T) -> (B, C, T)."""
        n_frames = x.shape[-1]
        means = F.avg_pool1d(x, self.segment_frames, self.segment_frames, ceil_mode=True)  # (B, C, n_seg)
        return means.repeat_interleave(self.segment_frames, dim=-1)[..., :n_frames]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        context = x.mean(dim=-1, keepdim=True) + self.segment_mean(x)
        mask = torch.sigmoid(self.linear2(F.relu(self.linear1(context))))
        return self.linear_local(x) * mask


class CAMDenseLayer(nn.Module):
    """One densely connected CAM layer: BN-ReLU-conv1×1 bottleneck, BN-ReLU, CAM conv: (B, C_in, T) -> (B, growth, T)."""

    def __init__(self, in_channels: int, growth: int, bn_channels: int, kernel_size: int, dilation: int):
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"CAMDenseLayer needs an odd kernel size, got {kernel_size}")
        self.nonlinear1 = bn_relu(in_channels)
        self.linear1 = nn.Conv1d(in_channels, bn_channels, 1, bias=False)
        self.nonlinear2 = bn_relu(bn_channels)
        self.cam_layer = ContextAwareMasking(bn_channels, growth, kernel_size, dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cam_layer(self.nonlinear2(self.linear1(self.nonlinear1(x))))


class CAMDenseBlock(nn.ModuleDict):
    """``num_layers`` CAM layers, each fed the concatenation of the block input and all earlier outputs.

    (B, C, T) -> (B, C + num_layers · growth, T). Layers are named ``tdnnd1``, ``tdnnd2``, ...
    """

    def __init__(self, num_layers: int, in_channels: int, growth: int, bn_channels: int, kernel_size: int, dilation: int):
        super().__init__({
            f"tdnnd{i + 1}": CAMDenseLayer(in_channels + i * growth, growth, bn_channels, kernel_size, dilation)
            for i in range(num_layers)
        })

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.values():
            x = torch.cat([x, layer(x)], dim=1)
        return x


class TransitLayer(nn.Module):
    """BN-ReLU then a 1×1 conv without bias: (B, C_in, T) -> (B, C_out, T)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.nonlinear = bn_relu(in_channels)
        self.linear = nn.Conv1d(in_channels, out_channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.nonlinear(x))


class StatsPool(nn.Module):
    """Mean and unbiased standard deviation over time: (B, C, T) -> (B, 2C)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x.mean(dim=-1), x.std(dim=-1, unbiased=True)], dim=-1)


class EmbeddingLayer(nn.Module):
    """Linear map (a 1×1 conv, as stored in the checkpoint) + BatchNorm without affine: (B, C_in) -> (B, D)."""

    def __init__(self, in_channels: int, embedding_size: int):
        super().__init__()
        self.linear = nn.Conv1d(in_channels, embedding_size, 1, bias=False)
        self.nonlinear = bn_relu(embedding_size, affine=False, relu=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.nonlinear(self.linear(x.unsqueeze(-1)).squeeze(-1))


class CAMPPlus(nn.Module):
    """CAM++ speaker embedding network: fbank (B, T, feat_dim) -> embedding (B, embedding_size).

    Args:
        feat_dim: fbank bins (80 in every released checkpoint); must be a multiple of 8.
        embedding_size: output size (192 for the released checkpoints, 512 is 3D-Speaker's class default).
        growth: channels added by each CAM layer.
        bottleneck_factor: bottleneck width = bottleneck_factor · growth.
        init_channels: channels of the first TDNN layer.
        blocks: (num_layers, kernel_size, dilation) of each dense block.
    """

    def __init__(self, feat_dim: int = 80, embedding_size: int = 192, growth: int = 32, bottleneck_factor: int = 4,
                 init_channels: int = 128, blocks: tuple[tuple[int, int, int], ...] = ((12, 3, 1), (24, 3, 2), (16, 3, 2))):
        super().__init__()
        if feat_dim % 8:
            raise ValueError(f"CAM++ feat_dim must be a multiple of 8 (the front module halves it 3 times), got {feat_dim}")
        self.feat_dim = feat_dim
        self.embedding_size = embedding_size
        self.head = FrontResNet(feat_dim)
        self.xvector = nn.Sequential()
        self.xvector.add_module("tdnn", TDNNLayer(self.head.out_channels, init_channels, 5, stride=2))
        channels = init_channels
        for i, (num_layers, kernel_size, dilation) in enumerate(blocks, start=1):
            self.xvector.add_module(f"block{i}", CAMDenseBlock(num_layers, channels, growth, bottleneck_factor * growth,
                                                               kernel_size, dilation))
            channels += num_layers * growth
            self.xvector.add_module(f"transit{i}", TransitLayer(channels, channels // 2))
            channels //= 2
        self.xvector.add_module("out_nonlinear", bn_relu(channels))
        self.xvector.add_module("stats", StatsPool())
        self.xvector.add_module("dense", EmbeddingLayer(2 * channels, embedding_size))

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        """
        Args:
            feats (torch.Tensor): mean-normalised Kaldi fbank, shape (B, T, feat_dim).

        Returns:
            torch.Tensor: embeddings, shape (B, embedding_size).
        """
        if feats.dim() != 3 or feats.shape[-1] != self.feat_dim:
            raise ValueError(f"CAMPPlus expects fbank of shape (B, T, {self.feat_dim}), got {tuple(feats.shape)}")
        return self.xvector(self.head(feats.transpose(1, 2)))


def _unwrap_state_dict(obj) -> dict[str, torch.Tensor]:
    """Accept a bare state dict (3D-Speaker's released ``*.bin`` / ``embedding_model.ckpt``) or one nested
    under a common key; strip a DistributedDataParallel ``module.`` prefix."""
    if isinstance(obj, dict):
        for key in ("embedding_model", "state_dict", "model"):
            if key in obj and isinstance(obj[key], dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError("checkpoint is not a CAM++ state dict (expected a dict of tensors, e.g. 3D-Speaker's campplus_*.bin)")
    if all(k.startswith("module.") for k in obj):
        obj = {k[len("module."):]: v for k, v in obj.items()}
    return obj


def load_campplus(path: str | os.PathLike, device: str | torch.device = "cpu") -> CAMPPlus:
    """Build a CAM++ network from a 3D-Speaker checkpoint file (sizes read from the weights), in eval mode.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is not a CAM++ state dict.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CAM++ checkpoint not found: {path} (pass a 3D-Speaker campplus_*.bin / *.ckpt file)")
    try:
        state = _unwrap_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    except ValueError:
        raise
    except Exception as err:  # unpickling errors come in many types
        raise ValueError(f"cannot read CAM++ checkpoint {path}: {err}") from err
    try:
        embedding_size = state["xvector.dense.linear.weight"].shape[0]
        feat_dim = state["xvector.tdnn.linear.weight"].shape[1] // state["head.conv1.weight"].shape[0] * 8
    except KeyError as err:
        raise ValueError(f"{path} is not a CAM++ checkpoint: missing weight {err}") from err
    model = CAMPPlus(feat_dim=feat_dim, embedding_size=embedding_size)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f"{path} does not match the CAM++ architecture: missing {missing[:5]}, unexpected {unexpected[:5]}")
    return model.to(device).eval()
