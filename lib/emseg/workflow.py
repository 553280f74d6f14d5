"""The small end-to-end workflow behind ``python -m emseg demo``.

Platelet data (synthetic phantom by default, so it runs offline) -> a short
training of a CPU-sized 2D U-Net -> tiled prediction of the test volume ->
per-class IoU table next to the best per-voxel intensity classifier.

The demo trains a small same-padded 2D U-Net because it learns within a few
hundred iterations on a CPU; the 2D-3D network of the paper needs longer to
get going (see example 2).
"""
import time
from pathlib import Path

from emseg.atomic import atomic_path, write_json

__all__ = ["run_demo"]


def run_demo(*, output="runs/demo", source="phantom", iterations=1000, device=None, progress=True,
             seed=0):
    """Run the demo workflow and write its results to ``output``.

    Parameters
    ----------
    output : str or Path
        Run folder: checkpoints, ``training-curve.png``, ``test-prediction.tif``,
        ``prediction.png``, ``results.md`` and ``results.json``. An earlier demo run
        there is replaced.
    source : {'phantom', 'auto', 'platelet'}
        Where the platelet data come from (see :func:`emseg.data.load_platelet`).
    iterations : int
        Training iterations (1000 take about 2.5 minutes on a 2-core CPU).
    device : str, optional
        Default: CUDA if available, else CPU.
    progress : bool
        Show progress bars.

    Returns
    -------
    dict
        The test-set report of the trained net and of the intensity baseline.
    """
    from emseg.baselines import threshold_baseline
    from emseg.checkpoint import load_model
    from emseg.data import CLASS_NAMES, ORGANELLE_CLASSES, load_platelet_splits, write_volume
    from emseg.device import describe, pick_device
    from emseg.infer import predict
    from emseg.metrics import compare_reports, segmentation_report
    from emseg.plot import plot_history, plot_prediction
    from emseg.train import PRESETS, fit

    out = Path(output)
    dev = pick_device(device)
    t_start = time.perf_counter()
    train, val, test = load_platelet_splits(("train", "eval", "test"), source=source)
    kind = "SYNTHETIC phantom" if train.synthetic else "real platelet SBF-SEM"
    print(f"data: {kind}; train {train.shape}, eval {val.shape}, test {test.shape}")

    model, config = PRESETS["unet2d-cpu"].build(7, seed=seed, iterations=iterations,
                                                eval_every=max(1, iterations // 4))
    print(f"training UNet2D(width=16, same padding) for {iterations} iterations on {describe(dev)}")
    # the demo's folder is the demo's own: a new demo run replaces the previous one
    history = fit(model, train, val, config=config, output_dir=out, overwrite=True, device=dev,
                  progress=progress)
    plot_history(history, out / "training-curve.png", title="2D U-Net (CPU preset)", overwrite=True)

    best = load_model(out / "checkpoints" / "best.pt", device=dev)
    t0 = time.perf_counter()
    pred = predict(best, test.image, window=config.window, output="labels", device=dev,
                   progress=progress)
    seconds = time.perf_counter() - t0
    write_volume(out / "test-prediction.tif", pred, overwrite=True)
    plot_prediction(test.image, test.labels, pred, out / "prediction.png", title="test volume",
                    class_names=CLASS_NAMES, overwrite=True)

    names = list(CLASS_NAMES)
    reports = {
        "2D U-Net (CPU preset)": segmentation_report(test.labels, pred, n_classes=7, class_names=names,
                                                      organelle_classes=ORGANELLE_CLASSES),
        "best intensity classifier (oracle)": segmentation_report(
            test.labels, threshold_baseline(test.image, test.labels, n_classes=7), n_classes=7,
            class_names=names, organelle_classes=ORGANELLE_CLASSES),
    }
    table = compare_reports(reports)
    footer = (f"\nData: {kind} (test volume {test.shape}); device: {describe(dev)}; "
              f"{iterations} training iterations; prediction {test.image.size / seconds:,.0f} voxels/s; "
              f"total {time.perf_counter() - t_start:.0f} s.\n")
    with atomic_path(out / "results.md") as tmp:
        tmp.write_text(table + "\n" + footer)
    summary = {name: {k: r[k] for k in ("miou_all", "miou_organelle", "accuracy", "ari")}
               for name, r in reports.items()}
    summary.update(data=kind, device=describe(dev))
    write_json(out / "results.json", summary)
    print(table)
    print(footer)
    return reports
