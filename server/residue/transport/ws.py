"""The WebSocket: one per tab, binary, msgpack control frames plus raw PCM frames.

Each request runs as its own task, so a long decomposition never delays an audition; every frame
leaves through one ordered queue per socket, so progress always precedes the result it belongs to.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect

from residue import protocol
from residue.dsp.progress import CancelToken
from residue.errors import ParameterError
from residue.services.context import Context
from residue.transport import midi, studio
from residue.transport.codec import decode_client, request_id_of
from residue.transport.errors import error_frame
from residue.transport.peer import Handler, Hub, Peer

#: Every request type the socket answers, room by room.
HANDLERS: dict[type[Any], Handler] = {**studio.HANDLERS, **midi.HANDLERS}


async def _run(ctx: Context, hub: Hub, peer: Peer, frame: Any, cancel: CancelToken) -> None:
    request_id = int(frame.request_id)
    try:
        await HANDLERS[type(frame)](ctx, hub, peer, frame, cancel)
    except Exception as exc:
        peer.send(error_frame(exc, request_id=request_id))
    finally:
        peer.running.pop(request_id, None)


async def serve(socket: WebSocket[Any, Any, Any], ctx: Context, hub: Hub) -> None:
    """Serve one socket until it closes."""
    await socket.accept()
    peer = Peer(socket)
    writer = asyncio.create_task(peer.writer())
    hub.peers.add(peer)
    try:
        async for data in socket.iter_data(mode="binary"):
            if writer.done():
                break
            request_id = 0
            try:
                if not data:
                    raise ParameterError("empty or text frame: residue speaks binary msgpack")
                if len(data) > ctx.settings.max_frame_bytes:
                    request_id = request_id_of(data)
                    limit = ctx.settings.max_frame_bytes
                    raise ParameterError(f"frame of {len(data)} bytes is over the {limit} B limit")
                request_id = request_id_of(data)
                frame = decode_client(data)
                request_id = frame.request_id
                if not peer.greeted and not isinstance(frame, protocol.Hello):
                    raise ParameterError("the first frame must be 'hello'")
                if request_id in peer.running:
                    raise ParameterError(
                        f"request_id={request_id} is already in use on this socket"
                    )
            except Exception as exc:
                peer.send(error_frame(exc, request_id=request_id))
                continue
            token = CancelToken()
            task = asyncio.create_task(_run(ctx, hub, peer, frame, token))
            peer.running[request_id] = (task, token)
    except WebSocketDisconnect:
        pass
    finally:
        hub.peers.discard(peer)
        for task, token in list(peer.running.values()):
            token.cancel()
            task.cancel()
        peer.close()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(writer, timeout=1.0)
