"""Audio -> MIDI -> audio, measured: note F-measure per backend, transcription and render speed.

The set is built here: short multi-part General MIDI pieces (chords, bass, melody; a solo
line; a drum pattern) written with pretty_midi from a seeded generator and rendered with
FluidSynth and a GM SoundFont; the MIDI is the ground truth. Pieces and renders are cached
under benchmarks/.cache.

Scores are mir_eval.transcription.precision_recall_f1_overlap, onset-only (offset_ratio=None)
and with offsets (default 20 % / 50 ms). Two sets are built from different seeds: "dev" to
choose the clean-up settings of the "tuned" configurations, "test" to report them, so the
tuned numbers are not fitted to the pieces they are scored on.

Peer: Basic Pitch's own ``predict()`` (its ONNX model, its defaults) measured in the same run.

Run: .venv/bin/python benchmarks/transcription.py [--quick]
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import mir_eval
import numpy as np
import pretty_midi
import soundfile as sf

from residue.dsp import notes as notes_mod
from residue.dsp import synths
from residue.dsp.notes import CleanupOptions, NoteSequence
from residue.models import basic_pitch as bp
from residue.models import soundfont
from residue.services import transcription as svc

CACHE = Path(__file__).resolve().parent / ".cache" / "transcription"
SR = 44_100

# --------------------------------------------------------------------------------------------
# The set


@dataclass(frozen=True)
class Piece:
    name: str
    kind: str  # "poly", "mono", "drums"
    midi: Path
    wav: Path


CHORD_PROGRAMS = [0, 4, 48, 16, 24, 5]  # piano, e-piano, strings, organ, guitar, e-piano 2
BASS_PROGRAMS = [32, 33, 38]
LEAD_PROGRAMS = [73, 40, 56, 65, 80, 71]  # flute, violin, trumpet, alto sax, square lead, clarinet
MAJOR = [0, 2, 4, 5, 7, 9, 11]
PROGRESSIONS = [[0, 5, 3, 4], [0, 3, 4, 0], [5, 3, 0, 4], [0, 4, 5, 3], [1, 4, 0, 0]]


def _scale_pitches(tonic: int, lo: int, hi: int) -> list[int]:
    return [p for p in range(lo, hi + 1) if (p - tonic) % 12 in MAJOR]


def build_piece(seed: int, kind: str) -> pretty_midi.PrettyMIDI:
    rng = np.random.default_rng(seed)
    tempo = float(rng.integers(84, 141))
    beat = 60.0 / tempo
    tonic = int(rng.integers(0, 12))
    bars = 8
    pm = pretty_midi.PrettyMIDI(initial_tempo=tempo)
    prog = PROGRESSIONS[int(rng.integers(len(PROGRESSIONS)))]
    t0 = 0.25

    def chord_of(bar: int) -> list[int]:
        degree = prog[bar % len(prog)]
        return [tonic + MAJOR[(degree + k) % 7] + 12 * ((degree + k) // 7) for k in (0, 2, 4)]

    if kind == "drums":
        drums = pretty_midi.Instrument(program=0, is_drum=True, name="drums")
        pattern = int(rng.integers(3))
        for bar in range(bars):
            for step in range(8):
                t = t0 + (bar * 4 + step / 2) * beat
                kick = step in ((0, 4), (0, 3, 4), (0, 5, 6))[pattern]
                snare = step in (2, 6)
                hat = pattern != 2 or step % 2 == 0
                for key, on in ((36, kick), (38, snare), (42, hat)):
                    if on:
                        vel = int(rng.integers(85, 121))
                        drums.notes.append(pretty_midi.Note(vel, key, t, t + 0.1))
        pm.instruments.append(drums)
        return pm

    lead = pretty_midi.Instrument(program=int(rng.choice(LEAD_PROGRAMS)), name="lead")
    scale = _scale_pitches(tonic, 67, 86)
    idx = int(rng.integers(len(scale) // 3, 2 * len(scale) // 3))
    t = t0
    end = t0 + bars * 4 * beat
    while t < end - beat / 2:
        dur = float(rng.choice([0.5, 1.0, 1.0, 1.5, 2.0])) * beat
        if rng.random() < 0.15:
            t += dur
            continue
        idx = int(np.clip(idx + rng.integers(-2, 3), 0, len(scale) - 1))
        vel = int(rng.integers(80, 116))
        lead.notes.append(pretty_midi.Note(vel, scale[idx], t, min(t + dur * 0.9, end)))
        t += dur
    if kind == "mono":
        pm.instruments.append(lead)
        return pm

    chords = pretty_midi.Instrument(program=int(rng.choice(CHORD_PROGRAMS)), name="chords")
    bass = pretty_midi.Instrument(program=int(rng.choice(BASS_PROGRAMS)), name="bass")
    arpeggio = rng.random() < 0.4
    for bar in range(bars):
        tb = t0 + bar * 4 * beat
        pcs = chord_of(bar)
        voicing = [48 + (p - 48) % 12 + 12 * (p % 12 < 5) for p in pcs]
        if arpeggio:
            for step in range(8):
                p = sorted(voicing)[step % 3] + 12 * (step % 6 >= 3)
                ts = tb + step * beat / 2
                chords.notes.append(
                    pretty_midi.Note(int(rng.integers(60, 90)), p, ts, ts + beat / 2 * 0.95)
                )
        else:
            for half in range(2):
                ts = tb + half * 2 * beat
                vel = int(rng.integers(60, 90))
                for p in voicing:
                    chords.notes.append(pretty_midi.Note(vel, p, ts, ts + 2 * beat * 0.95))
        root = 36 + (pcs[0] - 36) % 12
        for step in range(4):
            ts = tb + step * beat
            p = root + (7 if step == 2 and rng.random() < 0.5 else 0)
            bass.notes.append(pretty_midi.Note(int(rng.integers(85, 115)), p, ts, ts + beat * 0.85))
    pm.instruments += [chords, bass, lead]
    return pm


def render_wav(midi: Path, wav: Path, font: Path) -> None:
    subprocess.run(
        ["fluidsynth", "-ni", "-q", "-F", str(wav), "-r", str(SR), str(font), str(midi)],
        check=True,
        capture_output=True,
        timeout=300,
    )


def build_set(tag: str, seeds: list[int], font: Path) -> list[Piece]:
    out = []
    folder = CACHE / font.stem
    folder.mkdir(parents=True, exist_ok=True)
    kinds = ["poly", "poly", "poly", "mono", "drums"]
    for seed, kind in zip(seeds, itertools.cycle(kinds), strict=False):
        name = f"{tag}-{kind}-{seed}"
        midi, wav = folder / f"{name}.mid", folder / f"{name}.wav"
        if not midi.exists():
            build_piece(seed, kind).write(str(midi))
        if not wav.exists():
            render_wav(midi, wav, font)
        out.append(Piece(name, kind, midi, wav))
    return out


def reference(piece: Piece) -> tuple[np.ndarray, np.ndarray]:
    pm = pretty_midi.PrettyMIDI(str(piece.midi))
    notes = [n for inst in pm.instruments for n in inst.notes]
    iv = np.array([[n.start, n.end] for n in notes])
    hz = np.array([pretty_midi.note_number_to_hz(n.pitch) for n in notes])
    return iv, hz


def score(ref: tuple[np.ndarray, np.ndarray], seq: NoteSequence) -> tuple[float, float]:
    if not seq.notes:
        return 0.0, 0.0
    a = seq.arrays()
    iv = np.stack([a.start_s, np.maximum(a.end_s, a.start_s + 1e-3)], axis=1)
    hz = 440.0 * 2 ** ((a.pitch - 69) / 12.0)
    _, _, f_on, _ = mir_eval.transcription.precision_recall_f1_overlap(
        ref[0], ref[1], iv, hz, offset_ratio=None
    )
    _, _, f_off, _ = mir_eval.transcription.precision_recall_f1_overlap(ref[0], ref[1], iv, hz)
    return float(f_on), float(f_off)


# --------------------------------------------------------------------------------------------
# Running the backends


@dataclass
class Result:
    f_on: list[float]
    f_off: list[float]
    audio_s: float = 0.0
    wall_s: float = 0.0
    cpu_s: float = 0.0

    @property
    def mean(self) -> tuple[float, float]:
        return (
            float(np.mean(self.f_on)) if self.f_on else float("nan"),
            float(np.mean(self.f_off)) if self.f_off else float("nan"),
        )

    @property
    def speed(self) -> float:
        return self.audio_s / self.wall_s if self.wall_s > 0 else float("nan")

    @property
    def cpu_speed(self) -> float:
        """Audio seconds per CPU second of this process (all threads), divided by the cores:
        what the wall-clock speed would be on an otherwise idle machine with perfect scaling."""
        cores = os.cpu_count() or 1
        return self.audio_s / (self.cpu_s / cores) if self.cpu_s > 0 else float("nan")


def read(piece: Piece) -> tuple[np.ndarray, int]:
    y, sr = sf.read(str(piece.wav), dtype="float32", always_2d=True)
    return np.ascontiguousarray(y.T), int(sr)


Timed = tuple[NoteSequence, float, float, float]  # notes, wall s, audio s, CPU s


def timed_residue(
    piece: Piece, backend: str, options: svc.TranscribeOptions | None = None
) -> Timed:
    """End to end: decode the WAV file, transcribe, make and clean notes."""
    t0, c0 = time.perf_counter(), time.process_time()
    y, sr = read(piece)
    seq = svc.transcribe(y, sr=sr, backend=backend, options=options)
    return seq, time.perf_counter() - t0, y.shape[-1] / sr, time.process_time() - c0


def peer_predict(piece: Piece, model: object) -> Timed:
    """Basic Pitch's own predict() with its defaults (the peer)."""
    import contextlib
    import io

    from basic_pitch.inference import predict

    t0, c0 = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(io.StringIO()):
        _, _, events = predict(str(piece.wav), model)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    seq = notes_mod.sequence(
        notes_mod.make_note(
            int(e[2]), float(e[0]), float(e[1]), velocity=int(np.clip(round(127 * e[3]), 1, 127))
        )
        for e in events
        if e[1] > e[0]
    )
    return seq, wall, sf.info(str(piece.wav)).duration, cpu


