"""levytts: diffusion models driven by alpha-stable Levy noise (speech and images)."""
__version__ = "0.1.0"
