"""`levytts serve`'s HTTP API (levytts.serve.app) with FastAPI's TestClient and the bundled demo voice.

Synthesis uses steps=2 to stay quick; error messages are compared with the library's own ValueErrors
(the ones `levytts synth` prints), so the API never grows rules of its own.
"""
import io
import threading
import time
import warnings

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="levytts serve needs the serve extra: pip install 'levytts[serve]'")
pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx (the dev extra)")
import soundfile as sf  # noqa: E402

with warnings.catch_warnings():  # starlette's note (a UserWarning) that its TestClient is moving to httpx2
    warnings.filterwarnings("ignore", message=".*httpx2")
    from fastapi.testclient import TestClient  # noqa: E402

from levytts.serve.app import MAX_CHARS, create_app, wav_bytes  # noqa: E402


@pytest.fixture(scope="module")
def tts():
    from levytts.tts.synth import load_demo_voice

    return load_demo_voice()


@pytest.fixture(scope="module")
def client(tts):
    return TestClient(create_app(tts))


def library_error(tts, **kw) -> str:
    """The message TTS.synth (and so `levytts synth`) gives for these arguments."""
    args = {"text": "Hi.", "speaker": "slt", "steps": 2, **kw}
    with pytest.raises(ValueError) as err:
        tts.synth(**args)
    return str(err.value)


