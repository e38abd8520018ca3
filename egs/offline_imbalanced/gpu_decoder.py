"""Decoder training on a lent GPU machine that has torch and Lightning but not levytts' data stack (hydra,
soundfile, librosa) and takes at most 64 MiB of files: pack the training split here, train there, and turn
the returned EMA weights into a levytts checkpoint here. Three subcommands:

  python egs/offline_imbalanced/gpu_decoder.py pack CKPT PACK_DIR [--split-mel]
  python egs/offline_imbalanced/gpu_decoder.py train PACK_DIR OUT_DIR --alphas 1.5 2.0 1.8 --batch 256 --budget 470
  python egs/offline_imbalanced/gpu_decoder.py to-ckpt OUT_DIR ALPHA PACK_DIR OUT.ckpt [--step-offset 32000]

pack: token ids, TextGrid durations, speaker ids and log-mels of CKPT's training split, computed by
levytts.tts.data.TTSDataset as `levytts train` computes them, and CKPT's hyper-parameters (PACK_DIR/hp.json).
The log-mel is quantised to uint8 per (utterance, mel bin) over that bin's [min, max] in the utterance (the
largest error is printed: 0.024 natural-log units on the imbalanced split, whose log-mel std is 2.2);
--split-mel writes it lzma-compressed to PACK_DIR/mel.xz (41 MB → 35 MB there).

train: the model, loss (LevyTTS.compute_loss, stage decoder), frozen encoder, EMA and optimiser of `levytts
train` (levytts.tts.lightning.TTSLightning builds them), one Adam step per batch, the gradient norm clipped at
train.grad_clip, a step with a non-finite loss or gradient skipped and counted. A loop of its own because
`levytts train` reads wavs through the data stack the lent machine lacks; where that stack is installed,
`levytts train trainer.accelerator=gpu` is the way. Batches are utterances drawn uniformly with replacement
(not the resumable epoch order of `levytts train`); several alphas train in one loop on the same batches (one
step each per iteration), so only the noise law differs between them. The learning rate warms up linearly
over --warmup steps, stays, and from 40 % of the run falls along a half cosine to --final-lr at its end; the
run's length is --steps, or (--budget) the steps that fit in that many seconds at the step time measured over
iterations 30-130. Writes the EMA decoder weights (fp32, two shards per alpha, ema_a<alpha>_{0,1}.pt: under
the 16 MiB a file the lent machine returns) every --save-every seconds and at the end.

to-ckpt: the shards → a training-format checkpoint that `levytts synth`, `levytts imbalanced synth`, `levytts
eval` and `levytts export` read: the pack's config with ALPHA, the frozen encoder and mel statistics, the EMA
decoder as both the model.* and ema.module.* weights (the raw weights and Adam's state stay on the GPU
machine), and the global step (shard step + --step-offset, for a run started from a CPU checkpoint).
The two shards must be the two halves of one snapshot of one run (run id, step, α, batch; together exactly
the decoder's weights, all finite): a copy stopped mid-way, or halves of two runs, are refused.

The frozen encoder: pack records the path and SHA-256 of CKPT's model.encoder.pretrained in hp.json but does not
carry the file (it is levytts/pretrained/demo_voice.pt for the offline recipe). train and to-ckpt read it from that
path, or else from this checkout's levytts/pretrained/ under the same file name, and refuse a file whose SHA-256
differs from the recorded one.

--init (train) takes a levytts training checkpoint of the packed run (its EMA decoder, ema.module.decoder.*,
is what every decoder starts from), a shard train wrote (ema_a<alpha>_0.pt or _1.pt: both halves are read), or
a file {'state': {'ema.module.decoder.…': tensor, …}, 'step': int} holding the whole EMA decoder. Bad arguments
and files are one-line errors (`gpu_decoder.py <command>: error: …`, exit 2), checked before anything is
written.
"""
from __future__ import annotations

import argparse
import json
import lzma
import math
import os
import re
import sys
import time
import uuid
import zipfile
from pathlib import Path

import numpy as np
import torch

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


class UsageError(Exception):
    """A one-line error for the user: main() prints ``gpu_decoder.py <command>: error: <message>`` and exits 2."""


EMA_PREFIXES = ("ema.module.decoder.", "ema.module.spk_emb.")  # the weights train writes and to-ckpt reads
SHARD_NAME = re.compile(r"ema_a(?P<alpha>[0-9.]+)_(?P<half>[01])\.pt$")
INT_MAX = 2**62  # argparse ints above this would overflow torch's int64 (steps)


