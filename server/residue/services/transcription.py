"""Audio to MIDI and back: one interface over the transcription backends, MIDI files, renders.

- :func:`transcribe` runs a backend chosen by name ("basic-pitch", "nmf", "pyin", "drums"),
  then the clean-ups the options ask for (:mod:`residue.dsp.notes`).
- :func:`to_midi` / :func:`from_midi` write and read Standard MIDI Files with pretty_midi.
  Retuned or bent notes get per-note pitch bends: notes whose bends differ and overlap in time
  go to different channels (at most 15 melodic channels; channel 10 is for drums), and every
  channel's pitch-bend range is set to :data:`~residue.dsp.tuning.BEND_RANGE_SEMITONES` by RPN 0.
- :func:`render` plays notes with a built-in synth, a sampler instrument or a General MIDI
  SoundFont through FluidSynth, in any tuning.
- :func:`run_transcribe_cli` and :func:`run_render_cli` are the ``residue transcribe`` and
  ``residue render`` commands.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from residue.config import Settings
from residue.dsp import notes as nt
from residue.dsp import synths
from residue.dsp import transcribe as tr
from residue.dsp import tuning as tn
from residue.dsp._validate import check_choice, check_float, check_int
from residue.dsp.notes import Bend, CleanupOptions, Note, NoteSequence
from residue.dsp.progress import CancelToken, ProgressFn
from residue.errors import LimitExceeded, ModelUnavailableError, ParameterError
from residue.models import basic_pitch as bp
from residue.models import soundfont as sfont

BACKENDS = ("basic-pitch", "nmf", "pyin", "drums")
DEFAULT_MAX_NOTES = 20_000
MAX_MELODIC_CHANNELS = 15
MIDI_RESOLUTION = 960
"""Ticks per beat of written files (0.5 ms at 120 BPM)."""
DEFAULT_TEMPO_BPM = 120.0
RENDER_SYNTHS = (*synths.SYNTHS, "soundfont")
DEFAULT_RENDER_SR = 44_100

_DESCRIPTIONS = {
    "basic-pitch": "Spotify's Basic Pitch model (polyphonic, pitch bends)",
    "nmf": "NMF with fixed harmonic templates per pitch (polyphonic, no model)",
    "pyin": "pyin pitch tracking (monophonic: leads, bass, voice; continuous bends)",
    "drums": "onsets + NMF kick/snare/hi-hat templates -> GM drum notes 36/38/42",
}


# --------------------------------------------------------------------------------------------
# Backends


class BackendInfo(NamedTuple):
    """A transcription backend as offered to clients."""

    name: str
    available: bool
    reason: str
    polyphonic: bool
    description: str


def _models_dir(settings: Settings | None) -> Path | None:
    return settings.models_dir if settings is not None else None


def backends(settings: Settings | None = None) -> list[BackendInfo]:
    """List every backend, whether it can run here and why not."""
    state = bp.availability(models_dir=_models_dir(settings))
    return [
        BackendInfo(
            "basic-pitch", state.available, state.reason, True, _DESCRIPTIONS["basic-pitch"]
        ),
        BackendInfo("nmf", True, "", True, _DESCRIPTIONS["nmf"]),
        BackendInfo("pyin", True, "", False, _DESCRIPTIONS["pyin"]),
        BackendInfo("drums", True, "", True, _DESCRIPTIONS["drums"]),
    ]


def default_backend(settings: Settings | None = None) -> str:
    """Return "basic-pitch" when its model is here, else "nmf"."""
    return "basic-pitch" if bp.availability(models_dir=_models_dir(settings)).available else "nmf"


@dataclass(frozen=True, kw_only=True)
class TranscribeOptions:
    """What a transcription request may set; ``None`` keeps the backend's default.

    Attributes
    ----------
    onset_threshold : float or None
        Basic Pitch onset threshold (0.5), NMF onset split (0.3), drum hit threshold (0.3).
    frame_threshold : float or None
        Basic Pitch frame threshold (0.3), NMF activation threshold (0.15), pyin voicing
        probability (0.5).
    min_note_ms : float or None
        The backend's own minimum note length (Basic Pitch 127.7 ms, NMF/pyin 60 ms).
    min_pitch, max_pitch : int or None
        MIDI pitch range searched (and kept).
    bends : bool
        Keep pitch bends (Basic Pitch, pyin).
    melodia_trick : bool
        Basic Pitch: also make notes from strong frames without an onset (its default).
    cleanup : CleanupOptions
        Clean-ups applied after the backend (:func:`residue.dsp.notes.cleanup`).
    max_notes : int
        More notes than this is an error (use a note budget).
    """

    onset_threshold: float | None = None
    frame_threshold: float | None = None
    min_note_ms: float | None = None
    min_pitch: int | None = None
    max_pitch: int | None = None
    bends: bool = True
    melodia_trick: bool = True
    cleanup: CleanupOptions = field(default_factory=CleanupOptions)
    max_notes: int = DEFAULT_MAX_NOTES

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TranscribeOptions:
        """Build options from flat names: these fields plus :class:`CleanupOptions`'s.

        Raises
        ------
        ParameterError
            If a name is unknown.
        """
        own = {f.name for f in fields(cls)} - {"cleanup"}
        clean = {f.name for f in fields(CleanupOptions)}
        unknown = set(values) - own - clean
        if unknown:
            raise ParameterError(
                f"unknown transcription option(s) {sorted(unknown)}; known: {sorted(own | clean)}"
            )
        cleanup = CleanupOptions(**{k: v for k, v in values.items() if k in clean})
        return cls(cleanup=cleanup, **{k: v for k, v in values.items() if k in own})


def _pitch_range(opt: TranscribeOptions) -> tuple[int, int]:
    lo = tr.LOWEST_PITCH if opt.min_pitch is None else opt.min_pitch
    hi = tr.HIGHEST_PITCH if opt.max_pitch is None else opt.max_pitch
    lo = check_int("min_pitch", lo, lo=0, hi=127)
    hi = check_int("max_pitch", hi, lo=lo, hi=127)
    return lo, hi


def transcribe(
    y: np.ndarray,
    *,
    sr: float,
    backend: str | None = None,
    options: TranscribeOptions | None = None,
    settings: Settings | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> NoteSequence:
    """Transcribe audio into notes with the named backend, then clean them up.

    Parameters
    ----------
    y : np.ndarray [shape=(..., n_samples), dtype=float]
        Audio (channels are mixed to mono).
    sr : float
        Its sample rate.
    backend : str or None
        One of :data:`BACKENDS`; ``None`` is :func:`default_backend`.
    options : TranscribeOptions or None
        Thresholds, range and clean-ups.
    settings : Settings or None
        Where models live (``models_dir``).

    Returns
    -------
    NoteSequence
        The notes (a drum part for "drums"); empty for silence.

    Raises
    ------
    ParameterError
        Unknown backend, an option out of range, or audio too short for the backend's window.
    ModelUnavailableError
        If "basic-pitch" was asked for and its model or onnxruntime is absent.
    LimitExceeded
        If there are more than ``options.max_notes`` notes.
    JobCancelled
        If ``cancel`` was set.
    """
    opt = options or TranscribeOptions()
    name = default_backend(settings) if backend is None else backend
    check_choice("backend", name, BACKENDS)
    max_notes = check_int("max_notes", opt.max_notes, lo=1)
    lo, hi = _pitch_range(opt)
    seq = _run_backend(name, y, sr=sr, opt=opt, lo=lo, hi=hi, settings=settings,
                       progress=progress, cancel=cancel)
    if not opt.bends:
        seq = seq.with_notes(replace(n, bends=()) for n in seq.notes)
    if opt.min_pitch is not None or opt.max_pitch is not None:
        if not seq.is_drum:
            seq = nt.limit_pitch_range(seq, low=lo, high=hi)
    tempo_hint = None
    if opt.cleanup.quantize and opt.cleanup.tempo_bpm is None and seq.notes:
        tempo_hint = estimate_tempo_audio(y, sr=sr)
    seq = nt.cleanup(seq, options=opt.cleanup, tempo_hint_bpm=tempo_hint).notes
    if len(seq) > max_notes:
        raise LimitExceeded(
            f"the transcription has {len(seq)} notes; the limit is {max_notes} "
            "(raise a threshold or set a note budget per second)"
        )
    return seq


def _run_backend(
    name: str,
    y: np.ndarray,
    *,
    sr: float,
    opt: TranscribeOptions,
    lo: int,
    hi: int,
    settings: Settings | None,
    progress: ProgressFn | None,
    cancel: CancelToken | None,
) -> NoteSequence:
    if name == "basic-pitch":
        state = bp.availability(models_dir=_models_dir(settings))
        if not state.available or state.path is None:
            raise ModelUnavailableError(f"basic-pitch is unavailable: {state.reason}")
        note_opt = bp.NoteOptions(
            onset_threshold=_or(opt.onset_threshold, bp.DEFAULT_ONSET_THRESHOLD),
            frame_threshold=_or(opt.frame_threshold, bp.DEFAULT_FRAME_THRESHOLD),
            min_note_length_ms=_or(opt.min_note_ms, bp.DEFAULT_MIN_NOTE_LENGTH_MS),
            min_freq_hz=None if opt.min_pitch is None else float(tn.pitch_to_hz(lo - 0.5)),
            max_freq_hz=None if opt.max_pitch is None else float(tn.pitch_to_hz(hi + 0.5)),
            include_bends=opt.bends,
            melodia_trick=opt.melodia_trick,
        )
        model = bp.load(state.path)
        return bp.transcribe(y, sr=sr, model=model, options=note_opt, progress=progress,
                             cancel=cancel)
    if name == "nmf":
        nmf_opt = tr.NMFTranscribeOptions(
            threshold=_or(opt.frame_threshold, tr.DEFAULT_NMF_THRESHOLD),
            onset_threshold=_or(opt.onset_threshold, tr.DEFAULT_NMF_ONSET),
            min_note_s=_or(opt.min_note_ms, tr.DEFAULT_NMF_MIN_NOTE_S * 1000) / 1000,
            lowest=max(lo, tr.LOWEST_PITCH),
            highest=min(hi, tr.HIGHEST_PITCH),
        )
        return tr.transcribe_nmf(y, sr=sr, options=nmf_opt, progress=progress, cancel=cancel)
    if name == "pyin":
        pyin_opt = tr.PyinOptions(
            fmin_hz=max(float(tn.pitch_to_hz(lo - 0.5)), tr.DEFAULT_PYIN_FMIN_HZ)
            if opt.min_pitch is not None else tr.DEFAULT_PYIN_FMIN_HZ,
            fmax_hz=min(float(tn.pitch_to_hz(hi + 0.5)), tr.ANALYSIS_SR / 4)
            if opt.max_pitch is not None else tr.DEFAULT_PYIN_FMAX_HZ,
            voiced_threshold=_or(opt.frame_threshold, tr.DEFAULT_PYIN_VOICED),
            min_note_s=_or(opt.min_note_ms, tr.DEFAULT_PYIN_MIN_NOTE_S * 1000) / 1000,
            bends=opt.bends,
        )
        return tr.transcribe_pyin(y, sr=sr, options=pyin_opt, progress=progress, cancel=cancel)
    drum_thr = opt.onset_threshold if opt.onset_threshold is not None else opt.frame_threshold
    return tr.transcribe_drums(
        y, sr=sr, options=tr.DrumOptions(threshold=_or(drum_thr, tr.DEFAULT_DRUM_THRESHOLD)),
        progress=progress, cancel=cancel,
    )


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


def estimate_tempo_audio(y: np.ndarray, *, sr: float) -> float:
    """Estimate the tempo (BPM) of audio with librosa's onset autocorrelation."""
    import librosa

    mono = tr.to_analysis(y, sr=sr, min_s=0.0, backend="tempo")
    env = librosa.onset.onset_strength(y=mono, sr=tr.ANALYSIS_SR, hop_length=512)
    tempo = librosa.feature.tempo(onset_envelope=env, sr=tr.ANALYSIS_SR, hop_length=512)
    value = float(np.atleast_1d(tempo)[0])
    lo, hi = nt.TEMPO_RANGE_BPM
    return float(np.clip(value, lo, hi)) if math.isfinite(value) and value > 0 else 120.0


