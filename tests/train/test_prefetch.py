"""Tests of emseg.train._prefetch and of the loop's prefetching and channels-last layout."""
import threading
import time

import numpy as np
import pytest
import torch

from emseg.models import UNet2D
from emseg.train import TrainConfig, fit
from emseg.train._prefetch import Prefetcher


def _square(i):
    return i * i


@pytest.mark.parametrize("depth", [0, 1, 3])
def test_batches_come_in_order_and_equal_make(depth):
    with Prefetcher(_square, 2, 9, depth=depth) as batches:
        got = [batches.get(i) for i in range(2, 9)]
    assert [b for b, _ in got] == [i * i for i in range(2, 9)]
    assert all(w >= 0 for _, w in got)


def test_background_thread_makes_ahead_and_stops():
    made = []

    def make(i):
        made.append(i)
        return i

    batches = Prefetcher(make, 0, 100, depth=2)
    time.sleep(0.3)
    assert 2 <= len(made) <= 4  # two in the queue, one waiting to be put (+ one being made)
    assert batches.get(0)[0] == 0
    batches.close()
    assert not any(t.name == "emseg-prefetch" and t.is_alive() for t in threading.enumerate())
    assert len(made) < 100


def test_an_error_in_make_reaches_the_loop_at_its_iteration():
    def make(i):
        if i == 3:
            raise OSError("disk gone")
        return i

    with Prefetcher(make, 0, 10, depth=2) as batches:
        assert [batches.get(i)[0] for i in range(3)] == [0, 1, 2]
        with pytest.raises(OSError, match="disk gone"):
            batches.get(3)


def test_out_of_order_and_bad_depth_are_refused():
    with Prefetcher(_square, 0, 5, depth=0) as batches:
        with pytest.raises(RuntimeError, match="in order"):
            batches.get(1)
    with pytest.raises(ValueError, match="depth"):
        Prefetcher(_square, 0, 5, depth=-1)


def _toy(seed=0):
    rng = np.random.default_rng(seed)
    labels = (rng.random((3, 40, 40)) > 0.5).astype(np.uint8)
    return labels + rng.normal(0, 0.3, labels.shape).astype(np.float32), labels


@pytest.mark.parametrize("layout", [False, True])
def test_prefetching_trains_on_the_same_batches(layout):
    """The loss of every step is the same with and without the background thread;
    history.data_seconds says how long each step waited for its batch."""
    cfg = TrainConfig(iterations=5, window=(32, 32), batch_size=2, eval_every=100,
                      channels_last=layout)
    runs = []
    for prefetch in (0, 2):
        torch.manual_seed(0)
        net = UNet2D(2, width=4, depth=2, padding="same")
        runs.append(fit(net, _toy(), config=cfg.replace(prefetch=prefetch), progress=False))
        assert all(p.is_contiguous() for p in net.parameters())  # the layout is given back
    assert runs[0]["loss"] == runs[1]["loss"]
    for history in runs:
        assert len(history["data_seconds"]) == 5 and min(history["data_seconds"]) >= 0


def test_channels_last_trains_like_the_default_layout():
    cfg = TrainConfig(iterations=4, window=(32, 32), batch_size=2, eval_every=100)
    losses = []
    for layout in (False, True):
        torch.manual_seed(0)
        net = UNet2D(2, width=4, depth=2, padding="same")
        losses.append(fit(net, _toy(), config=cfg.replace(channels_last=layout),
                          progress=False)["loss"])
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-4)


def test_prefetch_setting_is_checked():
    with pytest.raises(ValueError, match="config.prefetch"):
        fit(UNet2D(2, width=4, depth=2, padding="same"), _toy(),
            config=TrainConfig(iterations=1, window=(32, 32), prefetch=-1), progress=False)
