"""Durability: SIGKILL the real server at random moments during a stream of library writes.

After each kill the database must pass ``PRAGMA integrity_check``, hold every op that was
acknowledged (and its effect), number its ops without gaps, and no row may name a missing blob.
The next start sweeps orphan blobs.

Starting ``residue serve`` costs about five seconds of imports (torch, librosa), so 50 cold
starts would take minutes: the first cycle runs the real command, the others fork it from a
"zygote" process that has done those imports once. Each fork runs the same ``residue serve``
(the CLI's own ``main``: uvicorn, the app, start-up sweep) in a fresh process, which is what is
killed. ``RESIDUE_DURABILITY_CYCLES`` changes the number of kills (default 50).
"""

from __future__ import annotations

import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import msgspec
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from wsclient import wav_bytes

from residue import protocol
from residue.store.db import BLOB_COLUMNS

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
CYCLES = int(os.environ.get("RESIDUE_DURABILITY_CYCLES", "50"))
ENC = msgspec.msgpack.Encoder()
DEC = msgspec.msgpack.Decoder(protocol.ServerFrame)

# The zygote: imports the server once, then forks `residue serve --port P` on every "P" line of
# stdin and answers with the child's pid. It reaps its children as they die.
ZYGOTE = r"""
import os, signal, sys
import uvicorn  # noqa: F401
import residue.transport.app  # noqa: F401  (torch, librosa, litestar: the slow imports)
from residue import cli
def reap(*_):
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass
signal.signal(signal.SIGCHLD, reap)
for line in sys.stdin:
    port = line.strip()
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        code = cli.main(["serve", "--port", port, "--no-demo"])
        os._exit(code)
    sys.stdout.write(f"{pid}\n")
    sys.stdout.flush()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(port: int, alive: Any, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError("the server died while starting")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=1)
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError("the server did not start")


def _gone(pid: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        status = Path(f"/proc/{pid}/status").read_text() if Path(f"/proc/{pid}").exists() else ""
        if "State:\tZ" in status:
            return  # dead; its parent reaps it
        time.sleep(0.01)


def _recv(ws: ClientConnection, timeout: float | None) -> Any:
    data = ws.recv(timeout=timeout)
    if isinstance(data, str) or data[:2] == protocol.PCM_MAGIC:
        return None
    return DEC.decode(data)


def _request(ws: ClientConnection, frame: Any, want: type) -> Any:
    ws.send(ENC.encode(frame))
    while True:
        reply = _recv(ws, 60)
        if reply is None or reply.request_id != frame.request_id:
            continue
        if isinstance(reply, protocol.JobProgress):
            continue
        assert isinstance(reply, want), reply
        return reply


class Writer:
    """Streams library writes over a real socket, a few in flight, until the socket dies."""

    def __init__(self, ws: ClientConnection, decomposition_id: str, rng: random.Random) -> None:
        self.ws = ws
        self.decomposition_id = decomposition_id
        self.rng = rng
        self.next_id = 1000
        self.live: dict[str, int] = {}  # component id -> name version
        self.pending: dict[int, str] = {}
        #: (seq, op, component_id) of every acknowledged op.
        self.acked: list[tuple[int, str, str]] = []

    def frame(self) -> Any:
        self.next_id += 1
        rid, r = self.next_id, self.rng.random()
        ids = list(self.live)
        if not ids or r < 0.35:
            return protocol.SaveComponent(request_id=rid, decomposition_id=self.decomposition_id,
                                          unit=self.rng.randrange(2), name=f"c{rid}",
                                          tags=["kept"])
        cid = self.rng.choice(ids)
        if r < 0.55:
            return protocol.RenameComponent(request_id=rid, component_id=cid, name=f"n{rid}",
                                            base_version=self.live[cid])
        if r < 0.75:
            return protocol.AddTag(request_id=rid, component_id=cid, tag=f"t{rid % 7}")
        if r < 0.85:
            return protocol.RemoveTag(request_id=rid, component_id=cid, tag="kept")
        return protocol.DeleteComponent(request_id=rid, component_id=cid)

    def run(self) -> None:
        try:
            while True:
                while len(self.pending) < 4:
                    f = self.frame()
                    self.pending[f.request_id] = type(f).__name__
                    self.ws.send(ENC.encode(f))
                reply = _recv(self.ws, 30)
                if reply is None or reply.request_id not in self.pending:
                    continue
                self.pending.pop(reply.request_id)
                if isinstance(reply, protocol.LibraryChanged):
                    self.acked.append((reply.seq, reply.op, reply.component_id))
                    if reply.op == "delete":
                        self.live.pop(reply.component_id, None)
                    elif reply.item is not None:
                        self.live[reply.component_id] = reply.item.version
                elif isinstance(reply, protocol.Error):
                    assert reply.code in {"not_found", "conflict", "bad_parameter"}, reply
        except (ConnectionClosed, OSError, TimeoutError):
            return


def _check(data: Path, acked: list[tuple[int, str, str]]) -> int:
    """The checks after a kill; returns the number of ops in the log."""
    conn = sqlite3.connect(data / "residue.db")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        log = {
            seq: (op, cid)
            for seq, op, cid in conn.execute(
                "SELECT session_seq, op, component_id FROM library_ops WHERE session_id='default'"
            )
        }
        assert sorted(log) == list(range(1, len(log) + 1)), "op numbers have a gap"
        deleted = {cid for op, cid in log.values() if op == "delete"}
        present = {r[0] for r in conn.execute("SELECT component_id FROM components")}
        for seq, op, cid in acked:
            assert log.get(seq) == (op, cid), f"acknowledged op {seq} {op} {cid} is missing"
            if op == "add":
                assert cid in present or cid in deleted, f"acknowledged add of {cid} is lost"
        for table, column in BLOB_COLUMNS:
            for (digest,) in conn.execute(f"SELECT {column} FROM {table}"):
                path = data / "blobs" / digest[:2] / digest[2:]
                assert path.is_file(), f"{table} names missing blob {digest}"
        return len(log)
    finally:
        conn.close()


@pytest.fixture(scope="module")
def zygote(tmp_path_factory: pytest.TempPathFactory) -> Any:
    data = tmp_path_factory.mktemp("durable") / "data"
    env = {**os.environ, "RESIDUE_DATA": str(data), "RESIDUE_DEMO": "0",
           "RESIDUE_MAX_FRAMES_PER_S": "2000", "RESIDUE_FRAME_BURST": "2000"}
    proc = subprocess.Popen(
        [sys.executable, "-c", ZYGOTE], env=env, cwd=ROOT, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )
    yield proc, data, env
    if proc.stdin:
        proc.stdin.close()
    proc.terminate()
    proc.wait(timeout=10)


def _start_fork(zygote: Any, port: int) -> int:
    proc = zygote[0]
    proc.stdin.write(f"{port}\n")
    proc.stdin.flush()
    return int(proc.stdout.readline())


def test_sigkill_during_library_writes(zygote: Any) -> None:
    _, data, env = zygote
    rng = random.Random(7)
    # Cycle 0: the real command, cold; it also makes the tiny decomposition every cycle uses.
    port = _free_port()
    cold = subprocess.Popen(
        [sys.executable, "-m", "residue.cli", "serve", "--port", str(port), "--no-demo"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    _wait_ready(port, lambda: cold.poll() is None)
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/sounds?name=tiny.wav",
                                 data=wav_bytes(0.4), method="POST")
    sound = msgspec.json.decode(urllib.request.urlopen(req).read())["sound_id"]
    with connect(f"ws://127.0.0.1:{port}/ws", max_size=None) as ws:
        _request(ws, protocol.Hello(request_id=1, protocol_version=protocol.PROTOCOL_VERSION),
                 protocol.Welcome)
        dec = _request(ws, protocol.Decompose(request_id=2, sound_id=sound, n_components=2,
                                              n_iter=5), protocol.Decomposition)
    acked: list[tuple[int, str, str]] = []
    kills, ops_at_kill = 0, []
    for cycle in range(CYCLES):
        if cycle > 0:
            port = _free_port()
            pid = _start_fork(zygote, port)
            _wait_ready(port, Path(f"/proc/{pid}").exists)
        else:
            pid = cold.pid
        with connect(f"ws://127.0.0.1:{port}/ws", max_size=None) as ws:
            _request(ws, protocol.Hello(request_id=1, protocol_version=protocol.PROTOCOL_VERSION),
                     protocol.Welcome)
            writer = Writer(ws, dec.decomposition_id, rng)
            killer = threading.Timer(rng.uniform(0.05, 0.45), os.kill, (pid, signal.SIGKILL))
            killer.start()
            writer.run()
            killer.join()
        if cycle == 0:
            cold.wait(timeout=10)
        _gone(pid)
        kills += 1
        acked += writer.acked
        ops_at_kill.append(_check(data, acked))
    assert kills >= 50 or CYCLES < 50
    assert len(acked) > 2 * kills, f"only {len(acked)} acknowledged ops in {kills} kills"
    # a last clean start sweeps what the kills orphaned: every blob file is named by a row
    port = _free_port()
    pid = _start_fork(zygote, port)
    _wait_ready(port, Path(f"/proc/{pid}").exists)
    os.kill(pid, signal.SIGTERM)
    _gone(pid)
    conn = sqlite3.connect(data / "residue.db")
    named = {d for t, c in BLOB_COLUMNS for (d,) in conn.execute(f"SELECT {c} FROM {t}")}
    conn.close()
    files = {p.parent.name + p.name for p in (data / "blobs").glob("*/*")}
    assert files == named, (len(files - named), len(named - files))
    print(f"\n{kills} kills, {len(acked)} acknowledged ops, log grew to {ops_at_kill[-1]} ops")
