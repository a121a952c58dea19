from __future__ import annotations

import hashlib
import io
import os
import stat
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from residue.errors import NotFound, ParameterError
from residue.store.blobs import (
    TMP_PREFIX,
    BlobStore,
    array_to_bytes,
    arrays_to_bytes,
    bytes_to_array,
    bytes_to_arrays,
)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs")


def _all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_put_get_layout(store: BlobStore) -> None:
    data = b"some bytes"
    digest = store.put(data)
    assert digest == hashlib.sha256(data).hexdigest()
    assert store.path(digest) == store.root / digest[:2] / digest[2:]
    assert store.path(digest).read_bytes() == data
    assert store.get(digest) == data
    assert store.exists(digest)
    assert _all_files(store.root) == [store.path(digest)]


def test_put_is_idempotent(store: BlobStore) -> None:
    a = store.put(b"x" * 1000)
    b = store.put(bytearray(b"x" * 1000))
    assert a == b
    assert len(_all_files(store.root)) == 1


def test_put_refuses_non_bytes(store: BlobStore) -> None:
    with pytest.raises(ParameterError, match="must be bytes"):
        store.put("text")  # type: ignore[arg-type]


def test_missing_blob(store: BlobStore) -> None:
    digest = "0" * 64
    assert not store.exists(digest)
    with pytest.raises(NotFound, match=f"no blob '{digest}'"):
        store.get(digest)
    assert store.delete(digest) is False


@pytest.mark.parametrize(
    "bad", ["../../etc/passwd", "A" * 64, "a" * 63, "a" * 65, "g" * 64, "", None, "a" * 62 + "/x"]
)
def test_crafted_digests_never_reach_the_file_system(store: BlobStore, bad: object) -> None:
    for call in (store.get, store.path, store.exists, store.delete):
        with pytest.raises(ParameterError, match="64 lowercase hex"):
            call(bad)  # type: ignore[arg-type]


def test_delete(store: BlobStore) -> None:
    digest = store.put(b"abc")
    assert store.delete(digest) is True
    assert not store.exists(digest)


def test_failed_write_leaves_nothing(store: BlobStore, monkeypatch: pytest.MonkeyPatch) -> None:
    real_fsync = os.fsync

    def broken_fsync(fd: int) -> None:
        if stat.S_ISREG(os.fstat(fd).st_mode):  # the data file, after its folder was made
            raise OSError("disk full")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        store.put(b"payload")
    assert _all_files(store.root) == []
    assert any(p.is_dir() for p in store.root.iterdir())  # it got as far as the temp file


def test_put_survives_its_temp_file_being_swept(
    store: BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_replace = os.replace
    calls = []

    def sweep_then_replace(src: str, dst: str) -> None:
        calls.append(src)
        if len(calls) == 1:
            os.unlink(src)  # a concurrent sweep took it
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", sweep_then_replace)
    digest = store.put(b"payload")
    assert len(calls) == 2
    assert store.get(digest) == b"payload"
    assert _all_files(store.root) == [store.path(digest)]


def test_concurrent_puts_of_the_same_bytes(store: BlobStore) -> None:
    data = os.urandom(100_000)
    digests: list[str] = []

    def work() -> None:
        for _ in range(10):
            digests.append(store.put(data))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(digests)) == 1
    assert _all_files(store.root) == [store.path(digests[0])]
    assert store.get(digests[0]) == data


def test_sweep(store: BlobStore) -> None:
    keep = store.put(b"keep")
    drop = store.put(b"drop")
    stray = store.path(keep).parent / f"{TMP_PREFIX}abc"
    stray.write_bytes(b"half")
    foreign = store.root / "README"
    foreign.write_text("not a blob")
    odd = store.path(keep).parent / "notes.txt"
    odd.write_text("not a blob either")
    assert store.digests() == {keep, drop}
    assert store.sweep({keep}) == 2
    assert store.exists(keep) and not store.exists(drop)
    assert not stray.exists()
    assert foreign.exists() and odd.exists()
    assert store.sweep({keep}) == 0


