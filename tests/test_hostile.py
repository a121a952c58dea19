"""Hostile input: malformed audio, fuzzed frames of every type, names that try to escape.

None may crash the server, get an "internal" error (an unhandled exception), touch another
session, or put a file anywhere but the blob folder.
"""

from __future__ import annotations

import io
import re
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient
from wsclient import Socket, wav_bytes

from residue import protocol
from residue.config import Settings
from residue.store import Store
from residue.transport.app import create_app
from residue.transport.codec import decode_client, request_id_of

# ---------------------------------------------------------------------------------------------
# a corpus of malformed audio, made here


def _wav_header(*, channels: int, sr: int, bits: int, data_bytes: int, fmt: int = 1) -> bytes:
    block = channels * bits // 8
    fmt_chunk = struct.pack(
        "<4sIHHIIHH", b"fmt ", 16, fmt, channels, sr, (sr * block) & 0xFFFFFFFF, block, bits
    )
    riff_size = min(4 + len(fmt_chunk) + 8 + data_bytes, 0xFFFFFFFF)
    return (
        struct.pack("<4sI4s", b"RIFF", riff_size, b"WAVE")
        + fmt_chunk
        + struct.pack("<4sI", b"data", data_bytes)
    )


def _float_wav(values: np.ndarray, sr: int = 22050) -> bytes:
    body = values.astype("<f4").tobytes()
    return _wav_header(channels=1, sr=sr, bits=32, data_bytes=len(body), fmt=3) + body


def _corpus(rng: np.random.Generator) -> dict[str, bytes]:
    good = wav_bytes(seconds=1.0)
    pcm = (rng.standard_normal(22050) * 3000).astype("<i2").tobytes()
    nan = np.full(22050, 0.1, np.float32)
    nan[100] = np.nan
    inf = np.full(22050, 0.1, np.float32)
    inf[5000] = np.inf
    def noise(n: int) -> bytes:
        return rng.integers(0, 256, n, dtype=np.uint8).tobytes()

    return {
        "truncated.wav": good[: len(good) // 2],
        "header-only.wav": good[:44],
        "lying-gigabytes.wav": _wav_header(channels=1, sr=44100, bits=16, data_bytes=0xFFFFFFF0)
        + pcm[:4096],
        "lying-gigabytes-float.wav": _wav_header(
            channels=2, sr=48000, bits=32, data_bytes=0xFFFFFF00, fmt=3
        ) + bytes(8192),
        "nan.wav": _float_wav(nan),
        "inf.wav": _float_wav(inf),
        "zero-samples.wav": _wav_header(channels=1, sr=44100, bits=16, data_bytes=0),
        "255-channels.wav": _wav_header(channels=255, sr=44100, bits=16, data_bytes=255 * 2 * 100)
        + bytes(255 * 2 * 100),
        "1-hz.wav": _wav_header(channels=1, sr=1, bits=16, data_bytes=len(pcm)) + pcm,
        "0-hz.wav": _wav_header(channels=1, sr=0, bits=16, data_bytes=len(pcm)) + pcm,
        "4-ghz.wav": _wav_header(channels=1, sr=0xFFFFFFFF, bits=16, data_bytes=len(pcm)) + pcm,
        "random.wav": noise(50_000),
        "random-riff.wav": b"RIFF\xff\xff\xff\xffWAVE" + noise(9000),
        "id3-junk.mp3": b"ID3\x04\x00\x00\x00\x00\x00\x00" + noise(9000),
        "ogg-junk.ogg": b"OggS" + bytes(22) + noise(9000),
        "bad-bits.wav": _wav_header(channels=1, sr=44100, bits=3, data_bytes=1000) + bytes(1000),
        "empty.wav": b"",
    }


# ---------------------------------------------------------------------------------------------
# the app: a session under attack and the default session that must stay untouched


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient[Any]]:
    data = tmp_path_factory.mktemp("hostile")
    settings = Settings(
        data_dir=data,
        static_dir=Path("/nonexistent"),
        demo=False,
        max_upload_bytes=2_000_000,
        max_duration_s=30.0,
        max_frame_bytes=64_000,
        max_frames_per_s=10_000.0,
        frame_burst=10_000,
    )
    with TestClient(app=create_app(settings)) as c:
        yield c


