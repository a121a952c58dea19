"""Socket handlers of the timbre room: the map, songs and albums, the swipe page.

Long work (cutting a training set, training, the first map when the default model must be
trained, songs, albums, exports, manipulations) runs on the job executor inside one of the
session's heavy-job slots, with ``job_progress`` frames and cancellation.

Events (request_id 0) go to every tab of the session, the requester's included, as the studio's
``sound_added`` does: they carry the ids a page needs to recognise what its own reply told it
(a song id, a decision's item), so one path serves one process and several on Redis alike.
"""

from __future__ import annotations

import asyncio
from typing import Any

from residue import protocol
from residue.dsp import timbre
from residue.dsp.progress import CancelToken
from residue.services import sounds as sound_service
from residue.services import timbre as ts
from residue.services import timbre_room as room
from residue.services.context import Context
from residue.transport.peer import Handler, Hub, Peer, run_job, stream_audio


async def _state(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.GetTimbreState, cancel: CancelToken
) -> None:
    frame = await ctx.executor.run(lambda p, t: room.state(ctx, request_id=f.request_id))
    peer.send(frame)


async def _build_set(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.BuildTrainingSet, cancel: CancelToken
) -> None:
    frame = await run_job(
        ctx, hub, peer,
        lambda p, t: room.build_set(ctx, f, progress=p, cancel=t),
        request_id=f.request_id, what="this training set", cancel=cancel,
    )
    peer.send(frame)


async def _train(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.TrainModel, cancel: CancelToken
) -> None:
    loop = asyncio.get_running_loop()

    def on_epoch(frame: protocol.TrainingEpoch) -> None:
        # worker thread: the queue belongs to the loop
        loop.call_soon_threadsafe(peer.send, frame)

    frame = await run_job(
        ctx, hub, peer,
        lambda p, t: room.train(ctx, f, on_epoch=on_epoch, progress=p, cancel=t),
        request_id=f.request_id, what="this training", cancel=cancel,
    )
    peer.send(frame)


async def _map(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.GetTimbreMap, cancel: CancelToken
) -> None:
    async def make() -> protocol.TimbreMapFrame:
        return await ctx.executor.run(
            lambda p, t: room.make_map(ctx, f, progress=p, cancel=t),
            progress=peer.progress(f.request_id),
            cancel=cancel,
        )

    if room.needs_default_model(ctx, f.model_id):
        async with hub.job(peer, "training the default model"):
            frame = await make()
    else:
        frame = await make()
    peer.send(frame)


async def _preview(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.PreviewPoint, cancel: CancelToken
) -> None:
    y = await ctx.executor.run(lambda p, t: room.preview(ctx, f))
    await stream_audio(peer, f.request_id, y, timbre.SR)


async def _check_grammar(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.CheckGrammar, cancel: CancelToken
) -> None:
    peer.send(room.check_grammar(f.grammar, seed=f.seed, request_id=f.request_id))


async def _create_song(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.CreateSong, cancel: CancelToken
) -> None:
    room.song_settings(f.params)  # a bad setting or grammar is answered before any job
    record = await run_job(
        ctx, hub, peer,
        lambda p, t: room.create_song(ctx, f, progress=p, cancel=t),
        request_id=f.request_id, what="this song", cancel=cancel,
    )
    info = room.song_info(record)
    peer.send(protocol.SongAdded(request_id=f.request_id, song=info))
    hub.publish(ctx.session_id, protocol.SongAdded(request_id=0, song=info))


async def _album(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.GenerateAlbum, cancel: CancelToken
) -> None:
    ts.check_album_size(f.n_songs)
    room.song_settings(f.params)
    loop = asyncio.get_running_loop()

    def added(info: protocol.SongInfo) -> None:
        peer.send(protocol.SongAdded(request_id=f.request_id, song=info))
        hub.publish(ctx.session_id, protocol.SongAdded(request_id=0, song=info))

    def on_song(record: ts.SongRecord) -> None:
        # worker thread: build the frame here, send it from the loop (after earlier progress)
        loop.call_soon_threadsafe(added, room.song_info(record))

    frame = await run_job(
        ctx, hub, peer,
        lambda p, t: room.generate_album(ctx, f, on_song=on_song, progress=p, cancel=t),
        request_id=f.request_id, what="this album", cancel=cancel,
    )
    peer.send(frame)


