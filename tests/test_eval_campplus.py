"""CAM++ compatibility with 3D-Speaker: its own module (speakerlab-slim wheel) and ours give identical embeddings."""
import numpy as np
import pytest
import torch

from levytts.eval.campplus import CAMPPlus, load_campplus
from levytts.eval.fbank import kaldi_fbank

DTDNN = pytest.importorskip("speakerlab.models.campplus.DTDNN", reason="install speakerlab-slim with --no-deps (scripts/setup.sh)")


def random_reference_model(embedding_size: int, seed: int = 0) -> torch.nn.Module:
    """3D-Speaker's CAMPPlus with random weights AND random BatchNorm statistics (so eval-mode BN matters)."""
    torch.manual_seed(seed)
    model = DTDNN.CAMPPlus(feat_dim=80, embedding_size=embedding_size)
    for module in model.modules():
        if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            module.running_mean.normal_(0.0, 0.2)
            module.running_var.uniform_(0.5, 2.0)
            if module.affine:
                module.weight.data.uniform_(0.5, 1.5)
                module.bias.data.normal_(0.0, 0.1)
    return model.eval()


def audio(seconds: float, seed: int) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    t = np.arange(int(16000 * seconds)) / 16000
    wav = 0.3 * np.sin(2 * np.pi * 180 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t)) + 0.05 * rng.standard_normal(t.size)
    return torch.from_numpy(wav.astype(np.float32))


@pytest.fixture(scope="module")
def reference_run():
    """3D-Speaker's model, fbank of a 2.3 s clip (115 frames after the stride-2 TDNN: one full 100-frame CAM
    segment and a partial one) and its embedding."""
    reference = random_reference_model(192)
    feats = kaldi_fbank(audio(2.3, 1)).unsqueeze(0)  # (1, T, 80): the same features go to both models
    with torch.no_grad():
        expected = reference(feats)
    return reference, feats, expected


def test_campplus_equals_3dspeaker(tmp_path, reference_run):
    reference, feats, expected = reference_run
    checkpoint = tmp_path / "campplus.bin"
    torch.save(reference.state_dict(), checkpoint)  # the released checkpoints are bare state dicts
    ours = load_campplus(checkpoint)
    assert ours.embedding_size == 192 and ours.feat_dim == 80 and not ours.training
    with torch.no_grad():
        got = ours(feats)
    assert got.shape == (1, 192)
    assert torch.equal(got, expected), (got - expected).abs().max()


def test_campplus_embedding_size_read_from_checkpoint(tmp_path, reference_run):
    # The last layer is a 1x1 conv + per-channel BatchNorm without affine: keeping its first 64 output
    # channels gives a valid 64-d CAM++ whose embedding is the first 64 entries of the 192-d one.
    reference, feats, expected = reference_run
    state = {k: (v[:64] if k.startswith("xvector.dense.") and v.dim() > 0 else v) for k, v in reference.state_dict().items()}
    torch.save(state, tmp_path / "small.bin")
    ours = load_campplus(tmp_path / "small.bin")
    assert ours.embedding_size == 64
    with torch.no_grad():
        assert torch.equal(ours(feats), expected[:, :64])


def test_campplus_batch_and_scorer(tmp_path):
    from levytts.eval.speaker import CAMPPlusScorer, speaker_similarity

    reference = random_reference_model(192, seed=3)
    checkpoint = tmp_path / "ckpt.pt"
    # Nested under a key and with a DistributedDataParallel prefix: both accepted.
    torch.save({"state_dict": {f"module.{k}": v for k, v in reference.state_dict().items()}}, checkpoint)
    scorer = CAMPPlusScorer(checkpoint)
    wav = audio(0.8, 4)
    with torch.no_grad():
        expected = reference(kaldi_fbank(wav).unsqueeze(0))[0].numpy()
    np.testing.assert_allclose(scorer.embed(wav.numpy()), expected / np.linalg.norm(expected), rtol=1e-6, atol=1e-7)
    assert scorer.name == f"campplus:{checkpoint}"

    path = tmp_path / "a.wav"
    import soundfile as sf

    sf.write(path, wav.numpy(), 16000, subtype="FLOAT")
    assert speaker_similarity([path], [path], scorer=f"campplus:{checkpoint}") == pytest.approx(1.0, abs=1e-6)


def test_campplus_checkpoint_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="CAM\\+\\+ checkpoint not found"):
        load_campplus(tmp_path / "nope.bin")
    bad = tmp_path / "bad.bin"
    torch.save({"head.conv1.weight": torch.zeros(32, 1, 3, 3)}, bad)
    with pytest.raises(ValueError, match="not a CAM\\+\\+ checkpoint"):
        load_campplus(bad)
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot read"):
        load_campplus(garbage)
    with pytest.raises(ValueError, match="multiple of 8"):
        CAMPPlus(feat_dim=81)
    with pytest.raises(ValueError, match="shape"):
        CAMPPlus()(torch.zeros(1, 50, 40))
