import matplotlib
import matplotlib.pyplot as plt
import numpy as np

from emseg.plot import plot_history, plot_prediction


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
