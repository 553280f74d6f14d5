"""How noisy the validation curves are, and how often the plateau rule passes a flat run.

Prints, for each claim, the scatter of one run's validation scores between evaluations
(per run, sqrt(mean(d**2) / 6) of the second differences d, where a smooth trend adds
little; the median over the claim's committed runs on one validation grid, of every
budget) over two spans: the second half of each curve, and the window the rule reads, its
last 2 x 20 %. The presets' learning rate decays to zero, and the scores scatter less as
it falls, so the window's scatter is the smaller. Then, at the window's scatter and that
grid's number of evaluations, the chance that an arm whose true curve is flat meets the
rule: one run alone (:func:`common.plateau`), all 8 runs of a 4-seed comparison, and the
arm's mean curves over 3 or 4 seeds (:func:`common.arm_plateau`). This is where the figures in
``common``'s docstring come from::

    python bench/claims/noise.py [--trials 4000]
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402


def scatter(claim, *, span="window", evaluations=None):
    """``(scatter, runs, evaluations)``: the median scatter between evaluations of a claim's
    runs, how many runs had curves long enough (6 or more evaluations), and their median
    number of evaluations. ``span`` is ``"window"`` (the last 2 x
    :data:`common.PLATEAU_FRACTION` of each curve, what the plateau rule reads) or
    ``"half"`` (its second half); ``evaluations``, if given, keeps only the runs validated
    that many times."""
    if span not in ("window", "half"):
        raise ValueError(f"span must be 'window' or 'half', got {span!r}")
    values, lengths = [], []
    for f in sorted((common.PARTS / claim).glob("*/*-seed*.json")):
        curve = json.loads(f.read_text()).get("curve") or []
        if evaluations is not None and len(curve) != evaluations:
            continue
        y = np.array([v for _, v in sorted(curve)], float)
        window = round(2 * common.PLATEAU_FRACTION * len(y))
        start = len(y) // 2 if span == "half" else len(y) - window
        d = np.diff(y[start:], 2)
        if len(curve) >= 6 and d.size:
            values.append(float(np.sqrt(np.mean(d ** 2) / 6)))
            lengths.append(len(curve))
    if not values:
        return None, 0, None
    return float(np.median(values)), len(values), int(np.median(lengths))


def pass_rate(sigma, seeds, trials, rng, evaluations=10):
    """Share of arms of ``seeds`` runs with flat true curves (scatter ``sigma``) that meet
    the rule: :func:`common.plateau` for one run, :func:`common.arm_plateau` for several."""
    its = [int(i) for i in np.linspace(0, 1000, evaluations + 1)[1:]]
    met = 0
    for _ in range(trials):
        runs = [{"curve": list(zip(its, 0.8 + rng.normal(0, sigma, evaluations)))}
                for _ in range(seeds)]
        met += (common.plateau(runs[0]["curve"]) if seeds == 1 else common.arm_plateau(runs))["met"]
    return met / trials


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=4000)
    args = parser.parse_args(argv)
    if args.trials < 1:
        parser.error(f"--trials must be 1 or more, got {args.trials}")
    rng = np.random.default_rng(0)
    print(f"{'claim':10s} {'runs':>4s} {'evals':>5s} {'scatter: half':>13s} {'window':>7s} "
          f"{'P(flat run passes)':>19s} {'all 8 runs':>10s} {'mean of 3':>9s} {'mean of 4':>9s}")
    for claim in ("platelet", "ecs", "reisoseg", "tracing"):
        grids = sorted({len(json.loads(f.read_text()).get("curve") or [])
                        for f in (common.PARTS / claim).glob("*/*-seed*.json")})
        for evals in grids:  # e.g. 10 evaluations for the older runs, 50 for the newer
            half = scatter(claim, span="half", evaluations=evals)[0]
            sigma, n, _ = scatter(claim, evaluations=evals)
            if sigma is None:
                continue
            one, three, four = (pass_rate(sigma, k, args.trials, rng, evals) for k in (1, 3, 4))
            print(f"{claim:10s} {n:4d} {evals:5d} {half:13.4f} {sigma:7.4f} {one:19.2f} "
                  f"{one ** 8:10.3f} {three:9.2f} {four:9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
