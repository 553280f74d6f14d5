"""Tests of emseg.blockwise: blockwise prediction equals the in-memory one; inputs; resume."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tifffile
import torch

zarr = pytest.importorskip("zarr")
distributed = pytest.importorskip("distributed")

from emseg.blockwise import BlockPlan, open_volume, predict_large, volume_statistics  # noqa: E402
from emseg.checkpoint import save_model  # noqa: E402
from emseg.data import zscore  # noqa: E402
from emseg.infer import predict  # noqa: E402
from emseg.models import Net2D3D, UNet2D, UNet3D, window_geometry  # noqa: E402


@pytest.fixture(scope="module")
def client():
    """An in-process dask cluster (threads): quick to start; the code path is the same."""
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2,
                            dashboard_address=None) as c:
        yield c


def volume(shape, seed=0):
    return (np.random.default_rng(seed).random(shape) * 200 + 20).astype(np.uint8)


def unet(seed=0):
    torch.manual_seed(seed)
    return UNet2D(3, width=4, depth=2, padding="same").eval()


def read(target, name="probabilities"):
    return zarr.open_group(str(target), mode="r")[name][...]


# --------------------------------------------------------------------------- equality

@pytest.mark.parametrize("overlap, block", [(0.25, (2, 24, 48)), (0.5, (3, 32, 16)), (0.0, (6, 64, 32))])
def test_equals_in_memory_prediction_2d_net(tmp_path, client, overlap, block):
    net, vol = unet(), volume((6, 70, 90))
    ref = predict(net, zscore(vol), window=(32, 32), overlap=overlap, progress=False)
    info = predict_large(net, vol, tmp_path / "p.zarr", window=(32, 32), overlap=overlap,
                         block_size=block, client=client, progress=False)
    out = read(tmp_path / "p.zarr")
    assert info["blocks"] > 4 and info["predicted"] == info["blocks"]
    assert out.shape == ref.shape and out.dtype == np.float32
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-5)


def test_equals_in_memory_prediction_valid_3d_net(tmp_path, client):
    """A valid-padded 2D-3D net (input window larger than its output, offset 2): the halo
    must hold each window's whole input."""
    torch.manual_seed(1)
    net = Net2D3D(4, width=4, pyramid_width=4, faithful=True).eval()
    window = (5, 36, 36)
    geom = window_geometry(net, window)
    assert geom.input != geom.output  # the case this test is about
    vol = volume((13, 61, 75), seed=3)
    ref = predict(net, zscore(vol), window=window, overlap=(0.4, 0.25, 0.5), progress=False)
    info = predict_large(net, vol, tmp_path / "p.zarr", window=window, overlap=(0.4, 0.25, 0.5),
                         block_size=(3, 24, 16), client=client, progress=False)
    assert info["blocks"] >= 5 * 3 * 5
    np.testing.assert_allclose(read(tmp_path / "p.zarr"), ref, rtol=0, atol=1e-5)


def test_labels_uint8_and_2d_image(tmp_path, client):
    net, img = unet(2), volume((50, 77), seed=5)
    ref = predict(net, zscore(img), window=(32, 32), progress=False)
    predict_large(net, img, tmp_path / "l.zarr", window=(32, 32), output="labels",
                  block_size=(1, 24, 24), client=client, progress=False)
    labels = read(tmp_path / "l.zarr", "labels")
    assert labels.shape == img.shape and labels.dtype == np.uint8
    top2 = np.sort(ref, axis=0)
    clear = (top2[-1] - top2[-2]) > 1e-4  # ties could flip on round-off
    assert clear.mean() > 0.9
    np.testing.assert_array_equal(labels[clear], ref.argmax(0)[clear])
    predict_large(net, img, tmp_path / "q.zarr", window=(32, 32), dtype="uint8",
                  block_size=(1, 24, 24), client=client, progress=False)
    q = read(tmp_path / "q.zarr")
    assert q.dtype == np.uint8 and q.shape == ref.shape
    assert np.abs(q / 255.0 - ref).max() <= 0.5 / 255 + 1e-6


