from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from residue.dsp import notes as nt
from residue.dsp.notes import (
    CleanupOptions,
    Grid,
    Key,
    cleanup,
    detect_key,
    drop_quiet,
    drop_short,
    estimate_grid,
    estimate_tempo,
    limit_density,
    make_note,
    merge_repeated,
    parse_key,
    quantize,
    sequence,
    snap_to_key,
)
from residue.errors import ParameterError

note_st = st.builds(
    lambda p, s, d, v: make_note(p, s, s + d, velocity=v),
    st.integers(30, 90),
    st.floats(0.0, 20.0),
    st.floats(0.005, 2.0),
    st.integers(1, 127),
)
seq_st = st.lists(note_st, max_size=60).map(sequence)


# --- construction -----------------------------------------------------------------------------


def test_sequence_sorts_notes() -> None:
    seq = sequence([make_note(64, 1.0, 2.0), make_note(60, 0.0, 1.0), make_note(55, 1.0, 1.5)])
    assert [(n.start_s, n.pitch) for n in seq.notes] == [(0.0, 60), (1.0, 55), (1.0, 64)]
    assert seq.end_s == 2.0
    arrays = seq.arrays()
    assert arrays.pitch.dtype == np.int64 and arrays.start_s.dtype == np.float64


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"pitch": 128, "start_s": 0.0, "end_s": 1.0}, r"pitch=128 must be in \[0, 127\]"),
        ({"pitch": 60, "start_s": -1.0, "end_s": 1.0}, r"start_s=-1 must be in"),
        ({"pitch": 60, "start_s": 1.0, "end_s": 1.0}, r"end_s=1 must be after start_s=1"),
        ({"pitch": 60, "start_s": 0.0, "end_s": math.nan}, r"end_s=nan must be finite"),
        ({"pitch": 60, "start_s": 0.0, "end_s": 1.0, "velocity": 0}, r"velocity=0 must be in"),
        ({"pitch": 60, "start_s": 0.0, "end_s": 1.0, "bends": [(0.5, 0.0), (0.1, 1.0)]},
         "bend times must be non-negative and sorted"),
        ({"pitch": 60, "start_s": 0.0, "end_s": 1.0, "bends": [(0.0, math.inf)]},
         "bends must be finite"),
        ({"pitch": 60, "start_s": 0.0, "end_s": 1.0, "bends": [(0.0, 60.0)]},
         "within 48 semitones"),
    ],
)
def test_make_note_rejects(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        make_note(**kwargs)  # type: ignore[arg-type]


def test_sequence_rejects_bad_program() -> None:
    with pytest.raises(ParameterError, match=r"program=128 must be in \[0, 127\]"):
        sequence([], program=128)


def test_pitch_curve_interpolates_bends() -> None:
    n = make_note(60, 1.0, 2.0, bends=[(0.0, 0.0), (1.0, 2.0)])
    np.testing.assert_allclose(n.pitch_curve(np.array([0.0, 0.5, 1.0, 5.0])), [60, 61, 62, 62])
    assert n.center_bend() == 1.0
    assert make_note(60, 0.0, 1.0).center_bend() == 0.0


# --- each clean-up ----------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(seq=seq_st, min_d=st.floats(0.0, 1.0))
def test_drop_short_keeps_exactly_the_long_notes(seq: nt.NoteSequence, min_d: float) -> None:
    out = drop_short(seq, min_duration_s=min_d)
    assert all(n.duration_s >= min_d for n in out.notes)
    assert len(out) == sum(n.duration_s >= min_d for n in seq.notes)


@settings(max_examples=40, deadline=None)
@given(seq=seq_st, v=st.integers(1, 127))
def test_drop_quiet_keeps_exactly_the_loud_notes(seq: nt.NoteSequence, v: int) -> None:
    out = drop_quiet(seq, min_velocity=v)
    assert len(out) == sum(n.velocity >= v for n in seq.notes)
    assert all(n.velocity >= v for n in out.notes)


def test_merge_repeated_joins_close_same_pitch_notes_only() -> None:
    seq = sequence([
        make_note(60, 0.0, 0.5, velocity=50),
        make_note(60, 0.52, 1.0, velocity=90),  # 20 ms gap: merged
        make_note(60, 1.3, 1.6),  # 300 ms gap: kept apart
        make_note(62, 1.0, 1.2),  # another pitch: untouched
    ])
    out = merge_repeated(seq, max_gap_s=0.05)
    got = [(n.pitch, n.start_s, n.end_s, n.velocity) for n in out.notes]
    assert got == [(60, 0.0, 1.0, 90), (62, 1.0, 1.2, 100), (60, 1.3, 1.6, 100)]
    assert len(merge_repeated(seq, max_gap_s=0.01)) == 4


def test_merge_repeated_keeps_both_bend_curves() -> None:
    a = make_note(60, 0.0, 0.5, bends=[(0.0, 0.0), (0.4, 0.5)])
    b = make_note(60, 0.5, 1.0, bends=[(0.0, -0.5)])
    (m,) = merge_repeated(sequence([a, b]), max_gap_s=0.01).notes
    assert m.bends == ((0.0, 0.0), (0.4, 0.5), (0.5, -0.5))


@settings(max_examples=40, deadline=None)
@given(seq=seq_st, gap=st.floats(0.0, 0.5))
def test_merge_repeated_properties(seq: nt.NoteSequence, gap: float) -> None:
    out = merge_repeated(seq, max_gap_s=gap)
    assert len(out) <= len(seq)
    assert {n.pitch for n in out.notes} == {n.pitch for n in seq.notes}
    # Same-pitch notes left are further apart than the gap.
    for p in {n.pitch for n in out.notes}:
        same = [n for n in out.notes if n.pitch == p]
        assert all(b.start_s - a.end_s > gap for a, b in itertools.pairwise(same))


@settings(max_examples=40, deadline=None)
@given(seq=seq_st, budget=st.integers(1, 6))
def test_limit_density_respects_budget_and_keeps_the_strongest(
    seq: nt.NoteSequence, budget: int
) -> None:
    out = limit_density(seq, max_notes_per_s=budget)
    for second in {int(n.start_s) for n in seq.notes}:
        bucket = sorted(
            (nt._salience(n) for n in seq.notes if int(n.start_s) == second), reverse=True
        )
        inside = sorted(
            (nt._salience(n) for n in out.notes if int(n.start_s) == second), reverse=True
        )
        # Exactly the budget (or all), and the most salient ones.
        assert inside == bucket[: min(budget, len(bucket))]


def test_limit_density_fractional_budget() -> None:
    seq = sequence([make_note(60, t, t + 0.1) for t in np.arange(0, 4, 0.25)])
    assert len(limit_density(seq, max_notes_per_s=0.5)) == 2


def test_quantize_snaps_jittered_notes(rng: np.random.Generator) -> None:
    step = 60 / 120 / 4
    grid_times = np.arange(16) * step * 2
    jitter = rng.uniform(-0.03, 0.03, grid_times.size)
    seq = sequence([
        make_note(60 + i % 5, t + j + 0.1, t + j + 0.1 + step * 1.8)
        for i, (t, j) in enumerate(zip(grid_times, jitter, strict=True))
    ])
    out = quantize(seq, grid=Grid(120.0, 4, 0.1))
    starts = np.array([n.start_s for n in out.notes])
    np.testing.assert_allclose(starts, grid_times + 0.1, atol=1e-9)
    assert out.tempo_bpm == 120.0
    half = quantize(seq, grid=Grid(120.0, 4, 0.1), strength=0.5)
    np.testing.assert_allclose(
        [n.start_s for n in half.notes], grid_times + 0.1 + jitter / 2, atol=1e-9
    )


def test_quantize_never_leaves_same_pitch_overlaps() -> None:
    seq = sequence([make_note(60, 0.0, 0.3), make_note(60, 0.13, 0.4), make_note(60, 0.26, 0.9)])
    out = quantize(seq, grid=Grid(120.0, 4, 0.0))
    same = [n for n in out.notes if n.pitch == 60]
    assert all(a.end_s <= b.start_s + 1e-9 for a, b in itertools.pairwise(same))
    assert all(n.end_s > n.start_s for n in out.notes)


def test_quantize_rejects_bad_strength() -> None:
    with pytest.raises(ParameterError, match=r"strength=2 must be in \[0, 1\]"):
        quantize(sequence([]), grid=Grid(120.0, 4, 0.0), strength=2.0)


@pytest.mark.parametrize("bpm", [96.0, 128.0])
def test_estimate_tempo_finds_the_beat(bpm: float) -> None:
    beat = 60.0 / bpm
    seq = sequence([make_note(60, 0.5 + i * beat, 0.5 + i * beat + 0.1) for i in range(32)])
    assert abs(estimate_tempo(seq) - bpm) < 2.0
    grid = estimate_grid(seq, steps_per_beat=1)
    assert abs(grid.offset_s - 0.5 % grid.step_s) < 0.02 or abs(grid.offset_s - grid.step_s) < 0.02


def test_estimate_tempo_of_few_notes_is_the_prior() -> None:
    assert estimate_tempo(sequence([make_note(60, 0.0, 1.0)]), prior_bpm=100.0) == 100.0


def test_detect_key_major_and_minor() -> None:
    c_major = [60, 62, 64, 65, 67, 69, 71, 72, 67, 64, 60]
    seq = sequence([make_note(p, i * 0.5, i * 0.5 + 0.45) for i, p in enumerate(c_major)])
    assert str(detect_key(seq)) == "C major"
    a_minor = [57, 60, 64, 69, 64, 60, 57, 59, 60, 62, 64, 57]
    seq = sequence([make_note(p, i * 0.5, i * 0.5 + 0.45) for i, p in enumerate(a_minor)])
    assert str(detect_key(seq)) == "A minor"


def test_snap_to_key_moves_only_out_of_key_notes() -> None:
    seq = sequence([
        make_note(61, 0.0, 1.0),  # C#: tie between C and D, no bend: down
        make_note(61, 1.0, 2.0, bends=[(0.0, 0.3)]),  # leaning up: D
        make_note(64, 2.0, 3.0),  # E: in C major
    ])
    out = snap_to_key(seq, key=parse_key("C major"))
    assert [n.pitch for n in out.notes] == [60, 62, 64]
    drums = sequence([make_note(61, 0.0, 0.1)], is_drum=True)
    assert snap_to_key(drums, key=Key(0, "major")) == drums


@settings(max_examples=30, deadline=None)
@given(seq=seq_st, tonic=st.integers(0, 11), scale=st.sampled_from(sorted(nt.SCALES)))
def test_snap_to_key_lands_in_key(seq: nt.NoteSequence, tonic: int, scale: str) -> None:
    key = Key(tonic, scale)
    out = snap_to_key(seq, key=key)
    assert all(n.pitch % 12 in key.pitch_classes() for n in out.notes)
    assert all(abs(a.pitch - b.pitch) <= 2 for a, b in zip(
        sorted(seq.notes, key=lambda n: (n.start_s, n.end_s, n.velocity)),
        sorted(out.notes, key=lambda n: (n.start_s, n.end_s, n.velocity)), strict=True))


@pytest.mark.parametrize(
    ("text", "match"),
    [("H major", "unknown tonic"), ("C lydianish", "scale='lydianish' must be one of"),
     ("", "must look like")],
)
def test_parse_key_rejects(text: str, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        parse_key(text)


def test_parse_key_accepts_flats() -> None:
    assert parse_key("Bb dorian") == Key(10, "dorian")


# --- cleanup ----------------------------------------------------------------------------------


def test_cleanup_applies_each_step() -> None:
    seq = sequence([
        make_note(60, 0.0, 0.02),  # too short
        make_note(61, 0.5, 1.0, velocity=90),  # out of key -> 60
        make_note(64, 1.0, 1.4, velocity=10),  # too quiet
        make_note(67, 1.51, 2.0),  # off the grid
    ])
    opts = CleanupOptions(min_duration_s=0.05, min_velocity=20, key="C major", quantize=True,
                          tempo_bpm=120.0, steps_per_beat=2, grid_offset_s=0.0)
    report = cleanup(seq, options=opts)
    assert [(n.pitch, round(n.start_s, 3)) for n in report.notes.notes] == [(60, 0.5), (67, 1.5)]
    assert report.key == Key(0, "major")
    assert report.grid is not None and report.grid.tempo_bpm == 120.0


def test_cleanup_with_nothing_asked_is_identity(rng: np.random.Generator) -> None:
    seq = sequence([make_note(int(p), float(t), float(t) + 0.1) for p, t in
                    zip(rng.integers(40, 80, 20), rng.uniform(0, 5, 20), strict=True)])
    assert cleanup(seq, options=CleanupOptions()).notes == seq


def test_cleanup_auto_key_and_budget() -> None:
    seq = sequence([make_note(p, i * 0.1, i * 0.1 + 0.09) for i, p in
                    enumerate([60, 62, 64, 65, 67, 69, 71, 72] * 3)])
    report = cleanup(seq, options=CleanupOptions(key="auto", max_notes_per_s=3))
    assert report.key is not None and report.key.tonic == 0
    assert len(report.notes) <= 3 * math.ceil(seq.end_s)
