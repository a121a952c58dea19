"""A test client's view of the socket (TestClient): send frames, read replies, skip events."""

from __future__ import annotations

import io
from typing import Any

import msgspec
import numpy as np
import soundfile as sf

from residue import protocol

ENC = msgspec.msgpack.Encoder()
DEC = msgspec.msgpack.Decoder(protocol.ServerFrame)


class Socket:
    """Frames over a TestClient WebSocket; events (request_id 0) are kept in ``events``."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.next_id = 100
        self.events: list[Any] = []
        #: Every event received, in order (``events`` loses those that ``event`` returned).
        self.log: list[Any] = []

    def send(self, frame: protocol.Frame) -> None:
        self.ws.send_bytes(ENC.encode(frame))

    def rid(self) -> int:
        self.next_id += 1
        return self.next_id

    def recv(self) -> Any:
        data = self.ws.receive_bytes()
        if data[:2] == protocol.PCM_MAGIC:
            return ("pcm", protocol.PCM_HEADER.unpack_from(data)[3])
        frame = DEC.decode(data)
        if frame.request_id == 0:
            self.log.append(frame)
        return frame

    def until(self, request_id: int, *types: type) -> Any:
        """Read until a frame of ``request_id`` of one of ``types`` (or an error) arrives."""
        for _ in range(10_000):
            frame = self.recv()
            if isinstance(frame, tuple):
                continue
            if frame.request_id == 0 and request_id != 0:
                self.events.append(frame)
                continue
            if frame.request_id != request_id:
                continue
            if isinstance(frame, (protocol.Error, *types)):
                return frame
        raise AssertionError("no reply")

    def collect(self, ids: set[int], *types: type) -> dict[int, Any]:
        """Replies (of ``types`` or errors) to every request of ``ids``, in whatever order."""
        got: dict[int, Any] = {}
        for _ in range(10_000):
            if len(got) == len(ids):
                return got
            frame: Any = self.recv()
            if isinstance(frame, tuple):
                continue
            rid = int(frame.request_id)
            if rid in ids and isinstance(frame, (protocol.Error, *types)):
                got[rid] = frame
        raise AssertionError(f"no reply to {sorted(ids - set(got))}")

    def request(self, frame: Any, *types: type) -> Any:
        self.send(frame)
        return self.until(frame.request_id, *types)

    def event(self, *types: type) -> Any:
        """The next event of one of ``types`` (already received ones first)."""
        for i, e in enumerate(self.events):
            if isinstance(e, types):
                return self.events.pop(i)
        for _ in range(10_000):
            frame = self.recv()
            if not isinstance(frame, tuple) and frame.request_id == 0 and isinstance(frame, types):
                return frame
            if not isinstance(frame, tuple) and frame.request_id == 0:
                self.events.append(frame)
        raise AssertionError("no event")

    def hello(self) -> Any:
        return self.request(
            protocol.Hello(request_id=1, protocol_version=protocol.PROTOCOL_VERSION),
            protocol.Welcome,
        )


def wav_bytes(seconds: float = 1.0, sr: int = 22050, seed: int = 0) -> bytes:
    """A short noisy two-tone mono WAV."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * sr)) / sr
    y = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.2 * np.sin(2 * np.pi * 1760 * t) * (t % 0.25 < 0.1)
    y = (y + 0.01 * rng.standard_normal(t.shape)).astype(np.float32)
    buf = io.BytesIO()
    sf.write(buf, y, sr, format="WAV")
    return buf.getvalue()
