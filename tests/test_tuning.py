from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from residue.dsp.tuning import (
    BEND_MAX,
    BEND_MIN,
    custom_tuning,
    decode_bend,
    encode_bend,
    equal_temperament,
    hz_to_pitch,
    just_intonation,
    parse_scala,
    parse_tuning,
    pitch_to_hz,
)
from residue.errors import ParameterError


def test_12tet_is_the_identity_and_a4_is_440() -> None:
    t = equal_temperament(12)
    keys = np.arange(0, 128, dtype=np.float64)
    np.testing.assert_allclose(t.retune(keys), keys, atol=1e-9)
    assert float(t.frequency(np.array([69.0]))[0]) == pytest.approx(440.0)
    np.testing.assert_allclose(hz_to_pitch(pitch_to_hz(keys)), keys, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 72), step=st.integers(-100, 100))
def test_n_edo_degrees(n: int, step: int) -> None:
    # Keyboard mapping: key tonic+k plays degree k, i.e. 2 ** (k / n) above the tonic.
    t = equal_temperament(n, mapping="keyboard")
    f0 = t.frequency(np.array([60.0]))[0]
    f = t.frequency(np.array([60.0 + step]))[0]
    assert f / f0 == pytest.approx(2.0 ** (step / n), rel=1e-9)


def test_24_tet_quarter_tones() -> None:
    kb = equal_temperament(24, mapping="keyboard")
    np.testing.assert_allclose(kb.retune(np.array([61.0, 62.0, 84.0])), [60.5, 61.0, 72.0])
    near = equal_temperament(24)
    # Nearest mapping: 12-TET keys stay, bent pitches snap to the nearest quarter tone.
    np.testing.assert_allclose(near.retune(np.array([64.0, 64.3, 64.2, 63.76])),
                               [64.0, 64.5, 64.0, 64.0])
    assert parse_tuning("24-tet").name == "24-TET"
    assert parse_tuning("19-edo").n_degrees == 19


def test_just_intonation_ratios_are_exact() -> None:
    ji = just_intonation(tonic_key=60)
    f = ji.frequency(np.arange(60, 73, dtype=np.float64))
    ratios = f / f[0]
    expected = [float(Fraction(r)) for r in
                ("1", "16/15", "9/8", "6/5", "5/4", "4/3", "45/32", "3/2", "8/5", "5/3", "9/5",
                 "15/8", "2")]
    np.testing.assert_allclose(ratios, expected, rtol=1e-12)
    # The tonic keeps its 12-TET frequency; the JI major third is 13.7 cents flat of 12-TET.
    assert f[0] == pytest.approx(pitch_to_hz(60.0))
    assert 1200 * np.log2(f[4] / pitch_to_hz(64.0)) == pytest.approx(-13.686, abs=1e-3)


def test_just_intonation_on_another_tonic() -> None:
    ji = just_intonation(tonic_key=57)  # A
    f = ji.frequency(np.array([57.0, 64.0, 69.0]))
    assert f[1] / f[0] == pytest.approx(1.5)
    assert f[2] / f[0] == pytest.approx(2.0)


def test_custom_and_scala_scales_agree() -> None:
    entries = ["9/8", "5/4", "4/3", "3/2", "5/3", "15/8", "2/1"]
    a = custom_tuning(entries, mapping="keyboard")
    scl = "! major.scl\n!\nJust major\n 7\n!\n9/8\n5/4\n4/3\n3/2\n5/3\n15/8\n2/1\n"
    b = parse_scala(scl, mapping="keyboard")
    keys = np.arange(50, 80, dtype=np.float64)
    np.testing.assert_allclose(a.frequency(keys), b.frequency(keys))
    assert b.name == "Just major"
    # Degree 7 (key tonic+7) is the octave: 7 degrees per period.
    assert a.frequency(np.array([67.0]))[0] / a.frequency(np.array([60.0]))[0] == pytest.approx(2)
    # Cents entries work too, and parse_tuning reads a list.
    c = parse_tuning("203.91, 386.31, 498.04, 701.96, 884.36, 1088.27, 1200.0", mapping="keyboard")
    np.testing.assert_allclose(c.frequency(keys), a.frequency(keys), rtol=1e-5)


def test_non_octave_period() -> None:
    # Bohlen-Pierce: 13 equal steps of the 3/1 "tritave".
    bp = equal_temperament(13, period_cents=1200 * np.log2(3), mapping="keyboard")
    f = bp.frequency(np.array([60.0, 73.0]))
    assert f[1] / f[0] == pytest.approx(3.0)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: custom_tuning([]), "at least one entry"),
        (lambda: custom_tuning(["5/4", "9/8", "2/1"]), "rise strictly"),
        (lambda: custom_tuning(["3/2", "4/3"]), "rise strictly"),
        (lambda: custom_tuning(["abc", "2/1"]), "must be a ratio like 3/2"),
        (lambda: custom_tuning(["0/1", "2/1"]), "positive ratio"),
        (lambda: parse_tuning("pythagorean-ish"), "must be one of '12-tet'"),
        (lambda: parse_scala("desc\n3\n9/8\n2/1\n"), "declares 3 notes but lists 2"),
        (lambda: parse_scala("desc\nthree\n"), "must be an integer"),
        (lambda: equal_temperament(0), r"n=0 must be in \[1, 1200\]"),
        (lambda: equal_temperament(12, tonic_key=200), r"tonic_key=200 must be in"),
        (lambda: equal_temperament(12, mapping="scala"), "mapping='scala' must be one of"),
        (lambda: encode_bend(np.array([60.0]), bend_range=0.0), r"bend_range=0 must be in"),
    ],
)
def test_bad_tunings_raise(call: object, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        call()  # type: ignore[operator]


@settings(max_examples=60, deadline=None)
@given(
    pitch=st.floats(0.0, 127.0),
    bend_range=st.sampled_from([1.0, 2.0, 12.0]),
)
def test_bend_round_trip(pitch: float, bend_range: float) -> None:
    mp = encode_bend(np.array([pitch]), bend_range=bend_range)
    assert 0 <= mp.key[0] <= 127 and BEND_MIN <= mp.bend[0] <= BEND_MAX
    back = decode_bend(mp.key, mp.bend, bend_range=bend_range)[0]
    assert abs(back - pitch) <= bend_range / 8192 / 2 + 1e-9


def test_bend_encoding_values_and_clipping() -> None:
    mp = encode_bend(np.array([60.5, 59.75, 60.0]))
    # numpy rounds half to even: 60.5 is bent up from 60.
    assert mp.key.tolist() == [60, 60, 60]
    assert mp.bend.tolist() == [2048, -1024, 0]
    # A curve bent from a fixed key: beyond the range it clips at the extremes.
    far = encode_bend(np.array([60.0, 63.0, 56.0]), key=np.array([60, 60, 60]))
    assert far.bend.tolist() == [0, BEND_MAX, BEND_MIN]
