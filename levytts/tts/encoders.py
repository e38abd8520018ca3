"""Text encoders with duration predictors (two interchangeable kinds, chosen by ``encoder.kind``).

(a) ``grad_tts`` (Popov et al. 2021): embedding → conv prenet → transformer with relative-position
    attention → μ projection; a conv duration predictor on the detached hidden states. Optionally
    speaker-conditioned: the speaker embedding is concatenated to the prenet output (the original code
    defined this path but its multi-speaker model did not pass the speaker; here the config decides).
(b) ``avg_voice`` (Popov et al. 2024, App. C; Sadekova et al. 2022): 3 conv layers (kernel 5, 512 ch)
    → BiLSTM → μ projection ("average voice" mel, speaker-independent); duration predictor = 2-layer
    BiLSTM → linear. Trained separately with teacher-forced durations, then frozen.
    Its "upsampling module" is a plain length regulator by default (μ constant over each phone). With
    ``frame_layers > 0`` it is followed by a frame-level dilated conv stack that sees the position inside
    each phone (:class:`FrameDecoder`): the phone-constant mel is a poor average voice (its HiFi-GAN render
    of the TRUE per-phone mean mels gave pocketsphinx WER 0.67 vs 0.17 for the true mels on 10 held-out
    sentences of the offline corpus), and a CPU-sized decoder cannot add the missing transitions.

Both map ids (B, L) → (mu_x (B, C, L), logw (B, 1, L), x_mask (B, 1, L)); C = n_mels, or the frame
decoder's input width when an encoder has ``frame_decoder`` (the model then calls it after the length
regulator, see :meth:`levytts.tts.model.LevyTTS.frame_means`).
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from levytts.tts.alignment import sequence_mask


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channel dim of (B, C, L) tensors."""

    def __init__(self, channels: int, eps: float = 1e-4):
        super().__init__()
        self.norm = nn.LayerNorm(channels, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.transpose(1, 2)).transpose(1, 2)


class ConvReluNorm(nn.Module):
    """Prenet: n × (conv → LayerNorm → ReLU → dropout), then a zero-initialised 1×1 projection, residual."""

    def __init__(self, channels: int, kernel_size: int = 5, n_layers: int = 3, p_dropout: float = 0.5):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv1d(channels, channels, kernel_size, padding=kernel_size // 2)
                                   for _ in range(n_layers))
        self.norms = nn.ModuleList(ChannelLayerNorm(channels) for _ in range(n_layers))
        self.drop = nn.Dropout(p_dropout)
        self.proj = nn.Conv1d(channels, channels, 1)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = x
        for conv, norm in zip(self.convs, self.norms):
            h = self.drop(F.relu(norm(conv(h * mask))))
        return (x + self.proj(h)) * mask


class RelativeMultiHeadAttention(nn.Module):
    """Self-attention with learned relative-position embeddings for keys and values (Shaw et al. 2018),
    window ±``window_size`` as in Glow-TTS/Grad-TTS; positions outside the window get no relative term.

    We gather the (L, L, d) relative embeddings explicitly instead of Glow-TTS's pad-and-reshape trick:
    same result, easier to read; L is a phone sequence (hundreds at most), so L²·d memory is small.
    """

    def __init__(self, channels: int, n_heads: int, window_size: int = 4, p_dropout: float = 0.0):
        super().__init__()
        if channels % n_heads:
            raise ValueError(f"channels ({channels}) must be divisible by n_heads ({n_heads})")
        self.n_heads, self.d = n_heads, channels // n_heads
        self.window_size = window_size
        self.qkv = nn.Conv1d(channels, 3 * channels, 1)
        self.out = nn.Conv1d(channels, channels, 1)
        std = self.d**-0.5
        # index 2w+1 is the "outside the window" slot, kept at zero
        self.rel_k = nn.Parameter(torch.randn(2 * window_size + 1, self.d) * std)
        self.rel_v = nn.Parameter(torch.randn(2 * window_size + 1, self.d) * std)
        self.drop = nn.Dropout(p_dropout)

    def _relative(self, table: torch.Tensor, L: int) -> torch.Tensor:
        pos = torch.arange(L, device=table.device)
        rel = pos[None, :] - pos[:, None]  # j - i
        inside = rel.abs() <= self.window_size
        idx = (rel + self.window_size).clamp(0, 2 * self.window_size)
        return table[idx] * inside[..., None].to(table.dtype)  # (L, L, d)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor) -> torch.Tensor:
        """x: (B, C, L); attn_mask: (B, 1, L, L) bool. Returns (B, C, L)."""
        B, C, L = x.shape
        q, k, v = self.qkv(x).view(B, 3, self.n_heads, self.d, L).unbind(1)  # each (B, H, d, L)
        q = q.transpose(2, 3) / math.sqrt(self.d)  # (B, H, L, d)
        k, v = k.transpose(2, 3), v.transpose(2, 3)
        scores = q @ k.transpose(2, 3) + torch.einsum("bhid,ijd->bhij", q, self._relative(self.rel_k, L))
        scores = scores.masked_fill(~attn_mask, -1e4)
        p = self.drop(torch.softmax(scores, dim=-1))
        out = p @ v + torch.einsum("bhij,ijd->bhid", p, self._relative(self.rel_v, L))
        return self.out(out.transpose(2, 3).reshape(B, C, L))


