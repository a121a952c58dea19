"""The timbre room end to end through Litestar's TestClient: real msgpack frames over a socket.

Every model is tiny (the default model is a 6-d VAE trained on 48 synthetic vectors in place of
the real one), songs last 3 s and albums have 2 songs, so the whole file runs in seconds.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import msgspec
import numpy as np
import pytest
import soundfile as sf
from litestar.testing import TestClient
from timbre_models import tiny_model

from residue import protocol
from residue.config import Settings
from residue.dsp import compose
from residue.dsp.compose import SongSettings
from residue.dsp.progress import CancelToken, no_progress
from residue.errors import JobCancelled
from residue.models import vae
from residue.services import separation_room
from residue.services import timbre as ts
from residue.services import timbre_room as room
from residue.services.context import Context
from residue.transport.app import create_app

ENC = msgspec.msgpack.Encoder()
DEC = msgspec.msgpack.Decoder(protocol.ServerFrame)
SR = 44100
QUICK = protocol.SongParams(seed=5, minutes=0.05, fade_s=0.5, n_candidates=32)
QUICK_SETTINGS = SongSettings(seed=5, minutes=0.05, fade_s=0.5, n_candidates=32)


class Socket:
    """Frames over a TestClient socket; every frame received is logged (PCM as tuples)."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.next_id = 100
        self.log: list[Any] = []

    def rid(self) -> int:
        self.next_id += 1
        return self.next_id

    def send(self, frame: Any) -> None:
        self.ws.send_bytes(ENC.encode(frame))

    def recv(self) -> Any:
        data = self.ws.receive_bytes()
        if data[:2] == protocol.PCM_MAGIC:
            _, _, channels, request_id, index, sr = protocol.PCM_HEADER.unpack_from(data)
            pcm = np.frombuffer(data, dtype="<f4", offset=protocol.PCM_HEADER.size)
            frame: Any = ("pcm", request_id, index, channels, sr, pcm)
        else:
            frame = DEC.decode(data)
        self.log.append(frame)
        return frame

    def until(self, request_id: int, *types: type) -> list[Any]:
        """Frames of ``request_id`` up to one of ``types`` or an error (the last one)."""
        seen: list[Any] = []
        for _ in range(10_000):
            frame = self.recv()
            rid = frame[1] if isinstance(frame, tuple) else frame.request_id
            if rid != request_id:
                continue
            seen.append(frame)
            if isinstance(frame, (protocol.Error, *types)):
                return seen
        raise AssertionError("no reply")

    def request(self, frame: Any, *types: type) -> Any:
        self.send(frame)
        return self.until(frame.request_id, *types)[-1]

    def audio(self, frame: Any) -> tuple[protocol.AudioStart, np.ndarray]:
        self.send(frame)
        seen = self.until(frame.request_id, protocol.AudioEnd)
        assert not isinstance(seen[-1], protocol.Error), seen[-1]
        start = next(f for f in seen if isinstance(f, protocol.AudioStart))
        pcm = np.concatenate([f[5] for f in seen if isinstance(f, tuple)])
        return start, pcm.reshape(-1, start.channels).T

    def hello(self) -> None:
        reply = self.request(
            protocol.Hello(request_id=1, protocol_version=protocol.PROTOCOL_VERSION),
            protocol.Welcome,
        )
        assert isinstance(reply, protocol.Welcome), reply

    def events(self, *types: type) -> list[Any]:
        """Events (request_id 0) of ``types`` received so far."""
        return [f for f in self.log if isinstance(f, types) and getattr(f, "request_id", 0) == 0]


def wav(y: np.ndarray, sr: int = SR) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, y, sr, format="WAV", subtype="FLOAT")
    return buf.getvalue()


def pad_wav(seconds: float = 6.0) -> bytes:
    t = np.arange(round(seconds * SR)) / SR
    y = sum(0.1 * np.sin(2 * np.pi * f * t) for f in (110.0, 220.0, 331.0, 440.0))
    return wav(np.asarray(y, dtype=np.float32))


