"""Reading untrusted audio bytes and writing WAV files.

Uploads are checked before decoding (size, then the header: format, channels, rate, declared
duration), then decoded in blocks so a header that lies about its length cannot make us allocate
what it claims.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from residue.config import Settings
from residue.errors import AudioDecodeError, LimitExceeded

#: Shortest sound worth mining (a tenth of a second).
MIN_DURATION_S = 0.1
#: Rates above this are resampled to :data:`RESAMPLE_TO_HZ` (STFT settings assume music rates).
MAX_NATIVE_RATE_HZ = 96_000
RESAMPLE_TO_HZ = 48_000
_BLOCK_FRAMES = 1 << 16


@dataclass(frozen=True)
class DecodedAudio:
    """Audio as residue keeps it: float32 (channels, n_samples) and its rate."""

    y: np.ndarray
    sr: int
    source_sr: int
    format: str


def decode_audio(data: bytes, *, settings: Settings, name: str = "upload") -> DecodedAudio:
    """Decode untrusted bytes into float32 audio, or raise a clear error.

    Parameters
    ----------
    data : bytes
        The file as uploaded.
    settings : Settings
        Limits: ``max_upload_bytes``, ``max_duration_s``, ``max_channels``, sample-rate range.
    name : str
        The file name, used only in messages.

    Returns
    -------
    DecodedAudio
        ``y`` has shape (channels, n_samples), dtype float32, at most 2 channels.

    Raises
    ------
    LimitExceeded
        The upload is larger or longer than the settings allow.
    AudioDecodeError
        The bytes are not audio residue can read, or the audio is unusable.
    """
    if len(data) > settings.max_upload_bytes:
        raise LimitExceeded(
            f"{name} is {len(data) / 1e6:.1f} MB; the limit is "
            f"{settings.max_upload_bytes / 1e6:.0f} MB"
        )
    if len(data) == 0:
        raise AudioDecodeError(f"{name} is empty")
    try:
        f = sf.SoundFile(io.BytesIO(data))
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        reason = getattr(exc, "error_string", "") or "format not recognised"
        raise AudioDecodeError(
            f"{name} is not an audio file residue can read (WAV, FLAC, OGG, MP3, AIFF): "
            f"{reason.rstrip('.').lower()}"
        ) from None
    with f:
        sr, channels = int(f.samplerate), int(f.channels)
        if not settings.min_sample_rate <= sr <= settings.max_sample_rate:
            raise AudioDecodeError(
                f"{name} has a sample rate of {sr} Hz; residue reads "
                f"{settings.min_sample_rate}-{settings.max_sample_rate} Hz"
            )
        if channels > 2:
            raise AudioDecodeError(
                f"{name} has {channels} channels; residue reads mono or stereo files "
                "(mix it down to stereo first)"
            )
        if channels < 1:
            raise AudioDecodeError(f"{name} declares no channels")
        max_frames = int(settings.max_duration_s * sr)
        # f.frames comes from the header and may lie; it is only used to refuse early.
        declared = int(f.frames) if f.frames is not None else 0
        if 0 < declared and declared > max_frames and f.format not in {"MP3", "OGG"}:
            raise LimitExceeded(
                f"{name} lasts {declared / sr / 60:.1f} min; the limit is "
                f"{settings.max_duration_s / 60:.0f} min"
            )
        blocks: list[np.ndarray] = []
        n = 0
        try:
            while True:
                block = f.read(_BLOCK_FRAMES, dtype="float32", always_2d=True)
                if block.shape[0] == 0:
                    break
                n += block.shape[0]
                if n > max_frames:
                    raise LimitExceeded(
                        f"{name} is longer than the {settings.max_duration_s / 60:.0f} min limit"
                    )
                blocks.append(block)
        except sf.LibsndfileError as exc:
            if not blocks:
                reason = getattr(exc, "error_string", "") or "decoding failed"
                raise AudioDecodeError(f"{name} could not be decoded: {reason}") from None
            # A truncated file: keep what decoded, as players do.
        fmt = str(f.format)
    if n == 0:
        raise AudioDecodeError(f"{name} contains no samples")
    y = np.concatenate(blocks, axis=0).T.copy()
    if not np.all(np.isfinite(y)):
        raise AudioDecodeError(f"{name} contains NaN or infinite samples")
    if y.shape[1] < MIN_DURATION_S * sr:
        raise AudioDecodeError(
            f"{name} lasts {y.shape[1] / sr * 1000:.0f} ms; residue needs at least "
            f"{MIN_DURATION_S * 1000:.0f} ms"
        )
    source_sr = sr
    if sr > MAX_NATIVE_RATE_HZ:
        y = resample(y, sr_from=sr, sr_to=RESAMPLE_TO_HZ)
        sr = RESAMPLE_TO_HZ
    return DecodedAudio(y=y, sr=sr, source_sr=source_sr, format=fmt)


def read_audio_file(path: Path, *, settings: Settings) -> DecodedAudio:
    """Read and check an audio file from disk (the CLI's entry point)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AudioDecodeError(f"cannot read {path}: {exc.strerror}") from None
    return decode_audio(data, settings=settings, name=path.name)


def resample(y: np.ndarray, *, sr_from: int, sr_to: int) -> np.ndarray:
    """Resample (channels, n) float32 audio with soxr (high quality)."""
    if sr_from == sr_to:
        return y
    out = soxr.resample(y.T, sr_from, sr_to, quality="HQ")
    return np.ascontiguousarray(np.asarray(out, dtype=np.float32).T)


def encode_wav(y: np.ndarray, *, sr: int, subtype: str = "PCM_24") -> bytes:
    """Encode (channels, n) audio as a WAV file (24-bit by default: what DAWs import best).

    Peaks above full scale are limited by scaling the whole signal, never clipped.
    """
    y = np.asarray(y, dtype=np.float32)
    if y.ndim == 1:
        y = y[None, :]
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    if peak > 1.0:
        y = y / peak
    buf = io.BytesIO()
    sf.write(buf, y.T, sr, format="WAV", subtype=subtype)
    return buf.getvalue()


def write_wav(path: Path, y: np.ndarray, *, sr: int) -> None:
    """Write (channels, n) audio to ``path`` as 24-bit WAV."""
    path.write_bytes(encode_wav(y, sr=sr))
