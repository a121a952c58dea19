"""Notes as residue keeps them, and the clean-ups that make transcriptions usable.

A :class:`Note` is a MIDI key, a start and end in seconds, a velocity and an optional pitch-bend
curve (semitones relative to the key, at times relative to the note's start). A
:class:`NoteSequence` is one part: its notes sorted by start, a GM program and a drum flag.

The clean-ups answer the usual complaints about automatic transcription (too many short, quiet,
repeated or off-key notes): each is a pure function ``NoteSequence -> NoteSequence`` and
:func:`cleanup` applies those a :class:`CleanupOptions` asks for, in a fixed order.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np

from residue.dsp._validate import check_choice, check_float, check_int
from residue.errors import ParameterError

MIN_PITCH = 0
MAX_PITCH = 127
DEFAULT_VELOCITY = 100
MAX_DURATION_S = 24 * 3600.0
"""No note may start or end later than a day: a guard against absurd times in imported MIDI."""
TEMPO_RANGE_BPM = (30.0, 300.0)
DEFAULT_STEPS_PER_BEAT = 4
"""Sixteenth notes in 4/4."""

PITCH_CLASS_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_FLAT_NAMES = {"Db": 1, "Eb": 3, "Gb": 6, "Ab": 8, "Bb": 10, "Cb": 11, "Fb": 4, "E#": 5, "B#": 0}

SCALES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "harmonic_minor": (0, 2, 3, 5, 7, 8, 11),
    "melodic_minor": (0, 2, 3, 5, 7, 9, 11),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "locrian": (0, 1, 3, 5, 6, 8, 10),
    "major_pentatonic": (0, 2, 4, 7, 9),
    "minor_pentatonic": (0, 3, 5, 7, 10),
    "blues": (0, 3, 5, 6, 7, 10),
    "chromatic": tuple(range(12)),
}
"""Scales as pitch classes above the tonic."""

# Krumhansl-Kessler key profiles (Krumhansl 1990), tonic first.
_MAJOR_PROFILE = np.array(
    [6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88], dtype=np.float64
)
_MINOR_PROFILE = np.array(
    [6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17], dtype=np.float64
)


class Bend(NamedTuple):
    """One point of a pitch-bend curve: semitones off the note's key, at a time after its start."""

    time_s: float
    semitones: float


@dataclass(frozen=True, slots=True)
class Note:
    """One note.

    Attributes
    ----------
    pitch : int
        MIDI key in ``[0, 127]``.
    start_s, end_s : float
        Start and end in seconds, ``0 <= start_s < end_s``.
    velocity : int
        MIDI velocity in ``[1, 127]``.
    bends : tuple of Bend
        Pitch curve relative to ``pitch`` (semitones), at times relative to ``start_s``, sorted;
        empty for a steady note. Between points the curve is linear; outside it holds.
    """

    pitch: int
    start_s: float
    end_s: float
    velocity: int = DEFAULT_VELOCITY
    bends: tuple[Bend, ...] = ()

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return self.end_s - self.start_s

    def center_bend(self) -> float:
        """Median of the bend curve in semitones (0 for a steady note)."""
        if not self.bends:
            return 0.0
        return float(np.median([b.semitones for b in self.bends]))

    def pitch_curve(self, times_s: np.ndarray) -> np.ndarray:
        """Fractional MIDI pitch at ``times_s`` (seconds after the note's start), float64."""
        t = np.asarray(times_s, dtype=np.float64)
        if not self.bends:
            return np.full(t.shape, float(self.pitch))
        bt = np.array([b.time_s for b in self.bends])
        bs = np.array([b.semitones for b in self.bends])
        return np.asarray(self.pitch + np.interp(t, bt, bs), dtype=np.float64)


