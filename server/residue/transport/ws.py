"""The WebSocket: one per tab, binary, msgpack control frames plus raw PCM frames.

Each request runs as its own task, so a long decomposition never delays an audition; every frame
leaves through one ordered queue per socket, so progress always precedes the result it belongs to.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect

from residue import __version__, protocol
from residue.dsp.progress import CancelToken
from residue.errors import ParameterError, UnsupportedError
from residue.services import library as library_service
from residue.services import render as render_service
from residue.services import sounds as sound_service
from residue.services.context import Context
from residue.services.decompose import decompose, decomposition_frame, open_decomposition
from residue.transport.codec import decode_client, encode, request_id_of
from residue.transport.errors import error_frame

log = logging.getLogger("residue.transport")

_CLOSE = object()


class Peer:
    """One connected socket: an ordered outgoing queue and its requests under way."""

    def __init__(self, socket: WebSocket[Any, Any, Any], *, name: str = "") -> None:
        self.socket = socket
        self.name = name
        self.greeted = False
        self.running: dict[int, tuple[asyncio.Task[None], CancelToken]] = {}
        self._queue: asyncio.Queue[bytes | object] = asyncio.Queue()

    def send(self, frame: protocol.ServerFrame) -> None:
        """Queue a control frame."""
        self._queue.put_nowait(encode(frame))

    def send_raw(self, data: bytes) -> None:
        """Queue a raw (audio) frame."""
        self._queue.put_nowait(data)

    def close(self) -> None:
        """Let the writer finish what is queued and stop."""
        self._queue.put_nowait(_CLOSE)

    async def drain(self) -> None:
        """Wait until everything queued so far has been handed to the socket."""
        done = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(done)
        await done

    async def writer(self) -> None:
        """Send queued frames in order until closed or disconnected."""
        while True:
            item = await self._queue.get()
            if item is _CLOSE:
                return
            if isinstance(item, asyncio.Future):
                item.set_result(None)
                continue
            if not isinstance(item, bytes):
                continue
            try:
                await self.socket.send_bytes(item)
            except (WebSocketDisconnect, RuntimeError, OSError):
                return


@dataclass
class Hub:
    """Every connected socket of this process, for events (a library change, a new sound)."""

    peers: set[Peer] = field(default_factory=set)

    def broadcast(self, frame: protocol.ServerFrame, *, exclude: Peer | None = None) -> None:
        """Send an event to every socket but ``exclude``."""
        data = encode(frame)
        for peer in self.peers:
            if peer is not exclude and peer.greeted:
                peer.send_raw(data)


Handler = Callable[[Context, Hub, Peer, Any, CancelToken], Awaitable[None]]


async def _hello(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.Hello, cancel: CancelToken
) -> None:
    if f.protocol_version != protocol.PROTOCOL_VERSION:
        raise UnsupportedError(
            f"protocol_version={f.protocol_version} is not supported; this server speaks "
            f"version {protocol.PROTOCOL_VERSION} (reload the page)"
        )
    peer.greeted = True
    peer.name = f.client
    s = ctx.settings
    peer.send(
        protocol.Welcome(
            request_id=f.request_id,
            protocol_version=protocol.PROTOCOL_VERSION,
            server_version=__version__,
            max_upload_bytes=s.max_upload_bytes,
            max_duration_s=s.max_duration_s,
            max_frame_bytes=s.max_frame_bytes,
        )
    )


async def _list_sounds(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.ListSounds, cancel: CancelToken
) -> None:
    records = ctx.store.sounds.list()
    peer.send(
        protocol.Sounds(
            request_id=f.request_id, sounds=[sound_service.sound_info(r) for r in records]
        )
    )


async def _delete_sound(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.DeleteSound, cancel: CancelToken
) -> None:
    ctx.store.sounds.delete(f.sound_id)
    ctx.decompositions.discard(lambda key: True)
    peer.send(protocol.Ok(request_id=f.request_id))


async def _spectrogram(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.GetSpectrogram, cancel: CancelToken
) -> None:
    frames = await ctx.executor.run(
        lambda progress, token: list(
            sound_service.spectrogram_tiles(ctx, f.sound_id, request_id=f.request_id)
        )
    )
    for frame in frames:
        peer.send(frame)


async def _decompose(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.Decompose, cancel: CancelToken
) -> None:
    def progress(fraction: float, stage: str, /) -> None:
        peer.send(
            protocol.JobProgress(request_id=f.request_id, fraction=round(fraction, 4), stage=stage)
        )

    opened, cached = await ctx.executor.run(
        lambda p, token: decompose(ctx, f, progress=p, cancel=token),
        progress=progress,
        cancel=cancel,
    )
    peer.send(decomposition_frame(opened, request_id=f.request_id, cached=cached))


async def _get_decomposition(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.GetDecomposition, cancel: CancelToken
) -> None:
    opened = await ctx.executor.run(lambda p, t: open_decomposition(ctx, f.decomposition_id))
    peer.send(decomposition_frame(opened, request_id=f.request_id, cached=True))


async def _cancel(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.Cancel, cancel: CancelToken
) -> None:
    running = peer.running.get(f.target_request_id)
    if running is not None:
        running[1].cancel()
    peer.send(protocol.Ok(request_id=f.request_id))


async def _stream_audio(peer: Peer, request_id: int, y: Any, sr: int) -> None:
    n = int(y.shape[-1])
    channels = int(y.shape[0])
    peer.send(
        protocol.AudioStart(request_id=request_id, sample_rate=sr, channels=channels, n_frames=n)
    )
    for index, chunk in enumerate(render_service.pcm_chunks(y)):
        peer.send_raw(protocol.pack_pcm(request_id, index, sr, chunk, channels))
        if index == 0:
            await peer.drain()  # the first chunk leaves before anything else is queued
    peak = float(abs(y).max()) if n else 0.0
    peer.send(protocol.AudioEnd(request_id=request_id, n_frames=n, peak=round(peak, 6)))


async def _play_sound(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.PlaySound, cancel: CancelToken
) -> None:
    record, y = await ctx.executor.run(lambda p, t: sound_service.load_audio(ctx, f.sound_id))
    span = sound_service.region(record, start_s=f.start_s, end_s=f.end_s)
    await _stream_audio(peer, f.request_id, y[:, span.start : span.stop], record.sample_rate)


async def _audition(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.Audition, cancel: CancelToken
) -> None:
    opened, y = await ctx.executor.run(lambda p, t: render_service.render(ctx, f.spec))
    await _stream_audio(peer, f.request_id, y, opened.sr)


async def _plan_remix(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.PlanRemix, cancel: CancelToken
) -> None:
    assignments = await ctx.executor.run(lambda p, t: library_service.plan_remix(ctx, f))
    peer.send(
        protocol.RemixPlan(
            request_id=f.request_id,
            decomposition_id=f.decomposition_id,
            strategy=f.strategy,
            assignments=assignments,
        )
    )


LibraryOp = Literal["add", "rename", "tag", "delete"]


def _changed(
    hub: Hub, peer: Peer, request_id: int, op: LibraryOp, component_id: str, item: Any
) -> None:
    """Answer the request and tell every other socket (request_id 0 marks an event)."""
    peer.send(
        protocol.LibraryChanged(request_id=request_id, op=op, component_id=component_id, item=item)
    )
    hub.broadcast(
        protocol.LibraryChanged(request_id=0, op=op, component_id=component_id, item=item),
        exclude=peer,
    )


async def _save_component(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.SaveComponent, cancel: CancelToken
) -> None:
    record = await ctx.executor.run(
        lambda p, t: library_service.save_component(
            ctx,
            decomposition_id=f.decomposition_id,
            unit=f.unit,
            name=f.name,
            tags=list(f.tags),
            creator=peer.name,
        )
    )
    _changed(hub, peer, f.request_id, "add", record.component_id, library_service.item(record))


async def _list_library(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.ListLibrary, cancel: CancelToken
) -> None:
    records = ctx.store.library.list(query=f.query, tag=f.tag)
    peer.send(
        protocol.Library(request_id=f.request_id, items=[library_service.item(r) for r in records])
    )


async def _find_similar(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.FindSimilar, cancel: CancelToken
) -> None:
    items = await ctx.executor.run(
        lambda p, t: library_service.similar(ctx, f.component, limit=f.limit)
    )
    peer.send(protocol.Library(request_id=f.request_id, items=items))


async def _rename(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.RenameComponent, cancel: CancelToken
) -> None:
    record = ctx.store.library.rename(f.component_id, f.name)
    _changed(hub, peer, f.request_id, "rename", record.component_id, library_service.item(record))


async def _tag(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.TagComponent, cancel: CancelToken
) -> None:
    record = ctx.store.library.set_tags(f.component_id, list(f.tags))
    _changed(hub, peer, f.request_id, "tag", record.component_id, library_service.item(record))


async def _delete(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.DeleteComponent, cancel: CancelToken
) -> None:
    ctx.store.library.delete(f.component_id)
    _changed(hub, peer, f.request_id, "delete", f.component_id, None)


HANDLERS: dict[type[Any], Handler] = {
    protocol.Hello: _hello,
    protocol.ListSounds: _list_sounds,
    protocol.DeleteSound: _delete_sound,
    protocol.GetSpectrogram: _spectrogram,
    protocol.Decompose: _decompose,
    protocol.GetDecomposition: _get_decomposition,
    protocol.Cancel: _cancel,
    protocol.PlaySound: _play_sound,
    protocol.Audition: _audition,
    protocol.PlanRemix: _plan_remix,
    protocol.SaveComponent: _save_component,
    protocol.ListLibrary: _list_library,
    protocol.FindSimilar: _find_similar,
    protocol.RenameComponent: _rename,
    protocol.TagComponent: _tag,
    protocol.DeleteComponent: _delete,
}


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
                    raise ParameterError(f"frame of {len(data)} bytes is over the {limit} byte limit")
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
