"""The separations room's use cases: run a grid over a stored sound, play and keep its results.

The engine is :mod:`residue.services.separation`; this module turns the page's
:class:`residue.protocol.StartGrid` into a :class:`~residue.services.separation.GridRun`, turns
each :class:`~residue.services.separation.CellResult` into a ``grid_cell`` frame and keeps its
audio (estimate and residual) in a small bounded cache, keyed by result id and scoped by
session, from which the page plays it and keeps it as a new sound.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections import OrderedDict
from typing import Any, NamedTuple

import numpy as np

from residue import protocol
from residue.dsp.hints import Hints
from residue.errors import NotFound, ParameterError
from residue.models import demucs
from residue.services import separation as sp
from residue.services import sounds as sound_service
from residue.services.context import Context
from residue.store.sounds import SoundRecord

#: Bytes of grid results (estimates and residuals) kept for playback, across every session:
#: the oldest go first (a long song's results are large, so the bound is on bytes, not count).
RESULT_BYTES = 768 * 1024 * 1024


class Candidate(NamedTuple):
    """One playable grid result: float32 (channels, n) audio at ``sr`` and where it came from."""

    y: np.ndarray
    sr: int
    label: str
    provenance: dict[str, Any]


class ResultCache:
    """A thread-safe cache of results bounded in bytes, keyed by (session, result id)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[str, str], Candidate] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def put(self, session_id: str, result_id: str, value: Candidate) -> None:
        """Store ``value``, evicting the least recently used results past the byte bound."""
        with self._lock:
            self._items[(session_id, result_id)] = value
            self._bytes += value.y.nbytes
            while self._bytes > self.max_bytes and len(self._items) > 1:
                _, old = self._items.popitem(last=False)
                self._bytes -= old.y.nbytes

    def get(self, session_id: str, result_id: str) -> Candidate | None:
        """The result (marked recent), or None."""
        with self._lock:
            value = self._items.get((session_id, result_id))
            if value is not None:
                self._items.move_to_end((session_id, result_id))
            return value


_RESULTS = ResultCache(RESULT_BYTES)


def grid_spec(sweeps: list[protocol.GridSweep]) -> sp.GridSpec:
    """The custom grid of a ``start_grid`` (checked later by :func:`~sp.expand`)."""
    return sp.grid_from_json(
        {
            "name": "custom",
            "sweeps": [
                {
                    "backend": s.backend,
                    "params": {k: list(v) for k, v in s.params.items()},
                    "stems": list(s.stems),
                }
                for s in sweeps
            ],
        }
    )


def start(ctx: Context, f: protocol.StartGrid) -> sp.GridRun:
    """Validate a grid over a stored sound and return it, ready to run.

    Raises
    ------
    NotFound
        If the sound does not exist.
    ParameterError, LimitExceeded, ModelUnavailableError
        From the grid's validation (unknown backend or stem, too many cells, missing model).
    """
    if (f.preset is None) == (f.sweeps is None):
        raise ParameterError("start_grid needs exactly one of 'preset' and 'sweeps'")
    models_dir = sp.models_dir_of(ctx.settings)
    if f.sweeps is not None:
        spec = grid_spec(f.sweeps)
    else:
        models = demucs.list_models(models_dir) if f.preset == "deep" else []
        spec = sp.preset(str(f.preset), models=models)
    record, y = sound_service.load_audio(ctx, f.sound_id)
    mix = y[0] if y.shape[0] == 1 else y
    return sp.GridRun(
        spec,
        mix,
        record.sample_rate,
        source=record.sound_id,
        models_dir=models_dir,
        device=ctx.settings.device,
        max_cells=sp.max_cells_of(ctx.settings),
        max_duration_s=ctx.settings.max_duration_s,
    )


def started(grid: sp.GridRun, *, request_id: int, sound_id: str) -> protocol.GridStarted:
    """The ``grid_started`` frame: every cell, in grid order."""
    return protocol.GridStarted(
        request_id=request_id,
        sound_id=sound_id,
        cells=[
            protocol.GridCellInfo(
                cell_id=c.cell_id, stem=c.stem, backend=c.backend, setting=c.setting
            )
            for c in grid.cells
        ],
    )


def _hints(h: Hints | None) -> protocol.GridHints | None:
    if h is None:
        return None
    return protocol.GridHints(
        loudness_lufs=round(float(h.loudness_lufs), 3),
        flatness=round(float(h.flatness), 4),
        bleed=round(float(h.bleed), 4),
        transients_per_s=round(float(h.transients_per_s), 3),
        loudness_method=h.loudness_method,
    )


def _channels_first(y: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(y[None, :] if y.ndim == 1 else y, dtype=np.float32)


def _cache(ctx: Context, y: np.ndarray, sr: int, label: str, prov: dict[str, Any]) -> str:
    result_id = secrets.token_hex(8)
    _RESULTS.put(ctx.session_id, result_id, Candidate(_channels_first(y), sr, label, prov))
    return result_id


def cell_frame(ctx: Context, result: sp.CellResult, *, request_id: int) -> protocol.GridCell:
    """The ``grid_cell`` frame of a finished cell; its audio goes to the result cache."""
    cell = result.cell
    prov = dict(result.provenance)
    result_id = residual_id = None
    if result.status == "done" and result.estimate is not None:
        label = f"{cell.stem} - {cell.setting}"
        result_id = _cache(ctx, result.estimate, result.sr, label, prov)
        if result.residual is not None:
            residual_prov = {**prov, "candidate": "residual"}
            residual_id = _cache(
                ctx, result.residual, result.sr, f"no {cell.stem} - {cell.setting}", residual_prov
            )
    return protocol.GridCell(
        request_id=request_id,
        cell_id=cell.cell_id,
        status=result.status,
        elapsed_s=round(result.elapsed_s, 4),
        hints=_hints(result.hints),
        residual_hints=_hints(result.residual_hints),
        provenance=json.dumps(prov, sort_keys=True, default=str),
        error=result.error,
        error_code=result.error_code,
        result_id=result_id,
        residual_result_id=residual_id,
    )


def done_frame(summary: sp.GridSummary, *, request_id: int) -> protocol.GridDone:
    """The ``grid_done`` frame."""
    counts = summary.counts
    return protocol.GridDone(
        request_id=request_id,
        done=counts["done"],
        failed=counts["failed"],
        cancelled=counts["cancelled"],
        grid_cancelled=summary.cancelled,
        elapsed_s=round(summary.elapsed_s, 4),
    )


def result(ctx: Context, result_id: str) -> Candidate:
    """A cached grid result.

    Raises
    ------
    NotFound
        If the result is unknown or was evicted (run the grid again).
    """
    found = _RESULTS.get(ctx.session_id, result_id)
    if found is None:
        raise NotFound(
            f"result {result_id!r} is not (or no longer) available; run the grid again"
        )
    return found


def keep(ctx: Context, result_id: str, *, name: str) -> SoundRecord:
    """Keep a grid result as a new sound (origin "separation", its provenance attached)."""
    found = result(ctx, result_id)
    return ctx.store.sounds.add(
        found.y,
        sr=found.sr,
        name=name,
        origin="separation",
        provenance=json.loads(json.dumps(found.provenance, default=str)),
    )
