"""Demo loops: four small synthesised stereo loops, so that a new studio is never empty.

Drums, bass, chords and a pad play a two-bar house groove in A minor (Am - F - C - G, one chord
per half bar). Every voice is written here with numpy alone: band-limited oscillators by
additive synthesis (no aliasing, and a "filter" is a weighting of harmonics that may move in
time), noise shaped in the frequency domain, and envelopes that start and end at zero.

Each loop is exactly ``bars`` bars long in samples. Notes ringing past the loop's end are
folded back onto its start, as if the loop had been playing before, so the loop point never
clicks.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from residue.dsp._validate import check_float, check_int

#: Tempo of the demo loops.
DEMO_BPM = 120.0
#: Peak level every loop (and the mix) is normalised to.
DEMO_PEAK_DBFS = -3.0
#: Names of the loops, in the order of :func:`demo_loops`.
DEMO_NAMES = ("drums", "bass", "chords", "pad")
#: Relative levels of the loops in :func:`demo_mix`.
MIX_GAINS = {"drums": 1.0, "bass": 0.75, "chords": 0.6, "pad": 0.33}

STEPS_PER_BAR = 16  # sixteenth notes
STEPS_PER_CHORD = 8  # half a bar

# The progression as MIDI notes: bass root, stab voicing, pad voicing.
_BASS_ROOTS = (33, 29, 36, 31)  # A1 F1 C2 G1
_STAB_CHORDS = ((57, 60, 64, 69), (57, 60, 65, 69), (55, 60, 64, 67), (55, 59, 62, 67))
_PAD_CHORDS = ((57, 64, 72, 76), (57, 65, 72, 77), (55, 64, 72, 76), (55, 62, 71, 74))


class _Grid(NamedTuple):
    """Where the sixteenth-note steps of a loop fall, in samples."""

    sr: int
    n: int  # loop length in samples
    steps: int  # sixteenths in the loop

    def at(self, step: float) -> int:
        """Sample index of ``step`` (fractional steps allowed)."""
        return round(step * self.n / self.steps)

    def length(self, steps: float) -> int:
        """Return the number of samples in ``steps`` sixteenths."""
        return max(1, round(steps * self.n / self.steps))


def loop_length(*, sr: int, bpm: float, bars: int) -> int:
    """Return the number of samples in ``bars`` bars of 4/4 at ``bpm``.

    Examples
    --------
    >>> loop_length(sr=44100, bpm=120.0, bars=2)
    176400
    """
    return round(bars * 4 * 60.0 / bpm * sr)


def demo_loops(
    *, sr: int = 44100, bpm: float = DEMO_BPM, bars: int = 2, seed: int = 0
) -> dict[str, np.ndarray]:
    """Render the four demo loops.

    Parameters
    ----------
    sr : int
        Sample rate in Hz, 8000 to 192000.
    bpm : float
        Tempo, 40 to 300.
    bars : int
        Length in bars of 4/4, 1 to 16; the chords cycle every 2 bars.
    seed : int
        Seed of the small random parts (noise, velocities, phases); the same seed gives
        identical arrays.

    Returns
    -------
    dict of str -> np.ndarray [shape=(2, n), dtype=float32]
        "drums", "bass", "chords" and "pad", each ``n = round(bars * 4 * 60 / bpm * sr)``
        samples long and peaking at -3 dBFS.

    Raises
    ------
    ParameterError
        If an argument is out of range.

    Examples
    --------
    >>> loops = demo_loops(sr=8000, bars=1)
    >>> sorted(loops), loops["bass"].shape
    (['bass', 'chords', 'drums', 'pad'], (2, 16000))
    """
    grid = _grid(sr=sr, bpm=bpm, bars=bars)
    seed = check_int("seed", seed, lo=0)
    renders = {"drums": _drums, "bass": _bass, "chords": _chords, "pad": _pad}
    return {
        name: _normalise(renders[name](grid, np.random.default_rng([i, seed])))
        for i, name in enumerate(DEMO_NAMES)
    }


def demo_mix(*, sr: int = 44100, bpm: float = DEMO_BPM, bars: int = 2, seed: int = 0) -> np.ndarray:
    """Render the four demo loops playing together (the "full loop").

    Parameters are those of :func:`demo_loops`.

    Returns
    -------
    np.ndarray [shape=(2, n), dtype=float32]
        The loops summed with the levels of :data:`MIX_GAINS`, peaking at -3 dBFS.

    Examples
    --------
    >>> demo_mix(sr=8000, bars=1).shape
    (2, 16000)
    """
    return mix_loops(demo_loops(sr=sr, bpm=bpm, bars=bars, seed=seed))


def mix_loops(loops: dict[str, np.ndarray]) -> np.ndarray:
    """Sum loops from :func:`demo_loops` at the levels of :data:`MIX_GAINS` and normalise."""
    total = sum(MIX_GAINS.get(name, 1.0) * y.astype(np.float64) for name, y in loops.items())
    return _normalise(np.asarray(total))


# -- building blocks ---------------------------------------------------------------------------


def _grid(*, sr: int, bpm: float, bars: int) -> _Grid:
    sr = check_int("sr", sr, lo=8000, hi=192000)
    bpm = check_float("bpm", bpm, lo=40.0, hi=300.0)
    bars = check_int("bars", bars, lo=1, hi=16)
    return _Grid(sr=sr, n=loop_length(sr=sr, bpm=bpm, bars=bars), steps=bars * STEPS_PER_BAR)


def _normalise(y: np.ndarray) -> np.ndarray:
    peak = float(np.max(np.abs(y)))
    gain = 10.0 ** (DEMO_PEAK_DBFS / 20.0) / peak if peak > 0 else 0.0
    return np.ascontiguousarray(y * gain, dtype=np.float32)


def _midi_hz(note: float) -> float:
    return float(440.0 * 2.0 ** ((note - 69.0) / 12.0))


def _pan(x: np.ndarray, pan: float) -> np.ndarray:
    """Place mono ``x`` in stereo; ``pan`` in [-1, 1], constant power."""
    theta = (pan + 1.0) * np.pi / 4.0
    return np.stack([np.cos(theta) * x, np.sin(theta) * x])


def _place(out: np.ndarray, sound: np.ndarray, start: int) -> None:
    """Add ``sound`` (2, L) into the loop ``out`` (2, n) at ``start``, folding past the end."""
    n = out.shape[-1]
    pos, offset, remaining = start % n, 0, sound.shape[-1]
    while remaining > 0:
        chunk = min(n - pos, remaining)
        out[:, pos : pos + chunk] += sound[:, offset : offset + chunk]
        offset += chunk
        remaining -= chunk
        pos = 0


def _envelope(
    length: int, *, sr: int, attack_s: float, decay_s: float | None, release_s: float
) -> np.ndarray:
    """Attack (raised cosine), exponential decay (or sustain), release to exactly zero."""
    t = np.arange(length) / sr
    env = np.ones(length) if decay_s is None else np.exp(-t / decay_s)
    n_att = min(length, max(1, round(attack_s * sr)))
    env[:n_att] *= 0.5 - 0.5 * np.cos(np.pi * np.arange(n_att) / n_att)
    n_rel = min(length, max(2, round(release_s * sr)))
    env[-n_rel:] *= 0.5 + 0.5 * np.cos(np.pi * np.arange(1, n_rel + 1) / n_rel)
    return env


def _additive(
    f0_hz: float | np.ndarray,
    length: int,
    *,
    sr: int,
    cutoff_hz: float | np.ndarray,
    max_hz: float,
    phase: float = 0.0,
) -> np.ndarray:
    """Render a band-limited sawtooth through a moving two-pole low-pass response.

    Harmonic ``k`` has amplitude ``1/k`` times ``1/sqrt(1 + (k f0 / cutoff)^4)``, so a cutoff
    that falls over time sounds like a filter envelope. ``sin(k x)`` comes from the recurrence
    ``s_k = 2 cos(x) s_(k-1) - s_(k-2)``: no call to sin per harmonic.
    """
    f0 = np.broadcast_to(np.asarray(f0_hz, dtype=np.float64), (length,))
    x = phase + 2.0 * np.pi * np.cumsum(f0) / sr
    n_harm = max(1, int(min(max_hz, 0.45 * sr) / float(np.max(f0))))
    two_cos = 2.0 * np.cos(x)
    s_prev, s_k = np.zeros(length), np.sin(x)
    out = np.zeros(length)
    cutoff = np.asarray(cutoff_hz, dtype=np.float64)
    for k in range(1, n_harm + 1):
        out += s_k / (k * np.sqrt(1.0 + (k * f0 / cutoff) ** 4))
        s_prev, s_k = s_k, two_cos * s_k - s_prev
    return out


def _shaped_noise(
    rng: np.random.Generator, length: int, *, sr: int, lo_hz: float, hi_hz: float
) -> np.ndarray:
    """White noise band-passed in the frequency domain (fourth-order slopes each side)."""
    spectrum = np.fft.rfft(rng.standard_normal(length))
    f = np.maximum(np.fft.rfftfreq(length, 1.0 / sr), 1e-3)
    response = 1.0 / np.sqrt(1.0 + (lo_hz / f) ** 8) / np.sqrt(1.0 + (f / hi_hz) ** 8)
    noise = np.fft.irfft(spectrum * response, n=length)
    return noise / (float(np.std(noise)) + 1e-12)


# -- the four loops ----------------------------------------------------------------------------


def _kick(sr: int, rng: np.random.Generator) -> np.ndarray:
    length = round(0.45 * sr)
    t = np.arange(length) / sr
    freq = 46.0 + 110.0 * np.exp(-t / 0.03)  # the pitch sweep that makes it a kick
    body = np.sin(2.0 * np.pi * np.cumsum(freq) / sr)
    body *= _envelope(length, sr=sr, attack_s=0.0008, decay_s=0.16, release_s=0.03)
    click = _shaped_noise(rng, length, sr=sr, lo_hz=1500.0, hi_hz=8000.0)
    click *= _envelope(length, sr=sr, attack_s=0.0003, decay_s=0.0025, release_s=0.01)
    x = np.tanh(1.6 * (body + 0.18 * click)) / np.tanh(1.6)
    return _pan(x, 0.0)


def _snare(sr: int, rng: np.random.Generator) -> np.ndarray:
    length = round(0.3 * sr)
    t = np.arange(length) / sr
    tone = np.sin(2.0 * np.pi * np.cumsum(185.0 + 25.0 * np.exp(-t / 0.01)) / sr)
    tone *= _envelope(length, sr=sr, attack_s=0.0008, decay_s=0.05, release_s=0.02)
    env = _envelope(length, sr=sr, attack_s=0.001, decay_s=0.09, release_s=0.04)
    # Different noise each side gives the snare a little width.
    left = _shaped_noise(rng, length, sr=sr, lo_hz=1200.0, hi_hz=9000.0) * env
    right = _shaped_noise(rng, length, sr=sr, lo_hz=1200.0, hi_hz=9000.0) * env
    return np.stack([0.5 * tone + 0.55 * left, 0.5 * tone + 0.55 * right]) * float(np.sqrt(0.5))


def _hat(sr: int, rng: np.random.Generator, *, decay_s: float, pan: float) -> np.ndarray:
    length = round((decay_s * 4.0 + 0.01) * sr)
    x = _shaped_noise(rng, length, sr=sr, lo_hz=7000.0, hi_hz=min(15000.0, 0.45 * sr))
    x *= _envelope(length, sr=sr, attack_s=0.0005, decay_s=decay_s, release_s=decay_s)
    return _pan(x, pan)


def _drums(grid: _Grid, rng: np.random.Generator) -> np.ndarray:
    """Four on the floor, snare on 2 and 4, sixteenth hats with accents, an open hat per bar."""
    out = np.zeros((2, grid.n))
    kick, snare = _kick(grid.sr, rng), _snare(grid.sr, rng)
    open_hat = _hat(grid.sr, rng, decay_s=0.12, pan=-0.25)
    bars = grid.steps // STEPS_PER_BAR
    for step in range(grid.steps):
        beat_step = step % STEPS_PER_BAR
        if beat_step % 4 == 0:
            _place(out, kick, grid.at(step))
        if beat_step in (4, 12):
            _place(out, 0.6 * snare, grid.at(step))
        if beat_step == 14:
            _place(out, 0.3 * open_hat, grid.at(step))
        else:
            accent = 0.9 if step % 4 == 2 else 0.5 if step % 2 == 0 else 0.3
            velocity = accent * (1.0 + 0.15 * (rng.random() - 0.5))
            hat = _hat(grid.sr, rng, decay_s=0.018, pan=0.3)
            _place(out, 0.28 * velocity * hat, grid.at(step))
    if bars >= 2:  # a pickup kick before the loop comes round
        _place(out, 0.55 * kick, grid.at(grid.steps - 2))
    return out


def _bass(grid: _Grid, rng: np.random.Generator) -> np.ndarray:
    """Play an off-beat rolling bass (root, octave, root, fifth per half bar), filter plucked."""
    out = np.zeros((2, grid.n))
    pattern = ((2, 0, 1.0), (3, 12, 0.8), (6, 0, 1.0), (7, 7, 0.8))  # (step, interval, steps)
    for chord_start in range(0, grid.steps, STEPS_PER_CHORD):
        root = _BASS_ROOTS[(chord_start // STEPS_PER_CHORD) % len(_BASS_ROOTS)]
        for step, interval, dur in pattern:
            length = grid.length(dur)
            f0 = _midi_hz(root + interval)
            t = np.arange(length) / grid.sr
            cutoff = 170.0 + 700.0 * np.exp(-t / 0.05)
            saw = _additive(
                f0,
                length,
                sr=grid.sr,
                cutoff_hz=cutoff,
                max_hz=4000.0,
                phase=float(rng.uniform(0, 2 * np.pi)),
            )
            sub = np.sin(2.0 * np.pi * f0 * t)
            env = _envelope(length, sr=grid.sr, attack_s=0.003, decay_s=0.35, release_s=0.015)
            velocity = 1.0 if interval == 0 else 0.8
            _place(
                out,
                _pan(velocity * env * (0.8 * saw + 0.6 * sub), 0.0),
                grid.at(chord_start + step),
            )
    return out


def _chords(grid: _Grid, rng: np.random.Generator) -> np.ndarray:
    """Plucked stabs of detuned saws in a 3-3-2 rhythm, the two detunings panned apart."""
    out = np.zeros((2, grid.n))
    rhythm = ((0, 1.5, 1.0), (3, 1.0, 0.75), (6, 1.5, 0.85))  # (step, steps, velocity)
    for chord_start in range(0, grid.steps, STEPS_PER_CHORD):
        chord = _STAB_CHORDS[(chord_start // STEPS_PER_CHORD) % len(_STAB_CHORDS)]
        for step, dur, velocity in rhythm:
            length = grid.length(dur)
            t = np.arange(length) / grid.sr
            cutoff = 700.0 + 3200.0 * np.exp(-t / 0.08)
            env = _envelope(length, sr=grid.sr, attack_s=0.004, decay_s=0.22, release_s=0.03)
            stab = np.zeros((2, length))
            for note in chord:
                for cents, pan in ((-9.0, -0.6), (9.0, 0.6)):
                    f0 = _midi_hz(note + cents / 100.0)
                    saw = _additive(
                        f0,
                        length,
                        sr=grid.sr,
                        cutoff_hz=cutoff,
                        max_hz=9000.0,
                        phase=float(rng.uniform(0, 2 * np.pi)),
                    )
                    stab += _pan(saw, pan)
            _place(out, velocity * env * stab, grid.at(chord_start + step))
    return out


def _pad(grid: _Grid, rng: np.random.Generator) -> np.ndarray:
    """Slow-attack chords of three detuned oscillators per note, spread left to right."""
    out = np.zeros((2, grid.n))
    chord_len = grid.length(STEPS_PER_CHORD)
    release = round(0.5 * grid.sr)
    length = chord_len + release
    env = _envelope(length, sr=grid.sr, attack_s=0.3, decay_s=None, release_s=0.5)
    t = np.arange(length) / grid.sr
    for chord_start in range(0, grid.steps, STEPS_PER_CHORD):
        chord = _PAD_CHORDS[(chord_start // STEPS_PER_CHORD) % len(_PAD_CHORDS)]
        tone = np.zeros((2, length))
        for note in chord:
            for cents, pan in ((-7.0, -0.8), (0.0, 0.0), (7.0, 0.8)):
                f0 = _midi_hz(note + cents / 100.0)
                vibrato = 1.0 + 0.002 * np.sin(2 * np.pi * 4.5 * t + rng.uniform(0, 2 * np.pi))
                osc = _additive(
                    f0 * vibrato,
                    length,
                    sr=grid.sr,
                    cutoff_hz=1300.0,
                    max_hz=3500.0,
                    phase=float(rng.uniform(0, 2 * np.pi)),
                )
                tone += _pan(osc, pan)
        _place(out, env * tone, grid.at(chord_start))
    return out
