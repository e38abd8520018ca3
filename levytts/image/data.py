"""Image data: CIFAR-10 (python pickle archive), Fashion-MNIST (IDX files), long-tail subsets.

On-disk formats read here (and written by :mod:`levytts.image.fixtures` for tests and ``--quick``):

- CIFAR-10 "python version": ``cifar-10-python.tar.gz`` holding ``cifar-10-batches-py/`` with
  ``data_batch_1`` … ``data_batch_5``, ``test_batch`` and ``batches.meta``. Each batch is a pickled dict
  with ``b"data"`` (10000, 3072) uint8 — 1024 red, then 1024 green, then 1024 blue values of a 32×32
  image in row-major order — and ``b"labels"`` (list of 10000 ints); ``batches.meta`` holds
  ``b"label_names"``.
- IDX (LeCun's MNIST format, used by Fashion-MNIST; Debian ``dataset-fashion-mnist`` installs
  ``{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz`` in /usr/share/datasets/fashion-mnist): a
  big-endian header of 2 zero bytes, a type byte (0x08 = uint8), the number of dimensions, one uint32
  per dimension, then the data.

Arrays returned here are images uint8 (N, C, H, W) and labels int64 (N,).
"""
from __future__ import annotations

import gzip
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
import torch

from levytts.audio.io import atomic_write

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                         "Ankle boot")
#: CIFAR10-LT (LIM, Popov et al. App. B): n_c = floor(5000 · 0.01^(c/9)), largest class first.
LT_COUNTS = (5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50)
CIFAR_DIR = "cifar-10-batches-py"
CIFAR_ARCHIVE = "cifar-10-python.tar.gz"
FASHION_MNIST_ROOT = "/usr/share/datasets/fashion-mnist"


def long_tail_counts(n_max: int = 5000, ratio: float = 100.0, n_classes: int = 10) -> list[int]:
    """Exponential long-tail profile n_c = floor(n_max · ratio^(-c/(n_classes-1))), c = 0..n_classes-1."""
    return [int(n_max * ratio ** (-c / (n_classes - 1))) for c in range(n_classes)]


# ---------------------------------------------------------------------------------------------
# CIFAR-10
# ---------------------------------------------------------------------------------------------
def _unpickle(raw: bytes, name: str) -> dict:
    try:
        return pickle.loads(raw, encoding="bytes")
    except Exception as err:  # noqa: BLE001 - any unpickling failure means a bad file
        raise ValueError(f"{name} is not a CIFAR-10 python pickle ({err})") from None


def _cifar_batch(d: dict, name: str) -> tuple[np.ndarray, np.ndarray]:
    data = d.get(b"data", d.get("data"))
    labels = d.get(b"labels", d.get("labels"))
    if data is None or labels is None:
        raise ValueError(f"{name}: CIFAR-10 batch without 'data'/'labels' entries")
    data = np.asarray(data, dtype=np.uint8)
    if data.ndim != 2 or data.shape[1] != 3072:
        raise ValueError(f"{name}: expected data of shape (N, 3072), got {data.shape}")
    return data.reshape(-1, 3, 32, 32), np.asarray(labels, dtype=np.int64)


def read_cifar10(path: str | Path, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Read CIFAR-10 from the python-pickle archive or its extracted folder.

    Args:
        path: ``cifar-10-python.tar.gz``, the folder ``cifar-10-batches-py`` or a folder containing either.
        split: ``train`` (data_batch_1..5) or ``test`` (test_batch).
    Returns:
        images uint8 (N, 3, 32, 32), labels int64 (N,).
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    path = Path(path)
    if path.is_dir():
        if (path / CIFAR_DIR).is_dir():
            path = path / CIFAR_DIR
        elif (path / CIFAR_ARCHIVE).is_file():
            path = path / CIFAR_ARCHIVE
    if not path.exists():
        raise FileNotFoundError(f"CIFAR-10 not found at {path}: give the path of {CIFAR_ARCHIVE} (python version) "
                                f"or of its extracted folder {CIFAR_DIR}")
    raws: dict[str, bytes] = {}
    if path.is_dir():
        for n in names:
            f = path / n
            if not f.is_file():
                raise FileNotFoundError(f"{f} missing: {path} is not a complete {CIFAR_DIR} folder")
            raws[n] = f.read_bytes()
    else:
        try:
            with tarfile.open(path, "r:*") as tar:
                members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
                for n in names:
                    if n not in members:
                        raise FileNotFoundError(f"{path} has no member {CIFAR_DIR}/{n}: not the CIFAR-10 python archive")
                    raws[n] = tar.extractfile(members[n]).read()
        except tarfile.TarError as err:
            raise ValueError(f"{path} is not a tar archive ({err}); expected {CIFAR_ARCHIVE}") from None
    parts = [_cifar_batch(_unpickle(raws[n], n), n) for n in names]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


# ---------------------------------------------------------------------------------------------
# IDX / Fashion-MNIST
# ---------------------------------------------------------------------------------------------
_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (optionally gzip-compressed) into an array of its declared shape."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file {path} not found")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic {raw[:4].hex()})")
    ndim = raw[3]
    dims = np.frombuffer(raw, dtype=">u4", count=ndim, offset=4).astype(np.int64)
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    n = int(np.prod(dims)) if ndim else 1
    offset = 4 + 4 * ndim
    if len(raw) - offset != n * dtype.itemsize:
        raise ValueError(f"{path}: header says {tuple(dims)} × {dtype.itemsize} bytes but the file holds "
                         f"{len(raw) - offset} bytes of data")
    return np.frombuffer(raw, dtype=dtype, count=n, offset=offset).reshape(tuple(dims)).astype(dtype.newbyteorder("="))


