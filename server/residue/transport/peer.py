"""A connected socket (its ordered outgoing queue) and the hub of all sockets."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect

from residue import protocol
from residue.dsp.progress import CancelToken
from residue.services.context import Context
from residue.services.render import pcm_chunks
from residue.transport.codec import encode

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


#: A request handler: every room of the page registers a table of these.
Handler = Callable[[Context, Hub, Peer, Any, CancelToken], Awaitable[None]]


async def stream_audio(peer: Peer, request_id: int, y: np.ndarray, sr: int) -> None:
    """Send (channels, n) audio: ``audio_start``, PCM chunks (the first at once), ``audio_end``."""
    n = int(y.shape[-1])
    channels = int(y.shape[0])
    peer.send(
        protocol.AudioStart(request_id=request_id, sample_rate=sr, channels=channels, n_frames=n)
    )
    for index, chunk in enumerate(pcm_chunks(y)):
        peer.send_raw(protocol.pack_pcm(request_id, index, sr, chunk, channels))
        if index == 0:
            await peer.drain()  # the first chunk leaves before anything else is queued
    peak = float(np.abs(y).max()) if n else 0.0
    peer.send(protocol.AudioEnd(request_id=request_id, n_frames=n, peak=round(peak, 6)))