# --------------------------------------------------------------------------------------------
# Choosing clean-up settings on the dev set


def bp_grid() -> list[tuple[bp.NoteOptions, CleanupOptions]]:
    grid = []
    for onset, frame, min_ms, melodia, merge, min_vel in itertools.product(
        (0.4, 0.5, 0.6, 0.7),
        (0.25, 0.3, 0.4),
        (60.0, 127.7),
        (True, False),
        (None, 0.03),
        (None, 25),
    ):
        grid.append(
            (
                bp.NoteOptions(
                    onset_threshold=onset,
                    frame_threshold=frame,
                    min_note_length_ms=min_ms,
                    melodia_trick=melodia,
                ),
                CleanupOptions(merge_gap_s=merge, min_velocity=min_vel),
            )
        )
    return grid


def nmf_grid() -> list[tuple[dict[str, float], CleanupOptions]]:
    grid = []
    for thr, onset, min_dur, merge, min_vel in itertools.product(
        (0.1, 0.15, 0.2),
        (0.3, 0.6),
        (None, 0.1),
        (None, 0.05),
        (None, 30),
    ):
        grid.append(
            (
                {"frame_threshold": thr, "onset_threshold": onset},
                CleanupOptions(min_duration_s=min_dur, merge_gap_s=merge, min_velocity=min_vel),
            )
        )
    return grid