def test_ensemble_on_a_cluster_given_by_its_scheduler_address(tmp_path):
    """A list of nets is an ensemble (mean of probabilities), as predict_ensemble; the
    cluster is reached through its address, as with --scheduler."""
    from emseg.infer import predict_ensemble

    nets, vol = [unet(0), unet(1)], volume((3, 50, 60), seed=2)
    ref = predict_ensemble(nets, zscore(vol), window=(32, 32), progress=False)
    with distributed.LocalCluster(processes=False, n_workers=1, threads_per_worker=1,
                                  dashboard_address=":0") as cluster:
        info = predict_large(nets, vol, tmp_path / "e.zarr", window=(32, 32), block_size=(1, 24, 24),
                             scheduler=cluster.scheduler_address, progress=False)
        assert info["workers"] == 1 and info["blocks"] == 3 * 3 * 3
    np.testing.assert_allclose(read(tmp_path / "e.zarr"), ref, atol=1e-5)


def scaled_unet2d(scale=(1, 2, 2), seed=0):
    torch.manual_seed(seed)
    net = UNet2D(2, width=4, depth=2, padding="same").eval()
    net.working_scale = scale
    return net


@pytest.mark.parametrize("case", ["2d net, scale (1, 2, 2)", "3d net, scale (2, 2, 2)"])
def test_equals_in_memory_prediction_at_a_working_scale(tmp_path, client, case):
    """A net working on a binned grid: blocks start on the binning grid, halos reach the
    binned windows' inputs and one binned voxel more for the upsampling, and the last block
    reaches the volume's end (so the partial bins are padded as for the whole volume)."""
    if case.startswith("2d"):
        net, window, scale = scaled_unet2d(), (16, 16), (1, 2, 2)
        vol, block, halo = volume((3, 77, 101), seed=6), (1, 24, 48), (0, 48, 48)
    else:
        torch.manual_seed(2)
        net, window, scale = UNet3D(2, width=4, depth=2).eval(), (4, 8, 8), (2, 2, 2)
        net.working_scale = scale
        vol, block, halo = volume((29, 43, 53), seed=8), (6, 24, 24), (12, 24, 24)
    assert all(n % f for n, f in zip(vol.shape, scale) if f > 1)  # partial bins at the far edges
    ref = predict(net, zscore(vol), window=window, progress=False)
    info = predict_large(net, vol, tmp_path / "p.zarr", window=window, block_size=block,
                         client=client, progress=False)
    # binned halo: output window (+ 1 for the upsampling) rounded up to the binned step, x factor
    assert info["halo"] == halo and info["scales"] == [scale]
    assert info["blocks"] >= 30
    np.testing.assert_allclose(read(tmp_path / "p.zarr"), ref, rtol=0, atol=1e-5)


def test_ensemble_members_at_different_scales_on_a_2d_image(tmp_path, client):
    from emseg.infer import predict_ensemble

    nets = [scaled_unet2d((1, 1, 1), seed=0), scaled_unet2d((1, 2, 2), seed=1)]
    img = volume((50, 61), seed=2)
    ref = predict_ensemble(nets, zscore(img), window=(16, 16), progress=False)
    with pytest.raises(ValueError, match="multiple of the window step 24.*binning factor"):
        predict_large(nets, img, tmp_path / "bad.zarr", window=(16, 16), block_size=(1, 12, 12),
                      client=client, progress=False)  # step 12 fits only the native member
    info = predict_large(nets, img, tmp_path / "e.zarr", window=(16, 16), block_size=(1, 24, 24),
                         client=client, progress=False)
    assert info["scales"] == [(1, 1, 1), (1, 2, 2)] and info["halo"] == (0, 48, 48)
    assert info["blocks"] == 3 * 3
    np.testing.assert_allclose(read(tmp_path / "e.zarr"), ref, rtol=0, atol=1e-5)