@pytest.fixture(scope="module")
def world(app: TestClient[Any]) -> dict[str, Any]:
    """Session "attacked" (a guest link, a sound, a decomposition, a component) and the default
    session with its own sound and component."""
    store: Store = app.app.state.ctx.store
    attacked = store.sessions.create("attacked").session_id
    guest, _ = store.sessions.issue(attacked, role="guest")
    ids: dict[str, Any] = {"session": attacked, "guest": guest}
    for where, headers in (("default", {}), ("attacked", {"Authorization": f"Bearer {guest}"})):
        r = app.post("/api/sounds", params={"name": f"{where}.wav"}, content=wav_bytes(0.5),
                     headers=headers)
        assert r.status_code == 201, r.text
        with app.websocket_connect("/ws") as ws:
            s = Socket(ws)
            s.hello()
            if where == "attacked":
                s.request(protocol.Join(request_id=2, token=guest, name="x"), protocol.Joined)
            dec = s.request(protocol.Decompose(request_id=3, sound_id=r.json()["sound_id"],
                                               n_components=2, n_iter=5), protocol.Decomposition)
            saved = s.request(protocol.SaveComponent(request_id=4,
                                                     decomposition_id=dec.decomposition_id,
                                                     unit=0, name=f"{where} c", tags=["t"]),
                              protocol.LibraryChanged)
        ids[where] = {"sound": r.json()["sound_id"], "decomposition": dec.decomposition_id,
                      "component": saved.component_id}
    return ids


def _state(store: Store) -> Any:
    """Everything of a session that an attack must not change."""
    return (
        [(r.sound_id, r.name, r.blob) for r in store.sounds.list()],
        [(r.component_id, r.name, r.tags, r.version) for r in store.library.list()],
        store.library.last_seq(),
    )


def _data_dir_is_clean(app: TestClient[Any]) -> None:
    store: Store = app.app.state.ctx.store
    root = store.db.path.parent
    allowed = {"residue.db", "residue.db-wal", "residue.db-shm", "blobs", "owner-token"}
    assert {p.name for p in root.iterdir()} <= allowed, sorted(p.name for p in root.iterdir())
    for folder in (root / "blobs").iterdir():
        assert re.fullmatch(r"[0-9a-f]{2}", folder.name), folder
        for f in folder.iterdir():
            assert re.fullmatch(r"[0-9a-f]{62}", f.name), f
    assert store.db.integrity_ok()


# ---------------------------------------------------------------------------------------------
# malformed audio


def test_malformed_audio_is_refused_clearly(
    app: TestClient[Any], world: dict[str, Any], rng: np.random.Generator
) -> None:
    store: Store = app.app.state.ctx.store
    before = _state(store)
    for name, data in _corpus(rng).items():
        r = app.post("/api/sounds", params={"name": name}, content=data)
        assert r.status_code in (201, 400, 413), (name, r.status_code, r.text)
        body = r.json()
        if r.status_code != 201:
            assert body["code"] in {"bad_audio", "limit_exceeded"}, (name, body)
            assert name.split(".")[0][:4] in body["message"] or body["message"], body
        else:  # only a truncated file may pass: what decoded is kept
            assert name == "truncated.wav", (name, body)
            assert 0.1 <= body["duration_s"] < 0.6
        assert app.get("/api/health").status_code == 200
    after = _state(store)
    assert after[1:] == before[1:]  # the library is untouched
    good = app.post("/api/sounds", params={"name": "fine.wav"}, content=wav_bytes(0.5))
    assert good.status_code == 201
    _data_dir_is_clean(app)


def test_specific_refusals(app: TestClient[Any], rng: np.random.Generator) -> None:
    corpus = _corpus(rng)
    # A header that lies about its length is read for what the file holds (libsndfile clamps
    # it), never allocated as declared.
    expect = {
        "lying-gigabytes.wav": ("bad_audio limit_exceeded", "ms"),
        "nan.wav": ("bad_audio", "NaN"),
        "inf.wav": ("bad_audio", "infinite"),
        "zero-samples.wav": ("bad_audio", "wav"),
        "255-channels.wav": ("bad_audio", "channels"),
        "4-ghz.wav": ("bad_audio", "wav"),
        "1-hz.wav": ("bad_audio", "sample rate"),
        "random.wav": ("bad_audio", "not an audio file"),
    }
    for name, (codes, words) in expect.items():
        body = app.post("/api/sounds", params={"name": name}, content=corpus[name]).json()
        assert body["code"] in codes.split() and words in body["message"], (name, body)


@pytest.mark.parametrize(
    "name", ["../../../../tmp/evil.wav", "..\\..\\evil.wav", "a/b/c.wav", "..", "/etc/passwd",
             "nul\x00byte.wav", "x" * 5000]
)
def test_names_never_reach_the_file_system(app: TestClient[Any], name: str) -> None:
    r = app.post("/api/sounds", params={"name": name}, content=wav_bytes(0.3))
    assert r.status_code == 201, r.text
    stored = r.json()["name"]
    assert "/" not in stored and "\\" not in stored and stored not in {"..", "."}
    assert "\x00" not in stored and len(stored) <= 120
    _data_dir_is_clean(app)


