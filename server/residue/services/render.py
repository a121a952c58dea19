"""Rendering a decomposition with edits: auditions, exports, remixes."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator

import numpy as np

from residue import protocol
from residue.dsp import components, units
from residue.errors import ParameterError
from residue.services.audio_io import encode_wav
from residue.services.context import Context, OpenDecomposition
from residue.services.decompose import open_decomposition

#: The first audio chunk is small so that sound starts at once; the rest are larger.
FIRST_CHUNK_FRAMES = 4096
CHUNK_FRAMES = 32768


def component_spectrum(
    ctx: Context, ref: protocol.ComponentRef, *, target: OpenDecomposition
) -> np.ndarray:
    """The spectrum ``ref`` names, on ``target``'s frequency grid (unit sum)."""
    if isinstance(ref, protocol.UnitComponent):
        source = open_decomposition(ctx, ref.decomposition_id)
        if ref.unit >= source.n_components:
            raise ParameterError(
                f"unit={ref.unit} must be in [0, {source.n_components - 1}] "
                f"for decomposition {ref.decomposition_id!r}"
            )
        w = source.W[:, ref.unit]
        sr_from, n_fft_from = source.sr, source.n_fft
    else:
        w, sr_from, n_fft_from = ctx.store.library.load_spectrum(ref.component_id)
    return components.resample_component(
        w, sr_from=sr_from, n_fft_from=n_fft_from, sr_to=target.sr, n_fft_to=target.n_fft
    )


def render(ctx: Context, spec: protocol.RenderSpec) -> tuple[OpenDecomposition, np.ndarray]:
    """Render ``spec``: float32 (channels, n) audio of the decomposition's region."""
    opened = open_decomposition(ctx, spec.decomposition_id)
    k = opened.n_components
    for unit in [*(spec.units or []), *(e.unit for e in spec.edits)]:
        if unit >= k:
            raise ParameterError(f"unit={unit} must be in [0, {k - 1}]")
    edits = {
        e.unit: units.UnitEdit(
            component=None
            if e.component is None
            else component_spectrum(ctx, e.component, target=opened),
            gain_db=e.gain_db,
            reverse=e.reverse,
            stretch=e.stretch,
            shift_frames=e.shift_frames,
        )
        for e in spec.edits
    }
    y = units.render_units(
        opened.D,
        opened.W_channels,
        opened.H,
        units=spec.units,
        edits=edits,
        hop_length=opened.hop_length,
        length=opened.length,
        device=ctx.settings.device,
    )
    return opened, y


def pcm_chunks(y: np.ndarray) -> Iterator[bytes]:
    """Interleaved little-endian float32 PCM in chunks: a small first one, then larger ones."""
    inter = np.ascontiguousarray(np.asarray(y, dtype="<f4").T)
    n = inter.shape[0]
    start, size = 0, FIRST_CHUNK_FRAMES
    while start < n:
        yield inter[start : start + size].tobytes()
        start += size
        size = CHUNK_FRAMES


def units_zip(ctx: Context, decomposition_id: str) -> bytes:
    """Every unit of a decomposition as a WAV, zipped, named after the sound."""
    opened = open_decomposition(ctx, decomposition_id)
    each = units.render_each(
        opened.D,
        opened.W_channels,
        opened.H,
        hop_length=opened.hop_length,
        length=opened.length,
        device=ctx.settings.device,
    )
    buf = io.BytesIO()
    stem = export_stem(opened)
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for k, y in enumerate(each):
            zf.writestr(f"{stem} unit {k + 1:02d}.wav", encode_wav(y, sr=opened.sr))
    return buf.getvalue()


def export_stem(opened: OpenDecomposition) -> str:
    """A file name stem that says what the file is: sound, unit count."""
    name = opened.sound.name.rsplit(".", 1)[0]
    safe = "".join(ch if ch.isalnum() or ch in " -_" else "_" for ch in name).strip() or "sound"
    return f"{safe} - {opened.n_components} units"
