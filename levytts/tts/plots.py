"""Mel-spectrogram figures (matplotlib, Agg backend)."""
from __future__ import annotations


def mel_figure(panels, title: str | None = None):
    """One row per (label, mel (n_mels, T) tensor/array); returns a matplotlib Figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 2.2 * len(panels)), squeeze=False)
    for ax, (label, mel) in zip(axes[:, 0], panels):
        m = mel.detach().cpu().numpy() if hasattr(mel, "detach") else mel
        im = ax.imshow(m, origin="lower", aspect="auto", interpolation="none")
        ax.set_title(label, fontsize=9)
        ax.set_ylabel("mel bin")
        fig.colorbar(im, ax=ax, fraction=0.03)
    axes[-1, 0].set_xlabel("frame")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
