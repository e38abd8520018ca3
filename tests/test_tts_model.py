"""Unit tests of the TTS model: shapes, masks (padding never leaks), alignment, losses, one SGD step."""
from __future__ import annotations

import math

import pytest
import torch

from levytts.tts.alignment import (
    duration_loss,
    durations_to_path,
    expand,
    gaussian_log_prior,
    monotonic_alignment,
    prior_loss,
    sequence_mask,
)
from levytts.tts.decoder import UNetDecoder
from levytts.tts.encoders import AverageVoiceEncoder, GradTTSEncoder, phone_positions
from levytts.tts.model import LevyTTS
from levytts.tts.synth import parse_eta, split_sentences

N_MELS = 16  # small mel for speed; divisible by 4 (two U-Net downsamplings)
ENCODERS = {
    "grad_tts": dict(kind="grad_tts", n_channels=16, filter_channels=32, filter_channels_dp=16, n_layers=2,
                     spk_conditioned=True),
    "avg_voice": dict(kind="avg_voice", conv_channels=16, lstm_hidden=8, dp_hidden=8),
    "avg_voice_frame": dict(kind="avg_voice", conv_channels=16, lstm_hidden=8, dp_hidden=8, frame_layers=2,
                            frame_channels=12, frame_hidden=6),
}


def tiny_model(kind="grad_tts", alpha=1.5, durations="mas", prior_mean="zero", n_spks=3, segment=None, **diffusion):
    torch.manual_seed(0)
    return LevyTTS(n_vocab=10, n_spks=n_spks, n_mels=N_MELS, encoder=ENCODERS[kind], decoder=dict(dim=8),
                   diffusion=dict(alpha=alpha, prior_mean=prior_mean, a_max=20, **diffusion), spk_emb_dim=8,
                   durations=durations, segment_frames=segment)


def tiny_batch(pad_value=0.0):
    """Two utterances (lengths 5/3 tokens, 14/9 frames); padding filled with ``pad_value``."""
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(1, 10, (2, 5), generator=g)
    id_lengths = torch.tensor([5, 3])
    durations = torch.tensor([[3, 2, 4, 1, 4], [2, 3, 4, 0, 0]])
    mel_lengths = durations.sum(1)
    mels = torch.randn(2, N_MELS, 14, generator=g) - 5.0
    ids[1, 3:] = 0
    mels[1, :, 9:] = pad_value
    if pad_value:
        ids[1, 3:] = 7
    return {"ids": ids, "id_lengths": id_lengths, "mels": mels, "mel_lengths": mel_lengths,
            "spk": torch.tensor([0, 2]), "durations": durations}


def test_durations_to_path_and_expand_known_answer():
    d = torch.tensor([[2, 0, 1], [1, 1, 0]])
    x_mask = sequence_mask(torch.tensor([3, 2])).unsqueeze(1).float()
    y_mask = sequence_mask(torch.tensor([3, 2]), 3).unsqueeze(1).float()
    path = durations_to_path(d, x_mask, y_mask)
    expected = torch.tensor([[[1, 1, 0], [0, 0, 0], [0, 0, 1]], [[1, 0, 0], [0, 1, 0], [0, 0, 0]]], dtype=torch.float)
    assert torch.equal(path, expected)
    h = torch.tensor([[[10.0, 20.0, 30.0]], [[1.0, 2.0, 3.0]]])
    assert torch.equal(expand(h, path), torch.tensor([[[10.0, 10.0, 30.0]], [[1.0, 2.0, 0.0]]]))


def test_mas_recovers_planted_alignment():
    torch.manual_seed(0)
    durations = torch.tensor([[3, 1, 4, 2]])
    mu_x = torch.randn(1, 6, 4) * 3
    x_mask = torch.ones(1, 1, 4)
    y_mask = torch.ones(1, 1, 10)
    true_path = durations_to_path(durations, x_mask, y_mask)
    y = expand(mu_x, true_path) + 0.01 * torch.randn(1, 6, 10)
    path = monotonic_alignment(gaussian_log_prior(mu_x, y), x_mask, y_mask)
    assert torch.equal(path, true_path)


