"""Result tables and files shared by the notebooks and the command line.

Every example ends with the same kind of record: what was measured (segmentation
reports), on which data (real or synthetic), on which device and in how long.
:func:`save_results` writes it as JSON next to the run's other outputs;
:func:`load_results` reads it back (example 3 compares itself with example 2 this
way); :func:`markdown_table` renders small tables for the notebooks,
:func:`format_report` one :func:`emseg.metrics.segmentation_report` as Markdown tables
and :func:`compare_reports` several side by side, and :func:`about_run` the note on how
a run's outputs were made, from the run's own values.

The reports are plain dicts: this module reads their keys and imports nothing from
:mod:`emseg.metrics` (a helper, it sits below it).
"""
import json
import math
from pathlib import Path

import numpy as np

from emseg.atomic import check_output, write_json

__all__ = ["format_value", "markdown_table", "format_report", "compare_reports", "save_results",
           "load_results", "format_seconds", "about_run"]


def format_value(value, digits=4):
    """A table cell's text: floats with ``digits`` decimals, None and NaN as "—".

    Examples
    --------
    >>> format_value(0.5, 3), format_value(float("nan")), format_value(None), format_value(3)
    ('0.500', '—', '—', '3')
    """
    if isinstance(value, (float, np.floating)):
        return "—" if math.isnan(value) else f"{value:.{digits}f}"
    return "—" if value is None else str(value)


def markdown_table(header, rows, *, digits=4):
    """A Markdown table; floats get ``digits`` decimals, None and NaN show as "—".

    Examples
    --------
    >>> print(markdown_table(["net", "MIoU"], [["a", 0.5], ["b", None]]))
    | net | MIoU |
    |---|---|
    | a | 0.5000 |
    | b | — |
    """
    header = [str(h) for h in header]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        row = list(row)
        if len(row) != len(header):
            raise ValueError(f"row {row!r} has {len(row)} cells, the header {len(header)}")
        lines.append("| " + " | ".join(format_value(v, digits) for v in row) + " |")
    return "\n".join(lines)


def _fmt(value, digits=4):
    """A score with ``digits`` decimals; None or NaN as an em dash (unlike
    :func:`format_value`, an int gets decimals too: a score cell is always a score)."""
    if value is None or math.isnan(value):
        return "—"
    return f"{value:.{digits}f}"


def _organelle_label(report):
    """The label of the organelle MIoU row, with the classes it averages when known."""
    classes = report.get("organelle_classes")
    return "MIoU (organelles)" if not classes else \
        f"MIoU (organelles: {', '.join(str(c) for c in classes)})"


def format_report(report, *, title=None):
    """Render a :func:`emseg.metrics.segmentation_report` as Markdown tables.

    Parameters
    ----------
    report : dict
        Output of :func:`emseg.metrics.segmentation_report`.
    title : str, optional
        Printed as a ``###`` heading above the tables.

    Returns
    -------
    str
        A per-class table (name, true voxels, IoU, Dice) and a summary table
        (MIoU over all classes, MIoU over organelles, accuracy, ARI). Scores
        have 4 decimals; undefined ones show as "—".

    Examples
    --------
    >>> import numpy as np
    >>> from emseg.metrics import segmentation_report
    >>> from emseg.report import format_report
    >>> r = segmentation_report(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]),
    ...                         n_classes=3, class_names=["bg", "cell", "mito"])
    >>> print(format_report(r, title="toy"))
    ### toy
    <BLANKLINE>
    | Class | Voxels | IoU | Dice |
    |---|---:|---:|---:|
    | bg | 2 | 0.5000 | 0.6667 |
    | cell | 2 | 0.6667 | 0.8000 |
    | mito | 0 | — | — |
    <BLANKLINE>
    | Metric | Value |
    |---|---:|
    | MIoU (all classes) | 0.5833 |
    | MIoU (organelles) | — |
    | Accuracy | 0.7500 |
    | ARI | 0.0000 |
    """
    lines = [f"### {title}", ""] if title else []
    lines += ["| Class | Voxels | IoU | Dice |", "|---|---:|---:|---:|"]
    for name, voxels, iou, dice in zip(report["class_names"], report["voxels"],
                                       report["iou"], report["dice"]):
        lines.append(f"| {name} | {voxels:,} | {_fmt(iou)} | {_fmt(dice)} |")
    lines += ["", "| Metric | Value |", "|---|---:|",
              f"| MIoU (all classes) | {_fmt(report['miou_all'])} |",
              f"| {_organelle_label(report)} | {_fmt(report['miou_organelle'])} |",
              f"| Accuracy | {_fmt(report['accuracy'])} |",
              f"| ARI | {_fmt(report['ari'])} |"]
    return "\n".join(lines)