def tune_basic_pitch(
    dev: list[Piece], model: bp.BasicPitch
) -> tuple[bp.NoteOptions, CleanupOptions, float]:
    outputs = []
    for piece in dev:
        y, sr = read(piece)
        outputs.append((reference(piece), model.predict(bp.prepare_audio(y, sr=sr))))
    best: tuple[float, bp.NoteOptions, CleanupOptions] | None = None
    for note_opt, clean in bp_grid():
        f = []
        for ref, out in outputs:
            seq = notes_mod.cleanup(
                bp.notes_from_output(out, options=note_opt), options=clean
            ).notes
            f.append(score(ref, seq)[0])
        value = float(np.mean(f))
        if best is None or value > best[0]:
            best = (value, note_opt, clean)
    assert best is not None
    return best[1], best[2], best[0]


def tune_nmf(dev: list[Piece]) -> tuple[svc.TranscribeOptions, float]:
    audio = [(reference(p), *read(p)) for p in dev]
    best: tuple[float, svc.TranscribeOptions] | None = None
    for backend_opt, clean in nmf_grid():
        opt = svc.TranscribeOptions(cleanup=clean, **backend_opt)
        f = [
            score(ref, svc.transcribe(y, sr=sr, backend="nmf", options=opt))[0]
            for ref, y, sr in audio
        ]
        value = float(np.mean(f))
        if best is None or value > best[0]:
            best = (value, opt)
    assert best is not None
    return best[1], best[0]


# --------------------------------------------------------------------------------------------
# Resynthesis


