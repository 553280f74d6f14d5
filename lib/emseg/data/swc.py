"""SWC neuron trees: a small array representation, tolerant reading, writing, resampling.

An SWC file lists one node per line: ``id type x y z radius parent``, with
``parent = -1`` for a root. :class:`SwcTree` holds the same columns as numpy
arrays, in file order.

Coordinate conventions (the one place where they are defined)
---------------------------------------------------------------
* SWC coordinates are **physical** and ordered **(x, y, z)** (nm, um, whatever
  unit the file uses).
* emseg volumes are indexed **(z, y, x)**, and every volume-side argument
  (``voxel_size``, ``offset``, ``shape``) is given in that order.
* Voxel ``(k, j, i)`` (slice, row, column) has its centre at the physical point
  ``x = offset[2] + i * voxel_size[2]``, ``y = offset[1] + j * voxel_size[1]``,
  ``z = offset[0] + k * voxel_size[0]``: indices are 0-based and refer to voxel
  centres. :func:`voxel_to_swc` and :func:`swc_to_voxel` convert explicitly;
  nothing else in emseg swaps axes silently.

What the reader tolerates, and what it refuses
----------------------------------------------
Tolerated: ``#`` comment lines and trailing ``# ...`` comments, blank lines,
Windows line ends, tabs, extra columns after the seventh, integer columns
written as whole floats (``5.0``), several roots (a forest), ids in any order
and parents listed after their children. Refused with a ``ValueError`` that
gives the line number and the problem: fewer than 7 columns, non-numeric or
non-finite values, non-integer ids, duplicate ids, parents that are not
defined, and parent cycles. Cycle detection is vectorised pointer doubling, so
it ends after ``log2(n)`` steps whatever the file holds; nothing can hang.
"""
import io
import numbers
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emseg.atomic import atomic_path, check_output

__all__ = ["SwcTree", "read_swc", "write_swc", "resample_tree", "crop_tree", "densest_box",
           "voxel_to_swc", "swc_to_voxel"]

_COLUMNS = "id type x y z radius parent"


# --------------------------------------------------------------------------- topology helpers
def _parent_index(ids, parents):
    """Index of each node's parent (-1 for roots) and a mask of unknown parent ids."""
    pidx = np.full(len(ids), -1, np.int64)
    if len(ids) == 0:
        return pidx, np.zeros(0, bool)
    order = np.argsort(ids, kind="stable")
    pos = np.minimum(np.searchsorted(ids[order], parents), len(ids) - 1)
    found = (parents >= 0) & (ids[order][pos] == parents)
    pidx[found] = order[pos[found]]
    return pidx, (parents >= 0) & ~found


def _ancestry(pidx):
    """Root index and depth of every node by pointer doubling; ``cyclic`` marks cycles.

    After ``k`` rounds, ``up[i]`` is the ``2**k``-th ancestor of ``i`` (or its root),
    so ``bit_length(n) + 1`` rounds reach the root of every acyclic path. Nodes whose
    ``up`` is still not a root lie on, or hang from, a parent cycle.
    """
    n = len(pidx)
    idx = np.arange(n)
    up = np.where(pidx < 0, idx, pidx)
    depth = (pidx >= 0).astype(np.int64)
    for _ in range(int(n).bit_length() + 1):
        depth = depth + depth[up]
        up = up[up]
    cyclic = pidx[up] >= 0 if n else np.zeros(0, bool)
    return up, depth, cyclic


def _cycle_path(pidx, start, ids, limit=12):
    """Ids around the cycle that contains ``start`` (at most ``limit`` shown)."""
    path, node = [int(ids[start])], pidx[start]
    while node != start and len(path) < limit:
        path.append(int(ids[node]))
        node = pidx[node]
    path.append(int(ids[start]) if node == start else "...")
    return " -> ".join(str(p) for p in path)


