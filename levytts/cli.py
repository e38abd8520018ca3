"""`levytts` command line: one subcommand per module.

Each entry of COMMANDS names a module that defines ``add_arguments(parser)`` and ``main(args) -> int``.
Modules are imported only when their subcommand runs, so ``levytts --help`` stays fast and a
missing optional dependency of one subcommand never breaks the others.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module path, one-line help). Add a line here to add a subcommand.
COMMANDS: dict[str, tuple[str, str]] = {
    "image": ("levytts.image.cli", "image branch stages: prepare | classifier | train | sample | evaluate | report | make-fixture"),
    "demo-sampler": ("levytts.demo_sampler", "1-D oracle study of the ODE / SDE-A / SDE-E samplers (writes a PNG)"),
    "toy2d": ("levytts.toy.cli", "2-D toy studies (LIM two Gaussians, DLPM tails and grid, samplers, variation)"),
    "eval": ("levytts.eval.cli", "speaker similarity (GE2E / CAM++), WER, MCD and F0 of synthesised speech"),
    "phonemize": ("levytts.text.cli", "print the normalised text and ARPAbet phones of English text"),
    "data": ("levytts.data.cli", "corpora → filelists, imbalanced mixes by minutes, validation, duration checks"),
    "synth": ("levytts.tts.synth", "synthesise speech from text with a trained checkpoint (prints RTF)"),
    "serve": ("levytts.serve.cli", "web page and HTTP API for synthesis (FastAPI + uvicorn; the serve extra)"),
    "export": ("levytts.tts.export", "training checkpoint → small inference file (weights, config, speakers, sampler defaults)"),
    "imbalanced": ("levytts.experiments.imbalanced", "imbalanced-speaker experiment: test lists, synthesis grid, result tables"),
    "train": ("levytts.tts.train", "train the TTS model (Lightning + hydra overrides, e.g. experiment=offline_tiny)"),
}


class UserError(Exception):
    """An error caused by the user's input: printed as one line, exit status 2, no traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="levytts", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_module, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        build_parser().print_help()
        return 0
    name = argv[0]
    if name not in COMMANDS:
        print(f"levytts: unknown command {name!r}; valid commands: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    module_path, help_text = COMMANDS[name]
    module = importlib.import_module(module_path)
    parser = argparse.ArgumentParser(prog=f"levytts {name}", description=help_text)
    module.add_arguments(parser)
    try:  # a bad option (e.g. --steps 0, see levytts.cli_types) prints usage + one error line, status 2
        args = parser.parse_args(argv[1:])
    except SystemExit as done:  # also --help (status 0): return the status instead of exiting the caller
        return done.code if isinstance(done.code, int) else 2
    try:
        return int(module.main(args) or 0)
    except (UserError, ValueError, FileNotFoundError) as err:
        print(f"levytts {name}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
