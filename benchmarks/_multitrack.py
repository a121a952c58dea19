"""A synthetic multitrack set: General MIDI pieces rendered part by part with FluidSynth.

Each piece has four parts written with pretty_midi from a seeded generator: ``drums`` (GM
channel 10), ``bass``, ``other`` (chords) and ``vocals`` (a melody on a voice-like patch). Every
part is rendered on its own with FluidSynth and a GM SoundFont, so the true stems are known; the
mix is their sum. The MIDI files are kept beside the renders (ground truth for transcription).

Renders are cached under ``benchmarks/.cache/multitrack/<version>/`` (gitignored); delete the
folder to rebuild. Needs the ``fluidsynth`` command and a GM SoundFont (Debian's
``fluidsynth`` and ``fluid-soundfont-gm`` packages; ``make system`` installs them).

    from _multitrack import build_set
    pieces = build_set(n_pieces=3, duration_s=20.0)
    pieces[0].mix.shape, list(pieces[0].stems)   # (2, n), ['drums', 'bass', 'other', 'vocals']
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pretty_midi
import soundfile as sf

CACHE = Path(__file__).resolve().parent / ".cache" / "multitrack"
VERSION = "v1"
STEMS = ("drums", "bass", "other", "vocals")
LEVELS_DB = {"drums": -21.0, "bass": -22.0, "other": -24.0, "vocals": -21.0}
"""RMS level of each stem in the mix, dBFS (before the mix is kept under full scale)."""
FONTS = (
    Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
    Path("/usr/share/sounds/sf2/default-GM.sf2"),
    Path("/usr/share/sounds/sf2/TimGM6mb.sf2"),
)


class Style(NamedTuple):
    """How a piece is written: tempo, key, GM programs (0-based) and drum pattern."""

    name: str
    tempo: float
    tonic: int
    minor: bool
    chords: int
    bass: int
    lead: int
    kit: str


STYLES = (
    Style("pop", 100.0, 60, False, 0, 33, 53, "rock"),  # piano, finger bass, voice oohs
    Style("funk", 112.0, 57, True, 4, 38, 85, "funk"),  # e-piano, synth bass, voice lead
    Style("ballad", 76.0, 62, False, 48, 32, 53, "ballad"),  # strings, acoustic bass, oohs
    Style("house", 124.0, 53, True, 81, 39, 52, "four"),  # saw lead chords, synth bass, choir
)
MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
KICK, SNARE, CLOSED_HAT, OPEN_HAT, RIDE, CLAP, TOM = 36, 38, 42, 46, 51, 39, 45


@dataclass(frozen=True)
class Piece:
    """One rendered piece: float32 (2, n) stems that sum to the mix."""

    name: str
    sr: int
    mix: np.ndarray
    stems: dict[str, np.ndarray]
    midi: dict[str, Path]
    """The MIDI file of each part (ground truth for transcription)."""


def soundfont() -> Path:
    """The first GM SoundFont found (FluidR3 preferred)."""
    for f in FONTS:
        if f.is_file():
            return f
    raise SystemExit("no General MIDI SoundFont: apt-get install fluid-soundfont-gm")


def _scale_note(tonic: int, scale: tuple[int, ...], degree: int) -> int:
    octave, step = divmod(degree, len(scale))
    return tonic + 12 * octave + scale[step]


def compose(
    style: Style, *, duration_s: float, rng: np.random.Generator
) -> dict[str, pretty_midi.PrettyMIDI]:
    """Write the four parts of one piece as separate MIDI files (same tempo, same length)."""
    tempo, tonic, minor, kit = style.tempo, style.tonic, style.minor, style.kit
    scale = MINOR if minor else MAJOR
    beat = 60.0 / tempo
    bar = 4 * beat
    n_bars = max(2, int(np.ceil(duration_s / bar)))
    progressions = ([0, 4, 5, 3], [0, 5, 3, 4], [0, 3, 4, 4], [5, 3, 0, 4], [0, 6, 5, 4])
    prog = progressions[int(rng.integers(len(progressions)))]

    def part(
        program: int, *, drum: bool = False
    ) -> tuple[pretty_midi.PrettyMIDI, pretty_midi.Instrument]:
        pm = pretty_midi.PrettyMIDI(initial_tempo=tempo)
        inst = pretty_midi.Instrument(program=program, is_drum=drum)
        pm.instruments.append(inst)
        return pm, inst

    def note(
        inst: pretty_midi.Instrument, pitch: int, start: float, length: float, vel: int
    ) -> None:
        end = min(start + length, n_bars * bar)
        if end > start:
            inst.notes.append(pretty_midi.Note(int(np.clip(vel, 1, 127)), int(pitch), start, end))

    drums_pm, drums = part(0, drum=True)
    bass_pm, bass = part(style.bass)
    chords_pm, chords = part(style.chords)
    lead_pm, lead = part(style.lead)

    for b in range(n_bars):
        t0 = b * bar
        fill = b % 4 == 3
        # Drums
        for s in range(16):
            t = t0 + s * beat / 4
            v = int(rng.integers(-8, 9))
            if kit == "four":
                if s % 4 == 0:
                    note(drums, KICK, t, 0.1, 110 + v)
                if s % 8 == 4:
                    note(drums, CLAP, t, 0.1, 100 + v)
                if s % 4 == 2:
                    note(drums, OPEN_HAT, t, 0.1, 80 + v)
            else:
                kick_steps = {"rock": (0, 8, 10), "funk": (0, 3, 10, 14), "ballad": (0, 8)}[kit]
                if s in kick_steps:
                    note(drums, KICK, t, 0.1, 105 + v)
                if s in (4, 12):
                    note(drums, SNARE, t, 0.1, (85 if kit == "ballad" else 105) + v)
                hat = RIDE if kit == "ballad" else CLOSED_HAT
                step = 4 if kit == "ballad" else 2
                if s % step == 0 and not (fill and s >= 12):
                    note(drums, hat, t, 0.1, 70 + v + (10 if s % 4 == 0 else 0))
                if fill and s >= 12 and s % 2 == 0:
                    note(drums, TOM, t, 0.1, 95 + v)
        # Harmony
        degree = prog[b % len(prog)]
        root = _scale_note(tonic - 12, scale, degree)
        triad = [_scale_note(tonic, scale, degree + k) for k in (0, 2, 4)]
        if kit == "funk":
            for s in (0, 3, 6, 10, 12):
                for p in triad:
                    note(chords, p, t0 + s * beat / 4, beat / 4, 70 + int(rng.integers(-6, 7)))
        elif kit == "four":
            for s in (2, 6, 10, 14):
                for p in triad:
                    note(chords, p, t0 + s * beat / 4, beat / 2, 72 + int(rng.integers(-6, 7)))
        else:
            for p in triad:
                note(chords, p, t0, bar * 0.98, 62 + int(rng.integers(-5, 6)))
        # Bass
        if kit == "ballad":
            steps = [(0, 2), (2, 2)]
        elif kit == "four":
            steps = [(s, 0.5) for s in (0.5, 1.5, 2.5, 3.5)]
        else:
            steps = [(s * 0.5, 0.45) for s in range(8)]
        for i, (pos, length) in enumerate(steps):
            pitch = root - 12 if root >= 48 else root
            if kit == "funk" and i % 4 == 3:
                pitch += 12
            if kit != "four" and i == len(steps) - 1 and rng.random() < 0.5:
                pitch = _scale_note(tonic - 24, scale, degree + 4)
            note(bass, pitch, t0 + pos * beat, length * beat * 0.95, 95 + int(rng.integers(-8, 9)))
        # Melody: a random walk on the scale, phrased in two-bar halves with rests.
        if b % 2 == 0:
            pos = 0.0
            deg = degree + int(rng.integers(0, 5)) + 7
            while pos < 7.0:
                length = float(rng.choice([0.5, 1.0, 1.0, 1.5, 2.0]))
                if rng.random() < 0.15:
                    pos += length
                    continue
                deg += int(rng.integers(-2, 3))
                deg = int(np.clip(deg, 5, 15))
                note(
                    lead,
                    _scale_note(tonic, scale, deg),
                    t0 + pos * beat,
                    length * beat * 0.9,
                    90 + int(rng.integers(-10, 11)),
                )
                pos += length
    return {"drums": drums_pm, "bass": bass_pm, "other": chords_pm, "vocals": lead_pm}


def render(midi: Path, wav: Path, *, sr: int, font: Path) -> None:
    """Render one MIDI file with FluidSynth (stereo, reverb and chorus as the font sets)."""
    if shutil.which("fluidsynth") is None:
        raise SystemExit("fluidsynth is not installed: apt-get install fluidsynth")
    subprocess.run(
        [
            "fluidsynth",
            "-ni",
            "-q",
            "-g",
            "0.6",
            "-F",
            str(wav),
            "-r",
            str(sr),
            str(font),
            str(midi),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _read(path: Path, n: int) -> np.ndarray:
    y, _ = sf.read(path, dtype="float32", always_2d=True)
    y = y.T
    if y.shape[0] == 1:
        y = np.repeat(y, 2, axis=0)
    out = np.zeros((2, n), dtype=np.float32)
    m = min(n, y.shape[1])
    out[:, :m] = y[:2, :m]
    return out


def build_set(
    *,
    n_pieces: int = 3,
    duration_s: float = 20.0,
    sr: int = 44100,
    seed: int = 0,
    cache: Path = CACHE,
) -> list[Piece]:
    """Build (or read from the cache) ``n_pieces`` pieces of about ``duration_s`` seconds."""
    font = soundfont()
    rng = np.random.default_rng(seed)
    pieces = []
    for i in range(n_pieces):
        style = STYLES[i % len(STYLES)]
        name = f"{i:02d}-{style.name}"
        folder = cache / f"{VERSION}-s{seed}-d{duration_s:g}-r{sr}-{font.stem}" / name
        meta = folder / "piece.json"
        piece_rng = np.random.default_rng(rng.integers(2**32))
        n = round(duration_s * sr)
        if not meta.is_file():
            folder.mkdir(parents=True, exist_ok=True)
            parts = compose(style, duration_s=duration_s, rng=piece_rng)
            for stem, pm in parts.items():
                pm.write(str(folder / f"{stem}.mid"))
                render(folder / f"{stem}.mid", folder / f"{stem}.wav", sr=sr, font=font)
            meta.write_text(json.dumps({"style": style.name, "sr": sr, "n": n, "font": str(font)}))
        stems = {stem: _read(folder / f"{stem}.wav", n) for stem in STEMS}
        # Balance the parts as a mix engineer would: fixed RMS per stem.
        for stem, y in stems.items():
            rms = float(np.sqrt(np.mean(y.astype(np.float64) ** 2)))
            if rms > 0:
                stems[stem] = (y * (10 ** (LEVELS_DB[stem] / 20) / rms)).astype(np.float32)
        mix = np.sum(list(stems.values()), axis=0).astype(np.float32)
        peak = float(np.abs(mix).max())
        if peak > 0.99:  # keep the mix under full scale; stems scale with it
            g = 0.99 / peak
            stems = {k: v * g for k, v in stems.items()}
            mix = mix * g
        pieces.append(Piece(name, sr, mix, stems, {stem: folder / f"{stem}.mid" for stem in STEMS}))
    return pieces
