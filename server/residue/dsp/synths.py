"""Offline synthesizers that play a :class:`~residue.dsp.notes.NoteSequence`.

Four instruments, all rendered note by note with numpy and mixed:

- ``additive``: a harmonic spectrum that moves from an attack spectrum to a sustain spectrum.
- ``subtractive``: a band-limited saw, square or pulse through a resonant low-pass filter whose
  cutoff follows its own ADSR envelope and the key. The filter acts on the harmonics (its
  magnitude response at each harmonic of the note, exact for a steady tone), which costs a
  table look-up per sample instead of a recursive filter per voice.
- ``fm``: two-operator frequency modulation with an index envelope.
- ``sampler``: an NMF component's magnitude spectrum, or a sound, as the instrument: played by
  harmonic resampling (the spectrum sampled at its own harmonics and transposed), as a loop of a
  synthesized grain (random-phase inverse FFT of the spectrum, periodic by construction), or
  as a pitched one-shot of a recorded sound.

Periodic tones are read from band-limited wavetables (one per harmonic count, so high notes do
not alias) with linear interpolation; that is what makes a minute of dense MIDI render in well
under a second. Drum parts (``is_drum``) are played by a small synthesized GM kit whatever the
instrument.

Pitches go through a :class:`~residue.dsp.tuning.Tuning`, so any tuning sounds as it should;
bends are followed continuously.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple, Protocol

import numpy as np

from residue.dsp._validate import check_audio, check_choice, check_float, check_int
from residue.dsp.notes import Note, NoteSequence
from residue.dsp.tuning import Tuning, equal_temperament, pitch_to_hz
from residue.errors import LimitExceeded, ParameterError

SynthName = Literal["additive", "subtractive", "fm", "sampler"]
SYNTHS: tuple[SynthName, ...] = ("additive", "subtractive", "fm", "sampler")
TABLE_SIZE = 2048
"""Samples per wavetable cycle; at most ``TABLE_SIZE // 2 - 1`` harmonics."""
MAX_HARMONICS = TABLE_SIZE // 2 - 1
CONTROL_HOP = 64
"""Samples between control points of pitch and filter curves."""
VOICE_GAIN = 0.3
"""Gain of one voice at full velocity; mixes are scaled down only if they would clip."""
PEAK_LIMIT = 0.99
MAX_RENDER_S = 30 * 60.0
MIN_SR = 8_000
MAX_SR = 192_000
GRAIN_SIZE = 1 << 15
"""Samples of a synthesized grain loop (periodic, so it loops without a seam)."""
DEFAULT_ROOT_HZ = float(pitch_to_hz(60.0))
"""The pitch a sampler plays its sound at when no fundamental can be found (C4)."""
_ALIAS_MARGIN = 0.45
"""Harmonics stay below this fraction of the sample rate."""


@dataclass(frozen=True)
class Envelope:
    """An ADSR envelope: times in seconds, ``sustain`` as a level in ``[0, 1]``."""

    attack_s: float = 0.005
    decay_s: float = 0.1
    sustain: float = 0.8
    release_s: float = 0.08

    def checked(self) -> Envelope:
        """Return the envelope after checking its ranges."""
        check_float("attack_s", self.attack_s, lo=0.0, hi=30.0)
        check_float("decay_s", self.decay_s, lo=0.0, hi=30.0)
        check_float("sustain", self.sustain, lo=0.0, hi=1.0)
        check_float("release_s", self.release_s, lo=0.0, hi=30.0)
        return self

    def curve(self, n: int, gate: int, sr: float) -> np.ndarray:
        """Return ``n`` samples of the envelope for a key held ``gate`` samples, float32."""
        a = max(self.attack_s * sr, 1.0)
        d = max(self.decay_s * sr, 1.0)
        r = max(self.release_s * sr, 1.0)
        g = float(max(gate, 1))
        xs = [0.0, a, a + d]
        ys = [0.0, 1.0, self.sustain]
        level = float(np.interp(g, xs, ys))
        keep = [i for i, x in enumerate(xs) if x < g]
        px = [xs[i] for i in keep] + [g, g + r]
        py = [ys[i] for i in keep] + [level, 0.0]
        return _segments(px, py, n)


def _segments(xs: list[float], ys: list[float], n: int) -> np.ndarray:
    """Sample a piecewise-linear curve at 0..n-1 (xs ascending, held after the last point)."""
    out = np.empty(n, dtype=np.float32)
    done = 0
    for (x0, y0), (x1, y1) in itertools.pairwise(zip(xs, ys, strict=True)):
        end = min(n, math.ceil(x1))
        if end > done:
            t = np.arange(done, end, dtype=np.float32)
            t -= np.float32(x0)
            t *= np.float32((y1 - y0) / (x1 - x0)) if x1 > x0 else np.float32(0.0)
            t += np.float32(y0)
            out[done:end] = t
            done = end
    out[done:] = ys[-1]
    return out


