"""Socket handlers of the studio page: sounds, spectrograms, units, auditions, the library."""

from __future__ import annotations

from typing import Any

import msgspec

from residue import __version__, protocol
from residue.dsp.progress import CancelToken
from residue.errors import UnsupportedError
from residue.services import library as library_service
from residue.services import render as render_service
from residue.services import sounds as sound_service
from residue.services.context import Context
from residue.services.decompose import decompose, decomposition_frame, open_decomposition
from residue.transport import tls
from residue.transport.peer import Handler, Hub, Peer, run_job, stream_audio


async def _hello(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.Hello, cancel: CancelToken
) -> None:
    if f.protocol_version != protocol.PROTOCOL_VERSION:
        raise UnsupportedError(
            f"protocol_version={f.protocol_version} is not supported; this server speaks "
            f"version {protocol.PROTOCOL_VERSION} (reload the page)"
        )
    peer.greeted = True
    peer.name = f.client
    s = ctx.settings
    phone = tls.phone_link(s)
    peer.send(
        protocol.Welcome(
            request_id=f.request_id,
            protocol_version=protocol.PROTOCOL_VERSION,
            server_version=__version__,
            max_upload_bytes=s.max_upload_bytes,
            max_duration_s=s.max_duration_s,
            max_frame_bytes=s.max_frame_bytes,
            phone_url=phone.url,
            phone_note=phone.note,
        )
    )
    # The local user is in the default session without a token (see transport.auth); anyone
    # else enters a session with `join`. Either way `join` may move the socket elsewhere.
    if peer.local and peer.ctx is None:
        await hub.enter(peer, ctx, role="admin", token_id=None, name=None)


async def _list_sounds(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.ListSounds, cancel: CancelToken
) -> None:
    records = ctx.store.sounds.list()
    peer.send(
        protocol.Sounds(
            request_id=f.request_id, sounds=[sound_service.sound_info(r) for r in records]
        )
    )


async def _delete_sound(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.DeleteSound, cancel: CancelToken
) -> None:
    ctx.store.sounds.delete(f.sound_id)
    ctx.decompositions.discard(lambda key: True)
    peer.send(protocol.Ok(request_id=f.request_id))
    hub.publish(ctx.session_id, protocol.SoundRemoved(request_id=0, sound_id=f.sound_id))


async def _spectrogram(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.GetSpectrogram, cancel: CancelToken
) -> None:
    frames = await ctx.executor.run(
        lambda progress, token: list(
            sound_service.spectrogram_tiles(ctx, f.sound_id, request_id=f.request_id)
        )
    )
    for frame in frames:
        peer.send(frame)


async def _decompose(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.Decompose, cancel: CancelToken
) -> None:
    opened, cached = await run_job(
        ctx, hub, peer,
        lambda p, token: decompose(ctx, f, progress=p, cancel=token),
        request_id=f.request_id, what="this split", cancel=cancel,
    )
    peer.send(decomposition_frame(opened, request_id=f.request_id, cached=cached))


async def _get_decomposition(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.GetDecomposition, cancel: CancelToken
) -> None:
    opened = await ctx.executor.run(lambda p, t: open_decomposition(ctx, f.decomposition_id))
    peer.send(decomposition_frame(opened, request_id=f.request_id, cached=True))


async def _cancel(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.Cancel, cancel: CancelToken
) -> None:
    running = peer.running.get(f.target_request_id)
    if running is not None:
        running[1].cancel()
    peer.send(protocol.Ok(request_id=f.request_id))


async def _play_sound(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.PlaySound, cancel: CancelToken
) -> None:
    record, y = await ctx.executor.run(lambda p, t: sound_service.load_audio(ctx, f.sound_id))
    span = sound_service.region(record, start_s=f.start_s, end_s=f.end_s)
    await stream_audio(peer, f.request_id, y[:, span.start : span.stop], record.sample_rate)


async def _audition(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.Audition, cancel: CancelToken
) -> None:
    opened, y = await ctx.executor.run(lambda p, t: render_service.render(ctx, f.spec))
    await stream_audio(peer, f.request_id, y, opened.sr)


async def _plan_remix(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.PlanRemix, cancel: CancelToken
) -> None:
    assignments = await ctx.executor.run(lambda p, t: library_service.plan_remix(ctx, f))
    peer.send(
        protocol.RemixPlan(
            request_id=f.request_id,
            decomposition_id=f.decomposition_id,
            strategy=f.strategy,
            assignments=assignments,
        )
    )