def test_scale_is_recorded_and_a_resume_at_another_scale_refused(tmp_path, client):
    net, vol, target = scaled_unet2d(), volume((2, 40, 52), seed=3), tmp_path / "p.zarr"
    opts = dict(window=(16, 16), block_size=(1, 24, 24), client=client, progress=False)
    first = predict_large(net, vol, target, **opts)
    settings = zarr.open_group(str(target), mode="r").attrs["emseg_blockwise"]["settings"]
    assert settings["scale"] == [[1, 2, 2]]
    # scale=2 is the net's own (1, 2, 2): the same run, resumed
    again = predict_large(net, vol, target, scale=2, **opts)
    assert again["skipped"] == again["blocks"] == first["blocks"]
    with pytest.raises(ValueError,
                       match=r"other settings \(scale: was \[\[1, 2, 2\]\], now \[\[1, 1, 1\]\]"):
        predict_large(net, vol, target, scale=1, **opts)
    # scale= overrides the net's own working scale on the workers too
    native = predict_large(net, vol, target, scale=(1, 1, 1), overwrite=True, **opts)
    assert native["predicted"] == native["blocks"] and native["scales"] == [(1, 1, 1)]
    np.testing.assert_allclose(read(target), predict(net, zscore(vol), window=(16, 16), scale=1,
                                                     progress=False), rtol=0, atol=1e-5)
    # a prediction made before scales were recorded was made at the native grid
    group = zarr.open_group(str(target), mode="r+")
    info = dict(group.attrs["emseg_blockwise"])
    info["settings"] = {k: v for k, v in info["settings"].items() if k != "scale"}
    group.attrs["emseg_blockwise"] = info
    assert predict_large(net, vol, target, scale=1, **opts)["predicted"] == 0
    with pytest.raises(ValueError, match="other settings .scale"):
        predict_large(net, vol, target, **opts)


def test_block_halo_chunks_off_the_binning_grid_are_refused_with_what_fits(tmp_path, client):
    from emseg.blockwise import axis_requirements

    geom = window_geometry(scaled_unet2d(), (16, 16))  # output 16: binned step 12 at overlap 0.25
    ov, scales = (0.25, 0.25, 0.25), [(1, 2, 2)]
    assert axis_requirements([geom], ov) == ((1, 12, 12), (0, 24, 24))
    assert axis_requirements([geom], ov, scales=scales) == ((1, 24, 24), (0, 48, 48))
    # at overlap 0.5 (step 8) the binned halo is 16 + 1 for the upsampling -> 24, not 16
    assert axis_requirements([geom], (0.5,) * 3) == ((1, 8, 8), (0, 16, 16))
    assert axis_requirements([geom], (0.5,) * 3, scales=scales) == ((1, 16, 16), (0, 48, 48))
    plan = BlockPlan.make((4, 99, 99), [geom], ov, scales=scales, block_size=(1, 48, 72))
    assert plan.steps == (1, 24, 24) and plan.halo == (0, 48, 48) and plan.scales == ((1, 2, 2),)
    with pytest.raises(ValueError, match="along y is 36, not a multiple of the window step 24 .*"
                                         "binning factor 2 along y.*use 24 or 48"):
        BlockPlan.make((4, 99, 99), [geom], ov, scales=scales, block_size=(1, 36, 48))
    with pytest.raises(ValueError, match="at least 48 .*one binned voxel.*multiple of the window "
                                         "step 24 .*: use 48"):
        BlockPlan.make((4, 99, 99), [geom], ov, scales=scales, block_size=(1, 48, 48), halo=(0, 36, 48))
    with pytest.raises(ValueError, match="multiple of the window step 24 .*: use 72"):
        BlockPlan.make((4, 99, 99), [geom], ov, scales=scales, block_size=(1, 48, 48), halo=(0, 60, 48))
    with pytest.raises(ValueError, match=r"output chunks \(1, 32, 48\).*window step \(1, 24, 24\) "
                                         r"\(e\.g\. block \(1, 96, 48\)\)"):
        BlockPlan.make((4, 99, 99), [geom], ov, scales=scales, block_size=(1, 48, 48),
                       chunks=(1, 32, 48))
    with pytest.raises(ValueError, match="one scale per network"):
        BlockPlan.make((4, 99, 99), [geom], ov, scales=[(1, 2, 2), (1, 1, 1)])
    # a block size that fits the native grid only: refused before any work, also via scale=
    with pytest.raises(ValueError, match="along x is 12, not a multiple of the window step 24"):
        predict_large(scaled_unet2d(), volume((2, 40, 50)), tmp_path / "p.zarr", window=(16, 16),
                      block_size=(1, 24, 12), client=client, progress=False)
    with pytest.raises(ValueError, match="along x is 12, not a multiple of the window step 24"):
        predict_large(unet(), volume((2, 40, 50)), tmp_path / "p.zarr", window=(16, 16), scale=2,
                      block_size=(1, 24, 12), client=client, progress=False)
    with pytest.raises(ValueError, match="2D network .*cannot bin z"):
        predict_large(unet(), volume((2, 40, 50)), tmp_path / "p.zarr", window=(16, 16),
                      scale=(2, 2, 2), client=client, progress=False)
    assert not (tmp_path / "p.zarr").exists()