def _upsample(values: np.ndarray, n: int) -> np.ndarray:
    """Linear interpolation of control points spaced CONTROL_HOP samples apart, to n samples."""
    v = np.asarray(values, dtype=np.float64)
    need = n // CONTROL_HOP + 2
    if v.size < need:
        v = np.pad(v, (0, need - v.size), mode="edge")
    ramp = np.arange(CONTROL_HOP, dtype=np.float64) / CONTROL_HOP
    grid = v[: need - 1, None] + (v[1:need] - v[: need - 1])[:, None] * ramp[None, :]
    return grid.reshape(-1)[:n]


_PHASE_BITS = 32
_TABLE_BITS = TABLE_SIZE.bit_length() - 1
_FRAC_BITS = _PHASE_BITS - _TABLE_BITS
_FRAC_SCALE = np.float32(2.0**-_FRAC_BITS)


class _Voice(NamedTuple):
    """What a synth needs to play one note.

    Phases are 32-bit fixed-point fractions of a cycle: integer arithmetic wraps them for free
    (a float modulo costs more than the rest of a voice).
    """

    n: int  # samples including release
    gate: int  # samples the key is held
    sr: float
    freq: np.ndarray  # Hz at each sample, float64 (n,), or shape (1,) when constant
    max_hz: float
    gain: float  # from velocity

    def phase(self, ratio: float = 1.0) -> np.ndarray:
        """Return the phase of an oscillator at ``ratio`` times the note's frequency, uint32."""
        scale = ratio * 2.0**_PHASE_BITS / self.sr
        if self.freq.size == 1:
            inc = np.uint32(round(float(self.freq[0]) * scale) % (1 << _PHASE_BITS))
            return np.arange(self.n, dtype=np.uint32) * inc
        incs = np.round(self.freq * scale).astype(np.int64).astype(np.uint32)
        incs[0] = 0
        return np.cumsum(incs, dtype=np.uint32)


