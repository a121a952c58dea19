"""The server end to end through Litestar's TestClient: real msgpack frames over a WebSocket."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest
import soundfile as sf
from litestar.testing import TestClient

from residue import protocol
from residue.config import Settings
from residue.transport.app import create_app

ENC = msgspec.msgpack.Encoder()
DEC = msgspec.msgpack.Decoder(protocol.ServerFrame)


class Socket:
    """A test client's view of the socket: send frames, read replies, collect PCM."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.next_id = 100

    def send(self, frame: protocol.Frame) -> None:
        self.ws.send_bytes(ENC.encode(frame))

    def rid(self) -> int:
        self.next_id += 1
        return self.next_id

    def recv(self) -> protocol.Frame | tuple[dict[str, int], np.ndarray]:
        data = self.ws.receive_bytes()
        if data[:2] == protocol.PCM_MAGIC:
            _, _, channels, request_id, index, sr = protocol.PCM_HEADER.unpack_from(data)
            pcm = np.frombuffer(data, dtype="<f4", offset=protocol.PCM_HEADER.size)
            return {"request_id": request_id, "index": index, "channels": channels, "sr": sr}, pcm
        return DEC.decode(data)

    def until(self, request_id: int, *types: type) -> list[Any]:
        """Read frames of ``request_id`` until one of ``types`` (or an error) arrives."""
        seen: list[Any] = []
        for _ in range(10_000):
            frame = self.recv()
            if isinstance(frame, tuple):
                if frame[0]["request_id"] == request_id:
                    seen.append(frame)
                continue
            if getattr(frame, "request_id", None) != request_id:
                continue
            seen.append(frame)
            if isinstance(frame, (protocol.Error, *types)):
                return seen
        raise AssertionError("no reply")

    def request(self, frame: protocol.Frame, *types: type) -> Any:
        self.send(frame)
        return self.until(frame.request_id, *types)[-1]  # type: ignore[attr-defined]

    def audio(self, frame: protocol.Frame) -> tuple[protocol.AudioStart, np.ndarray]:
        self.send(frame)
        seen = self.until(frame.request_id, protocol.AudioEnd)  # type: ignore[attr-defined]
        assert not isinstance(seen[-1], protocol.Error), seen[-1]
        start = next(f for f in seen if isinstance(f, protocol.AudioStart))
        chunks = [f[1] for f in seen if isinstance(f, tuple)]
        indices = [f[0]["index"] for f in seen if isinstance(f, tuple)]
        assert indices == list(range(len(indices)))
        pcm = np.concatenate(chunks).reshape(-1, start.channels).T
        assert pcm.shape[1] == start.n_frames
        return start, pcm


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient[Any]]:
    data = tmp_path_factory.mktemp("data")
    settings = Settings(
        data_dir=data,
        max_upload_bytes=3_000_000,
        max_duration_s=60.0,
        max_frame_bytes=64_000,
        static_dir=Path("/nonexistent"),
    )
    with TestClient(app=create_app(settings)) as c:
        yield c


@pytest.fixture
def sock(client: TestClient[Any]) -> Iterator[Socket]:
    with client.websocket_connect("/ws") as ws:
        s = Socket(ws)
        reply = s.request(
            protocol.Hello(request_id=1, protocol_version=protocol.PROTOCOL_VERSION),
            protocol.Welcome,
        )
        assert isinstance(reply, protocol.Welcome)
        yield s


def demo_sound(sock: Socket, name: str = "demo drums") -> protocol.SoundInfo:
    sounds = sock.request(protocol.ListSounds(request_id=sock.rid()), protocol.Sounds)
    return next(s for s in sounds.sounds if s.name == name)


def decomposed(sock: Socket, sound_id: str, k: int = 4, **kw: Any) -> protocol.Decomposition:
    frame = protocol.Decompose(
        request_id=sock.rid(), sound_id=sound_id, n_components=k, n_iter=60, **kw
    )
    reply = sock.request(frame, protocol.Decomposition)
    assert isinstance(reply, protocol.Decomposition), reply
    return reply


# --- the handshake and bad frames ------------------------------------------------------------


def test_first_frame_must_be_hello(client: TestClient[Any]) -> None:
    with client.websocket_connect("/ws") as ws:
        s = Socket(ws)
        reply = s.request(protocol.ListSounds(request_id=5), protocol.Sounds)
        assert isinstance(reply, protocol.Error) and "hello" in reply.message


