"""Per-sample noise (StableNoise with one generator per sample): a sample's output depends on its own seed only —
identical at batch size 1 and 4, whatever its neighbours and the batch's padded length; the new sampler API."""
import pytest
import torch

from levytts.levy import (
    DLPM,
    LevyVP,
    StableNoise,
    dlim_sample,
    dlpm_sample,
    sample,
    sample_generators,
    sample_seeds,
    time_grid,
)


def eps_fn(x, t):
    """Elementwise (so a sample's ε̂ does not depend on the batch), mul/add only (bitwise the same at any batch size)."""
    return 0.3 * x + 0.1 * x * t.reshape(-1, *([1] * (x.ndim - 1)))


LENGTHS = [6, 3, 5, 2]


def _mask(lengths, T):
    return (torch.arange(T)[None, :] < torch.tensor(lengths)[:, None]).to(torch.float64)[:, None, :]


def _lim(x_shape, lengths, seeds_start, n, sampler, solver, structure, a_max):
    proc = LevyVP(1.5)
    mask = _mask(lengths, x_shape[-1])
    noise = StableNoise(proc.alpha, structure, a_max, mask=mask, generators=sample_generators(11, n, start=seeds_start))
    x_T = proc.prior(x_shape, dtype=torch.float64, noise=noise)
    times = time_grid(4, proc.T, kind="quadratic", proc=proc)
    return sample(lambda x, t: eps_fn(x, t) * mask, x_T, times, process=proc, sampler=sampler, solver=solver,
                  eta="popov(0.3,0.5)", noise=noise)


@pytest.mark.parametrize("sampler,solver", [("sde-e", "ei"), ("sde-e", "euler"), ("sde-a", "lim"), ("ode", "ei")])
@pytest.mark.parametrize("structure,a_max", [("isotropic", None), ("per_frame", 3.0), ("independent", None)])
def test_lim_sample_is_identical_at_batch_size_1_and_4(sampler, solver, structure, a_max):
    batch = _lim((4, 3, 6), LENGTHS, 0, 4, sampler, solver, structure, a_max)
    for b, n in enumerate(LENGTHS):
        alone = _lim((1, 3, n), [n], b, 1, sampler, solver, structure, a_max)  # its own length: no padding at all
        assert torch.equal(alone[0], batch[b, :, :n]), (b, sampler, solver, structure)
        assert torch.all(batch[b, :, n:] == 0)


@pytest.mark.parametrize("structure", ["isotropic", "per_frame"])
def test_dlpm_and_dlim_are_identical_at_batch_size_1_and_4(structure):
    proc = DLPM(1.6, n_steps=30)
    ks = proc.indices(6)

    def run(kind, n, start, shape):
        noise = StableNoise(proc.alpha, structure, generators=sample_generators(5, n, start=start))
        if kind == "dlpm":
            return dlpm_sample(eps_fn, proc.prior(shape, dtype=torch.float64, noise=noise, steps=6), ks, process=proc,
                               noise=noise)
        return dlim_sample(eps_fn, proc.prior(shape, dtype=torch.float64, noise=noise), ks, process=proc, eta=0.4,
                           noise=noise)

    for kind in ("dlpm", "dlim"):
        batch = run(kind, 4, 0, (4, 2, 5))
        for b in range(4):
            assert torch.equal(run(kind, 1, b, (1, 2, 5))[0], batch[b]), (kind, b)


def test_one_generator_for_the_batch_is_the_old_behaviour_and_leaks():
    """The single-stream mode (kept for old callers) is what made a sample depend on its neighbours."""
    proc = LevyVP(1.5)

    def first(n):
        noise = StableNoise(proc.alpha, generators=torch.Generator().manual_seed(0))
        x_T = proc.prior((n, 3), dtype=torch.float64, noise=noise)
        return sample(eps_fn, x_T, time_grid(3, proc.T), process=proc, sampler="sde-e", solver="ei", eta=0.3,
                      noise=noise)[0]

    assert not torch.equal(first(1), first(4))
    # a batch of one with per-sample generators draws exactly what one generator with the run's seed draws
    assert sample_seeds(123, 3)[0] == 123 and len(set(sample_seeds(123, 1000))) == 1000
    a = StableNoise(proc.alpha, generators=sample_generators(123, 1))(torch.zeros(1, 7))
    b = StableNoise(proc.alpha, generators=torch.Generator().manual_seed(123))(torch.zeros(1, 7))
    assert torch.equal(a, b)


def test_sample_api_callback_truncated_start_and_bad_input():
    proc = LevyVP(1.5, schedule="linear")
    noise = StableNoise(proc.alpha, generators=sample_generators(0, 2))
    times = time_grid(5, proc.T, t_start=0.6, kind="log_snr", proc=proc)
    assert times.dtype == torch.float64 and len(times) == 6 and float(times[0]) == 0.6 and float(times[-1]) == 1e-3
    x_T = proc.prior((2, 3), dtype=torch.float64, noise=noise, t=0.6)
    seen = []
    x0 = sample(eps_fn, x_T, times, process=proc, sampler="sde-e", solver="ei", eta=0.2, noise=noise,
                callback=seen.append)
    assert isinstance(x0, torch.Tensor) and x0.shape == (2, 3)
    assert [d["i"] for d in seen] == list(range(5)) and [d["t"] for d in seen] == times[1:].tolist()
    assert all(set(d) == {"i", "t", "x", "eps"} for d in seen)
    with pytest.raises(ValueError, match="t_start must lie in"):
        time_grid(5, proc.T, t_start=1.5)
    with pytest.raises(ValueError, match="strictly decreasing"):
        sample(eps_fn, x_T, [0.5, 0.6], process=proc, sampler="ode", solver="ei")
    with pytest.raises(ValueError, match="same noise object"):
        dproc = DLPM(1.5, n_steps=10)
        dlpm_sample(eps_fn, dproc.prior((2, 3)), dproc.indices(5), process=dproc, noise=StableNoise(1.5))
    with pytest.raises(ValueError, match="2 generators for a batch of 3"):
        StableNoise(1.5, generators=sample_generators(0, 2))(torch.zeros(3, 4))


def test_tts_utterance_noise_does_not_depend_on_its_batch(monkeypatch):
    """LevyTTS.synthesise with one generator per utterance: the prior and step noise of an utterance are those it
    gets alone (drawn at its own padded length). (The Grad-TTS U-Net's GroupNorm / attention still see the batch's
    padding, so the mel of a shorter utterance can differ with its batch: only the noise is batch-independent.)"""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from test_tts_model import tiny_batch, tiny_model

    import levytts.tts.model as model_module

    seen = []
    monkeypatch.setattr(model_module, "sample",
                        lambda eps_fn, x_T, times, **kw: seen.append((x_T, kw["noise"](x_T, 0))) or x_T)
    model = tiny_model("grad_tts").eval()
    b = tiny_batch()
    model.synthesise(b["ids"], b["id_lengths"], b["spk"], steps=2, durations=b["durations"],
                     generator=sample_generators(3, 2))
    for i in range(2):
        n, L = int(b["id_lengths"][i]), int(b["durations"][i].sum())
        model.synthesise(b["ids"][i:i + 1, :n], b["id_lengths"][i:i + 1], b["spk"][i:i + 1], steps=2,
                         durations=b["durations"][i:i + 1, :n], generator=sample_generators(3, 1, start=i))
        for together, alone in zip(seen[0], seen[-1]):
            assert torch.equal(together[i, :, :L], alone[0, :, :L]) and torch.all(together[i, :, L:] == 0)
