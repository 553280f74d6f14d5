"""Figures shared by the command line and the notebooks.

Every figure function takes its ``title`` (drawn as the figure's title, above the panel
titles; callers add no ``suptitle`` afterwards), returns the figure or, given a ``path``,
saves it atomically and refuses to replace an existing file unless ``overwrite=True``.
Label maps use one colour per class, the same in every figure (:func:`label_colormap`),
and carry a legend naming the classes.
"""
from pathlib import Path

import numpy as np

from emseg.atomic import atomic_path, check_output

__all__ = ["plot_history", "plot_prediction", "plot_data", "plot_probabilities", "plot_blocks",
           "save_figure", "finish_figure", "new_figure", "label_colours", "label_colormap",
           "show_labels", "add_label_legend"]

# background dark, the cell (or foreground of a binary mask) light, then the Okabe-Ito
# colour-blind-safe palette; classes beyond these cycle through it
_PALETTE = ("#1a1a1a", "#c8c8c8", "#e69f00", "#56b4e9", "#009e73", "#d55e00", "#cc79a7",
            "#f0e442", "#0072b2")


def label_colours(n_classes):
    """The colours (hex strings) of classes ``0 .. n_classes-1``, the same in every figure.

    Class 0 (background) is near-black, class 1 light grey, then the Okabe-Ito palette
    (orange, sky blue, bluish green, vermilion, reddish purple, yellow, blue), which
    colour-blind readers can tell apart.

    Examples
    --------
    >>> label_colours(3)
    ['#1a1a1a', '#c8c8c8', '#e69f00']
    """
    if int(n_classes) < 1:
        raise ValueError(f"n_classes must be >= 1, got {n_classes}")
    cycle = _PALETTE[2:]
    return [_PALETTE[c] if c < 2 else cycle[(c - 2) % len(cycle)] for c in range(int(n_classes))]


def label_colormap(n_classes):
    """A matplotlib colormap for label maps (use with ``vmin=-0.5, vmax=n_classes-0.5``)."""
    from matplotlib.colors import ListedColormap

    return ListedColormap(label_colours(n_classes), name=f"emseg-labels-{int(n_classes)}")


def show_labels(ax, labels, n_classes, **kwargs):
    """Draw a 2-D label map on ``ax`` in the label colours; returns the image."""
    return ax.imshow(labels, cmap=label_colormap(n_classes), vmin=-0.5, vmax=n_classes - 0.5,
                     interpolation="nearest", **kwargs)


def add_label_legend(fig, class_names):
    """A legend of the label colours under the panels of ``fig`` (one patch per class)."""
    from matplotlib.patches import Patch

    names = list(class_names)
    handles = [Patch(facecolor=c, edgecolor="#666666", label=n)
               for c, n in zip(label_colours(len(names)), names)]
    return fig.legend(handles=handles, loc="outside lower center", ncol=min(len(names), 4),
                      fontsize=8, frameon=False)


def _class_names(class_names, n_classes):
    names = [f"class {c}" for c in range(n_classes)] if class_names is None else list(class_names)
    if len(names) != n_classes:
        raise ValueError(f"class_names has {len(names)} names for {n_classes} classes")
    return names


def new_figure(path=None, **kwargs):
    """A new figure with subplots, laid out by matplotlib's constrained layout (titles,
    colourbars and legends never overlap). When saving to a file, a plain matplotlib
    Figure is used, so the global pyplot state (the notebook's backend and open figures)
    is untouched."""
    if path is None:
        import matplotlib.pyplot as plt
        return plt.subplots(layout="constrained", **kwargs)
    from matplotlib.figure import Figure
    fig = Figure(figsize=kwargs.pop("figsize", None), layout="constrained")
    return fig, fig.subplots(**kwargs)


def finish_figure(fig, path=None, *, title=None, overwrite=False):
    """Give ``fig`` its title (and a tight layout unless it has a layout engine); save it
    to ``path`` (atomically; an existing file only with ``overwrite=True``) and return the
    path or, without a path, return the figure."""
    if title:
        fig.suptitle(title)
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    if path is not None:
        return save_figure(fig, path, overwrite=overwrite)
    return fig


def save_figure(fig, path, *, dpi=100, overwrite=False):
    """Save a matplotlib figure atomically (temp file + rename); returns the path.

    Raises
    ------
    ValueError
        If ``path`` exists and ``overwrite`` is false.
    """
    check_output(path, overwrite=overwrite, what="figure")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
    return Path(path)