def test_welcome_says_where_a_phone_finds_the_server(client: TestClient[Any]) -> None:
    with client.websocket_connect("/ws") as ws:
        welcome = Socket(ws).request(
            protocol.Hello(request_id=1, protocol_version=protocol.PROTOCOL_VERSION),
            protocol.Welcome,
        )
    # the test server listens on this machine only, over http: no phone link, and why
    assert welcome.phone_url is None
    assert "RESIDUE_HOST=0.0.0.0" in welcome.phone_note


def test_wrong_protocol_version(client: TestClient[Any]) -> None:
    with client.websocket_connect("/ws") as ws:
        s = Socket(ws)
        reply = s.request(protocol.Hello(request_id=1, protocol_version=99), protocol.Welcome)
        assert isinstance(reply, protocol.Error) and reply.code == "unsupported"


def test_malformed_msgpack_keeps_socket(sock: Socket) -> None:
    sock.ws.send_bytes(b"\xc1\xff\x00garbage")
    reply = sock.recv()
    assert isinstance(reply, protocol.Error) and reply.code == "bad_frame"
    assert isinstance(
        sock.request(protocol.ListSounds(request_id=sock.rid()), protocol.Sounds), protocol.Sounds
    )


def test_unknown_frame_type(sock: Socket) -> None:
    sock.ws.send_bytes(ENC.encode({"type": "format_disk", "request_id": 42}))
    reply = sock.until(42)[-1]
    assert isinstance(reply, protocol.Error) and reply.code == "bad_frame"


def test_unknown_field_and_out_of_range(sock: Socket) -> None:
    sock.ws.send_bytes(ENC.encode({"type": "list_sounds", "request_id": 43, "extra": 1}))
    assert sock.until(43)[-1].code == "bad_frame"
    sock.ws.send_bytes(
        ENC.encode({"type": "decompose", "request_id": 44, "sound_id": "x", "n_components": 0})
    )
    reply = sock.until(44)[-1]
    assert reply.code == "bad_frame" and "n_components" in reply.message


def test_oversized_frame(sock: Socket) -> None:
    sock.ws.send_bytes(ENC.encode({"type": "list_sounds", "request_id": 45, "pad": "x" * 70_000}))
    reply = sock.until(45)[-1]
    assert isinstance(reply, protocol.Error) and "limit" in reply.message
    assert isinstance(
        sock.request(protocol.ListSounds(request_id=sock.rid()), protocol.Sounds), protocol.Sounds
    )


def test_text_frame(sock: Socket) -> None:
    sock.ws.send_text("hello?")
    reply = sock.recv()
    assert isinstance(reply, protocol.Error) and "binary" in reply.message


def test_unknown_sound(sock: Socket) -> None:
    reply = sock.request(
        protocol.GetSpectrogram(request_id=sock.rid(), sound_id="nope"), protocol.SpectrogramTile
    )
    assert isinstance(reply, protocol.Error) and reply.code == "not_found"


# --- sounds, spectrograms, decompositions ----------------------------------------------------


def test_demo_loops_exist(sock: Socket) -> None:
    sounds = sock.request(protocol.ListSounds(request_id=sock.rid()), protocol.Sounds).sounds
    names = {s.name for s in sounds}
    assert {"demo drums", "demo bass", "demo chords", "demo pad"} <= names
    drums = next(s for s in sounds if s.name == "demo drums")
    assert drums.tempo_bpm == 120.0 and drums.channels == 2


def test_spectrogram_tiles(sock: Socket) -> None:
    sound = demo_sound(sock)
    rid = sock.rid()
    sock.send(protocol.GetSpectrogram(request_id=rid, sound_id=sound.sound_id))
    frames = sock.until(rid, protocol.SpectrogramTile)
    info = frames[0]
    assert isinstance(info, protocol.SpectrogramInfo)
    tiles = [f for f in frames if isinstance(f, protocol.SpectrogramTile)]
    while not tiles[-1].last:
        tiles.append(sock.until(rid, protocol.SpectrogramTile)[-1])
    assert sum(t.n_frames for t in tiles) == info.n_frames
    assert all(len(t.data) == t.n_rows * t.n_frames for t in tiles)
    img = np.concatenate(
        [np.frombuffer(t.data, np.uint8).reshape(t.n_rows, t.n_frames) for t in tiles], axis=1
    )
    assert img.max() == 255 and img.min() < 50  # real dynamics, not a flat image


