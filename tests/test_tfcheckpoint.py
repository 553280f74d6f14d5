"""Tests of emseg.tfcheckpoint: the real fixture checkpoint (when ../shared is there) and
checkpoints written by the test writer in conftest (everywhere)."""
import os
import shutil
import zipfile

import numpy as np
import pytest

from emseg import tfcheckpoint
from emseg.tfcheckpoint import (CheckpointError, checkpoint_prefix, crc32c, list_variables,
                                read_checkpoint)


@pytest.fixture(scope="module")
def fixture_ckpt(tmp_path_factory, request):
    shared = request.getfixturevalue("shared_data")
    folder = tmp_path_factory.mktemp("genenet")
    with zipfile.ZipFile(shared / "genenet-fixture" / "tf1_checkpoint.zip") as zf:
        zf.extractall(folder)
    return folder, shared / "genenet-fixture"


def _tensors():
    rng = np.random.default_rng(1)
    out = {f"net/layer_{i:02d}/kernel": rng.normal(size=(1, 3, 3, i + 1, 2)).astype(np.float32)
           for i in range(20)}
    out["global_step"] = np.array(1234, dtype=np.int64)
    out["counts"] = np.arange(5, dtype=np.int32)
    out["train/beta1_power"] = np.array(0.9, dtype=np.float32)
    out["net/double"] = rng.normal(size=(3, 2))
    return out


# --- CRC32C and Snappy ------------------------------------------------------------------------

def test_crc32c_known_values():
    assert crc32c(b"123456789") == 0xE3069283  # the standard CRC-32C check value
    assert crc32c(b"") == 0
    data = os.urandom(3000)
    assert crc32c(data) == tfcheckpoint._crc32c_python(data)


def test_snappy_literals_and_overlapping_copies():
    # "abcd" literal, then a 1-byte-offset copy of 8 bytes at offset 4 (overlaps itself),
    # then a 2-byte-offset copy of 3 bytes at offset 10
    stream = bytes([16, 3 << 2, *b"abcd", (4 << 2) | 1, 4, (2 << 2) | 2, 10, 0, 0 << 2, ord("!")])
    assert tfcheckpoint._snappy_decompress(stream) == b"abcdabcdabcd" + b"cda" + b"!"
    with pytest.raises(CheckpointError, match="Snappy"):
        tfcheckpoint._snappy_decompress(bytes([4, (4 << 2) | 1, 9]))  # copy before the start


# --- our writer (every machine) ------------------------------------------------------------

@pytest.mark.parametrize("snappy", [False, True])
@pytest.mark.parametrize("n_shards", [1, 3])
def test_round_trip_of_written_checkpoint(tmp_path, tf_checkpoint, snappy, n_shards):
    tensors = _tensors()
    tf_checkpoint(tmp_path / "model.ckpt-1234", tensors, n_shards=n_shards, snappy=snappy)
    got = read_checkpoint(tmp_path)
    assert list(got) == sorted(tensors, key=str.encode)  # index order: bytewise sorted
    for name, value in tensors.items():
        assert got[name].dtype == value.dtype and got[name].shape == value.shape
        np.testing.assert_array_equal(got[name], value)
    listed = list_variables(tmp_path / "model.ckpt-1234.index")
    assert listed["global_step"] == ("int64", ()) and listed["net/double"] == ("float64", (3, 2))


def test_read_selected_names(tmp_path, tf_checkpoint):
    tf_checkpoint(tmp_path / "m", _tensors())
    assert set(read_checkpoint(tmp_path / "m", names=lambda n: n.endswith("/kernel"))) == {
        f"net/layer_{i:02d}/kernel" for i in range(20)}
    assert list(read_checkpoint(tmp_path / "m", names="global_step")) == ["global_step"]
    with pytest.raises(KeyError, match="nope"):
        read_checkpoint(tmp_path / "m", names=["global_step", "nope"])


def test_damaged_tensor_fails_its_crc(tmp_path, tf_checkpoint):
    tf_checkpoint(tmp_path / "m", _tensors())
    shard = tmp_path / "m.data-00000-of-00001"
    raw = bytearray(shard.read_bytes())
    raw[100] ^= 0x01  # inside the first kernel
    shard.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="net/layer_00/kernel.*CRC32C"):
        read_checkpoint(tmp_path / "m")
    read_checkpoint(tmp_path / "m", names=["global_step"])  # other tensors still read
    assert read_checkpoint(tmp_path / "m", verify=False)["net/layer_00/kernel"].shape == (1, 3, 3, 1, 2)


