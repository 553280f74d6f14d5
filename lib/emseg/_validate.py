"""Early argument checks shared by every public function.

Each check raises ``ValueError`` (or ``TypeError`` for a wrong type) with a
message that names the argument, what was wrong and what to do instead.
"""
import numpy as np

__all__ = ["check_mask", "check_image", "check_labels", "check_same_shape", "check_positive_int",
           "check_window_memory"]

# bytes per input voxel of a batch for a small network's activations (float32, about 32
# feature maps at full resolution, forward and backward): a floor, not a forecast
_BYTES_PER_VOXEL = 4 * 32


def check_image(image, *, name="image", ndim=(3,), allow_int=True):
    """Check an image array and return it as a numpy array.

    Parameters
    ----------
    image : array_like
        The image. Must be numeric, finite and non-empty.
    name : str
        Argument name used in error messages.
    ndim : tuple of int
        Accepted numbers of dimensions.
    allow_int : bool
        Accept integer dtypes (they are not converted).

    Returns
    -------
    numpy.ndarray
    """
    if isinstance(image, (str, bytes)) or image is None:
        raise TypeError(f"{name} must be a numpy array, got {type(image).__name__}")
    arr = np.asarray(image)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.floating)
                                 or (allow_int and np.issubdtype(arr.dtype, np.integer))):
        raise ValueError(f"{name} must be a numeric (float{' or integer' if allow_int else ''}) "
                         f"array, got dtype {arr.dtype}")
    if ndim is not None and arr.ndim not in ndim:
        want = " or ".join(str(n) for n in ndim)
        raise ValueError(f"{name} must be {want}-D (z, y, x order for volumes), got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    if np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        raise ValueError(f"{name} contains {bad} NaN or infinite values; clean or mask them first")
    return arr


def check_labels(labels, *, name="labels", n_classes=None, shape=None, ndim=(3,)):
    """Check an integer label array (values 0..n_classes-1) and return it.

    Parameters
    ----------
    labels : array_like
        Integer class labels.
    name : str
        Argument name used in error messages.
    n_classes : int, optional
        When given, every value must lie in ``[0, n_classes)``.
    shape : tuple of int, optional
        When given, the labels must have exactly this shape (that of the image).
    ndim : tuple of int
        Accepted numbers of dimensions.
    """
    if isinstance(labels, (str, bytes)) or labels is None:
        raise TypeError(f"{name} must be a numpy array, got {type(labels).__name__}")
    arr = np.asarray(labels)
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    if not np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.floating) and arr.size and np.all(np.isfinite(arr)) \
                and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise ValueError(f"{name} must hold integer class ids, got dtype {arr.dtype}")
    if ndim is not None and arr.ndim not in ndim:
        want = " or ".join(str(n) for n in ndim)
        raise ValueError(f"{name} must be {want}-D, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    if shape is not None and tuple(arr.shape) != tuple(shape):
        raise ValueError(f"{name} shape {arr.shape} does not match the image shape {tuple(shape)}")
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 0 or (n_classes is not None and hi >= n_classes):
        rng = f"0..{n_classes - 1}" if n_classes is not None else ">= 0"
        hint = f" (ids of {n_classes} classes)" if n_classes is not None else ""
        raise ValueError(f"{name} values must be in {rng}, found {lo}..{hi}{hint}")
    return arr


def check_same_shape(a, b, *, names=("a", "b")):
    """Raise ``ValueError`` unless ``a`` and ``b`` have the same shape."""
    if np.shape(a) != np.shape(b):
        raise ValueError(f"{names[0]} shape {np.shape(a)} does not match {names[1]} shape {np.shape(b)}")


def check_positive_int(value, *, name):
    """Return ``value`` as int, raising ``ValueError`` unless it is an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_window_memory(window, batch_size, *, what="window"):
    """Refuse a window whose batch cannot fit in this machine's memory, before allocating.

    The estimate is a floor (``batch_size x window voxels x 128`` bytes: about 32 float32
    feature maps at full resolution); only a batch that needs more than all of the
    machine's physical memory is refused, so nothing usable is turned away.

    Parameters
    ----------
    window : tuple of int
        The network's input window (z, y, x).
    batch_size : int
        Windows per batch.
    what : str
        How the message names the setting (e.g. ``'--window'``).

    Raises
    ------
    ValueError
        If the estimate exceeds the physical memory.
    """
    need = float(batch_size) * float(np.prod([float(s) for s in window])) * _BYTES_PER_VOXEL
    total = _physical_memory()
    if total is not None and need > total:
        raise ValueError(f"{what} {tuple(int(s) for s in window)} with batch size {batch_size} "
                         f"needs at least {need / 2 ** 30:,.0f} GiB, more than this machine's "
                         f"{total / 2 ** 30:,.0f} GiB; use a smaller window or batch size")


def _physical_memory():
    """Bytes of physical memory, or None where the OS does not say."""
    import os
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        return None


def check_mask(mask, *, name="mask", ndim=(2, 3)):
    """Check a binary mask and return it as a bool array: the one binary-mask check of
    emseg (ECS masks, binary metrics).

    Accepts bool arrays and numeric arrays whose values are all 0 or 1; ``ndim`` lists
    the accepted numbers of dimensions (None: any).

    Raises
    ------
    ValueError
        If the mask is empty, has the wrong number of dimensions, or holds other values
        (threshold probabilities first, e.g. ``probability > 0.5``).
    """
    if isinstance(mask, (str, bytes)) or mask is None:
        raise TypeError(f"{name} must be a numpy array, got {type(mask).__name__}")
    arr = np.asarray(mask)
    if ndim is not None and arr.ndim not in ndim:
        want = " or ".join(f"{n}-D" for n in ndim)
        raise ValueError(f"{name} must be {want} ((y, x) or (z, y, x)), got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    if arr.dtype == bool:
        return arr
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"{name} must be a bool or numeric 0/1 array, got dtype {arr.dtype}")
    values = np.unique(arr)
    if not np.all(np.isin(values, (0, 1))):
        shown = ", ".join(str(v) for v in values[:5]) + (", ..." if len(values) > 5 else "")
        raise ValueError(f"{name} must be a binary mask (0 = background, 1 = foreground, e.g. ECS), found "
                         f"values {shown}; "
                         "threshold probabilities first (e.g. probability > 0.5)")
    return arr.astype(bool)
