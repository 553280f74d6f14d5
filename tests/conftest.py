"""Shared fixtures.

``shared_data`` is the team's real reference data (``../shared/data`` next to the
repository). Users' machines do not have it: tests that need it skip with a reason.
``server`` is a local HTTP server (no internet needed); ``write_tf_checkpoint``
writes small TensorFlow V2 checkpoints so that the reader and the converter are
tested everywhere, not only against the real fixture in ``../shared``.
"""
import http.server
import os
import struct
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("EMSEG_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data():
    """Path of ``../shared/data``; skips the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real reference data not found at {SHARED_DATA} (only on the team's machines)")
    return SHARED_DATA


@pytest.fixture
def ctrl_c():
    """SIGINT handled as in a terminal (Python's KeyboardInterrupt) for the test: a process
    started in the background by a non-interactive shell (``nohup cmd &``, some CI
    runners) inherits SIGINT *ignored*, where no Ctrl-C can reach it."""
    import signal
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture(autouse=True)
def _seed_and_threads():
    """Deterministic, CPU-friendly tests."""
    torch.manual_seed(0)
    np.random.seed(0)
    yield


class _Server:
    """A tiny HTTP server on 127.0.0.1 serving ``routes[path] = (status, headers, body)``.

    Content-Length is the body's length unless ``headers`` gives it; a value of None
    leaves the header out (the body then ends when the connection closes).
    """

    def __init__(self):
        self.routes, self.requests = {}, []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append(self.path)
                status, headers, body = outer.routes.get(self.path, (404, {}, b"not found"))
                self.send_response(status)
                headers = {"Content-Length": str(len(body)), **headers}
                for key, value in headers.items():
                    if value is not None:
                        self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.stopped = False
        self.thread.start()

    def url(self, path):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def stop(self):
        if self.stopped:
            return
        self.stopped = True
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    srv = _Server()
    yield srv
    srv.stop()


# --- a minimal TensorFlow tensor-bundle (V2 checkpoint) writer, for tests ------------------

def _varint(n):
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number, value):
    """A protobuf field: int -> varint, bytes -> length-delimited, ('fixed32', v) -> fixed32."""
    if isinstance(value, tuple):
        return _varint(number << 3 | 5) + struct.pack("<I", value[1])
    if isinstance(value, bytes):
        return _varint(number << 3 | 2) + _varint(len(value)) + value
    return _varint(number << 3) + _varint(value)


def _snappy_literals(data):
    """A valid Snappy stream made of literals only (what a decoder must accept)."""
    out = bytearray(_varint(len(data)))
    for i in range(0, len(data), 256):
        chunk = data[i:i + 256]
        out += bytes([60 << 2, len(chunk) - 1]) + chunk  # literal with a 1-byte length
    return bytes(out)


def _block(entries, restart_every=16):
    out, restarts, previous = bytearray(), [], b""
    for i, (key, value) in enumerate(entries):
        shared = 0
        if i % restart_every:
            while shared < min(len(key), len(previous)) and key[shared] == previous[shared]:
                shared += 1
        else:
            restarts.append(len(out))
        out += _varint(shared) + _varint(len(key) - shared) + _varint(len(value))
        out += key[shared:] + value
        previous = key
    out += b"".join(struct.pack("<I", r) for r in restarts) + struct.pack("<I", len(restarts))
    return bytes(out)


def write_tf_checkpoint(prefix, tensors, *, n_shards=1, snappy=False):
    """Write ``{name: numpy array}`` as a TF V2 checkpoint ``prefix.index`` + ``.data-*``."""
    import numpy as np
    from emseg.tfcheckpoint import _masked, crc32c

    codes = {"float32": 1, "float64": 2, "int32": 3, "int64": 9}
    prefix = Path(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    shards = [bytearray() for _ in range(n_shards)]
    entries = [(b"", _field(1, n_shards) + _field(3, _field(1, 1)))]
    for i, name in enumerate(sorted(tensors, key=lambda n: n.encode())):
        array = np.array(tensors[name], order="C")  # ascontiguousarray makes 0-d arrays 1-d
        raw, shard = array.astype(array.dtype.newbyteorder("<")).tobytes(), i % n_shards
        shape = b"".join(_field(2, _field(1, d) if d else b"") for d in array.shape)
        msg = (_field(1, codes[array.dtype.name]) + _field(2, shape)
               + (_field(3, shard) if shard else b"")
               + (_field(4, len(shards[shard])) if shards[shard] else b"")
               + _field(5, len(raw)) + _field(6, ("fixed32", _masked(crc32c(raw)))))
        shards[shard] += raw
        entries.append((name.encode(), msg))
    data = bytearray()

    def put(block):
        kind = 0
        if snappy:
            block, kind = _snappy_literals(block), 1
        handle = _varint(len(data)) + _varint(len(block))
        data.extend(block + bytes([kind]) + struct.pack("<I", _masked(crc32c(block + bytes([kind])))))
        return handle
    data_handle = put(_block(entries))
    meta_handle = put(_block([]))
    index_handle = put(_block([(entries[-1][0] + b"\xff", data_handle)]))
    footer = (meta_handle + index_handle).ljust(40, b"\0") + bytes.fromhex("57fb808b247547db")
    Path(f"{prefix}.index").write_bytes(bytes(data) + footer)
    for i, shard in enumerate(shards):
        Path(f"{prefix}.data-{i:05d}-of-{n_shards:05d}").write_bytes(bytes(shard))
    (prefix.parent / "checkpoint").write_text(
        f'model_checkpoint_path: "{prefix.name}"\nall_model_checkpoint_paths: "{prefix.name}"\n')
    return prefix


@pytest.fixture
def tf_checkpoint():
    """The function ``write_tf_checkpoint(prefix, tensors, *, n_shards=1, snappy=False)``."""
    return write_tf_checkpoint


def genenet_tf_tensors(model, scope="2D3D", *, slots=True):
    """The TF-layout variables a genenet checkpoint of ``model`` holds."""
    from emseg.models.genenet import LAYERS

    state = model.state_dict()
    out = {}
    for module, tf_scope in LAYERS.items():
        kernel = state[f"{module}.weight"].permute(2, 3, 4, 1, 0).numpy()  # -> [kd,kh,kw,in,out]
        out[f"{scope}/{tf_scope}/kernel"] = kernel
        out[f"{scope}/{tf_scope}/bias"] = state[f"{module}.bias"].numpy()
    if slots:
        for name in list(out):
            out[f"{name}/adam"] = np.zeros_like(out[name])
            out[f"{name}/adam_1"] = np.zeros_like(out[name])
        out["global_step"] = np.array(2500, dtype=np.int64)
        out["train/beta1_power"] = np.array(0.5, dtype=np.float32)
        out["train/beta2_power"] = np.array(0.7, dtype=np.float32)
    return out


@pytest.fixture
def genenet_tensors():
    """The function ``genenet_tf_tensors(model, scope="2D3D", *, slots=True)``."""
    return genenet_tf_tensors


@pytest.fixture(scope="module")
def one_thread():
    """Run a module on one torch thread: tiny convolutions run fastest on one thread, and
    the test machine is shared. Use with ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _blob_volume(shape, seed, *, radius=(2.0, 5.0, 5.0)):
    """A tiny learnable 3D volume: six bright ellipsoids on a dark background, with noise.
    Returns ``(image float32, labels uint8)``."""
    rng = np.random.default_rng(seed)
    z, y, x = np.indices(shape)
    labels = np.zeros(shape, np.uint8)
    for _ in range(6):
        c = rng.uniform(0, shape)
        labels[((z - c[0]) / radius[0]) ** 2 + ((y - c[1]) / radius[1]) ** 2
               + ((x - c[2]) / radius[2]) ** 2 < 1] = 1
    return (labels + 0.3 * rng.normal(size=shape)).astype(np.float32), labels


@pytest.fixture
def blob_volume():
    """The function ``blob_volume(shape, seed, *, radius=(2, 5, 5))`` -> (image, labels)."""
    return _blob_volume
