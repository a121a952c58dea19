"""The timbre room's use cases, in wire terms: frames in, frames (or audio) out.

The engine is :mod:`residue.services.timbre`; this module maps its dataclasses to the frames
of :mod:`residue.protocol` and keeps what the page refers back to:

* maps, by ``map_id``, in a small bounded cache per process and session, so ``preview_point``
  can turn a position (or a point's number) back into a latent;
* grid results kept as sounds from the swipe page, so a second "keep" does not add it again;
* exported albums under ``<data dir>/exports``: ``<export_id>/`` (the folder),
  ``<export_id>.zip`` (the download) and ``<export_id>.json`` (whose export it is).

Every long function takes ``progress`` and ``cancel`` and runs on the job executor.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import re
import threading
import time
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np

from residue import protocol
from residue.dsp import compose, timbre
from residue.dsp.compose import SongSettings
from residue.dsp.progress import CancelToken, ProgressFn
from residue.errors import JobCancelled, NotFound, ParameterError
from residue.models import vae
from residue.services import separation_room
from residue.services import timbre as ts
from residue.services.context import LRU, Context
from residue.store.db import check_id, new_id
from residue.store.sounds import SoundRecord

#: Maps kept for ``preview_point`` (across sessions; each session sees only its own).
MAP_CACHE = 16
#: Most cards in one swipe deck.
MAX_DECK = 500
#: Nearest map points blended for a hover on a UMAP map (UMAP has no inverse).
UMAP_NEIGHBOURS = 3
EXPIRED_MAP = "the map has expired: ask for it again"
KEEP_EXPORTS = 8
"""Exports a session keeps on disk; older ones are deleted when a new one is made."""

_MAPS: LRU[str, ts.TimbreMap] = LRU(MAP_CACHE)
_KEPT: LRU[str, str] = LRU(4096)  # (session) result id -> the sound it was kept as
_KEEP_LOCK = threading.Lock()
_POINT_KINDS: dict[str, Literal["clip", "component", "anchor"]] = {
    "clip": "clip", "component": "component", "anchor": "anchor",
}
_EXPORT_FILE = re.compile(r"([A-Za-z0-9_-]{1,64})\.zip")
_UNSAFE = re.compile(r"[^A-Za-z0-9 ._-]+")
_SONG_FIELDS = (
    "minutes", "criterion", "direction", "grammar", "wiggle_amplitude", "wiggle_rate_hz",
    "step_s", "fade_s", "loudness_lufs", "n_candidates", "ambience", "ambience_lufs",
)  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Plain mappings


def defaults() -> protocol.SongParams:
    """The server's song defaults (:class:`SongSettings`'s), every field filled in."""
    s = SongSettings()
    return protocol.SongParams(
        seed=s.seed,
        minutes=s.minutes,
        criterion=s.criterion,
        direction=s.direction,
        region=[[x, y] for x, y in s.region],
        grammar=s.grammar,
        wiggle_amplitude=s.wiggle_amplitude,
        wiggle_rate_hz=s.wiggle_rate_hz,
        step_s=s.step_s,
        fade_s=s.fade_s,
        loudness_lufs=s.loudness_lufs,
        n_candidates=s.n_candidates,
        ambience=s.ambience,
        effects=list(s.effects),
        ambience_lufs=s.ambience_lufs,
    )


def map_methods() -> list[str]:
    """Map layouts this server can make: PCA always, UMAP when umap-learn is installed."""
    return ["pca", *(["umap"] if importlib.util.find_spec("umap") is not None else [])]


def song_settings(params: protocol.SongParams) -> SongSettings:
    """The checked settings of a song request (``None`` fields take the defaults).

    Raises
    ------
    ParameterError
        Naming the first value out of range (a bad grammar says what is wrong with it).
    """
    changes: dict[str, Any] = {"seed": params.seed}
    for name in _SONG_FIELDS:
        value = getattr(params, name)
        if value is not None:
            changes[name] = value
    if params.region is not None:
        changes["region"] = tuple((float(p[0]), float(p[1])) for p in params.region)
    if params.effects is not None:
        changes["effects"] = tuple(params.effects)
    return dataclasses.replace(SongSettings(), **changes).checked()


def model_info(info: ts.ModelInfo) -> protocol.TimbreModelInfo:
    """The wire form of a model."""
    source = info.provenance.get("training_set", {})
    source = source if isinstance(source, dict) else {}
    if source.get("kind") == "default":
        label = "default sounds"
    else:
        label = str(source.get("name") or source.get("set_id") or "unknown")
    training = info.provenance.get("training", {})
    n = source.get("n_used", training.get("n_vectors", 0) if isinstance(training, dict) else 0)
    return protocol.TimbreModelInfo(
        model_id=info.model_id,
        is_default=info.is_default,
        latent_dim=info.latent_dim,
        training_set=label,
        n_clips=int(n or 0),
        loss=[float(x) for x in info.loss],
    )


def set_info(info: ts.TrainingSetInfo) -> protocol.TrainingSetInfo:
    """The wire form of a training set."""
    return protocol.TrainingSetInfo(
        set_id=info.set_id,
        name=info.name,
        created_at=info.created_at,
        n_clips=info.n_clips,
        n_usable=info.n_usable,
    )


def album_info(record: ts.AlbumRecord) -> protocol.AlbumInfo:
    """The wire form of an album."""
    return protocol.AlbumInfo(
        album_id=record.album_id,
        name=record.name,
        created_at=record.created_at,
        n_songs=record.n_songs,
        model_id=record.model_id,
    )


def _verdict(value: str | None) -> Literal["keep", "reject"] | None:
    return "keep" if value == "keep" else "reject" if value == "reject" else None


def song_info(record: ts.SongRecord) -> protocol.SongInfo:
    """The wire form of a song (its thumbnail as row-major uint8 bytes)."""
    thumb = np.ascontiguousarray(record.thumbnail, dtype=np.uint8)
    return protocol.SongInfo(
        song_id=record.song_id,
        name=record.name,
        album_id=record.album_id,
        position=record.position,
        seed=record.seed,
        model_id=record.model_id,
        created_at=record.created_at,
        duration_s=round(record.duration_s, 4),
        loudness_lufs=None if record.loudness_lufs is None else round(record.loudness_lufs, 3),
        structure=record.structure,
        thumbnail=thumb.tobytes(),
        thumb_rows=int(thumb.shape[0]),
        thumb_cols=int(thumb.shape[1]),
        decision=_verdict(record.decision),
        settings=json.dumps(record.settings.to_json(), sort_keys=True),
    )


def state(ctx: Context, *, request_id: int) -> protocol.TimbreState:
    """Models, this session's sets and albums, the song defaults and the choices."""
    return protocol.TimbreState(
        request_id=request_id,
        models=[model_info(m) for m in ts.list_models(ctx.settings)],
        default_model_id=ts.default_model_id(ctx.settings),
        sets=[set_info(s) for s in ts.list_training_sets(ctx)],
        albums=[album_info(a) for a in ts.list_albums(ctx)],
        defaults=defaults(),
        criteria=list(compose.CRITERIA),
        ambiences=list(compose.AMBIENCES),
        map_methods=map_methods(),
        max_album_songs=ts.MAX_ALBUM_SONGS,
    )


