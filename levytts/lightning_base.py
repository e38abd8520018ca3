"""The training code the TTS and image Lightning modules share: an EMA copy of the network, steps skipped on a
non-finite loss or gradient (together on every DDP rank), and the gradient-norm log.

Heavy-tailed α-stable noise can overflow a loss or a gradient now and then; a skipped step is counted in the
``skipped_steps`` buffer and logged as ``train/skipped_steps``, never silently applied. Under DDP a rank cannot
return None from ``training_step`` while the others run backward (Lightning refuses it, and the others would
wait in the gradient all-reduce forever), so the decision is all-reduced and every rank takes a zero-gradient
step whose update is then dropped.

Subclasses call :meth:`init_training_state` in ``__init__`` and :meth:`checked_loss` at the end of
``training_step``; :meth:`on_before_optimizer_step` and :meth:`on_train_batch_end` are inherited.
"""
from __future__ import annotations

from pathlib import Path

import lightning as L
import torch


class DiffusionLightning(L.LightningModule):
    """Base class of :class:`levytts.tts.lightning.TTSLightning` and :class:`levytts.image.module.ImageDiffusion`."""

    def init_training_state(self, net_name: str, ema_decay: float | None, ema_buffers: bool = False,
                            persistent_skips: bool = True) -> None:
        """``self.ema``: an EMA copy of the submodule ``net_name`` (None when ``ema_decay`` is falsy; ``ema_buffers``:
        average buffers too, e.g. BatchNorm statistics), and the ``skipped_steps`` counter (``persistent_skips``:
        kept in the state dict)."""
        net = getattr(self, net_name)
        self._ema_source_name = net_name  # a name, not the module: a second attribute would register it twice
        self.ema = None
        if ema_decay:
            from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

            self.ema = AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(float(ema_decay)), use_buffers=ema_buffers)
        self.register_buffer("skipped_steps", torch.zeros((), dtype=torch.long), persistent=persistent_skips)
        self._skip_update = False

    def checked_loss(self, loss: torch.Tensor, batch_size: int, params=None) -> torch.Tensor | None:
        """``loss`` when it is finite on every rank; else the step is skipped (counted and logged): None on one
        process, a zero loss on every trainable parameter under DDP (its update is dropped before the optimiser)."""
        distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
        bad = torch.tensor(0.0 if torch.isfinite(loss) else 1.0, device=loss.device)
        if distributed:  # every rank must skip together: one non-finite loss skips the step on all ranks
            torch.distributed.all_reduce(bad, op=torch.distributed.ReduceOp.MAX)
        if bad.item() == 0:
            self.log("train/skipped_steps", self.skipped_steps.float(), batch_size=batch_size)
            return loss
        self.skipped_steps += 1
        self.log("train/skipped_steps", self.skipped_steps.float(), batch_size=batch_size)
        if not distributed:
            return None  # Lightning skips backward and the optimiser step
        self._skip_update = True
        params = [p for p in (params if params is not None else self.parameters()) if p.requires_grad]
        return sum((p * 0).sum() for p in params)

    def on_before_optimizer_step(self, optimizer) -> None:
        grads = [p for p in self.parameters() if p.grad is not None]
        if self._skip_update:  # a DDP step skipped for a non-finite loss (already counted)
            self._skip_update = False
            for p in grads:
                p.grad = None  # Adam leaves parameters without a gradient untouched (moments included)
            return
        if not grads:
            return
        norm = torch.stack([p.grad.detach().norm() for p in grads]).norm()
        if not torch.isfinite(norm):
            # finite loss but overflowing gradient: drop the gradients (Adam skips params without grad)
            for p in grads:
                p.grad = None
            self.skipped_steps += 1
            return
        self.log("train/grad_norm", norm)

    def on_train_batch_end(self, outputs, batch, batch_idx) -> None:
        if self.ema is not None:
            self.ema.update_parameters(getattr(self, self._ema_source_name))


def atomic_checkpoint_io():
    """A Lightning CheckpointIO (``Trainer(plugins=[...])``) that writes every checkpoint through
    :func:`levytts.audio.io.atomic_write`: a crash mid-write leaves the previous file, and the temp file
    (``.NAME.XXXXXX.tmp``) never matches a ``*.ckpt`` glob. The one checkpoint writer of TTS and image training."""
    from lightning.pytorch.plugins.io import TorchCheckpointIO

    from levytts.audio.io import atomic_write

    class AtomicTorchCheckpointIO(TorchCheckpointIO):
        def save_checkpoint(self, checkpoint, path, storage_options=None):
            with atomic_write(path, suffix=".tmp") as tmp:
                torch.save(checkpoint, tmp)

    return AtomicTorchCheckpointIO()


def resume_checkpoint(resume, run_dir) -> str | None:
    """The checkpoint a run continues from, for the config key ``resume`` (TTS and image alike).

    ``"auto"``: ``run_dir/checkpoints/last.ckpt`` when it exists, else None (a fresh start); None: a fresh start; a
    path: that file. Raises FileNotFoundError (one line) for a path that is not a file, before any work is done.
    """
    if resume is None:
        return None
    if resume == "auto":
        last = Path(run_dir) / "checkpoints" / "last.ckpt"
        return str(last) if last.is_file() else None
    if not Path(str(resume)).is_file():
        raise FileNotFoundError(f"resume checkpoint not found: {resume} (resume takes auto, null or a checkpoint path)")
    return str(resume)
