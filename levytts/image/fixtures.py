"""Tiny datasets written in the real on-disk formats (CIFAR-10 python archive, IDX), for tests and
the recipes' ``--quick`` mode where the real CIFAR-10 cannot be had. The images are class-dependent
patterns plus noise, so a classifier can tell the classes apart.
"""
from __future__ import annotations

import gzip
import io
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np

from levytts.image.data import CIFAR10_CLASSES, CIFAR_DIR


def synthetic_images(n: int, channels: int, size: int, n_classes: int = 10, seed: int = 0):
    """Class-dependent stripe patterns plus noise: uint8 (n, channels, size, size) and labels (n,)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % n_classes
    yy, xx = np.mgrid[0:size, 0:size]
    images = np.empty((n, channels, size, size), dtype=np.uint8)
    for i, c in enumerate(labels):
        angle = np.pi * c / n_classes
        base = 127.5 + 100 * np.sin((np.cos(angle) * xx + np.sin(angle) * yy) * (2 * np.pi / 8))
        for ch in range(channels):
            images[i, ch] = np.clip(base + rng.normal(0, 20, (size, size)) + 10 * ch, 0, 255).astype(np.uint8)
    return images, labels.astype(np.int64)


def write_cifar10(out: str | Path, n_train: int = 50, n_test: int = 20, archive: bool = True, seed: int = 0) -> Path:
    """Write a CIFAR-10 python-version dataset (5 train batches + test batch + meta).

    Returns the path of ``cifar-10-python.tar.gz`` (archive=True) or of the ``cifar-10-batches-py`` folder.
    """
    out = Path(out)
    images, labels = synthetic_images(n_train + n_test, 3, 32, seed=seed)
    batches = {}
    splits = np.array_split(np.arange(n_train), 5)
    for b, idx in enumerate(splits, 1):
        batches[f"data_batch_{b}"] = {b"batch_label": f"training batch {b} of 5".encode(),
                                      b"labels": labels[idx].tolist(), b"data": images[idx].reshape(len(idx), 3072),
                                      b"filenames": [f"img_{i}.png".encode() for i in idx]}
    test = np.arange(n_train, n_train + n_test)
    batches["test_batch"] = {b"batch_label": b"testing batch 1 of 1", b"labels": labels[test].tolist(),
                             b"data": images[test].reshape(len(test), 3072),
                             b"filenames": [f"img_{i}.png".encode() for i in test]}
    batches["batches.meta"] = {b"label_names": [c.encode() for c in CIFAR10_CLASSES], b"num_vis": 3072,
                               b"num_cases_per_batch": 10000}
    if archive:
        out.mkdir(parents=True, exist_ok=True)
        path = out / "cifar-10-python.tar.gz"
        with tarfile.open(path, "w:gz") as tar:
            for name, d in batches.items():
                raw = pickle.dumps(d, protocol=2)
                info = tarfile.TarInfo(f"{CIFAR_DIR}/{name}")
                info.size = len(raw)
                tar.addfile(info, io.BytesIO(raw))
        return path
    folder = out / CIFAR_DIR
    folder.mkdir(parents=True, exist_ok=True)
    for name, d in batches.items():
        (folder / name).write_bytes(pickle.dumps(d, protocol=2))
    return folder


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array in the IDX format (magic 0x0000 08 ndim, big-endian uint32 dims, data)."""
    array = np.asarray(array, dtype=np.uint8)
    return bytes([0, 0, 0x08, array.ndim]) + struct.pack(">" + "I" * array.ndim, *array.shape) + array.tobytes()


def write_fashion_mnist(out: str | Path, n_train: int = 60, n_test: int = 20, compress: bool = True, seed: int = 0) -> Path:
    """Write Fashion-MNIST-format IDX files ({train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]) to ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    images, labels = synthetic_images(n_train + n_test, 1, 28, seed=seed)
    parts = {"train": slice(0, n_train), "t10k": slice(n_train, n_train + n_test)}
    for prefix, sl in parts.items():
        for kind, arr in (("images-idx3", images[sl, 0]), ("labels-idx1", labels[sl])):
            raw = idx_bytes(arr)
            name = f"{prefix}-{kind}-ubyte"
            if compress:
                (out / (name + ".gz")).write_bytes(gzip.compress(raw))
            else:
                (out / name).write_bytes(raw)
    return out
