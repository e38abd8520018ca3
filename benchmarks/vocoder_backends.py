"""Benchmark: HiFi-GAN (universal V1, float32, CPU) in PyTorch eager vs ONNX Runtime vs OpenVINO (the exported
ONNX graph of levytts.vocoder.exported).

Speed is reported as ratios against PyTorch measured in the same process, interleaved (rounds of one call per
backend, the order rotated each round): ``speedup = t_torch / t_backend`` from the best of the rounds and from
their medians. Two parts:
  * steady state: one process, per thread count, mel lengths 86 / 258 / 516 frames (1 / 3 / 6 s of audio) cut from
    a real demo-voice mel, after one warm-up call per length; max |Δ| against PyTorch on the same mel;
  * one `levytts synth` call: fresh subprocesses (interleaved over backends) that build the vocoder with
    ``load_vocoder("universal", backend=...)`` (warm ONNX cache) and vocode one ~5.5 s sentence mel twice:
    build, first (cold) call, second call, build + first call; plus, once per backend, the build with an empty
    cache (the one-time ONNX export). The process start and `import torch` are the same for all and not counted.
``--dtype bfloat16`` compares what `levytts synth --dtype bfloat16` would run: torch under bf16 autocast (TTS's
autocast_forward) against OpenVINO with its bf16 inference precision (ONNX Runtime has none: left out); max |Δ|
is then against that torch bf16 output.

    nice -n 5 .venv/bin/python benchmarks/vocoder_backends.py [--threads 1 2] [--frames 86 258 516] [--repeats 7]
        [--cold-rounds 5] [--dtype float32|bfloat16] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEXT = "The quick brown fox jumps over the lazy dog while the band plays on the old wooden stage."  # about 5.5 s
BACKENDS = ("torch", "onnxruntime", "openvino")


def build(backend: str, dtype: str):
    """load_vocoder("universal") for ``backend``; bf16: torch under autocast (as TTS does), openvino with dtype."""
    import torch

    from levytts.vocoder import load_vocoder

    if backend != "torch":
        return load_vocoder("universal", backend=backend, dtype=dtype)
    voc = load_vocoder("universal")
    if dtype == "bfloat16":
        from levytts.tts.synth import autocast_forward

        autocast_forward(voc.generator, "cpu", torch.bfloat16)
    return voc


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "?"


def make_mel(path: Path) -> None:
    """A real mel (80, T) of TEXT from the demo voice, saved as .npy."""
    import numpy as np

    from levytts.tts.synth import load_demo_voice

    tts = load_demo_voice(vocoder=None)
    out = tts.synth(TEXT, speaker="slt")
    np.save(path, np.asarray(out["mel"], dtype=np.float32))


def crop(mel, frames: int):
    """mel (80, T) tiled along time and cut to ``frames`` → torch (1, 80, frames)."""
    import torch

    m = torch.as_tensor(mel)
    reps = -(-frames // m.shape[-1])
    return m.repeat(1, reps)[:, :frames].unsqueeze(0).contiguous()


def steady(mel_path: Path, threads: int, frames: list[int], repeats: int, cache: Path, dtype: str) -> list[dict]:
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    os.environ["LEVYTTS_CACHE_DIR"] = str(cache)
    vocs = {b: build(b, dtype) for b in BACKENDS}
    mel = np.load(mel_path)
    rows = []
    for n in frames:
        x = crop(mel, n)
        with torch.no_grad():
            outs = {b: v(x) for b, v in vocs.items()}  # warm-up at this length
        times = {b: [] for b in BACKENDS}
        for r in range(repeats):
            order = BACKENDS[r % len(BACKENDS):] + BACKENDS[:r % len(BACKENDS)]
            for b in order:
                with torch.no_grad():
                    t = time.perf_counter()
                    vocs[b](x)
                    times[b].append(time.perf_counter() - t)
        row = {"threads": threads, "frames": n, "load": loadavg()}
        for b in BACKENDS[1:]:
            row[b] = {"best": min(times["torch"]) / min(times[b]),
                      "median": statistics.median(times["torch"]) / statistics.median(times[b]),
                      "paired_median": statistics.median(t0 / t1 for t0, t1 in zip(times["torch"], times[b])),
                      "max_abs_diff": float((outs[b] - outs["torch"]).abs().max())}
        row["torch_rtf_median"] = statistics.median(times["torch"]) / (n * 256 / 22050)
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    return rows


CHILD = r"""
import json, os, sys, time
import numpy as np, torch
torch.set_num_threads(int(sys.argv[2]))
backend, mel_path, dtype = sys.argv[1], sys.argv[3], sys.argv[4]
x = torch.from_numpy(np.load(mel_path)).unsqueeze(0)
sys.path.insert(0, sys.argv[5])
t0 = time.perf_counter()
from vocoder_backends import build
voc = build(backend, dtype)
t1 = time.perf_counter()
with torch.no_grad():
    voc(x)
    t2 = time.perf_counter()
    voc(x)
    t3 = time.perf_counter()
