"""Figures of traced neurons: maximum-intensity projections with trees overlaid, a 3-D view,
and tracing quality against the signal level.

Trees are drawn in voxel coordinates of the stack (SWC positions divided by the
voxel size, after subtracting ``offset``), so they lie on the projections.
"""
import numpy as np

from emseg.plot import finish_figure, new_figure, save_figure
from emseg.data.swc import SwcTree, triple

__all__ = ["plot_trace_mip", "plot_tree_3d", "plot_quality_vs_signal"]

_COLOURS = ("tab:orange", "tab:cyan", "tab:red", "tab:green", "tab:purple")
# (projection axis, horizontal voxel axis, vertical voxel axis, name)
_VIEWS = ((0, 2, 1, "z-MIP (x →, y ↓)"), (1, 2, 0, "y-MIP (x →, z ↓)"))


def _segments(tree, voxel_size, offset):
    """Edges of ``tree`` as pairs of (z, y, x) voxel positions, shape (m, 2, 3)."""
    if len(tree) == 0:
        return np.zeros((0, 2, 3))
    zyx = (tree.xyz[:, ::-1] - np.asarray(offset, float)) / voxel_size
    child, parent = tree.edges()
    return np.stack([zyx[child], zyx[parent]], axis=1)


def plot_trace_mip(image, trees, path=None, *, voxel_size=(1.0, 1.0, 1.0), offset=(0.0, 0.0, 0.0),
                   title="", percentile=99.7, overwrite=False):
    """Maximum-intensity projections (z and y) of a stack with traced trees on top.

    Parameters
    ----------
    image : numpy.ndarray
        3-D (z, y, x) stack (raw or a probability map).
    trees : dict of str -> SwcTree
        Trees to overlay (label -> tree), physical SWC coordinates.
    path : str or Path, optional
        Save the figure there instead of returning a pyplot figure.
    voxel_size, offset : 3 floats
        (z, y, x) voxel size and the physical position of voxel (0, 0, 0).
    title : str
        Figure title.
    percentile : float
        Display range of each projection: its 1st to ``percentile``-th percentile.
    overwrite : bool
        Replace an existing ``path``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.collections import LineCollection

    image = np.asarray(image)
    if image.ndim != 3:
        raise ValueError(f"image must be 3-D (z, y, x), got shape {image.shape}")
    if not isinstance(trees, dict) or not all(isinstance(t, SwcTree) for t in trees.values()):
        raise TypeError("trees must be a dict of label -> SwcTree")
    vs = triple(voxel_size, "voxel_size")
    fig, axes = new_figure(path, nrows=1, ncols=2, figsize=(12, 5.5), squeeze=False)
    for ax, (proj, h, v, name) in zip(axes[0], _VIEWS):
        mip = image.max(axis=proj).astype(np.float32)
        lo, hi = np.percentile(mip, [1, percentile])
        aspect = vs[v] / vs[h]
        ax.imshow(mip, cmap="gray", vmin=lo, vmax=max(hi, lo + 1e-6), aspect=aspect,
                  interpolation="nearest")
        for (label, tree), colour in zip(trees.items(), _COLOURS):
            seg = _segments(tree, vs, offset)
            lines = LineCollection(seg[:, :, [h, v]], colors=colour, linewidths=1.0, label=label)
            ax.add_collection(lines)
        ax.set_title(name)
        ax.set_xlim(-0.5, image.shape[h] - 0.5)
        ax.set_ylim(image.shape[v] - 0.5, -0.5)
        ax.set_xticks([])
        ax.set_yticks([])
    if trees:
        axes[0, 0].legend(loc="lower right", fontsize=8)
    return finish_figure(fig, path, title=title, overwrite=overwrite)


def plot_tree_3d(trees, path=None, *, title="", elev=25, azim=-60, overwrite=False):
    """A 3-D line view of traced trees (physical SWC coordinates), with matplotlib.

    Parameters
    ----------
    trees : dict of str -> SwcTree
        Trees to draw (label -> tree).
    path : str or Path, optional
        Save the figure there instead of returning a pyplot figure.
    title : str
        Figure title.
    elev, azim : float
        View angles.
    overwrite : bool
        Replace an existing ``path``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from mpl_toolkits.mplot3d.art3d import Line3DCollection

    if not isinstance(trees, dict) or not all(isinstance(t, SwcTree) for t in trees.values()):
        raise TypeError("trees must be a dict of label -> SwcTree")
    fig, ax = new_figure(path, figsize=(7, 6), subplot_kw={"projection": "3d"})
    lo, hi = np.full(3, np.inf), np.full(3, -np.inf)
    for (label, tree), colour in zip(trees.items(), _COLOURS):
        if len(tree) == 0:
            continue
        xyz = tree.xyz
        child, parent = tree.edges()
        ax.add_collection3d(Line3DCollection(np.stack([xyz[child], xyz[parent]], 1),
                                             colors=colour, linewidths=1.0, label=label))
        lo, hi = np.minimum(lo, xyz.min(0)), np.maximum(hi, xyz.max(0))
    if np.all(np.isfinite(lo)):
        for setter, a, b in zip((ax.set_xlim, ax.set_ylim, ax.set_zlim), lo, hi):
            setter(a, b + 1e-6)
        ax.set_box_aspect(np.maximum(hi - lo, 1e-6))
        ax.legend(fontsize=8)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_zlabel("z")
    ax.view_init(elev=elev, azim=azim)
    ax.set_title(title)
    if path is not None:
        return save_figure(fig, path, overwrite=overwrite)
    return fig


def _finite_mean(values):
    """Mean of the finite values; NaN (not plotted) when there is none (nothing traced)."""
    v = np.asarray(values, float)
    return float(v[np.isfinite(v)].mean()) if np.isfinite(v).any() else float("nan")


def plot_quality_vs_signal(rows, path=None, *, title="Tracing quality under decreasing signal",
                           metrics=("f1", "esa", "pds"), overwrite=False):
    """Tracing scores against the signal level, one line per method.

    Parameters
    ----------
    rows : list of dict
        Each with ``method``, ``intensity`` and the ``metrics`` keys (several rows
        of one method and intensity, e.g. several stacks, are averaged).
    path : str or Path, optional
        Save the figure there instead of returning a pyplot figure.
    title : str
        Figure title.
    metrics : tuple of str
        Which scores to plot, one panel each.
    overwrite : bool
        Replace an existing ``path``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    labels = {"f1": "F1 at 2 voxels (higher is better)", "esa": "ESA, voxels (lower is better)",
              "pds": "PDS (lower is better)", "recall": "recall at 2 voxels",
              "precision": "precision at 2 voxels", "dsa": "DSA, voxels"}
    fig, axes = new_figure(path, nrows=1, ncols=len(metrics), figsize=(4.5 * len(metrics), 3.8),
                        squeeze=False)
    methods = list(dict.fromkeys(r["method"] for r in rows))
    for ax, key in zip(axes[0], metrics):
        for method, colour in zip(methods, _COLOURS):
            levels = sorted({r["intensity"] for r in rows if r["method"] == method})
            means = [_finite_mean([r[key] for r in rows if r["method"] == method
                                   and r["intensity"] == lv]) for lv in levels]
            ax.plot(levels, means, "o-", color=colour, label=method)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("signal scale (× the 1× stack)")
        ax.set_title(labels.get(key, key))
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    return finish_figure(fig, path, title=title, overwrite=overwrite)