def make_note(
    pitch: int,
    start_s: float,
    end_s: float,
    *,
    velocity: int = DEFAULT_VELOCITY,
    bends: Iterable[tuple[float, float]] = (),
) -> Note:
    """Build a :class:`Note` after checking every field.

    Raises
    ------
    ParameterError
        If the pitch or velocity is out of MIDI range, a time is negative or not finite, the note
        does not end after it starts, or the bend curve is not finite or not sorted in time.

    Examples
    --------
    >>> make_note(60, 0.0, 0.5, velocity=90).duration_s
    0.5
    """
    pitch = check_int("pitch", pitch, lo=MIN_PITCH, hi=MAX_PITCH)
    start_s = check_float("start_s", start_s, lo=0.0, hi=MAX_DURATION_S)
    end_s = check_float("end_s", end_s, lo=0.0, hi=MAX_DURATION_S)
    if end_s <= start_s:
        raise ParameterError(f"end_s={end_s:g} must be after start_s={start_s:g}")
    velocity = check_int("velocity", velocity, lo=1, hi=127)
    curve = tuple(Bend(float(t), float(s)) for t, s in bends)
    times = np.array([b.time_s for b in curve], dtype=np.float64)
    values = np.array([b.semitones for b in curve], dtype=np.float64)
    if not (np.all(np.isfinite(times)) and np.all(np.isfinite(values))):
        raise ParameterError("bends must be finite")
    if times.size and (np.any(np.diff(times) < 0) or times[0] < 0):
        raise ParameterError("bend times must be non-negative and sorted")
    if values.size and float(np.max(np.abs(values))) > 48.0:
        raise ParameterError("bends must stay within 48 semitones of the note's key")
    return Note(pitch, start_s, end_s, velocity, curve)


class NoteArrays(NamedTuple):
    """Columns of a sequence: ``pitch`` int64, ``start_s``/``end_s`` float64, ``velocity`` int64."""

    pitch: np.ndarray
    start_s: np.ndarray
    end_s: np.ndarray
    velocity: np.ndarray


@dataclass(frozen=True)
class NoteSequence:
    """One part: notes sorted by (start, pitch), its GM program and whether it is a drum part.

    Attributes
    ----------
    notes : tuple of Note
        Sorted by start time, then pitch.
    program : int
        General MIDI program in ``[0, 127]`` (ignored for drums).
    is_drum : bool
        Whether pitches are GM drum keys (channel 10) rather than pitches.
    name : str
        A label ("bass", "basic-pitch", ...).
    tempo_bpm : float or None
        The tempo the notes were quantized to, or that was detected, if any.
    """

    notes: tuple[Note, ...] = ()
    program: int = 0
    is_drum: bool = False
    name: str = ""
    tempo_bpm: float | None = None

    def __len__(self) -> int:
        return len(self.notes)

    @property
    def end_s(self) -> float:
        """End of the last note (0 for an empty sequence)."""
        return max((n.end_s for n in self.notes), default=0.0)

    def arrays(self) -> NoteArrays:
        """Return the notes as columns (for vectorised work and evaluation)."""
        return NoteArrays(
            np.array([n.pitch for n in self.notes], dtype=np.int64),
            np.array([n.start_s for n in self.notes], dtype=np.float64),
            np.array([n.end_s for n in self.notes], dtype=np.float64),
            np.array([n.velocity for n in self.notes], dtype=np.int64),
        )

    def with_notes(self, notes: Iterable[Note]) -> NoteSequence:
        """Return the same part with other notes (sorted)."""
        return replace(self, notes=sort_notes(notes))


def sort_notes(notes: Iterable[Note]) -> tuple[Note, ...]:
    """Sort notes by start, then pitch, then end."""
    return tuple(sorted(notes, key=lambda n: (n.start_s, n.pitch, n.end_s)))