# --------------------------------------------------------------------------- inputs

def test_tiff_memmap_zarr_inputs_give_the_same_result(tmp_path, client):
    net, vol = unet(), volume((5, 40, 60), seed=7).astype(np.float32)
    ref = predict(net, zscore(vol), window=(32, 32), progress=False)
    tifffile.imwrite(tmp_path / "plain.tif", vol, photometric="minisblack")  # contiguous: memmap
    tifffile.imwrite(tmp_path / "zipped.tif", vol, photometric="minisblack",
                     compression="zlib")                                       # page-wise reads
    np.save(tmp_path / "v.npy", vol)
    group = zarr.open_group(str(tmp_path / "in.zarr"), mode="w")
    arr = group.create_array("raw", shape=vol.shape, chunks=(2, 16, 16), dtype="float32") \
        if hasattr(group, "create_array") else group.create_dataset("raw", shape=vol.shape,
                                                                    chunks=(2, 16, 16), dtype="float32")
    arr[...] = vol
    inputs = {"plain.tif": (str(tmp_path / "plain.tif"), None, "tiff-memmap"),
              "zipped.tif": (tmp_path / "zipped.tif", None, "tiff"),
              "memmap": (np.load(tmp_path / "v.npy", mmap_mode="r"), None, "memmap"),
              "zarr": (str(tmp_path / "in.zarr"), "raw", "zarr")}
    for name, (src, dataset, kind) in inputs.items():
        assert open_volume(src, dataset=dataset).kind == kind, name
        predict_large(net, src, tmp_path / f"{name}.out.zarr", dataset=dataset, window=(32, 32),
                      block_size=(2, 24, 24), client=client, progress=False)
        np.testing.assert_allclose(read(tmp_path / f"{name}.out.zarr"), ref, atol=1e-5, err_msg=name)


def test_fsspec_urls_for_input_and_output(client):
    """Any fsspec URL works (here fsspec's in-memory file system, shared by the threads of the
    in-process cluster; s3://, gs://, https:// work alike with their packages)."""
    pytest.importorskip("fsspec")
    net, vol = unet(), volume((3, 40, 50), seed=4).astype(np.float32)
    group = zarr.open_group("memory://emseg-test/in.zarr", mode="w")
    arr = (group.create_array if hasattr(group, "create_array") else group.create_dataset)(
        "raw", shape=vol.shape, chunks=(1, 20, 25), dtype="float32")
    arr[...] = vol
    predict_large(net, "memory://emseg-test/in.zarr", "memory://emseg-test/out.zarr", dataset="raw",
                  window=(32, 32), block_size=(1, 24, 24), client=client, progress=False)
    ref = predict(net, zscore(vol), window=(32, 32), progress=False)
    np.testing.assert_allclose(read("memory://emseg-test/out.zarr"), ref, atol=1e-5)


def test_compressed_tiff_without_a_zarr_view_is_read_page_by_page(tmp_path, monkeypatch):
    """tifffile's zarr view needs zarr 3; with zarr 2 (Python < 3.11) the pages are decoded."""
    vol = np.random.default_rng(0).random((6, 20, 30)).astype(np.float32)
    tifffile.imwrite(tmp_path / "z.tif", vol, photometric="minisblack", compression="zlib")

    def no_zarr_view(*args, **kwargs):
        raise ValueError("zarr 2.18 < 3 is not supported")

    monkeypatch.setattr(tifffile, "imread", no_zarr_view)
    source = open_volume(tmp_path / "z.tif")
    assert source.kind == "tiff"
    np.testing.assert_array_equal(source[1:4, 2:9, 5:7], vol[1:4, 2:9, 5:7])
    np.testing.assert_array_equal(source[5:6], vol[5:6])


