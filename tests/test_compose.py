from __future__ import annotations

import dataclasses
import itertools
import re

import numpy as np
import pyloudnorm as pyln
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.ndimage import gaussian_filter1d

from residue.dsp import compose as cp
from residue.dsp import timbre as tb
from residue.dsp.progress import CancelToken
from residue.errors import JobCancelled, ParameterError

SR = cp.SR
DIM = 8
ISSUE_RULES = {
    "S": ["XYXZ", "XYZZ", "XZYZ", "YXYZ", "YXZY", "YZXZ", "YZYZ", "ZXYZ", "ZXZY", "ZYXZ"],
    "X": ["AABBAABB", "ABABAB"],
    "Y": ["CDCD", "CCDD"],
    "Z": ["E", "EE"],
}


class FakeModel:
    """A deterministic smooth latent <-> vector map standing in for the VAE."""

    def __init__(self) -> None:
        rng = np.random.default_rng(42)
        self.R = gaussian_filter1d(rng.standard_normal((DIM, tb.N_BINS)), 25, axis=1) * 6.0
        self.bias = np.linspace(1.5, -2.5, tb.N_BINS)
        self.pinv = np.linalg.pinv(self.R)

    def decode(self, Z: np.ndarray) -> np.ndarray:
        Z = np.asarray(Z, dtype=np.float64).reshape(-1, DIM)
        out: np.ndarray = (1.0 / (1.0 + np.exp(-(Z @ self.R + self.bias)))).astype(np.float32)
        return out

    def encode(self, V: np.ndarray) -> np.ndarray:
        v = np.clip(np.asarray(V, dtype=np.float64), 1e-4, 1 - 1e-4)
        return ((np.log(v / (1 - v)) - self.bias) @ self.pinv).astype(np.float32)


@pytest.fixture(scope="module")
def model() -> FakeModel:
    return FakeModel()


def short(**kw: object) -> cp.SongSettings:
    base: dict[str, object] = {"seed": 3, "minutes": 0.25, "fade_s": 2.0, "n_candidates": 64}
    base.update(kw)
    return cp.SongSettings(**base)  # type: ignore[arg-type]


# -- grammar ---------------------------------------------------------------------------------


def test_default_grammar_is_the_issues() -> None:
    g = cp.parse_grammar(cp.DEFAULT_GRAMMAR)
    assert {k: list(v) for k, v in g.table.items()} == ISSUE_RULES
    assert cp.parse_grammar(g.text()) == g
    assert cp.make_grammar(ISSUE_RULES) == g


def _language_regex() -> re.Pattern[str]:
    x, y, z = (f"(?:{'|'.join(ISSUE_RULES[k])})" for k in "XYZ")
    alts = [alt.replace("X", x).replace("Y", y).replace("Z", z) for alt in ISSUE_RULES["S"]]
    return re.compile("|".join(f"(?:{a})" for a in alts))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_expansion_is_in_the_language(seed: int) -> None:
    out = cp.expand(cp.parse_grammar(cp.DEFAULT_GRAMMAR), rng=np.random.default_rng(seed))
    assert _language_regex().fullmatch(out), out
    assert set(out) <= set("ABCDE")


