"""The MIDI room through the real app: msgpack frames over Litestar's sync TestClient, HTTP exports.

Transcribe demo loops and units, edit the notes as the page does, render them (PCM arrives), export
.mid (parsed back with pretty_midi) and WAV, keep a render as a sound, import MIDI, and the bad
inputs: each gets a clear error frame and the socket goes on working.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pretty_midi
import pytest
import soundfile as sf
from litestar.testing import TestClient

from residue import protocol
from residue.config import Settings
from residue.dsp import notes as nt
from residue.models import basic_pitch as bp
from residue.services import midi_room
from residue.transport.app import create_app

ENC = msgspec.msgpack.Encoder()
DEC = msgspec.msgpack.Decoder(protocol.ServerFrame)
SR = 44100


class Socket:
    """Send frames, read the replies of one request, collect its PCM."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.next_id = 100

    def rid(self) -> int:
        self.next_id += 1
        return self.next_id

    def send(self, frame: protocol.Frame) -> None:
        self.ws.send_bytes(ENC.encode(frame))

    def until(self, request_id: int, *types: type) -> list[Any]:
        seen: list[Any] = []
        for _ in range(10_000):
            data = self.ws.receive_bytes()
            if data[:2] == protocol.PCM_MAGIC:
                _, _, channels, rid, index, _sr = protocol.PCM_HEADER.unpack_from(data)
                if rid == request_id:
                    pcm = np.frombuffer(data, dtype="<f4", offset=protocol.PCM_HEADER.size)
                    seen.append(({"index": index, "channels": channels}, pcm))
                continue
            frame = DEC.decode(data)
            if getattr(frame, "request_id", None) != request_id:
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
        start = seen[0]
        assert isinstance(start, protocol.AudioStart)  # the header comes before any PCM
        chunks = [f for f in seen if isinstance(f, tuple)]
        assert [c[0]["index"] for c in chunks] == list(range(len(chunks)))
        pcm = np.concatenate([c[1] for c in chunks]).reshape(-1, start.channels).T
        assert pcm.shape[1] == start.n_frames
        return start, pcm


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient[Any]]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("data"),
        max_upload_bytes=3_000_000,
        max_duration_s=60.0,
        max_frame_bytes=256_000,
        static_dir=Path("/nonexistent"),
    )
    with TestClient(app=create_app(settings)) as c:
        yield c


@pytest.fixture
def sock(client: TestClient[Any]) -> Iterator[Socket]:
    with client.websocket_connect("/ws") as ws:
        s = Socket(ws)
        hello = protocol.Hello(request_id=1, protocol_version=protocol.PROTOCOL_VERSION)
        assert isinstance(s.request(hello, protocol.Welcome), protocol.Welcome)
        yield s


def demo(sock: Socket, name: str) -> protocol.SoundInfo:
    sounds = sock.request(protocol.ListSounds(request_id=sock.rid()), protocol.Sounds)
    assert isinstance(sounds, protocol.Sounds), sounds
    return next(s for s in sounds.sounds if s.name == f"demo {name}")


def transcribe(
    sock: Socket, source: Any, backend: str | None = "nmf", **settings: Any
) -> protocol.Transcription:
    frame = protocol.Transcribe(
        request_id=sock.rid(), source=source, backend=backend,
        settings=protocol.TranscribeSettings(**settings),
    )
    reply = sock.request(frame, protocol.Transcription)
    assert isinstance(reply, protocol.Transcription), reply
    return reply


def error_of(sock: Socket, frame: Any) -> protocol.Error:
    reply = sock.request(frame, protocol.Transcription, protocol.AudioEnd, protocol.MidiParts,
                         protocol.SoundAdded)
    assert isinstance(reply, protocol.Error), reply
    return reply


def render(part: protocol.NotePart, **kw: Any) -> protocol.NoteRender:
    return protocol.NoteRender(parts=[part], **kw)


def bends_of(note: protocol.MidiNote) -> np.ndarray:
    return np.frombuffer(note.bends, dtype="<f4").reshape(-1, 2)