# --------------------------------------------------------------------------- the tree
@dataclass(eq=False)
class SwcTree:
    """A neuron tree (or forest) as SWC columns, one array per column, in file order.

    Attributes
    ----------
    id : numpy.ndarray of int64
        Node ids, unique (any order, not necessarily 1..n).
    type : numpy.ndarray of int32
        SWC structure type (0 undefined, 1 soma, 2 axon, 3 dendrite, ...).
    x, y, z : numpy.ndarray of float64
        Physical position (SWC order x, y, z; see the module notes for volumes).
    radius : numpy.ndarray of float64
        Node radius, same unit as the coordinates.
    parent : numpy.ndarray of int64
        Parent id, ``-1`` (any negative value) for a root.

    Notes
    -----
    The arrays are checked when the tree is made: same length, unique ids,
    every parent defined, no parent cycle. Treat a tree as immutable; the
    functions of :mod:`emseg.tracing` return new trees. ``==`` compares
    identity (compare the arrays to compare contents).

    Examples
    --------
    >>> t = SwcTree.from_nodes([[1, 1, 0, 0, 0, 2, -1], [2, 3, 3, 4, 0, 1, 1]])
    >>> len(t), t.cable_length, t.xyz[1].tolist()
    (2, 5.0, [3.0, 4.0, 0.0])
    """
    id: np.ndarray
    type: np.ndarray
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    radius: np.ndarray
    parent: np.ndarray

    def __post_init__(self):
        cols = {}
        for name, dtype in (("id", np.int64), ("type", np.int32), ("x", np.float64),
                            ("y", np.float64), ("z", np.float64), ("radius", np.float64),
                            ("parent", np.int64)):
            arr = np.asarray(getattr(self, name))
            if arr.ndim != 1:
                raise ValueError(f"SwcTree.{name} must be a 1-D array, got shape {arr.shape}")
            if np.issubdtype(dtype, np.integer) and arr.size and \
                    not np.issubdtype(arr.dtype, np.integer):
                if not (np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr))):
                    raise ValueError(f"SwcTree.{name} must hold integers, got dtype {arr.dtype}")
            cols[name] = arr.astype(dtype)
            setattr(self, name, cols[name])
        n = len(cols["id"])
        bad = [k for k, v in cols.items() if len(v) != n]
        if bad:
            raise ValueError(f"SwcTree columns must have the same length ({n} ids), but "
                             f"{', '.join(bad)} differ")
        for name in ("x", "y", "z", "radius"):
            if not np.all(np.isfinite(cols[name])):
                raise ValueError(f"SwcTree.{name} contains NaN or infinite values")
        self.parent[self.parent < 0] = -1
        ids = cols["id"]
        uniq, counts = np.unique(ids, return_counts=True)
        if np.any(counts > 1):
            raise ValueError(f"SwcTree has duplicate node ids: {uniq[counts > 1][:10].tolist()}")
        pidx, missing = _parent_index(ids, self.parent)
        if np.any(missing):
            i = int(np.flatnonzero(missing)[0])
            raise ValueError(f"node {ids[i]} has parent {self.parent[i]}, which is not a node "
                             f"id of the tree")
        _, _, cyclic = _ancestry(pidx)
        if np.any(cyclic):
            i = int(np.flatnonzero(cyclic)[0])
            raise ValueError(f"node {ids[i]} lies on or below a parent cycle; an SWC tree "
                             f"must be acyclic")

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_nodes(cls, rows):
        """Build a tree from rows ``[id, type, x, y, z, radius, parent]``."""
        arr = np.asarray(rows, dtype=np.float64).reshape(-1, 7)
        return cls(id=arr[:, 0], type=arr[:, 1], x=arr[:, 2], y=arr[:, 3], z=arr[:, 4],
                   radius=arr[:, 5], parent=arr[:, 6])

    @classmethod
    def from_arrays(cls, xyz, parent_index, *, radius=None, type=None):
        """Build a tree from positions ``(n, 3)`` in x, y, z order and parent *indices*.

        Ids are ``1..n`` in the given order; ``parent_index[i] = -1`` marks a root.
        """
        xyz = np.asarray(xyz, dtype=np.float64).reshape(-1, 3)
        pidx = np.asarray(parent_index, dtype=np.int64).reshape(-1)
        if len(pidx) != len(xyz):
            raise ValueError(f"parent_index has {len(pidx)} entries for {len(xyz)} positions")
        if np.any(pidx >= len(xyz)):
            raise ValueError("parent_index must hold indices < the number of nodes, or -1")
        n = len(xyz)
        radius = np.ones(n) if radius is None else np.broadcast_to(radius, (n,))
        type = np.zeros(n, np.int32) if type is None else np.broadcast_to(type, (n,))
        return cls(id=np.arange(1, n + 1), type=type, x=xyz[:, 0], y=xyz[:, 1], z=xyz[:, 2],
                   radius=radius, parent=np.where(pidx < 0, -1, pidx + 1))

    @classmethod
    def empty(cls):
        """A tree without nodes."""
        z = np.zeros(0)
        return cls(id=z, type=z, x=z, y=z, z=z, radius=z, parent=z)

    # ---------------------------------------------------------------- views
    def __len__(self):
        return len(self.id)

    def __repr__(self):
        return (f"SwcTree({len(self)} nodes, {len(self.roots)} root(s), "
                f"cable {self.cable_length:.4g})")

    @property
    def xyz(self):
        """Positions as an ``(n, 3)`` array in SWC order (x, y, z)."""
        return np.stack([self.x, self.y, self.z], axis=1)

    @property
    def parent_index(self):
        """Index (into the arrays) of each node's parent; -1 for roots."""
        return _parent_index(self.id, self.parent)[0]

    @property
    def roots(self):
        """Indices of the root nodes."""
        return np.flatnonzero(self.parent < 0)

    @property
    def n_children(self):
        """Number of children of each node."""
        pidx = self.parent_index
        return np.bincount(pidx[pidx >= 0], minlength=len(self))

    def edges(self):
        """``(child, parent)`` index arrays of all parent-child edges."""
        pidx = self.parent_index
        child = np.flatnonzero(pidx >= 0)
        return child, pidx[child]

    @property
    def cable_length(self):
        """Total length of all edges."""
        c, p = self.edges()
        xyz = self.xyz
        return float(np.linalg.norm(xyz[c] - xyz[p], axis=1).sum())

    def take(self, index):
        """The nodes ``index`` (in that order); parents outside the selection become -1."""
        index = np.asarray(index, dtype=np.int64)
        keep = np.zeros(len(self), bool)
        keep[index] = True
        pidx = self.parent_index
        parent = np.where((pidx >= 0) & keep[np.maximum(pidx, 0)], self.parent, -1)
        return SwcTree(id=self.id[index], type=self.type[index], x=self.x[index],
                       y=self.y[index], z=self.z[index], radius=self.radius[index],
                       parent=parent[index])

    def sorted(self):
        """Parents-before-children copy with ids renumbered ``1..n``.

        Trees keep the order of their roots in the file; within a tree, nodes are
        ordered by depth (file order breaks ties).
        """
        pidx = self.parent_index
        root, depth, _ = _ancestry(pidx)
        order = np.lexsort((np.arange(len(self)), depth, root))
        new = np.empty(len(self), np.int64)
        new[order] = np.arange(1, len(self) + 1)
        parent = np.where(pidx >= 0, new[np.maximum(pidx, 0)], -1)
        return SwcTree(id=new[order], type=self.type[order], x=self.x[order], y=self.y[order],
                       z=self.z[order], radius=self.radius[order], parent=parent[order])

    def scaled(self, factor):
        """Copy with coordinates and radii multiplied by ``factor`` (unit conversion).

        ``factor`` is a number, or three numbers (x, y, z) for an anisotropic
        scaling; radii are then scaled by the geometric mean of the three.

        Examples
        --------
        >>> t = SwcTree.from_nodes([[1, 1, 1000, 0, 8, 80, -1]])
        >>> t.scaled(0.008).xyz.tolist(), t.scaled(0.008).radius.tolist()  # 8 nm -> um
        ([[8.0, 0.0, 0.064]], [0.64])
        """
        f = np.asarray(factor, dtype=np.float64)
        if f.shape not in ((), (3,)) or not np.all(np.isfinite(f)) or np.any(f <= 0):
            raise ValueError(f"factor must be a number > 0 or three numbers (x, y, z) > 0, "
                             f"got {factor!r}")
        fx, fy, fz = np.broadcast_to(f, (3,))
        # an isotropic factor scales radii exactly (a cube root may round differently
        # on other machines)
        fr = float(fx) if fx == fy == fz else float(np.cbrt(fx * fy * fz))
        return SwcTree(id=self.id, type=self.type, x=self.x * fx, y=self.y * fy,
                       z=self.z * fz, radius=self.radius * fr,
                       parent=self.parent)