# --------------------------------------------------------------------------------------------
# MIDI files


class _Channel:
    """A MIDI channel being filled: when it is free, and the bend it is left at."""

    def __init__(self) -> None:
        self.busy_until = -math.inf
        self.bend = 0
        self.shared_bend: int | None = 0  # the constant bend its sounding notes share
        self.notes: list[tuple[Note, int, np.ndarray, np.ndarray]] = []


def _midi_pitch_curve(
    note: Note, tuning: tn.Tuning | None, bend_range: float
) -> tuple[int, np.ndarray, np.ndarray]:
    """Return a note's MIDI key, bend times (s after start) and sounding pitches.

    The note keeps its own key when its sounding curve stays within the bend range of it (a
    lossless round trip); otherwise the key is the nearest to the curve's centre.
    """
    center = note.center_bend() if tuning is None or tuning.mapping == "nearest" else 0.0
    if tuning is None:
        base = note.pitch + center
    else:
        base = float(tuning.retune(np.array([note.pitch + center]))[0])
    if note.bends:
        times = np.array([b.time_s for b in note.bends])
        curve = base + np.array([b.semitones for b in note.bends]) - center
    else:
        times, curve = np.zeros(1), np.array([base])
    within = float(np.max(np.abs(curve - note.pitch))) <= bend_range
    key = note.pitch if within else int(np.clip(round(base), 0, 127))
    return key, times, curve


