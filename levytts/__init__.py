"""levytts: diffusion models driven by alpha-stable Levy noise (speech and images)."""
__version__ = "0.1.0"


def __getattr__(name):
    # Lazy: `import levytts` stays light; `levytts.TTS` imports torch and the model only when asked for.
    if name in ("TTS", "load_demo_voice"):
        from levytts.tts import synth

        return getattr(synth, name)
    raise AttributeError(f"module 'levytts' has no attribute {name!r}")
