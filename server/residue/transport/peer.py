"""A connected socket (its ordered outgoing queue) and the hub of live sessions.

Every socket that is in a session belongs to a :class:`LiveSession` of this process. Events of a
session (a library op, a new sound, presence) are published on the session's channel through
Litestar's Channels plugin (memory backend, or Redis so that several server processes share
sessions); each process forwards what arrives on a channel to its own sockets of that session.

A channel message is one kind byte and a body:

* ``F`` + an encoded server frame: forward it to every socket of the session;
* ``R`` + a link id: the link was revoked; sockets that joined with it are let out;
* ``Q`` (no body): someone joined elsewhere; every process republishes its members' presence.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import msgspec
import numpy as np
from litestar import WebSocket
from litestar.channels import ChannelsPlugin, Subscriber
from litestar.exceptions import WebSocketDisconnect

from residue import protocol
from residue.config import Settings
from residue.dsp.progress import CancelToken, ProgressFn
from residue.errors import LimitExceeded
from residue.jobs.executor import Work
from residue.services.context import Context
from residue.services.render import pcm_chunks
from residue.transport.codec import encode

log = logging.getLogger("residue.transport")
T = TypeVar("T")

_CLOSE = object()

#: Event frames queued for one socket beyond which further events skip it (it catches up by
#: ``resume``: op numbers show what it missed), so a stalled client cannot grow memory.
MAX_QUEUED_EVENTS = 4000
#: Distinct colours of people in a session, in the order they are handed out.
PALETTE = (
    "#5ad1c4", "#f2a65a", "#b48ef0", "#f06d8c", "#8fd16a", "#5aa0f2",
    "#f2d95a", "#d98a5a", "#7fe0f0", "#c9c9c9", "#e07fd1", "#a0a0f2",
)  # fmt: skip


class Bucket:
    """A token bucket: ``rate`` frames per second on average, ``burst`` at once."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = max(float(rate), 0.001)
        self.burst = max(int(burst), 1)
        self._tokens = float(self.burst)
        self._at = time.monotonic()

    def take(self) -> bool:
        """Spend one token; False when the bucket is empty (the frame is over the limit)."""
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True


class Peer:
    """One connected socket: an ordered outgoing queue, its requests, the session it is in."""

    def __init__(
        self, socket: WebSocket[Any, Any, Any], *, name: str = "", local: bool = False,
        bucket: Bucket | None = None,
    ) -> None:
        self.socket = socket
        self.peer_id = secrets.token_hex(6)
        self.name = name
        self.greeted = False
        self.local = local
        self.bucket = bucket or Bucket(1e9, 1 << 30)
        self.running: dict[int, tuple[asyncio.Task[None], CancelToken]] = {}
        # The session: its scoped context, the role and link it was entered with, and the
        # member shown to others (None for a socket that entered without joining by name).
        self.ctx: Context | None = None
        self.role: str | None = None
        self.token_id: str | None = None
        self.member: protocol.Member | None = None
        self._queue: asyncio.Queue[bytes | object] = asyncio.Queue()

    @property
    def session_id(self) -> str | None:
        """The session this socket is in, or None."""
        return None if self.ctx is None else self.ctx.session_id

    def send(self, frame: protocol.ServerFrame) -> None:
        """Queue a control frame."""
        self._queue.put_nowait(encode(frame))

    def progress(self, request_id: int) -> ProgressFn:
        """A progress function whose reports reach this socket as ``job_progress`` frames."""

        def report(fraction: float, stage: str, /) -> None:
            self.send(
                protocol.JobProgress(
                    request_id=request_id, fraction=round(fraction, 4), stage=stage
                )
            )

        return report

    def send_raw(self, data: bytes) -> None:
        """Queue a raw (audio or already encoded) frame."""
        self._queue.put_nowait(data)

    def queued(self) -> int:
        """Frames waiting to leave."""
        return self._queue.qsize()

    def close(self) -> None:
        """Let the writer finish what is queued and stop."""
        self._queue.put_nowait(_CLOSE)

    def kick(self, code: int, reason: str) -> None:
        """Send what is queued, then close the socket with ``code``."""
        self._queue.put_nowait(_Kick(code, reason))

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
            try:
                if isinstance(item, _Kick):
                    await self.socket.close(code=item.code, reason=item.reason)
                    return
                if isinstance(item, bytes):
                    await self.socket.send_bytes(item)
            except (WebSocketDisconnect, RuntimeError, OSError):
                return


