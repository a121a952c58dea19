"""HTTP routes: uploads (with progress in the browser) and downloads (WAV, zip).

Every route but the health probe works in one session: the one its bearer token opens (see
:mod:`residue.transport.auth`), or the default session for the local user.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import msgspec
from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.params import FromPath, FromQuery
from litestar.response import File

from residue import protocol
from residue.errors import LimitExceeded, NotFound, ParameterError
from residue.services import render as render_service
from residue.services import sounds as sound_service
from residue.services import timbre_room
from residue.services.audio_io import encode_wav
from residue.services.context import Context
from residue.services.decompose import open_decomposition
from residue.transport import auth
from residue.transport.errors import describe, http_status
from residue.transport.peer import Hub

_json = msgspec.json.Encoder()


def error_response(exc: BaseException) -> Response[bytes]:
    """The JSON error body every HTTP route returns: ``{code, message, error_id}``."""
    if isinstance(exc, HTTPException):
        body = {"code": "http", "message": exc.detail, "error_id": None}
        return Response(
            _json.encode(body), status_code=exc.status_code, media_type="application/json"
        )
    code, message, error_id = describe(exc)
    body = {"code": code, "message": message, "error_id": error_id}
    return Response(_json.encode(body), status_code=http_status(exc), media_type="application/json")


def _attachment(data: bytes, *, filename: str, media_type: str) -> Response[bytes]:
    return Response(
        data,
        media_type=media_type,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"},
    )


def session_context(request: Request[Any, Any, Any]) -> Context:
    """The context of the session this request may work in.

    Raises
    ------
    NotAuthorized
        Without a valid token (or local access), or from another site's page.
    """
    ctx: Context = request.app.state.ctx
    grant = auth.http_grant(ctx, request.headers, request.scope.get("client"))
    return ctx.scoped(grant.session_id)


@post("/api/sounds", status_code=201)
async def upload_sound(
    request: Request[Any, Any, Any], state: State, name: FromQuery[str] = "upload"
) -> Response[bytes]:
    """Add an uploaded audio file (the raw file is the body) to the store."""
    ctx = session_context(request)
    limit = ctx.settings.max_upload_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise LimitExceeded(
            f"{name} is {int(declared) / 1e6:.1f} MB; the limit is {limit / 1e6:.0f} MB"
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise LimitExceeded(f"{name} is larger than the {limit / 1e6:.0f} MB limit")
        chunks.append(chunk)
    data = b"".join(chunks)
    record = await ctx.executor.run(lambda p, t: sound_service.ingest(ctx, data, name=name))
    info = sound_service.sound_info(record)
    hub: Hub = state.hub
    hub.publish(ctx.session_id, protocol.SoundAdded(request_id=0, sound=info))
    return Response(_json.encode(info), status_code=201, media_type="application/json")


@get("/api/sounds/{sound_id:str}/audio.wav")
async def sound_wav(request: Request[Any, Any, Any], sound_id: FromPath[str]) -> Response[bytes]:
    """The stored sound as a 24-bit WAV at its own rate."""
    ctx = session_context(request)
    record, y = await ctx.executor.run(lambda p, t: sound_service.load_audio(ctx, sound_id))
    data = await ctx.executor.run(lambda p, t: encode_wav(y, sr=record.sample_rate))
    stem = record.name.rsplit(".", 1)[0] or "sound"
    return _attachment(data, filename=f"{stem}.wav", media_type="audio/wav")


@post("/api/render.wav", status_code=200)
async def render_wav(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Render a RenderSpec (the JSON body) to a WAV: the current edit, as heard."""
    ctx = session_context(request)
    body = await request.body()
    try:
        spec = msgspec.json.decode(body, type=protocol.RenderSpec)
    except msgspec.ValidationError as exc:
        raise ParameterError(f"invalid render spec: {exc}") from None
    except msgspec.DecodeError:
        raise ParameterError("the render spec is not valid JSON") from None
    opened, y = await ctx.executor.run(lambda p, t: render_service.render(ctx, spec))
    data = await ctx.executor.run(lambda p, t: encode_wav(y, sr=opened.sr))
    edited = " edit" if spec.edits else ""
    if spec.units is not None and len(spec.units) == 1:
        edited = f" unit {spec.units[0] + 1:02d}{edited}"
    return _attachment(
        data, filename=f"{render_service.export_stem(opened)}{edited}.wav", media_type="audio/wav"
    )


@get("/api/decompositions/{decomposition_id:str}/units/{filename:str}")
async def unit_wav(
    request: Request[Any, Any, Any], decomposition_id: FromPath[str], filename: FromPath[str]
) -> Response[bytes]:
    """One unit, unedited, as a WAV: ``units/0.wav`` is the first unit."""
    ctx = session_context(request)
    stem, _, ext = filename.partition(".")
    if ext != "wav" or not stem.isdigit() or not 0 <= int(stem) <= 63:
        raise NotFound(f"no unit file {filename!r}: ask for units/<0-63>.wav")
    unit = int(stem)
    spec = protocol.RenderSpec(decomposition_id=decomposition_id, units=[unit])
    opened, y = await ctx.executor.run(lambda p, t: render_service.render(ctx, spec))
    data = await ctx.executor.run(lambda p, t: encode_wav(y, sr=opened.sr))
    return _attachment(
        data,
        filename=f"{render_service.export_stem(opened)} unit {unit + 1:02d}.wav",
        media_type="audio/wav",
    )


@get("/api/decompositions/{decomposition_id:str}/units.zip")
async def units_zip(
    request: Request[Any, Any, Any], decomposition_id: FromPath[str]
) -> Response[bytes]:
    """Every unit of a decomposition as WAVs in a zip."""
    ctx = session_context(request)
    data = await ctx.executor.run(lambda p, t: render_service.units_zip(ctx, decomposition_id))
    opened = await ctx.executor.run(lambda p, t: open_decomposition(ctx, decomposition_id))
    return _attachment(
        data, filename=f"{render_service.export_stem(opened)}.zip", media_type="application/zip"
    )


@get("/api/exports/{filename:str}")
async def export_zip(request: Request[Any, Any, Any], filename: FromPath[str]) -> File:
    """An exported album (``<export_id>.zip``), for the session that exported it only."""
    ctx = session_context(request)
    found = timbre_room.export_file(ctx, filename)
    return File(path=found.path, filename=found.filename, media_type="application/zip")


@get("/api/health")
async def health() -> dict[str, str]:
    """Liveness probe."""
    return {"status": "ok"}


ROUTES = [upload_sound, sound_wav, render_wav, unit_wav, units_zip, export_zip, health]