# --------------------------------------------------------------------------- reading
def _number(token, lineno, what, integer=False):
    try:
        value = float(token)
    except ValueError:
        raise ValueError(f"line {lineno}: {what} {token!r} is not a number") from None
    if not np.isfinite(value):
        raise ValueError(f"line {lineno}: {what} {token!r} is not a finite number")
    if integer:
        if value != int(value):
            raise ValueError(f"line {lineno}: {what} {token!r} must be an integer")
        return int(value)
    return value


def read_swc(source):
    """Read an SWC file into an :class:`SwcTree`.

    Parameters
    ----------
    source : str, Path or file-like
        A path, or an open text or binary stream (e.g. ``io.StringIO``); a
        leading byte-order mark is ignored.

    Returns
    -------
    SwcTree
        Nodes in file order with the file's ids.

    Raises
    ------
    ValueError
        With ``line N:`` and the problem, for lines with fewer than 7 columns,
        values that are not finite numbers, non-integer ids or types, duplicate
        ids, parents that are never defined, parent cycles, or a file without
        nodes. See the module notes for what is tolerated.

    Examples
    --------
    >>> text = "# soma\\n1 1 0 0 0 3 -1\\n\\n3 3 0 2 0 1 2  0.9 extra\\n2 3 0 1 0 1 1\\n"
    >>> t = read_swc(io.StringIO(text))
    >>> t.id.tolist(), t.parent.tolist()
    ([1, 3, 2], [-1, 2, 1])
    """
    if isinstance(source, (str, os.PathLike)):
        name = str(source)
        with open(source, encoding="utf-8", errors="replace") as f:
            text = f.read()
    elif hasattr(source, "read"):
        name = getattr(source, "name", "<stream>")
        text = source.read()
        if isinstance(text, (bytes, bytearray)):       # a binary stream: decode as a file
            text = bytes(text).decode("utf-8", errors="replace")
        if not isinstance(text, str):
            raise TypeError(f"source.read() returned {type(text).__name__}; pass a path or a "
                            f"text or binary stream")
    else:
        raise TypeError(f"source must be a path or a text stream, got {type(source).__name__}")
    text = text.lstrip("\ufeff")                      # byte-order mark of some Windows tools
    rows, lines = [], []
    for lineno, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        tok = line.replace(",", " ").split()
        if len(tok) < 7:
            raise ValueError(f"{name}: line {lineno}: expected 7 columns ({_COLUMNS}), found "
                             f"{len(tok)}: {line!r}")
        try:
            rows.append((_number(tok[0], lineno, "id", True),
                         _number(tok[1], lineno, "type", True),
                         _number(tok[2], lineno, "x"), _number(tok[3], lineno, "y"),
                         _number(tok[4], lineno, "z"), _number(tok[5], lineno, "radius"),
                         _number(tok[6], lineno, "parent", True)))
        except ValueError as err:
            raise ValueError(f"{name}: {err}") from None
        lines.append(lineno)
    if not rows:
        raise ValueError(f"{name}: no SWC nodes found (only comments or blank lines)")
    lines = np.asarray(lines)
    ids = np.array([r[0] for r in rows], np.int64)
    parents = np.array([r[6] for r in rows], np.int64)
    parents[parents < 0] = -1
    # duplicate ids: report the second occurrence and where the first was
    order = np.argsort(ids, kind="stable")
    dup = np.flatnonzero(ids[order][1:] == ids[order][:-1])
    if dup.size:
        first, second = order[dup[0]], order[dup[0] + 1]
        raise ValueError(f"{name}: line {lines[second]}: duplicate node id {ids[second]} "
                         f"(first defined on line {lines[first]})")
    pidx, missing = _parent_index(ids, parents)
    if np.any(missing):
        i = int(np.flatnonzero(missing)[0])
        raise ValueError(f"{name}: line {lines[i]}: parent {parents[i]} of node {ids[i]} is "
                         f"not defined anywhere in the file")
    _, _, cyclic = _ancestry(pidx)
    if np.any(cyclic):
        i = int(np.flatnonzero(cyclic)[0])
        while not _on_cycle(pidx, i):
            i = int(pidx[i])
        raise ValueError(f"{name}: line {lines[i]}: node {ids[i]} is on a parent cycle "
                         f"({_cycle_path(pidx, i, ids)}); an SWC tree must be acyclic")
    return SwcTree.from_nodes(rows)


