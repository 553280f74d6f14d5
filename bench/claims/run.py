"""The claims benchmark: each paper's claim measured with several seeds, runs trained to
their plateau, paired comparisons with 95 % intervals and a one-line verdict.

    python bench/claims/run.py tracing --seeds 0 1 2          # run what is missing, then report
    python bench/claims/run.py ecs --settings vnc --arms unet ecsnet --seeds 0 1 2
    python bench/claims/run.py --report                        # results.json + README from the parts

Each (claim, setting, arm, seed) is one part: trained, scored, and its result written
atomically to ``bench/claims/parts/`` (committed); a part that is there is not run again
(``--redo`` runs it again). After every part ``bench/claims/results.json`` (what the docs
site's results page shows) is rebuilt from all parts. ``--report`` also rewrites the
README's claims section and the closing "claim across seeds" cell of each committed example
notebook (``tools/commit_notebook.py --sync``); a run does that after every part too. The rules (plateau, paired comparison, verdict) are in
``bench/claims/common.py``.
"""
import argparse
import os
import sys
import time
from pathlib import Path

import common
import report

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SHARED = Path(os.environ.get("EMSEG_SHARED_DATA", ROOT.parent / "shared" / "data"))


def claim_modules():
    """``{name: module}`` of every claim, in the order of the issue."""
    import ecs
    import platelet
    import reisoseg
    import tracing
    return {m.NAME: m for m in (platelet, ecs, reisoseg, tracing)}


def publish(claims):
    """results.json from every part; for the repository's own parts (not EMSEG_CLAIMS_DIR)
    also the README's claims section and the notebooks' closing claim cells, so that what
    is committed always agrees."""
    results = report.rebuild(claims)
    if common.STORE == common.HERE:
        report.update_readme(results)
        report.sync_notebooks()
    return results


def main(argv=None):
    claims = claim_modules()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("claim", nargs="?", choices=list(claims))
    ap.add_argument("--settings", nargs="+", help="default: every setting of the claim")
    ap.add_argument("--arms", nargs="+", help="default: every arm of the claim")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--iterations", type=int, help="default: the claim's budget")
    ap.add_argument("--shared", type=Path, default=DEFAULT_SHARED,
                    help="the shared data folder (../shared/data; EMSEG_SHARED_DATA)")
    ap.add_argument("--device", default=None)
    ap.add_argument("--redo", action="store_true", help="run parts again even if their file exists")
    ap.add_argument("--report", action="store_true",
                    help="rebuild results.json and the README's claims section, run nothing")
    args = ap.parse_args(argv)
    if args.report or args.claim is None:
        print(report.markdown(publish(claims)))
        return 0

    mod = claims[args.claim]
    settings = args.settings or list(mod.SETTINGS)
    arms = args.arms or list(mod.ARMS)
    for name, given, allowed in (("--settings", settings, mod.SETTINGS), ("--arms", arms, mod.ARMS)):
        bad = sorted(set(given) - set(allowed))
        if bad:
            ap.error(f"{name}: {', '.join(bad)} not in {', '.join(allowed)} for claim {args.claim}")
    why = mod.available(args.shared, settings)
    if why:
        print(f"{args.claim}: skipped ({why})")
        return 0
    if args.iterations is not None and args.iterations < 1:
        ap.error(f"--iterations must be at least 1, got {args.iterations}")
    # the claim's budget gives verdicts; another budget's parts are kept apart as a record
    iterations = args.iterations or mod.DEFAULT_ITERATIONS
    options = {"shared": args.shared, "device": args.device, "redo": args.redo,
               "iterations": iterations}
    once = [a for a in arms if a in getattr(mod, "ONE_PART", ())]  # e.g. the ensemble of the seeds
    jobs = [(seed, setting, arm) for seed in args.seeds for setting in settings for arm in arms
            if arm not in once]
    jobs += [(0, setting, arm) for setting in settings for arm in once]
    for seed, setting, arm in jobs:
        folder = common.folder_for(setting, iterations, mod.DEFAULT_ITERATIONS)
        path = common.part_file(mod.NAME, folder, arm, seed)
        if path.is_file() and not args.redo:
            check_preset(mod, folder, arm, path)
            print(f"{mod.NAME}/{folder}/{arm} seed {seed}: done ({path.name})")
            continue
        t0 = time.perf_counter()
        try:
            result = mod.run_part(setting, arm, seed, folder=folder, **options)
        except common.PartNotReady as why:
            print(f"{mod.NAME}/{folder}/{arm}: not yet: {why}")
            continue
        common.write_json(path, result)
        print(f"{mod.NAME}/{folder}/{arm} seed {seed}: {time.perf_counter() - t0:.0f} s, "
              f"plateau {'met' if result['plateau']['met'] else 'not met'} "
              f"(best rose {result['plateau']['rise']}, level {result['plateau'].get('trend')})",
              flush=True)
        try:  # the part is saved; a report problem must not stop the parts still to run
            publish(claims)
        except ValueError as err:
            print(f"warning: the report was not rebuilt ({err}); fix that, then run "
                  "python bench/claims/run.py --report", file=sys.stderr, flush=True)
    results = publish(claims)
    print(report.markdown({"claims": {mod.NAME: results["claims"].get(mod.NAME)}}))
    return 0


def check_preset(mod, folder, arm, path):
    """Refuse to count a finished part as done when it trained another preset than the arm
    uses now (e.g. ``--iterations 3000`` of the ReIsoSeg claim, whose ``phantom-3000it``
    record holds ``reisoseg-cpu`` runs): one error naming the file and what to do."""
    want = getattr(mod, "PRESET_OF", {}).get(arm)
    have = common.read_part(path).get("preset")
    if want and have and have != want:
        raise ValueError(
            f"parts/{mod.NAME}/{folder}/{path.name} was trained with the preset {have!r}, but the "
            f"{arm} arm now trains {want!r}: keep that file as a record (move it elsewhere) "
            f"before running this part, or add --redo to replace it")


def cli(argv=None):
    """:func:`main` for the command line: a ValueError (the claims' own checks, whose
    messages say what to do) is printed as one ``error:`` line, exit status 1."""
    try:
        return main(argv)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(cli())
