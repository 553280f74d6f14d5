"""Volumes larger than memory: blockwise prediction on dask, into zarr, resumable.

::

    from emseg.blockwise import predict_large
    predict_large("best.pt", "big.tif", "pred.zarr", output="labels", n_workers=2)

The volume (numpy, TIFF or zarr, local or behind any fsspec URL) is cut into blocks;
each block is read with a halo, predicted with :func:`emseg.infer.predict` and cropped,
one dask task per block (a local cluster by default, or any dask cluster), and written
into a chunked zarr group with a done-marker per block, so a rerun resumes. Block
starts and halos follow the network's window grid (and its binning grid, for a network
with a working scale), so the result equals the in-memory prediction of the whole
volume up to float round-off; the z-score normalisation uses the whole volume's
statistics from a first chunked pass.

* :func:`predict_large` -- the whole job;
* :func:`open_volume` / :class:`ChunkedVolume` -- read boxes of numpy/TIFF/zarr inputs;
* :class:`BlockPlan` -- the checked block grid (block size, halo, output chunks);
* :func:`volume_statistics` -- mean and standard deviation of a volume of any size.
"""
from emseg.blockwise._plan import BlockPlan, axis_requirements
from emseg.blockwise._run import predict_large, volume_statistics
from emseg.blockwise._source import ChunkedVolume, open_volume
from emseg.blockwise._store import PredictionStore

__all__ = ["predict_large", "volume_statistics", "open_volume", "ChunkedVolume", "BlockPlan",
           "axis_requirements", "PredictionStore"]