@dataclass(frozen=True)
class _Kick:
    code: int
    reason: str


@dataclass(eq=False)
class LiveSession:
    """A session with sockets in this process: its peers, heavy jobs under way, its channel."""

    session_id: str
    peers: set[Peer] = field(default_factory=set)
    jobs: int = 0
    subscriber: Subscriber | None = None
    task: asyncio.Task[None] | None = None

    def members(self) -> list[protocol.Member]:
        """The people here who joined by name, in the order of their colours."""
        found = [p.member for p in self.peers if p.member is not None]
        return sorted(found, key=lambda m: (PALETTE.index(m.colour), m.member_id))


def channel_name(session_id: str) -> str:
    """The Channels channel of a session."""
    return f"residue.session.{session_id}"


class Hub:
    """The live sessions of this process, and their channels."""

    def __init__(self, settings: Settings, channels: ChannelsPlugin, *, shared: bool) -> None:
        self.settings = settings
        self.channels = channels
        #: Whether other processes publish on the same channels (the Redis backend).
        self.shared = shared
        self.peers: set[Peer] = set()
        self.sessions: dict[str, LiveSession] = {}
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        # One thread commits library changes, so events leave in the order of their op numbers.
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="residue-write")

    # -- entering and leaving ------------------------------------------------------------------

    async def enter(
        self,
        peer: Peer,
        ctx: Context,
        *,
        role: str,
        token_id: str | None,
        name: str | None,
    ) -> LiveSession:
        """Put ``peer`` into ``ctx``'s session (it leaves any other first).

        With a ``name`` it becomes a member others see (with a colour); without one it only
        follows the session's events.

        Raises
        ------
        LimitExceeded
            When the server has its most sessions in use, or the session its most sockets.
        """
        await self.leave(peer)
        sid = ctx.session_id
        s = self.settings
        async with self._lock:
            live = self.sessions.get(sid)
            if live is None:
                in_use = sum(1 for x in self.sessions.values() if x.peers)
                if in_use >= s.max_live_sessions:
                    raise LimitExceeded(
                        f"the server has {in_use} sessions in use, its limit "
                        f"(RESIDUE_MAX_LIVE_SESSIONS={s.max_live_sessions}); try again later"
                    )
                live = LiveSession(session_id=sid)
                live.subscriber = await self.channels.subscribe([channel_name(sid)])
                live.task = asyncio.create_task(self._forward(live))
                self.sessions[sid] = live
            if len(live.peers) >= s.max_session_sockets:
                raise LimitExceeded(
                    f"this session has {len(live.peers)} connections, its limit "
                    f"(RESIDUE_MAX_SESSION_SOCKETS={s.max_session_sockets})"
                )
            peer.ctx, peer.role, peer.token_id = ctx, role, token_id
            peer.member = None
            if name is not None:
                used = {p.member.colour for p in live.peers if p.member is not None}
                colour = next((c for c in PALETTE if c not in used), PALETTE[len(used) % 12])
                peer.member = protocol.Member(
                    member_id=peer.peer_id,
                    name=name,
                    colour=colour,
                    role="admin" if role == "admin" else "guest",
                )
                peer.name = name
            live.peers.add(peer)
        if peer.member is not None:
            self.publish(sid, protocol.Presence(request_id=0, members=[peer.member]))
            if self.shared:
                self._publish_raw(sid, b"Q")
        return live

    async def leave(self, peer: Peer) -> None:
        """Take ``peer`` out of its session (the session's channel closes with its last peer)."""
        sid = peer.session_id
        if sid is None:
            return
        member = peer.member
        peer.ctx, peer.role, peer.token_id, peer.member = None, None, None, None
        stale: LiveSession | None = None
        async with self._lock:
            live = self.sessions.get(sid)
            if live is not None:
                live.peers.discard(peer)
                if not live.peers:
                    stale = self.sessions.pop(sid)
        if member is not None:
            self.publish(sid, protocol.Presence(request_id=0, members=[], left=[member.member_id]))
        if stale is not None:
            await self._close(stale)

    async def _close(self, live: LiveSession) -> None:
        if live.subscriber is not None:
            with contextlib.suppress(Exception):
                await self.channels.unsubscribe(live.subscriber, [channel_name(live.session_id)])
        if live.task is not None:
            live.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await live.task

    async def close(self) -> None:
        """Close every live session and the writer (at shut-down)."""
        for live in list(self.sessions.values()):
            await self._close(live)
        self.sessions.clear()
        self._writer.shutdown(wait=True)

    async def write(self, fn: Callable[[], T]) -> T:
        """Run a store change on the one writer thread (changes commit and publish in order)."""
        return await asyncio.get_running_loop().run_in_executor(self._writer, fn)

    # -- events --------------------------------------------------------------------------------

    def publish(self, session_id: str, frame: protocol.ServerFrame) -> None:
        """Send an event to every socket of the session, in every server process."""
        self._publish_raw(session_id, b"F" + encode(frame))

    def broadcast(
        self, frame: protocol.ServerFrame, *, session_id: str, exclude: Peer | None = None
    ) -> None:
        """Send an event to every socket of the session.

        ``exclude`` gets it too: events carry what a client needs to tell them from its replies.
        """
        self.publish(session_id, frame)

    def revoke(self, session_id: str, token_id: str) -> None:
        """Let out every socket (in every process) that entered with link ``token_id``."""
        self._publish_raw(session_id, b"R" + token_id.encode("ascii"))

    def set_presence(self, peer: Peer, *, playing: str | None, name: str | None) -> None:
        """Change what ``peer`` is listening to (or its name) and tell the session."""
        if peer.member is None or peer.session_id is None:
            return
        changes: dict[str, Any] = {"playing": playing}
        if name is not None:
            changes["name"] = name
            peer.name = name
        peer.member = msgspec.structs.replace(peer.member, **changes)
        self.publish(peer.session_id, protocol.Presence(request_id=0, members=[peer.member]))

    def members(self, session_id: str) -> list[protocol.Member]:
        """Members of a session in this process."""
        live = self.sessions.get(session_id)
        return [] if live is None else live.members()

    def _publish_raw(self, session_id: str, data: bytes) -> None:
        try:
            self.channels.publish(data, [channel_name(session_id)])
        except RuntimeError:  # the plugin is shutting down
            log.debug("dropped an event of session %s at shut-down", session_id)

    async def _forward(self, live: LiveSession) -> None:
        """Deliver what arrives on the session's channel to this process's sockets of it."""
        if live.subscriber is None:
            return
        async for data in live.subscriber.iter_events():
            kind, body = data[:1], data[1:]
            if kind == b"F":
                for peer in list(live.peers):
                    if peer.greeted and peer.queued() < MAX_QUEUED_EVENTS:
                        peer.send_raw(body)
            elif kind == b"R":
                token_id = body.decode("ascii", "replace")
                for peer in [p for p in live.peers if p.token_id == token_id]:
                    peer.send(
                        protocol.Error(
                            request_id=0,
                            code="not_authorized",
                            message="the link you joined with was revoked by the session's owner",
                        )
                    )
                    peer.kick(4403, "link revoked")
                    # leaving may close this very forwarder, so it runs as its own task
                    task = asyncio.create_task(self.leave(peer))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
            elif kind == b"Q":
                mine = live.members()
                if mine:
                    self.publish(live.session_id, protocol.Presence(request_id=0, members=mine))

    # -- limits --------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def job(self, peer: Peer, what: str) -> AsyncIterator[None]:
        """Hold one of the session's heavy-job slots while the block runs.

        Raises
        ------
        LimitExceeded
            When the session already runs its most heavy jobs.
        """
        live = self.sessions.get(peer.session_id or "")
        limit = self.settings.max_jobs_per_session
        if live is not None and live.jobs >= limit:
            raise LimitExceeded(
                f"this session already runs {live.jobs} heavy jobs (the limit is {limit}); "
                f"{what} can start when one of them finishes"
            )
        if live is not None:
            live.jobs += 1
        try:
            yield
        finally:
            if live is not None:
                live.jobs -= 1


#: A request handler: every room of the page registers a table of these.
Handler = Callable[[Context, Hub, Peer, Any, CancelToken], Awaitable[None]]


async def run_job(
    ctx: Context,
    hub: Hub,
    peer: Peer,
    work: Work[T],
    *,
    request_id: int,
    what: str,
    cancel: CancelToken,
) -> T:
    """Run heavy work on the job executor in one of the session's job slots.

    Its progress reaches the page as ``job_progress`` frames of ``request_id``; ``what`` names
    the work in the refusal when the session already runs its most jobs.
    """
    async with hub.job(peer, what):
        return await ctx.executor.run(work, progress=peer.progress(request_id), cancel=cancel)


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
