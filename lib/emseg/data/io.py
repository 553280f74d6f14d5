"""Read and write image volumes: multi-page TIFF files and folders of 2D slices.

Volumes are numpy arrays in (z, y, x) order. Writes are atomic: the data go to a
temporary file in the destination folder, which then replaces the destination in
one step, so a failed or interrupted write never leaves a half-written file.
"""
import logging
import re
from pathlib import Path

import numpy as np
import tifffile

from emseg.atomic import atomic_path, check_output
from emseg._validate import check_image

__all__ = ["read_volume", "write_volume", "read_image_label_folder", "read_folder_pair",
           "legacy_layout", "pair_by_name", "class_ids", "binary_labels", "list_image_files",
           "read_image_file", "natural_key"]

TIFF_SUFFIXES = (".tif", ".tiff")
SLICE_SUFFIXES = (".tif", ".tiff", ".png")
_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic and BigTIFF
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def read_volume(path, *, dtype=None):
    """Read a volume from a multi-page TIFF file or a folder of 2D slices.

    Parameters
    ----------
    path : str or Path
        A ``.tif``/``.tiff`` file (one page per z slice, or one 2D image), or a
        folder of 2D ``.tif``/``.tiff``/``.png`` slices. Slices are stacked in
        natural name order (``s2.png`` before ``s10.png``); hidden files are skipped.
    dtype : numpy dtype, optional
        Convert to this dtype while reading, one slice at a time, so the memory
        peak is the output plus one slice (useful for large float64 files that
        are wanted as float32). By default the stored dtype is kept.

    Returns
    -------
    numpy.ndarray
        The volume, shape (z, y, x). A single 2D image gives z = 1.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a TIFF, the extension is not supported, the folder
        holds no slices, the slices differ in shape or dtype, or the image has
        colour channels or more than three dimensions.

    Examples
    --------
    >>> vol = read_volume("train-labels.tif")            # doctest: +SKIP
    >>> vol.shape, vol.dtype                             # doctest: +SKIP
    ((50, 800, 800), dtype('uint16'))
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; check the path (a .tif/.tiff file "
                                f"or a folder of 2D slices)")
    if path.is_dir():
        return _read_slice_folder(path, dtype)
    if path.suffix.lower() not in TIFF_SUFFIXES:
        raise ValueError(f"{path.name}: unsupported file type {path.suffix!r}; read_volume "
                         f"supports {', '.join(TIFF_SUFFIXES)} files, or a folder of "
                         f"{', '.join(SLICE_SUFFIXES)} slices")
    _check_magic(path, _TIFF_MAGIC, "a TIFF file")
    return _read_tiff(path, dtype)


def write_volume(path, array, *, compression=None, overwrite=False):
    """Write a 2D, 3D or 4D array to a TIFF file, atomically.

    Parameters
    ----------
    path : str or Path
        Destination ending in ``.tif`` or ``.tiff``. Missing parent folders are
        created. An existing file is replaced (with ``overwrite=True``) in one step,
        and only once the new file is complete.
    array : array_like
        Numeric (integer or float) array, 2D (y, x), 3D (z, y, x) or 4D
        (class, z, y, x: probability maps), finite and non-empty. Boolean masks are
        written as uint8 0/1.
    compression : str, optional
        ``'zlib'`` (lossless deflate), ``'lzma'``, or ``'none'``. By default
        integer arrays (labels, raw EM) are zlib-compressed, which shrinks label
        volumes many times over, and float arrays are written uncompressed
        (deflate gains little on float noise and is slow).
    overwrite : bool
        Replace an existing file (by default an existing file is refused:
        nothing you made is replaced unless you ask).

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    ValueError
        If the array is empty, not numeric, not 2D/3D/4D or not finite, if the
        extension is not a TIFF one, if ``compression`` is unknown, or if ``path``
        exists and ``overwrite`` is false.
    TypeError
        If ``array`` is a string or None.

    Examples
    --------
    >>> write_volume(tmp / "labels.tif", labels)       # doctest: +SKIP
    PosixPath('.../labels.tif')
    """
    path = Path(path)
    if path.suffix.lower() not in TIFF_SUFFIXES:
        raise ValueError(f"{path.name}: write_volume writes TIFF files; give a path ending in "
                         f"{' or '.join(TIFF_SUFFIXES)}")
    if path.is_dir():
        raise ValueError(f"{path} is a folder; give a file path such as {path / 'volume.tif'}")
    check_output(path, overwrite=overwrite)
    if getattr(array, "dtype", None) == bool:
        array = np.asarray(array, dtype=np.uint8)
    arr = check_image(array, name="array", ndim=(2, 3, 4))
    codec = _pick_compression(compression, arr.dtype)

    with atomic_path(path) as tmp:
        tifffile.imwrite(tmp, arr, compression=codec, photometric="minisblack")
    return path


def _pick_compression(compression, dtype):
    """Return the tifffile codec name (or None) for ``compression``."""
    if compression is None:
        return "zlib" if np.issubdtype(dtype, np.integer) else None
    allowed = ("zlib", "lzma", "none")
    if not isinstance(compression, str) or compression.lower() not in allowed:
        raise ValueError(f"compression must be one of {allowed} (or None for the default), "
                         f"got {compression!r}")
    return None if compression.lower() == "none" else compression.lower()


def _check_magic(path, magics, what):
    """Raise ValueError unless the file starts with one of ``magics``."""
    with open(path, "rb") as fh:
        head = fh.read(8)
    if not any(head.startswith(m) for m in magics):
        raise ValueError(f"{path} is not {what} (its first bytes are {head[:8]!r}); the file may "
                         f"be an HTML error page, truncated or mis-named: re-download or "
                         f"re-export it")


class _DamageSigns(logging.Handler):
    """Collects tifffile's log messages that mean a damaged or truncated file."""
    signs = ("invalid page offset", "failed to reshape", "truncat", "corrupt")

    def __init__(self):
        super().__init__(logging.WARNING)
        self.seen = []

    def emit(self, record):
        text = record.getMessage()
        if any(sign in text for sign in self.signs):
            self.seen.append(text.split("> ", 1)[-1])