def test_decompose_progress_then_result_then_cache(sock: Socket) -> None:
    sound = demo_sound(sock, "demo chords")
    rid = sock.rid()
    sock.send(
        protocol.Decompose(
            request_id=rid, sound_id=sound.sound_id, n_components=5, n_iter=80, seed=3
        )
    )
    frames = sock.until(rid, protocol.Decomposition)
    result = frames[-1]
    assert isinstance(result, protocol.Decomposition) and not result.cached
    assert any(isinstance(f, protocol.JobProgress) for f in frames)
    comps = np.frombuffer(result.components, "<f4").reshape(5, result.n_rows)
    acts = np.frombuffer(result.activations, "<f4").reshape(5, result.n_frames)
    assert np.all(comps >= 0) and np.allclose(comps.max(axis=1), 1.0)
    assert np.all(acts >= 0) and np.isfinite(acts).all()
    again = sock.request(
        protocol.Decompose(
            request_id=sock.rid(), sound_id=sound.sound_id, n_components=5, n_iter=80, seed=3
        ),
        protocol.Decomposition,
    )
    assert again.cached and again.decomposition_id == result.decomposition_id


def test_decompose_region_and_bad_region(sock: Socket) -> None:
    sound = demo_sound(sock, "demo bass")
    dec = decomposed(sock, sound.sound_id, k=3, start_s=1.0, end_s=3.0)
    assert dec.start_s == pytest.approx(1.0) and dec.end_s == pytest.approx(3.0)
    assert dec.frame_offset == round(44100 / 512)
    bad = sock.request(
        protocol.Decompose(request_id=sock.rid(), sound_id=sound.sound_id, start_s=100.0),
        protocol.Decomposition,
    )
    assert isinstance(bad, protocol.Error) and "past the end" in bad.message


def test_cancel_decomposition(sock: Socket) -> None:
    sound = demo_sound(sock, "demo pad")
    rid = sock.rid()
    sock.send(
        protocol.Decompose(
            request_id=rid, sound_id=sound.sound_id, n_components=16, n_iter=2000, seed=9
        )
    )
    first = sock.until(rid, protocol.JobProgress)[-1]
    assert isinstance(first, protocol.JobProgress)
    sock.send(protocol.Cancel(request_id=sock.rid(), target_request_id=rid))
    end = sock.until(rid, protocol.Decomposition)[-1]
    assert isinstance(end, protocol.Error) and end.code == "cancelled"


# --- audio -----------------------------------------------------------------------------------


def test_units_sum_back_to_the_sound(sock: Socket) -> None:
    sound = demo_sound(sock)
    dec = decomposed(sock, sound.sound_id)
    _, original = sock.audio(protocol.PlaySound(request_id=sock.rid(), sound_id=sound.sound_id))
    start, mix = sock.audio(
        protocol.Audition(
            request_id=sock.rid(), spec=protocol.RenderSpec(decomposition_id=dec.decomposition_id)
        )
    )
    assert start.sample_rate == 44100 and start.channels == 2
    assert mix.shape == original.shape
    np.testing.assert_allclose(mix, original, atol=1e-4 * np.abs(original).max() + 1e-6)
    parts = [
        sock.audio(
            protocol.Audition(
                request_id=sock.rid(),
                spec=protocol.RenderSpec(decomposition_id=dec.decomposition_id, units=[k]),
            )
        )[1]
        for k in range(dec.n_components)
    ]
    np.testing.assert_allclose(sum(parts), original, atol=1e-3)
    assert all(np.abs(p).max() > 0 for p in parts)


def test_swap_changes_the_sound_and_keeps_length(sock: Socket) -> None:
    sound = demo_sound(sock)
    dec = decomposed(sock, sound.sound_id)
    solo = protocol.RenderSpec(decomposition_id=dec.decomposition_id, units=[0])
    _, before = sock.audio(protocol.Audition(request_id=sock.rid(), spec=solo))
    other = decomposed(sock, demo_sound(sock, "demo chords").sound_id, k=3)
    swapped = protocol.RenderSpec(
        decomposition_id=dec.decomposition_id,
        units=[0],
        edits=[
            protocol.UnitEdit(
                unit=0,
                component=protocol.UnitComponent(decomposition_id=other.decomposition_id, unit=1),
            )
        ],
    )
    _, after = sock.audio(protocol.Audition(request_id=sock.rid(), spec=swapped))
    assert after.shape == before.shape
    assert np.abs(after - before).max() > 0.01
    assert np.isfinite(after).all()


