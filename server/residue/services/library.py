"""The component library: save units' components, search, similarity, remix plans."""

from __future__ import annotations

from typing import Any, Literal, NamedTuple, cast

import numpy as np

from residue import protocol
from residue.dsp import components, spectral
from residue.errors import ParameterError
from residue.services.context import Context
from residue.services.decompose import open_decomposition
from residue.store.library import ComponentRecord

#: A library component as the store keeps it (for layers that may not import the store).
Component = ComponentRecord


def item(record: ComponentRecord, *, distance: float | None = None) -> protocol.LibraryItem:
    """The wire view of a library component."""
    p = record.provenance
    return protocol.LibraryItem(
        component_id=record.component_id,
        name=record.name,
        tags=list(record.tags),
        creator=record.creator,
        created_at=record.created_at,
        provenance=protocol.Provenance(
            sound_id=str(p.get("sound_id", "")),
            sound_name=str(p.get("sound_name", "")),
            decomposition_id=str(p.get("decomposition_id", "")),
            unit=int(p.get("unit", 0)),
            n_components=int(p.get("n_components", 0)),
            beta=float(p.get("beta", 1.0)),
            sample_rate=record.sample_rate,
            n_fft=record.n_fft,
        ),
        curve=np.asarray(record.curve, dtype="<f4").tobytes(),
        distance=None if distance is None else round(float(distance), 4),
        version=record.version,
    )


def display_curve(w: np.ndarray, *, sr: int, n_fft: int) -> np.ndarray:
    """A spectrum on the spectrogram's log-frequency rows, scaled to max 1."""
    curve = spectral.log_frequency_rows(w, sr=sr, n_fft=n_fft)
    peak = float(curve.max()) if curve.size else 0.0
    return (curve / peak if peak > 0 else curve).astype(np.float32)


def descriptor(w: np.ndarray, *, sr: int, n_fft: int) -> np.ndarray:
    """The timbre descriptor vector used for similarity."""
    return components.descriptor_vector(components.describe_component(w, sr=sr, n_fft=n_fft))


class PreparedComponent(NamedTuple):
    """A unit's component ready to be kept: everything :meth:`Library.add` takes."""

    w: np.ndarray
    sr: int
    n_fft: int
    name: str
    tags: list[str]
    creator: str
    provenance: dict[str, Any]
    descriptor: np.ndarray
    curve: np.ndarray


def save_component(
    ctx: Context,
    *,
    decomposition_id: str,
    unit: int,
    name: str,
    tags: list[str],
    creator: str = "",
) -> ComponentRecord:
    """Save unit ``unit``'s component with its provenance and descriptors."""
    return keep_component(
        ctx,
        prepare_component(
            ctx, decomposition_id=decomposition_id, unit=unit, name=name, tags=tags,
            creator=creator,
        ),
    )


def keep_component(ctx: Context, c: PreparedComponent) -> ComponentRecord:
    """Write a prepared component to the library (the quick, ordered part of a save)."""
    return ctx.store.library.add(
        c.w, sr=c.sr, n_fft=c.n_fft, name=c.name, tags=c.tags, creator=c.creator,
        provenance=c.provenance, descriptor=c.descriptor, curve=c.curve,
    )


def prepare_component(
    ctx: Context,
    *,
    decomposition_id: str,
    unit: int,
    name: str,
    tags: list[str],
    creator: str = "",
) -> PreparedComponent:
    """Read unit ``unit``'s component and compute its descriptors (the slow part of a save)."""
    opened = open_decomposition(ctx, decomposition_id)
    if unit >= opened.n_components:
        raise ParameterError(f"unit={unit} must be in [0, {opened.n_components - 1}]")
    w = np.ascontiguousarray(opened.W[:, unit])
    sr, n_fft = opened.sr, opened.n_fft
    settings = opened.record.settings
    return PreparedComponent(
        w=w,
        sr=sr,
        n_fft=n_fft,
        name=name,
        tags=tags,
        creator=creator,
        provenance={
            "sound_id": opened.sound.sound_id,
            "sound_name": opened.sound.name,
            "decomposition_id": decomposition_id,
            "unit": unit,
            "n_components": opened.n_components,
            "beta": settings.get("beta", 1.0),
            "start_s": opened.start_sample / sr,
            "end_s": (opened.start_sample + opened.length) / sr,
        },
        descriptor=descriptor(w, sr=sr, n_fft=n_fft),
        curve=display_curve(w, sr=sr, n_fft=n_fft),
    )


