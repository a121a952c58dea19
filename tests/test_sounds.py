from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from residue.errors import NotFound, ParameterError
from residue.store import Store
from residue.store.blobs import BlobStore


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "data")
    yield s
    s.close()


def _audio(rng: np.random.Generator, channels: int = 2, n: int = 1000) -> np.ndarray:
    return (0.1 * rng.standard_normal((channels, n))).astype(np.float32)


def _blob_files(store: Store) -> set[str]:
    return store.blobs.digests()


@pytest.mark.parametrize("shape", [(1000,), (1, 1000), (2, 1000), (6, 300)])
def test_add_get_load_round_trip(
    store: Store, rng: np.random.Generator, shape: tuple[int, ...]
) -> None:
    y = rng.standard_normal(shape)  # float64 in, float32 stored
    before = y.copy()
    t0 = time.time()
    rec = store.sounds.add(
        y, sr=22050, name="  my loop.wav ", origin="upload", tempo_bpm=123.5,
        provenance={"upload": "my loop.wav", "gain": np.float32(0.5)},
    )
    channels = 1 if len(shape) == 1 else shape[0]
    assert rec.name == "my loop.wav"
    assert (rec.channels, rec.n_samples, rec.sample_rate) == (channels, shape[-1], 22050)
    assert rec.duration_s == pytest.approx(shape[-1] / 22050)
    assert rec.origin == "upload" and rec.tempo_bpm == 123.5
    assert rec.provenance == {"upload": "my loop.wav", "gain": 0.5}
    assert t0 - 1 <= rec.created_at <= time.time() + 1
    assert store.sounds.get(rec.sound_id) == rec
    out, sr = store.sounds.load(rec.sound_id)
    assert sr == 22050 and out.dtype == np.float32 and out.shape == (channels, shape[-1])
    np.testing.assert_array_equal(out, y.reshape(channels, -1).astype(np.float32))
    np.testing.assert_array_equal(y, before)  # the caller's array is untouched
    out[:] = 0  # a fresh array: modifying it changes nothing stored
    assert np.any(store.sounds.load(rec.sound_id)[0] != 0)


def test_persists_across_reopen(tmp_path: Path, rng: np.random.Generator) -> None:
    y = _audio(rng)
    with Store.open(tmp_path / "d") as s:
        rec = s.sounds.add(y, sr=44100, name="a", origin="demo", provenance={"demo": "drums"})
    with Store.open(tmp_path / "d") as s:
        assert s.sounds.get(rec.sound_id) == rec
        np.testing.assert_array_equal(s.sounds.load(rec.sound_id)[0], y)
        assert s.db.integrity_ok()


def test_list_is_newest_first(store: Store, rng: np.random.Generator) -> None:
    ids = [
        store.sounds.add(_audio(rng), sr=44100, name=f"s{i}", origin="upload").sound_id
        for i in range(4)
    ]
    assert [r.sound_id for r in store.sounds.list()] == ids[::-1]


def test_find_by_origin_name(store: Store, rng: np.random.Generator) -> None:
    assert store.sounds.find_by_origin_name("demo", "demo drums") is None
    store.sounds.add(_audio(rng), sr=44100, name="demo drums", origin="upload")
    first = store.sounds.add(_audio(rng), sr=44100, name="demo drums", origin="demo")
    assert store.sounds.find_by_origin_name("demo", "demo drums") == first
    newer = store.sounds.add(_audio(rng), sr=44100, name="demo drums", origin="demo")
    assert store.sounds.find_by_origin_name("demo", "demo drums") == newer
    assert store.sounds.find_by_origin_name("demo", "demo Drums") is None


def test_not_found(store: Store) -> None:
    for call in (store.sounds.get, store.sounds.load, store.sounds.delete):
        with pytest.raises(NotFound, match="no sound 'nope'"):
            call("nope")
        with pytest.raises(NotFound, match="no sound"):
            call("../../etc/passwd")


def test_delete_removes_row_decompositions_and_blobs(
    store: Store, rng: np.random.Generator
) -> None:
    keep = store.sounds.add(_audio(rng), sr=44100, name="keep", origin="upload")
    gone = store.sounds.add(_audio(rng), sr=44100, name="gone", origin="upload")
    dec = store.decompositions.add(
        gone.sound_id, key="k", settings={}, arrays={"W": np.ones((3, 2), np.float32)}
    )
    store.sounds.delete(gone.sound_id)
    with pytest.raises(NotFound):
        store.sounds.get(gone.sound_id)
    with pytest.raises(NotFound):
        store.decompositions.get(dec.decomposition_id)
    assert _blob_files(store) == {keep.blob}
    assert store.db.integrity_ok()


