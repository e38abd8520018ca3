"""Image metrics: Fréchet distance, precision / recall / density / coverage (Naeem et al. 2020),
per-class coverage, and the Inception-v3 network of the standard FID weights.

- ``frechet_distance``: ‖μ1 - μ2‖² + Tr(Σ1 + Σ2 - 2 (Σ1 Σ2)^{1/2}) on features. It is *FID* only with
  the features of :class:`FIDInceptionV3` loaded from ``pt_inception-2015-12-05-6726825d.pth``; with
  any other feature network it is reported under another name (e.g. "FD (classifier features)").
- ``prdc`` (k nearest neighbours, k = 5 as in Popov et al.), with the radius of a real sample its
  distance to its k-th nearest real neighbour (itself excluded), and strict inequalities as in the
  reference code of Naeem et al.:
  precision = share of fake samples inside some real ball; recall = share of real samples inside some
  fake ball; density = (1/(kM)) Σ_j #{real balls containing fake j}; coverage = share of real balls that
  contain at least one fake sample.
- ``per_class_coverage``: coverage restricted to the real samples of each class, balls and fake set as
  for the overall coverage (so the overall value is the class-size-weighted mean) — the quantity of
  Popov et al. Table 4.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from scipy import linalg


# ---------------------------------------------------------------------------------------------
# Fréchet distance
# ---------------------------------------------------------------------------------------------
def feature_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and covariance (D, D) of features (N, D), float64."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"need features of shape (N >= 2, D), got {f.shape}")
    return f.mean(0), np.cov(f, rowvar=False)


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2) (as pytorch-fid: scipy sqrtm, with
    ``eps``·I added to both covariances if the product is singular, imaginary round-off dropped)."""
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    s1, s2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or s1.shape != s2.shape:
        raise ValueError(f"mismatched statistics: {mu1.shape} vs {mu2.shape}, {s1.shape} vs {s2.shape}")
    diff = mu1 - mu2
    covmean = linalg.sqrtm(s1.dot(s2))
    if not np.isfinite(covmean).all():
        offset = np.eye(s1.shape[0]) * eps
        covmean = linalg.sqrtm((s1 + offset).dot(s2 + offset))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def frechet_distance_features(real: np.ndarray, fake: np.ndarray) -> float:
    """Fréchet distance between the Gaussian fits of two feature sets (N, D) and (M, D)."""
    return frechet_distance(*feature_stats(real), *feature_stats(fake))


# ---------------------------------------------------------------------------------------------
# precision / recall / density / coverage
# ---------------------------------------------------------------------------------------------
def _cdist(a: torch.Tensor, b: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
    return torch.cat([torch.cdist(a[i:i + chunk], b) for i in range(0, len(a), chunk)]) if len(a) else a.new_zeros(0, len(b))


def knn_radii(features: np.ndarray, k: int = 5) -> np.ndarray:
    """Distance of each sample to its k-th nearest neighbour in the same set (itself excluded), (N,)."""
    f = torch.as_tensor(np.asarray(features), dtype=torch.float64)
    if len(f) <= k:
        raise ValueError(f"need more than k={k} samples for k-NN radii, got {len(f)}")
    d = _cdist(f, f)
    return d.kthvalue(k + 1, dim=1).values.numpy()  # the 1st smallest is the sample itself (distance 0)


def prdc(real: np.ndarray, fake: np.ndarray, k: int = 5, real_radii: np.ndarray | None = None) -> dict[str, float]:
    """Precision, recall, density and coverage of ``fake`` (M, D) against ``real`` (N, D).

    ``real_radii``: the k-NN radii of ``real`` if already computed (:func:`knn_radii`)."""
    r = torch.as_tensor(np.asarray(real), dtype=torch.float64)
    f = torch.as_tensor(np.asarray(fake), dtype=torch.float64)
    if r.ndim != 2 or f.ndim != 2 or r.shape[1] != f.shape[1]:
        raise ValueError(f"need real (N, D) and fake (M, D) features, got {tuple(r.shape)} and {tuple(f.shape)}")
    real_r = torch.as_tensor(knn_radii(r.numpy(), k) if real_radii is None else np.asarray(real_radii))
    fake_r = torch.as_tensor(knn_radii(f.numpy(), k))
    d = _cdist(r, f)  # (N, M)
    inside = d < real_r[:, None]  # fake j inside real ball i
    return {
        "precision": float(inside.any(0).double().mean()),
        "recall": float((d < fake_r[None, :]).any(1).double().mean()),
        "density": float(inside.double().sum() / (k * f.shape[0])),
        "coverage": float((d.min(1).values < real_r).double().mean()),
    }


def per_class_coverage(real: np.ndarray, real_labels: np.ndarray, fake: np.ndarray, k: int = 5,
                       n_classes: int | None = None, real_radii: np.ndarray | None = None) -> np.ndarray:
    """Coverage of each class's real samples (balls from the whole real set), shape (n_classes,)."""
    r = torch.as_tensor(np.asarray(real), dtype=torch.float64)
    f = torch.as_tensor(np.asarray(fake), dtype=torch.float64)
    radii = torch.as_tensor(knn_radii(r.numpy(), k) if real_radii is None else np.asarray(real_radii))
    covered = (_cdist(r, f).min(1).values < radii).numpy()
    labels = np.asarray(real_labels)
    n_classes = n_classes or int(labels.max()) + 1
    return np.array([covered[labels == c].mean() if (labels == c).any() else np.nan for c in range(n_classes)])


def prdc_per_class(real, real_labels, fake, fake_labels, k: int = 5, n_classes: int | None = None) -> list[dict]:
    """PRDC between the real samples of class c and the fake samples labelled c (by the conditioning label
    or a classifier), per class; classes with ≤ k samples on either side give NaN."""
    real, fake = np.asarray(real), np.asarray(fake)
    real_labels, fake_labels = np.asarray(real_labels), np.asarray(fake_labels)
    n_classes = n_classes or int(real_labels.max()) + 1
    out = []
    for c in range(n_classes):
        rc, fc = real[real_labels == c], fake[fake_labels == c]
        if len(rc) <= k or len(fc) <= k:
            out.append({"precision": np.nan, "recall": np.nan, "density": np.nan, "coverage": np.nan})
        else:
            out.append(prdc(rc, fc, k))
    return out


# ---------------------------------------------------------------------------------------------
# Inception-v3 of the FID weights (pt_inception-2015-12-05)
# ---------------------------------------------------------------------------------------------
# Layer names and shapes follow torchvision's Inception3 (which the converted TF FID weights use),
# with the FID-specific pooling of the 2015-12-05 TF graph: average pools that do not count padding
# and a max pool in the last block's pool branch. Written here because torchvision is not a
# dependency (it has no build for our torch); the state dict keys are those of the weight file.
class BasicConv2d(nn.Module):
    def __init__(self, cin: int, cout: int, **kw):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, bias=False, **kw)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


