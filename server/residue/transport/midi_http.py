"""HTTP routes of the MIDI room: the edited notes as a .mid file and their render as a WAV.

Both take a :class:`residue.protocol.NoteRender` as the msgpack body (``application/msgpack``),
the same value the socket's ``render_notes`` carries, so that note bends stay raw bytes.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import msgspec
from litestar import Request, Response, post

from residue import protocol
from residue.errors import ParameterError
from residue.services import midi_room
from residue.transport.http import session_context

_decoder = msgspec.msgpack.Decoder(protocol.NoteRender)


def _attachment(data: bytes, *, filename: str, media_type: str) -> Response[bytes]:
    return Response(
        data,
        media_type=media_type,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"},
    )


async def _note_render(request: Request[Any, Any, Any]) -> protocol.NoteRender:
    body = await request.body()
    if not body:
        raise ParameterError("the request has no body: send the notes as a msgpack NoteRender")
    try:
        return _decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise ParameterError(f"invalid notes: {exc}") from None
    except msgspec.DecodeError:
        raise ParameterError("the body is not a msgpack NoteRender") from None


@post("/api/midi/export.mid", status_code=200)
async def export_mid(request: Request[Any, Any, Any]) -> Response[bytes]:
    """The notes as a Standard MIDI File (retuned by per-note bends when not 12-TET)."""
    ctx = session_context(request)
    r = await _note_render(request)
    data = await ctx.executor.run(lambda p, t: midi_room.export_midi(r))
    stem = (r.parts[0].name or "notes").strip()
    safe = "".join(ch if ch.isalnum() or ch in " -_()" else "_" for ch in stem)[:100] or "notes"
    return _attachment(data, filename=f"{safe}.mid", media_type="audio/midi")


@post("/api/midi/render.wav", status_code=200)
async def render_wav(request: Request[Any, Any, Any]) -> Response[bytes]:
    """The notes rendered as the body asks, as a 24-bit WAV."""
    ctx = session_context(request)
    r = await _note_render(request)
    data = await ctx.executor.run(lambda p, t: midi_room.render_wav(ctx, r))
    return _attachment(data, filename=f"{midi_room.export_stem(r)}.wav", media_type="audio/wav")


ROUTES = [export_mid, render_wav]
