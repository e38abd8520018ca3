"""`levytts toy2d`: the 2-D toy studies of recipes/toy2d (stages 1–5, see docs/toy2d.md)."""
from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stage", type=int, default=1, help="first stage to run (1–5)")
    parser.add_argument("--stop-stage", "--stop_stage", dest="stop_stage", type=int, default=5,
                        help="last stage to run (1–5)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes for tests (seconds, meaningless numbers)")
    parser.add_argument("--results", type=Path, default=Path("docs/results/toy2d.md"), help="results page to update")
    parser.add_argument("--figures", type=Path, default=Path("docs/figures"), help="directory for toy2d_*.png")
    parser.add_argument("--exp", type=Path, default=Path("exp/toy2d"), help="directory for model checkpoints")
    parser.add_argument("--seeds", type=int, default=5, help="seeds per setting (>= 2 for a std)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the toy nets are too small for more)")
    parser.add_argument("--list-stages", action="store_true", help="print the stages and exit")


def main(args: argparse.Namespace) -> int:
    import torch
    from threadpoolctl import threadpool_limits

    from levytts.toy.stages import STAGES, Paths, Settings, run

    if args.list_stages:
        for k, name in STAGES.items():
            print(f"{k}: {name}")
        return 0
    if args.seeds < 2:
        raise ValueError(f"--seeds must be >= 2 to report a std, got {args.seeds}")
    if args.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {args.threads}")
    torch.set_num_threads(args.threads)
    settings = Settings.quick() if args.quick else Settings()
    settings.seeds = args.seeds
    with threadpool_limits(args.threads):  # k-means in scikit-learn
        run(args.stage, args.stop_stage, settings, Paths(args.results, args.figures, args.exp),
            log=lambda m: print(m, flush=True))
    return 0
