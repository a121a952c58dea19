"""Tuning systems: 12-TET, 24-TET, any N-EDO, 5-limit just intonation and Scala-like scales.

A :class:`Tuning` is a list of scale degrees in cents within a period (usually the 1200-cent
octave), anchored at a tonic key whose frequency is its 12-TET frequency (A4 = ``ref_hz``).
Notes are mapped onto degrees in one of two ways:

- ``"nearest"`` (default): a note's sounding pitch (its key plus the median of its bend) moves
  to the nearest degree; the rest of its bend curve rides on top. 12-TET keys stay where they
  are in 12-note scales up to each degree's offset (just intonation retunes them), and
  transcriptions with quarter-tone bends snap to quarter tones in 24-TET.
- ``"keyboard"``: key ``k`` plays degree ``k - tonic_key`` (Scala's linear keyboard mapping),
  so 24-TET makes adjacent keys a quarter tone apart.

Pitches here are fractional MIDI numbers on the 12-TET scale (69.5 is a quarter tone above A4);
:func:`pitch_to_hz` turns them into Hz. For MIDI export, :func:`encode_bend` splits a pitch into
a key and a 14-bit pitch-bend value for a given bend range (:data:`BEND_RANGE_SEMITONES`, set
on each channel by RPN 0 when the file is written).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal, NamedTuple

import numpy as np

from residue.dsp._validate import check_choice, check_float, check_int
from residue.errors import ParameterError

Mapping = Literal["nearest", "keyboard"]
MAPPINGS: tuple[Mapping, ...] = ("nearest", "keyboard")
REF_HZ = 440.0
"""Frequency of MIDI key 69 (A4)."""
DEFAULT_TONIC_KEY = 60
"""Middle C: degree 0 of scales that are not equal temperaments."""
BEND_RANGE_SEMITONES = 2.0
"""The General MIDI default pitch-bend range, written explicitly by RPN 0 on export."""
BEND_MAX = 8191
BEND_MIN = -8192
MAX_DEGREES = 1024
MAX_EDO = 1200

JUST_5_LIMIT: tuple[Fraction, ...] = tuple(
    Fraction(r)
    for r in (
        "1/1",
        "16/15",
        "9/8",
        "6/5",
        "5/4",
        "4/3",
        "45/32",
        "3/2",
        "8/5",
        "5/3",
        "9/5",
        "15/8",
    )
)
"""A 12-note 5-limit just scale (Ptolemy's intense diatonic, chromatically completed)."""


def ratio_to_cents(ratio: float) -> float:
    """Return the size of a frequency ratio in cents."""
    return 1200.0 * math.log2(ratio)


@dataclass(frozen=True)
class Tuning:
    """A scale of degrees in a period, anchored at a tonic key.

    Attributes
    ----------
    name : str
        A label ("12-TET", "19-EDO", "just 5-limit", ...).
    degrees_cents : tuple of float
        Degrees above the tonic in ``[0, period_cents)``, ascending, the first 0.
    period_cents : float
        The interval the scale repeats at (1200 for an octave).
    tonic_key : int
        The MIDI key of degree 0; it sounds at its 12-TET frequency.
    mapping : {"nearest", "keyboard"}
        How keys map onto degrees (see the module docstring).
    """

    name: str
    degrees_cents: tuple[float, ...]
    period_cents: float = 1200.0
    tonic_key: int = DEFAULT_TONIC_KEY
    mapping: Mapping = "nearest"

    @property
    def n_degrees(self) -> int:
        """Return the number of degrees per period."""
        return len(self.degrees_cents)

    def degree_pitch(self, degree: np.ndarray) -> np.ndarray:
        """Return the fractional 12-TET pitch of integer scale degrees (0 is the tonic), float64."""
        d = np.asarray(degree, dtype=np.int64)
        period, index = np.divmod(d, self.n_degrees)
        cents = period * self.period_cents + np.asarray(self.degrees_cents)[index]
        return np.asarray(self.tonic_key + cents / 100.0, dtype=np.float64)

    def nearest_degree(self, pitch: np.ndarray) -> np.ndarray:
        """Return the integer degree nearest to each fractional 12-TET pitch, int64."""
        cents = (np.asarray(pitch, dtype=np.float64) - self.tonic_key) * 100.0
        period = np.floor(cents / self.period_cents)
        within = cents - period * self.period_cents
        # Candidates: every degree of this period plus the next period's tonic.
        grid = np.append(np.asarray(self.degrees_cents), self.period_cents)
        idx = np.abs(within[..., None] - grid).argmin(axis=-1)
        return np.asarray(period.astype(np.int64) * self.n_degrees + idx, dtype=np.int64)

    def retune(self, pitch: np.ndarray) -> np.ndarray:
        """Map fractional 12-TET pitches to the pitches this tuning plays for them, float64.

        With ``"nearest"`` each pitch moves to the nearest degree; with ``"keyboard"`` the
        rounded key picks a degree and the fractional part (a bend) is kept on top.

        Examples
        --------
        >>> ji = just_intonation(tonic_key=60)
        >>> round(float(ji.retune(np.array([67.0]))[0] - 60.0), 4)  # a pure fifth: 701.955 cents
        7.0196
        """
        p = np.asarray(pitch, dtype=np.float64)
        if self.mapping == "nearest":
            return self.degree_pitch(self.nearest_degree(p))
        key = np.round(p)
        return self.degree_pitch(key.astype(np.int64) - self.tonic_key) + (p - key)

    def frequency(self, pitch: np.ndarray) -> np.ndarray:
        """Return the frequency in Hz this tuning plays for fractional 12-TET pitches, float64."""
        return pitch_to_hz(self.retune(pitch))


def pitch_to_hz(pitch: np.ndarray | float, *, ref_hz: float = REF_HZ) -> np.ndarray:
    """Return the 12-TET frequency of fractional MIDI pitches, float64."""
    p = np.asarray(pitch, dtype=np.float64)
    return np.asarray(ref_hz * np.exp2((p - 69.0) / 12.0), dtype=np.float64)


def hz_to_pitch(hz: np.ndarray | float, *, ref_hz: float = REF_HZ) -> np.ndarray:
    """Return the fractional MIDI pitch of frequencies in Hz, float64."""
    f = np.asarray(hz, dtype=np.float64)
    return np.asarray(69.0 + 12.0 * np.log2(f / ref_hz), dtype=np.float64)


def _check_common(tonic_key: int, mapping: str) -> tuple[int, Mapping]:
    tonic_key = check_int("tonic_key", tonic_key, lo=0, hi=127)
    check_choice("mapping", mapping, MAPPINGS)
    return tonic_key, mapping  # type: ignore[return-value]


def equal_temperament(
    n: int,
    *,
    period_cents: float = 1200.0,
    tonic_key: int = DEFAULT_TONIC_KEY,
    mapping: Mapping = "nearest",
) -> Tuning:
    """Return the ``n``-step equal division of the period (12 gives 12-TET, 24 quarter tones).

    Examples
    --------
    >>> t = equal_temperament(19, mapping="keyboard")
    >>> round(float(t.frequency(np.array([60.0 + 19]))[0] / t.frequency(np.array([60.0]))[0]), 6)
    2.0
    """
    n = check_int("n", n, lo=1, hi=MAX_EDO)
    period_cents = check_float("period_cents", period_cents, lo=1.0, hi=12000.0)
    tonic_key, mapping = _check_common(tonic_key, mapping)
    step = period_cents / n
    name = f"{n}-TET" if period_cents == 1200.0 and n in (12, 24) else f"{n}-EDO"
    return Tuning(name, tuple(i * step for i in range(n)), period_cents, tonic_key, mapping)


def just_intonation(*, tonic_key: int = DEFAULT_TONIC_KEY, mapping: Mapping = "nearest") -> Tuning:
    """Return 12-note 5-limit just intonation on ``tonic_key`` (see :data:`JUST_5_LIMIT`)."""
    tonic_key, mapping = _check_common(tonic_key, mapping)
    degrees = tuple(ratio_to_cents(float(r)) for r in JUST_5_LIMIT)
    return Tuning("just 5-limit", degrees, 1200.0, tonic_key, mapping)


_NUMBER = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+\.)$")
_RATIO = re.compile(r"^(\d+)(?:/(\d+))?$")