class TransformerEncoder(nn.Module):
    """Post-norm transformer: n × [rel-attention + residual + LN, conv FFN + residual + LN], masked."""

    def __init__(self, channels: int, filter_channels: int, n_heads: int, n_layers: int, kernel_size: int = 3,
                 p_dropout: float = 0.1, window_size: int = 4):
        super().__init__()
        self.attn = nn.ModuleList(RelativeMultiHeadAttention(channels, n_heads, window_size, p_dropout)
                                  for _ in range(n_layers))
        self.norm1 = nn.ModuleList(ChannelLayerNorm(channels) for _ in range(n_layers))
        self.ffn1 = nn.ModuleList(nn.Conv1d(channels, filter_channels, kernel_size, padding=kernel_size // 2)
                                  for _ in range(n_layers))
        self.ffn2 = nn.ModuleList(nn.Conv1d(filter_channels, channels, kernel_size, padding=kernel_size // 2)
                                  for _ in range(n_layers))
        self.norm2 = nn.ModuleList(ChannelLayerNorm(channels) for _ in range(n_layers))
        self.drop = nn.Dropout(p_dropout)

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor) -> torch.Tensor:
        """x: (B, C, L), x_mask: (B, 1, L) float. Returns (B, C, L)."""
        attn_mask = (x_mask.unsqueeze(2) * x_mask.unsqueeze(-1)).bool()  # (B, 1, L, L)
        for attn, n1, f1, f2, n2 in zip(self.attn, self.norm1, self.ffn1, self.ffn2, self.norm2):
            x = n1(x + self.drop(attn(x * x_mask, attn_mask)))
            h = f2(self.drop(F.relu(f1(x * x_mask))) * x_mask)
            x = n2(x + self.drop(h))
        return x * x_mask


class ConvDurationPredictor(nn.Module):
    """Grad-TTS duration predictor: 2 × (conv → ReLU → LN → dropout) → 1×1 conv to log w."""

    def __init__(self, in_channels: int, filter_channels: int = 256, kernel_size: int = 3, p_dropout: float = 0.1):
        super().__init__()
        self.conv1 = nn.Conv1d(in_channels, filter_channels, kernel_size, padding=kernel_size // 2)
        self.conv2 = nn.Conv1d(filter_channels, filter_channels, kernel_size, padding=kernel_size // 2)
        self.norm1, self.norm2 = ChannelLayerNorm(filter_channels), ChannelLayerNorm(filter_channels)
        self.drop = nn.Dropout(p_dropout)
        self.proj = nn.Conv1d(filter_channels, 1, 1)

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor) -> torch.Tensor:
        """x: (B, C, L) → log w (B, 1, L)."""
        h = self.drop(self.norm1(F.relu(self.conv1(x * x_mask))))
        h = self.drop(self.norm2(F.relu(self.conv2(h * x_mask))))
        return self.proj(h * x_mask) * x_mask


class GradTTSEncoder(nn.Module):
    """Kind (a). Forward: ids (B, L), lengths (B,), spk_emb (B, S) or None → (mu_x, logw, x_mask)."""

    def __init__(self, n_vocab: int, n_mels: int, n_channels: int = 192, filter_channels: int = 768,
                 filter_channels_dp: int = 256, n_heads: int = 2, n_layers: int = 6, kernel_size: int = 3,
                 p_dropout: float = 0.1, window_size: int = 4, prenet: bool = True, spk_emb_dim: int = 0):
        super().__init__()
        self.n_channels = n_channels
        self.emb = nn.Embedding(n_vocab, n_channels)
        nn.init.normal_(self.emb.weight, 0.0, n_channels**-0.5)
        self.prenet = ConvReluNorm(n_channels) if prenet else None
        self.spk_emb_dim = spk_emb_dim
        width = n_channels + spk_emb_dim
        self.encoder = TransformerEncoder(width, filter_channels, n_heads, n_layers, kernel_size, p_dropout, window_size)
        self.proj_mu = nn.Conv1d(width, n_mels, 1)
        self.duration_predictor = ConvDurationPredictor(width, filter_channels_dp, kernel_size, p_dropout)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor, spk_emb: torch.Tensor | None = None):
        x = self.emb(ids) * math.sqrt(self.n_channels)  # (B, L, C)
        x = x.transpose(1, 2)
        x_mask = sequence_mask(lengths, ids.shape[1]).unsqueeze(1).to(x.dtype)
        if self.prenet is not None:
            x = self.prenet(x, x_mask)
        if self.spk_emb_dim:
            if spk_emb is None:
                raise ValueError("this encoder is speaker-conditioned: pass the speaker embedding")
            x = torch.cat([x, spk_emb.unsqueeze(-1).expand(-1, -1, x.shape[-1])], dim=1)
        x = self.encoder(x, x_mask)
        mu_x = self.proj_mu(x) * x_mask
        logw = self.duration_predictor(x.detach(), x_mask)
        return mu_x, logw, x_mask


def phone_positions(durations: torch.Tensor, path: torch.Tensor) -> torch.Tensor:
    """Where each frame lies inside its phone: (t - start + 0.5) / duration ∈ (0, 1), 0 on padding.

    Args:
        durations: (B, L) integer frames per token; path: (B, L, T) the 0/1 alignment of those durations.

    Returns:
        (B, 1, T) float tensor.
    """
    d = durations.to(path.dtype)
    start = torch.cumsum(d, dim=1) - d
    frame_start = torch.matmul(start.unsqueeze(1), path)  # (B, 1, T)
    frame_dur = torch.matmul(d.unsqueeze(1), path)
    t = torch.arange(path.shape[-1], device=path.device, dtype=path.dtype).view(1, 1, -1)
    on = frame_dur > 0
    return torch.where(on, (t - frame_start + 0.5) / frame_dur.clamp_min(1.0), torch.zeros_like(frame_dur))


class FrameDecoder(nn.Module):
    """Frame-level part of the average-voice upsampling module.

    Input: length-regulated phone features h_y (B, C, T), the in-phone position (B, 1, T) and y_mask (B, 1, T).
    Layers: 1×1 conv (C + 1 → F), then ``n_layers`` residual blocks (dilated conv k, dilation 2^i → ReLU →
    LayerNorm → dropout), then 1×1 → n_mels. Receptive field 1 + (k-1)(2^n - 1) frames (29 for k = 5, n = 3),
    i.e. a phone and its neighbours at 86 frames/s, so it can draw the transitions the repeated phone
    features lack. Output: μ_y (B, n_mels, T).
    """

    def __init__(self, in_channels: int, n_mels: int, channels: int = 192, n_layers: int = 3, kernel_size: int = 5,
                 p_dropout: float = 0.1):
        super().__init__()
        self.pre = nn.Conv1d(in_channels + 1, channels, 1)
        self.convs = nn.ModuleList(nn.Conv1d(channels, channels, kernel_size, dilation=2**i,
                                             padding=(kernel_size // 2) * 2**i) for i in range(n_layers))
        self.norms = nn.ModuleList(ChannelLayerNorm(channels) for _ in range(n_layers))
        self.drop = nn.Dropout(p_dropout)
        self.proj = nn.Conv1d(channels, n_mels, 1)

    def forward(self, h_y: torch.Tensor, position: torch.Tensor, y_mask: torch.Tensor) -> torch.Tensor:
        x = self.pre(torch.cat([h_y, position], dim=1)) * y_mask
        for conv, norm in zip(self.convs, self.norms):
            x = x + self.drop(norm(F.relu(conv(x * y_mask))))
        return self.proj(x * y_mask) * y_mask


class AverageVoiceEncoder(nn.Module):
    """Kind (b). Forward: ids (B, L), lengths (B,), spk_emb ignored → (mu_x, logw, x_mask).

    The encoder is speaker-independent by design: speaker identity is left to the diffusion decoder.
    """

    def __init__(self, n_vocab: int, n_mels: int, conv_channels: int = 512, kernel_size: int = 5, n_convs: int = 3,
                 lstm_hidden: int = 256, dp_hidden: int = 256, dp_layers: int = 2, p_dropout: float = 0.1,
                 spk_emb_dim: int = 0, frame_layers: int = 0, frame_channels: int = 192, frame_hidden: int = 128):
        super().__init__()
        del spk_emb_dim  # speaker-independent by design
        if frame_layers < 0:
            raise ValueError(f"frame_layers must be >= 0, got {frame_layers}")
        self.emb = nn.Embedding(n_vocab, conv_channels)
        self.convs = nn.ModuleList(nn.Conv1d(conv_channels, conv_channels, kernel_size, padding=kernel_size // 2)
                                   for _ in range(n_convs))
        self.norms = nn.ModuleList(nn.BatchNorm1d(conv_channels) for _ in range(n_convs))
        self.drop = nn.Dropout(p_dropout)
        self.lstm = nn.LSTM(conv_channels, lstm_hidden, batch_first=True, bidirectional=True)
        # phone-level output: the mel itself (paper) or, with a frame decoder, frame_hidden features for it
        self.proj_mu = nn.Conv1d(2 * lstm_hidden, frame_hidden if frame_layers else n_mels, 1)
        self.frame_decoder = (FrameDecoder(frame_hidden, n_mels, frame_channels, frame_layers, kernel_size, p_dropout)
                              if frame_layers else None)
        self.dp_lstm = nn.LSTM(2 * lstm_hidden, dp_hidden, num_layers=dp_layers, batch_first=True, bidirectional=True)
        self.dp_proj = nn.Linear(2 * dp_hidden, 1)

    def _bilstm(self, lstm: nn.LSTM, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, L, C) → (B, L, 2H), padding ignored by packing."""
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = lstm(packed)
        return nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])[0]

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor, spk_emb: torch.Tensor | None = None):
        x_mask = sequence_mask(lengths, ids.shape[1]).unsqueeze(1).float()
        x = self.emb(ids).transpose(1, 2)
        for conv, norm in zip(self.convs, self.norms):
            x = self.drop(F.relu(norm(conv(x * x_mask)))) * x_mask
        h = self._bilstm(self.lstm, x.transpose(1, 2), lengths)  # (B, L, 2H)
        mu_x = self.proj_mu(h.transpose(1, 2)) * x_mask
        d = self._bilstm(self.dp_lstm, h.detach(), lengths)
        logw = self.dp_proj(d).transpose(1, 2) * x_mask
        return mu_x, logw, x_mask


ENCODERS = {"grad_tts": GradTTSEncoder, "avg_voice": AverageVoiceEncoder}


def build_encoder(cfg: dict, n_vocab: int, n_mels: int, spk_emb_dim: int) -> nn.Module:
    """Encoder from its config dict (``kind`` plus the constructor's keyword arguments)."""
    cfg = dict(cfg)
    kind = cfg.pop("kind", "grad_tts")
    if kind not in ENCODERS:
        raise ValueError(f"unknown encoder kind {kind!r}; valid: {', '.join(ENCODERS)}")
    for key in ("pretrained", "freeze", "spk_conditioned"):
        cfg.pop(key, None)
    import inspect

    valid = [p for p in inspect.signature(ENCODERS[kind]).parameters if p not in ("n_vocab", "n_mels", "spk_emb_dim")]
    unknown = sorted(set(cfg) - set(valid))
    if unknown:  # a misspelt model.encoder key: one line naming the valid ones, not a TypeError
        raise ValueError(f"encoder kind {kind!r} has no option(s) {', '.join(map(str, unknown))}; valid: "
                         f"{', '.join(valid + ['pretrained', 'freeze', 'spk_conditioned'])}")
    return ENCODERS[kind](n_vocab=n_vocab, n_mels=n_mels, spk_emb_dim=spk_emb_dim, **cfg)
