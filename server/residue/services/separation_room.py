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
from residue.dsp import separation as sep
from residue.dsp import spectral
from residue.dsp.hints import Hints
from residue.dsp.separation import ParamSpec
from residue.errors import NotFound, ParameterError
from residue.models import demucs
from residue.services import separation as sp
from residue.services import sounds as sound_service
from residue.services.context import Context
from residue.store.sounds import SoundRecord

#: Bytes of grid results (estimates and residuals) kept for playback, across every session:
#: the oldest go first (a long song's results are large, so the bound is on bytes, not count).
RESULT_BYTES = 768 * 1024 * 1024
THUMB_ROWS = 48
THUMB_COLS = 120
"""Size of a card's mini spectrogram."""


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
        self._born: dict[tuple[str, str], int] = {}  # insertion number: the deck's order
        self._count = 0
        self._bytes = 0
        self._lock = threading.Lock()

    def put(self, session_id: str, result_id: str, value: Candidate) -> None:
        """Store ``value``, evicting the least recently used results past the byte bound."""
        with self._lock:
            key = (session_id, result_id)
            previous = self._items.pop(key, None)
            if previous is not None:
                self._bytes -= previous.y.nbytes
            self._items[key] = value
            self._count += 1
            self._born[key] = self._count
            self._bytes += value.y.nbytes
            while self._bytes > self.max_bytes and len(self._items) > 1:
                old_key, old = self._items.popitem(last=False)
                self._born.pop(old_key, None)
                self._bytes -= old.y.nbytes

    def get(self, session_id: str, result_id: str) -> Candidate | None:
        """The result (marked recent), or None."""
        with self._lock:
            value = self._items.get((session_id, result_id))
            if value is not None:
                self._items.move_to_end((session_id, result_id))
            return value

    def newest(self, session_id: str, limit: int) -> list[tuple[str, Candidate]]:
        """The session's results still held, newest first (at most ``limit``)."""
        with self._lock:
            mine = [(self._born[k], k[1], v) for k, v in self._items.items() if k[0] == session_id]
        mine.sort(key=lambda item: -item[0])
        return [(result_id, value) for _, result_id, value in mine[: max(0, limit)]]


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
    thumb = np.zeros((0, 0), dtype=np.uint8)
    if result.status == "done" and result.estimate is not None:
        label = f"{cell.stem} - {cell.setting}"
        result_id = _cache(ctx, result.estimate, result.sr, label, prov)
        thumb = spectral.thumbnail(
            result.estimate, sr=result.sr, rows=THUMB_ROWS, cols=THUMB_COLS
        )
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
        thumbnail=thumb.tobytes(),
        thumb_rows=int(thumb.shape[0]),
        thumb_cols=int(thumb.shape[1]),
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


def _param_info(spec: ParamSpec) -> protocol.GridParamInfo:
    return protocol.GridParamInfo(
        name=spec.name,
        kind=spec.kind,
        default=spec.default,
        min=spec.lo,
        max=spec.hi,
        choices=list(spec.choices),
        optional=spec.optional,
        doc=spec.doc,
        odd=spec.odd,
        below=spec.below,
    )


def _wire_sweep(sweep: sp.Sweep) -> protocol.GridSweep:
    return protocol.GridSweep(
        backend=sweep.backend,
        params={k: [v for v in vs if v is not None] for k, vs in sweep.params.items()},
        stems=list(sweep.stems),
    )


def _merge_models(sweeps: tuple[sp.Sweep, ...]) -> list[sp.Sweep]:
    """Join demucs sweeps that differ only in their model into one sweep with a model list.

    The deep preset has one sweep per model and setting; joined, it fits in a custom grid's
    sweep limit more often and reads better in the editor. The cells are the same: the runner
    orders them by model, so each model is still loaded once.
    """
    out: list[sp.Sweep] = []
    where: dict[str, int] = {}
    for sw in sweeps:
        if sw.backend != sp.DEMUCS or "model" not in sw.params:
            out.append(sw)
            continue
        rest = {k: list(v) for k, v in sw.params.items() if k != "model"}
        key = json.dumps([rest, sorted(sw.stems)], sort_keys=True)
        if key not in where:
            where[key] = len(out)
            out.append(sw)
            continue
        first = out[where[key]]
        models = (*first.params["model"], *(m for m in sw.params["model"]
                                            if m not in first.params["model"]))
        out[where[key]] = sp.Sweep(first.backend, {**first.params, "model": models}, first.stems)
    return out


def catalog(ctx: Context, *, request_id: int) -> protocol.SeparationCatalog:
    """The ``separation_catalog`` frame: everything the page's grid editor needs.

    Backends with their parameter specs (demucs's ``model`` parameter lists every model, the
    available ones being its choices), every stem, the demucs models (available or why not, and
    the folder their files go in), the presets as sweeps, and the grid limits.
    """
    models_dir = sp.models_dir_of(ctx.settings)
    models = demucs.list_models(models_dir)
    available = [m.name for m in models if m.available]
    backends = [
        protocol.GridBackendInfo(
            name=b,
            kind="weightless",
            params=[_param_info(s) for s in sep.PARAMS[b].values()],
        )
        for b in sep.BACKENDS
    ]
    model_param = protocol.GridParamInfo(
        name="model",
        kind="choice",
        default=None,
        min=None,
        max=None,
        choices=available,
        optional=False,
        doc="which demucs model (files in the model folder)",
    )
    backends.append(
        protocol.GridBackendInfo(
            name=sp.DEMUCS,
            kind="model",
            params=[model_param, *(_param_info(s) for s in demucs.PARAMS.values())],
            doc="learned models; each needs its weight files in the model folder",
        )
    )
    presets = []
    for name in sp.PRESETS:
        spec = sp.preset(name, models=models)
        presets.append(
            protocol.GridPresetInfo(
                name="deep" if name == "deep" else "quick",
                sweeps=[_wire_sweep(s) for s in _merge_models(spec.sweeps)],
                n_cells=sp.count_cells(spec),
            )
        )
    return protocol.SeparationCatalog(
        request_id=request_id,
        backends=backends,
        stems=list(sep.STEMS),
        models=[
            protocol.GridModelInfo(
                name=m.name,
                available=m.available,
                reason=m.reason,
                folder=str(models_dir),
                stems=list(m.sources),
            )
            for m in models
        ],
        presets=presets,
        max_cells=sp.max_cells_of(ctx.settings),
        max_sweeps=protocol.MAX_GRID_SWEEPS,
        max_values=protocol.MAX_GRID_VALUES,
        max_stems=protocol.MAX_GRID_STEMS,
        models_dir=str(models_dir),
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


def recent_results(ctx: Context, *, limit: int = 200) -> list[tuple[str, Candidate]]:
    """Grid results of this session still held for playback, newest first, by result id."""
    return _RESULTS.newest(ctx.session_id, limit)


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
