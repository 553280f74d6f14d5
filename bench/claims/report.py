"""The claims benchmark's results: ``bench/claims/results.json`` built from the parts, and
its Markdown (the README's claims section and the docs site's results page)."""
import json
import re
from pathlib import Path

import common

README = Path(__file__).resolve().parents[2] / "README.md"
BEGIN, END = "<!-- claims:begin -->", "<!-- claims:end -->"
RULES = ("Rules: a run is at its plateau when, over its last "
         f"{common.PLATEAU_FRACTION:.0%} of iterations, neither its best validation score nor "
         f"its level (the mean score, against the {common.PLATEAU_FRACTION:.0%} before) rose by "
         f"{common.PLATEAU_TOL:g} or more; an arm is at its plateau when the mean validation "
         "curve of its compared seeds is (the best-score test on the mean of their best-so-far "
         "curves, so that a falling run cannot hide a rising one; one run's scores scatter by "
         "0.003 to 0.04 between evaluations over the span the rule reads, so a truly flat run "
         "fails it by chance in up to a third of runs, the mean curve of 3 seeds in up to a quarter, as "
         "`bench/claims/noise.py` simulates from the committed curves; the "
         "tables' \"plateau met\" gives both: runs on their own, and the mean curve); arms are "
         "compared on the same seeds and test volumes (mean ± sd of the per-seed differences, "
         "95 % t interval); a claim *holds* when the interval lies above 0, *does not hold* "
         "when it rules out a gain as large as the claim's margin without lying above 0, and is "
         f"*undecided* otherwise, with fewer than {common.MIN_SEEDS} seeds, when the arm the "
         "conclusion is drawn against missed its plateau (the reference for *holds*, the "
         "claimed arm for *does not hold*; the other arm still rising points further the "
         "same way, and the reason says so; comparisons whose arms share their nets, as the "
         "ensemble and its members, need every net at its plateau), or when a run left a "
         f"class unlearned (test IoU below {common.UNLEARNED:g}). A verdict holds at its "
         "budget, under its decaying learning rate: a flat arm is flat at this budget, not "
         "proven converged. Folders named like `vnc-1000it` hold runs at another budget than the "
         "claim's: an earlier one is kept as a record (tables only, no verdicts); a longer one, "
         "run where the claim's budget left curves rising, gives verdicts of its own on the "
         "comparisons whose arms were both run at it, named by its folder (e.g. `vnc-8000it`); "
         "where only the reference arm was run longer (platelet, ReIsoSeg), the claimed arm at "
         "the claim's budget is compared with it (per seed the reference's better test score "
         "of its two budgets), which can show only that the claim holds (the reference at its "
         "plateau at the longer budget, the interval above 0).")


def summaries(claims):
    """Every claim's summary from its parts (``{"rules", "claims"}``), in memory."""
    out = {"rules": RULES, "claims": {}}
    for name, mod in claims.items():
        parts = common.load_parts(name)
        common.check_budgets(name, parts, mod.SETTINGS, mod.DEFAULT_ITERATIONS)
        summary = mod.summarise(parts)
        if summary is not None:
            # whether runs at other budgets are there (their minutes count in the total)
            summary["records"] = any(k[0] not in mod.SETTINGS for k in parts)
            out["claims"][name] = summary
    return out


def rebuild(claims):
    """:func:`summaries`, written to ``results.json`` atomically; returns what was written."""
    common.write_json(common.RESULTS, summaries(claims))
    return json.loads(common.RESULTS.read_text())


def _table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def markdown(results, level=3):
    """The claims as Markdown: per claim its setting, budget, verdicts and tables."""
    h = "#" * level
    out = []
    if results.get("rules"):
        out += [results["rules"], ""]
    for name, c in results["claims"].items():
        if not c:
            continue
        minutes = c["wall_seconds"] / 60
        out += [f"{h} {c['title']} ({c['paper']})", "",
                f"Setting: {c['setting']}. Budget: {c['budget']}. Device: {c['device']}; "
                f"{minutes:.0f} min of training and testing in all"
                + (" (other budgets included)" if c.get("records") else "")
                + ". "
                f"Command: `{c['command']}`.", ""]
        for v in c["verdicts"]:
            out.append(f"- **{v['verdict']}**: {v['statement']} ({v['reason']}).")
        out.append("")
        for t in c["tables"]:
            out += [t["caption"] + ":", "", _table(t["header"], t["rows"]), ""]
    return "\n".join(out).rstrip() + "\n"


def update_readme(results, readme=README):
    """Replace the README's text between the claims markers by :func:`markdown`."""
    text = readme.read_text()
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise SystemExit(f"error: {readme} has no {BEGIN} ... {END} section; add the two markers "
                         "where the claims belong")
    new = pattern.sub(lambda m: f"{BEGIN}\n{markdown(results, level=4)}{END}", text)
    if new != text:
        from emseg.atomic import atomic_path

        with atomic_path(readme) as tmp:
            tmp.write_text(new)


def sync_notebooks():
    """Bring every committed example notebook's prose (its closing claim cell) up to date."""
    import sys

    tools = str(README.parent / "tools")
    if tools not in sys.path:
        sys.path.insert(0, tools)
    import commit_notebook
    import make_notebooks

    problems = []
    for name in make_notebooks.sources():
        try:
            commit_notebook.sync_committed(name)
        except SystemExit as err:  # its command line's way to report a notebook it cannot sync
            problems.append(str(err.code).removeprefix("error: "))
    if problems:
        raise ValueError("; ".join(problems))