def test_truncated_and_missing_shards_are_reported(tmp_path, tf_checkpoint):
    tf_checkpoint(tmp_path / "m", _tensors(), n_shards=2)
    shard = tmp_path / "m.data-00001-of-00002"
    shard.write_bytes(shard.read_bytes()[:50])
    with pytest.raises(CheckpointError, match="truncated"):
        read_checkpoint(tmp_path / "m")
    shard.unlink()
    with pytest.raises(CheckpointError, match="data-00001-of-00002 .*missing"):
        read_checkpoint(tmp_path / "m")


def test_damaged_or_foreign_index_is_refused(tmp_path, tf_checkpoint):
    tf_checkpoint(tmp_path / "m", _tensors())
    index = tmp_path / "m.index"
    raw = bytearray(index.read_bytes())
    raw[20] ^= 0x40  # inside the data block
    index.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="CRC"):
        list_variables(tmp_path / "m")
    index.write_bytes(b"not a checkpoint at all" * 4)
    with pytest.raises(CheckpointError, match="not a TensorFlow V2 checkpoint"):
        read_checkpoint(tmp_path / "m")


def test_checkpoint_prefix_resolution(tmp_path, tf_checkpoint):
    tf_checkpoint(tmp_path / "a" / "model.ckpt-5", {"x": np.zeros(2, np.float32)})
    tf_checkpoint(tmp_path / "a" / "model.ckpt-40", {"x": np.ones(2, np.float32)})
    folder = tmp_path / "a"
    # the state file names the last one written; an absolute path from another machine
    # is looked up by its file name
    (folder / "checkpoint").write_text('model_checkpoint_path: "/home/lab/run/model.ckpt-5"\n')
    assert checkpoint_prefix(folder) == folder / "model.ckpt-5"
    (folder / "checkpoint").unlink()
    assert checkpoint_prefix(folder) == folder / "model.ckpt-40"  # highest step
    assert checkpoint_prefix(folder / "model.ckpt-5.index") == folder / "model.ckpt-5"
    assert checkpoint_prefix(folder / "model.ckpt-5") == folder / "model.ckpt-5"
    with pytest.raises(FileNotFoundError, match="no TensorFlow checkpoint"):
        checkpoint_prefix(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"\*.index"):
        checkpoint_prefix(tmp_path / "empty")


# --- the real checkpoint (../shared) ---------------------------------------------------------

def test_fixture_variables_match_the_published_list(fixture_ckpt):
    folder, fixture = fixture_ckpt
    listed = list_variables(folder)
    expected = {}
    for line in (fixture / "variables.tsv").read_text().splitlines():
        name, dtype, shape = line.split("\t")
        expected[name] = (dtype, tuple(int(s) for s in shape.strip("[]").split(",") if s))
    assert listed == expected
    assert list(listed) == [line.split("\t")[0]
                            for line in (fixture / "variables.tsv").read_text().splitlines()]
    assert len(listed) == 201


def test_fixture_values_and_every_crc(fixture_ckpt):
    folder, _ = fixture_ckpt
    tensors = read_checkpoint(folder)  # checks all 201 CRCs
    assert int(tensors["global_step"]) == 0 and tensors["global_step"].dtype == np.int64
    assert float(tensors["train/beta1_power"]) == pytest.approx(0.96837723, abs=1e-7)
    assert float(tensors["train/beta2_power"]) == pytest.approx(0.9920567, abs=1e-7)
    trainable = [n for n in tensors if n.endswith(("/kernel", "/bias"))]
    assert len(trainable) == 66 and sum(tensors[n].size for n in trainable) == 2_234_470
    biases = np.concatenate([tensors[n] for n in trainable if n.endswith("/bias")])
    assert biases.size == 1394
    assert biases.mean() == pytest.approx(-0.0021, abs=1e-4)
    assert biases.std() == pytest.approx(0.1035, abs=1e-4)
    assert not any(tensors[n].any() for n in tensors if n.endswith(("/adam", "/adam_1")))


def test_fixture_damage_is_caught(fixture_ckpt, tmp_path):
    folder, _ = fixture_ckpt
    copy = tmp_path / "ckpt"
    shutil.copytree(folder, copy)
    shard = copy / "model.ckpt-0.data-00001-of-00002"
    with open(shard, "r+b") as fh:
        fh.seek(1000)
        byte = fh.read(1)
        fh.seek(1000)
        fh.write(bytes([byte[0] ^ 0x80]))
    with pytest.raises(CheckpointError, match="CRC32C"):
        read_checkpoint(copy)
