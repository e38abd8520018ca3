"""DDPM U-Net, the Lightning module (one optimiser step per batch, the loss goes down), the sampler grid."""
import math

import lightning as L
import numpy as np
import pytest
import torch

from levytts.image.module import ImageDiffusion, build_process
from levytts.image.sampling import (
    POPOV_T0,
    eta_preset,
    generate,
    grid_entries,
    image_grid,
    make_eps_fn,
    make_eta,
    save_png,
)
from levytts.image.unet import DDPMUNet, timestep_embedding
from levytts.levy import DLPM, LevyVP

TINY = dict(in_channels=1, resolution=8, ch=8, ch_mult=(1, 2), num_res_blocks=1, attn_resolutions=(4,), dropout=0.0,
            num_classes=10, time_scale=1000.0, norm_groups=4)


def _module(kind="lim", alpha=1.8, class_cond=False, loss="smooth_l1", lr=1e-2):
    return ImageDiffusion(net={**TINY, "class_cond": class_cond},
                          diffusion={"kind": kind, "alpha": alpha, "loss": loss, "a_max": 20.0},
                          optim={"lr": lr, "warmup_steps": 0}, ema_decay=0.9)


def test_unet_shapes_and_conditioning():
    torch.manual_seed(0)
    net = DDPMUNet(**TINY)
    x, t = torch.randn(3, 1, 8, 8), torch.rand(3)
    assert net(x, t).shape == (3, 1, 8, 8)
    assert torch.count_nonzero(net(x, t)) == 0  # zero-initialised output conv, as DDPM
    for p in net.parameters():  # undo the zero initialisation of the residual branches
        if p.ndim > 1:
            torch.nn.init.normal_(p, std=0.3)
    y = torch.tensor([0, 1, 2])
    assert not torch.allclose(net(x, t, y), net(x, t))  # labels change the output
    assert not torch.allclose(net(x, t), net(x, t + 0.1))  # so does time
    with pytest.raises(ValueError, match="expected images"):
        net(torch.randn(1, 3, 8, 8), t[:1])
    with pytest.raises(ValueError, match="divisible"):
        DDPMUNet(resolution=30, ch_mult=(1, 2, 2))


def test_timestep_embedding():
    e = timestep_embedding(torch.tensor([0.0, 5.0]), 8)
    assert e.shape == (2, 8)
    assert torch.allclose(e[0], torch.tensor([0.0] * 4 + [1.0] * 4))
    assert math.isclose(float(e[1, 0]), math.sin(5.0), rel_tol=1e-6)  # first frequency is 1


@pytest.mark.parametrize("kind,loss,class_cond", [("lim", "smooth_l1", False), ("lim", "mse", True), ("dlpm", "rmse", False)])
def test_one_training_step_reduces_loss(kind, loss, class_cond):
    torch.manual_seed(0)
    model = _module(kind, 1.8, class_cond, loss)
    x0 = torch.rand(16, 1, 8, 8) * 2 - 1
    y = torch.arange(16) % 10
    opt = model.configure_optimizers()["optimizer"]

    def fixed_loss():
        return model.loss(x0, y, generator=torch.Generator().manual_seed(3))

    before = fixed_loss()
    opt.zero_grad()
    before.backward()
    opt.step()
    with torch.no_grad():
        after = fixed_loss()
    assert torch.isfinite(before) and after < before


def test_trainer_does_one_optimizer_step_per_batch(tmp_path):
    torch.manual_seed(0)
    model = _module()
    steps = []

    class Count(L.Callback):
        def on_before_optimizer_step(self, trainer, pl_module, optimizer):
            steps.append(trainer.global_step)

    ds = torch.utils.data.TensorDataset(torch.rand(12, 1, 8, 8) * 2 - 1, torch.arange(12) % 10)
    dl = torch.utils.data.DataLoader(ds, batch_size=4)
    ema_before = [p.clone() for p in model.ema.module.parameters()]
    trainer = L.Trainer(max_steps=5, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path,
                        callbacks=[Count()])
    trainer.fit(model, dl)
    assert trainer.global_step == 5 and steps == [0, 1, 2, 3, 4]
    assert int(model.ema.n_averaged) == 5
    assert any(not torch.equal(a, b) for a, b in zip(ema_before, model.ema.module.parameters()))


