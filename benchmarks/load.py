"""Load: 50 WebSocket clients in 5 sessions editing one library each, auditioning, for a while.

Starts the real server (uvicorn) on 127.0.0.1 with a fresh data folder. The owner makes the
sessions, a sharing link and a tiny decomposition in each; then every client joins its session
by link and, for ``--seconds``, keeps components, renames them (naming the version it saw),
adds and removes tags, deletes, auditions units and says what it listens to. Each client keeps
its own copy of the library from the op events (and ``resume`` when it sees a gap), as the page
does. Afterwards the server is stopped and every client's copy is compared with the database.

    python benchmarks/load.py [--clients 50] [--sessions 5] [--seconds 20]

Prints ``lost operations: N`` (acknowledged ops missing from the database, plus ops some client
never received), ``converged: yes|no``, the broadcast latency p50/p99 (from the sender's send to
another client's receipt of the event) and the server's peak memory. Nothing here is a timed
assert; tests/test_load.py runs it briefly and checks the first two lines.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import soundfile as sf
from websockets.asyncio.client import ClientConnection, connect

from residue import protocol

ENC = msgspec.msgpack.Encoder()
DEC = msgspec.msgpack.Decoder(protocol.ServerFrame)
#: How long a client waits for a missing op before it asks for the ops it missed.
GAP_WAIT_S = 0.3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tiny_wav(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    sr = 22050
    t = np.arange(sr // 2) / sr
    y = 0.3 * np.sin(2 * np.pi * (110 + 40 * seed) * t) + 0.05 * rng.standard_normal(t.shape)
    buf = io.BytesIO()
    sf.write(buf, y.astype(np.float32), sr, format="WAV")
    return buf.getvalue()


def start_server(data: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "RESIDUE_DATA": str(data), "RESIDUE_DEMO": "0"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "residue.cli", "serve", "--port", str(port), "--no-demo"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise RuntimeError(f"server exited: {err}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=1)
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def request(ws: ClientConnection, frame: Any, want: type) -> Any:
    """Send and wait for the reply (setup only: nothing else is in flight)."""
    await ws.send(ENC.encode(frame))
    while True:
        data = await ws.recv()
        if isinstance(data, str) or data[:2] == protocol.PCM_MAGIC:
            continue
        reply = DEC.decode(data)
        if reply.request_id == frame.request_id and not isinstance(reply, protocol.JobProgress):
            if not isinstance(reply, want):
                raise RuntimeError(f"expected {want.__name__}, got {reply}")
            return reply


@dataclass
class SessionSetup:
    session_id: str
    token: str
    decomposition_id: str
    n_units: int


async def setup(url: str, port: int, owner: str, n_sessions: int) -> list[SessionSetup]:
    """The owner makes the sessions, their links and a tiny decomposition in each."""
    out = []
    async with connect(f"{url}/ws", max_size=None) as ws:
        await request(ws, protocol.Hello(request_id=1, protocol_version=protocol.PROTOCOL_VERSION),
                      protocol.Welcome)
        await request(ws, protocol.Join(request_id=2, token=owner, name="owner"), protocol.Joined)
        rid = 10
        for i in range(n_sessions):
            made = await request(ws, protocol.CreateSession(request_id=rid, name=f"load {i}"),
                                 protocol.SessionCreated)
            sid = made.session.session_id
            await request(ws, protocol.Join(request_id=rid + 1, session_id=sid, token=owner,
                                            name="owner"), protocol.Joined)
            invite = await request(ws, protocol.CreateInvite(request_id=rid + 2),
                                   protocol.Invite)
            req = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/sounds?name=tiny{i}.wav", data=tiny_wav(i),
                headers={"Authorization": f"Bearer {owner}", "X-Residue-Session": sid},
                method="POST",
            )
            sound = json.loads(urllib.request.urlopen(req).read())["sound_id"]
            dec = await request(ws, protocol.Decompose(request_id=rid + 3, sound_id=sound,
                                                       n_components=4, n_iter=10),
                                protocol.Decomposition)
            out.append(SessionSetup(sid, invite.token, dec.decomposition_id, dec.n_components))
            rid += 10
    return out


@dataclass
class Shared:
    """What all clients of the run record."""

    #: (session, seq) -> (when its request was sent, by which client)
    sent: dict[tuple[str, int], tuple[float, int]] = field(default_factory=dict)
    #: (when the op was sent, how long until another client received its event)
    latencies: list[tuple[float, float]] = field(default_factory=list)
    acked: list[tuple[str, int, str, str]] = field(default_factory=list)  # session, seq, op, id
    errors: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    auditions: int = 0
    resumes: int = 0


class Client:
    """One person in a session, with the page's rules for applying library ops."""

    def __init__(self, index: int, s: SessionSetup, url: str, shared: Shared, seed: int) -> None:
        self.index = index
        self.s = s
        self.url = url
        self.shared = shared
        self.rng = random.Random(seed)
        self.items: dict[str, protocol.LibraryItem] = {}
        self.seq = 0
        self.start_seq = 0
        self.buffer: dict[int, protocol.LibraryChanged] = {}
        self.pending: dict[int, tuple[str, float]] = {}
        self.covered: set[int] = set()
        self.next_id = 100
        self.resuming = False
        self.gap_timer: asyncio.TimerHandle | None = None
        self.tasks: set[asyncio.Future[None]] = set()
        self.ws: ClientConnection | None = None

    # -- the page's op rules ----------------------------------------------------------------

    def apply(self, change: protocol.LibraryChanged) -> None:
        if change.seq <= self.seq:
            return  # a duplicate (the reply and the event of one op)
        if change.seq > self.seq + 1:
            self.buffer[change.seq] = change
            self._gap()
            return
        self._apply_one(change)
        while self.seq + 1 in self.buffer:
            self._apply_one(self.buffer.pop(self.seq + 1))

    def _apply_one(self, change: protocol.LibraryChanged) -> None:
        if change.op == "delete" or change.item is None:
            self.items.pop(change.component_id, None)
        else:
            self.items[change.component_id] = change.item
        self.seq = change.seq
        self.covered.add(change.seq)

    def _gap(self) -> None:
        if self.gap_timer is None and not self.resuming:
            loop = asyncio.get_running_loop()
            self.gap_timer = loop.call_later(GAP_WAIT_S, self._start_resume)

    def _start_resume(self) -> None:
        task = asyncio.ensure_future(self._resume())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _resume(self) -> None:
        self.gap_timer = None
        if not self.buffer or self.resuming or self.ws is None:
            return
        self.resuming = True
        self.shared.resumes += 1
        await self.send(protocol.Resume(request_id=self.rid(), since=self.seq), "resume")

    def synced(self, reply: protocol.LibraryOps) -> None:
        self.resuming = False
        if reply.snapshot is not None:
            self.items = {i.component_id: i for i in reply.snapshot}
            self.covered.update(range(self.seq + 1, reply.last_seq + 1))
            self.seq = reply.last_seq
        else:
            for op in reply.ops:
                if op.seq <= self.seq:
                    continue
                if op.op == "delete" or op.item is None:
                    self.items.pop(op.component_id, None)
                else:
                    self.items[op.component_id] = op.item
                self.seq = op.seq
                self.covered.add(op.seq)
            self.seq = max(self.seq, reply.last_seq)
        for seq in [s for s in self.buffer if s <= self.seq]:
            del self.buffer[seq]
        while self.seq + 1 in self.buffer:
            self._apply_one(self.buffer.pop(self.seq + 1))
        if self.buffer:
            self._gap()

    # -- the socket ---------------------------------------------------------------------------

    def rid(self) -> int:
        self.next_id += 1
        return self.next_id

    async def send(self, frame: Any, kind: str) -> None:
        assert self.ws is not None
        self.pending[frame.request_id] = (kind, time.monotonic())
        await self.ws.send(ENC.encode(frame))

    async def reader(self) -> None:
        assert self.ws is not None
        async for data in self.ws:
            if isinstance(data, str) or data[:2] == protocol.PCM_MAGIC:
                continue
            self.receive(DEC.decode(data), time.monotonic())

    def receive(self, frame: Any, now: float) -> None:
        key = (self.s.session_id, getattr(frame, "seq", 0))
        if isinstance(frame, protocol.LibraryChanged):
            if frame.request_id in self.pending:
                # the reply names the op's seq: its events are timed from this request's send
                self.shared.sent[key] = (self.pending.pop(frame.request_id)[1], self.index)
                self.shared.acked.append((*key, frame.op, frame.component_id))
            elif frame.request_id == 0:
                sent = self.shared.sent.get(key)
                if sent is not None and sent[1] != self.index:
                    self.shared.latencies.append((sent[0], now - sent[0]))
            self.apply(frame)
        elif isinstance(frame, protocol.LibraryOps):
            self.pending.pop(frame.request_id, None)
            self.synced(frame)
        elif isinstance(frame, protocol.AudioEnd):
            self.pending.pop(frame.request_id, None)
            self.shared.auditions += 1
        elif isinstance(frame, protocol.Error):
            self.pending.pop(frame.request_id, None)
            self.shared.errors[frame.code] += 1
        elif isinstance(frame, protocol.Ok):
            self.pending.pop(frame.request_id, None)

    async def act(self) -> None:
        r = self.rng.random()
        ids = list(self.items)
        rid = self.rid()
        if not ids or r < 0.25:
            frame: Any = protocol.SaveComponent(
                request_id=rid, decomposition_id=self.s.decomposition_id,
                unit=self.rng.randrange(self.s.n_units), name=f"c{self.index}-{rid}",
                tags=["kept"])
            kind = "write"
        elif r < 0.40:
            cid = self.rng.choice(ids)
            frame = protocol.RenameComponent(request_id=rid, component_id=cid,
                                             name=f"n{self.index}-{rid}",
                                             base_version=self.items[cid].version)
            kind = "write"
        elif r < 0.58:
            frame = protocol.AddTag(request_id=rid, component_id=self.rng.choice(ids),
                                    tag=f"t{self.rng.randrange(6)}")
            kind = "write"
        elif r < 0.68:
            frame = protocol.RemoveTag(request_id=rid, component_id=self.rng.choice(ids),
                                       tag=f"t{self.rng.randrange(6)}")
            kind = "write"
        elif r < 0.76:
            frame = protocol.DeleteComponent(request_id=rid, component_id=self.rng.choice(ids))
            kind = "write"
        elif r < 0.97:
            unit = self.rng.randrange(self.s.n_units)
            frame = protocol.Audition(request_id=rid, spec=protocol.RenderSpec(
                decomposition_id=self.s.decomposition_id, units=[unit]))
            kind = "audition"
            await self.send(protocol.SetPresence(request_id=self.rid(),
                                                 playing=f"unit {unit + 1}"), "presence")
        else:
            frame = protocol.SetPresence(request_id=rid, playing=None)
            kind = "presence"
        await self.send(frame, kind)

    async def run(self, until: float, done: asyncio.Event) -> None:
        async with connect(f"{self.url}/ws", max_size=None) as ws:
            self.ws = ws
            await ws.send(ENC.encode(protocol.Hello(request_id=1,
                                                    protocol_version=protocol.PROTOCOL_VERSION)))
            await ws.send(ENC.encode(protocol.Join(request_id=2, session_id=self.s.session_id,
                                                   token=self.s.token, name=f"p{self.index}")))
            await ws.send(ENC.encode(protocol.Resume(request_id=3, since=0)))
            self.resuming = True
            reader = asyncio.create_task(self.reader())
            while self.resuming:
                await asyncio.sleep(0.01)
            self.start_seq = self.seq
            while time.monotonic() < until:
                await self.act()
                await asyncio.sleep(self.rng.uniform(0.2, 0.6))
            # stop acting; keep receiving until the run ends
            await done.wait()
            reader.cancel()


