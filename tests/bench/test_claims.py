"""The claims benchmark (bench/claims): its rules, its bookkeeping and its report."""
import json
import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench" / "claims"))

import common  # noqa: E402
import report  # noqa: E402

# the claims' modules read EMSEG_CLAIMS_DIR when imported: a test that points it elsewhere
# drops them all from sys.modules before and after, so that no other test sees its folder
CLAIM_MODULES = ("common", "report", "platelet", "ecs", "reisoseg", "tracing", "run", "noise")


def test_plateau_met_when_neither_the_best_nor_the_latest_score_still_rises():
    flat = [(100, 0.2), (200, 0.5), (300, 0.6), (400, 0.605), (500, 0.604)]
    rising = [(100, 0.2), (200, 0.5), (300, 0.6), (400, 0.65), (500, 0.70)]
    assert common.plateau(flat)["met"] and common.plateau(flat)["rise"] == pytest.approx(0.0)
    assert not common.plateau(rising)["met"]
    assert common.plateau(rising)["rise"] == pytest.approx(0.05)  # 0.65 at 400 -> 0.70 at 500
    # a dip at the end is not a rise: the best-so-far score is what counts
    assert common.plateau([(100, 0.5), (200, 0.7), (300, 0.7), (400, 0.7), (500, 0.4)])["met"]
    # order of the points does not matter
    assert common.plateau(list(reversed(rising))) == common.plateau(rising)
    # a curve climbing back after a dip below an early peak is still rising
    back = common.plateau([(100, 0.2), (200, 0.295), (300, 0.25), (400, 0.25), (500, 0.261)])
    assert back["rise"] == pytest.approx(0.0) and back["trend"] == pytest.approx(0.011)
    assert not back["met"]
    assert common.plateau([(100, 0.2), (200, 0.295), (300, 0.25), (400, 0.25), (500, 0.259)])["met"]
    # the level is a mean over each fifth: one low evaluation just before the last fifth
    # (0.78 at 800) does not hold a flat run open
    flat = [(k * 100, v) for k, v in enumerate([.5, .7, .80, .81, .80, .79, .81, .78, .80, .79, .80], 1)]
    out = common.plateau(flat)  # 1,100 iterations: 900-1,100 against 700-800
    assert out["met"] and out["trend"] == pytest.approx((.80 + .79 + .80) / 3 - (.81 + .78) / 2)


def test_plateau_is_not_met_on_a_curve_too_sparse_to_tell():
    out = common.plateau([(1000, 0.9)])
    assert out == {"met": False, "rise": None, "trend": None, "from_iteration": 800,
                   "points": 1}
    assert not common.plateau([(500, 0.2), (1000, 0.9)])["met"]  # one point before the last fifth
    with pytest.raises(ValueError, match="at least one point"):
        common.plateau([])


def test_setting_folders_put_each_setting_before_its_records_and_refuse_strangers():
    settings = ("phantom", "real-geometry")
    parts = {(f, "arm", 0): {} for f in ("real-geometry", "phantom-1000it", "phantom",
                                         "real-geometry-2000it", "phantom-500it")}
    assert common.setting_folders(parts, settings) == [  # records by budget, as numbers
        "phantom", "phantom-500it", "phantom-1000it", "real-geometry", "real-geometry-2000it"]
    assert common.setting_of("real-geometry-2000it", settings) == "real-geometry"
    # below the claim's budget a record, above it a longer budget with verdicts of its own
    assert [common.folder_kind(f, settings, 1000) for f in ("phantom", "phantom-500it",
                                                            "phantom-1000it", "phantom-8000it")] \
        == ["budget", "record", "record", "longer"]
    for bad in ("vnc", "phantom-old", "phantom1000it"):
        with pytest.raises(ValueError, match=f"parts folder '{bad}'"):
            common.setting_of(bad, settings)
    assert common.budget_caption({1: {"iterations": 3000}, 2: {"iterations": 1000},
                                  3: {}}) == "1,000, 3,000 iterations"


def test_device_line_names_each_device_and_the_processors_the_parts_record():
    old = {"device": "cpu (2 threads)"}
    assert common.device_line([old, old]) == "cpu (2 threads)"  # parts from before the record
    new = [{"device": "cpu (2 threads)", "cpu": "AMD EPYC"}, {"device": "NVIDIA H100", "cpu": "Xeon"}]
    assert common.device_line([old, *new, new[0]]) == (
        "NVIDIA H100 / cpu (2 threads); processor: AMD EPYC (2 parts), Xeon (1 part), "
        "not recorded (1 part, before 2026-12-06)")


def test_paired_uses_only_common_seeds_and_a_t_interval():
    from scipy import stats

    a, b = {0: 0.80, 1: 0.70, 2: 0.90, 7: 0.1}, {0: 0.50, 1: 0.60, 2: 0.60, 3: 0.9}
    out = common.paired(a, b)
    d = [0.30, 0.10, 0.30]
    mean, sd = sum(d) / 3, float(__import__("numpy").std(d, ddof=1))
    half = stats.t.ppf(0.975, 2) * sd / math.sqrt(3)
    assert out["n"] == 3 and out["seeds"] == [0, 1, 2] and out["wins"] == 3
    assert out["mean"] == pytest.approx(mean) and out["sd"] == pytest.approx(sd)
    assert out["ci95"] == pytest.approx([mean - half, mean + half])
    assert out["ratio"] == pytest.approx(0.8 / (1.7 / 3))
    assert common.paired({0: 1.0}, {1: 1.0})["mean"] is None
    assert common.paired({0: 1.0}, {0: 0.5})["ci95"] is None


BOTH = {"a": True, "b": True}


