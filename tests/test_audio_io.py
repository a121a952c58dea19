from __future__ import annotations

import io
import struct

import numpy as np
import pytest
import soundfile as sf

from residue.config import Settings
from residue.errors import AudioDecodeError, LimitExceeded
from residue.services.audio_io import decode_audio, encode_wav

SETTINGS = Settings(max_upload_bytes=5_000_000, max_duration_s=30.0)


def wav_bytes(y: np.ndarray, sr: int, subtype: str = "PCM_16") -> bytes:
    buf = io.BytesIO()
    sf.write(buf, y.T if y.ndim == 2 else y, sr, format="WAV", subtype=subtype)
    return buf.getvalue()


def tone(sr: int = 44100, seconds: float = 0.5, channels: int = 2) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    y = 0.5 * np.sin(2 * np.pi * 440 * t).astype(np.float32)
    return np.stack([y] * channels)


@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("fmt", ["WAV", "FLAC", "OGG"])
def test_decodes_common_formats(channels: int, fmt: str) -> None:
    y = tone(channels=channels)
    buf = io.BytesIO()
    sf.write(buf, y.T, 44100, format=fmt)
    out = decode_audio(buf.getvalue(), settings=SETTINGS)
    assert out.y.shape[0] == channels
    assert out.y.dtype == np.float32
    assert out.sr == 44100
    assert abs(out.y.shape[1] - y.shape[1]) < 2048  # OGG may pad
    assert 0.3 < np.max(np.abs(out.y)) < 0.7


def test_not_audio() -> None:
    with pytest.raises(AudioDecodeError, match="not an audio file"):
        decode_audio(
            b"this is plain text, not a wav file" * 10, settings=SETTINGS, name="notes.wav"
        )


def test_random_bytes_named_wav(rng: np.random.Generator) -> None:
    with pytest.raises(AudioDecodeError, match="not an audio file"):
        decode_audio(rng.bytes(10_000), settings=SETTINGS, name="noise.wav")


def test_empty() -> None:
    with pytest.raises(AudioDecodeError, match="empty"):
        decode_audio(b"", settings=SETTINGS)


def test_too_large() -> None:
    with pytest.raises(LimitExceeded, match="limit"):
        decode_audio(b"\0" * 6_000_000, settings=SETTINGS)


def test_too_long() -> None:
    data = wav_bytes(tone(sr=8000, seconds=31.0, channels=1), 8000)
    with pytest.raises(LimitExceeded, match="min"):
        decode_audio(data, settings=SETTINGS)


def test_truncated_keeps_what_decoded() -> None:
    data = wav_bytes(tone(seconds=1.0), 44100)
    out = decode_audio(data[: len(data) // 2], settings=SETTINGS)
    assert 0.4 * 44100 < out.y.shape[1] < 0.6 * 44100


def test_lying_header_declares_gigabytes() -> None:
    data = bytearray(wav_bytes(tone(seconds=0.5, channels=1), 44100))
    # RIFF size and data chunk size claim ~4 GB.
    data[4:8] = struct.pack("<I", 0xFFFFFFF0)
    pos = data.index(b"data")
    data[pos + 4 : pos + 8] = struct.pack("<I", 0xFFFFFFE0)
    try:
        out = decode_audio(bytes(data), settings=SETTINGS)
    except (AudioDecodeError, LimitExceeded):
        return  # a clear refusal is fine too
    assert out.y.shape[1] <= 0.5 * 44100 + 1


@pytest.mark.parametrize("n", [0, 1])
def test_zero_or_one_sample(n: int) -> None:
    data = wav_bytes(np.zeros((1, n), np.float32), 44100)
    with pytest.raises(AudioDecodeError, match=r"no samples|at least"):
        decode_audio(data, settings=SETTINGS)


def test_eight_channels() -> None:
    data = wav_bytes(tone(channels=8), 44100)
    with pytest.raises(AudioDecodeError, match="8 channels"):
        decode_audio(data, settings=SETTINGS)


def test_192k_is_resampled() -> None:
    data = wav_bytes(tone(sr=192000, seconds=0.25), 192000)
    out = decode_audio(data, settings=SETTINGS)
    assert out.sr == 48000
    assert out.source_sr == 192000
    assert abs(out.y.shape[1] - 12000) <= 2


def test_absurd_rate() -> None:
    data = wav_bytes(tone(sr=1000, seconds=0.5), 1000)
    with pytest.raises(AudioDecodeError, match="sample rate"):
        decode_audio(data, settings=SETTINGS)


def test_nan_samples() -> None:
    y = tone(channels=1)
    y[0, 100] = np.nan
    y[0, 200] = np.inf
    with pytest.raises(AudioDecodeError, match="NaN"):
        decode_audio(wav_bytes(y, 44100, subtype="FLOAT"), settings=SETTINGS)


def test_digital_silence_is_accepted() -> None:
    out = decode_audio(wav_bytes(np.zeros((2, 22050), np.float32), 44100), settings=SETTINGS)
    assert not np.any(out.y)


def test_encode_wav_roundtrip_and_limits_peaks() -> None:
    y = tone(channels=2) * 3.0  # peaks at 1.5
    data = encode_wav(y, sr=44100)
    back, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    assert sr == 44100
    assert back.shape == (y.shape[1], 2)
    assert np.max(np.abs(back)) <= 1.0
    np.testing.assert_allclose(back.T, y / 1.5, atol=1e-4)
