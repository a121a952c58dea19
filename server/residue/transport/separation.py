"""Socket handlers of the separations room: catalog, run a grid, cancel a cell, play, keep."""

from __future__ import annotations

import asyncio
from typing import Any

from residue import protocol
from residue.dsp.progress import CancelToken
from residue.errors import NotFound
from residue.services import separation as sp
from residue.services import separation_room as room
from residue.services import sounds as sound_service
from residue.services.context import Context
from residue.transport.peer import Handler, Hub, Peer, stream_audio

#: Grids running now, by (socket, request id), so ``cancel_cell`` can reach them.
_RUNNING: dict[tuple[int, int], sp.GridRun] = {}


async def _start_grid(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.StartGrid, cancel: CancelToken
) -> None:
    grid = await ctx.executor.run(lambda p, t: room.start(ctx, f))
    loop = asyncio.get_running_loop()

    def on_result(result: sp.CellResult) -> None:
        # worker thread: cache the audio here, hand the frame to the loop (the queue is not
        # thread-safe); it leaves the moment the cell ends.
        frame = room.cell_frame(ctx, result, request_id=f.request_id)
        loop.call_soon_threadsafe(peer.send, frame)

    async with hub.job(peer, "this separation grid"):
        peer.send(room.started(grid, request_id=f.request_id, sound_id=f.sound_id))
        key = (id(peer), f.request_id)
        _RUNNING[key] = grid
        try:
            summary = await ctx.executor.run(
                lambda p, token: grid.run(p, token, on_result=on_result),
                progress=peer.progress(f.request_id),
                cancel=cancel,
            )
        finally:
            _RUNNING.pop(key, None)
    peer.send(room.done_frame(summary, request_id=f.request_id))


async def _cancel_cell(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.CancelCell, cancel: CancelToken
) -> None:
    grid = _RUNNING.get((id(peer), f.target_request_id))
    if grid is None:
        raise NotFound(f"no grid is running under request_id={f.target_request_id}")
    grid.cancel_cell(f.cell_id)
    peer.send(protocol.Ok(request_id=f.request_id))


async def _play_result(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.PlayResult, cancel: CancelToken
) -> None:
    found = room.result(ctx, f.result_id)
    await stream_audio(peer, f.request_id, found.y, found.sr)


async def _keep_cell(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.KeepCell, cancel: CancelToken
) -> None:
    record = await ctx.executor.run(lambda p, t: room.keep(ctx, f.result_id, name=f.name))
    info = sound_service.sound_info(record)
    peer.send(protocol.SoundAdded(request_id=f.request_id, sound=info))
    # every tab's sound list, this one's included, takes it from the event (request_id 0)
    hub.publish(ctx.session_id, protocol.SoundAdded(request_id=0, sound=info))


async def _catalog(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.GetSeparationCatalog, cancel: CancelToken
) -> None:
    # listing models reads the model folder: off the loop, but not queued behind heavy jobs
    frame = await asyncio.to_thread(room.catalog, ctx, request_id=f.request_id)
    peer.send(frame)


HANDLERS: dict[type[Any], Handler] = {
    protocol.GetSeparationCatalog: _catalog,
    protocol.StartGrid: _start_grid,
    protocol.CancelCell: _cancel_cell,
    protocol.PlayResult: _play_result,
    protocol.KeepCell: _keep_cell,
}
