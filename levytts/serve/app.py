"""The FastAPI app of `levytts serve`: :func:`create_app` wraps one loaded :class:`levytts.TTS`.

Endpoints (docs/serve.md):

- ``GET /`` the page (``static/index.html`` + ``app.js``; no build step, nothing from a CDN);
- ``POST /api/synthesize`` JSON ``{text, speaker, steps?, sampler?, solver?, eta?, seed?}`` → ``audio/wav``
  (16-bit PCM) with headers ``X-RTF``, ``X-Audio-Seconds``, ``X-Result-Id`` (and ``X-Warning`` on clipping);
- ``GET /api/results/{id}/mel.png`` the mel spectrogram of a recent result; ``…/eta.png`` its η_t curve (SDE-E);
- ``GET /api/speakers`` ``[{"id", "minutes", "rare"}]``; ``GET /api/config`` sampler defaults and choices;
  ``GET /api/health``.

Bad input is a 4xx JSON ``{"detail": "<one line>"}`` with the message `levytts synth` prints: the checks are
the library's own (:meth:`levytts.TTS.synth` raises ValueError), not repeated here. One synthesis runs at a
time (a lock); the rest wait their turn.
"""
from __future__ import annotations

import argparse
import io
import json
import threading
import uuid
import warnings
from collections import OrderedDict
from pathlib import Path

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from levytts.cli_types import check_number

STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_CHARS = 1000          # longest text one request may synthesise
MAX_BODY_BYTES = 64 * 1024  # a JSON body larger than this is refused before it is read
RESULTS_KEPT = 16         # recent results whose figures can still be fetched
FIELDS = ("text", "speaker", "steps", "sampler", "solver", "eta", "seed")
ETA_PRESETS = ("0", "0.1", "0.5", "1", "popov:0.1,1", "popov:0.5,1", "power", "power:0.5")


class RequestError(Exception):
    """A request the server refuses: ``status`` and the one-line ``detail`` sent back as JSON."""

    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status, self.detail = status, detail


def synth_choices() -> dict[str, list[str]]:
    """The --sampler / --solver choices of `levytts synth` (read from its parser, so they are defined once)."""
    from levytts.tts.cli import add_synth_arguments

    parser = argparse.ArgumentParser(add_help=False)
    add_synth_arguments(parser)
    opts = {a.dest: list(a.choices) for a in parser._actions if a.choices}
    return {"samplers": opts["sampler"], "solvers": opts["solver"]}


