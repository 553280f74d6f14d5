"""What every claim of the claims benchmark shares: the plateau rule, mean ± sd, paired
comparisons with a 95 % interval, the verdict rule, and resumable parts.

A *part* is one trained arm at one seed in one setting (a few minutes to an hour of CPU).
Its result is a small JSON file under ``bench/claims/parts/<claim>/<setting>/`` written
atomically and committed with the code, so that a claim can be measured over several
sessions; a part whose file exists is not run again. Checkpoints live in ``runs/claims``
(not committed): an interrupted part resumes from its last checkpoint in the same
checkout, and starts again in a fresh one.

The rules (stated once here, printed with every table):

* **Plateau.** A run is at its plateau when, over the last :data:`PLATEAU_FRACTION` (20 %)
  of its iterations, neither its best validation score nor its level rose by
  :data:`PLATEAU_TOL` (0.01) or more. The best-so-far score asks whether the last fifth
  still found better weights; the level (the mean score of the last fifth against the mean
  of the fifth before it) catches a curve that climbs back after a dip below an early peak,
  still rising though its best was not beaten, while one noisy evaluation does not decide
  it. The presets' learning rate decays to zero (``poly``), which flattens every curve at
  its end; the annealing also lifts the level at the end, as the scores' scatter falls
  with the rate (ECS on VNC at 8,000 iterations: from 0.018-0.064 between evaluations in
  the run's second quarter to 0.003-0.007 in its last fifth), so under this schedule the
  level test is the stricter half of the rule (the same runs, mean curves of 3 seeds:
  best-score rises of 0.005 to 0.009, level rises of 0.012 to 0.023). It is kept all the
  same: it was fixed before those runs, and dropping it once it blocks verdicts would
  choose the rule by its results. An *arm* is at its plateau when the mean validation
  curve of its runs (over the seeds compared) is (:func:`arm_plateau`: the best-score test on the mean of the
  runs' best-so-far curves, so that a run that falls does not hide one that still
  improves; the level test on the mean curve); each run's own result is reported too.
  Why the arm's curve: the scores of one run scatter from one evaluation to the next,
  over the span the rule reads (its last 2 x 20 %) by 0.003 to 0.04 (the median over a
  claim's runs on one validation grid: platelet 0.018-0.019, ECS 0.011-0.012, ReIsoSeg
  0.010 on the older 10-evaluation grid and 0.039 on the 50-evaluation one, tracing
  0.003), and a run that is truly flat then fails the rule by chance: it passes with
  p = 0.69 at the platelet's scatter and 10 evaluations, 0.85 with 50, 0.66 at the newer
  ReIsoSeg runs'. Requiring all 8 runs of a 4-seed platelet comparison to pass would leave
  even converged arms undecided most of the time (they pass together with p = 0.05 on the
  10-evaluation grid, 0.26 on the 50); the mean curves of 4 seeds pass a flat platelet arm
  with p = 0.85 and 0.98, so the rule stays strict but can be met (``python
  bench/claims/noise.py`` prints these figures from the committed parts, 2026-12-06; a
  simulation with one scatter over the window, while the real scatter falls through it as
  the rate decays, so the figures are approximate, and they move a little as parts are
  added). Runs trained after the platelet phantom's 5,000-iteration parts (the ReIsoSeg
  unet3d parts at 5,000 on) validate :data:`EVALUATIONS` (50) times instead of 10
  (evaluation is cheap next to training: seconds per validation here), which averages the
  level test over 10 evaluations a fifth instead of 2. An arm
  whose runs were validated on different grids is judged on the evaluations they share.
* **Paired comparison.** Arm A against arm B on the same seeds and test volumes: the mean
  and sd of the per-seed differences A − B and their 95 % t interval.
* **Verdict.** *holds* when the interval lies above 0 (the reason says when the whole
  interval is below the claim's margin: a real but small gain); *does not hold* when it
  lies below the margin without lying above 0 (a gain as large as the margin is ruled
  out); *undecided* otherwise, with fewer than 3 seeds, when the arm the conclusion is
  drawn against missed its plateau, or when any run left a class unlearned (test IoU
  below :data:`UNLEARNED` (0.01) on a class of a multi-class task). *Holds* needs the
  reference arm at its plateau, *does not hold* the claimed arm: the other arm still
  rising points further the same way (a larger gain for *holds*, a smaller one for *does
  not hold*; its test score comes from its best checkpoint so far, so this is a
  direction, not a bound), and the reason says that it was still rising. Comparisons
  whose arms share their nets (the ensemble and its members, the tracing pipelines) need
  every net at its plateau. A verdict holds at its budget: the plateau rule alone is not
  enough under a decaying learning rate (a net that learns slowly flattens at the end of
  a short run too), so a flat reference arm is flat at this budget, not proven converged.
* **A longer budget.** A folder ``<setting>-<N>it`` with ``N`` above the claim's budget
  gives verdicts of its own on the comparisons whose arms were both run at it; where only
  the reference arm was run there, the claimed arm at the claim's budget is compared with
  it (:func:`longer_reference`; per seed the reference's better test score of its two
  budgets), which can show only that the claim holds.

Resuming: a part's training resumes from ``runs/claims/...checkpoints/last.pt`` when that
run has the same budget; ``--redo`` or another budget starts it afresh. The ECS parts
(a few minutes each) always start afresh.
"""
import json
import math
import os
import re
from collections import Counter
from pathlib import Path