def test_a_worker_opens_the_input_and_output_once_per_run(tmp_path, client, monkeypatch):
    from emseg.blockwise._source import ChunkedVolume
    from emseg.blockwise._store import PredictionStore

    opened = []
    for cls, name in ((ChunkedVolume, "_open_handle"), (PredictionStore, "_open_arrays")):
        real = getattr(cls, name)
        monkeypatch.setattr(cls, name, lambda self, real=real, name=name: opened.append(name)
                            or real(self))
    vol = volume((4, 40, 60), seed=1)
    tifffile.imwrite(tmp_path / "v.tif", vol, photometric="minisblack")
    info = predict_large(unet(), tmp_path / "v.tif", tmp_path / "o.zarr", window=(32, 32),
                         block_size=(1, 24, 24), client=client, progress=False)
    assert info["blocks"] == 4 * 2 * 3
    # one worker process (in-process cluster): the statistics pass and all 24 blocks share one
    # open TIFF; the client and the worker share one opened output
    assert opened.count("_open_handle") == 1 and opened.count("_open_arrays") == 1


def test_zarr_group_without_dataset_is_refused_with_the_names(tmp_path):
    group = zarr.open_group(str(tmp_path / "g.zarr"), mode="w")
    (group.create_array if hasattr(group, "create_array") else group.create_dataset)(
        "raw", shape=(2, 8, 8), chunks=(1, 8, 8), dtype="uint8")
    with pytest.raises(ValueError, match="raw"):
        open_volume(str(tmp_path / "g.zarr"))
    with pytest.raises(ValueError, match="no array 'nope'"):
        open_volume(str(tmp_path / "g.zarr"), dataset="nope")
    with pytest.raises(FileNotFoundError):
        open_volume(str(tmp_path / "missing.zarr"))
    with pytest.raises(ValueError, match="integers or floats"):
        open_volume(np.zeros((2, 3, 4), bool))


def test_volume_statistics_match_numpy(client):
    vol = np.random.default_rng(3).normal(5, 3, (7, 33, 41)).astype(np.float32)
    mean, std = volume_statistics(vol, block_size=(3, 16, 16), client=client, progress=False)
    assert mean == pytest.approx(np.mean(vol, dtype=np.float64), rel=1e-12)
    assert std == pytest.approx(np.std(vol, dtype=np.float64), rel=1e-12)


# --------------------------------------------------------------------------- checks

def test_inconsistent_block_halo_chunks_are_refused_with_what_works():
    geom = window_geometry(unet(), (32, 32))  # output 32, step 24 at overlap 0.25
    ov = (0.25, 0.25, 0.25)
    plan = BlockPlan.make((10, 200, 200), [geom], ov, block_size=(2, 48, 72))
    assert plan.steps == (1, 24, 24) and plan.halo == (0, 48, 48)  # smallest multiple >= 32
    with pytest.raises(ValueError, match="multiple of the window step 24.*use 48 or 72"):
        BlockPlan.make((10, 200, 200), [geom], ov, block_size=(2, 50, 48))
    with pytest.raises(ValueError, match="at least 48.*use 48"):
        BlockPlan.make((10, 200, 200), [geom], ov, block_size=(2, 48, 48), halo=(0, 24, 24))
    with pytest.raises(ValueError, match="multiple of the window step 24: use 72"):
        BlockPlan.make((10, 200, 200), [geom], ov, block_size=(2, 48, 48), halo=(0, 50, 48))
    with pytest.raises(ValueError, match="not a multiple of the output chunks"):
        BlockPlan.make((10, 200, 200), [geom], ov, block_size=(2, 48, 48), chunks=(1, 32, 48))
    with pytest.raises(ValueError, match="block_size must be"):
        BlockPlan.make((10, 200, 200), [geom], ov, block_size=(2, 0, 48))
    # an axis shorter than the block is one block, needing no halo
    assert BlockPlan.make((10, 30, 200), [geom], ov, block_size=(2, 48, 48)).halo == (0, 0, 48)