def post_msgpack(client: TestClient[Any], path: str, body: bytes) -> Any:
    return client.post(path, content=body, headers={"Content-Type": "application/msgpack"})


@pytest.fixture(scope="module")
def chords(client: TestClient[Any]) -> protocol.Transcription:
    with client.websocket_connect("/ws") as ws:
        s = Socket(ws)
        s.request(protocol.Hello(request_id=1, protocol_version=protocol.PROTOCOL_VERSION),
                  protocol.Welcome)
        return transcribe(s, protocol.SoundSource(sound_id=demo(s, "chords").sound_id))


# --- what the room offers ---------------------------------------------------------------------


def test_choices_list_every_backend_and_synth_with_reasons(sock: Socket) -> None:
    reply = sock.request(protocol.GetMidiChoices(request_id=sock.rid()), protocol.MidiChoices)
    assert isinstance(reply, protocol.MidiChoices)
    assert [b.name for b in reply.backends] == ["basic-pitch", "nmf", "pyin", "drums"]
    assert reply.default_backend in {"basic-pitch", "nmf"}
    synths = {s.name: s for s in reply.synths}
    assert {"additive", "subtractive", "fm", "sampler", "soundfont"} <= set(synths)
    assert synths["sampler"].needs_instrument and synths["sampler"].presets == ["harmonic", "grain"]
    assert "pluck" in synths["subtractive"].presets
    font = synths["soundfont"]
    assert font.available == bool(reply.soundfonts)
    assert font.available or font.reason  # unavailable always says why
    assert len(reply.programs) == 128 and reply.programs[0] == "Acoustic Grand Piano"
    assert "24-tet" in reply.tunings and "minor" in reply.scales