def _changed(
    ctx: Context,
    hub: Hub,
    peer: Peer,
    request_id: int,
    op: library_service.WireOp,
    component_id: str,
    record: library_service.Component | None,
    seq: int,
    tag: str | None = None,
) -> None:
    """Answer the request and publish the op to the session (request_id 0 marks an event).

    The requester gets the event too; the op's ``seq`` tells a client it has it already.
    """
    reply = library_service.change_frame(
        request_id=request_id, op=op, component_id=component_id, record=record, seq=seq,
        actor=peer.name, tag=tag,
    )
    peer.send(reply)
    hub.publish(ctx.session_id, msgspec.structs.replace(reply, request_id=0))


async def _save_component(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.SaveComponent, cancel: CancelToken
) -> None:
    prepared = await ctx.executor.run(
        lambda p, t: library_service.prepare_component(
            ctx,
            decomposition_id=f.decomposition_id,
            unit=f.unit,
            name=f.name,
            tags=list(f.tags),
            creator=peer.name,
        )
    )
    record = await hub.write(lambda: library_service.keep_component(ctx, prepared))
    _changed(ctx, hub, peer, f.request_id, "add", record.component_id, record, record.seq)


async def _list_library(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.ListLibrary, cancel: CancelToken
) -> None:
    records = ctx.store.library.list(query=f.query, tag=f.tag)
    peer.send(
        protocol.Library(request_id=f.request_id, items=[library_service.item(r) for r in records])
    )


async def _find_similar(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.FindSimilar, cancel: CancelToken
) -> None:
    items = await ctx.executor.run(
        lambda p, t: library_service.similar(ctx, f.component, limit=f.limit)
    )
    peer.send(protocol.Library(request_id=f.request_id, items=items))


async def _rename(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.RenameComponent, cancel: CancelToken
) -> None:
    record = await hub.write(
        lambda: ctx.store.library.rename(
            f.component_id, f.name, base_version=f.base_version, actor=peer.name
        )
    )
    _changed(ctx, hub, peer, f.request_id, "rename", f.component_id, record, record.seq)


async def _tag(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.TagComponent, cancel: CancelToken
) -> None:
    # Replaces the whole list (kept for old pages); add_tag/remove_tag commute, this does not.
    record = await hub.write(
        lambda: ctx.store.library.set_tags(f.component_id, list(f.tags), actor=peer.name)
    )
    _changed(ctx, hub, peer, f.request_id, "tag", f.component_id, record, record.seq)


async def _add_tag(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.AddTag, cancel: CancelToken
) -> None:
    record = await hub.write(
        lambda: ctx.store.library.add_tag(f.component_id, f.tag, actor=peer.name)
    )
    _changed(ctx, hub, peer, f.request_id, "tag", f.component_id, record, record.seq, f.tag)


async def _remove_tag(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.RemoveTag, cancel: CancelToken
) -> None:
    record = await hub.write(
        lambda: ctx.store.library.remove_tag(f.component_id, f.tag, actor=peer.name)
    )
    _changed(ctx, hub, peer, f.request_id, "untag", f.component_id, record, record.seq, f.tag)


async def _delete(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.DeleteComponent, cancel: CancelToken
) -> None:
    seq = await hub.write(lambda: ctx.store.library.delete(f.component_id, actor=peer.name))
    _changed(ctx, hub, peer, f.request_id, "delete", f.component_id, None, seq)


HANDLERS: dict[type[Any], Handler] = {
    protocol.Hello: _hello,
    protocol.ListSounds: _list_sounds,
    protocol.DeleteSound: _delete_sound,
    protocol.GetSpectrogram: _spectrogram,
    protocol.Decompose: _decompose,
    protocol.GetDecomposition: _get_decomposition,
    protocol.Cancel: _cancel,
    protocol.PlaySound: _play_sound,
    protocol.Audition: _audition,
    protocol.PlanRemix: _plan_remix,
    protocol.SaveComponent: _save_component,
    protocol.ListLibrary: _list_library,
    protocol.FindSimilar: _find_similar,
    protocol.RenameComponent: _rename,
    protocol.TagComponent: _tag,
    protocol.AddTag: _add_tag,
    protocol.RemoveTag: _remove_tag,
    protocol.DeleteComponent: _delete,
}
