"""Songs as paths through a timbre space, and NSynth-style latent manipulations.

A song is made from a trained timbre model, seen here only as two functions (``decode``:
latents -> timbre vectors; ``encode``: vectors -> latents), so this module stays pure:

1. Sample many latent points from the prior and rank them by a *criterion* (spectral centroid,
   loudness, weirdness = distance from the origin, a region drawn on the 2-D map, or none);
   pick five well-separated ones as the symbols A-E.
2. Expand a *context-free grammar* (the default is :data:`DEFAULT_GRAMMAR`) into a structure
   such as ``AABBAABBCDCDAABBAABBE``; every symbol becomes an equal section of the song.
3. The path glides from point to point (holding at each for half its section) and is
   "wiggled" into a helix: ``z(t) = base(t) + amplitude * (a sin(2 pi r t + phi) + b cos(...))``
   with ``a``, ``b`` two random orthonormal directions.
4. The path is sampled every ``step_s`` seconds; every point is decoded to a timbre vector and
   rendered as a random-phase drone of two steps' length; the drones are overlap-added with
   power-complementary (sine) windows, so the sound morphs smoothly from point to point.
5. Fade in and out, normalise the integrated loudness (ITU-R BS.1770 through pyloudnorm's
   K-weighting filters), and add an ambience layer at -30 LUFS: procedural wind, rain or
   waves made here, or the user's effect sounds, looped seamlessly and slowly crossfading
   between similar effects.

Everything random comes from ``numpy.random.SeedSequence(seed)``: the same seed and settings
(and the same model) give the same samples, bit for bit.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal, NamedTuple

import numpy as np
import torch

from residue.dsp import spectral, timbre
from residue.dsp._validate import check_audio, check_choice, check_float, check_int
from residue.dsp.progress import CancelToken, ProgressFn, no_progress
from residue.errors import ParameterError

# ---------------------------------------------------------------------------------------------
# Constants

SR = timbre.SR
"""Sample rate of songs."""
START = "S"
"""Start symbol of song grammars."""
TERMINALS = ("A", "B", "C", "D", "E")
"""The five points of a song; every grammar expands into these."""
DEFAULT_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "S",
        ("XYXZ", "XYZZ", "XZYZ", "YXYZ", "YXZY", "YZXZ", "YZYZ", "ZXYZ", "ZXZY", "ZYXZ"),
    ),
    ("X", ("AABBAABB", "ABABAB")),
    ("Y", ("CDCD", "CCDD")),
    ("Z", ("E", "EE")),
)
"""The default song grammar, rule by rule."""
DEFAULT_GRAMMAR = "\n".join(f"{lhs} -> {' | '.join(alts)}" for lhs, alts in DEFAULT_RULES)
"""The default grammar as text, one rule per line: ``S -> XYXZ | XYZZ | ...``."""
MAX_STRUCTURE = 512
"""Most terminal symbols a grammar may expand into."""
MAX_RULES = 26
MAX_ALTERNATIVES = 64

Criterion = Literal["centroid", "loudness", "weirdness", "region", "random"]
CRITERIA: tuple[Criterion, ...] = ("centroid", "loudness", "weirdness", "region", "random")
Direction = Literal["high", "low"]
Ambience = Literal["off", "wind", "rain", "waves", "sounds"]
AMBIENCES: tuple[Ambience, ...] = ("off", "wind", "rain", "waves", "sounds")
EffectKind = Literal["wind", "rain", "waves"]
EFFECT_KINDS: tuple[EffectKind, ...] = ("wind", "rain", "waves")

N_POINTS = len(TERMINALS)
N_CANDIDATES = 512
"""Default number of latent points sampled and ranked per song."""
MIN_SEPARATION = 2.0
"""Default smallest latent distance between two picked points (when enough candidates allow)."""
HOLD_FRACTION = 0.5
"""Share of a section the path rests at its point before gliding to the next."""
STEP_S = 1.5
"""Default seconds between decoded points of the path."""
MIN_STEP_S = 0.25
MAX_STEP_S = 8.0
MAX_MINUTES = 60.0
WIGGLE_AMPLITUDE = 0.6
"""Default radius of the helix, in latent units (the prior has unit variance per dimension)."""
WIGGLE_RATE_HZ = 0.05
"""Default turns of the helix per second (one every 20 s)."""
FADE_S = 6.0
"""Default fade-in and fade-out length."""
SONG_LUFS = -16.0
"""Default integrated loudness of a song's drones."""
AMBIENCE_LUFS = -30.0
"""Level of the ambience layer."""
STEREO_WIDTH = 0.6
"""Side level relative to mid of the drones (0 is mono, 1 two independent channels)."""
PEAK_LIMIT = 0.98
"""Songs are scaled down (never clipped) when a sample would exceed this."""
EFFECT_LOOP_S = 24.0
"""Length of a procedural effect loop."""
MIN_EFFECT_S = 1.0
"""Shortest effect sound the ambience layer accepts."""
EFFECT_CROSSFADE_S = 2.0
"""Crossfade that makes an effect sound loop (shortened for short sounds)."""
AMBIENCE_HOLD_S = 45.0
"""Seconds one effect plays alone before the layer crossfades to the next."""
AMBIENCE_CROSSFADE_S = 15.0
"""Length of the slow crossfade between two effects."""
N_PROCEDURAL_VARIANTS = 3
"""Variants of a procedural effect the layer moves between."""
SEQUENCE_HOP_S = 0.1
"""Default hop of per-frame latent sequences."""
SEQUENCE_WINDOW_S = 0.4
"""Default analysis window of per-frame latent sequences."""
MAX_STRETCH = 8.0

Decode = Callable[[np.ndarray], np.ndarray]
"""Latents ``(n, latent_dim)`` -> timbre vectors ``(n, 1233)``."""
Encode = Callable[[np.ndarray], np.ndarray]
"""Timbre vectors ``(n, 1233)`` -> latents ``(n, latent_dim)``."""
Project = Callable[[np.ndarray], np.ndarray]
"""Latents ``(n, latent_dim)`` -> map coordinates ``(n, 2)``."""

# Independent random streams of a song: changing one setting never reshuffles another's draws.
_STREAMS = ("grammar", "sample", "wiggle", "phase", "ambience", "name")
_SYMBOL = re.compile(r"[A-Z]")


# ---------------------------------------------------------------------------------------------
# Grammar


@dataclass(frozen=True)
class Grammar:
    """A validated song grammar: rules in their given order, start symbol ``S``.

    Build with :func:`parse_grammar` (text) or :func:`make_grammar` (a mapping); both check
    that every symbol is known and that no rule can recurse.
    """

    rules: tuple[tuple[str, tuple[str, ...]], ...]

    @property
    def table(self) -> dict[str, tuple[str, ...]]:
        """Rules as a dict: symbol -> alternatives."""
        return dict(self.rules)

    def text(self) -> str:
        """The grammar in the text form :func:`parse_grammar` reads."""
        return "\n".join(f"{lhs} -> {' | '.join(alts)}" for lhs, alts in self.rules)

    def max_length(self) -> int:
        """Longest expansion, in terminal symbols."""
        table = self.table
        memo: dict[str, int] = {}

        def longest(symbol: str) -> int:
            if symbol not in table:
                return 1
            if symbol not in memo:
                memo[symbol] = max(sum(longest(s) for s in alt) for alt in table[symbol])
            return memo[symbol]

        return longest(START)