def test_hostile_midi_and_ids_over_the_socket(app: TestClient[Any], world: dict[str, Any],
                                              rng: np.random.Generator) -> None:
    with app.websocket_connect("/ws") as ws:
        s = Socket(ws)
        s.hello()
        for i, data in enumerate([b"", b"MThd", b"MThd\x00\x00\x00\x06\x00\x01\xff\xff\x00\x60",
                                  rng.integers(0, 256, 5000, np.uint8).tobytes()]):
            reply = s.request(protocol.ImportMidi(request_id=10 + i, data=data),
                              protocol.MidiParts)
            assert isinstance(reply, protocol.Error) and reply.code != "internal", reply
        for i, bad in enumerate(["..", "../x", "a/b", "%2e%2e", "x" * 65]):
            s.ws.send_bytes(msgspec.msgpack.encode(
                {"type": "get_spectrogram", "request_id": 40 + i, "sound_id": bad}))
            reply = s.until(40 + i, protocol.SpectrogramInfo)
            assert isinstance(reply, protocol.Error) and reply.code in {"bad_frame", "not_found"}
        r = app.get("/api/decompositions/..%2F..%2Fetc/units/0.wav")
        assert r.status_code in (400, 404)


# ---------------------------------------------------------------------------------------------
# the frame decoder


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=400))
def test_decoder_never_raises_anything_but_msgspec_errors(data: bytes) -> None:
    assert isinstance(request_id_of(data), int)
    try:
        decode_client(data)
    except (msgspec.DecodeError, msgspec.ValidationError):
        pass


def test_decoder_survives_deep_nesting() -> None:
    deep = b"\x82\xa4type\xa4join\xaarequest_id" + b"\x91" * 200_000 + b"\x00"
    assert request_id_of(deep) == 0
    with pytest.raises((msgspec.DecodeError, msgspec.ValidationError)):
        decode_client(deep)
    with pytest.raises(msgspec.DecodeError):
        decode_client(b"\x91" * 200_000 + b"\x00")


# ---------------------------------------------------------------------------------------------
# every request type, fuzzed through the real socket handler

CLIENT_TYPES: dict[str, Any] = {
    cls.__struct_config__.tag: cls for cls in getattr(protocol.ClientFrame, "__args__", ())
}
NAMES = ["../../etc/passwd", "..", "a/b", "C:\\x", "\x00", "ok name", "x" * 130, ""]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.binary(max_size=64),
    st.sampled_from(NAMES),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


