"""`levytts export`: a training checkpoint → the small inference file `levytts synth` and :class:`levytts.TTS` load.

    levytts export --checkpoint exp/run/checkpoints/last.ckpt --out voice.pt --synth-defaults solver=ei steps=4

The work is :func:`levytts.tts.checkpoint.export_checkpoint`; this module parses the options. Each
``--synth-defaults`` item ``KEY=VALUE`` is checked by the rule of the `levytts synth` option of that name
(``steps=0`` or ``solver=rk4`` is a one-line error before anything is read or written).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from levytts.tts import synth
from levytts.tts.checkpoint import SYNTH_DEFAULTS, export_checkpoint, load_checkpoint

DTYPES = {"float16": torch.float16, "float32": torch.float32, "bfloat16": torch.bfloat16}


def parse_synth_defaults(items: list[str] | None) -> dict:
    """``["solver=ei", "steps=4"]`` → ``{"solver": "ei", "steps": 4}``, each value checked and converted as
    the `levytts synth` option of the same name does (``t-start`` and ``t_start`` both name ``--t-start``;
    ``t_start=none`` stores "from T" explicitly). ValueError naming the item otherwise."""
    parser = argparse.ArgumentParser(add_help=False)
    synth.add_arguments(parser)
    actions = {a.dest: a for a in parser._actions}
    out: dict = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        key = key.strip().lstrip("-").replace("-", "_")
        if not sep or key not in SYNTH_DEFAULTS:
            raise ValueError(f"--synth-defaults {item!r}: give KEY=VALUE with KEY one of {', '.join(SYNTH_DEFAULTS)}")
        text = text.strip()
        if key == "t_start" and text.lower() in ("none", "t", ""):
            out[key] = None
            continue
        action = actions[key]
        try:
            value = action.type(text) if action.type else text
        except (argparse.ArgumentTypeError, ValueError) as err:
            raise ValueError(f"--synth-defaults {item!r}: {err}") from None
        if action.choices and value not in action.choices:
            raise ValueError(f"--synth-defaults {item!r}: choose {key} from {', '.join(action.choices)}")
        out[key] = value
    return out


def add_arguments(parser) -> None:
    parser.epilog = ("The output holds the config, symbols, speaker table and training minutes, the stored sampler "
                     "defaults and the model weights only (no optimiser state); `levytts synth --checkpoint OUT` "
                     "and levytts.TTS(OUT) load it. Written atomically.")
    parser.add_argument("--checkpoint", required=True,
                        help="a checkpoint written by `levytts train` (…/checkpoints/last.ckpt) or an exported file")
    parser.add_argument("--out", required=True, help="the exported file (.pt)")
    parser.add_argument("--synth-defaults", nargs="+", default=None, metavar="KEY=VALUE",
                        help=f"sampler defaults stored with the voice, replacing any stored ones; keys: "
                             f"{', '.join(SYNTH_DEFAULTS)} (checked like the `levytts synth` options), "
                             f"e.g. solver=ei steps=4. Default: keep the checkpoint's (none for a training run)")
    parser.add_argument("--dtype", default="float16", choices=list(DTYPES),
                        help="storage type of the weights (scalars such as the mel statistics stay float32)")
    parser.add_argument("--no-ema", action="store_true", help="export the raw weights even if EMA weights exist")
    parser.add_argument("--note", default="", help="free text stored in the file's levytts_export record")


def _check_t_start(checkpoint, defaults: dict) -> None:
    """A stored t_start must lie in (t_eps, T] of the checkpoint's own process (T = 1 linear, 0.9946 cosine),
    else every later synthesis with the exported file would fail: ValueError here instead."""
    t_start = defaults.get("t_start")
    if t_start is None:
        return
    from levytts.tts.model import process_from_config

    diffusion = load_checkpoint(checkpoint).cfg["diffusion"]
    schedule = diffusion.get("schedule", "cosine")
    T = process_from_config(diffusion).T
    t_eps = 1e-3  # the samplers' default end point (levytts.levy.time_grid)
    if not t_eps < float(t_start) <= T:
        raise ValueError(f"--synth-defaults t_start={t_start}: must lie in ({t_eps}, T={T:g}] of this checkpoint's "
                         f"{schedule} schedule")


def main(args) -> int:
    defaults = parse_synth_defaults(args.synth_defaults)
    _check_t_start(args.checkpoint, defaults)
    dst = export_checkpoint(args.checkpoint, args.out, dtype=DTYPES[args.dtype], use_ema=not args.no_ema,
                            note=args.note, synth_defaults=defaults or None)
    ckpt = load_checkpoint(dst)  # read back: the file loads, and the summary shows what was stored
    print(f"{dst}: {Path(dst).stat().st_size / 2**20:.1f} MiB, {args.dtype}, step {ckpt.global_step}, "
          f"{len(ckpt.speakers)} speakers ({', '.join(ckpt.speaker_minutes or ckpt.speakers)} trained); "
          f"stored synth defaults: {ckpt.stored_synth_defaults or 'none'}")
    return 0