@pytest.mark.parametrize("ci, plateaus, n, expected", [
    ([0.02, 0.08], BOTH, 3, "holds"),
    ([-0.08, -0.02], BOTH, 3, "does not hold"),
    ([-0.02, 0.005], BOTH, 3, "does not hold"),  # a gain of the margin is ruled out
    ([-0.02, 0.05], BOTH, 3, "undecided"),
    ([0.02, 0.08], {"a": True, "b": False}, 3, "undecided"),  # an arm still rising
    ([0.02, 0.08], BOTH, 2, "undecided"),  # too few seeds
    ([0.002, 0.008], BOTH, 3, "holds"),  # a real gain, all of it below the margin
    ([0.0, 0.008], BOTH, 3, "does not hold"),  # 0 is in the interval: no gain shown
    ([0.0, 0.05], BOTH, 3, "undecided"),
])
def test_verdict_rule(ci, plateaus, n, expected):
    word, reason = common.verdict({"n": n, "ci95": ci}, margin=0.01, plateaus=plateaus)
    assert word == expected and reason
    if n >= 3:  # every verdict on enough seeds shows its interval, an undecided one too
        assert f"[{ci[0]:+.3f}, {ci[1]:+.3f}]" in reason
    assert ("below the margin" in reason) == (ci == [0.002, 0.008])


IV = "95 % interval of the gain"


@pytest.mark.parametrize("ci, met_a, met_b, n, unlearned, expected, reason", [
    # the claimed arm still rising on the winning side: named, not blocking
    ([0.02, 0.08], False, True, 3, (), "holds",
     f"{IV} [+0.020, +0.080] lies above 0; a was still rising at its end, which points to a "
     "larger gain, not a smaller one"),
    ([0.002, 0.008], False, True, 3, (), "holds",  # a real gain, all of it below the margin
     f"{IV} [+0.002, +0.008] lies above 0, all of it below the margin 0.01; a was still "
     "rising at its end, which points to a larger gain, not a smaller one"),
    ([0.02, 0.08], True, False, 3, (), "undecided",  # the reference could still catch up
     f"the mean validation curve of b had not reached its plateau; {IV} [+0.020, +0.080]"),
    ([0.02, 0.08], False, False, 3, (), "undecided",  # both rising: b blocks, a named too
     f"the mean validation curve of b had not reached its plateau; a was still rising too; "
     f"{IV} [+0.020, +0.080]"),
    ([-0.08, -0.02], True, False, 3, (), "does not hold",  # the reference rising
     f"{IV} [-0.080, -0.020] rules out a gain of 0.01 or more; b was still rising at its "
     "end, which points to a smaller gain, not a larger one"),
    ([0.0, 0.008], True, False, 3, (), "does not hold",  # a positive mean gain, ruled small
     f"{IV} [+0.000, +0.008] rules out a gain of 0.01 or more; b was still rising at its "
     "end, which points to a smaller gain, not a larger one"),
    ([-0.08, -0.02], False, True, 3, (), "undecided",  # the claimed arm could catch up
     f"the mean validation curve of a had not reached its plateau; {IV} [-0.080, -0.020]"),
    ([-0.02, 0.05], False, True, 3, (), "undecided",
     f"the mean validation curve of a had not reached its plateau; {IV} [-0.020, +0.050]"),
    ([-0.02, 0.05], True, True, 3, (), "undecided", f"{IV} [-0.020, +0.050] includes 0 and 0.01"),
    ([0.02, 0.08], False, True, 2, (), "undecided", "2 paired seed(s), fewer than 3"),
    ([0.02, 0.08], False, True, 3, (False, True), "undecided",
     f"a was still rising; 1 of 2 runs left a class unlearned: test IoU below 0.01; "
     f"{IV} [+0.020, +0.080]"),
])
def test_verdict_needs_the_arm_it_is_drawn_against_at_its_plateau(ci, met_a, met_b, n, unlearned,
                                                                  expected, reason):
    plateaus = {"a": met_a, "b": met_b}
    word, why = common.verdict({"n": n, "ci95": ci}, margin=0.01, plateaus=plateaus,
                               unlearned=unlearned, arms=("a", "b"))
    assert (word, why) == (expected, reason)
    # without arms (nets shared by both sides) every arm must be at its plateau
    plain = common.verdict({"n": n, "ci95": ci}, margin=0.01, plateaus=plateaus,
                           unlearned=unlearned)
    assert plain[0] == (expected if met_a and met_b else "undecided")
    with pytest.raises(ValueError, match="must name the arms"):
        common.verdict({"n": n, "ci95": ci}, margin=0.01, plateaus=plateaus, arms=("a", "c"))


def test_compare_decides_when_only_the_leader_still_rises():
    flat = [(i, 0.5) for i in range(100, 1100, 100)]
    rising = [(i, 0.3 + 0.02 * k) for k, i in enumerate(range(100, 1100, 100))]
    good = [0.6, 0.7]
    parts = {("s", "a", k): {"m": 0.7 + 0.01 * k, "iou": good, "curve": rising} for k in range(3)}
    parts.update({("s", "b", k): {"m": 0.4, "iou": good, "curve": flat} for k in range(3)})
    entry = common.compare(parts, "a", "b", "m", margin=0.01, statement="{a}>{b}")
    assert entry["verdict"] == "holds" and "a was still rising" in entry["reason"]
    # the same runs, the arms swapped: "b beats a" is ruled out, since the claimed b is flat
    swapped = common.compare(parts, "b", "a", "m", margin=0.01, statement="{a}>{b}")
    assert swapped["verdict"] == "does not hold" and "a was still rising" in swapped["reason"]
    # a reference still rising keeps "holds" open
    parts.update({("s", "b", k): {"m": 0.4, "iou": good, "curve": rising} for k in range(3)})
    parts.update({("s", "a", k): {"m": 0.7 + 0.01 * k, "iou": good, "curve": flat} for k in range(3)})
    assert common.compare(parts, "a", "b", "m", margin=0.01, statement="{a}>{b}")["verdict"] \
        == "undecided"


