"""Model targets of `levytts tune-eta --checkpoint` (:mod:`levytts.tune_eta`): what "the metric" of a candidate η_t
is for a trained TTS voice or an image run.

    levytts tune-eta --checkpoint voice.pt --filelist val.txt --solver ei --steps 10 --out D --export tuned.pt
    levytts tune-eta --checkpoint exp/image/fashion_mnist_lt/lim_alpha1.8 --samples 1000 --solver ei --steps 20 --out D

:func:`make_target` picks the target from ``--checkpoint``: a FILE is a TTS checkpoint (training ``.ckpt`` or an
exported voice), a DIRECTORY an image run dir (holding ``model.ckpt``). Both provide what :class:`~levytts.tune_eta.
Tuner` uses: ``alpha``, ``T``, ``metric``, ``direction`` (+1 lower is better, -1 higher), ``settings()``,
``evaluate(spec, seed) -> (metrics, network calls)`` (deterministic per (spec, seed)) and ``calls_per_run(steps)``;
the TTS target also ``export(summary)``.

TTS (:class:`TTSTarget`): the first ``--max-utts`` utterances of ``--filelist`` (taken in turn from each speaker, so
a short budget still sees every speaker; ``--speakers`` keeps some only) are synthesised with the candidate sampler
from T, utterance i with the generator of its position in the filelist (the rule of `levytts imbalanced synth`), in
one batch (``--batch-size``) and vocoded; the wavs stay in ``OUT/wavs/<condition dir>_seed<seed>/`` to listen to.
They are scored by `levytts eval`'s own code (:func:`levytts.eval.report.evaluate`, references: the filelist's
recordings): ``similarity`` (default, higher is better) = mean speaker similarity (GE2E) of the synthesised
utterances to their own speaker's other references; ``wer`` (lower is better) = corpus pocketsphinx WER. An
utterance that cannot be scored (silent, non-finite, too short) counts as the worst: similarity 0 (GE2E cosines are
>= 0; -1 for another scorer), all its words wrong. Network calls: (N + 1) per batch of utterances.

Image (:class:`ImageTarget`): ``--samples`` images drawn as `levytts image sample` draws them (one generator per
image, :func:`levytts.image.sampling.generate`), scored in the features of the run's classifier as `levytts image
evaluate` does: ``fd`` (default, lower is better) = Fréchet distance to the real set, ``coverage`` (higher is
better) and the other PRDC numbers. Real set: ``<exp_dir>/data/<--real>.npz`` (default ``train``, the config's
``eval.real``: Popov et al. compare with the long-tail training set), classifier ``<exp_dir>/classifier.pt``, with
``exp_dir`` = the run dir's parent (the config's ``run_dir: ${exp_dir}/${run_name}``). Network calls: (N + 1) per
batch of images.
"""
from __future__ import annotations

import hashlib
import math
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from levytts.cli import UserError
from levytts.levy.spec import SamplerSpec

#: metric → (direction, description); direction +1: lower is better, -1: higher is better.
TTS_METRICS = {"similarity": (-1, "mean speaker similarity to the speaker's references (GE2E)"),
               "wer": (1, "corpus WER of pocketsphinx")}
IMAGE_METRICS = {"fd": (1, "Fréchet distance in classifier features"), "coverage": (-1, "PRDC coverage"),
                 "precision": (-1, "PRDC precision"), "recall": (-1, "PRDC recall"), "density": (-1, "PRDC density")}
DEFAULT_MAX_UTTS = 8
DEFAULT_IMAGE_SAMPLES = 1000
DEFAULT_IMAGE_BATCH = 500


def file_digest(path: str | Path) -> dict:
    """``{"bytes": size, "sha256": hash of the whole file}``: identifies a checkpoint / data file in the settings
    of a search (a retrained or replaced file is another search)."""
    path = Path(path)
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return {"bytes": path.stat().st_size, "sha256": h.hexdigest()}


class _CallCounter:
    """Counts forward calls of a module (one ε̂ evaluation of one batch each) through a forward hook."""

    def __init__(self, module: torch.nn.Module):
        self.n = 0
        self._handle = module.register_forward_hook(self._hook)

    def _hook(self, *_):
        self.n += 1


def _check_metric(metric: str | None, table: dict, default: str, what: str) -> str:
    metric = metric or default
    if metric not in table:
        raise UserError(f"unknown metric {metric!r} for {what}; valid: {', '.join(table)}")
    return metric


