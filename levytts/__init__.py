"""levytts: diffusion models driven by alpha-stable Levy noise (speech and images)."""
__version__ = "0.1.0"


def __getattr__(name):
    # Lazy: `import levytts` stays light; `levytts.TTS` imports torch and the model only when asked for.
    if name == "TTS":
        from levytts.tts.synth import TTS

        return TTS
    raise AttributeError(f"module 'levytts' has no attribute {name!r}")