def _on_cycle(pidx, i):
    """True when following parents from ``i`` returns to ``i`` (bounded by n steps)."""
    node = pidx[i]
    for _ in range(len(pidx)):
        if node < 0:
            return False
        if node == i:
            return True
        node = pidx[node]
    return False


# --------------------------------------------------------------------------- writing
def _fmt(v):
    return repr(float(v)) if v != int(v) or abs(v) >= 1e15 else f"{int(v)}.0"


def write_swc(path, tree, *, comments=None, overwrite=False):
    """Write ``tree`` to an SWC file, atomically.

    Parameters
    ----------
    path : str or Path
        Destination (conventionally ``.swc``); missing folders are created.
    tree : SwcTree
        The tree. Nodes are written parents first (ids unchanged), with the
        shortest decimal that reads back to the same float, so
        ``read_swc(write_swc(p, t))`` gives ``t`` exactly (up to node order).
    comments : str or sequence of str, optional
        Extra header lines (``#`` is added).
    overwrite : bool
        Replace an existing file (by default an existing file is refused:
        nothing you made is replaced unless you ask).

    Returns
    -------
    Path
        The written file.

    Examples
    --------
    >>> t = SwcTree.from_nodes([[1, 1, 0.5, 0, 0, 2, -1], [2, 3, 1.25, 0, 0, 1, 1]])
    >>> write_swc(folder / "cell.swc", t)          # doctest: +SKIP
    PosixPath('.../cell.swc')
    """
    if not isinstance(tree, SwcTree):
        raise TypeError(f"tree must be an SwcTree, got {type(tree).__name__}")
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a folder; give a file path such as {path / 'tree.swc'}")
    check_output(path, overwrite=overwrite)
    if isinstance(comments, str):
        comments = [comments]
    pidx = tree.parent_index
    root, depth, _ = _ancestry(pidx)
    order = np.lexsort((np.arange(len(tree)), depth, root))
    buf = io.StringIO()
    buf.write("# SWC written by emseg.tracing (x, y, z are physical coordinates)\n")
    for c in comments or ():
        for line in str(c).splitlines():
            buf.write(f"# {line}\n")
    buf.write(f"# {_COLUMNS}\n")
    for i in order:
        buf.write(f"{tree.id[i]} {tree.type[i]} {_fmt(tree.x[i])} {_fmt(tree.y[i])} "
                  f"{_fmt(tree.z[i])} {_fmt(tree.radius[i])} {tree.parent[i]}\n")
    with atomic_path(path) as tmp:
        tmp.write_text(buf.getvalue(), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- coordinates
def is_real(value):
    """True for a finite real number (not a bool, not a string)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)


def triple(value, name, positive=True):
    """``value`` as three floats (one number is repeated), finite and (by default) > 0;
    a ValueError naming ``name`` otherwise."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be 3 numbers in (z, y, x) order, got {value!r}") from None
    if arr.shape == ():
        arr = np.full(3, float(arr))
    if arr.shape != (3,) or not np.all(np.isfinite(arr)) or (positive and np.any(arr <= 0)):
        what = "> 0" if positive else "finite"
        raise ValueError(f"{name} must be 3 numbers {what} in (z, y, x) order, got {value!r}")
    return arr


