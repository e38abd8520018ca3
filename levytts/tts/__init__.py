"""Multi-speaker TTS: text encoders + duration predictors, Lévy-diffusion mel U-Net decoder, training, synthesis.

    from levytts.tts.model import LevyTTS          # the acoustic model
    from levytts.tts.synth import TTS              # checkpoint + vocoder → speech (also `levytts.TTS`)
    levytts train experiment=offline_tiny          # training (levytts.tts.train)
    levytts synth --checkpoint CKPT --text "..." --speaker slt

Submodules are imported on use; this package imports nothing heavy.
"""
