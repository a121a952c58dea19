"""Sounds: uploads, the demo loops, playback regions and spectrogram tiles."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePath

import librosa
import numpy as np

from residue import protocol
from residue.dsp import demo, spectral
from residue.errors import ParameterError
from residue.services.audio_io import decode_audio
from residue.services.context import Context
from residue.store.sounds import SoundRecord

log = logging.getLogger(__name__)

#: Frames per spectrogram tile: small enough that the first tile is on screen at once.
TILE_FRAMES = 128


def sound_info(record: SoundRecord) -> protocol.SoundInfo:
    """The wire view of a stored sound."""
    return protocol.SoundInfo(
        sound_id=record.sound_id,
        name=record.name,
        sample_rate=record.sample_rate,
        channels=record.channels,
        n_samples=record.n_samples,
        duration_s=record.duration_s,
        tempo_bpm=record.tempo_bpm,
        origin=record.origin,
        created_at=record.created_at,
    )


def clean_name(name: str) -> str:
    """A display name from an uploaded file name: no folders, no control characters."""
    base = PurePath(name.replace("\\", "/")).name
    base = "".join(ch for ch in base if ch.isprintable()).strip()
    if base.strip(".") == "":  # ".", "..": names of folders, not of a sound
        base = ""
    return base[:120] or "untitled"


def estimate_tempo(y: np.ndarray, *, sr: int) -> float | None:
    """Tempo in BPM of (channels, n) audio, or None when there is no clear beat."""
    mono = np.mean(y, axis=0)
    if mono.shape[-1] < sr or float(np.max(np.abs(mono))) < 1e-4:
        return None
    onset = librosa.onset.onset_strength(y=mono, sr=sr)
    tempo = librosa.feature.tempo(onset_envelope=onset, sr=sr, aggregate=np.median)
    bpm = float(np.atleast_1d(tempo)[0])
    if not 40.0 <= bpm <= 250.0:
        return None
    return loop_tempo(bpm, duration_s=mono.shape[-1] / sr)


def loop_tempo(bpm: float, *, duration_s: float) -> float:
    """Refine a detected tempo with the sound's length.

    Loops are cut on bar lines, so when the sound lasts a whole number of bars at a tempo within
    2% of the detected one, that tempo is exact (a 4.000 s loop detected at 120.2 BPM is two bars
    at 120). Otherwise a tempo within 0.25 BPM of a whole number is taken as that number.
    """
    bars = round(duration_s * bpm / 240.0)
    if bars >= 1:
        exact = bars * 240.0 / duration_s
        if abs(exact - bpm) <= 0.02 * bpm:
            return round(exact, 3)
    whole = round(bpm)
    return float(whole) if abs(whole - bpm) <= 0.25 else round(bpm, 2)


def ingest(ctx: Context, data: bytes, *, name: str) -> SoundRecord:
    """Decode, check and store an uploaded file; returns the new sound."""
    display = clean_name(name)
    audio = decode_audio(data, settings=ctx.settings, name=display)
    provenance = {"upload": display, "format": audio.format, "source_sample_rate": audio.source_sr}
    return ctx.store.sounds.add(
        audio.y,
        sr=audio.sr,
        name=display,
        origin="upload",
        tempo_bpm=estimate_tempo(audio.y, sr=audio.sr),
        provenance=provenance,
    )


def ensure_demo(ctx: Context) -> list[SoundRecord]:
    """Create the demo loops once, so that a new studio is never empty."""
    made = []
    loops = None
    for name in ("drums", "bass", "chords", "pad"):
        if ctx.store.sounds.find_by_origin_name("demo", f"demo {name}") is not None:
            continue
        if loops is None:
            loops = demo.demo_loops()
        made.append(
            ctx.store.sounds.add(
                loops[name],
                sr=44100,
                name=f"demo {name}",
                origin="demo",
                tempo_bpm=demo.DEMO_BPM,
                provenance={"demo": name, "bpm": demo.DEMO_BPM},
            )
        )
    return made


def load_audio(ctx: Context, sound_id: str) -> tuple[SoundRecord, np.ndarray]:
    """The sound's record and its float32 (channels, n) samples (cached)."""
    record = ctx.store.sounds.get(sound_id)
    y = ctx.audio.get_or_make(sound_id, lambda: ctx.store.sounds.load(sound_id)[0])
    return record, y


@dataclass(frozen=True)
class Region:
    """A span of a sound in samples."""

    start: int
    stop: int


def region(record: SoundRecord, *, start_s: float | None, end_s: float | None) -> Region:
    """Turn optional seconds into a checked sample span of ``record``."""
    sr, n = record.sample_rate, record.n_samples
    start = 0 if start_s is None else round(start_s * sr)
    stop = n if end_s is None else min(round(end_s * sr), n)
    if start >= n:
        raise ParameterError(f"start_s={start_s} is past the end of the sound ({n / sr:.2f} s)")
    if stop - start < round(0.1 * sr):
        raise ParameterError(f"the region {start / sr:.3f}-{stop / sr:.3f} s is shorter than 0.1 s")
    return Region(start, stop)


def spectrogram_tiles(
    ctx: Context, sound_id: str, *, request_id: int
) -> Iterator[protocol.SpectrogramInfo | protocol.SpectrogramTile]:
    """The display spectrogram of a sound: its geometry, then uint8 tiles left to right."""
    record, y = load_audio(ctx, sound_id)
    sr = record.sample_rate
    S = np.abs(spectral.stft(y, device=ctx.settings.device)).mean(axis=0)
    rows = spectral.log_frequency_rows(S, sr=sr, n_fft=spectral.N_FFT)
    img = spectral.to_db_uint8(rows)
    n_rows, n_frames = img.shape
    yield protocol.SpectrogramInfo(
        request_id=request_id,
        sound_id=sound_id,
        n_rows=n_rows,
        n_frames=n_frames,
        hop_s=spectral.HOP_LENGTH / sr,
        f_min_hz=spectral.F_MIN_HZ,
        f_max_hz=sr / 2,
        top_db=spectral.TOP_DB,
    )
    for start in range(0, n_frames, TILE_FRAMES):
        tile = np.ascontiguousarray(img[:, start : start + TILE_FRAMES])
        yield protocol.SpectrogramTile(
            request_id=request_id,
            frame_start=start,
            n_frames=tile.shape[1],
            n_rows=n_rows,
            data=tile.tobytes(),
            last=start + TILE_FRAMES >= n_frames,
        )
