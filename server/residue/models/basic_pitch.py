"""Spotify's Basic Pitch (ICASSP 2022) run from its ONNX file with onnxruntime.

The model file is the one shipped in the ``basic-pitch`` wheel
(``basic_pitch/saved_models/icassp_2022/nmp.onnx``, Apache-2.0), found without importing the
package (its ``__init__`` probes for TensorFlow and CoreML and logs warnings), or an explicit
path. Nothing is downloaded.

The model reads 22050 Hz mono in windows of 43844 samples (2 s) that overlap by 30 output
frames, and gives, at 86 frames per second, note-frame and onset posteriors over the 88 piano
keys and a pitch contour at a third of a semitone. Notes are made from them exactly as Basic
Pitch's ``note_creation.output_to_notes_polyphonic`` does (same defaults, same "melodia trick",
same timing correction), re-implemented so that the greedy search is not quadratic; pitch bends
come from the contour around each note as in ``get_pitch_bends``.
"""

from __future__ import annotations

import importlib.util
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import scipy.signal

from residue.dsp._validate import check_float, check_int
from residue.dsp.notes import Bend, Note, NoteSequence, sequence
from residue.dsp.progress import CancelToken, ProgressFn
from residue.dsp.transcribe import ANALYSIS_SR, to_analysis
from residue.errors import ModelUnavailableError

MODEL_RELATIVE_PATH = Path("saved_models") / "icassp_2022" / "nmp.onnx"
SAMPLE_RATE = ANALYSIS_SR
FFT_HOP = 256
N_FFT = 8 * FFT_HOP
FPS = SAMPLE_RATE // FFT_HOP  # 86, as Basic Pitch's ANNOTATIONS_FPS
WINDOW_SAMPLES = SAMPLE_RATE * 2 - FFT_HOP  # 43844
FRAMES_PER_WINDOW = FPS * 2  # 172
OVERLAP_FRAMES = 30
OVERLAP_SAMPLES = OVERLAP_FRAMES * FFT_HOP
WINDOW_HOP = WINDOW_SAMPLES - OVERLAP_SAMPLES
MIDI_OFFSET = 21
N_PITCHES = 88
CONTOUR_BINS_PER_SEMITONE = 3
N_CONTOUR_BINS = N_PITCHES * CONTOUR_BINS_PER_SEMITONE
MIN_DURATION_S = N_FFT / SAMPLE_RATE
"""Shorter sounds do not fill one analysis window of the model's front end (93 ms)."""
BATCH_WINDOWS = 8

DEFAULT_ONSET_THRESHOLD = 0.5
DEFAULT_FRAME_THRESHOLD = 0.3
DEFAULT_MIN_NOTE_LENGTH_MS = 127.70
DEFAULT_ENERGY_TOLERANCE = 11
DEFAULT_BEND_TOLERANCE_BINS = 25

_INPUT = "serving_default_input_2:0"
_OUTPUTS = ("StatefulPartitionedCall:1", "StatefulPartitionedCall:2", "StatefulPartitionedCall:0")


class Availability(NamedTuple):
    """Whether the backend can run, why not, and the model file it would use."""

    available: bool
    reason: str
    path: Path | None


def wheel_model_path() -> Path | None:
    """Return the ONNX file inside the installed basic-pitch wheel, or None (no import made)."""
    try:
        spec = importlib.util.find_spec("basic_pitch")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / MODEL_RELATIVE_PATH
        if candidate.is_file():
            return candidate
    return None


def resolve_model_path(models_dir: Path | None = None) -> Path | None:
    """Return the model to use: ``models_dir/basic_pitch/nmp.onnx`` if present, else the wheel's."""
    if models_dir is not None:
        local = Path(models_dir) / "basic_pitch" / "nmp.onnx"
        if local.is_file():
            return local
    return wheel_model_path()