def test_expansion_seeded_and_covers_every_rule() -> None:
    g = cp.parse_grammar(cp.DEFAULT_GRAMMAR)
    assert cp.expand(g, rng=np.random.default_rng(7)) == cp.expand(g, rng=np.random.default_rng(7))
    seen = {cp.expand(g, rng=np.random.default_rng(s)) for s in range(400)}
    firsts = {s[:2] for s in seen}
    assert len(seen) > 50 and {"AA", "AB", "CD", "CC", "E" + "A", "EE"} <= firsts | {"EA"}
    assert g.max_length() == 8 + 4 + 8 + 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("S -> AQ", r"unknown symbol 'Q' in rule S -> AQ"),
        ("S -> X\nX -> AB | Xa", r"unknown symbol 'a'"),
        ("S -> X\nX -> XA | A", r"rule X is recursive \(X -> X\)"),
        ("S -> X\nX -> Y\nY -> AX", r"rule X is recursive \(X -> Y -> X\)"),
        ("S -> AS", r"rule S is recursive"),
        ("X -> AB", "no rule for the start symbol S"),
        ("S -> A | ", "empty alternative"),
        ("S AB", "must look like"),
        ("S -> A\nB -> C", "is a point of the song"),
        ("S -> A\nS -> B", "given twice"),
        ("s -> A", "one capital letter"),
        ("", "no rules"),
        ("S -> XXXX\nX -> YYYYYYYY\nY -> ZZZZZZZZ\nZ -> AAAAAAAAA", "at most 512"),
    ],
)
def test_bad_grammars(text: str, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        cp.parse_grammar(text)


def test_grammar_through_settings() -> None:
    with pytest.raises(ParameterError, match="unknown symbol"):
        short(grammar="S -> ABQ").checked()
    with pytest.raises(ParameterError, match="recursive"):
        short(grammar="S -> XA\nX -> SA").checked()
    custom = short(grammar="S -> AE | EA")
    assert custom.checked() is custom


# -- points ----------------------------------------------------------------------------------


def peaked(freqs_hz: list[float]) -> np.ndarray:
    f = tb.timbre_frequencies()
    return np.stack(
        [np.exp(-0.5 * (np.log2(f / c) / 0.2) ** 2) for c in freqs_hz]
    ).astype(np.float32)


def test_centroid_and_loudness_criteria(rng: np.random.Generator) -> None:
    V = peaked([200.0, 3000.0, 800.0])
    Z = rng.standard_normal((3, DIM)).astype(np.float32)
    high = cp.criterion_scores(Z, V, criterion="centroid")
    assert np.argsort(-high).tolist() == [1, 2, 0]
    low = cp.criterion_scores(Z, V, criterion="centroid", direction="low")
    assert np.argsort(-low).tolist() == [0, 2, 1]
    centroid = cp.spectral_centroid(V)
    assert 150 < centroid[0] < 300 and 2000 < centroid[1] < 4500
    # The ear is most sensitive near 3 kHz: the same shape there scores loudest.
    loud = cp.criterion_scores(Z, V, criterion="loudness")
    assert int(np.argmax(loud)) == 1 and int(np.argmin(loud)) == 0


def test_weirdness_region_random(rng: np.random.Generator) -> None:
    Z = np.array([[0.1] * DIM, [3.0] * DIM, [1.0] * DIM], np.float32)
    V = np.zeros((3, tb.N_BINS), np.float32)
    weird = cp.criterion_scores(Z, V, criterion="weirdness")
    np.testing.assert_allclose(weird, np.linalg.norm(Z, axis=1), rtol=1e-6)
    xy = np.array([[0.0, 0.0], [5.0, 5.0], [0.9, 0.0]])
    square = [(-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)]
    region = cp.criterion_scores(Z, V, criterion="region", xy=xy, region=square)
    assert region[0] > region[2] > 1.0 > 0.0 > region[1]
    assert region[1] == pytest.approx(-np.hypot(4.0, 4.0))
    assert not cp.criterion_scores(Z, V, criterion="random").any()
    with pytest.raises(ParameterError, match="needs map coordinates"):
        cp.criterion_scores(Z, V, criterion="region")
    with pytest.raises(ParameterError, match="at least 3"):
        cp.criterion_scores(Z, V, criterion="region", xy=xy, region=[(0, 0), (1, 1)])
    with pytest.raises(ParameterError, match="criterion"):
        cp.criterion_scores(Z, V, criterion="pitchiness")  # type: ignore[arg-type]


def test_inside_polygon_against_matplotlib(rng: np.random.Generator) -> None:
    from matplotlib.path import Path

    poly = np.array([[0, 0], [4, 0], [4, 3], [2, 1], [0, 3]], dtype=np.float64)  # concave
    pts = rng.uniform(-1, 5, size=(500, 2))
    np.testing.assert_array_equal(cp.inside_polygon(pts, poly), Path(poly).contains_points(pts))


def test_pick_points_keeps_them_apart() -> None:
    Z = np.array([[0.0, 0], [0.1, 0], [5, 0], [5.1, 0], [10, 0], [20, 0], [30, 0]])
    scores = np.array([10.0, 9, 8, 7, 6, 5, 4])
    assert cp.pick_points(Z, scores, k=5, min_separation=1.0).tolist() == [0, 2, 4, 5, 6]
    assert cp.pick_points(Z, scores, k=5, min_separation=100.0).tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(ParameterError, match="at least 5"):
        cp.pick_points(Z[:3], scores[:3])


# -- path ------------------------------------------------------------------------------------


def test_wiggle_is_a_helix_around_the_base(rng: np.random.Generator) -> None:
    points = rng.standard_normal((5, DIM))
    path = cp.wiggle_path(points, "ABCDE", duration_s=100.0, step_s=1.0, amplitude=0.7,
                          rate_hz=0.1, rng=np.random.default_rng(0))
    assert path.Z.shape == (101, DIM) and path.times_s[-1] == 100.0
    offset = path.Z.astype(np.float64) - path.base
    np.testing.assert_allclose(np.linalg.norm(offset, axis=1), 0.7, rtol=1e-5)
    # One turn every 10 s: the wiggle repeats with that period.
    np.testing.assert_allclose(offset[10:], offset[:-10], atol=1e-5)
    # At the centre of each section the base rests on that section's point.
    for j, symbol in enumerate("ABCDE"):
        np.testing.assert_allclose(path.base[10 + 20 * j], points["ABCDE".index(symbol)], atol=1e-6)
    assert path.section.tolist()[:21] == [0] * 20 + [1]
    flat = cp.wiggle_path(points, "AB", duration_s=10.0, amplitude=0.0, rng=rng)
    np.testing.assert_array_equal(flat.Z, flat.base)


def test_wiggle_validation(rng: np.random.Generator) -> None:
    points = rng.standard_normal((5, DIM))
    with pytest.raises(ParameterError, match="structure"):
        cp.wiggle_path(points, "ABX", duration_s=10.0, rng=rng)
    with pytest.raises(ParameterError, match="step_s"):
        cp.wiggle_path(points, "AB", duration_s=10.0, step_s=0.1, rng=rng)
    with pytest.raises(ParameterError, match=r"shape \(5, dim\)"):
        cp.wiggle_path(points[:3], "AB", duration_s=10.0, rng=rng)


# -- rendering -------------------------------------------------------------------------------


def test_blend_keeps_a_constant_level() -> None:
    """Power-complementary crossfades: as loud between two steps as at a step (a linear
    crossfade of independent noises would dip 3 dB there)."""
    V = np.full((42, tb.N_BINS), 0.9, np.float32)
    hop = SR // 4
    y = cp.blend_drones(V, hop_samples=hop, n_samples=40 * hop, rng=np.random.default_rng(0))
    assert y.shape == (2, 40 * hop) and y.dtype == np.float32
    p = y.astype(np.float64) ** 2
    half = 500
    at_steps = np.mean([p[:, i * hop - half : i * hop + half].mean() for i in range(2, 38)])
    between = np.mean(
        [p[:, i * hop + hop // 2 - half : i * hop + hop // 2 + half].mean() for i in range(2, 38)]
    )
    assert abs(10 * np.log10(between / at_steps)) < 0.5
    rms = np.sqrt(p.mean(axis=-1))
    np.testing.assert_allclose(rms, 1.0, rtol=0.05)
    corr = float(np.corrcoef(y[0], y[1])[0, 1])
    width = cp.STEREO_WIDTH
    assert corr == pytest.approx((1 - width**2) / (1 + width**2), abs=0.05)


@pytest.mark.parametrize("shape", ["mono", "stereo", "five"])
def test_loudness_matches_pyloudnorm(shape: str, rng: np.random.Generator) -> None:
    n_ch = {"mono": 1, "stereo": 2, "five": 5}[shape]
    y = rng.standard_normal((n_ch, 3 * SR)) * np.linspace(0.01, 0.3, 3 * SR)
    y[:, SR : SR + 4000] = 0.0
    ref = pyln.Meter(SR).integrated_loudness(y.T if n_ch > 1 else y[0])
    ours = cp.integrated_loudness(y[0] if shape == "mono" else y, sr=SR)
    assert ours == pytest.approx(ref, abs=1e-6)
    out = cp.normalize_loudness(y.astype(np.float32), sr=SR, target_lufs=-23.0)
    assert pyln.Meter(SR).integrated_loudness(out.T.astype(np.float64)) == pytest.approx(
        -23.0, abs=1e-3
    )
    assert cp.integrated_loudness(np.zeros(SR, np.float32), sr=SR) == float("-inf")
    with pytest.raises(ParameterError, match="at least 400 ms"):
        cp.integrated_loudness(np.zeros(1000, np.float32), sr=SR)


def test_fade_and_peak_limit() -> None:
    y = np.ones((2, 1000), np.float32)
    out = cp.fade(y, sr=1000, fade_in_s=0.1, fade_out_s=0.2)
    assert out[0, 0] == 0 and out[0, -1] == 0 and out[0, 500] == 1 and y[0, 0] == 1
    assert out[0, 50] == pytest.approx(0.5, abs=0.02)
    assert float(cp.limit_peak(3 * y).max()) == pytest.approx(cp.PEAK_LIMIT)


# -- ambience --------------------------------------------------------------------------------


def test_make_loop_is_seamless(rng: np.random.Generator) -> None:
    t = np.arange(3 * SR) / SR
    y = (np.sin(2 * np.pi * 3.1 * t) * (1 + 0.1 * rng.standard_normal(t.size))).astype(np.float32)
    loop = cp.make_loop(np.stack([y, y]), sr=SR, crossfade_s=0.5)
    assert loop.shape == (2, 3 * SR - SR // 2)
    tail = np.stack([y, y])[:, SR // 2 : 3 * SR - SR // 2]
    np.testing.assert_array_equal(loop[:, SR // 2 :], tail)
    # Across the loop point the signal continues as the original did.
    assert loop[0, -1] == y[3 * SR - SR // 2 - 1]
    assert abs(loop[0, 0] - y[3 * SR - SR // 2]) < 0.01


def test_effect_sound_of_10_ms_is_refused() -> None:
    with pytest.raises(ParameterError, match=r"lasts 10 ms; an ambience effect needs at least 1 s"):
        cp.make_loop(np.zeros(441, np.float32), sr=SR)
    with pytest.raises(ParameterError, match="effect 0 lasts 10 ms"):
        cp.ambience_layer([np.zeros((2, 441), np.float32)], n_samples=SR, sr=SR,
                          rng=np.random.default_rng(0))
    with pytest.raises(ParameterError, match="at least one effect"):
        cp.ambience_layer([], n_samples=SR, sr=SR, rng=np.random.default_rng(0))


@pytest.mark.parametrize("kind", cp.EFFECT_KINDS)
def test_procedural_effects_loop_at_level(kind: cp.EffectKind) -> None:
    y = cp.procedural_effect(kind, rng=np.random.default_rng(1), duration_s=4.0)
    assert y.shape == (2, 4 * SR) and y.dtype == np.float32
    assert cp.integrated_loudness(y, sr=SR) == pytest.approx(-30.0, abs=0.01)
    n = y.shape[-1]
    steps = np.abs(np.diff(np.concatenate([y, y], axis=-1), axis=-1))
    assert float(steps[:, n - 1].max()) <= 1.5 * float(steps[:, n - 300 : n + 300].max())
    again = cp.procedural_effect(kind, rng=np.random.default_rng(1), duration_s=4.0)
    np.testing.assert_array_equal(y, again)


def test_ambience_moves_between_similar_effects(rng: np.random.Generator) -> None:
    def noise(lo: float, hi: float) -> np.ndarray:
        f = np.fft.rfftfreq(2 * SR, 1 / SR)
        mag = ((f > lo) & (f < hi)).astype(float)
        x = np.fft.irfft(mag * np.exp(2j * np.pi * rng.random(f.size)), n=2 * SR)
        return np.stack([x, x]).astype(np.float32)

    effects = [noise(100, 300), noise(5000, 9000), noise(120, 350), noise(6000, 10000)]
    layer, order = cp.ambience_layer(effects, n_samples=12 * SR, sr=SR,
                                     rng=np.random.default_rng(3), hold_s=2.0, crossfade_s=1.0,
                                     fade_s=1.0)
    assert layer.shape == (2, 12 * SR) and len(order) == 6
    low, high = {0, 2}, {1, 3}
    # From an effect the layer goes to the similar one, not across.
    for a, b in itertools.pairwise(order):
        assert ({a, b} <= low) or ({a, b} <= high), order
    middle = layer[:, 2 * SR : 10 * SR]
    assert cp.integrated_loudness(middle, sr=SR) == pytest.approx(-30.0, abs=1.0)


# -- songs -----------------------------------------------------------------------------------


def test_song_is_bit_for_bit_reproducible(model: FakeModel) -> None:
    s = short(ambience="waves", step_s=1.0, minutes=0.1)
    a = cp.render_song(s, decode=model.decode, latent_dim=DIM)
    b = cp.render_song(s, decode=model.decode, latent_dim=DIM)
    np.testing.assert_array_equal(a.y, b.y)
    assert a.structure == b.structure and a.name == b.name
    np.testing.assert_array_equal(a.points, b.points)
    c = cp.render_song(dataclasses.replace(s, seed=4), decode=model.decode, latent_dim=DIM)
    assert not np.array_equal(a.y[:, : c.y.shape[1]], c.y[:, : a.y.shape[1]])


def test_song_shape_level_fades(model: FakeModel) -> None:
    s = short(loudness_lufs=-18.0)
    song = cp.render_song(s, decode=model.decode, latent_dim=DIM)
    assert song.y.shape == (2, round(0.25 * 60 * SR)) and song.y.dtype == np.float32
    assert cp.integrated_loudness(song.y, sr=SR) == pytest.approx(-18.0, abs=0.05)
    assert song.loudness_lufs == pytest.approx(-18.0, abs=0.05)
    assert float(np.abs(song.y[:, :10]).max()) < 1e-3
    assert float(np.abs(song.y[:, -10:]).max()) < 1e-3
    assert float(np.abs(song.y).max()) <= cp.PEAK_LIMIT + 1e-6
    assert set(song.structure) <= set("ABCDE") and len(song.points) == 5
    assert song.path.Z.shape == (round(15 / 1.5) + 1, DIM)


def test_song_changes_with_settings_and_follows_the_criterion(model: FakeModel) -> None:
    bright = cp.choose_points(short(criterion="centroid"), decode=model.decode, latent_dim=DIM)
    dark = cp.choose_points(short(criterion="centroid", direction="low"), decode=model.decode,
                            latent_dim=DIM)
    assert cp.spectral_centroid(model.decode(bright)).min() > cp.spectral_centroid(
        model.decode(dark)
    ).max()
    weird = cp.choose_points(short(criterion="weirdness"), decode=model.decode, latent_dim=DIM)
    plain = cp.choose_points(short(criterion="random"), decode=model.decode, latent_dim=DIM)
    assert np.linalg.norm(weird, axis=1).min() > np.linalg.norm(plain, axis=1).mean()


@pytest.mark.parametrize("n_pins", [1, 3, 5])
def test_pinned_points_come_first_and_the_rest_keep_apart(model: FakeModel, n_pins: int) -> None:
    pins = tuple(tuple(float(v) for v in np.full(DIM, 0.5 * i)) for i in range(n_pins))
    s = short(criterion="weirdness", points=pins, min_separation=1.0)
    points = cp.choose_points(s, decode=model.decode, latent_dim=DIM)
    assert points.shape == (5, DIM)
    np.testing.assert_allclose(points[:n_pins], np.array(pins), atol=1e-6)
    rest = points[n_pins:]
    if rest.size:
        gaps = np.linalg.norm(rest[:, None] - np.array(pins)[None], axis=-1)
        assert gaps.min() >= 1.0
    assert cp.SongSettings.from_json(s.to_json()) == s
    with pytest.raises(ParameterError, match="3-d but the model's latents"):
        cp.choose_points(short(points=((0.0, 0.0, 0.0),)), decode=model.decode, latent_dim=DIM)
    with pytest.raises(ParameterError, match="points must be 1 to 5"):
        short(points=tuple(pins[0] for _ in range(6))).checked()


def test_region_song_picks_points_inside(model: FakeModel) -> None:
    axes = np.eye(2, DIM)

    def project(Z: np.ndarray) -> np.ndarray:
        out: np.ndarray = np.asarray(Z, dtype=np.float64) @ axes.T
        return out

    square = ((0.5, 0.5), (2.5, 0.5), (2.5, 2.5), (0.5, 2.5))
    s = short(criterion="region", region=square, min_separation=0.0, n_candidates=400)
    points = cp.choose_points(s, decode=model.decode, latent_dim=DIM, project=project)
    assert cp.inside_polygon(project(points), np.array(square)).all()
    with pytest.raises(ParameterError, match="needs the map"):
        cp.render_song(s, decode=model.decode, latent_dim=DIM)


def test_song_cancel_and_bad_decoder(model: FakeModel) -> None:
    token = CancelToken()
    token.cancel()
    with pytest.raises(JobCancelled):
        cp.render_song(short(), decode=model.decode, latent_dim=DIM, cancel=token)

    def bad(Z: np.ndarray) -> np.ndarray:
        return np.zeros((len(Z), 100), np.float32)

    with pytest.raises(ParameterError):
        cp.render_song(short(criterion="centroid"), decode=bad, latent_dim=DIM)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"minutes": 0.0}, "minutes=0 must be more than 0"),
        ({"minutes": 61.0}, "minutes"),
        ({"step_s": 0.1}, "step_s"),
        ({"criterion": "pitchiness"}, "criterion"),
        ({"criterion": "region"}, "at least 3"),
        ({"ambience": "thunder"}, "ambience"),
        ({"ambience": "sounds"}, "at least one effect"),
        ({"wiggle_amplitude": -1.0}, "wiggle_amplitude"),
        ({"n_candidates": 2}, "n_candidates"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_song_settings(change: dict[str, object], message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        dataclasses.replace(short(), **change).checked()  # type: ignore[arg-type]


def test_settings_json_round_trip() -> None:
    s = short(criterion="region", region=((0.0, 0.0), (1.0, 0.0), (0.0, 1.0)),
              ambience="sounds", effects=("abc",))
    assert cp.SongSettings.from_json(s.to_json()) == s
    with pytest.raises(ParameterError, match="unknown song settings: tempo"):
        cp.SongSettings.from_json({"tempo": 120})


def test_names_and_album_seeds() -> None:
    assert cp.song_name(5) == cp.song_name(5)
    assert len({cp.song_name(s) for s in range(100)}) > 60
    assert re.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z]+", cp.song_name(123))
    seeds = cp.album_seeds(9, 500)
    assert len(set(seeds)) == 500 and seeds == cp.album_seeds(9, 500)
    assert seeds[:3] == cp.album_seeds(9, 3) and all(0 <= s < 2**63 for s in seeds)


# -- NSynth-style manipulations ---------------------------------------------------------------


@pytest.fixture(scope="module")
def two_sounds() -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(2 * SR) / SR
    a = (np.sin(2 * np.pi * 220 * t) * np.linspace(0.2, 1.0, t.size)).astype(np.float32)
    b = np.random.default_rng(0).standard_normal(t.size).astype(np.float32) * 0.3
    return a, b


def test_sequences_stretch_blend_crossfade(
    model: FakeModel, two_sounds: tuple[np.ndarray, np.ndarray]
) -> None:
    a_y, b_y = two_sounds
    a = cp.encode_sequence(a_y, sr=SR, encode=model.encode)
    b = cp.encode_sequence(np.stack([b_y, b_y]), sr=SR, encode=model.encode)
    assert a.Z.shape == (20, DIM) and a.hop_s == pytest.approx(0.1)
    assert a.rms[-3] > 3 * a.rms[2]  # the crescendo is kept
    longer = cp.stretch_sequence(a, factor=2.0)
    assert longer.Z.shape == (40, DIM) and longer.duration_s == pytest.approx(2 * a.duration_s)
    np.testing.assert_allclose(longer.Z[0], a.Z[0])
    np.testing.assert_allclose(longer.Z[-1], a.Z[-1], atol=1e-6)
    np.testing.assert_allclose(cp.interpolate_sequences(a, b, alpha=0.0).Z, a.Z)
    np.testing.assert_allclose(cp.interpolate_sequences(a, b, alpha=1.0).Z, b.Z, atol=1e-6)
    mid = cp.interpolate_sequences(a, b)
    np.testing.assert_allclose(mid.Z, (a.Z + b.Z) / 2, atol=1e-6)
    x = cp.crossfade_sequences(a, b, crossfade_s=0.5)
    assert x.Z.shape[0] == 20 + 20 - 5
    np.testing.assert_allclose(x.Z[:15], a.Z[:15])
    np.testing.assert_allclose(x.Z[-15:], b.Z[-15:])
    with pytest.raises(ParameterError, match="longer than a sound"):
        cp.crossfade_sequences(a, b, crossfade_s=5.0)
    with pytest.raises(ParameterError, match="factor"):
        cp.stretch_sequence(a, factor=20.0)


def test_stretched_sequence_keeps_pitch(
    model: FakeModel, two_sounds: tuple[np.ndarray, np.ndarray]
) -> None:
    seq = cp.encode_sequence(two_sounds[0], sr=SR, encode=model.encode)
    y1 = cp.render_sequence(seq, decode=model.decode, rng=np.random.default_rng(0))
    y2 = cp.render_sequence(cp.stretch_sequence(seq, factor=1.5), decode=model.decode,
                            rng=np.random.default_rng(0))
    assert y1.shape == (2, 20 * 4410) and y2.shape == (2, 30 * 4410)
    c1 = cp.spectral_centroid(tb.clip_vector(y1, sr=SR))
    c2 = cp.spectral_centroid(tb.clip_vector(y2, sr=SR))
    assert c2 == pytest.approx(c1, rel=0.1)


def test_nmf_activation_stretch(rng: np.random.Generator) -> None:
    from residue.dsp import spectral

    H = rng.random((2, 3, 50)).astype(np.float32)
    H2 = cp.stretch_activations(H, factor=2.0)
    assert H2.shape == (2, 3, 100) and float(H2.min()) >= 0
    np.testing.assert_allclose(H2[..., 0], H[..., 0])
    with pytest.raises(ParameterError, match="non-negative"):
        cp.stretch_activations(-H, factor=2.0)
    y = rng.standard_normal(SR).astype(np.float32)
    D = spectral.stft(y)
    W = rng.random((D.shape[0], 3)).astype(np.float32)
    out = cp.stretch_nmf(D, W, rng.random((3, D.shape[1])).astype(np.float32), factor=1.5)
    assert out.ndim == 1 and abs(out.size - 1.5 * SR) < 3 * spectral.HOP_LENGTH
