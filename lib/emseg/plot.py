"""Figures shared by the command line and the notebooks."""
from pathlib import Path

import numpy as np

from emseg._atomic import atomic_path

__all__ = ["plot_history", "plot_prediction", "plot_data", "plot_probabilities", "save_figure",
           "finish_figure"]


def _figure(path, **kwargs):
    """A new figure with subplots. When saving to a file, a plain matplotlib Figure is used,
    so the global pyplot state (the notebook's backend and open figures) is untouched."""
    if path is None:
        import matplotlib.pyplot as plt
        return plt.subplots(**kwargs)
    from matplotlib.figure import Figure
    fig = Figure(figsize=kwargs.pop("figsize", None))
    return fig, fig.subplots(**kwargs)


def finish_figure(fig, path=None, *, title=None):
    """Give ``fig`` its title and a tight layout; save it to ``path`` (atomically, then
    return the path) or, without a path, return the figure."""
    if title is not None:
        fig.suptitle(title)
    fig.tight_layout()
    if path is not None:
        return save_figure(fig, path)
    return fig


def save_figure(fig, path, *, dpi=100):
    """Save a matplotlib figure atomically (temp file + rename); returns the path."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
    return Path(path)


def plot_history(history, path=None, *, title="Training", loss_label="training loss"):
    """Training loss (and its running mean) and validation MIoU against iterations.

    Parameters
    ----------
    history : dict
        As returned by :func:`emseg.train.fit`.
    path : str or Path, optional
        Save the figure there (PNG) and close it; otherwise return the figure.
    loss_label : str
        y-axis label of the loss panel (the loss is the model's own ``training_loss``:
        weighted cross-entropy for the platelet nets, focal + contrastive for ECS-Net, ...).
    """
    fig, (ax1, ax2) = _figure(path, nrows=1, ncols=2, figsize=(8, 3.2))
    it, loss = np.asarray(history["iteration"]), np.asarray(history["loss"], dtype=float)
    ax1.plot(it, loss, lw=0.5, alpha=0.5, label="loss")
    if len(loss) >= 10:
        k = max(5, len(loss) // 20)
        ax1.plot(it[k - 1:], np.convolve(loss, np.ones(k) / k, mode="valid"), lw=1.5,
                 label=f"running mean ({k})")
    ax1.set(title=f"{title}: loss", xlabel="iteration", ylabel=loss_label)
    ax1.legend(fontsize=8)
    val = history.get("val") or []
    if val:
        vi = [v["iteration"] for v in val]
        for key, label in (("miou_all", "MIoU (all classes)"), ("miou_organelle", "MIoU (organelles)")):
            if key in val[0]:
                ax2.plot(vi, [v[key] for v in val], "o-", label=label)
        ax2.legend(fontsize=8)
    ax2.set(title=f"{title}: validation", xlabel="iteration", ylabel="MIoU", ylim=(0, 1))
    return finish_figure(fig, path)


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
    return finish_figure(fig, path)


def plot_data(volumes, path=None, *, z=None, n_classes=7, title="Data"):
    """One z slice of each volume: image, labels and (where present) error weights.

    Parameters
    ----------
    volumes : dict of str to Volume
        For example ``{"train": train, "eval": val, "test": test}``; one row each.
    path : str or Path, optional
        Save the figure there (PNG); otherwise return it.
    z : int, optional
        Slice index (default: each volume's middle slice).
    """
    if not volumes:
        raise ValueError("volumes must be a non-empty dict of name -> Volume")
    fig, axes = _figure(path, nrows=len(volumes), ncols=3, figsize=(9, 3 * len(volumes)),
                        squeeze=False)
    for row, (name, vol) in zip(axes, volumes.items()):
        k = min(vol.image.shape[0] // 2 if z is None else z, vol.image.shape[0] - 1)
        tag = "synthetic " if getattr(vol, "synthetic", False) else ""
        row[0].imshow(vol.image[k], cmap="gray")
        row[0].set_title(f"{tag}{name} image, z={k} {tuple(vol.image.shape)}", fontsize=9)
        row[1].imshow(vol.labels[k], cmap="jet", vmin=0, vmax=n_classes - 1,
                      interpolation="nearest")
        row[1].set_title(f"{name} labels", fontsize=9)
        if vol.weights is not None:
            im = row[2].imshow(vol.weights[k], cmap="magma")
            row[2].set_title(f"{name} error weights", fontsize=9)
            fig.colorbar(im, ax=row[2], fraction=0.046)
        else:
            row[2].text(0.5, 0.5, "no error weights\n(train split only)", ha="center",
                        va="center", fontsize=9)
        for ax in row:
            ax.set_axis_off()
    return finish_figure(fig, path, title=title)


def plot_probabilities(probabilities, path=None, *, z=None, class_names=None, title=""):
    """The per-class probability maps of one z slice, one panel per class (0..1).

    Parameters
    ----------
    probabilities : ndarray
        (C, z, y, x) class probabilities, as returned by ``predict(...,
        output="probabilities")``.
    class_names : sequence of str, optional
        Panel titles (default ``class 0``, ``class 1``, ...).
    """
    probs = np.asarray(probabilities)
    if probs.ndim != 4:
        raise ValueError(f"probabilities must be (C, z, y, x), got shape {probs.shape}")
    n = probs.shape[0]
    names = list(class_names) if class_names is not None else [f"class {c}" for c in range(n)]
    k = probs.shape[1] // 2 if z is None else z
    cols = min(n, 4)
    rows = -(-n // cols)
    fig, axes = _figure(path, nrows=rows, ncols=cols, figsize=(2.6 * cols, 2.6 * rows),
                        squeeze=False)
    for c, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if c < n:
            ax.imshow(probs[c, k], cmap="viridis", vmin=0, vmax=1)
            ax.set_title(names[c], fontsize=9)
    fig.suptitle(f"{title} class probabilities, z={k}".strip())
    return finish_figure(fig, path)
