from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from residue.errors import NotFound, ParameterError
from residue.store import Store
from residue.store.blobs import BlobStore
from residue.store.library import ComponentRecord, Library, check_tags

N_FFT = 64
D = 6


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "data")
    yield s
    s.close()


@pytest.fixture
def lib(store: Store) -> Library:
    return store.library


def _add(lib: Library, rng: np.random.Generator, name: str = "unit", **kw: Any) -> ComponentRecord:
    args: dict[str, Any] = {
        "sr": 44100,
        "n_fft": N_FFT,
        "name": name,
        "provenance": {"sound_id": "s1", "unit": 0},
        "descriptor": rng.standard_normal(D).astype(np.float32),
        "curve": rng.random(256).astype(np.float32),
    }
    args.update(kw)
    w = args.pop("w", rng.random(N_FFT // 2 + 1).astype(np.float32))
    return lib.add(w, **args)


def _ops(lib: Library) -> list[tuple[int, str, str]]:
    return [(o.seq, o.op, o.component_id) for o in lib.ops_since(0)]


def test_add_and_get(lib: Library, rng: np.random.Generator) -> None:
    w = rng.random(N_FFT // 2 + 1)  # float64 in
    before = w.copy()
    desc = np.arange(D, dtype=np.float64)
    curve = np.linspace(0, 1, 256)
    rec = lib.add(w, sr=48000, n_fft=N_FFT, name="  Warm kick ", tags=["kick", "warm", "kick"],
                  creator=" ana ", provenance={"unit": np.int64(2)}, descriptor=desc, curve=curve)
    assert (rec.name, rec.tags, rec.creator) == ("Warm kick", ("kick", "warm"), "ana")
    assert (rec.sample_rate, rec.n_fft, rec.provenance) == (48000, N_FFT, {"unit": 2})
    assert rec.descriptor.dtype == np.float32 and rec.curve.dtype == np.float32
    np.testing.assert_array_equal(rec.descriptor, desc.astype(np.float32))
    np.testing.assert_array_equal(rec.curve, curve.astype(np.float32))
    with pytest.raises(ValueError):
        rec.descriptor[0] = 1.0  # records are read-only
    spectrum, sr, n_fft = lib.load_spectrum(rec.component_id)
    assert (sr, n_fft) == (48000, N_FFT) and spectrum.dtype == np.float32
    np.testing.assert_array_equal(spectrum, w.astype(np.float32))
    np.testing.assert_array_equal(w, before)
    got = lib.get(rec.component_id)
    assert (got.component_id, got.name, got.tags, got.blob) == (
        rec.component_id, rec.name, rec.tags, rec.blob)
    assert len(lib) == 1


def test_persists_across_reopen(tmp_path: Path, rng: np.random.Generator) -> None:
    with Store.open(tmp_path / "d") as s:
        rec = _add(s.library, rng, "kept", tags=["a", "b"])
        s.library.rename(rec.component_id, "renamed")
    with Store.open(tmp_path / "d") as s:
        got = s.library.get(rec.component_id)
        assert (got.name, got.tags) == ("renamed", ("a", "b"))
        np.testing.assert_array_equal(got.descriptor, rec.descriptor)
        assert [op for _, op, _ in _ops(s.library)] == ["add", "rename"]


def test_rename_set_tags_delete(lib: Library, store: Store, rng: np.random.Generator) -> None:
    rec = _add(lib, rng, "one", tags=["x"])
    assert lib.rename(rec.component_id, " two ").name == "two"
    assert lib.set_tags(rec.component_id, ["b", "a", "b"]).tags == ("b", "a")
    assert lib.set_tags(rec.component_id, []).tags == ()
    assert store.blobs.exists(rec.blob)
    lib.delete(rec.component_id)
    with pytest.raises(NotFound, match=f"no component '{rec.component_id}'"):
        lib.get(rec.component_id)
    assert not store.blobs.exists(rec.blob)
    assert store.db.query("SELECT * FROM component_tags") == []


def test_not_found(lib: Library) -> None:
    with pytest.raises(NotFound, match="no component 'nope'"):
        lib.get("nope")
    with pytest.raises(NotFound, match="no component 'nope'"):
        lib.rename("nope", "x")
    with pytest.raises(NotFound, match="no component 'nope'"):
        lib.set_tags("nope", ["x"])
    with pytest.raises(NotFound, match="no component 'nope'"):
        lib.delete("nope")
    with pytest.raises(NotFound, match="no component 'nope'"):
        lib.load_spectrum("nope")
    assert lib.ops_since(0) == []


def test_list_filters(lib: Library, rng: np.random.Generator) -> None:
    a = _add(lib, rng, "Deep Kick", tags=["kick", "Dark"])
    b = _add(lib, rng, "Snare crack", tags=["snare"])
    c = _add(lib, rng, "KICK ÄRGER", tags=["kick"])
    d = _add(lib, rng, "pad", tags=["kicks"])

    def ids(recs: list[ComponentRecord]) -> list[str]:
        return [r.component_id for r in recs]

    assert ids(lib.list()) == ids([d, c, b, a])  # newest first
    assert ids(lib.list(query="kick")) == ids([c, a])
    assert ids(lib.list(query="  äRg ")) == ids([c])
    assert ids(lib.list(tag="kick")) == ids([c, a])  # exact: not "kicks"
    assert ids(lib.list(tag="dark")) == []  # case matters
    assert ids(lib.list(tag="Dark")) == ids([a])
    assert ids(lib.list(query="snare", tag="kick")) == []
    assert ids(lib.list(query="deep", tag="kick")) == ids([a])
    assert ids(lib.list(tag="")) == ids(lib.list())
    assert [r.tags for r in lib.list()] == [("kicks",), ("kick",), ("snare",), ("kick", "Dark")]
    assert ids(lib.list(query="%")) == []  # no SQL wildcards
    with pytest.raises(ParameterError, match="must not contain spaces"):
        lib.list(tag="a b")


def test_descriptor_matrix(lib: Library, rng: np.random.Generator) -> None:
    ids, X = lib.descriptor_matrix()
    assert ids == [] and X.shape == (0, 0)
    recs = [_add(lib, rng, f"u{i}", tags=["even"] if i % 2 == 0 else []) for i in range(5)]
    ids, X = lib.descriptor_matrix()
    assert ids == [r.component_id for r in recs[::-1]]
    assert X.dtype == np.float32 and X.shape == (5, D)
    np.testing.assert_array_equal(X, np.stack([r.descriptor for r in recs[::-1]]))
    ids, X = lib.descriptor_matrix(tag="even")
    assert ids == [recs[4].component_id, recs[2].component_id, recs[0].component_id]
    assert X.shape == (3, D)


def test_nearest_matches_brute_force(lib: Library, rng: np.random.Generator) -> None:
    recs = [_add(lib, rng, f"u{i}") for i in range(20)]
    query = rng.standard_normal(D)
    expected = sorted(
        (float(np.linalg.norm(r.descriptor.astype(np.float64) - query)), r.component_id)
        for r in recs
    )
    got = lib.nearest(query, limit=5)
    assert [r.component_id for r, _ in got] == [cid for _, cid in expected[:5]]
    np.testing.assert_allclose([dist for _, dist in got], [d for d, _ in expected[:5]], rtol=1e-6)
    assert all(a <= b for (_, a), (_, b) in itertools.pairwise(got))
    # Searching from a component leaves it out.
    first = recs[3]
    near = lib.nearest(first.descriptor, limit=3, exclude=first.component_id)
    assert first.component_id not in [r.component_id for r, _ in near] and len(near) == 3
    assert len(lib.nearest(query, limit=100)) == 20


def test_nearest_edge_cases(lib: Library, rng: np.random.Generator) -> None:
    assert lib.nearest(np.zeros(D), limit=3) == []
    _add(lib, rng)
    with pytest.raises(ParameterError, match="vector has 3 values but the library's"):
        lib.nearest(np.zeros(3), limit=3)
    with pytest.raises(ParameterError, match=r"limit=0 must be in \[1, 10000\]"):
        lib.nearest(np.zeros(D), limit=0)
    with pytest.raises(ParameterError, match="vector contains NaN"):
        lib.nearest(np.full(D, np.nan), limit=1)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"name": "  "}, "name must have 1 to 120 characters"),
        ({"name": "x" * 121}, "name must have 1 to 120 characters"),
        ({"name": 5}, "name must be a string"),
        ({"tags": ["a b"]}, "tag 'a b' must not contain spaces, commas"),
        ({"tags": ["a,b"]}, "tag 'a,b' must not contain spaces, commas"),
        ({"tags": ["x" * 41]}, "must have 1 to 40 characters"),
        ({"tags": [""]}, "must have 1 to 40 characters"),
        ({"tags": [str(i) for i in range(17)]}, "at most 16 tags"),
        ({"tags": "kick"}, "not one string"),
        ({"tags": [3]}, "tag 3 must be a string"),
        ({"tags": 3}, "tags must be a list of strings"),
        ({"creator": "x" * 121}, "creator must have at most 120"),
        ({"creator": None}, "creator must be a string"),
        ({"provenance": None}, "provenance must be a dict"),
        ({"sr": 100}, r"sr=100 must be in \[1000, 768000\]"),
        ({"n_fft": 8}, r"n_fft=8 must be in \[16, 65536\]"),
        ({"w": np.ones(10)}, r"w must have shape \(33,\) for n_fft=64"),
        ({"w": -np.ones(33)}, "w must be non-negative"),
        ({"w": np.ones((33, 1))}, r"w must have shape \(33,\)"),
        ({"descriptor": np.zeros((2, 3))}, "descriptor must be 1-D"),
        ({"descriptor": np.array([np.inf])}, "descriptor contains NaN or infinite"),
        ({"descriptor": np.array(["a"])}, "descriptor must be real-valued"),
        ({"curve": np.zeros(255)}, "curve must be 1-D with 256 values"),
    ],
)
def test_add_validation(lib: Library, store: Store, rng: np.random.Generator,
                        kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        _add(lib, rng, **kwargs)
    assert lib.list() == [] and lib.ops_since(0) == []
    assert store.blobs.digests() == set()


def test_descriptor_length_must_match_the_library(
    lib: Library, store: Store, rng: np.random.Generator
) -> None:
    first = _add(lib, rng)
    with pytest.raises(ParameterError, match="descriptor has 4 values but the library's"):
        _add(lib, rng, descriptor=np.zeros(4))
    assert [r.component_id for r in lib.list()] == [first.component_id]
    assert store.blobs.digests() == {first.blob}


def test_rename_and_tag_validation(lib: Library, rng: np.random.Generator) -> None:
    rec = _add(lib, rng, "keep me", tags=["t"])
    with pytest.raises(ParameterError, match="name must have 1 to 120"):
        lib.rename(rec.component_id, "")
    with pytest.raises(ParameterError, match="must not contain spaces"):
        lib.set_tags(rec.component_id, ["ok", "not ok"])
    got = lib.get(rec.component_id)
    assert (got.name, got.tags) == ("keep me", ("t",))
    assert [op for _, op, _ in _ops(lib)] == ["add"]


def test_blob_write_failure_commits_no_row(
    lib: Library, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_put(self: BlobStore, data: bytes) -> str:
        raise OSError("disk full")

    monkeypatch.setattr(BlobStore, "put", broken_put)
    with pytest.raises(OSError, match="disk full"):
        _add(lib, rng)
    assert lib.list() == [] and lib.ops_since(0) == []


def test_ops_log_grows_with_every_change(lib: Library, rng: np.random.Generator) -> None:
    a = _add(lib, rng, "a")
    b = _add(lib, rng, "b")
    lib.rename(a.component_id, "a2")
    lib.set_tags(b.component_id, ["x"])
    lib.delete(a.component_id)
    assert _ops(lib) == [
        (1, "add", a.component_id),
        (2, "add", b.component_id),
        (3, "rename", a.component_id),
        (4, "tags", b.component_id),
        (5, "delete", a.component_id),
    ]
    assert lib.last_seq() == 5
    assert [o.seq for o in lib.ops_since(3)] == [4, 5]
    assert [o.seq for o in lib.ops_since(1, limit=2)] == [2, 3]
    times = [o.at for o in lib.ops_since(0)]
    assert times == sorted(times)


def test_ops_are_in_the_same_transaction_as_the_change(
    lib: Library, store: Store, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    rec = _add(lib, rng, "before")

    def broken_log(*args: object) -> None:
        raise RuntimeError("log failed")

    monkeypatch.setattr(lib, "_log", broken_log)
    with pytest.raises(RuntimeError, match="log failed"):
        lib.rename(rec.component_id, "after")
    with pytest.raises(RuntimeError, match="log failed"):
        lib.set_tags(rec.component_id, ["t"])
    with pytest.raises(RuntimeError, match="log failed"):
        lib.delete(rec.component_id)
    with pytest.raises(RuntimeError, match="log failed"):
        _add(lib, rng, "new")
    got = lib.get(rec.component_id)
    assert (got.name, got.tags) == ("before", ())
    assert len(lib) == 1 and lib.last_seq() == 1
    assert store.blobs.digests() == {rec.blob}


def test_concurrent_adds(lib: Library) -> None:
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        local = np.random.default_rng(seed)
        try:
            for i in range(8):
                _add(lib, local, f"t{seed}-{i}", tags=[f"t{seed}"])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(lib) == 32
    assert [seq for seq, _, _ in _ops(lib)] == list(range(1, 33))
    assert all(len(lib.list(tag=f"t{s}")) == 8 for s in range(4))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=45), max_size=20))
def test_check_tags_property(tags: list[str]) -> None:
    try:
        out = check_tags(tags)
    except ParameterError:
        deduped = list(dict.fromkeys(tags))
        assert len(deduped) > 16 or any(
            len(t) > 40 or any(c.isspace() or c == "," for c in t) or not t.isprintable()
            for t in tags
        )
        return
    assert list(out) == list(dict.fromkeys(tags))
    assert len(out) <= 16
    assert all(1 <= len(t) <= 40 and "," not in t and not any(c.isspace() for c in t)
               for t in out)
