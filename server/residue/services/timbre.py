"""Timbre space use cases: training sets, models, the 2-D map, songs, albums, curation.

Files under the data folder (``settings.data_dir``)::

    models/timbre/<model_id>.pt        every trained timbre VAE (see residue.models.vae)
    models/timbre/default.json         which model is the default one
    timbre/sets/<set_id>.npz, .json    training sets: clip references, vectors, provenance
    songs/<song_id>.flac               rendered songs (16-bit FLAC; rebuilt from the recipe)

Rows (migrations 3 and 4 of :mod:`residue.store.db`): ``albums``, ``songs`` (the recipe:
settings, seed, model id; plus a small spectrogram thumbnail) and ``decisions`` (keep/reject of
songs, separation cells and training clips, with a sequence number for undo).

Songs, albums, decisions and training sets belong to the session of ``ctx`` (a set's JSON
records it; files from before sessions belong to the default session) and every function
here sees only its own session's. Models are shared: a model is a file named by its weights.

Every long function is a plain work function taking ``progress`` and ``cancel``, to be run by
the job executor (``ctx.executor.run(lambda p, c: generate_album(ctx, ..., progress=p,
cancel=c))``). The page layer maps the dataclasses here to wire frames.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import soundfile as sf

from residue import __version__
from residue.config import Settings
from residue.dsp import compose, spectral, timbre
from residue.dsp.compose import SongSettings
from residue.dsp.progress import CancelToken, ProgressFn, no_progress
from residue.errors import (
    ModelUnavailableError,
    NotFound,
    ParameterError,
    UnsupportedError,
)
from residue.models import vae
from residue.services.audio_io import resample
from residue.services.context import Context
from residue.store.db import DEFAULT_SESSION, check_id, from_json, new_id, to_json

DEFAULT_ALBUM_SONGS = 50
"""Songs in an album unless asked otherwise."""
MAX_ALBUM_SONGS = 500
"""Most songs one album job makes."""
PREVIEW_S = 2.0
"""Default length of a hover-to-hear drone."""
MAX_PREVIEW_S = 30.0
SONG_FORMAT = "FLAC"
EXPORT_FORMATS = ("flac", "wav")
EXPORT_LUFS = -16.0
"""Default loudness kept songs are matched to on export."""
THUMB_ROWS = 64
THUMB_COLS = 160
MAP_METHODS = ("pca", "umap")
ItemKind = Literal["song", "cell", "clip"]
ITEM_KINDS: tuple[ItemKind, ...] = ("song", "cell", "clip")
Verdict = Literal["keep", "reject"]
_ITEM_ID = re.compile(r"[^\x00-\x1f\x7f]{1,200}")
_UNSAFE_FILE = re.compile(r"[^A-Za-z0-9 ._-]+")


# ---------------------------------------------------------------------------------------------
# Folders


def models_folder(settings: Settings) -> Path:
    """Where timbre models live: ``<data dir>/models/timbre``."""
    return Path(settings.data_dir) / "models" / "timbre"


def sets_folder(settings: Settings) -> Path:
    """Where training sets live: ``<data dir>/timbre/sets``."""
    return Path(settings.data_dir) / "timbre" / "sets"


def songs_folder(settings: Settings) -> Path:
    """Where rendered songs live: ``<data dir>/songs``."""
    return Path(settings.data_dir) / "songs"


# ---------------------------------------------------------------------------------------------
# Models


@dataclass(frozen=True)
class ModelInfo:
    """A timbre model on disk.

    Attributes
    ----------
    model_id : str
    path : Path
    is_default : bool
    latent_dim : int
    provenance : dict
        Training set and training settings.
    loss : tuple of float
        Loss per epoch (the curve the page draws).
    """

    model_id: str
    path: Path
    is_default: bool
    latent_dim: int
    provenance: dict[str, Any]
    loss: tuple[float, ...]


_MODEL_LOCK = threading.Lock()  # one default-model training at a time
_CACHE_LOCK = threading.Lock()
_MODELS: dict[tuple[str, int], vae.TimbreModel] = {}


def _info(model: vae.TimbreModel, path: Path, *, is_default: bool) -> ModelInfo:
    return ModelInfo(
        model_id=model.model_id,
        path=path,
        is_default=is_default,
        latent_dim=model.latent_dim,
        provenance=model.provenance,
        loss=tuple(round(float(x), 6) for x in model.loss),
    )


def _load_cached(path: Path) -> vae.TimbreModel:
    key = (str(path.resolve()), path.stat().st_mtime_ns if path.exists() else 0)
    with _CACHE_LOCK:
        found = _MODELS.get(key)
    if found is not None:
        return found
    model = vae.load_model(path)
    with _CACHE_LOCK:
        if len(_MODELS) > 8:
            _MODELS.clear()
        _MODELS[key] = model
    return model


def save_model(settings: Settings, model: vae.TimbreModel) -> Path:
    """Store a model as ``models/timbre/<model_id>.pt`` (idempotent) and return the path."""
    path = models_folder(settings) / f"{model.model_id}.pt"
    if not path.is_file():
        vae.save_model(model, path)
    return path


def _default_pointer(settings: Settings) -> Path:
    return models_folder(settings) / "default.json"


def ensure_default_model(
    settings: Settings,
    *,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    on_epoch: vae.OnEpoch | None = None,
    epochs: int = vae.DEFAULT_EPOCHS,
    soundfont: bool = True,
) -> vae.TimbreModel:
    """The default timbre model, trained on first use (and after a format change).

    The model is trained from sounds residue can always make
    (:func:`residue.models.vae.default_training_set`) and cached as any other model, with
    ``models/timbre/default.json`` naming it. A cached model of another format version is
    replaced by a new one.

    Raises
    ------
    JobCancelled
        If ``cancel`` was set during training.
    """
    report = progress if progress is not None else no_progress
    with _MODEL_LOCK:
        pointer = _default_pointer(settings)
        if pointer.is_file():
            try:
                meta = json.loads(pointer.read_text())
                if meta.get("format_version") == vae.FORMAT_VERSION:
                    path = models_folder(settings) / f"{check_id('model', meta['model_id'])}.pt"
                    model = _load_cached(path)
                    report(1.0, "done")
                    return model
            except (OSError, ValueError, KeyError, TypeError, NotFound, ModelUnavailableError):
                pass  # stale or damaged: train a new default below
        result = vae.train_default(
            epochs=epochs,
            soundfont=soundfont,
            progress=progress,
            cancel=cancel,
            on_epoch=on_epoch,
        )
        path = save_model(settings, result.model)
        tmp = pointer.with_suffix(".tmp")
        tmp.write_text(
            json.dumps({"model_id": result.model.model_id, "format_version": vae.FORMAT_VERSION})
        )
        tmp.replace(pointer)
        with _CACHE_LOCK:
            _MODELS[(str(path.resolve()), path.stat().st_mtime_ns)] = result.model
        return result.model


def default_model_id(settings: Settings) -> str | None:
    """Id of the default model if one is cached, else None (nothing is trained)."""
    try:
        meta = json.loads(_default_pointer(settings).read_text())
        if meta.get("format_version") == vae.FORMAT_VERSION:
            return str(meta["model_id"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def get_model(settings: Settings, model_id: str | None = None) -> vae.TimbreModel:
    """A model by id, or the default model (trained if needed) for ``None``.

    Raises
    ------
    NotFound
        If there is no model of that id.
    ModelUnavailableError
        If its file is damaged or of another format version.
    """
    if model_id is None:
        return ensure_default_model(settings)
    check_id("timbre model", model_id)
    path = models_folder(settings) / f"{model_id}.pt"
    if not path.is_file():
        raise NotFound(f"no timbre model {model_id!r}")
    return _load_cached(path)


def list_models(settings: Settings) -> list[ModelInfo]:
    """Every readable model of the current format, the default first, then newest first."""
    folder = models_folder(settings)
    if not folder.is_dir():
        return []
    default = default_model_id(settings)
    found: list[tuple[float, ModelInfo]] = []
    for path in folder.glob("*.pt"):
        try:
            model = _load_cached(path)
        except ModelUnavailableError:
            continue
        info = _info(model, path, is_default=model.model_id == default)
        found.append((path.stat().st_mtime, info))
    found.sort(key=lambda item: (not item[1].is_default, -item[0]))
    return [info for _, info in found]


# ---------------------------------------------------------------------------------------------
# Training sets


@dataclass(frozen=True)
class TrainingSetInfo:
    """A training set: clips cut from library sounds, their vectors and flags.

    Attributes
    ----------
    set_id : str
    name : str
    created_at : float
    n_clips : int
    n_usable : int
        Clips neither flagged (transients) nor silent.
    provenance : dict
        The sounds (id, name, rate, clips) and the extraction settings.
    session_id : str
        The session the set belongs to.
    """

    set_id: str
    name: str
    created_at: float
    n_clips: int
    n_usable: int
    provenance: dict[str, Any]
    session_id: str = DEFAULT_SESSION


class TrainingSet(NamedTuple):
    """A training set's arrays (one row per clip) and its description."""

    info: TrainingSetInfo
    vectors: np.ndarray  # (n, 1233) float32
    sound_index: np.ndarray  # (n,) int64 into provenance["sounds"]
    starts: np.ndarray  # (n,) int64, samples into the sound (clip lengths: provenance)
    transient_db: np.ndarray  # (n,) float32
    flagged: np.ndarray  # (n,) bool
    silent: np.ndarray  # (n,) bool

    def clip_id(self, index: int) -> str:
        """The item id of clip ``index`` (for decisions): ``<set_id>-<index>``."""
        return f"{self.info.set_id}-{index}"


