"""Separation grids: many alternative separations of one song, streamed as they finish.

A grid spec is a list of *sweeps*, each ``backend x parameter ranges x target stems``; it
expands to cells (one separation each). Presets: ``quick`` (weightless backends only, 24 cells)
and ``deep`` (every available demucs model at three settings plus a wider weightless sweep).
Custom grids are JSON files::

    {
      "name": "vocals hunt",
      "sweeps": [
        {"backend": "hpss", "params": {"margin": [1, 2, 4], "kernel": 31},
         "stems": ["vocals", "drums"]},
        {"backend": "demucs", "params": {"model": "htdemucs", "shifts": [0, 2]},
         "stems": ["vocals"]}
      ]
    }

A parameter is a value or a list of values to try; the cells of a sweep are the product of its
lists and its stems. Backends: ``bands``, ``hpss``, ``melody``, ``repet``, ``nmf`` (see
:mod:`residue.dsp.separation`) and ``demucs`` (its ``model`` parameter names the model; see
:mod:`residue.models.demucs`).

:class:`GridRun` runs a grid: the audio is decoded by the caller once, its STFT computed once
(in blocks; kept in an unnamed temporary file when larger than :data:`SPILL_BYTES`, so a long
track's STFT does not sit in memory), each model loaded once; cells that share a backend
setting share one pass over the audio (the backend's work is done once for all their stems).
Results come out one by one as each finishes (:meth:`GridRun.results` is a generator;
:meth:`GridRun.run` calls ``on_result``), each with its residual (mix minus result) as a second
candidate, provenance and hints. A cell that fails reports its error and the others go on; one
cell or the whole grid can be cancelled.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from residue import __version__
from residue.config import DEFAULT_MAX_GRID_CELLS, Settings
from residue.dsp import hints as hints_mod
from residue.dsp import separation as sep
from residue.dsp import spectral
from residue.dsp.hints import Hints
from residue.dsp.progress import CancelToken, ProgressFn, no_progress
from residue.dsp.separation import ParamSpec, ParamValue
from residue.errors import (
    JobCancelled,
    LimitExceeded,
    ModelUnavailableError,
    ParameterError,
    ResidueError,
)
from residue.models import demucs
from residue.services.audio_io import read_audio_file, write_wav

log = logging.getLogger(__name__)

DEFAULT_MAX_CELLS = DEFAULT_MAX_GRID_CELLS
"""Most cells a grid may have unless settings say otherwise (``RESIDUE_MAX_GRID_CELLS``)."""
DEMUCS = "demucs"
GRID_BACKENDS: tuple[str, ...] = (*sep.BACKENDS, DEMUCS)
"""Every backend a grid may name."""
PRESETS: tuple[str, ...] = ("quick", "deep")
PRESET_STEMS: tuple[str, ...] = ("drums", "bass", "vocals", "other")
"""The rows of the presets."""
GRID_FORMAT = "residue-grid"
MANIFEST_FORMAT = "residue-separation"
# Cheap backends first, so the first cards arrive at once.
_COST_RANK = {"bands": 0, "hpss": 1, "melody": 2, "repet": 3, "nmf": 4, DEMUCS: 5}

Status = Literal["done", "failed", "cancelled"]


# ---------------------------------------------------------------------------------------------
# Grid specs
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sweep:
    """One backend with parameter ranges and target stems (a block of cells)."""

    backend: str
    params: Mapping[str, tuple[ParamValue, ...]]
    """Each parameter's values to try; parameters left out take their defaults."""
    stems: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        """Return the sweep as in a grid file."""
        return {
            "backend": self.backend,
            "params": {k: list(v) for k, v in self.params.items()},
            "stems": list(self.stems),
        }


@dataclass(frozen=True)
class GridSpec:
    """A named list of sweeps."""

    name: str
    sweeps: tuple[Sweep, ...]

    def to_json(self) -> dict[str, object]:
        """Return the grid as a JSON-ready dict (the grid file format)."""
        return {
            "format": GRID_FORMAT,
            "name": self.name,
            "sweeps": [s.to_json() for s in self.sweeps],
        }


def _sweep(backend: str, stems: Sequence[str] = PRESET_STEMS, **params: object) -> Sweep:
    values = {k: tuple(v) if isinstance(v, (list, tuple)) else (v,) for k, v in params.items()}
    return Sweep(backend, values, tuple(stems))


DEMUCS_SETTINGS: tuple[dict[str, ParamValue], ...] = (
    {"shifts": 0, "overlap": 0.25},
    {"shifts": 1, "overlap": 0.25},
    {"shifts": 2, "overlap": 0.5},
)
"""The three settings of each model in the deep preset (fast, default, careful)."""


