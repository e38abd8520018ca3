"""`levytts serve`: a local web page and HTTP API for synthesis (FastAPI + uvicorn, the ``serve`` extra).

    from levytts.serve.app import create_app
    app = create_app(tts)          # any levytts.TTS; run it with uvicorn, or drive it with a TestClient

    levytts serve [--checkpoint CKPT] [--host 127.0.0.1] [--port 8000] [--device cpu]

Endpoints, the page and its limits: docs/serve.md. FastAPI is imported only by :mod:`levytts.serve.app`,
so ``levytts serve --help`` works without the extra.
"""
