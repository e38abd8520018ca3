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
The two shards must come from one snapshot (same step, α, batch): a copy stopped mid-way is refused.

--init (train) takes a levytts training checkpoint of the packed run (its EMA decoder, ema.module.decoder.*,
is what every decoder starts from) or a file in the shard format ({'state': {'ema.module.decoder.…': tensor},
'step': int}). Bad arguments and files are one-line errors (`gpu_decoder.py <command>: error: …`, exit 2).
"""
from __future__ import annotations

import argparse
import json
import lzma
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


class UsageError(Exception):
    """A one-line error for the user: main() prints ``gpu_decoder.py <command>: error: <message>`` and exits 2."""


def encoder_path(cfg: dict) -> str:
    """The frozen encoder's checkpoint: the config's ``model.encoder.pretrained`` where that file exists, else (on
    another machine) the file of that name in this checkout's levytts/pretrained/ (the bundled demo voice), said on
    stdout. UsageError when neither exists."""
    path = cfg["model"]["encoder"].get("pretrained")
    if not path:
        raise UsageError("the pack's config names no frozen encoder (model.encoder.pretrained): pack a stage=decoder run")
    if os.path.isfile(path):
        return path
    here = os.path.join(REPO, "levytts", "pretrained", os.path.basename(path))
    if not os.path.isfile(here):
        raise UsageError(f"the frozen encoder {path} is not here, nor {here}")
    print(f"gpu_decoder.py: the frozen encoder {path} is not on this machine: using {here} (same file name)", flush=True)
    return here


def read_hp(pack_dir: str) -> dict:
    """PACK_DIR/hp.json (the packed run's hyper-parameters); UsageError when the directory or file is missing."""
    if not os.path.isdir(pack_dir):
        raise UsageError(f"no pack directory {pack_dir} (make one with `gpu_decoder.py pack CKPT {pack_dir}`)")
    path = os.path.join(pack_dir, "hp.json")
    if not os.path.isfile(path):
        raise UsageError(f"{pack_dir} is not a pack: it has no hp.json")
    try:
        with open(path) as f:
            hp = json.load(f)
        hp["cfg"]["diffusion"], hp["symbols"], hp["speakers"]  # noqa: B018  (the keys train and to-ckpt read)
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
    """argparse type: a number of type ``kind`` that is > 0."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a {kind.__name__}: {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value
    parse.__name__ = f"positive {kind.__name__}"
    return parse


def non_negative_int(text: str) -> int:
    """argparse type: an int ≥ 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an int: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be ≥ 0, got {text}")
    return value


def load_init(path: str) -> tuple[dict, int]:
    """The EMA decoder weights that --init names: a shard-format file ({"state": {ema.module.*: tensor}, "step"})
    or a levytts training checkpoint (its ema.module.decoder.* and ema.module.spk_emb.* weights) → (keys without
    the ``ema.module.`` prefix → fp32 tensor, step). UsageError for a missing or unreadable file."""
    if not os.path.isfile(path):
        raise UsageError(f"--init: no file {path}")
    try:
        init = torch.load(path, map_location="cpu", weights_only=False)  # a file of one's own (see --help)
    except Exception as err:  # noqa: BLE001  (pickle, zip and torch errors alike: the file is not a checkpoint)
        raise UsageError(f"--init: {path} is not a torch file ({type(err).__name__}: {err})") from None
    if isinstance(init, dict) and isinstance(init.get("state"), dict):
        state, step = init["state"], int(init.get("step", 0))
    elif isinstance(init, dict) and isinstance(init.get("state_dict"), dict):
        state = {k: v for k, v in init["state_dict"].items()
                 if k.startswith(("ema.module.decoder.", "ema.module.spk_emb."))}
        step = int(init.get("global_step", 0))
    else:
        raise UsageError(f"--init: {path} holds neither EMA shards ('state') nor a training checkpoint ('state_dict')")
    if not state or not all(k.startswith("ema.module.") for k in state):
        raise UsageError(f"--init: {path} holds no EMA decoder weights (ema.module.decoder.*): was it trained with EMA?")
    return {k[len("ema.module."):]: v.float() for k, v in state.items()}, step


def pack(argv=None) -> None:
    p = argparse.ArgumentParser(prog="gpu_decoder.py pack", description="pack a decoder run's training split")
    p.add_argument("checkpoint")
    p.add_argument("out_dir")
    p.add_argument("--split-mel", action="store_true", help="write the mel to OUT_DIR/mel.xz (lzma)")
    a = p.parse_args(argv)
    from levytts.data import read_filelist, read_speakers
    from levytts.text import SymbolTable
    from levytts.tts.checkpoint import load_checkpoint
    from levytts.tts.data import TTSDataset

    try:
        ck = load_checkpoint(a.checkpoint, weights_only=False)  # a training checkpoint of one's own
    except (FileNotFoundError, ValueError) as err:
        raise UsageError(str(err)) from None
    if ck.cfg.get("stage") != "decoder" or not ck.cfg["model"]["encoder"].get("pretrained"):
        raise UsageError(f"{a.checkpoint} is a stage={ck.cfg.get('stage')} run: pack a stage=decoder run (a decoder "
                         "trained on a frozen, pretrained encoder)")
    data = ck.cfg["data"]
    speakers = read_speakers(data["speakers_file"])
    if speakers != ck.speakers:
        raise UsageError(f"{data['speakers_file']} lists {speakers}, the checkpoint {ck.speakers}")
    ds = TTSDataset(read_filelist(data["train_filelist_path"]), SymbolTable.load(data["symbols_file"]), speakers,
                    data, data["textgrid_dir"], add_blank=False, cache=False)
    ids, durs, spk, mel, lo, step, n_frames = [], [], [], [], [], [], []
    max_err = 0.0
    for i in range(len(ds)):
        item = ds.load(i)
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
    if a.split_mel:
        (out / "mel.xz").write_bytes(lzma.compress(np.ascontiguousarray(all_mel).tobytes(), preset=6))
        arrays["mel_shape"] = np.array(all_mel.shape)
    else:
        arrays["mel"] = all_mel
    np.savez_compressed(out / "pack.npz", **arrays)
    json.dump(ck.hyper_parameters, open(out / "hp.json", "w"))
    hours = sum(n_frames) * data["hop_length"] / data["sample_rate"] / 3600
    print(f"gpu_decoder.py pack: {len(ds)} utterances, {sum(n_frames)} frames ({hours:.2f} h), largest quantisation error "
          f"{max_err:.4f} → {out}")


def load_pack(pack_dir: str, device) -> dict:
    """pack.npz (+ mel.xz) → padded tensors on ``device``: ids/durs (N, L), mels (N, n_mels, T) raw log-mel, ...
    UsageError for a missing or damaged pack file."""
    npz, xz = os.path.join(pack_dir, "pack.npz"), os.path.join(pack_dir, "mel.xz")
    if not os.path.isfile(npz):
        raise UsageError(f"{pack_dir} is not a pack: it has no pack.npz")
    try:
        z = np.load(npz)
        if "mel" in z.files:
            q = z["mel"]
        elif not os.path.isfile(xz):
            raise UsageError(f"{pack_dir} was packed with --split-mel but has no mel.xz (copy it along with pack.npz)")
        else:
            with open(xz, "rb") as f:
                raw = lzma.decompress(f.read())
            q = np.frombuffer(raw, np.uint8).reshape(tuple(z["mel_shape"]))
    except (OSError, ValueError, KeyError, lzma.LZMAError) as err:
        raise UsageError(f"{pack_dir}: damaged pack ({type(err).__name__}: {err})") from None
    id_len, mel_len = z["id_len"].astype(np.int64), z["mel_len"].astype(np.int64)
    n = len(id_len)
    ids = torch.zeros(n, int(id_len.max()), dtype=torch.long)
    durs = torch.zeros_like(ids)
    mels = torch.zeros(n, q.shape[0], int(mel_len.max()))
    io, mo = np.concatenate([[0], np.cumsum(id_len)]), np.concatenate([[0], np.cumsum(mel_len)])
    for i in range(n):
        ids[i, : id_len[i]] = torch.from_numpy(z["ids"][io[i]: io[i + 1]].astype(np.int64))
        durs[i, : id_len[i]] = torch.from_numpy(z["durs"][io[i]: io[i + 1]].astype(np.int64))
        mels[i, :, : mel_len[i]] = torch.from_numpy(q[:, mo[i]: mo[i + 1]].astype(np.float32) * z["step"][i][:, None]
                                                    + z["lo"][i][:, None])
    if not torch.equal(durs.sum(1), torch.from_numpy(mel_len)):
        raise UsageError("the pack's durations do not sum to its mel lengths")
    t = dict(ids=ids, durs=durs, mels=mels, spk=torch.from_numpy(z["spk"].astype(np.int64)),
             id_len=torch.from_numpy(id_len), mel_len=torch.from_numpy(mel_len))
    return {k: v.to(device) for k, v in t.items()}


def train(argv=None) -> None:
    p = argparse.ArgumentParser(prog="gpu_decoder.py train", description="train decoders from a pack")
    p.add_argument("pack_dir")
    p.add_argument("out")
    p.add_argument("--alphas", type=parse_alpha, nargs="+", default=[1.5, 2.0, 1.8], help="one decoder per α ∈ [0.5, 2]")
    p.add_argument("--batch", type=positive(int), default=256)
    p.add_argument("--lr", type=positive(float), default=1e-3)
    p.add_argument("--final-lr", type=positive(float), default=1e-5)
    p.add_argument("--warmup", type=non_negative_int, default=300)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--steps", type=positive(int), help="steps per decoder")
    g.add_argument("--budget", type=positive(float), help="seconds of training: the steps follow from the step time "
                   "measured over iterations 30-130; a budget that ends before iteration 130 stops there, at the "
                   "peak learning rate (no decay)")
    p.add_argument("--save-every", type=positive(float), default=120.0, help="seconds between EMA snapshots")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--init", default=None, help="EMA decoder weights every decoder starts from: a levytts training "
                   "checkpoint (its ema.module.decoder.* weights) or an ema_a<alpha>_<j>.pt-format file "
                   "({'state': {'ema.module.decoder.…': tensor}, 'step': int}); default: the config's initialisation")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    a = p.parse_args(argv)
    if len(set(a.alphas)) != len(a.alphas):
        raise UsageError(f"--alphas {' '.join(map(str, a.alphas))}: each α once (they share one output directory)")
    try:
        dev = torch.device(a.device)
    except RuntimeError as err:
        raise UsageError(f"--device {a.device}: {err}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"--device {a.device}: this torch sees no CUDA device (use --device cpu)")
    hp = read_hp(a.pack_dir)
    init = load_init(a.init) if a.init else None
    if os.path.exists(a.out) and not os.path.isdir(a.out):
        raise UsageError(f"{a.out} is a file, not a directory")
    from levytts.audio.io import atomic_write
    from levytts.tts.lightning import TTSLightning

    t_start = time.time()
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cudnn.benchmark = True
    torch.manual_seed(a.seed)
    d = load_pack(a.pack_dir, dev)
    encoder = encoder_path(hp["cfg"])
    os.makedirs(a.out, exist_ok=True)
    log = open(os.path.join(a.out, "log.txt"), "a")

    def say(text: str) -> None:
        print(text, flush=True)
        log.write(text + "\n")
        log.flush()

    n = len(d["id_len"])
    data_cfg = hp["cfg"]["data"]
    frame_s = data_cfg["hop_length"] / data_cfg["sample_rate"]
    say(f"data: {n} utterances, {int(d['mel_len'].sum())} frames ({float(d['mel_len'].sum()) * frame_s / 3600:.3f} h), "
        f"device {dev}{' ' + torch.cuda.get_device_name() if dev.type == 'cuda' else ''}")
    runs = []
    for alpha in a.alphas:
        cfg = json.loads(json.dumps(hp["cfg"]))
        cfg["diffusion"]["alpha"] = alpha
        cfg["model"]["encoder"]["pretrained"] = encoder
        m = TTSLightning(cfg, hp["symbols"], hp["speakers"], hp["add_blank"], hp.get("speaker_minutes")).to(dev)
        if m.ema is None:
            raise UsageError("the packed run trains without EMA (train.ema_decay), and the EMA weights are what this writes")
        if init is not None:
            try:
                res = m.model.load_state_dict(init[0], strict=False)
            except RuntimeError as err:  # a shape mismatch: another decoder width
                raise UsageError(f"--init: {a.init} does not fit this pack's decoder ({str(err).splitlines()[1].strip()})") from None
            if res.unexpected_keys or any(not k.startswith(("encoder.", "mel_")) for k in res.missing_keys):
                raise UsageError(f"--init: {a.init} does not hold this decoder's weights")
            say(f"init from {a.init} (step {init[1]})")
        m.train()
        params = [q for q in m.model.parameters() if q.requires_grad]
        runs.append(dict(alpha=alpha, m=m, params=params, opt=torch.optim.Adam(params, lr=a.lr), skipped=0,
                         loss=0.0, n=0, clip=float(cfg["train"]["grad_clip"] or math.inf)))
    seg = runs[0]["m"].model.segment_frames
    say(f"trainable parameters per decoder: {sum(q.numel() for q in runs[0]['params'])}, segment {seg} frames, "
        f"t_sampling {hp['cfg']['diffusion'].get('t_sampling')}")

    def save(step: int, final: bool = False) -> None:
        for r in runs:
            sd = {k: v.detach().float().cpu() for k, v in r["m"].state_dict().items()
                  if k.startswith(("ema.module.decoder.", "ema.module.spk_emb."))}
            keys = sorted(sd)
            for j, part in enumerate((keys[: len(keys) // 2], keys[len(keys) // 2:])):
                fn = os.path.join(a.out, f"ema_a{r['alpha']}_{j}.pt")
                with atomic_write(fn, suffix=".tmp") as tmp:  # a run stopped mid-write keeps the previous snapshot
                    torch.save({"state": {k: sd[k] for k in part}, "step": step, "alpha": r["alpha"],
                                "skipped": r["skipped"], "batch": a.batch, "final": final,
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
    p.add_argument("out")
    p.add_argument("--step-offset", type=non_negative_int, default=0,
                   help="steps the run's --init had already trained (the CPU checkpoint's global step)")
    a = p.parse_args(argv)
    if os.path.isdir(a.out):
        raise UsageError(f"{a.out} is a directory: name the checkpoint file to write (e.g. {a.out}/a{a.alpha}.ckpt)")
    paths = [os.path.join(a.shard_dir, f"ema_a{a.alpha}_{j}.pt") for j in (0, 1)]
    missing = [x for x in paths if not os.path.isfile(x)]
    if missing:
        raise UsageError(f"no shard {missing[0]} (alphas are written as train's --alphas, e.g. 2.0)")
    hp = read_hp(a.pack_dir)
    parts = []
    for x in paths:
        try:
            part = torch.load(x, map_location="cpu", weights_only=False)  # written by train, a file of one's own
        except Exception as err:  # noqa: BLE001  (pickle, zip and torch errors alike)
            raise UsageError(f"{x} is not a torch file ({type(err).__name__}: {err})") from None
        if not isinstance(part, dict) or not {"state", "step", "alpha", "batch", "final", "skipped"} <= set(part):
            raise UsageError(f"{x} is not a shard written by `gpu_decoder.py train`")
        parts.append(part)
    for key in ("step", "alpha", "batch", "final"):  # the halves of one snapshot (a copy stopped mid-way mixes two)
        if parts[0][key] != parts[1][key]:
            raise UsageError(f"the shards disagree on {key}: {parts[0][key]} ({paths[0]}) vs {parts[1][key]} "
                             f"({paths[1]}); copy both from the same snapshot")
    if float(parts[0]["alpha"]) != a.alpha:
        raise UsageError(f"{paths[0]} holds α = {parts[0]['alpha']}, not {a.alpha}")
    from levytts.audio.io import atomic_write
    from levytts.tts.lightning import TTSLightning

    shards = {**parts[0]["state"], **parts[1]["state"]}
    step = parts[0]["step"] + a.step_offset
    cfg = json.loads(json.dumps(hp["cfg"]))
    cfg["diffusion"]["alpha"] = a.alpha
    cfg["model"]["encoder"]["pretrained"] = encoder_path(cfg)
    cfg["train"]["batch_size"] = parts[0]["batch"]
    cfg["trainer"]["max_steps"] = step
    m = TTSLightning(cfg, hp["symbols"], hp["speakers"], hp["add_blank"], hp.get("speaker_minutes"))
    sd = m.state_dict()
    # the EMA copy is made before the pretrained encoder and mel statistics are loaded (in training the first EMA
    # update copies them): every weight the shards do not hold comes from the model
    for k in list(sd):
        if k.startswith("model."):
            sd["ema.module." + k[len("model."):]] = sd[k].clone()
    for k, v in shards.items():
        if k not in sd or sd[k].shape != v.shape:
            raise UsageError(f"{k} is not a weight of this pack's model{' (shape)' if k in sd else ''}: wrong pack?")
        sd[k] = v
        sd["model." + k[len("ema.module."):]] = v.clone()
    # EMA updates so far (older shards lack the count: one update per step that was not skipped) and skipped steps
    n_averaged = parts[0].get("n_averaged", parts[0]["step"] - parts[0]["skipped"])
    sd["ema.n_averaged"] = torch.tensor(n_averaged + a.step_offset, dtype=sd["ema.n_averaged"].dtype)
    sd["skipped_steps"] = torch.tensor(parts[0]["skipped"], dtype=sd["skipped_steps"].dtype)
    m.load_state_dict(sd)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with atomic_write(a.out, suffix=".tmp") as tmp:
        torch.save({"state_dict": m.state_dict(), "hyper_parameters": {**hp, "cfg": cfg}, "global_step": step,
                    "levytts": {"format": 1, "skipped_steps": parts[0]["skipped"], "global_step": step}}, tmp)
    print(f"gpu_decoder.py to-ckpt: {a.out} (alpha {a.alpha}, step {step}, batch {parts[0]['batch']}, final {parts[0]['final']})")


COMMANDS = {"pack": pack, "train": train, "to-ckpt": to_ckpt}


def main(argv=None) -> None:
    """Run one subcommand; a UsageError becomes ``gpu_decoder.py <command>: error: <message>`` and exit status 2."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] in (["-h"], ["--help"]):
        print(__doc__)
        return
    if not argv or argv[0] not in COMMANDS:
        raise SystemExit("usage: gpu_decoder.py {pack,train,to-ckpt} ... (-h after one for its options)")
    try:
        COMMANDS[argv[0]](argv[1:])
    except UsageError as err:
        print(f"gpu_decoder.py {argv[0]}: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
