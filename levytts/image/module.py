"""Lightning module for image diffusion with α-stable noise (LIM or DLPM), with an EMA copy of the net.

The Lightning class holds the generic training code (loss call, optimiser, EMA, logging); the model
is :class:`~levytts.image.unet.DDPMUNet`; the process, loss and samplers are those of
:mod:`levytts.levy` (no image-specific copy of the math). Automatic optimisation: exactly one
optimiser step per training batch.
"""
from __future__ import annotations

import torch

from levytts.image.unet import DDPMUNet
from levytts.levy import DLPM, LevyVP, denoising_loss
from levytts.lightning_base import DiffusionLightning


def build_process(kind: str, alpha: float, **kw):
    """``lim`` → :class:`LevyVP` (kw: schedule, s, T, t_min); ``dlpm`` → :class:`DLPM` (kw: n_steps, s)."""
    if kind == "lim":
        keep = {k: kw[k] for k in ("schedule", "s", "T", "t_min", "beta_min", "beta_max") if kw.get(k) is not None}
        return LevyVP(alpha=alpha, **keep)
    if kind == "dlpm":
        keep = {k: kw[k] for k in ("n_steps", "s") if kw.get(k) is not None}
        return DLPM(alpha=alpha, **keep)
    raise ValueError(f"unknown diffusion kind {kind!r}; valid: lim, dlpm")


class ImageDiffusion(DiffusionLightning):
    """ε-prediction diffusion model for images.

    Args:
        net: keyword arguments of :class:`DDPMUNet` (``class_cond`` decides ``num_classes``).
        diffusion: ``kind`` (lim | dlpm), ``alpha``, ``loss`` (smooth_l1 | mse | rmse), ``mom_groups``,
            ``a_max``, ``structure`` and the process keywords of :func:`build_process`.
        optim: ``lr``, ``warmup_steps``, ``betas``, ``weight_decay``.
        ema_decay: decay of the parameter EMA used for sampling.
        label_dropout: probability of replacing the label by "no label" (class-conditional nets only).
    """

    def __init__(self, net: dict, diffusion: dict, optim: dict, ema_decay: float = 0.9999, label_dropout: float = 0.1):
        super().__init__()
        self.save_hyperparameters()
        net = dict(net)
        class_cond = bool(net.pop("class_cond", False))
        if not class_cond:
            net["num_classes"] = 0
        self.net = DDPMUNet(**net)
        # EMA copy and skipped-step counter (not in the state dict: checkpoints of earlier runs keep loading)
        self.init_training_state("net", ema_decay, persistent_skips=False)
        d = dict(diffusion)
        self.proc = build_process(d.pop("kind"), float(d.pop("alpha")), **d)
        self.loss_kind = diffusion.get("loss", "smooth_l1")

    @property
    def class_cond(self) -> bool:
        return self.net.num_classes > 0

    def loss(self, x0: torch.Tensor, y: torch.Tensor | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        """The training objective on a batch.

        Args:
            x0: images in [-1, 1], shape (B, C, H, W).
            y: labels (B,) (used when the net is class-conditional).
            generator: optional torch.Generator for t, ε and the label dropout.
        Returns:
            scalar loss (levytts.levy.denoising_loss with this process and loss kind).
        """
        d = self.hparams.diffusion
        if self.class_cond and y is not None and self.hparams.label_dropout > 0:
            drop = torch.rand(y.shape, generator=generator, device=y.device) < self.hparams.label_dropout
            y = torch.where(drop, torch.full_like(y, self.net.num_classes), y)
        return denoising_loss(lambda x_t, t: self.net(x_t, t, y if self.class_cond else None), x0, self.proc,
                              kind=self.loss_kind, generator=generator, structure=d.get("structure", "isotropic"),
                              mom_groups=int(d.get("mom_groups", 1)), a_max=d.get("a_max"))

    def training_step(self, batch, batch_idx):
        x0, y = batch
        raw = self.loss(x0, y)
        loss = self.checked_loss(raw, x0.shape[0])  # None (or a zero loss under DDP): non-finite, the step skipped
        if loss is raw:
            self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=False)
        return loss

    def validation_step(self, batch, batch_idx):
        x0, y = batch
        g = torch.Generator(device=x0.device).manual_seed(batch_idx)  # same t, ε every validation
        loss = self.loss(x0, y, generator=g)
        self.log("val/loss", loss, prog_bar=True, on_epoch=True, batch_size=x0.shape[0])

    def configure_optimizers(self):
        o = self.hparams.optim
        opt = torch.optim.Adam(self.net.parameters(), lr=float(o["lr"]), betas=tuple(o.get("betas", (0.9, 0.999))),
                               weight_decay=float(o.get("weight_decay", 0.0)))
        warmup = int(o.get("warmup_steps", 0))
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: min(1.0, (step + 1) / warmup) if warmup > 0 else 1.0)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def sampling_net(self, use_ema: bool = True) -> DDPMUNet:
        """The EMA network (default) or the raw one, for sampling."""
        return self.ema.module if use_ema else self.net