def test_unavailable_backend_is_listed_with_reason_and_refused(
    sock: Socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    gone = bp.Availability(False, "the Basic Pitch model file is absent (test)", None)
    monkeypatch.setattr(bp, "availability", lambda *a, **k: gone)
    reply = sock.request(protocol.GetMidiChoices(request_id=sock.rid()), protocol.MidiChoices)
    first = reply.backends[0]
    assert (first.name, first.available, first.reason) == ("basic-pitch", False, gone.reason)
    assert reply.default_backend == "nmf"
    source = protocol.SoundSource(sound_id=demo(sock, "bass").sound_id)
    err = error_of(sock, protocol.Transcribe(request_id=sock.rid(), source=source,
                                             backend="basic-pitch"))
    assert err.code == "model_unavailable" and "absent" in err.message


# --- transcription ------------------------------------------------------------------------------


def test_transcribe_a_demo_loop(sock: Socket) -> None:
    sound = demo(sock, "chords")
    frame = protocol.Transcribe(
        request_id=sock.rid(), source=protocol.SoundSource(sound_id=sound.sound_id), backend="nmf"
    )
    sock.send(frame)
    seen = sock.until(frame.request_id, protocol.Transcription)
    reply = seen[-1]
    assert isinstance(reply, protocol.Transcription), reply
    assert any(isinstance(f, protocol.JobProgress) for f in seen[:-1])
    assert reply.backend == "nmf" and reply.sound_id == sound.sound_id and reply.start_s == 0.0
    assert reply.duration_s == pytest.approx(sound.duration_s)
    notes = reply.part.notes
    assert len(notes) >= 8
    assert all(0 <= n.start_s < n.end_s <= reply.duration_s + 0.5 for n in notes)
    assert reply.part.tempo_bpm == pytest.approx(sound.tempo_bpm)  # the sound's tempo, for export
    assert reply.key is not None and reply.seconds > 0


def test_default_backend_and_a_region(sock: Socket) -> None:
    sound = demo(sock, "bass")
    reply = transcribe(
        sock, protocol.SoundSource(sound_id=sound.sound_id, start_s=1.0, end_s=3.0), backend=None
    )
    assert reply.backend in {"basic-pitch", "nmf"}
    assert reply.start_s == pytest.approx(1.0) and reply.duration_s == pytest.approx(2.0)
    assert reply.part.notes and max(n.end_s for n in reply.part.notes) <= 2.2


def test_transcribe_a_unit_of_a_decomposition(sock: Socket) -> None:
    sound = demo(sock, "bass")
    d = sock.request(
        protocol.Decompose(request_id=sock.rid(), sound_id=sound.sound_id, n_components=2,
                           n_iter=30, start_s=0.5, end_s=3.5),
        protocol.Decomposition,
    )
    assert isinstance(d, protocol.Decomposition), d
    unit = protocol.UnitComponent(decomposition_id=d.decomposition_id, unit=0)
    reply = transcribe(sock, unit, backend="nmf")
    assert reply.source == unit and reply.sound_id == sound.sound_id
    assert reply.start_s == pytest.approx(0.5, abs=0.01)
    assert reply.duration_s == pytest.approx(3.0, abs=0.05)
    # the unit's own spectrogram, not the sound's
    frame = protocol.GetSourceSpectrogram(request_id=sock.rid(), source=unit)
    sock.send(frame)
    seen = [f for f in sock.until(frame.request_id, protocol.SpectrogramTile)]
    info = seen[0]
    assert isinstance(info, protocol.SpectrogramInfo)
    assert info.n_frames * info.hop_s == pytest.approx(3.0, abs=0.05)


def test_cleanups_change_the_notes(sock: Socket, chords: protocol.Transcription) -> None:
    source = chords.source
    raw = chords.part.notes
    budget = transcribe(sock, source, max_notes_per_s=1.0).part.notes
    assert 0 < len(budget) < len(raw) and len(budget) <= chords.duration_s * 1.0 + 1
    grid = 60.0 / 120.0 / 4
    quant = transcribe(sock, source, quantize=True, tempo_bpm=120.0, steps_per_beat=4).part
    assert quant.tempo_bpm == pytest.approx(120.0)
    starts = np.array([n.start_s for n in quant.notes]) - quant.notes[0].start_s
    assert np.allclose(starts / grid, np.round(starts / grid), atol=1e-3)  # one grid, any phase
    snapped = transcribe(sock, source, key="C major").part.notes
    assert {n.pitch % 12 for n in snapped} <= set(nt.SCALES["major"])
    short = transcribe(sock, source, min_note_ms=400.0).part.notes
    assert all(n.end_s - n.start_s >= 0.4 - 1e-6 for n in short) and len(short) < len(raw)


@pytest.mark.parametrize(("backend", "cleanup_min_s"), [("nmf", 0.5), ("drums", None)])
def test_min_note_length_sets_backend_and_cleanup(
    backend: str, cleanup_min_s: float | None
) -> None:
    settings = protocol.TranscribeSettings(min_note_ms=500.0, merge_gap_ms=30.0, key="auto",
                                           max_notes_per_s=3.0)
    opt = midi_room.transcribe_options(settings, backend=backend)
    assert opt.min_note_ms == 500.0
    # drum hits are short by nature: the length clean-up spares them
    assert opt.cleanup.min_duration_s == cleanup_min_s
    assert opt.cleanup.merge_gap_s == pytest.approx(0.03)
    assert (opt.cleanup.key, opt.cleanup.max_notes_per_s) == ("auto", 3.0)
    assert opt.max_notes == protocol.MAX_PART_NOTES


# --- edit, render, export -----------------------------------------------------------------------


def edited(part: protocol.NotePart) -> protocol.NotePart:
    """What the page does: delete the first note, move the second up an octave and later."""
    notes = list(part.notes)
    del notes[0]
    n = notes[0]
    notes[0] = msgspec.structs.replace(n, pitch=n.pitch + 12, start_s=n.start_s + 0.1,
                                       end_s=n.end_s + 0.1)
    return msgspec.structs.replace(part, notes=notes)


def test_render_edited_notes_streams_pcm(sock: Socket, chords: protocol.Transcription) -> None:
    part = edited(chords.part)
    start, pcm = sock.audio(protocol.RenderNotes(request_id=sock.rid(),
                                                 render=render(part, synth="subtractive")))
    assert start.sample_rate == SR and start.channels == 1
    last = max(n.end_s for n in part.notes)
    assert last * SR <= pcm.shape[1] <= (last + 2.0) * SR
    assert float(np.sqrt(np.mean(pcm**2))) > 0.01 and float(np.abs(pcm).max()) <= 1.0
    _, other = sock.audio(protocol.RenderNotes(request_id=sock.rid(),
                                               render=render(chords.part, synth="subtractive")))
    n = min(pcm.shape[1], other.shape[1])
    assert not np.allclose(pcm[:, :n], other[:, :n], atol=1e-3)  # the edit is heard


@pytest.mark.parametrize(("synth", "preset"), [("additive", "organ"), ("fm", "bell")])
def test_render_with_each_synth_and_preset(
    sock: Socket, chords: protocol.Transcription, synth: str, preset: str
) -> None:
    _, pcm = sock.audio(protocol.RenderNotes(
        request_id=sock.rid(), render=render(chords.part, synth=synth, preset=preset)))
    assert float(np.sqrt(np.mean(pcm**2))) > 0.01


def test_render_with_the_source_under_it(sock: Socket, chords: protocol.Transcription) -> None:
    alone = render(chords.part)
    both = render(chords.part, with_source=chords.source)
    _, a = sock.audio(protocol.RenderNotes(request_id=sock.rid(), render=alone))
    start, b = sock.audio(protocol.RenderNotes(request_id=sock.rid(), render=both))
    assert start.channels == 2  # the demo loop is stereo
    assert b.shape[1] >= round(chords.duration_s * SR)
    n = min(a.shape[1], b.shape[1])
    assert np.abs(b[0, :n] - midi_room.MIX_GAIN * a[0, :n]).max() > 0.01  # the source is there


def test_tunings_change_pitch_and_export_bends(
    sock: Socket, client: TestClient[Any], chords: protocol.Transcription
) -> None:
    part = chords.part
    _, tet = sock.audio(protocol.RenderNotes(request_id=sock.rid(), render=render(part)))
    for tuning in ("19-edo", "just", "9/8 5/4 4/3 3/2 5/3 15/8 2/1"):
        _, other = sock.audio(protocol.RenderNotes(request_id=sock.rid(),
                                                   render=render(part, tuning=tuning)))
        n = min(tet.shape[1], other.shape[1])
        assert not np.allclose(tet[:, :n], other[:, :n], atol=1e-3), tuning
    steady = msgspec.structs.replace(
        part, notes=[msgspec.structs.replace(n, bends=b"") for n in part.notes])
    res = post_msgpack(client, "/api/midi/export.mid", ENC.encode(render(steady, tuning="19-edo")))
    assert res.status_code == 200
    pm = pretty_midi.PrettyMIDI(io.BytesIO(res.content))
    assert sum(len(i.pitch_bends) for i in pm.instruments) > 0  # retuned by per-note bends


def test_sampler_plays_a_unit_or_a_library_component(sock: Socket) -> None:
    sound = demo(sock, "pad")
    d = sock.request(
        protocol.Decompose(request_id=sock.rid(), sound_id=sound.sound_id, n_components=2,
                           n_iter=30),
        protocol.Decomposition,
    )
    kept = sock.request(
        protocol.SaveComponent(request_id=sock.rid(), decomposition_id=d.decomposition_id, unit=1,
                               name="pad body"),
        protocol.LibraryChanged,
    )
    assert isinstance(kept, protocol.LibraryChanged), kept
    part = protocol.NotePart(notes=[
        protocol.MidiNote(pitch=57, start_s=0.0, end_s=0.4),
        protocol.MidiNote(pitch=64, start_s=0.5, end_s=0.9, velocity=70),
    ])
    for instrument, mode in (
        (protocol.UnitComponent(decomposition_id=d.decomposition_id, unit=0), "harmonic"),
        (protocol.LibraryComponent(component_id=kept.component_id), "grain"),
        (protocol.SoundSource(sound_id=demo(sock, "bass").sound_id, end_s=0.5), None),
    ):
        _, pcm = sock.audio(protocol.RenderNotes(request_id=sock.rid(), render=render(
            part, synth="sampler", preset=mode, instrument=instrument)))
        assert float(np.sqrt(np.mean(pcm[:, : SR // 2] ** 2))) > 0.005, instrument


def test_soundfont_program(sock: Socket, chords: protocol.Transcription) -> None:
    reply = sock.request(protocol.GetMidiChoices(request_id=sock.rid()), protocol.MidiChoices)
    if not reply.soundfonts:
        pytest.skip("no General MIDI SoundFont installed")
    start, pcm = sock.audio(protocol.RenderNotes(
        request_id=sock.rid(), render=render(chords.part, synth="soundfont", program=33)))
    assert start.channels == 2 and float(np.sqrt(np.mean(pcm**2))) > 0.005


def test_export_mid_and_wav_over_http(
    client: TestClient[Any], chords: protocol.Transcription
) -> None:
    part = edited(chords.part)
    body = ENC.encode(render(part, synth="fm", program=4))
    res = post_msgpack(client, "/api/midi/export.mid", body)
    assert res.status_code == 200 and res.headers["content-type"].startswith("audio/midi")
    assert ".mid" in res.headers["content-disposition"]
    pm = pretty_midi.PrettyMIDI(io.BytesIO(res.content))
    got = np.array(sorted((n.start, n.pitch) for i in pm.instruments for n in i.notes))
    want = np.array(sorted((n.start_s, n.pitch) for n in part.notes))
    assert got.shape == want.shape
    assert np.array_equal(got[:, 1], want[:, 1])
    assert np.allclose(got[:, 0], want[:, 0], atol=1e-3)  # within a tick
    assert {i.program for i in pm.instruments} == {4}
    assert pm.get_tempo_changes()[1][0] == pytest.approx(part.tempo_bpm or 120.0)
    wav = post_msgpack(client, "/api/midi/render.wav", body)
    assert wav.status_code == 200 and "fm" in wav.headers["content-disposition"]
    y, sr = sf.read(io.BytesIO(wav.content), dtype="float32")
    assert sr == SR and y.shape[0] >= max(n.end_s for n in part.notes) * SR
    assert float(np.sqrt(np.mean(y**2))) > 0.01


def test_export_refuses_a_body_that_is_not_notes(client: TestClient[Any]) -> None:
    for body in (b"", b"\xc1 not msgpack", ENC.encode({"parts": []})):
        res = post_msgpack(client, "/api/midi/export.mid", body)
        assert res.status_code == 400, body
        assert res.json()["code"] == "bad_parameter" and res.json()["message"]


def test_keep_a_render_as_a_new_sound(
    client: TestClient[Any], sock: Socket, chords: protocol.Transcription
) -> None:
    with client.websocket_connect("/ws") as other_ws:
        other = Socket(other_ws)
        other.request(protocol.Hello(request_id=1, protocol_version=protocol.PROTOCOL_VERSION),
                      protocol.Welcome)
        r = render(chords.part, synth="additive", preset="pluck", notes_from=chords.source)
        frame = protocol.SaveRender(request_id=sock.rid(), render=r, name="chords as pluck")
        reply = sock.request(frame, protocol.SoundAdded)
        assert isinstance(reply, protocol.SoundAdded), reply
        assert reply.sound.origin == "render" and reply.sound.name == "chords as pluck"
        assert reply.sound.tempo_bpm == pytest.approx(chords.part.tempo_bpm)
        event = other.until(0, protocol.SoundAdded)[-1]  # the other tab hears of it
        assert event.sound.sound_id == reply.sound.sound_id
    record = client.app.state.ctx.store.sounds.get(reply.sound.sound_id)
    assert record.provenance["render"]["synth"] == "additive"
    assert record.provenance["notes_from"]["sound_id"] == chords.sound_id
    listed = sock.request(protocol.ListSounds(request_id=sock.rid()), protocol.Sounds)
    assert reply.sound.sound_id in {s.sound_id for s in listed.sounds}
    # and it can be transcribed in turn
    assert transcribe(sock, protocol.SoundSource(sound_id=reply.sound.sound_id)).part.notes


def test_import_midi_round_trip(
    sock: Socket, client: TestClient[Any], chords: protocol.Transcription
) -> None:
    mid = post_msgpack(client, "/api/midi/export.mid", ENC.encode(render(chords.part))).content
    reply = sock.request(protocol.ImportMidi(request_id=sock.rid(), data=mid, name="x.mid"),
                         protocol.MidiParts)
    assert isinstance(reply, protocol.MidiParts), reply
    notes = [n for p in reply.parts for n in p.notes]
    assert sorted(n.pitch for n in notes) == sorted(n.pitch for n in chords.part.notes)
    assert reply.duration_s == pytest.approx(max(n.end_s for n in chords.part.notes), abs=0.01)
    bent = [n for n in chords.part.notes if n.bends]
    if bent:  # bends survive the round trip (in the MIDI bend resolution)
        back = {(n.pitch, round(n.start_s, 2)): n for n in notes}
        first = back[(bent[0].pitch, round(bent[0].start_s, 2))]
        assert bends_of(first).size > 0


# --- bad input -----------------------------------------------------------------------------------


def test_bad_inputs_get_clear_errors_and_the_socket_lives(
    sock: Socket, chords: protocol.Transcription
) -> None:
    source = chords.source
    part = chords.part
    cases: list[tuple[Any, str, str]] = [
        (protocol.Transcribe(request_id=sock.rid(), source=source, backend="magenta"),
         "bad_parameter", "backend='magenta' must be one of"),
        (protocol.Transcribe(request_id=sock.rid(), source=source,
                             settings=protocol.TranscribeSettings(key="H major")),
         "bad_parameter", "H major"),
        (protocol.Transcribe(request_id=sock.rid(),
                             source=protocol.SoundSource(sound_id="nosuchsound")),
         "not_found", "nosuchsound"),
        (protocol.Transcribe(request_id=sock.rid(), source=protocol.SoundSource(
            sound_id=chords.sound_id, start_s=99.0)), "bad_parameter", "past the end"),
        (protocol.RenderNotes(request_id=sock.rid(), render=render(part, tuning="banana")),
         "bad_parameter", "tuning='banana'"),
        (protocol.RenderNotes(request_id=sock.rid(), render=render(part, synth="theremin")),
         "bad_parameter", "synth='theremin'"),
        (protocol.RenderNotes(request_id=sock.rid(), render=render(part, preset="kazoo")),
         "bad_parameter", "preset='kazoo'"),
        (protocol.RenderNotes(request_id=sock.rid(), render=render(part, synth="sampler")),
         "bad_parameter", "needs an instrument"),
        (protocol.RenderNotes(request_id=sock.rid(), render=render(
            protocol.NotePart(notes=[protocol.MidiNote(pitch=60, start_s=1.0, end_s=0.5)]))),
         "bad_parameter", "note 0"),
        (protocol.RenderNotes(request_id=sock.rid(), render=render(protocol.NotePart(notes=[
            protocol.MidiNote(pitch=60, start_s=0.0, end_s=0.5, bends=b"\x00" * 5)]))),
         "bad_parameter", "pairs"),
        (protocol.RenderNotes(request_id=sock.rid(), render=render(protocol.NotePart(notes=[]))),
         "bad_parameter", "no notes"),
        (protocol.RenderNotes(request_id=sock.rid(), render=render(protocol.NotePart(notes=[
            protocol.MidiNote(pitch=60, start_s=0.0, end_s=3600.0)]))),
         "limit_exceeded", "limit"),
        (protocol.ImportMidi(request_id=sock.rid(), data=b"RIFF....WAVEfmt not a midi file"),
         "bad_parameter", "not a MIDI file"),
        (protocol.ImportMidi(request_id=sock.rid(), data=b""), "bad_parameter", "empty"),
    ]
    for frame, code, words in cases:
        err = error_of(sock, frame)
        assert err.code == code and words in err.message, (frame, err)
    # a program out of range never reaches the service: the frame itself is refused
    bad = ENC.encode(protocol.RenderNotes(request_id=sock.rid(), render=render(part)))
    bad = bad.replace(b"\xa7program\xc0", b"\xa7program\xcc\xc8")  # program: nil -> 200
    assert b"\xcc\xc8" in bad
    sock.ws.send_bytes(bad)
    err = sock.until(sock.next_id, protocol.AudioEnd)[-1]
    assert isinstance(err, protocol.Error) and err.code == "bad_frame" and "program" in err.message
    # after all that the socket still works
    _, pcm = sock.audio(protocol.RenderNotes(request_id=sock.rid(), render=render(part)))
    assert pcm.shape[1] > 0


def test_too_many_notes_in_a_midi_file(sock: Socket) -> None:
    # a Standard MIDI File by hand: delta 5, note on, delta 5, note off, many times
    events = b"".join(
        bytes([5, 0x90, 60 + i % 12, 80, 5, 0x80, 60 + i % 12, 0])
        for i in range(protocol.MAX_PART_NOTES + 1)
    ) + b"\x00\xff\x2f\x00"
    buf = io.BytesIO()
    buf.write(b"MThd" + struct.pack(">IHHH", 6, 0, 1, 480))
    buf.write(b"MTrk" + struct.pack(">I", len(events)) + events)
    assert len(buf.getvalue()) < protocol.MAX_MIDI_BYTES
    err = error_of(sock, protocol.ImportMidi(request_id=sock.rid(), data=buf.getvalue()))
    assert err.code == "limit_exceeded" and "notes" in err.message


def test_silence_gives_no_notes(client: TestClient[Any], sock: Socket) -> None:
    quiet = np.zeros((1, SR), dtype=np.float32)
    buf = io.BytesIO()
    sf.write(buf, quiet.T, SR, format="WAV")
    res = client.post("/api/sounds?name=silence.wav", content=buf.getvalue())
    assert res.status_code == 201
    reply = transcribe(sock, protocol.SoundSource(sound_id=res.json()["sound_id"]))
    assert reply.part.notes == [] and reply.key is None


# --- the wire view of notes -----------------------------------------------------------------------


def test_notes_round_trip_through_the_wire_view() -> None:
    seq = nt.sequence(
        [nt.make_note(60, 0.0, 0.5, velocity=90, bends=[(0.0, 0.0), (0.25, 0.5)]),
         nt.make_note(64, 0.25, 1.0)],
        program=5, name="keys", tempo_bpm=100.0,
    )
    wire = midi_room.part_to_wire(seq)
    assert bends_of(wire.notes[0]).tolist() == [[0.0, 0.0], [0.25, 0.5]]
    decoded = msgspec.msgpack.decode(ENC.encode(wire), type=protocol.NotePart)
    back = midi_room.part_from_wire(decoded)
    assert back == seq


def test_long_bend_curves_are_thinned_for_the_wire() -> None:
    n = protocol.MAX_BEND_POINTS * 3
    curve = [(i / 1000.0, float(np.sin(i / 50.0))) for i in range(n)]
    seq = nt.sequence([nt.make_note(60, 0.0, n / 1000.0, bends=curve)])
    points = bends_of(midi_room.part_to_wire(seq).notes[0])
    assert len(points) == protocol.MAX_BEND_POINTS
    assert points[0, 0] == 0.0 and points[-1, 0] == pytest.approx(curve[-1][0])
    assert struct.calcsize("<2f") * len(points) <= 8 * protocol.MAX_BEND_POINTS