def test_gaussian_log_prior_formula():
    mu_x, y = torch.randn(2, 5, 3), torch.randn(2, 5, 4)
    lp = gaussian_log_prior(mu_x, y)
    i, j = 2, 1
    manual = -0.5 * ((y[1, :, j] - mu_x[1, :, i]) ** 2).sum() - 0.5 * 5 * math.log(2 * math.pi)
    torch.testing.assert_close(lp[1, i, j], manual, rtol=1e-5, atol=1e-4)


def test_duration_and_prior_loss_formulas():
    logw = torch.tensor([[[0.0, math.log(2.0), 5.0]]])
    x_mask = torch.tensor([[[1.0, 1.0, 0.0]]])
    d = torch.tensor([[1, 4, 0]])
    expected = ((0 - math.log(1 + 1e-8)) ** 2 + (math.log(2) - math.log(4 + 1e-8)) ** 2) / 2
    assert duration_loss(logw, d, x_mask).item() == pytest.approx(expected, rel=1e-5)
    y, mu = torch.zeros(1, 2, 3), torch.ones(1, 2, 3)
    y_mask = torch.tensor([[[1.0, 1.0, 0.0]]])
    assert prior_loss(y, mu, y_mask).item() == pytest.approx(0.5 * (1 + math.log(2 * math.pi)), rel=1e-6)


def test_decoder_shapes_and_padding_never_leaks():
    torch.manual_seed(0)
    dec = UNetDecoder(n_mels=N_MELS, dim=8, n_spks=3, spk_emb_dim=8).eval()
    x, mu = torch.randn(2, N_MELS, 12), torch.randn(2, N_MELS, 12)
    mask = sequence_mask(torch.tensor([12, 7]), 12).unsqueeze(1).float()
    t, spk = torch.rand(2), torch.randn(2, 8)
    out = dec(x, mask, mu, t, spk)
    assert out.shape == (2, N_MELS, 12)
    assert torch.all(out[1, :, 7:] == 0)
    x2, mu2 = x.clone(), mu.clone()
    x2[1, :, 7:] = 1e3
    mu2[1, :, 7:] = -1e3
    torch.testing.assert_close(dec(x2, mask, mu2, t, spk), out)
    with pytest.raises(ValueError, match="divisible by 4"):
        dec(torch.randn(1, N_MELS, 10), torch.ones(1, 1, 10), torch.randn(1, N_MELS, 10), t[:1], spk[:1])


@pytest.mark.parametrize("cls,kw", [(GradTTSEncoder, dict(n_channels=16, filter_channels=32, filter_channels_dp=16,
                                                            n_layers=2, spk_emb_dim=4)),
                                    (AverageVoiceEncoder, dict(conv_channels=16, lstm_hidden=8, dp_hidden=8))])