# ---------------------------------------------------------------------------------------------
# Models, sets, maps


def needs_default_model(ctx: Context, model_id: str | None) -> bool:
    """Whether a request for ``model_id`` must first train the default model."""
    return model_id is None and ts.default_model_id(ctx.settings) is None


def _model_ready(
    ctx: Context, model_id: str | None, progress: ProgressFn, cancel: CancelToken | None
) -> ProgressFn:
    """Train the default model first if it is needed (first half of the progress).

    Returns the progress function for the rest of the work.
    """
    if not needs_default_model(ctx, model_id):
        return progress
    ts.ensure_default_model(
        ctx.settings,
        progress=lambda f, s: progress(0.5 * f, f"training the default model: {s}"),
        cancel=cancel,
    )
    return lambda f, s: progress(0.5 + 0.5 * f, s)


def build_set(
    ctx: Context,
    f: protocol.BuildTrainingSet,
    *,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> protocol.TrainingSetBuilt:
    """Cut clips from library sounds into a training set of this session."""
    info = ts.build_training_set(
        ctx,
        sound_ids=None if f.sound_ids is None else list(f.sound_ids),
        name=f.name,
        progress=progress,
        cancel=cancel,
    )
    return protocol.TrainingSetBuilt(request_id=f.request_id, set=set_info(info))


def train(
    ctx: Context,
    f: protocol.TrainModel,
    *,
    on_epoch: Callable[[protocol.TrainingEpoch], None],
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> protocol.ModelTrained:
    """Train a model on a set; ``on_epoch`` gets a ``training_epoch`` frame per epoch.

    The frame's ``epoch`` counts from 1; its ``loss`` is the total loss the model records.
    """
    epochs = f.epochs if f.epochs is not None else vae.EPOCHS

    def epoch_done(epoch: int, recon: float, kl: float) -> None:
        loss = recon + vae.KL_WEIGHT * kl / timbre.N_BINS
        on_epoch(
            protocol.TrainingEpoch(
                request_id=f.request_id, epoch=epoch + 1, epochs=epochs, loss=round(loss, 6)
            )
        )

    info = ts.train_model(
        ctx, f.set_id, epochs=epochs, seed=f.seed, progress=progress, cancel=cancel,
        on_epoch=epoch_done,
    )
    return protocol.ModelTrained(request_id=f.request_id, model=model_info(info))


def make_map(
    ctx: Context,
    f: protocol.GetTimbreMap,
    *,
    progress: ProgressFn,
    cancel: CancelToken | None = None,
) -> protocol.TimbreMapFrame:
    """The map of a model's space (the default model is trained first if there is none).

    The map is kept under a new ``map_id`` for :func:`preview`.
    """
    rest = _model_ready(ctx, f.model_id, progress, cancel)
    rest(0.0, "placing points")
    tmap = ts.timbre_map(ctx, model_id=f.model_id, set_id=f.set_id, method=f.method)
    map_id = new_id()
    _MAPS.view(ctx.session_id).put(map_id, tmap)
    rest(1.0, "done")
    return protocol.TimbreMapFrame(
        request_id=f.request_id,
        map_id=map_id,
        model_id=tmap.model_id,
        set_id=f.set_id,
        method=tmap.method,
        points=[
            protocol.MapPointInfo(
                kind=_POINT_KINDS.get(p.kind, "anchor"),
                item_id=p.item_id,
                label=p.label,
                x=p.x,
                y=p.y,
                flagged=p.flagged,
            )
            for p in tmap.points
        ],
    )


def cached_map(ctx: Context, map_id: str) -> ts.TimbreMap:
    """A map made by :func:`make_map` for this session.

    Raises
    ------
    NotFound
        If it is unknown or was evicted (the page asks for the map again).
    """
    found = _MAPS.view(ctx.session_id).get(map_id)
    if found is None:
        raise NotFound(EXPIRED_MAP)
    return found


def map_latent(tmap: ts.TimbreMap, *, x: float, y: float, point: int | None) -> np.ndarray:
    """The latent of point number ``point`` exactly, else the latent under ``(x, y)``.

    On a PCA map a position goes back through the map's plane; on a UMAP map (which has no
    inverse) the nearest points' latents are blended by inverse distance.

    Raises
    ------
    ParameterError
        If ``point`` is not on the map, or a UMAP map has no points.
    """
    n = len(tmap.points)
    if point is not None:
        if not 0 <= point < n:
            raise ParameterError(f"point={point} is not on the map (it has {n} points)")
        out: np.ndarray = tmap.latents[point].copy()
        return out
    if tmap.method != "umap":
        return tmap.latent_at(x, y)
    if n == 0:
        raise ParameterError("the map has no points to hear")
    xy = np.array([[p.x, p.y] for p in tmap.points], dtype=np.float64)
    d = np.hypot(xy[:, 0] - x, xy[:, 1] - y)
    near = np.argsort(d, kind="stable")[:UMAP_NEIGHBOURS]
    w = 1.0 / np.maximum(d[near], 1e-9)
    blended: np.ndarray = (w @ tmap.latents[near].astype(np.float64) / w.sum()).astype(np.float32)
    return blended


def preview(ctx: Context, f: protocol.PreviewPoint) -> np.ndarray:
    """Hover to hear: a looping stereo drone at :data:`residue.dsp.timbre.SR`.

    Raises
    ------
    NotFound
        If the map has expired.
    ParameterError
        If ``point`` is not on the map.
    """
    tmap = cached_map(ctx, f.map_id)
    z = map_latent(tmap, x=f.x, y=f.y, point=f.point)
    return ts.preview_latent(ctx, z, model_id=tmap.model_id, seconds=f.seconds)


# ---------------------------------------------------------------------------------------------
# Grammar and songs


def check_grammar(text: str, *, seed: int, request_id: int) -> protocol.GrammarChecked:
    """Check a grammar; never raises for a bad one (``error`` says what is wrong).

    ``example`` is the structure a song of seed ``seed`` gets from this grammar; ``symbols``
    are the rules' names in order, then the points (A-E) the rules use.
    """
    try:
        grammar = compose.parse_grammar(text)
    except ParameterError as exc:
        return protocol.GrammarChecked(request_id=request_id, ok=False, error=str(exc))
    # The song's own grammar stream of this seed, so the example is the song's structure.
    rng = compose._streams(seed)["grammar"]
    example = compose.expand(grammar, rng=rng)
    names = [lhs for lhs, _ in grammar.rules]
    used = sorted({s for _, alts in grammar.rules for alt in alts for s in alt} - set(names))
    return protocol.GrammarChecked(
        request_id=request_id, ok=True, example=example, symbols=[*names, *used]
    )


def pinned_points(
    ctx: Context,
    pins: Sequence[protocol.PinRef] | None,
    *,
    map_id: str | None,
    model_id: str | None,
) -> tuple[tuple[float, ...], ...]:
    """The latents of a song's pins, read off the map they were placed on.

    Raises
    ------
    ParameterError
        If there are pins but no ``map_id``, a pin is not on the map, or the map is of another
        model than the song's.
    NotFound
        If the map has expired.
    """
    if not pins:
        return ()
    if map_id is None:
        raise ParameterError("pins need the map_id of the map they were placed on")
    tmap = cached_map(ctx, map_id)
    song_model = model_id if model_id is not None else ts.default_model_id(ctx.settings)
    if tmap.model_id != song_model:
        raise ParameterError(
            f"the pins were placed on model {tmap.model_id}'s map but the song uses model "
            f"{song_model}: place them on this model's map"
        )
    return tuple(
        tuple(float(v) for v in map_latent(tmap, x=p.x, y=p.y, point=p.point)) for p in pins
    )


def _request_settings(
    ctx: Context, f: protocol.CreateSong | protocol.GenerateAlbum
) -> SongSettings:
    settings = song_settings(f.params)
    points = pinned_points(ctx, f.params.pins, map_id=f.map_id, model_id=f.model_id)
    return dataclasses.replace(settings, points=points).checked() if points else settings


def create_song(
    ctx: Context,
    f: protocol.CreateSong,
    *,
    progress: ProgressFn,
    cancel: CancelToken | None = None,
) -> ts.SongRecord:
    """Render and keep one song (the default model is trained first if needed)."""
    settings = _request_settings(ctx, f)
    rest = _model_ready(ctx, f.model_id, progress, cancel)
    return ts.create_song(
        ctx, settings, model_id=f.model_id, set_id=f.set_id, progress=rest, cancel=cancel
    )


def generate_album(
    ctx: Context,
    f: protocol.GenerateAlbum,
    *,
    on_song: Callable[[ts.SongRecord], None],
    progress: ProgressFn,
    cancel: CancelToken | None = None,
) -> protocol.AlbumMade:
    """Generate an album as one job; ``on_song`` gets each song as it is stored.

    A cancelled album keeps the songs made so far and is answered like a finished one (its
    ``n_songs`` says how many); one cancelled before its first song is deleted and the job
    reports the cancellation.

    Raises
    ------
    ParameterError
        If ``n_songs`` is not in ``[1, 500]`` or a setting is out of range.
    JobCancelled
        If cancelled before any song was made.
    """
    ts.check_album_size(f.n_songs)
    settings = _request_settings(ctx, f)
    rest = _model_ready(ctx, f.model_id, progress, cancel)
    album_id = new_id()
    try:
        album = ts.generate_album(
            ctx, f.n_songs, settings, name=f.name, model_id=f.model_id, set_id=f.set_id,
            album_id=album_id, progress=rest, cancel=cancel, on_song=on_song,
        )
    except JobCancelled:
        try:
            album = ts.get_album(ctx, album_id)
        except NotFound:
            raise JobCancelled("the album was cancelled before its first song") from None
        if album.n_songs == 0:
            ts.delete_album(ctx, album_id)
            raise JobCancelled("the album was cancelled before its first song") from None
    return protocol.AlbumMade(request_id=f.request_id, album=album_info(album))


def song_list(ctx: Context, f: protocol.ListSongs) -> protocol.SongList:
    """Songs of one album in track order (else all, newest first), and every album."""
    songs = ts.list_songs(ctx, album_id=f.album_id)
    if f.album_id is not None and not songs:
        ts.get_album(ctx, f.album_id)  # an unknown album is an error, an empty one is not
    return protocol.SongList(
        request_id=f.request_id,
        songs=[song_info(s) for s in songs],
        albums=[album_info(a) for a in ts.list_albums(ctx)],
    )


# ---------------------------------------------------------------------------------------------
# The swipe page


def _format_s(seconds: float) -> str:
    m, s = divmod(round(seconds), 60)
    return f"{m}:{s:02d}"


def _card(
    kind: protocol.ItemKind,
    item_id: str,
    title: str,
    subtitle: str,
    duration_s: float,
    thumb: np.ndarray,
    decision: str | None,
) -> protocol.SwipeCard:
    thumb = np.ascontiguousarray(thumb, dtype=np.uint8)
    return protocol.SwipeCard(
        kind=kind,
        item_id=item_id,
        title=title,
        subtitle=subtitle,
        duration_s=round(duration_s, 4),
        thumbnail=thumb.tobytes(),
        thumb_rows=int(thumb.shape[0]),
        thumb_cols=int(thumb.shape[1]),
        decision=_verdict(decision),
    )


def _song_cards(ctx: Context, album_id: str | None) -> list[protocol.SwipeCard]:
    songs = ts.list_songs(ctx, album_id=album_id)
    if album_id is not None and not songs:
        ts.get_album(ctx, album_id)
    cards = []
    for s in songs[:MAX_DECK]:
        where = f"track {s.position}" if s.album_id is not None else "single"
        cards.append(
            _card("song", s.song_id, s.name, f"{where} · {s.structure} · seed {s.seed}",
                  s.duration_s, s.thumbnail, s.decision)
        )
    return cards


def _cell_cards(ctx: Context) -> list[protocol.SwipeCard]:
    results = separation_room.recent_results(ctx, limit=MAX_DECK)
    verdicts = ts.decisions(ctx, "cell", [rid for rid, _ in results])
    cards = []
    for result_id, c in results:
        prov = c.provenance
        stem = str(prov.get("stem", "result"))
        residual = prov.get("candidate") == "residual"
        title = f"no {stem}" if residual else stem
        setting = str(prov.get("setting", prov.get("backend", "")))
        subtitle = f"{setting} · {'residual' if residual else 'estimate'}"
        verdict = verdicts.get(result_id)
        cards.append(
            _card("cell", result_id, title, subtitle, c.y.shape[-1] / c.sr,
                  ts.thumbnail(c.y, sr=c.sr), None if verdict is None else verdict.decision)
        )
    return cards


def _clip_cards(ctx: Context, set_id: str | None) -> list[protocol.SwipeCard]:
    if set_id is None:
        raise ParameterError("a deck of clips needs set_id (the training set to curate)")
    data = ts.load_training_set(ctx, set_id)
    sounds = data.info.provenance["sounds"]
    n = min(data.info.n_clips, MAX_DECK)
    verdicts = ts.decisions(ctx, "clip", [data.clip_id(i) for i in range(n)])
    audio: dict[int, tuple[np.ndarray, int] | None] = {}
    cards = []
    for i in range(n):
        k = int(data.sound_index[i])
        if k not in audio:
            try:
                audio[k] = ctx.store.sounds.load(str(sounds[k]["sound_id"]))
            except NotFound:
                audio[k] = None  # the sound was deleted: its clips cannot be heard
        loaded = audio[k]
        if loaded is None:
            continue
        y, sr = loaded
        start = int(data.starts[i])
        clip = y[:, start : start + int(sounds[k]["clip_samples"])]
        at = start / sr
        if data.flagged[i]:
            note = f"flagged: a transient ({float(data.transient_db[i]):.0f} dB flux)"
        elif data.silent[i]:
            note = "flagged: silent"
        else:
            note = "usable"
        verdict = verdicts.get(data.clip_id(i))
        cards.append(
            _card("clip", data.clip_id(i), f"{sounds[k]['name']} @ {_format_s(at)}",
                  f"{note} · clip {i + 1} of {data.info.n_clips}", clip.shape[-1] / sr,
                  ts.thumbnail(clip, sr=sr), None if verdict is None else verdict.decision)
        )
    return cards


def swipe_deck(ctx: Context, f: protocol.GetSwipeDeck) -> protocol.SwipeDeck:
    """The cards of a deck (at most :data:`MAX_DECK`), and whether there is an undo.

    Raises
    ------
    ParameterError
        For clips without ``set_id``.
    NotFound
        For an unknown album or set.
    """
    if f.kind == "song":
        cards = _song_cards(ctx, f.album_id)
    elif f.kind == "cell":
        cards = _cell_cards(ctx)
    else:
        cards = _clip_cards(ctx, f.set_id)
    return protocol.SwipeDeck(
        request_id=f.request_id,
        kind=f.kind,
        cards=cards,
        undo=bool(ts.decisions(ctx, f.kind)),
    )


def _clip_ref(item_id: str) -> tuple[str, int]:
    set_id, _, index = item_id.rpartition("-")
    if not set_id or not index.isdigit():
        raise NotFound(f"no clip {item_id!r}: clip ids are <set_id>-<clip number>")
    return set_id, int(index)


def _check_item(ctx: Context, kind: str, item_id: str) -> None:
    """Raise NotFound unless the item exists in this session (songs are checked by decide)."""
    if kind == "cell":
        separation_room.result(ctx, item_id)
    elif kind == "clip":
        set_id, index = _clip_ref(item_id)
        data = ts.load_training_set(ctx, set_id)
        if not index < data.info.n_clips:
            raise NotFound(f"training set {set_id!r} has no clip {index}")


def item_audio(
    ctx: Context,
    kind: str,
    item_id: str,
    *,
    start_s: float = 0.0,
    max_s: float | None = None,
) -> tuple[np.ndarray, int]:
    """The audio of a song, grid result or clip, from ``start_s`` for at most ``max_s``.

    Returns
    -------
    y : np.ndarray [shape=(channels, n), dtype=float32]
    sr : int

    Raises
    ------
    NotFound
        If the item does not exist (or a grid result was evicted).
    ParameterError
        If ``start_s`` is past the end, or the kind is unknown.
    """
    if kind == "song":
        y, sr = ts.load_song_audio(ctx, item_id)
    elif kind == "cell":
        found = separation_room.result(ctx, item_id)
        y, sr = found.y, found.sr
    elif kind == "clip":
        set_id, index = _clip_ref(item_id)
        y, sr = ts.training_clip_audio(ctx, set_id, index)
    else:
        raise ParameterError(f"kind={kind!r} must be one of {list(ts.ITEM_KINDS)}")
    n = int(y.shape[-1])
    start = round(start_s * sr)
    if start >= n and n > 0:
        raise ParameterError(f"start_s={start_s:g} is past the end ({n / sr:.2f} s)")
    stop = n if max_s is None else min(n, start + max(1, round(max_s * sr)))
    return np.ascontiguousarray(y[:, start:stop], dtype=np.float32), sr


class DecideResult(NamedTuple):
    """A decision's frame, and the sound a kept grid result became (None if none)."""

    decided: protocol.Decided
    sound: SoundRecord | None


def _keep_cell(ctx: Context, result_id: str) -> SoundRecord | None:
    """Keep a grid result as a sound, once: a second keep of it adds nothing."""
    kept = _KEPT.view(ctx.session_id)
    with _KEEP_LOCK:
        sound_id = kept.get(result_id)
        if sound_id is not None:
            try:
                ctx.store.sounds.get(sound_id)
                return None
            except NotFound:
                pass  # it was deleted since: keeping it again brings it back
        try:
            label = separation_room.result(ctx, result_id).label
            record = separation_room.keep(ctx, result_id, name=label)
        except NotFound:
            return None  # evicted meanwhile: the decision stands, there is nothing to keep
        kept.put(result_id, record.sound_id)
        return record


def decide(ctx: Context, f: protocol.Decide) -> DecideResult:
    """Record a decision; a kept grid result also becomes a sound (once).

    Raises
    ------
    NotFound
        If the item does not exist in this session.
    """
    _check_item(ctx, f.kind, f.item_id)
    made = ts.decide(ctx, f.kind, f.item_id, f.decision)
    sound = _keep_cell(ctx, f.item_id) if f.kind == "cell" and f.decision == "keep" else None
    decided = protocol.Decided(
        request_id=f.request_id, kind=f.kind, item_id=made.item_id, decision=f.decision
    )
    return DecideResult(decided, sound)


class UndoResult(NamedTuple):
    """An undo's frame, and the sound removed with it (a kept grid result's; None if none)."""

    decided: protocol.Decided
    removed_sound_id: str | None


def undo(ctx: Context, f: protocol.UndoDecision) -> UndoResult:
    """Undo this session's latest decision of a kind.

    Undoing the keep of a grid result also deletes the sound that keep made (if it is still
    there), as if the keep had never happened.

    Raises
    ------
    NotFound
        If there is nothing to undo.
    """
    last = ts.undo_last_decision(ctx, f.kind)
    if last is None:
        raise NotFound("nothing to undo")
    removed = None
    if last.kind == "cell" and last.decision == "keep":
        kept = _KEPT.view(ctx.session_id)
        with _KEEP_LOCK:
            sound_id = kept.get(last.item_id)
            if sound_id is not None:
                kept.discard(lambda key: key == last.item_id)
                try:
                    ctx.store.sounds.delete(sound_id)
                    removed = sound_id
                except NotFound:
                    pass  # deleted by hand meanwhile
    decided = protocol.Decided(
        request_id=f.request_id, kind=f.kind, item_id=last.item_id, decision=None, undone=True
    )
    return UndoResult(decided, removed)


# ---------------------------------------------------------------------------------------------
# Export


def exports_folder(ctx: Context) -> Path:
    """Where exported albums live: ``<data dir>/exports``."""
    return Path(ctx.settings.data_dir) / "exports"


def _safe(name: str) -> str:
    return (_UNSAFE.sub("_", name).strip(" ._") or "album")[:80]


def export(
    ctx: Context,
    f: protocol.ExportAlbum,
    *,
    progress: ProgressFn,
    cancel: CancelToken | None = None,
) -> protocol.AlbumExported:
    """Export kept songs as a folder and a zip that only this session may download.

    Raises
    ------
    ParameterError
        If no song is selected (nothing kept yet).
    NotFound
        If the album or a song does not exist.
    """
    export_id = new_id()
    root = exports_folder(ctx)
    folder = root / export_id
    try:
        result = ts.export_album(
            ctx,
            folder,
            album_id=f.album_id,
            song_ids=None if f.song_ids is None else list(f.song_ids),
            fmt=f.format,
            title=f.title,
            progress=lambda x, s: progress(0.9 * x, s),
            cancel=cancel,
        )
    except BaseException:
        _remove(folder)
        raise
    title = json.loads((folder / "album.json").read_text())["title"]
    progress(0.9, "zipping")
    inside = _safe(title)
    tmp = root / f".tmp-{export_id}.zip"
    members: Sequence[Path] = [*result.files, result.tracklist, folder / "album.json"]
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as z:
        for path in members:
            z.write(path, arcname=f"{inside}/{path.name}")
    (root / f"{export_id}.json").write_text(
        json.dumps({"session_id": ctx.session_id, "title": title, "created_at": time.time()})
    )
    tmp.replace(root / f"{export_id}.zip")
    _prune_exports(root, ctx.session_id, keep=KEEP_EXPORTS)
    progress(1.0, "done")
    return protocol.AlbumExported(
        request_id=f.request_id,
        title=title,
        folder=str(folder),
        url=f"/api/exports/{export_id}.zip",
        files=[p.name for p in result.files],
        loudness_lufs=round(result.loudness_lufs, 3),
    )


def _prune_exports(root: Path, session_id: str, *, keep: int) -> None:
    """Delete a session's exports beyond the ``keep`` newest (folder, zip and description)."""
    mine: list[tuple[float, str]] = []
    for meta_path in root.glob("*.json"):
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(meta, dict) and meta.get("session_id") == session_id:
            mine.append((float(meta.get("created_at", 0.0)), meta_path.stem))
    for _, export_id in sorted(mine, reverse=True)[keep:]:
        _remove(root / export_id)
        (root / f"{export_id}.zip").unlink(missing_ok=True)
        (root / f"{export_id}.json").unlink(missing_ok=True)


def _remove(folder: Path) -> None:
    if folder.is_dir():
        for path in folder.iterdir():
            path.unlink(missing_ok=True)
        folder.rmdir()


class ExportFile(NamedTuple):
    """A zip to download and the name to save it as."""

    path: Path
    filename: str


def export_file(ctx: Context, filename: str) -> ExportFile:
    """The zip of an export of this session, by its file name ``<export_id>.zip``.

    Raises
    ------
    NotFound
        If there is no such export, or it is another session's.
    """
    match = _EXPORT_FILE.fullmatch(filename)
    if match is None:
        raise NotFound(f"no export {filename!r}: ask for <export_id>.zip")
    export_id = check_id("export", match.group(1))
    root = exports_folder(ctx)
    try:
        meta = json.loads((root / f"{export_id}.json").read_text())
    except (OSError, ValueError):
        meta = {}
    path = root / f"{export_id}.zip"
    if not isinstance(meta, dict) or meta.get("session_id") != ctx.session_id or not path.is_file():
        raise NotFound(f"no export {export_id!r}")
    return ExportFile(path, f"{_safe(str(meta.get('title', 'album')))}.zip")


# ---------------------------------------------------------------------------------------------
# Manipulations


def manipulate(
    ctx: Context,
    f: protocol.Manipulate,
    *,
    progress: ProgressFn,
    cancel: CancelToken | None = None,
) -> tuple[np.ndarray, int]:
    """Render an embedding manipulation for audition.

    Returns
    -------
    y : np.ndarray [shape=(channels, n), dtype=float32]
    sr : int

    Raises
    ------
    ParameterError
        If a sound (or the decomposition) the operation needs is missing from the request.
    NotFound
        If a sound, decomposition or model does not exist.
    """
    if f.op == "nmf_stretch":
        if f.decomposition_id is None:
            raise ParameterError("op='nmf_stretch' needs decomposition_id")
        progress(0.0, "stretching activations")
        return ts.audition_nmf_stretch(ctx, f.decomposition_id, factor=f.factor)
    if f.sound_id is None:
        raise ParameterError(f"op={f.op!r} needs sound_id")
    if f.op != "stretch" and f.other_sound_id is None:
        raise ParameterError(f"op={f.op!r} needs other_sound_id (the second sound)")
    rest = _model_ready(ctx, f.model_id, progress, cancel)
    if cancel is not None:
        cancel.raise_if_cancelled()
    rest(0.0, "encoding")
    if f.op == "stretch":
        y = ts.audition_stretch(ctx, f.sound_id, factor=f.factor, model_id=f.model_id)
    elif f.op == "blend":
        y = ts.audition_blend(
            ctx, f.sound_id, str(f.other_sound_id), alpha=f.mix, model_id=f.model_id
        )
    else:
        y = ts.audition_crossfade(
            ctx, f.sound_id, str(f.other_sound_id), crossfade_s=f.crossfade_s,
            model_id=f.model_id,
        )
    rest(1.0, "done")
    return y, compose.SR
