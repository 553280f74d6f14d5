"""Figures shared by the command line and the notebooks."""
from pathlib import Path

import numpy as np

from emseg._atomic import atomic_path

__all__ = ["plot_history", "plot_prediction", "save_figure"]


def _figure(path, **kwargs):
    """A new figure with subplots. When saving to a file, a plain matplotlib Figure is used,
    so the global pyplot state (the notebook's backend and open figures) is untouched."""
    if path is None:
        import matplotlib.pyplot as plt
        return plt.subplots(**kwargs)
    from matplotlib.figure import Figure
    fig = Figure(figsize=kwargs.pop("figsize", None))
    return fig, fig.subplots(**kwargs)


def save_figure(fig, path, *, dpi=100):
    """Save a matplotlib figure atomically (temp file + rename); returns the path."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
    return Path(path)


def plot_history(history, path=None, *, title="Training"):
    """Training loss (and its running mean) and validation MIoU against iterations.

    Parameters
    ----------
    history : dict
        As returned by :func:`emseg.train.fit`.
    path : str or Path, optional
        Save the figure there (PNG) and close it; otherwise return the figure.
    """
    fig, (ax1, ax2) = _figure(path, nrows=1, ncols=2, figsize=(8, 3.2))
    it, loss = np.asarray(history["iteration"]), np.asarray(history["loss"], dtype=float)
    ax1.plot(it, loss, lw=0.5, alpha=0.5, label="loss")
    if len(loss) >= 10:
        k = max(5, len(loss) // 20)
        ax1.plot(it[k - 1:], np.convolve(loss, np.ones(k) / k, mode="valid"), lw=1.5,
                 label=f"running mean ({k})")
    ax1.set(title=f"{title}: loss", xlabel="iteration", ylabel="weighted cross-entropy")
    ax1.legend(fontsize=8)
    val = history.get("val") or []
    if val:
        vi = [v["iteration"] for v in val]
        for key, label in (("miou_all", "MIoU (all classes)"), ("miou_organelle", "MIoU (organelles)")):
            if key in val[0]:
                ax2.plot(vi, [v[key] for v in val], "o-", label=label)
        ax2.legend(fontsize=8)
    ax2.set(title=f"{title}: validation", xlabel="iteration", ylabel="MIoU", ylim=(0, 1))
    fig.tight_layout()
    if path is not None:
        return save_figure(fig, path)
    return fig


def plot_prediction(image, labels, prediction, path=None, *, z=None, n_classes=7, title=""):
    """One z slice: image, ground truth and prediction side by side (jet colormap, 0..n-1)."""
    z = image.shape[0] // 2 if z is None else z
    fig, axes = _figure(path, nrows=1, ncols=3, figsize=(8, 2.9))
    axes[0].imshow(image[z], cmap="gray")
    axes[0].set_title(f"{title} image (z={z})".strip())
    for ax, arr, name in ((axes[1], labels, "ground truth"), (axes[2], prediction, "prediction")):
        ax.imshow(arr[z], cmap="jet", vmin=0, vmax=n_classes - 1, interpolation="nearest")
        ax.set_title(name)
    for ax in axes:
        ax.set_axis_off()
    fig.tight_layout()
    if path is not None:
        return save_figure(fig, path)
    return fig