def test_encoder_output_independent_of_batch_padding(cls, kw):
    torch.manual_seed(0)
    enc = cls(n_vocab=10, n_mels=N_MELS, **kw).eval()
    spk = torch.randn(1, 4)
    short = torch.tensor([[3, 1, 4]])
    mu1, logw1, _ = enc(short, torch.tensor([3]), spk)
    batch = torch.tensor([[3, 1, 4, 9, 9, 9], [2, 7, 1, 8, 2, 8]])
    mu2, logw2, x_mask = enc(batch, torch.tensor([3, 6]), spk.expand(2, -1))
    assert mu2.shape == (2, N_MELS, 6) and logw2.shape == (2, 1, 6) and x_mask.shape == (2, 1, 6)
    torch.testing.assert_close(mu2[:1, :, :3], mu1, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(logw2[:1, :, :3], logw1, atol=1e-5, rtol=1e-4)
    assert torch.all(mu2[0, :, 3:] == 0)


def test_speaker_reaches_grad_tts_encoder():
    model = tiny_model("grad_tts").eval()
    b = tiny_batch()
    e0 = model.spk_emb(torch.tensor([0, 0]))
    e1 = model.spk_emb(torch.tensor([1, 1]))
    assert not torch.allclose(model.encode(b["ids"], b["id_lengths"], e0)[0],
                              model.encode(b["ids"], b["id_lengths"], e1)[0])


@pytest.mark.parametrize("kind,stage,durations", [("grad_tts", "joint", "mas"), ("avg_voice", "encoder", "textgrid"),
                                                  ("avg_voice", "decoder", "textgrid"),
                                                  ("avg_voice_frame", "encoder", "textgrid"),
                                                  ("avg_voice_frame", "decoder", "textgrid")])
def test_padding_content_never_reaches_the_loss(kind, stage, durations):
    model = tiny_model(kind, durations=durations).eval()
    losses = []
    for pad in (0.0, 123.0):
        torch.manual_seed(5)
        losses.append(model.compute_loss(tiny_batch(pad), stage))
    for k in losses[0]:
        torch.testing.assert_close(losses[0][k], losses[1][k])
    assert torch.isfinite(losses[0]["loss"])


@pytest.mark.parametrize("kind,stage,durations,prior_mean,diffusion", [
    ("grad_tts", "joint", "mas", "zero", {}),
    ("grad_tts", "joint", "textgrid", "mu", {}),
    ("avg_voice", "encoder", "textgrid", "zero", {}),
    ("avg_voice", "decoder", "textgrid", "zero", {}),
    ("avg_voice_frame", "encoder", "textgrid", "zero", {}),
    ("avg_voice_frame", "decoder", "textgrid", "mu", dict(schedule="linear", beta_min=0.05, prediction="x0", loss="l1"))])
def test_one_training_step_reduces_loss_on_fixed_batch(kind, stage, durations, prior_mean, diffusion):
    model = tiny_model(kind, durations=durations, prior_mean=prior_mean, segment=8, **diffusion).eval()  # no dropout
    model.set_mel_statistics(-5.0, 1.0)
    batch = tiny_batch()
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-2)

    def loss():
        torch.manual_seed(3)  # same t, ε and segment offsets for both evaluations
        return model.compute_loss(batch, stage)["loss"]

    before = loss()
    before.backward()
    opt.step()
    with torch.no_grad():
        after = loss()
    assert after.item() < before.item()


def test_phone_positions_known_answer():
    d = torch.tensor([[2, 0, 3], [1, 2, 0]])
    x_mask = sequence_mask(torch.tensor([3, 2])).unsqueeze(1).float()
    y_mask = sequence_mask(torch.tensor([5, 3]), 5).unsqueeze(1).float()
    pos = phone_positions(d, durations_to_path(d, x_mask, y_mask))
    expected = torch.tensor([[[0.25, 0.75, 1 / 6, 0.5, 5 / 6]], [[0.5, 0.25, 0.75, 0.0, 0.0]]])
    torch.testing.assert_close(pos, expected)


def test_frame_decoder_draws_within_phone_dynamics_and_respects_masks():
    b = tiny_batch()
    plain, frame = tiny_model("avg_voice", durations="textgrid").eval(), tiny_model("avg_voice_frame", durations="textgrid").eval()
    gen = torch.Generator().manual_seed(0)
    outs = {name: m.synthesise(b["ids"], b["id_lengths"], b["spk"], steps=2, generator=gen, durations=b["durations"])
            for name, m in (("plain", plain), ("frame", frame))}
    mu_plain, mu_frame = outs["plain"]["mu"], outs["frame"]["mu"]
    assert mu_frame.shape == mu_plain.shape == (2, N_MELS, 14)
    # phone 0 of utterance 0 spans frames 0-2: constant without the frame decoder, varying with it
    assert torch.allclose(mu_plain[0, :, 0], mu_plain[0, :, 2])
    assert not torch.allclose(mu_frame[0, :, 0], mu_frame[0, :, 2])
    assert torch.all(mu_frame[1, :, 9:] == 0)
    assert "frame_decoder" in dict(frame.encoder.named_children())


def test_frame_decoder_needs_textgrid_durations():
    with pytest.raises(ValueError, match="frame decoder.*textgrid"):
        tiny_model("avg_voice_frame", durations="mas")
    with pytest.raises(ValueError, match="frame_layers"):
        LevyTTS(10, 2, N_MELS, dict(ENCODERS["avg_voice"], frame_layers=-1), dict(dim=8), dict(alpha=2.0),
                durations="textgrid")


