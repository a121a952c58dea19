from __future__ import annotations

import numpy as np
import pytest

from residue.dsp import transcribe as tr
from residue.dsp.tuning import pitch_to_hz
from residue.errors import JobCancelled, ParameterError

SR = 22_050


def tone(pitch: float | np.ndarray, t0: float, t1: float, *, total_s: float, n_h: int = 8,
         decay: float = 1.0) -> np.ndarray:
    """Harmonic tone; ``pitch`` may be a per-sample curve over the whole signal."""
    n = int(total_s * SR)
    t = np.arange(n) / SR
    p = np.broadcast_to(np.asarray(pitch, dtype=np.float64), (n,))
    phase = 2 * np.pi * np.cumsum(pitch_to_hz(p)) / SR
    on = (t >= t0) & (t < t1)
    env = np.where(on, np.exp(-(t - t0) * decay), 0.0)
    env *= np.minimum(1.0, np.maximum(0.0, (t - t0) / 0.005))  # 5 ms attack
    env *= np.minimum(1.0, np.maximum(0.0, (t1 - t) / 0.01))
    return env * sum(np.sin(h * phase) / h for h in range(1, n_h + 1))


def drum_pattern(rng: np.random.Generator) -> tuple[np.ndarray, dict[int, list[float]]]:
    """Kick on 1 and 3, snare on 2 and 4, closed hats on eighths, 120 BPM, 2 bars."""
    n = int(4.3 * SR)
    y = np.zeros(n)
    times: dict[int, list[float]] = {36: [], 38: [], 42: []}

    def add(at: float, sound: np.ndarray) -> None:
        i = int(at * SR)
        y[i : i + sound.size] += sound[: n - i]

    t = np.arange(int(0.3 * SR)) / SR
    kick = np.sin(2 * np.pi * np.cumsum(50 + 120 * np.exp(-t / 0.04)) / SR) * np.exp(-t / 0.12)
    snare = (0.5 * np.sin(2 * np.pi * 190 * t) * np.exp(-t / 0.04)
             + 0.7 * np.diff(rng.standard_normal(t.size), prepend=0) * np.exp(-t / 0.06))
    th = t[: int(0.06 * SR)]
    hat = 0.25 * np.diff(rng.standard_normal(th.size + 2), n=2) * np.exp(-th / 0.015)
    for beat in range(8):
        at = 0.1 + beat * 0.5
        if beat % 2 == 0:
            add(at, kick)
            times[36].append(at)
        else:
            add(at, snare)
            times[38].append(at)
    for eighth in range(16):
        at = 0.1 + eighth * 0.25
        add(at, hat)
        times[42].append(at)
    return (y / np.abs(y).max() * 0.8).astype(np.float32), times


# --- NMF --------------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["mono", "stereo"])
def test_nmf_finds_the_pitches_of_a_chord(layout: str) -> None:
    total = 2.0
    y = sum(tone(p, 0.2, 1.6, total_s=total) for p in (60, 64, 67, 71))
    y = (y / np.abs(y).max() * 0.7).astype(np.float32)
    if layout == "stereo":
        y = np.stack([y, 0.8 * y])
    seq = tr.transcribe_nmf(y, sr=SR)
    assert {n.pitch for n in seq.notes} == {60, 64, 67, 71}
    for n in seq.notes:
        assert abs(n.start_s - 0.2) < 0.06
        assert n.end_s > 1.0


def test_nmf_finds_a_melody_in_order() -> None:
    melody = [57, 62, 69, 65]
    y = sum(tone(p, 0.1 + 0.4 * i, 0.45 + 0.4 * i, total_s=2.0) for i, p in enumerate(melody))
    seq = tr.transcribe_nmf((0.5 * y).astype(np.float32), sr=SR)
    assert [n.pitch for n in seq.notes] == melody


def test_nmf_resamples_other_rates() -> None:
    sr = 44_100
    t = np.arange(int(1.0 * sr)) / sr
    y = sum(np.sin(2 * np.pi * 330.0 * h * t) / h for h in range(1, 6)).astype(np.float32)
    assert [n.pitch for n in tr.transcribe_nmf(0.5 * y, sr=sr).notes] == [64]