def minute_piece() -> list[NoteSequence]:
    """A dense 1-minute piece: 16 bars of chords, bass and melody at 64 BPM... re-timed to 60 s."""
    pm = build_piece(7, "poly")
    parts = []
    span = max(n.end for inst in pm.instruments for n in inst.notes)
    reps = int(np.ceil(60.0 / span))
    for inst in pm.instruments:
        notes = [
            notes_mod.make_note(n.pitch, n.start + r * span, n.end + r * span, velocity=n.velocity)
            for r in range(reps)
            for n in inst.notes
            if n.start + r * span < 60.0
        ]
        parts.append(notes_mod.sequence(notes, program=inst.program, name=inst.name))
    return parts


def resynthesis(parts: list[NoteSequence]) -> list[tuple[str, float]]:
    duration = max(p.end_s for p in parts)
    rows = []
    for name, presets in synths.presets().items():
        for preset in presets:
            synth = synths.make_synth(name, preset=preset)
            synths.render(parts, synth=synth, sr=SR)  # warm the wavetable caches
            t0 = time.perf_counter()
            synths.render(parts, synth=synth, sr=SR)
            rows.append((f"{name}/{preset}", duration / (time.perf_counter() - t0)))
    # A component-like spectrum: one second of the chords part, played by the additive synth.
    chords = synths.render(parts[:1], synth=synths.make_synth("additive"), sr=SR)
    spectrum = np.abs(np.fft.rfft(chords[SR : SR + 4096] * np.hanning(4096)))
    for mode in synths.SAMPLER_MODES:
        synth = synths.sampler_from_spectrum(spectrum, sr=SR, mode=mode)
        t0 = time.perf_counter()
        synths.render(parts, synth=synth, sr=SR)
        rows.append((f"sampler/{mode}", duration / (time.perf_counter() - t0)))
    if soundfont.availability().available:
        t0 = time.perf_counter()
        svc.render(parts, synth="soundfont", sr=SR)
        rows.append(
            ("soundfont (FluidSynth, for reference)", duration / (time.perf_counter() - t0))
        )
    return rows