def _plausible(field: str, ids: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values that pass decoding often, so the handlers behind it are reached."""
    mine = ids["attacked"]
    theirs = ids["default"]
    pool = {
        "sound_id": [mine["sound"], theirs["sound"], "nope"],
        "decomposition_id": [mine["decomposition"], theirs["decomposition"], "nope"],
        "component_id": [mine["component"], theirs["component"], "nope"],
        "session_id": [ids["session"], "default", "nope"],
        "invite_id": ["nope"],
        "unit": [0, 1, 63],
        "n_components": [1, 2, 64],
        "n_iter": [1, 3],
        "limit": [1, 100],
        "since": [0, 1, 10**9],
        "tag": ["t", "x", "a/b"],
        "tags": [["t"], ["a", "b"], []],
        "name": ["n", "../n", "x" * 120],
        "query": ["", "c"],
        "token": [ids["guest"], "A" * 43],
        "component": [
            {"kind": "library", "component_id": theirs["component"]},
            {"kind": "unit", "decomposition_id": theirs["decomposition"], "unit": 0},
            {"kind": "library", "component_id": mine["component"]},
        ],
        "spec": [
            {"decomposition_id": mine["decomposition"], "units": [0]},
            {"decomposition_id": theirs["decomposition"]},
            {"decomposition_id": mine["decomposition"],
             "edits": [{"unit": 0, "component": {"kind": "library",
                                                   "component_id": theirs["component"]}}]},
        ],
        "source": [{"kind": "sound", "sound_id": theirs["sound"]},
                   {"kind": "unit", "decomposition_id": mine["decomposition"], "unit": 1}],
    }.get(field)
    return VALUES if pool is None else st.one_of(st.sampled_from(pool), VALUES)


@st.composite
def _frames(draw: st.DrawFn, ids: dict[str, Any], tag: str | None = None) -> dict[str, Any]:
    tag = tag or draw(st.sampled_from(sorted(CLIENT_TYPES)))
    cls = CLIENT_TYPES[tag]
    frame: dict[str, Any] = {"type": tag}
    for field in cls.__struct_fields__:
        if field == "request_id":
            frame[field] = draw(st.one_of(st.integers(1000, 2**32 - 1), VALUES))
        elif draw(st.integers(0, 9)) < 8:
            frame[field] = draw(_plausible(field, ids))
    if draw(st.integers(0, 19)) == 0:
        frame[draw(st.text(max_size=8))] = draw(VALUES)
    return frame


def test_fuzz_every_request_type(app: TestClient[Any], world: dict[str, Any]) -> None:
    store: Store = app.app.state.ctx.store
    default_before = _state(store)
    seen_types: set[str] = set()
    problems: list[Any] = []

    def attack(frames: list[dict[str, Any]]) -> None:
        # The attacker is another machine (a proxy header makes it so): a tokenless join must
        # not let it into the local owner's default session.
        with app.websocket_connect("/ws", headers={"X-Forwarded-For": "203.0.113.9"}) as ws:
            s = Socket(ws)
            s.hello()
            s.request(protocol.Join(request_id=2, token=world["guest"], name="fuzz"),
                      protocol.Joined)
            for f in frames:
                seen_types.add(f["type"])
                try:
                    data = msgspec.msgpack.encode(f)
                except (TypeError, OverflowError, msgspec.EncodeError):
                    continue
                s.ws.send_bytes(data)
            # the socket still answers (a join elsewhere may have moved it out: then it says so)
            reply = s.request(protocol.ListSounds(request_id=7), protocol.Sounds)
            assert isinstance(reply, (protocol.Sounds, protocol.Error)), reply
            if isinstance(reply, protocol.Sounds):
                assert world["default"]["sound"] not in {x.sound_id for x in reply.sounds}
            problems.extend(e for e in s.log + s.events
                            if isinstance(e, protocol.Error) and e.code == "internal")

    quick = settings(max_examples=6, deadline=None, database=None, derandomize=True,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    for tag in sorted(CLIENT_TYPES):
        quick(given(st.lists(_frames(world, tag), min_size=1, max_size=3))(
            lambda frames: attack(frames)))()
    mixed = settings(max_examples=60, deadline=None, database=None, derandomize=True,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    mixed(given(st.lists(_frames(world), min_size=2, max_size=8))(
        lambda frames: attack(frames)))()

    assert not problems, problems
    assert seen_types == set(CLIENT_TYPES), set(CLIENT_TYPES) - seen_types
    assert _state(store) == default_before, "the fuzzer changed the default session"
    assert app.get("/api/health").status_code == 200
    _data_dir_is_clean(app)


def test_no_internal_errors_in_replies(app: TestClient[Any], world: dict[str, Any]) -> None:
    """Frames that decode but make no sense get plain errors, never an internal one."""
    mine = world["attacked"]
    frames: list[protocol.Frame] = [
        protocol.Audition(request_id=10, spec=protocol.RenderSpec(
            decomposition_id=mine["decomposition"], units=[63])),
        protocol.PlanRemix(request_id=11, decomposition_id=mine["decomposition"], tag="zz"),
        protocol.FindSimilar(request_id=12, component=protocol.UnitComponent(
            decomposition_id=mine["decomposition"], unit=60)),
        protocol.Decompose(request_id=13, sound_id=mine["sound"], start_s=0.0, end_s=0.01),
        protocol.PlaySound(request_id=14, sound_id=mine["sound"], start_s=86_000.0),
        protocol.Resume(request_id=15, since=2**53),
        protocol.SaveComponent(request_id=16, decomposition_id=mine["decomposition"], unit=0,
                               name="x", tags=[f"t{i}" for i in range(16)]),
    ]
    with app.websocket_connect("/ws") as ws:
        s = Socket(ws)
        s.hello()
        s.request(protocol.Join(request_id=2, token=world["guest"]), protocol.Joined)
        for f in frames:
            s.send(f)
        replies = s.collect({f.request_id for f in frames}, protocol.AudioEnd,  # type: ignore[attr-defined]
                            protocol.RemixPlan, protocol.Library, protocol.Decomposition,
                            protocol.LibraryOps, protocol.LibraryChanged)
        for rid, reply in replies.items():
            internal = isinstance(reply, protocol.Error) and reply.code == "internal"
            assert not internal, (rid, reply)
    buf = io.BytesIO()
    sf.write(buf, np.zeros(10), 8000, format="WAV")  # a real file, far too short
    assert app.post("/api/sounds", content=buf.getvalue()).json()["code"] == "bad_audio"