def test_health_speakers_config(client, tts):
    health = client.get("/api/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    speakers = client.get("/api/speakers").json()
    assert [s["id"] for s in speakers] == tts.trained_speakers == ["slt", "awb"]
    assert {s["id"]: s["minutes"] for s in speakers} == tts.speaker_minutes
    assert {s["id"]: s["rare"] for s in speakers} == {"slt": False, "awb": True}
    config = client.get("/api/config").json()
    assert config["defaults"] == tts.defaults  # the checkpoint's stored sampler defaults
    assert config["samplers"] == ["ode", "sde-a", "sde-e"] and config["solvers"] == ["euler", "ei"]
    assert config["max_chars"] == MAX_CHARS


def test_page_and_static_files_are_local(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert 'src="/static/app.js"' in page.text
    assert client.get("/static/app.js").status_code == 200
    for text in (page.text, client.get("/static/app.js").text):  # nothing from a CDN: the page works offline
        assert "http://" not in text and "https://" not in text


def test_synthesize_returns_a_wav_and_figures(client, tts):
    r = client.post("/api/synthesize", json={"text": "Hello there. How are you?", "speaker": "awb", "steps": 2})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "audio/wav"
    assert r.content[:4] == b"RIFF" and r.content[8:12] == b"WAVE"
    audio, sr = sf.read(io.BytesIO(r.content), dtype="int16")
    info = sf.info(io.BytesIO(r.content))
    assert sr == tts.sample_rate == 22050 and info.subtype == "PCM_16" and info.channels == 1
    seconds = len(audio) / sr
    assert float(r.headers["X-Audio-Seconds"]) == pytest.approx(seconds, abs=2e-3)
    assert 0.8 < seconds < 6.0  # two short sentences
    assert float(r.headers["X-RTF"]) > 0
    assert r.headers["X-Steps"] == "2" and r.headers["X-Sampler"] == tts.defaults["sampler"]
    assert np.abs(audio).max() > 100  # not silence
    rid = r.headers["X-Result-Id"]
    mel = client.get(f"/api/results/{rid}/mel.png")
    assert mel.status_code == 200 and mel.content[:8] == b"\x89PNG\r\n\x1a\n"
    eta = client.get(f"/api/results/{rid}/eta.png")  # an ODE result has no η_t
    assert eta.status_code == 404 and "sde-e" in eta.json()["detail"]
    assert client.get("/api/results/nope/mel.png").status_code == 404


def test_sde_e_has_an_eta_curve_and_seed_repeats(client):
    body = {"text": "Hi there.", "speaker": "slt", "steps": 2, "sampler": "sde-e", "solver": "euler",
            "eta": "popov:0.1,1", "seed": 7}
    first, second = client.post("/api/synthesize", json=body), client.post("/api/synthesize", json=body)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content  # same seed, same wav
    eta = client.get(f"/api/results/{first.headers['X-Result-Id']}/eta.png")
    assert eta.status_code == 200 and eta.content[:4] == b"\x89PNG"


@pytest.mark.parametrize("kw", [
    {"text": ""}, {"text": "   "}, {"speaker": "nobody"}, {"speaker": None}, {"steps": 0}, {"steps": 2.5},
    {"steps": 100000}, {"eta": "popov:2,1"}, {"eta": -1}, {"sampler": "sde-x"}, {"solver": "rk4"},
    {"seed": -1}, {"text": "-"},
])
def test_bad_input_gets_the_library_message(client, tts, kw):
    body = {"text": "Hi.", "speaker": "slt", "steps": 2, **kw}
    r = client.post("/api/synthesize", json=body)
    assert r.status_code == 422, r.text
    assert r.json() == {"detail": library_error(tts, **kw)}
    assert "\n" not in r.json()["detail"]


def test_nan_steps(client, tts):
    r = client.post("/api/synthesize", content=b'{"text": "Hi.", "speaker": "slt", "steps": NaN}',
                    headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json() == {"detail": library_error(tts, steps=float("nan"))}


@pytest.mark.parametrize("body, status, words", [
    ({"text": "x" * (MAX_CHARS + 1), "speaker": "slt"}, 413, "text too long"),
    ({"text": "Hi.", "speaker": "slt", "volume": 11}, 422, "unknown field(s) volume"),
    ({"text": 5, "speaker": "slt"}, 422, "text must be a string"),
    ({"text": "Hi.", "speaker": "slt", "steps": "4"}, 422, "steps must be a JSON number, got str '4'"),
    ({"text": "Hi.", "speaker": "slt", "steps": "many"}, 422, "steps must be a JSON number"),
    ({"text": "Hi.", "speaker": "slt", "seed": True}, 422, "seed must be a JSON number, got bool"),
    ([1, 2], 422, "JSON object"),
])
def test_requests_refused_before_synthesis(client, body, status, words):
    r = client.post("/api/synthesize", json=body)
    assert r.status_code == status and words in r.json()["detail"]


def test_invalid_json_and_huge_body(client):
    r = client.post("/api/synthesize", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and "not valid JSON" in r.json()["detail"]
    r = client.post("/api/synthesize", content=b" " * 100_000, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "too large" in r.json()["detail"]


def test_one_synthesis_at_a_time(tts, monkeypatch):
    """Concurrent requests are serialised: the model never runs two syntheses at once."""
    active, most = 0, 0
    guard = threading.Lock()

    def fake_synth(text, **kw):
        nonlocal active, most
        with guard:
            active += 1
            most = max(most, active)
        time.sleep(0.15)
        with guard:
            active -= 1
        return {"audio": np.zeros(2205, np.float32), "sample_rate": 22050, "mel": np.zeros((80, 10), np.float32),
                "rtf_total": 0.1}

    monkeypatch.setattr(tts, "synth", fake_synth)
    client = TestClient(create_app(tts))
    codes = []
    threads = [threading.Thread(target=lambda: codes.append(
        client.post("/api/synthesize", json={"text": "Hi.", "speaker": "slt"}).status_code)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [200] * 4 and most == 1


def test_wav_bytes_clips_instead_of_wrapping():
    data = wav_bytes(np.array([2.0, 1.0, -1.0, -3.0, 0.5], np.float32), 16000)
    pcm, sr = sf.read(io.BytesIO(data), dtype="int16")
    assert sr == 16000 and pcm.tolist()[:4] == [32767, 32767, -32768, -32768]


def test_cli_registered_and_checks_its_options(capsys):
    from levytts.cli import COMMANDS, main

    assert COMMANDS["serve"][0] == "levytts.serve.cli"
    assert main(["serve", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--port" in out and "127.0.0.1" in out
    assert main(["serve", "--port", "70000"]) == 2
    assert "--port" in capsys.readouterr().err