def parse_pitch_entry(entry: str | float) -> float:
    """Return an entry of a Scala-like list in cents.

    Strings with a period are cents (``"701.955"``), others are ratios (``"3/2"``, ``"2"``),
    as in Scala's .scl format. Numbers are taken as cents.

    Raises
    ------
    ParameterError
        If the entry is neither, or a ratio is not positive.
    """
    if isinstance(entry, (int, float)) and not isinstance(entry, bool):
        return check_float("cents", float(entry), lo=-12000.0, hi=12000.0)
    if not isinstance(entry, str):
        raise ParameterError(f"scale entry {entry!r} must be a ratio like 3/2 or cents like 701.96")
    text = entry.strip().split()[0] if entry.strip() else ""
    if _NUMBER.match(text):
        return check_float("cents", float(text), lo=-12000.0, hi=12000.0)
    m = _RATIO.match(text)
    if not m:
        raise ParameterError(f"scale entry {entry!r} must be a ratio like 3/2 or cents like 701.96")
    num, den = int(m.group(1)), int(m.group(2) or 1)
    if num <= 0 or den <= 0:
        raise ParameterError(f"scale entry {entry!r} must be a positive ratio")
    return ratio_to_cents(num / den)


def custom_tuning(
    entries: Sequence[str | float],
    *,
    name: str = "custom",
    tonic_key: int = DEFAULT_TONIC_KEY,
    mapping: Mapping = "nearest",
) -> Tuning:
    """Build a tuning from a Scala-like list: the degrees above the tonic, the period last.

    ``["9/8", "5/4", "4/3", "3/2", "5/3", "15/8", "2/1"]`` is a just major scale; the implicit
    first degree is 1/1 and the last entry is the period (as in a .scl file).

    Raises
    ------
    ParameterError
        If the list is empty or too long, or the degrees do not rise strictly below the period.
    """
    tonic_key, mapping = _check_common(tonic_key, mapping)
    if not entries:
        raise ParameterError("a scale needs at least one entry (its period, e.g. 2/1)")
    if len(entries) > MAX_DEGREES:
        raise ParameterError(f"a scale may have at most {MAX_DEGREES} entries, got {len(entries)}")
    cents = [parse_pitch_entry(e) for e in entries]
    period = cents[-1]
    degrees = [0.0, *cents[:-1]]
    if period <= 0:
        raise ParameterError(f"the period (last entry) must be above 1/1, got {period:.3f} cents")
    if any(b <= a for a, b in itertools.pairwise(degrees)) or degrees[-1] >= period:
        raise ParameterError("scale degrees must rise strictly and stay below the period")
    return Tuning(name, tuple(degrees), period, tonic_key, mapping)