import numpy as np

PLATEAU_FRACTION = 0.2
PLATEAU_TOL = 0.01
MIN_SEEDS = 3
# validations per run (the ReIsoSeg 5,000-iteration parts on; earlier parts have 10, ECS 16:
# the length of a part's curve tells): a fifth of the
# run holds 10 of them, so one noisy evaluation moves the level test little
EVALUATIONS = 50
UNLEARNED = 0.01  # a class with a lower test IoU was not learned
HERE = Path(__file__).resolve().parent
# EMSEG_CLAIMS_DIR moves parts and results elsewhere (the tests and smoke runs use it)
STORE = Path(os.environ.get("EMSEG_CLAIMS_DIR", HERE))
PARTS = STORE / "parts"
RESULTS = STORE / "results.json"
RUNS = STORE / "runs" if "EMSEG_CLAIMS_DIR" in os.environ else HERE.parents[1] / "runs" / "claims"


def plateau(curve, *, fraction=PLATEAU_FRACTION, tol=PLATEAU_TOL):
    """Whether a validation curve had reached its plateau.

    Parameters
    ----------
    curve : list of (iteration, score)
        Validation scores in iteration order (higher is better).
    fraction, tol : float
        The rule: over the last ``fraction`` of the iterations, neither the best score
        nor the level rose by ``tol`` or more.

    Returns
    -------
    dict
        ``met`` (bool), ``rise`` (best score at the end minus the best up to the start
        of the last ``fraction``), ``trend`` (the mean score of the last ``fraction``
        minus the mean of the ``fraction`` before it; the last score before it when
        that span has none), ``from_iteration`` and ``points`` (evaluations in the last
        ``fraction``). ``met`` is False when fewer than 2 evaluations lie before that
        start or none after it (the curve is too sparse to tell).

    Examples
    --------
    >>> plateau([(100, 0.2), (200, 0.5), (300, 0.60), (400, 0.605), (500, 0.604)])["met"]
    True
    >>> plateau([(100, 0.2), (200, 0.5), (300, 0.60), (400, 0.65), (500, 0.70)])["met"]
    False
    >>> plateau([(100, 0.2), (200, 0.7), (300, 0.50), (400, 0.55), (500, 0.60)])["met"]  # climbing back
    False
    """
    pts = sorted((int(i), float(s)) for i, s in curve)
    if not pts:
        raise ValueError("plateau needs a validation curve with at least one point")
    end = pts[-1][0]
    start = end - fraction * end
    before = [s for i, s in pts if i <= start]
    after = [s for i, s in pts if i > start]
    if len(before) < 2 or not after:
        return {"met": False, "rise": None, "trend": None, "from_iteration": int(start),
                "points": len(after)}
    rise = max(before + after) - max(before)
    previous = [s for i, s in pts if start - fraction * end < i <= start] or before[-1:]
    trend = float(np.mean(after) - np.mean(previous))
    return {"met": bool(rise < tol and trend < tol), "rise": float(rise), "trend": trend,
            "from_iteration": int(start), "points": len(after)}


def arm_plateau(runs):
    """The plateau rule (:func:`plateau`) applied to an arm, over the mean curves of its
    ``runs`` (parts with a ``curve``) at the iterations where all of them were evaluated
    (at least 3, ending at each run's last): ``rise`` from the mean of the runs' best-so-far curves (the expected gain of the arm's
    test score, which comes from each run's best checkpoint; a run that falls does not
    offset one that still finds better weights), ``trend`` from the mean of the curves
    themselves (a curve climbing back below its early peak). Otherwise (or without
    curves) the arm is at its plateau when every run is.

    Returns
    -------
    dict
        :func:`plateau`'s keys (``rise`` and ``trend`` None in the fallback), with
        ``runs`` (how many) and ``runs_met`` (how many met the rule on their own).

    Examples
    --------
    >>> flat = {"curve": [(100, 0.5), (200, 0.6), (300, 0.61), (400, 0.60), (500, 0.605)]}
    >>> up = {"curve": [(100, 0.5), (200, 0.6), (300, 0.60), (400, 0.62), (500, 0.66)]}
    >>> down = {"curve": [(100, 0.5), (200, 0.6), (300, 0.62), (400, 0.58), (500, 0.54)]}
    >>> [(r["met"], r["runs_met"]) for r in (arm_plateau([flat, down]), arm_plateau([up, down]))]
    [(True, 2), (False, 1)]
    """
    if not runs:
        raise ValueError("arm_plateau needs at least one run")
    curves = [sorted((int(i), float(v)) for i, v in r["curve"]) if r.get("curve") else None
              for r in runs]
    own = [plateau(c)["met"] if c else bool(r.get("plateau", {}).get("met"))
           for c, r in zip(curves, runs)]
    grid = sorted(set.intersection(*(set(i for i, _ in c) for c in curves))) if all(curves) else []
    if len(grid) >= 3 and all(c[-1][0] == grid[-1] for c in curves):
        # each run on the evaluations all of them share (e.g. every 500 iterations for runs
        # evaluated 10 and 50 times); its best-so-far from all of its own evaluations
        values = np.array([[v for i, v in c if i in grid] for c in curves])
        best_so_far = np.array([[b for (i, _), b in zip(c, np.maximum.accumulate([v for _, v in c]))
                                 if i in grid] for c in curves])
        level = plateau(list(zip(grid, values.mean(0))))
        best = plateau(list(zip(grid, best_so_far.mean(0))))
        result = {**level, "rise": best["rise"],
                  "met": bool(None not in (best["rise"], level["trend"])
                              and best["rise"] < PLATEAU_TOL and level["trend"] < PLATEAU_TOL)}
    else:
        result = {"met": all(own), "rise": None, "trend": None, "from_iteration": None,
                  "points": None}
    return {**result, "runs": len(runs), "runs_met": sum(own)}