def plot_history(history, path=None, *, title="Training", loss_label="training loss",
                 overwrite=False):
    """Training loss (and its running mean) and validation MIoU against iterations.

    Parameters
    ----------
    history : dict
        As returned by :func:`emseg.train.fit`.
    path : str or Path, optional
        Save the figure there (PNG) and close it; otherwise return the figure.
    title : str
        The figure's title.
    loss_label : str
        y-axis label of the loss panel (the loss is the model's own ``training_loss``:
        Dice + cross-entropy for the CPU presets, weighted cross-entropy for the
        platelet nets' original recipe, focal + contrastive for ECS-Net, ...).
    overwrite : bool
        Replace an existing ``path``.
    """
    fig, (ax1, ax2) = new_figure(path, nrows=1, ncols=2, figsize=(8, 3.4))
    it, loss = np.asarray(history["iteration"]), np.asarray(history["loss"], dtype=float)
    ax1.plot(it, loss, lw=0.5, alpha=0.5, label="loss")
    if len(loss) >= 10:
        k = max(5, len(loss) // 20)
        ax1.plot(it[k - 1:], np.convolve(loss, np.ones(k) / k, mode="valid"), lw=1.5,
                 label=f"running mean ({k})")
    ax1.set(title="loss", xlabel="iteration", ylabel=loss_label)
    ax1.legend(fontsize=8)
    val = history.get("val") or []
    if val:
        vi = [v["iteration"] for v in val]
        for key, label in (("miou_all", "MIoU (all classes)"), ("miou_organelle", "MIoU (organelles)")):
            if key in val[0]:
                ax2.plot(vi, [v[key] for v in val], "o-", label=label)
        ax2.legend(fontsize=8)
    ax2.set(title="validation", xlabel="iteration", ylabel="MIoU", ylim=(0, 1))
    return finish_figure(fig, path, title=title, overwrite=overwrite)


def plot_prediction(image, labels, prediction, path=None, *, z=None, n_classes=7,
                    class_names=None, title=None, overwrite=False):
    """One z slice: image, ground truth and prediction side by side, with a class legend.

    Parameters
    ----------
    image, labels, prediction : ndarray
        (z, y, x) volumes; ``labels`` may be None (no ground truth: two panels).
    path : str or Path, optional
        Save the figure there (PNG); otherwise return it.
    z : int, optional
        Slice index (default: the middle slice).
    n_classes : int
        Number of classes (the colours are :func:`label_colours`).
    class_names : sequence of str, optional
        Legend entries (default ``class 0``, ``class 1``, ...).
    title : str, optional
        The figure's title.
    overwrite : bool
        Replace an existing ``path``.
    """
    names = _class_names(class_names, n_classes)
    z = image.shape[0] // 2 if z is None else z
    maps = [(labels, "ground truth"), (prediction, "prediction")]
    maps = [(a, n) for a, n in maps if a is not None]
    fig, axes = new_figure(path, nrows=1, ncols=1 + len(maps), figsize=(3 * (1 + len(maps)), 3.5))
    axes[0].imshow(image[z], cmap="gray")
    axes[0].set_title(f"image (z={z})", fontsize=10)
    for ax, (arr, name) in zip(axes[1:], maps):
        show_labels(ax, arr[z], n_classes)
        ax.set_title(name, fontsize=10)
    for ax in axes:
        ax.set_axis_off()
    add_label_legend(fig, names)
    return finish_figure(fig, path, title=title, overwrite=overwrite)


def plot_data(volumes, path=None, *, z=None, n_classes=7, class_names=None, title="Data",
              overwrite=False):
    """One z slice of each volume: image, labels and (where present) error weights.

    Parameters
    ----------
    volumes : dict of str to Volume
        For example ``{"train": train, "eval": val, "test": test}``; one row each.
    path : str or Path, optional
        Save the figure there (PNG); otherwise return it.
    z : int, optional
        Slice index (default: each volume's middle slice).
    n_classes : int
        Number of classes (the colours are :func:`label_colours`).
    class_names : sequence of str, optional
        Legend entries (default ``class 0``, ``class 1``, ...).
    title : str
        The figure's title.
    overwrite : bool
        Replace an existing ``path``.
    """
    if not volumes:
        raise ValueError("volumes must be a non-empty dict of name -> Volume")
    names = _class_names(class_names, n_classes)
    fig, axes = new_figure(path, nrows=len(volumes), ncols=3,
                           figsize=(9, 3 * len(volumes) + 0.6), squeeze=False)
    for row, (name, vol) in zip(axes, volumes.items()):
        k = min(vol.image.shape[0] // 2 if z is None else z, vol.image.shape[0] - 1)
        tag = "synthetic " if getattr(vol, "synthetic", False) else ""
        row[0].imshow(vol.image[k], cmap="gray")
        row[0].set_title(f"{tag}{name} image, z={k} {tuple(vol.image.shape)}", fontsize=9)
        show_labels(row[1], vol.labels[k], n_classes)
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
    add_label_legend(fig, names)
    return finish_figure(fig, path, title=title, overwrite=overwrite)


def plot_probabilities(probabilities, path=None, *, z=None, class_names=None, title=None,
                       overwrite=False):
    """The per-class probability maps of one z slice, one panel per class (0..1).

    Parameters
    ----------
    probabilities : ndarray
        (C, z, y, x) class probabilities, as returned by ``predict(...,
        output="probabilities")``.
    class_names : sequence of str, optional
        Panel titles (default ``class 0``, ``class 1``, ...).
    title : str, optional
        The figure's title (default ``class probabilities, z=<k>``).
    overwrite : bool
        Replace an existing ``path``.
    """
    probs = np.asarray(probabilities)
    if probs.ndim != 4:
        raise ValueError(f"probabilities must be (C, z, y, x), got shape {probs.shape}")
    n = probs.shape[0]
    names = _class_names(class_names, n)
    k = probs.shape[1] // 2 if z is None else z
    cols = min(n, 4)
    rows = -(-n // cols)
    fig, axes = new_figure(path, nrows=rows, ncols=cols, figsize=(2.6 * cols, 2.6 * rows + 0.4),
                           squeeze=False)
    for c, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if c < n:
            im = ax.imshow(probs[c, k], cmap="viridis", vmin=0, vmax=1)
            ax.set_title(names[c], fontsize=9)
    fig.colorbar(im, ax=axes, shrink=0.6, label="probability")
    return finish_figure(fig, path, title=title or f"class probabilities, z={k}",
                         overwrite=overwrite)


def plot_blocks(labels, block_size, path=None, *, z=None, y=None, n_classes=7, class_names=None,
                title=None, overwrite=False):
    """A label volume predicted block by block, with the block edges drawn as dashed lines:
    one z slice (y, x) and one y section (z, x), so seams would show in both directions.

    Parameters
    ----------
    labels : ndarray
        (z, y, x) labels, e.g. the argmax of :func:`emseg.blockwise.predict_large`'s output.
    block_size : tuple of int
        (z, y, x) block size of the prediction.
    path : str or Path, optional
        Save the figure there (PNG); otherwise return it.
    z, y : int, optional
        The slice and section shown (default: the middle ones).
    n_classes : int
        Number of classes (the colours are :func:`label_colours`).
    class_names : sequence of str, optional
        Legend entries (default ``class 0``, ``class 1``, ...).
    title : str, optional
        The figure's title.
    overwrite : bool
        Replace an existing ``path``.
    """
    labels = np.asarray(labels)
    if labels.ndim != 3:
        raise ValueError(f"labels must be (z, y, x), got shape {labels.shape}")
    if len(block_size) != 3 or min(block_size) < 1:
        raise ValueError(f"block_size must be three positive sizes (z, y, x), got {block_size}")
    names = _class_names(class_names, n_classes)
    z = labels.shape[0] // 2 if z is None else int(z)
    y = labels.shape[1] // 2 if y is None else int(y)
    edges = [range(b, n, b) for b, n in zip(block_size, labels.shape)]
    fig, ax = new_figure(path, nrows=1, ncols=2, figsize=(11, 4.8),
                         gridspec_kw={"width_ratios": [1, 1.4]})
    show_labels(ax[0], labels[z], n_classes)
    ax[0].set_title(f"slice z={z} (y, x)", fontsize=10)
    show_labels(ax[1], labels[:, y], n_classes, aspect="auto")
    ax[1].set_title(f"section y={y} (z, x)", fontsize=10)
    line = {"color": "w", "lw": 1.5, "ls": "--"}
    for e in edges[1]:
        ax[0].axhline(e - 0.5, **line)
    for e in edges[2]:
        ax[0].axvline(e - 0.5, **line)
        ax[1].axvline(e - 0.5, **line)
    for e in edges[0]:
        ax[1].axhline(e - 0.5, **line)
    for a in ax:
        a.set_xticks([])
        a.set_yticks([])
    add_label_legend(fig, names)
    return finish_figure(fig, path, title=title, overwrite=overwrite)