def build_training_set(
    ctx: Context,
    *,
    sound_ids: Sequence[str] | None = None,
    name: str = "library",
    clip_s: float = timbre.CLIP_S,
    hop_s: float | None = 1.0,
    threshold_db: float = timbre.TRANSIENT_THRESHOLD_DB,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> TrainingSetInfo:
    """Cut library sounds into clips, flag transients, compute vectors, and save the set.

    Parameters
    ----------
    ctx : Context
    sound_ids : sequence of str or None
        The sounds (``None``: every sound in the store).
    name : str
        A label for the set.
    clip_s, hop_s, threshold_db
        See :func:`residue.dsp.timbre.extract_clips`.
    progress, cancel
        One step per sound.

    Returns
    -------
    TrainingSetInfo

    Raises
    ------
    NotFound
        If a sound does not exist.
    ParameterError
        If no sound gives any clip.
    """
    report = progress if progress is not None else no_progress
    ids = [r.sound_id for r in ctx.store.sounds.list()] if sound_ids is None else list(sound_ids)
    vectors, sound_index, starts, transient, flagged, silent = [], [], [], [], [], []
    sounds: list[dict[str, Any]] = []
    for i, sound_id in enumerate(ids):
        if cancel is not None:
            cancel.raise_if_cancelled()
        report(i / max(1, len(ids)), "cutting clips")
        record = ctx.store.sounds.get(sound_id)
        y, sr = ctx.store.sounds.load(sound_id)
        clips = timbre.extract_clips(
            y, sr=sr, clip_s=clip_s, hop_s=hop_s, threshold_db=threshold_db
        )
        n = clips.clips.shape[0]
        sounds.append(
            {
                "sound_id": record.sound_id,
                "name": record.name,
                "sample_rate": sr,
                "clip_samples": round(clip_s * sr),
                "n_clips": n,
            }
        )
        if n == 0:
            continue
        vectors.append(timbre.timbre_vectors(clips.clips, sr=sr))
        sound_index.append(np.full(n, len(sounds) - 1, dtype=np.int64))
        starts.append(clips.starts)
        transient.append(clips.transient_db)
        flagged.append(clips.flagged)
        silent.append(clips.silent)
    if not vectors:
        raise ParameterError(
            f"no sound gave a clip of {clip_s:g} s; add longer sounds to the library"
        )
    set_id = new_id()
    V = np.concatenate(vectors)
    arrays = {
        "vectors": V,
        "sound_index": np.concatenate(sound_index),
        "starts": np.concatenate(starts),
        "transient_db": np.concatenate(transient),
        "flagged": np.concatenate(flagged),
        "silent": np.concatenate(silent),
    }
    info = TrainingSetInfo(
        set_id=set_id,
        name=name.strip() or "library",
        created_at=time.time(),
        n_clips=int(V.shape[0]),
        n_usable=int((~(arrays["flagged"] | arrays["silent"])).sum()),
        provenance={
            "sounds": sounds,
            "clip_s": clip_s,
            "hop_s": hop_s,
            "threshold_db": threshold_db,
            "timbre_bins": timbre.N_BINS,
            "residue": __version__,
        },
        session_id=ctx.session_id,
    )
    folder = sets_folder(ctx.settings)
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / f"{set_id}.npz", **arrays)  # type: ignore[arg-type]
    meta = dataclasses.asdict(info)
    (folder / f"{set_id}.json").write_text(json.dumps(meta, indent=1, allow_nan=False))
    report(1.0, "done")
    return info


def _read_set_info(path: Path) -> TrainingSetInfo:
    meta = json.loads(path.read_text())
    return TrainingSetInfo(
        set_id=str(meta["set_id"]),
        name=str(meta["name"]),
        created_at=float(meta["created_at"]),
        n_clips=int(meta["n_clips"]),
        n_usable=int(meta["n_usable"]),
        provenance=dict(meta["provenance"]),
        session_id=str(meta.get("session_id", DEFAULT_SESSION)),
    )


def list_training_sets(ctx: Context) -> list[TrainingSetInfo]:
    """Training sets of this session, newest first."""
    folder = sets_folder(ctx.settings)
    if not folder.is_dir():
        return []
    found = []
    for path in folder.glob("*.json"):
        try:
            info = _read_set_info(path)
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if info.session_id == ctx.session_id:
            found.append(info)
    return sorted(found, key=lambda s: -s.created_at)


def load_training_set(ctx: Context, set_id: str) -> TrainingSet:
    """A training set's arrays.

    Raises
    ------
    NotFound
        If there is no such set in this session (or its files are damaged).
    """
    check_id("training set", set_id)
    folder = sets_folder(ctx.settings)
    try:
        info = _read_set_info(folder / f"{set_id}.json")
        if info.session_id != ctx.session_id:
            raise KeyError(set_id)
        with np.load(folder / f"{set_id}.npz", allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, KeyError, TypeError):
        raise NotFound(f"no training set {set_id!r}") from None
    return TrainingSet(
        info=info,
        vectors=arrays["vectors"].astype(np.float32),
        sound_index=arrays["sound_index"].astype(np.int64),
        starts=arrays["starts"].astype(np.int64),
        transient_db=arrays["transient_db"].astype(np.float32),
        flagged=arrays["flagged"].astype(bool),
        silent=arrays["silent"].astype(bool),
    )


