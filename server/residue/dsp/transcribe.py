"""Weightless transcription: NMF with fixed pitch templates, pyin for melodies, drum templates.

Three backends, each ``y, sr -> NoteSequence``:

- :func:`transcribe_nmf` (polyphonic): a log-frequency magnitude spectrogram is explained by
  one fixed harmonic template per MIDI pitch (NMF in fixed-``W`` mode, only the activations are
  learned); notes are runs of strong activation, split at activation onsets.
- :func:`transcribe_pyin` (monophonic): librosa's probabilistic YIN, cut into notes at voicing
  changes, energy onsets and pitch jumps; the pitch track inside a note becomes its bend curve.
- :func:`transcribe_drums`: spectral-flux onsets, and NMF with kick/snare/hi-hat templates in
  fixed-``W`` mode decides which drums sound at each onset; they become GM notes 36/38/42.

All analysis runs at :data:`ANALYSIS_SR` (22050 Hz) mono.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np
import scipy.ndimage
import scipy.signal
import scipy.sparse
import soxr

from residue.dsp import nmf, spectral
from residue.dsp._validate import check_audio, check_float, check_int
from residue.dsp.notes import Bend, Note, NoteSequence, sequence
from residue.dsp.progress import CancelToken, ProgressFn
from residue.dsp.tuning import hz_to_pitch, pitch_to_hz
from residue.errors import ParameterError

ANALYSIS_SR = 22_050
NMF_N_FFT = 4096
NMF_HOP = 256
"""86 frames per second: onsets within 12 ms."""
BINS_PER_SEMITONE = 3
LOG_FMIN_HZ = float(pitch_to_hz(21 - 0.5))
LOG_FMAX_HZ = 8_000.0
LOWEST_PITCH = 21
HIGHEST_PITCH = 108
N_HARMONICS = 24
SILENCE_PEAK = 1e-5
"""Audio whose peak is below this (-100 dBFS) has no notes."""

KICK, SNARE, HIHAT = 36, 38, 42
_DRUM_ROWS = (0, 2, 3)
DRUM_FMAX_HZ = 10_500.0
"""Drum spectrograms reach higher than pitched ones: hi-hats live above 5 kHz."""
DRUM_KEYS = (KICK, SNARE, HIHAT)

DEFAULT_NMF_THRESHOLD = 0.15
DEFAULT_NMF_FRAME_RATIO = 0.4
DEFAULT_NMF_CONTEXT_S = 2.0
DEFAULT_NMF_ONSET = 0.3
DEFAULT_NMF_MIN_NOTE_S = 0.06
DEFAULT_NMF_ITER = 40
DEFAULT_PYIN_FMIN_HZ = 40.0
DEFAULT_PYIN_FMAX_HZ = 1600.0
DEFAULT_PYIN_VOICED = 0.5
DEFAULT_PYIN_MIN_NOTE_S = 0.06
DEFAULT_MAX_BEND = 1.0
"""Semitones a pyin note may bend from its key before it is split."""
DEFAULT_DRUM_THRESHOLD = 0.3
DRUM_PRESENCE = 0.01


class Analysis(NamedTuple):
    """Mono audio at :data:`ANALYSIS_SR` and the hop in seconds of the spectrogram made of it."""

    y: np.ndarray
    sr: int


def to_analysis(y: np.ndarray, *, sr: float, min_s: float, backend: str) -> np.ndarray:
    """Return ``y`` as mono float32 at :data:`ANALYSIS_SR`, checked to last at least ``min_s``.

    Raises
    ------
    ParameterError
        If the audio is not finite, the rate is out of range, or it is shorter than ``min_s``.
    """
    y32 = check_audio(y, name="y")
    sr = check_float("sr", sr, lo=1000.0, hi=400_000.0)
    duration = y32.shape[-1] / sr
    if duration < min_s:
        raise ParameterError(
            f"the sound lasts {duration * 1000:.0f} ms; the {backend} backend needs at least "
            f"{min_s * 1000:.0f} ms (its analysis window)"
        )
    mono = y32.reshape(-1, y32.shape[-1]).mean(axis=0)
    if round(sr) != ANALYSIS_SR:
        mono = soxr.resample(mono, sr, ANALYSIS_SR, quality="HQ")
    return np.ascontiguousarray(mono, dtype=np.float32)


def is_silent(y: np.ndarray) -> bool:
    """Whether audio is too quiet to hold any note."""
    return y.size == 0 or float(np.max(np.abs(y))) < SILENCE_PEAK


# --------------------------------------------------------------------------------------------
# Log-frequency spectrogram and templates


def log_frequencies(*, fmax_hz: float = LOG_FMAX_HZ) -> np.ndarray:
    """Return the centre frequencies (Hz) of the log-frequency bins, float64."""
    n = math.floor(12 * BINS_PER_SEMITONE * math.log2(fmax_hz / LOG_FMIN_HZ)) + 1
    return LOG_FMIN_HZ * 2.0 ** (np.arange(n) / (12.0 * BINS_PER_SEMITONE))


_FILTERBANK: dict[tuple[int, int, str, float], scipy.sparse.csr_matrix] = {}


def log_filterbank(
    *,
    sr: int = ANALYSIS_SR,
    n_fft: int = NMF_N_FFT,
    norm: Literal["mean", "sum"] = "mean",
    fmax_hz: float = LOG_FMAX_HZ,
) -> scipy.sparse.csr_matrix:
    """Return the sparse matrix (n_log_bins, 1 + n_fft // 2) from linear to log-frequency bins.

    Each log bin is a triangle on log frequency spanning its neighbours, widened to at least
    two linear bins so that low bins (finer than the FFT) interpolate instead of missing.
    ``norm="mean"`` averages the linear bins (a harmonic keeps its height at any frequency);
    ``"sum"`` adds them (a band's energy: broadband noise grows with bandwidth, as heard).
    """
    key = (sr, n_fft, norm, fmax_hz)
    if key in _FILTERBANK:
        return _FILTERBANK[key]
    centres = log_frequencies(fmax_hz=fmax_hz)
    lin = np.arange(1 + n_fft // 2) * sr / n_fft
    bin_hz = sr / n_fft
    ratio = 2.0 ** (1.0 / (12.0 * BINS_PER_SEMITONE))
    rows, cols, vals = [], [], []
    for i, fc in enumerate(centres):
        half = max(fc * (ratio - 1.0), bin_hz)
        lo, hi = fc - half, fc + half
        j = np.nonzero((lin > lo) & (lin < hi))[0]
        w = 1.0 - np.abs(lin[j] - fc) / half
        if w.sum() > 0:
            rows += [i] * j.size
            cols += j.tolist()
            vals += (w / w.sum() if norm == "mean" else w).tolist()
    fb = scipy.sparse.csr_matrix(
        (np.asarray(vals, dtype=np.float32), (rows, cols)), shape=(centres.size, lin.size)
    )
    _FILTERBANK[key] = fb
    return fb


def log_spectrogram(y: np.ndarray, *, hop_length: int = NMF_HOP) -> np.ndarray:
    """Return the log-frequency magnitude spectrogram (n_bins, T) float32 of analysis audio."""
    D = spectral.stft(y, n_fft=NMF_N_FFT, hop_length=hop_length)
    S = np.abs(D).astype(np.float32)
    return np.asarray(log_filterbank() @ S, dtype=np.float32)


def _window_kernel(offset_bins: np.ndarray) -> np.ndarray:
    # Magnitude of a Hann window's transform, as a function of distance in FFT bins.
    x = np.asarray(offset_bins, dtype=np.float64)
    out = np.abs(np.sinc(x) / np.maximum(np.abs(1.0 - x**2), 1e-9))
    out[np.abs(np.abs(x) - 1.0) < 1e-9] = 0.5
    return np.where(np.abs(x) < 2.0, out, 0.0)


def pitch_templates(
    *, lowest: int = LOWEST_PITCH, highest: int = HIGHEST_PITCH, rolloff: float = 1.0
) -> np.ndarray:
    """Return harmonic templates (n_log_bins, n_pitches) float32, one per MIDI pitch, unit sum.

    Harmonic ``h`` of pitch ``p`` weighs ``h ** -rolloff`` and is shaped like a Hann window's
    main lobe on the linear FFT grid, then mapped to log frequency like the spectrogram.
    """
    fb = log_filterbank()
    n_lin = fb.shape[1]
    lin_bins = np.arange(n_lin, dtype=np.float64)
    cols = []
    for p in range(lowest, highest + 1):
        f0 = float(pitch_to_hz(p))
        spectrum = np.zeros(n_lin)
        for h in range(1, N_HARMONICS + 1):
            fh = h * f0
            if fh >= min(LOG_FMAX_HZ, ANALYSIS_SR / 2):
                break
            centre = fh * NMF_N_FFT / ANALYSIS_SR
            lo, hi = max(0, int(centre) - 2), min(n_lin, int(centre) + 4)
            spectrum[lo:hi] += h**-rolloff * _window_kernel(lin_bins[lo:hi] - centre)
        col = fb @ spectrum
        cols.append(col / max(col.sum(), 1e-12))
    return np.stack(cols, axis=1).astype(np.float32)


# --------------------------------------------------------------------------------------------
# Activations -> notes


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Return [start, end) runs of True in a 1-D boolean array."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.nonzero(d == 1)[0].tolist(), np.nonzero(d == -1)[0].tolist(), strict=True))


def _velocity(level: float, ref: float) -> int:
    # 40 dB below the reference is velocity 1; the reference is 127.
    db = 20.0 * math.log10(max(level, 1e-12) / max(ref, 1e-12))
    return int(np.clip(round(127 + db * 126 / 40.0), 1, 127))


def notes_from_activations(
    H: np.ndarray,
    *,
    fps: float,
    lowest: int,
    threshold: float,
    onset_threshold: float,
    min_note_s: float,
    frame_ratio: float = DEFAULT_NMF_FRAME_RATIO,
    context_s: float = DEFAULT_NMF_CONTEXT_S,
) -> list[Note]:
    """Turn pitch activations (n_pitches, n_frames) into notes.

    A pitch is on where its (3-frame smoothed) activation exceeds ``threshold`` times the
    loudest activation within ``context_s`` seconds (at least a tenth of the piece's loudest,
    so quiet passages count but silence does not), and ``frame_ratio`` times the loudest pitch
    of that frame (octave and partial ghosts are weaker than the note that causes them). A run
    of frames is split where the activation rises by more than ``onset_threshold`` of its
    run's peak within two frames (a repeated note). Runs shorter than ``min_note_s`` are
    dropped. Velocity follows the note's peak activation in dB below the piece's loudest.
    """
    if H.size == 0:
        return []
    Hs = scipy.ndimage.uniform_filter1d(H.astype(np.float64), size=3, axis=1)
    ref = float(Hs.max())
    if ref <= 0:
        return []
    frame_max = Hs.max(axis=0)
    window = max(1, round(context_s * fps))
    local = np.maximum(scipy.ndimage.maximum_filter1d(frame_max, size=window), 0.1 * ref)
    active = (Hs >= threshold * local[None, :]) & (Hs >= frame_ratio * frame_max[None, :])
    min_frames = max(1, round(min_note_s * fps))
    rise = np.zeros_like(Hs)
    rise[:, 2:] = Hs[:, 2:] - Hs[:, :-2]
    notes: list[Note] = []
    for k in np.nonzero(active.any(axis=1))[0]:
        row, up = Hs[k], rise[k]
        for a, b in _runs(active[k]):
            peak = float(row[a:b].max())
            cuts = [a]
            cand, _ = scipy.signal.find_peaks(
                up[a:b], height=onset_threshold * peak, distance=min_frames
            )
            for c in cand + a:
                if c - cuts[-1] >= min_frames and b - c >= min_frames:
                    cuts.append(int(c) - 1)
            cuts.append(b)
            for s, e in itertools.pairwise(cuts):
                if e - s < min_frames:
                    continue
                level = float(row[s:e].max())
                notes.append(Note(int(lowest + k), s / fps, e / fps, _velocity(level, ref)))
    return notes


# --------------------------------------------------------------------------------------------
# Backends


@dataclass(frozen=True, kw_only=True)
class NMFTranscribeOptions:
    """Settings of :func:`transcribe_nmf` (defaults are the module constants)."""

    threshold: float = DEFAULT_NMF_THRESHOLD
    onset_threshold: float = DEFAULT_NMF_ONSET
    min_note_s: float = DEFAULT_NMF_MIN_NOTE_S
    frame_ratio: float = DEFAULT_NMF_FRAME_RATIO
    n_iter: int = DEFAULT_NMF_ITER
    lowest: int = LOWEST_PITCH
    highest: int = HIGHEST_PITCH


def transcribe_nmf(
    y: np.ndarray,
    *,
    sr: float,
    options: NMFTranscribeOptions | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> NoteSequence:
    """Transcribe polyphonic audio with fixed harmonic templates (NMF, activations only).

    Parameters
    ----------
    y : np.ndarray [shape=(..., n_samples), dtype=float]
        Audio; channels are mixed to mono.
    sr : float
        Its sample rate.
    options : NMFTranscribeOptions or None
        Thresholds and ranges.
    progress, cancel
        Progress reports and cooperative cancellation (checked between NMF iterations).

    Returns
    -------
    NoteSequence
        The notes, named "nmf"; empty for silence.

    Raises
    ------
    ParameterError
        If the audio is shorter than one analysis window (186 ms) or an option is out of range.
    JobCancelled
        If ``cancel`` was set.

    Examples
    --------
    >>> sr = 22050
    >>> t = np.arange(sr) / sr
    >>> y = sum(np.sin(2 * np.pi * 220.0 * h * t) / h for h in range(1, 6))
    >>> [n.pitch for n in transcribe_nmf(y.astype(np.float32), sr=sr).notes]
    [57]
    """
    opt = options or NMFTranscribeOptions()
    check_float("threshold", opt.threshold, lo=0.0, hi=1.0)
    check_float("frame_ratio", opt.frame_ratio, lo=0.0, hi=1.0)
    check_float("onset_threshold", opt.onset_threshold, lo=0.0, hi=10.0)
    check_float("min_note_s", opt.min_note_s, lo=0.0, hi=10.0)
    check_int("n_iter", opt.n_iter, lo=1, hi=1000)
    lowest = check_int("lowest", opt.lowest, lo=LOWEST_PITCH, hi=HIGHEST_PITCH)
    highest = check_int("highest", opt.highest, lo=lowest, hi=HIGHEST_PITCH)
    mono = to_analysis(y, sr=sr, min_s=NMF_N_FFT / ANALYSIS_SR, backend="nmf")
    if is_silent(mono):
        return sequence((), name="nmf")
    S = log_spectrogram(mono)
    W = pitch_templates(lowest=lowest, highest=highest)
    n_frames = S.shape[1]
    if n_frames < W.shape[1]:
        # nmf.decompose wants K <= n_frames even with W fixed; silent frames change nothing.
        S = np.pad(S, ((0, 0), (0, W.shape[1] - n_frames)))
    result = nmf.decompose(
        S,
        n_components=W.shape[1],
        beta=1.0,
        n_iter=opt.n_iter,
        tol=0.0,
        W_init=W,
        update="H",
        progress=progress,
        cancel=cancel,
    )
    notes = notes_from_activations(
        result.H[:, :n_frames],
        fps=ANALYSIS_SR / NMF_HOP,
        lowest=lowest,
        threshold=opt.threshold,
        onset_threshold=opt.onset_threshold,
        min_note_s=opt.min_note_s,
        frame_ratio=opt.frame_ratio,
    )
    return sequence(notes, name="nmf")


@dataclass(frozen=True, kw_only=True)
class PyinOptions:
    """Settings of :func:`transcribe_pyin`."""

    fmin_hz: float = DEFAULT_PYIN_FMIN_HZ
    fmax_hz: float = DEFAULT_PYIN_FMAX_HZ
    voiced_threshold: float = DEFAULT_PYIN_VOICED
    min_note_s: float = DEFAULT_PYIN_MIN_NOTE_S
    max_bend: float = DEFAULT_MAX_BEND
    bends: bool = True


PYIN_FRAME = 2048
PYIN_HOP = 256
PYIN_GATE = 0.1
"""Frames this far (-20 dB) under the loudest of the last 0.75 s are unvoiced."""
PYIN_ONSET_RISE = 1.3
"""An energy onset splits a note only if the level rises by this factor around it."""
PYIN_BACKTRACK_S = 0.15
"""A note's start moves back to an energy onset at most this much earlier."""
PYIN_RESOLUTION = 0.2
"""Semitones per pyin pitch bin: 0.1 (librosa's default) is ten times slower (the Viterbi is
quadratic in bins); bend curves are smoothed over 5 frames, which hides the 20-cent steps."""


def transcribe_pyin(
    y: np.ndarray,
    *,
    sr: float,
    options: PyinOptions | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> NoteSequence:
    """Transcribe a monophonic line (lead, bass, voice) with pyin, with continuous bends.

    A note is a stretch of voiced frames; it is cut where the energy has an onset (a repeated
    note), where the pitch jumps by more than half a semitone between frames, or where it has
    moved more than ``max_bend`` semitones from the note's key (a slow glide becomes a chain of
    bent notes). Each note's key is the median pitch of its frames, rounded; its bend curve is
    the pitch track minus the key, one point per frame.

    Raises
    ------
    ParameterError
        If the audio is shorter than one pyin frame (93 ms) or an option is out of range.
    """
    import librosa

    opt = options or PyinOptions()
    fmin = check_float("fmin_hz", opt.fmin_hz, lo=30.0, hi=4000.0)
    fmax = check_float("fmax_hz", opt.fmax_hz, lo=fmin * 2, hi=ANALYSIS_SR / 4)
    voiced_thr = check_float("voiced_threshold", opt.voiced_threshold, lo=0.0, hi=1.0)
    min_note_s = check_float("min_note_s", opt.min_note_s, lo=0.0, hi=10.0)
    max_bend = check_float("max_bend", opt.max_bend, lo=0.1, hi=12.0)
    mono = to_analysis(y, sr=sr, min_s=PYIN_FRAME / ANALYSIS_SR, backend="pyin")
    if is_silent(mono):
        return sequence((), name="pyin")
    _tick(progress, cancel, 0.0, "tracking pitch")
    f0, voiced, prob = librosa.pyin(
        mono,
        fmin=fmin,
        fmax=fmax,
        sr=ANALYSIS_SR,
        frame_length=PYIN_FRAME,
        hop_length=PYIN_HOP,
        center=True,
        resolution=PYIN_RESOLUTION,
    )
    _tick(progress, cancel, 0.8, "making notes")
    fps = ANALYSIS_SR / PYIN_HOP
    rms = librosa.feature.rms(y=mono, frame_length=PYIN_FRAME, hop_length=PYIN_HOP)[0]
    n = min(f0.size, rms.size)
    f0, voiced, prob, rms = f0[:n], voiced[:n], prob[:n], rms[:n]
    # A reverb tail keeps its pitch after the note: frames 20 dB under the last 0.75 s's
    # loudest are not notes.
    trail = max(1, round(0.75 * fps))
    recent = scipy.ndimage.maximum_filter1d(rms, size=trail, origin=(trail - 1) // 2)
    on = voiced & (prob >= voiced_thr) & np.isfinite(f0) & (rms >= PYIN_GATE * recent)
    pitch = np.where(on, hz_to_pitch(np.where(np.isfinite(f0), f0, 1.0)), np.nan)
    # Energy onsets that come with a rise in level: repeated notes at one pitch, and where a
    # slowly voiced note (bowed, blown) really started.
    env = librosa.onset.onset_strength(y=mono, sr=ANALYSIS_SR, hop_length=PYIN_HOP)[:n]
    found = librosa.onset.onset_detect(
        onset_envelope=env, sr=ANALYSIS_SR, hop_length=PYIN_HOP, units="frames"
    )
    onsets = sorted(
        int(i)
        for i in found
        if i < n and rms[min(i + 3, n - 1)] >= PYIN_ONSET_RISE * rms[max(i - 2, 0)]
    )
    onset_set = set(onsets)
    ref = float(rms.max()) if rms.size else 1.0
    min_frames = max(2, round(min_note_s * fps))
    lookback = round(PYIN_BACKTRACK_S * fps)
    notes: list[Note] = []
    for a, b in _runs(on):
        before = [o for o in onsets if a - lookback <= o < a]
        lead = a - before[-1] if before else 0
        start = a
        key = float(np.round(np.median(pitch[a : a + 3])))
        for i in range(a + 1, b + 1):
            cut = i == b
            moved = 0
            if not cut:
                jump = abs(pitch[i] - pitch[i - 1]) > 0.5
                drift = abs(pitch[i] - key) > max_bend
                cut = jump or drift or (i in onset_set and i - start >= min_frames)
                if jump:
                    # Pitch trackers switch late on legato changes: the change began at the
                    # last energy onset, if there is one just before.
                    near = [o for o in onsets if max(start + min_frames, i - lookback) <= o < i]
                    moved = i - near[-1] if near else 0
            if cut:
                end = i - moved
                if end - start >= min_frames:
                    notes.append(
                        _pyin_note(
                            pitch[start:end],
                            rms[start:end],
                            start,
                            fps,
                            ref,
                            bends=opt.bends,
                            lead=lead,
                        )
                    )
                start, lead = i, moved
                key = float(np.round(np.median(pitch[i : i + 3]))) if i < b else key
    return sequence(notes, name="pyin")


def _pyin_note(
    seg: np.ndarray,
    rms: np.ndarray,
    start: int,
    fps: float,
    ref: float,
    *,
    bends: bool,
    lead: int = 0,
) -> Note:
    """One pyin note; ``lead`` frames before ``start`` are its (unvoiced) attack."""
    key = int(np.clip(np.round(np.median(seg)), 0, 127))
    curve: tuple[Bend, ...] = ()
    if bends:
        smooth = scipy.ndimage.uniform_filter1d(seg, size=min(5, seg.size), mode="nearest")
        dev = smooth - key
        if float(np.max(np.abs(dev))) > 0.1:
            curve = tuple(Bend((lead + i) / fps, round(float(d), 4)) for i, d in enumerate(dev))
    return Note(
        key, (start - lead) / fps, (start + seg.size) / fps, _velocity(float(rms.max()), ref), curve
    )


def _tick(progress: ProgressFn | None, cancel: CancelToken | None, f: float, stage: str) -> None:
    if cancel is not None:
        cancel.raise_if_cancelled()
    if progress is not None:
        progress(f, stage)


# --------------------------------------------------------------------------------------------
# Drums


def drum_templates() -> np.ndarray:
    """Return kick, snare body, snare noise and hi-hat templates (n_log_bins, 4) float32.

    Each column has unit sum. The snare has two templates because its body overlaps the kick's
    (both ring around 100-200 Hz); its noise (1-5 kHz) is what tells a snare hit.

    Bins are those of ``log_frequencies(fmax_hz=DRUM_FMAX_HZ)`` with summed energy (see
    :func:`log_filterbank`). Kick: bumps at 55 and 120 Hz, a thin click tail. Snare: a body
    around 200 Hz and broadband noise up to 10 kHz. Hi-hat: noise rising above 5 kHz.
    """
    f = log_frequencies(fmax_hz=DRUM_FMAX_HZ)
    lf = np.log2(f)

    def bump(centre_hz: float, octaves: float) -> np.ndarray:
        return np.asarray(np.exp(-0.5 * ((lf - math.log2(centre_hz)) / octaves) ** 2))

    # Log bins are denser in Hz at high frequencies: weight noise by bandwidth (~ f).
    bandwidth = f / f.max()
    # The kick's body sweeps down from ~150 Hz: a second bump keeps it out of the snare's.
    kick = bump(55.0, 0.6) + 0.6 * bump(120.0, 0.5) + 0.01 * bump(2000.0, 1.5) * bandwidth
    snare_body = bump(200.0, 0.5)
    snare_noise = bump(2500.0, 1.0) * bandwidth
    hat = np.clip((lf - math.log2(5000.0)) / 0.7, 0.0, 1.0) * bandwidth
    W = np.stack([kick, snare_body, snare_noise, hat], axis=1)
    return np.asarray(W / W.sum(axis=0, keepdims=True), dtype=np.float32)


@dataclass(frozen=True, kw_only=True)
class DrumOptions:
    """Settings of :func:`transcribe_drums`."""

    threshold: float = DEFAULT_DRUM_THRESHOLD
    adapt: bool = False
    adapt_iter: int = 40


def transcribe_drums(
    y: np.ndarray,
    *,
    sr: float,
    options: DrumOptions | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> NoteSequence:
    """Transcribe a drum stem into GM kick (36), snare (38) and closed hi-hat (42) notes.

    Onsets come from spectral flux; NMF with fixed kick/snare/hat templates gives each drum's
    activation. At each onset, a drum is hit when its activation rises by more than
    ``threshold`` of that drum's largest rise in the piece (and by a clear share of the
    loudest drum's), so simultaneous kick and hat both count.

    Raises
    ------
    ParameterError
        If the audio is shorter than one analysis window or an option is out of range.
    """
    import librosa

    opt = options or DrumOptions()
    thr = check_float("threshold", opt.threshold, lo=0.0, hi=1.0)
    mono = to_analysis(y, sr=sr, min_s=NMF_N_FFT / ANALYSIS_SR / 2, backend="drums")
    if is_silent(mono):
        return sequence((), is_drum=True, name="drums")
    hop = NMF_HOP
    fps = ANALYSIS_SR / hop
    D = spectral.stft(mono, n_fft=1024, hop_length=hop)
    S_lin = np.abs(D).astype(np.float32)
    fb = log_filterbank(n_fft=1024, norm="sum", fmax_hz=DRUM_FMAX_HZ)
    S = np.asarray(fb @ S_lin, dtype=np.float32)
    W = drum_templates()
    _tick(progress, cancel, 0.1, "separating drums")
    res = nmf.decompose(
        S, n_components=W.shape[1], beta=1.0, n_iter=40, tol=0.0, W_init=W, update="H",
        cancel=cancel,
    )
    if opt.adapt:
        # Let the templates fit this kit (its kick may ring higher, its snare lower), starting
        # from where the fixed ones left off so that each stays the drum it was.
        res = nmf.decompose(
            S, n_components=W.shape[1], beta=1.0, n_iter=opt.adapt_iter, tol=0.0, W_init=W,
            H_init=res.H, update="both", cancel=cancel,
        )
    # Rows that decide each drum: kick, snare noise, hat.
    H = res.H[list(_DRUM_ROWS)].astype(np.float64)
    # center=False: S comes from a centred STFT already (librosa would shift it by 4 frames).
    env = librosa.onset.onset_strength(
        S=librosa.amplitude_to_db(S_lin, ref=np.max), sr=ANALYSIS_SR, hop_length=hop,
        center=False,
    )
    frames = librosa.onset.onset_detect(
        onset_envelope=env, sr=ANALYSIS_SR, hop_length=hop, units="frames", backtrack=False
    )
    if frames.size == 0:
        return sequence((), is_drum=True, name="drums")
    T = H.shape[1]
    rises = np.zeros((3, frames.size))
    for j, t in enumerate(frames):
        after = H[:, max(0, t - 1) : min(T, t + 4)].max(axis=1)
        before = H[:, max(0, t - 4) : t].min(axis=1) if t > 0 else np.zeros(3)
        rises[:, j] = np.maximum(after - before, 0.0)
    per_drum = rises.max(axis=1, keepdims=True)
    # A drum is in the piece only if its largest rise is not lost under the loudest drum's
    # (-40 dB); then an onset hits it when its rise is a fair share of its largest.
    present = per_drum >= DRUM_PRESENCE * float(rises.max())
    hit = (rises >= thr * per_drum) & present & (per_drum > 0)
    notes: list[Note] = []
    for j, t in enumerate(frames):
        for k, key in enumerate(DRUM_KEYS):
            if hit[k, j]:
                notes.append(
                    Note(
                        key,
                        float(t) / fps,
                        float(t) / fps + 0.1,
                        _velocity(float(rises[k, j]), float(per_drum[k, 0])),
                    )
                )
    _tick(progress, cancel, 1.0, "done")
    return sequence(notes, is_drum=True, name="drums")
