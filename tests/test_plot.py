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
