"""Socket handlers of the MIDI room: transcribe, a source's spectrogram, render, keep, import."""

from __future__ import annotations

from typing import Any

from residue import protocol
from residue.dsp.progress import CancelToken
from residue.services import midi_room
from residue.services import sounds as sound_service
from residue.services.context import Context
from residue.transport.peer import Handler, Hub, Peer, run_job, stream_audio


async def _choices(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.GetMidiChoices, cancel: CancelToken
) -> None:
    reply = await ctx.executor.run(
        lambda p, t: midi_room.choices(ctx, request_id=f.request_id)
    )
    peer.send(reply)


async def _transcribe(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.Transcribe, cancel: CancelToken
) -> None:
    reply = await run_job(
        ctx, hub, peer,
        lambda p, token: midi_room.transcribe_source(ctx, f, progress=p, cancel=token),
        request_id=f.request_id, what="this transcription", cancel=cancel,
    )
    peer.send(reply)


async def _source_spectrogram(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.GetSourceSpectrogram, cancel: CancelToken
) -> None:
    frames = await ctx.executor.run(
        lambda p, t: list(midi_room.source_spectrogram(ctx, f.source, request_id=f.request_id))
    )
    for frame in frames:
        peer.send(frame)


async def _render_notes(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.RenderNotes, cancel: CancelToken
) -> None:
    out = await ctx.executor.run(lambda p, t: midi_room.render_notes(ctx, f.render))
    await stream_audio(peer, f.request_id, out.y, out.sr)


async def _save_render(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.SaveRender, cancel: CancelToken
) -> None:
    record = await ctx.executor.run(
        lambda p, t: midi_room.save_render(ctx, f.render, name=f.name)
    )
    info = sound_service.sound_info(record)
    peer.send(protocol.SoundAdded(request_id=f.request_id, sound=info))
    # every tab's sound list, this one's included, takes it from the event (request_id 0)
    hub.publish(ctx.session_id, protocol.SoundAdded(request_id=0, sound=info))


async def _import_midi(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.ImportMidi, cancel: CancelToken
) -> None:
    reply = await ctx.executor.run(
        lambda p, t: midi_room.import_midi(f.data, name=f.name, request_id=f.request_id)
    )
    peer.send(reply)


HANDLERS: dict[type[Any], Handler] = {
    protocol.GetMidiChoices: _choices,
    protocol.Transcribe: _transcribe,
    protocol.GetSourceSpectrogram: _source_spectrogram,
    protocol.RenderNotes: _render_notes,
    protocol.SaveRender: _save_render,
    protocol.ImportMidi: _import_midi,
}
