"""TTS checkpoints: read a `levytts train` checkpoint or an exported voice, pick its weights, export.

    from levytts.tts.checkpoint import export_checkpoint, load_checkpoint
    ckpt = load_checkpoint("exp/run/checkpoints/last.ckpt")      # or an exported file, e.g. the demo voice
    ckpt.speakers, ckpt.speaker_minutes, ckpt.synth_defaults, ckpt.weights(use_ema=True)
    export_checkpoint("exp/run/checkpoints/last.ckpt", "voice.pt", synth_defaults={"solver": "ei", "steps": 4})

    levytts export --checkpoint exp/run/checkpoints/last.ckpt --out voice.pt --synth-defaults solver=ei steps=4

Two formats, one reader:

* training checkpoint (Lightning ``.ckpt``): ``hyper_parameters`` (cfg, symbols, speakers, add_blank,
  speaker_minutes), ``state_dict`` with ``model.*`` and, with EMA, ``ema.module.*`` weights, plus optimiser
  state, loops and callbacks;
* exported voice (:func:`export_checkpoint`): the same ``hyper_parameters`` (+ ``synth_defaults``), only the
  model weights under ``model.*`` (the EMA copy when there was one; float16 by default), ``global_step`` and
  ``levytts_export`` (source file name, dtype, note). :class:`levytts.TTS` and `levytts synth` read both.

This module imports no other part of :mod:`levytts.tts` at import time, so the model, the training code and the
synthesis API can all use it; the bundled voice's path is :func:`levytts.pretrained.demo_voice_path`.
:func:`build_model` (config → LevyTTS) lives here, not in :mod:`levytts.tts.lightning`, so that synthesis never
imports Lightning (start-up: `python -X importtime -c "import lightning"` is about 2 s on the 2-core machine).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from levytts.audio.io import atomic_write

# The sampler settings a checkpoint may store (``hyper_parameters["synth_defaults"]``) and the library's values.
SYNTH_DEFAULTS = {"steps": 10, "sampler": "ode", "solver": "euler", "eta": "0", "grid": "uniform", "t_start": None,
                  "temperature": 1.0, "guidance": 1.0}
REQUIRED_HYPER_PARAMETERS = ("cfg", "symbols", "speakers", "add_blank")


def sampler_defaults(stored: dict | None = None, source: str = "synth_defaults") -> dict:
    """:data:`SYNTH_DEFAULTS` updated with ``stored`` (a checkpoint's ``synth_defaults``); ValueError on an unknown key."""
    stored = dict(stored or {})
    unknown = sorted(set(stored) - set(SYNTH_DEFAULTS))
    if unknown:
        raise ValueError(f"{source}: unknown sampler default(s) {', '.join(unknown)}; valid: {', '.join(SYNTH_DEFAULTS)}")
    return {**SYNTH_DEFAULTS, **stored}


def model_weights(state: dict, use_ema: bool = True) -> dict:
    """The LevyTTS weights of a Lightning state dict: the EMA copy (``ema.module.*``) when ``use_ema`` and
    present, else ``model.*``; keys without the prefix."""
    prefix = "ema.module." if use_ema and any(k.startswith("ema.module.") for k in state) else "model."
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def build_model(cfg: dict, n_vocab: int, n_spks: int):
    """LevyTTS from the composed config (``model``, ``diffusion``, ``data``, ``train`` sections, plain dicts).

    Also builds the model of a stored checkpoint config: the ``.get`` fallbacks here (and in LevyTTS) are for
    configs written before a key existed. A training config is checked first (levytts.tts.train.check_config)."""
    from levytts.tts.model import LevyTTS  # imported on use: this module stays light

    m, data = cfg["model"], cfg["data"]
    seg_s = cfg["train"].get("segment_seconds")
    seg = None if seg_s in (None, 0) else int(seg_s * data["sample_rate"] / data["hop_length"])
    return LevyTTS(n_vocab=n_vocab, n_spks=n_spks, n_mels=int(data["n_mels"]), encoder=m["encoder"],
                   decoder=m["decoder"], diffusion=cfg["diffusion"], spk_emb_dim=int(m.get("spk_emb_dim", 64)),
                   durations=m.get("durations", "mas"), segment_frames=seg)


def _one_line(err: BaseException, limit: int = 200) -> str:
    text = (str(err).strip().splitlines() or [type(err).__name__])[0]
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class Checkpoint:
    """A loaded checkpoint (either format). ``export``: the ``levytts_export`` record of an exported voice,
    None for a training checkpoint."""

    path: Path
    hyper_parameters: dict
    state_dict: dict
    global_step: int = 0
    export: dict | None = None

    @property
    def exported(self) -> bool:
        return self.export is not None

    @property
    def cfg(self) -> dict:
        return self.hyper_parameters["cfg"]

    @property
    def symbols(self) -> dict:
        """The symbol table as stored (:meth:`levytts.text.SymbolTable.from_dict` reads it)."""
        return self.hyper_parameters["symbols"]

    @property
    def speakers(self) -> list[str]:
        """The speaker table (every corpus speaker of the training config), in embedding order."""
        return [str(s) for s in self.hyper_parameters["speakers"]]

    @property
    def add_blank(self) -> bool:
        return bool(self.hyper_parameters["add_blank"])

    @property
    def speaker_minutes(self) -> dict[str, float] | None:
        """Minutes of decoder training speech per trained speaker, most first; None for checkpoints from before
        this was recorded."""
        minutes = sorted((self.hyper_parameters.get("speaker_minutes") or {}).items(), key=lambda kv: -float(kv[1]))
        return {str(k): float(v) for k, v in minutes} or None

    @property
    def stored_synth_defaults(self) -> dict:
        """The sampler defaults stored with the checkpoint (only those; empty for a training checkpoint)."""
        return dict(self.hyper_parameters.get("synth_defaults") or {})

    @property
    def synth_defaults(self) -> dict:
        """:data:`SYNTH_DEFAULTS` overridden by the stored ones (ValueError naming the file on an unknown key)."""
        return sampler_defaults(self.stored_synth_defaults, source=str(self.path))

    def weights(self, use_ema: bool = True) -> dict:
        """The model's weights, keys without prefix (:func:`model_weights`)."""
        return model_weights(self.state_dict, use_ema)


def load_checkpoint(path: str | Path, weights_only: bool = True) -> Checkpoint:
    """Read a training checkpoint or an exported voice. FileNotFoundError for a missing file, ValueError (one
    line) for a file that is not a levytts checkpoint. ``weights_only=False`` unpickles anything: only for
    files you made yourself."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path} (train one with `levytts train`, or leave "
                                "--checkpoint out for the bundled demo voice)")
    not_ours = f"{path} is not a levytts training checkpoint or exported voice"
    try:
        raw = torch.load(path, map_location="cpu", weights_only=weights_only)
    except Exception as err:  # noqa: BLE001 - pickle/zip/torch errors of every kind: the file is not one of ours
        raise ValueError(f"{not_ours} ({_one_line(err)})") from err
    if not isinstance(raw, dict) or "hyper_parameters" not in raw or "state_dict" not in raw:
        raise ValueError(f"{not_ours} (no hyper_parameters / state_dict)")
    hp = raw["hyper_parameters"]
    missing = [k for k in REQUIRED_HYPER_PARAMETERS if k not in hp]
    if missing:
        raise ValueError(f"{not_ours} (hyper_parameters lack {', '.join(missing)})")
    return Checkpoint(path=path, hyper_parameters=dict(hp), state_dict=raw["state_dict"],
                      global_step=int(raw.get("global_step", 0)), export=raw.get("levytts_export"))


EXPORT_DTYPES = {"float16": torch.float16, "float32": torch.float32, "bfloat16": torch.bfloat16}  # `levytts export --dtype`


def export_checkpoint(src: str | Path | Checkpoint, dst: str | Path, dtype: torch.dtype = torch.float16,
                      use_ema: bool = True, note: str = "", synth_defaults: dict | None = None) -> Path:
    """Compact a `levytts train` checkpoint (or re-export an exported one) into the small file
    :class:`levytts.TTS` loads; returns ``dst``.

    Keeps ``hyper_parameters`` (cfg, symbols, speakers, speaker_minutes, add_blank, stored synth_defaults),
    ``global_step`` and the model weights (under the ``model.`` prefix; the EMA copy when ``use_ema`` and
    present), with floating tensors of more than one element stored as ``dtype`` (scalars such as the mel
    statistics stay float32). ``synth_defaults`` (keys of :data:`SYNTH_DEFAULTS`, e.g. ``{"solver": "ei"}``),
    when given, replace the stored ones; :class:`levytts.TTS` uses them as its sampler defaults. The encoder's
    ``pretrained`` path is cleared (its weights are inside). Optimiser state, callbacks and loops are dropped.
    Written atomically (:func:`levytts.audio.io.atomic_write`).
    """
    if synth_defaults:
        sampler_defaults(synth_defaults, source="export_checkpoint(synth_defaults=...)")  # unknown keys fail here
    ckpt = src if isinstance(src, Checkpoint) else load_checkpoint(src, weights_only=False)  # your own training file
    weights = {}
    for key, value in ckpt.weights(use_ema).items():
        if value.is_floating_point() and value.numel() > 1:
            value = value.to(dtype)
        weights["model." + key] = value.clone()
    hp = dict(ckpt.hyper_parameters)
    cfg = dict(hp["cfg"])
    model = dict(cfg["model"])
    model["encoder"] = dict(model["encoder"], pretrained=None)  # weights are inside; no path to a training run
    cfg["model"] = model
    hp["cfg"] = cfg
    if synth_defaults:
        hp["synth_defaults"] = dict(synth_defaults)
    out = {"hyper_parameters": hp, "state_dict": weights, "global_step": ckpt.global_step,
           "levytts_export": {"source": ckpt.path.name, "dtype": str(dtype), "note": note}}
    dst = Path(dst)
    with atomic_write(dst, suffix=".tmp") as tmp:  # an interrupted export leaves no partial *.pt / *.ckpt
        torch.save(out, tmp)
    return dst