def _allocate(
    notes: Sequence[Note], tuning: tn.Tuning | None, n_channels: int, bend_range: float
) -> list[_Channel]:
    """Give notes channels so that notes sounding together with different bends never share."""
    channels = [_Channel() for _ in range(n_channels)]
    for note in sorted(notes, key=lambda n: (n.start_s, n.pitch)):
        key, times, curve = _midi_pitch_curve(note, tuning, bend_range)
        mp = tn.encode_bend(curve, key=np.full(curve.shape, key), bend_range=bend_range)
        values = mp.bend
        constant = int(values[0]) if np.all(values == values[0]) else None
        free = [c for c in channels if c.busy_until <= note.start_s + 1e-9]
        chosen: _Channel | None = None
        if constant is not None:
            # Share a sounding channel already bent the same way, else a free one that is.
            same = [
                c for c in channels if c.shared_bend == constant and c.busy_until > note.start_s
            ]
            same += [c for c in free if c.bend == constant]
            chosen = same[0] if same else None
        if chosen is None and free:
            chosen = min(free, key=lambda c: c.busy_until)
        if chosen is None:  # more simultaneous bends than channels: the closest bend wins
            chosen = min(channels, key=lambda c: abs(c.bend - int(values[0])))
        if chosen.busy_until <= note.start_s + 1e-9:
            chosen.shared_bend = constant
        elif chosen.shared_bend != constant:
            chosen.shared_bend = None
        chosen.busy_until = max(chosen.busy_until, note.end_s)
        chosen.bend = int(values[-1])
        chosen.notes.append((note, key, times, values))
    return [c for c in channels if c.notes]


