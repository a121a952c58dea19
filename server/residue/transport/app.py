"""The Litestar application factory."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from litestar import Litestar, Response, WebSocket, get, websocket
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.base import ChannelsBackend
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.datastructures import State
from litestar.static_files import create_static_files_router

from residue.config import Settings
from residue.errors import ResidueError, UnsupportedError
from residue.services import separation
from residue.services import sounds as sound_service
from residue.services.context import Context
from residue.transport import http, midi_http, ws
from residue.transport.peer import Hub

log = logging.getLogger("residue")

#: Events held for a session's channel subscriber before the oldest are dropped (clients notice
#: the gap in op numbers and catch up with ``resume``).
CHANNEL_BACKLOG = 10_000

#: Where `npm run build` puts the page, relative to the repository root.
DEFAULT_STATIC = Path(__file__).resolve().parents[3] / "frontend" / "dist"

_NOT_BUILT = """<!doctype html><meta charset=utf-8><title>residue</title>
<body style="font-family:sans-serif;background:#111;color:#eee;padding:2em">
<h1>residue</h1><p>The server is running, but the page has not been built.
Run <code>make run</code> (it builds frontend/ with npm) and reload.</p>"""


def _isolation_headers(response: Response[Any]) -> Response[Any]:
    # Cross-origin isolation lets the page share a ring buffer with the audio thread.
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    response.headers["Cross-Origin-Embedder-Policy"] = "require-corp"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


@websocket("/ws")
async def socket_handler(socket: WebSocket[Any, Any, Any], state: State) -> None:
    """The studio's one socket per tab."""
    await ws.serve(socket, state.ctx, state.hub)


@get("/", media_type="text/html", include_in_schema=False)
async def not_built() -> str:
    """Shown when frontend/dist is missing."""
    return _NOT_BUILT


def create_app(settings: Settings | None = None, *, context: Context | None = None) -> Litestar:
    """Build the app: the socket, the HTTP API, and the page as static files.

    Parameters
    ----------
    settings : Settings, optional
        Defaults to :meth:`Settings.from_env`.
    context : Context, optional
        An already open context (tests); otherwise one is opened at start-up and closed at
        shut-down.
    """
    settings = settings or Settings.from_env()

    backend, shared = channels_backend(settings)
    channels = ChannelsPlugin(
        backend=backend,
        arbitrary_channels_allowed=True,
        subscriber_max_backlog=CHANNEL_BACKLOG,
        subscriber_backlog_strategy="dropleft",
    )

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        ctx = context or Context.open(settings)
        app.state.ctx = ctx
        hub = Hub(settings, channels, shared=shared)
        app.state.hub = hub
        if settings.demo:
            made = await ctx.executor.run(lambda p, t: sound_service.ensure_demo(ctx))
            if made:
                log.info("made %d demo loops", len(made))
        # fire and forget: start-up does not wait, and a failure only makes a first grid slower
        warming = asyncio.create_task(_warm_up()) if settings.warm_up else None
        try:
            yield
        finally:
            if warming is not None:
                warming.cancel()
            await hub.close()
            if context is None:
                ctx.close()

    static = settings.static_dir or DEFAULT_STATIC
    handlers: list[Any] = [socket_handler, *http.ROUTES, *midi_http.ROUTES]
    if (static / "index.html").is_file():
        handlers.append(
            create_static_files_router(
                path="/", directories=[static], html_mode=True, after_request=_isolation_headers
            )
        )
    else:
        handlers.append(not_built)

    return Litestar(
        route_handlers=handlers,
        lifespan=[lifespan],
        plugins=[channels],
        exception_handlers={ResidueError: _http_error, Exception: _http_error},
        request_max_body_size=settings.max_upload_bytes,
        after_request=_isolation_headers,
        debug=False,
    )


async def _warm_up() -> None:
    """Load what a first separation grid needs, off the event loop (``RESIDUE_WARM_UP``)."""
    try:
        seconds = await asyncio.to_thread(separation.warm_up)
    except Exception:
        log.exception("separation warm-up failed; the first grid will start more slowly")
        return
    log.info("separation warmed up in %.2f s", seconds)


def _http_error(request: Any, exc: Exception) -> Response[bytes]:
    return http.error_response(exc)


def channels_backend(settings: Settings) -> tuple[ChannelsBackend, bool]:
    """The Channels backend: Redis when ``RESIDUE_REDIS_URL`` is set, else in memory.

    Returns the backend and whether other processes may share it.
    """
    if not settings.redis_url:
        return MemoryChannelsBackend(), False
    try:
        from litestar.channels.backends.redis import RedisChannelsPubSubBackend
        from redis.asyncio import Redis
    except ImportError:
        raise UnsupportedError(
            "RESIDUE_REDIS_URL is set but the redis package is missing: pip install redis"
        ) from None
    return RedisChannelsPubSubBackend(redis=Redis.from_url(settings.redis_url)), True
