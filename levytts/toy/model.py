"""Small MLP ε-networks with a sinusoidal time embedding, for 2-D toy data.

Same interface as the big models: ``eps_hat = model(x, t)`` with x (B, d), t (B,) in [0, 1].

To train the ≥ 5 seeds of a study at the cost of one, :class:`EpsMLP` holds ``n_members``
independent networks (separate weights, separate initialisations) evaluated with batched matrix
products. Rows are member-major: with ``n_members = E`` a batch of ``E·b`` rows gives rows
``[e·b, (e+1)·b)`` to member ``e``. Since no parameter is shared and Adam is element-wise, training
the sum of the members' losses is exactly training each member on its own loss.
(We write the batched linear layer ourselves because ``torch.func.stack_module_state`` + ``vmap``
adds per-step overhead that dominates for networks this small.)
"""
from __future__ import annotations

import math

import torch
from torch import nn


def sinusoidal_embedding(t: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Transformer-style time embedding (as in DDPM / Grad-TTS).

    Args:
        t: times, shape (B,), in [0, 1] (scaled by 1000 so that they span the frequencies).
        dim: even embedding size.
    Returns:
        (B, dim) tensor [sin(1000 t ω_k), cos(1000 t ω_k)], ω_k = max_period^(-k/(dim/2)).
    """
    if dim % 2:
        raise ValueError(f"time embedding size must be even, got {dim}")
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = 1000.0 * t.to(torch.float32)[:, None] * freqs[None, :]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=-1)


class MemberLinear(nn.Module):
    """E independent linear layers: (E, b, n_in) → (E, b, n_out), PyTorch's default init per member."""

    def __init__(self, n_members: int, n_in: int, n_out: int):
        super().__init__()
        bound = 1.0 / math.sqrt(n_in)
        self.weight = nn.Parameter(torch.empty(n_members, n_in, n_out).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(n_members, 1, n_out).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)


class EpsMLP(nn.Module):
    """ε̂(x, t) for d-dimensional points: input projection + time-embedding MLP, then residual SiLU blocks.

    Args:
        dim: data dimension d.
        hidden: hidden width.
        n_layers: number of residual hidden blocks.
        t_dim: size of the sinusoidal time embedding.
        n_members: number of independent networks held (seeds); see the module docstring.
    """

    def __init__(self, dim: int = 2, hidden: int = 64, n_layers: int = 3, t_dim: int = 32, n_members: int = 1):
        super().__init__()
        if min(dim, hidden, n_layers, n_members) < 1:
            raise ValueError(f"need dim, hidden, n_layers, n_members >= 1, got {dim}, {hidden}, {n_layers}, {n_members}")
        self.dim, self.t_dim, self.n_members = dim, t_dim, n_members
        self.x_in = MemberLinear(n_members, dim, hidden)
        self.t_in = MemberLinear(n_members, t_dim, hidden)
        self.t_mid = MemberLinear(n_members, hidden, hidden)
        self.blocks = nn.ModuleList([MemberLinear(n_members, hidden, hidden) for _ in range(n_layers)])
        self.out = MemberLinear(n_members, hidden, dim)
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """x (E·b, d), t (E·b,) → ε̂ (E·b, d); rows [e·b, (e+1)·b) go to member e."""
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"expected x of shape (B, {self.dim}), got {tuple(x.shape)}")
        B = x.shape[0]
        if B % self.n_members:
            raise ValueError(f"batch {B} is not a multiple of n_members={self.n_members} (rows are member-major)")
        E = self.n_members
        xe = x.to(self.x_in.weight.dtype).reshape(E, B // E, self.dim)
        temb = sinusoidal_embedding(t, self.t_dim).reshape(E, B // E, self.t_dim)
        h = self.x_in(xe) + self.t_mid(self.act(self.t_in(temb)))
        for block in self.blocks:
            h = h + block(self.act(h))
        return self.out(self.act(h)).reshape(B, self.dim).to(x.dtype)
