"""The one registry of datasets and trained nets (emseg.data.registry)."""
import re

import pytest

from emseg.data import fetch_dataset, load_platelet
from emseg.data import em_datasets
from emseg.data.registry import DATASETS, ENTRY_KEYS, KINDS, REGISTRY, SOURCES, entries
from emseg.pretrained import PRETRAINED


def test_every_entry_has_a_kind_and_the_views_are_the_registry():
    assert REGISTRY and all(e["kind"] in KINDS for e in REGISTRY.values())
    assert entries("dataset") == DATASETS
    assert PRETRAINED == entries("weights")
    assert set(DATASETS) | set(PRETRAINED) == set(REGISTRY)
    assert em_datasets.EM_DATASETS == {k: DATASETS[k] for k in ("lucchi", "lucchi_pp", "vnc")}
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
    assert SOURCES == ("auto", "real", "phantom") and em_datasets.SOURCES is SOURCES
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
    monkeypatch.setattr(em_datasets, "fetch_lucchi", lambda **kw: calls.append(("lucchi", kw)) or tmp_path)
    monkeypatch.setattr(em_datasets, "fetch_lucchi_pp", lambda **kw: calls.append(("pp", kw)) or tmp_path)
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