async def drive(url: str, sessions: list[SessionSetup], n_clients: int, seconds: float,
                settle_s: float) -> tuple[list[Client], Shared]:
    """Run every client for ``seconds``, then let the last events arrive."""
    shared = Shared()
    clients = [Client(i, sessions[i % len(sessions)], url, shared, seed=i)
               for i in range(n_clients)]
    until = time.monotonic() + seconds
    done = asyncio.Event()
    tasks = [asyncio.create_task(c.run(until, done)) for c in clients]
    await asyncio.sleep(seconds + settle_s)
    done.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for r in results:
        if isinstance(r, BaseException):
            raise r
    return clients, shared


def db_state(data: Path) -> tuple[dict[str, dict[str, tuple[str, tuple[str, ...], int]]],
                                  dict[str, dict[int, tuple[str, str]]]]:
    conn = sqlite3.connect(data / "residue.db")
    try:
        tags: defaultdict[str, list[str]] = defaultdict(list)
        for cid, tag in conn.execute("SELECT component_id, tag FROM component_tags"
                                     " ORDER BY component_id, position"):
            tags[cid].append(tag)
        state: defaultdict[str, dict[str, Any]] = defaultdict(dict)
        for cid, sid, name, version in conn.execute(
            "SELECT component_id, session_id, name, version FROM components"
        ):
            state[sid][cid] = (name, tuple(tags[cid]), int(version))
        log: defaultdict[str, dict[int, tuple[str, str]]] = defaultdict(dict)
        for sid, seq, op, cid in conn.execute(
            "SELECT session_id, session_seq, op, component_id FROM library_ops"
        ):
            log[sid][int(seq)] = (op, cid)
        return dict(state), dict(log)
    finally:
        conn.close()