def test_nmf_silence_and_short_input() -> None:
    assert len(tr.transcribe_nmf(np.zeros(SR, np.float32), sr=SR)) == 0
    with pytest.raises(ParameterError, match="the nmf backend needs at least 186 ms"):
        tr.transcribe_nmf(np.ones(1000, np.float32), sr=SR)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        (tr.NMFTranscribeOptions(threshold=2.0), r"threshold=2 must be in \[0, 1\]"),
        (tr.NMFTranscribeOptions(n_iter=0), r"n_iter=0 must be in"),
        (tr.NMFTranscribeOptions(lowest=10), r"lowest=10 must be in \[21, 108\]"),
        (tr.NMFTranscribeOptions(lowest=60, highest=50), r"highest=50 must be in \[60, 108\]"),
    ],
)
def test_nmf_rejects_bad_options(options: tr.NMFTranscribeOptions, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        tr.transcribe_nmf(np.zeros(SR, np.float32), sr=SR, options=options)


def test_nmf_rejects_non_finite_audio() -> None:
    y = np.zeros(SR, np.float32)
    y[10] = np.nan
    with pytest.raises(ParameterError, match="NaN"):
        tr.transcribe_nmf(y, sr=SR)


def test_nmf_can_be_cancelled() -> None:
    from residue.dsp.progress import CancelToken

    token = CancelToken()
    token.cancel()
    y = (0.5 * tone(60, 0.0, 1.0, total_s=1.0)).astype(np.float32)
    with pytest.raises(JobCancelled):
        tr.transcribe_nmf(y, sr=SR, cancel=token)


def test_filterbank_and_templates() -> None:
    fb = tr.log_filterbank()
    np.testing.assert_allclose(np.asarray(fb.sum(axis=1)).ravel(), 1.0, rtol=1e-5)
    W = tr.pitch_templates()
    assert W.shape == (fb.shape[0], 88)
    np.testing.assert_allclose(W.sum(axis=0), 1.0, rtol=1e-5)
    # Each template peaks near its fundamental or a low harmonic.
    f = tr.log_frequencies()
    for k in (0, 39, 60):
        f0 = pitch_to_hz(21 + k)
        ratio = f[np.argmax(W[:, k])] / f0
        assert min(abs(ratio - h) for h in (1, 2, 3)) < 0.1


# --- pyin -------------------------------------------------------------------------------------


def test_pyin_follows_a_glide_with_bends() -> None:
    total = 2.0
    n = int(total * SR)
    t = np.arange(n) / SR
    # Hold A3 for 0.4 s, glide up two semitones over 1 s, hold.
    curve = 57.0 + 2.0 * np.clip((t - 0.5) / 1.0, 0.0, 1.0)
    y = (0.5 * tone(curve, 0.1, 1.9, total_s=total, decay=0.0)).astype(np.float32)
    seq = tr.transcribe_pyin(y, sr=SR)
    assert seq.notes
    assert any(n.bends for n in seq.notes)
    # The sounding pitch (key + bend) follows the glide wherever a note covers it.
    covered = 0
    for when in np.arange(0.25, 1.8, 0.1):
        for note in seq.notes:
            if note.start_s + 0.03 <= when < note.end_s - 0.03:
                got = float(note.pitch_curve(np.array([when - note.start_s]))[0])
                want = 57.0 + 2.0 * np.clip((when - 0.5) / 1.0, 0.0, 1.0)
                assert abs(got - want) < 0.3, (when, got, want)
                covered += 1
    assert covered >= 12
    assert min(n.pitch for n in seq.notes) == 57 and max(n.pitch for n in seq.notes) >= 58


def test_pyin_without_bends_and_with_repeated_notes() -> None:
    y = sum(tone(62, 0.1 + 0.5 * i, 0.5 + 0.5 * i, total_s=2.2) for i in range(3))
    y = y + tone(66, 1.6, 2.1, total_s=2.2)
    seq = tr.transcribe_pyin((0.5 * y).astype(np.float32), sr=SR,
                             options=tr.PyinOptions(bends=False))
    assert [n.pitch for n in seq.notes] == [62, 62, 62, 66]
    assert all(not n.bends for n in seq.notes)
    starts = [n.start_s for n in seq.notes]
    np.testing.assert_allclose(starts, [0.1, 0.6, 1.1, 1.6], atol=0.05)


def test_pyin_silence_short_and_options() -> None:
    assert len(tr.transcribe_pyin(np.zeros(SR, np.float32), sr=SR)) == 0
    with pytest.raises(ParameterError, match="the pyin backend needs at least 93 ms"):
        tr.transcribe_pyin(np.ones(500, np.float32), sr=SR)
    with pytest.raises(ParameterError, match=r"fmax_hz=100 must be in \[160"):
        tr.transcribe_pyin(np.zeros(SR, np.float32), sr=SR,
                           options=tr.PyinOptions(fmin_hz=80.0, fmax_hz=100.0))
    with pytest.raises(ParameterError, match=r"max_bend=0 must be in"):
        tr.transcribe_pyin(np.zeros(SR, np.float32), sr=SR, options=tr.PyinOptions(max_bend=0.0))


# --- drums ------------------------------------------------------------------------------------


def test_drums_map_kick_snare_hat_to_gm(rng: np.random.Generator) -> None:
    y, truth = drum_pattern(rng)
    seq = tr.transcribe_drums(y, sr=SR)
    assert seq.is_drum
    assert {n.pitch for n in seq.notes} <= set(tr.DRUM_KEYS)
    for key, times in truth.items():
        found = np.array([n.start_s for n in seq.notes if n.pitch == key])
        hits = sum(np.any(np.abs(found - t) < 0.05) for t in times)
        assert hits >= len(times) - 1, (key, found, times)
        assert found.size <= len(times) + 1, (key, found, times)


def test_drums_silence_and_options() -> None:
    assert len(tr.transcribe_drums(np.zeros(SR, np.float32), sr=SR)) == 0
    with pytest.raises(ParameterError, match=r"threshold=-1 must be in \[0, 1\]"):
        tr.transcribe_drums(np.zeros(SR, np.float32), sr=SR,
                            options=tr.DrumOptions(threshold=-1.0))
    with pytest.raises(ParameterError, match="the drums backend needs at least"):
        tr.transcribe_drums(np.zeros(100, np.float32), sr=SR)


def test_drum_templates_are_ordered_by_frequency() -> None:
    W = tr.drum_templates()
    f = tr.log_frequencies(fmax_hz=tr.DRUM_FMAX_HZ)
    centroids = (W * f[:, None]).sum(axis=0) / W.sum(axis=0)
    assert centroids[0] < centroids[1] < centroids[2]
    np.testing.assert_allclose(W.sum(axis=0), 1.0, rtol=1e-5)


def test_inputs_are_not_mutated(rng: np.random.Generator) -> None:
    y = (0.3 * rng.standard_normal(SR)).astype(np.float32)
    before = y.copy()
    tr.transcribe_nmf(y, sr=SR)
    tr.transcribe_drums(y, sr=SR)
    np.testing.assert_array_equal(y, before)
