"""`levytts` command line: one subcommand per module.

Each entry of COMMANDS names a module that defines ``add_arguments(parser)`` and ``main(args) -> int``, or
``module:NAME`` for a module holding several subcommands (a room's cli.py, e.g. ``levytts.tts.cli:synth``): its
``SUBCOMMANDS[NAME]`` is that ``(add_arguments, main)`` pair (:func:`load_command`).
Modules are imported only when their subcommand runs, so ``levytts --help`` stays fast and a
missing optional dependency of one subcommand never breaks the others.

Dispatch is ``set_defaults(func=...)`` everywhere: the subcommand's parser defaults ``func`` to its
``main``; a module with sub-actions (``levytts data prepare``, ``levytts image train`` ...) sets ``func`` on each
sub-action's parser, which replaces it. :func:`main` then calls ``args.func(args)``.

Errors: a user's mistake raises :class:`UserError` (or ValueError / FileNotFoundError from a library input check)
and is printed as one line ``levytts CMD: error: ...``, exit status 2. Any other exception is a bug: it propagates
with its traceback (exit status 1 from the ``levytts`` script). Bad option values are argparse errors (status 2).

The runtime options shared by several subcommands are added with :func:`add_device_option`,
:func:`add_threads_option` and :func:`add_seed_option` (one spelling, one check, one help text each) and
applied with :func:`apply_threads`.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module path, one-line help); "module:NAME" is the module's SUBCOMMANDS[NAME]. Add a line here to add a
# subcommand.
COMMANDS: dict[str, tuple[str, str]] = {
    "image": ("levytts.image.cli", "image branch stages: prepare | classifier | train | sample | evaluate | report | make-fixture"),
    "demo-sampler": ("levytts.demo_sampler", "1-D oracle study of the ODE / SDE-A / SDE-E samplers (writes a PNG)"),
    "tune-eta": ("levytts.tune_eta", "search the SDE-E η_t for a model or the exact oracle (results file, plots, best spec)"),
    "toy2d": ("levytts.toy.cli", "2-D toy studies (LIM two Gaussians, DLPM tails and grid, samplers, variation)"),
    "eval": ("levytts.eval.cli", "speaker similarity (GE2E / CAM++), WER, MCD and F0 of synthesised speech"),
    "phonemize": ("levytts.text.cli", "print the normalised text and ARPAbet phones of English text"),
    "data": ("levytts.data.cli", "corpora → filelists, imbalanced mixes by minutes, validation, duration checks"),
    "synth": ("levytts.tts.cli:synth", "synthesise speech from text with a trained checkpoint (prints RTF)"),
    "serve": ("levytts.serve.cli", "web page and HTTP API for synthesis (FastAPI + uvicorn; the serve extra)"),
    "export": ("levytts.tts.cli:export", "training checkpoint → small inference file (weights, config, speakers, sampler defaults)"),
    "imbalanced": ("levytts.experiments.cli", "imbalanced-speaker experiment: test lists, synthesis grid, result tables"),
    "train": ("levytts.tts.cli:train", "train the TTS model (Lightning + hydra overrides, e.g. experiment=offline_tiny)"),
}


class UserError(Exception):
    """An error caused by the user's input: printed as one line, exit status 2, no traceback."""


# ---------------------------------------------------------------------- runtime options shared by subcommands
def add_device_option(parser: argparse.ArgumentParser, default: str = "cpu",
                      help: str = "torch device: cpu | cuda | cuda:N") -> None:
    """``--device`` (a torch device string, checked when parsed)."""
    from levytts.cli_types import device_str

    parser.add_argument("--device", type=device_str, default=default, help=help)


def add_threads_option(parser: argparse.ArgumentParser, default: int | None = None,
                       help: str = "CPU threads for torch (default: torch's choice; 1 is faster on a busy machine)"
                       ) -> None:
    """``--threads`` (an integer >= 1, or ``default``); apply it with :func:`apply_threads`."""
    from levytts.cli_types import positive_int

    parser.add_argument("--threads", type=positive_int, default=default, help=help)


def add_seed_option(parser: argparse.ArgumentParser, default: int = 0, help: str | None = None) -> None:
    """``--seed`` (an integer in [0, 2**32 - 1])."""
    from levytts.cli_types import seed_int

    parser.add_argument("--seed", type=seed_int, default=default,
                        help=help or f"random seed, an integer in [0, 2**32 - 1] (default {default})")


def apply_threads(threads: int | None) -> None:
    """``torch.set_num_threads(threads)`` unless None (torch's choice)."""
    if threads is None:
        return
    if threads < 1:
        raise UserError(f"--threads must be >= 1, got {threads}")
    import torch

    torch.set_num_threads(int(threads))


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse with a one-line error: ``levytts synth: error: argument --steps: must be … (see levytts synth
    --help)`` and status 2, instead of the usage block above the error line."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="levytts", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_module, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def load_command(name: str):
    """``(add_arguments, main)`` of subcommand ``name``: imports its module (COMMANDS) and returns the module's
    ``add_arguments`` and ``main``, or ``SUBCOMMANDS[NAME]`` for a ``module:NAME`` entry."""
    module_path, _, sub_name = COMMANDS[name][0].partition(":")
    module = importlib.import_module(module_path)
    if sub_name:
        return module.SUBCOMMANDS[sub_name]
    return module.add_arguments, module.main


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        build_parser().print_help()
        return 0
    name = argv[0]
    if name not in COMMANDS:
        print(f"levytts: unknown command {name!r}; valid commands: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    add_arguments, command_main = load_command(name)
    parser = OneLineErrorParser(prog=f"levytts {name}", description=COMMANDS[name][1])
    parser.set_defaults(func=command_main)  # a sub-action's parser replaces it with its own func
    add_arguments(parser)
    try:  # a bad option (e.g. --steps 0, see levytts.cli_types) prints usage + one error line, status 2
        args = parser.parse_args(argv[1:])
    except SystemExit as done:  # also --help (status 0): return the status instead of exiting the caller
        return done.code if isinstance(done.code, int) else 2
    try:
        return int(args.func(args) or 0)
    except (UserError, ValueError, OSError) as err:  # the user's mistake (a path that is a file, …): one line
        action = getattr(args, "action", None)  # a sub-action (`levytts data mix`) is named in the message
        print(f"levytts {name}{' ' + action if isinstance(action, str) else ''}: error: {err}", file=sys.stderr)
        return 2
    # anything else is a bug: it propagates with its traceback (exit status 1)


if __name__ == "__main__":
    sys.exit(main())
