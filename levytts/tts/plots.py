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


def read_scalars(tb_dir, prefix: str = "train/") -> dict[str, tuple[list[int], list[float]]]:
    """Scalars logged to TensorBoard under ``prefix``: name → (steps, values)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(tb_dir), size_guidance={"scalars": 0})
    acc.Reload()
    out = {}
    for tag in acc.Tags()["scalars"]:
        if tag.startswith(prefix):
            events = acc.Scalars(tag)
            out[tag[len(prefix):]] = ([e.step for e in events], [e.value for e in events])
    return out


def loss_curve_figure(tb_dir, names=("loss", "dur_loss", "prior_loss", "diff_loss", "mel_loss"), title: str | None = None):
    """Training-loss curves of a `levytts train` run (its ``tb/`` directory); returns a Figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scalars = read_scalars(tb_dir)
    shown = [n for n in names if n in scalars]
    if not shown:
        raise ValueError(f"no training losses logged in {tb_dir}")
    fig, axes = plt.subplots(1, len(shown), figsize=(3.2 * len(shown), 2.8), squeeze=False)
    for ax, name in zip(axes[0], shown):
        steps, values = scalars[name]
        ax.plot(steps, values, lw=0.8)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("step")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
