import matplotlib
import matplotlib.pyplot as plt
import numpy as np

import pytest

from emseg.plot import plot_data, plot_history, plot_prediction, plot_probabilities


def test_saving_figures_leaves_pyplot_alone(tmp_path):
    backend = matplotlib.get_backend()
    before = plt.get_fignums()
    history = {"iteration": list(range(1, 21)), "loss": list(np.linspace(3, 1, 20)),
               "val": [{"iteration": 10, "miou_all": 0.3, "miou_organelle": 0.1},
                       {"iteration": 20, "miou_all": 0.5, "miou_organelle": 0.2}]}
    png = plot_history(history, tmp_path / "curve.png")
    vol = np.zeros((3, 8, 8))
    png2 = plot_prediction(vol, vol.astype(int), vol.astype(int), tmp_path / "pred.png")
    assert png.stat().st_size > 1000 and png2.stat().st_size > 1000
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert plt.get_fignums() == before and matplotlib.get_backend() == backend


def test_without_a_path_returns_the_figure():
    fig = plot_history({"iteration": [1, 2], "loss": [2.0, 1.0], "val": []})
    assert len(fig.axes) == 2 and fig.axes[0].get_title().endswith("loss")
    plt.close(fig)


def test_plot_data_and_probabilities(tmp_path):
    from emseg.data import Volume

    rng = np.random.default_rng(0)
    img = rng.normal(size=(4, 16, 16)).astype(np.float32)
    lab = rng.integers(0, 7, size=(4, 16, 16)).astype(np.uint8)
    vols = {"train": Volume(img, lab, np.abs(img), source="phantom"), "test": Volume(img, lab)}
    fig = plot_data(vols, title="Data")
    assert len(fig.axes) == 7  # 2 rows x 3 panels + the weights colourbar
    assert fig.axes[0].get_title().startswith("synthetic train image, z=2")
    plt.close(fig)
    probs = rng.dirichlet(np.ones(7), size=(4, 16, 16)).transpose(3, 0, 1, 2)
    png = plot_probabilities(probs, tmp_path / "p.png", class_names=[f"c{i}" for i in range(7)])
    assert png.read_bytes()[:4] == b"\x89PNG"
    fig = plot_probabilities(probs, z=1)
    assert [ax.get_title() for ax in fig.axes[:7]] == [f"class {i}" for i in range(7)]
    assert fig.axes[0].images[0].get_array().shape == (16, 16)
    plt.close(fig)
    with pytest.raises(ValueError, match="C, z, y, x"):
        plot_probabilities(probs[0])
    with pytest.raises(ValueError, match="non-empty"):
        plot_data({})


def _text_boxes(fig):
    """Window extents of the figure's titles, axis labels and legends (drawn first)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts = [t for t in [fig._suptitle] if t is not None and t.get_text()]
    for ax in fig.axes:
        labels = (ax.xaxis.label, ax.yaxis.label) if ax.axison else ()
        texts += [t for t in (ax.title, *labels) if t.get_text()]
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in texts]
    boxes += [("legend", leg.get_window_extent(renderer)) for leg in fig.legends]
    return boxes


def _overlaps(fig):
    boxes = _text_boxes(fig)
    return [(a, b) for i, (a, ba) in enumerate(boxes) for b, bb in boxes[i + 1:]
            if ba.overlaps(bb)]


def test_figures_have_their_title_a_legend_and_no_overlapping_text():
    from emseg.data import CLASS_NAMES, Volume

    rng = np.random.default_rng(0)
    img = rng.normal(size=(4, 32, 32)).astype(np.float32)
    lab = rng.integers(0, 7, size=(4, 32, 32)).astype(np.uint8)
    history = {"iteration": list(range(1, 21)), "loss": list(np.linspace(3, 1, 20)),
               "val": [{"iteration": 20, "miou_all": 0.5, "miou_organelle": 0.2}]}
    probs = rng.dirichlet(np.ones(7), size=(4, 32, 32)).transpose(3, 0, 1, 2)
    figures = {
        "prediction": plot_prediction(img, lab, lab, class_names=CLASS_NAMES,
                                      title="2D-3D net: test volume (synthetic platelet phantom)"),
        "data": plot_data({"train": Volume(img, lab, np.abs(img)), "test": Volume(img, lab)},
                          class_names=CLASS_NAMES, title="Platelet data"),
        "history": plot_history(history, title="2D-3D net training on synthetic data (CPU)"),
        "probabilities": plot_probabilities(probs, class_names=CLASS_NAMES, title="Ensemble"),
    }
    for name, fig in figures.items():
        assert fig._suptitle is not None and fig._suptitle.get_text(), name
        assert _overlaps(fig) == [], name
        plt.close(fig)
    for name in ("prediction", "data"):  # label maps carry a legend naming every class
        fig = {"prediction": plot_prediction, "data": plot_data}[name](
            *((img, lab, lab) if name == "prediction" else ({"x": Volume(img, lab)},)),
            class_names=CLASS_NAMES)
        legend = fig.legends[0]
        assert [t.get_text() for t in legend.get_texts()] == list(CLASS_NAMES)
        plt.close(fig)


def test_one_colour_per_class_in_every_label_figure():
    from emseg.plot import label_colours, label_colormap

    assert label_colours(2) == label_colours(7)[:2]  # a class keeps its colour
    assert len(set(label_colours(7))) == 7
    cmap = label_colormap(7)
    fig = plot_prediction(np.zeros((1, 8, 8)), np.full((1, 8, 8), 3), np.full((1, 8, 8), 3))
    image = fig.axes[1].images[0]
    assert image.cmap.colors == cmap.colors
    assert tuple(image.get_clim()) == (-0.5, 6.5)
    plt.close(fig)
    with pytest.raises(ValueError, match="2 names for 7 classes"):
        plot_prediction(np.zeros((1, 8, 8)), None, np.zeros((1, 8, 8), int), class_names=["a", "b"])


def test_ecs_and_tracing_figures_have_no_overlapping_text():
    from emseg.ecs import plot_ecs, plot_ecs_prediction, plot_weight_map
    from emseg.tracing import SwcTree
    from emseg.tracing.plot import plot_quality_vs_signal, plot_trace_mip

    rng = np.random.default_rng(0)
    mask = np.zeros((2, 64, 64), bool)
    mask[:, 20:23, :] = True
    mask[:, :, 40:42] = True
    image = rng.normal(size=mask.shape).astype(np.float32)
    prob = np.clip(mask + 0.2 * rng.normal(size=mask.shape), 0, 1).astype(np.float32)
    tree = SwcTree.from_nodes([[1, 1, 5.0, 5.0, 2.0, 2, -1], [2, 3, 30.0, 30.0, 4.0, 1, 1]])
    rows = [{"method": m, "intensity": i, "f1": 0.5, "esa": 1.0, "pds": 0.1}
            for m in ("a", "b") for i in (1.0, 0.5)]
    figures = {
        "ecs": plot_ecs(mask, voxel_size=(50.0, 9.0, 9.0), image=image, title="ECS measures"),
        "weights": plot_weight_map(image[0], mask[0], title="Shape-aware weight map"),
        "prediction": plot_ecs_prediction(image, mask, prob, title="ECS-Net on a test section"),
        "mip": plot_trace_mip(image, {"truth": tree}, title="Test neuron 0"),
        "signal": plot_quality_vs_signal(rows, title="Tracing quality"),
    }
    for name, fig in figures.items():
        assert _overlaps(fig) == [], name
        plt.close(fig)
    legend = figures["prediction"].legends[0]
    assert "missed ECS (false negative)" in [t.get_text() for t in legend.get_texts()]
