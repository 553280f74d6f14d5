"""What the command groups share: argparse types for shapes and number lists, the
``--precision`` and ``--device`` options, the check of an output file and the JSON
writer of a command's report.
"""
import argparse

__all__ = ["shape", "numbers", "or_none", "add_precision", "add_device", "checked_output",
           "write_report"]


def shape(text):
    """An argparse type: a shape such as ``16,64,64`` or ``16x64x64``.

    Parameters
    ----------
    text : str
        Integers separated by commas or ``x``.

    Returns
    -------
    tuple of int

    Examples
    --------
    >>> shape("16x64x64")
    (16, 64, 64)
    >>> shape("32,32")
    (32, 32)
    """
    return tuple(int(v) for v in text.replace("x", ",").split(",") if v)


def numbers(kind, *, size=None, one=False):
    """An argparse type: comma- or x-separated ``kind`` values (``16,64,64``, ``16x64x64``).

    Parameters
    ----------
    kind : {int, float}
        The type of each value.
    size : int, optional
        The number of values required (default: any number, at least one).
    one : bool
        Whether a single value stays a number (``--scale 2``) instead of a 1-tuple.

    Returns
    -------
    callable
        ``parse(text)``: the values as a tuple (or one number), or
        ``argparse.ArgumentTypeError`` saying what was expected.

    Examples
    --------
    >>> numbers(float, size=2)("0.9,0.999")
    (0.9, 0.999)
    >>> numbers(int, one=True)("2")
    2
    """
    word = {int: "integers", float: "numbers"}[kind]

    def parse(text):
        try:
            values = tuple(kind(v) for v in text.replace("x", ",").split(",") if v.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {word} separated by commas, e.g. "
                                             f"{'2,2' if kind is int else '0.9,0.999'}; got "
                                             f"{text!r}") from None
        if not values or (size is not None and len(values) != size):
            raise argparse.ArgumentTypeError(f"expected {size or ''}{' ' if size else ''}{word} "
                                             f"separated by commas, got {text!r}")
        return values[0] if one and len(values) == 1 else values

    parse.__name__ = f"list of {word}"
    return parse


def or_none(parse):
    """An argparse type: ``parse``, or the word ``none`` (kept as ``"none"``: clear the setting).

    Parameters
    ----------
    parse : callable
        The argparse type of a value.

    Returns
    -------
    callable
        ``parse_or_none(text)``, named like ``parse`` (argparse's error messages use the name).

    Examples
    --------
    >>> or_none(float)("None"), or_none(float)("1.5")
    ('none', 1.5)
    """
    def parse_or_none(text):
        return "none" if text.strip().lower() == "none" else parse(text)

    parse_or_none.__name__ = getattr(parse, "__name__", "value")
    return parse_or_none


def add_precision(p):
    """Add ``--precision`` (choices: :data:`emseg.device.PRECISIONS`; default ``auto``).

    Parameters
    ----------
    p : argparse.ArgumentParser
        A command's parser.
    """
    from emseg.device import PRECISIONS
    p.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="the network's arithmetic: auto (mixed precision on CUDA, bfloat16 on a "
                        "CPU with native bfloat16, else float32), or one of them")


def add_device(p):
    """Add ``--device`` (default: None, CUDA if available, else the CPU).

    Parameters
    ----------
    p : argparse.ArgumentParser
        A command's parser.
    """
    p.add_argument("--device", default=None,
                   help="cpu, cuda, cuda:1, ... (default: CUDA if available, else CPU)")


def checked_output(path, args, *inputs, what="--output"):
    """Check an output file of a command before any work is done.

    Parameters
    ----------
    path : str or Path
        The file the command will write.
    args : argparse.Namespace
        The command's options; ``args.overwrite`` (False when absent) allows replacing
        an existing file.
    *inputs : str or Path or None
        The command's input files: the output may be none of them.
    what : str
        The option that names ``path``, for the error message.

    Returns
    -------
    Path
        ``path`` (see ``emseg.atomic.check_output``).

    Raises
    ------
    ValueError
        When ``path`` is one of the inputs, or exists and ``--overwrite`` was not given.
    """
    from emseg.atomic import check_output
    return check_output(path, overwrite=getattr(args, "overwrite", False), inputs=inputs,
                        what=what, how="--overwrite")


def write_report(report, path):
    """Write a command's report (a JSON-serialisable dict) to ``path`` as JSON, atomically.

    Parameters
    ----------
    report : dict
        The scores or results.
    path : str or Path
        The ``.json`` file (checked beforehand with :func:`checked_output`).
    """
    from emseg.atomic import write_json
    write_json(path, report)


def preset_choices(models):
    """The preset names (``cpu``, ``original``, ...) of the networks ``models`` (any of
    them has it): the ``--preset`` choices, read from :data:`emseg.train.PRESETS`.

    Examples
    --------
    >>> preset_choices(["ecsnet"])
    ['original', 'cpu']
    """
    from emseg.train import PRESETS

    names = [key.split("-", 1) for key in PRESETS]
    order = [kind for _, kind in names]  # registry order
    return sorted({kind for model, kind in names if model in models}, key=order.index)