def _read_tiff(path, dtype):
    """Read a TIFF as (z, y, x), optionally converting slice by slice; a damaged or
    truncated file is a ValueError that names it (tifffile would log a warning and return
    only the pages it could read, or fail with a message that names no file)."""
    logger, damage = logging.getLogger("tifffile"), _DamageSigns()
    logger.addHandler(damage)
    propagate, logger.propagate = logger.propagate, False
    try:
        out = _read_tiff_unchecked(path, dtype)
    except (_Unreadable, MemoryError):
        raise
    except Exception as exc:  # tifffile's errors on damaged files vary
        damage.seen.append(str(exc).strip() or type(exc).__name__)
        out = None
    finally:
        logger.removeHandler(damage)
        logger.propagate = propagate
    if damage.seen:
        raise ValueError(f"{path}: cannot read this TIFF file, it is truncated or damaged "
                         f"({damage.seen[0]}); copy or export it again")
    return out


class _Unreadable(ValueError):
    """A TIFF that is intact but not a volume read_volume reads (e.g. colour)."""


def _read_tiff_unchecked(path, dtype):
    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        shape, axes = tuple(series.shape), series.axes
        if "S" in axes or "C" in axes or len(shape) > 3:
            raise _Unreadable(f"{path.name} has shape {shape} (axes {axes!r}); read_volume reads "
                             f"single-channel volumes: convert it to grayscale or save one "
                             f"channel per file")
        pages = tif.pages  # all pages: a tifffile-written ("shaped") series lists only its first
        if dtype is not None and len(shape) == 3 and len(pages) == shape[0] \
                and all(p.shape == shape[1:] for p in pages):
            out = np.empty(shape, dtype=dtype)
            for i, page in enumerate(pages):
                out[i] = page.asarray()
        else:
            out = series.asarray()
            if dtype is not None:
                out = out.astype(dtype, copy=False)
    return out.reshape((1,) * (3 - out.ndim) + out.shape)