def wav_bytes(audio, sample_rate: int) -> bytes:
    """Mono float audio → a 16-bit PCM WAV file in memory, clipped to [-1, 1] first (no int16 wrap-around)."""
    import soundfile as sf

    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    if not np.all(np.isfinite(audio)):
        raise RequestError(500, "synthesis produced NaN/inf samples; try more steps or the checkpoint's defaults")
    buf = io.BytesIO()
    sf.write(buf, np.clip(audio, -1.0, 1.0), int(sample_rate), subtype="PCM_16", format="WAV")
    return buf.getvalue()


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def mel_png(panels, hop_seconds: float) -> bytes:
    """(label, mel (n_mels, T)) panels → PNG bytes; matplotlib's object API (no pyplot state, thread-safe)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 2.4 * len(panels)))
    axes = fig.subplots(len(panels), 1, squeeze=False)[:, 0]
    for ax, (label, mel) in zip(axes, panels):
        m = np.asarray(mel.detach().cpu() if hasattr(mel, "detach") else mel, dtype=np.float32)
        im = ax.imshow(m, origin="lower", aspect="auto", interpolation="none",
                       extent=(0, m.shape[1] * hop_seconds, 0, m.shape[0]))
        ax.set_title(label, fontsize=9)
        ax.set_ylabel("mel bin")
        fig.colorbar(im, ax=ax, fraction=0.03)
    axes[-1].set_xlabel("time (s)")
    fig.tight_layout()
    return _png(fig)


def eta_png(eta_spec, steps: int, grid: str, proc) -> bytes:
    """The η_t curve of an SDE-E η (a number or a schedule, :func:`levytts.tts.synth.parse_eta`) over [t_eps, T],
    with the values the sampler uses at the start of each of its ``steps`` steps."""
    from matplotlib.figure import Figure

    from levytts.levy.sampling import time_grid
    from levytts.tts.synth import parse_eta

    eta = parse_eta(eta_spec)
    f = eta if callable(eta) else (lambda t, v=float(eta): v)
    T, t_eps = float(proc.T), 1e-3
    ts = np.linspace(t_eps, T, 400)
    times = time_grid(int(steps), T, kind=grid, t_eps=t_eps, proc=proc)[:-1].tolist()
    fig = Figure(figsize=(5, 2.6))
    ax = fig.subplots()
    ax.plot(ts, [f(float(t)) for t in ts], lw=1.2, label="η_t")
    ax.plot(times, [f(float(t)) for t in times], "o", ms=4, label=f"at the {len(times)} step(s)")
    ax.set_xlabel("t")
    ax.set_ylabel("η_t")
    ax.set_title(f"SDE-E η = {eta_spec}", fontsize=9)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


def _detail(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


def create_app(tts, max_chars: int = MAX_CHARS, title: str | None = None) -> FastAPI:
    """The app for one loaded model ``tts`` (a :class:`levytts.TTS` with a vocoder). The model is used as is:
    load it once, before the server starts. ``max_chars``: the longest text one request may ask for."""
    if getattr(tts, "vocoder", None) is None:
        raise ValueError("levytts serve needs a model with a vocoder (the page plays audio)")
    app = FastAPI(title=title or "levytts", docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
    lock = threading.Lock()  # one synthesis at a time: the model and torch's threads are shared
    results_lock = threading.Lock()  # the recent results (figures stay available during a synthesis)
    results: OrderedDict[str, dict] = OrderedDict()
    choices = synth_choices()
    hop_seconds = tts.hop_length / tts.sample_rate

    @app.exception_handler(RequestError)
    async def _refused(request: Request, err: RequestError):
        return _detail(err.status, err.detail)

    @app.get("/", include_in_schema=False)
    def index():
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/api/health")
    def health():
        return {"status": "ok", "sample_rate": tts.sample_rate, "speakers": len(tts.trained_speakers),
                "device": str(tts.device), "vocoder": getattr(tts.vocoder, "name", None), "max_chars": max_chars}

    @app.get("/api/speakers")
    def speakers():
        minutes = tts.speaker_minutes or {}
        rare = set(tts.rare_speakers())
        return [{"id": s, "minutes": minutes.get(s), "rare": s in rare} for s in tts.trained_speakers]

    @app.get("/api/config")
    def config():
        return {"defaults": dict(tts.defaults), **choices, "eta_presets": list(ETA_PRESETS), "max_chars": max_chars,
                "sample_rate": tts.sample_rate}

    @app.post("/api/synthesize", response_class=Response,
              responses={200: {"content": {"audio/wav": {}}, "description": "16-bit PCM WAV"}})
    async def synthesize(request: Request):
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
            raise RequestError(413, f"request body too large: {int(length)} bytes (at most {MAX_BODY_BYTES})")
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            raise RequestError(413, f"request body too large: {len(body)} bytes (at most {MAX_BODY_BYTES})")
        try:
            data = json.loads(body or b"null")
        except ValueError:
            raise RequestError(400, "request body is not valid JSON; send {\"text\": \"...\", \"speaker\": \"...\"}") from None
        if not isinstance(data, dict):
            raise RequestError(422, "request body must be a JSON object: {\"text\": \"...\", \"speaker\": \"...\"}")
        unknown = sorted(set(data) - set(FIELDS))
        if unknown:
            raise RequestError(422, f"unknown field(s) {', '.join(unknown)}; valid: {', '.join(FIELDS)}")
        text = data.get("text")
        if text is not None and not isinstance(text, str):
            raise RequestError(422, f"text must be a string, got {type(text).__name__}")
        if text is not None and len(text) > max_chars:
            raise RequestError(413, f"text too long: {len(text)} characters (at most {max_chars} per request)")
        for key in ("steps", "seed"):  # JSON numbers only: "4" or true would be coerced by the library's checks
            value = data.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise RequestError(422, f"{key} must be a JSON number, got {type(value).__name__} {value!r}")
        kw = {k: data.get(k) for k in ("speaker", "steps", "sampler", "solver", "eta")}
        kw["seed"] = data.get("seed", 0)  # as `levytts synth`: seed 0 unless given (null: a random draw)
        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(_synthesize, text, kw)

    def _synthesize(text, kw) -> Response:
        with lock:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", RuntimeWarning)
                try:
                    res = tts.synth(text, **kw)
                except ValueError as err:  # the library's one-line message, as `levytts synth` prints it
                    raise RequestError(422, str(err).strip().splitlines()[0] if str(err).strip() else "bad request") from None
        payload = wav_bytes(res["audio"], res["sample_rate"])
        used = {k: tts.defaults[k] if kw.get(k) is None else kw[k] for k in ("steps", "sampler", "solver", "eta", "grid")}
        used["steps"] = check_number(used["steps"], "steps", integer=True, low=1)  # "4" / 4.0 → 4 (already checked)
        rid = uuid.uuid4().hex[:16]
        with results_lock:
            results[rid] = {"mel": res["mel"], "mu": res.get("mu"), "used": used}
            while len(results) > RESULTS_KEPT:
                results.popitem(last=False)
        seconds = len(res["audio"]) / res["sample_rate"]
        headers = {"X-RTF": f"{res['rtf_total']:.4f}", "X-Audio-Seconds": f"{seconds:.3f}", "X-Result-Id": rid,
                   "X-Steps": str(used["steps"]), "X-Sampler": str(used["sampler"]), "X-Solver": str(used["solver"]),
                   "Content-Disposition": 'inline; filename="levytts.wav"'}
        messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
        if messages:
            headers["X-Warning"] = messages[0].encode("ascii", "replace").decode()[:500]
        return Response(payload, media_type="audio/wav", headers=headers)

    def _result(rid: str) -> dict:
        with results_lock:
            res = results.get(rid)
        if res is None:
            raise RequestError(404, f"no recent result {rid!r} (only the last {RESULTS_KEPT} are kept)")
        return res

    @app.get("/api/results/{rid}/mel.png", response_class=Response,
             responses={200: {"content": {"image/png": {}}}})
    def result_mel(rid: str):
        res = _result(rid)
        panels = [("mel spectrogram (decoder output)", res["mel"])]
        if res.get("mu") is not None:
            panels.append(("μ (encoder output)", res["mu"]))
        return Response(mel_png(panels, hop_seconds), media_type="image/png")

    @app.get("/api/results/{rid}/eta.png", response_class=Response,
             responses={200: {"content": {"image/png": {}}}})
    def result_eta(rid: str):
        used = _result(rid)["used"]
        if used["sampler"] != "sde-e":
            raise RequestError(404, f"η_t applies to the sde-e sampler; this result used {used['sampler']}")
        return Response(eta_png(used["eta"], used["steps"], used["grid"], tts.model.proc), media_type="image/png")

    return app


def serve_in_thread(app, host: str = "127.0.0.1", port: int = 0, timeout: float = 30.0):
    """Run ``app`` with uvicorn in a daemon thread (for tests and scripts); ``port=0`` takes a free port.
    Returns ``(url, stop)``: the base URL once the server accepts connections, and a function that stops it."""
    import socket
    import time

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", workers=1))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="levytts-serve")
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError(f"the levytts server did not start within {timeout:.0f} s")
        time.sleep(0.05)

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()

    return f"http://{host}:{sock.getsockname()[1]}", stop