def test_a_class_left_unlearned_makes_the_verdict_undecided():
    def part(seed, score, iou):
        return {"miou_organelle": score, "iou": iou, "plateau": {"met": True, "rise": 0.0}}

    good = [0.6, 0.7, 0.5]
    a = {("s", "a", k): part(k, 0.6 + 0.01 * k, good) for k in range(3)}
    b = {("s", "b", k): part(k, 0.4, good) for k in range(3)}
    entry = common.compare({**a, **b}, "a", "b", "miou_organelle", margin=0.01, statement="{a}>{b}")
    assert entry["verdict"] == "holds"
    b[("s", "b", 1)]["iou"] = [0.6, 0.0, 0.5]  # one run of the reference scored 0 on a class
    entry = common.compare({**a, **b}, "a", "b", "miou_organelle", margin=0.01, statement="{a}>{b}")
    assert entry["verdict"] == "undecided" and "1 of 6 runs left a class unlearned" in entry["reason"]
    assert common.unlearned_classes(b[("s", "b", 1)]) == [1]
    b[("s", "b", 2)]["plateau"] = {"met": False, "rise": 0.05}  # both reasons are given
    entry = common.compare({**a, **b}, "a", "b", "miou_organelle", margin=0.01, statement="{a}>{b}")
    assert entry["verdict"] == "undecided"
    assert entry["reason"].startswith("the mean validation curve of b had not reached its plateau; "
                                      "1 of 6 runs left a class unlearned: test IoU below 0.01; "
                                      "95 % interval of the gain [")


def test_an_arm_is_at_its_plateau_when_its_mean_curve_is():
    import numpy as np

    its = list(range(500, 5001, 500))
    rng = np.random.default_rng(3)

    def flat():  # a converged run with the platelet phantom's scatter between evaluations
        return {"curve": [(i, 0.8 + e) for i, e in zip(its, rng.normal(0, 0.025, len(its)))]}

    alone = np.mean([common.plateau(flat()["curve"])["met"] for _ in range(300)])
    arm = np.mean([common.arm_plateau([flat() for _ in range(4)])["met"] for _ in range(300)])
    assert alone < 0.75 and arm > alone + 0.08  # the rule's whole point: seeds average it out
    runs = [flat() for _ in range(4)]
    out = common.arm_plateau(runs)
    assert out["runs"] == 4 and out["runs_met"] == sum(common.plateau(r["curve"])["met"] for r in runs)
    rising = [{"curve": [(i, 0.5 + 0.05 * k + e) for k, (i, e) in
                         enumerate(zip(its, rng.normal(0, 0.01, len(its))))]} for _ in range(4)]
    assert not common.arm_plateau(rising)["met"]
    # a run that falls does not hide one that still finds better weights
    up = {"curve": [(i, 0.8 + (0.06 if i == 5000 else 0.03 if i == 4500 else 0.0)) for i in its]}
    down = {"curve": [(i, 0.8 - (0.06 if i == 5000 else 0.03 if i == 4500 else 0.0)) for i in its]}
    mean = [(i, (a + b) / 2) for (i, a), (_, b) in zip(up["curve"], down["curve"])]
    assert common.plateau(mean)["met"]  # the plain mean curve is flat ...
    masked = common.arm_plateau([up, down])
    assert not masked["met"] and masked["rise"] == pytest.approx(0.03)  # ... its best is not
    # a run evaluated 50 times joins runs evaluated 10 times on their shared evaluations,
    # its best-so-far from all of its own
    dense_its = list(range(100, 5001, 100))
    dense = {"curve": [(i, 0.8 + (0.1 if i == 4700 else 0.0)) for i in dense_its]}
    joined = common.arm_plateau([dense, {"curve": [(i, 0.8) for i in its]}])
    assert joined["rise"] == pytest.approx(0.05) and not joined["met"]  # the peak at 4,700 counts
    assert common.arm_plateau([{"curve": [(i, 0.8) for i in dense_its]},
                               {"curve": [(i, 0.8) for i in its]}])["met"]
    # runs evaluated at other iterations cannot be averaged: every run must meet the rule
    mixed = [{"curve": [(250, 0.5), (500, 0.6), (750, 0.6), (1000, 0.6)]},
             {"curve": [(400, 0.5), (800, 0.6), (1200, 0.6), (1600, 0.7)]}]
    out = common.arm_plateau(mixed)
    assert out["trend"] is None and out["met"] is False and out["runs_met"] == 1
    assert common.plateau_cell(mixed) == "1 of 2; mean: no"
    with pytest.raises(ValueError, match="at least one run"):
        common.arm_plateau([])
    word, why = common.verdict({"n": 3, "ci95": [0.1, 0.2]}, margin=0.01,
                               plateaus={"a": False, "b": False})
    assert word == "undecided" and why.startswith("the mean validation curves of a and of b had "
                                                  "not reached their plateaus")