def sequence(
    notes: Iterable[Note],
    *,
    program: int = 0,
    is_drum: bool = False,
    name: str = "",
    tempo_bpm: float | None = None,
) -> NoteSequence:
    """Build a :class:`NoteSequence` with sorted notes and a checked program.

    Raises
    ------
    ParameterError
        If ``program`` is not in ``[0, 127]`` or ``tempo_bpm`` is out of range.
    """
    program = check_int("program", program, lo=0, hi=127)
    if tempo_bpm is not None:
        lo, hi = TEMPO_RANGE_BPM
        tempo_bpm = check_float("tempo_bpm", tempo_bpm, lo=lo, hi=hi)
    return NoteSequence(sort_notes(notes), program, bool(is_drum), name, tempo_bpm)


# --------------------------------------------------------------------------------------------
# Single clean-ups


def drop_short(seq: NoteSequence, *, min_duration_s: float) -> NoteSequence:
    """Remove notes shorter than ``min_duration_s`` seconds."""
    min_duration_s = check_float("min_duration_s", min_duration_s, lo=0.0, hi=60.0)
    return seq.with_notes(n for n in seq.notes if n.duration_s >= min_duration_s)


def drop_quiet(seq: NoteSequence, *, min_velocity: int) -> NoteSequence:
    """Remove notes whose velocity is below ``min_velocity``."""
    min_velocity = check_int("min_velocity", min_velocity, lo=1, hi=127)
    return seq.with_notes(n for n in seq.notes if n.velocity >= min_velocity)


def limit_pitch_range(seq: NoteSequence, *, low: int, high: int) -> NoteSequence:
    """Keep notes with ``low <= pitch <= high``."""
    low = check_int("low", low, lo=MIN_PITCH, hi=MAX_PITCH)
    high = check_int("high", high, lo=low, hi=MAX_PITCH)
    return seq.with_notes(n for n in seq.notes if low <= n.pitch <= high)


def merge_repeated(seq: NoteSequence, *, max_gap_s: float) -> NoteSequence:
    """Join notes of the same pitch separated by at most ``max_gap_s`` seconds (or overlapping).

    The joined note keeps the first start, the last end, the loudest velocity and the bend
    curves of both (the second shifted to the new start).
    """
    max_gap_s = check_float("max_gap_s", max_gap_s, lo=0.0, hi=10.0)
    by_pitch: dict[int, list[Note]] = {}
    for n in seq.notes:
        by_pitch.setdefault(n.pitch, []).append(n)
    merged: list[Note] = []
    for group in by_pitch.values():
        current = group[0]
        for n in group[1:]:
            if n.start_s - current.end_s <= max_gap_s:
                shift = n.start_s - current.start_s
                bends = current.bends + tuple(Bend(b.time_s + shift, b.semitones) for b in n.bends)
                if current.bends and not n.bends:
                    bends += (Bend(shift, 0.0),)
                elif n.bends and not current.bends:
                    bends = (Bend(0.0, 0.0), *bends)
                current = Note(
                    current.pitch,
                    current.start_s,
                    max(current.end_s, n.end_s),
                    max(current.velocity, n.velocity),
                    tuple(sorted(bends)),
                )
            else:
                merged.append(current)
                current = n
        merged.append(current)
    return seq.with_notes(merged)


def _salience(n: Note) -> float:
    # Loud and long notes matter most; the square root keeps long drones from winning everything.
    return n.velocity * math.sqrt(max(n.duration_s, 1e-3))