def voxel_to_swc(zyx, *, voxel_size=(1.0, 1.0, 1.0), offset=(0.0, 0.0, 0.0)):
    """Convert volume indices ``(..., 3)`` in (z, y, x) order to SWC (x, y, z) positions.

    Parameters
    ----------
    zyx : array_like, shape (..., 3)
        Voxel indices (integer or fractional) in (z, y, x) order.
    voxel_size : float or 3 floats
        Physical voxel size in (z, y, x) order.
    offset : 3 floats
        Physical position (z, y, x) of the centre of voxel (0, 0, 0).

    Returns
    -------
    numpy.ndarray, shape (..., 3)
        Physical positions in SWC order (x, y, z).

    Examples
    --------
    >>> voxel_to_swc([2, 10, 20], voxel_size=(1.0, 0.5, 0.5)).tolist()
    [10.0, 5.0, 2.0]
    """
    vs, off = triple(voxel_size, "voxel_size"), triple(offset, "offset", positive=False)
    zyx = np.asarray(zyx, dtype=np.float64)
    if zyx.shape[-1:] != (3,):
        raise ValueError(f"zyx must have shape (..., 3), got {zyx.shape}")
    return (zyx * vs + off)[..., ::-1]


def swc_to_voxel(xyz, *, voxel_size=(1.0, 1.0, 1.0), offset=(0.0, 0.0, 0.0)):
    """Convert SWC positions ``(..., 3)`` in (x, y, z) order to fractional (z, y, x) indices.

    The inverse of :func:`voxel_to_swc`; round the result to get voxel indices.

    Examples
    --------
    >>> swc_to_voxel([10.0, 5.0, 2.0], voxel_size=(1.0, 0.5, 0.5)).tolist()
    [2.0, 10.0, 20.0]
    """
    vs, off = triple(voxel_size, "voxel_size"), triple(offset, "offset", positive=False)
    xyz = np.asarray(xyz, dtype=np.float64)
    if xyz.shape[-1:] != (3,):
        raise ValueError(f"xyz must have shape (..., 3), got {xyz.shape}")
    return (xyz[..., ::-1] - off) / vs