def parse_scala(
    text: str, *, tonic_key: int = DEFAULT_TONIC_KEY, mapping: Mapping = "nearest"
) -> Tuning:
    """Build a tuning from the text of a Scala .scl file.

    Lines starting with ``!`` are comments; the first other line is the description, the next
    the number of notes, then one pitch per line.

    Raises
    ------
    ParameterError
        If the count is missing or does not match the pitches.
    """
    lines = [ln.rstrip("\r") for ln in text.splitlines() if not ln.lstrip().startswith("!")]
    if len(lines) < 2:
        raise ParameterError("a .scl file needs a description line and a note count")
    description = lines[0].strip() or "scala"
    try:
        count = int(lines[1].strip().split()[0])
    except (ValueError, IndexError):
        raise ParameterError(
            f"the note count of a .scl file must be an integer, got {lines[1]!r}"
        ) from None
    pitches = [ln for ln in lines[2:] if ln.strip()]
    if count != len(pitches):
        raise ParameterError(f"the .scl file declares {count} notes but lists {len(pitches)}")
    return custom_tuning(pitches, name=description, tonic_key=tonic_key, mapping=mapping)


_EDO = re.compile(r"^(\d+)[- ]?(tet|edo|et)$")


def parse_tuning(
    spec: str, *, tonic_key: int = DEFAULT_TONIC_KEY, mapping: Mapping = "nearest"
) -> Tuning:
    """Return the tuning a short name stands for.

    ``"12-tet"``, ``"24-tet"``, ``"19-edo"`` (any N), ``"just"`` / ``"ji"``, or a comma- or
    space-separated Scala-like list (``"9/8, 5/4, 4/3, 3/2, 5/3, 15/8, 2/1"``).

    Raises
    ------
    ParameterError
        If the name is not one of these.
    """
    text = spec.strip().lower()
    m = _EDO.match(text)
    if m:
        return equal_temperament(int(m.group(1)), tonic_key=tonic_key, mapping=mapping)
    if text in {"just", "ji", "just intonation", "5-limit", "just 5-limit"}:
        return just_intonation(tonic_key=tonic_key, mapping=mapping)
    entries = [e for e in re.split(r"[,\s]+", text) if e]
    if len(entries) >= 1 and all(_RATIO.match(e) or _NUMBER.match(e) for e in entries):
        return custom_tuning(entries, tonic_key=tonic_key, mapping=mapping)
    raise ParameterError(
        f"tuning={spec!r} must be one of '12-tet', '24-tet', 'N-edo', 'just', or a list of "
        "ratios/cents ending with the period"
    )


