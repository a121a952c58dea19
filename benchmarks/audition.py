"""Audition latency: from a swap request to the first audio chunk, over a real WebSocket.

Starts the real server (uvicorn) on 127.0.0.1 with a fresh data folder, uploads an 8 s stereo
loop, decomposes it once (so the decomposition is cached), then times swap auditions. The peer
measured in the same run is the transport floor: ``play_sound`` of the same loop, which renders
nothing.

    python benchmarks/audition.py [--trials 50]

Prints ``audition first-chunk p95: N ms``. The goal is p95 under 50 ms on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import msgspec
import numpy as np
import soundfile as sf
import websockets

from residue import protocol
from residue.dsp import demo

ENC = msgspec.msgpack.Encoder()
DEC = msgspec.msgpack.Decoder(protocol.ServerFrame)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def loop_8s() -> bytes:
    loops = demo.demo_loops(bars=4)  # 4 bars at 120 BPM = 8 s
    y = sum(loops.values()) / 3.0
    buf = io.BytesIO()
    sf.write(buf, np.asarray(y).T, 44100, format="WAV", subtype="FLOAT")
    return buf.getvalue()


def start_server(data: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "RESIDUE_DATA": str(data), "RESIDUE_DEMO": "0"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "residue.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=1)
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(
        "server did not start: " + proc.stderr.read().decode() if proc.stderr else ""
    )


class Client:
    def __init__(self, ws: websockets.ClientConnection) -> None:
        self.ws = ws
        self.rid = 0

    def next_id(self) -> int:
        self.rid += 1
        return self.rid

    async def reply(self, frame: protocol.Frame, until: type) -> protocol.Frame:
        await self.ws.send(ENC.encode(frame))
        while True:
            data = await self.ws.recv()
            assert isinstance(data, bytes)
            if data[:2] == protocol.PCM_MAGIC:
                continue
            msg = DEC.decode(data)
            if isinstance(msg, protocol.Error):
                raise RuntimeError(msg.message)
            if isinstance(msg, until):
                return msg

    async def first_chunk_ms(self, frame: protocol.Frame) -> float:
        """Time to the first PCM chunk, then drain the rest of the stream."""
        t0 = time.perf_counter()
        await self.ws.send(ENC.encode(frame))
        first = None
        while True:
            data = await self.ws.recv()
            assert isinstance(data, bytes)
            if data[:2] == protocol.PCM_MAGIC:
                if first is None:
                    first = (time.perf_counter() - t0) * 1000
                continue
            msg = DEC.decode(data)
            if isinstance(msg, protocol.Error):
                raise RuntimeError(msg.message)
            if isinstance(msg, protocol.AudioEnd):
                assert first is not None
                return first


async def measure(port: int, sound_id: str, trials: int) -> dict[str, list[float]]:
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws", max_size=None) as ws:
        c = Client(ws)
        await c.reply(
            protocol.Hello(request_id=c.next_id(), protocol_version=protocol.PROTOCOL_VERSION),
            protocol.Welcome,
        )
        a = await c.reply(
            protocol.Decompose(request_id=c.next_id(), sound_id=sound_id, n_components=8),
            protocol.Decomposition,
        )
        b = await c.reply(
            protocol.Decompose(request_id=c.next_id(), sound_id=sound_id, n_components=6, seed=1),
            protocol.Decomposition,
        )
        assert isinstance(a, protocol.Decomposition) and isinstance(b, protocol.Decomposition)
        rng = np.random.default_rng(0)
        out: dict[str, list[float]] = {"swap": [], "play": []}
        for i in range(trials + 3):
            k, j = int(rng.integers(8)), int(rng.integers(6))
            spec = protocol.RenderSpec(
                decomposition_id=a.decomposition_id,
                edits=[
                    protocol.UnitEdit(
                        unit=k,
                        component=protocol.UnitComponent(
                            decomposition_id=b.decomposition_id, unit=j
                        ),
                        gain_db=float(i % 7),
                    )
                ],
            )
            swap = await c.first_chunk_ms(protocol.Audition(request_id=c.next_id(), spec=spec))
            play = await c.first_chunk_ms(
                protocol.PlaySound(request_id=c.next_id(), sound_id=sound_id)
            )
            if i >= 3:  # warm-up
                out["swap"].append(swap)
                out["play"].append(play)
        return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        proc = start_server(Path(tmp), port)
        try:
            req = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/sounds?name=loop8s.wav", data=loop_8s(), method="POST"
            )
            sound = msgspec.json.decode(urllib.request.urlopen(req, timeout=60).read())
            times = asyncio.run(measure(port, sound["sound_id"], args.trials))
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    swap, play = np.array(times["swap"]), np.array(times["play"])
    s50, s95 = np.percentile(swap, 50), np.percentile(swap, 95)
    p50, p95 = np.percentile(play, 50), np.percentile(play, 95)
    print(f"8 s stereo loop, K=8, swap from another decomposition; {len(swap)} trials")
    print(f"swap audition first chunk: p50 {s50:.1f} ms, p95 {s95:.1f} ms")
    print(f"peer (play_sound, no render): p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    print(f"render cost over the transport floor (p50): {s50 / p50:.1f}x")
    print(f"audition first-chunk p95: {np.percentile(swap, 95):.0f} ms")


if __name__ == "__main__":
    main()
