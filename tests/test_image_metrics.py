"""Image metrics on known cases: Fréchet distance, PRDC (Naeem et al.), per-class coverage, the FID
Inception-v3 architecture (randomly initialised: the real weights cannot be had here), the classifier."""
import numpy as np
import pytest
import torch

from levytts.image.classifier import SmallClassifier, predict
from levytts.image.metrics import (
    FIDInceptionV3,
    feature_stats,
    frechet_distance,
    frechet_distance_features,
    knn_radii,
    load_fid_inception,
    per_class_coverage,
    prdc,
    prdc_per_class,
)


def test_frechet_distance_known_values():
    rng = np.random.default_rng(0)
    f = rng.normal(size=(500, 6))
    assert abs(frechet_distance_features(f, f)) < 1e-6  # identical sets
    m = np.array([1.0, -2.0, 0.5])
    # N(0, I) vs N(m, I): ‖m‖²;  diagonal covariances: Σ (√s1 - √s2)²
    assert np.isclose(frechet_distance(np.zeros(3), np.eye(3), m, np.eye(3)), m @ m)
    s1, s2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 4.0, 1.0])
    expected = ((np.sqrt(s1) - np.sqrt(s2)) ** 2).sum()
    assert np.isclose(frechet_distance(np.zeros(3), np.diag(s1), np.zeros(3), np.diag(s2)), expected)
    mu, cov = feature_stats(f)
    assert mu.shape == (6,) and cov.shape == (6, 6)
    with pytest.raises(ValueError, match="mismatched"):
        frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))


def test_prdc_identical_sets():
    f = np.random.default_rng(1).normal(size=(200, 4))
    r = prdc(f, f, k=5)
    assert r["coverage"] == 1.0 and r["precision"] == 1.0 and r["recall"] == 1.0
    assert r["density"] >= 1.0  # each sample lies in its own ball and its k neighbours' balls


def test_prdc_hand_computed():
    real = np.arange(10, dtype=float)[:, None]  # k = 1: every real radius is 1
    fake = np.array([[0.5], [20.0]])  # k = 1: both fake radii are 19.5
    np.testing.assert_allclose(knn_radii(real, 1), np.ones(10))
    r = prdc(real, fake, k=1)
    assert r["precision"] == 0.5  # only 0.5 lies in a real ball (balls of 0 and 1; strict <)
    assert r["recall"] == 1.0  # every real point is within 19.5 of 0.5
    assert r["density"] == 1.0  # 2 ball memberships / (k · M = 2)
    assert r["coverage"] == 0.2  # balls of 0 and 1 contain a fake sample


def test_per_class_coverage_decomposes_overall():
    rng = np.random.default_rng(2)
    real = rng.normal(size=(300, 3))
    labels = rng.integers(0, 4, 300)
    fake = rng.normal(size=(150, 3)) + 0.3
    pc = per_class_coverage(real, labels, fake, k=5, n_classes=5)
    assert np.isnan(pc[4])  # no real sample of class 4
    counts = np.bincount(labels, minlength=4)
    assert np.isclose((pc[:4] * counts).sum() / counts.sum(), prdc(real, fake, 5)["coverage"])
    assert np.allclose(per_class_coverage(real, labels, real, k=5)[:4], 1.0)
    per = prdc_per_class(real, labels, real, labels, k=5, n_classes=5)
    assert all(p["coverage"] == 1.0 for p in per[:4]) and np.isnan(per[4]["coverage"])


def test_fid_inception_architecture_random_weights(tmp_path):
    torch.manual_seed(0)
    net = FIDInceptionV3().eval()
    state = net.state_dict()
    # layer names / shapes of pt_inception-2015-12-05 (torchvision Inception3 layout, 1008 classes, no aux head)
    assert state["Conv2d_1a_3x3.conv.weight"].shape == (32, 3, 3, 3)
    assert state["Mixed_5b.branch_pool.conv.weight"].shape == (32, 192, 1, 1)
    assert state["Mixed_6e.branch7x7dbl_5.conv.weight"].shape == (192, 192, 1, 7)
    assert state["Mixed_7c.branch3x3dbl_3b.conv.weight"].shape == (384, 384, 3, 1)
    assert state["fc.weight"].shape == (1008, 2048)
    assert not any(k.startswith("AuxLogits") for k in state)
    n_conv = sum(1 for k in state if k.endswith("conv.weight"))
    assert n_conv == 94  # the 94 BasicConv2d layers of Inception-v3
    with torch.no_grad():
        f = net(torch.rand(2, 3, 32, 32))
        g = net(torch.rand(1, 1, 28, 28))  # grey images are repeated to 3 channels
    assert f.shape == (2, 2048) and g.shape == (1, 2048) and torch.isfinite(f).all() and (f >= 0).all()
    path = tmp_path / "pt_inception.pth"
    torch.save(state, path)
    loaded = load_fid_inception(path)
    with torch.no_grad():
        assert torch.allclose(loaded(torch.rand(1, 3, 8, 8).fill_(0.5)), net(torch.rand(1, 3, 8, 8).fill_(0.5)))
    torch.save({"x": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(ValueError, match="not the FID Inception"):
        load_fid_inception(tmp_path / "bad.pth")
    with pytest.raises(FileNotFoundError, match="pt_inception-2015-12-05"):
        load_fid_inception(tmp_path / "missing.pth")


def test_classifier_features_and_predictions():
    torch.manual_seed(0)
    model = SmallClassifier(1, 10, feat_dim=16).eval()
    imgs = np.random.default_rng(0).integers(0, 256, (5, 1, 28, 28), dtype=np.uint8)
    feats, pred = predict(model, imgs, batch_size=2)
    assert feats.shape == (5, 16) and pred.shape == (5,) and set(pred.tolist()) <= set(range(10))


@pytest.mark.slow
def test_evaluate_reports_fid_with_inception_weights(tmp_path):
    """The FID code path of `levytts image evaluate` with a randomly initialised FIDInceptionV3 file."""
    import json
    from pathlib import Path

    from levytts.cli import main
    from levytts.image.fixtures import write_fashion_mnist

    torch.manual_seed(0)
    weights = tmp_path / "pt_inception-2015-12-05-6726825d.pth"
    torch.save(FIDInceptionV3().state_dict(), weights)
    root = write_fashion_mnist(tmp_path / "fm", n_train=60, n_test=10)
    config_dir = Path(__file__).resolve().parents[1] / "configs" / "image"
    common = ["--config-dir", str(config_dir), "experiment=fashion_mnist_lt", "preset=quick", f"data.root={root}",
              f"exp_dir={tmp_path / 'exp'}", "data.lt_counts=[6,6,6,6,6,6,6,6,6,6]", "data.max_full=null",
              "sampler.solvers=[ei]", "sampler.samplers=[ode]", "sampler.n_samples=8", "sampler.batch_size=8",
              "trainer.max_steps=1", "train.val_every=1", "model.ch=8", "model.norm_groups=8", "diffusion.alpha=1.8",
              f"eval.inception_weights={weights}"]
    for action in ("prepare", "classifier", "train", "sample", "evaluate"):
        assert main(["image", action, *common]) == 0
    e = json.loads((tmp_path / "exp" / "lim_alpha1.8" / "metrics.json").read_text())["entries"]["ode_ei_N2"]
    assert np.isfinite(e["fid"]) and e["fid"] >= 0 and 0 <= e["inception_prdc"]["coverage"] <= 1