def preset(name: str, *, models: Sequence[demucs.ModelInfo] = ()) -> GridSpec:
    """Return a built-in grid.

    Parameters
    ----------
    name : str
        ``"quick"`` (weightless only: 6 settings x 4 stems = 24 cells) or ``"deep"`` (every
        available model in ``models`` x :data:`DEMUCS_SETTINGS` x its stems, plus 25 weightless
        settings x 4 stems).
    models : sequence of ModelInfo
        From :func:`residue.models.demucs.list_models`; unavailable ones are skipped.

    Returns
    -------
    GridSpec

    Raises
    ------
    ParameterError
        If ``name`` is not a preset.

    Examples
    --------
    >>> len(expand(preset("quick")))
    24
    """
    if name == "quick":
        return GridSpec(
            "quick",
            (
                _sweep("bands"),
                _sweep("hpss", margin=3.0),
                # HPSS at margin 1 split by the melody's comb: what "hpss margin=1" was, with
                # the melody/accompaniment split named and its knobs (same vocals and other).
                _sweep("melody"),
                _sweep("repet", margin=[0.5, 2.0]),
                _sweep("nmf"),
            ),
        )
    if name == "deep":
        sweeps = [
            _sweep("bands", low_hz=[120.0, 250.0], high_hz=[3000.0, 6000.0]),
            _sweep("hpss", kernel=[17, 31, 63], margin=[1.0, 2.0, 4.0]),
            _sweep("repet", margin=[0.5, 2.0], width_s=[2.0, 6.0]),
            _sweep("nmf", n_components=[12, 32], bass_cutoff_hz=[150.0, 300.0]),
            # a stricter and a looser melody: which notes count as the lead, how wide a tooth
            _sweep("melody", voicing_threshold_db=[-16.0, -10.0], width_cents=[15.0, 50.0]),
        ]
        for info in models:
            if not info.available or info.name == demucs.TEST_MODEL:
                continue
            stems = info.sources or PRESET_STEMS
            for setting in DEMUCS_SETTINGS:
                sweeps.append(_sweep(DEMUCS, stems=stems, model=info.name, **setting))
        return GridSpec("deep", tuple(sweeps))
    raise ParameterError(f"grid={name!r} must be one of {list(PRESETS)} or a grid file")


def grid_from_json(data: object, *, name: str = "custom") -> GridSpec:
    """Parse a grid (the JSON file format, already decoded) into a :class:`GridSpec`.

    Only the structure is checked here; :func:`expand` checks backends, stems and values.

    Raises
    ------
    ParameterError
        If the structure is not that of a grid file.
    """
    if not isinstance(data, dict):
        raise ParameterError("a grid must be a JSON object with a 'sweeps' list")
    extra = sorted(set(data) - {"format", "version", "name", "sweeps"})
    if extra:
        raise ParameterError(f"a grid has no field {extra[0]!r} (fields: name, sweeps)")
    if "format" in data and data["format"] != GRID_FORMAT:
        raise ParameterError(f"format={data['format']!r} must be {GRID_FORMAT!r}")
    sweeps_raw = data.get("sweeps")
    if not isinstance(sweeps_raw, list):
        raise ParameterError("a grid needs a 'sweeps' list")
    sweeps = []
    for i, raw in enumerate(sweeps_raw, start=1):
        where = f"sweep {i}"
        if not isinstance(raw, dict):
            raise ParameterError(f"{where} must be an object with backend, params and stems")
        extra = sorted(set(raw) - {"backend", "params", "stems"})
        if extra:
            raise ParameterError(
                f"{where} has no field {extra[0]!r} (fields: backend, params, stems)"
            )
        backend = raw.get("backend")
        if not isinstance(backend, str):
            raise ParameterError(f"{where} needs a backend name")
        params_raw = raw.get("params", {})
        if not isinstance(params_raw, dict):
            raise ParameterError(f"{where} ({backend}): params must be an object")
        params: dict[str, tuple[ParamValue, ...]] = {}
        for key, value in params_raw.items():
            values = value if isinstance(value, list) else [value]
            for v in values:
                if v is not None and not isinstance(v, (int, float, str)):
                    raise ParameterError(
                        f"{where} ({backend}): {key} values must be numbers or strings"
                    )
            params[str(key)] = tuple(values)
        stems = raw.get("stems", list(PRESET_STEMS))
        if isinstance(stems, str):
            stems = [stems]
        if not isinstance(stems, list) or not all(isinstance(s, str) for s in stems):
            raise ParameterError(f"{where} ({backend}): stems must be a list of stem names")
        sweeps.append(Sweep(backend, params, tuple(stems)))
    grid_name = data.get("name", name)
    return GridSpec(str(grid_name), tuple(sweeps))