def test_sweep_spares_young_files(store: BlobStore) -> None:
    young = store.put(b"young")
    old = store.put(b"old")
    past = time.time() - 3600
    os.utime(store.path(old), (past, past))
    assert store.sweep(set(), min_age_s=60) == 1
    assert store.exists(young) and not store.exists(old)


def test_put_refreshes_age_of_existing_blob(store: BlobStore) -> None:
    digest = store.put(b"again")
    past = time.time() - 3600
    os.utime(store.path(digest), (past, past))
    store.put(b"again")
    assert store.sweep(set(), min_age_s=60) == 0


def test_release(store: BlobStore) -> None:
    a, b = store.put(b"a"), store.put(b"b")
    assert store.release([a, b, a], referenced=lambda d: d == b) == 1
    assert not store.exists(a) and store.exists(b)


# -- array helpers ---------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    hnp.arrays(
        dtype=st.sampled_from([np.float32, np.float64, np.int16, np.uint8, np.complex64, bool]),
        shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5),
    )
)
def test_array_round_trip(a: np.ndarray) -> None:
    out = bytes_to_array(array_to_bytes(a))
    assert out.dtype == a.dtype and out.shape == a.shape
    np.testing.assert_array_equal(out, a)


def test_array_to_bytes_keeps_layout_and_caller(rng: np.random.Generator) -> None:
    a = rng.standard_normal((3, 4)).astype(np.float32)
    view = a.T  # not C-contiguous
    before = a.copy()
    np.testing.assert_array_equal(bytes_to_array(array_to_bytes(view)), view)
    np.testing.assert_array_equal(a, before)


def test_no_pickle() -> None:
    with pytest.raises(ParameterError, match="no pickle"):
        array_to_bytes(np.array([{"a": 1}], dtype=object))
    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ParameterError, match=r"not a \.npy array"):
        bytes_to_array(buf.getvalue())
    with pytest.raises(ParameterError, match=r"not an \.npz archive"):
        bytes_to_arrays(buf.getvalue())


def test_array_helpers_refuse_wrong_inputs() -> None:
    with pytest.raises(ParameterError, match="expected a numpy array"):
        array_to_bytes([1, 2])  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match=r"not a \.npy array"):
        bytes_to_array(b"garbage")
    with pytest.raises(ParameterError, match=r"got an \.npz archive"):
        bytes_to_array(arrays_to_bytes(x=np.zeros(2)))
    with pytest.raises(ParameterError, match=r"got a single \.npy array"):
        bytes_to_arrays(array_to_bytes(np.zeros(2)))
    with pytest.raises(ParameterError, match="at least one array"):
        arrays_to_bytes()
    with pytest.raises(ParameterError, match="not allowed"):
        arrays_to_bytes(**{"a/b": np.zeros(1)})


def test_arrays_round_trip(rng: np.random.Generator) -> None:
    arrays: dict[str, np.ndarray] = {
        "W": rng.random((513, 8), dtype=np.float32),
        "H": rng.random((2, 8, 100), dtype=np.float32),
        "loss": np.linspace(1, 0, 50),
    }
    out = bytes_to_arrays(arrays_to_bytes(**arrays))
    assert list(out) == ["W", "H", "loss"]
    for name, a in arrays.items():
        assert out[name].dtype == a.dtype
        np.testing.assert_array_equal(out[name], a)
    # The format is plain npz: numpy reads it too.
    with np.load(io.BytesIO(arrays_to_bytes(**arrays)), allow_pickle=False) as npz:
        np.testing.assert_array_equal(npz["W"], arrays["W"])


def test_arrays_to_bytes_is_deterministic(monkeypatch: pytest.MonkeyPatch) -> None:
    first = arrays_to_bytes(a=np.arange(5))
    later = time.time() + 86400 * 400
    monkeypatch.setattr(time, "time", lambda: later)
    assert arrays_to_bytes(a=np.arange(5)) == first
    with zipfile.ZipFile(io.BytesIO(first)) as zf:
        assert zf.namelist() == ["a.npy"]
