"""A small CNN classifier trained on the real training images; its penultimate layer is the feature
space for the Fréchet distance and PRDC reported when the FID Inception weights are not available,
and its predictions label unconditional samples for per-class metrics. Results computed with it are
always labelled "classifier features", never FID.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class SmallClassifier(nn.Module):
    """conv(32)×2 → pool → conv(64)×2 → pool → conv(128) → global average → feature (feat_dim) → logits.

    Args:
        in_channels: image channels.
        num_classes: classes.
        feat_dim: size of the feature layer.
    Input: images in [0, 1], shape (B, C, H, W) (any H, W ≥ 8).
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, feat_dim: int = 128):
        super().__init__()
        self.in_channels = in_channels

        def block(cin, cout):
            return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU())

        self.body = nn.Sequential(block(in_channels, 32), block(32, 32), nn.MaxPool2d(2), block(32, 64), block(64, 64),
                                  nn.MaxPool2d(2), block(64, 128))
        self.feat = nn.Linear(128, feat_dim)
        self.head = nn.Linear(feat_dim, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) in [0, 1] → (B, feat_dim)."""
        h = self.body(2 * x - 1).mean(dim=(2, 3))
        return F.relu(self.feat(h))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) in [0, 1] → logits (B, num_classes)."""
        return self.head(self.features(x))


def train_classifier(images: np.ndarray, labels: np.ndarray, num_classes: int, epochs: int = 2, batch_size: int = 128,
                     lr: float = 2e-3, seed: int = 0, device="cpu", log=print) -> SmallClassifier:
    """Train :class:`SmallClassifier` on uint8 images (N, C, H, W) with labels (N,) (Adam, cross-entropy)."""
    torch.manual_seed(seed)
    model = SmallClassifier(images.shape[1], num_classes).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    x_all = torch.from_numpy(images)
    y_all = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    g = torch.Generator().manual_seed(seed)
    steps = max(1, epochs * len(x_all) // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    model.train()
    step = 0
    while step < steps:
        perm = torch.randperm(len(x_all), generator=g)
        for i in range(0, len(perm) - batch_size + 1 if len(perm) >= batch_size else 1, batch_size):
            idx = perm[i:i + batch_size]
            x = x_all[idx].to(device).float() / 255.0
            loss = F.cross_entropy(model(x), y_all[idx].to(device))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            if step % 100 == 0:
                log(f"classifier step {step}/{steps} loss {loss.item():.4f}")
            if step >= steps:
                break
    return model.eval()


@torch.no_grad()
def predict(model: SmallClassifier, images: np.ndarray, batch_size: int = 512, device="cpu") -> tuple[np.ndarray, np.ndarray]:
    """(features (N, D), predicted labels (N,)) for uint8 images (N, C, H, W)."""
    feats, preds = [], []
    for i in range(0, len(images), batch_size):
        x = torch.from_numpy(np.asarray(images[i:i + batch_size])).to(device).float() / 255.0
        f = model.features(x)
        feats.append(f.double().cpu().numpy())
        preds.append(model.head(f).argmax(1).cpu().numpy())
    return np.concatenate(feats), np.concatenate(preds)