def training_clip_audio(ctx: Context, set_id: str, index: int) -> tuple[np.ndarray, int]:
    """The audio of one clip of a training set (for its card and hover preview).

    Returns
    -------
    y : np.ndarray [shape=(channels, n), dtype=float32]
    sr : int

    Raises
    ------
    NotFound
        If the set, the clip or its sound is gone.
    """
    data = load_training_set(ctx, set_id)
    if not 0 <= index < data.info.n_clips:
        raise NotFound(f"training set {set_id!r} has no clip {index}")
    sound = data.info.provenance["sounds"][int(data.sound_index[index])]
    y, sr = ctx.store.sounds.load(str(sound["sound_id"]))
    start = int(data.starts[index])
    return y[:, start : start + int(sound["clip_samples"])].copy(), sr


def _included(ctx: Context, data: TrainingSet) -> np.ndarray:
    """Clips a model trains on: usable ones, plus kept ones, minus rejected ones."""
    verdicts = decisions(ctx, "clip", [data.clip_id(i) for i in range(data.info.n_clips)])
    use = ~(data.flagged | data.silent)
    for i in range(data.info.n_clips):
        verdict = verdicts.get(data.clip_id(i))
        if verdict is not None:
            use[i] = verdict.decision == "keep"
    out: np.ndarray = use
    return out


def train_model(
    ctx: Context,
    set_id: str,
    *,
    epochs: int = vae.EPOCHS,
    batch_size: int = vae.BATCH_SIZE,
    lr: float = vae.LEARNING_RATE,
    kl_weight: float = vae.KL_WEIGHT,
    seed: int = 0,
    config: vae.VAEConfig | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    on_epoch: vae.OnEpoch | None = None,
) -> ModelInfo:
    """Train a timbre model on a training set (a job: progress per batch, loss per epoch).

    Clips used: those neither flagged nor silent, plus clips kept on the swipe page, minus
    clips rejected there.

    Raises
    ------
    NotFound
        If the set does not exist.
    ParameterError
        If fewer than 2 clips remain, or a setting is out of range.
    JobCancelled
        If ``cancel`` was set.
    """
    data = load_training_set(ctx, set_id)
    use = _included(ctx, data)
    if int(use.sum()) < 2:
        raise ParameterError(
            f"training set {set_id!r} has {int(use.sum())} usable clips; at least 2 are needed"
        )
    sounds = data.info.provenance["sounds"]
    labels = tuple(
        f"{sounds[int(data.sound_index[i])]['name']} @ "
        f"{data.starts[i] / sounds[int(data.sound_index[i])]['sample_rate']:.1f} s"
        for i in np.flatnonzero(use)
    )
    result = vae.train(
        data.vectors[use],
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        kl_weight=kl_weight,
        seed=seed,
        config=config,
        provenance={
            "training_set": {
                "kind": "library",
                "set_id": set_id,
                "name": data.info.name,
                "n_clips": data.info.n_clips,
                "n_used": int(use.sum()),
                "sounds": [
                    {"sound_id": s["sound_id"], "name": s["name"]} for s in sounds
                ],
            }
        },
        labels=labels,
        progress=progress,
        cancel=cancel,
        on_epoch=on_epoch,
    )
    path = save_model(ctx.settings, result.model)
    return _info(result.model, path, is_default=False)


# ---------------------------------------------------------------------------------------------
# The 2-D map


@dataclass(frozen=True)
class Projection:
    """A linear map between latents and 2-D map coordinates.

    ``xy = (z - mean) @ axes.T / scale``: the first two principal directions, each divided by
    the spread of the points along it, so the map fills its canvas in both directions (a second
    component with a sixth of the first's spread would otherwise leave the points in a thin
    strip, too crowded to hover one by one).

    Attributes
    ----------
    mean : np.ndarray [shape=(latent_dim,), dtype=float64]
    axes : np.ndarray [shape=(2, latent_dim), dtype=float64]
        Orthonormal rows (the first two principal directions).
    method : str
        "pca" or "umap" (UMAP positions points itself; new latents go through the PCA).
    scale : np.ndarray [shape=(2,), dtype=float64]
        Latent units per map unit along each axis (the points' standard deviations).
    """

    mean: np.ndarray
    axes: np.ndarray
    method: str = "pca"
    scale: np.ndarray = dataclasses.field(default_factory=lambda: np.ones(2))

    def project(self, Z: np.ndarray) -> np.ndarray:
        """Latents ``(n, latent_dim)`` -> coordinates ``(n, 2)``."""
        out: np.ndarray = (
            (np.asarray(Z, dtype=np.float64) - self.mean) @ self.axes.T
        ) / self.scale
        return out

    def unproject(self, xy: np.ndarray) -> np.ndarray:
        """Coordinates ``(n, 2)`` -> latents on the map's plane ``(n, latent_dim)``, float32."""
        plane = np.asarray(xy, dtype=np.float64) * self.scale
        out: np.ndarray = (self.mean + plane @ self.axes).astype(np.float32)
        return out

    def plane(self) -> compose.MapPlane:
        """The plane as a song's settings keep it (plain floats, exact)."""
        return compose.MapPlane(
            mean=tuple(float(v) for v in self.mean),
            axes=(tuple(float(v) for v in self.axes[0]), tuple(float(v) for v in self.axes[1])),
            scale=(float(self.scale[0]), float(self.scale[1])),
        )


def fit_pca(Z: np.ndarray) -> Projection:
    """The two principal directions of latents, scaled to unit spread, as a :class:`Projection`.

    Deterministic: each axis's largest loading is made positive. With fewer than 3 points,
    the first two latent axes are used, unscaled. An axis with (almost) no spread keeps a
    twentieth of the other's scale, so a line of points stays a line.
    """
    Z64 = np.asarray(Z, dtype=np.float64)
    dim = Z64.shape[1]
    mean = Z64.mean(axis=0) if Z64.shape[0] else np.zeros(dim)
    if Z64.shape[0] < 3 or dim < 2:
        axes = np.eye(2, dim)
        return Projection(mean=mean, axes=axes)
    _, sv, vt = np.linalg.svd(Z64 - mean, full_matrices=False)
    axes = vt[:2].copy()
    for row in axes:
        if row[np.argmax(np.abs(row))] < 0:
            row *= -1.0
    std = sv[:2] / np.sqrt(Z64.shape[0])
    if std[0] <= 1e-12:
        return Projection(mean=mean, axes=axes)
    scale = np.maximum(std, std[0] / 20.0)
    return Projection(mean=mean, axes=axes, scale=scale)


@dataclass(frozen=True)
class MapPoint:
    """One point of the map.

    Attributes
    ----------
    kind : {"clip", "component", "anchor"}
        A training-set clip, a library component, or one of the model's own training sounds.
    item_id : str
        ``<set_id>-<index>``, the component id, or ``anchor-<index>``.
    label : str
    x, y : float
    flagged : bool
        For clips: transient or silent (a model does not train on it unless kept).
    """

    kind: str
    item_id: str
    label: str
    x: float
    y: float
    flagged: bool = False


@dataclass(frozen=True)
class TimbreMap:
    """The 2-D map of a model's latent space.

    Attributes
    ----------
    model_id : str
    method : str
    points : tuple of MapPoint
    projection : Projection
        For clicks (``unproject``) and for a song's region criterion (``project``).
    latents : np.ndarray [shape=(n_points, latent_dim), dtype=float32]
        The latent of each point, in the order of ``points``.
    """

    model_id: str
    method: str
    points: tuple[MapPoint, ...]
    projection: Projection
    latents: np.ndarray

    def latent_at(self, x: float, y: float) -> np.ndarray:
        """The latent for a click at ``(x, y)``, shape ``(latent_dim,)``."""
        out: np.ndarray = self.projection.unproject(np.array([[x, y]]))[0]
        return out