def test_tracing_counts_failed_traces_at_the_worst_value():
    import tracing

    def part(seed, f1, esa):
        rows = [{"neuron": f"n{k}", "level": 1.0, "method": m, "f1": f1[k], "recall": f1[k],
                 "precision": f1[k], "esa": esa[k], "pds": None if esa[k] is None else 0.2,
                 "trees": 0 if esa[k] is None else 1, "foreground_ratio": 1.0}
                for k in range(2) for m in tracing.METHODS]
        return {"rows": rows, "iterations": 10, "train_seconds": 1.0, "test_seconds": 1.0,
                "device": "cpu", "tuned_threshold": 0.5,
                "plateau": {"met": True, "rise": 0.0}}

    parts = {("real", "voxresnet", s): part(s, [0.8, 0.0], [2.0, None]) for s in range(3)}
    esa = tracing._per_seed(parts, "baseline", 1.0, "esa")
    pds = tracing._per_seed(parts, "baseline", 1.0, "pds")
    assert esa == {s: pytest.approx((2.0 + tracing.DIAGONAL) / 2) for s in range(3)}
    assert pds == {s: pytest.approx(0.6) for s in range(3)}
    summary = tracing.summarise(parts)
    row = next(r for r in summary["tables"][0]["rows"] if r[:2] == ["1x", "baseline"])
    assert row[6] == "3 of 6"  # failed traces reported
    words = {v["statement"]: v["verdict"] for v in summary["verdicts"]}
    # equal arms in every seed: the interval [0, 0] rules out the claimed gain
    assert words["pipeline beats the baseline on F1 at 1x signal"] == "does not hold"
    assert words["pipeline beats the baseline on F1 at 0.5x signal"] == "undecided"  # no data