def test_targets_that_hold_something_else_are_never_overwritten(tmp_path, client):
    net, vol = unet(), volume((3, 40, 40))
    (tmp_path / "mine.zarr").mkdir()
    (tmp_path / "mine.zarr" / "notes.txt").write_text("precious")
    with pytest.raises(ValueError, match="not a zarr group"):
        predict_large(net, vol, tmp_path / "mine.zarr", window=(32, 32), client=client, progress=False)
    zarr.open_group(str(tmp_path / "other.zarr"), mode="w").attrs["x"] = 1
    with pytest.raises(ValueError, match="not an emseg blockwise prediction"):
        predict_large(net, vol, tmp_path / "other.zarr", window=(32, 32), client=client,
                      overwrite=True, progress=False)
    assert (tmp_path / "mine.zarr" / "notes.txt").read_text() == "precious"
    predict_large(net, vol, tmp_path / "p.zarr", window=(32, 32), client=client, progress=False)
    with pytest.raises(ValueError, match="other settings.*overlap"):
        predict_large(net, vol, tmp_path / "p.zarr", window=(32, 32), overlap=0.5, client=client,
                      progress=False)
    info = predict_large(net, vol, tmp_path / "p.zarr", window=(32, 32), overlap=0.5, client=client,
                         overwrite=True, progress=False)
    assert info["skipped"] == 0 and info["predicted"] == info["blocks"]
    # overwrite=True with the same settings resumes: the finished blocks are kept
    again = predict_large(net, vol, tmp_path / "p.zarr", window=(32, 32), overlap=0.5,
                          client=client, overwrite=True, progress=False)
    assert again["skipped"] == again["blocks"] and again["predicted"] == 0


def test_precision_reaches_the_workers_and_is_part_of_the_settings(tmp_path, client):
    net, vol = unet(), volume((3, 40, 40))
    ref = predict(net, zscore(vol), window=(32, 32), precision="float32", progress=False)
    predict_large(net, vol, tmp_path / "p.zarr", window=(32, 32), precision="float32",
                  client=client, progress=False)
    np.testing.assert_allclose(read(tmp_path / "p.zarr"), ref, rtol=0, atol=1e-5)
    group = zarr.open_group(str(tmp_path / "p.zarr"), mode="r")
    assert group.attrs["emseg_blockwise"]["settings"]["precision"] == "float32"
    with pytest.raises(ValueError, match="other settings .precision: was 'float32', now 'auto'"):
        predict_large(net, vol, tmp_path / "p.zarr", window=(32, 32), client=client, progress=False)


def test_unknown_or_unusable_precision_is_refused_before_any_work(tmp_path, client):
    net, vol = unet(), volume((3, 40, 40))
    with pytest.raises(ValueError, match="unknown precision 'half'"):
        predict_large(net, vol, tmp_path / "p.zarr", precision="half", client=client, progress=False)
    with pytest.raises(ValueError, match="float16.*CUDA"):
        predict_large(net, vol, tmp_path / "p.zarr", precision="float16", device="cpu",
                      client=client, progress=False)
    assert not (tmp_path / "p.zarr").exists()


def test_resume_tells_two_zarr_arrays_of_one_shape_apart(tmp_path, client):
    net = unet()
    first, second = (zarr.zeros(shape=(2, 40, 40), chunks=(1, 40, 40), dtype="f4") for _ in range(2))
    first[:] = volume((2, 40, 40), seed=1)
    second[:] = volume((2, 40, 40), seed=2)
    predict_large(net, first, tmp_path / "p.zarr", window=(32, 32), client=client, progress=False)
    with pytest.raises(ValueError, match="other settings.*input"):
        predict_large(net, second, tmp_path / "p.zarr", window=(32, 32), client=client,
                      progress=False)


def test_a_url_target_holding_something_else_is_never_overwritten(client):
    import fsspec

    fs = fsspec.filesystem("memory")
    fs.pipe("/emseg-keep/out.zarr/notes.txt", b"precious")
    net, vol = unet(), volume((2, 40, 40))
    with pytest.raises(ValueError, match="not a zarr group"):
        predict_large(net, vol, "memory://emseg-keep/out.zarr", window=(32, 32), client=client,
                      progress=False)
    assert fs.cat("/emseg-keep/out.zarr/notes.txt") == b"precious"


# --------------------------------------------------------------------------- resume