def timbre_map(
    ctx: Context,
    *,
    model_id: str | None = None,
    set_id: str | None = None,
    components: bool = True,
    anchors: bool = True,
    method: str = "pca",
    seed: int = 0,
) -> TimbreMap:
    """Every clip of a training set, every library component and the model's own sounds, in 2-D.

    A library component's spectrum becomes a timbre vector by the same log-frequency
    resampling as clips (:func:`residue.dsp.timbre.spectrum_to_vector`), so the NMF library
    and the timbre space share one map. PCA by default (deterministic); ``method="umap"``
    places the points with UMAP when the ``umap-learn`` package is installed, and new latents
    (songs' regions, clicks) still go through the PCA plane.

    Raises
    ------
    UnsupportedError
        For ``method="umap"`` without umap-learn.
    NotFound
        If the model or set does not exist.
    """
    if method not in MAP_METHODS:
        raise ParameterError(f"method={method!r} must be one of {list(MAP_METHODS)}")
    model = get_model(ctx.settings, model_id)
    points: list[MapPoint] = []
    latents: list[np.ndarray] = []
    if set_id is not None:
        data = load_training_set(ctx, set_id)
        sounds = data.info.provenance["sounds"]
        Zc = model.encode(data.vectors)
        latents.append(Zc)
        for i in range(data.info.n_clips):
            s = sounds[int(data.sound_index[i])]
            points.append(
                MapPoint(
                    kind="clip",
                    item_id=data.clip_id(i),
                    label=f"{s['name']} @ {data.starts[i] / s['sample_rate']:.1f} s",
                    x=0.0,
                    y=0.0,
                    flagged=bool(data.flagged[i] or data.silent[i]),
                )
            )
    if components:
        records = ctx.store.library.list()
        if records:
            vecs = []
            for record in records:
                w, sr, n_fft = ctx.store.library.load_spectrum(record.component_id)
                vecs.append(timbre.spectrum_to_vector(w, sr=sr, n_fft=n_fft))
            latents.append(model.encode(np.stack(vecs)))
            points += [
                MapPoint(kind="component", item_id=r.component_id, label=r.name, x=0.0, y=0.0)
                for r in records
            ]
    if anchors and model.anchors.shape[0]:
        latents.append(model.anchors)
        n_anchors = model.anchors.shape[0]
        labels = model.anchor_labels or tuple(f"training {i}" for i in range(n_anchors))
        points += [
            MapPoint(kind="anchor", item_id=f"anchor-{i}", label=label, x=0.0, y=0.0)
            for i, label in enumerate(labels)
        ]
    Z = np.concatenate(latents) if latents else np.zeros((0, model.latent_dim), np.float32)
    projection = fit_pca(Z)
    xy = projection.project(Z)
    if method == "umap" and Z.shape[0] >= 4:
        try:
            import umap
        except ImportError:
            raise UnsupportedError(
                "UMAP is not installed (pip install umap-learn); the map uses PCA"
            ) from None
        reducer = umap.UMAP(n_components=2, random_state=seed)
        xy = np.asarray(reducer.fit_transform(Z), dtype=np.float64)
        projection = dataclasses.replace(projection, method="umap")
    placed = tuple(
        dataclasses.replace(p, x=round(float(xy[i, 0]), 5), y=round(float(xy[i, 1]), 5))
        for i, p in enumerate(points)
    )
    return TimbreMap(
        model_id=model.model_id,
        method=method,
        points=placed,
        projection=projection,
        latents=Z.astype(np.float32),
    )


def preview_latent(
    ctx: Context,
    z: np.ndarray,
    *,
    model_id: str | None = None,
    seconds: float = PREVIEW_S,
    phase: timbre.Phase = "random",
    seed: int = 0,
) -> np.ndarray:
    """Hover-to-hear: decode one latent point to a short drone that loops seamlessly.

    Parameters
    ----------
    z : np.ndarray [shape=(latent_dim,)]
    seconds : float
        Loop length, 0.1 to 30 s.
    phase : {"random", "griffinlim"}

    Returns
    -------
    y : np.ndarray [shape=(2, n), dtype=float32]
        At :data:`residue.dsp.timbre.SR`; -20 dBFS RMS.

    Raises
    ------
    ParameterError
        If ``z`` is not a single latent of the model's size.
    """
    model = get_model(ctx.settings, model_id)
    z32 = model.check_latents(np.asarray(z))
    if z32.shape[0] != 1:
        raise ParameterError(f"z must be one latent of {model.latent_dim} values, got {z32.shape}")
    seconds = float(seconds)
    if not 0.1 <= seconds <= MAX_PREVIEW_S:
        raise ParameterError(f"seconds={seconds:g} must be in [0.1, {MAX_PREVIEW_S:g}]")
    v = model.decode(z32)
    n = round(seconds * timbre.SR)
    rng = np.random.default_rng(seed)
    y = timbre.drone(np.repeat(v, 2, axis=0), n_samples=n, phase=phase, rng=rng)
    return y


# ---------------------------------------------------------------------------------------------
# Decisions (the swipe page)


@dataclass(frozen=True)
class Decision:
    """A keep/reject decision on a song, separation cell or training clip."""

    kind: str
    item_id: str
    decision: str
    decided_at: float
    seq: int


def _check_item(kind: str, item_id: str) -> None:
    if kind not in ITEM_KINDS:
        raise ParameterError(f"kind={kind!r} must be one of {list(ITEM_KINDS)}")
    if not isinstance(item_id, str) or _ITEM_ID.fullmatch(item_id) is None:
        raise ParameterError(f"item id {item_id!r} must be 1 to 200 printable characters")


def decide(ctx: Context, kind: ItemKind, item_id: str, decision: Verdict) -> Decision:
    """Record (or replace) a keep/reject decision.

    Raises
    ------
    ParameterError
        For an unknown kind or decision, or a malformed id.
    NotFound
        For a song that does not exist.
    """
    _check_item(kind, item_id)
    if decision not in ("keep", "reject"):
        raise ParameterError(f"decision={decision!r} must be 'keep' or 'reject'")
    if kind == "song":
        get_song(ctx, item_id)
    db = ctx.store.db
    sid = ctx.session_id
    at = time.time()
    with db.transaction():
        row = db.query_one(
            "SELECT COALESCE(MAX(seq), 0) + 1 AS next FROM decisions WHERE session_id = ?", (sid,)
        )
        seq = int(row["next"]) if row is not None else 1
        db.execute(
            "INSERT INTO decisions (session_id, kind, item_id, decision, decided_at, seq)"
            " VALUES (?,?,?,?,?,?)"
            " ON CONFLICT (session_id, kind, item_id) DO UPDATE SET decision = excluded.decision,"
            " decided_at = excluded.decided_at, seq = excluded.seq",
            (sid, kind, item_id, decision, at, seq),
        )
    return Decision(kind=kind, item_id=item_id, decision=decision, decided_at=at, seq=seq)


def clear_decision(ctx: Context, kind: ItemKind, item_id: str) -> bool:
    """Forget a decision; returns whether there was one."""
    _check_item(kind, item_id)
    cur = ctx.store.db.execute(
        "DELETE FROM decisions WHERE session_id = ? AND kind = ? AND item_id = ?",
        (ctx.session_id, kind, item_id),
    )
    return cur.rowcount > 0


