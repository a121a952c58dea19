"""The WebSocket: one per tab, binary, msgpack control frames plus raw PCM frames.

Each request runs as its own task, so a long decomposition never delays an audition; every frame
leaves through one ordered queue per socket, so progress always precedes the result it belongs to.
``hello`` and ``join`` are handled in order, before the next frame is read, because they decide
which session the socket is in; nothing but them (and ``cancel``) is served outside a session.

Limits answered with an error frame, the socket staying usable: frame size, frames per second
(a token bucket per socket), heavy jobs per session. A browser from another origin is refused at
the handshake.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect

from residue import protocol
from residue.dsp.progress import CancelToken
from residue.errors import LimitExceeded, NotAuthorized, ParameterError
from residue.services.context import Context
from residue.transport import auth, midi, separation, sessions, studio, timbre
from residue.transport.codec import decode_client, request_id_of
from residue.transport.errors import error_frame
from residue.transport.peer import Bucket, Handler, Hub, Peer

#: Every request type the socket answers, room by room.
HANDLERS: dict[type[Any], Handler] = {
    **studio.HANDLERS,
    **midi.HANDLERS,
    **sessions.HANDLERS,
    **separation.HANDLERS,
    **timbre.HANDLERS,
}
#: Frames served to a socket that is in no session.
OUTSIDE: tuple[type[Any], ...] = (protocol.Hello, protocol.Join, protocol.Cancel)
#: Frames handled before the next frame is read (they move the socket between sessions).
INLINE: tuple[type[Any], ...] = (protocol.Hello, protocol.Join)
#: Close code of a refused handshake (another site's page).
CLOSE_FORBIDDEN = 4403


async def _run(ctx: Context, hub: Hub, peer: Peer, frame: Any, cancel: CancelToken) -> None:
    request_id = int(frame.request_id)
    try:
        await HANDLERS[type(frame)](ctx, hub, peer, frame, cancel)
    except Exception as exc:
        peer.send(error_frame(exc, request_id=request_id))
    finally:
        peer.running.pop(request_id, None)


def _check(ctx: Context, peer: Peer, data: bytes) -> Any:
    """Decode one frame and check it may be served now (raises what the error frame says)."""
    s = ctx.settings
    if not data:
        raise ParameterError("empty or text frame: residue speaks binary msgpack")
    if not peer.bucket.take():
        raise LimitExceeded(
            f"more than {s.max_frames_per_s:g} frames per second from this tab; this one was "
            "dropped (the connection stays open)"
        )
    if len(data) > s.max_frame_bytes:
        raise ParameterError(f"frame of {len(data)} bytes is over the {s.max_frame_bytes} B limit")
    frame = decode_client(data)
    if not peer.greeted and not isinstance(frame, protocol.Hello):
        raise ParameterError("the first frame must be 'hello'")
    if peer.ctx is None and not isinstance(frame, OUTSIDE):
        raise NotAuthorized(
            "join a session first: open the link you were given (this socket is in none)"
        )
    if frame.request_id in peer.running:
        raise ParameterError(f"request_id={frame.request_id} is already in use on this socket")
    return frame


async def serve(socket: WebSocket[Any, Any, Any], ctx: Context, hub: Hub) -> None:
    """Serve one socket until it closes (``ctx`` is the server's, the default session's)."""
    s = ctx.settings
    if not auth.origin_allowed(s, socket.headers):
        # Before accept: the handshake is refused (HTTP 403), nothing is read or sent.
        await socket.close(code=CLOSE_FORBIDDEN, reason="origin not allowed")
        return
    await socket.accept()
    peer = Peer(
        socket,
        local=auth.local_access(s, socket.headers, socket.scope.get("client")),
        bucket=Bucket(s.max_frames_per_s, s.frame_burst),
    )
    writer = asyncio.create_task(peer.writer())
    hub.peers.add(peer)
    try:
        async for data in socket.iter_data(mode="binary"):
            if writer.done():
                break
            try:
                frame = _check(ctx, peer, data)
            except Exception as exc:
                peer.send(error_frame(exc, request_id=request_id_of(data)))
                continue
            if isinstance(frame, INLINE):
                try:
                    await HANDLERS[type(frame)](ctx, hub, peer, frame, CancelToken())
                except Exception as exc:
                    peer.send(error_frame(exc, request_id=frame.request_id))
                continue
            token = CancelToken()
            scoped = peer.ctx if peer.ctx is not None else ctx
            task = asyncio.create_task(_run(scoped, hub, peer, frame, token))
            peer.running[frame.request_id] = (task, token)
    except WebSocketDisconnect:
        pass
    finally:
        hub.peers.discard(peer)
        with contextlib.suppress(Exception):
            await hub.leave(peer)
        for task, token in list(peer.running.values()):
            token.cancel()
            task.cancel()
        peer.close()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(writer, timeout=1.0)
