"""The separations room through the real app: msgpack frames over Litestar's sync TestClient.

Run a small grid on a demo loop (cells stream in one by one), play a result (PCM arrives), keep
one (sound_added, listed, decomposable), cancel a cell, and the bad inputs: each gets a clear
error frame and the socket goes on working.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import msgspec
import numpy as np
import pytest
from litestar.testing import TestClient
from tests.test_midi_room import Socket

from residue import protocol
from residue.config import Settings
from residue.dsp import separation as sep
from residue.errors import ParameterError
from residue.models import demucs
from residue.services import separation as sp
from residue.services import separation_room as room
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
        # the card's mini spectrogram: a picture with something in it
        assert (c.thumb_rows, c.thumb_cols) == (room.THUMB_ROWS, room.THUMB_COLS)
        thumb = np.frombuffer(c.thumbnail, dtype=np.uint8)
        assert thumb.size == c.thumb_rows * c.thumb_cols and thumb.max() > thumb.min()
        prov = json.loads(c.provenance)
        assert prov["source"] == started.sound_id and prov["stem"] in {"drums", "bass"}
    done = grid[-1]
    assert isinstance(done, protocol.GridDone)
    assert (done.done, done.failed, done.cancelled, done.grid_cancelled) == (4, 0, 0, False)
    # every cell frame precedes the end of the grid
    assert grid.index(done) > max(grid.index(c) for c in cells)


def test_play_a_result_streams_its_pcm(sock: Socket, grid: list[Any]) -> None:
    cell = next(f for f in grid if isinstance(f, protocol.GridCell))
    assert cell.result_id is not None and cell.residual_result_id is not None
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
    assert cell.result_id is not None
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


def _hpss(**params: list[Any]) -> dict[str, Any]:
    return {"sweeps": [protocol.GridSweep(backend="hpss", params=params, stems=["drums"])]}


@pytest.mark.parametrize(
    ("kw", "code", "match"),
    [
        # unknown backend, stem, parameter; each names its sweep
        ({"sweeps": [protocol.GridSweep(backend="warp", stems=["drums"])]}, "bad_parameter",
         r"sweep 1: backend='warp' must be one of \['bands', 'demucs', 'hpss'"),
        ({"sweeps": [*SMALL, protocol.GridSweep(backend="bands", stems=["kazoo"])]},
         "bad_parameter", r"sweep 3 \(bands\): stem='kazoo' must be one of"),
        (_hpss(wobble=[1]), "bad_parameter", "hpss has no parameter 'wobble'; it takes kernel"),
        # out of range, wrong kind, and the rules across parameters
        (_hpss(margin=[2.0, 0.1]), "bad_parameter",
         r"sweep 1: hpss: margin=0.1 must be in \[1, 16\]"),
        (_hpss(kernel=[999]), "bad_parameter", r"hpss: kernel=999 must be in \[3, 255\]"),
        (_hpss(kernel=[2.5]), "bad_parameter", "hpss: kernel=2.5 must be an integer"),
        (_hpss(margin=["loud"]), "bad_parameter", "hpss: margin='loud' must be a number"),
        (_hpss(kernel=[16]), "bad_parameter", "hpss: kernel=16 must be odd"),
        ({"sweeps": [protocol.GridSweep(backend="bands", params={"low_hz": [3000.0],
                                                                 "high_hz": [2000.0]},
                                        stems=["low"])]}, "bad_parameter",
         "bands: low_hz=3000 must be below high_hz=2000"),
        # demucs: a model must be named, known, and have its files
        ({"sweeps": [protocol.GridSweep(backend="demucs", stems=["vocals"])]}, "bad_parameter",
         r"sweep 1 \(demucs\): params must name a model"),
        ({"sweeps": [protocol.GridSweep(backend="demucs", params={"model": ["umx"]},
                                        stems=["vocals"])]}, "bad_parameter",
         "model='umx' is not a demucs model residue knows"),
        ({"sweeps": [protocol.GridSweep(backend="demucs", params={"model": ["htdemucs"]},
                                        stems=["vocals"])]}, "model_unavailable",
         r"htdemucs is not installed: .*put .*\.th in it"),
        # too many cells: the count and the limit
        (_hpss(margin=[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
               power=[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
               kernel=[3, 5, 7, 9]), "limit_exceeded",
         r"the grid has 256 cells; the limit is 200"),
        ({}, "bad_parameter", "exactly one"),
        ({"preset": "quick", "sweeps": SMALL}, "bad_parameter", "exactly one"),
    ],
)
def test_bad_grids_get_a_clear_error_frame(
    sock: Socket, kw: dict[str, Any], code: str, match: str
) -> None:
    frame = protocol.StartGrid(request_id=sock.rid(), sound_id=demo(sock).sound_id, **kw)
    reply = sock.request(frame, protocol.GridDone, protocol.GridStarted)
    assert isinstance(reply, protocol.Error), reply
    assert reply.code == code, reply
    assert re.search(match, reply.message), reply.message
    # the socket still works
    assert isinstance(sock.request(protocol.ListSounds(request_id=sock.rid()), protocol.Sounds),
                      protocol.Sounds)


def test_a_malformed_sweep_is_refused_by_the_decoder(sock: Socket) -> None:
    # What the Struct forbids (9 values of one parameter) never reaches the grid code.
    rid = sock.rid()
    raw = {"type": "start_grid", "request_id": rid, "sound_id": demo(sock).sound_id,
           "sweeps": [{"backend": "hpss", "params": {"margin": list(range(1, 10))},
                       "stems": ["drums"]}]}
    sock.ws.send_bytes(msgspec.msgpack.encode(raw))
    reply = sock.until(rid, protocol.GridStarted)[-1]
    assert isinstance(reply, protocol.Error) and reply.code == "bad_frame", reply
    assert "length <= 8" in reply.message and "sweeps[0].params" in reply.message, reply


# -- the editor's catalog ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def catalog(client: TestClient[Any]) -> protocol.SeparationCatalog:
    with client.websocket_connect("/ws") as ws:
        s = Socket(ws)
        s.request(protocol.Hello(request_id=1, protocol_version=protocol.PROTOCOL_VERSION),
                  protocol.Welcome)
        reply = s.request(protocol.GetSeparationCatalog(request_id=s.rid()),
                          protocol.SeparationCatalog)
    assert isinstance(reply, protocol.SeparationCatalog), reply
    return reply


def test_catalog_lists_backends_stems_limits(catalog: protocol.SeparationCatalog) -> None:
    backends = {b.name: b for b in catalog.backends}
    assert set(backends) == {*sep.BACKENDS, "demucs"}
    assert backends["demucs"].kind == "model" and backends["hpss"].kind == "weightless"
    for name in sep.BACKENDS:
        assert [p.name for p in backends[name].params] == list(sep.PARAMS[name])
    assert [p.name for p in backends["demucs"].params] == ["model", *demucs.PARAMS]
    assert catalog.stems == list(sep.STEMS)
    assert (catalog.max_cells, catalog.max_sweeps, catalog.max_values, catalog.max_stems) == (
        sp.DEFAULT_MAX_CELLS, protocol.MAX_GRID_SWEEPS, protocol.MAX_GRID_VALUES,
        protocol.MAX_GRID_STEMS)
    kernel = next(p for p in backends["hpss"].params if p.name == "kernel")
    assert (kernel.kind, kernel.min, kernel.max, kernel.default, kernel.odd) == (
        "int", 3, 255, 31, True)
    low = next(p for p in backends["bands"].params if p.name == "low_hz")
    assert low.below == "high_hz" and not low.odd
    segment = next(p for p in backends["demucs"].params if p.name == "segment")
    assert segment.optional and segment.default is None


def test_catalog_says_where_model_files_go(catalog: protocol.SeparationCatalog) -> None:
    models = {m.name: m for m in catalog.models}
    assert set(demucs.KNOWN_MODELS) <= set(models)
    ht = models["htdemucs"]
    assert not ht.available and ht.folder is not None and ht.reason is not None
    assert ht.folder in ht.reason and ht.stems == list(demucs.FOUR_STEMS)
    assert catalog.models_dir == ht.folder
    model_param = next(b for b in catalog.backends if b.name == "demucs").params[0]
    assert model_param.choices == [m.name for m in catalog.models if m.available]


def test_catalog_says_every_cross_parameter_rule_the_grid_enforces(
    catalog: protocol.SeparationCatalog,
) -> None:
    # an even value of an `odd` parameter, or a `below` one not below its partner, is refused
    # by the grid; and every parameter the grid refuses that way is flagged in the catalog
    for b in catalog.backends:
        if b.kind != "weightless":
            continue
        specs = {p.name: p for p in b.params}
        for p in b.params:
            if p.kind == "int" and p.min is not None and p.max is not None:
                even = int(p.min) + (int(p.min) % 2 == 1)
                if even <= p.max:
                    sw = sp.Sweep(b.name, {p.name: (even,)}, ("drums",))
                    refused = False
                    try:
                        sp.expand(sp.GridSpec("t", (sw,)))
                    except ParameterError as exc:
                        refused = "must be odd" in str(exc)
                    assert refused == p.odd, (b.name, p.name)
            if p.below is not None:
                other = specs[p.below]
                equal = max(p.min or 0.0, other.min or 0.0)  # in both ranges, not below
                sw = sp.Sweep(b.name, {p.name: (equal,), p.below: (equal,)}, ("drums",))
                with pytest.raises(ParameterError, match=f"must be below {p.below}"):
                    sp.expand(sp.GridSpec("t", (sw,)))
    flagged = {(b.name, p.name) for b in catalog.backends for p in b.params if p.odd or p.below}
    assert {("hpss", "kernel"), ("melody", "kernel"), ("bands", "low_hz"),
            ("melody", "fmin_hz")} <= flagged


def test_catalog_specs_are_what_the_grid_accepts(catalog: protocol.SeparationCatalog) -> None:
    # The editor validates with these specs: every bound must be accepted and a step past it
    # refused, so the page never lets through what the server refuses (or the reverse).
    for b in catalog.backends:
        if b.kind != "weightless":
            continue
        for p in b.params:
            assert p.min is not None and p.max is not None, (b.name, p.name)
            inside = [p.min, p.max] if not p.odd else [p.min, p.max if p.max % 2 else p.max - 1]
            for value in inside:
                if p.below is not None or any(q.below == p.name for q in b.params):
                    continue  # a crossover: checked with its partner below
                sw = sp.Sweep(b.name, {p.name: (value,)}, ("drums",))
                assert len(sp.expand(sp.GridSpec("t", (sw,)))) == 1, (b.name, p.name, value)
            step = 1 if p.kind == "int" else 1e-3 * (p.max - p.min)
            for value in (p.min - step, p.max + step):
                sw = sp.Sweep(b.name, {p.name: (value,)}, ("drums",))
                with pytest.raises(ParameterError, match=p.name):
                    sp.expand(sp.GridSpec("t", (sw,)))
    crossover = sp.Sweep("bands", {"low_hz": (500.0,), "high_hz": (500.0,)}, ("low",))
    with pytest.raises(ParameterError, match="below"):
        sp.expand(sp.GridSpec("t", (crossover,)))


def test_catalog_presets_run_as_custom_grids(catalog: protocol.SeparationCatalog) -> None:
    presets = {p.name: p for p in catalog.presets}
    assert set(presets) == {"quick", "deep"}
    assert presets["quick"].n_cells == 24
    for p in catalog.presets:
        spec = room.grid_spec(p.sweeps)  # "Edit preset" sends the preset back as sweeps
        assert sp.count_cells(spec) == p.n_cells
        assert len(sp.expand(spec)) == len(sp.expand(sp.preset(p.name)))


def test_deep_preset_joins_models_into_fewer_sweeps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = [
        demucs.ModelInfo(name, True, None, demucs.FOUR_STEMS, (f"{name}.th",))
        for name in ("htdemucs", "htdemucs_ft", "mdx_extra")
    ] + [demucs.ModelInfo("htdemucs_6s", True, None, demucs.SIX_STEMS, ("6s.th",))]
    monkeypatch.setattr(demucs, "list_models", lambda models_dir: fake)
    ctx: Any = SimpleNamespace(settings=Settings(data_dir=tmp_path))
    deep = next(p for p in room.catalog(ctx, request_id=7).presets if p.name == "deep")
    spec = sp.preset("deep", models=fake)
    assert len(spec.sweeps) == 5 + 4 * len(sp.DEMUCS_SETTINGS)
    # one sweep per setting and stem set: the three 4-stem models share theirs
    assert len(deep.sweeps) == 5 + 2 * len(sp.DEMUCS_SETTINGS)
    four = [s for s in deep.sweeps if s.backend == "demucs" and len(s.stems) == 4]
    assert all(s.params["model"] == ["htdemucs", "htdemucs_ft", "mdx_extra"] for s in four)
    # the same cells as the preset itself
    joined = room.grid_spec(deep.sweeps)
    assert deep.n_cells == sp.count_cells(spec) == sp.count_cells(joined)
    key = [(c.backend, json.dumps(dict(c.params), sort_keys=True), c.stem)
           for c in sp.expand(spec, models=fake)]
    again = [(c.backend, json.dumps(dict(c.params), sort_keys=True), c.stem)
             for c in sp.expand(joined, models=fake)]
    assert sorted(key) == sorted(again)


def test_a_catalog_preset_runs_through_the_socket(sock: Socket,
                                                  catalog: protocol.SeparationCatalog) -> None:
    quick = next(p for p in catalog.presets if p.name == "quick")
    sweeps = [protocol.GridSweep(backend=s.backend, params=s.params, stems=s.stems[:1])
              for s in quick.sweeps if s.backend == "bands"]
    seen = run_grid(sock, sweeps=sweeps)
    assert isinstance(seen[0], protocol.GridStarted) and len(seen[0].cells) == 1, seen[0]
    assert isinstance(seen[-1], protocol.GridDone) and seen[-1].done == 1, seen[-1]


# -- warming up at start -------------------------------------------------------------------------


def test_warm_up_setting() -> None:
    assert Settings.from_env({}).warm_up
    assert not Settings.from_env({"RESIDUE_WARM_UP": "0"}).warm_up
    assert not Settings().warm_up  # built directly (tests): no warm-up


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_start_up_warms_separation_without_waiting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started, release = threading.Event(), threading.Event()

    def slow_warm_up() -> float:
        started.set()
        release.wait(10.0)
        return 0.25

    monkeypatch.setattr(sp, "warm_up", slow_warm_up)
    settings = Settings(data_dir=tmp_path, demo=False, warm_up=True,
                        static_dir=Path("/nonexistent"))
    lines = _Lines()
    logger = logging.getLogger("residue")
    logger.addHandler(lines)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        with TestClient(app=create_app(settings)) as c, c.websocket_connect("/ws") as ws:
            # the app serves while the warm-up is still running
            assert started.wait(5.0) and not release.is_set()
            s = Socket(ws)
            hello = protocol.Hello(request_id=1, protocol_version=protocol.PROTOCOL_VERSION)
            assert isinstance(s.request(hello, protocol.Welcome), protocol.Welcome)
            release.set()
            for _ in range(250):
                if "separation warmed up in 0.25 s" in lines.lines:
                    break
                time.sleep(0.02)
    finally:
        logger.removeHandler(lines)
        logger.setLevel(level)
    assert "separation warmed up in 0.25 s" in lines.lines


def test_no_warm_up_when_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def counted() -> float:
        calls.append(1)
        return 0.0

    monkeypatch.setattr(sp, "warm_up", counted)
    settings = Settings(data_dir=tmp_path, demo=False, static_dir=Path("/nonexistent"))
    with TestClient(app=create_app(settings)):
        time.sleep(0.05)
    assert calls == []


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