def test_synthesise_shapes_masks_and_durations():
    model = tiny_model("grad_tts").eval()
    b = tiny_batch()
    gen = torch.Generator().manual_seed(0)
    out = model.synthesise(b["ids"], b["id_lengths"], b["spk"], steps=2, generator=gen, durations=b["durations"])
    assert out["mel"].shape == (2, N_MELS, 14)
    assert out["mel_lengths"].tolist() == [14, 9]
    assert torch.all(out["mel"][1, :, 9:] == 0) and torch.isfinite(out["mel"]).all()
    pred = model.synthesise(b["ids"], b["id_lengths"], b["spk"], steps=1, generator=gen)
    assert torch.all(pred["durations"][0] >= 1) and torch.all(pred["durations"][1, 3:] == 0)
    assert pred["mel"].shape[-1] == int(pred["mel_lengths"].max())


def test_x0_decoder_gives_the_samplers_eps():
    """With prediction=x0 the samplers get ε̂ = (x - a x̂0)/γ: one step of N = 1 ends at the decoder's x̂0."""
    model = tiny_model("grad_tts", schedule="linear", beta_min=0.05, prediction="x0").eval()
    assert model.proc.schedule == "linear" and model.proc.beta_min == 0.05 and model.proc.T == 1.0
    b = tiny_batch()
    mask = (torch.arange(14)[None, :] < b["mel_lengths"][:, None]).float()[:, None]
    mask = torch.nn.functional.pad(mask, (0, 2))
    mu = torch.randn(2, N_MELS, 16) * mask
    spk_emb = model.spk_emb(b["spk"])
    x = torch.randn(2, N_MELS, 16) * mask
    t = torch.tensor([0.3, 0.9])
    x0_hat = model.net_fn(mask, mu, spk_emb)(x, t)
    eps_hat = model.eps_fn(mask, mu, spk_emb)(x, t)
    a, g = model.proc.a(t)[:, None, None].float(), model.proc.gamma(t)[:, None, None].float()
    torch.testing.assert_close(eps_hat, (x - a * x0_hat) / g * mask)
    torch.testing.assert_close((x - g * eps_hat) / a, x0_hat * mask, atol=1e-4, rtol=1e-4)  # float32 round trip
    out = model.synthesise(b["ids"], b["id_lengths"], b["spk"], steps=3, durations=b["durations"],
                           generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(out["mel"]).all() and out["mel"].shape == (2, N_MELS, 14)


def test_tts_configs_use_the_papers_schedule():
    """Every TTS diffusion config: Grad-TTS's linear β 0.05 → 20, T = 1 (Popov et al. App. C); the paper recipe
    keeps the zero-mean prior, the offline CPU decoder the N(μ, ·) mean with x0 prediction."""
    from levytts.tts.train import compose_config

    for exp, prior_mean, prediction in (("paper", "zero", "eps"),
                                        ("offline_decoder", "mu", "edm")):
        d = compose_config([f"experiment={exp}"])["diffusion"]
        assert (d["schedule"], d["beta_min"], d["beta_max"]) == ("linear", 0.05, 20.0)
        assert (d["prior_mean"], d["prediction"]) == (prior_mean, prediction)
    cos = tiny_model(schedule="cosine", beta_min=0.05)  # cosine ignores β_*: selectable with a single override
    assert cos.proc.schedule == "cosine" and cos.proc.T == pytest.approx(0.9946)


def test_bad_configs_and_inputs():
    with pytest.raises(ValueError, match="prior_mean"):
        tiny_model(prior_mean="gaussian")
    with pytest.raises(ValueError, match="prediction"):
        tiny_model(prediction="v")
    with pytest.raises(ValueError, match="unknown encoder kind"):
        LevyTTS(10, 2, N_MELS, dict(kind="tacotron"), dict(dim=8), dict(alpha=2.0))
    model = tiny_model("avg_voice", durations="textgrid")
    b = dict(tiny_batch(), durations=None)
    with pytest.raises(ValueError, match="TextGrid durations"):
        model.compute_loss(b, "encoder")


def test_split_sentences_and_eta():
    assert split_sentences("Hello there.  How are you? Fine!") == ["Hello there.", "How are you?", "Fine!"]
    assert split_sentences("Mr. Smith paid 3.5 dollars") == ["Mr. Smith paid 3.5 dollars"]  # the normaliser's table
    assert parse_eta("0.3") == 0.3
    assert parse_eta("power")(0.5) == pytest.approx(0.5**0.2)
    with pytest.raises(ValueError, match="bad --eta"):
        parse_eta("lots")


def test_temperature_divides_the_prior_draw(monkeypatch):
    """Grad-TTS's inference temperature: x_T = γ(T)·ξ/τ for the same ξ; τ must be finite and > 0."""
    import levytts.tts.model as model_module

    seen = []
    monkeypatch.setattr(model_module, "sample", lambda eps_fn, x_T, proc, **kw: seen.append(x_T) or x_T)
    model = tiny_model("grad_tts").eval()
    b = tiny_batch()
    for tau in (1.0, 1.5):
        model.synthesise(b["ids"], b["id_lengths"], b["spk"], steps=2, durations=b["durations"], temperature=tau,
                         generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(seen[1], seen[0] / 1.5)
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="temperature"):
            model.synthesise(b["ids"], b["id_lengths"], b["spk"], steps=2, temperature=bad)


def test_conv1d_decoder_shapes_masks_and_options():
    """The 1-D decoder kind: any length, zero on padding, padded content never reaches valid frames."""
    from levytts.tts.decoder import Conv1dDecoder, build_decoder

    dec = build_decoder(dict(kind="conv1d", channels=16, dilations=[1, 2], dim=None), N_MELS, 3, 8).eval()
    assert isinstance(dec, Conv1dDecoder) and dec.pad_length(13) == 13
    x, mu = torch.randn(2, N_MELS, 13), torch.randn(2, N_MELS, 13)
    mask = torch.ones(2, 1, 13)
    mask[1, :, 9:] = 0
    spk = torch.randn(2, 8)
    out = dec(x, mask, mu, torch.tensor([0.3, 0.7]), spk)
    assert out.shape == (2, N_MELS, 13) and torch.all(out[1, :, 9:] == 0)
    x2, mu2 = x.clone(), mu.clone()
    x2[1, :, 9:], mu2[1, :, 9:] = 1000.0, -1000.0
    torch.testing.assert_close(dec(x2, mask, mu2, torch.tensor([0.3, 0.7]), spk), out)
    with pytest.raises(ValueError, match="pass the speaker embedding"):
        dec(x, mask, mu, torch.tensor([0.3, 0.7]))
    with pytest.raises(ValueError, match="no option.*dim_mults"):
        build_decoder(dict(kind="conv1d", dim_mults=[1, 2]), N_MELS, 1, 8)
    with pytest.raises(ValueError, match="unknown decoder kind"):
        build_decoder(dict(kind="wavenet"), N_MELS, 1, 8)


# ------------------------------------------------------------------- classifier-free guidance on μ (cond_dropout)
class _RecordingDecoder(torch.nn.Module):
    """Stands in for the decoder: records the μ it gets, returns a fixed function of (x, μ, t)."""

    def __init__(self, inner):
        super().__init__()
        self.inner, self.seen = inner, []

    def pad_length(self, n):
        return self.inner.pad_length(n)

    def forward(self, x, mask, mu, t, spk_emb):
        self.seen.append(mu.detach().clone())
        return (0.3 * x + 0.7 * mu + t.view(-1, 1, 1)) * mask


def test_cond_dropout_zeroes_mu_of_whole_segments_in_training_only():
    model = tiny_model("avg_voice", durations="textgrid", prior_mean="mu", cond_dropout=0.5)
    model.decoder = _RecordingDecoder(model.decoder)
    batch = tiny_batch()
    torch.manual_seed(3)
    model.train()
    rows = []
    for _ in range(40):
        model.compute_loss(batch, stage="decoder")
        mu = model.decoder.seen[-1]
        rows += [bool((mu[b] == 0).all()) for b in range(mu.shape[0])]
    # each segment's μ is dropped whole or kept whole, at about the configured rate (80 draws: 0.5 ± 0.2)
    assert 0.3 < sum(rows) / len(rows) < 0.7
    model.eval()
    model.decoder.seen.clear()
    model.compute_loss(batch, stage="decoder")
    assert all(not bool((model.decoder.seen[-1][b] == 0).all()) for b in range(2))  # validation: never dropped


@pytest.mark.parametrize("prediction", ["eps", "edm"])
def test_guidance_is_the_cfg_combination_and_one_is_the_plain_model(prediction):
    extra = dict(prediction=prediction, sigma_data=0.5) if prediction == "edm" else {}
    model = tiny_model("avg_voice", durations="textgrid", prior_mean="mu", cond_dropout=0.2, **extra).eval()
    g = torch.Generator().manual_seed(0)
    x, mu = torch.randn(2, N_MELS, 12, generator=g), torch.randn(2, N_MELS, 12, generator=g)
    mask, t = torch.ones(2, 1, 12), torch.tensor([0.7, 0.2])
    spk = model.spk_emb(torch.tensor([0, 1]))
    with torch.no_grad():
        cond = model.eps_fn(mask, mu, spk)(x, t)
        uncond = model.eps_fn(mask, torch.zeros_like(mu), spk)(x, t)
        assert torch.equal(model.eps_fn(mask, mu, spk, guidance=1.0)(x, t), cond)
        for w in (0.0, 2.5):
            torch.testing.assert_close(model.eps_fn(mask, mu, spk, guidance=w)(x, t), uncond + w * (cond - uncond))


def test_guidance_needs_a_decoder_trained_with_cond_dropout():
    model = tiny_model("avg_voice", durations="textgrid", prior_mean="mu")
    mask, mu = torch.ones(1, 1, 8), torch.zeros(1, N_MELS, 8)
    spk = model.spk_emb(torch.tensor([0]))
    with pytest.raises(ValueError, match="needs a decoder trained with diffusion.cond_dropout > 0"):
        model.eps_fn(mask, mu, spk, guidance=2.0)
    with pytest.raises(ValueError, match="guidance must be a finite number >= 0"):
        tiny_model("avg_voice", durations="textgrid", cond_dropout=0.1).eps_fn(mask, mu, spk, guidance=-1)
    with pytest.raises(ValueError, match=r"cond_dropout must be in \[0, 1\)"):
        tiny_model("avg_voice", durations="textgrid", cond_dropout=1.0)


def test_synthesise_with_guidance():
    model = tiny_model("grad_tts", prior_mean="mu", cond_dropout=0.2).eval()
    b = tiny_batch()
    run = lambda w: model.synthesise(b["ids"], b["id_lengths"], b["spk"], steps=3, durations=b["durations"],  # noqa: E731
                                     generator=torch.Generator().manual_seed(0), guidance=w)["mel"]
    plain, guided = run(1.0), run(3.0)
    assert guided.shape == plain.shape and torch.isfinite(guided).all()
    assert torch.all(guided[1, :, 9:] == 0)  # padding stays silent
    assert not torch.allclose(guided, plain)  # the same noise, a different ε̂
    with pytest.raises(ValueError, match="cond_dropout"):
        tiny_model("grad_tts", prior_mean="mu").eval().synthesise(b["ids"], b["id_lengths"], b["spk"], steps=2,
                                                                  durations=b["durations"], guidance=2.0)


def test_t_sampling_edm_draws_the_training_times_from_that_law(monkeypatch):
    model = tiny_model("avg_voice", durations="textgrid", prior_mean="mu", t_sampling="edm", t_lognormal=[-1.0, 0.5],
                       t_uniform_fraction=0.0)
    calls = []
    real = type(model.proc).sample_t

    def spy(self, batch, generator=None, device=None, **kw):
        calls.append(kw)
        return real(self, batch, generator, device, **kw)

    monkeypatch.setattr(type(model.proc), "sample_t", spy)
    torch.manual_seed(0)
    loss = model.compute_loss(tiny_batch(), stage="decoder")["loss"]
    assert torch.isfinite(loss)
    assert calls == [dict(law="edm", lognormal=(-1.0, 0.5), uniform_fraction=0.0)]
    with pytest.raises(ValueError, match="t_sampling must be uniform or edm"):
        tiny_model("avg_voice", durations="textgrid", t_sampling="beta")
    for bad in ([0.0, -1.0], [math.nan, 1.0], "abc", [0.0], 3.0):
        with pytest.raises(ValueError, match=r"diffusion.t_lognormal must be \[P_mean, P_std\]"):
            tiny_model("avg_voice", durations="textgrid", t_sampling="edm", t_lognormal=bad)
    for bad in (1.5, -0.1, "half"):  # at construction, not at the first training step
        with pytest.raises(ValueError, match="diffusion.t_uniform_fraction: uniform_fraction must"):
            tiny_model("avg_voice", durations="textgrid", t_sampling="edm", t_uniform_fraction=bad)