def clicks_wav(seconds: float = 4.0) -> bytes:
    y = np.zeros(round(seconds * SR), np.float32)
    rng = np.random.default_rng(1)
    for start in range(SR // 4, y.size - 2000, SR // 2):
        y[start : start + 2000] = rng.standard_normal(2000).astype(np.float32) * np.exp(
            -np.arange(2000) / 200.0
        )
    return wav(y)


def _settings(tmp: Path) -> Settings:
    return Settings(
        data_dir=tmp, static_dir=Path("/nonexistent"), demo=False, max_frame_bytes=64_000,
        max_upload_bytes=5_000_000, max_frames_per_s=1000.0, frame_burst=1000,
    )


@pytest.fixture(scope="module")
def model() -> vae.TimbreModel:
    return tiny_model()


@pytest.fixture(scope="module")
def client(
    tmp_path_factory: pytest.TempPathFactory, model: vae.TimbreModel
) -> Iterator[TestClient[Any]]:
    calls: list[int] = []

    def fake_default(**kw: Any) -> vae.TrainResult:
        calls.append(1)
        progress = kw.get("progress")
        if callable(progress):
            progress(0.5, "training")
        return vae.TrainResult(model, model.loss, model.loss, model.loss, 0.0)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(vae, "train_default", fake_default)
        with TestClient(app=create_app(_settings(tmp_path_factory.mktemp("timbre")))) as c:
            c.app.state.default_calls = calls
            yield c


@pytest.fixture(scope="module")
def sounds(client: TestClient[Any]) -> dict[str, str]:
    ids = {}
    for name, data in (("pad.wav", pad_wav()), ("clicks.wav", clicks_wav())):
        r = client.post("/api/sounds", params={"name": name}, content=data)
        assert r.status_code == 201, r.text
        ids[name.split(".")[0]] = r.json()["sound_id"]
    return ids


@pytest.fixture
def sock(client: TestClient[Any]) -> Iterator[Socket]:
    with client.websocket_connect("/ws") as ws:
        s = Socket(ws)
        s.hello()
        yield s


@pytest.fixture
def two(client: TestClient[Any]) -> Iterator[tuple[Socket, Socket]]:
    """Two tabs of the default session."""
    with client.websocket_connect("/ws") as wa, client.websocket_connect("/ws") as wb:
        a, b = Socket(wa), Socket(wb)
        a.hello()
        b.hello()
        yield a, b


def ctx_of(client: TestClient[Any]) -> Context:
    ctx: Context = client.app.state.ctx
    return ctx


def album(sock: Socket, n: int = 2, seed: int = 9) -> tuple[protocol.AlbumMade, list[Any]]:
    frame = protocol.GenerateAlbum(
        request_id=sock.rid(), n_songs=n, params=msgspec.structs.replace(QUICK, seed=seed)
    )
    sock.send(frame)
    seen = sock.until(frame.request_id, protocol.AlbumMade)
    assert isinstance(seen[-1], protocol.AlbumMade), seen[-1]
    return seen[-1], [f for f in seen if isinstance(f, protocol.SongAdded)]


def still_usable(sock: Socket) -> None:
    reply = sock.request(
        protocol.CheckGrammar(request_id=sock.rid(), grammar="S -> AB"), protocol.GrammarChecked
    )
    assert isinstance(reply, protocol.GrammarChecked) and reply.ok


# --- state, the map, hover ---------------------------------------------------------------------


def test_state_lists_defaults_and_choices(sock: Socket) -> None:
    state = sock.request(protocol.GetTimbreState(request_id=sock.rid()), protocol.TimbreState)
    assert isinstance(state, protocol.TimbreState), state
    d = state.defaults
    assert d.minutes == 4.0 and d.grammar == compose.DEFAULT_GRAMMAR and d.region == []
    assert d.criterion == "weirdness" and d.n_candidates == compose.N_CANDIDATES
    assert d.ambience == "off" and d.effects == [] and d.ambience_lufs == compose.AMBIENCE_LUFS
    assert state.criteria == list(compose.CRITERIA) and "rain" in state.ambiences
    assert state.map_methods[0] == "pca" and state.max_album_songs == ts.MAX_ALBUM_SONGS


def test_first_map_trains_the_default_model_then_hover_plays(tmp_path: Path,
                                                             model: vae.TimbreModel) -> None:
    def fake_default(**kw: Any) -> vae.TrainResult:
        kw["progress"](0.5, "training")
        return vae.TrainResult(model, model.loss, model.loss, model.loss, 0.0)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(vae, "train_default", fake_default)
        with TestClient(app=create_app(_settings(tmp_path))) as c, \
                c.websocket_connect("/ws") as ws:
            s = Socket(ws)
            s.hello()
            frame = protocol.GetTimbreMap(request_id=s.rid())
            s.send(frame)
            seen = s.until(frame.request_id, protocol.TimbreMapFrame)
            tmap = seen[-1]
            assert isinstance(tmap, protocol.TimbreMapFrame), tmap
            stages = [f.stage for f in seen if isinstance(f, protocol.JobProgress)]
            assert any(st.startswith("training the default model") for st in stages)
            assert tmap.model_id == model.model_id and tmap.method == "pca"
            assert [p.kind for p in tmap.points] == ["anchor"] * model.anchors.shape[0]
            state = s.request(protocol.GetTimbreState(request_id=s.rid()), protocol.TimbreState)
            assert state.default_model_id == model.model_id
            assert [m.model_id for m in state.models] == [model.model_id]
            assert state.models[0].is_default and state.models[0].latent_dim == 6

            # point 3 exactly: the drone of that point's latent
            start, y = s.audio(protocol.PreviewPoint(request_id=s.rid(), map_id=tmap.map_id,
                                                     point=3, seconds=0.5))
            assert start.sample_rate == SR and y.shape == (2, SR // 2)
            ctx = ctx_of(c)
            expected = ts.preview_latent(ctx, ts.timbre_map(ctx).latents[3], seconds=0.5)
            np.testing.assert_allclose(y, expected, atol=1e-6)
            _, y2 = s.audio(protocol.PreviewPoint(request_id=s.rid(), map_id=tmap.map_id,
                                                  x=0.5, y=-0.25, seconds=0.25))
            assert y2.shape == (2, SR // 4) and np.abs(y2).max() > 0.01

            off = s.request(protocol.PreviewPoint(request_id=s.rid(), map_id=tmap.map_id,
                                                  point=10_000), protocol.AudioEnd)
            assert isinstance(off, protocol.Error) and off.code == "bad_parameter"
            assert "is not on the map" in off.message
            gone = s.request(protocol.PreviewPoint(request_id=s.rid(), map_id="feedbeef"),
                             protocol.AudioEnd)
            assert isinstance(gone, protocol.Error) and gone.code == "not_found"
            assert gone.message == "the map has expired: ask for it again"

            # pins: point 3 and a spot become the song's A and B; the recipe keeps their latents
            pins = [protocol.PinRef(point=3), protocol.PinRef(x=0.5, y=-0.25)]
            params = msgspec.structs.replace(QUICK, pins=pins)
            made = s.request(protocol.CreateSong(request_id=s.rid(), params=params,
                                                 map_id=tmap.map_id), protocol.SongAdded)
            assert isinstance(made, protocol.SongAdded), made
            points = json.loads(made.song.settings)["points"]
            assert len(points) == 2
            latents = ts.timbre_map(ctx).latents
            np.testing.assert_allclose(points[0], latents[3], atol=1e-6)
            no_map = s.request(protocol.CreateSong(request_id=s.rid(), params=params),
                               protocol.SongAdded)
            assert isinstance(no_map, protocol.Error) and "need the map_id" in no_map.message
            expired = s.request(protocol.CreateSong(request_id=s.rid(), params=params,
                                                    map_id="feedbeef"), protocol.SongAdded)
            assert isinstance(expired, protocol.Error) and expired.code == "not_found"
            still_usable(s)


# --- grammar, songs, albums --------------------------------------------------------------------


def test_grammar_check(sock: Socket) -> None:
    ok = sock.request(protocol.CheckGrammar(request_id=sock.rid(), grammar="S -> XY\nX -> AB | "
                                            "BA\nY -> E", seed=3), protocol.GrammarChecked)
    assert ok.ok and ok.error is None and ok.symbols == ["S", "X", "Y", "A", "B", "E"]
    assert ok.example in ("ABE", "BAE")
    for text, needle in [
        ("S -> AQ", "unknown symbol 'Q'"),
        ("S -> AX\nX -> S", "recursive"),
        ("", "no rules"),
        ("S = AB", "must look like"),
    ]:
        bad = sock.request(protocol.CheckGrammar(request_id=sock.rid(), grammar=text),
                           protocol.GrammarChecked)
        assert isinstance(bad, protocol.GrammarChecked), bad
        assert not bad.ok and needle in str(bad.error) and bad.example is None


def test_song_reaches_the_other_tab_once(
    two: tuple[Socket, Socket], client: TestClient[Any]
) -> None:
    a, b = two
    grammar = "S -> XYX\nX -> A | BB\nY -> CDE"
    check = a.request(protocol.CheckGrammar(request_id=a.rid(), grammar=grammar, seed=5),
                      protocol.GrammarChecked)
    frame = protocol.CreateSong(request_id=a.rid(),
                                params=msgspec.structs.replace(QUICK, grammar=grammar))
    a.send(frame)
    seen = a.until(frame.request_id, protocol.SongAdded)
    added = seen[-1]
    assert isinstance(added, protocol.SongAdded), added
    assert any(isinstance(f, protocol.JobProgress) for f in seen)
    song = added.song
    assert song.structure == check.example  # the check shows the song's own structure
    assert song.duration_s == pytest.approx(3.0) and song.seed == 5 and song.album_id is None
    assert len(song.thumbnail) == song.thumb_rows * song.thumb_cols == 64 * 160
    assert '"grammar"' in song.settings and song.decision is None

    event = b.until(0, protocol.SongAdded)[-1]
    assert event.song == song
    # the requester gets the event too (one path for one process and for Redis), once
    listed = a.request(protocol.ListSongs(request_id=a.rid()), protocol.SongList)
    assert song.song_id in [s.song_id for s in listed.songs]
    assert [e.song.song_id for e in a.events(protocol.SongAdded)] == [song.song_id]

    # a bad grammar is an error frame, and the socket goes on
    bad = a.request(protocol.CreateSong(request_id=a.rid(), params=msgspec.structs.replace(
        QUICK, grammar="S -> AZ")), protocol.SongAdded)
    assert isinstance(bad, protocol.Error) and bad.code == "bad_parameter"
    assert "unknown symbol 'Z'" in bad.message
    loop = a.request(protocol.CreateSong(request_id=a.rid(), params=msgspec.structs.replace(
        QUICK, grammar="S -> X\nX -> AX")), protocol.SongAdded)
    assert isinstance(loop, protocol.Error) and "recursive" in loop.message
    still_usable(a)


@pytest.mark.parametrize("n", [0, 100_000])
def test_album_size_is_checked(sock: Socket, n: int) -> None:
    reply = sock.request(protocol.GenerateAlbum(request_id=sock.rid(), n_songs=n, params=QUICK),
                         protocol.AlbumMade)
    assert isinstance(reply, protocol.Error) and reply.code == "bad_parameter"
    assert f"n_songs={n} must be in [1, 500]" in reply.message
    still_usable(sock)


def test_album_songs_stream_to_both_tabs(two: tuple[Socket, Socket]) -> None:
    a, b = two
    made, songs = album(a, 2, seed=21)
    assert made.album.n_songs == 2 and len(songs) == 2
    assert [s.song.position for s in songs] == [1, 2]
    assert {s.song.album_id for s in songs} == {made.album.album_id}
    assert [s.song.seed for s in songs] == compose.album_seeds(21, 2)
    others = [b.until(0, protocol.SongAdded)[-1] for _ in range(2)]
    assert [e.song.song_id for e in others] == [s.song.song_id for s in songs]
    listed = a.request(protocol.ListSongs(request_id=a.rid(), album_id=made.album.album_id),
                       protocol.SongList)
    assert [s.song_id for s in listed.songs] == [s.song.song_id for s in songs]
    assert made.album.album_id in [x.album_id for x in listed.albums]
    assert [e.song.song_id for e in a.events(protocol.SongAdded)] == [
        s.song.song_id for s in songs
    ]
    unknown = a.request(protocol.ListSongs(request_id=a.rid(), album_id="nope"), protocol.SongList)
    assert isinstance(unknown, protocol.Error) and unknown.code == "not_found"


# --- the swipe page ----------------------------------------------------------------------------


def test_swipe_songs_decide_undo_play_export_delete(
    two: tuple[Socket, Socket], client: TestClient[Any]
) -> None:
    a, b = two
    made, songs = album(a, 3, seed=31)
    ids = [s.song.song_id for s in songs]
    deck = a.request(protocol.GetSwipeDeck(request_id=a.rid(), kind="song",
                                           album_id=made.album.album_id), protocol.SwipeDeck)
    assert [c.item_id for c in deck.cards] == ids and not deck.undo
    assert all(len(c.thumbnail) == c.thumb_rows * c.thumb_cols for c in deck.cards)
    assert deck.cards[0].title == songs[0].song.name and "track 1" in deck.cards[0].subtitle

    verdicts: tuple[Literal["keep", "reject"], ...] = ("keep", "reject", "keep")
    for song_id, verdict in zip(ids, verdicts, strict=True):
        d = a.request(protocol.Decide(request_id=a.rid(), kind="song", item_id=song_id,
                                      decision=verdict), protocol.Decided)
        assert isinstance(d, protocol.Decided) and d.decision == verdict and not d.undone
    seen_by_b = [b.until(0, protocol.Decided)[-1] for _ in range(3)]
    assert [(e.item_id, e.decision) for e in seen_by_b] == list(
        zip(ids, ("keep", "reject", "keep"), strict=True))
    undone = a.request(protocol.UndoDecision(request_id=a.rid(), kind="song"), protocol.Decided)
    assert undone.item_id == ids[2] and undone.undone and undone.decision is None
    assert b.until(0, protocol.Decided)[-1].undone
    a.request(protocol.Decide(request_id=a.rid(), kind="song", item_id=ids[2],
                              decision="keep"), protocol.Decided)
    deck = a.request(protocol.GetSwipeDeck(request_id=a.rid(), kind="song",
                                           album_id=made.album.album_id), protocol.SwipeDeck)
    assert [c.decision for c in deck.cards] == ["keep", "reject", "keep"] and deck.undo
    assert [(e.item_id, e.decision) for e in a.events(protocol.Decided)] == [
        *zip(ids, verdicts, strict=True), (ids[2], None), (ids[2], "keep")
    ]

    start, y = a.audio(protocol.PlayItem(request_id=a.rid(), kind="song", item_id=ids[0],
                                         start_s=1.0, max_s=0.5))
    assert start.sample_rate == SR and y.shape == (2, SR // 2)
    full, _ = ts.load_song_audio(ctx_of(client), ids[0])
    np.testing.assert_allclose(y, full[:, SR : SR + SR // 2], atol=1e-6)
    past = a.request(protocol.PlayItem(request_id=a.rid(), kind="song", item_id=ids[0],
                                       start_s=100.0), protocol.AudioEnd)
    assert isinstance(past, protocol.Error) and "past the end" in past.message

    frame = protocol.ExportAlbum(request_id=a.rid(), album_id=made.album.album_id,
                                 format="wav", title="Night Drive")
    a.send(frame)
    seen = a.until(frame.request_id, protocol.AlbumExported)
    out = seen[-1]
    assert isinstance(out, protocol.AlbumExported), out
    assert any(isinstance(f, protocol.JobProgress) for f in seen)
    assert out.files == [f"01 {songs[0].song.name}.wav", f"02 {songs[2].song.name}.wav"]
    assert out.title == "Night Drive" and out.url.startswith("/api/exports/")
    assert Path(out.folder).is_dir() and out.loudness_lufs <= ts.EXPORT_LUFS
    r = client.get(out.url)
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert "Night%20Drive.zip" in r.headers["content-disposition"]
    names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    assert sorted(names) == sorted(
        [f"Night Drive/{f}" for f in out.files] + ["Night Drive/tracklist.txt",
                                                    "Night Drive/album.json"])
    assert client.get("/api/exports/0123456789ab.zip").status_code == 404
    assert client.get("/api/exports/..%2Fresidue.db").status_code == 404

    ok = a.request(protocol.DeleteSong(request_id=a.rid(), song_id=ids[1]), protocol.Ok)
    assert isinstance(ok, protocol.Ok)
    assert b.until(0, protocol.SongRemoved)[-1].song_id == ids[1]
    assert a.until(0, protocol.SongRemoved)[-1].song_id == ids[1]  # every tab, this one too
    again = a.request(protocol.DeleteSong(request_id=a.rid(), song_id=ids[1]), protocol.Ok)
    assert isinstance(again, protocol.Error) and again.code == "not_found"

    # undo down to nothing, then a clear error
    for _ in range(10):
        last = a.request(protocol.UndoDecision(request_id=a.rid(), kind="song"),
                         protocol.Decided)
        if isinstance(last, protocol.Error):
            break
    assert isinstance(last, protocol.Error) and last.code == "not_found"
    assert last.message == "nothing to undo"
    still_usable(a)


def test_export_with_nothing_kept_is_explained(client: TestClient[Any]) -> None:
    store = ctx_of(client).store
    session = store.sessions.create("empty")
    token, _ = store.sessions.issue(session.session_id, role="guest")
    with client.websocket_connect("/ws") as ws:
        s = Socket(ws)
        s.hello()
        joined = s.request(protocol.Join(request_id=2, session_id=session.session_id,
                                         token=token), protocol.Joined)
        assert isinstance(joined, protocol.Joined), joined
        reply = s.request(protocol.ExportAlbum(request_id=s.rid()), protocol.AlbumExported)
        assert isinstance(reply, protocol.Error) and reply.code == "bad_parameter"
        assert "no songs to export" in reply.message
        still_usable(s)


def test_training_set_model_and_clip_deck(
    sock: Socket, sounds: dict[str, str], client: TestClient[Any]
) -> None:
    frame = protocol.BuildTrainingSet(request_id=sock.rid(), name="mine",
                                      sound_ids=[sounds["pad"], sounds["clicks"]])
    sock.send(frame)
    seen = sock.until(frame.request_id, protocol.TrainingSetBuilt)
    built = seen[-1]
    assert isinstance(built, protocol.TrainingSetBuilt), built
    info = built.set
    assert info.name == "mine" and info.n_clips >= 6 and info.n_usable < info.n_clips
    set_id = info.set_id

    frame2 = protocol.TrainModel(request_id=sock.rid(), set_id=set_id, epochs=2)
    sock.send(frame2)
    seen = sock.until(frame2.request_id, protocol.ModelTrained)
    trained = seen[-1]
    assert isinstance(trained, protocol.ModelTrained), trained
    epochs = [f for f in seen if isinstance(f, protocol.TrainingEpoch)]
    assert [(e.epoch, e.epochs) for e in epochs] == [(1, 2), (2, 2)]
    assert [e.loss for e in epochs] == pytest.approx(trained.model.loss, rel=1e-4)
    assert trained.model.training_set == "mine" and not trained.model.is_default
    assert trained.model.n_clips == info.n_usable
    state = sock.request(protocol.GetTimbreState(request_id=sock.rid()), protocol.TimbreState)
    assert set_id in [x.set_id for x in state.sets]
    assert trained.model.model_id in [m.model_id for m in state.models]

    tmap = sock.request(protocol.GetTimbreMap(request_id=sock.rid(),
                                              model_id=trained.model.model_id, set_id=set_id),
                        protocol.TimbreMapFrame)
    clips = [p for p in tmap.points if p.kind == "clip"]
    assert len(clips) == info.n_clips and tmap.set_id == set_id
    assert sum(p.flagged for p in clips) == info.n_clips - info.n_usable

    deck = sock.request(protocol.GetSwipeDeck(request_id=sock.rid(), kind="clip",
                                              set_id=set_id), protocol.SwipeDeck)
    assert [c.item_id for c in deck.cards] == [p.item_id for p in clips]
    flagged = [c for c in deck.cards if c.subtitle.startswith("flagged")]
    assert len(flagged) == info.n_clips - info.n_usable
    assert all(c.title.startswith(("pad.wav", "clicks.wav")) for c in deck.cards)
    assert deck.cards[0].duration_s == pytest.approx(2.0)
    _, y = sock.audio(protocol.PlayItem(request_id=sock.rid(), kind="clip",
                                            item_id=deck.cards[0].item_id))
    expected, _ = ts.training_clip_audio(ctx_of(client), set_id, 0)
    np.testing.assert_allclose(y, expected, atol=1e-6)

    kept = sock.request(protocol.Decide(request_id=sock.rid(), kind="clip",
                                        item_id=flagged[0].item_id, decision="keep"),
                        protocol.Decided)
    assert isinstance(kept, protocol.Decided)
    for bad_id in (f"{set_id}-999", "nodash", "abcdefabcdef-1"):
        bad = sock.request(protocol.Decide(request_id=sock.rid(), kind="clip", item_id=bad_id,
                                           decision="keep"), protocol.Decided)
        assert isinstance(bad, protocol.Error) and bad.code == "not_found", bad_id
    no_set = sock.request(protocol.GetSwipeDeck(request_id=sock.rid(), kind="clip"),
                          protocol.SwipeDeck)
    assert isinstance(no_set, protocol.Error) and "needs set_id" in no_set.message
    still_usable(sock)


def test_cell_deck_keeps_a_result_as_a_sound_once(
    two: tuple[Socket, Socket], client: TestClient[Any]
) -> None:
    a, b = two
    ctx = ctx_of(client)
    y = (0.1 * np.sin(np.linspace(0, 2000, 2 * SR))[None]).astype(np.float32)
    prov = {"backend": "hpss", "stem": "drums", "setting": "hpss margin=2",
            "candidate": "estimate"}
    result_id = separation_room._cache(ctx, y, SR, "drums - hpss margin=2", prov)
    deck = a.request(protocol.GetSwipeDeck(request_id=a.rid(), kind="cell"), protocol.SwipeDeck)
    card = deck.cards[0]
    assert card.item_id == result_id and card.title == "drums"
    assert "hpss margin=2" in card.subtitle and card.duration_s == pytest.approx(2.0)
    _, heard = a.audio(protocol.PlayItem(request_id=a.rid(), kind="cell", item_id=result_id))
    np.testing.assert_array_equal(heard, y)

    def n_sounds() -> int:
        return len(a.request(protocol.ListSounds(request_id=a.rid()), protocol.Sounds).sounds)

    before = n_sounds()
    for verdict in ("keep", "reject", "keep"):
        d = a.request(protocol.Decide(request_id=a.rid(), kind="cell", item_id=result_id,
                                      decision=verdict), protocol.Decided)
        assert isinstance(d, protocol.Decided) and d.decision == verdict
    assert n_sounds() == before + 1
    added = b.until(0, protocol.SoundAdded)[-1]
    assert added.sound.name == "drums - hpss margin=2" and added.sound.origin == "separation"
    # undoing the keep takes the sound away again, in every tab
    undone = a.request(protocol.UndoDecision(request_id=a.rid(), kind="cell"), protocol.Decided)
    assert isinstance(undone, protocol.Decided) and undone.item_id == result_id
    assert n_sounds() == before
    removed = b.until(0, protocol.SoundRemoved)[-1]
    assert removed.sound_id == added.sound.sound_id
    unknown = a.request(protocol.Decide(request_id=a.rid(), kind="cell", item_id="0000",
                                        decision="keep"), protocol.Decided)
    assert isinstance(unknown, protocol.Error) and unknown.code == "not_found"
    still_usable(a)


def test_manipulations_play_and_explain_what_is_missing(
    sock: Socket, sounds: dict[str, str]
) -> None:
    start, y = sock.audio(protocol.Manipulate(request_id=sock.rid(), op="stretch",
                                              sound_id=sounds["pad"], factor=0.5))
    assert start.sample_rate == SR and y.shape[0] == 2 and 2.5 * SR < y.shape[1] < 3.5 * SR
    _, mixed = sock.audio(protocol.Manipulate(request_id=sock.rid(), op="blend",
                                              sound_id=sounds["pad"],
                                              other_sound_id=sounds["clicks"]))
    assert mixed.shape[0] == 2 and np.abs(mixed).max() > 0
    for frame, needle in [
        (protocol.Manipulate(request_id=sock.rid(), op="blend", sound_id=sounds["pad"]),
         "needs other_sound_id"),
        (protocol.Manipulate(request_id=sock.rid(), op="nmf_stretch"), "needs decomposition_id"),
        (protocol.Manipulate(request_id=sock.rid(), op="stretch"), "needs sound_id"),
    ]:
        reply = sock.request(frame, protocol.AudioEnd)
        assert isinstance(reply, protocol.Error) and needle in reply.message
    still_usable(sock)


# --- sessions ----------------------------------------------------------------------------------


def test_another_session_sees_none_of_it(client: TestClient[Any]) -> None:
    ctx = ctx_of(client)
    song = ts.create_song(ctx, QUICK_SETTINGS)
    ts.decide(ctx, "song", song.song_id, "keep")
    store = ctx.store
    session = store.sessions.create("guests")
    token, _ = store.sessions.issue(session.session_id, role="guest")
    with client.websocket_connect("/ws") as wa, client.websocket_connect("/ws") as wb:
        mine, s = Socket(wa), Socket(wb)
        mine.hello()
        out = mine.request(protocol.ExportAlbum(request_id=mine.rid(), song_ids=[song.song_id]),
                           protocol.AlbumExported)
        assert isinstance(out, protocol.AlbumExported), out
        s.hello()
        s.request(protocol.Join(request_id=2, session_id=session.session_id, token=token),
                  protocol.Joined)
        listed = s.request(protocol.ListSongs(request_id=s.rid()), protocol.SongList)
        assert listed.songs == [] and listed.albums == []
        d = s.request(protocol.Decide(request_id=s.rid(), kind="song", item_id=song.song_id,
                                      decision="reject"), protocol.Decided)
        assert isinstance(d, protocol.Error) and d.code == "not_found"
        p = s.request(protocol.PlayItem(request_id=s.rid(), kind="song",
                                        item_id=song.song_id), protocol.AudioEnd)
        assert isinstance(p, protocol.Error) and p.code == "not_found"
        gone = s.request(protocol.DeleteSong(request_id=s.rid(), song_id=song.song_id),
                         protocol.Ok)
        assert isinstance(gone, protocol.Error) and gone.code == "not_found"
        deck = s.request(protocol.GetSwipeDeck(request_id=s.rid(), kind="song"),
                         protocol.SwipeDeck)
        assert deck.cards == [] and not deck.undo
        state = s.request(protocol.GetTimbreState(request_id=s.rid()), protocol.TimbreState)
        assert state.sets == [] and state.albums == []
        # no event of the guests' session reached the owner's tab, nor the reverse
        assert mine.events(protocol.Decided) == [] and s.events(protocol.SongAdded) == []
    assert ts.get_song(ctx, song.song_id).decision == "keep"
    theirs = client.get(out.url, headers={"Authorization": f"Bearer {token}"})
    assert theirs.status_code == 404
    assert client.get(out.url).status_code == 200


def test_cancelled_album_keeps_what_was_made(sock: Socket) -> None:
    frame = protocol.GenerateAlbum(request_id=sock.rid(), n_songs=50, params=QUICK, name="cut")
    sock.send(frame)
    first = sock.until(frame.request_id, protocol.SongAdded)[-1]
    assert isinstance(first, protocol.SongAdded), first
    sock.send(protocol.Cancel(request_id=sock.rid(), target_request_id=frame.request_id))
    made = sock.until(frame.request_id, protocol.AlbumMade)[-1]
    assert isinstance(made, protocol.AlbumMade), made
    assert made.album.name == "cut" and 1 <= made.album.n_songs < 50
    listed = sock.request(protocol.ListSongs(request_id=sock.rid(),
                                             album_id=made.album.album_id), protocol.SongList)
    assert len(listed.songs) == made.album.n_songs


def test_album_cancelled_before_its_first_song_is_removed(client: TestClient[Any]) -> None:
    ctx = ctx_of(client)
    before = {a.album_id for a in ts.list_albums(ctx)}
    token = CancelToken()
    token.cancel()
    frame = protocol.GenerateAlbum(request_id=1, n_songs=3, params=QUICK)
    with pytest.raises(JobCancelled, match="before its first song"):
        room.generate_album(ctx, frame, on_song=lambda r: None, progress=no_progress,
                            cancel=token)
    assert {a.album_id for a in ts.list_albums(ctx)} == before


def test_map_errors_keep_the_socket(sock: Socket) -> None:
    unknown = sock.request(protocol.GetTimbreMap(request_id=sock.rid(), model_id="0123456789ab"),
                           protocol.TimbreMapFrame)
    assert isinstance(unknown, protocol.Error) and unknown.code == "not_found"
    no_set = sock.request(protocol.GetTimbreMap(request_id=sock.rid(), set_id="abcdef"),
                          protocol.TimbreMapFrame)
    assert isinstance(no_set, protocol.Error) and no_set.code == "not_found"
    still_usable(sock)


def test_old_exports_are_pruned_per_session(tmp_path: Path) -> None:
    def make(export_id: str, session_id: str, at: float) -> None:
        (tmp_path / export_id).mkdir()
        (tmp_path / export_id / "01 a.flac").write_bytes(b"x")
        (tmp_path / f"{export_id}.zip").write_bytes(b"z")
        (tmp_path / f"{export_id}.json").write_text(
            json.dumps({"session_id": session_id, "created_at": at})
        )

    for i in range(4):
        make(f"mine{i}", "default", float(i))
    make("theirs0", "other", -1.0)
    room._prune_exports(tmp_path, "default", keep=2)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted(
        ["mine2", "mine2.zip", "mine2.json", "mine3", "mine3.zip", "mine3.json",
         "theirs0", "theirs0.zip", "theirs0.json"]
    )