def query_vector(ctx: Context, ref: protocol.ComponentRef) -> tuple[np.ndarray, str | None]:
    """The descriptor of a unit's or a library component, and the id to leave out of results."""
    if isinstance(ref, protocol.LibraryComponent):
        return ctx.store.library.get(ref.component_id).descriptor, ref.component_id
    opened = open_decomposition(ctx, ref.decomposition_id)
    if ref.unit >= opened.n_components:
        raise ParameterError(f"unit={ref.unit} must be in [0, {opened.n_components - 1}]")
    return descriptor(opened.W[:, ref.unit], sr=opened.sr, n_fft=opened.n_fft), None


def similar(ctx: Context, ref: protocol.ComponentRef, *, limit: int) -> list[protocol.LibraryItem]:
    """Library components nearest in timbre to ``ref``, nearest first."""
    vector, exclude = query_vector(ctx, ref)
    return [
        item(record, distance=d)
        for record, d in ctx.store.library.nearest(vector, limit=limit, exclude=exclude)
    ]


def plan_remix(ctx: Context, request: protocol.PlanRemix) -> list[protocol.Assignment]:
    """Choose a library component for every unit of a decomposition by a strategy."""
    opened = open_decomposition(ctx, request.decomposition_id)
    ids, matrix = ctx.store.library.descriptor_matrix(tag=request.tag)
    if not ids:
        where = f" tagged {request.tag!r}" if request.tag else ""
        raise ParameterError(f"the library has no components{where} to remix with")
    queries = np.stack(
        [
            descriptor(opened.W[:, k], sr=opened.sr, n_fft=opened.n_fft)
            for k in range(opened.n_components)
        ]
    )
    match = components.match_components(
        queries, matrix, strategy=request.strategy, rng=np.random.default_rng(request.seed)
    )
    names = {r.component_id: r.name for r in ctx.store.library.list(tag=request.tag)}
    return [
        protocol.Assignment(
            unit=k,
            component_id=ids[int(i)],
            name=names.get(ids[int(i)], ""),
            distance=round(float(d), 4),
        )
        for k, (i, d) in enumerate(zip(match.indices, match.distances, strict=True))
    ]


LibraryOpName = Literal["add", "rename", "tags", "tag", "untag", "delete"]
WireOp = Literal["add", "rename", "tag", "untag", "delete"]


def change_frame(
    *,
    request_id: int,
    op: WireOp,
    component_id: str,
    record: ComponentRecord | None,
    seq: int,
    actor: str,
    tag: str | None = None,
) -> protocol.LibraryChanged:
    """The wire view of one committed change: the component's state right after it."""
    return protocol.LibraryChanged(
        request_id=request_id,
        op=op,
        component_id=component_id,
        item=None if record is None else item(record),
        seq=seq,
        actor=actor,
        tag=tag,
    )


def sync_frame(ctx: Context, *, since: int, request_id: int) -> protocol.LibraryOps:
    """What a client that applied ops up to ``since`` needs to catch up (see ``Library.sync``)."""
    sync = ctx.store.library.sync(since, max_ops=protocol.MAX_RESUME_OPS)
    if sync.snapshot is not None:
        return protocol.LibraryOps(
            request_id=request_id,
            since=sync.since,
            last_seq=sync.last_seq,
            ops=[],
            snapshot=[item(r) for r in sync.snapshot],
        )
    ops = []
    for o in sync.ops:
        now = sync.current.get(o.component_id)
        ops.append(
            protocol.LibraryOpInfo(
                seq=o.seq,
                op=cast(LibraryOpName, o.op),
                component_id=o.component_id,
                actor=o.actor,
                detail=o.detail,
                item=None if now is None else item(now),
            )
        )
    return protocol.LibraryOps(
        request_id=request_id, since=sync.since, last_seq=sync.last_seq, ops=ops
    )
