"""Benchmark: isotropic α-stable noise of shape 16×80×172 (a batch of 2-s mel segments).

Compares levytts.levy.isotropic_stable with
  (a) the scipy route the DLPM code takes: scipy.stats.levy_stable.rvs for A, then numpy Gaussian,
  (b) torch.randn of the same shape (the Gaussian baseline's cost).
Prints the ratios measured in this run. Targets: ≥ 10× faster than (a), ≤ 1.5× the cost of (b).

    .venv/bin/python benchmarks/noise.py [--device cuda] [--repeats 50]
"""
from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch
from scipy import stats

from levytts.levy import isotropic_stable


def timeit(fn, repeats: int, sync=lambda: None) -> float:
    fn()
    sync()
    best = math.inf
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(repeats):
            fn()
        sync()
        best = min(best, (time.perf_counter() - t0) / repeats)
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--alpha", type=float, default=1.5)
    p.add_argument("--device", default="cpu")
    p.add_argument("--repeats", type=int, default=50)
    p.add_argument("--threads", type=int, default=1,
                   help="torch/numpy intra-op threads (default 1: stable numbers on a shared machine)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    shape = (16, 80, 172)
    dev = torch.device(args.device)
    sync = (lambda: torch.cuda.synchronize()) if dev.type == "cuda" else (lambda: None)
    g = torch.Generator(device=dev).manual_seed(0)
    rng = np.random.default_rng(0)
    alpha = args.alpha
    c_a = math.cos(math.pi * alpha / 4) ** (2 / alpha)

    def scipy_route(a_shape):
        # the scipy route: A from scipy's levy_stable (numpy RNG, CPU), Gaussian from numpy, moved to torch
        a = stats.levy_stable.rvs(alpha / 2, 1.0, loc=0.0, scale=c_a, size=a_shape, random_state=rng)
        g_np = rng.standard_normal(shape) * math.sqrt(2.0)
        return torch.from_numpy((np.sqrt(a) * g_np).astype(np.float32)).to(dev)

    t_randn = timeit(lambda: torch.randn(shape, generator=g, device=dev), args.repeats, sync)
    print(f"shape {shape}, alpha {alpha}, device {dev}, threads {args.threads}")
    print(f"torch.randn                 {t_randn * 1e3:9.3f} ms")
    for structure, a_shape in [("isotropic", (shape[0], 1, 1)), ("independent", shape)]:
        t_ours = timeit(lambda: isotropic_stable(shape, alpha, generator=g, device=dev, structure=structure),
                        args.repeats, sync)
        t_scipy = timeit(lambda: scipy_route(a_shape), max(3, args.repeats // 10), sync)
        print(f"levytts {structure:12s}        {t_ours * 1e3:9.3f} ms   ratio to randn {t_ours / t_randn:6.2f}"
              f"  (target <= 1.5 for isotropic)")
        print(f"scipy   {structure:12s}        {t_scipy * 1e3:9.3f} ms   speed-up of levytts {t_scipy / t_ours:7.1f}x"
              f"  (target >= 10)")


if __name__ == "__main__":
    main()