def _find(root: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem):
        if (root / name).is_file():
            return root / name
    raise FileNotFoundError(f"{root}/{stem}[.gz] not found: install the Debian package dataset-fashion-mnist "
                            f"(files in {FASHION_MNIST_ROOT}) or give the folder holding the IDX files")


def read_fashion_mnist(root: str | Path = FASHION_MNIST_ROOT, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Read Fashion-MNIST from its IDX files.

    Args:
        root: folder with ``{train,t10k}-images-idx3-ubyte[.gz]`` and ``{train,t10k}-labels-idx1-ubyte[.gz]``.
        split: ``train`` or ``test``.
    Returns:
        images uint8 (N, 1, 28, 28), labels int64 (N,).
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    root = Path(root)
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(_find(root, f"{prefix}-images-idx3-ubyte"))
    labels = read_idx(_find(root, f"{prefix}-labels-idx1-ubyte"))
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"{root}: images {images.shape} and labels {labels.shape} do not match")
    return images[:, None].astype(np.uint8), labels.astype(np.int64)


def read_dataset(name: str, root: str | Path, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Dispatch on ``name`` (``cifar10`` | ``fashion_mnist``)."""
    if name == "cifar10":
        return read_cifar10(root, split)
    if name == "fashion_mnist":
        return read_fashion_mnist(root, split)
    raise ValueError(f"unknown dataset {name!r}; valid: cifar10, fashion_mnist")


def class_names(name: str) -> tuple[str, ...]:
    return CIFAR10_CLASSES if name == "cifar10" else FASHION_MNIST_CLASSES


# ---------------------------------------------------------------------------------------------
# Long tail, resizing, tensors
# ---------------------------------------------------------------------------------------------
def long_tail_indices(labels: np.ndarray, counts, seed: int = 0) -> np.ndarray:
    """Indices of a long-tail subset: ``counts[c]`` examples of class c drawn without replacement.

    Args:
        labels: (N,) int class labels.
        counts: per-class counts, class 0 first (e.g. :data:`LT_COUNTS`).
        seed: numpy seed; the same seed gives the same subset.
    Returns:
        sorted int64 indices (sum(counts),).
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    out = []
    for c, n in enumerate(counts):
        pool = np.flatnonzero(labels == c)
        if n > len(pool):
            raise ValueError(f"class {c} has {len(pool)} examples, fewer than the {n} asked for")
        out.append(rng.choice(pool, size=int(n), replace=False))
    return np.sort(np.concatenate(out)).astype(np.int64)


def resize_uint8(images: np.ndarray, resolution: int) -> np.ndarray:
    """Resize uint8 (N, C, H, W) images to (N, C, resolution, resolution) (antialiased bilinear)."""
    if images.shape[-1] == resolution and images.shape[-2] == resolution:
        return images
    x = torch.from_numpy(images).float()
    y = torch.nn.functional.interpolate(x, size=(resolution, resolution), mode="bilinear", antialias=True,
                                        align_corners=False)
    return y.round().clamp(0, 255).to(torch.uint8).numpy()


def to_model_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] → float [-1, 1]."""
    return images.float() / 127.5 - 1.0


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """float [-1, 1] (clipped) → uint8 [0, 255]."""
    return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def save_npz(path: str | Path, **arrays) -> None:
    """Write an .npz atomically (:func:`levytts.audio.io.atomic_write`)."""
    buf = io.BytesIO()  # np.savez to a buffer: it would append .npz to a file name without it, so path stays exact
    np.savez(buf, **arrays)
    with atomic_write(path, suffix=".tmp") as tmp:  # a leftover never matches *.npz
        tmp.write_bytes(buf.getvalue())


def load_npz(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run the earlier recipe stage that writes it")
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


class ImageArrayDataset(torch.utils.data.Dataset):
    """uint8 (N, C, H, W) images and int labels → (float image in [-1, 1] (C, H, W), label) items.

    Args:
        images: uint8 array (N, C, H, W).
        labels: int array (N,).
        hflip: random horizontal flip (CIFAR training).
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, hflip: bool = False):
        self.images = torch.from_numpy(np.ascontiguousarray(images))
        self.labels = torch.from_numpy(np.asarray(labels, dtype=np.int64))
        self.hflip = hflip

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        x = to_model_range(self.images[i])
        if self.hflip and torch.rand(()) < 0.5:
            x = x.flip(-1)
        return x, self.labels[i]
