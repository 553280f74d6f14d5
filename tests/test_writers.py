"""Every library writer refuses to replace an existing file unless ``overwrite=True``
(nothing a user made is replaced by a default call), and replaces it when asked."""
import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")


def _history():
    return {"iteration": [1, 2, 3], "loss": [3.0, 2.0, 1.0],
            "val": [{"iteration": 3, "miou_all": 0.5, "miou_organelle": 0.2}]}


def _ecs_stats():
    from emseg.ecs import quantify_ecs

    mask = np.zeros((2, 32, 32), bool)
    mask[:, 10:12, :] = True
    return quantify_ecs(mask, voxel_size=(50.0, 9.0, 9.0))


def _swc_tree():
    from emseg.tracing import SwcTree

    return SwcTree.from_nodes([[1, 1, 0.5, 0, 0, 2, -1], [2, 3, 1.25, 0, 0, 1, 1]])


def _model():
    from emseg.models import UNet2D

    return UNet2D(n_classes=2, width=2, depth=1)


def _writers():
    """(name, file name, write(path, overwrite)) for every public writer of a file."""
    from emseg import plot, report
    from emseg.checkpoint import save_model
    from emseg.data import write_volume
    from emseg.ecs import plot_ecs, plot_ecs_prediction, plot_weight_map, write_ecs_csv
    from emseg.tracing import write_swc
    from emseg.tracing.plot import plot_quality_vs_signal, plot_trace_mip, plot_tree_3d

    vol = np.zeros((3, 16, 16), np.uint8)
    vol[:, 4:8, 4:8] = 1
    img = np.random.default_rng(0).random((3, 16, 16)).astype(np.float32)
    probs = np.stack([1 - img, img])
    rows = [{"method": "a", "intensity": 1.0, "f1": 0.5, "esa": 1.0, "pds": 0.1}]
    mask2d = np.zeros((32, 32), bool)
    mask2d[10:12] = True
    return [
        ("write_volume", "v.tif", lambda p, o: write_volume(p, vol, overwrite=o)),
        ("write_swc", "t.swc", lambda p, o: write_swc(p, _swc_tree(), overwrite=o)),
        ("write_ecs_csv", "e.csv", lambda p, o: write_ecs_csv(p, _ecs_stats(), overwrite=o)),
        ("save_results", "r.json", lambda p, o: report.save_results(
            p, reports={}, data="synthetic", device="CPU", seconds=1.0, overwrite=o)),
        ("save_model", "m.pt", lambda p, o: save_model(_model(), p, overwrite=o)),
        ("plot_history", "h.png", lambda p, o: plot.plot_history(_history(), p, overwrite=o)),
        ("plot_prediction", "p.png", lambda p, o: plot.plot_prediction(
            img, vol, vol, p, n_classes=2, overwrite=o)),
        ("plot_data", "d.png", lambda p, o: plot.plot_data(
            {"x": _volume(img, vol)}, p, n_classes=2, overwrite=o)),
        ("plot_probabilities", "q.png", lambda p, o: plot.plot_probabilities(probs, p, overwrite=o)),
        ("plot_ecs", "ecs.png", lambda p, o: plot_ecs(
            mask2d[None].repeat(2, 0), p, voxel_size=(50.0, 9.0, 9.0), overwrite=o)),
        ("plot_weight_map", "w.png", lambda p, o: plot_weight_map(
            mask2d.astype(np.float32), mask2d, p, overwrite=o)),
        ("plot_ecs_prediction", "ep.png", lambda p, o: plot_ecs_prediction(
            img, vol.astype(bool), img, p, overwrite=o)),
        ("plot_trace_mip", "mip.png", lambda p, o: plot_trace_mip(img, {"t": _swc_tree()}, p,
                                                                  overwrite=o)),
        ("plot_tree_3d", "t3.png", lambda p, o: plot_tree_3d({"t": _swc_tree()}, p, overwrite=o)),
        ("plot_quality_vs_signal", "qs.png", lambda p, o: plot_quality_vs_signal(rows, p,
                                                                                  overwrite=o)),
    ]


def _volume(image, labels):
    from emseg.data import Volume

    return Volume(image, labels)


@pytest.mark.parametrize("name", [w[0] for w in _writers()])
def test_writer_refuses_an_existing_file_unless_asked(tmp_path, name):
    _, filename, write = next(w for w in _writers() if w[0] == name)
    path = tmp_path / filename
    path.write_bytes(b"made by the user")
    with pytest.raises(ValueError, match="exists; pass overwrite=True"):
        write(path, False)
    assert path.read_bytes() == b"made by the user"
    assert sorted(p.name for p in tmp_path.iterdir()) == [filename]  # no temporaries left
    write(path, True)
    assert path.read_bytes() != b"made by the user" and path.stat().st_size > 0


def test_ecs_write_results_refuses_before_writing_either_file(tmp_path):
    from emseg.ecs import write_results

    prob = np.random.default_rng(0).random((2, 8, 8)).astype(np.float32)
    (tmp_path / "x_labels.tif").write_bytes(b"mine")
    with pytest.raises(ValueError, match="x_labels.tif exists"):
        write_results(tmp_path, prob, name="x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x_labels.tif"]
    paths = write_results(tmp_path, prob, name="x", overwrite=True)
    assert paths["labels"].read_bytes() != b"mine" and paths["probability"].is_file()
