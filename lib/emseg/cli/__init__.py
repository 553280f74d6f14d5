"""The command line: ``python -m emseg COMMAND ...`` (see ``--help``).

Every command calls the same library functions the notebooks use. This module builds
the parser from the command groups and runs a command, printing a known failure as one
``error:`` line; the groups hold their commands' options and code:

- :mod:`emseg.cli.data`: ``fetch``, ``convert``, ``export``, ``phantom``
- :mod:`emseg.cli.train`: ``train``, ``template`` (and the ``--config`` handling)
- :mod:`emseg.cli.predict`: ``predict``, ``predict-large``, ``evaluate``
- :mod:`emseg.cli.run`: ``run``, ``demo``
- :mod:`emseg.cli.trace`: ``trace``
- :mod:`emseg.cli.ecs`: ``ecs train|predict|evaluate|quantify``
- :mod:`emseg.cli.args`: the argument helpers they share
"""
import argparse
import sys

from emseg.cli import data, ecs, predict, run, trace, train

__all__ = ["main"]

_GROUPS = (data, train, predict, run, trace, ecs)
# the order of the commands in --help
_LISTED = ("fetch", "convert", "export", "phantom", "train", "predict", "predict-large",
           "evaluate", "run", "template", "trace", "demo", "ecs")
COMMANDS = {name: cmd for group in _GROUPS for name, (_, cmd) in group.COMMANDS.items()}


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m emseg",
        description="emseg: deep-learning segmentation of EM volumes. Fetch data, make synthetic "
                    "phantoms, train, predict and evaluate.")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error (also: EMSEG_DEBUG=1)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    adders = {name: add for group in _GROUPS for name, (add, _) in group.COMMANDS.items()}
    for name in sorted(adders, key=_LISTED.index):  # a command missing in _LISTED: ValueError
        adders[name](sub)
    return parser


def main(argv=None):
    """Run the command line; returns the exit status.

    A failure is printed as one ``error: ...`` line (exit status 1) that names the file
    or option and what to do; ``--debug`` or ``EMSEG_DEBUG=1`` shows the traceback
    instead.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after ``python -m emseg`` (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 1 after an ``error:`` line, 2 without a command (the help is
        printed), 130 when interrupted; argparse exits (SystemExit) on bad options and
        after ``--help``.
    """
    import os

    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    debug = args.debug or os.environ.get("EMSEG_DEBUG", "") not in ("", "0")
    try:
        if getattr(args, "config", None):
            args._explicit = _explicit_options(argv)  # --config: which options were typed
        status = COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader stopped early (python -m emseg template | head)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # no second error when Python flushes at exit
        return 0
    except Exception as exc:
        message = None if debug else _error_line(exc)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 1
    return status or 0


def _explicit_options(argv):
    """The options the user typed (not argparse's defaults), as ``{dest: value}``."""
    parser = _parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for command in sub.choices.values():
        for action in command._actions:
            action.default = argparse.SUPPRESS
    return vars(parser.parse_args(argv))


def _error_line(exc):
    """The one-line message of a known failure, or None (an unexpected error: traceback)."""
    import errno

    from emseg.data.fetch import DataDownloadError

    if isinstance(exc, (ValueError, FileNotFoundError, DataDownloadError)):
        return " ".join(str(exc).split("\n"))  # these messages say what to do
    if isinstance(exc, ImportError) and "python -m pip install" in str(exc):
        return str(exc)  # an optional extra that is not installed: the message says which
    if isinstance(exc, MemoryError):
        return ("out of memory: the volume, window or batch is too large for this machine; "
                "use a smaller --window or --batch-size, crop the volume, or use predict-large "
                "(block by block)")
    if isinstance(exc, OSError):
        what = {errno.ENOSPC: "the disk is full; free space or write elsewhere",
                errno.EDQUOT: "the disk quota is exceeded; free space or write elsewhere",
                errno.EACCES: "permission denied; choose a folder you can write to (or read)",
                errno.EPERM: "operation not permitted; choose a folder you can write to",
                errno.EROFS: "the file system is read-only; write elsewhere",
                errno.ENOTDIR: "a part of the path is a file, not a folder; check the path",
                errno.EISDIR: "it is a folder; give a file name",
                errno.EEXIST: "it exists; choose another name or pass --overwrite",
                errno.ENAMETOOLONG: "the name is too long; choose a shorter path"}.get(exc.errno)
        what = what or f"{exc.strerror or exc}; check the path and the disk"
        return f"{exc.filename}: {what}" if exc.filename else what
    if isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower():
        return ("the device ran out of memory: use a smaller --window or --batch-size (or "
                "--device cpu)")
    return None