def test_delete_keeps_a_blob_another_sound_shares(
    store: Store, rng: np.random.Generator
) -> None:
    y = _audio(rng)
    a = store.sounds.add(y, sr=44100, name="a", origin="upload")
    b = store.sounds.add(y, sr=44100, name="b", origin="upload")
    assert a.blob == b.blob and a.sound_id != b.sound_id
    store.sounds.delete(a.sound_id)
    np.testing.assert_array_equal(store.sounds.load(b.sound_id)[0], y)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"y": np.zeros((2, 3, 4), np.float32)}, r"shape \(channels, n_samples\)"),
        ({"y": np.array([[0.0, np.nan]])}, "NaN"),
        ({"y": np.zeros((2, 0), np.float32)}, "at least 1 needed"),
        ({"y": np.zeros((65, 4), np.float32)}, r"channels=65 must be in \[1, 64\]"),
        ({"y": [0.0, 1.0]}, "must be a numpy array"),
        ({"sr": 10}, r"sr=10 must be in \[1000, 768000\]"),
        ({"sr": 44100.0}, "sr=44100.0 must be an integer"),
        ({"name": "   "}, "name must have 1 to 255 characters"),
        ({"name": "x" * 256}, "name must have 1 to 255 characters"),
        ({"name": "a\nb"}, "control characters"),
        ({"origin": "Upload!"}, "origin='Upload!' must be"),
        ({"tempo_bpm": 0.0}, r"tempo_bpm=0 must be in \[1, 1000\]"),
        ({"provenance": {"x": object()}}, "provenance must be JSON-serialisable"),
        ({"provenance": {"x": float("inf")}}, "provenance must be JSON-serialisable"),
    ],
)
def test_add_validation(store: Store, kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {
        "y": np.zeros((2, 10), np.float32), "sr": 44100, "name": "n", "origin": "upload",
    }
    args.update(kwargs)
    y = args.pop("y")
    with pytest.raises(ParameterError, match=match):
        store.sounds.add(y, **args)  # type: ignore[arg-type]
    assert store.sounds.list() == []
    assert _blob_files(store) == set()


def test_blob_write_failure_commits_no_row(
    store: Store, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_put(self: BlobStore, data: bytes) -> str:
        raise OSError("disk full")

    monkeypatch.setattr(BlobStore, "put", broken_put)
    with pytest.raises(OSError, match="disk full"):
        store.sounds.add(_audio(rng), sr=44100, name="a", origin="upload")
    assert store.sounds.list() == []


def test_failed_fsync_commits_no_row_and_leaves_no_file(
    store: Store, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_fsync(fd: int) -> None:
        raise OSError("io error")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="io error"):
        store.sounds.add(_audio(rng), sr=44100, name="a", origin="upload")
    monkeypatch.undo()
    assert store.sounds.list() == []
    assert [p for p in store.blobs.root.rglob("*") if p.is_file()] == []


def test_failed_insert_releases_the_blob(
    store: Store, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_execute = store.db.execute

    def failing_execute(sql: str, params: object = ()) -> object:
        if sql.startswith("INSERT INTO sounds"):
            raise RuntimeError("insert failed")
        return real_execute(sql, params)  # type: ignore[arg-type]

    monkeypatch.setattr(store.db, "execute", failing_execute)
    with pytest.raises(RuntimeError, match="insert failed"):
        store.sounds.add(_audio(rng), sr=44100, name="a", origin="upload")
    assert store.sounds.list() == []
    assert _blob_files(store) == set()


def test_blob_swept_before_commit_is_rewritten(
    store: Store, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_put = BlobStore.put
    calls = []

    def put_then_sweep(self: BlobStore, data: bytes) -> str:
        digest = real_put(self, data)
        calls.append(digest)
        if len(calls) == 1:
            store.sweep_orphans()  # runs between the write and the commit
        return digest

    monkeypatch.setattr(BlobStore, "put", put_then_sweep)
    y = _audio(rng)
    rec = store.sounds.add(y, sr=44100, name="a", origin="upload")
    assert len(calls) == 2
    np.testing.assert_array_equal(store.sounds.load(rec.sound_id)[0], y)


def test_sweep_orphans(store: Store, rng: np.random.Generator) -> None:
    rec = store.sounds.add(_audio(rng), sr=44100, name="a", origin="upload")
    orphan = store.blobs.put(b"nobody names me")
    stray = store.blobs.root / rec.blob[:2] / ".tmp-crash"
    stray.write_bytes(b"half")
    assert store.sweep_orphans() == 2
    assert _blob_files(store) == {rec.blob}
    assert not store.blobs.exists(orphan) and not stray.exists()
    assert store.sounds.load(rec.sound_id)[0].shape == (2, 1000)


def test_damaged_blob_is_reported(store: Store, rng: np.random.Generator) -> None:
    rec = store.sounds.add(_audio(rng), sr=44100, name="a", origin="upload")
    store.blobs.delete(rec.blob)
    with pytest.raises(NotFound, match="no blob"):
        store.sounds.load(rec.sound_id)