async def _list_songs(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.ListSongs, cancel: CancelToken
) -> None:
    frame = await ctx.executor.run(lambda p, t: room.song_list(ctx, f))
    peer.send(frame)


async def _delete_song(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.DeleteSong, cancel: CancelToken
) -> None:
    await ctx.executor.run(lambda p, t: ts.delete_song(ctx, f.song_id))
    peer.send(protocol.Ok(request_id=f.request_id))
    hub.publish(ctx.session_id, protocol.SongRemoved(request_id=0, song_id=f.song_id))


async def _deck(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.GetSwipeDeck, cancel: CancelToken
) -> None:
    frame = await ctx.executor.run(lambda p, t: room.swipe_deck(ctx, f))
    peer.send(frame)


async def _play_item(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.PlayItem, cancel: CancelToken
) -> None:
    y, sr = await ctx.executor.run(
        lambda p, t: room.item_audio(ctx, f.kind, f.item_id, start_s=f.start_s, max_s=f.max_s)
    )
    await stream_audio(peer, f.request_id, y, sr)


async def _decide(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.Decide, cancel: CancelToken
) -> None:
    decided, sound = await ctx.executor.run(lambda p, t: room.decide(ctx, f))
    peer.send(decided)
    hub.publish(ctx.session_id, protocol.Decided(
        request_id=0, kind=decided.kind, item_id=decided.item_id, decision=decided.decision
    ))
    if sound is not None:
        # every tab's sound list, this one's included, takes it from the event
        info = sound_service.sound_info(sound)
        hub.publish(ctx.session_id, protocol.SoundAdded(request_id=0, sound=info))


async def _undo(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.UndoDecision, cancel: CancelToken
) -> None:
    decided, removed = await ctx.executor.run(lambda p, t: room.undo(ctx, f))
    peer.send(decided)
    hub.publish(ctx.session_id, protocol.Decided(
        request_id=0, kind=decided.kind, item_id=decided.item_id, decision=None, undone=True
    ))
    if removed is not None:
        ctx.decompositions.discard(lambda key: True)
        hub.publish(ctx.session_id, protocol.SoundRemoved(request_id=0, sound_id=removed))


async def _export(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.ExportAlbum, cancel: CancelToken
) -> None:
    frame = await run_job(
        ctx, hub, peer,
        lambda p, t: room.export(ctx, f, progress=p, cancel=t),
        request_id=f.request_id, what="this export", cancel=cancel,
    )
    peer.send(frame)


async def _manipulate(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.Manipulate, cancel: CancelToken
) -> None:
    y, sr = await run_job(
        ctx, hub, peer,
        lambda p, t: room.manipulate(ctx, f, progress=p, cancel=t),
        request_id=f.request_id, what="this manipulation", cancel=cancel,
    )
    await stream_audio(peer, f.request_id, y, sr)


HANDLERS: dict[type[Any], Handler] = {
    protocol.GetTimbreState: _state,
    protocol.BuildTrainingSet: _build_set,
    protocol.TrainModel: _train,
    protocol.GetTimbreMap: _map,
    protocol.PreviewPoint: _preview,
    protocol.CheckGrammar: _check_grammar,
    protocol.CreateSong: _create_song,
    protocol.GenerateAlbum: _album,
    protocol.ListSongs: _list_songs,
    protocol.DeleteSong: _delete_song,
    protocol.GetSwipeDeck: _deck,
    protocol.PlayItem: _play_item,
    protocol.Decide: _decide,
    protocol.UndoDecision: _undo,
    protocol.ExportAlbum: _export,
    protocol.Manipulate: _manipulate,
}