# --------------------------------------------------------------------------- resampling
def _sections(tree):
    """Unbranched sections as lists of node indices ``[key ancestor, ..., key node]``."""
    pidx = tree.parent_index
    nch = tree.n_children
    key = (pidx < 0) | (nch != 1)
    key[pidx >= 0] |= nch[pidx[pidx >= 0]] > 1   # children of branch points start sections
    sections = []
    for end in np.flatnonzero(key & (pidx >= 0)):
        path = [int(end)]
        node = pidx[end]
        while not key[node]:
            path.append(int(node))
            node = pidx[node]
        path.append(int(node))
        sections.append(path[::-1])
    return sections, key


def resample_tree(tree, *, spacing):
    """Resample a tree so that consecutive nodes are at most ``spacing`` apart.

    Roots, branch points and tips are kept where they are; each unbranched
    section between them is replaced by nodes equally spaced along its arc
    length (the largest number of equal steps not longer than ``spacing``).
    Radii are interpolated linearly along the arc; each new node takes the
    type of the original node at the far end of its original edge.

    Parameters
    ----------
    tree : SwcTree
    spacing : float
        Maximum distance between a node and its parent, > 0, in SWC units.

    Returns
    -------
    SwcTree
        Ids ``1..n``, parents before children.

    Examples
    --------
    >>> t = SwcTree.from_nodes([[1, 1, 0, 0, 0, 1, -1], [2, 3, 10, 0, 0, 1, 1]])
    >>> resample_tree(t, spacing=3).x.tolist()
    [0.0, 2.5, 5.0, 7.5, 10.0]
    """
    if not isinstance(tree, SwcTree):
        raise TypeError(f"tree must be an SwcTree, got {type(tree).__name__}")
    if not is_real(spacing) or spacing <= 0:
        raise ValueError(f"spacing must be a finite number > 0, got {spacing!r}")
    tree = tree.sorted()
    sections, key = _sections(tree)
    xyz = tree.xyz
    keys = np.flatnonzero(key)
    new_index = np.full(len(tree), -1)
    new_index[keys] = np.arange(len(keys))
    pos, rad, typ, par = [xyz[keys]], [tree.radius[keys]], [tree.type[keys]], \
        [np.full(len(keys), -1)]
    count = len(keys)
    pidx_keys = np.full(len(keys), -1)
    for sec in sections:
        pts = xyz[sec]
        s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=1))])
        n_seg = max(1, int(np.ceil(s[-1] / spacing - 1e-9)))
        start, end = new_index[sec[0]], new_index[sec[-1]]
        if n_seg > 1:
            t = s[-1] * np.arange(1, n_seg) / n_seg
            new_pts = np.stack([np.interp(t, s, pts[:, k]) for k in range(3)], axis=1)
            seg = np.minimum(np.searchsorted(s, t, side="right"), len(sec) - 1)
            pos.append(new_pts)
            rad.append(np.interp(t, s, tree.radius[sec]))
            typ.append(tree.type[np.asarray(sec)[seg]])
            chain = np.arange(count, count + n_seg - 1)
            par.append(np.concatenate([[start], chain[:-1]]))
            pidx_keys[end] = chain[-1]
            count += n_seg - 1
        else:
            pidx_keys[end] = start
    par[0] = pidx_keys
    out = SwcTree.from_arrays(np.concatenate(pos), np.concatenate(par),
                              radius=np.concatenate(rad), type=np.concatenate(typ))
    return out.sorted()


