"""The commands that run whole workflows: ``run`` (an example notebook, headless, with
papermill; :mod:`emseg.run`) and ``demo`` (phantom, training, tiled prediction and
metrics, small; :mod:`emseg.workflow`).

``COMMANDS`` maps each command to ``(add its parser, run it)``.
"""
import sys
import time

from emseg.cli.args import add_device
from emseg.data.registry import SOURCES

__all__ = ["COMMANDS"]


def _add_run(sub):
    p = sub.add_parser("run", help="execute an example notebook headlessly (papermill) into a folder")
    p.add_argument("example", help="example1 ... example5 (or 1 ... 5), or the path of a notebook")
    p.add_argument("--quick", action="store_true",
                   help="the notebook's quick setting: small volumes, few iterations (what CI runs)")
    p.add_argument("--output", default=None,
                   help="output folder (default runs/exampleN, or runs/exampleN-quick)")
    p.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                   metavar=("NAME", "VALUE"),
                   help="set a notebook parameter, e.g. -p iterations 500 -p source phantom")
    p.add_argument("--no-html", action="store_true", help="do not write the HTML rendering")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_demo(sub):
    p = sub.add_parser("demo", help="the whole workflow, small: phantom -> train -> tiled predict -> metrics")
    p.add_argument("--output", default="runs/demo", help="run folder (default: runs/demo)")
    p.add_argument("--source", default="phantom", choices=SOURCES + ("platelet",),
                   help="platelet data: auto (real, else synthetic), real, phantom (default)")
    p.add_argument("--iterations", type=int, default=1000)
    p.add_argument("--quiet", action="store_true")
    add_device(p)


def _cmd_run(args):
    from emseg.run import final_results, parse_value, run_example

    params = {name: parse_value(value) for name, value in args.parameter}
    t0 = time.perf_counter()
    import papermill

    try:
        path = run_example(args.example, quick=args.quick, output=args.output, parameters=params,
                           html=not args.no_html, progress=not args.quiet)
    except papermill.PapermillExecutionError as err:
        print(f"error: cell {err.exec_count} of {args.example} failed: {err.ename}: {err.evalue}\n"
              f"The executed notebook, with the traceback, is in the output folder.",
              file=sys.stderr)
        return 1
    results = final_results(path)
    if results:  # the example's results table, in the terminal too
        print(results + "\n")
    print(f"executed {path} in {time.perf_counter() - t0:.0f} s"
          + ("" if args.no_html else f"; HTML: {path.with_suffix('.html')}"))


def _cmd_demo(args):
    from emseg.workflow import run_demo
    run_demo(output=args.output, source=args.source, iterations=args.iterations,
             device=args.device, progress=not args.quiet)


#: ``{command: (add its parser to the subparsers, run it with the parsed options)}``
COMMANDS = {"run": (_add_run, _cmd_run), "demo": (_add_demo, _cmd_demo)}