def to_midi(
    parts: NoteSequence | Sequence[NoteSequence],
    *,
    tuning: tn.Tuning | None = None,
    tempo_bpm: float | None = None,
    bend_range: float = tn.BEND_RANGE_SEMITONES,
    program: int | None = None,
) -> bytes:
    """Write parts as a Standard MIDI File.

    Parameters
    ----------
    parts : NoteSequence or sequence of NoteSequence
        The parts; drum parts go to channel 10.
    tuning : Tuning or None
        Retune melodic notes (written as per-note pitch bends); ``None`` keeps 12-TET.
    tempo_bpm : float or None
        The file's tempo (times are kept in seconds either way); default: the first part's
        tempo, else 120.
    bend_range : float
        Pitch-bend range in semitones, written to every channel with RPN 0.
    program : int or None
        Override every melodic part's GM program.

    Returns
    -------
    bytes
        The .mid file.

    Raises
    ------
    ParameterError
        If the program, tempo or bend range is out of range.
    """
    import pretty_midi

    seqs = [parts] if isinstance(parts, NoteSequence) else list(parts)
    if program is not None:
        check_int("program", program, lo=0, hi=127)
    tempo = tempo_bpm if tempo_bpm is not None else next(
        (s.tempo_bpm for s in seqs if s.tempo_bpm), DEFAULT_TEMPO_BPM
    )
    lo, hi = nt.TEMPO_RANGE_BPM
    tempo = check_float("tempo_bpm", tempo, lo=lo, hi=hi)
    bend_range = check_float("bend_range", bend_range, lo=0.01, hi=24.0)
    pm = pretty_midi.PrettyMIDI(resolution=MIDI_RESOLUTION, initial_tempo=tempo)
    melodic = [s for s in seqs if not s.is_drum]
    budget = max(1, MAX_MELODIC_CHANNELS // max(1, len(melodic)))
    tick = pm.tick_to_time(1)
    for seq in seqs:
        prog = seq.program if program is None or seq.is_drum else program
        name = seq.name or ("drums" if seq.is_drum else "part")
        if seq.is_drum:
            inst = pretty_midi.Instrument(program=0, is_drum=True, name=name)
            inst.notes = [
                pretty_midi.Note(n.velocity, n.pitch, n.start_s, n.end_s) for n in seq.notes
            ]
            pm.instruments.append(inst)
            continue
        for channel in _allocate(seq.notes, tuning, budget, bend_range):
            inst = pretty_midi.Instrument(program=prog, name=name)
            # RPN 0 (pitch-bend sensitivity), one message per tick: pretty_midi orders
            # same-tick controllers by number, which would scramble the sequence.
            semis = int(bend_range)
            cents = round((bend_range - semis) * 100)
            for i, (cc, value) in enumerate(((101, 0), (100, 0), (6, semis), (38, cents),
                                             (101, 127), (100, 127))):
                inst.control_changes.append(pretty_midi.ControlChange(cc, value, i * tick))
            current = 0
            for note, key, times, values in channel.notes:
                inst.notes.append(pretty_midi.Note(note.velocity, key, note.start_s, note.end_s))
                for t, v in zip(times.tolist(), values.tolist(), strict=True):
                    if v != current:
                        inst.pitch_bends.append(pretty_midi.PitchBend(v, note.start_s + t))
                        current = v
            pm.instruments.append(inst)
    buf = io.BytesIO()
    pm.write(buf)
    return buf.getvalue()


def _bend_range_of(control_changes: Iterable[Any]) -> float:
    """Return the pitch-bend range an instrument sets with RPN 0 (default 2 semitones)."""
    rpn = [127, 127]
    semis, cents = tn.BEND_RANGE_SEMITONES, 0.0
    for cc in sorted(control_changes, key=lambda c: c.time):
        if cc.number == 101:
            rpn[0] = cc.value
        elif cc.number == 100:
            rpn[1] = cc.value
        elif cc.number == 6 and rpn == [0, 0]:
            semis = float(cc.value)
        elif cc.number == 38 and rpn == [0, 0]:
            cents = float(cc.value)
    return max(semis + cents / 100.0, 0.01)


def from_midi(data: bytes, *, max_notes: int = DEFAULT_MAX_NOTES) -> tuple[NoteSequence, ...]:
    """Read a Standard MIDI File into parts (one per program/name; drums apart).

    Channels of one part (as :func:`to_midi` writes them) are merged back. Pitch bends inside
    a note become its bend curve (in semitones, with the channel's RPN bend range).

    Raises
    ------
    ParameterError
        If the bytes are not a MIDI file pretty_midi can read, or times are absurd.
    LimitExceeded
        If the file has more than ``max_notes`` notes.
    """
    import mido
    import pretty_midi

    max_notes = check_int("max_notes", max_notes, lo=1)
    if not data:
        raise ParameterError("the MIDI file is empty")
    try:
        mid = mido.MidiFile(file=io.BytesIO(data))
    except (OSError, EOFError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise ParameterError(f"not a MIDI file residue can read: {exc}") from None
    count = sum(
        1 for track in mid.tracks for msg in track if msg.type == "note_on" and msg.velocity > 0
    )
    if count > max_notes:
        raise LimitExceeded(f"the MIDI file has {count} notes; the limit is {max_notes}")
    try:
        pm = pretty_midi.PrettyMIDI(mido_object=mid)
    except (OSError, EOFError, ValueError, KeyError, IndexError, TypeError,
            ZeroDivisionError) as exc:
        raise ParameterError(f"not a MIDI file residue can read: {exc}") from None
    tempi = pm.get_tempo_changes()[1]
    tempo = float(tempi[0]) if len(tempi) else None
    if tempo is not None and not nt.TEMPO_RANGE_BPM[0] <= tempo <= nt.TEMPO_RANGE_BPM[1]:
        tempo = None
    groups: dict[tuple[bool, int, str], list[Note]] = {}
    for inst in pm.instruments:
        bend_range = _bend_range_of(inst.control_changes)
        bends = sorted(inst.pitch_bends, key=lambda b: b.time)
        bend_t = np.array([b.time for b in bends])
        bend_v = np.array([b.pitch for b in bends], dtype=np.float64)
        out = groups.setdefault((inst.is_drum, 0 if inst.is_drum else inst.program, inst.name), [])
        for n in inst.notes:
            if n.end <= n.start:
                continue
            curve: list[tuple[float, float]] = []
            if bend_t.size and not inst.is_drum:
                i0 = int(np.searchsorted(bend_t, n.start, side="right")) - 1
                i1 = int(np.searchsorted(bend_t, n.end, side="left"))
                at_start = bend_v[i0] if i0 >= 0 else 0.0
                points = [(0.0, at_start)] + [
                    (float(bend_t[i] - n.start), float(bend_v[i]))
                    for i in range(max(i0 + 1, 0), i1)
                ]
                if any(v != 0 for _, v in points):
                    # A step at the note's start replaces the held value.
                    dedup: dict[float, float] = {}
                    for t, v in points:
                        dedup[round(max(t, 0.0), 9)] = v
                    curve = [(t, v / 8192.0 * bend_range) for t, v in sorted(dedup.items())]
            out.append(nt.make_note(
                int(n.pitch), float(n.start), float(n.end),
                velocity=int(np.clip(n.velocity, 1, 127)), bends=curve,
            ))
    return tuple(
        nt.sequence(found, program=program, is_drum=is_drum, name=name, tempo_bpm=tempo)
        for (is_drum, program, name), found in groups.items()
        if found
    )


# --------------------------------------------------------------------------------------------
# Rendering


class RenderChoices(NamedTuple):
    """What :func:`render` can play here."""

    synths: dict[str, tuple[str, ...]]
    soundfont_available: bool
    soundfont_reason: str
    soundfonts: tuple[str, ...]
    programs: tuple[str, ...]


def _font_dirs(settings: Settings | None) -> list[Path]:
    if settings is None or settings.models_dir is None:
        return []
    return [settings.models_dir / "soundfonts"]


def render_choices(settings: Settings | None = None) -> RenderChoices:
    """List synths and presets, SoundFonts (or why not), and the 128 GM program names."""
    import pretty_midi

    state = sfont.availability(_font_dirs(settings))
    return RenderChoices(
        synths={**synths.presets(), "sampler": synths.SAMPLER_MODES},
        soundfont_available=state.available,
        soundfont_reason=state.reason,
        soundfonts=tuple(f.name for f in state.fonts),
        programs=tuple(pretty_midi.program_to_instrument_name(p) for p in range(128)),
    )


def resolve_tuning(
    tuning: str | tn.Tuning | None, *, tonic_key: int = tn.DEFAULT_TONIC_KEY,
    mapping: tn.Mapping = "nearest",
) -> tn.Tuning:
    """Return a tuning from a name or list (see :func:`residue.dsp.tuning.parse_tuning`)."""
    if tuning is None:
        return tn.equal_temperament(12, tonic_key=tonic_key, mapping=mapping)
    if isinstance(tuning, tn.Tuning):
        return tuning
    return tn.parse_tuning(tuning, tonic_key=tonic_key, mapping=mapping)


def render(
    parts: NoteSequence | Sequence[NoteSequence],
    *,
    synth: str = "subtractive",
    preset: str | None = None,
    program: int | None = None,
    tuning: str | tn.Tuning | None = None,
    sr: int = DEFAULT_RENDER_SR,
    instrument: synths.Synth | None = None,
    soundfont: str | None = None,
    settings: Settings | None = None,
    max_duration_s: float | None = None,
) -> np.ndarray:
    """Render notes to audio.

    Parameters
    ----------
    parts : NoteSequence or sequence of NoteSequence
        The notes.
    synth : str
        "additive", "subtractive", "fm", "sampler" (needs ``instrument``) or "soundfont".
    preset : str or None
        A preset of the built-in synth (see :func:`render_choices`).
    program : int or None
        GM program for "soundfont" (default: each part's own).
    tuning : str or Tuning or None
        "12-tet" (default), "24-tet", "N-edo", "just", a ratio list, or a Tuning.
    sr : int
        Output sample rate.
    instrument : Synth or None
        For "sampler": from :func:`residue.dsp.synths.sampler_from_spectrum` or
        :func:`~residue.dsp.synths.sampler_from_audio`.
    soundfont : str or None
        A font name for "soundfont" (default: the preferred GM font).
    max_duration_s : float or None
        Refuse renders longer than this (default: the settings' maximum duration).

    Returns
    -------
    y : np.ndarray [shape=(channels, n_samples), dtype=float32]
        Mono for the built-in synths, stereo for SoundFonts.

    Raises
    ------
    ParameterError
        Unknown synth, preset, program or tuning; "sampler" without an instrument.
    ModelUnavailableError
        "soundfont" without FluidSynth or a font.
    LimitExceeded
        A render longer than allowed.
    """
    check_choice("synth", synth, RENDER_SYNTHS)
    if program is not None:
        check_int("program", program, lo=0, hi=127)
    tun = resolve_tuning(tuning)
    seqs = [parts] if isinstance(parts, NoteSequence) else list(parts)
    limit = max_duration_s if max_duration_s is not None else (
        settings.max_duration_s if settings is not None else synths.MAX_RENDER_S
    )
    end_s = max((s.end_s for s in seqs), default=0.0)
    if end_s > limit:
        raise LimitExceeded(f"the notes last {end_s:.0f} s; the limit is {limit:.0f} s")
    if synth == "soundfont":
        font = sfont.choose_font(soundfont, _font_dirs(settings))
        midi = to_midi(seqs, tuning=None if _is_12tet(tun) else tun, program=program)
        return sfont.render_midi(midi, font=font, sr=sr, max_duration_s=limit + 30.0)
    if synth == "sampler":
        if instrument is None:
            raise ParameterError(
                "synth='sampler' needs an instrument: a component spectrum or a library sound"
            )
        chosen = instrument
    else:
        chosen = instrument if instrument is not None else synths.make_synth(synth, preset=preset)
    y = synths.render(seqs, synth=chosen, sr=sr, tuning=tun)
    return y[None, :]


def _is_12tet(t: tn.Tuning) -> bool:
    return t.n_degrees == 12 and t.period_cents == 1200.0 and all(
        abs(c - 100.0 * i) < 1e-9 for i, c in enumerate(t.degrees_cents)
    )


# --------------------------------------------------------------------------------------------
# Command line


class TranscribeResult(NamedTuple):
    """What ``residue transcribe`` did."""

    out: Path
    backend: str
    n_notes: int
    duration_s: float
    seconds: float


def run_transcribe_cli(
    in_path: Path,
    backend: str | None,
    out_mid: Path,
    options: TranscribeOptions | None = None,
    *,
    settings: Settings | None = None,
    progress: ProgressFn | None = None,
) -> TranscribeResult:
    """Transcribe an audio file into a .mid file (``residue transcribe IN --backend B --out OUT``).

    Raises
    ------
    AudioDecodeError, LimitExceeded, ParameterError, ModelUnavailableError
        As reading and :func:`transcribe` do.
    """
    import time

    from residue.services.audio_io import read_audio_file

    cfg = settings or Settings.from_env()
    t0 = time.perf_counter()
    audio = read_audio_file(Path(in_path), settings=cfg)
    name = default_backend(cfg) if backend is None else backend
    seq = transcribe(audio.y, sr=audio.sr, backend=name, options=options, settings=cfg,
                     progress=progress)
    out = Path(out_mid)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(to_midi(seq))
    return TranscribeResult(out, name, len(seq), audio.y.shape[-1] / audio.sr,
                            time.perf_counter() - t0)


def run_render_cli(
    in_mid: Path,
    synth: str,
    out_wav: Path,
    *,
    preset: str | None = None,
    program: int | None = None,
    tuning: str | None = None,
    tonic_key: int = tn.DEFAULT_TONIC_KEY,
    mapping: tn.Mapping = "nearest",
    sr: int = DEFAULT_RENDER_SR,
    soundfont: str | None = None,
    sample: Path | None = None,
    settings: Settings | None = None,
) -> Path:
    """Render a .mid file to WAV (``residue render IN.mid --synth S --out OUT.wav``).

    ``sample`` is an audio file played as the instrument when ``synth`` is "sampler".

    Raises
    ------
    ParameterError, LimitExceeded, ModelUnavailableError, AudioDecodeError
        As reading and :func:`render` do.
    """
    from residue.services.audio_io import read_audio_file, write_wav

    cfg = settings or Settings.from_env()
    path = Path(in_mid)
    if not path.is_file():
        raise ParameterError(f"{path} is not a file")
    if path.stat().st_size > cfg.max_upload_bytes:
        raise LimitExceeded(f"{path.name} is larger than the upload limit")
    parts = from_midi(path.read_bytes())
    instrument = None
    if synth == "sampler":
        if sample is None:
            raise ParameterError("--synth sampler needs --sample AUDIO_FILE")
        audio = read_audio_file(Path(sample), settings=cfg)
        instrument = synths.sampler_from_audio(audio.y, sr=audio.sr)
    tun = resolve_tuning(tuning, tonic_key=tonic_key, mapping=mapping)
    y = render(parts, synth=synth, preset=preset, program=program, tuning=tun, sr=sr,
               instrument=instrument, soundfont=soundfont, settings=cfg)
    out = Path(out_wav)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_wav(out, y, sr=sr)
    return out


__all__ = [
    "BACKENDS",
    "DEFAULT_MAX_NOTES",
    "RENDER_SYNTHS",
    "BackendInfo",
    "Bend",
    "RenderChoices",
    "TranscribeOptions",
    "TranscribeResult",
    "backends",
    "default_backend",
    "estimate_tempo_audio",
    "from_midi",
    "render",
    "render_choices",
    "resolve_tuning",
    "run_render_cli",
    "run_transcribe_cli",
    "to_midi",
    "transcribe",
]