def natural_key(name):
    """Sort key that orders embedded numbers by value (``s2`` before ``s10``)."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name.lower())]


def list_image_files(folder, *, suffixes=SLICE_SUFFIXES):
    """The image files of ``folder`` in natural name order (``s2`` before ``s10``): the one
    folder listing of emseg's readers. Hidden files and other suffixes are left out; an
    empty list when there are none.

    Parameters
    ----------
    folder : str or Path
        An existing folder.
    suffixes : tuple of str
        Lower-case suffixes to take (default: ``.tif``, ``.tiff``, ``.png``).
    """
    return sorted((p for p in Path(folder).iterdir() if p.is_file() and not p.name.startswith(".")
                   and p.suffix.lower() in suffixes), key=lambda p: natural_key(p.name))


def _read_slice(path):
    """Read one 2D slice (TIFF or PNG); grey stored as RGB(A) (equal colour channels) is
    read as grey."""
    if path.suffix.lower() == ".png":
        _check_magic(path, (_PNG_MAGIC,), "a PNG file")
        from skimage.io import imread  # scikit-image is slow to import; only load it when needed
        img = imread(path)
    else:
        _check_magic(path, _TIFF_MAGIC, "a TIFF file")
        img = tifffile.imread(path)
    if img.ndim == 3 and img.shape[-1] in (3, 4) \
            and all(np.array_equal(img[..., 0], img[..., c]) for c in (1, 2)):
        img = img[..., 0]  # grey saved as RGB(A) by many tools
    if img.ndim != 2:
        colour = img.ndim == 3 and img.shape[-1] in (3, 4)
        hint = ("convert colour slices to grayscale first" if colour else
                "this looks like a stack of sections: give the file itself as the volume, or "
                "save one 2D section per file")
        raise ValueError(f"slice {path} has shape {img.shape}, expected a 2D grayscale image; "
                         f"{hint}")
    return img


def _read_slice_folder(folder, dtype):
    """Stack the 2D slices of ``folder`` in natural name order."""
    files = list_image_files(folder)
    if not files:
        raise ValueError(f"folder {folder} holds no {'/'.join(SLICE_SUFFIXES)} slices; "
                         f"point read_volume at the folder that contains the images")
    first = _read_slice(files[0])
    out = np.empty((len(files),) + first.shape, dtype=dtype or first.dtype)
    out[0] = first
    for i, f in enumerate(files[1:], start=1):
        img = _read_slice(f)
        if img.shape != first.shape:
            raise ValueError(f"slice {f.name} has shape {img.shape} but {files[0].name} has "
                             f"{first.shape}; all slices of a volume must have the same shape")
        if dtype is None and img.dtype != first.dtype:
            raise ValueError(f"slice {f.name} has dtype {img.dtype} but {files[0].name} has "
                             f"{first.dtype}; convert the slices to one dtype or pass dtype=")
        out[i] = img
    return out


# --------------------------------------------------------------------------- image + label folders

def legacy_layout(root):
    """The names of the image and label folders under ``root``: ``images``/``labels``, or
    the older ``x``/``y`` (accepted with a FutureWarning until emseg 1.0) when only those
    exist."""
    root = Path(root)
    if not (root / "images").is_dir() and (root / "x").is_dir():
        import warnings
        warnings.warn(f"{root}: the folders x/ and y/ are the old names; rename them to "
                      f"images/ and labels/ (x/ and y/ are read until emseg 1.0)", FutureWarning,
                      stacklevel=3)
        return "x", "y"
    return "images", "labels"


def read_image_label_folder(folder, *, images="images", labels="labels", binary=True,
                            min_shape=None, voxel_size=(1.0, 1.0, 1.0)):
    """Read your own annotated images: ``folder/images/`` and ``folder/labels/``, paired by name.

    Expected layout (the original ECS-Net's parallel ``image/`` and ``label/`` folders)::

        folder/
            images/   s01.tif  s02.tif  ...   grayscale EM, 2D (y, x) or a (z, y, x) stack
            labels/   s01.tif  s02.png  ...   same names (any of .tif/.tiff/.png), same sizes

    Parameters
    ----------
    folder : str or Path
        The folder that holds the two sub-folders.
    images, labels : str
        Names of the sub-folders.
    binary : bool
        Labels are binary masks (ECS: 1, or 255 as saved by most painting tools;
        background 0; bool files too). They are returned as uint8 0/1. ``False``
        keeps integer class ids as they are.
    min_shape : tuple of int, optional
        The smallest (y, x) an image may have, e.g. the training window: a smaller
        image raises (pad it, or choose a smaller window).
    voxel_size : tuple of float
        (z, y, x) nm, stored in the volumes.

    Returns
    -------
    list of Volume
        One per image, (z, y, x) with z = 1 for a 2D image, in natural name order:
        ``image`` float32 z-scored per file, ``labels`` uint8, ``name`` the file stem,
        ``source='user'``.

    Raises
    ------
    FileNotFoundError
        When the folder or a sub-folder is missing.
    ValueError
        An empty folder, an image without a label (or the reverse), colour or 4-D
        images, a non-numeric dtype, labels that are not binary, an image/label size
        mismatch, or an image smaller than ``min_shape``; the message names the file.
    """
    from emseg._validate import check_image
    from emseg.data._volume import Volume, zscore

    root = Path(folder)
    if (images, labels) == ("images", "labels"):
        images, labels = legacy_layout(root)
    dirs = {}
    for role, sub in (("images", images), ("labels", labels)):
        d = root / sub
        if not d.is_dir():
            raise FileNotFoundError(f"{d} is missing: put your images in {root / images}/ and "
                                    f"their label masks, with the same file names, in "
                                    f"{root / labels}/")
        dirs[role] = d

    image_files = list_image_files(dirs["images"])
    if not image_files:
        raise ValueError(f"{dirs['images']} holds no {'/'.join(SLICE_SUFFIXES)} images; put your "
                         f"EM sections there (see read_image_label_folder for the layout)")
    pairs = pair_by_name(image_files, list_image_files(dirs["labels"]),
                         label_folder=dirs["labels"])
    if min_shape is not None:
        min_shape = tuple(int(v) for v in min_shape)[-2:]
    out = []
    for image_file, label_file in sorted(pairs, key=lambda pair: natural_key(pair[0].stem)):
        img = read_image_file(image_file)
        lab = read_image_file(label_file)
        check_image(img, name=f"image {image_file.name}")
        if lab.shape != img.shape:
            raise ValueError(f"label {label_file.name} has shape {_size(lab)} but image "
                             f"{image_file.name} has {_size(img)}; a label mask must have its "
                             f"image's size")
        if min_shape is not None and any(s < m for s, m in zip(img.shape[1:], min_shape)):
            raise ValueError(f"image {image_file.name} is {img.shape[1]}x{img.shape[2]} pixels, "
                             f"smaller than one {min_shape[0]}x{min_shape[1]} window; pad it or "
                             f"choose a smaller window")
        lab = binary_labels(lab, label_file.name) if binary else class_ids(lab, label_file.name)
        out.append(Volume(zscore(img.astype(np.float32)), lab, source="user", name=image_file.stem,
                          voxel_size=tuple(float(v) for v in voxel_size)))
    return out


def read_folder_pair(x_dir, y_dir=None, *, label_values=None):
    """Read images (and labels) from a pair of folders of TIFF or PNG files.

    Parameters
    ----------
    x_dir : str or Path
        Folder of images.
    y_dir : str or Path, optional
        Folder of labels, matching ``x_dir`` file for file (None: images only).
    label_values : sequence of int, optional
        Raw label values of classes 0, 1, ...; e.g. ``[0, 255]`` for black/white masks.
        By default the files hold class ids.

    Returns
    -------
    list of Volume
        ``image`` float32 z-scored per volume, ``labels`` uint8 class ids (or None),
        ``name`` the file stem (or the folder name for a stack of 2D slices).

    Raises
    ------
    ValueError
        For a missing or empty folder, different numbers of files or shapes in x and
        y, colour images, non-integer labels or label values not in ``label_values``;
        the message names the file.

    Notes
    -----
    If every file is a 2D image, the folder is one stack of sections (natural name
    order). Otherwise every file is a volume of its own.
    """
    from emseg.data._volume import Volume, zscore

    x_files = _list_images(x_dir, "images")
    images = _read_group(x_files)
    labels = [None] * len(images)
    if y_dir is not None:
        y_files = _list_images(y_dir, "labels")
        if len(x_files) != len(y_files):
            raise ValueError(f"{x_dir} has {len(x_files)} image files but {y_dir} has "
                             f"{len(y_files)} label files; give one label file per image file")
        y_files = [y for _, y in pair_by_name(x_files, y_files)]
        raw = _read_group(y_files)
        labels = [class_ids(lab, name, label_values=label_values) for lab, name in raw]
        for (img, xname), (lab, yname) in zip(images, raw):
            if img.shape != lab.shape:
                raise ValueError(f"image {xname} has shape {img.shape} but labels {yname} have "
                                 f"{lab.shape}; images and labels must match voxel for voxel")
    vols = []
    for (img, name), lab in zip(images, labels):
        try:
            image = zscore(img)
        except ValueError as err:
            raise ValueError(f"{name}: {err}") from None
        vols.append(Volume(image, lab, source="user", name=Path(name).stem))
    return vols


def _list_images(folder, what):
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"the {what} folder {folder} does not exist (expected layout: "
                         f"<data folder>/train/images, train/labels, test/images, test/labels)")
    files = list_image_files(folder, suffixes=SLICE_SUFFIXES)
    if not files:
        others = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))[:5]
        raise ValueError(f"the {what} folder {folder} holds no {'/'.join(SLICE_SUFFIXES)} files"
                         + (f" (found {', '.join(others)})" if others else " (it is empty)"))
    return files


def _read_image(path):
    """One file as (z, y, x): a 2D image gives z = 1 (emseg.data.io.read_image_file)."""
    try:
        return read_image_file(path)
    except ValueError:
        raise
    except Exception as err:  # a corrupt or mis-named file
        raise ValueError(f"cannot read {path} ({err})") from None


def _read_group(files):
    """``[(array (z, y, x), name)]``: one stack of 2D slices, or one volume per file."""
    arrays = [_read_image(p) for p in files]
    if len(arrays) > 1 and all(a.shape[0] == 1 for a in arrays):
        first = arrays[0]
        for a, p in zip(arrays, files):
            if a.shape != first.shape:
                raise ValueError(f"slice {p} has shape {a.shape[1:]} but {files[0].name} has "
                                 f"{first.shape[1:]}; the 2D files of a folder are the sections "
                                 f"of one stack and must have one size")
            if a.dtype != first.dtype:
                raise ValueError(f"slice {p} has dtype {a.dtype} but {files[0].name} has "
                                 f"{first.dtype}; save all sections with one dtype")
        return [(np.concatenate(arrays), files[0].parent.name)]
    return [(a, p.name) for a, p in zip(arrays, files)]


def class_ids(labels, name, *, label_values=None):
    """A label array as uint8 class ids, with errors that name the file.

    Parameters
    ----------
    labels : numpy.ndarray
        Integer class ids, bool, or integer-valued floats.
    name : str
        The file's name, for the messages.
    label_values : sequence of int, optional
        Raw values of classes 0, 1, ... (``[0, 255]`` for black/white masks); by default
        the values are the class ids (0..255).

    Returns
    -------
    numpy.ndarray
        uint8 class ids, the shape of ``labels``.

    Raises
    ------
    ValueError
        For non-integer values, a non-numeric dtype, values outside 0..255 or not in
        ``label_values``.

    Examples
    --------
    >>> class_ids(np.array([0, 255, 255]), "mask.png", label_values=[0, 255]).tolist()
    [0, 1, 1]
    """
    if labels.dtype == bool:
        labels = labels.astype(np.uint8)
    if np.issubdtype(labels.dtype, np.floating):
        bad = labels[np.isfinite(labels) & (labels != np.round(labels))]
        if bad.size or not np.all(np.isfinite(labels)):
            example = bad.flat[0] if bad.size else "NaN"
            raise ValueError(f"labels {name} hold non-integer values (e.g. {example}); labels "
                             f"must be integer class ids: save them without interpolation or "
                             f"anti-aliasing")
        labels = labels.astype(np.int64)
    elif not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels {name} have dtype {labels.dtype}; expected integer class ids")
    values = np.unique(labels)
    if label_values is not None:
        lookup = {int(v): k for k, v in enumerate(label_values)}
        unknown = [int(v) for v in values if int(v) not in lookup]
        if unknown:
            raise ValueError(f"labels {name} hold values {unknown[:8]} that are not in "
                             f"data.label_values {list(label_values)}")
        out = np.zeros(labels.shape, np.uint8)
        for v in values:
            out[labels == v] = lookup[int(v)]
        return out
    if values[0] < 0 or values[-1] > 255:
        raise ValueError(f"labels {name} hold values {int(values[0])}..{int(values[-1])}; class "
                         f"ids must be in 0..255 (or list the raw values in data.label_values)")
    return labels.astype(np.uint8)


def pair_by_name(images, labels, *, label_folder=None):
    """Pair image files with label files by file name (the stem: ``a.tif`` with ``a.png``):
    the one pairing rule of emseg's folder readers.

    Parameters
    ----------
    images, labels : sequence of pathlib.Path
        The image files and the label files (:func:`list_image_files`).
    label_folder : str or Path, optional
        The labels' folder, named in the error when it holds no label files.

    Returns
    -------
    list of (Path, Path)
        ``(image, label)`` in the order of ``images``.

    Raises
    ------
    ValueError
        For two files of one folder with one stem, or files without a partner (naming
        them and where the partner was looked for).
    """
    def by_stem(files):
        out = {}
        for p in files:
            if p.stem in out:
                raise ValueError(f"{out[p.stem].name} and {p.name} in {p.parent} share the name "
                                 f"{p.stem!r}; images and labels are paired by name: keep one")
            out[p.stem] = p
        return out

    imgs, labs = by_stem(images), by_stem(labels)
    unlabelled = [p.name for stem, p in imgs.items() if stem not in labs]
    orphans = [p.name for stem, p in labs.items() if stem not in imgs]
    if unlabelled or orphans:
        where = labels[0].parent if labels else label_folder
        problems = ([f"no label for {', '.join(unlabelled[:5])}" + (f" in {where}" if where else "")]
                    if unlabelled else [])
        problems += ([f"no image for label(s) {', '.join(orphans[:5])} in {images[0].parent}"]
                     if orphans else [])
        raise ValueError("images and labels are paired by file name: " + "; ".join(problems)
                         + "; give each label file its image's name (any of "
                         + "/".join(SLICE_SUFFIXES) + ")")
    return [(p, labs[stem]) for stem, p in imgs.items()]


def _size(a):
    return "x".join(str(v) for v in (a.shape[1:] if a.shape[0] == 1 else a.shape))


def read_image_file(path):
    """A 2D or 3D image file as (z, y, x): a PNG is one 2D slice, anything else goes
    through :func:`read_volume`.

    Parameters
    ----------
    path : pathlib.Path
        The file.

    Returns
    -------
    numpy.ndarray
        (z, y, x), the file's dtype.
    """
    if path.suffix.lower() == ".png":
        return _read_slice(path)[None]
    return read_volume(path)


def binary_labels(lab, name):
    """A label image of 0/1 (or 0/255, or bool) as a uint8 0/1 mask; a ValueError naming
    the file ``name`` otherwise."""
    if lab.dtype == bool:
        return lab.astype(np.uint8)
    if not (np.issubdtype(lab.dtype, np.integer) or np.issubdtype(lab.dtype, np.floating)):
        raise ValueError(f"label {name} has dtype {lab.dtype}; save masks as integer images")
    values = np.unique(lab)
    for fg in (1, 255):
        if np.all(np.isin(values, (0, fg))):
            return (lab == fg).astype(np.uint8)
    shown = ", ".join(str(v) for v in values[:6]) + (", ..." if len(values) > 6 else "")
    raise ValueError(f"label {name} is not a binary mask: it holds the values {shown}; save the "
                     f"mask with background 0 and ECS 1 (or 255), e.g. mask = (labels == k)")