# ------------------------------------------------------------------------------------------------ TTS
class TTSTarget:
    """Speaker similarity or WER of a TTS checkpoint's syntheses of a validation filelist (see the module doc)."""

    def __init__(self, checkpoint: str | Path, filelist: str | Path, out: str | Path, metric: str | None = None,
                 max_utts: int = DEFAULT_MAX_UTTS, speakers: list[str] | None = None, vocoder: str = "universal",
                 scorer: str = "ge2e", ref_dir: str | Path | None = None, max_refs: int | None = None,
                 batch_size: int = 16, export_path: str | Path | None = None, device: str = "cpu"):
        from levytts.data import read_filelist
        from levytts.eval.speaker import make_scorer
        from levytts.experiments.imbalanced import load_tts

        self.metric = _check_metric(metric, TTS_METRICS, "similarity", "a TTS checkpoint")
        self.direction = TTS_METRICS[self.metric][0]
        if filelist is None:
            raise UserError("--checkpoint with a TTS checkpoint needs --filelist (the validation utterances to "
                            "synthesise and score: wav_path|speaker|text lines)")
        if max_utts < 1 or batch_size < 1:
            raise UserError(f"--max-utts and --batch-size must be >= 1, got {max_utts} and {batch_size}")
        self.checkpoint, self.filelist = Path(checkpoint), Path(filelist)
        if not self.filelist.is_file():
            raise FileNotFoundError(f"filelist not found: {self.filelist}")
        self.tts = load_tts(self.checkpoint, vocoder=vocoder, device=device)  # one-line errors for a bad file
        entries = read_filelist(self.filelist, resolve_paths=False, unique_ids=True, require_entries=True)
        if speakers:
            unknown = sorted(set(speakers) - {u.speaker for u in entries})
            if unknown:
                raise UserError(f"--speakers {' '.join(unknown)}: not in {self.filelist}")
        position = {u.utt_id: i for i, u in enumerate(entries)}
        self.utts = [entries[i] for i in _round_robin(entries, speakers, max_utts)]
        self.positions = [position[u.utt_id] for u in self.utts]  # the seed index of each utterance
        for u in self.utts:
            self.tts.speaker_id(u.speaker)  # unknown / untrained speaker: a clear error before any work
        self.alpha, self.T = float(self.tts.model.proc.alpha), float(self.tts.model.proc.T)
        self.out = Path(out)
        self.vocoder, self.scorer_spec, self.ref_dir, self.max_refs = vocoder, scorer, ref_dir, max_refs
        self.batch_size, self.device = int(batch_size), device
        self.export_path = None if export_path is None else Path(export_path)
        self.scorer = make_scorer(scorer, device)  # once: the GE2E / CAM++ network is reused by every evaluate
        self.worst_similarity = 0.0 if self.scorer.name == "ge2e" else -1.0
        self.counter = _CallCounter(self.tts.model.decoder)
        self.temperature = float(self.tts.defaults["temperature"])
        self.grid = self.tts.defaults["grid"]
        self._digest = file_digest(self.checkpoint)

    def settings(self) -> dict:
        return {"target": "tts", "checkpoint": str(self.checkpoint.resolve()), "checkpoint_file": self._digest,
                "filelist": str(self.filelist.resolve()), "filelist_file": file_digest(self.filelist),
                "utterances": [u.utt_id for u in self.utts], "metric": self.metric, "vocoder": self.vocoder,
                "scorer": self.scorer.name, "ref_dir": None if self.ref_dir is None else str(self.ref_dir),
                "max_refs": self.max_refs, "batch_size": self.batch_size, "t_start": None,
                "temperature": self.temperature, "grid": self.grid}

    def calls_per_run(self, steps: int) -> int:
        return (steps + 1) * math.ceil(len(self.utts) / self.batch_size)

    def wav_dir(self, spec: SamplerSpec, seed: int) -> Path:
        from levytts.experiments.imbalanced import condition_dir

        return self.out / "wavs" / f"{condition_dir(spec.sampler, spec.solver, spec.steps, spec.eta)}_seed{seed}"

    @torch.no_grad()
    def synthesise(self, spec: SamplerSpec, seed: int) -> tuple[Path, int, float]:
        """Write the wavs of (spec, seed); returns (their directory, network calls, fraction of utterances whose
        reverse diffusion diverged, i.e. had non-finite mel values the model set to silence)."""
        from levytts.audio.io import save_wav
        from levytts.levy import sample_generators

        tts, cdir = self.tts, self.wav_dir(spec, seed)
        start_calls, diverged = self.counter.n, 0
        for start in range(0, len(self.utts), self.batch_size):
            chunk = self.utts[start: start + self.batch_size]
            pos = self.positions[start: start + self.batch_size]
            ids, lengths = tts.texts_to_batch([u.text for u in chunk])
            spk = torch.tensor([tts.speaker_id(u.speaker) for u in chunk])
            gens = [sample_generators(int(seed), 1, start=p, device=tts.device)[0] for p in pos]
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", RuntimeWarning)
                out = tts.model.synthesise(ids.to(tts.device), lengths.to(tts.device), spk.to(tts.device),
                                           steps=spec.steps, sampler=spec.sampler, solver=spec.solver,
                                           eta=0.0 if spec.eta is None else spec.eta, grid=self.grid,
                                           generator=gens, t_start=None, temperature=self.temperature)
            diverged += sum("diverged" in str(w.message) for w in caught)  # one warning per batch
            for b, u in enumerate(chunk):
                mel = out["mel"][b: b + 1, :, : int(out["mel_lengths"][b])]
                audio = tts.vocoder(mel)[0].float().cpu().numpy()
                save_wav(cdir / f"{u.utt_id}.wav", audio, tts.sample_rate)
        n_batches = math.ceil(len(self.utts) / self.batch_size)
        return cdir, self.counter.n - start_calls, diverged / n_batches

    def evaluate(self, spec: SamplerSpec, seed: int) -> tuple[dict, int]:
        from levytts.eval.asr import wer_counts
        from levytts.eval.report import evaluate

        t0 = time.perf_counter()
        cdir, calls, diverged = self.synthesise(spec, seed)
        t1 = time.perf_counter()
        result = evaluate(cdir, self.ref_dir, self.filelist, scorer=self.scorer, with_wer=self.metric == "wer",
                          with_distances=False, with_f0=False, with_reference_row=False, max_refs=self.max_refs,
                          device=self.device, log=lambda _msg: None)
        rows = {r.utt: r for r in result.utterances}
        sims, sims_other, errors, words, failed = [], [], 0, 0, 0
        for u in self.utts:
            r = rows[u.utt_id]
            ok = r.status == "ok"
            failed += not ok
            sim = r.similarity if ok and math.isfinite(r.similarity) else self.worst_similarity
            sims.append(sim)
            if ok and math.isfinite(r.similarity_other):
                sims_other.append(r.similarity_other)
            if self.metric == "wer":
                if ok:
                    errors, words = errors + r.word_errors, words + r.ref_words
                else:  # nothing recognisable: every word of the sentence is an error
                    c = wer_counts(u.text, "")
                    errors, words = errors + c.errors, words + c.ref_words
        metrics = {"similarity": float(np.mean(sims)), "n_failed": float(failed), "diverged": diverged,
                   "synth_seconds": t1 - t0, "score_seconds": time.perf_counter() - t1}
        if sims_other:
            metrics["similarity_other"] = float(np.mean(sims_other))
        if self.metric == "wer":
            metrics["wer"] = errors / words if words else math.inf
        if not math.isfinite(metrics[self.metric]):
            metrics[self.metric] = math.inf if self.direction > 0 else -math.inf
        return metrics, calls

    def synth_defaults(self, summary: dict) -> dict:
        """The sampler defaults an exported voice gets: the stored ones, with what the search used set."""
        from levytts.tts.checkpoint import load_checkpoint

        stored = load_checkpoint(self.checkpoint).stored_synth_defaults
        return {**stored, "sampler": "sde-e", "solver": summary["solver"], "steps": int(summary["steps"]),
                "eta": summary["best"], "t_start": None}

    def export(self, summary: dict) -> None:
        """With ``--export OUT.pt``: write the voice with the tuned sampler as its defaults
        (:func:`levytts.tts.checkpoint.export_checkpoint`)."""
        if self.export_path is None:
            return
        from levytts.tts.checkpoint import export_checkpoint, load_checkpoint

        src = load_checkpoint(self.checkpoint, weights_only=False)
        dtype = torch.float32 if (src.export or {}).get("dtype") == str(torch.float32) else torch.float16
        m = summary["metric"]
        note = (f"levytts tune-eta: {summary['sampler']}, {m} {summary['best_metrics'][m]:.4g} "
                f"(seeds {summary['seeds']})")
        export_checkpoint(src, self.export_path, dtype=dtype, note=note, synth_defaults=self.synth_defaults(summary))
        print(f"wrote {self.export_path}: synth defaults sampler sde-e, {summary['solver']}, N = {summary['steps']}, "
              f"eta {summary['best']}")


