"""Experiments that span several rooms (text → model → vocoder → evaluation), run by the egs/ recipes."""