def mean_sd(values):
    """``(mean, sd)`` of finite values (sd with ddof=1; None for one value; (None, None) for none)."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], float)
    if v.size == 0:
        return None, None
    return float(v.mean()), (float(v.std(ddof=1)) if v.size > 1 else None)


def paired(a, b):
    """Paired comparison of two arms over the same seeds.

    Parameters
    ----------
    a, b : dict
        ``{seed: score}`` of the two arms; only seeds present in both are paired.

    Returns
    -------
    dict
        ``n``, ``seeds``, ``mean`` and ``sd`` of the differences ``a - b``, ``ci95``
        (two-sided t interval; None below 2 seeds), ``wins`` (seeds where a > b) and
        ``ratio`` (mean of a over mean of b; None when b's mean is 0).

    Examples
    --------
    >>> p = paired({0: 0.8, 1: 0.7, 2: 0.9}, {0: 0.5, 1: 0.6, 2: 0.6})
    >>> p["n"], round(p["mean"], 3), p["wins"]
    (3, 0.233, 3)
    """
    from scipy import stats

    seeds = sorted(set(a) & set(b))
    d = np.array([a[s] - b[s] for s in seeds], float)
    out = {"n": len(seeds), "seeds": seeds, "mean": None, "sd": None, "ci95": None,
           "wins": int((d > 0).sum()), "ratio": None}
    if not seeds:
        return out
    out["mean"] = float(d.mean())
    mb = float(np.mean([b[s] for s in seeds]))
    out["ratio"] = float(np.mean([a[s] for s in seeds]) / mb) if mb else None
    if len(seeds) > 1:
        sd = float(d.std(ddof=1))
        half = float(stats.t.ppf(0.975, len(seeds) - 1)) * sd / math.sqrt(len(seeds))
        out.update(sd=sd, ci95=[out["mean"] - half, out["mean"] + half])
    return out


def unlearned_classes(part):
    """The class ids whose test IoU is below :data:`UNLEARNED` in a part with a per-class
    ``iou`` list (none for a part without one, e.g. a binary task's scalar IoU).

    Examples
    --------
    >>> unlearned_classes({"iou": [0.9, 0.004, 0.5, 0.0]}), unlearned_classes({"iou": 0.0})
    ([1, 3], [])
    """
    iou = part.get("iou")
    if not isinstance(iou, (list, tuple)):
        return []
    return [c for c, v in enumerate(iou) if v is not None and v < UNLEARNED]


def verdict(comparison, *, margin, plateaus=(), unlearned=(), min_seeds=MIN_SEEDS, arms=None):
    """One-word verdict and its reason for a paired comparison (see the module docstring).

    Parameters
    ----------
    comparison : dict
        From :func:`paired` (claimed arm minus reference).
    margin : float
        The smallest gain that would matter: an interval that excludes 0 from above but
        lies below the margin still *holds* (noted in the reason); one that lies below
        the margin and includes 0 *does not hold*.
    plateaus : dict
        ``{arm: met}``: whether each arm of the comparison met the plateau rule
        (:func:`arm_plateau`).
    unlearned : iterable of bool
        Whether each run of the comparison left a class unlearned
        (:func:`unlearned_classes`).
    arms : (str, str), optional
        ``(claimed, reference)``, two keys of ``plateaus``. Then a conclusion needs only
        the arm it is drawn against at its plateau: the reference for *holds*, the
        claimed arm for *does not hold*; the other arm still rising points further the
        same way. Without it (both arms share the nets, as the ensemble and its members)
        every arm in ``plateaus`` must be at its plateau.

    Returns
    -------
    (str, str)
        ``'holds'``, ``'does not hold'`` or ``'undecided'``, and why.

    Examples
    --------
    >>> both = {"a": True, "b": True}
    >>> verdict({"n": 3, "ci95": [0.02, 0.08]}, margin=0.01, plateaus=both)[0]
    'holds'
    >>> verdict({"n": 3, "ci95": [-0.08, -0.02]}, margin=0.01, plateaus=both)[0]
    'does not hold'
    >>> verdict({"n": 3, "ci95": [-0.02, 0.05]}, margin=0.01, plateaus=both)[0]
    'undecided'
    >>> verdict({"n": 3, "ci95": [0.02, 0.08]}, margin=0.01, plateaus={"a": True, "b": False})[1]
    'the mean validation curve of b had not reached its plateau; 95 % interval of the gain [+0.020, +0.080]'
    >>> verdict({"n": 3, "ci95": [0.02, 0.08]}, margin=0.01, plateaus={"a": False, "b": True},
    ...         arms=("a", "b"))
    ('holds', '95 % interval of the gain [+0.020, +0.080] lies above 0; a was still rising at its end, which points to a larger gain, not a smaller one')
    """
    plateaus = dict(plateaus)
    if arms is not None and set(arms) != set(plateaus):
        raise ValueError(f"arms {arms} must name the arms of plateaus {sorted(plateaus)}")
    if comparison["n"] < min_seeds:
        return "undecided", f"{comparison['n']} paired seed(s), fewer than {min_seeds}"
    unlearned = list(unlearned)
    lo, hi = comparison["ci95"]
    outcome = "holds" if lo > 0 else "does not hold" if hi < margin else None
    needed = list(plateaus)
    if arms is not None and outcome:  # only the arm the conclusion is drawn against
        needed = [arms[1] if outcome == "holds" else arms[0]]
    rising = [arm for arm, met in plateaus.items() if not met]
    missed = rising if outcome is None else [arm for arm in needed if arm in rising]
    others = [arm for arm in rising if arm not in missed]  # rising on the winning side
    blocked = [f"the mean validation curve of {missed[0]} had not reached its plateau"
               if len(missed) == 1 else f"the mean validation curves of "
               f"{' and of '.join(missed)} had not reached their plateaus"] if missed else []
    # still rising on the winning side: named, though it does not keep the verdict open
    also = [f"{' and '.join(others)} {'was' if len(others) == 1 else 'were'} still rising"
            + (" too" if missed else "")] if others else []
    untrained = [f"{sum(unlearned)} of {len(unlearned)} runs left a class unlearned: test IoU "
                 f"below {UNLEARNED:g}"] if any(unlearned) else []
    interval = f"95 % interval of the gain [{lo:+.3f}, {hi:+.3f}]"
    if blocked or untrained:  # every reason, not only the first: each one alone keeps it open
        return "undecided", "; ".join(blocked + also + untrained + [interval])
    # the arm on the winning side still rising: a larger gain for "holds" (the claimed arm
    # rising), a smaller one for "does not hold" (the reference rising)
    trend = ("larger gain, not a smaller one" if outcome == "holds"
             else "smaller gain, not a larger one")
    widen = (f"; {others[0]} was still rising at its end, which points to a {trend}"
             if others else "")
    if outcome == "holds":
        small = f", all of it below the margin {margin:g}" if hi < margin else ""
        return "holds", f"{interval} lies above 0{small}{widen}"
    if outcome == "does not hold":
        return "does not hold", f"{interval} rules out a gain of {margin:g} or more{widen}"
    return "undecided", f"{interval} includes 0 and {margin:g}"


def fmt(mean, sd, digits=3):
    """``'0.512 ± 0.010'`` (``'0.512'`` without sd, ``'-'`` without mean)."""
    if mean is None:
        return "-"
    return f"{mean:.{digits}f}" + ("" if sd is None else f" ± {sd:.{digits}f}")


def write_json(path, value):
    """Write ``value`` as JSON atomically (emseg's one JSON writer: NaN becomes null)."""
    from emseg.atomic import write_json as write  # the bench scripts share emseg's writer

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return write(path, value)


def part_file(claim, setting, arm, seed):
    """The committed result file of one part."""
    return PARTS / claim / setting / f"{arm}-seed{seed}.json"


def run_folder(claim, setting, arm, seed):
    """The (uncommitted) checkpoint folder of one part."""
    return RUNS / claim / setting / f"{arm}-seed{seed}"


def read_part(path):
    """One part file's record; a file that cannot be read is an error naming it."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ValueError(f"parts/{path.parent.parent.name}/{path.parent.name}/{path.name} cannot "
                         f"be read ({err}): restore it from git or delete it and run the part "
                         "again") from None


def load_parts(claim):
    """``{(setting, arm, seed): result}`` of every finished part of a claim."""
    out = {}
    for f in sorted((PARTS / claim).glob("*/*-seed*.json")):
        if f.name.startswith("."):  # a temporary file of an atomic write
            continue
        arm, seed = f.stem.rsplit("-seed", 1)
        part = read_part(f)
        if part.get("curve"):  # the plateau as the rule stands now, not as it stood then
            part["plateau"] = plateau(part["curve"])
        out[(f.parent.name, arm, int(seed))] = part
    return out


def folder_for(setting, iterations, budget):
    """The parts folder of a run of ``setting`` at ``iterations``: the setting's own folder
    at the claim's ``budget``, else ``<setting>-<N>it`` (see :func:`folder_kind`).

    Examples
    --------
    >>> folder_for("phantom", 5000, 5000), folder_for("phantom", 20, 5000)
    ('phantom', 'phantom-20it')
    """
    return setting if int(iterations) == int(budget) else f"{setting}-{int(iterations)}it"


def check_budgets(claim, parts, settings, budget):
    """Refuse parts whose budget is not their folder's: a setting's folder holds runs at the
    claim's ``budget`` only (its verdicts compare like with like), ``<setting>-<N>it``
    runs of ``N`` iterations. A part that records no ``iterations`` is not checked."""
    for (folder, arm, seed), part in parts.items():
        if "iterations" not in part:
            continue
        setting = setting_of(folder, settings)
        want = folder_budget(folder, settings) or budget
        got = int(part["iterations"])
        if got != want:
            again = "" if want == budget else f" --iterations {want}"
            raise ValueError(
                f"parts/{claim}/{folder}/{arm}-seed{seed}.json was trained for {got:,} iterations, "
                f"but its folder holds {want:,}-iteration runs: move it to parts/{claim}/"
                f"{folder_for(setting, got, budget)}/ (the folder of its budget) or run "
                f"it again (python bench/claims/run.py {claim} --settings {setting} --arms {arm} "
                f"--seeds {seed}{again} --redo)")


def folder_budget(folder, settings):
    """``N`` of a folder ``<setting>-<N>it``; None for a setting's own folder.

    Examples
    --------
    >>> folder_budget("phantom-3000it", ("phantom",)), folder_budget("phantom", ("phantom",))
    (3000, None)
    """
    m = re.fullmatch(r".+-(\d+)it", folder) if folder not in settings else None
    return int(m.group(1)) if m else None


def folder_kind(folder, settings, budget):
    """What a parts folder's runs are for: ``"budget"`` (a setting's own folder, runs at the
    claim's ``budget``: verdicts), ``"record"`` (``<setting>-<N>it`` with ``N`` below it: an
    earlier budget kept as a record, tables only) or ``"longer"`` (``N`` above it: a longer
    budget, run where the claim's left curves rising, with verdicts of its own).

    Examples
    --------
    >>> [folder_kind(f, ("vnc",), 4000) for f in ("vnc", "vnc-1000it", "vnc-8000it")]
    ['budget', 'record', 'longer']
    """
    n = folder_budget(folder, settings)
    return "budget" if n is None else "longer" if n > budget else "record"


def folder_note(folder, settings, budget):
    """What a parts folder's table caption says of its budget (see :func:`folder_kind`).

    Examples
    --------
    >>> folder_note("vnc-8000it", ("vnc",), 4000)
    " (a longer budget than the claim's, run with --iterations 8000: verdicts of its own, at this budget)"
    """
    kind = folder_kind(folder, settings, budget)
    if kind == "record":
        return " (an earlier budget kept as a record; no verdicts)"
    if kind == "longer":
        return (f" (a longer budget than the claim's, run with --iterations "
                f"{folder_budget(folder, settings)}: verdicts of its own, at this budget)")
    return ""


def setting_of(folder, settings):
    """The setting a parts folder belongs to: itself, or for another budget of it
    (``<setting>-<N>it``, e.g. ``phantom-1000it``) that setting.

    Examples
    --------
    >>> setting_of("phantom-1000it", ("phantom", "real-geometry")), setting_of("real-geometry", ("phantom", "real-geometry"))
    ('phantom', 'real-geometry')
    """
    m = re.fullmatch(r"(.+)-\d+it", folder)
    found = m.group(1) if m and folder not in settings else folder
    if found not in settings:
        raise ValueError(f"parts folder {folder!r} is neither a setting ({', '.join(settings)}) "
                         "nor another budget of one (<setting>-<N>it): rename or remove it")
    return found


def setting_folders(parts, settings):
    """The folders of ``parts`` (keys ``(folder, arm, seed)``) in the order of ``settings``,
    each setting before its other budgets (by budget)."""
    return sorted({k[0] for k in parts},
                  key=lambda f: (settings.index(setting_of(f, settings)), f not in settings,
                                 folder_budget(f, settings) or 0, f))


def awaiting(folders, settings, iterations, command):
    """Verdict entries for each setting of ``settings`` that has runs at another budget
    among ``folders`` but no part yet at the claim's budget of ``iterations``, so that the
    claim says what it waits for instead of dropping the setting's verdicts.

    Examples
    --------
    >>> [v["statement"] for v in awaiting(["phantom-3000it"], ("phantom",), 5000, "run.py x")]
    ['`phantom`: no run yet at the budget of 5,000 iterations']
    >>> awaiting(["phantom", "phantom-3000it"], ("phantom",), 5000, "run.py x")
    []
    >>> awaiting(["phantom-8000it"], ("phantom",), 5000, "run.py x")[0]["reason"]
    'what `phantom` has so far is a longer budget, with verdicts of its own; `run.py x --settings phantom` runs this one'
    """
    have = set(folders)
    out = []
    for s in settings:
        kinds = {folder_kind(f, settings, iterations) for f in have
                 if f != s and setting_of(f, settings) == s}
        if s in have or not kinds:
            continue
        what = ("earlier budgets, kept as records" if kinds == {"record"} else
                "a longer budget, with verdicts of its own" if kinds == {"longer"} else
                "earlier budgets, kept as records, and a longer one, with verdicts of its own")
        out.append({"statement": f"`{s}`: no run yet at the budget of {iterations:,} iterations",
                    "verdict": "undecided",
                    "reason": f"what `{s}` has so far {'is' if kinds == {'longer'} else 'are'} "
                              f"{what}; `{command} --settings {s}` runs this one",
                    "comparison": None})
    return out


def budget_line(parts, settings, budget):
    """The budget of a claim's verdicts, the longer budgets with verdicts of their own and
    the earlier budgets kept as records, e.g. ``'4,000 iterations per net (the verdicts);
    longer, with verdicts of their own: 8,000 iterations; earlier budgets kept as records:
    1,000, 2,000 iterations'``."""
    text = f"{budget:,} iterations per net (the verdicts)"
    for kind, words in (("longer", "longer, with verdicts of their own"),
                        ("record", "earlier budgets kept as records")):
        some = {k: p for k, p in parts.items() if folder_kind(k[0], settings, budget) == kind}
        if some:
            text += f"; {words}: {budget_caption(some)}"
    return text


def budget_caption(parts):
    """``'1,000 iterations'`` (or ``'1,000, 3,000 iterations'``) of some parts."""
    its = sorted({p["iterations"] for p in parts.values() if "iterations" in p})
    return f"{', '.join(f'{i:,}' for i in its)} iterations"


def validation_curve(history, key):
    """``[(iteration, score)]`` of a :func:`emseg.train.fit` history."""
    return [(v["iteration"], v[key]) for v in history["val"]]


class PartNotReady(RuntimeError):
    """A part that needs other parts first (e.g. an ensemble of the seeds' nets)."""


def resume_run(folder, iterations, redo=False):
    """Whether a part's training in ``folder`` should resume: its ``last.pt`` exists, was
    trained with the same number of iterations, and ``redo`` is off. Otherwise the run
    starts afresh (``overwrite``)."""
    last = Path(folder) / "checkpoints" / "last.pt"
    if redo or not last.is_file():
        return False
    import torch
    saved = torch.load(last, map_location="cpu", weights_only=False)
    return saved.get("config", {}).get("iterations") == iterations


def train_seconds(history):
    """The training time a run's history records (also across a resume)."""
    return float(history["seconds"][-1]) if history.get("seconds") else 0.0


def train_arm(claim, setting, arm, seed, preset_name, train, val, *, n_classes, iterations,
              metric, device, redo=False, checkpoint="best.pt", **model_changes):
    """Train one arm of a claim through :func:`emseg.train.fit`, the way every claim does:
    the preset with ``iterations`` and ``seed`` (also the initial weights), :data:`EVALUATIONS`
    validations over the run, resumed when :func:`resume_run` allows.

    Returns
    -------
    dict
        ``model`` (``checkpoint`` of the run, loaded), ``curve`` (validation ``metric``),
        ``plateau``, ``train_seconds``, ``preset``, ``iterations``.
    """
    from emseg.checkpoint import load_model
    from emseg.train import PRESETS, fit

    # float32 training (cpu_bf16=False), as every part trained before bfloat16 became the
    # default: the arms and seeds of a claim stay like for like
    net, config = PRESETS[preset_name].build(n_classes, seed=seed, iterations=iterations,
                                             model_options=model_changes, cpu_bf16=False,
                                             eval_every=max(1, iterations // EVALUATIONS))
    folder = run_folder(claim, setting, arm, seed)
    resume = resume_run(folder, iterations, redo)
    history = fit(net, train, val, config=config, output_dir=folder, resume=resume,
                  overwrite=not resume, device=device, progress=False)
    curve = validation_curve(history, metric)
    return {"model": load_model(folder / "checkpoints" / checkpoint, device=device).eval(),
            "curve": curve, "plateau": plateau(curve), "train_seconds": train_seconds(history),
            "preset": preset_name, "iterations": iterations}


def cpu_model():
    """The processor's model name (``/proc/cpuinfo``; ``platform.processor()`` elsewhere),
    recorded with each part from 2026-12-06 on: parts that ran on different machines have
    comparable scores (float32 throughout) but not comparable seconds."""
    import platform

    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def device_line(parts):
    """The claim's "Device" line: each device its parts name, and the processors where
    the parts record them (e.g. ``'cpu (2 threads); processor: AMD EPYC (1 part), not
    recorded (40 parts, before 2026-12-06)'``)."""
    parts = list(parts)
    line = " / ".join(sorted({p["device"] for p in parts}))
    models = Counter(p.get("cpu") for p in parts)
    if set(models) == {None}:
        return line

    def count(n):
        return f"{n} part{'s' if n != 1 else ''}"

    cells = [f"{m} ({count(n)})" for m, n in sorted((m, n) for m, n in models.items() if m)]
    if None in models:
        cells.append(f"not recorded ({count(models[None])}, before 2026-12-06)")
    return f"{line}; processor: {', '.join(cells)}"


def part_record(claim, setting, arm, seed, trained, device, test_seconds, **scores):
    """The JSON record of a finished part (see :func:`train_arm`)."""
    import torch

    from emseg.device import describe

    return {"claim": claim, "setting": setting, "arm": arm, "seed": seed,
            **{k: v for k, v in trained.items() if k != "model"}, "device": describe(device),
            "cpu": cpu_model(), "torch": torch.__version__,
            "test_seconds": test_seconds, **scores}


def plateau_cell(runs):
    """The "plateau met" cell of an arm: its runs that met the rule on their own, and
    whether its mean curve did (the verdicts' test), e.g. ``'2 of 3; mean: yes'``."""
    arm = arm_plateau(runs)
    return f"{arm['runs_met']} of {arm['runs']}; mean: {'yes' if arm['met'] else 'no'}"


def class_table(parts, arms, names, *, main="miou_organelle", main_name="organelle MIoU",
                extra=None):
    """Rows of a per-class test IoU table (mean ± sd over seeds) of ``parts`` of one setting.

    ``extra(done)``, given an arm's parts, returns the cells (a list of str) that end its row.
    """
    rows = []
    for arm in arms:
        done = [p for k, p in parts.items() if k[1] == arm]
        if not done:
            continue
        rows.append([arm, str(len(done)), fmt(*mean_sd(p[main] for p in done)),
                     *[fmt(*mean_sd(p["iou"][c] for p in done)) for c in range(len(names))],
                     plateau_cell(done)]
                    + (list(extra(done)) if extra else []))
    return rows


def budget_table(parts, setting, settings, arms, key, name, *, budget, steps=()):
    """How the budget moved each arm: its mean test ``key`` at the claim's ``budget`` and at
    each other budget of ``setting`` (earlier ones kept as records, longer ones), over the
    seeds run at both with the same preset; with ``steps`` (pairs of arms) also each
    comparison's paired gain at both. The change is the longer budget's score minus the
    shorter's. A table (``caption``, ``header``, ``rows``), or None when no seed was run at
    both.

    Examples
    --------
    >>> run = lambda v: {"preset": "p", "m": v}
    >>> parts = {("x", "a", 0): run(0.8), ("x", "b", 0): run(0.6),
    ...          ("x-3000it", "a", 0): run(0.7), ("x-3000it", "b", 0): run(0.6),
    ...          ("x-8000it", "a", 0): run(0.85)}
    >>> [(r[1], r[-1]) for r in budget_table(parts, "x", ("x",), ("a", "b"), "m", "m",
    ...                                      budget=5000, steps=[("a", "b")])["rows"]]
    [('3,000 → 5,000', '+0.100'), ('3,000 → 5,000', '+0.000'), ('3,000 → 5,000', '+0.100'), ('5,000 → 8,000', '+0.050')]
    """
    def score(folder, arm, seed):
        p = parts.get((folder, arm, seed))
        return None if p is None or p.get(key) is None else p[key]

    def same_preset(folder, arm, seed):
        return parts[(folder, arm, seed)].get("preset") == parts[(setting, arm, seed)].get("preset")

    def row(label, n, other, here):
        shorter, longer = (other, here) if n < budget else (here, other)
        diff = [b - a for a, b in zip(shorter, longer)]
        mean, sd = mean_sd(diff)
        return [label, f"{min(n, budget):,} → {max(n, budget):,}", str(len(shorter)),
                fmt(*mean_sd(shorter)), fmt(*mean_sd(longer)),
                f"{mean:+.3f}" + ("" if sd is None else f" ± {sd:.3f}")]

    others = sorted({k[0] for k in parts if k[0] != setting
                     and setting_of(k[0], settings) == setting}, key=lambda f: folder_budget(f, settings))
    rows = []
    for folder in others:
        n = folder_budget(folder, settings)
        for arm in arms:
            seeds = sorted(k[2] for k in parts if k[0] == folder and k[1] == arm
                           and score(folder, arm, k[2]) is not None
                           and score(setting, arm, k[2]) is not None and same_preset(folder, arm, k[2]))
            if seeds:
                rows.append(row(arm, n, [score(folder, arm, s) for s in seeds],
                                [score(setting, arm, s) for s in seeds]))
        for a, b in steps:
            seeds = sorted(k[2] for k in parts if k[0] == folder and k[1] == a
                           and all(score(folder, x, k[2]) is not None
                                   and score(setting, x, k[2]) is not None
                                   and same_preset(folder, x, k[2]) for x in (a, b)))
            if seeds:
                rows.append(row(f"{a} − {b}", n,
                                [score(folder, a, s) - score(folder, b, s) for s in seeds],
                                [score(setting, a, s) - score(setting, b, s) for s in seeds]))
    if not rows:
        return None
    return {"caption": f"`{setting}`: what the budget changed, on the seeds run at "
                       f"{budget:,} iterations and at another budget with the same preset (test "
                       f"{name}, mean ± sd over those seeds; change: the per-seed differences, "
                       f"the longer budget's score minus the shorter's)",
            "header": ["arm", "iterations", "seeds", "shorter", "longer", "change"],
            "rows": rows}


def ran(parts, *arms):
    """Whether each of ``arms`` has a part among ``parts`` (keys ``(folder, arm, seed)``): a
    longer budget speaks only of comparisons whose arms were both run at it.

    Examples
    --------
    >>> ran({("x", "a", 0): {}}, "a"), ran({("x", "a", 0): {}}, "a", "b")
    (True, False)
    """
    return all(any(k[1] == arm for k in parts) for arm in arms)


def compare(parts, a, b, key, *, margin, statement):
    """The verdict entry of "arm ``a`` beats arm ``b`` on ``key``" over one setting's parts.

    ``statement`` is formatted with ``a``, ``b``, ``mean`` (the mean gain), ``wins`` and
    ``n``. When no seed has both arms the entry is *undecided* and says which arm is not
    run yet (its statement without the figures).

    Examples
    --------
    >>> one = {("s", "a", 0): {"m": 0.5, "plateau": {"met": True}}}
    >>> e = compare(one, "a", "b", "m", margin=0.01, statement="{a} beats {b} (mean gain {mean:+.3f}, {wins} of {n} seeds)")
    >>> e["statement"], e["verdict"], e["reason"]
    ('a beats b', 'undecided', 'no seed has both arms yet; not run yet: b')
    """
    sa = {k[2]: p for k, p in parts.items() if k[1] == a and p.get(key) is not None}
    sb = {k[2]: p for k, p in parts.items() if k[1] == b and p.get(key) is not None}
    cmp = paired({s: p[key] for s, p in sa.items()}, {s: p[key] for s, p in sb.items()})
    if not cmp["n"]:
        missing = " and ".join(x for x, d in ((a, sa), (b, sb)) if not d)
        return {"statement": re.sub(r" \([^()]*\{mean[^()]*\)", "", statement).format(a=a, b=b),
                "verdict": "undecided",
                "reason": "no seed has both arms yet" + (f"; not run yet: {missing}" if missing else ""),
                "comparison": None}
    runs = [d[s] for d in (sa, sb) for s in cmp["seeds"]]
    plateaus = {arm: arm_plateau([d[s] for s in cmp["seeds"]])["met"] for arm, d in ((a, sa), (b, sb))}
    word, why = verdict(cmp, margin=margin, plateaus=plateaus, arms=(a, b),
                        unlearned=[bool(unlearned_classes(r)) for r in runs])
    return {"statement": statement.format(a=a, b=b, mean=cmp["mean"], wins=cmp["wins"], n=cmp["n"]),
            "verdict": word, "reason": why, "comparison": cmp}


def longer_reference(parts, folder, settings, a, b, key, *, margin, budget, what):
    """The verdict entry of "arm ``a`` at the claim's ``budget`` beats arm ``b`` given the
    longer budget of ``folder``", for a longer folder (:func:`folder_kind`) where only the
    reference ``b`` was run: the reference trained on until it is flat, the claimed arm as
    it was.

    Such a comparison can show only that the claim *holds* (``a`` had the shorter budget):
    it needs at least 3 paired seeds, ``b``'s mean curve at its plateau at the longer
    budget, no class left unlearned, and the interval above 0. An interval below the
    margin is *undecided*, not *does not hold*. ``b``'s score on a seed is the better of
    its test scores at the two budgets where it has both (a longer run that happened to
    score lower on the test volumes does not flatter the gain). ``parts`` holds every
    folder's parts (keys ``(folder, arm, seed)``); ``what`` names the score (e.g. "test
    organelle MIoU"). Returns None when ``folder`` is not a longer budget, ran ``a``
    itself, or lacks ``b``, or when the claim's own folder has no ``a``.

    Examples
    --------
    >>> flat = [(i, 0.6) for i in range(100, 1001, 100)]
    >>> parts = {("p", "a", s): {"m": 0.7 + s / 100, "curve": flat} for s in range(3)}
    >>> parts.update({("p-1000it", "b", s): {"m": 0.6 + s / 200, "curve": flat} for s in range(3)})
    >>> e = longer_reference(parts, "p-1000it", ("p",), "a", "b", "m", margin=0.01, budget=500, what="IoU")
    >>> e["verdict"], e["statement"]
    ('holds', '`p-1000it`: a at 500 iterations beats b given 1,000 (the reference run longer; per seed its better test score of 500 and 1,000) on IoU (mean gain +0.105, 3 of 3 seeds)')
    """
    if folder_kind(folder, settings, budget) != "longer" or ran(
            {k: v for k, v in parts.items() if k[0] == folder}, a):
        return None
    base = setting_of(folder, settings)
    sa = {k[2]: p for k, p in parts.items() if k[:2] == (base, a) and p.get(key) is not None}
    sb = {k[2]: p for k, p in parts.items() if k[:2] == (folder, b) and p.get(key) is not None}
    if not sa or not sb:
        return None
    shorter = {k[2]: p for k, p in parts.items() if k[:2] == (base, b) and p.get(key) is not None}
    # per seed the reference run (of the two budgets) with the better test score
    best_b = {s: max((p, shorter.get(s, p)), key=lambda r: r[key]) for s, p in sb.items()}
    cmp = paired({s: p[key] for s, p in sa.items()}, {s: p[key] for s, p in best_b.items()})
    statement = (f"`{folder}`: {a} at {int(budget):,} iterations beats {b} given "
                 f"{folder_budget(folder, settings):,} (the reference run longer; per seed its "
                 f"better test score of {int(budget):,} and {folder_budget(folder, settings):,}) "
                 f"on {what}")
    if not cmp["n"]:
        return {"statement": statement, "verdict": "undecided",
                "reason": "no seed has both arms yet", "comparison": None}
    runs = [d[s] for d in (sa, sb, best_b) for s in cmp["seeds"]]
    word, why = verdict(cmp, margin=margin, plateaus={b: arm_plateau([sb[s] for s in cmp["seeds"]])["met"]},
                        unlearned=[bool(unlearned_classes(r)) for r in runs])
    if word == "does not hold":
        lo, hi = cmp["ci95"]
        word, why = "undecided", (f"95 % interval of the gain [{lo:+.3f}, {hi:+.3f}]; {a} had "
                                  "the shorter budget, so a comparison across budgets can show "
                                  "only that the claim holds")
    return {"statement": f"{statement} (mean gain {cmp['mean']:+.3f}, {cmp['wins']} of "
                         f"{cmp['n']} seeds)", "verdict": word, "reason": why, "comparison": cmp}