# --------------------------------------------------------------------------- cropping
def densest_box(tree, *, shape, voxel_size=(1.0, 1.0, 1.0), bin_size=4.0):
    """Where to put a volume of ``shape`` so that it holds the most cable of ``tree``.

    For rendering a crop of a large real morphology: the cable is sampled every
    ``bin_size / 8``, counted in cubic bins of ``bin_size`` (physical units), and
    the box-sized window with the highest count wins.

    Parameters
    ----------
    tree : SwcTree
        In physical units.
    shape : 3 ints
        Volume shape (z, y, x) in voxels.
    voxel_size : float or 3 floats
        Physical voxel size (z, y, x).
    bin_size : float
        Bin edge in physical units (the resolution of the search).

    Returns
    -------
    numpy.ndarray
        The ``offset`` (z, y, x): physical position of voxel (0, 0, 0), as taken by
        :func:`crop_tree` and :func:`emseg.data.render_neuron`.

    Examples
    --------
    >>> t = SwcTree.from_nodes([[1, 1, 0, 0, 0, 1, -1], [2, 3, 100, 0, 0, 1, 1]])
    >>> float(densest_box(t, shape=(1, 1, 11), bin_size=2.0)[2]) <= 0.0   # box starts at the cable
    True
    """
    from scipy import ndimage as ndi

    if not isinstance(tree, SwcTree) or len(tree) == 0:
        raise ValueError("densest_box needs a non-empty SwcTree")
    if float(bin_size) <= 0:
        raise ValueError(f"bin_size must be > 0, got {bin_size!r}")
    extent = (np.asarray(shape, dtype=float) - 1) * np.broadcast_to(
        np.asarray(voxel_size, dtype=float), (3,))
    pts = resample_tree(tree, spacing=bin_size / 8).xyz[:, ::-1]  # (z, y, x)
    lo = pts.min(0)
    idx = ((pts - lo) // bin_size).astype(int)
    counts = np.zeros(idx.max(0) + 1)
    np.add.at(counts, tuple(idx.T), 1)
    size = np.maximum(np.round(extent / bin_size).astype(int), 1)
    density = ndi.uniform_filter(counts, size=size, mode="constant")
    best = np.array(np.unravel_index(np.argmax(density), counts.shape))
    return best * bin_size + lo + bin_size / 2 - extent / 2


def crop_tree(tree, *, shape, voxel_size=(1.0, 1.0, 1.0), offset=(0.0, 0.0, 0.0)):
    """The part of a tree that lies inside a volume's box.

    The box is that of a volume of ``shape`` (z, y, x) voxels: from the outer
    face of the first voxel to the outer face of the last one (voxel centres
    at index 0 .. n - 1, see the module notes). Edges that cross a face are cut
    exactly there: a new node (radius and type interpolated/taken from the
    child) is placed on the face, and the part inside becomes, where needed,
    a new root. Kept nodes keep their ids; new nodes get ids above the largest.

    Parameters
    ----------
    tree : SwcTree
    shape : 3 ints
        Volume shape (z, y, x).
    voxel_size, offset
        As in :func:`voxel_to_swc`.

    Returns
    -------
    SwcTree
        Possibly empty (``len == 0``) when nothing of the tree is inside.

    Examples
    --------
    >>> t = SwcTree.from_nodes([[1, 1, 2, 2, 2, 1, -1], [2, 3, 20, 2, 2, 1, 1]])
    >>> crop_tree(t, shape=(5, 5, 10)).x.tolist()
    [2.0, 9.5]
    """
    if not isinstance(tree, SwcTree):
        raise TypeError(f"tree must be an SwcTree, got {type(tree).__name__}")
    shape = np.asarray(shape)
    if shape.shape != (3,) or not np.all(shape >= 1):
        raise ValueError(f"shape must be 3 positive sizes (z, y, x), got {shape!r}")
    vox = swc_to_voxel(tree.xyz, voxel_size=voxel_size, offset=offset)
    lo, hi = -0.5, shape.astype(np.float64) - 0.5
    inside = np.all((vox >= lo) & (vox <= hi), axis=1)
    child, par = tree.edges()
    a, d = vox[par], vox[child] - vox[par]     # segment p + t * (c - p), t in [0, 1]
    t0, t1 = np.zeros(len(child)), np.ones(len(child))
    with np.errstate(divide="ignore", invalid="ignore"):
        for k in range(3):
            ta, tb = (lo - a[:, k]) / d[:, k], (hi[k] - a[:, k]) / d[:, k]
            flat = d[:, k] == 0
            t0 = np.where(flat, t0, np.maximum(t0, np.minimum(ta, tb)))
            t1 = np.where(flat, t1, np.minimum(t1, np.maximum(ta, tb)))
            out = flat & ((a[:, k] < lo) | (a[:, k] > hi[k]))
            t1 = np.where(out, -1.0, t1)
    xyz, next_id = tree.xyz, int(tree.id.max(initial=0)) + 1
    pidx = tree.parent_index
    parent = np.where(inside & (pidx >= 0) & inside[np.maximum(pidx, 0)], tree.parent, -1)
    new_rows = []

    def point(e, t):
        return xyz[par[e]] + t * (xyz[child[e]] - xyz[par[e]]), \
            tree.radius[par[e]] + t * (tree.radius[child[e]] - tree.radius[par[e]])

    for e in np.flatnonzero(t0 < t1):
        pin, cin = inside[par[e]], inside[child[e]]
        if pin and cin:
            continue
        if pin:                                           # leaves the box: stub to the face
            p, r = point(e, t1[e])
            new_rows.append([next_id, tree.type[child[e]], *p, r, tree.id[par[e]]])
            next_id += 1
        elif cin:                                         # enters the box: new root on the face
            if t0[e] < 1 - 1e-12:
                p, r = point(e, t0[e])
                new_rows.append([next_id, tree.type[child[e]], *p, r, -1])
                parent[child[e]] = next_id
                next_id += 1
        else:                                             # passes through the box
            p0, r0 = point(e, t0[e])
            p1, r1 = point(e, t1[e])
            new_rows.append([next_id, tree.type[child[e]], *p0, r0, -1])
            new_rows.append([next_id + 1, tree.type[child[e]], *p1, r1, next_id])
            next_id += 2
    keep = np.flatnonzero(inside)
    rows = np.column_stack([tree.id, tree.type, tree.x, tree.y, tree.z, tree.radius,
                            parent])[keep]
    if new_rows:
        rows = np.concatenate([rows, np.asarray(new_rows, np.float64)])
    return SwcTree.from_nodes(rows) if len(rows) else SwcTree.empty()