def parse_grammar(text: str) -> Grammar:
    r"""Read a grammar, one rule per line: ``LHS -> alternative | alternative | ...``.

    Symbols are single capital letters; ``A``-``E`` are the song's points (terminals), any
    other letter with a rule of its own is a non-terminal, ``S`` is the start. Spaces inside
    alternatives are ignored; blank lines and lines starting with ``#`` are skipped.

    Raises
    ------
    ParameterError
        On a syntax error, an unknown symbol, a missing start rule, a rule given twice, an
        empty alternative, recursion, or an expansion longer than :data:`MAX_STRUCTURE`.

    Examples
    --------
    >>> g = parse_grammar("S -> XY\nX -> AB | BA\nY -> E")
    >>> g.table["X"]
    ('AB', 'BA')
    """
    if not isinstance(text, str):
        raise ParameterError(f"grammar must be text, got {type(text).__name__}")
    if len(text) > 20_000:
        raise ParameterError(f"grammar is {len(text)} characters long; at most 20000 are read")
    rules: list[tuple[str, list[str]]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if "->" not in line:
            raise ParameterError(
                f"grammar line {number} ({line!r}) must look like 'X -> AB | BA'"
            )
        lhs, rhs = (part.strip() for part in line.split("->", 1))
        rules.append((lhs, [alt.strip() for alt in rhs.split("|")]))
    return make_grammar(rules)


def make_grammar(
    rules: Mapping[str, Sequence[str]] | Sequence[tuple[str, Sequence[str]]],
) -> Grammar:
    """Check rules and return a :class:`Grammar` (see :func:`parse_grammar` for the rules).

    Raises
    ------
    ParameterError
        If the grammar is not valid; the message names the offending rule and symbol.

    Examples
    --------
    >>> make_grammar({"S": ["AQ"]})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    residue.errors.ParameterError: unknown symbol 'Q' in rule S -> AQ; ...
    """
    items = list(rules.items()) if isinstance(rules, Mapping) else list(rules)
    if not items:
        raise ParameterError("grammar has no rules; it needs at least 'S -> ...'")
    if len(items) > MAX_RULES:
        raise ParameterError(f"grammar has {len(items)} rules; at most {MAX_RULES} are allowed")
    table: dict[str, tuple[str, ...]] = {}
    for lhs, alts in items:
        if not isinstance(lhs, str) or _SYMBOL.fullmatch(lhs) is None:
            raise ParameterError(f"rule name {lhs!r} must be one capital letter")
        if lhs in TERMINALS:
            raise ParameterError(
                f"{lhs} is a point of the song (A-E) and cannot have a rule; "
                "name rules with other letters"
            )
        if lhs in table:
            raise ParameterError(f"rule {lhs} is given twice; join its alternatives with '|'")
        if isinstance(alts, str) or not isinstance(alts, Sequence) or not alts:
            raise ParameterError(f"rule {lhs} needs a list of alternatives")
        if len(alts) > MAX_ALTERNATIVES:
            raise ParameterError(
                f"rule {lhs} has {len(alts)} alternatives; at most {MAX_ALTERNATIVES}"
            )
        clean: list[str] = []
        for alt in alts:
            if not isinstance(alt, str):
                raise ParameterError(f"alternatives of rule {lhs} must be text")
            symbols = "".join(alt.split())
            if not symbols:
                raise ParameterError(f"rule {lhs} has an empty alternative")
            clean.append(symbols)
        table[lhs] = tuple(clean)
    if START not in table:
        raise ParameterError(f"grammar has no rule for the start symbol {START}")
    names = ", ".join(table)
    for lhs, alts in table.items():
        for alt in alts:
            for symbol in alt:
                if symbol not in table and symbol not in TERMINALS:
                    raise ParameterError(
                        f"unknown symbol {symbol!r} in rule {lhs} -> {alt}; symbols are the "
                        f"points A-E and the rules' names ({names})"
                    )
    _check_no_recursion(table)
    grammar = Grammar(tuple(table.items()))
    longest = grammar.max_length()
    if longest > MAX_STRUCTURE:
        raise ParameterError(
            f"the grammar can expand into {longest} sections; at most {MAX_STRUCTURE} are allowed"
        )
    return grammar


def _check_no_recursion(table: Mapping[str, tuple[str, ...]]) -> None:
    """Raise if a rule can reach itself: its expansion would have no end."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(symbol: str, path: list[str]) -> None:
        state[symbol] = 1
        for alt in table[symbol]:
            for child in alt:
                if child not in table:
                    continue
                if state.get(child) == 1:
                    cycle = " -> ".join([*path[path.index(child) :], child])
                    raise ParameterError(
                        f"rule {child} is recursive ({cycle}): its expansion never terminates"
                    )
                if state.get(child) is None:
                    visit(child, [*path, child])
        state[symbol] = 2

    for symbol in table:
        if state.get(symbol) is None:
            visit(symbol, [symbol])


def expand(grammar: Grammar, *, rng: np.random.Generator) -> str:
    """Expand the start symbol, choosing among alternatives uniformly with ``rng``.

    Returns
    -------
    str
        Terminal symbols (A-E), for example ``"AABBAABBCDCDAABBAABBE"``.

    Examples
    --------
    >>> expand(parse_grammar(DEFAULT_GRAMMAR), rng=np.random.default_rng(0))
    'EEABABABECDCD'
    """
    table = grammar.table

    def walk(symbol: str) -> str:
        if symbol not in table:
            return symbol
        alts = table[symbol]
        choice = alts[int(rng.integers(len(alts)))]
        return "".join(walk(s) for s in choice)

    return walk(START)


# ---------------------------------------------------------------------------------------------
# Sampling and ranking latent points


def sample_latents(n: int, *, dim: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n`` points from the standard normal prior.

    Returns
    -------
    Z : np.ndarray [shape=(n, dim), dtype=float32]
    """
    n = check_int("n", n, lo=1, hi=1_000_000)
    dim = check_int("dim", dim, lo=1, hi=4096)
    return rng.standard_normal((n, dim)).astype(np.float32)


def spectral_centroid(v: np.ndarray) -> np.ndarray:
    """Power-weighted mean frequency of timbre vectors, in Hz.

    Returns
    -------
    centroid_hz : np.ndarray [shape=v.shape[:-1], dtype=float64]
    """
    power = timbre.vector_to_rows(v).astype(np.float64) ** 2
    f = timbre.timbre_frequencies()
    band = np.gradient(f)  # rows are log-spaced: weight each by the width it stands for
    w = power * band
    out: np.ndarray = (w * f).sum(axis=-1) / np.maximum(w.sum(axis=-1), 1e-30)
    return out


def _a_weighting_db(f: np.ndarray) -> np.ndarray:
    f2 = np.square(f)
    ra = (12194.0**2 * f2**2) / (
        (f2 + 20.6**2) * np.sqrt((f2 + 107.7**2) * (f2 + 737.9**2)) * (f2 + 12194.0**2)
    )
    out: np.ndarray = 20.0 * np.log10(np.maximum(ra, 1e-30)) + 2.0
    return out


def vector_loudness_db(v: np.ndarray) -> np.ndarray:
    """A-weighted power of timbre vectors in dB (their loudest row is 0 dB by construction).

    Higher means more of the spectrum lies where the ear is sensitive: a dense, bright-mid
    texture beats a thin low tone.

    Returns
    -------
    loudness_db : np.ndarray [shape=v.shape[:-1], dtype=float64]
    """
    power = timbre.vector_to_rows(v).astype(np.float64) ** 2
    f = timbre.timbre_frequencies()
    weight = 10.0 ** (_a_weighting_db(f) / 10.0) * np.gradient(f)
    out: np.ndarray = 10.0 * np.log10(np.maximum((power * weight).sum(axis=-1), 1e-30))
    return out


def check_polygon(polygon: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    """Check a polygon of at least 3 finite ``(x, y)`` vertices; return it as (n, 2) float64."""
    try:
        P = np.asarray(polygon, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError("region must be a list of [x, y] points") from None
    if P.ndim != 2 or P.shape[1] != 2 or P.shape[0] < 3:
        raise ParameterError(f"region must have at least 3 [x, y] points, got shape {P.shape}")
    if P.shape[0] > 10_000:
        raise ParameterError(f"region has {P.shape[0]} points; at most 10000")
    if not np.all(np.isfinite(P)):
        raise ParameterError("region contains NaN or infinite coordinates")
    return P


def inside_polygon(xy: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Even-odd rule point-in-polygon test for points ``(n, 2)``; returns a bool mask."""
    x, y = xy[:, 0:1], xy[:, 1:2]
    x0, y0 = polygon[:, 0], polygon[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    crosses = (y0 > y) != (y1 > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        at = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
    out: np.ndarray = (np.sum(crosses & (x < at), axis=1) % 2) == 1
    return out


def distance_to_polygon(xy: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Distance from each point ``(n, 2)`` to the nearest edge of the polygon."""
    a = polygon
    b = np.roll(polygon, -1, axis=0)
    ab = b - a
    denom = np.maximum((ab**2).sum(axis=1), 1e-30)
    ap = xy[:, None, :] - a[None]
    t = np.clip((ap * ab[None]).sum(axis=2) / denom, 0.0, 1.0)
    nearest = a[None] + t[..., None] * ab[None]
    out: np.ndarray = np.sqrt(((xy[:, None, :] - nearest) ** 2).sum(axis=2)).min(axis=1)
    return out


def criterion_scores(
    Z: np.ndarray,
    V: np.ndarray,
    *,
    criterion: Criterion,
    direction: Direction = "high",
    xy: np.ndarray | None = None,
    region: Sequence[Sequence[float]] | np.ndarray | None = None,
) -> np.ndarray:
    """Score latent points for a criterion: higher is preferred.

    Parameters
    ----------
    Z : np.ndarray [shape=(n, dim)]
        Latent points.
    V : np.ndarray [shape=(n, 1233)]
        Their decoded timbre vectors.
    criterion : {"centroid", "loudness", "weirdness", "region", "random"}
        "centroid": log spectral centroid (brightness, roughly pitch); "loudness": A-weighted
        power (:func:`vector_loudness_db`); "weirdness": distance from the origin (how unlike
        the average sound); "region": inside the polygon ``region`` of the 2-D map (points
        inside score 1 plus closeness to its centroid, points outside minus their distance to
        it); "random": all equal (sampling order decides).
    direction : {"high", "low"}
        Prefer high or low values (ignored by "region" and "random").
    xy : np.ndarray [shape=(n, 2)] or None
        Map coordinates of ``Z``, needed by "region".
    region : sequence of (x, y) or None
        The polygon, needed by "region".

    Returns
    -------
    scores : np.ndarray [shape=(n,), dtype=float64]

    Raises
    ------
    ParameterError
        If shapes disagree or "region" lacks ``xy`` or ``region``.
    """
    check_choice("criterion", criterion, CRITERIA)
    check_choice("direction", direction, ("high", "low"))
    Z = np.asarray(Z, dtype=np.float64)
    if Z.ndim != 2:
        raise ParameterError(f"Z must have shape (n, dim), got {Z.shape}")
    n = Z.shape[0]
    if criterion in ("centroid", "loudness") and (V.ndim != 2 or V.shape[0] != n):
        raise ParameterError(f"V must have shape ({n}, {timbre.N_BINS}), got {V.shape}")
    if criterion == "centroid":
        raw = np.log2(spectral_centroid(V))
    elif criterion == "loudness":
        raw = vector_loudness_db(V)
    elif criterion == "weirdness":
        raw = np.linalg.norm(Z, axis=1)
    elif criterion == "random":
        return np.zeros(n)
    else:
        if xy is None or region is None:
            raise ParameterError('criterion="region" needs map coordinates and a region polygon')
        P = check_polygon(region)
        xy64 = np.asarray(xy, dtype=np.float64)
        if xy64.shape != (n, 2):
            raise ParameterError(f"xy must have shape ({n}, 2), got {xy64.shape}")
        inside = inside_polygon(xy64, P)
        centre = P.mean(axis=0)
        scale = float(np.ptp(P, axis=0).max()) or 1.0
        closeness = 1.0 / (1.0 + np.linalg.norm(xy64 - centre, axis=1) / scale)
        return np.where(inside, 1.0 + closeness, -distance_to_polygon(xy64, P))
    out: np.ndarray = raw if direction == "high" else -raw
    return out


def pick_points(
    Z: np.ndarray,
    scores: np.ndarray,
    *,
    k: int = N_POINTS,
    min_separation: float = MIN_SEPARATION,
) -> np.ndarray:
    """Indices of the ``k`` best-scoring points, skipping points too close to one already taken.

    Points are visited from the highest score down (ties in sampling order); a point closer
    than ``min_separation`` to a picked one is passed over. If that leaves fewer than ``k``,
    the best of the passed-over points fill the rest.

    Returns
    -------
    idx : np.ndarray [shape=(k,), dtype=int64]
        In rank order: ``idx[0]`` becomes A, ``idx[4]`` E.

    Raises
    ------
    ParameterError
        If there are fewer than ``k`` points.
    """
    Z = np.asarray(Z, dtype=np.float64)
    k = check_int("k", k, lo=1, hi=1000)
    min_separation = check_float("min_separation", min_separation, lo=0.0)
    if Z.ndim != 2 or Z.shape[0] < k:
        raise ParameterError(f"need at least {k} candidate points, got shape {Z.shape}")
    s = np.asarray(scores, dtype=np.float64)
    if s.shape != (Z.shape[0],):
        raise ParameterError(f"scores must have shape ({Z.shape[0]},), got {s.shape}")
    order = np.argsort(-s, kind="stable")
    chosen: list[int] = []
    skipped: list[int] = []
    for i in order:
        if len(chosen) == k:
            break
        if chosen and np.min(np.linalg.norm(Z[chosen] - Z[i], axis=1)) < min_separation:
            skipped.append(int(i))
            continue
        chosen.append(int(i))
    chosen.extend(skipped[: k - len(chosen)])
    return np.asarray(chosen, dtype=np.int64)


# ---------------------------------------------------------------------------------------------
# The path


class LatentPath(NamedTuple):
    """Where a song is in latent space, every ``step_s`` seconds.

    Attributes
    ----------
    times_s : np.ndarray [shape=(n_steps,), dtype=float64]
        Centre of each step: ``i * step_s``.
    Z : np.ndarray [shape=(n_steps, dim), dtype=float32]
        The wiggled path.
    base : np.ndarray [shape=(n_steps, dim), dtype=float32]
        The path before wiggling.
    section : np.ndarray [shape=(n_steps,), dtype=int64]
        Index into the structure of the section each step falls in.
    """

    times_s: np.ndarray
    Z: np.ndarray
    base: np.ndarray
    section: np.ndarray


def _smoothstep(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = x * x * (3.0 - 2.0 * x)
    return out


def wiggle_path(
    points: np.ndarray,
    structure: str,
    *,
    duration_s: float,
    step_s: float = STEP_S,
    amplitude: float = WIGGLE_AMPLITUDE,
    rate_hz: float = WIGGLE_RATE_HZ,
    rng: np.random.Generator,
) -> LatentPath:
    """The latent path of a song: section to section, wiggled into a helix.

    The song is cut into ``len(structure)`` equal sections; section ``j`` belongs to the point
    ``points["ABCDE".index(structure[j])]``. The base path rests on a section's point for
    :data:`HOLD_FRACTION` of the section around its centre and glides (smoothstep) to the next
    point in between. The wiggle adds ``amplitude * (a sin(2 pi rate t + phi) + b cos(...))``
    with ``a``, ``b`` random orthonormal directions and ``phi`` a random phase.

    Parameters
    ----------
    points : np.ndarray [shape=(5, dim), dtype=float]
        The points A-E.
    structure : str
        Terminal symbols, as from :func:`expand`.
    duration_s : float
        Length of the song.
    step_s : float
        Seconds between path samples, in ``[0.25, 8]``.
    amplitude : float
        Radius of the helix in latent units, in ``[0, 10]``.
    rate_hz : float
        Turns per second, in ``[0, 2]``.
    rng : np.random.Generator
        Draws the directions and phase.

    Returns
    -------
    LatentPath
        ``ceil(duration_s / step_s) + 1`` steps (the last centred at or after the end).

    Raises
    ------
    ParameterError
        If a value is out of range or the structure has an unknown symbol.
    """
    P = np.asarray(points, dtype=np.float64)
    if P.ndim != 2 or P.shape[0] != N_POINTS:
        raise ParameterError(f"points must have shape (5, dim), got {P.shape}")
    if not structure or any(s not in TERMINALS for s in structure):
        raise ParameterError(f"structure {structure!r} must be a non-empty string of A-E")
    duration_s = check_float("duration_s", duration_s, lo=0.1, hi=MAX_MINUTES * 60.0)
    step_s = check_float("step_s", step_s, lo=MIN_STEP_S, hi=MAX_STEP_S)
    amplitude = check_float("amplitude", amplitude, lo=0.0, hi=10.0)
    rate_hz = check_float("rate_hz", rate_hz, lo=0.0, hi=2.0)
    dim = P.shape[1]
    n_steps = math.ceil(duration_s / step_s) + 1
    t = np.arange(n_steps) * step_s
    m = len(structure)
    seq = np.array([TERMINALS.index(s) for s in structure])
    section_s = duration_s / m
    # Position in section-centre units: u = j at the centre of section j.
    u = np.clip(t / section_s - 0.5, 0.0, m - 1.0)
    j = np.minimum(np.floor(u).astype(np.int64), m - 1)
    frac = u - j
    glide = np.clip((frac - HOLD_FRACTION / 2) / (1.0 - HOLD_FRACTION), 0.0, 1.0)
    w = _smoothstep(glide)[:, None]
    nxt = np.minimum(j + 1, m - 1)
    base = P[seq[j]] * (1.0 - w) + P[seq[nxt]] * w
    # Two orthonormal directions (Gram-Schmidt of two Gaussian draws).
    a = rng.standard_normal(dim)
    a = a / (float(np.linalg.norm(a)) or 1.0)
    b = rng.standard_normal(dim)
    b = b - a * float(np.dot(a, b))
    b = b / (float(np.linalg.norm(b)) or 1.0)
    phi = rng.uniform(0.0, 2.0 * np.pi)
    angle = 2.0 * np.pi * rate_hz * t + phi
    wiggle = amplitude * (np.sin(angle)[:, None] * a + np.cos(angle)[:, None] * b)
    section = np.minimum((t / section_s).astype(np.int64), m - 1)
    return LatentPath(
        times_s=t,
        Z=(base + wiggle).astype(np.float32),
        base=base.astype(np.float32),
        section=section,
    )


# ---------------------------------------------------------------------------------------------
# Rendering


def blend_drones(
    V: np.ndarray,
    *,
    hop_samples: int,
    n_samples: int,
    rng: np.random.Generator,
    width: float = STEREO_WIDTH,
    chunk: int = 32,
    cancel: CancelToken | None = None,
    progress: ProgressFn | None = None,
) -> np.ndarray:
    """Overlap-add random-phase drones of a sequence of timbre vectors into stereo audio.

    Vector ``i`` becomes a drone segment of ``2 * hop_samples`` centred at ``i * hop_samples``
    (mid and side are two independent random-phase noises with the vector's spectrum,
    ``L = mid + width * side``, ``R = mid - width * side``), each at the same power, under a
    sine window. Neighbouring segments are independent noises, so their powers add, and
    ``sin^2 + cos^2 = 1`` keeps the level constant through every crossfade.

    Parameters
    ----------
    V : np.ndarray [shape=(n_steps, 1233), dtype=float]
    hop_samples : int
        Samples between segment centres (at least 16).
    n_samples : int
        Output length.
    rng : np.random.Generator
        Phases.
    width : float
        Stereo width in ``[0, 1]``.
    chunk : int
        Segments synthesised per batch (memory bound).
    cancel : CancelToken or None
        Checked between batches.
    progress : ProgressFn or None
        ``(fraction, "rendering")`` after every batch.

    Returns
    -------
    y : np.ndarray [shape=(2, n_samples), dtype=float32]
        Each segment at unit RMS per channel before windowing.

    Raises
    ------
    ParameterError
        If ``V`` is not a matrix of timbre vectors or a size is out of range.
    JobCancelled
        If ``cancel`` was set.
    """
    V32 = timbre.check_vectors(V)
    if V32.ndim != 2:
        raise ParameterError(f"V must have shape (n_steps, {timbre.N_BINS}), got {V32.shape}")
    hop = check_int("hop_samples", hop_samples, lo=16)
    n_samples = check_int("n_samples", n_samples, lo=1)
    width = check_float("width", width, lo=0.0, hi=1.0)
    chunk = check_int("chunk", chunk, lo=1, hi=4096)
    report = progress if progress is not None else no_progress
    seg = 2 * hop
    window = torch.sin(torch.pi * (torch.arange(seg, dtype=torch.float64) + 0.5) / seg).float()
    n_steps = V32.shape[0]
    # Hop-sized chunks: segment i covers chunks i and i + 1 of the output.
    out = torch.zeros((2, n_steps + 1, hop), dtype=torch.float32)
    norm = 1.0 / math.sqrt(1.0 + width * width)
    for start in range(0, n_steps, chunk):
        if cancel is not None:
            cancel.raise_if_cancelled()
        block = V32[start : start + chunk]
        B = block.shape[0]
        M = timbre.fine_magnitudes(block, n_samples=seg, sr=SR)
        # Unit RMS per segment: Parseval on the one-sided spectrum of a real signal.
        power = 2.0 * M.square().sum(dim=-1, keepdim=True) - M[:, :1].square()
        M = M * (seg / power.clamp_min(1e-30).sqrt())
        mid = torch.from_numpy(timbre.random_phase_noise(M, n_samples=seg, rng=rng))
        side = torch.from_numpy(timbre.random_phase_noise(M, n_samples=seg, rng=rng))
        silent = torch.from_numpy(~np.any(block > 0, axis=-1))
        mid[silent] = 0.0
        side[silent] = 0.0
        side.mul_(width)
        w = window * norm
        for ch, seg_audio in enumerate((mid + side, mid.sub_(side))):
            halves = seg_audio.mul_(w).view(B, 2, hop)
            out[ch, start : start + B] += halves[:, 0]
            out[ch, start + 1 : start + 1 + B] += halves[:, 1]
        report(min(1.0, (start + B) / n_steps), "rendering")
    # Segment i is centred at step i, so it starts one hop before it: drop the first hop.
    y = out.view(2, -1)[:, hop : hop + n_samples]
    if y.shape[1] < n_samples:
        y = torch.nn.functional.pad(y, (0, n_samples - y.shape[1]))
    result: np.ndarray = y.numpy().copy()
    return result


def fade(y: np.ndarray, *, sr: int, fade_in_s: float, fade_out_s: float) -> np.ndarray:
    """Raised-cosine fade in and out (each at most half the sound); returns a new array.

    Examples
    --------
    >>> y = fade(np.ones(100, np.float32), sr=100, fade_in_s=0.1, fade_out_s=0.1)
    >>> float(y[0]), float(y[50]), float(y[-1])
    (0.0, 1.0, 0.0)
    """
    y32 = check_audio(y)
    out = y32.copy()
    _fade_in_place(out, sr=sr, fade_in_s=fade_in_s, fade_out_s=fade_out_s)
    return out


def _fade_in_place(y: np.ndarray, *, sr: int, fade_in_s: float, fade_out_s: float) -> None:
    sr = check_int("sr", sr, lo=1)
    n = y.shape[-1]
    for length_s, at_start in ((fade_in_s, True), (fade_out_s, False)):
        k = min(round(check_float("fade", length_s, lo=0.0) * sr), n // 2)
        if k < 2:
            continue
        ramp = (0.5 - 0.5 * np.cos(np.pi * np.arange(k) / (k - 1))).astype(np.float32)
        if at_start:
            y[..., :k] *= ramp
        else:
            y[..., n - k :] *= ramp[::-1]


@functools.lru_cache(maxsize=8)
def _k_weighting(sr: int) -> np.ndarray:
    """The two K-weighting stages of ITU-R BS.1770, as pyloudnorm.Meter builds them, as SOS."""
    from pyloudnorm.iirfilter import IIRfilter

    stages = (
        IIRfilter(4.0, 1 / np.sqrt(2), 1500.0, sr, "high_shelf"),
        IIRfilter(0.0, 0.5, 38.0, sr, "high_pass"),
    )
    rows = []
    for stage in stages:
        b = np.asarray(stage.b, dtype=np.float64) * float(stage.passband_gain)
        a = np.asarray(stage.a, dtype=np.float64)
        rows.append(np.concatenate([b / a[0], a / a[0]]))
    return np.stack(rows)


def integrated_loudness(y: np.ndarray, *, sr: int) -> float:
    """Integrated loudness in LUFS (ITU-R BS.1770-4), as pyloudnorm measures it, vectorised.

    Same K-weighting filters (pyloudnorm's), 400 ms blocks with 75 % overlap, absolute gate
    at -70 LUFS and relative gate 10 LU below; block energies come from a running sum instead
    of pyloudnorm's per-block Python loop (about 20 times faster on minutes of audio).

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (channels, n), dtype=float]
        At most 5 channels (BS.1770 order), at least 0.4 s.
    sr : int

    Returns
    -------
    float
        LUFS; ``-inf`` for silence.

    Raises
    ------
    ParameterError
        If the sound is shorter than one 400 ms block.
    """
    import scipy.signal

    y32 = check_audio(y)
    sr = check_int("sr", sr, lo=1000)
    x = np.asarray(y32, dtype=np.float64)
    x = x[None] if x.ndim == 1 else x
    if x.ndim != 2 or x.shape[0] > 5:
        raise ParameterError(f"y must have shape (n,) or (channels <= 5, n), got {y32.shape}")
    n = x.shape[1]
    block_s, step = 0.4, 0.25
    if n < block_s * sr:
        raise ParameterError(
            f"the sound lasts {n / sr * 1000:.0f} ms; loudness needs at least 400 ms"
        )
    x = scipy.signal.sosfilt(_k_weighting(sr), x, axis=-1)
    n_blocks = int(np.round((n / sr - block_s) / (block_s * step))) + 1
    j = np.arange(n_blocks, dtype=np.float64)
    lo = (block_s * (j * step) * sr).astype(np.int64)
    hi = np.minimum((block_s * (j * step + 1) * sr).astype(np.int64), n)
    # Sums over the pieces between consecutive block edges, then per block: one pass over x.
    edges, where = np.unique(np.concatenate([lo, hi]), return_inverse=True)
    np.square(x, out=x)
    pieces = np.add.reduceat(x, edges[edges < n], axis=-1)  # the last one runs to the end
    cum = np.zeros((x.shape[0], edges.size))  # cum[:, k] = sum of x[:, :edges[k]] (edges[0] = 0)
    cum[:, 1:] = np.cumsum(pieces, axis=-1)[:, : edges.size - 1]
    lo_at, hi_at = where[: lo.size], where[lo.size :]
    z = (cum[:, hi_at] - cum[:, lo_at]) / (block_s * sr)  # (channels, blocks)
    gains = np.array([1.0, 1.0, 1.0, 1.41, 1.41])[: x.shape[0], None]
    with np.errstate(divide="ignore"):
        block_lufs = -0.691 + 10.0 * np.log10((gains * z).sum(axis=0))
    gated = block_lufs >= -70.0
    if not gated.any():
        return float("-inf")
    relative = -0.691 + 10.0 * np.log10((gains[:, 0] * z[:, gated].mean(axis=1)).sum()) - 10.0
    keep = (block_lufs > relative) & (block_lufs > -70.0)
    if not keep.any():
        return float("-inf")
    with np.errstate(divide="ignore"):
        return float(-0.691 + 10.0 * np.log10((gains[:, 0] * z[:, keep].mean(axis=1)).sum()))


def normalize_loudness(y: np.ndarray, *, sr: int, target_lufs: float) -> np.ndarray:
    """Scale audio to an integrated loudness (silence is returned unchanged); new array.

    Examples
    --------
    >>> y = np.random.default_rng(0).standard_normal((2, 44100)).astype(np.float32)
    >>> round(integrated_loudness(normalize_loudness(y, sr=44100, target_lufs=-23.0), sr=44100), 2)
    -23.0
    """
    target_lufs = check_float("target_lufs", target_lufs, lo=-70.0, hi=0.0)
    current = integrated_loudness(y, sr=sr)
    y32 = np.asarray(y, dtype=np.float32)
    if not math.isfinite(current):
        return y32.copy()
    out: np.ndarray = (y32 * np.float32(10.0 ** ((target_lufs - current) / 20.0))).astype(
        np.float32
    )
    return out


def limit_peak(y: np.ndarray, *, peak: float = PEAK_LIMIT) -> np.ndarray:
    """Scale the whole sound down if a sample exceeds ``peak`` (never clips); new array."""
    y32 = np.asarray(y, dtype=np.float32)
    top = float(np.max(np.abs(y32))) if y32.size else 0.0
    if top > peak:
        return (y32 * np.float32(peak / top)).astype(np.float32)
    return y32.copy()


# ---------------------------------------------------------------------------------------------
# Ambience: effect loops


def _periodic_noise(
    rng: np.random.Generator, n: int, sr: int, shape: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """Gaussian-like noise of period ``n`` whose magnitude spectrum is ``shape(freqs)``."""
    f = np.fft.rfftfreq(n, 1.0 / sr)
    mag = shape(np.maximum(f, 1e-3))
    mag[0] = 0.0
    spec = mag * np.exp(2j * np.pi * rng.random(f.size))
    x = np.fft.irfft(spec, n=n)
    out: np.ndarray = x / (float(np.std(x)) + 1e-12)
    return out


def _periodic_lfo(rng: np.random.Generator, n: int, sr: int, *, max_cycles: int) -> np.ndarray:
    """A smooth random curve in [0, 1] of period ``n``: a few sines with whole cycles."""
    t = np.arange(n) / n
    curve = np.zeros(n)
    for cycles in range(1, max_cycles + 1):
        curve += rng.standard_normal() / cycles * np.sin(2 * np.pi * (cycles * t + rng.random()))
    lo, hi = float(curve.min()), float(curve.max())
    out: np.ndarray = (curve - lo) / (hi - lo + 1e-12)
    return out


def _band(lo_hz: float, hi_hz: float, order: float = 4.0) -> Callable[[np.ndarray], np.ndarray]:
    def shape(f: np.ndarray) -> np.ndarray:
        out: np.ndarray = 1.0 / np.sqrt(1.0 + (lo_hz / f) ** order) / np.sqrt(
            1.0 + (f / hi_hz) ** order
        )
        return out

    return shape


def _wind(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    centre = float(rng.uniform(250.0, 700.0))
    gust = _periodic_lfo(rng, n, sr, max_cycles=int(rng.integers(3, 7)))
    out = np.zeros((2, n))
    for ch in range(2):
        low = _periodic_noise(rng, n, sr, _band(centre / 3, centre, 2.0))
        high = _periodic_noise(rng, n, sr, _band(centre, centre * 4, 2.0))
        whistle = _periodic_noise(rng, n, sr, _band(centre * 2.9, centre * 3.1, 8.0))
        g = np.roll(gust, ch * n // 50)  # the gust reaches one ear a little later
        out[ch] = (0.4 + 0.6 * g) * low + (0.1 + 0.7 * g**2) * high + 0.08 * g**3 * whistle
    return out


def _rain(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    density = float(rng.uniform(40.0, 160.0))  # drops per second
    out = np.zeros((2, n))
    kernel_n = round(0.012 * sr)
    tk = np.arange(kernel_n) / sr
    for ch in range(2):
        hiss = _periodic_noise(rng, n, sr, _band(1500.0, 9000.0, 2.0))
        drops = np.zeros(n)
        count = rng.poisson(density * n / sr)
        at = rng.integers(0, n, size=count)
        np.add.at(drops, at, rng.exponential(1.0, size=count) * rng.choice([-1.0, 1.0], count))
        f_drop = float(rng.uniform(2500.0, 5000.0))
        kernel = np.exp(-tk / 0.0025) * np.sin(2 * np.pi * f_drop * tk)
        # Circular convolution keeps the drops periodic: no seam at the loop point.
        plink = np.fft.irfft(np.fft.rfft(drops) * np.fft.rfft(kernel, n=n), n=n)
        plink /= float(np.std(plink)) + 1e-12
        out[ch] = 0.6 * hiss + 0.8 * plink
    return out


def _waves(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    period_s = float(rng.uniform(6.0, 11.0))
    swells = max(1, round(n / sr / period_s))
    t = np.arange(n) / n * swells
    phase = t - np.floor(t)
    # Slow rise, faster fall, with a little randomness per swell.
    env = np.where(phase < 0.7, np.sin(np.pi / 2 * phase / 0.7) ** 2, np.cos(
        np.pi / 2 * (phase - 0.7) / 0.3
    ) ** 2)
    depth = _periodic_lfo(rng, n, sr, max_cycles=2)
    env = env * (0.6 + 0.4 * depth)
    out = np.zeros((2, n))
    for ch in range(2):
        body = _periodic_noise(rng, n, sr, lambda f: (1.0 / (1.0 + (f / 500.0) ** 2)) / np.sqrt(
            1.0 + (40.0 / f) ** 4
        ))
        foam = _periodic_noise(rng, n, sr, _band(2000.0, 10000.0, 2.0))
        e = np.roll(env, ch * n // 200)
        out[ch] = (0.15 + e) * body + 0.5 * e**3 * foam
    return out


_EFFECTS: dict[str, Callable[[np.random.Generator, int, int], np.ndarray]] = {
    "wind": _wind,
    "rain": _rain,
    "waves": _waves,
}


def procedural_effect(
    kind: EffectKind,
    *,
    rng: np.random.Generator,
    duration_s: float = EFFECT_LOOP_S,
    sr: int = SR,
    lufs: float = AMBIENCE_LUFS,
) -> np.ndarray:
    """A procedural ambience loop: wind, rain or waves, periodic (loops without a seam).

    Every part is periodic by construction: noises are inverse FFTs of the loop's length,
    modulations have whole numbers of cycles per loop, rain drops are placed by circular
    convolution. Each call with a different generator state gives a different variant of the
    kind (wind colour, rain density, wave period).

    Parameters
    ----------
    kind : {"wind", "rain", "waves"}
    rng : np.random.Generator
    duration_s : float
        Loop length, 2 to 120 s.
    sr : int
    lufs : float
        Integrated loudness of the loop.

    Returns
    -------
    y : np.ndarray [shape=(2, n), dtype=float32]
    """
    check_choice("kind", kind, EFFECT_KINDS)
    duration_s = check_float("duration_s", duration_s, lo=2.0, hi=120.0)
    sr = check_int("sr", sr, lo=8000, hi=192_000)
    n = round(duration_s * sr)
    y = _EFFECTS[kind](rng, n, sr).astype(np.float32)
    return normalize_loudness(y, sr=sr, target_lufs=lufs)


def make_loop(
    y: np.ndarray, *, sr: int, crossfade_s: float = EFFECT_CROSSFADE_S, name: str = "effect"
) -> np.ndarray:
    """Make a sound loop seamlessly by crossfading its end into its start.

    The loop is ``y[0 : n - c]`` with its first ``c`` samples replaced by an equal-power
    crossfade from ``y[n - c : n]`` (fading out) to ``y[0 : c]`` (fading in): playing the loop
    again continues from ``y[n - c - 1]`` into ``y[n - c]`` as in the original. ``c`` is
    ``crossfade_s`` or a quarter of the sound, whichever is shorter.

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (channels, n), dtype=float]
        At least :data:`MIN_EFFECT_S` long.
    sr : int
    crossfade_s : float
    name : str
        Used in the error message.

    Returns
    -------
    loop : np.ndarray [shape=(..., n - c), dtype=float32]

    Raises
    ------
    ParameterError
        If the sound is shorter than :data:`MIN_EFFECT_S`.
    """
    sr = check_int("sr", sr, lo=1000)
    y32 = check_audio(y, name=name)
    n = y32.shape[-1]
    if n < MIN_EFFECT_S * sr:
        raise ParameterError(
            f"{name} lasts {n / sr * 1000:.0f} ms; an ambience effect needs at least "
            f"{MIN_EFFECT_S:g} s"
        )
    c = min(round(check_float("crossfade_s", crossfade_s, lo=0.0, hi=60.0) * sr), n // 4)
    out = y32[..., : n - c].copy()
    if c >= 2:
        theta = (np.arange(c) + 0.5) / c * (np.pi / 2)
        out[..., :c] = y32[..., n - c :] * np.cos(theta).astype(np.float32) + y32[
            ..., :c
        ] * np.sin(theta).astype(np.float32)
    return out


def _stereo(y: np.ndarray) -> np.ndarray:
    """(n,) or (channels, n) -> (2, n): mono is doubled, more than two channels mixed down."""
    if y.ndim == 1:
        return np.stack([y, y])
    if y.shape[0] == 2:
        return np.ascontiguousarray(y)
    mono = y.mean(axis=0)
    return np.stack([mono, mono])


def _tile(loop: np.ndarray, n: int, offset: int) -> np.ndarray:
    """The loop played from ``offset`` for ``n`` samples (stereo)."""
    period = loop.shape[-1]
    idx = (offset + np.arange(n)) % period
    out: np.ndarray = loop[:, idx]
    return out


def ambience_layer(
    effects: Sequence[np.ndarray],
    *,
    n_samples: int,
    sr: int,
    rng: np.random.Generator,
    lufs: float = AMBIENCE_LUFS,
    hold_s: float = AMBIENCE_HOLD_S,
    crossfade_s: float = AMBIENCE_CROSSFADE_S,
    fade_s: float = FADE_S,
) -> tuple[np.ndarray, list[int]]:
    """A background of effect loops, slowly crossfading from one effect to a similar one.

    Every effect is made stereo and leveled to ``lufs``. The layer starts on a random effect
    and, every ``hold_s`` seconds, crossfades over ``crossfade_s`` (equal power) to the other
    effect whose timbre vector is closest; the whole layer fades in and out over ``fade_s``.

    Parameters
    ----------
    effects : sequence of np.ndarray [shape=(n,) or (channels, n)]
        Loops (from :func:`procedural_effect` or :func:`make_loop`), at least one, each at
        least :data:`MIN_EFFECT_S` long.
    n_samples : int
    sr : int
    rng : np.random.Generator
        Chooses the first effect and where each loop starts.

    Returns
    -------
    y : np.ndarray [shape=(2, n_samples), dtype=float32]
    order : list of int
        Index of the effect playing in each ``hold_s`` slot.

    Raises
    ------
    ParameterError
        If there is no effect or one is too short.
    """
    if not effects:
        raise ParameterError("the ambience layer needs at least one effect sound")
    n_samples = check_int("n_samples", n_samples, lo=1)
    hold = max(1, round(check_float("hold_s", hold_s, lo=1.0) * sr))
    xfade = min(round(check_float("crossfade_s", crossfade_s, lo=0.0) * sr), hold)
    loops: list[np.ndarray] = []
    for i, e in enumerate(effects):
        e32 = check_audio(e, name=f"effect {i}")
        if e32.shape[-1] < MIN_EFFECT_S * sr:
            raise ParameterError(
                f"effect {i} lasts {e32.shape[-1] / sr * 1000:.0f} ms; an ambience effect needs "
                f"at least {MIN_EFFECT_S:g} s"
            )
        loops.append(normalize_loudness(_stereo(e32), sr=sr, target_lufs=lufs))
    vectors = np.stack([timbre.clip_vector(lp, sr=sr) for lp in loops])
    dist = np.linalg.norm(vectors[:, None] - vectors[None], axis=-1)
    n_slots = max(1, math.ceil(n_samples / hold))
    order = [int(rng.integers(len(loops)))]
    for _ in range(n_slots - 1):
        cur = order[-1]
        candidates = [i for i in range(len(loops)) if i != cur] or [cur]
        order.append(min(candidates, key=lambda i: (dist[cur, i], i)))
    offsets = [int(rng.integers(lp.shape[-1])) for lp in loops]
    out = np.zeros((2, n_samples), dtype=np.float32)
    t_fade = (np.arange(xfade) + 0.5) / max(xfade, 1) * (np.pi / 2)
    fade_in = np.sin(t_fade).astype(np.float32)
    for slot, idx in enumerate(order):
        start = slot * hold
        stop = min(n_samples, start + hold + (xfade if slot < n_slots - 1 else 0))
        if start >= n_samples:
            break
        part = _tile(loops[idx], stop - start, offsets[idx] + start)
        gain = np.ones(stop - start, dtype=np.float32)
        if slot > 0 and xfade:
            k = min(xfade, gain.size)
            gain[:k] = fade_in[:k]
        if slot < n_slots - 1 and xfade and stop - start > hold:
            k = stop - start - hold
            gain[hold:] = fade_in[::-1][:k]
        out[:, start:stop] += part * gain
    return fade(out, sr=sr, fade_in_s=fade_s, fade_out_s=fade_s), order


# ---------------------------------------------------------------------------------------------
# The map plane a region is drawn on


@dataclass(frozen=True)
class MapPlane:
    """The 2-D map a region was drawn on: ``xy = (z - mean) @ axes.T / scale``.

    Kept in a song's settings, so that a region song is rebuilt bit for bit even after the map
    has changed (new clips or components move a PCA map).

    Attributes
    ----------
    mean : tuple of float
        ``latent_dim`` values.
    axes : tuple of two tuples of float
        Two orthonormal rows of ``latent_dim`` values.
    scale : tuple of two floats
        Latent units per map unit along each axis, positive.
    """

    mean: tuple[float, ...]
    axes: tuple[tuple[float, ...], tuple[float, ...]]
    scale: tuple[float, float] = (1.0, 1.0)

    def checked(self, latent_dim: int | None = None) -> MapPlane:
        """Return the plane after checking its shapes (and its size, if given).

        Raises
        ------
        ParameterError
        """
        try:
            mean = np.asarray(self.mean, dtype=np.float64)
            axes = np.asarray(self.axes, dtype=np.float64)
            scale = np.asarray(self.scale, dtype=np.float64)
        except (TypeError, ValueError):
            raise ParameterError("plane must hold numbers: mean, axes (2 rows), scale") from None
        dim = mean.shape[0] if mean.ndim == 1 else -1
        if dim < 2 or axes.shape != (2, dim) or scale.shape != (2,):
            raise ParameterError(
                f"plane shapes must be mean (d,), axes (2, d), scale (2,) with d >= 2; got "
                f"{mean.shape}, {axes.shape}, {scale.shape}"
            )
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(axes))) or not np.all(
            scale > 0
        ):
            raise ParameterError("plane values must be finite, and its scale positive")
        if latent_dim is not None and dim != latent_dim:
            raise ParameterError(f"the map plane is {dim}-d but the model's latents are "
                                 f"{latent_dim}-d: draw the region on this model's map")
        return self

    def project(self, Z: np.ndarray) -> np.ndarray:
        """Latents ``(n, d)`` -> map coordinates ``(n, 2)``, float64."""
        A = np.asarray(self.axes, dtype=np.float64)
        out: np.ndarray = ((np.asarray(Z, dtype=np.float64) - self.mean) @ A.T) / self.scale
        return out

    def unproject(self, xy: np.ndarray) -> np.ndarray:
        """Map coordinates ``(n, 2)`` -> latents on the plane ``(n, d)``, float64."""
        A = np.asarray(self.axes, dtype=np.float64)
        plane = np.asarray(xy, dtype=np.float64) * np.asarray(self.scale)
        out: np.ndarray = np.asarray(self.mean, dtype=np.float64) + plane @ A
        return out

    @classmethod
    def from_json(cls, data: object) -> MapPlane:
        """A plane from ``{"mean": [...], "axes": [[...], [...]], "scale": [sx, sy]}``."""
        if not isinstance(data, Mapping) or set(data) - {"mean", "axes", "scale"}:
            raise ParameterError('plane must be {"mean": [...], "axes": [[...], [...]], '
                                 '"scale": [x, y]}')
        try:
            axes = data["axes"]
            return cls(
                mean=tuple(float(v) for v in data["mean"]),
                axes=(tuple(float(v) for v in axes[0]), tuple(float(v) for v in axes[1])),
                scale=(float(data.get("scale", (1.0, 1.0))[0]),
                       float(data.get("scale", (1.0, 1.0))[1])),
            ).checked()
        except (KeyError, TypeError, ValueError, IndexError):
            raise ParameterError("plane must hold numbers: mean, axes (2 rows), scale") from None


def sample_in_region(
    Z: np.ndarray, region: np.ndarray, plane: MapPlane, *, rng: np.random.Generator
) -> np.ndarray:
    """Move latents onto a map region: their map position is drawn uniformly inside the polygon.

    The part of each latent off the map's plane is kept, so the points still vary in every
    direction the map does not show; only where they sit on the map is chosen from the region.
    A polygon too thin to draw from (no hit in 64 rounds) leaves ``Z`` as it is.

    Parameters
    ----------
    Z : np.ndarray [shape=(n, d)]
    region : np.ndarray [shape=(m, 2)]
        A checked polygon (:func:`check_polygon`).
    plane : MapPlane
    rng : np.random.Generator

    Returns
    -------
    Z : np.ndarray [shape=(n, d), dtype=float32]
    """
    n = Z.shape[0]
    lo, hi = region.min(axis=0), region.max(axis=0)
    found: list[np.ndarray] = []
    have = 0
    for _ in range(64):
        cand = rng.uniform(lo, hi, size=(max(2 * n, 64), 2))
        hit = cand[inside_polygon(cand, region)]
        found.append(hit)
        have += hit.shape[0]
        if have >= n:
            break
    if have < n:
        return np.asarray(Z, dtype=np.float32)
    xy = np.concatenate(found)[:n]
    Z64 = np.asarray(Z, dtype=np.float64)
    off_plane = Z64 - plane.unproject(plane.project(Z64))
    out: np.ndarray = (plane.unproject(xy) + off_plane).astype(np.float32)
    return out


# ---------------------------------------------------------------------------------------------
# Songs


@dataclass(frozen=True)
class SongSettings:
    """Everything that decides a song, besides the model (plain values: JSON-ready).

    Attributes
    ----------
    seed : int
        Seed of every random choice.
    minutes : float
        Length, in ``(0, 60]``.
    criterion : {"centroid", "loudness", "weirdness", "region", "random"}
        How the five points are ranked (see :func:`criterion_scores`).
    direction : {"high", "low"}
        Prefer high or low criterion values.
    region : tuple of (x, y)
        Polygon on the 2-D map, for ``criterion="region"``.
    grammar : str
        Song grammar text (see :func:`parse_grammar`).
    wiggle_amplitude : float
        Helix radius in latent units, ``[0, 10]``.
    wiggle_rate_hz : float
        Helix turns per second, ``[0, 2]``.
    step_s : float
        Seconds between decoded points, ``[0.25, 8]`` (1-2 is the useful range).
    fade_s : float
        Fade in and out, ``[0, 60]``.
    loudness_lufs : float
        Integrated loudness of the drones, ``[-40, -6]``.
    n_candidates : int
        Latent points sampled for ranking, ``[5, 20000]``.
    min_separation : float
        Smallest latent distance between picked points, ``[0, 20]``.
    ambience : {"off", "wind", "rain", "waves", "sounds"}
        The ambience layer: none, a procedural texture, or the effect sounds of ``effects``.
    effects : tuple of str
        Ids of the user's effect sounds for ``ambience="sounds"`` (the service loads them).
    ambience_lufs : float
        Level of the ambience layer, ``[-60, -12]``.
    plane : MapPlane or None
        The map ``region`` was drawn on (the service fills it in from the model's map).
    points : tuple of tuples of float
        Up to five latents chosen by the user (pinned on the map): they become A, B, ... in
        order, and the criterion picks the rest.
    """

    seed: int = 0
    minutes: float = 4.0
    criterion: Criterion = "weirdness"
    direction: Direction = "high"
    region: tuple[tuple[float, float], ...] = ()
    grammar: str = DEFAULT_GRAMMAR
    wiggle_amplitude: float = WIGGLE_AMPLITUDE
    wiggle_rate_hz: float = WIGGLE_RATE_HZ
    step_s: float = STEP_S
    fade_s: float = FADE_S
    loudness_lufs: float = SONG_LUFS
    n_candidates: int = N_CANDIDATES
    min_separation: float = MIN_SEPARATION
    ambience: Ambience = "off"
    effects: tuple[str, ...] = field(default=())
    ambience_lufs: float = AMBIENCE_LUFS
    plane: MapPlane | None = None
    points: tuple[tuple[float, ...], ...] = ()

    def checked(self) -> SongSettings:
        """Return the settings after checking every value (the grammar is parsed).

        Raises
        ------
        ParameterError
            Naming the first value out of range.
        """
        check_int("seed", self.seed, lo=0, hi=2**63 - 1)
        minutes = check_float("minutes", self.minutes, lo=0.0, hi=MAX_MINUTES)
        if minutes <= 0:
            raise ParameterError(f"minutes={self.minutes:g} must be more than 0")
        check_choice("criterion", self.criterion, CRITERIA)
        check_choice("direction", self.direction, ("high", "low"))
        if self.criterion == "region":
            check_polygon(self.region)
        if self.plane is not None:
            self.plane.checked()
        if self.points:
            P = np.asarray(self.points, dtype=np.float64)
            if P.ndim != 2 or not 1 <= P.shape[0] <= N_POINTS or P.shape[1] < 1:
                raise ParameterError(
                    f"points must be 1 to {N_POINTS} latents of one size, got shape {P.shape}"
                )
            if not np.all(np.isfinite(P)):
                raise ParameterError("points contain NaN or infinite values")
        parse_grammar(self.grammar)
        check_float("wiggle_amplitude", self.wiggle_amplitude, lo=0.0, hi=10.0)
        check_float("wiggle_rate_hz", self.wiggle_rate_hz, lo=0.0, hi=2.0)
        check_float("step_s", self.step_s, lo=MIN_STEP_S, hi=MAX_STEP_S)
        check_float("fade_s", self.fade_s, lo=0.0, hi=60.0)
        check_float("loudness_lufs", self.loudness_lufs, lo=-40.0, hi=-6.0)
        check_int("n_candidates", self.n_candidates, lo=N_POINTS, hi=20_000)
        check_float("min_separation", self.min_separation, lo=0.0, hi=20.0)
        check_choice("ambience", self.ambience, AMBIENCES)
        if self.ambience == "sounds" and not self.effects:
            raise ParameterError('ambience="sounds" needs at least one effect sound id')
        check_float("ambience_lufs", self.ambience_lufs, lo=-60.0, hi=-12.0)
        return self

    def to_json(self) -> dict[str, Any]:
        """The settings as a JSON object (for provenance and the wire)."""
        d = asdict(self)
        d["region"] = [list(p) for p in self.region]
        d["effects"] = list(self.effects)
        if not self.points:
            del d["points"]  # recipes without pinned points stay as they were
        else:
            d["points"] = [list(z) for z in self.points]
        if self.plane is None:
            del d["plane"]
        else:
            d["plane"] = {
                "mean": list(self.plane.mean),
                "axes": [list(a) for a in self.plane.axes],
                "scale": list(self.plane.scale),
            }
        return d

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SongSettings:
        """Build settings from a JSON object; unknown keys are refused, missing ones default.

        Raises
        ------
        ParameterError
            On an unknown key or a value of the wrong type or range.
        """
        if not isinstance(data, Mapping):
            raise ParameterError("song settings must be a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ParameterError(f"unknown song settings: {', '.join(unknown)}")
        values: dict[str, Any] = dict(data)
        try:
            if "region" in values:
                values["region"] = tuple(
                    (float(p[0]), float(p[1])) for p in values["region"]
                )
            if "effects" in values:
                values["effects"] = tuple(str(e) for e in values["effects"])
            if values.get("plane") is not None:
                values["plane"] = MapPlane.from_json(values["plane"])
            if "points" in values:
                values["points"] = tuple(
                    tuple(float(v) for v in z) for z in values["points"]
                )
        except (TypeError, ValueError, IndexError):
            raise ParameterError("region must be [[x, y], ...] and effects a list of ids") from None
        return cls(**values).checked()


class Song(NamedTuple):
    """A rendered song.

    Attributes
    ----------
    y : np.ndarray [shape=(2, n_samples), dtype=float32]
    sr : int
    name : str
        From :func:`song_name` of the seed.
    structure : str
        The expanded grammar, one symbol per section.
    points : np.ndarray [shape=(5, latent_dim), dtype=float32]
        The latent points A-E.
    path : LatentPath
    loudness_lufs : float
        Measured integrated loudness of the whole song.
    ambience : tuple of int
        Effect index per ambience slot (empty when off).
    """

    y: np.ndarray
    sr: int
    name: str
    structure: str
    points: np.ndarray
    path: LatentPath
    loudness_lufs: float
    ambience: tuple[int, ...]


def _streams(seed: int) -> dict[str, np.random.Generator]:
    children = np.random.SeedSequence(seed).spawn(len(_STREAMS))
    return {
        name: np.random.default_rng(child)
        for name, child in zip(_STREAMS, children, strict=True)
    }


def choose_points(
    settings: SongSettings,
    *,
    decode: Decode,
    latent_dim: int,
    project: Project | None = None,
) -> np.ndarray:
    """The five points A-E of a song: sampled, scored by the criterion, picked apart.

    With ``criterion="region"`` and a ``plane`` in the settings, the candidates are drawn
    inside the region (:func:`sample_in_region`); with only ``project``, they are drawn from
    the prior and the ones nearest the region win. Pinned ``points`` come first (A, B, ...);
    the criterion picks the rest.

    Returns
    -------
    points : np.ndarray [shape=(5, latent_dim), dtype=float32]
    """
    s = settings.checked()
    rng = _streams(s.seed)["sample"]
    Z = sample_latents(s.n_candidates, dim=latent_dim, rng=rng)
    V = decode(Z) if s.criterion in ("centroid", "loudness") else np.zeros((0, timbre.N_BINS))
    xy = None
    if s.criterion == "region":
        if s.plane is not None:
            plane = s.plane.checked(latent_dim)
            Z = sample_in_region(Z, check_polygon(s.region), plane, rng=rng)
            project = plane.project
        if project is None:
            raise ParameterError('criterion="region" needs the map (a projection of latents)')
        xy = project(Z)
    scores = criterion_scores(
        Z, V, criterion=s.criterion, direction=s.direction, xy=xy, region=s.region or None
    )
    if not s.points:
        idx = pick_points(Z, scores, k=N_POINTS, min_separation=s.min_separation)
        out: np.ndarray = Z[idx]
        return out
    pinned = np.asarray(s.points, dtype=np.float32)
    if pinned.shape[1] != latent_dim:
        raise ParameterError(
            f"points are {pinned.shape[1]}-d but the model's latents are {latent_dim}-d: "
            "place them on this model's map"
        )
    k = N_POINTS - pinned.shape[0]
    if k == 0:
        return pinned
    # the rest: the criterion's best, kept apart from the pinned points as from each other
    gap = np.linalg.norm(Z[:, None, :] - pinned[None], axis=-1).min(axis=1)
    apart = gap >= s.min_separation
    use = np.flatnonzero(apart) if apart.sum() >= k else np.arange(Z.shape[0])
    idx = pick_points(Z[use], scores[use], k=k, min_separation=s.min_separation)
    rest: np.ndarray = np.concatenate([pinned, Z[use][idx]]).astype(np.float32)
    return rest


def render_song(
    settings: SongSettings,
    *,
    decode: Decode,
    latent_dim: int,
    project: Project | None = None,
    effects: Sequence[np.ndarray] = (),
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> Song:
    """Render a song from settings and a timbre model's decoder.

    Parameters
    ----------
    settings : SongSettings
    decode : callable
        Latents ``(n, latent_dim)`` -> timbre vectors ``(n, 1233)``; must be deterministic.
    latent_dim : int
    project : callable or None
        Latents -> 2-D map coordinates; needed for ``criterion="region"``.
    effects : sequence of np.ndarray
        Effect loops at :data:`SR` for ``ambience="sounds"`` (see :func:`make_loop`).
    progress : ProgressFn or None
    cancel : CancelToken or None

    Returns
    -------
    Song

    Raises
    ------
    ParameterError
        If a setting is invalid, or the decoder returns vectors of the wrong shape.
    JobCancelled
        If ``cancel`` was set.
    """
    s = settings.checked()
    report = progress if progress is not None else no_progress
    rng = _streams(s.seed)
    report(0.0, "choosing points")
    points = choose_points(s, decode=decode, latent_dim=latent_dim, project=project)
    structure = expand(parse_grammar(s.grammar), rng=rng["grammar"])
    duration_s = s.minutes * 60.0
    n_samples = max(1, round(duration_s * SR))
    hop = round(s.step_s * SR)
    path = wiggle_path(
        points,
        structure,
        duration_s=duration_s,
        step_s=hop / SR,
        amplitude=s.wiggle_amplitude,
        rate_hz=s.wiggle_rate_hz,
        rng=rng["wiggle"],
    )
    V = decode(path.Z)
    if V.shape != (path.Z.shape[0], timbre.N_BINS):
        raise ParameterError(f"the decoder returned shape {V.shape}; expected vectors of 1233")
    if cancel is not None:
        cancel.raise_if_cancelled()
    y = blend_drones(
        V,
        hop_samples=hop,
        n_samples=n_samples,
        rng=rng["phase"],
        cancel=cancel,
        progress=lambda f, _: report(0.05 + 0.8 * f, "rendering"),
    )
    _fade_in_place(y, sr=SR, fade_in_s=s.fade_s, fade_out_s=s.fade_s)
    if n_samples >= 0.4 * SR:
        report(0.87, "leveling")
        measured = integrated_loudness(y, sr=SR)
        if math.isfinite(measured):
            y *= np.float32(10.0 ** ((s.loudness_lufs - measured) / 20.0))
    order: list[int] = []
    if s.ambience != "off":
        report(0.9, "ambience")
        if s.ambience == "sounds":
            loops = list(effects)
            if not loops:
                raise ParameterError('ambience="sounds" needs the effect sounds themselves')
        else:
            # Loops no longer than the song (a short song needs no 24 s loop), at least 4 s.
            loop_s = min(EFFECT_LOOP_S, max(4.0, duration_s))
            loops = [
                procedural_effect(
                    s.ambience, rng=rng["ambience"], duration_s=loop_s, lufs=s.ambience_lufs
                )
                for _ in range(N_PROCEDURAL_VARIANTS)
            ]
        layer, order = ambience_layer(
            loops,
            n_samples=n_samples,
            sr=SR,
            rng=rng["ambience"],
            lufs=s.ambience_lufs,
            fade_s=s.fade_s,
        )
        y += layer
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    limit_gain = PEAK_LIMIT / peak if peak > PEAK_LIMIT else 1.0
    if limit_gain < 1.0:
        y *= np.float32(limit_gain)
    # The drones' loudness as set, less any peak limiting (measuring the mix again would cost
    # as much as the rest of the leveling; an ambience layer at -30 LUFS adds about 0.2 LU).
    if n_samples < 0.4 * SR:
        loudness = float("-inf")
    else:
        loudness = s.loudness_lufs + 20.0 * math.log10(limit_gain)
    report(1.0, "done")
    return Song(
        y=y,
        sr=SR,
        name=song_name(s.seed),
        structure=structure,
        points=points,
        path=path,
        loudness_lufs=loudness,
        ambience=tuple(order),
    )


_ADJECTIVES = (
    "Amber", "Ashen", "Azure", "Blue", "Brass", "Cinder", "Cobalt", "Copper", "Distant", "Drifting",
    "Dusk", "Faded", "Frozen", "Gentle", "Glass", "Golden", "Grey", "Hollow", "Hushed", "Iron",
    "Ivory", "Last", "Low", "Lunar", "Milk", "Mossy", "Night", "Pale", "Quiet", "Rust", "Salt",
    "Silver", "Slow", "Soft", "Still", "Sunken", "Tidal", "Velvet", "Violet", "Warm", "Wide",
)
_NOUNS = (
    "Archive", "Bloom", "Canal", "Choir", "Cloud", "Current", "Delta", "Drift", "Dune", "Echo",
    "Ember", "Field", "Fjord", "Garden", "Glacier", "Harbour", "Haze", "Horizon", "Lagoon",
    "Lantern", "Meadow", "Mirror", "Monsoon", "Orbit", "Pier", "Plain", "Reef", "Relay", "River",
    "Room", "Shore", "Signal", "Snowfield", "Station", "Tide", "Valley", "Veil", "Wake", "Window",
)


def song_name(seed: int) -> str:
    """A deterministic two-word title for a seed, like "Slow Harbour".

    Examples
    --------
    >>> song_name(0) == song_name(0)
    True
    """
    seed = check_int("seed", seed, lo=0, hi=2**63 - 1)
    rng = _streams(seed)["name"]
    adjective = _ADJECTIVES[int(rng.integers(len(_ADJECTIVES)))]
    return f"{adjective} {_NOUNS[int(rng.integers(len(_NOUNS)))]}"


def album_seeds(seed: int, n_songs: int) -> list[int]:
    """Seeds of the songs of an album: distinct, reproducible from the album's seed."""
    seed = check_int("seed", seed, lo=0, hi=2**63 - 1)
    n_songs = check_int("n_songs", n_songs, lo=1, hi=1_000_000)
    states = np.random.SeedSequence([seed, 0xA1B]).generate_state(2 * n_songs, dtype=np.uint32)
    seeds: list[int] = []
    seen: set[int] = set()
    for hi, lo in zip(states[0::2], states[1::2], strict=True):
        value = ((int(hi) << 32) | int(lo)) >> 1  # 63 bits: a non-negative int64
        while value in seen:
            value = (value + 1) % (2**63)
        seen.add(value)
        seeds.append(value)
    return seeds


# ---------------------------------------------------------------------------------------------
# NSynth-style manipulations: sounds as sequences of latents


class LatentSequence(NamedTuple):
    """A sound encoded frame by frame.

    Attributes
    ----------
    Z : np.ndarray [shape=(n_frames, latent_dim), dtype=float32]
        Latent of each frame's timbre vector.
    rms : np.ndarray [shape=(n_frames,), dtype=float32]
        RMS level of each frame (the vectors drop level; this keeps the dynamics).
    hop_s : float
        Seconds between frames.
    """

    Z: np.ndarray
    rms: np.ndarray
    hop_s: float

    @property
    def duration_s(self) -> float:
        """Length of the sound the sequence stands for."""
        return float(self.Z.shape[0] * self.hop_s)


def encode_sequence(
    y: np.ndarray,
    *,
    sr: int,
    encode: Encode,
    hop_s: float = SEQUENCE_HOP_S,
    window_s: float = SEQUENCE_WINDOW_S,
) -> LatentSequence:
    """Encode a sound as a sequence of per-frame latents.

    Frames of ``window_s`` seconds every ``hop_s`` (centred, zero-padded at the ends) are mixed
    to mono, turned into timbre vectors and encoded.

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (channels, n)]
    sr : int
    encode : callable
        Timbre vectors -> latents (deterministic: the model's mean).
    hop_s, window_s : float
        Frame hop (0.02-2 s) and window (0.05-4 s).

    Returns
    -------
    LatentSequence
    """
    sr = check_int("sr", sr, lo=1000, hi=768_000)
    y32 = check_audio(y, min_samples=2)
    if y32.ndim > 2:
        raise ParameterError(f"y must have shape (n,) or (channels, n), got {y32.shape}")
    hop_s = check_float("hop_s", hop_s, lo=0.02, hi=2.0)
    window_s = check_float("window_s", window_s, lo=0.05, hi=4.0)
    mono = y32 if y32.ndim == 1 else y32.mean(axis=0)
    hop = max(1, round(hop_s * sr))
    win = max(2, round(window_s * sr))
    n_frames = max(1, math.ceil(mono.size / hop))
    padded = np.pad(mono, (win // 2, win // 2 + n_frames * hop))
    frames = np.lib.stride_tricks.sliding_window_view(padded, win)[::hop][:n_frames]
    V = timbre.timbre_vectors(np.ascontiguousarray(frames), sr=sr)
    Z = np.asarray(encode(V), dtype=np.float32)
    rms = np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=-1)).astype(np.float32)
    return LatentSequence(Z=Z, rms=rms, hop_s=hop / sr)


def _resample_rows(A: np.ndarray, n: int) -> np.ndarray:
    """Linear interpolation of rows ``(T, ...)`` onto ``n`` evenly spaced positions."""
    T = A.shape[0]
    if T == 1:
        return np.repeat(A, n, axis=0)
    pos = np.linspace(0.0, T - 1.0, n)
    lo = np.minimum(np.floor(pos).astype(np.int64), T - 2)
    frac = (pos - lo).reshape(-1, *([1] * (A.ndim - 1)))
    out: np.ndarray = A[lo] * (1.0 - frac) + A[lo + 1] * frac
    return out


def stretch_sequence(seq: LatentSequence, *, factor: float) -> LatentSequence:
    """Time-stretch a latent sequence by resampling it: longer or shorter, same pitch.

    ``factor=2`` lasts twice as long. Latents and levels are interpolated linearly.

    Raises
    ------
    ParameterError
        If ``factor`` is outside ``[1/8, 8]``.
    """
    factor = check_float("factor", factor, lo=1.0 / MAX_STRETCH, hi=MAX_STRETCH)
    n = max(1, round(seq.Z.shape[0] * factor))
    return LatentSequence(
        Z=_resample_rows(seq.Z, n).astype(np.float32),
        rms=_resample_rows(seq.rms, n).astype(np.float32),
        hop_s=seq.hop_s,
    )


def interpolate_sequences(
    a: LatentSequence, b: LatentSequence, *, alpha: float = 0.5
) -> LatentSequence:
    """Blend two sounds in latent space: ``(1 - alpha) a + alpha b`` frame by frame.

    ``b`` is first resampled to ``a``'s number of frames (so the result lasts as long as
    ``a``); ``alpha=0.5`` is the average of the two sounds.

    Raises
    ------
    ParameterError
        If the latent sizes or hops differ, or ``alpha`` is outside ``[0, 1]``.
    """
    alpha = check_float("alpha", alpha, lo=0.0, hi=1.0)
    _check_pair(a, b)
    n = a.Z.shape[0]
    Zb = _resample_rows(b.Z, n)
    rb = _resample_rows(b.rms, n)
    return LatentSequence(
        Z=((1.0 - alpha) * a.Z + alpha * Zb).astype(np.float32),
        rms=((1.0 - alpha) * a.rms + alpha * rb).astype(np.float32),
        hop_s=a.hop_s,
    )


def crossfade_sequences(
    a: LatentSequence, b: LatentSequence, *, crossfade_s: float
) -> LatentSequence:
    """Play ``a`` then ``b``, morphing in latent space over their overlap.

    The last ``crossfade_s`` of ``a`` and the first of ``b`` overlap; there the latent moves
    from ``a``'s to ``b``'s along a smoothstep (the timbre morphs, rather than one sound
    fading under the other).

    Raises
    ------
    ParameterError
        If the latent sizes or hops differ, or the crossfade is longer than either sound.
    """
    _check_pair(a, b)
    crossfade_s = check_float("crossfade_s", crossfade_s, lo=0.0)
    k = round(crossfade_s / a.hop_s)
    if k > min(a.Z.shape[0], b.Z.shape[0]):
        raise ParameterError(
            f"crossfade_s={crossfade_s:g} is longer than a sound "
            f"({min(a.duration_s, b.duration_s):.2f} s)"
        )
    w = _smoothstep(np.linspace(0.0, 1.0, k))[:, None] if k else np.zeros((0, 1))
    na = a.Z.shape[0] - k
    mixZ = (1.0 - w) * a.Z[na:] + w * b.Z[:k]
    mixR = (1.0 - w[:, 0]) * a.rms[na:] + w[:, 0] * b.rms[:k]
    return LatentSequence(
        Z=np.concatenate([a.Z[:na], mixZ, b.Z[k:]]).astype(np.float32),
        rms=np.concatenate([a.rms[:na], mixR, b.rms[k:]]).astype(np.float32),
        hop_s=a.hop_s,
    )


def _check_pair(a: LatentSequence, b: LatentSequence) -> None:
    if a.Z.shape[1:] != b.Z.shape[1:]:
        raise ParameterError(
            f"the sequences have latents of {a.Z.shape[1:]} and {b.Z.shape[1:]}; encode both "
            "with the same model"
        )
    if not math.isclose(a.hop_s, b.hop_s, rel_tol=1e-6):
        raise ParameterError(f"the sequences have hops of {a.hop_s:g} s and {b.hop_s:g} s")


def render_sequence(
    seq: LatentSequence,
    *,
    decode: Decode,
    rng: np.random.Generator,
    sr: int = SR,
) -> np.ndarray:
    """Hear a latent sequence: decode every frame, blend the drones, follow the levels.

    Returns
    -------
    y : np.ndarray [shape=(2, n_frames * hop), dtype=float32]
        At :data:`SR` (``sr`` must be it: drones are made on the timbre grid's rate).
    """
    if sr != SR:
        raise ParameterError(f"sr={sr} must be {SR} (the timbre grid's rate)")
    hop = max(16, round(seq.hop_s * sr))
    n = seq.Z.shape[0] * hop
    V = np.asarray(decode(seq.Z), dtype=np.float32)
    y = blend_drones(V, hop_samples=hop, n_samples=n, rng=rng)
    env = np.interp(np.arange(n), np.arange(seq.Z.shape[0]) * hop, seq.rms).astype(np.float32)
    out: np.ndarray = (y * env).astype(np.float32)
    return out


def stretch_activations(H: np.ndarray, *, factor: float) -> np.ndarray:
    """Resample NMF activations ``(..., K, T)`` in time to ``round(T * factor)`` frames.

    Linear interpolation (rhythmic material keeps its pattern, slower or faster); non-negative
    in, non-negative out.

    Raises
    ------
    ParameterError
        If ``factor`` is outside ``[1/8, 8]`` or ``H`` is not a non-negative matrix.
    """
    from residue.dsp._validate import check_nonnegative

    factor = check_float("factor", factor, lo=1.0 / MAX_STRETCH, hi=MAX_STRETCH)
    H32 = check_nonnegative(H, name="H", ndim_min=2)
    T = H32.shape[-1]
    n = max(1, round(T * factor))
    moved = np.moveaxis(H32, -1, 0)
    out = np.moveaxis(_resample_rows(moved, n), 0, -1)
    return np.ascontiguousarray(out, dtype=np.float32)


def stretch_nmf(
    D: np.ndarray,
    W: np.ndarray,
    H: np.ndarray,
    *,
    factor: float,
    hop_length: int = spectral.HOP_LENGTH,
) -> np.ndarray:
    """Time-stretch a sound through its NMF: resampled activations, phase-vocoder phases.

    The magnitude is ``W @ stretch_activations(H)``; the phase comes from a phase vocoder
    run over the original STFT at the same rate (librosa), so partials keep coherent phase.

    Parameters
    ----------
    D : np.ndarray [shape=(..., n_bins, T), dtype=complex]
        STFT of the sound (:func:`residue.dsp.spectral.stft`).
    W : np.ndarray [shape=(n_bins, K) or (..., n_bins, K)]
    H : np.ndarray [shape=(..., K, T)]
    factor : float
        Length factor in ``[1/8, 8]``; 2 is twice as long.
    hop_length : int
        Hop of ``D``.

    Returns
    -------
    y : np.ndarray [shape=(..., round(T * factor - 1) * hop_length), dtype=float32]
    """
    import librosa

    D = spectral.check_stft(D)
    factor = check_float("factor", factor, lo=1.0 / MAX_STRETCH, hi=MAX_STRETCH)
    H2 = stretch_activations(H, factor=factor)
    W32 = np.asarray(W, dtype=np.float32)
    if W32.shape[-2] != D.shape[-2] or W32.shape[-1] != H2.shape[-2]:
        raise ParameterError(
            f"W has shape {W32.shape}; it must be (n_bins={D.shape[-2]}, K={H2.shape[-2]})"
        )
    n_fft = 2 * (D.shape[-2] - 1)
    pv = librosa.phase_vocoder(D, rate=1.0 / factor, hop_length=hop_length, n_fft=n_fft)
    T = min(pv.shape[-1], H2.shape[-1])
    mag = np.matmul(W32, H2[..., :T])
    phase = np.exp(1j * np.angle(pv[..., :T])).astype(np.complex64)
    length = max(1, (T - 1) * hop_length)
    return spectral.istft(mag * phase, hop_length=hop_length, length=length)


__all__ = [
    "AMBIENCES",
    "CRITERIA",
    "DEFAULT_GRAMMAR",
    "DEFAULT_RULES",
    "EFFECT_KINDS",
    "SR",
    "TERMINALS",
    "Grammar",
    "LatentPath",
    "LatentSequence",
    "MapPlane",
    "Song",
    "SongSettings",
    "album_seeds",
    "ambience_layer",
    "blend_drones",
    "choose_points",
    "criterion_scores",
    "crossfade_sequences",
    "encode_sequence",
    "expand",
    "fade",
    "integrated_loudness",
    "interpolate_sequences",
    "limit_peak",
    "make_grammar",
    "make_loop",
    "normalize_loudness",
    "parse_grammar",
    "pick_points",
    "procedural_effect",
    "render_sequence",
    "render_song",
    "sample_in_region",
    "sample_latents",
    "song_name",
    "spectral_centroid",
    "stretch_activations",
    "stretch_nmf",
    "stretch_sequence",
    "vector_loudness_db",
    "wiggle_path",
]