def read_grid_file(path: Path) -> GridSpec:
    """Read a grid JSON file.

    Raises
    ------
    ParameterError
        If the file cannot be read, is not JSON, or is not a grid.
    """
    try:
        text = path.read_text()
    except OSError as exc:
        raise ParameterError(f"cannot read grid file {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParameterError(f"grid file {path} is not valid JSON: {exc}") from None
    return grid_from_json(data, name=path.stem)


def resolve_grid(
    grid: str | Path | Mapping[str, object] | GridSpec, *, models: Sequence[demucs.ModelInfo] = ()
) -> GridSpec:
    """Turn a preset name, a grid file path, a decoded grid dict or a spec into a spec."""
    if isinstance(grid, GridSpec):
        return grid
    if isinstance(grid, Mapping):
        return grid_from_json(dict(grid))
    if isinstance(grid, str) and grid in PRESETS:
        return preset(grid, models=models)
    path = Path(grid)
    if not path.is_file():
        raise ParameterError(f"grid={str(grid)!r} must be one of {list(PRESETS)} or a grid file")
    return read_grid_file(path)


@dataclass(frozen=True)
class Cell:
    """One separation of a grid: a backend setting and a target stem."""

    index: int
    cell_id: str
    backend: str
    params: Mapping[str, ParamValue]
    """Every parameter, defaults filled in (``model`` included for demucs)."""
    stem: str
    setting: str
    """Short label of the backend setting (the page's column), e.g. ``"hpss margin=3"``."""

    @property
    def group_key(self) -> str:
        """Cells with the same key share one pass of their backend."""
        return f"{self.backend}:{json.dumps(dict(self.params), sort_keys=True)}"

    def provenance(self, *, source: str, sr: int, candidate: str = "estimate") -> dict[str, object]:
        """Where this candidate came from: source, backend, parameters, stem, analysis settings."""
        prov: dict[str, object] = {
            "source": source,
            "backend": self.backend,
            "params": dict(self.params),
            "stem": self.stem,
            "candidate": candidate,
            "setting": self.setting,
            "sr": sr,
            "residue": __version__,
        }
        if self.backend in sep.BACKENDS:
            prov.update(
                n_fft=spectral.N_FFT, hop_length=spectral.HOP_LENGTH, segment_s=sep.SEGMENT_S
            )
        return prov


def _specs(backend: str) -> Mapping[str, ParamSpec]:
    return demucs.PARAMS if backend == DEMUCS else sep.PARAMS[backend]


def _label(backend: str, params: Mapping[str, ParamValue]) -> str:
    specs = _specs(backend)
    head = str(params["model"]) if backend == DEMUCS else backend
    parts = [
        f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
        for k, v in params.items()
        if k in specs and v != specs[k].default
    ]
    return " ".join([head, *parts])


def _check_models(
    where: str, names: tuple[ParamValue, ...], models: Sequence[demucs.ModelInfo]
) -> list[str]:
    known = {m.name: m for m in models}
    out = []
    for name in names:
        if not isinstance(name, str):
            raise ParameterError(f"{where}: model={name!r} must be a model name")
        if name == demucs.TEST_MODEL:
            out.append(name)
            continue
        info = known.get(name)
        if info is None:
            raise ParameterError(
                f"{where}: model={name!r} is not a demucs model residue knows; "
                f"known: {', '.join(sorted(known)) or ', '.join(demucs.KNOWN_MODELS)}"
            )
        if not info.available:
            raise ModelUnavailableError(f"{where}: {info.reason}")
        out.append(name)
    return out


def count_cells(spec: GridSpec) -> int:
    """How many cells ``spec`` expands to (before removing duplicates)."""
    total = 0
    for sw in spec.sweeps:
        n = len(sw.stems)
        for values in sw.params.values():
            n *= len(values)
        total += n
    return total


def expand(
    spec: GridSpec,
    *,
    models: Sequence[demucs.ModelInfo] = (),
    max_cells: int = DEFAULT_MAX_CELLS,
) -> list[Cell]:
    """Validate a grid and list its cells.

    Parameters
    ----------
    spec : GridSpec
        The grid.
    models : sequence of ModelInfo
        Models the ``demucs`` sweeps may name (from :func:`residue.models.demucs.list_models`).
    max_cells : int
        Most cells allowed.

    Returns
    -------
    list of Cell
        In spec order, duplicates removed.

    Raises
    ------
    ParameterError
        On an empty grid, an unknown backend, stem or parameter, a value out of range.
    LimitExceeded
        If the grid has more than ``max_cells`` cells.
    ModelUnavailableError
        If a sweep names a model whose files are absent (the message says where to put them).
    """
    if not spec.sweeps:
        raise ParameterError("the grid has no sweeps")
    n = count_cells(spec)
    if n > max_cells:
        raise LimitExceeded(
            f"the grid has {n} cells; the limit is {max_cells} (RESIDUE_MAX_GRID_CELLS)"
        )
    cells: list[Cell] = []
    seen: set[tuple[str, str]] = set()
    for i, sw in enumerate(spec.sweeps, start=1):
        where = f"sweep {i}"
        if sw.backend not in GRID_BACKENDS:
            raise ParameterError(
                f"{where}: backend={sw.backend!r} must be one of {sorted(GRID_BACKENDS)}"
            )
        where = f"sweep {i} ({sw.backend})"
        if not sw.stems:
            raise ParameterError(f"{where}: stems must name at least one stem")
        for stem in sw.stems:
            if stem not in sep.STEMS:
                raise ParameterError(f"{where}: stem={stem!r} must be one of {sorted(sep.STEMS)}")
        params = dict(sw.params)
        model_names: list[str] = []
        if sw.backend == DEMUCS:
            if "model" not in params:
                raise ParameterError(f"{where}: params must name a model")
            model_names = _check_models(where, params.pop("model"), models)
        for key, values in params.items():
            if not values:
                raise ParameterError(f"{where}: {key} has an empty list of values")
        keys = list(params)
        for combo in itertools.product(*(params[k] for k in keys)):
            given: dict[str, object] = dict(zip(keys, combo, strict=True))
            try:
                resolved = sep.resolve_params(sw.backend, given, specs=_specs(sw.backend))
            except ParameterError as exc:
                raise ParameterError(f"sweep {i}: {exc}") from None
            settings = (
                [{"model": m, **resolved} for m in model_names]
                if sw.backend == DEMUCS
                else [resolved]
            )
            for p in settings:
                label = _label(sw.backend, p)
                for stem in sw.stems:
                    seen_key = (f"{sw.backend}:{json.dumps(p, sort_keys=True)}", stem)
                    if seen_key in seen:
                        continue
                    seen.add(seen_key)
                    idx = len(cells)
                    cells.append(Cell(idx, f"c{idx:03d}", sw.backend, p, stem, label))
    return cells


# ---------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CellResult:
    """One finished (or failed, or cancelled) cell."""

    cell: Cell
    status: Status
    sr: int
    estimate: np.ndarray | None
    """float32, the mix's shape; None unless done."""
    residual: np.ndarray | None
    """The mix minus the estimate: the second candidate."""
    hints: Hints | None
    residual_hints: Hints | None
    error: str | None
    error_code: str | None
    elapsed_s: float
    provenance: Mapping[str, object] = field(default_factory=dict)

    def summary(self) -> dict[str, object]:
        """JSON-ready description without the audio (what a manifest or a frame carries)."""
        return {
            "id": self.cell.cell_id,
            "index": self.cell.index,
            "backend": self.cell.backend,
            "params": dict(self.cell.params),
            "stem": self.cell.stem,
            "setting": self.cell.setting,
            "status": self.status,
            "error": self.error,
            "error_code": self.error_code,
            "elapsed_s": round(self.elapsed_s, 4),
            "hints": None if self.hints is None else self.hints._asdict(),
            "residual_hints": None
            if self.residual_hints is None
            else self.residual_hints._asdict(),
            "provenance": dict(self.provenance),
        }


@dataclass(frozen=True)
class GridSummary:
    """What :meth:`GridRun.run` returns once the grid is over (audio was handed out already)."""

    cells: tuple[dict[str, object], ...]
    cancelled: bool
    elapsed_s: float

    @property
    def counts(self) -> dict[str, int]:
        """Cells per status."""
        out = {"done": 0, "failed": 0, "cancelled": 0}
        for c in self.cells:
            out[str(c["status"])] += 1
        return out


class _AnyCancel(CancelToken):
    """Cancelled when any of ``any_of`` is, or when all of ``all_of`` are (a group's cells)."""

    def __init__(self, any_of: Sequence[CancelToken], all_of: Sequence[CancelToken]) -> None:
        super().__init__()
        self._any = list(any_of)
        self._all = list(all_of)

    @property
    def cancelled(self) -> bool:
        return (
            super().cancelled
            or any(t.cancelled for t in self._any)
            or (bool(self._all) and all(t.cancelled for t in self._all))
        )

    def raise_if_cancelled(self) -> None:
        if self.cancelled:
            raise JobCancelled("cancelled")


class SpilledSTFT:
    """The mix's STFT written once to an unnamed temporary file, read back a segment at a time.

    Frames are stored frame-major (``n_frames x channels x n_bins`` complex64), so a stretch of
    frames is one contiguous read. Long tracks keep their STFT out of memory this way (a
    10-minute stereo track's is 850 MB); the page cache, not the process, holds it.
    """

    def __init__(self, y: np.ndarray, *, device: str | None = None) -> None:
        import tempfile

        n_frames = spectral.n_frames_for(y.shape[-1])
        self._lead = y.shape[:-1]
        self._n_bins = 1 + spectral.N_FFT // 2
        self._n_ch = int(np.prod(self._lead)) if self._lead else 1
        self.shape = (*self._lead, self._n_bins, n_frames)
        self._frame_bytes = self._n_ch * self._n_bins * 8
        self._file = tempfile.TemporaryFile(prefix="residue-stft-")
        for _t0, block in sep.iter_stft_blocks(y, device=device):
            flat = block.reshape(self._n_ch, self._n_bins, -1)
            self._file.write(np.ascontiguousarray(flat.transpose(2, 0, 1)).tobytes())
        self._file.flush()

    def frames(self, lo: int, hi: int) -> np.ndarray:
        """Frames ``lo:hi`` as complex64 ``(..., n_bins, hi - lo)``."""
        self._file.seek(lo * self._frame_bytes)
        raw = self._file.read((hi - lo) * self._frame_bytes)
        block = np.frombuffer(raw, dtype=np.complex64).reshape(hi - lo, self._n_ch, self._n_bins)
        out = np.ascontiguousarray(block.transpose(1, 2, 0))
        return out.reshape(*self._lead, self._n_bins, hi - lo)

    def close(self) -> None:
        """Delete the file."""
        self._file.close()


SPILL_BYTES = 256 * 1024 * 1024
"""STFTs larger than this (about 3 minutes of stereo at 44.1 kHz) are kept on disk."""


class _GroupProgress:
    """Turns a group's progress into whole-grid progress and per-cell progress."""

    def __init__(
        self,
        progress: ProgressFn,
        on_cell: Callable[[str, float], None] | None,
        cell_ids: list[str],
        *,
        base: int,
        total: int,
        label: str,
    ) -> None:
        self.progress = progress
        self.on_cell = on_cell
        self.cell_ids = cell_ids
        self.base = base
        self.total = total
        self.label = label

    def __call__(self, fraction: float, stage: str, /) -> None:
        self.progress(
            (self.base + fraction * len(self.cell_ids)) / self.total, f"{self.label}: {stage}"
        )
        if self.on_cell is not None:
            for cell_id in self.cell_ids:
                self.on_cell(cell_id, fraction)


class GridRun:
    """One grid over one sound: validated on construction, run by :meth:`results` or :meth:`run`.

    Parameters
    ----------
    spec : GridSpec
        The grid (see :func:`resolve_grid`).
    y : np.ndarray [shape=(n_samples,) or (channels, n_samples), dtype=float32]
        The decoded mix (decoded once by the caller).
    sr : int
        Its sample rate.
    source : str
        What the mix is (a file name or sound id), for provenance.
    models_dir : Path or None
        The demucs model folder.
    device : str or None
        Where torch work runs.
    max_cells : int
        Most cells allowed.
    max_duration_s : float or None
        Longest mix allowed (None: no limit here; decoding already enforces the settings').

    Raises
    ------
    ParameterError, LimitExceeded, ModelUnavailableError
        From :func:`expand`, or on bad audio.

    Examples
    --------
    >>> y = np.random.default_rng(0).standard_normal(22050).astype(np.float32) * 0.1
    >>> spec = GridSpec("t", (Sweep("bands", {}, ("low", "high")),))
    >>> [r.status for r in GridRun(spec, y, 22050, source="noise").results()]
    ['done', 'done']
    """

    def __init__(
        self,
        spec: GridSpec,
        y: np.ndarray,
        sr: int,
        *,
        source: str,
        models_dir: Path | None = None,
        device: str | None = None,
        max_cells: int = DEFAULT_MAX_CELLS,
        max_duration_s: float | None = None,
    ) -> None:
        from residue.dsp._validate import check_audio, check_int

        self.y = check_audio(y, min_samples=64)
        if self.y.ndim > 2:
            raise ParameterError(f"y must be mono or (channels, n_samples), got {self.y.shape}")
        self.sr = check_int("sr", sr, lo=1000)
        duration = self.y.shape[-1] / self.sr
        if max_duration_s is not None and duration > max_duration_s:
            raise LimitExceeded(
                f"{source} lasts {duration / 60:.1f} min; "
                f"the limit is {max_duration_s / 60:.0f} min"
            )
        self.spec = spec
        self.source = source
        self.models_dir = models_dir
        self.device = device
        needs_models = any(sw.backend == DEMUCS for sw in spec.sweeps)
        self.models = demucs.list_models(models_dir) if needs_models else []
        self.cells = expand(spec, models=self.models, max_cells=max_cells)
        self._tokens = {c.cell_id: CancelToken() for c in self.cells}
        self._grid_token = CancelToken()
        self._loaded: demucs.LoadedModel | None = None
        self._D: np.ndarray | SpilledSTFT | None = None
        self._model_errors: dict[str, ModelUnavailableError] = {}

    # -- control (thread-safe: may be called from another thread while the grid runs) ----------

    def cancel_cell(self, cell_id: str) -> None:
        """Cancel one cell; the rest of the grid goes on.

        Raises
        ------
        ParameterError
            If the grid has no such cell.
        """
        token = self._tokens.get(cell_id)
        if token is None:
            raise ParameterError(f"the grid has no cell {cell_id!r}")
        token.cancel()

    def cancel(self) -> None:
        """Cancel the whole grid; cells already finished stay finished."""
        self._grid_token.cancel()

    # -- running ------------------------------------------------------------------------------

    def groups(self) -> list[list[Cell]]:
        """Cells grouped by backend setting, in the order they run (cheap backends first)."""
        groups: dict[str, list[Cell]] = {}
        for c in self.cells:
            groups.setdefault(c.group_key, []).append(c)
        return sorted(
            groups.values(),
            key=lambda g: (_COST_RANK[g[0].backend], str(g[0].params.get("model", "")), g[0].index),
        )

    def results(
        self,
        progress: ProgressFn = no_progress,
        cancel: CancelToken | None = None,
        *,
        on_cell_progress: Callable[[str, float], None] | None = None,
    ) -> Iterator[CellResult]:
        """Run the grid, yielding each cell's result as soon as it is ready.

        Parameters
        ----------
        progress : ProgressFn
            Whole-grid progress.
        cancel : CancelToken or None
            Cancels the whole grid (as :meth:`cancel` does).
        on_cell_progress : callable or None
            ``(cell_id, fraction)`` for each running cell.

        Yields
        ------
        CellResult
            Every cell exactly once: done, failed (with its error) or cancelled.
        """
        outer = [self._grid_token] + ([cancel] if cancel is not None else [])
        total = len(self.cells)
        groups = self.groups()
        progress(0.0, "starting")
        try:
            yield from self._groups(groups, outer, total, progress, on_cell_progress)
        finally:
            self._close_stft()
            self._loaded = None
        progress(1.0, "done")

    def _stft(self) -> np.ndarray | SpilledSTFT:
        if self._D is None:
            n_bytes = self.y.size // max(1, self.y.shape[-1]) * (1 + spectral.N_FFT // 2) * 8
            n_bytes *= spectral.n_frames_for(self.y.shape[-1])
            if n_bytes > SPILL_BYTES:
                self._D = SpilledSTFT(self.y, device=self.device)
            else:
                self._D = sep.stft_blocks(self.y, device=self.device)
        return self._D

    def _close_stft(self) -> None:
        if isinstance(self._D, SpilledSTFT):
            self._D.close()
        self._D = None

    def _groups(
        self,
        groups: list[list[Cell]],
        outer: list[CancelToken],
        total: int,
        progress: ProgressFn,
        on_cell_progress: Callable[[str, float], None] | None,
    ) -> Iterator[CellResult]:
        finished = 0
        for group in groups:
            if group[0].backend not in sep.BACKENDS:
                self._close_stft()  # models need no STFT (weightless groups run first)
            if any(t.cancelled for t in outer):
                for c in group:
                    yield self._cancelled(c, 0.0)
                finished += len(group)
                continue
            live = [c for c in group if not self._tokens[c.cell_id].cancelled]
            for c in group:
                if c not in live:
                    finished += 1
                    yield self._cancelled(c, 0.0)
            if not live:
                continue
            token = _AnyCancel(outer, [self._tokens[c.cell_id] for c in live])
            group_progress = _GroupProgress(
                progress,
                on_cell_progress,
                [c.cell_id for c in live],
                base=finished,
                total=total,
                label=live[0].setting,
            )
            started = time.perf_counter()
            try:
                if live[0].backend in sep.BACKENDS:
                    if self._D is None:
                        progress(finished / total, "analysing the mix")
                    outputs = self._run_weightless(live, self._stft(), group_progress, token)
                else:
                    outputs = self._run_demucs(live, group_progress, token)
            except JobCancelled:
                elapsed = time.perf_counter() - started
                for c in live:
                    finished += 1
                    yield self._cancelled(c, elapsed)
                continue
            except ResidueError as exc:
                elapsed = time.perf_counter() - started
                for c in live:
                    finished += 1
                    yield self._failed(c, elapsed, str(exc), exc.code)
                continue
            except Exception as exc:  # a bug in one backend must not lose the grid
                elapsed = time.perf_counter() - started
                log.exception("separation cell group %s failed", live[0].group_key)
                for c in live:
                    finished += 1
                    yield self._failed(
                        c, elapsed, f"internal error ({type(exc).__name__}: {exc})", "internal"
                    )
                continue
            elapsed = (time.perf_counter() - started) / len(live)
            try:
                bleeds = hints_mod.group_bleed(self.y, [outputs[c.stem] for c in live])
            except ResidueError:
                bleeds = [0.0] * len(live)
            for c, bleed in zip(live, bleeds, strict=True):
                finished += 1
                # Hand each estimate over and forget it: the group's memory shrinks as it goes.
                estimate = outputs.pop(c.stem, None)
                if estimate is None:  # the same stem twice in one group cannot happen; be safe
                    estimate = np.zeros_like(self.y)
                if self._tokens[c.cell_id].cancelled:
                    yield self._cancelled(c, elapsed)
                    continue
                try:
                    result = self._done(c, estimate, bleed, elapsed)
                except Exception as exc:  # hints of one cell must not lose the others
                    log.exception("separation cell %s failed", c.cell_id)
                    result = self._failed(
                        c, elapsed, f"internal error ({type(exc).__name__}: {exc})", "internal"
                    )
                yield result
                del result, estimate  # the consumer owns them now; keep nothing behind
                progress(finished / total, f"{c.setting}: {c.stem} done")
            del outputs

    def run(
        self,
        progress: ProgressFn = no_progress,
        cancel: CancelToken | None = None,
        *,
        on_result: Callable[[CellResult], None] | None = None,
        on_cell_progress: Callable[[str, float], None] | None = None,
    ) -> GridSummary:
        """Run the grid, handing each result to ``on_result`` as it finishes.

        Shaped like the job executor's work (``work(progress, cancel)``), so
        ``executor.run(lambda p, c: grid.run(p, c, on_result=send))`` runs it off the loop.
        Results are not kept: ``on_result`` must store or send the audio.

        Returns
        -------
        GridSummary
            Every cell's summary (no audio) and whether the grid was cancelled.
        """
        t0 = time.perf_counter()
        summaries = []
        for result in self.results(progress, cancel, on_cell_progress=on_cell_progress):
            summaries.append(result.summary())
            if on_result is not None:
                on_result(result)
            del result  # do not hold one cell's audio while the next is computed
        cancelled = self._grid_token.cancelled or (cancel is not None and cancel.cancelled)
        return GridSummary(tuple(summaries), cancelled, time.perf_counter() - t0)

    # -- backends -----------------------------------------------------------------------------

    def _run_weightless(
        self,
        cells: list[Cell],
        D: np.ndarray | SpilledSTFT,
        progress: ProgressFn,
        cancel: CancelToken,
    ) -> dict[str, np.ndarray]:
        first = cells[0]
        seps = sep.separate_stems(
            D,
            sr=self.sr,
            backend=first.backend,
            stems=[c.stem for c in cells],
            length=self.y.shape[-1],
            params=first.params,
            device=self.device,
            progress=progress,
            cancel=cancel,
        )
        return {stem: s.estimate for stem, s in seps.items()}

    def _model(self, name: str) -> demucs.LoadedModel:
        if name in self._model_errors:
            raise self._model_errors[name]
        if self._loaded is None or self._loaded.name != name:
            self._loaded = None  # one model in memory at a time; cells are ordered by model
            try:
                self._loaded = demucs.load(name, models_dir=self.models_dir, device=self.device)
            except ModelUnavailableError as exc:
                self._model_errors[name] = exc
                raise
        return self._loaded

    def _run_demucs(
        self, cells: list[Cell], progress: ProgressFn, cancel: CancelToken
    ) -> dict[str, np.ndarray]:
        p = cells[0].params
        model = self._model(str(p["model"]))
        sources = demucs.separate(
            model,
            self.y,
            self.sr,
            shifts=sep.integer(p, "shifts"),
            overlap=sep.num(p, "overlap"),
            segment=None if p["segment"] is None else sep.num(p, "segment"),
            seed=sep.integer(p, "seed"),
            device=self.device,
            progress=progress,
            cancel=cancel,
        )
        out = {c.stem: demucs.stem_audio(sources, c.stem, mix=self.y) for c in cells}
        del sources
        return out

    # -- results ------------------------------------------------------------------------------

    def _done(self, cell: Cell, estimate: np.ndarray, bleed: float, elapsed: float) -> CellResult:
        residual = self.y - estimate
        # Bleed was measured for the whole group at once (against siblings and residual).
        est_hints = hints_mod.describe(estimate, sr=self.sr)._replace(bleed=round(bleed, 5))
        res_hints = hints_mod.describe(residual, sr=self.sr)._replace(bleed=round(bleed, 5))
        return CellResult(
            cell=cell,
            status="done",
            sr=self.sr,
            estimate=estimate,
            residual=residual,
            hints=est_hints,
            residual_hints=res_hints,
            error=None,
            error_code=None,
            elapsed_s=elapsed,
            provenance=cell.provenance(source=self.source, sr=self.sr),
        )

    def _failed(self, cell: Cell, elapsed: float, message: str, code: str) -> CellResult:
        return CellResult(
            cell,
            "failed",
            self.sr,
            None,
            None,
            None,
            None,
            message,
            code,
            elapsed,
            cell.provenance(source=self.source, sr=self.sr),
        )

    def _cancelled(self, cell: Cell, elapsed: float) -> CellResult:
        return CellResult(
            cell,
            "cancelled",
            self.sr,
            None,
            None,
            None,
            None,
            "cancelled",
            JobCancelled.code,
            elapsed,
            cell.provenance(source=self.source, sr=self.sr),
        )


# ---------------------------------------------------------------------------------------------
# What the page and the CLI need
# ---------------------------------------------------------------------------------------------


def warm_up() -> float:
    """Load and compile what a first grid needs, so its first card comes quickly.

    Imports librosa's onset code and pyloudnorm and loads the compiled median filter and
    melody tracker by running a tiny grid on a second of noise. Call once at server start, off
    the event loop.

    Returns
    -------
    float
        Seconds spent.
    """
    t0 = time.perf_counter()
    y = np.random.default_rng(0).standard_normal((2, 22050)).astype(np.float32) * 0.1
    spec = GridSpec(
        "warm-up",
        (
            Sweep("bands", {}, ("low",)),
            Sweep("hpss", {"kernel": (3,)}, ("drums",)),
            Sweep("melody", {"kernel": (3,)}, ("vocals",)),
        ),
    )
    for _ in GridRun(spec, y, 22050, source="warm-up").results():
        pass
    return time.perf_counter() - t0


def models_dir_of(settings: Settings) -> Path:
    """Return the demucs model folder: ``RESIDUE_MODELS_DIR``, else ``<data dir>/models``."""
    return settings.models_dir if settings.models_dir is not None else settings.data_dir / "models"


def max_cells_of(settings: Settings) -> int:
    """Return the configured cell limit (``RESIDUE_MAX_GRID_CELLS``)."""
    return settings.max_grid_cells


def _spec_json(spec: ParamSpec) -> dict[str, object]:
    return {
        "name": spec.name,
        "kind": spec.kind,
        "default": spec.default,
        "min": spec.lo,
        "max": spec.hi,
        "choices": list(spec.choices),
        "optional": spec.optional,
        "doc": spec.doc,
    }


def catalog(*, models_dir: Path | None, max_cells: int = DEFAULT_MAX_CELLS) -> dict[str, object]:
    """Everything a grid editor needs: backends and their parameters, stems, models, presets.

    Returns
    -------
    dict
        JSON-ready: ``backends`` (name -> parameter specs), ``stems``, ``models`` (name,
        available, reason, sources, files), ``presets`` (name -> grid), ``max_cells``.
    """
    models = demucs.list_models(models_dir)
    backends: dict[str, object] = {
        b: [_spec_json(s) for s in sep.PARAMS[b].values()] for b in sep.BACKENDS
    }
    backends[DEMUCS] = [
        {
            "name": "model",
            "kind": "choice",
            "default": None,
            "min": None,
            "max": None,
            "choices": [m.name for m in models if m.available],
            "optional": False,
            "doc": "which demucs model",
        },
        *(_spec_json(s) for s in demucs.PARAMS.values()),
    ]
    return {
        "backends": backends,
        "stems": list(sep.STEMS),
        "models": [
            {
                "name": m.name,
                "available": m.available,
                "reason": m.reason,
                "sources": list(m.sources),
                "files": list(m.files),
            }
            for m in models
        ],
        "presets": {name: preset(name, models=models).to_json() for name in PRESETS},
        "max_cells": max_cells,
    }


_UNSAFE = re.compile(r"[^A-Za-z0-9._=+-]+")


def _file_stem(cell: Cell) -> str:
    setting = _UNSAFE.sub("_", cell.setting).strip("_")
    return f"{cell.index:03d} {cell.stem} - {setting}"


def run_separate_cli(
    song: Path,
    grid: str | Path,
    out: Path,
    progress: ProgressFn = no_progress,
    *,
    settings: Settings | None = None,
) -> Path:
    """``residue separate SONG --grid quick|deep|FILE --out DIR``: every cell as WAV + manifest.

    Each finished cell gives two 24-bit WAV files at the song's rate, ``NNN stem - setting.wav``
    and ``NNN stem - setting - residual.wav``; ``manifest.json`` lists every cell with its
    status, provenance and hints (written even when the run is interrupted).

    Parameters
    ----------
    song : Path
        The audio file.
    grid : str or Path
        ``"quick"``, ``"deep"`` or a grid JSON file.
    out : Path
        Output folder (created).
    progress : ProgressFn
        Whole-grid progress.
    settings : Settings or None
        Limits, model folder and device (default: from the environment).

    Returns
    -------
    Path
        The manifest.

    Raises
    ------
    ResidueError
        On unreadable audio or an invalid grid (nothing is written then).
    """
    settings = settings if settings is not None else Settings.from_env()
    models_dir = models_dir_of(settings)
    audio = read_audio_file(song, settings=settings)
    spec = resolve_grid(grid, models=demucs.list_models(models_dir))
    run = GridRun(
        spec,
        audio.y,
        audio.sr,
        source=song.name,
        models_dir=models_dir,
        device=settings.device,
        max_cells=max_cells_of(settings),
        max_duration_s=settings.max_duration_s,
    )
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / "manifest.json"
    entries: list[dict[str, object]] = []
    manifest: dict[str, object] = {
        "format": MANIFEST_FORMAT,
        "version": 1,
        "residue": __version__,
        "source": str(song),
        "sr": audio.sr,
        "channels": int(audio.y.shape[0]),
        "duration_s": round(audio.y.shape[-1] / audio.sr, 4),
        "grid": spec.to_json(),
        "complete": False,
        "cells": entries,
    }
    try:
        for result in run.results(progress):
            entry = result.summary()
            if result.status == "done" and result.estimate is not None:
                name = _file_stem(result.cell)
                write_wav(out / f"{name}.wav", result.estimate, sr=audio.sr)
                entry["file"] = f"{name}.wav"
                if result.residual is not None:
                    write_wav(out / f"{name} - residual.wav", result.residual, sr=audio.sr)
                    entry["residual_file"] = f"{name} - residual.wav"
            entries.append(entry)
            del result  # do not hold one cell's audio while the next is computed
        manifest["complete"] = True
    finally:
        manifest_path.write_text(json.dumps(manifest, indent=2, allow_nan=False, default=_json))
    return manifest_path


def _json(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        v = value.item()
        return v if not (isinstance(v, float) and not math.isfinite(v)) else None
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