def test_audition_bad_unit(sock: Socket) -> None:
    dec = decomposed(sock, demo_sound(sock).sound_id)
    spec = protocol.RenderSpec(decomposition_id=dec.decomposition_id, units=[9])
    reply = sock.request(protocol.Audition(request_id=sock.rid(), spec=spec), protocol.AudioEnd)
    assert isinstance(reply, protocol.Error) and "unit=9" in reply.message


# --- the library -----------------------------------------------------------------------------


def test_library_lifecycle(sock: Socket, client: TestClient[Any]) -> None:
    dec = decomposed(sock, demo_sound(sock, "demo bass").sound_id, k=3)
    saved = sock.request(
        protocol.SaveComponent(
            request_id=sock.rid(),
            decomposition_id=dec.decomposition_id,
            unit=1,
            name="low thing",
            tags=["bass"],
        ),
        protocol.LibraryChanged,
    )
    assert (
        isinstance(saved, protocol.LibraryChanged) and saved.op == "add" and saved.item is not None
    )
    cid = saved.item.component_id
    assert saved.item.provenance.unit == 1 and saved.item.provenance.sound_name == "demo bass"
    assert len(saved.item.curve) == protocol.CURVE_ROWS * 4

    # another tab sees the change as an event
    with client.websocket_connect("/ws") as ws2:
        other = Socket(ws2)
        other.request(protocol.Hello(request_id=1, protocol_version=1), protocol.Welcome)
        renamed = sock.request(
            protocol.RenameComponent(request_id=sock.rid(), component_id=cid, name="sub"),
            protocol.LibraryChanged,
        )
        assert renamed.item.name == "sub"
        event = other.until(0, protocol.LibraryChanged)[-1]
        assert event.op == "rename" and event.item.name == "sub"

    tagged = sock.request(
        protocol.TagComponent(request_id=sock.rid(), component_id=cid, tags=["bass", "keep"]),
        protocol.LibraryChanged,
    )
    assert tagged.item.tags == ["bass", "keep"]
    listing = sock.request(
        protocol.ListLibrary(request_id=sock.rid(), tag="keep"), protocol.Library
    )
    assert [i.component_id for i in listing.items] == [cid]
    assert sock.request(
        protocol.ListLibrary(request_id=sock.rid(), query="SU"), protocol.Library
    ).items
    assert not sock.request(
        protocol.ListLibrary(request_id=sock.rid(), query="zzz"), protocol.Library
    ).items

    for k in (0, 2):
        sock.request(
            protocol.SaveComponent(
                request_id=sock.rid(), decomposition_id=dec.decomposition_id, unit=k, name=f"u{k}"
            ),
            protocol.LibraryChanged,
        )
    similar = sock.request(
        protocol.FindSimilar(
            request_id=sock.rid(), component=protocol.LibraryComponent(component_id=cid)
        ),
        protocol.Library,
    )
    assert cid not in [i.component_id for i in similar.items]
    distances = [i.distance for i in similar.items]
    assert distances == sorted(distances) and len(distances) >= 2

    drums = decomposed(sock, demo_sound(sock).sound_id)
    plan = sock.request(
        protocol.PlanRemix(
            request_id=sock.rid(), decomposition_id=drums.decomposition_id, strategy="weird"
        ),
        protocol.RemixPlan,
    )
    assert len(plan.assignments) == drums.n_components
    spec = protocol.RenderSpec(
        decomposition_id=drums.decomposition_id,
        edits=[
            protocol.UnitEdit(
                unit=a.unit, component=protocol.LibraryComponent(component_id=a.component_id)
            )
            for a in plan.assignments
        ],
    )
    _, remixed = sock.audio(protocol.Audition(request_id=sock.rid(), spec=spec))
    assert np.isfinite(remixed).all() and np.abs(remixed).max() > 0

    gone = sock.request(
        protocol.DeleteComponent(request_id=sock.rid(), component_id=cid), protocol.LibraryChanged
    )
    assert gone.op == "delete"
    missing = sock.request(
        protocol.RenameComponent(request_id=sock.rid(), component_id=cid, name="x"),
        protocol.LibraryChanged,
    )
    assert isinstance(missing, protocol.Error) and missing.code == "not_found"


def test_save_component_bad_tag(sock: Socket) -> None:
    dec = decomposed(sock, demo_sound(sock).sound_id)
    sock.ws.send_bytes(
        ENC.encode(
            {
                "type": "save_component",
                "request_id": 77,
                "decomposition_id": dec.decomposition_id,
                "unit": 0,
                "name": "x",
                "tags": ["has space"],
            }
        )
    )
    assert sock.until(77)[-1].code == "bad_frame"


