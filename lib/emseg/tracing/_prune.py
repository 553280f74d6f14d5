"""Node-level tree helpers shared by the tracers: spur pruning and conversion to SwcTree.

A traced tree is held as three arrays while it is built: ``pos`` (n, 3) in
physical (z, y, x), ``radius`` (n,) and ``parent`` (n,) as indices (-1 = root),
with parents created before their children. Loops here run over tips and
nodes, never over voxels.
"""
import numpy as np

from emseg.data.swc import SwcTree


def prune_spurs(pos, radius, parent, *, factor, min_length, max_rounds=20):
    """Remove short terminal branches; return the kept node indices.

    A terminal branch runs from a tip up to (not including) the nearest node
    with two or more children. It is removed when its length is below
    ``max(factor * radius[branch node], min_length)``; when every child branch
    of a node would go, the longest one stays, so a neurite is shortened at
    most to its longest end. Rounds repeat until nothing changes, since
    removing a spur can turn a branch point into an ordinary node.
    """
    n = len(parent)
    alive = np.ones(n, bool)
    if n == 0 or (factor <= 0 and min_length <= 0):
        return np.arange(n)
    step = np.zeros(n)
    has = parent >= 0
    step[has] = np.linalg.norm(pos[has] - pos[parent[has]], axis=1)
    for _ in range(max_rounds):
        live_parent = parent[alive & has]
        nch = np.bincount(live_parent, minlength=n)
        spurs = {}
        for tip in np.flatnonzero(alive & has & (nch == 0)):
            path, node, length = [tip], parent[tip], step[tip]
            while nch[node] == 1 and parent[node] >= 0:
                path.append(node)
                length += step[node]
                node = parent[node]
            if nch[node] >= 2:
                spurs.setdefault(node, []).append((length, path))
        removed = False
        for node, branches in spurs.items():
            limit = max(factor * radius[node], min_length)
            short = [b for b in branches if b[0] < limit]
            if len(short) == nch[node]:                  # keep the longest end
                short.remove(max(short, key=lambda b: b[0]))
            for _, path in short:
                alive[path] = False
                removed = True
        if not removed:
            break
    return np.flatnonzero(alive)


def to_swc_tree(pos, radius, parent, keep=None):
    """SwcTree from physical (z, y, x) node arrays, keeping the nodes ``keep``.

    Roots noticeably thicker than their tree's typical node (radius > 2 x the
    median) are typed 1 (soma); all other nodes are 0 (undefined).
    """
    pos, radius, parent = np.asarray(pos, float).reshape(-1, 3), np.asarray(radius, float), \
        np.asarray(parent, np.int64)
    if keep is None:
        keep = np.arange(len(parent))
    new = np.full(len(parent), -1)
    new[keep] = np.arange(len(keep))
    par = parent[keep]
    par = np.where(par >= 0, new[np.maximum(par, 0)], -1)
    rad = radius[keep]
    typ = np.zeros(len(keep), np.int32)
    if len(keep):
        typ[(par < 0) & (rad > 2 * np.median(rad))] = 1
    return SwcTree.from_arrays(pos[keep][:, ::-1], par, radius=rad, type=typ)
