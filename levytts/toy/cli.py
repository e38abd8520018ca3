"""`levytts toy2d`: the 2-D toy studies of recipes/toy2d (stages 1–5, see docs/toy2d.md).

Outputs go under exp/ unless asked otherwise: the results page exp/toy2d/toy2d.md, figures exp/toy2d/figures/,
model checkpoints exp/toy2d/ (``--quick``: all under exp/toy2d/quick/). ``--publish`` writes the page and
the figures into docs/ (docs/results/toy2d.md, docs/figures/toy2d_*.png) instead; it refuses ``--quick``.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from levytts.cli import UserError, add_threads_option, apply_threads


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from levytts.cli_types import number

    stage = number(integer=True, low=1, high=5)
    parser.add_argument("--stage", type=stage, default=1, help="first stage to run (1–5)")
    parser.add_argument("--stop-stage", "--stop_stage", dest="stop_stage", type=stage, default=5,
                        help="last stage to run (1–5)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes for tests (seconds, meaningless numbers)")
    parser.add_argument("--publish", action="store_true",
                        help=f"write the results page and figures into docs/ ({PUBLISHED.results}, "
                             f"{PUBLISHED.figures}/toy2d_*.png); not with --quick")
    parser.add_argument("--results", type=Path, default=None,
                        help="results page to update (default: EXP/toy2d.md; with --publish: the docs/ page)")
    parser.add_argument("--figures", type=Path, default=None,
                        help="directory for toy2d_*.png (default: EXP/figures; with --publish: docs/figures)")
    parser.add_argument("--exp", type=Path, default=None,
                        help="directory for model checkpoints (default: exp/toy2d; with --quick: exp/toy2d/quick)")
    parser.add_argument("--seeds", type=number(integer=True, low=2), default=5, help="seeds per setting (>= 2 for a std)")
    add_threads_option(parser, default=1, help="torch threads (the toy nets are too small for more)")
    parser.add_argument("--list-stages", action="store_true", help="print the stages and exit")


PUBLISHED = argparse.Namespace(results=Path("docs/results/toy2d.md"), figures=Path("docs/figures"))


def output_paths(args: argparse.Namespace):
    """The :class:`levytts.toy.stages.Paths` of a run: explicit options first, then --publish (docs/), then exp/."""
    from levytts.toy.stages import Paths

    publish = getattr(args, "publish", False)
    if publish and args.quick:
        raise ValueError("--publish writes into docs/ and --quick numbers are meaningless; drop one of them")
    exp = args.exp or (Path("exp/toy2d/quick") if args.quick else Path("exp/toy2d"))
    results = args.results or (PUBLISHED.results if publish else exp / "toy2d.md")
    figures = args.figures or (PUBLISHED.figures if publish else exp / "figures")
    return Paths(results, figures, exp)


def main(args: argparse.Namespace) -> int:
    from threadpoolctl import threadpool_limits

    from levytts.toy.stages import STAGES, Settings, run

    if args.list_stages:
        for k, name in STAGES.items():
            print(f"{k}: {name}")
        return 0
    if args.seeds < 2:
        raise UserError(f"--seeds must be >= 2 to report a std, got {args.seeds}")
    paths = output_paths(args)
    apply_threads(args.threads)
    settings = Settings.quick() if args.quick else Settings()
    settings.seeds = args.seeds
    with threadpool_limits(args.threads):  # k-means in scikit-learn
        run(args.stage, args.stop_stage, settings, paths, log=lambda m: print(m, flush=True))
    print(f"results: {paths.results}; figures: {paths.figures}/toy2d_*.png; models: {paths.exp}")
    return 0
