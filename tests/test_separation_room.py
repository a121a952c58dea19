"""The separations room through the real app: msgpack frames over Litestar's sync TestClient.

Run a small grid on a demo loop (cells stream in one by one), play a result (PCM arrives), keep
one (sound_added, listed, decomposable), cancel a cell, and the bad inputs: each gets a clear
error frame and the socket goes on working.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from litestar.testing import TestClient
from tests.test_midi_room import Socket

from residue import protocol
from residue.config import Settings
from residue.transport.app import create_app

SMALL = [
    protocol.GridSweep(backend="bands", stems=["drums", "bass"]),
    protocol.GridSweep(backend="hpss", params={"margin": [2.0]}, stems=["drums", "bass"]),
]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient[Any]]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("data"),
        max_duration_s=60.0,
        max_frame_bytes=256_000,
        static_dir=Path("/nonexistent"),
    )
    with TestClient(app=create_app(settings)) as c:
        yield c


@pytest.fixture
def sock(client: TestClient[Any]) -> Iterator[Socket]:
    with client.websocket_connect("/ws") as ws:
        s = Socket(ws)
        hello = protocol.Hello(request_id=1, protocol_version=protocol.PROTOCOL_VERSION)
        assert isinstance(s.request(hello, protocol.Welcome), protocol.Welcome)
        yield s


def demo(sock: Socket, name: str = "drums") -> protocol.SoundInfo:
    sounds = sock.request(protocol.ListSounds(request_id=sock.rid()), protocol.Sounds)
    assert isinstance(sounds, protocol.Sounds), sounds
    return next(s for s in sounds.sounds if s.name == f"demo {name}")


def run_grid(sock: Socket, **kw: Any) -> list[Any]:
    frame = protocol.StartGrid(request_id=sock.rid(), sound_id=demo(sock).sound_id, **kw)
    sock.send(frame)
    return sock.until(frame.request_id, protocol.GridDone)


@pytest.fixture(scope="module")
def grid(client: TestClient[Any]) -> list[Any]:
    with client.websocket_connect("/ws") as ws:
        s = Socket(ws)
        s.request(protocol.Hello(request_id=1, protocol_version=protocol.PROTOCOL_VERSION),
                  protocol.Welcome)
        return run_grid(s, sweeps=SMALL)


def test_cells_stream_in_after_the_grid_is_announced(grid: list[Any]) -> None:
    assert isinstance(grid[0], protocol.GridStarted), grid[0]
    started = grid[0]
    assert len(started.cells) == 4
    assert {c.stem for c in started.cells} == {"drums", "bass"}
    assert {c.backend for c in started.cells} == {"bands", "hpss"}
    cells = [f for f in grid if isinstance(f, protocol.GridCell)]
    assert sorted(c.cell_id for c in cells) == sorted(c.cell_id for c in started.cells)
    assert all(c.status == "done" for c in cells), [c.error for c in cells]
    for c in cells:
        assert c.result_id and c.residual_result_id and c.result_id != c.residual_result_id
        assert c.hints is not None and 0.0 <= c.hints.flatness <= 1.0
        prov = json.loads(c.provenance)
        assert prov["source"] == started.sound_id and prov["stem"] in {"drums", "bass"}
    done = grid[-1]
    assert isinstance(done, protocol.GridDone)
    assert (done.done, done.failed, done.cancelled, done.grid_cancelled) == (4, 0, 0, False)
    # every cell frame precedes the end of the grid
    assert grid.index(done) > max(grid.index(c) for c in cells)


def test_play_a_result_streams_its_pcm(sock: Socket, grid: list[Any]) -> None:
    cell = next(f for f in grid if isinstance(f, protocol.GridCell))
    start, pcm = sock.audio(protocol.PlayResult(request_id=sock.rid(), result_id=cell.result_id))
    assert start.sample_rate == 44100 and pcm.shape[1] > 44100
    assert float(np.sqrt(np.mean(pcm**2))) > 1e-4
    # estimate + residual == the mix
    _, rest = sock.audio(
        protocol.PlayResult(request_id=sock.rid(), result_id=cell.residual_result_id)
    )
    _, mix = sock.audio(protocol.PlaySound(request_id=sock.rid(), sound_id=demo(sock).sound_id))
    assert np.allclose(pcm + rest, mix, atol=1e-4)


def test_keep_a_result_adds_a_decomposable_sound(sock: Socket, grid: list[Any]) -> None:
    cell = next(f for f in grid if isinstance(f, protocol.GridCell))
    kept = sock.request(
        protocol.KeepCell(request_id=sock.rid(), result_id=cell.result_id, name="drum stem"),
        protocol.SoundAdded,
    )
    assert isinstance(kept, protocol.SoundAdded), kept
    assert kept.sound.name == "drum stem" and kept.sound.origin == "separation"
    listed = sock.request(protocol.ListSounds(request_id=sock.rid()), protocol.Sounds)
    assert kept.sound.sound_id in {s.sound_id for s in listed.sounds}
    d = sock.request(
        protocol.Decompose(request_id=sock.rid(), sound_id=kept.sound.sound_id, n_components=2,
                           n_iter=20),
        protocol.Decomposition,
    )
    assert isinstance(d, protocol.Decomposition), d


def test_cancel_a_cell_the_rest_goes_on(sock: Socket) -> None:
    sweeps = [protocol.GridSweep(backend="nmf", stems=["drums", "bass"]),
              protocol.GridSweep(backend="bands", stems=["drums"])]
    start = protocol.StartGrid(request_id=sock.rid(), sound_id=demo(sock).sound_id, sweeps=sweeps)
    sock.send(start)
    started = sock.until(start.request_id, protocol.GridStarted)[-1]
    assert isinstance(started, protocol.GridStarted), started
    target = next(c for c in started.cells if c.backend == "nmf")
    ok = sock.request(
        protocol.CancelCell(request_id=sock.rid(), target_request_id=start.request_id,
                            cell_id=target.cell_id),
        protocol.Ok,
    )
    assert isinstance(ok, protocol.Ok), ok
    seen = sock.until(start.request_id, protocol.GridDone)
    cells = {f.cell_id: f for f in seen if isinstance(f, protocol.GridCell)}
    assert cells[target.cell_id].status == "cancelled"
    assert cells[target.cell_id].result_id is None
    assert sum(c.status == "done" for c in cells.values()) >= 1


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"sweeps": [protocol.GridSweep(backend="warp", stems=["drums"])]}, "warp"),
        ({"sweeps": [protocol.GridSweep(backend="bands", stems=["kazoo"])]}, "kazoo"),
        ({"sweeps": [protocol.GridSweep(backend="hpss", params={"margin": [0.1]},
                                        stems=["drums"])]}, "margin"),
        ({"sweeps": [protocol.GridSweep(backend="hpss", params={
            "margin": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
            "power": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
            "kernel": [3, 5, 7, 9], "bass_cutoff_hz": [100.0, 200.0]},
            stems=["drums", "bass"])]}, "cells"),
        ({}, "exactly one"),
        ({"preset": "quick", "sweeps": SMALL}, "exactly one"),
    ],
)
def test_bad_grids_get_an_error_frame(sock: Socket, kw: dict[str, Any], match: str) -> None:
    frame = protocol.StartGrid(request_id=sock.rid(), sound_id=demo(sock).sound_id, **kw)
    reply = sock.request(frame, protocol.GridDone, protocol.GridStarted)
    assert isinstance(reply, protocol.Error), reply
    assert match in reply.message
    # the socket still works
    assert isinstance(sock.request(protocol.ListSounds(request_id=sock.rid()), protocol.Sounds),
                      protocol.Sounds)


def test_unknown_sound_result_and_grid(sock: Socket) -> None:
    reply = sock.request(
        protocol.StartGrid(request_id=sock.rid(), sound_id="nope", sweeps=SMALL),
        protocol.GridStarted,
    )
    assert isinstance(reply, protocol.Error) and reply.code == "not_found", reply
    reply = sock.request(protocol.PlayResult(request_id=sock.rid(), result_id="gone"),
                         protocol.AudioEnd)
    assert isinstance(reply, protocol.Error) and "run the grid again" in reply.message, reply
    reply = sock.request(protocol.KeepCell(request_id=sock.rid(), result_id="gone", name="x"),
                         protocol.SoundAdded)
    assert isinstance(reply, protocol.Error) and reply.code == "not_found", reply
    reply = sock.request(
        protocol.CancelCell(request_id=sock.rid(), target_request_id=9999, cell_id="c0"),
        protocol.Ok,
    )
    assert isinstance(reply, protocol.Error) and "9999" in reply.message, reply


def test_result_cache_is_bounded_in_bytes_and_scoped_by_session() -> None:
    from residue.services.separation_room import Candidate, ResultCache

    def cand(n: int) -> Candidate:
        return Candidate(np.zeros((1, n), dtype=np.float32), 44100, "x", {})

    cache = ResultCache(max_bytes=4 * 1000 * 2)
    cache.put("s1", "a", cand(1000))
    cache.put("s1", "b", cand(1000))
    assert cache.get("s2", "a") is None  # another session never sees it
    assert cache.get("s1", "a") is not None  # a is now the most recent
    cache.put("s1", "c", cand(1000))  # over the bound: b (least recent) goes
    assert cache.get("s1", "b") is None
    assert cache.get("s1", "a") is not None and cache.get("s1", "c") is not None
    cache.put("s1", "huge", cand(10_000))  # one result over the bound is still kept alone
    assert cache.get("s1", "huge") is not None and cache.get("s1", "a") is None