def _avg(x):
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class InceptionA(nn.Module):
    def __init__(self, cin: int, pool_features: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(cin, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool_features, kernel_size=1)

    def forward(self, x):
        return torch.cat([self.branch1x1(x), self.branch5x5_2(self.branch5x5_1(x)),
                          self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                          self.branch_pool(_avg(x))], 1)


class InceptionB(nn.Module):
    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x):
        return torch.cat([self.branch3x3(x), self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                          F.max_pool2d(x, 3, stride=2)], 1)


class InceptionC(nn.Module):
    def __init__(self, cin: int, c7: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(cin, 192, kernel_size=1)

    def forward(self, x):
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = x
        for layer in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4,
                      self.branch7x7dbl_5):
            bd = layer(bd)
        return torch.cat([self.branch1x1(x), b7, bd, self.branch_pool(_avg(x))], 1)


class InceptionD(nn.Module):
    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x):
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), b7, F.max_pool2d(x, 3, stride=2)], 1)


class InceptionE(nn.Module):
    """``max_pool`` selects the FID graph's last block (max pool in the pool branch)."""

    def __init__(self, cin: int, max_pool: bool = False):
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = BasicConv2d(cin, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(cin, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, 192, kernel_size=1)

    def forward(self, x):
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
        pool = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else _avg(x)
        return torch.cat([self.branch1x1(x), b3, bd, self.branch_pool(pool)], 1)


class FIDInceptionV3(nn.Module):
    """Inception-v3 of the TF FID graph (2015-12-05): images (B, C, H, W) in [0, 1] → pool features (B, 2048).

    Inputs are resized to 299×299 (bilinear), scaled to [-1, 1]; grey images are repeated to 3 channels.
    Load the weights with :func:`load_fid_inception`.
    """

    def __init__(self, num_classes: int = 1008):
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.Mixed_5b = InceptionA(192, 32)
        self.Mixed_5c = InceptionA(256, 64)
        self.Mixed_5d = InceptionA(288, 64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, 128)
        self.Mixed_6c = InceptionC(768, 160)
        self.Mixed_6d = InceptionC(768, 160)
        self.Mixed_6e = InceptionC(768, 192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280)
        self.Mixed_7c = InceptionE(2048, max_pool=True)
        self.fc = nn.Linear(2048, num_classes)  # logits head of the weight file; unused for FID

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        x = 2 * x - 1
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, 3, stride=2)
        for name in ("Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e",
                     "Mixed_7a", "Mixed_7b", "Mixed_7c"):
            x = getattr(self, name)(x)
        return F.adaptive_avg_pool2d(x, 1).flatten(1)


def load_fid_inception(path: str | Path, map_location="cpu") -> FIDInceptionV3:
    """FIDInceptionV3 with the weights of ``pt_inception-2015-12-05-6726825d.pth`` (pytorch-fid's file), eval mode."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"FID Inception weights {path} not found: give the path of "
                                "pt_inception-2015-12-05-6726825d.pth (pytorch-fid's FID weights)")
    state = torch.load(path, map_location=map_location, weights_only=True)
    model = FIDInceptionV3()
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f"{path} is not the FID Inception state dict (missing {missing[:3]}, unexpected {unexpected[:3]})")
    return model.eval()


@torch.no_grad()
def extract_features(fn, images: np.ndarray, batch_size: int = 256, device="cpu") -> np.ndarray:
    """Apply a feature function to uint8 images (N, C, H, W) given as float [0, 1] batches; returns (N, D)."""
    out = []
    for i in range(0, len(images), batch_size):
        x = torch.from_numpy(np.asarray(images[i:i + batch_size])).to(device).float() / 255.0
        out.append(fn(x).double().cpu().numpy())
    return np.concatenate(out)