def compare_reports(reports):
    """Markdown table comparing several models, one column per model.

    Parameters
    ----------
    reports : dict of str to dict
        Model name to its :func:`emseg.metrics.segmentation_report`; all must share the
        same class names.

    Returns
    -------
    str
        Rows: IoU of each class, MIoU (all classes), MIoU (organelles),
        accuracy and ARI; 4 decimals, "—" where undefined.

    Examples
    --------
    >>> import numpy as np
    >>> from emseg.metrics import segmentation_report
    >>> from emseg.report import compare_reports
    >>> true = np.array([0, 0, 1, 1])
    >>> a = segmentation_report(true, np.array([0, 0, 1, 1]), n_classes=2)
    >>> b = segmentation_report(true, np.array([0, 1, 1, 1]), n_classes=2)
    >>> print(compare_reports({"unet": a, "2d3d": b}))
    | Metric | unet | 2d3d |
    |---|---:|---:|
    | IoU class 0 | 1.0000 | 0.5000 |
    | IoU class 1 | 1.0000 | 0.6667 |
    | MIoU (all classes) | 1.0000 | 0.5833 |
    | MIoU (organelles) | — | — |
    | Accuracy | 1.0000 | 0.7500 |
    | ARI | 1.0000 | 0.0000 |
    """
    if not isinstance(reports, dict) or not reports:
        raise ValueError("reports must be a non-empty dict of model name -> segmentation_report()")
    first = next(iter(reports.values()))
    for name, report in reports.items():
        for key in ("class_names", "organelle_classes"):
            if report.get(key) != first.get(key):
                raise ValueError(f"report {name!r} has {key} {report.get(key)}, expected "
                                 f"{first.get(key)}; compare reports made with the same classes")
    rows = [(f"IoU {cname}", [r["iou"][k] for r in reports.values()])
            for k, cname in enumerate(first["class_names"])]
    rows += [("MIoU (all classes)", [r["miou_all"] for r in reports.values()]),
             (_organelle_label(first), [r["miou_organelle"] for r in reports.values()]),
             ("Accuracy", [r["accuracy"] for r in reports.values()]),
             ("ARI", [r["ari"] for r in reports.values()])]
    lines = ["| Metric | " + " | ".join(reports) + " |",
             "|---|" + "---:|" * len(reports)]
    lines += [f"| {label} | " + " | ".join(_fmt(v) for v in values) + " |"
              for label, values in rows]
    return "\n".join(lines)


def save_results(path, *, reports, data, device, seconds, overwrite=False, **extra):
    """Write a run's results as JSON, atomically; returns the path.

    Parameters
    ----------
    path : str or Path
        The JSON file.
    reports : dict of str to dict
        Model name to :func:`emseg.metrics.segmentation_report`.
    data : str
        The data source in words, e.g. ``"real platelet SBF-SEM"`` or
        ``"synthetic platelet phantom"``.
    device : str
        The device in words (:func:`emseg.device.describe`).
    seconds : float
        Run time.
    overwrite : bool
        Replace an existing file (by default an existing file is refused:
        nothing you made is replaced unless you ask).
    **extra
        Anything else worth keeping (iterations, window, ...); JSON-able values.
    """
    check_output(path, overwrite=overwrite)
    record = {"data": data, "device": device, "seconds": round(float(seconds), 1),
              "reports": reports, **extra}
    return write_json(path, record)


def load_results(path):
    """Read a file written by :func:`save_results`; None when it does not exist."""
    path = Path(path)
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def format_seconds(seconds):
    """A duration in words: ``'45 s'``, ``'17 min'``, ``'2 h 05 min'``.

    Examples
    --------
    >>> format_seconds(44.6), format_seconds(1015), format_seconds(7500)
    ('45 s', '17 min', '2 h 05 min')
    """
    seconds = float(seconds)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"seconds must be a finite number >= 0, got {seconds}")
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def about_run(*, data, synthetic, device, seconds, work, reduced=(), precision=None):
    """The note on how a run's outputs were made, written from the run's own values.

    Every example notebook ends with it, so each executed copy (the committed one, a
    quick CI run, your own run on real data and a GPU) says truthfully where its numbers
    come from.

    Parameters
    ----------
    data : str
        The data in words, e.g. ``"synthetic platelet phantom"``.
    synthetic : bool
        Whether the data are synthetic (the note then says so plainly).
    device : str
        The device in words (:func:`emseg.device.describe`).
    seconds : float
        The run's wall time.
    work : sequence of str
        What the run did, one phrase each (``"trained the 2D-3D net (preset 'cpu') for
        1,000 iterations"``).
    reduced : sequence of str
        How this run's setting is smaller than the notebook's full one (``"20 iterations
        instead of the preset's 1,000"``); empty for a full run.
    precision : str, optional
        The arithmetic of the run in words (``"training bfloat16, prediction bfloat16"``;
        the training one from the checkpoint, the prediction one from
        :func:`emseg.device.inference_precision`).

    Returns
    -------
    str
        Markdown (a block quote).

    Examples
    --------
    >>> print(about_run(data="real platelet SBF-SEM", synthetic=False, device="cpu (2 threads)",
    ...                 seconds=1015, work=["segmented the test volume"]))
    > **About this run.** Data: **real platelet SBF-SEM**. Work: segmented the test volume. Device: cpu (2 threads). Run time: 17 min. Setting: the notebook's full setting.
    """
    if isinstance(work, str) or isinstance(reduced, str):
        raise TypeError("work and reduced are sequences of phrases, not one string")
    parts = [f"> **About this run.** Data: **{data}**"
             + (" — every number here is measured on synthetic data, not on real images."
                if synthetic else ".")]
    if work:
        parts.append(f"Work: {'; '.join(work)}.")
    parts.append(f"Device: {device}." + (f" Precision: {precision}." if precision else "")
                 + f" Run time: {format_seconds(seconds)}.")
    if reduced:
        parts.append(f"Setting: **a reduced (quick) setting** — {'; '.join(reduced)}. Its "
                     "numbers show that the code runs, not how well the method works.")
    else:
        parts.append("Setting: the notebook's full setting.")
    return " ".join(parts)
