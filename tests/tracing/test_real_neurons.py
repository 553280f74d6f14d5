"""Real geometry: the five hemibrain DA1 projection neurons of ../shared/data/neurons.

The SWCs (8 nm units) are read with our reader, converted to um, and the densest
48 x 64 x 64 um box of each is rendered at (1.0, 0.5, 0.5) um voxels with a
0.6 um radius floor (the reference sheet's recipe). The tracer must recover the
ground truth from the exact mask.

Floors (F1 at 2 voxels): measured 0.973, 0.954, 0.959, 0.958, 0.985 (mean 0.966)
with scoop_cap=1.5 on 2026-11-22; the test asks for >= 0.94 each and a mean
>= 0.955. (The uncapped rule of the paper, scoop_cap=None, gave a mean of 0.93.)
Skipped where the shared data are absent.
"""
import numpy as np
import pytest

from emseg.data.phantoms.neuron import render_neuron
from emseg.tracing import SwcTree, densest_box, read_swc, trace_voxel_scooping, tracing_report

VS = np.array([1.0, 0.5, 0.5])
SHAPE = (48, 128, 128)
NEURONS = {  # file: (nodes, roots), from the reference sheet's table
    "1734350788.swc": (4465, 1), "1734350908.swc": (4847, 1), "722817260.swc": (4332, 1),
    "754534424.swc": (4696, 1), "754538881.swc": (4881, 2),
}
F1_FLOOR, F1_MEAN_FLOOR = 0.94, 0.955


@pytest.fixture(scope="module")
def neurons(shared_data):
    folder = shared_data / "neurons"
    missing = [name for name in NEURONS if not (folder / name).is_file()]
    if missing:
        pytest.skip(f"neuron SWCs not found in {folder}: {missing}")
    return {name: read_swc(folder / name) for name in NEURONS}


def test_real_swc_files_parse_as_documented(neurons):
    for name, tree in neurons.items():
        n_nodes, n_roots = NEURONS[name]
        assert len(tree) == n_nodes and len(tree.roots) == n_roots, name
        assert set(np.unique(tree.type)) <= {0, 1, 5, 6}
        um = tree.scaled(0.008)
        assert 1500 < um.cable_length < 3000                      # ~2.1 mm of cable each


def test_tracer_recovers_real_neurons_from_their_masks(neurons):
    f1 = []
    for name, tree in neurons.items():
        um = tree.scaled(0.008)
        offset = densest_box(um, shape=SHAPE, voxel_size=VS)
        _, mask, truth = render_neuron(um, shape=SHAPE, voxel_size=VS, offset=offset,
                                       min_radius=0.6)
        trace = trace_voxel_scooping(mask, voxel_size=VS)
        xyz = trace.xyz + offset[::-1]                            # into the SWC frame
        trace = SwcTree(id=trace.id, type=trace.type, x=xyz[:, 0], y=xyz[:, 1], z=xyz[:, 2],
                        radius=trace.radius, parent=trace.parent)
        r = tracing_report(trace, truth, voxel_size=VS)
        assert r["f1"] >= F1_FLOOR and r["precision"] >= 0.98 and r["pds"] <= 0.06, (name, r)
        f1.append(r["f1"])
    assert np.mean(f1) >= F1_MEAN_FLOOR, f1