def undo_last_decision(ctx: Context, kind: ItemKind) -> Decision | None:
    """Undo the most recent decision of ``kind`` (the item is undecided again); return it."""
    _check_item(kind, "x")
    db = ctx.store.db
    sid = ctx.session_id
    with db.transaction():
        row = db.query_one(
            "SELECT * FROM decisions WHERE session_id = ? AND kind = ? ORDER BY seq DESC LIMIT 1",
            (sid, kind),
        )
        if row is None:
            return None
        db.execute(
            "DELETE FROM decisions WHERE session_id = ? AND kind = ? AND item_id = ?",
            (sid, kind, row["item_id"]),
        )
    return _decision(row)


def _decision(row: Any) -> Decision:
    return Decision(
        kind=row["kind"],
        item_id=row["item_id"],
        decision=row["decision"],
        decided_at=float(row["decided_at"]),
        seq=int(row["seq"]),
    )


def decisions(
    ctx: Context, kind: ItemKind, item_ids: Sequence[str] | None = None
) -> dict[str, Decision]:
    """Decisions of ``kind`` in this session (only for ``item_ids`` if given), by item id."""
    _check_item(kind, "x")
    rows = ctx.store.db.query(
        "SELECT * FROM decisions WHERE session_id = ? AND kind = ? ORDER BY seq",
        (ctx.session_id, kind),
    )
    wanted = None if item_ids is None else set(item_ids)
    return {
        row["item_id"]: _decision(row)
        for row in rows
        if wanted is None or row["item_id"] in wanted
    }


# ---------------------------------------------------------------------------------------------
# Songs and albums


@dataclass(frozen=True)
class SongRecord:
    """A stored song: its recipe, where its audio is, and its decision.

    Attributes
    ----------
    song_id, name : str
    album_id : str or None
    position : int
        Track number within the album (0 for a single song).
    seed : int
    settings : SongSettings
    model_id : str
    created_at : float
    sample_rate, n_samples : int
    loudness_lufs : float or None
    structure : str
        The grammar's expansion.
    thumbnail : np.ndarray [shape=(64, 160), dtype=uint8]
        Log-frequency spectrogram for the card (row 0 lowest).
    audio_path : Path
    decision : str or None
        "keep", "reject" or None.
    """

    song_id: str
    name: str
    album_id: str | None
    position: int
    seed: int
    settings: SongSettings
    model_id: str
    created_at: float
    sample_rate: int
    n_samples: int
    loudness_lufs: float | None
    structure: str
    thumbnail: np.ndarray
    audio_path: Path
    decision: str | None

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return self.n_samples / self.sample_rate


@dataclass(frozen=True)
class AlbumRecord:
    """An album: a named run of songs from one settings template."""

    album_id: str
    name: str
    created_at: float
    settings: SongSettings
    model_id: str
    n_songs: int


def thumbnail(
    y: np.ndarray, *, sr: int, rows: int = THUMB_ROWS, cols: int = THUMB_COLS
) -> np.ndarray:
    """A card's picture of a song or clip (see :func:`residue.dsp.spectral.thumbnail`)."""
    return spectral.thumbnail(y, sr=sr, rows=rows, cols=cols)


def _song_record(ctx: Context, row: Any, verdict: Decision | None) -> SongRecord:
    return SongRecord(
        song_id=row["song_id"],
        name=row["name"],
        album_id=row["album_id"],
        position=int(row["position"]),
        seed=int(row["seed"]),
        settings=SongSettings.from_json(from_json(row["settings"])),
        model_id=row["model_id"],
        created_at=float(row["created_at"]),
        sample_rate=int(row["sample_rate"]),
        n_samples=int(row["n_samples"]),
        loudness_lufs=None if row["loudness"] is None else float(row["loudness"]),
        structure=row["structure"],
        thumbnail=np.frombuffer(row["thumbnail"], dtype=np.uint8).reshape(THUMB_ROWS, THUMB_COLS),
        audio_path=songs_folder(ctx.settings) / row["audio_file"],
        decision=None if verdict is None else verdict.decision,
    )


def load_effects(ctx: Context, sound_ids: Sequence[str]) -> list[np.ndarray]:
    """User effect sounds as stereo loops at the song rate (see :func:`compose.make_loop`).

    Raises
    ------
    NotFound
        If a sound does not exist.
    ParameterError
        If a sound is shorter than :data:`residue.dsp.compose.MIN_EFFECT_S`.
    """
    loops = []
    for sound_id in sound_ids:
        record = ctx.store.sounds.get(sound_id)
        y, sr = ctx.store.sounds.load(sound_id)
        y = resample(y, sr_from=sr, sr_to=compose.SR)
        loops.append(compose.make_loop(y, sr=compose.SR, name=f"effect sound {record.name!r}"))
    return loops


def render(
    settings: SongSettings,
    *,
    model: vae.TimbreModel,
    effects: Sequence[np.ndarray] = (),
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> compose.Song:
    """Render a song with a model (no storage): the shared core of songs, albums and the CLI."""
    return compose.render_song(
        settings,
        decode=model.decode,
        latent_dim=model.latent_dim,
        effects=effects,
        progress=progress,
        cancel=cancel,
    )


def _with_plane(
    ctx: Context, settings: SongSettings, model: vae.TimbreModel, set_id: str | None
) -> SongSettings:
    """A region song's settings with the plane of the map it was drawn on (kept in its recipe)."""
    if settings.criterion != "region" or settings.plane is not None:
        return settings
    tmap = timbre_map(ctx, model_id=model.model_id, set_id=set_id)
    return dataclasses.replace(settings, plane=tmap.projection.plane())


def _write_song_audio(path: Path, y: np.ndarray, sr: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}")
    sf.write(str(tmp), np.ascontiguousarray(y.T), sr, format=SONG_FORMAT, subtype="PCM_16")
    tmp.replace(path)


def _store_song(
    ctx: Context,
    song: compose.Song,
    settings: SongSettings,
    model: vae.TimbreModel,
    *,
    album_id: str | None,
    position: int,
    name: str,
) -> SongRecord:
    song_id = new_id()
    audio_file = f"{song_id}.flac"
    _write_song_audio(songs_folder(ctx.settings) / audio_file, song.y, song.sr)
    thumb = thumbnail(song.y, sr=song.sr)
    created = time.time()
    loudness = song.loudness_lufs if math.isfinite(song.loudness_lufs) else None
    ctx.store.db.execute(
        "INSERT INTO songs (song_id, name, album_id, position, seed, settings, model_id,"
        " created_at, sample_rate, n_samples, loudness, structure, thumbnail, audio_file,"
        " session_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            song_id, name, album_id, position, settings.seed,
            to_json("settings", settings.to_json()), model.model_id, created, song.sr,
            int(song.y.shape[-1]), loudness, song.structure, thumb.tobytes(), audio_file,
            ctx.session_id,
        ),
    )
    return get_song(ctx, song_id)