def _table_index(phase: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split uint32 phases into wavetable indices (intp) and interpolation fractions (float32)."""
    i0 = (phase >> np.uint32(_FRAC_BITS)).astype(np.intp)
    frac = (phase & np.uint32((1 << _FRAC_BITS) - 1)).astype(np.float32)
    frac *= _FRAC_SCALE
    return i0, frac


class Synth(Protocol):
    """An instrument: plays one note (a :class:`_Voice`) into float32 samples."""

    envelope: Envelope

    def play(self, v: _Voice, /) -> np.ndarray:
        """Return ``v.n`` float32 samples of the note."""
        ...


# --------------------------------------------------------------------------------------------
# Wavetables


def _harmonic_count(n: int) -> int:
    """Round a harmonic count down to a quarter-octave grid, so tables are shared."""
    if n <= 8:
        return max(n, 1)
    return int(2 ** (math.floor(4 * math.log2(n)) / 4))


def _table(amps: np.ndarray, phases: np.ndarray) -> np.ndarray:
    """Return one cycle of ``sum_h amps[h-1] sin(2 pi h t + phases[h-1])``, with a guard sample."""
    h = min(len(amps), MAX_HARMONICS)
    X = np.zeros(TABLE_SIZE // 2 + 1, dtype=np.complex128)
    X[1 : h + 1] = amps[:h] * np.exp(1j * phases[:h]) * (-0.5j * TABLE_SIZE)
    cycle = np.fft.irfft(X, n=TABLE_SIZE)
    return np.append(cycle, cycle[0]).astype(np.float32)


def _read_cycle(table: np.ndarray, i0: np.ndarray, frac: np.ndarray) -> np.ndarray:
    """Look up a single-cycle table (with guard sample) by linear interpolation."""
    a = table[i0]
    b = table[i0 + 1]
    b -= a
    b *= frac
    b += a
    return np.asarray(b, dtype=np.float32)


def _phase_seed(n: int) -> np.ndarray:
    # Fixed pseudo-random phases: a flat-ish waveform instead of one tall spike (more headroom).
    return np.random.default_rng(12345).uniform(0, 2 * np.pi, n)


@dataclass
class _TableCache:
    """Band-limited tables of one harmonic spectrum, one per harmonic count."""

    amps: np.ndarray
    phases: np.ndarray
    tables: dict[int, np.ndarray] = field(default_factory=dict)

    def for_max_hz(self, max_hz: float, sr: float) -> np.ndarray:
        n = min(len(self.amps), max(1, int(_ALIAS_MARGIN * sr / max(max_hz, 1.0))))
        n = _harmonic_count(n)
        if n not in self.tables:
            self.tables[n] = _table(self.amps[:n], self.phases[:n])
        return self.tables[n]


def _normalize_amps(amps: np.ndarray) -> np.ndarray:
    a = np.asarray(amps, dtype=np.float64)[:MAX_HARMONICS]
    peak = float(np.sqrt(np.sum(a**2)))
    return a / peak if peak > 0 else a


# --------------------------------------------------------------------------------------------
# Instruments


@dataclass(eq=False)
class AdditiveSynth:
    """Harmonics fading from ``attack_amps`` to ``sustain_amps`` with time constant ``morph_s``."""

    attack_amps: np.ndarray
    sustain_amps: np.ndarray
    morph_s: float = 0.2
    envelope: Envelope = field(default_factory=Envelope)

    def __post_init__(self) -> None:
        n = max(len(self.attack_amps), len(self.sustain_amps))

        def pad(a: np.ndarray) -> np.ndarray:
            return np.pad(np.asarray(a, dtype=np.float64), (0, n - len(a)))

        phases = _phase_seed(n)
        self._attack = _TableCache(_normalize_amps(pad(self.attack_amps)), phases)
        self._sustain = _TableCache(_normalize_amps(pad(self.sustain_amps)), phases)
        self._same = np.allclose(self._attack.amps, self._sustain.amps)

    def play(self, v: _Voice, /) -> np.ndarray:
        """Return the note's samples."""
        i0, frac = _table_index(v.phase())
        steady = _read_cycle(self._sustain.for_max_hz(v.max_hz, v.sr), i0, frac)
        if self._same:
            return steady
        bright = _read_cycle(self._attack.for_max_hz(v.max_hz, v.sr), i0, frac)
        mix = np.exp(-np.arange(v.n, dtype=np.float32) / np.float32(max(self.morph_s * v.sr, 1.0)))
        return np.asarray(steady + mix * (bright - steady), dtype=np.float32)


Waveform = Literal["saw", "square", "pulse", "triangle"]


def _source_amps(waveform: Waveform, n: int) -> np.ndarray:
    h = np.arange(1, n + 1, dtype=np.float64)
    if waveform == "saw":
        return 1.0 / h
    if waveform == "square":
        return np.where(h % 2 == 1, 1.0 / h, 0.0)
    if waveform == "pulse":  # 25 % duty
        return np.abs(np.sin(np.pi * h * 0.25)) / h
    return np.where(h % 2 == 1, 1.0 / h**2, 0.0)  # triangle


_RATIO_MIN_LOG2 = -1.0
_RATIO_MAX_LOG2 = math.log2(MAX_HARMONICS + 1)
_RATIO_STEPS_PER_OCTAVE = 3


@dataclass(eq=False)
class SubtractiveSynth:
    """An oscillator through a resonant low-pass filter with an envelope.

    The cutoff is ``cutoff_hz * (f0 / 261.6) ** key_tracking * 2 ** (env_octaves * fenv(t))``.
    ``slope_db`` 12 is one resonant 2-pole section; 24 adds a second, Butterworth, section.
    """

    waveform: Waveform = "saw"
    cutoff_hz: float = 1200.0
    resonance: float = 1.5
    env_octaves: float = 2.0
    key_tracking: float = 0.5
    slope_db: Literal[12, 24] = 24
    filter_envelope: Envelope = field(
        default_factory=lambda: Envelope(attack_s=0.005, decay_s=0.25, sustain=0.2, release_s=0.2)
    )
    envelope: Envelope = field(default_factory=Envelope)

    def __post_init__(self) -> None:
        check_choice("waveform", self.waveform, ("saw", "square", "pulse", "triangle"))
        check_float("cutoff_hz", self.cutoff_hz, lo=10.0, hi=40_000.0)
        check_float("resonance", self.resonance, lo=0.5, hi=20.0)
        self._banks: dict[int, np.ndarray] = {}
        self._log2_ratios = np.arange(
            _RATIO_MIN_LOG2, _RATIO_MAX_LOG2 + 1e-9, 1.0 / _RATIO_STEPS_PER_OCTAVE
        )

    def _bank(self, n: int) -> np.ndarray:
        """Tables (n_ratios, TABLE_SIZE + 1): the oscillator filtered at each cutoff/f0 ratio."""
        if n not in self._banks:
            h = np.arange(1, n + 1, dtype=np.float64)
            src = _source_amps(self.waveform, n)
            phases = np.zeros(n)  # the classic waveform shapes
            rows = []
            for lr in self._log2_ratios:
                x = h / 2.0**lr
                mag = 1.0 / np.sqrt((1 - x**2) ** 2 + (x / self.resonance) ** 2)
                if self.slope_db == 24:
                    mag = mag / np.sqrt(1 + x**4)
                rows.append(_table(src * mag * 0.7, phases))
            self._banks[n] = np.stack(rows)
        return self._banks[n]

    def play(self, v: _Voice, /) -> np.ndarray:
        """Return the note's samples."""
        n_h = _harmonic_count(min(MAX_HARMONICS, max(1, int(_ALIAS_MARGIN * v.sr / v.max_hz))))
        bank = self._bank(n_h)
        n_ctrl = v.n // CONTROL_HOP + 2
        ctrl_idx = np.arange(n_ctrl) * CONTROL_HOP
        fenv = self.filter_envelope.curve(v.n + 2 * CONTROL_HOP, v.gate, v.sr)[ctrl_idx]
        f0 = v.freq[np.minimum(ctrl_idx, v.freq.size - 1)]
        cutoff_log2 = (
            math.log2(self.cutoff_hz)
            + self.key_tracking * np.log2(f0 / DEFAULT_ROOT_HZ)
            + self.env_octaves * fenv
        )
        pos = (cutoff_log2 - np.log2(f0) - _RATIO_MIN_LOG2) * _RATIO_STEPS_PER_OCTAVE
        pos = np.clip(pos, 0, len(self._log2_ratios) - 1.001)
        u = _upsample(pos, v.n).astype(np.float32)
        j0 = u.astype(np.intp)
        fu = u - j0
        i0, fi = _table_index(v.phase())
        flat = bank.reshape(-1)
        base0 = j0 * (TABLE_SIZE + 1) + i0
        base1 = base0 + (TABLE_SIZE + 1)
        a0, b0 = flat[base0], flat[base0 + 1]
        a1, b1 = flat[base1], flat[base1 + 1]
        lo = a0 + fi * (b0 - a0)
        hi = a1 + fi * (b1 - a1)
        return np.asarray(lo + fu * (hi - lo), dtype=np.float32)


@dataclass(eq=False)
class FMSynth:
    """Two-operator FM: ``sin(2 pi c phi + I(t) sin(2 pi m phi))`` with an index envelope.

    ``I(t) = index * (index_sustain + (1 - index_sustain) * exp(-t / index_decay_s))``, scaled by
    velocity (harder notes are brighter).
    """

    carrier_ratio: float = 1.0
    modulator_ratio: float = 1.0
    index: float = 2.0
    index_decay_s: float = 0.5
    index_sustain: float = 0.2
    envelope: Envelope = field(default_factory=Envelope)

    def __post_init__(self) -> None:
        check_float("carrier_ratio", self.carrier_ratio, lo=0.01, hi=64.0)
        check_float("modulator_ratio", self.modulator_ratio, lo=0.01, hi=64.0)
        check_float("index", self.index, lo=0.0, hi=50.0)

    def play(self, v: _Voice, /) -> np.ndarray:
        """Return the note's samples."""
        t = np.arange(v.n // CONTROL_HOP + 2, dtype=np.float64) * (CONTROL_HOP / v.sr)
        decay = np.exp(-t / max(self.index_decay_s, 1e-3))
        level = self.index * (0.5 + 0.5 * v.gain / VOICE_GAIN)
        index = _upsample(level * (self.index_sustain + (1 - self.index_sustain) * decay), v.n)
        to_radians = np.float32(2 * np.pi * 2.0**-_PHASE_BITS)
        mod = v.phase(self.modulator_ratio).astype(np.float32)
        mod *= to_radians
        np.sin(mod, out=mod)
        mod *= index.astype(np.float32)
        carrier = v.phase(self.carrier_ratio).astype(np.float32)
        carrier *= to_radians
        carrier += mod
        return np.sin(carrier, out=carrier)


# --------------------------------------------------------------------------------------------
# Sampler


class Fundamental(NamedTuple):
    """The fundamental found in a spectrum and how harmonic the spectrum is (0..1)."""

    hz: float
    harmonicity: float


def estimate_fundamental(
    S: np.ndarray, *, sr: float, fmin_hz: float = 40.0, fmax_hz: float = 1500.0
) -> Fundamental:
    """Estimate the fundamental of a magnitude spectrum by weighted harmonic summation.

    Parameters
    ----------
    S : np.ndarray [shape=(n_bins,), dtype=float]
        Magnitudes of bins ``0 .. sr / 2`` (``n_fft = 2 * (n_bins - 1)``).
    sr : float
        Sample rate of the analysed sound.
    fmin_hz, fmax_hz : float
        Search range.

    Returns
    -------
    Fundamental
        ``hz`` and ``harmonicity``: the share of the spectrum's magnitude within a quarter tone
        of the fundamental's first 20 harmonics.
    """
    mag = np.asarray(S, dtype=np.float64)
    n_bins = mag.shape[-1]
    freqs = np.linspace(0.0, sr / 2.0, n_bins)
    total = float(mag.sum())
    if total <= 0 or n_bins < 8:
        return Fundamental(DEFAULT_ROOT_HZ, 0.0)
    cands = 2.0 ** np.arange(math.log2(fmin_hz), math.log2(fmax_hz), 1.0 / 48.0)
    h = np.arange(1, 21, dtype=np.float64)
    hf = cands[:, None] * h[None, :]
    valid = hf < sr / 2.0
    # Magnitude at each harmonic, linearly interpolated between bins, weighted 1/h^0.5.
    bin_hz = freqs[1] - freqs[0]
    pos = np.clip(hf / bin_hz, 0, n_bins - 1.001)
    i0 = pos.astype(np.int64)
    frac = pos - i0
    near = mag[i0] * (1 - frac) + mag[i0 + 1] * frac
    score = np.sum(np.where(valid, near / np.sqrt(h), 0.0), axis=1)
    f0 = float(cands[int(np.argmax(score))])
    # Harmonicity: magnitude within a quarter tone of the harmonics of f0.
    harmonic_hz = f0 * h[f0 * h < sr / 2.0]
    dist = np.abs(12.0 * np.log2(np.maximum(freqs[1:], 1e-9)[:, None] / harmonic_hz[None, :]))
    on = np.min(dist, axis=1) < 0.5
    harmonicity = float(mag[1:][on].sum() / total)
    return Fundamental(f0, harmonicity)


@dataclass(eq=False)
class LoopSampler:
    """Plays ``samples`` (at ``sample_sr``) transposed by ``f / root_hz``: looped or one-shot."""

    samples: np.ndarray
    sample_sr: float
    root_hz: float
    loop: bool
    envelope: Envelope = field(default_factory=Envelope)

    def play(self, v: _Voice, /) -> np.ndarray:
        """Return the note's samples."""
        n_src = self.samples.size - 1  # the last sample is a guard (a copy of the first)
        # Positions in 16.16 fixed point (int64): exact wrapping, no float modulo.
        scale = 65536.0 / self.root_hz * (self.sample_sr / v.sr)
        if v.freq.size == 1:
            pos = np.arange(v.n, dtype=np.int64) * round(float(v.freq[0]) * scale)
        else:
            steps = np.round(v.freq * scale).astype(np.int64)
            steps[0] = 0
            pos = np.cumsum(steps)
        i0 = pos >> 16
        frac = (pos & 0xFFFF).astype(np.float32) * np.float32(1 / 65536)
        if self.loop:
            i0 = i0 & (n_src - 1) if n_src & (n_src - 1) == 0 else i0 % n_src
            out_of = None
        else:
            out_of = i0 >= n_src
            np.minimum(i0, n_src - 1, out=i0)
        y = _read_cycle(self.samples, i0, frac)
        if out_of is not None:
            y[out_of] = 0.0
        return y


SamplerMode = Literal["harmonic", "grain"]
SAMPLER_MODES: tuple[SamplerMode, ...] = ("harmonic", "grain")


def sampler_from_spectrum(
    S: np.ndarray,
    *,
    sr: float,
    mode: SamplerMode = "harmonic",
    root_hz: float | None = None,
    envelope: Envelope | None = None,
    rng: np.random.Generator | None = None,
) -> Synth:
    """Make an instrument from one NMF component's magnitude spectrum.

    Parameters
    ----------
    S : np.ndarray [shape=(n_bins,), dtype=float]
        Non-negative magnitudes of bins ``0 .. sr / 2`` (a column of ``W``).
    sr : float
        The sample rate the spectrum was analysed at.
    mode : {"harmonic", "grain"}
        "harmonic": the spectrum is sampled at the harmonics of its fundamental (``root_hz`` or
        estimated) and that harmonic profile is played at each note's pitch (a transposed
        timbre, like a sampler). "grain": a loop of noise with the spectrum's shape (random-phase
        inverse FFT, periodic so it loops seamlessly), played back faster or slower for each
        note; suits noisy, inharmonic components.
    root_hz : float or None
        The pitch the component sounds at; ``None`` estimates it (C4 when the spectrum is not
        harmonic).
    envelope : Envelope or None
        Amplitude envelope (default: a short attack, full sustain).
    rng : np.random.Generator or None
        Phases of the grain (default seed 0).

    Returns
    -------
    Synth
        An instrument for :func:`render`.

    Raises
    ------
    ParameterError
        If the spectrum is empty, negative, not finite or silent, or an option is out of range.
    """
    mag = np.asarray(S)
    if mag.ndim != 1 or mag.size < 8:
        raise ParameterError(
            f"the component spectrum must have shape (n_bins >= 8,), got {mag.shape}"
        )
    if not np.all(np.isfinite(mag)) or float(np.min(mag)) < 0:
        raise ParameterError("the component spectrum must be finite and non-negative")
    if float(np.max(mag)) <= 0:
        raise ParameterError("the component spectrum is silent (all zeros)")
    sr = check_float("sr", sr, lo=MIN_SR, hi=MAX_SR)
    check_choice("mode", mode, SAMPLER_MODES)
    env = envelope or Envelope(attack_s=0.005, decay_s=0.1, sustain=1.0, release_s=0.1)
    mag = mag.astype(np.float64)
    if root_hz is None:
        f = estimate_fundamental(mag, sr=sr)
        root = f.hz if f.harmonicity >= 0.3 else DEFAULT_ROOT_HZ
    else:
        root = check_float("root_hz", root_hz, lo=10.0, hi=sr / 2)
    freqs = np.linspace(0.0, sr / 2.0, mag.size)
    if mode == "harmonic":
        n_h = min(MAX_HARMONICS, int((sr / 2.0) / root))
        hf = root * np.arange(1, n_h + 1)
        # Each harmonic takes the strongest bin within half a harmonic spacing: the peaks of a
        # harmonic spectrum, and still the spectrum's shape when it is not harmonic.
        lo = np.searchsorted(freqs, hf - root / 2)
        hi = np.maximum(np.searchsorted(freqs, hf + root / 2), lo + 1)
        amps = np.array([mag[a:b].max(initial=0.0) for a, b in zip(lo, hi, strict=True)])
        return AdditiveSynth(amps, amps, envelope=env.checked())
    gen = rng if rng is not None else np.random.default_rng(0)
    grid = np.fft.rfftfreq(GRAIN_SIZE, d=1.0 / sr)
    spectrum = np.interp(grid, freqs, mag) * np.exp(1j * gen.uniform(0, 2 * np.pi, grid.size))
    spectrum[0] = 0.0
    grain = np.fft.irfft(spectrum, n=GRAIN_SIZE)
    peak = float(np.max(np.abs(grain)))
    grain = grain / peak if peak > 0 else grain
    return LoopSampler(np.append(grain, grain[0]).astype(np.float32), sr, root, True, env.checked())


def sampler_from_audio(
    y: np.ndarray,
    *,
    sr: float,
    root_hz: float | None = None,
    loop: bool = False,
    envelope: Envelope | None = None,
) -> Synth:
    """Make a pitched one-shot (or looped) instrument from a recorded sound.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,) or (channels, n_samples), dtype=float]
        The sound; channels are averaged.
    sr : float
        Its sample rate.
    root_hz : float or None
        The pitch it sounds at; ``None`` estimates it from its average spectrum (C4 when it is
        not harmonic).
    loop : bool
        Loop the whole sound while the key is held, instead of playing it once.
    envelope : Envelope or None
        Amplitude envelope (default: no attack, full sustain, short release).

    Raises
    ------
    ParameterError
        If the sound is too short, not finite or silent.
    """
    y32 = check_audio(y, name="y", min_samples=64)
    sr = check_float("sr", sr, lo=MIN_SR, hi=MAX_SR)
    mono = y32.reshape(-1, y32.shape[-1]).mean(axis=0)
    peak = float(np.max(np.abs(mono)))
    if peak <= 0:
        raise ParameterError("the sample is silent")
    mono = mono / peak
    if root_hz is None:
        n_fft = 4096
        frames = [mono[i : i + n_fft] for i in range(0, max(1, mono.size - n_fft + 1), n_fft // 2)]
        spec = np.mean(
            [np.abs(np.fft.rfft(f * np.hanning(f.size), n=n_fft)) for f in frames[:64]], axis=0
        )
        f = estimate_fundamental(spec, sr=sr)
        root = f.hz if f.harmonicity >= 0.3 else DEFAULT_ROOT_HZ
    else:
        root = check_float("root_hz", root_hz, lo=10.0, hi=sr / 2)
    env = envelope or Envelope(attack_s=0.002, decay_s=0.0, sustain=1.0, release_s=0.05)
    samples = np.append(mono, mono[0] if loop else 0.0).astype(np.float32)
    return LoopSampler(samples, sr, root, loop, env.checked())


# --------------------------------------------------------------------------------------------
# Drums


def _drum_sound(key: int, sr: float) -> np.ndarray:
    rng = np.random.default_rng(key)
    kind = _DRUM_KIND.get(key, "perc")
    dur = {
        "kick": 0.4,
        "snare": 0.3,
        "hat": 0.09,
        "open_hat": 0.45,
        "tom": 0.45,
        "cymbal": 1.5,
        "clap": 0.3,
        "perc": 0.2,
    }[kind]
    n = int(dur * sr)
    t = np.arange(n) / sr
    noise = rng.standard_normal(n)
    if kind in ("kick", "tom"):
        f_end = 50.0 if kind == "kick" else 90.0 + 12.0 * (key - 41)
        f = f_end + 2.5 * f_end * np.exp(-t / 0.03)
        y = np.sin(2 * np.pi * np.cumsum(f) / sr) * np.exp(-t / (0.15 if kind == "kick" else 0.2))
        y[: int(0.002 * sr)] += 0.3 * noise[: int(0.002 * sr)]
    elif kind == "snare":
        tone = np.sin(2 * np.pi * 185.0 * t) * np.exp(-t / 0.05)
        y = 0.6 * tone + 0.6 * np.diff(noise, prepend=0.0) * np.exp(-t / 0.07)
    elif kind in ("hat", "open_hat", "cymbal"):
        hp = np.diff(np.diff(noise, prepend=0.0), prepend=0.0) / 2.0
        tau = {"hat": 0.02, "open_hat": 0.15, "cymbal": 0.5}[kind]
        y = 0.5 * hp * np.exp(-t / tau)
    elif kind == "clap":
        bursts = sum(np.exp(-np.maximum(t - d, 0) / 0.01) * (t >= d) for d in (0.0, 0.01, 0.02))
        y = 0.5 * np.diff(noise, prepend=0.0) * (bursts + np.exp(-t / 0.08))
    else:
        y = 0.4 * np.diff(noise, prepend=0.0) * np.exp(-t / 0.04)
    ramp = np.minimum(1.0, np.arange(n) / max(1.0, 0.001 * sr))
    return (y * ramp).astype(np.float32)


_DRUM_KIND: dict[int, str] = {
    35: "kick",
    36: "kick",
    37: "perc",
    38: "snare",
    39: "clap",
    40: "snare",
    42: "hat",
    44: "hat",
    46: "open_hat",
    41: "tom",
    43: "tom",
    45: "tom",
    47: "tom",
    48: "tom",
    50: "tom",
    49: "cymbal",
    51: "cymbal",
    52: "cymbal",
    53: "cymbal",
    55: "cymbal",
    57: "cymbal",
    59: "cymbal",
}


# --------------------------------------------------------------------------------------------
# Presets and rendering


def _h(n: int, power: float, odd_only: bool = False) -> np.ndarray:
    h = np.arange(1, n + 1, dtype=np.float64)
    a = 1.0 / h**power
    return np.where(h % 2 == 1, a, 0.0) if odd_only else a


def _organ() -> np.ndarray:
    a = np.zeros(16)
    for harmonic, level in ((1, 1.0), (2, 0.8), (3, 0.6), (4, 0.5), (6, 0.3), (8, 0.25), (16, 0.1)):
        a[harmonic - 1] = level
    return a


PRESETS: dict[str, dict[str, Synth]] = {}


def _build_presets() -> dict[str, dict[str, Synth]]:
    return {
        "additive": {
            "pluck": AdditiveSynth(
                _h(60, 0.9),
                _h(60, 2.5),
                morph_s=0.15,
                envelope=Envelope(attack_s=0.002, decay_s=0.6, sustain=0.2, release_s=0.15),
            ),
            "organ": AdditiveSynth(
                _organ(),
                _organ(),
                envelope=Envelope(attack_s=0.01, decay_s=0.0, sustain=1.0, release_s=0.05),
            ),
            "soft": AdditiveSynth(
                _h(12, 2.0),
                _h(12, 2.0),
                envelope=Envelope(attack_s=0.03, decay_s=0.2, sustain=0.8, release_s=0.3),
            ),
            "hollow": AdditiveSynth(
                _h(40, 1.0, odd_only=True),
                _h(40, 1.6, odd_only=True),
                morph_s=0.3,
                envelope=Envelope(attack_s=0.01, decay_s=0.3, sustain=0.7, release_s=0.2),
            ),
        },
        "subtractive": {
            "lead": SubtractiveSynth(
                "saw",
                cutoff_hz=1500.0,
                resonance=2.0,
                env_octaves=1.5,
                envelope=Envelope(attack_s=0.005, decay_s=0.2, sustain=0.8, release_s=0.1),
            ),
            "bass": SubtractiveSynth(
                "square",
                cutoff_hz=300.0,
                resonance=3.0,
                env_octaves=2.5,
                key_tracking=0.3,
                filter_envelope=Envelope(attack_s=0.002, decay_s=0.15, sustain=0.1, release_s=0.1),
                envelope=Envelope(attack_s=0.003, decay_s=0.3, sustain=0.7, release_s=0.06),
            ),
            "pad": SubtractiveSynth(
                "saw",
                cutoff_hz=900.0,
                resonance=1.2,
                env_octaves=1.0,
                slope_db=12,
                filter_envelope=Envelope(attack_s=0.8, decay_s=1.0, sustain=0.5, release_s=0.8),
                envelope=Envelope(attack_s=0.4, decay_s=0.5, sustain=0.8, release_s=0.8),
            ),
            "pluck": SubtractiveSynth(
                "pulse",
                cutoff_hz=600.0,
                resonance=4.0,
                env_octaves=3.0,
                filter_envelope=Envelope(attack_s=0.001, decay_s=0.12, sustain=0.0, release_s=0.1),
                envelope=Envelope(attack_s=0.002, decay_s=0.4, sustain=0.0, release_s=0.1),
            ),
        },
        "fm": {
            "epiano": FMSynth(
                1.0,
                1.0,
                index=1.8,
                index_decay_s=0.4,
                index_sustain=0.15,
                envelope=Envelope(attack_s=0.002, decay_s=1.2, sustain=0.3, release_s=0.25),
            ),
            "bell": FMSynth(
                1.0,
                3.5,
                index=4.0,
                index_decay_s=1.0,
                index_sustain=0.1,
                envelope=Envelope(attack_s=0.001, decay_s=2.0, sustain=0.0, release_s=1.0),
            ),
            "bass": FMSynth(
                1.0,
                1.0,
                index=3.0,
                index_decay_s=0.12,
                index_sustain=0.3,
                envelope=Envelope(attack_s=0.002, decay_s=0.4, sustain=0.6, release_s=0.05),
            ),
            "brass": FMSynth(
                1.0,
                1.0,
                index=3.5,
                index_decay_s=0.3,
                index_sustain=0.6,
                envelope=Envelope(attack_s=0.04, decay_s=0.2, sustain=0.8, release_s=0.1),
            ),
        },
    }


DEFAULT_PRESETS: dict[str, str] = {"additive": "pluck", "subtractive": "lead", "fm": "epiano"}


def presets() -> dict[str, tuple[str, ...]]:
    """Return the preset names of each built-in synth (the sampler needs an instrument instead)."""
    return {name: tuple(items) for name, items in _presets().items()}


def _presets() -> dict[str, dict[str, Synth]]:
    if not PRESETS:
        PRESETS.update(_build_presets())
    return PRESETS


def make_synth(name: str, *, preset: str | None = None) -> Synth:
    """Return a built-in synth by name and preset (``None`` takes its default preset).

    Raises
    ------
    ParameterError
        If the synth or preset is unknown, or ``name`` is "sampler" (build that with
        :func:`sampler_from_spectrum` or :func:`sampler_from_audio`).
    """
    check_choice("synth", name, SYNTHS)
    if name == "sampler":
        raise ParameterError("synth='sampler' needs an instrument: a component spectrum or a sound")
    table = _presets()[name]
    chosen = DEFAULT_PRESETS[name] if preset is None else preset
    check_choice("preset", chosen, table)
    return table[chosen]


def _voice(
    note: Note, *, sr: float, tuning: Tuning, release_s: float, max_len: int
) -> tuple[int, _Voice]:
    start = round(note.start_s * sr)
    gate = max(1, round(note.duration_s * sr))
    n = min(gate + max(1, int(release_s * sr)), max(max_len - start, 0))
    center = note.center_bend() if tuning.mapping == "nearest" else 0.0
    base = float(tuning.retune(np.array([note.pitch + center]))[0])
    gain = VOICE_GAIN * note.velocity / 127.0
    if not note.bends:
        f = float(pitch_to_hz(base))
        return start, _Voice(n, gate, sr, np.array([f]), f, gain)
    tc = np.arange(0, n + CONTROL_HOP, CONTROL_HOP, dtype=np.float64)
    curve = base + note.pitch_curve(tc / sr) - note.pitch - center
    fc = pitch_to_hz(curve)
    return start, _Voice(n, gate, sr, _upsample(fc, n), float(fc.max()), gain)


def render(
    parts: NoteSequence | Sequence[NoteSequence],
    *,
    synth: Synth,
    sr: int = 44_100,
    tuning: Tuning | None = None,
    length: int | None = None,
) -> np.ndarray:
    """Render notes with an instrument, offline.

    Parameters
    ----------
    parts : NoteSequence or sequence of NoteSequence
        The notes; drum parts are played by the built-in drum kit, the others by ``synth``.
    synth : Synth
        From :func:`make_synth`, :func:`sampler_from_spectrum` or :func:`sampler_from_audio`.
    sr : int
        Output sample rate.
    tuning : Tuning or None
        How keys sound (default 12-TET).
    length : int or None
        Output length in samples; ``None`` ends after the last note's release.

    Returns
    -------
    y : np.ndarray [shape=(n_samples,), dtype=float32]
        The mix, peak at most 1 (scaled down only when it would clip).

    Raises
    ------
    ParameterError
        If ``sr`` or ``length`` is out of range.
    LimitExceeded
        If the render would be longer than :data:`MAX_RENDER_S`.

    Examples
    --------
    >>> from residue.dsp.notes import make_note, sequence
    >>> seq = sequence([make_note(69, 0.0, 0.5)])
    >>> y = render(seq, synth=make_synth("fm"), sr=22050)
    >>> y.dtype, bool(np.abs(y).max() <= 1.0)
    (dtype('float32'), True)
    """
    sr = check_int("sr", sr, lo=MIN_SR, hi=MAX_SR)
    seqs = [parts] if isinstance(parts, NoteSequence) else list(parts)
    tun = tuning if tuning is not None else equal_temperament(12)
    release = max(synth.envelope.release_s, 0.0)
    end_s = max((s.end_s for s in seqs), default=0.0)
    if length is None:
        tail = 1.5 if any(s.is_drum for s in seqs) else release
        total_s = end_s + tail + 0.01 if end_s > 0 else 0.0
        n_out = math.ceil(total_s * sr)
    else:
        n_out = check_int("length", length, lo=0)
    if n_out > MAX_RENDER_S * sr:
        raise LimitExceeded(
            f"the render would last {n_out / sr / 60:.1f} min; "
            f"the limit is {MAX_RENDER_S / 60:.0f} min"
        )
    out = np.zeros(n_out, dtype=np.float32)
    drums: dict[int, np.ndarray] = {}
    for seq in seqs:
        for note in seq.notes:
            if seq.is_drum:
                start = round(note.start_s * sr)
                if start >= n_out:
                    continue
                if note.pitch not in drums:
                    drums[note.pitch] = _drum_sound(note.pitch, sr)
                s = drums[note.pitch][: n_out - start]
                out[start : start + s.size] += np.float32(VOICE_GAIN * note.velocity / 127.0) * s
                continue
            start, v = _voice(note, sr=sr, tuning=tun, release_s=release, max_len=n_out)
            if v.n <= 0:
                continue
            y = synth.play(v)
            y *= synth.envelope.curve(v.n, v.gate, sr)
            out[start : start + v.n] += np.float32(v.gain) * y
    peak = float(np.max(np.abs(out))) if out.size else 0.0
    if peak > PEAK_LIMIT:
        out *= np.float32(PEAK_LIMIT / peak)
    return out
