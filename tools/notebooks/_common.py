"""Cells shared by several example notebooks."""

ABOUT = ("md", r"""
> **About the outputs stored in this notebook.** Every executed copy of this notebook ends
> with *About this run*, written by the run itself from its own values: the data it used
> (real, or the library's synthetic stand-in when the data host cannot be reached), the
> setting (the notebook's full one, or a reduced quick one), the device and the run time.
> Read the numbers with it; the final table states the data and device too.
""")


def own_volume_cells(*, section, nets_phrase, predict_call, cli_model):
    """'Segment your own volume': prose and one cell that predicts ``my_volume`` when set.

    ``predict_call`` is the code computing ``mine_probs`` from ``mine`` (z-scored).
    """
    return [("md", rf"""
## {section}. Segment your own volume

Set `my_volume` in the parameters cell to the path of your own EM volume (a TIFF stack, or
a folder of TIFF/PNG slices) and run the notebook again, or just this cell: it segments
the volume with {nets_phrase}, writes the labels to `my-volume-labels.tif` in `output_dir`
and shows the middle slice. The nets learnt 7 platelet classes at about 40×10×10 nm voxels
(z, y, x): resample other data to about that voxel size first, and expect sensible results
only on platelet-like SBF-SEM.

The same from a terminal:
`python -m emseg predict --model {cli_model} --input MY.tif --output MY-labels.tif`.
To train a net on your own labelled volumes, start from a template
(`python -m emseg template unet2d --output my.toml`; the docs page *Templates* explains
the folder layout).
"""), ("code", rf"""
if my_volume is None:
    print("my_volume is None: set it to your volume's path (a TIFF stack or a folder of slices)")
else:
    mine = zscore(read_volume(my_volume))
    {predict_call}
    mine_labels = mine_probs.argmax(0).astype(np.uint8)
    write_volume(out / "my-volume-labels.tif", mine_labels, overwrite=True)
    print(f"{{my_volume}}: {{mine.shape}} -> {{out / 'my-volume-labels.tif'}}")
    fig = plot_prediction(mine, None, mine_labels, class_names=CLASS_NAMES,
                          title=f"Your volume: {{Path(my_volume).name}}")
    plt.show()
""")]


def claim_cell(name, *, what, only=None):
    """The closing cell on a paper's claim: its verdicts as the claims benchmark measured
    them (``bench/claims/results.json``, several seeds, runs at their plateau), so that the
    notebook's single run is read next to them. ``what`` names the claim in prose; ``only``
    keeps the verdicts whose statement contains it (e.g. ``"IoU"``)."""
    import json
    from pathlib import Path

    results = Path(__file__).resolve().parents[2] / "bench" / "claims" / "results.json"
    claim = json.loads(results.read_text(encoding="utf-8"))["claims"].get(name) \
        if results.is_file() else None
    head = (f"## The claim across seeds\n\nThis notebook is one run with one seed: on its own "
            f"it cannot support or refute {what}. The repository's claims benchmark "
            f"(`bench/claims`; the docs site's *Results* page has its full tables) compares the "
            f"arms on the same seeds and test volumes and gives a verdict only where at least "
            f"three seeds were run and every run reached its plateau; otherwise it says "
            f"*undecided* and why.\n\n")
    if claim is None:
        return ("md", head + "**Not measured yet** by those rules: no verdict, and this "
                "notebook's comparison decides nothing.\n")
    lines = [f"- **{v['verdict']}**: {v['statement']} ({v['reason']})." for v in claim["verdicts"]
             if only is None or only in v["statement"]]
    if not lines:
        lines = ["- no verdict yet: the runs so far are listed on the *Results* page."]
    return ("md", head + f"Measured so far: {claim['setting']}; {claim['budget']}; "
            f"{claim['device']}.\n\n" + "\n".join(lines) + "\n")
