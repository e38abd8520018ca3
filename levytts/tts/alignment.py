"""Masks, duration → alignment paths, monotonic alignment search (MAS) and the duration/prior losses.

MAS comes from the `monotonic-alignment-search` wheel (compiled, no in-place build, docs/design.md §7).
"""
from __future__ import annotations

import math

import torch


def sequence_mask(lengths: torch.Tensor, max_length: int | None = None) -> torch.Tensor:
    """Boolean mask, shape (B, max_length): True where position < length.

    Args:
        lengths: (B,) integer lengths.
    """
    max_length = int(lengths.max()) if max_length is None else int(max_length)
    return torch.arange(max_length, device=lengths.device)[None, :] < lengths[:, None]


def durations_to_path(durations: torch.Tensor, x_mask: torch.Tensor, y_mask: torch.Tensor) -> torch.Tensor:
    """Hard monotonic alignment from integer durations (the length regulator's matrix).

    Args:
        durations: (B, L) integer frames per token (0 for padding).
        x_mask: (B, 1, L) token mask; y_mask: (B, 1, T) frame mask.

    Returns:
        path: (B, L, T) float, path[b, i, j] = 1 iff frame j belongs to token i.
    """
    ends = torch.cumsum(durations * x_mask[:, 0].long(), dim=1)  # (B, L)
    starts = ends - durations * x_mask[:, 0].long()
    frames = torch.arange(y_mask.shape[-1], device=durations.device)[None, None, :]
    path = (frames >= starts[..., None]) & (frames < ends[..., None])
    return path.to(y_mask.dtype) * x_mask.transpose(1, 2) * y_mask


def expand(h: torch.Tensor, path: torch.Tensor) -> torch.Tensor:
    """Length regulator: token features (B, C, L) → frame features (B, C, T) along ``path`` (B, L, T)."""
    return torch.matmul(h, path)


def gaussian_log_prior(mu_x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """log N(y_j; μ_i, I) for every token i and frame j, shape (B, L, T).

    Args:
        mu_x: (B, n_mels, L) token means; y: (B, n_mels, T) target mels.
    """
    n_feats = mu_x.shape[1]
    sq = torch.cdist(mu_x.transpose(1, 2), y.transpose(1, 2)).pow(2)  # (B, L, T) squared distances
    return -0.5 * sq - 0.5 * n_feats * math.log(2 * math.pi)


@torch.no_grad()
def monotonic_alignment(log_prior: torch.Tensor, x_mask: torch.Tensor, y_mask: torch.Tensor) -> torch.Tensor:
    """MAS: the monotonic path maximising Σ log_prior, shape (B, L, T) with 0/1 entries.

    Args:
        log_prior: (B, L, T); x_mask: (B, 1, L); y_mask: (B, 1, T).
    """
    from monotonic_alignment_search import maximum_path

    attn_mask = x_mask.transpose(1, 2) * y_mask  # (B, L, T)
    return maximum_path(log_prior, attn_mask).detach()


def duration_loss(logw: torch.Tensor, durations: torch.Tensor, x_mask: torch.Tensor) -> torch.Tensor:
    """Grad-TTS duration loss: mean over tokens of (log w - log(1e-8 + d))².

    Args:
        logw: (B, 1, L) predicted log durations; durations: (B, L) frames; x_mask: (B, 1, L).
    """
    target = torch.log(1e-8 + durations.unsqueeze(1).to(logw.dtype))
    return torch.sum(((logw - target) * x_mask) ** 2) / torch.sum(x_mask)


def prior_loss(y: torch.Tensor, mu_y: torch.Tensor, y_mask: torch.Tensor) -> torch.Tensor:
    """Grad-TTS prior loss: mean over valid mel elements of -log N(y; μ_y, I).

    Args:
        y, mu_y: (B, n_mels, T); y_mask: (B, 1, T).
    """
    nll = 0.5 * ((y - mu_y) ** 2 + math.log(2 * math.pi)) * y_mask
    return torch.sum(nll) / (torch.sum(y_mask) * y.shape[1])


def predicted_durations(logw: torch.Tensor, x_mask: torch.Tensor, length_scale: float = 1.0) -> torch.Tensor:
    """Integer durations ceil(exp(log w) · length_scale), shape (B, L), 0 on padding."""
    return torch.ceil(torch.exp(logw) * x_mask * length_scale)[:, 0].long()
