"""General MIDI SoundFonts rendered by the FluidSynth command-line program.

The binary comes from Debian's ``fluidsynth`` package and the fonts from ``fluid-soundfont-gm``
(FluidR3_GM.sf2) or ``timgm6mb-soundfont`` (TimGM6mb.sf2), both in /usr/share/sounds/sf2; a
configured folder is searched first. Rendering is a subprocess with a timeout, writing a WAV
file into a private temporary folder: ``fluidsynth -ni -q -F out.wav -r SR font.sf2 in.mid``.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import soundfile as sf

from residue.dsp._validate import check_float, check_int
from residue.errors import LimitExceeded, ModelUnavailableError, ParameterError

SYSTEM_FONT_DIRS = (Path("/usr/share/sounds/sf2"), Path("/usr/share/soundfonts"))
PREFERRED_FONTS = ("FluidR3_GM.sf2", "TimGM6mb.sf2", "default-GM.sf2")
DEFAULT_TIMEOUT_S = 120.0
DEFAULT_GAIN = 0.5
MIN_SR = 8_000
MAX_SR = 96_000


class SoundFont(NamedTuple):
    """A font file and the name it is offered under (its file stem)."""

    name: str
    path: Path


class Availability(NamedTuple):
    """Whether SoundFont rendering can run, why not, and with what."""

    available: bool
    reason: str
    binary: Path | None
    fonts: tuple[SoundFont, ...]


def find_binary() -> Path | None:
    """Return the ``fluidsynth`` program on PATH, or None."""
    found = shutil.which("fluidsynth")
    return Path(found) if found else None


def find_fonts(extra_dirs: Sequence[Path] = ()) -> tuple[SoundFont, ...]:
    """List .sf2/.sf3 files in ``extra_dirs`` then the system folders, preferred fonts first.

    Symbolic links to the same file are listed once (Debian's default-GM.sf2 points to one of
    the others).
    """
    seen: set[Path] = set()
    found: list[SoundFont] = []
    for folder in [*extra_dirs, *SYSTEM_FONT_DIRS]:
        folder = Path(folder)
        if not folder.is_dir():
            continue
        for path in sorted([*folder.glob("*.sf2"), *folder.glob("*.sf3")]):
            try:
                real = path.resolve(strict=True)
            except OSError:
                continue
            if real in seen or not real.is_file():
                continue
            seen.add(real)
            found.append(SoundFont(path.stem, path))
    rank = {name: i for i, name in enumerate(PREFERRED_FONTS)}
    found.sort(key=lambda f: rank.get(f.path.name, len(rank)))
    return tuple(found)


def availability(extra_dirs: Sequence[Path] = ()) -> Availability:
    """Say whether SoundFont rendering works here, and if not, why."""
    binary = find_binary()
    fonts = find_fonts(extra_dirs)
    if binary is None:
        return Availability(
            False, "the fluidsynth program is not installed (apt-get install fluidsynth)", None,
            fonts,
        )
    if not fonts:
        return Availability(
            False,
            "no General MIDI SoundFont found in /usr/share/sounds/sf2 or the configured folder "
            "(apt-get install fluid-soundfont-gm or timgm6mb-soundfont)",
            binary,
            fonts,
        )
    return Availability(True, "", binary, fonts)


def choose_font(name: str | None, extra_dirs: Sequence[Path] = ()) -> SoundFont:
    """Return the font called ``name`` (file stem), or the preferred one for ``None``.

    Raises
    ------
    ModelUnavailableError
        If FluidSynth or every font is missing.
    ParameterError
        If no font has that name.
    """
    state = availability(extra_dirs)
    if not state.available:
        raise ModelUnavailableError(state.reason)
    if name is None:
        return state.fonts[0]
    for font in state.fonts:
        if font.name == name:
            return font
    raise ParameterError(
        f"soundfont={name!r} must be one of {[f.name for f in state.fonts]}"
    )


def render_midi(
    midi: bytes,
    *,
    font: SoundFont,
    sr: int = 44_100,
    gain: float = DEFAULT_GAIN,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    max_duration_s: float | None = None,
) -> np.ndarray:
    """Render a Standard MIDI File with FluidSynth.

    Parameters
    ----------
    midi : bytes
        The file's bytes.
    font : SoundFont
        From :func:`choose_font`.
    sr : int
        Output sample rate.
    gain : float
        FluidSynth's master gain (0.2 is its default; 0.5 is louder without clipping
        ordinary material).
    timeout_s : float
        The render is killed after this many seconds.
    max_duration_s : float or None
        Refuse outputs longer than this.

    Returns
    -------
    y : np.ndarray [shape=(2, n_samples), dtype=float32]
        Stereo audio (FluidSynth's reverb and chorus included).

    Raises
    ------
    ModelUnavailableError
        If the binary is missing.
    ParameterError
        If FluidSynth rejects the file or produces nothing.
    LimitExceeded
        If the render times out or is too long.
    """
    sr = check_int("sr", sr, lo=MIN_SR, hi=MAX_SR)
    gain = check_float("gain", gain, lo=0.0, hi=10.0)
    timeout_s = check_float("timeout_s", timeout_s, lo=0.1, hi=3600.0)
    binary = find_binary()
    if binary is None:
        raise ModelUnavailableError("the fluidsynth program is not installed")
    with tempfile.TemporaryDirectory(prefix="residue-fluid-") as tmp:
        mid_path = Path(tmp) / "in.mid"
        wav_path = Path(tmp) / "out.wav"
        mid_path.write_bytes(midi)
        cmd = [
            str(binary), "-ni", "-q", "-g", f"{gain:g}", "-r", str(sr), "-F", str(wav_path),
            "-T", "wav", "-O", "float", str(font.path), str(mid_path),
        ]
        try:
            proc = subprocess.run(
                cmd, capture_output=True, timeout=timeout_s, check=False, stdin=subprocess.DEVNULL
            )
        except subprocess.TimeoutExpired:
            raise LimitExceeded(f"FluidSynth took longer than {timeout_s:g} s") from None
        if proc.returncode != 0 or not wav_path.is_file():
            detail = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise ParameterError(f"FluidSynth could not render the MIDI file: {detail[0]}")
        info = sf.info(str(wav_path))
        if max_duration_s is not None and info.duration > max_duration_s:
            raise LimitExceeded(
                f"the render lasts {info.duration:.0f} s; the limit is {max_duration_s:.0f} s"
            )
        y, _ = sf.read(str(wav_path), dtype="float32", always_2d=True)
    return np.ascontiguousarray(y.T)