def test_a_non_finite_loss_skips_the_step_and_is_counted(tmp_path, monkeypatch):
    """The shared training base (levytts.lightning_base): a NaN loss (an overflow of heavy-tailed noise) skips the
    optimiser step, is counted, and leaves the weights as they were; the other steps train."""
    torch.manual_seed(0)
    model = _module()
    original, calls = ImageDiffusion.loss, {"n": 0}

    def flaky(self, x0, y=None, generator=None):
        out = original(self, x0, y, generator)
        calls["n"] += 1
        return out * float("nan") if calls["n"] == 2 else out

    monkeypatch.setattr(ImageDiffusion, "loss", flaky)
    weights = []

    class Snap(L.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            weights.append([p.detach().clone() for p in pl_module.net.parameters()])

    ds = torch.utils.data.TensorDataset(torch.rand(12, 1, 8, 8) * 2 - 1, torch.arange(12) % 10)
    trainer = L.Trainer(max_steps=3, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path,
                        callbacks=[Snap()])
    trainer.fit(model, torch.utils.data.DataLoader(ds, batch_size=4))
    assert int(model.skipped_steps) == 1 and "skipped_steps" not in model.state_dict()
    assert all(torch.equal(a, b) for a, b in zip(weights[0], weights[1]))  # batch 2 (NaN) changed nothing
    assert any(not torch.equal(a, b) for a, b in zip(weights[1], weights[2]))


def test_build_process():
    p = build_process("lim", 1.5, T=0.9946, t_min=1e-5, schedule="cosine", s=0.008, n_steps=None)
    assert isinstance(p, LevyVP) and p.alpha == 1.5
    assert isinstance(build_process("dlpm", 2.0, n_steps=50), DLPM)
    with pytest.raises(ValueError, match="diffusion kind"):
        build_process("ddpm", 2.0)


def test_eta_presets_and_grid():
    for alpha in (1.8, 1.5, 1.2):
        assert eta_preset(alpha, "ei", 500) == (0.10, 0.10, POPOV_T0[alpha])  # the clean column of Table 6
    assert eta_preset(2.0, "euler", 20)[2] == 0.7  # nearest tabulated α
    f = make_eta("preset", 1.8, "ei", 500, 0.9946)
    assert math.isclose(f(0.5), 0.10 + 2 * 0.10 * (1 / (1 + math.exp(-10)) - 1), rel_tol=1e-9)
    assert make_eta("power", 1.8, "ei", 20, 1.0)(0.5) == 0.5 ** 0.2
    with pytest.raises(ValueError, match="eta must be"):
        make_eta("nonsense", 1.8, "ei", 20, 1.0)
    grid = grid_entries("lim", ["sde-a", "sde-e", "ode"], ["euler", "ei"], [20, 50, 500], skip=["euler_500"])
    assert len(grid) == 15 and ("ode", "euler", 500) not in grid
    assert grid_entries("dlpm", [], [], [10, 20]) == [("dlpm", "-", 10), ("dlpm", "-", 20), ("dlim", "-", 10), ("dlim", "-", 20)]


@pytest.mark.parametrize("alpha", [1.8, 2.0])
def test_samplers_produce_finite_images(alpha):
    torch.manual_seed(0)
    net = DDPMUNet(**{**TINY, "num_classes": 0})
    torch.nn.init.normal_(net.conv_out.weight, std=0.1)
    proc = LevyVP(alpha)
    g = torch.Generator().manual_seed(0)
    for i, (sampler, solver, n) in enumerate(grid_entries("lim", ["sde-a", "sde-e", "ode"], ["euler", "ei"], [3])):
        x = generate(net, proc, (4, 1, 8, 8), sampler, solver, n, grid=("log_snr", "uniform")[i % 2], generator=g,
                     clip_denoised=i % 2 == 0, a_max=20.0 if i % 3 else None)
        assert x.shape == (4, 1, 8, 8) and torch.isfinite(x).all() and x.abs().max() <= 1
    dlpm = DLPM(alpha, n_steps=20)
    for sampler in ("dlpm", "dlim"):
        x = generate(net, dlpm, (4, 1, 8, 8), sampler, "-", 4, generator=g, clip_denoised=True)
        assert torch.isfinite(x).all() and x.abs().max() <= 1


def test_clip_denoised_keeps_x0_in_range():
    proc = LevyVP(1.8)
    net = lambda x, t, y=None: torch.full_like(x, -50.0)  # noqa: E731 - a wildly wrong ε̂
    eps_fn = make_eps_fn(net, None, proc, clip_denoised=True)
    x, t = torch.randn(2, 1, 4, 4), torch.tensor([0.3, 0.9])
    eps = eps_fn(x, t)
    a, g = proc.a(t.double()).float().view(-1, 1, 1, 1), proc.gamma(t.double()).float().view(-1, 1, 1, 1)
    x0 = (x - g * eps) / a
    assert x0.min() >= -1 - 1e-4 and x0.max() <= 1 + 1e-4
    assert torch.allclose(x0, torch.ones_like(x0), atol=1e-4)  # ε̂ = -50 pushes x̂0 far above the range


def test_image_grid_png(tmp_path):
    imgs = np.arange(5 * 3 * 4 * 4, dtype=np.uint8).reshape(5, 3, 4, 4)
    grid = image_grid(imgs, nrow=3, pad=1)
    assert grid.shape == (2 * 5 + 1, 3 * 5 + 1, 3)
    np.testing.assert_array_equal(grid[1:5, 6:10], imgs[1].transpose(1, 2, 0))
    save_png(tmp_path / "g.png", imgs[:, :1])
    from PIL import Image

    assert Image.open(tmp_path / "g.png").size == (3 * 6 + 2, 2 * 6 + 2)