def availability(model_path: Path | None = None, *, models_dir: Path | None = None) -> Availability:
    """Say whether Basic Pitch can run here, and if not, why.

    Parameters
    ----------
    model_path : Path or None
        An explicit ONNX file; ``None`` looks in ``models_dir`` then in the basic-pitch wheel.
    models_dir : Path or None
        A folder with ``basic_pitch/nmp.onnx``.
    """
    if importlib.util.find_spec("onnxruntime") is None:
        return Availability(False, "onnxruntime is not installed (pip install onnxruntime)", None)
    path = Path(model_path) if model_path is not None else resolve_model_path(models_dir)
    if path is None:
        return Availability(
            False,
            "the Basic Pitch model file is absent: pip install --no-deps basic-pitch==0.4.0, or "
            "put nmp.onnx in <models_dir>/basic_pitch/",
            None,
        )
    if not path.is_file():
        return Availability(False, f"the Basic Pitch model file {path} does not exist", path)
    return Availability(True, "", path)


class ModelOutput(NamedTuple):
    """Posteriors at 86 frames/s: ``note`` and ``onset`` (T, 88), ``contour`` (T, 264), float32."""

    note: np.ndarray
    onset: np.ndarray
    contour: np.ndarray


class BasicPitch:
    """A loaded Basic Pitch ONNX model.

    Parameters
    ----------
    model_path : Path
        The ``nmp.onnx`` file.
    threads : int or None
        onnxruntime intra-op threads (``None``: its default, all cores).

    Raises
    ------
    ModelUnavailableError
        If onnxruntime is missing or the file cannot be loaded.
    """

    def __init__(self, model_path: Path, *, threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise ModelUnavailableError("onnxruntime is not installed") from None
        path = Path(model_path)
        if not path.is_file():
            raise ModelUnavailableError(f"the Basic Pitch model file {path} does not exist")
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = check_int("threads", threads, lo=1, hi=256)
        options.log_severity_level = 3
        # Idle worker threads sleep instead of spinning: on a shared server (NMF, other jobs)
        # spinning burns a core for nothing and was slower under load.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self._session: Any = ort.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
            raise ModelUnavailableError(f"{path} is not a loadable ONNX model: {exc}") from None
        self.path = path

    def predict(
        self,
        y: np.ndarray,
        *,
        progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
    ) -> ModelOutput:
        """Run the model on mono audio at 22050 Hz.

        Parameters
        ----------
        y : np.ndarray [shape=(n_samples,), dtype=float32]
            Mono audio at :data:`SAMPLE_RATE`.

        Returns
        -------
        ModelOutput
            ``floor(n_samples * 86 / 22050)`` frames, as Basic Pitch's ``run_inference``.
        """
        audio = np.concatenate([np.zeros(OVERLAP_SAMPLES // 2, dtype=np.float32), y])
        starts = list(range(0, audio.size, WINDOW_HOP))
        windows = np.zeros((len(starts), WINDOW_SAMPLES, 1), dtype=np.float32)
        for i, s in enumerate(starts):
            chunk = audio[s : s + WINDOW_SAMPLES]
            windows[i, : chunk.size, 0] = chunk
        outs: list[list[np.ndarray]] = [[], [], []]
        for b in range(0, len(starts), BATCH_WINDOWS):
            if cancel is not None:
                cancel.raise_if_cancelled()
            if progress is not None:
                progress(b / len(starts), "transcribing")
            result = self._session.run(list(_OUTPUTS), {_INPUT: windows[b : b + BATCH_WINDOWS]})
            for k in range(3):
                outs[k].append(np.asarray(result[k], dtype=np.float32))
        n_frames = math.floor(y.size * (FPS / SAMPLE_RATE))
        half = OVERLAP_FRAMES // 2
        unwrapped = []
        for parts in outs:
            arr = np.concatenate(parts)[:, half:-half, :]
            unwrapped.append(arr.reshape(-1, arr.shape[-1])[:n_frames])
        return ModelOutput(*unwrapped)


_CACHE: dict[tuple[str, int | None], BasicPitch] = {}
_CACHE_LOCK = threading.Lock()


def load(model_path: Path, *, threads: int | None = None) -> BasicPitch:
    """Return a loaded model, shared per (path, threads) in this process."""
    key = (str(Path(model_path).resolve()), threads)
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = BasicPitch(Path(model_path), threads=threads)
        return _CACHE[key]


# --------------------------------------------------------------------------------------------
# Note creation (Basic Pitch's algorithm)


@dataclass(frozen=True, kw_only=True)
class NoteOptions:
    """Basic Pitch's note-creation settings, with its defaults.

    Attributes
    ----------
    onset_threshold : float
        Minimum onset posterior for a note to start.
    frame_threshold : float
        Minimum frame posterior for a note to continue.
    min_note_length_ms : float
        Shorter notes are dropped (converted to frames as Basic Pitch does).
    min_freq_hz, max_freq_hz : float or None
        Pitch range.
    infer_onsets : bool
        Add onsets where frame posteriors jump.
    melodia_trick : bool
        Also make notes from strong frames without onsets.
    include_bends : bool
        Estimate pitch bends from the contour.
    energy_tolerance : int
        Frames below threshold a note may bridge.
    """

    onset_threshold: float = DEFAULT_ONSET_THRESHOLD
    frame_threshold: float = DEFAULT_FRAME_THRESHOLD
    min_note_length_ms: float = DEFAULT_MIN_NOTE_LENGTH_MS
    min_freq_hz: float | None = None
    max_freq_hz: float | None = None
    infer_onsets: bool = True
    melodia_trick: bool = True
    include_bends: bool = True
    energy_tolerance: int = DEFAULT_ENERGY_TOLERANCE

    def checked(self) -> NoteOptions:
        """Return the options after checking their ranges."""
        check_float("onset_threshold", self.onset_threshold, lo=0.0, hi=1.0)
        check_float("frame_threshold", self.frame_threshold, lo=0.0, hi=1.0)
        check_float("min_note_length_ms", self.min_note_length_ms, lo=0.0, hi=10_000.0)
        check_int("energy_tolerance", self.energy_tolerance, lo=1, hi=1000)
        for name in ("min_freq_hz", "max_freq_hz"):
            value = getattr(self, name)
            if value is not None:
                check_float(name, value, lo=1.0, hi=20_000.0)
        return self


def _hz_to_key_index(hz: float) -> int:
    return round(12.0 * math.log2(hz / 440.0) + 69.0 - MIDI_OFFSET)


def frames_to_times(n_frames: int) -> np.ndarray:
    """Return the time (s) of each output frame, with Basic Pitch's per-window correction."""
    original = np.arange(n_frames) * FFT_HOP / SAMPLE_RATE
    window_numbers = np.floor(np.arange(n_frames) / FRAMES_PER_WINDOW)
    offset = (FFT_HOP / SAMPLE_RATE) * (FRAMES_PER_WINDOW - WINDOW_SAMPLES / FFT_HOP) + 0.0018
    return np.asarray(original - offset * window_numbers, dtype=np.float64)


def _inferred_onsets(onsets: np.ndarray, frames: np.ndarray, n_diff: int = 2) -> np.ndarray:
    diffs = []
    for n in range(1, n_diff + 1):
        padded = np.concatenate([np.zeros((n, frames.shape[1])), frames])
        diffs.append(padded[n:, :] - padded[:-n, :])
    frame_diff = np.min(diffs, axis=0)
    frame_diff[frame_diff < 0] = 0
    frame_diff[:n_diff, :] = 0
    top = float(np.max(frame_diff))
    if top > 0:
        frame_diff = float(np.max(onsets)) * frame_diff / top
    return np.asarray(np.maximum(onsets, frame_diff))


def _zero_note(remaining: np.ndarray, a: int, b: int, f: int) -> None:
    remaining[a:b, f] = 0
    if f < N_PITCHES - 1:
        remaining[a:b, f + 1] = 0
    if f > 0:
        remaining[a:b, f - 1] = 0


def note_events(
    frames: np.ndarray, onsets: np.ndarray, *, options: NoteOptions
) -> list[tuple[int, int, int, float]]:
    """Decode posteriors into (start_frame, end_frame, midi_pitch, amplitude) events.

    The same result as Basic Pitch's ``output_to_notes_polyphonic``; the melodia search visits
    cells in decreasing order once instead of taking the maximum of the whole matrix per note.
    """
    frames = np.array(frames, dtype=np.float64)
    onsets = np.array(onsets, dtype=np.float64)
    n_frames = frames.shape[0]
    if n_frames == 0:
        return []
    frame_thr, energy_tol = options.frame_threshold, options.energy_tolerance
    min_len = round(options.min_note_length_ms / 1000 * (SAMPLE_RATE / FFT_HOP))
    if options.max_freq_hz is not None:
        i = _hz_to_key_index(options.max_freq_hz)
        onsets[:, max(i, 0) :] = 0
        frames[:, max(i, 0) :] = 0
    if options.min_freq_hz is not None:
        i = _hz_to_key_index(options.min_freq_hz)
        onsets[:, : max(i, 0)] = 0
        frames[:, : max(i, 0)] = 0
    if options.infer_onsets:
        onsets = _inferred_onsets(onsets, frames)

    peaks = np.zeros(onsets.shape)
    where = scipy.signal.argrelmax(onsets, axis=0)
    peaks[where] = onsets[where]
    t_idx, f_idx = np.nonzero(peaks >= options.onset_threshold)
    remaining = frames.copy()
    events: list[tuple[int, int, int, float]] = []
    for start, f in zip(t_idx[::-1].tolist(), f_idx[::-1].tolist(), strict=True):
        if start >= n_frames - 1:
            continue
        col = remaining[:, f]
        i, k = start + 1, 0
        while i < n_frames - 1 and k < energy_tol:
            k = k + 1 if col[i] < frame_thr else 0
            i += 1
        i -= k
        if i - start <= min_len:
            continue
        _zero_note(remaining, start, i, f)
        events.append((start, i, f + MIDI_OFFSET, float(np.mean(frames[start:i, f]))))

    if options.melodia_trick:
        flat = remaining.ravel()
        # Cells only ever drop to 0, so visiting candidates in decreasing order (ties in
        # row-major order, as np.argmax) finds each next maximum without a full search.
        cand = np.nonzero(flat > frame_thr)[0]
        order = cand[np.argsort(-flat[cand], kind="stable")]
        for pos in order.tolist():
            if flat[pos] <= frame_thr:
                continue
            i_mid, f = divmod(pos, N_PITCHES)
            remaining[i_mid, f] = 0
            i, k = i_mid + 1, 0
            while i < n_frames - 1 and k < energy_tol:
                k = k + 1 if remaining[i, f] < frame_thr else 0
                _zero_note(remaining, i, i + 1, f)
                i += 1
            i_end = i - 1 - k
            i, k = i_mid - 1, 0
            while i > 0 and k < energy_tol:
                k = k + 1 if remaining[i, f] < frame_thr else 0
                _zero_note(remaining, i, i + 1, f)
                i -= 1
            i_start = i + 1 + k
            if i_end - i_start <= min_len:
                continue
            amplitude = float(np.mean(frames[i_start:i_end, f]))
            events.append((i_start, i_end, f + MIDI_OFFSET, amplitude))
    return events


def _bend_window() -> np.ndarray:
    return np.asarray(
        scipy.signal.windows.gaussian(DEFAULT_BEND_TOLERANCE_BINS * 2 + 1, std=5), dtype=np.float64
    )


def pitch_bends(
    contour: np.ndarray, start: int, end: int, pitch: int, *, window: np.ndarray
) -> np.ndarray:
    """Return per-frame bends of one note in semitones (Basic Pitch's ``get_pitch_bends``)."""
    tol = DEFAULT_BEND_TOLERANCE_BINS
    hz = 440.0 * 2.0 ** ((pitch - 69) / 12.0)
    idx = round(12.0 * CONTOUR_BINS_PER_SEMITONE * math.log2(hz / 27.5))
    lo, hi = max(idx - tol, 0), min(N_CONTOUR_BINS, idx + tol + 1)
    g = window[max(0, tol - idx) : window.size - max(0, idx - (N_CONTOUR_BINS - tol - 1))]
    sub = contour[start:end, lo:hi] * g
    shift = tol - max(0, tol - idx)
    bins = np.argmax(sub, axis=1) - shift
    return np.asarray(bins / CONTOUR_BINS_PER_SEMITONE, dtype=np.float64)


def notes_from_output(output: ModelOutput, *, options: NoteOptions | None = None) -> NoteSequence:
    """Make notes from model posteriors, with bends, as Basic Pitch does.

    Velocity is ``round(127 * amplitude)`` (at least 1); a bend curve that stays at 0 is left
    out. Bend points are spread evenly from the note's start to its end, one per frame.
    """
    opt = (options or NoteOptions()).checked()
    events = note_events(output.note, output.onset, options=opt)
    times = frames_to_times(output.contour.shape[0])
    window = _bend_window()
    notes: list[Note] = []
    for start, end, pitch, amplitude in events:
        t0, t1 = float(times[start]), float(times[end])
        if t1 <= t0:
            continue
        bends: tuple[Bend, ...] = ()
        if opt.include_bends and end > start:
            b = pitch_bends(output.contour, start, end, pitch, window=window)
            if np.any(b != 0):
                bt = np.linspace(0.0, t1 - t0, b.size)
                bends = tuple(Bend(float(t), float(s)) for t, s in zip(bt, b, strict=True))
        velocity = int(np.clip(round(127 * amplitude), 1, 127))
        notes.append(Note(int(pitch), max(t0, 0.0), t1, velocity, bends))
    return sequence(notes, name="basic-pitch")


def prepare_audio(y: np.ndarray, *, sr: float) -> np.ndarray:
    """Return ``y`` as mono float32 at 22050 Hz, checked to be long enough for the model.

    Raises
    ------
    ParameterError
        If the audio is not finite or shorter than :data:`MIN_DURATION_S`.
    """
    # The model's input is the same mono 22050 Hz signal the weightless backends analyse.
    return to_analysis(y, sr=sr, min_s=MIN_DURATION_S, backend="basic-pitch")


def transcribe(
    y: np.ndarray,
    *,
    sr: float,
    model: BasicPitch,
    options: NoteOptions | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> NoteSequence:
    """Transcribe audio with Basic Pitch.

    Parameters
    ----------
    y : np.ndarray [shape=(..., n_samples), dtype=float]
        Audio (channels are averaged).
    sr : float
        Its sample rate (resampled to 22050 Hz).
    model : BasicPitch
        From :func:`load`.
    options : NoteOptions or None
        Note-creation settings (Basic Pitch's defaults).

    Returns
    -------
    NoteSequence
        Notes named "basic-pitch"; empty for silence.

    Raises
    ------
    ParameterError
        If the audio is too short or an option is out of range.
    JobCancelled
        If ``cancel`` was set.
    """
    opt = (options or NoteOptions()).checked()
    mono = prepare_audio(y, sr=sr)
    if float(np.max(np.abs(mono))) < 1e-5:
        return sequence((), name="basic-pitch")
    out = model.predict(mono, progress=progress, cancel=cancel)
    if progress is not None:
        progress(0.95, "making notes")
    return notes_from_output(out, options=opt)