def encoder_path(cfg: dict, digest: dict | None) -> str:
    """The frozen encoder's checkpoint: the config's ``model.encoder.pretrained`` where that file exists, else (on
    another machine) the file of that name in this checkout's levytts/pretrained/ (said on stdout). ``digest``:
    the {"bytes", "sha256"} pack recorded; a file that differs is refused. UsageError when neither file exists."""
    from levytts.tune_targets import file_digest

    path = cfg["model"]["encoder"].get("pretrained")
    if not path:
        raise UsageError("the pack's config names no frozen encoder (model.encoder.pretrained)")
    here = path if os.path.isfile(path) else os.path.join(REPO, "levytts", "pretrained", os.path.basename(path))
    if not os.path.isfile(here):
        raise UsageError(f"the frozen encoder {path} is not here, nor {here}: copy it to either place")
    if digest is not None and file_digest(here) != digest:
        raise UsageError(f"the frozen encoder {here} is not the file the pack was made with (SHA-256 differs)")
    if here != path:
        print(f"gpu_decoder.py: the frozen encoder {path} is not on this machine: using {here} "
              f"({'same SHA-256' if digest else 'same file name'})", flush=True)
    return here


def read_hp(pack_dir: str) -> dict:
    """PACK_DIR/hp.json (the packed run's hyper-parameters); UsageError when the directory or file is missing or
    lacks a key train and to-ckpt read."""
    if not os.path.isdir(pack_dir):
        raise UsageError(f"no pack directory {pack_dir} (make one with `gpu_decoder.py pack CKPT {pack_dir}`)")
    path = os.path.join(pack_dir, "hp.json")
    if not os.path.isfile(path):
        raise UsageError(f"{pack_dir} is not a pack: it has no hp.json")
    try:
        with open(path) as f:
            hp = json.load(f)
        cfg = hp["cfg"]
        cfg["model"]["encoder"], cfg["diffusion"]["alpha"], cfg["train"]["grad_clip"], cfg["trainer"]  # noqa: B018
        cfg["data"]["hop_length"], cfg["data"]["sample_rate"], hp["add_blank"]  # noqa: B018
        if not isinstance(hp["symbols"]["symbols"], list) or not isinstance(hp["speakers"], list):
            raise TypeError("symbols.symbols and speakers must be lists")
    except (ValueError, KeyError, TypeError) as err:
        raise UsageError(f"{path} is not a pack's hp.json ({type(err).__name__}: {err})") from None
    return hp


def parse_alpha(text: str) -> float:
    """argparse type: an α in [0.5, 2] (levytts.levy.noise.check_alpha), written as train writes it (2 → 2.0)."""
    from levytts.levy.noise import check_alpha

    try:
        return check_alpha(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def positive(kind):
    """argparse type: a finite number of type ``kind`` that is > 0 (ints at most 2^62); the rule is
    levytts.cli_types.check_number's, the message this script's."""
    from levytts.cli_types import check_number

    def parse(text: str):
        try:
            return check_number(text, integer=kind is int, low=0, low_open=True, high=INT_MAX if kind is int else None)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be finite and > 0, got {text}") from None
    parse.__name__ = f"positive {kind.__name__}"
    return parse


def int_in(low: int, high: int = INT_MAX):
    """argparse type: an int in [low, high] (levytts.cli_types.check_number's rule)."""
    from levytts.cli_types import check_number

    def parse(text: str) -> int:
        try:
            return check_number(text, integer=True, low=low, high=high)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be in [{low}, {high}], got {text}") from None
    parse.__name__ = "int"
    return parse


def out_file(text: str) -> str:
    """argparse type: a file to write: not empty, not a directory, not ending in a path separator."""
    if not text or text.endswith(("/", os.sep)) or os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text!r} is a directory: name the file to write")
    return text


def out_dir(text: str) -> str:
    """argparse type: a directory to write into: not empty, not an existing file."""
    if not text:
        raise argparse.ArgumentTypeError("an empty directory name")
    if os.path.exists(text) and not os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text} is a file, not a directory")
    return text


def check_state(state, what: str) -> dict:
    """``state`` must map names to finite floating-point tensors; returns it, UsageError otherwise."""
    if not isinstance(state, dict) or not state:
        raise UsageError(f"{what} holds no weights")
    for k, v in state.items():
        if not isinstance(k, str) or not isinstance(v, torch.Tensor) or not v.is_floating_point():
            raise UsageError(f"{what}: {k!r} is not a floating-point tensor")
        if not torch.isfinite(v).all():
            raise UsageError(f"{what}: {k} holds non-finite values (a diverged run?)")
    return state