def create_song(
    ctx: Context,
    settings: SongSettings,
    *,
    model_id: str | None = None,
    set_id: str | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> SongRecord:
    """Render one song and keep it in the data folder (a job).

    ``set_id`` names the training set whose map a ``region`` criterion was drawn on.
    """
    model = get_model(ctx.settings, model_id)
    s = _with_plane(ctx, settings.checked(), model, set_id)
    effects = load_effects(ctx, s.effects) if s.ambience == "sounds" else []
    song = render(s, model=model, effects=effects, progress=progress, cancel=cancel)
    return _store_song(ctx, song, s, model, album_id=None, position=0, name=song.name)


def check_album_size(n_songs: int) -> int:
    """Check a number of songs for an album: 1 to :data:`MAX_ALBUM_SONGS`."""
    if isinstance(n_songs, bool) or not isinstance(n_songs, (int, np.integer)):
        raise ParameterError(f"n_songs={n_songs!r} must be an integer")
    if not 1 <= n_songs <= MAX_ALBUM_SONGS:
        raise ParameterError(f"n_songs={n_songs} must be in [1, {MAX_ALBUM_SONGS}]")
    return int(n_songs)


def _unique_names(seeds: Sequence[int]) -> list[str]:
    names: list[str] = []
    seen: dict[str, int] = {}
    for seed in seeds:
        base = compose.song_name(seed)
        seen[base] = seen.get(base, 0) + 1
        names.append(base if seen[base] == 1 else f"{base} {seen[base]}")
    return names


def generate_album(
    ctx: Context,
    n_songs: int = DEFAULT_ALBUM_SONGS,
    settings: SongSettings | None = None,
    *,
    name: str | None = None,
    model_id: str | None = None,
    set_id: str | None = None,
    album_id: str | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    on_song: Callable[[SongRecord], None] | None = None,
) -> AlbumRecord:
    """Generate an album of ``n_songs`` songs as one job; each is stored as it is finished.

    Song ``i`` uses ``settings`` with the seed ``album_seeds(settings.seed, n)[i]``, so the
    album is reproducible from its settings. Songs already made stay if the job is cancelled
    (the album then records how many there are).

    Parameters
    ----------
    n_songs : int
        1 to :data:`MAX_ALBUM_SONGS`.
    settings : SongSettings or None
        The template (its seed seeds the album).
    album_id : str or None
        The new album's id (default: a fresh one), so a caller can find a cancelled album.
    on_song : callable or None
        Called with each stored song (the page adds its card).

    Raises
    ------
    ParameterError
        If ``n_songs`` or a setting is out of range.
    JobCancelled
        If ``cancel`` was set (after storing the songs made so far).
    """
    n_songs = check_album_size(n_songs)
    report = progress if progress is not None else no_progress
    model = get_model(ctx.settings, model_id)
    template = _with_plane(ctx, (settings or SongSettings()).checked(), model, set_id)
    effects = load_effects(ctx, template.effects) if template.ambience == "sounds" else []
    seeds = compose.album_seeds(template.seed, n_songs)
    names = _unique_names(seeds)
    album_id = new_id() if album_id is None else check_id("album", album_id)
    album_name = (name or f"{compose.song_name(template.seed)} (album)").strip()
    created = time.time()
    db = ctx.store.db
    db.execute(
        "INSERT INTO albums (album_id, name, created_at, settings, model_id, n_songs, session_id)"
        " VALUES (?,?,?,?,?,?,?)",
        (
            album_id, album_name, created, to_json("settings", template.to_json()),
            model.model_id, 0, ctx.session_id,
        ),
    )
    done = 0
    try:
        for i, seed in enumerate(seeds):
            s = dataclasses.replace(template, seed=seed)

            def step(f: float, stage: str, i: int = i) -> None:
                report((i + f) / n_songs, f"song {i + 1} of {n_songs}: {stage}")

            song = render(s, model=model, effects=effects, progress=step,
                          cancel=cancel)
            record = _store_song(ctx, song, s, model, album_id=album_id, position=i + 1,
                                 name=names[i])
            done += 1
            db.execute("UPDATE albums SET n_songs = ? WHERE album_id = ?", (done, album_id))
            if on_song is not None:
                on_song(record)
    finally:
        db.execute("UPDATE albums SET n_songs = ? WHERE album_id = ?", (done, album_id))
    report(1.0, "done")
    return get_album(ctx, album_id)


def get_album(ctx: Context, album_id: str) -> AlbumRecord:
    """An album by id.

    Raises
    ------
    NotFound
    """
    check_id("album", album_id)
    row = ctx.store.db.query_one(
        "SELECT * FROM albums WHERE album_id = ? AND session_id = ?", (album_id, ctx.session_id)
    )
    if row is None:
        raise NotFound(f"no album {album_id!r}")
    return AlbumRecord(
        album_id=row["album_id"],
        name=row["name"],
        created_at=float(row["created_at"]),
        settings=SongSettings.from_json(from_json(row["settings"])),
        model_id=row["model_id"],
        n_songs=int(row["n_songs"]),
    )


def delete_album(ctx: Context, album_id: str) -> None:
    """Delete an album with its songs, their audio and their decisions.

    Raises
    ------
    NotFound
    """
    get_album(ctx, album_id)
    songs = list_songs(ctx, album_id=album_id)
    sid = ctx.session_id
    with ctx.store.db.transaction():
        for song in songs:
            ctx.store.db.execute(
                "DELETE FROM decisions WHERE session_id = ? AND kind = 'song' AND item_id = ?",
                (sid, song.song_id),
            )
        ctx.store.db.execute(
            "DELETE FROM songs WHERE album_id = ? AND session_id = ?", (album_id, sid)
        )
        ctx.store.db.execute(
            "DELETE FROM albums WHERE album_id = ? AND session_id = ?", (album_id, sid)
        )
    for song in songs:
        song.audio_path.unlink(missing_ok=True)


def list_albums(ctx: Context) -> list[AlbumRecord]:
    """Albums of this session, newest first."""
    rows = ctx.store.db.query(
        "SELECT album_id FROM albums WHERE session_id = ? ORDER BY created_at DESC, rowid DESC",
        (ctx.session_id,),
    )
    return [get_album(ctx, r["album_id"]) for r in rows]


def get_song(ctx: Context, song_id: str) -> SongRecord:
    """A song by id.

    Raises
    ------
    NotFound
    """
    check_id("song", song_id)
    row = ctx.store.db.query_one(
        "SELECT * FROM songs WHERE song_id = ? AND session_id = ?", (song_id, ctx.session_id)
    )
    if row is None:
        raise NotFound(f"no song {song_id!r}")
    return _song_record(ctx, row, decisions(ctx, "song", [song_id]).get(song_id))


def list_songs(
    ctx: Context, *, album_id: str | None = None, decision: str | None = "any"
) -> list[SongRecord]:
    """Songs (of one album, in track order; else all, newest first).

    ``decision``: "any", "keep", "reject", or None for undecided songs only.
    """
    sid = ctx.session_id
    if album_id is not None:
        check_id("album", album_id)
        rows = ctx.store.db.query(
            "SELECT * FROM songs WHERE album_id = ? AND session_id = ? ORDER BY position",
            (album_id, sid),
        )
    else:
        rows = ctx.store.db.query(
            "SELECT * FROM songs WHERE session_id = ? ORDER BY created_at DESC, rowid DESC",
            (sid,),
        )
    verdicts = decisions(ctx, "song")
    out = [_song_record(ctx, row, verdicts.get(row["song_id"])) for row in rows]
    if decision == "any":
        return out
    return [s for s in out if s.decision == decision]


def load_song_audio(ctx: Context, song_id: str) -> tuple[np.ndarray, int]:
    """A song's samples; re-rendered from its recipe (bit for bit) if the file is gone.

    Returns
    -------
    y : np.ndarray [shape=(2, n), dtype=float32]
    sr : int

    Raises
    ------
    NotFound
        If the song, or the model its recipe needs, does not exist.
    """
    record = get_song(ctx, song_id)
    if record.audio_path.is_file():
        y, sr = sf.read(str(record.audio_path), dtype="float32", always_2d=True)
        return np.ascontiguousarray(y.T), int(sr)
    model = get_model(ctx.settings, record.model_id)
    s = record.settings
    effects = load_effects(ctx, s.effects) if s.ambience == "sounds" else []
    song = render(record.settings, model=model, effects=effects)
    _write_song_audio(record.audio_path, song.y, song.sr)
    y, sr = sf.read(str(record.audio_path), dtype="float32", always_2d=True)
    return np.ascontiguousarray(y.T), int(sr)


def delete_song(ctx: Context, song_id: str) -> None:
    """Delete a song, its audio file and its decision.

    Raises
    ------
    NotFound
    """
    record = get_song(ctx, song_id)
    sid = ctx.session_id
    with ctx.store.db.transaction():
        ctx.store.db.execute(
            "DELETE FROM songs WHERE song_id = ? AND session_id = ?", (song_id, sid)
        )
        ctx.store.db.execute(
            "DELETE FROM decisions WHERE session_id = ? AND kind = 'song' AND item_id = ?",
            (sid, song_id),
        )
    record.audio_path.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------
# Export


class ExportResult(NamedTuple):
    """An exported album folder."""

    folder: Path
    files: tuple[Path, ...]
    tracklist: Path
    loudness_lufs: float


def _safe_file_name(name: str) -> str:
    cleaned = _UNSAFE_FILE.sub("_", name).strip(" ._") or "song"
    return cleaned[:80]


def _format_time(seconds: float) -> str:
    m, s = divmod(round(seconds), 60)
    return f"{m}:{s:02d}"


def write_album(
    tracks: Sequence[tuple[str, np.ndarray, int, dict[str, Any]]],
    out_dir: Path,
    *,
    title: str,
    fmt: str = "flac",
    target_lufs: float = EXPORT_LUFS,
) -> ExportResult:
    """Write songs as an album folder: loudness-matched audio files and a track list.

    Every track is brought to the same integrated loudness: ``target_lufs``, or lower if a
    track's peaks would exceed -0.2 dBFS there (then all tracks go to the level the loudest
    possible one allows, so they still match). Files are ``NN Name.flac`` (16-bit) or
    ``.wav`` (24-bit); ``tracklist.txt`` lists number, name and length; ``album.json`` keeps
    each track's provenance.

    Parameters
    ----------
    tracks : sequence of (name, y (channels, n), sr, provenance)
    out_dir : Path
        Created if needed.
    title : str
    fmt : {"flac", "wav"}
    target_lufs : float

    Raises
    ------
    ParameterError
        If there are no tracks or the format is unknown.
    """
    if not tracks:
        raise ParameterError("there are no songs to export (keep some first)")
    if fmt not in EXPORT_FORMATS:
        raise ParameterError(f"format={fmt!r} must be one of {list(EXPORT_FORMATS)}")
    target = float(target_lufs)
    if not -40.0 <= target <= -6.0:
        raise ParameterError(f"target_lufs={target:g} must be in [-40, -6]")
    measured = [compose.integrated_loudness(y, sr=sr) for _, y, sr, _ in tracks]
    ceiling = 10.0 ** (-0.2 / 20.0)
    level = target
    for (_, y, _, _), lufs in zip(tracks, measured, strict=True):
        peak = float(np.max(np.abs(y))) if y.size else 0.0
        if math.isfinite(lufs) and peak > 0:
            level = min(level, lufs + 20.0 * math.log10(ceiling / peak))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    lines = [title, ""]
    manifest: list[dict[str, Any]] = []
    for i, ((name, y, sr, prov), lufs) in enumerate(zip(tracks, measured, strict=True), start=1):
        gain = 10.0 ** ((level - lufs) / 20.0) if math.isfinite(lufs) else 1.0
        out = (np.asarray(y, dtype=np.float32) * np.float32(gain)).T
        path = out_dir / f"{i:02d} {_safe_file_name(name)}.{fmt}"
        if fmt == "flac":
            sf.write(str(path), out, sr, format="FLAC", subtype="PCM_16")
        else:
            sf.write(str(path), out, sr, format="WAV", subtype="PCM_24")
        files.append(path)
        duration = y.shape[-1] / sr
        lines.append(f"{i:2d}. {name} ({_format_time(duration)})")
        manifest.append(
            {"track": i, "name": name, "file": path.name, "duration_s": round(duration, 3), **prov}
        )
    lines += [
        "",
        f"Loudness-matched to {level:.1f} LUFS (ITU-R BS.1770). Made with residue {__version__}.",
    ]
    tracklist = out_dir / "tracklist.txt"
    tracklist.write_text("\n".join(lines) + "\n")
    (out_dir / "album.json").write_text(
        json.dumps({"title": title, "loudness_lufs": round(level, 2), "tracks": manifest}, indent=1)
    )
    return ExportResult(
        folder=out_dir, files=tuple(files), tracklist=tracklist, loudness_lufs=level
    )


def export_album(
    ctx: Context,
    out_dir: Path,
    *,
    album_id: str | None = None,
    song_ids: Sequence[str] | None = None,
    fmt: str = "flac",
    target_lufs: float = EXPORT_LUFS,
    title: str | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> ExportResult:
    """Export kept songs as an album folder (see :func:`write_album`).

    The songs are ``song_ids`` in that order, or the kept songs of ``album_id`` in track
    order, or every kept song (oldest first) when neither is given. Progress: one step per
    song read (or rebuilt from its recipe), then the writing.

    Raises
    ------
    ParameterError
        If no song is selected.
    NotFound
        If the album or a song does not exist.
    JobCancelled
        If ``cancel`` was set.
    """
    report = progress if progress is not None else no_progress
    if song_ids is not None:
        records = [get_song(ctx, sid) for sid in song_ids]
    elif album_id is not None:
        records = list_songs(ctx, album_id=album_id, decision="keep")
    else:
        records = list(reversed(list_songs(ctx, decision="keep")))
    if title is None:
        title = get_album(ctx, album_id).name if album_id is not None else "residue songs"
    tracks = []
    for i, record in enumerate(records):
        if cancel is not None:
            cancel.raise_if_cancelled()
        report(0.8 * i / len(records), f"reading song {i + 1} of {len(records)}")
        y, sr = load_song_audio(ctx, record.song_id)
        prov = {
            "song_id": record.song_id,
            "seed": record.seed,
            "model_id": record.model_id,
            "structure": record.structure,
            "settings": record.settings.to_json(),
        }
        tracks.append((record.name, y, sr, prov))
    report(0.8, "writing")
    written = write_album(tracks, Path(out_dir), title=title, fmt=fmt, target_lufs=target_lufs)
    report(1.0, "done")
    return written


# ---------------------------------------------------------------------------------------------
# NSynth-style manipulations, ready to audition


def encode_sound(
    ctx: Context,
    sound_id: str,
    *,
    model_id: str | None = None,
    hop_s: float = compose.SEQUENCE_HOP_S,
) -> compose.LatentSequence:
    """A library sound as a sequence of per-frame latents (see :func:`compose.encode_sequence`)."""
    model = get_model(ctx.settings, model_id)
    y, sr = ctx.store.sounds.load(sound_id)
    return compose.encode_sequence(y, sr=sr, encode=model.encode, hop_s=hop_s)


def audition_sequence(
    ctx: Context, seq: compose.LatentSequence, *, model_id: str | None = None, seed: int = 0
) -> np.ndarray:
    """Render a latent sequence (stretched, blended, crossfaded...) to stereo audio at 44.1 kHz."""
    model = get_model(ctx.settings, model_id)
    return compose.render_sequence(seq, decode=model.decode, rng=np.random.default_rng(seed))


def audition_stretch(
    ctx: Context, sound_id: str, *, factor: float, model_id: str | None = None, seed: int = 0
) -> np.ndarray:
    """A sound time-stretched in latent space (same pitch), as audio."""
    seq = compose.stretch_sequence(encode_sound(ctx, sound_id, model_id=model_id), factor=factor)
    return audition_sequence(ctx, seq, model_id=model_id, seed=seed)


def audition_blend(
    ctx: Context,
    sound_a: str,
    sound_b: str,
    *,
    alpha: float = 0.5,
    model_id: str | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Two sounds interpolated (``alpha=0.5``: averaged) frame by frame in latent space."""
    a = encode_sound(ctx, sound_a, model_id=model_id)
    b = encode_sound(ctx, sound_b, model_id=model_id)
    return audition_sequence(
        ctx, compose.interpolate_sequences(a, b, alpha=alpha), model_id=model_id, seed=seed
    )


def audition_crossfade(
    ctx: Context,
    sound_a: str,
    sound_b: str,
    *,
    crossfade_s: float,
    model_id: str | None = None,
    seed: int = 0,
) -> np.ndarray:
    """``sound_a`` morphing into ``sound_b`` in latent space over ``crossfade_s``."""
    a = encode_sound(ctx, sound_a, model_id=model_id)
    b = encode_sound(ctx, sound_b, model_id=model_id)
    seq = compose.crossfade_sequences(a, b, crossfade_s=crossfade_s)
    return audition_sequence(ctx, seq, model_id=model_id, seed=seed)


def audition_nmf_stretch(
    ctx: Context, decomposition_id: str, *, factor: float
) -> tuple[np.ndarray, int]:
    """A decomposed sound stretched by resampling its NMF activations (rhythmic material).

    Returns
    -------
    y : np.ndarray [shape=(channels, n), dtype=float32]
        About ``factor`` times the region's length.
    sr : int

    Raises
    ------
    NotFound
        If there is no such decomposition.
    ParameterError
        If ``factor`` is outside ``[1/8, 8]``.
    """
    from residue.services.decompose import open_decomposition

    opened = open_decomposition(ctx, decomposition_id)
    y = compose.stretch_nmf(
        opened.D, opened.W_channels, opened.H, factor=factor, hop_length=opened.hop_length
    )
    return y, opened.sr


# ---------------------------------------------------------------------------------------------
# Command line


class SongCliResult(NamedTuple):
    """What ``residue song`` did."""

    path: Path
    name: str
    structure: str
    duration_s: float
    seconds: float
    model_id: str


class AlbumCliResult(NamedTuple):
    """What ``residue album`` did."""

    folder: Path
    files: tuple[Path, ...]
    tracklist: Path
    seconds: float
    model_id: str


def _cli_model(settings: Settings, progress: ProgressFn) -> vae.TimbreModel:
    fresh = default_model_id(settings) is None
    return ensure_default_model(
        settings,
        progress=(lambda f, s: progress(0.3 * f, f"training the default model: {s}"))
        if fresh
        else None,
    )


def run_song_cli(
    seed: int,
    minutes: float,
    out: Path,
    settings: Settings | None = None,
    progress: ProgressFn = no_progress,
    *,
    song: SongSettings | None = None,
) -> SongCliResult:
    """``residue song --seed N --minutes M --out SONG.wav``: render one song to a file.

    The default timbre model is trained first if the data folder has none (under a minute).
    The file type follows the suffix (.wav: 24-bit WAV; .flac: 16-bit FLAC).

    Raises
    ------
    ParameterError
        If a setting is out of range or the suffix is not .wav or .flac.
    """
    cfg = settings if settings is not None else Settings.from_env()
    out = Path(out)
    if out.suffix.lower() not in (".wav", ".flac"):
        raise ParameterError(f"--out {out} must end in .wav or .flac")
    s = dataclasses.replace(song or SongSettings(), seed=seed, minutes=minutes).checked()
    t0 = time.perf_counter()
    base = 0.3 if default_model_id(cfg) is None else 0.0
    model = _cli_model(cfg, progress)
    result = render(s, model=model, progress=lambda f, st: progress(base + (1 - base) * f, st))
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".flac":
        sf.write(str(out), result.y.T, result.sr, format="FLAC", subtype="PCM_16")
    else:
        sf.write(str(out), result.y.T, result.sr, format="WAV", subtype="PCM_24")
    progress(1.0, "done")
    return SongCliResult(
        path=out,
        name=result.name,
        structure=result.structure,
        duration_s=result.y.shape[-1] / result.sr,
        seconds=time.perf_counter() - t0,
        model_id=model.model_id,
    )


def run_album_cli(
    n_songs: int,
    out_dir: Path,
    settings: Settings | None = None,
    progress: ProgressFn = no_progress,
    *,
    song: SongSettings | None = None,
    fmt: str = "flac",
) -> AlbumCliResult:
    """``residue album --songs N --out DIR``: render an album into a folder.

    Songs seeded from ``song.seed`` (default 0), loudness-matched, with ``tracklist.txt``;
    nothing is stored in the data folder except the default model.

    Raises
    ------
    ParameterError
        If ``n_songs`` is not in ``[1, 500]`` or a setting is out of range.
    """
    cfg = settings if settings is not None else Settings.from_env()
    n_songs = check_album_size(n_songs)
    template = (song or SongSettings()).checked()
    if fmt not in EXPORT_FORMATS:
        raise ParameterError(f"format={fmt!r} must be one of {list(EXPORT_FORMATS)}")
    t0 = time.perf_counter()
    model = _cli_model(cfg, progress)
    seeds = compose.album_seeds(template.seed, n_songs)
    names = _unique_names(seeds)
    tracks = []
    for i, seed in enumerate(seeds):
        s = dataclasses.replace(template, seed=seed)
        result = render(
            s,
            model=model,
            progress=lambda f, st, i=i: progress(
                0.3 + 0.65 * (i + f) / n_songs, f"song {i + 1} of {n_songs}: {st}"
            ),
        )
        tracks.append(
            (names[i], result.y, result.sr, {"seed": seed, "structure": result.structure,
                                              "model_id": model.model_id})
        )
    progress(0.96, "writing")
    written = write_album(
        tracks,
        Path(out_dir),
        title=f"{compose.song_name(template.seed)} (album)",
        fmt=fmt,
        target_lufs=template.loudness_lufs,
    )
    progress(1.0, "done")
    return AlbumCliResult(
        folder=written.folder,
        files=written.files,
        tracklist=written.tracklist,
        seconds=time.perf_counter() - t0,
        model_id=model.model_id,
    )


__all__ = [
    "DEFAULT_ALBUM_SONGS",
    "MAX_ALBUM_SONGS",
    "AlbumCliResult",
    "AlbumRecord",
    "Decision",
    "ExportResult",
    "MapPoint",
    "ModelInfo",
    "Projection",
    "SongCliResult",
    "SongRecord",
    "SongSettings",
    "TimbreMap",
    "TrainingSet",
    "TrainingSetInfo",
    "audition_blend",
    "audition_crossfade",
    "audition_nmf_stretch",
    "audition_sequence",
    "audition_stretch",
    "build_training_set",
    "check_album_size",
    "clear_decision",
    "create_song",
    "decide",
    "decisions",
    "default_model_id",
    "delete_album",
    "delete_song",
    "encode_sound",
    "ensure_default_model",
    "export_album",
    "fit_pca",
    "generate_album",
    "get_album",
    "get_model",
    "list_albums",
    "list_models",
    "list_songs",
    "list_training_sets",
    "load_effects",
    "load_song_audio",
    "load_training_set",
    "preview_latent",
    "render",
    "run_album_cli",
    "run_song_cli",
    "save_model",
    "thumbnail",
    "timbre_map",
    "train_model",
    "training_clip_audio",
    "undo_last_decision",
    "write_album",
]