# --- HTTP ------------------------------------------------------------------------------------


def test_upload_then_decompose(client: TestClient[Any], sock: Socket) -> None:
    t = np.arange(44100 * 2) / 44100
    y = (0.3 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 2 * t) > 0)).astype(np.float32)
    buf = io.BytesIO()
    sf.write(buf, y, 44100, format="WAV")
    r = client.post(
        "/api/sounds", params={"name": "../../etc/passwd loop.wav"}, content=buf.getvalue()
    )
    assert r.status_code == 201, r.text
    info = r.json()
    assert info["name"] == "passwd loop.wav" and info["channels"] == 1
    dec = decomposed(sock, info["sound_id"], k=2)
    assert dec.n_components == 2


def test_delete_sound_reaches_every_tab(client: TestClient[Any], sock: Socket) -> None:
    buf = io.BytesIO()
    sf.write(buf, np.zeros(4410, np.float32) + 0.1, 44100, format="WAV")
    r = client.post("/api/sounds", params={"name": "gone.wav"}, content=buf.getvalue())
    sound_id = r.json()["sound_id"]
    with client.websocket_connect("/ws") as ws:
        other = Socket(ws)
        other.request(
            protocol.Hello(request_id=1, protocol_version=protocol.PROTOCOL_VERSION),
            protocol.Welcome,
        )
        reply = sock.request(protocol.DeleteSound(request_id=sock.rid(), sound_id=sound_id),
                             protocol.Ok)
        assert isinstance(reply, protocol.Ok)
        event = other.until(0, protocol.SoundRemoved)[-1]
        assert isinstance(event, protocol.SoundRemoved) and event.sound_id == sound_id
    listed = sock.request(protocol.ListSounds(request_id=sock.rid()), protocol.Sounds)
    assert sound_id not in [s.sound_id for s in listed.sounds]
    again = sock.request(protocol.DeleteSound(request_id=sock.rid(), sound_id=sound_id),
                         protocol.Ok)
    assert isinstance(again, protocol.Error) and again.code == "not_found"


def test_upload_bad_file(client: TestClient[Any]) -> None:
    r = client.post("/api/sounds", params={"name": "x.wav"}, content=b"not audio at all" * 100)
    assert r.status_code == 400
    assert r.json()["code"] == "bad_audio"
    r = client.post("/api/sounds", params={"name": "big.wav"}, content=b"\0" * 3_100_000)
    assert r.status_code == 413


def test_exports(client: TestClient[Any], sock: Socket) -> None:
    sound = demo_sound(sock, "demo pad")
    dec = decomposed(sock, sound.sound_id, k=3)
    n = sound.n_samples
    r = client.get(f"/api/decompositions/{dec.decomposition_id}/units/1.wav")
    assert r.status_code == 200 and "unit%2002.wav" in r.headers["content-disposition"]
    y, sr = sf.read(io.BytesIO(r.content))
    assert sr == 44100 and y.shape == (n, 2)
    r = client.get(f"/api/decompositions/{dec.decomposition_id}/units.zip")
    names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    assert len(names) == 3 and all(name.endswith(".wav") for name in names)
    spec = {"decomposition_id": dec.decomposition_id, "edits": [{"unit": 0, "reverse": True}]}
    r = client.post("/api/render.wav", content=msgspec.json.encode(spec))
    assert r.status_code == 200
    y, sr = sf.read(io.BytesIO(r.content))
    assert y.shape == (n, 2)
    r = client.post("/api/render.wav", content=b'{"decomposition_id": 5}')
    assert r.status_code == 400 and "render spec" in r.json()["message"]
    r = client.get("/api/sounds/nope/audio.wav")
    assert r.status_code == 404


def test_page_not_built_message(client: TestClient[Any]) -> None:
    r = client.get("/")
    assert r.status_code == 200 and "make run" in r.text


def test_loop_tempo_snaps_to_whole_bars() -> None:
    from residue.services.sounds import loop_tempo

    assert loop_tempo(120.2, duration_s=4.0) == 120.0
    assert loop_tempo(126.9, duration_s=7.5) == 128.0  # 4 bars at 128
    assert loop_tempo(99.8, duration_s=3.3) == 100.0  # not whole bars: nearest whole BPM
    assert loop_tempo(97.37, duration_s=3.3) == 97.37