print(json.dumps({"build": t1 - t0, "first": t2 - t1, "second": t3 - t2}))
"""


def child(backend: str, threads: int, mel_path: Path, cache: Path, dtype: str) -> dict:
    env = dict(os.environ, LEVYTTS_CACHE_DIR=str(cache), PYTHONWARNINGS="ignore")
    res = subprocess.run([sys.executable, "-c", CHILD, backend, str(threads), str(mel_path), dtype,
                          str(Path(__file__).resolve().parent)], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def one_call(mel_path: Path, threads: int, rounds: int, cache: Path, dtype: str) -> dict:
    runs = {b: [] for b in BACKENDS}
    for r in range(rounds):
        for b in BACKENDS[r % len(BACKENDS):] + BACKENDS[:r % len(BACKENDS)]:
            runs[b].append(child(b, threads, mel_path, cache, dtype))
    out = {"threads": threads, "load": loadavg(), "rounds": rounds}
    med = {b: {k: statistics.median(d[k] for d in runs[b]) for k in ("build", "first", "second")} for b in BACKENDS}
    for b in BACKENDS:
        med[b]["total"] = statistics.median(d["build"] + d["first"] for d in runs[b])
    out["seconds_median"] = med
    out["speedup_total"] = {b: med["torch"]["total"] / med[b]["total"] for b in BACKENDS[1:]}
    out["speedup_total_best"] = {b: min(d["build"] + d["first"] for d in runs["torch"])
                                 / min(d["build"] + d["first"] for d in runs[b]) for b in BACKENDS[1:]}
    out["speedup_second_call"] = {b: med["torch"]["second"] / med[b]["second"] for b in BACKENDS[1:]}
    print(json.dumps(out), file=sys.stderr, flush=True)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--frames", type=int, nargs="+", default=[86, 258, 516])
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--cold-rounds", type=int, default=5)
    p.add_argument("--skip-steady", action="store_true")
    p.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    global BACKENDS
    if args.dtype == "bfloat16":
        BACKENDS = ("torch", "openvino")
    result = {"python": sys.version.split()[0], "cpus": os.cpu_count(), "load_start": loadavg(), "dtype": args.dtype}
    import onnxruntime
    import openvino
    import torch

    result["versions"] = {"torch": torch.__version__, "onnxruntime": onnxruntime.__version__,
                          "openvino": openvino.__version__}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        mel_path, cache = tmp / "mel.npy", tmp / "cache"
        make_mel(mel_path)
        import numpy as np

        result["sentence_frames"] = int(np.load(mel_path).shape[-1])
        # the one-time export, once per exported backend (empty cache each time; the second one leaves it warm)
        result["cold_cache_build"] = {}
        for b in BACKENDS[1:]:
            for f in cache.glob("vocoder/*"):
                f.unlink()
            result["cold_cache_build"][b] = child(b, 2, mel_path, cache, args.dtype)
        result["steady"] = [] if args.skip_steady else [
            row for n in args.threads for row in steady(mel_path, n, args.frames, args.repeats, cache, args.dtype)]
        result["one_call"] = [one_call(mel_path, n, args.cold_rounds, cache, args.dtype) for n in args.threads]
    result["load_end"] = loadavg()
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    print(report(result))
    return 0


def report(r: dict) -> str:
    exported = list(r["one_call"][0]["speedup_total"])  # the backends measured against torch
    lines = [f"versions: {r['versions']}; {r['cpus']} CPUs; dtype {r['dtype']}; load average start {r['load_start']}, "
             f"end {r['load_end']}", "",
             "Steady state: speedup = t_torch / t_backend (best-of | median | median of paired rounds), max |Δ|",
             "| threads | frames | load | " + " | ".join(f"{b} best | {b} median | {b} paired | {b} max abs diff"
                                                       for b in exported) + " |",
             "|---|---|---|" + "---|" * (4 * len(exported))]
    for s in r["steady"]:
        lines.append(f"| {s['threads']} | {s['frames']} | {s['load']} | " + " | ".join(
            f"{s[b]['best']:.2f} | {s[b]['median']:.2f} | {s[b]['paired_median']:.2f} | {s[b]['max_abs_diff']:.1e}"
            for b in exported) + " |")
    lines += ["", f"One `levytts synth` call (fresh process, warm cache, {r['sentence_frames']} frames): medians in s "
              "(build = load_vocoder; first = cold call), speedup of build + first call",
              "| threads | load | backend | build | first | second | build+first | speedup (median) | speedup (best) |",
              "|---|---|---|---|---|---|---|---|---|"]
    for c in r["one_call"]:
        for b, m in c["seconds_median"].items():
            sp = "1" if b == "torch" else f"{c['speedup_total'][b]:.2f}"
            sb = "1" if b == "torch" else f"{c['speedup_total_best'][b]:.2f}"
            lines.append(f"| {c['threads']} | {c['load']} | {b} | {m['build']:.2f} | {m['first']:.2f} | "
                         f"{m['second']:.2f} | {m['total']:.2f} | {sp} | {sb} |")
    lines += ["", "Empty cache (the one-time ONNX export + build), 2 threads, one run each: "
              + "; ".join(f"{b}: build {d['build']:.2f} s, first call {d['first']:.2f} s"
                          for b, d in r["cold_cache_build"].items())]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
