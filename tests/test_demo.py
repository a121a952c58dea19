from __future__ import annotations

import subprocess
import sys

import librosa
import numpy as np
import pytest

from residue.dsp.demo import (
    DEMO_BPM,
    DEMO_NAMES,
    DEMO_PEAK_DBFS,
    demo_loops,
    demo_mix,
    loop_length,
    mix_loops,
)
from residue.errors import ParameterError

SR = 44100
PEAK = 10 ** (DEMO_PEAK_DBFS / 20)


@pytest.fixture(scope="module")
def loops() -> dict[str, np.ndarray]:
    return demo_loops()


def test_names_shapes_levels(loops: dict[str, np.ndarray]) -> None:
    n = round(2 * 4 * 60 / DEMO_BPM * SR)
    assert n == 176400
    assert tuple(loops) == DEMO_NAMES == ("drums", "bass", "chords", "pad")
    for name, y in loops.items():
        assert y.shape == (2, n), name
        assert y.dtype == np.float32 and y.flags.c_contiguous
        assert np.all(np.isfinite(y))
        assert float(np.max(np.abs(y))) == pytest.approx(PEAK, abs=1e-4)  # -3 dBFS, no clipping
        assert float(np.sqrt(np.mean(y**2))) > 0.05  # not a near-silent loop


@pytest.mark.parametrize(
    ("sr", "bpm", "bars"), [(8000, 93.0, 1), (16000, 174.0, 3), (11025, 61.5, 2), (8000, 300.0, 1)]
)
def test_exact_loop_length(sr: int, bpm: float, bars: int) -> None:
    expected = int(np.round(bars * 240.0 * sr / bpm))
    assert loop_length(sr=sr, bpm=bpm, bars=bars) == expected
    out = demo_loops(sr=sr, bpm=bpm, bars=bars)
    for y in out.values():
        assert y.shape == (2, expected)
        assert np.all(np.isfinite(y)) and float(np.max(np.abs(y))) <= 1.0


def test_deterministic_per_seed() -> None:
    a = demo_loops(sr=8000, bars=1, seed=3)
    b = demo_loops(sr=8000, bars=1, seed=3)
    c = demo_loops(sr=8000, bars=1, seed=4)
    for name in DEMO_NAMES:
        np.testing.assert_array_equal(a[name], b[name])
    assert not np.array_equal(a["drums"], c["drums"])


def test_loops_loop_without_clicks(loops: dict[str, np.ndarray]) -> None:
    """The jump across the loop point is no bigger than the signal's own steps around it."""
    for name, y in loops.items():
        n = y.shape[-1]
        steps = np.abs(np.diff(np.tile(y, 2), axis=-1))
        seam = float(steps[:, n - 1].max())
        around = float(np.concatenate([steps[:, n - 257 : n - 1], steps[:, n : n + 256]], 1).max())
        assert seam <= 1.5 * around + 1e-4, (name, seam, around)


def test_drums_hit_on_the_beat(loops: dict[str, np.ndarray]) -> None:
    hop = 256
    mono = loops["drums"].mean(axis=0)
    n = mono.shape[-1]
    # Three periods, so that the first beat has a real past; keep the middle one.
    env = librosa.onset.onset_strength(y=np.tile(mono, 3), sr=SR, hop_length=hop)
    frames_per_loop = n / hop
    beat_frames = [round(frames_per_loop + b * SR * 60 / DEMO_BPM / hop) for b in range(8)]
    at_beats = np.array([env[f - 2 : f + 3].max() for f in beat_frames])
    middle = env[round(frames_per_loop) : round(2 * frames_per_loop)]
    assert np.all(at_beats > 4 * np.median(middle))
    # Between the beats (away from them) the onsets are weaker than on them.
    off = np.ones(middle.shape, dtype=bool)
    for f in beat_frames:
        lo = f - round(frames_per_loop)
        off[max(lo - 6, 0) : lo + 7] = False
    assert at_beats.mean() > 1.5 * middle[off].max()


def test_bass_energy_is_low(loops: dict[str, np.ndarray]) -> None:
    mono = loops["bass"].mean(axis=0).astype(np.float64)
    power = np.abs(np.fft.rfft(mono)) ** 2
    freqs = np.fft.rfftfreq(mono.size, 1 / SR)
    assert power[freqs < 300].sum() / power.sum() > 0.9
    assert power[freqs < 30].sum() / power.sum() < 0.01  # no DC or rumble


def test_chords_follow_the_progression(loops: dict[str, np.ndarray]) -> None:
    chroma = librosa.feature.chroma_stft(
        y=loops["chords"].mean(axis=0), sr=SR, n_fft=8192, hop_length=2048
    )
    seg = chroma.shape[1] // 4
    # Am, F, C, G as pitch classes (C=0).
    expected = [{9, 0, 4}, {5, 9, 0}, {0, 4, 7}, {7, 11, 2}]
    for i, tones in enumerate(expected):
        top = set(np.argsort(chroma[:, i * seg : (i + 1) * seg].mean(axis=1))[::-1][:3].tolist())
        assert top == tones, (i, top)


def test_stereo_image(loops: dict[str, np.ndarray]) -> None:
    def corr(y: np.ndarray) -> float:
        return float(np.corrcoef(y[0], y[1])[0, 1])

    np.testing.assert_array_equal(loops["bass"][0], loops["bass"][1])  # bass in the centre
    assert corr(loops["pad"]) < 0.9  # the pad is wide
    assert corr(loops["chords"]) < 0.9


def test_mix(loops: dict[str, np.ndarray]) -> None:
    mix = mix_loops(loops)
    assert mix.shape == (2, 176400) and mix.dtype == np.float32
    assert float(np.max(np.abs(mix))) == pytest.approx(PEAK, abs=1e-4)
    for name, y in loops.items():
        assert float(np.corrcoef(mix.ravel(), y.ravel())[0, 1]) > 0.1, name
    np.testing.assert_array_equal(demo_mix(sr=8000, bars=1), mix_loops(demo_loops(sr=8000, bars=1)))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"sr": 4000}, r"sr=4000 must be in \[8000, 192000\]"),
        ({"bpm": 20.0}, r"bpm=20 must be in \[40, 300\]"),
        ({"bpm": float("nan")}, "bpm=nan must be finite"),
        ({"bars": 0}, r"bars=0 must be in \[1, 16\]"),
        ({"bars": 1.5}, "bars=1.5 must be an integer"),
        ({"seed": -1}, r"seed=-1 must be in \[0, inf\]"),
    ],
)
def test_validation(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        demo_loops(**kwargs)  # type: ignore[arg-type]


def test_demo_is_pure_numpy() -> None:
    code = (
        "import sys\n"
        "for name in ('litestar', 'msgspec', 'sqlite3', 'torch', 'scipy', 'librosa',"
        " 'residue.store', 'residue.services'):\n"
        "    sys.modules[name] = None\n"
        "from residue.dsp.demo import demo_loops\n"
        "assert demo_loops(sr=8000, bars=1)['drums'].shape == (2, 16000)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
