"""Encoding and decoding of WebSocket messages."""

from __future__ import annotations

import msgspec

from residue import protocol

_decoder = msgspec.msgpack.Decoder(protocol.ClientFrame)
_encoder = msgspec.msgpack.Encoder()


def decode_client(data: bytes) -> protocol.ClientFrame:
    """Decode one client control frame (raises msgspec errors on malformed input)."""
    try:
        frame: protocol.ClientFrame = _decoder.decode(data)
    except RecursionError:  # msgpack nested thousands deep
        raise msgspec.DecodeError("the frame is nested too deeply") from None
    return frame


def encode(frame: protocol.ServerFrame | protocol.ClientFrame) -> bytes:
    """Encode a control frame as msgpack."""
    return _encoder.encode(frame)


def request_id_of(data: bytes) -> int:
    """Best-effort request id of a frame that failed to decode, so the error can answer it."""
    try:
        raw = msgspec.msgpack.decode(data)
    except (msgspec.DecodeError, ValueError, TypeError, RecursionError):
        return 0
    if isinstance(raw, dict):
        rid = raw.get("request_id")
        if isinstance(rid, int) and not isinstance(rid, bool) and 0 <= rid < 2**32:
            return rid
    return 0