def limit_density(seq: NoteSequence, *, max_notes_per_s: float) -> NoteSequence:
    """Keep at most ``max_notes_per_s`` notes starting in each second, the most salient ones.

    Seconds are the buckets ``[k, k + 1)`` of onset times; salience is
    ``velocity * sqrt(duration)``. A fractional budget (0.5/s) is applied over buckets of
    ``1 / max_notes_per_s`` seconds holding one note each.
    """
    budget = check_float("max_notes_per_s", max_notes_per_s, lo=0.01, hi=1000.0)
    per_bucket = max(1, math.floor(budget))
    width = per_bucket / budget  # 1 s for whole budgets
    buckets: dict[int, list[Note]] = {}
    for n in seq.notes:
        buckets.setdefault(int(n.start_s // width), []).append(n)
    kept: list[Note] = []
    for group in buckets.values():
        group.sort(key=lambda n: (-_salience(n), n.start_s, n.pitch))
        kept += group[:per_bucket]
    return seq.with_notes(kept)


class Key(NamedTuple):
    """A key: tonic pitch class (0 = C) and scale name; ``score`` is the profile correlation."""

    tonic: int
    scale: str
    score: float = 1.0

    def __str__(self) -> str:
        return f"{PITCH_CLASS_NAMES[self.tonic]} {self.scale}"

    def pitch_classes(self) -> tuple[int, ...]:
        """Return the key's pitch classes, ascending from 0."""
        return tuple(sorted((self.tonic + d) % 12 for d in SCALES[self.scale]))


def parse_key(text: str) -> Key:
    """Parse ``"C major"``, ``"F# minor"``, ``"Bb dorian"`` or ``"A"`` (major).

    Raises
    ------
    ParameterError
        If the tonic or the scale is unknown.
    """
    parts = text.strip().replace("-", " ").split()
    if not parts or len(parts) > 2:
        raise ParameterError(f"key={text!r} must look like 'C major' or 'F# minor'")
    name = parts[0][:1].upper() + parts[0][1:]
    if name in PITCH_CLASS_NAMES:
        tonic = PITCH_CLASS_NAMES.index(name)
    elif name in _FLAT_NAMES:
        tonic = _FLAT_NAMES[name]
    else:
        raise ParameterError(f"key={text!r}: unknown tonic {parts[0]!r}")
    scale = parts[1].lower() if len(parts) == 2 else "major"
    check_choice("scale", scale, SCALES)
    return Key(tonic, scale)


def pitch_class_histogram(seq: NoteSequence) -> np.ndarray:
    """Total duration (s) of each pitch class, float64 ``(12,)``; drums give zeros."""
    hist = np.zeros(12, dtype=np.float64)
    if seq.is_drum:
        return hist
    for n in seq.notes:
        hist[n.pitch % 12] += n.duration_s * (n.velocity / 127.0)
    return hist


def detect_key(seq: NoteSequence) -> Key:
    """Estimate the key with the Krumhansl-Schmuckler profile correlation.

    Only major and (natural) minor keys are considered. An empty sequence gives C major with
    score 0.

    Examples
    --------
    >>> notes = [make_note(p, i * 0.5, i * 0.5 + 0.5) for i, p in enumerate([57, 60, 64, 69, 64])]
    >>> str(detect_key(sequence(notes)))
    'A minor'
    """
    hist = pitch_class_histogram(seq)
    if hist.sum() <= 0 or np.allclose(hist, hist[0]):
        return Key(0, "major", 0.0)
    best = Key(0, "major", -2.0)
    for scale, profile in (("major", _MAJOR_PROFILE), ("minor", _MINOR_PROFILE)):
        for tonic in range(12):
            r = float(np.corrcoef(hist, np.roll(profile, tonic))[0, 1])
            if r > best.score:
                best = Key(tonic, scale, r)
    return best


def snap_to_key(seq: NoteSequence, *, key: Key) -> NoteSequence:
    """Move every out-of-key note to the nearest in-key pitch.

    A tie (a note a semitone from two scale notes) goes the way the note's bend leans, else down.
    Bends stay relative to the new key, so the sounding curve moves with the note.
    """
    if seq.is_drum:
        return seq
    check_choice("scale", key.scale, SCALES)
    classes = set(key.pitch_classes())
    out: list[Note] = []
    for n in seq.notes:
        if n.pitch % 12 in classes:
            out.append(n)
            continue
        lean = n.center_bend()
        best: int | None = None
        for d in range(1, 7):
            up, down = n.pitch + d, n.pitch - d
            up_ok = up % 12 in classes and up <= MAX_PITCH
            down_ok = down % 12 in classes and down >= MIN_PITCH
            if up_ok and down_ok:
                best = up if lean > 0 else down
            elif up_ok or down_ok:
                best = up if up_ok else down
            if best is not None:
                break
        out.append(n if best is None else replace(n, pitch=best))
    return seq.with_notes(out)


# --------------------------------------------------------------------------------------------
# Tempo and quantization


class Grid(NamedTuple):
    """A metrical grid: ``tempo_bpm``, ``steps_per_beat`` and the time of beat 0 (``offset_s``)."""

    tempo_bpm: float
    steps_per_beat: int
    offset_s: float

    @property
    def step_s(self) -> float:
        """Seconds between grid lines."""
        return 60.0 / self.tempo_bpm / self.steps_per_beat


def _onset_envelope(seq: NoteSequence, *, fps: float) -> np.ndarray:
    n_frames = math.ceil(seq.end_s * fps) + 8
    env = np.zeros(n_frames, dtype=np.float64)
    for n in seq.notes:
        env[round(n.start_s * fps)] += n.velocity / 127.0
    # A short smoothing so slightly early/late onsets still add up.
    kernel = np.array([0.25, 0.5, 1.0, 0.5, 0.25])
    return np.convolve(env, kernel, mode="same")


def estimate_tempo(seq: NoteSequence, *, prior_bpm: float = 120.0) -> float:
    """Estimate the tempo (BPM) from note onsets by autocorrelation with a log-normal prior.

    The onsets become an impulse train at 100 frames/s; its autocorrelation is weighted by a
    log-normal prior around ``prior_bpm`` (one octave wide, as librosa's tempo estimator does)
    and the best lag in 30-300 BPM wins, refined by parabolic interpolation. Fewer than 4 notes
    give ``prior_bpm``.
    """
    prior_bpm = check_float("prior_bpm", prior_bpm, lo=TEMPO_RANGE_BPM[0], hi=TEMPO_RANGE_BPM[1])
    if len(seq.notes) < 4:
        return prior_bpm
    fps = 100.0
    env = _onset_envelope(seq, fps=fps)
    env = env - env.mean()
    n = env.size
    spec = np.fft.rfft(env, 2 * n)
    ac = np.fft.irfft(np.abs(spec) ** 2)[:n]
    lo_lag = math.floor(60.0 * fps / TEMPO_RANGE_BPM[1])
    hi_lag = min(n - 2, math.ceil(60.0 * fps / TEMPO_RANGE_BPM[0]))
    if hi_lag <= lo_lag + 1:
        return prior_bpm
    lags = np.arange(lo_lag, hi_lag + 1)
    bpm = 60.0 * fps / lags
    weight = np.exp(-0.5 * (np.log2(bpm / prior_bpm)) ** 2)
    score = ac[lags] * weight
    i = int(np.argmax(score))
    lag = float(lags[i])
    if 0 < i < len(lags) - 1:
        a, b, c = score[i - 1], score[i], score[i + 1]
        denom = a - 2 * b + c
        if denom < 0:
            lag += 0.5 * (a - c) / denom
    return float(np.clip(60.0 * fps / lag, *TEMPO_RANGE_BPM))


def estimate_grid(
    seq: NoteSequence,
    *,
    tempo_bpm: float | None = None,
    steps_per_beat: int = DEFAULT_STEPS_PER_BEAT,
    offset_s: float | None = None,
) -> Grid:
    """Return the grid to quantize to: a given or estimated tempo, and a phase from the onsets.

    The phase (time of beat 0, folded into the first step) is the velocity-weighted circular
    mean of onset phases on the step grid, unless ``offset_s`` is given.
    """
    steps_per_beat = check_int("steps_per_beat", steps_per_beat, lo=1, hi=32)
    if tempo_bpm is None:
        tempo_bpm = estimate_tempo(seq)
    tempo_bpm = check_float("tempo_bpm", tempo_bpm, lo=TEMPO_RANGE_BPM[0], hi=TEMPO_RANGE_BPM[1])
    step = 60.0 / tempo_bpm / steps_per_beat
    if offset_s is None:
        if seq.notes:
            arr = seq.arrays()
            angle = 2 * np.pi * arr.start_s / step
            z = np.sum(arr.velocity * np.exp(1j * angle))
            offset_s = float((np.angle(z) % (2 * np.pi)) / (2 * np.pi) * step) if abs(z) else 0.0
        else:
            offset_s = 0.0
    offset_s = check_float("offset_s", offset_s, lo=0.0, hi=MAX_DURATION_S)
    return Grid(tempo_bpm, steps_per_beat, offset_s % step)


def quantize(seq: NoteSequence, *, grid: Grid, strength: float = 1.0) -> NoteSequence:
    """Move note starts and ends toward the nearest grid line.

    ``strength`` 1 snaps exactly, 0.5 moves half-way. Every note keeps at least one grid step
    of length when fully snapped; a note ending after the next note of the same pitch starts is
    shortened to that start (no overlapping same-pitch notes). Bend curves keep their times.

    Raises
    ------
    ParameterError
        If ``strength`` is not in ``[0, 1]``.
    """
    strength = check_float("strength", strength, lo=0.0, hi=1.0)
    step = grid.step_s

    def snap(t: float) -> float:
        target = grid.offset_s + round((t - grid.offset_s) / step) * step
        if target < 0:
            target += step
        return t + strength * (target - t)

    moved: list[Note] = []
    for n in seq.notes:
        start = snap(n.start_s)
        end = snap(n.end_s)
        min_len = max(step * strength, 1e-3)
        if end - start < min_len:
            end = start + min_len
        moved.append(replace(n, start_s=start, end_s=end))
    moved.sort(key=lambda n: (n.pitch, n.start_s, -n.velocity))
    out: list[Note] = []
    for n in moved:
        prev = out[-1] if out else None
        if prev is not None and prev.pitch == n.pitch:
            if n.start_s <= prev.start_s + 1e-9:
                # Two notes snapped onto one line: one note, the louder's velocity, the longer end.
                out[-1] = replace(prev, end_s=max(prev.end_s, n.end_s))
                continue
            if prev.end_s > n.start_s:
                out[-1] = replace(prev, end_s=n.start_s)
        out.append(n)
    return replace(seq.with_notes(out), tempo_bpm=grid.tempo_bpm)


# --------------------------------------------------------------------------------------------
# All of them


@dataclass(frozen=True, kw_only=True)
class CleanupOptions:
    """Which clean-ups :func:`cleanup` applies; ``None`` leaves that step out.

    Attributes
    ----------
    min_duration_s : float or None
        Drop notes shorter than this.
    min_velocity : int or None
        Drop notes quieter than this.
    pitch_range : (int, int) or None
        Keep only pitches in this inclusive range.
    merge_gap_s : float or None
        Join same-pitch notes separated by at most this gap.
    key : str or None
        Snap to this key (``"C major"``), or ``"auto"`` to detect it first.
    quantize : bool
        Quantize starts and ends to a grid.
    tempo_bpm : float or None
        The grid's tempo; ``None`` estimates it (from the audio if the caller has it, else the
        notes).
    steps_per_beat : int
        Grid lines per beat (4 = sixteenths).
    grid_offset_s : float or None
        Time of a grid line (beat 0); ``None`` estimates the phase from the onsets.
    quantize_strength : float
        1 snaps exactly; less moves part of the way.
    max_notes_per_s : float or None
        Note budget: the most salient notes per second.
    """

    min_duration_s: float | None = None
    min_velocity: int | None = None
    pitch_range: tuple[int, int] | None = None
    merge_gap_s: float | None = None
    key: str | None = None
    quantize: bool = False
    tempo_bpm: float | None = None
    steps_per_beat: int = DEFAULT_STEPS_PER_BEAT
    grid_offset_s: float | None = None
    quantize_strength: float = 1.0
    max_notes_per_s: float | None = None


class CleanupReport(NamedTuple):
    """What :func:`cleanup` did: the notes, the key and grid it used (if any)."""

    notes: NoteSequence
    key: Key | None
    grid: Grid | None


def cleanup(
    seq: NoteSequence, *, options: CleanupOptions, tempo_hint_bpm: float | None = None
) -> CleanupReport:
    """Apply the clean-ups ``options`` asks for.

    The order is fixed: velocity, pitch range, merge, minimum length, key, quantize, merge again
    (quantizing and key snapping make new neighbours), budget. Drum parts skip the key.

    Parameters
    ----------
    seq : NoteSequence
        The notes.
    options : CleanupOptions
        What to do.
    tempo_hint_bpm : float or None
        A tempo measured elsewhere (from the audio); used when quantizing without
        ``options.tempo_bpm``.

    Returns
    -------
    CleanupReport
        The cleaned notes, and the key and grid used (``None`` when not used).

    Examples
    --------
    >>> seq = sequence([make_note(60, 0.0, 0.02), make_note(62, 0.1, 0.6)])
    >>> len(cleanup(seq, options=CleanupOptions(min_duration_s=0.05)).notes)
    1
    """
    key: Key | None = None
    grid: Grid | None = None
    if options.min_velocity is not None:
        seq = drop_quiet(seq, min_velocity=options.min_velocity)
    if options.pitch_range is not None:
        seq = limit_pitch_range(seq, low=options.pitch_range[0], high=options.pitch_range[1])
    if options.merge_gap_s is not None:
        seq = merge_repeated(seq, max_gap_s=options.merge_gap_s)
    if options.min_duration_s is not None:
        seq = drop_short(seq, min_duration_s=options.min_duration_s)
    if options.key is not None and not seq.is_drum:
        key = detect_key(seq) if options.key.strip().lower() == "auto" else parse_key(options.key)
        seq = snap_to_key(seq, key=key)
    if options.quantize and seq.notes:
        tempo = options.tempo_bpm if options.tempo_bpm is not None else tempo_hint_bpm
        grid = estimate_grid(
            seq, tempo_bpm=tempo, steps_per_beat=options.steps_per_beat,
            offset_s=options.grid_offset_s,
        )
        seq = quantize(seq, grid=grid, strength=options.quantize_strength)
    if options.merge_gap_s is not None and (key is not None or grid is not None):
        seq = merge_repeated(seq, max_gap_s=options.merge_gap_s)
    if options.max_notes_per_s is not None:
        seq = limit_density(seq, max_notes_per_s=options.max_notes_per_s)
    return CleanupReport(seq, key, grid)


def notes_from_arrays(
    pitch: Sequence[int] | np.ndarray,
    start_s: Sequence[float] | np.ndarray,
    end_s: Sequence[float] | np.ndarray,
    velocity: Sequence[int] | np.ndarray,
    *,
    bends: Sequence[Sequence[tuple[float, float]]] | None = None,
) -> tuple[Note, ...]:
    """Build notes from columns, each checked (see :func:`make_note`)."""
    n = len(pitch)
    if not (len(start_s) == len(end_s) == len(velocity) == n):
        raise ParameterError("pitch, start_s, end_s and velocity must have the same length")
    if bends is not None and len(bends) != n:
        raise ParameterError("bends must have one curve per note")
    return tuple(
        make_note(
            int(pitch[i]),
            float(start_s[i]),
            float(end_s[i]),
            velocity=int(velocity[i]),
            bends=() if bends is None else bends[i],
        )
        for i in range(n)
    )