# --------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sets, smaller tuning grid")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # basic_pitch's import warns about TF/CoreML/TFLite
    state = soundfont.availability()
    if not state.available or shutil.which("fluidsynth") is None:
        print(f"cannot build the set: {state.reason}")
        return 1
    font = state.fonts[0].path
    n_dev, n_test = (5, 5) if args.quick else (10, 15)
    dev = build_set("dev", list(range(100, 100 + n_dev)), font)
    test = build_set("test", list(range(200, 200 + n_test)), font)
    pitched_dev = [p for p in dev if p.kind != "drums"]
    pitched = [p for p in test if p.kind != "drums"]
    drums = [p for p in test if p.kind == "drums"]
    print(
        f"set: {font.name}; dev {len(dev)} pieces, test {len(test)} pieces "
        f"({sum(p.kind == 'poly' for p in test)} multi-part, {sum(p.kind == 'mono' for p in test)} "
        f"solo, {len(drums)} drums), {sum(sf.info(str(p.wav)).duration for p in test):.0f} s"
    )

    avail = bp.availability()
    if not avail.available or avail.path is None:
        print(f"basic-pitch unavailable: {avail.reason}")
        return 1
    model = bp.load(avail.path)
    from basic_pitch import FilenameSuffix, build_icassp_2022_model_path
    from basic_pitch.inference import Model

    peer_model = Model(build_icassp_2022_model_path(FilenameSuffix.onnx))

    print("tuning clean-up settings on the dev set ...", flush=True)
    bp_notes, bp_clean, bp_dev = tune_basic_pitch(pitched_dev, model)
    nmf_opt, nmf_dev = tune_nmf(
        [p for p in pitched_dev if p.kind == "poly"][:3]
        if args.quick
        else [p for p in pitched_dev if p.kind == "poly"]
    )
    print(f"  basic-pitch: {bp_notes} {bp_clean} (dev F1 {bp_dev:.3f})")
    print(f"  nmf: {nmf_opt} (dev F1 {nmf_dev:.3f})")
    bp_tuned = svc.TranscribeOptions(
        onset_threshold=bp_notes.onset_threshold,
        frame_threshold=bp_notes.frame_threshold,
        min_note_ms=bp_notes.min_note_length_ms,
        melodia_trick=bp_notes.melodia_trick,
        cleanup=bp_clean,
    )

    configs: dict[str, Result] = {}

    def add(
        name: str, seq: NoteSequence, wall: float, dur: float, cpu: float, piece: Piece
    ) -> None:
        r = configs.setdefault(name, Result([], []))
        f_on, f_off = score(reference(piece), seq)
        r.f_on.append(f_on)
        r.f_off.append(f_off)
        r.audio_s += dur
        r.wall_s += wall
        r.cpu_s += cpu

    # Warm-up (model sessions, wavetables, numba in librosa) outside the timings.
    timed_residue(pitched[0], "basic-pitch")
    peer_predict(pitched[0], peer_model)
    timed_residue(pitched[0], "nmf")
    for piece in pitched:
        add("basic-pitch predict() defaults (peer)", *peer_predict(piece, peer_model), piece)
        add("residue basic-pitch (defaults)", *timed_residue(piece, "basic-pitch"), piece)
        add(
            "residue basic-pitch + tuned options",
            *timed_residue(piece, "basic-pitch", bp_tuned),
            piece,
        )
        add("residue nmf (defaults)", *timed_residue(piece, "nmf"), piece)
        add("residue nmf + tuned options", *timed_residue(piece, "nmf", nmf_opt), piece)
        if piece.kind == "mono":
            add("residue pyin (solo pieces only)", *timed_residue(piece, "pyin"), piece)
            add(
                "basic-pitch predict() on solo pieces (peer)",
                *peer_predict(piece, peer_model),
                piece,
            )
    for piece in drums:
        add("residue drums (drum pieces, GM keys)", *timed_residue(piece, "drums"), piece)

    print()
    print(
        f"{'configuration':<46} {'pieces':>6} {'F1 onset':>9} {'F1 +offset':>10} {'speed':>9} "
        f"{'cpu-speed':>9}"
    )
    for name, r in configs.items():
        on, off = r.mean
        print(
            f"{name:<46} {len(r.f_on):>6} {on:>9.3f} {off:>10.3f} {r.speed:>8.1f}x "
            f"{r.cpu_speed:>8.1f}x"
        )
    print(
        "  speed: audio seconds per wall second, end to end (WAV decode, resampling, model or "
        "NMF, notes, clean-up);\n  cpu-speed: the same per CPU second / cores (this machine "
        f"is shared: load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores now)"
    )
    print()
    peer = configs["basic-pitch predict() defaults (peer)"].mean[0]
    ours = {
        k: v.mean[0]
        for k, v in configs.items()
        if k.startswith("residue") and len(v.f_on) == len(pitched)
    }
    best = max(ours, key=lambda k: ours[k])
    print(
        f"note F1 best: {ours[best]:.3f} ({best.removeprefix('residue ')}), "
        f"basic-pitch defaults: {peer:.3f}"
    )
    peer_off = configs["basic-pitch predict() defaults (peer)"].mean[1]
    print(
        f"  (onset-only F1, mean over {len(pitched)} pitched test pieces; with offsets: "
        f"{configs[best].mean[1]:.3f} vs {peer_off:.3f})"
    )
    default = svc.default_backend()
    default_row = {
        "basic-pitch": "residue basic-pitch (defaults)",
        "nmf": "residue nmf (defaults)",
    }[default]
    print(
        f"transcription speed: {configs[default_row].speed:.1f}x realtime "
        f"(default backend {default}, decode + model + notes; cpu-speed "
        f"{configs[default_row].cpu_speed:.1f}x; peer predict(): "
        f"{configs['basic-pitch predict() defaults (peer)'].speed:.1f}x, cpu-speed "
        f"{configs['basic-pitch predict() defaults (peer)'].cpu_speed:.1f}x)"
    )
    print()
    parts = minute_piece()
    n_notes = sum(len(p) for p in parts)
    rows = resynthesis(parts)
    print(f"resynthesis of a 1-minute MIDI ({n_notes} notes, {len(parts)} parts, {SR} Hz):")
    for name, speed in rows:
        print(f"  {name:<40} {speed:>8.1f}x")
    defaults = [s for n, s in rows if n in {f"{k}/{v}" for k, v in synths.DEFAULT_PRESETS.items()}]
    slowest = min(s for n, s in rows if not n.startswith("soundfont"))
    print(
        f"resynthesis: {min(defaults):.1f}x realtime (slowest default preset; slowest preset "
        f"of all: {slowest:.1f}x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
