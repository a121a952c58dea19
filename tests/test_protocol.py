"""The wire contract: golden frames, the schema and the TypeScript side agree."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from residue import protocol

SHARED = Path(__file__).resolve().parents[1] / "shared"
FIXTURES = SHARED / "fixtures"
ANY_FRAME = protocol.ClientFrame | protocol.ServerFrame


@pytest.mark.parametrize("name", sorted(protocol.golden_frames()))
def test_golden_frames_are_current(name: str) -> None:
    frame = protocol.golden_frames()[name]
    encoded = msgspec.msgpack.encode(frame)
    assert (FIXTURES / f"{name}.msgpack").read_bytes() == encoded, "run `make protocol`"
    decoded = msgspec.msgpack.decode(encoded, type=ANY_FRAME)
    assert decoded == frame
    as_json = msgspec.json.decode((FIXTURES / f"{name}.json").read_bytes(), type=ANY_FRAME)
    assert as_json == frame


def test_pcm_fixture_layout() -> None:
    data = (FIXTURES / "pcm.bin").read_bytes()
    magic, kind, channels, request_id, index, sr = protocol.PCM_HEADER.unpack_from(data)
    assert (magic, kind, channels, request_id, index, sr) == (b"RS", 1, 2, 7, 0, 44100)
    assert protocol.PCM_HEADER.size == 16
    assert len(data) == 16 + 4 * 4


def test_frames_encoded_by_the_page_decode_here() -> None:
    folder = FIXTURES / "ts"
    files = sorted(folder.glob("*.msgpack"))
    if not files:
        pytest.skip("no TypeScript-encoded fixtures yet (npm run fixtures)")
    for path in files:
        frame = msgspec.msgpack.decode(path.read_bytes(), type=protocol.ClientFrame)
        expected = path.with_suffix(".json")
        if expected.exists():
            assert msgspec.to_builtins(frame) == json.loads(expected.read_text())


def test_schema_is_current() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "residue.protocol"], capture_output=True, check=True
    )
    assert json.loads(out.stdout) == json.loads((SHARED / "protocol.schema.json").read_text())


def test_every_frame_is_strict_and_tagged() -> None:
    for union in (protocol.ClientFrame, protocol.ServerFrame):
        for cls in union.__args__:  # type: ignore[attr-defined]
            cfg = cls.__struct_config__
            assert cfg.forbid_unknown_fields and cfg.frozen and cfg.tag_field == "type", cls
            assert "request_id" in cls.__struct_fields__, cls


def test_pcm_header_and_magic_never_look_like_msgpack_maps() -> None:
    packed = protocol.pack_pcm(1, 0, 44100, b"\0" * 8, 2)
    assert packed[0] == ord("R")
    assert not (0x80 <= packed[0] <= 0x8F or packed[0] in (0xDE, 0xDF))
