"""Multi-speaker TTS: text encoders + duration predictors, Lévy-diffusion mel U-Net decoder, training, synthesis.

    from levytts.tts.model import LevyTTS          # the acoustic model
    from levytts.tts.synth import TTS              # checkpoint + vocoder → speech (also `levytts.TTS`)
    from levytts.tts.checkpoint import load_checkpoint, export_checkpoint   # read / compact checkpoints
    levytts train experiment=offline_tiny          # training (levytts.tts.train)
    levytts synth --checkpoint CKPT --text "..." --speaker slt
    levytts export --checkpoint CKPT --out voice.pt --synth-defaults solver=ei steps=4

Submodules are imported on use; this package imports nothing heavy.
"""