def test_rerun_skips_finished_blocks_and_redoes_unmarked_ones(tmp_path, client):
    net, vol = unet(), volume((4, 72, 72))
    ref = predict(net, zscore(vol), window=(32, 32), progress=False)
    target = tmp_path / "p.zarr"
    first = predict_large(net, vol, target, window=(32, 32), block_size=(2, 24, 24), client=client,
                          progress=False)
    assert first["skipped"] == 0 and first["blocks"] == 2 * 3 * 3
    again = predict_large(net, vol, target, window=(32, 32), block_size=(2, 24, 24), client=client,
                          progress=False)
    assert again["skipped"] == again["blocks"] and again["predicted"] == 0
    # a half-written block: garbage in its chunk, no marker -> predicted again
    group = zarr.open_group(str(target), mode="r+")
    group["probabilities"][:, 2:4, 24:48, 0:24] = 7.0
    group["done"][1, 1, 0] = 0
    third = predict_large(net, vol, target, window=(32, 32), block_size=(2, 24, 24), client=client,
                          progress=False)
    assert third["predicted"] == 1 and third["skipped"] == third["blocks"] - 1
    np.testing.assert_allclose(read(target), ref, atol=1e-5)


KILLED_RUN = textwrap.dedent("""
    import os, sys
    import numpy as np
    import distributed
    from emseg.blockwise import predict_large
    from emseg.blockwise._store import PredictionStore

    calls = []
    original = PredictionStore.write_block

    def write_then_die(self, block, data):
        calls.append(block.index)
        if len(calls) == 4:   # the 4th block: its data is written, then the process dies
            arrays = self._open()
            arrays["probabilities"][(slice(None),) + block.interior] = np.full_like(data, 9.0)
            os._exit(17)
        original(self, block, data)

    PredictionStore.write_block = write_then_die
    if __name__ == "__main__":
        vol = np.load(sys.argv[2])
        with distributed.Client(processes=False, n_workers=1, threads_per_worker=1,
                                dashboard_address=None) as client:
            predict_large(sys.argv[1], vol, sys.argv[3], window=(32, 32), block_size=(2, 24, 24),
                          client=client, progress=False)
""")


def test_a_killed_run_loses_only_the_block_in_flight(tmp_path, client):
    net, vol = unet(3), volume((4, 48, 72))
    save_model(net, tmp_path / "net.pt")
    np.save(tmp_path / "vol.npy", vol)
    (tmp_path / "run.py").write_text(KILLED_RUN)
    target = tmp_path / "p.zarr"
    proc = subprocess.run([sys.executable, str(tmp_path / "run.py"), str(tmp_path / "net.pt"),
                           str(tmp_path / "vol.npy"), str(target)], capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 17, proc.stderr[-2000:]
    done = zarr.open_group(str(target), mode="r")["done"][...]
    assert done.sum() == 3  # three blocks finished; the 4th died between data and marker
    info = predict_large(str(tmp_path / "net.pt"), vol, target, window=(32, 32),
                         block_size=(2, 24, 24), client=client, progress=False)
    assert info["skipped"] == 3 and info["predicted"] == info["blocks"] - 3
    ref = predict(net, zscore(vol), window=(32, 32), progress=False)
    np.testing.assert_allclose(read(target), ref, atol=1e-5)  # no 9.0 left from the dead block


# --------------------------------------------------------------------------- command line

def test_cli_predict_large_on_a_local_cluster_of_processes(tmp_path, capsys):
    """The command starts its own local cluster (worker processes that load the checkpoint
    themselves), writes labels, and a second run resumes (skips everything)."""
    from emseg.cli import main

    net, vol = unet(4), volume((3, 40, 56), seed=9)
    save_model(net, tmp_path / "net.pt")
    tifffile.imwrite(tmp_path / "in.tif", vol, photometric="minisblack")
    argv = ["predict-large", "--model", str(tmp_path / "net.pt"), "--input", str(tmp_path / "in.tif"),
            "--output", str(tmp_path / "out.zarr"), "--labels", "--window", "32,32",
            "--block-size", "2,24,48", "--workers", "1", "--quiet", "--device", "cpu"]
    assert main(argv) == 0
    assert "8 of 8 blocks predicted (0 done before)" in capsys.readouterr().out
    ref = predict(net, zscore(vol), window=(32, 32), progress=False)
    labels = read(tmp_path / "out.zarr", "labels")
    clear = np.diff(np.sort(ref, axis=0)[-2:], axis=0)[0] > 1e-4
    np.testing.assert_array_equal(labels[clear], ref.argmax(0)[clear])
    assert main(argv) == 0
    assert "0 of 8 blocks predicted (8 done before)" in capsys.readouterr().out
    other = [("1,24,48" if a == "2,24,48" else a) for a in argv]
    assert main(other) == 1  # other settings: refused, nothing started
    assert "other settings" in capsys.readouterr().err