def load_torch(path: str, what: str):
    """torch.load of a file of one's own (a checkpoint or shard: pickled metadata, hence weights_only=False)."""
    if not os.path.isfile(path):
        raise UsageError(f"{what}: no file {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # noqa: BLE001  (pickle, zip and torch errors alike: the file is not a torch file)
        raise UsageError(f"{what}: {path} is not a torch file ({type(err).__name__}: {err})") from None


def load_shards(paths: list[str], what: str) -> tuple[dict, dict]:
    """The two halves ema_a<alpha>_{0,1}.pt of one snapshot → (merged {ema.module.*: tensor}, the _0 metadata).
    UsageError for a file that is not a shard, or halves of two snapshots or runs (run id, step, α, batch,
    final), or halves that share a weight."""
    parts = []
    for path in paths:
        part = load_torch(path, what)
        if not isinstance(part, dict) or not {"state", "step", "alpha", "batch", "final", "skipped"} <= set(part):
            raise UsageError(f"{what}: {path} is not a shard written by `gpu_decoder.py train`")
        if not all(isinstance(part[k], int) and part[k] >= 0 for k in ("step", "batch", "skipped")):
            raise UsageError(f"{what}: {path} has a damaged step/batch/skipped count")
        check_state(part["state"], f"{what}: {path}")
        parts.append(part)
    for key in ("run", "step", "alpha", "batch", "final"):  # "run": absent in shards of older runs
        if parts[0].get(key) != parts[1].get(key):
            raise UsageError(f"{what}: the shards disagree on {key}: {parts[0].get(key)} ({paths[0]}) vs "
                             f"{parts[1].get(key)} ({paths[1]}); copy both halves of the same snapshot")
    shared = set(parts[0]["state"]) & set(parts[1]["state"])
    if shared:
        raise UsageError(f"{what}: both shards hold {sorted(shared)[0]} (one half copied over the other?)")
    return {**parts[0]["state"], **parts[1]["state"]}, parts[0]


def load_init(path: str) -> tuple[dict, int]:
    """The EMA decoder weights that --init names (module docstring) → ({key without ``ema.module.``: fp32
    tensor}, step). UsageError for a missing, unreadable or weightless file."""
    m = SHARD_NAME.search(os.path.basename(path))
    if m:  # a shard train wrote: both halves
        halves = [os.path.join(os.path.dirname(path), f"ema_a{m['alpha']}_{j}.pt") for j in (0, 1)]
        state, meta = load_shards(halves, "--init")
        step = meta["step"]
    else:
        init = load_torch(path, "--init")
        if isinstance(init, dict) and "state" in init:
            state, step = init["state"], init.get("step", 0)
        elif isinstance(init, dict) and isinstance(init.get("state_dict"), dict):
            state = {k: v for k, v in init["state_dict"].items() if k.startswith(EMA_PREFIXES)}
            step = init.get("global_step", 0)
            if not state:
                raise UsageError(f"--init: {path} holds no EMA decoder (ema.module.decoder.*): a decoder run with "
                                 "EMA (train.ema_decay) is needed, not an encoder run or an exported voice")
        else:
            raise UsageError(f"--init: {path} holds neither EMA shards ('state') nor a training checkpoint ('state_dict')")
        if not isinstance(step, int) or step < 0:
            raise UsageError(f"--init: {path} has a damaged step {step!r}")
        check_state(state, f"--init: {path}")
    if not all(k.startswith(EMA_PREFIXES) for k in state):
        raise UsageError(f"--init: {path} holds weights other than the EMA decoder's ({next(k for k in state if not k.startswith(EMA_PREFIXES))})")
    return {k[len("ema.module."):]: v.float() for k, v in state.items()}, step


def build(hp: dict, alpha: float, encoder: str, **cfg_set):
    """TTSLightning of the pack's config with ``alpha`` and the frozen ``encoder`` (and the train/trainer keys of
    ``cfg_set``), or UsageError when the config or the encoder file does not build."""
    from levytts.tts.lightning import TTSLightning

    cfg = json.loads(json.dumps(hp["cfg"]))
    cfg["diffusion"]["alpha"] = alpha
    cfg["model"]["encoder"]["pretrained"] = encoder
    for key, value in cfg_set.items():
        section, name = key.split("__")
        cfg[section][name] = value
    try:
        m = TTSLightning(cfg, hp["symbols"], hp["speakers"], hp["add_blank"], hp.get("speaker_minutes"))
    except (ValueError, KeyError, TypeError, RuntimeError, FileNotFoundError) as err:
        raise UsageError(f"the pack's model does not build with the encoder {encoder} ({type(err).__name__}: "
                         f"{str(err).splitlines()[0] if str(err) else ''})") from None
    if m.ema is None:
        raise UsageError("the packed run trains without EMA (train.ema_decay), and the EMA weights are what this uses")
    return m, cfg


def pack(argv=None) -> None:
    p = argparse.ArgumentParser(prog="gpu_decoder.py pack", description="pack a decoder run's training split")
    p.add_argument("checkpoint", help="a levytts training checkpoint of a stage=decoder run with EMA")
    p.add_argument("out_dir", type=out_dir)
    p.add_argument("--split-mel", action="store_true", help="write the mel to OUT_DIR/mel.xz (lzma)")
    a = p.parse_args(argv)
    from levytts.data import read_filelist, read_speakers
    from levytts.text import SymbolTable
    from levytts.tts.checkpoint import load_checkpoint
    from levytts.tts.data import TTSDataset
    from levytts.tune_targets import file_digest

    if not os.path.isfile(a.checkpoint):
        raise UsageError(f"no checkpoint file {a.checkpoint}")
    try:
        ck = load_checkpoint(a.checkpoint, weights_only=False)  # a training checkpoint of one's own
    except (FileNotFoundError, ValueError) as err:
        raise UsageError(str(err)) from None
    cfg = ck.cfg
    if cfg.get("stage") != "decoder":
        raise UsageError(f"{a.checkpoint} is a stage={cfg.get('stage')} run: pack a stage=decoder run (a decoder "
                         "trained on a frozen, pretrained encoder)")
    if not cfg["model"]["encoder"].get("pretrained"):
        raise UsageError(f"{a.checkpoint} names no pretrained encoder (model.encoder.pretrained): train only "
                         "trains a decoder on a frozen encoder that is loaded from a file")
    if not cfg["train"].get("ema_decay"):
        raise UsageError(f"{a.checkpoint} trains without EMA (train.ema_decay): train writes the EMA weights")
    data = cfg["data"]
    if not data.get("textgrid_dir"):
        raise UsageError(f"{a.checkpoint} has no TextGrid durations (data.textgrid_dir): the pack stores durations")
    encoder = cfg["model"]["encoder"]["pretrained"]
    for key, path in (("speakers_file", data.get("speakers_file")), ("train_filelist_path", data.get("train_filelist_path")),
                      ("symbols_file", data.get("symbols_file")), ("model.encoder.pretrained", encoder)):
        if not path or not os.path.isfile(path):
            raise UsageError(f"the run's {key} {path} is not here (pack on the machine that trained it)")
    if not os.path.isdir(data["textgrid_dir"]):
        raise UsageError(f"the run's data.textgrid_dir {data['textgrid_dir']} is not here")
    speakers = read_speakers(data["speakers_file"])
    if speakers != ck.speakers:
        raise UsageError(f"{data['speakers_file']} lists {speakers}, the checkpoint {ck.speakers}")
    try:  # the dataset reads every wav's length: a missing, empty or unreadable file fails here
        ds = TTSDataset(read_filelist(data["train_filelist_path"]), SymbolTable.load(data["symbols_file"]), speakers,
                        data, data["textgrid_dir"], add_blank=False, cache=False)
    except (OSError, ValueError) as err:
        raise UsageError(str(err).splitlines()[0]) from None
    ids, durs, spk, mel, lo, step, n_frames = [], [], [], [], [], [], []
    max_err = 0.0
    for i in range(len(ds)):
        try:
            item = ds.load(i)
        except (OSError, ValueError) as err:  # a missing, empty or unreadable wav / TextGrid
            raise UsageError(f"utterance {i + 1} of {data['train_filelist_path']}: {str(err).splitlines()[0]}") from None
        m = item["mel"].numpy().astype(np.float64)  # (n_mels, T)
        low, high = m.min(1, keepdims=True), m.max(1, keepdims=True)
        q_step = np.maximum(high - low, 1e-6) / 255.0
        q = np.clip(np.round((m - low) / q_step), 0, 255).astype(np.uint8)
        max_err = max(max_err, float(np.abs(q * q_step + low - m).max()))
        ids.append(item["ids"].numpy())
        durs.append(item["durations"].numpy())
        spk.append(item["spk"])
        mel.append(q)
        lo.append(low[:, 0])
        step.append(q_step[:, 0])
        n_frames.append(m.shape[1])
    out = Path(a.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    arrays = dict(ids=np.concatenate(ids).astype(np.int16), id_len=np.array([len(x) for x in ids]),
                  durs=np.concatenate(durs).astype(np.int16), spk=np.array(spk, np.int16),
                  mel_len=np.array(n_frames), lo=np.stack(lo).astype(np.float32), step=np.stack(step).astype(np.float32))
    all_mel = np.concatenate(mel, 1)
    from levytts.audio.io import atomic_write

    if a.split_mel:
        with atomic_write(out / "mel.xz", suffix=".tmp") as tmp:
            Path(tmp).write_bytes(lzma.compress(np.ascontiguousarray(all_mel).tobytes(), preset=6))
        arrays["mel_shape"] = np.array(all_mel.shape)
    else:
        arrays["mel"] = all_mel
    with atomic_write(out / "pack.npz", suffix=".npz") as tmp:
        np.savez_compressed(tmp, **arrays)
    with atomic_write(out / "hp.json", suffix=".tmp") as tmp:
        Path(tmp).write_text(json.dumps({**ck.hyper_parameters, "encoder_digest": file_digest(encoder)}))
    hours = sum(n_frames) * data["hop_length"] / data["sample_rate"] / 3600
    print(f"gpu_decoder.py pack: {len(ds)} utterances, {sum(n_frames)} frames ({hours:.2f} h), largest quantisation error "
          f"{max_err:.4f} → {out} (the frozen encoder {encoder} is not packed: train and to-ckpt need it)")


def load_pack(pack_dir: str, device, hp: dict) -> dict:
    """pack.npz (+ mel.xz) → padded tensors on ``device``: ids/durs (N, L), mels (N, n_mels, T) raw log-mel, ...
    UsageError for a missing or damaged pack file, or ids / speakers outside ``hp``'s symbol table / speakers."""
    npz, xz = os.path.join(pack_dir, "pack.npz"), os.path.join(pack_dir, "mel.xz")
    if not os.path.isfile(npz):
        raise UsageError(f"{pack_dir} is not a pack: it has no pack.npz")
    try:
        with np.load(npz) as z:
            arr = {k: z[k] for k in z.files}
        if "mel" in arr:
            q = arr["mel"]
        elif not os.path.isfile(xz):
            raise UsageError(f"{pack_dir} was packed with --split-mel but has no mel.xz (copy it along with pack.npz)")
        else:
            with open(xz, "rb") as f:
                raw = lzma.decompress(f.read())
            q = np.frombuffer(raw, np.uint8).reshape(tuple(arr["mel_shape"]))
        id_len, mel_len = arr["id_len"].astype(np.int64), arr["mel_len"].astype(np.int64)
        n = len(id_len)
        if not (n and len(mel_len) == n == len(arr["spk"]) == len(arr["lo"]) == len(arr["step"])
                and id_len.sum() == len(arr["ids"]) == len(arr["durs"]) and mel_len.sum() == q.shape[1]
                and (id_len > 0).all() and (mel_len > 0).all()):
            raise ValueError("its arrays do not agree in length")
        if not (0 <= arr["ids"].min() and arr["ids"].max() < len(hp["symbols"]["symbols"])):
            raise ValueError(f"token ids outside the symbol table of {len(hp['symbols']['symbols'])}")
        if not (0 <= arr["spk"].min() and arr["spk"].max() < len(hp["speakers"])):
            raise ValueError(f"speaker ids outside the {len(hp['speakers'])} speakers of hp.json")
        ids = torch.zeros(n, int(id_len.max()), dtype=torch.long)
        durs = torch.zeros_like(ids)
        mels = torch.zeros(n, q.shape[0], int(mel_len.max()))
        io, mo = np.concatenate([[0], np.cumsum(id_len)]), np.concatenate([[0], np.cumsum(mel_len)])
        for i in range(n):
            ids[i, : id_len[i]] = torch.from_numpy(arr["ids"][io[i]: io[i + 1]].astype(np.int64))
            durs[i, : id_len[i]] = torch.from_numpy(arr["durs"][io[i]: io[i + 1]].astype(np.int64))
            mels[i, :, : mel_len[i]] = torch.from_numpy(q[:, mo[i]: mo[i + 1]].astype(np.float32)
                                                        * arr["step"][i][:, None] + arr["lo"][i][:, None])
    except UsageError:
        raise
    except (OSError, EOFError, ValueError, KeyError, IndexError, RuntimeError, zipfile.BadZipFile, lzma.LZMAError) as err:
        raise UsageError(f"{pack_dir}: damaged pack ({type(err).__name__}: {err})") from None
    if (durs < 0).any() or not torch.equal(durs.sum(1), torch.from_numpy(mel_len)):
        raise UsageError(f"{pack_dir}: damaged pack (its durations do not sum to its mel lengths)")
    t = dict(ids=ids, durs=durs, mels=mels, spk=torch.from_numpy(arr["spk"].astype(np.int64)),
             id_len=torch.from_numpy(id_len), mel_len=torch.from_numpy(mel_len))
    return {k: v.to(device) for k, v in t.items()}


def train(argv=None) -> None:
    from levytts.cli_types import SEED_MAX

    p = argparse.ArgumentParser(prog="gpu_decoder.py train", description="train decoders from a pack")
    p.add_argument("pack_dir")
    p.add_argument("out", type=out_dir)
    p.add_argument("--alphas", type=parse_alpha, nargs="+", default=[1.5, 2.0, 1.8], help="one decoder per α ∈ [0.5, 2]")
    p.add_argument("--batch", type=positive(int), default=256)
    p.add_argument("--lr", type=positive(float), default=1e-3)
    p.add_argument("--final-lr", type=positive(float), default=1e-5)
    p.add_argument("--warmup", type=int_in(0), default=300)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--steps", type=positive(int), help="steps per decoder")
    g.add_argument("--budget", type=positive(float), help="seconds of training: the steps follow from the step time "
                   "measured over iterations 30-130; a budget that ends before iteration 130 stops there, at the "
                   "peak learning rate (no decay)")
    p.add_argument("--save-every", type=positive(float), default=120.0, help="seconds between EMA snapshots")
    p.add_argument("--seed", type=int_in(0, SEED_MAX), default=1234)
    p.add_argument("--init", default=None, help="EMA decoder weights every decoder starts from: a levytts training "
                   "checkpoint of a decoder run, a shard train wrote (ema_a<alpha>_0.pt: both halves are read), or "
                   "{'state': {'ema.module.decoder.…': tensor, …}, 'step': int}; default: the config's initialisation")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="cpu or cuda[:N]")
    a = p.parse_args(argv)
    if len(set(a.alphas)) != len(a.alphas):
        raise UsageError(f"--alphas {' '.join(map(str, a.alphas))}: each α once (they share one output directory)")
    try:
        dev = torch.device(a.device)
    except RuntimeError as err:
        raise UsageError(f"--device {a.device}: {err}") from None
    if dev.type not in ("cpu", "cuda"):
        raise UsageError(f"--device {a.device}: cpu or cuda[:N]")
    if dev.type == "cuda" and (not torch.cuda.is_available() or (dev.index or 0) >= torch.cuda.device_count()):
        raise UsageError(f"--device {a.device}: this torch sees {torch.cuda.device_count()} CUDA device(s) (use --device cpu)")
    # every check (arguments, pack, encoder, --init, the models) before OUT is made
    hp = read_hp(a.pack_dir)
    init = load_init(a.init) if a.init else None
    d = load_pack(a.pack_dir, dev, hp)
    encoder = encoder_path(hp["cfg"], hp.get("encoder_digest"))
    from levytts.audio.io import atomic_write

    t_start = time.time()
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cudnn.benchmark = True
    torch.manual_seed(a.seed)
    runs, notes = [], []
    for alpha in a.alphas:
        m, cfg = build(hp, alpha, encoder)
        m = m.to(dev)
        if init is not None:
            try:
                res = m.model.load_state_dict(init[0], strict=False)
            except RuntimeError as err:  # a shape mismatch: another decoder width
                lines = [x.strip() for x in str(err).splitlines() if x.strip()]
                raise UsageError(f"--init: {a.init} does not fit this pack's decoder ({lines[min(1, len(lines) - 1)]})") from None
            if res.unexpected_keys or any(not k.startswith(("encoder.", "mel_")) for k in res.missing_keys):
                raise UsageError(f"--init: {a.init} does not hold this pack's decoder weights")
            notes.append(f"a{alpha}: init from {a.init} (step {init[1]})")
        m.train()
        params = [q for q in m.model.parameters() if q.requires_grad]
        runs.append(dict(alpha=alpha, m=m, params=params, opt=torch.optim.Adam(params, lr=a.lr), skipped=0,
                         loss=0.0, n=0, clip=float(cfg["train"]["grad_clip"] or math.inf)))
    os.makedirs(a.out, exist_ok=True)
    log = open(os.path.join(a.out, "log.txt"), "a")
    run_id = uuid.uuid4().hex  # stamped into every shard: to-ckpt refuses halves of two runs

    def say(text: str) -> None:
        print(text, flush=True)
        log.write(text + "\n")
        log.flush()

    n = len(d["id_len"])
    data_cfg = hp["cfg"]["data"]
    frame_s = data_cfg["hop_length"] / data_cfg["sample_rate"]
    say(f"run {run_id}: {n} utterances, {int(d['mel_len'].sum())} frames "
        f"({float(d['mel_len'].sum()) * frame_s / 3600:.3f} h), device {dev}"
        f"{' ' + torch.cuda.get_device_name(dev) if dev.type == 'cuda' else ''}")
    for note in notes:
        say(note)
    seg = runs[0]["m"].model.segment_frames
    say(f"trainable parameters per decoder: {sum(q.numel() for q in runs[0]['params'])}, segment {seg} frames, "
        f"t_sampling {hp['cfg']['diffusion'].get('t_sampling')}")

    def save(step: int, final: bool = False) -> None:
        for r in runs:
            sd = {k: v.detach().float().cpu() for k, v in r["m"].state_dict().items()
                  if k.startswith(EMA_PREFIXES)}
            keys = sorted(sd)
            for j, part in enumerate((keys[: len(keys) // 2], keys[len(keys) // 2:])):
                fn = os.path.join(a.out, f"ema_a{r['alpha']}_{j}.pt")
                with atomic_write(fn, suffix=".tmp") as tmp:  # a run stopped mid-write keeps the previous snapshot
                    torch.save({"state": {k: sd[k] for k in part}, "step": step, "alpha": r["alpha"],
                                "skipped": r["skipped"], "batch": a.batch, "final": final, "run": run_id,
                                "n_averaged": int(r["m"].ema.n_averaged)}, tmp)
        say(f"saved step {step} final={final}")

    def lr_at(step: int, total: int | None) -> float:
        if step < a.warmup:
            return a.lr * (step + 1) / a.warmup
        if total is None or step <= int(0.4 * total):
            return a.lr
        start = int(0.4 * total)
        frac = min(1.0, (step - start) / max(1, total - start))
        return a.final_lr + 0.5 * (a.lr - a.final_lr) * (1 + math.cos(math.pi * frac))

    total = a.steps
    step, t0 = 0, time.time()
    last_save, t_probe = t0, None
    gen = torch.Generator(device="cpu").manual_seed(a.seed)
    while True:
        idx = torch.randint(0, n, (a.batch,), generator=gen).to(dev)
        n_ids, n_frames = int(d["id_len"][idx].max()), int(d["mel_len"][idx].max())
        batch = {"ids": d["ids"][idx, :n_ids], "id_lengths": d["id_len"][idx], "mels": d["mels"][idx, :, :n_frames],
                 "mel_lengths": d["mel_len"][idx], "spk": d["spk"][idx], "durations": d["durs"][idx, :n_ids]}
        lr = lr_at(step, total)
        for r in runs:
            m = r["m"]
            m.model.encoder.eval()  # frozen: no dropout, fixed BatchNorm statistics (as TTSLightning.train)
            for group in r["opt"].param_groups:
                group["lr"] = lr
            loss = m.model.compute_loss(batch, "decoder")["loss"]
            if not torch.isfinite(loss):
                r["skipped"] += 1
                continue
            r["opt"].zero_grad(set_to_none=True)
            loss.backward()
            if not torch.isfinite(torch.nn.utils.clip_grad_norm_(r["params"], r["clip"])):
                r["skipped"] += 1
                continue
            r["opt"].step()
            m.ema.update_parameters(m.model)
            if step % 25 == 0:
                r["loss"] += float(loss.detach())
                r["n"] += 1
        step += 1
        now = time.time()
        if a.budget is not None and step == 30:
            if dev.type == "cuda":
                torch.cuda.synchronize()
            t_probe = time.time()
        if a.budget is not None and step == 130:
            if dev.type == "cuda":
                torch.cuda.synchronize()
            per = (time.time() - t_probe) / 100
            total = max(step, int((a.budget - (time.time() - t0)) / per) + step)
            say(f"step time {per * 1000:.1f} ms for {len(runs)} decoder(s) at batch {a.batch}: {total} steps")
        if step % 250 == 0:
            say(f"step {step} lr {lr:.2e} {now - t0:.0f} s " + " ".join(
                f"a{r['alpha']} loss {r['loss'] / max(r['n'], 1):.4f} skipped {r['skipped']}" for r in runs))
            for r in runs:
                r["loss"], r["n"] = 0.0, 0
        if now - last_save > a.save_every:
            save(step)
            last_save = now
        if (total is not None and step >= total) or (a.budget is not None and now - t0 > a.budget + 60):
            break
        if a.budget is not None and total is None and now - t0 >= a.budget:
            say(f"the budget ended at step {step}, before the step time was measured (iteration 130): no decay")
            break
    secs = time.time() - t0
    if runs[0]["n"]:  # the loss since the last report (a run shorter than 250 steps has had none)
        say(f"step {step} " + " ".join(f"a{r['alpha']} loss {r['loss'] / r['n']:.4f} skipped {r['skipped']}" for r in runs))
    save(step, final=True)
    say(f"done: {step} steps × batch {a.batch} × {seg} frames = {step * a.batch * seg * frame_s / 3600:.1f} h of "
        f"crops per decoder, {secs:.0f} s training, {time.time() - t_start:.0f} s in all")


def to_ckpt(argv=None) -> None:
    p = argparse.ArgumentParser(prog="gpu_decoder.py to-ckpt", description="EMA shards → a levytts checkpoint")
    p.add_argument("shard_dir")
    p.add_argument("alpha", type=parse_alpha)
    p.add_argument("pack_dir", help="the pack directory (its hp.json holds the config)")
    p.add_argument("out", type=out_file)
    p.add_argument("--step-offset", type=int_in(0), default=0,
                   help="steps the run's --init had already trained (the CPU checkpoint's global step)")
    a = p.parse_args(argv)
    parent = os.path.dirname(os.path.abspath(a.out))
    if os.path.exists(parent) and not os.path.isdir(parent):
        raise UsageError(f"{parent} is a file: the checkpoint cannot go there")
    paths = [os.path.join(a.shard_dir, f"ema_a{a.alpha}_{j}.pt") for j in (0, 1)]
    missing = [x for x in paths if not os.path.isfile(x)]
    if missing:
        raise UsageError(f"no shard {missing[0]} (alphas are written as train's --alphas, e.g. 2.0)")
    hp = read_hp(a.pack_dir)
    shards, meta = load_shards(paths, "to-ckpt")
    if float(meta["alpha"]) != a.alpha:
        raise UsageError(f"{paths[0]} holds α = {meta['alpha']}, not {a.alpha}")
    from levytts.audio.io import atomic_write

    step = meta["step"] + a.step_offset
    m, cfg = build(hp, a.alpha, encoder_path(hp["cfg"], hp.get("encoder_digest")), train__batch_size=meta["batch"],
                   trainer__max_steps=step)
    sd = m.state_dict()
    expected = {k for k in sd if k.startswith(EMA_PREFIXES)}
    if set(shards) != expected:
        extra, lost = sorted(set(shards) - expected), sorted(expected - set(shards))
        raise UsageError(f"the shards do not hold exactly this pack's decoder: {len(lost)} weight(s) missing"
                         f"{' (' + lost[0] + ', …)' if lost else ''}, {len(extra)} unknown{' (' + extra[0] + ', …)' if extra else ''}")
    for k, v in shards.items():
        if sd[k].shape != v.shape:
            raise UsageError(f"{k}: shape {tuple(v.shape)} in the shards, {tuple(sd[k].shape)} in this pack's model")
    # the EMA copy is made before the pretrained encoder and mel statistics are loaded (in training the first EMA
    # update copies them): every weight the shards do not hold comes from the model
    for k in list(sd):
        if k.startswith("model."):
            sd["ema.module." + k[len("model."):]] = sd[k].clone()
    for k, v in shards.items():
        sd[k] = v.to(sd[k].dtype)
        sd["model." + k[len("ema.module."):]] = v.to(sd[k].dtype).clone()
    # EMA updates so far (older shards lack the count: one update per step that was not skipped) and skipped steps
    n_averaged = meta.get("n_averaged", meta["step"] - meta["skipped"])
    sd["ema.n_averaged"] = torch.tensor(n_averaged + a.step_offset, dtype=sd["ema.n_averaged"].dtype)
    sd["skipped_steps"] = torch.tensor(meta["skipped"], dtype=sd["skipped_steps"].dtype)
    m.load_state_dict(sd)
    hyper = {k: v for k, v in hp.items() if k != "encoder_digest"}
    os.makedirs(parent, exist_ok=True)
    with atomic_write(a.out, suffix=".tmp") as tmp:
        torch.save({"state_dict": m.state_dict(), "hyper_parameters": {**hyper, "cfg": cfg}, "global_step": step,
                    "levytts": {"format": 1, "skipped_steps": meta["skipped"], "global_step": step}}, tmp)
    print(f"gpu_decoder.py to-ckpt: {a.out} (alpha {a.alpha}, step {step}, batch {meta['batch']}, final {meta['final']})")


COMMANDS = {"pack": pack, "train": train, "to-ckpt": to_ckpt}


def main(argv=None) -> None:
    """Run one subcommand; a UsageError becomes ``gpu_decoder.py <command>: error: <message>`` and exit status 2."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] in (["-h"], ["--help"]):
        print(__doc__)
        return
    if not argv or argv[0] not in COMMANDS:
        print("usage: gpu_decoder.py {pack,train,to-ckpt} ... (-h alone for the documentation, after a command for its "
              "options)", file=sys.stderr)
        raise SystemExit(2)
    try:
        COMMANDS[argv[0]](argv[1:])
    except (UsageError, OSError) as err:  # OSError: an output path that cannot be written (permissions, a full disk)
        print(f"gpu_decoder.py {argv[0]}: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
