"""The MIDI room's use cases: transcribe a sound or a unit, render edited notes, export, keep.

The page holds the notes it edits and sends them back whole with each render or export, as
:class:`residue.protocol.NotePart` lists; this module turns them into
:class:`~residue.dsp.notes.NoteSequence` (checking every note) and back, and glues the
transcription service (:mod:`residue.services.transcription`) to the store: where a source's
audio comes from, which spectrum a sampler plays, how a render becomes a new sound.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np

from residue import protocol
from residue.dsp import notes as nt
from residue.dsp import spectral, synths
from residue.dsp._validate import check_choice
from residue.dsp.progress import CancelToken, ProgressFn
from residue.errors import LimitExceeded, ParameterError
from residue.services import render as render_service
from residue.services import sounds as sound_service
from residue.services import transcription as tr
from residue.services.audio_io import encode_wav, resample
from residue.services.context import Context
from residue.services.decompose import open_decomposition
from residue.store.sounds import SoundRecord

#: Suggested tunings (any "N-edo" and ratio lists are accepted too).
TUNINGS = ("12-tet", "24-tet", "19-edo", "31-edo", "just")
#: Level of each signal when the source plays under the render ("both").
MIX_GAIN = 0.5
#: Fewest notes from which a key is suggested.
MIN_NOTES_FOR_KEY = 4
_BEND_DTYPE = np.dtype("<f4")


class SourceAudio(NamedTuple):
    """A source's audio and where it sits in its sound.

    ``y`` is float32 (channels, n) at ``sr``; the source starts ``start_s`` into sound
    ``sound_id``.
    """

    y: np.ndarray
    sr: int
    sound_id: str
    start_s: float
    label: str


class RenderedNotes(NamedTuple):
    """Rendered notes: float32 (channels, n) audio at ``sr``."""

    y: np.ndarray
    sr: int


# --------------------------------------------------------------------------------------------
# Choices


def choices(ctx: Context, *, request_id: int) -> protocol.MidiChoices:
    """What this server offers: backends, synths (SoundFonts with the reason when absent)."""
    backends = [
        protocol.BackendChoice(
            name=b.name,
            available=b.available,
            reason=b.reason,
            polyphonic=b.polyphonic,
            description=b.description,
        )
        for b in tr.backends(ctx.settings)
    ]
    rc = tr.render_choices(ctx.settings)
    synth_list = [
        protocol.SynthChoice(
            name=name,
            presets=list(presets),
            available=True,
            reason="",
            needs_instrument=name == "sampler",
        )
        for name, presets in rc.synths.items()
    ]
    synth_list.append(
        protocol.SynthChoice(
            name="soundfont",
            presets=list(rc.soundfonts),
            available=rc.soundfont_available,
            reason=rc.soundfont_reason,
            needs_instrument=False,
        )
    )
    return protocol.MidiChoices(
        request_id=request_id,
        backends=backends,
        default_backend=tr.default_backend(ctx.settings),
        synths=synth_list,
        soundfonts=list(rc.soundfonts),
        programs=list(rc.programs),
        tunings=list(TUNINGS),
        scales=list(nt.SCALES),
        max_notes=protocol.MAX_PART_NOTES,
    )


# --------------------------------------------------------------------------------------------
# Notes on the wire


def _bends_to_bytes(note: nt.Note) -> bytes:
    if not note.bends:
        return b""
    points = np.array([(b.time_s, b.semitones) for b in note.bends], dtype=np.float64)
    if len(points) > protocol.MAX_BEND_POINTS:
        keep = np.linspace(0, len(points) - 1, protocol.MAX_BEND_POINTS).round().astype(np.int64)
        points = points[np.unique(keep)]
    return points.astype(_BEND_DTYPE).tobytes()


def _bends_from_bytes(data: bytes, *, index: int) -> list[tuple[float, float]]:
    if len(data) % 8:
        raise ParameterError(
            f"note {index}: bends must be float32 (time_s, semitones) pairs, got {len(data)} bytes"
        )
    values = np.frombuffer(data, dtype=_BEND_DTYPE).astype(np.float64).reshape(-1, 2)
    return [(float(t), float(s)) for t, s in values]


def part_to_wire(seq: nt.NoteSequence) -> protocol.NotePart:
    """The wire view of a part (bend curves longer than the wire allows are thinned)."""
    if len(seq) > protocol.MAX_PART_NOTES:
        raise LimitExceeded(
            f"the part has {len(seq)} notes; at most {protocol.MAX_PART_NOTES} can be shown"
        )
    return protocol.NotePart(
        notes=[
            protocol.MidiNote(
                pitch=n.pitch,
                start_s=float(n.start_s),
                end_s=float(n.end_s),
                velocity=n.velocity,
                bends=_bends_to_bytes(n),
            )
            for n in seq.notes
        ],
        program=seq.program,
        is_drum=seq.is_drum,
        name=seq.name[:120],
        tempo_bpm=seq.tempo_bpm,
    )


def part_from_wire(part: protocol.NotePart) -> nt.NoteSequence:
    """Check a part the page sent and build its sequence.

    Raises
    ------
    ParameterError
        If a note ends before it starts, or its bends are malformed.
    """
    found = []
    for i, n in enumerate(part.notes):
        try:
            found.append(
                nt.make_note(
                    n.pitch, n.start_s, n.end_s, velocity=n.velocity,
                    bends=_bends_from_bytes(n.bends, index=i),
                )
            )
        except ParameterError as exc:
            raise ParameterError(f"note {i}: {exc}") from None
    return nt.sequence(
        found, program=part.program, is_drum=part.is_drum, name=part.name,
        tempo_bpm=part.tempo_bpm,
    )


def parts_from_wire(parts: Sequence[protocol.NotePart]) -> list[nt.NoteSequence]:
    """Check every part (see :func:`part_from_wire`)."""
    return [part_from_wire(p) for p in parts]


# --------------------------------------------------------------------------------------------
# Sources


def source_audio(ctx: Context, source: protocol.MidiSource) -> SourceAudio:
    """Load a source: a sound (region) as stored, or a unit rendered alone.

    Raises
    ------
    NotFound
        If the sound or decomposition does not exist.
    ParameterError
        If the region is outside the sound or the unit out of range.
    """
    if isinstance(source, protocol.SoundSource):
        record, y = sound_service.load_audio(ctx, source.sound_id)
        span = sound_service.region(record, start_s=source.start_s, end_s=source.end_s)
        label = record.name.rsplit(".", 1)[0] or "sound"
        return SourceAudio(
            y[:, span.start : span.stop], record.sample_rate, record.sound_id,
            span.start / record.sample_rate, label,
        )
    opened, y = render_service.render(
        ctx, protocol.RenderSpec(decomposition_id=source.decomposition_id, units=[source.unit])
    )
    label = f"{opened.sound.name.rsplit('.', 1)[0] or 'sound'} unit {source.unit + 1}"
    return SourceAudio(y, opened.sr, opened.sound.sound_id, opened.start_sample / opened.sr, label)


def source_spectrogram(
    ctx: Context, source: protocol.MidiSource, *, request_id: int
) -> Iterator[protocol.SpectrogramInfo | protocol.SpectrogramTile]:
    """The display spectrogram of a source, as :func:`residue.services.sounds.spectrogram_tiles`."""
    if isinstance(source, protocol.SoundSource) and source.start_s is None and (
        source.end_s is None
    ):
        yield from sound_service.spectrogram_tiles(ctx, source.sound_id, request_id=request_id)
        return
    audio = source_audio(ctx, source)
    S = np.abs(spectral.stft(audio.y, device=ctx.settings.device)).mean(axis=0)
    img = spectral.to_db_uint8(spectral.log_frequency_rows(S, sr=audio.sr, n_fft=spectral.N_FFT))
    n_rows, n_frames = img.shape
    yield protocol.SpectrogramInfo(
        request_id=request_id,
        sound_id=audio.sound_id,
        n_rows=n_rows,
        n_frames=n_frames,
        hop_s=spectral.HOP_LENGTH / audio.sr,
        f_min_hz=spectral.F_MIN_HZ,
        f_max_hz=audio.sr / 2,
        top_db=spectral.TOP_DB,
    )
    step = sound_service.TILE_FRAMES
    for start in range(0, n_frames, step):
        tile = np.ascontiguousarray(img[:, start : start + step])
        yield protocol.SpectrogramTile(
            request_id=request_id,
            frame_start=start,
            n_frames=tile.shape[1],
            n_rows=n_rows,
            data=tile.tobytes(),
            last=start + step >= n_frames,
        )


# --------------------------------------------------------------------------------------------
# Transcription


def transcribe_options(
    settings: protocol.TranscribeSettings, *, backend: str
) -> tr.TranscribeOptions:
    """Map the page's settings onto the service's options.

    ``min_note_ms`` sets the backend's own minimum and a clean-up after merging (drum hits are
    short by nature: the clean-up leaves them alone).
    """
    s = settings
    drums = backend == "drums"
    cleanup = nt.CleanupOptions(
        min_duration_s=None if s.min_note_ms is None or drums else s.min_note_ms / 1000.0,
        min_velocity=s.min_velocity,
        merge_gap_s=None if s.merge_gap_ms is None else s.merge_gap_ms / 1000.0,
        key=s.key,
        quantize=s.quantize,
        tempo_bpm=s.tempo_bpm,
        steps_per_beat=s.steps_per_beat,
        quantize_strength=s.quantize_strength,
        max_notes_per_s=s.max_notes_per_s,
    )
    return tr.TranscribeOptions(
        onset_threshold=s.onset_threshold,
        frame_threshold=s.frame_threshold,
        min_note_ms=s.min_note_ms,
        min_pitch=s.min_pitch,
        max_pitch=s.max_pitch,
        bends=s.bends,
        cleanup=cleanup,
        max_notes=protocol.MAX_PART_NOTES,
    )


def _suggest_key(seq: nt.NoteSequence) -> str | None:
    if seq.is_drum or len(seq) < MIN_NOTES_FOR_KEY:
        return None
    return str(nt.detect_key(seq))


def transcribe_source(
    ctx: Context,
    frame: protocol.Transcribe,
    *,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> protocol.Transcription:
    """Transcribe the frame's source with its backend and settings.

    Raises
    ------
    ParameterError
        Unknown backend, a bad key, a source too short for the backend.
    ModelUnavailableError
        If the backend cannot run here.
    LimitExceeded
        More notes than a part may carry.
    """
    t0 = time.perf_counter()
    name = tr.default_backend(ctx.settings) if frame.backend is None else frame.backend
    check_choice("backend", name, tr.BACKENDS)
    if progress is not None:
        progress(0.0, "loading the source")
    audio = source_audio(ctx, frame.source)
    seq = tr.transcribe(
        audio.y,
        sr=audio.sr,
        backend=name,
        options=transcribe_options(frame.settings, backend=name),
        settings=ctx.settings,
        progress=progress,
        cancel=cancel,
    )
    tempo = seq.tempo_bpm
    if tempo is None:
        record = ctx.store.sounds.get(audio.sound_id)
        lo, hi = nt.TEMPO_RANGE_BPM
        if record.tempo_bpm is not None and lo <= record.tempo_bpm <= hi:
            tempo = record.tempo_bpm
    seq = nt.sequence(
        seq.notes, program=seq.program, is_drum=seq.is_drum,
        name=f"{audio.label} ({name})", tempo_bpm=tempo,
    )
    if progress is not None:
        progress(1.0, "done")
    return protocol.Transcription(
        request_id=frame.request_id,
        source=frame.source,
        backend=name,
        part=part_to_wire(seq),
        sound_id=audio.sound_id,
        start_s=audio.start_s,
        duration_s=audio.y.shape[-1] / audio.sr,
        key=_suggest_key(seq),
        seconds=round(time.perf_counter() - t0, 4),
    )


# --------------------------------------------------------------------------------------------
# Rendering


def _instrument(ctx: Context, r: protocol.NoteRender) -> synths.Synth:
    """The sampler instrument ``r`` names (a component spectrum, or a sound one-shot/looped)."""
    mode: synths.SamplerMode = "harmonic" if r.preset is None else check_choice(
        "preset", r.preset, synths.SAMPLER_MODES
    )
    ref = r.instrument
    if ref is None:
        raise ParameterError(
            "synth='sampler' needs an instrument: a unit, a library component or a sound"
        )
    if isinstance(ref, protocol.SoundSource):
        audio = source_audio(ctx, ref)
        return synths.sampler_from_audio(audio.y, sr=audio.sr, loop=mode == "grain")
    if isinstance(ref, protocol.UnitComponent):
        opened = open_decomposition(ctx, ref.decomposition_id)
        if ref.unit >= opened.n_components:
            raise ParameterError(
                f"unit={ref.unit} must be in [0, {opened.n_components - 1}] "
                f"for decomposition {ref.decomposition_id!r}"
            )
        w, sr = opened.W[:, ref.unit], opened.sr
    else:
        w, sr, _ = ctx.store.library.load_spectrum(ref.component_id)
    return synths.sampler_from_spectrum(np.asarray(w, dtype=np.float32), sr=sr, mode=mode)


def _mix(render: np.ndarray, source: np.ndarray) -> np.ndarray:
    """Half of each, padded to the longer, on the larger channel count."""
    channels = max(render.shape[0], source.shape[0])
    n = max(render.shape[-1], source.shape[-1])
    out = np.zeros((channels, n), dtype=np.float32)
    out[:, : render.shape[-1]] += MIX_GAIN * np.broadcast_to(render, (channels, render.shape[-1]))
    out[:, : source.shape[-1]] += MIX_GAIN * np.broadcast_to(source, (channels, source.shape[-1]))
    return out


def render_notes(ctx: Context, r: protocol.NoteRender) -> RenderedNotes:
    """Render notes as ``r`` asks: float32 (channels, n) audio at ``r.sample_rate``.

    Raises
    ------
    ParameterError
        Unknown synth, preset, program or tuning; a sampler without an instrument; no notes
        and nothing to mix under them.
    ModelUnavailableError
        "soundfont" without FluidSynth or a font.
    LimitExceeded
        A render longer than the server allows.
    """
    check_choice("synth", r.synth, tr.RENDER_SYNTHS)
    parts = parts_from_wire(r.parts)
    tuning = tr.resolve_tuning(r.tuning, tonic_key=r.tonic_key, mapping=r.mapping)
    if not any(len(p) for p in parts) and r.with_source is None:
        raise ParameterError("there are no notes to play: transcribe a source or draw some")
    sr = r.sample_rate
    if any(len(p) for p in parts):
        instrument = _instrument(ctx, r) if r.synth == "sampler" else None
        y = tr.render(
            [p for p in parts if len(p)],
            synth=r.synth,
            preset=None if r.synth == "sampler" else r.preset,
            program=r.program,
            tuning=tuning,
            sr=sr,
            instrument=instrument,
            soundfont=r.soundfont,
            settings=ctx.settings,
        )
    else:
        y = np.zeros((1, 0), dtype=np.float32)
    if r.with_source is not None:
        audio = source_audio(ctx, r.with_source)
        src = audio.y if audio.sr == sr else resample(audio.y, sr_from=audio.sr, sr_to=sr)
        y = _mix(y, src)
    return RenderedNotes(np.ascontiguousarray(y, dtype=np.float32), sr)


def render_wav(ctx: Context, r: protocol.NoteRender) -> bytes:
    """The render as a WAV file."""
    out = render_notes(ctx, r)
    return encode_wav(out.y, sr=out.sr)


def export_midi(r: protocol.NoteRender) -> bytes:
    """The notes as a Standard MIDI File, retuned by per-note bends when not 12-TET.

    Raises
    ------
    ParameterError
        A bad note, program or tuning.
    """
    parts = parts_from_wire(r.parts)
    tuning = tr.resolve_tuning(r.tuning, tonic_key=r.tonic_key, mapping=r.mapping)
    return tr.to_midi(parts, tuning=tuning, program=r.program)


def _source_dict(source: protocol.MidiSource | protocol.Instrument | None) -> dict[str, Any]:
    if source is None:
        return {}
    if isinstance(source, protocol.SoundSource):
        return {"kind": "sound", "sound_id": source.sound_id, "start_s": source.start_s,
                "end_s": source.end_s}
    if isinstance(source, protocol.UnitComponent):
        return {"kind": "unit", "decomposition_id": source.decomposition_id, "unit": source.unit}
    return {"kind": "library", "component_id": source.component_id}


def render_provenance(r: protocol.NoteRender) -> dict[str, Any]:
    """What a kept render was made of, so that it can be made again."""
    return {
        "render": {
            "synth": r.synth,
            "preset": r.preset,
            "program": r.program,
            "soundfont": r.soundfont,
            "tuning": r.tuning,
            "tonic_key": r.tonic_key,
            "mapping": r.mapping,
            "instrument": _source_dict(r.instrument),
            "with_source": _source_dict(r.with_source),
            "notes": sum(len(p.notes) for p in r.parts),
            "parts": [p.name for p in r.parts],
        },
        "notes_from": _source_dict(r.notes_from),
    }


def save_render(ctx: Context, r: protocol.NoteRender, *, name: str) -> SoundRecord:
    """Render and keep the result as a new sound (origin "render")."""
    out = render_notes(ctx, r)
    if out.y.shape[-1] == 0:
        raise ParameterError("the render is empty")
    tempo = next((p.tempo_bpm for p in r.parts if p.tempo_bpm is not None), None)
    return ctx.store.sounds.add(
        out.y,
        sr=out.sr,
        name=name,
        origin="render",
        tempo_bpm=tempo,
        provenance=render_provenance(r),
    )


def export_stem(r: protocol.NoteRender) -> str:
    """A file name stem from the first part's name and the synth."""
    name = r.parts[0].name or "notes"
    safe = "".join(ch if ch.isalnum() or ch in " -_" else "_" for ch in name).strip() or "notes"
    how = r.synth if r.preset is None or r.synth == "soundfont" else f"{r.synth} {r.preset}"
    safe_how = "".join(ch if ch.isalnum() or ch in " -_" else "_" for ch in how)
    return f"{safe} - {safe_how}"[:100]


# --------------------------------------------------------------------------------------------
# MIDI files


def import_midi(data: bytes, *, name: str, request_id: int) -> protocol.MidiParts:
    """Read a .mid file into parts.

    Raises
    ------
    ParameterError
        If the bytes are not a MIDI file or it has no notes.
    LimitExceeded
        More notes than a part may carry.
    """
    parts = tr.from_midi(data, max_notes=protocol.MAX_PART_NOTES)
    if not any(len(p) for p in parts):
        raise ParameterError("the MIDI file has no notes")
    return protocol.MidiParts(
        request_id=request_id,
        name=name or "MIDI file",
        parts=[part_to_wire(p) for p in parts if len(p)],
        duration_s=max(p.end_s for p in parts),
    )


__all__ = [
    "MIX_GAIN",
    "TUNINGS",
    "RenderedNotes",
    "SourceAudio",
    "choices",
    "export_midi",
    "export_stem",
    "import_midi",
    "part_from_wire",
    "part_to_wire",
    "parts_from_wire",
    "render_notes",
    "render_provenance",
    "render_wav",
    "save_render",
    "source_audio",
    "source_spectrogram",
    "transcribe_options",
    "transcribe_source",
]