def test_ecs_claim_runs_resumable_parts_and_reports(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EMSEG_CLAIMS_DIR", str(tmp_path))
    for mod in CLAIM_MODULES:
        sys.modules.pop(mod, None)
    import common as c
    import ecs
    import run
    from emseg.data import ECS_VOXEL_SIZE, ecs_phantom

    assert c.PARTS == tmp_path / "parts"

    def small(setting, shared):
        return tuple(ecs_phantom(shape, seed=k, voxel_size=ECS_VOXEL_SIZE)
                     for k, shape in enumerate([(2, 128, 128), (1, 128, 128), (1, 128, 128)]))

    monkeypatch.setattr(ecs, "data", small)
    monkeypatch.setattr(ecs, "DEFAULT_ITERATIONS", 3)  # a toy budget as the claim's own
    argv = ["ecs", "--settings", "phantom", "--arms", "unet", "shape", "--seeds", "0",
            "--iterations", "3", "--device", "cpu", "--shared", str(tmp_path)]
    assert run.main(argv) == 0
    part = c.part_file("ecs", "phantom", "unet", 0)
    first = json.loads(part.read_text())
    assert first["iterations"] == 3 and 0 <= first["iou"] <= 1
    assert first["cpu"] == c.cpu_model() and first["cpu"]
    assert [p.name for p in sorted(part.parent.iterdir())] == ["shape-seed0.json", "unet-seed0.json"]
    results = json.loads((tmp_path / "results.json").read_text())
    claim = results["claims"]["ecs"]
    assert claim["device"] == f"{first['device']}; processor: {first['cpu']} (2 parts)"
    assert claim["verdicts"] and all(v["verdict"] == "undecided" for v in claim["verdicts"])
    forms = [v for v in claim["verdicts"] if "(contrastive vs contrastive-cosine)" in v["statement"]]
    assert [v["statement"] for v in forms] == [
        f"`phantom`: the InfoNCE form beats the original's cosine form in the one-stage net "
        f"(contrastive vs contrastive-cosine) on test {what}" for what in ("IoU", "AP")]
    assert all(v["reason"].endswith("not run yet: contrastive and contrastive-cosine") for v in forms)
    assert "-cosine = the same with the original's cosine" in claim["tables"][0]["caption"]
    assert "NaN" not in (tmp_path / "results.json").read_text()
    # a finished part is reused, not trained again
    mtime = part.stat().st_mtime_ns
    assert run.main(argv) == 0
    assert part.stat().st_mtime_ns == mtime
    text = report.markdown(results)
    assert "| unet | 1 |" in text and "undecided" in text
    # another budget than the claim's is kept apart, as a record: no verdicts from it; and a
    # report that fails after a part (e.g. a notebook it cannot sync) does not stop the run
    publish, calls = run.publish, []

    def flaky(claims):
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("example4.ipynb: cells differ")
        return publish(claims)

    monkeypatch.setattr(run, "publish", flaky)
    assert run.main(["ecs", "--settings", "phantom", "--arms", "unet", "--seeds", "0", "--iterations",
                     "2", "--device", "cpu", "--shared", str(tmp_path)]) == 0
    record = json.loads(c.part_file("ecs", "phantom-2it", "unet", 0).read_text())
    assert record["iterations"] == 2 and json.loads(part.read_text()) == first
    assert len(calls) == 2 and "warning: the report was not rebuilt (example4.ipynb: cells differ)" \
        in capsys.readouterr().err
    claim = json.loads((tmp_path / "results.json").read_text())["claims"]["ecs"]
    assert [t["caption"].split(" ")[0] for t in claim["tables"]] == ["`phantom`", "`phantom`:", "`phantom-2it`"]
    moved = claim["tables"][1]  # the same seed at the earlier budget and at the claim's
    assert "what the budget changed" in moved["caption"] and [r[:3] for r in moved["rows"]] == [["unet", "2 → 3", "1"]]
    assert not any("2 of" in v["statement"] or "phantom-2it" in v["statement"] for v in claim["verdicts"])
    assert "--settings phantom --arms unet shape --seeds 0" in claim["command"]
    assert claim["tables"][2]["caption"].endswith("(an earlier budget kept as a record; no verdicts)")
    # a longer budget than the claim's (run where its curves still rose) gives verdicts of its own
    assert run.main(["ecs", "--settings", "phantom", "--arms", "unet", "shape", "--seeds", "0",
                     "--iterations", "4", "--device", "cpu", "--shared", str(tmp_path)]) == 0
    claim = json.loads((tmp_path / "results.json").read_text())["claims"]["ecs"]
    assert [t["caption"].split(" ")[0] for t in claim["tables"]] == [
        "`phantom`", "`phantom`:", "`phantom-2it`", "`phantom-4it`"]
    assert claim["tables"][3]["caption"].endswith(
        "(a longer budget than the claim's, run with --iterations 4: verdicts of its own, at this budget)")
    assert [r[:3] for r in claim["tables"][1]["rows"]] == [
        ["unet", "2 → 3", "1"], ["unet", "3 → 4", "1"], ["shape", "3 → 4", "1"], ["shape − unet", "3 → 4", "1"]]
    longer = [v for v in claim["verdicts"] if v["statement"].startswith("`phantom-4it`: ")]
    assert [v["statement"].split(" (")[0] for v in longer[:2]] == [
        "`phantom-4it`: shape beats unet on test IoU", "`phantom-4it`: shape beats unet on test AP"]
    assert all(v["verdict"] == "undecided" for v in longer)  # one seed
    # it speaks only of the arms run at it: shape vs unet, not the steps with other arms
    assert len(longer) == 2 and "no seed has both arms" not in longer[0]["reason"]
    assert claim["budget"].endswith("3 iterations per net (the verdicts); longer, with verdicts of "
                                    "their own: 4 iterations; earlier budgets kept as records: 2 iterations")
    for mod in CLAIM_MODULES:
        sys.modules.pop(mod, None)


def test_run_refuses_an_unknown_arm(capsys):
    import run

    with pytest.raises(SystemExit):
        run.main(["ecs", "--arms", "nope", "--shared", str(ROOT)])
    assert "nope not in" in capsys.readouterr().err


def test_run_reports_a_part_with_an_unknown_preset_as_one_error_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EMSEG_CLAIMS_DIR", str(tmp_path))
    for mod in CLAIM_MODULES:
        sys.modules.pop(mod, None)  # they read EMSEG_CLAIMS_DIR when imported
    import run

    part = json.loads((ROOT / "bench" / "claims" / "parts" / "reisoseg" / "phantom-3000it"
                       / "unet3d-seed0.json").read_text())
    folder = tmp_path / "parts" / "reisoseg" / "phantom-3000it"
    folder.mkdir(parents=True)
    (folder / "unet3d-seed0.json").write_text(json.dumps({**part, "preset": "gone-cpu"}))
    assert run.cli(["--report"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: parts/reisoseg/phantom-3000it/unet3d-seed0.json names the preset 'gone-cpu'")
    assert "run.py reisoseg --settings phantom --arms unet3d --seeds 0 --iterations 3000 --redo" in err
    assert err.count("\n") == 1
    assert not (tmp_path / "results.json").exists()
    for mod in CLAIM_MODULES:
        sys.modules.pop(mod, None)


def test_readme_and_results_json_agree_with_the_committed_parts():
    import run

    fresh = report.summaries(run.claim_modules())  # from the parts, in memory
    stale = "stale: run python bench/claims/run.py --report and commit what it writes"
    text = (ROOT / "README.md").read_text()
    begin, end = text.index(report.BEGIN), text.index(report.END)
    assert text[begin + len(report.BEGIN):end].strip() == report.markdown(fresh, level=4).strip(), \
        f"README's claims section is {stale}"
    assert report.markdown(json.loads(common.RESULTS.read_text())) == report.markdown(fresh), \
        f"results.json is {stale}"


def test_sync_notebooks_turns_a_notebook_it_cannot_sync_into_one_error(monkeypatch):
    sys.path.insert(0, str(ROOT / "tools"))
    import commit_notebook

    monkeypatch.setattr(commit_notebook, "sync_committed",
                        lambda name: sys.exit(f"error: {name}.ipynb: cells differ"))
    with pytest.raises(ValueError, match=r"^example1.ipynb: cells differ; example2.ipynb"):
        report.sync_notebooks()


def test_the_rules_docstring_examples():
    import doctest

    assert doctest.testmod(common).failed == 0


def test_parts_skip_temporary_files_and_resume_only_the_same_budget(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "PARTS", tmp_path)
    folder = tmp_path / "ecs" / "vnc"
    folder.mkdir(parents=True)
    (folder / "unet-seed0.json").write_text('{"iou": 0.5}')
    (folder / ".unet-seed1.json.abc.tmp.json").write_text("{half")  # an interrupted write
    assert common.load_parts("ecs") == {("vnc", "unet", 0): {"iou": 0.5}}
    # the plateau is judged by the rule as it stands, not as it stood when the part ran
    curve = [[100, 0.2], [200, 0.5], [300, 0.6], [400, 0.65], [500, 0.7]]
    (folder / "shape-seed0.json").write_text(json.dumps({"curve": curve, "plateau": {"met": True}}))
    assert common.load_parts("ecs")[("vnc", "shape", 0)]["plateau"] == common.plateau(curve)
    assert not common.plateau(curve)["met"]
    (folder / "shape-seed1.json").write_text("{half")  # a damaged part: named, with what to do
    with pytest.raises(ValueError, match=r"shape-seed1.json cannot be read .*delete it and run the part again"):
        common.load_parts("ecs")

    import torch
    run = tmp_path / "run"
    assert not common.resume_run(run, 100)  # nothing to resume
    (run / "checkpoints").mkdir(parents=True)
    torch.save({"config": {"iterations": 100}}, run / "checkpoints" / "last.pt")
    assert common.resume_run(run, 100)
    assert not common.resume_run(run, 200)  # another budget starts afresh
    assert not common.resume_run(run, 100, redo=True)


def test_platelet_ensemble_waits_for_its_members_then_compares_like_for_like(tmp_path, monkeypatch):
    monkeypatch.setenv("EMSEG_CLAIMS_DIR", str(tmp_path))
    for mod in CLAIM_MODULES:
        sys.modules.pop(mod, None)
    import common as c
    import platelet
    import run
    from emseg.data import platelet_phantom

    from emseg.train import PRESETS, Preset

    volumes = tuple(platelet_phantom(s, seed=k, shape=(8, 64, 64))
                    for k, s in enumerate(("train", "eval", "test")))
    monkeypatch.setattr(platelet, "data", lambda setting, shared: volumes)
    tiny = PRESETS["net2d3d-cpu"]  # the preset's recipe at a test's size
    monkeypatch.setitem(PRESETS, "tiny-net2d3d", Preset("net2d3d", {**tiny.model_kwargs, "width": 2,
                                                                    "pyramid_width": 2},
                                                        tiny.config.replace(window=(5, 32, 32))))
    monkeypatch.setitem(platelet.PRESET_OF, "net2d3d", "tiny-net2d3d")
    monkeypatch.setattr(platelet, "DEFAULT_ITERATIONS", 2)  # a toy budget as the claim's own
    base = ["platelet", "--settings", "phantom", "--device", "cpu", "--shared", str(tmp_path)]
    assert run.main(base + ["--arms", "net2d3d", "ensemble", "--seeds", "0", "1"]) == 0
    assert not c.part_file("platelet", "phantom", "ensemble", 0).exists()  # members 2, 3 missing
    assert run.main(base + ["--arms", "net2d3d", "ensemble", "--seeds", "2", "3"]) == 0
    ens = json.loads(c.part_file("platelet", "phantom", "ensemble", 0).read_text())
    assert [m["seed"] for m in ens["members"]] == [0, 1, 2, 3] and len(ens["slabs"]) == platelet.SLABS
    results = json.loads((tmp_path / "results.json").read_text())
    statements = [v["statement"] for v in results["claims"]["platelet"]["verdicts"]]
    assert any("best single net" in s for s in statements)
    # a member trained again (its stored weights change) makes the ensemble stale until formed again
    import torch
    from emseg.checkpoint import load_model, save_model
    member = load_model(platelet.weights_file("phantom", 1), device="cpu")
    with torch.no_grad():
        next(member.parameters()).add_(1.0)
    save_model(member, platelet.weights_file("phantom", 1), overwrite=True)
    assert run.main(["--report"]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    stale = [v for v in results["claims"]["platelet"]["verdicts"] if "changed since" in v["reason"]]
    assert stale and stale[0]["verdict"] == "undecided"
    # the budget moves on: until the old parts are moved to a record folder they are refused
    monkeypatch.setattr(platelet, "DEFAULT_ITERATIONS", 5)
    with pytest.raises(ValueError, match=r"parts/platelet/phantom/ensemble-seed0.json was trained for "
                                         r"2 iterations, but its folder holds 5-iteration runs: move "
                                         r"it to parts/platelet/phantom-2it/"):
        run.main(["--report"])
    # as a record they stay in the tables, and the setting says what it waits for
    (tmp_path / "parts" / "platelet" / "phantom").rename(tmp_path / "parts" / "platelet" / "phantom-2it")
    assert run.main(["--report"]) == 0
    claim = json.loads((tmp_path / "results.json").read_text())["claims"]["platelet"]
    assert [(v["verdict"], v["statement"]) for v in claim["verdicts"]] == [
        ("undecided", f"`phantom`: no run yet at the budget of {platelet.DEFAULT_ITERATIONS:,} iterations")]
    assert "--settings phantom" in claim["verdicts"][0]["reason"]
    assert claim["tables"][0]["caption"].startswith("`phantom-2it` (2 iterations)")
    assert claim["budget"].endswith("5 iterations per net (the verdicts); earlier budgets kept as "
                                    "records: 2 iterations")
    for mod in CLAIM_MODULES:
        sys.modules.pop(mod, None)


def test_reisoseg_claim_trains_its_three_arms(tmp_path, monkeypatch):
    monkeypatch.setenv("EMSEG_CLAIMS_DIR", str(tmp_path))
    for mod in CLAIM_MODULES:
        sys.modules.pop(mod, None)
    import platelet
    import reisoseg
    import run
    from emseg.data import platelet_phantom
    from emseg.train import PRESETS, Preset

    volumes = tuple(platelet_phantom(s, seed=k, shape=(16, 64, 64))
                    for k, s in enumerate(("train", "eval", "test")))
    monkeypatch.setattr(platelet, "data", lambda setting, shared: volumes)
    for arm, name in (("unet3d", reisoseg.PRESET_OF["unet3d"]), ("reisoseg", reisoseg.PRESET_OF["reisoseg"])):
        preset = PRESETS[name]
        small = {"width": 2, "depth": 2} if arm == "unet3d" else {"features": (2, 2, 4, 4, 8)}
        monkeypatch.setitem(PRESETS, f"tiny-{arm}", Preset(preset.model, {**preset.model_kwargs, **small},
                                                           preset.config.replace(window=(16, 32, 32))))
    monkeypatch.setattr(reisoseg, "PRESET_OF", {"unet3d": "tiny-unet3d", "reisoseg": "tiny-reisoseg",
                                                "reisoseg-alpha1": "tiny-reisoseg"})
    monkeypatch.setattr(reisoseg, "DEFAULT_ITERATIONS", 2)  # a toy budget as the claim's own
    assert run.main(["reisoseg", "--settings", "phantom", "--seeds", "0",
                     "--device", "cpu", "--shared", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "results.json").read_text())["claims"]["reisoseg"]
    assert [r[0] for r in results["tables"][0]["rows"]] == ["unet3d", "reisoseg", "reisoseg-alpha1"]
    alpha1 = json.loads((tmp_path / "parts" / "reisoseg" / "phantom" / "reisoseg-alpha1-seed0.json").read_text())
    assert alpha1["preset"] == "tiny-reisoseg" and len(alpha1["iou"]) == 7 and alpha1["iterations"] == 2
    # the parameters column counts each arm's network, the training-only PI module apart
    header, rows = results["tables"][0]["header"], results["tables"][0]["rows"]
    cells = {r[0]: r[header.index("parameters")] for r in rows}
    tiny_unet = PRESETS["tiny-unet3d"].build_model(n_classes=7)
    tiny_reiso = PRESETS["tiny-reisoseg"].build_model(n_classes=7)
    n_pi = sum(p.numel() for p in tiny_reiso.pi.parameters())
    n_kept = sum(p.numel() for p in tiny_reiso.parameters()) - n_pi
    assert n_pi > 0
    assert cells["unet3d"] == f"{sum(p.numel() for p in tiny_unet.parameters()):,}"
    assert cells["reisoseg"] == cells["reisoseg-alpha1"] == f"{n_kept:,} + {n_pi:,} PI (training only)"
    assert alpha1["parameters"] == [n_kept, n_pi]  # counted on the trained net and kept in the part
    for mod in CLAIM_MODULES:
        sys.modules.pop(mod, None)


def test_reisoseg_claim_compares_networks_of_matched_size_and_names_older_presets():
    for mod in CLAIM_MODULES:
        sys.modules.pop(mod, None)
    import reisoseg

    unet, _ = reisoseg.parameters(reisoseg.PRESET_OF["unet3d"])
    for arm in ("reisoseg", "reisoseg-alpha1"):
        kept, pi = reisoseg.parameters(reisoseg.PRESET_OF[arm])
        assert pi > 0 and abs(kept / unet - 1) < 0.25, (arm, kept, unet)
    now = {("phantom", "reisoseg", 0): {"preset": reisoseg.PRESET_OF["reisoseg"]},
           ("phantom", "unet3d", 0): {"preset": "unet3d-cpu"}}
    assert reisoseg.other_presets(now) == ""
    old = {**now, ("phantom-3000it", "reisoseg", 0): {"preset": "reisoseg-cpu"},
           ("phantom-3000it", "reisoseg-alpha1", 0): {"preset": "reisoseg-cpu"}}
    assert reisoseg.other_presets(old) == "; the records' ReIsoSeg arms used reisoseg-cpu"
    for mod in CLAIM_MODULES:
        sys.modules.pop(mod, None)


def test_budget_table_compares_the_same_seeds_and_presets_only():
    run = lambda v, preset="p": {"preset": preset, "m": v}  # noqa: E731
    parts = {("x", "a", 0): run(0.8), ("x", "a", 1): run(0.9), ("x", "b", 0): run(0.5),
             ("x-3000it", "a", 0): run(0.7), ("x-3000it", "a", 1): run(0.1, "other"),
             ("x-3000it", "a", 2): run(0.6), ("x-3000it", "b", 0): run(0.4, "other")}
    table = common.budget_table(parts, "x", ("x",), ("a", "b"), "m", "m", budget=5000,
                                steps=[("a", "b")])
    # seed 1 of a ran another preset then, seed 2 was not run at 5,000; b's only seed and so
    # the a - b comparison ran another preset then
    assert table["rows"] == [["a", "3,000 → 5,000", "1", "0.700", "0.800", "+0.100"]]
    assert "5,000 iterations" in table["caption"]
    # a longer budget: the change is still the longer budget's score minus the shorter's
    parts[("x-8000it", "a", 0)] = run(0.75)
    table = common.budget_table(parts, "x", ("x",), ("a",), "m", "m", budget=5000)
    assert table["rows"][-1] == ["a", "5,000 → 8,000", "1", "0.800", "0.750", "-0.050"]
    assert common.budget_table({("x", "a", 0): run(0.8)}, "x", ("x",), ("a",), "m", "m",
                               budget=5000) is None


def test_noise_script_measures_scatter_and_pass_rates(capsys):
    import numpy as np

    import noise

    rng = np.random.default_rng(0)
    assert noise.pass_rate(0.0, 1, 20, rng) == 1.0  # a flat, noiseless curve always passes
    # at the platelet phantom's scatter a flat run fails by chance; the mean of 4 seeds less often
    alone = noise.pass_rate(0.025, 1, 600, rng)
    assert 0.45 < alone < 0.8 and noise.pass_rate(0.025, 4, 600, rng) > alone + 0.05
    sigma, n, evaluations = noise.scatter("tracing")
    assert n >= 3 and 0 < sigma < 0.02 and evaluations >= 6
    # the rule's window (the last 40 %) or the second half; one validation grid only, if asked
    assert noise.scatter("tracing", span="half")[1] == n
    assert noise.scatter("tracing", evaluations=evaluations)[1] >= 1
    assert noise.scatter("tracing", evaluations=7) == (None, 0, None)
    with pytest.raises(ValueError, match="span"):
        noise.scatter("tracing", span="all")
    assert noise.main(["--trials", "20"]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("claim")


def test_a_finished_part_of_another_preset_is_not_counted_as_done(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EMSEG_CLAIMS_DIR", str(tmp_path))
    for mod in CLAIM_MODULES:
        sys.modules.pop(mod, None)
    import run

    folder = tmp_path / "parts" / "reisoseg" / "phantom-3000it"
    folder.mkdir(parents=True)
    (folder / "reisoseg-seed0.json").write_text(json.dumps({"preset": "reisoseg-cpu"}))
    assert run.cli(["reisoseg", "--settings", "phantom", "--arms", "reisoseg", "--seeds", "0",
                    "--iterations", "3000", "--shared", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: parts/reisoseg/phantom-3000it/reisoseg-seed0.json was trained "
                          "with the preset 'reisoseg-cpu', but the reisoseg arm now trains "
                          "'reisoseg-matched-cpu'") and err.count("\n") == 1
    assert json.loads((folder / "reisoseg-seed0.json").read_text()) == {"preset": "reisoseg-cpu"}
    for mod in CLAIM_MODULES:
        sys.modules.pop(mod, None)


def _part(score, curve, n_classes=3):
    return {"miou_organelle": score, "iou": [0.9] + [score] * (n_classes - 1), "curve": curve}


def test_a_reference_given_a_longer_budget_can_show_only_that_the_claim_holds():
    flat = [(i, 0.6) for i in range(100, 1001, 100)]
    rising = [(i, 0.3 + i / 2000) for i in range(100, 1001, 100)]
    claimed = {("p", "a", s): _part(0.70 + s / 100, flat) for s in range(3)}

    def entry(ref_scores, ref_curve, extra=()):
        parts = {**claimed, **{("p-1000it", "b", s): _part(v, ref_curve)
                               for s, v in enumerate(ref_scores)}, **dict(extra)}
        return common.longer_reference(parts, "p-1000it", ("p",), "a", "b", "miou_organelle",
                                       margin=0.01, budget=500, what="IoU")

    held = entry([0.60, 0.61, 0.615], flat)
    assert held["verdict"] == "holds" and held["comparison"]["n"] == 3
    assert held["statement"].startswith("`p-1000it`: a at 500 iterations beats b given 1,000 (the "
                                        "reference run longer; per seed its better test score of "
                                        "500 and 1,000) on IoU")
    # the reference's better score of its two budgets counts, seed by seed
    better = entry([0.60, 0.61, 0.615], flat, [(("p", "b", 0), _part(0.69, flat)),
                                               (("p", "b", 1), _part(0.50, flat))])
    assert better["comparison"]["mean"] == pytest.approx(held["comparison"]["mean"] - 0.09 / 3)
    # the run whose score counts is checked for unlearned classes too
    odd = [(("p", "b", 0), {**_part(0.62, flat), "iou": [0.9, 0.62, 0.0]})]
    assert entry([0.60, 0.61, 0.615], flat, [(("p", "b", 0), _part(0.62, flat))])["verdict"] == "holds"
    assert entry([0.60, 0.61, 0.615], flat, odd)["verdict"] == "undecided"
    # the reference beats the claimed arm: not "does not hold", since a had the shorter budget
    lost = entry([0.80, 0.82, 0.81], flat)
    assert lost["verdict"] == "undecided" and "can show only that the claim holds" in lost["reason"]
    assert lost["comparison"]["ci95"][1] < 0
    # the reference must be flat at its longer budget
    rose = entry([0.60, 0.61, 0.615], rising)
    assert rose["verdict"] == "undecided" and "b had not reached its plateau" in rose["reason"]
    # a class left unlearned by the claimed arm or the reference decides nothing
    bad = {**claimed, ("p", "a", 0): {**claimed[("p", "a", 0)], "iou": [0.9, 0.7, 0.0]}}
    parts = {**bad, **{("p-1000it", "b", s): _part(0.6, flat) for s in range(3)}}
    assert common.longer_reference(parts, "p-1000it", ("p",), "a", "b", "miou_organelle", margin=0.01,
                                   budget=500, what="IoU")["verdict"] == "undecided"
    # two seeds are too few; with the claimed arm run at the longer budget too, or in the
    # claim's own or an earlier folder, this comparison is not made
    assert entry([0.6, 0.61, None], flat)["verdict"] == "undecided"
    assert entry([0.6, 0.6, 0.6], flat, [(("p-1000it", "a", 0), _part(0.7, flat))]) is None
    for folder in ("p", "p-200it"):
        assert common.longer_reference({**claimed, (folder, "b", 0): _part(0.6, flat)}, folder, ("p",),
                                       "a", "b", "miou_organelle", margin=0.01, budget=500,
                                       what="IoU") is None


def test_platelet_and_reisoseg_compare_the_claim_budget_with_a_reference_run_longer(monkeypatch):
    for mod in CLAIM_MODULES:
        sys.modules.pop(mod, None)
    import platelet
    import reisoseg

    flat = [(i, 0.6) for i in range(100, 5001, 100)] + [(i, 0.6) for i in range(5100, 8001, 100)]
    names = ["background", "cell", "organelle"]

    def part(arm, seed, score, folder, iterations):
        return {**_part(score, [c for c in flat if c[0] <= iterations]), "arm": arm, "seed": seed,
                "class_names": names, "train_seconds": 1.0, "test_seconds": 1.0, "device": "cpu",
                "iterations": iterations, "slabs": [score] * platelet.SLABS, "parameters": [1000, 0],
                "preset": {**platelet.PRESET_OF, **reisoseg.PRESET_OF}[arm]}

    for module, claimed, reference in ((platelet, "net2d3d", "unet2d"), (reisoseg, "reisoseg", "unet3d")):
        budget = module.DEFAULT_ITERATIONS
        parts = {("phantom", claimed, s): part(claimed, s, 0.8 + s / 100, "phantom", budget) for s in range(3)}
        parts.update({("phantom", reference, s): part(reference, s, 0.6, "phantom", budget) for s in range(3)})
        parts.update({("phantom-8000it", reference, s): part(reference, s, 0.62 + s / 200, "phantom-8000it", 8000)
                      for s in range(3)})
        verdicts = {v["statement"].split(" (mean")[0]: v["verdict"] for v in module.summarise(parts)["verdicts"]}
        assert verdicts[f"`phantom-8000it`: {claimed} at {budget:,} iterations beats {reference} given "
                        f"8,000 (the reference run longer; per seed its better test score of {budget:,} "
                        "and 8,000) on test organelle MIoU"] == "holds"
    for mod in CLAIM_MODULES:
        sys.modules.pop(mod, None)