class MidiPitch(NamedTuple):
    """A fractional pitch as MIDI carries it: key (int64) and 14-bit signed bend (int64)."""

    key: np.ndarray
    bend: np.ndarray


def encode_bend(
    pitch: np.ndarray, *, key: np.ndarray | None = None, bend_range: float = BEND_RANGE_SEMITONES
) -> MidiPitch:
    """Split fractional pitches into MIDI keys and pitch-bend values.

    Parameters
    ----------
    pitch : np.ndarray [shape=(n,), dtype=float]
        Fractional 12-TET pitches.
    key : np.ndarray [shape=(n,), dtype=int] or None
        The key each pitch is bent from (a note's key for its whole curve); ``None`` takes the
        nearest key.
    bend_range : float
        Semitones of a full bend (8191 up / -8192 down). Offsets beyond it are clipped.

    Returns
    -------
    MidiPitch
        ``key`` in ``[0, 127]`` and ``bend`` in ``[-8192, 8191]``.

    Examples
    --------
    >>> mp = encode_bend(np.array([60.5]))
    >>> int(mp.key[0]), int(mp.bend[0])
    (60, 2048)
    """
    bend_range = check_float("bend_range", bend_range, lo=0.01, hi=96.0)
    p = np.asarray(pitch, dtype=np.float64)
    k = np.round(p) if key is None else np.asarray(key, dtype=np.float64)
    k = np.clip(k, 0, 127)
    value = np.round((p - k) / bend_range * 8192.0)
    return MidiPitch(k.astype(np.int64), np.clip(value, BEND_MIN, BEND_MAX).astype(np.int64))


def decode_bend(
    key: np.ndarray, bend: np.ndarray, *, bend_range: float = BEND_RANGE_SEMITONES
) -> np.ndarray:
    """Return the fractional pitch of MIDI keys and 14-bit bend values (inverse of encode)."""
    bend_range = check_float("bend_range", bend_range, lo=0.01, hi=96.0)
    k = np.asarray(key, dtype=np.float64)
    b = np.asarray(bend, dtype=np.float64)
    return np.asarray(k + b / 8192.0 * bend_range, dtype=np.float64)
