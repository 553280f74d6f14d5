"""How noisy the validation curves are, and how often the plateau rule passes a flat run.

Prints, for each claim, the scatter of one run's validation scores between evaluations
(the median over its committed runs of sd(second differences) / sqrt(6), over the second
half of each curve, where a smooth trend adds little), and then the chance that a run
whose true curve is flat meets :func:`common.plateau` (10 evaluations, Gaussian scatter),
alone and as the mean curve of 3 or 4 seeds (:func:`common.arm_plateau`). This is where
the figures in ``common``'s docstring come from::

    python bench/claims/noise.py [--trials 4000]
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402


def scatter(claim):
    """Median scatter between evaluations of a claim's runs, and how many runs had curves
    long enough (6 or more evaluations)."""
    values = []
    for f in sorted((common.PARTS / claim).glob("*/*-seed*.json")):
        curve = json.loads(f.read_text()).get("curve") or []
        y = np.array([v for _, v in sorted(curve)], float)
        y = y[len(y) // 2:]
        if len(curve) >= 6 and len(y) >= 4:
            values.append(float(np.std(np.diff(y, 2)) / np.sqrt(6)))
    return (float(np.median(values)) if values else None), len(values)


def pass_rate(sigma, seeds, trials, rng, evaluations=10):
    """Share of flat curves (scatter ``sigma``, mean of ``seeds`` runs) that meet the rule."""
    its = np.linspace(0, 1, evaluations + 1)[1:] * 1000
    met = [common.plateau(list(zip(its, 0.8 + rng.normal(0, sigma, (seeds, evaluations)).mean(0))))["met"]
           for _ in range(trials)]
    return float(np.mean(met))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=4000)
    args = parser.parse_args(argv)
    if args.trials < 1:
        parser.error(f"--trials must be 1 or more, got {args.trials}")
    rng = np.random.default_rng(0)
    print(f"{'claim':10s} {'runs':>4s} {'scatter':>8s} {'P(flat run passes)':>19s} "
          f"{'all 8 runs':>10s} {'mean of 3':>9s} {'mean of 4':>9s}")
    for claim in ("platelet", "ecs", "reisoseg", "tracing"):
        sigma, n = scatter(claim)
        if sigma is None:
            print(f"{claim:10s} {n:4d} {'-':>8s}")
            continue
        one, three, four = (pass_rate(sigma, k, args.trials, rng) for k in (1, 3, 4))
        print(f"{claim:10s} {n:4d} {sigma:8.4f} {one:19.2f} {one ** 8:10.3f} {three:9.2f} {four:9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