def run(n_clients: int = 50, n_sessions: int = 5, seconds: float = 20.0,
        settle_s: float = 1.5) -> dict[str, Any]:
    """Run the load and return its figures (see the module docstring)."""
    with tempfile.TemporaryDirectory(prefix="residue-load-") as tmp:
        data = Path(tmp) / "data"
        port = free_port()
        url = f"ws://127.0.0.1:{port}"
        proc = start_server(data, port)
        try:
            owner = (data / "owner-token").read_text().strip()
            sessions = asyncio.run(setup(url, port, owner, n_sessions))
            t0 = time.monotonic()
            clients, shared = asyncio.run(drive(url, sessions, n_clients, seconds, settle_s))
            elapsed = time.monotonic() - t0
            peak = peak_rss_mb(proc.pid)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        state, log = db_state(data)
    # an acknowledged op is lost when the log does not hold it under its number
    lost = sum(1 for sid, seq, op, cid in shared.acked if log.get(sid, {}).get(seq) != (op, cid))
    converged = True
    for c in clients:
        sid = c.s.session_id
        last = max(log.get(sid, {0: None}))
        lost += len(set(range(c.start_seq + 1, last + 1)) - c.covered)
        mine = {cid: (i.name, tuple(i.tags), i.version) for cid, i in c.items.items()}
        if mine != state.get(sid, {}):
            converged = False
    timed = np.array(shared.latencies).reshape(-1, 2)
    lat = timed[:, 1] * 1000.0
    # the first second is everyone connecting at once; the rest is the steady state
    steady = lat[timed[:, 0] >= timed[:, 0].min() + 1.0] if lat.size else lat
    ops = sum(len(v) for v in log.values())
    return {
        "clients": n_clients,
        "sessions": n_sessions,
        "seconds": round(elapsed, 1),
        "ops": ops,
        "acked": len(shared.acked),
        "auditions": shared.auditions,
        "errors": dict(shared.errors),
        "resumes": shared.resumes,
        "lost": lost,
        "converged": converged,
        "latency_p50_ms": float(np.percentile(lat, 50)) if lat.size else float("nan"),
        "latency_p99_ms": float(np.percentile(lat, 99)) if lat.size else float("nan"),
        "events": int(lat.size),
        "steady_p50_ms": float(np.percentile(steady, 50)) if steady.size else float("nan"),
        "steady_p99_ms": float(np.percentile(steady, 99)) if steady.size else float("nan"),
        "peak_mb": peak,
    }


def report(r: dict[str, Any]) -> str:
    return "\n".join([
        f"{r['clients']} clients in {r['sessions']} sessions for {r['seconds']} s: "
        f"{r['ops']} library ops ({r['acked']} acknowledged), {r['auditions']} auditions, "
        f"{r['events']} op events received, {r['resumes']} resumes, errors {r['errors']}",
        f"lost operations: {r['lost']}",
        f"converged: {'yes' if r['converged'] else 'no'}",
        f"broadcast latency p50: {r['latency_p50_ms']:.1f} ms, p99: {r['latency_p99_ms']:.1f} ms"
        f" (after the first second of 50 clients connecting: p50 {r['steady_p50_ms']:.1f} ms,"
        f" p99 {r['steady_p99_ms']:.1f} ms)",
        f"server peak memory: {r['peak_mb']:.0f} MB",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--sessions", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args(argv)
    print(report(run(args.clients, args.sessions, args.seconds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