def _round_robin(entries, speakers, n: int) -> list[int]:
    """Indices of up to ``n`` entries taken in turn from each speaker (filelist order within a speaker, speakers
    in order of first appearance), only ``speakers`` when given."""
    per: dict[str, list[int]] = {}
    for i, u in enumerate(entries):
        if not speakers or u.speaker in speakers:
            per.setdefault(u.speaker, []).append(i)
    out, k = [], 0
    while len(out) < n and any(k < len(v) for v in per.values()):
        out += [v[k] for v in per.values() if k < len(v)]
        k += 1
    return sorted(out[:n])


# ------------------------------------------------------------------------------------------------ image
class ImageTarget:
    """Classifier-feature FD / PRDC of an image run's samples (see the module doc)."""

    def __init__(self, run_dir: str | Path, out: str | Path, metric: str | None = None,
                 samples: int = DEFAULT_IMAGE_SAMPLES, classifier: str | Path | None = None, real: str = "train",
                 batch_size: int = DEFAULT_IMAGE_BATCH, k: int = 5, use_ema: bool = True, device: str = "cpu",
                 experiment: str | None = None):
        from levytts.image.classifier import predict
        from levytts.image.cli import load_classifier, load_model
        from levytts.image.data import load_npz
        from levytts.image.metrics import knn_radii
        from levytts.levy import DLPM

        self.metric = _check_metric(metric, IMAGE_METRICS, "fd", "an image run")
        self.direction = IMAGE_METRICS[self.metric][0]
        if samples < 2 or batch_size < 1:
            raise UserError(f"--samples must be >= 2 and --batch-size >= 1, got {samples} and {batch_size}")
        self.run_dir, self.out = Path(run_dir), Path(out)
        exp_dir = self.run_dir.resolve().parent
        self.model = load_model(self.run_dir, device)  # FileNotFoundError when there is no model.ckpt
        if isinstance(self.model.proc, DLPM):
            raise UserError(f"{self.run_dir} is a DLPM model: tune-eta searches the SDE-E η_t of a LIM (LévyVP) model")
        self.net = self.model.sampling_net(use_ema)
        self.proc = self.model.proc
        self.alpha, self.T = float(self.proc.alpha), float(self.proc.T)
        self.classifier_path = Path(classifier) if classifier else exp_dir / "classifier.pt"
        self.clf = load_classifier(self.classifier_path, device)
        self.real_path = Path(real) if real.endswith(".npz") else exp_dir / "data" / f"{real}.npz"
        if not self.real_path.is_file():
            raise FileNotFoundError(f"real image set not found: {self.real_path} (run `levytts image prepare`, or "
                                    "give --real train|test|PATH.npz)")
        real_set = load_npz(self.real_path)
        self.real_f, _ = predict(self.clf, real_set["images"], device=device)
        self.real_labels = np.asarray(real_set["labels"]) if "labels" in real_set else None
        if samples <= k or len(self.real_f) <= k:
            raise UserError(f"PRDC with k = {k} needs more than {k} generated and real images "
                            f"(--samples {samples}, {len(self.real_f)} real)")
        self.radii = knn_radii(self.real_f, k)
        self.samples, self.batch_size, self.k, self.use_ema, self.device = int(samples), int(batch_size), k, use_ema, device
        self.shape = tuple(int(v) for v in real_set["images"].shape[1:])
        self.label_freq = None
        if self.model.class_cond:  # labels drawn with the training class shares (sampler.labels: train)
            labels = load_npz(exp_dir / "data" / "train.npz")["labels"]
            self.label_freq = np.bincount(labels, minlength=self.model.net.num_classes) / len(labels)
        # the sampler settings `levytts image sample` uses for this run: the image config's `sampler` node composed
        # with ``experiment`` (e.g. fashion_mnist_lt: log-SNR grid, x̂0 clipped, A truncated at 20); image runs keep no
        # config of their own, so the experiment is named here (--image-experiment)
        from levytts.image.cli import load_config

        try:
            scfg = load_config(overrides=[f"experiment={experiment}"] if experiment else []).sampler
        except Exception as err:  # hydra's composition errors: one line naming the experiment
            raise UserError(f"--image-experiment {experiment!r}: {str(err).splitlines()[0]}") from None
        self.experiment = experiment
        self.sampling = {"grid": str(scfg.grid), "t_eps": float(scfg.t_eps), "clip_denoised": bool(scfg.clip_denoised),
                         "a_max": None if scfg.a_max is None else float(scfg.a_max)}
        self.counter = _CallCounter(self.net)
        self._digest = file_digest(self.run_dir / "model.ckpt")

    def settings(self) -> dict:
        return {"target": "image", "checkpoint": str((self.run_dir / "model.ckpt").resolve()),
                "checkpoint_file": self._digest, "classifier": str(self.classifier_path.resolve()),
                "classifier_file": file_digest(self.classifier_path), "real": str(self.real_path.resolve()),
                "real_file": file_digest(self.real_path), "metric": self.metric, "samples": self.samples,
                "batch_size": self.batch_size, "k": self.k, "use_ema": self.use_ema, "experiment": self.experiment,
                "sampling": self.sampling}

    def calls_per_run(self, steps: int) -> int:
        return (steps + 1) * math.ceil(self.samples / self.batch_size)

    def generate(self, spec: SamplerSpec, seed: int) -> np.ndarray:
        """``--samples`` uint8 images (N, C, H, W) of (spec, seed): image i from its own generator (seed, i)."""
        from levytts.image.data import to_uint8
        from levytts.image.sampling import generate
        from levytts.levy import sample_generators

        rng = np.random.default_rng(int(seed))
        imgs = []
        for i in range(0, self.samples, self.batch_size):
            b = min(self.batch_size, self.samples - i)
            y = None
            if self.label_freq is not None:
                y = torch.from_numpy(rng.choice(len(self.label_freq), size=b, p=self.label_freq)).to(self.device)
            g = sample_generators(int(seed), b, start=i, device=self.device)
            x = generate(self.net, self.proc, (b, *self.shape), spec.sampler, spec.solver, spec.steps,
                         eta=0.0 if spec.eta is None else spec.eta, y=y, generator=g, **self.sampling)
            imgs.append(to_uint8(x).cpu().numpy())
        return np.concatenate(imgs)

    def evaluate(self, spec: SamplerSpec, seed: int) -> tuple[dict, int]:
        from levytts.image.classifier import predict
        from levytts.image.metrics import frechet_distance_features, per_class_coverage, prdc
        from levytts.image.sampling import save_png

        t0 = time.perf_counter()
        start = self.counter.n
        images = self.generate(spec, seed)
        calls = self.counter.n - start
        save_png(self.out / "images" / f"{spec.dirname}_seed{seed}.png", images[:64])
        fake_f, _ = predict(self.clf, images, device=self.device)
        metrics = {"fd": float(frechet_distance_features(self.real_f, fake_f)),
                   **{k: float(v) for k, v in prdc(self.real_f, fake_f, self.k, self.radii).items()},
                   "seconds": time.perf_counter() - t0}
        if self.real_labels is not None:  # coverage of each class's real images (the long tail: the last classes)
            cov = per_class_coverage(self.real_f, self.real_labels, fake_f, self.k, real_radii=self.radii)
            metrics.update({f"coverage_class{c}": float(v) for c, v in enumerate(cov)})
        for name, (direction, _) in IMAGE_METRICS.items():
            if not math.isfinite(metrics[name]):
                metrics[name] = math.inf if direction > 0 else -math.inf
        return metrics, calls


