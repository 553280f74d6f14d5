"""The one registry of datasets and trained nets (emseg.data.registry)."""
import re

import pytest

from emseg.data import fetch_dataset, load_platelet
from emseg.data.datasets import lucchi
from emseg.data.registry import DATASETS, ENTRY_KEYS, KINDS, REGISTRY, SOURCES, entries
from emseg.pretrained import PRETRAINED


def test_every_entry_has_a_kind_and_the_views_are_the_registry():
    assert REGISTRY and all(e["kind"] in KINDS for e in REGISTRY.values())
    assert entries("dataset") == DATASETS
    assert PRETRAINED == entries("weights")
    assert set(DATASETS) | set(PRETRAINED) == set(REGISTRY)
    for name, entry in REGISTRY.items():  # the same objects, not copies that could drift
        view = DATASETS if entry["kind"] == "dataset" else PRETRAINED
        assert view[name] is entry
    with pytest.raises(ValueError, match="unknown kind 'models'; choose one of dataset, weights"):
        entries("models")


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_dataset_entries_have_the_common_keys(name):
    entry = DATASETS[name]
    assert set(ENTRY_KEYS) <= set(entry)
    assert re.fullmatch(r"emseg\.data\.load_\w+", entry["loader"])
    import emseg.data
    assert callable(getattr(emseg.data, entry["loader"].rsplit(".", 1)[1]))


@pytest.mark.parametrize("name", sorted(PRETRAINED))
def test_weights_entries_say_their_format(name):
    entry = PRETRAINED[name]
    assert entry["format"] in ("tf-genenet", "bundled")
    assert entry["description"] and entry["citation"]
    assert ("url" in entry) == (entry["format"] == "tf-genenet")


def test_one_source_vocabulary():
    assert SOURCES == ("auto", "real", "phantom")
    vol = load_platelet("eval", source="phantom", shape=(4, 32, 32))
    assert vol.synthetic
    with pytest.raises(ValueError, match="unknown source 'synthetic'; choose one of auto, real, "
                                         "phantom"):
        load_platelet("eval", source="synthetic")
    with pytest.raises(ValueError, match="shape only sets the size of the synthetic phantom"):
        load_platelet("eval", source="real", shape=(4, 32, 32))


def test_the_old_platelet_source_name_still_works_and_warns():
    with pytest.warns(DeprecationWarning, match='source="real"'):
        with pytest.raises(ValueError, match="shape only sets"):  # then read as "real"
            load_platelet("eval", source="platelet", shape=(4, 32, 32))


def test_fetch_dataset_serves_every_dataset(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(lucchi, "fetch_lucchi", lambda **kw: calls.append(("lucchi", kw)) or tmp_path)
    monkeypatch.setattr(lucchi, "fetch_lucchi_pp", lambda **kw: calls.append(("pp", kw)) or tmp_path)
    assert fetch_dataset("lucchi", data_dir=tmp_path, progress=False, retries=1) == tmp_path
    assert fetch_dataset("lucchi_pp", data_dir=tmp_path, retries=0) == tmp_path
    assert calls == [("lucchi", {"data_dir": tmp_path, "progress": False, "retries": 1}),
                     ("pp", {"data_dir": tmp_path, "progress": True, "retries": 0})]
    with pytest.raises(ValueError, match=r"vnc has no verified download link; get it from "
                                         r"https://github.com/unidesigner/groundtruth-drosophila-vnc "
                                         r"and give its folder to emseg.data.load_vnc \(path=...\)"):
        fetch_dataset("vnc", data_dir=tmp_path)
    with pytest.raises(ValueError, match="unknown dataset 'lucky'; available: lucchi, lucchi_pp, "
                                         "platelet, vnc"):
        fetch_dataset("lucky")


@pytest.mark.parametrize("old, new", [
    ("emseg.data.phantom", "emseg.data.phantoms.platelet"),
    ("emseg.data.platelet", "emseg.data.datasets.platelet"),
])
def test_old_module_names_are_the_new_modules_and_warn(old, new):
    import importlib
    import sys

    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=f"{old} moved to {new}"):
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)


def test_the_old_em_datasets_module_keeps_its_names_and_warns():
    import importlib
    import sys

    sys.modules.pop("emseg.data.em_datasets", None)
    with pytest.warns(DeprecationWarning, match="emseg.data.datasets.lucchi"):
        old = importlib.import_module("emseg.data.em_datasets")
    assert old.load_lucchi is lucchi.load_lucchi and old.SOURCES is SOURCES
    assert old.EM_DATASETS == {k: DATASETS[k] for k in ("lucchi", "lucchi_pp", "vnc")}
    assert all(hasattr(old, name) for name in old.__all__)


def test_the_phantom_functions_keep_their_names_in_emseg_data():
    # emseg.data.ecs_phantom and .neuron_phantom were modules named like their functions;
    # the modules moved to emseg.data.phantoms, the names in emseg.data are the functions
    import emseg.data
    from emseg.data.phantoms import ecs, neuron

    assert emseg.data.ecs_phantom is ecs.ecs_phantom
    assert emseg.data.neuron_phantom is neuron.neuron_phantom
