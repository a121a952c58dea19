from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from residue.errors import NotFound, ParameterError
from residue.store import Store
from residue.store.sounds import SoundRecord


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "data")
    yield s
    s.close()


@pytest.fixture
def sound(store: Store, rng: np.random.Generator) -> SoundRecord:
    return store.sounds.add(
        rng.standard_normal((2, 2000)).astype(np.float32), sr=44100, name="s", origin="upload"
    )


def _arrays(rng: np.random.Generator, k: int = 4) -> dict[str, np.ndarray]:
    return {
        "W": rng.random((1025, k), dtype=np.float32),
        "H": rng.random((2, k, 40), dtype=np.float32),
        "loss": np.linspace(10, 1, 25).astype(np.float32),
    }


def _key(settings: dict[str, object]) -> str:
    return json.dumps(settings, sort_keys=True, separators=(",", ":"))


def test_add_find_load(store: Store, sound: SoundRecord, rng: np.random.Generator) -> None:
    settings: dict[str, object] = {"n_components": 4, "beta": 1.0, "start": 0, "stop": 2000}
    arrays = _arrays(rng)
    rec = store.decompositions.add(sound.sound_id, key=_key(settings), settings=settings,
                                   arrays=arrays)
    assert rec.sound_id == sound.sound_id and rec.settings == settings
    assert store.decompositions.find(sound.sound_id, _key(settings)) == rec
    assert store.decompositions.get(rec.decomposition_id) == rec
    got, out = store.decompositions.load(rec.decomposition_id)
    assert got == rec and list(out) == ["W", "H", "loss"]
    for name, a in arrays.items():
        assert out[name].dtype == a.dtype and out[name].shape == a.shape
        np.testing.assert_array_equal(out[name], a)


def test_find_misses(store: Store, sound: SoundRecord, rng: np.random.Generator) -> None:
    store.decompositions.add(sound.sound_id, key="a", settings={}, arrays=_arrays(rng))
    assert store.decompositions.find(sound.sound_id, "b") is None
    assert store.decompositions.find("other", "a") is None


def test_same_key_keeps_the_first(
    store: Store, sound: SoundRecord, rng: np.random.Generator
) -> None:
    first = store.decompositions.add(sound.sound_id, key="k", settings={}, arrays=_arrays(rng))
    again = store.decompositions.add(sound.sound_id, key="k", settings={}, arrays=_arrays(rng))
    assert again == first
    assert store.blobs.digests() == {sound.blob, first.blob}  # the second blob was released


def test_for_sound_newest_first(store: Store, sound: SoundRecord, rng: np.random.Generator) -> None:
    ids = [
        store.decompositions.add(sound.sound_id, key=str(i), settings={"i": i},
                                 arrays=_arrays(rng, 2)).decomposition_id
        for i in range(3)
    ]
    assert [r.decomposition_id for r in store.decompositions.for_sound(sound.sound_id)] == ids[::-1]
    assert store.decompositions.for_sound("unknown") == []


def test_persists_across_reopen(tmp_path: Path, rng: np.random.Generator) -> None:
    arrays = _arrays(rng)
    with Store.open(tmp_path / "d") as s:
        snd = s.sounds.add(np.zeros((1, 100), np.float32), sr=8000, name="s", origin="upload")
        rec = s.decompositions.add(snd.sound_id, key="k", settings={"a": [1, 2]}, arrays=arrays)
    with Store.open(tmp_path / "d") as s:
        got, out = s.decompositions.load(rec.decomposition_id)
        assert got == rec
        np.testing.assert_array_equal(out["H"], arrays["H"])


def test_missing_sound(store: Store, rng: np.random.Generator) -> None:
    with pytest.raises(NotFound, match="no sound 'ghost'"):
        store.decompositions.add("ghost", key="k", settings={}, arrays=_arrays(rng))
    assert store.blobs.digests() == set()


def test_not_found(store: Store) -> None:
    for call in (store.decompositions.get, store.decompositions.load,
                 store.decompositions.delete):
        with pytest.raises(NotFound, match="no decomposition 'nope'"):
            call("nope")


def test_delete(store: Store, sound: SoundRecord, rng: np.random.Generator) -> None:
    rec = store.decompositions.add(sound.sound_id, key="k", settings={}, arrays=_arrays(rng))
    store.decompositions.delete(rec.decomposition_id)
    assert store.decompositions.find(sound.sound_id, "k") is None
    assert store.blobs.digests() == {sound.blob}


def test_deleting_the_sound_cascades(
    store: Store, sound: SoundRecord, rng: np.random.Generator
) -> None:
    rec = store.decompositions.add(sound.sound_id, key="k", settings={}, arrays=_arrays(rng))
    store.sounds.delete(sound.sound_id)
    with pytest.raises(NotFound):
        store.decompositions.get(rec.decomposition_id)
    assert store.blobs.digests() == set()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"key": ""}, "key must be a string of 1 to 4096"),
        ({"key": "x" * 4097}, "key must be a string of 1 to 4096"),
        ({"settings": [1]}, "settings must be a dict"),
        ({"settings": {"x": float("nan")}}, "settings must be JSON-serialisable"),
        ({"arrays": {}}, "non-empty dict"),
        ({"arrays": {"W": [1.0]}}, "must be a numpy array"),
        ({"arrays": {"not ok": np.zeros(2)}}, "must be a Python identifier"),
        ({"arrays": {"S": np.array(["a", "b"])}}, "only numbers are stored"),
        ({"arrays": {"O": np.array([None], dtype=object)}}, "only numbers are stored"),
    ],
)
def test_add_validation(store: Store, sound: SoundRecord, kwargs: dict[str, object],
                        match: str) -> None:
    args: dict[str, object] = {"key": "k", "settings": {}, "arrays": {"W": np.zeros(3)}}
    args.update(kwargs)
    with pytest.raises(ParameterError, match=match):
        store.decompositions.add(sound.sound_id, **args)  # type: ignore[arg-type]
    assert store.decompositions.for_sound(sound.sound_id) == []
    assert store.blobs.digests() == {sound.blob}