# ------------------------------------------------------------------------------------------------ factory
def make_target(args):
    """The target of ``levytts tune-eta --checkpoint``: a file → :class:`TTSTarget`, a directory →
    :class:`ImageTarget`. Options not (yet) on the parser take their defaults."""
    path = Path(args.checkpoint)
    device = getattr(args, "device", None) or "cpu"
    if path.is_dir():
        samples = getattr(args, "samples", None) or DEFAULT_IMAGE_SAMPLES  # tune-eta's --samples default is the oracle's
        return ImageTarget(path, args.out, metric=args.metric, samples=int(samples),
                           classifier=getattr(args, "classifier", None), real=getattr(args, "real", None) or "train",
                           batch_size=getattr(args, "batch_size", None) or DEFAULT_IMAGE_BATCH,
                           use_ema=not getattr(args, "no_ema", False), device=device,
                           experiment=getattr(args, "image_experiment", None))
    if not path.exists():
        raise FileNotFoundError(f"--checkpoint {path}: no such file or directory (a TTS checkpoint file, or an image "
                                "run dir with model.ckpt)")
    return TTSTarget(path, getattr(args, "filelist", None), args.out, metric=args.metric,
                     max_utts=getattr(args, "max_utts", None) or DEFAULT_MAX_UTTS,
                     speakers=getattr(args, "speakers", None), vocoder=getattr(args, "vocoder", None) or "universal",
                     scorer=getattr(args, "scorer", None) or "ge2e", ref_dir=getattr(args, "ref_dir", None),
                     max_refs=getattr(args, "max_refs", None), batch_size=getattr(args, "batch_size", None) or 16,
                     export_path=getattr(args, "export", None), device=device)
