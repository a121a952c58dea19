"""Sounds: float32 (channels, n_samples) audio in ``.npy`` blobs, described by ``sounds`` rows."""

from __future__ import annotations

import builtins
import re
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from residue.dsp._validate import check_audio, check_float, check_int
from residue.errors import NotFound, ParameterError
from residue.store.blobs import BlobStore, array_to_bytes, bytes_to_array
from residue.store.db import DEFAULT_SESSION, Database, check_id, from_json, new_id, to_json

#: Limits of what a sound may be.
MAX_CHANNELS = 64
MIN_SAMPLE_RATE = 1_000
MAX_SAMPLE_RATE = 768_000
MAX_NAME_CHARS = 255
MIN_TEMPO_BPM = 1.0
MAX_TEMPO_BPM = 1_000.0

_ORIGIN = re.compile(r"[a-z][a-z0-9_-]{0,31}")


@dataclass(frozen=True)
class SoundRecord:
    """What the store knows about one sound (the samples themselves are in ``blob``).

    Attributes
    ----------
    sound_id : str
    name : str
        Display name.
    sample_rate : int
    channels : int
    n_samples : int
        Samples per channel.
    duration_s : float
        ``n_samples / sample_rate``.
    origin : str
        Where it came from: "upload", "demo", "render", ...
    tempo_bpm : float or None
        Detected or typed tempo, if any.
    created_at : float
        Seconds since the epoch.
    provenance : dict
        JSON object: source, operation, settings.
    blob : str
        sha256 digest of the ``.npy`` float32 (channels, n_samples) audio.
    """

    sound_id: str
    name: str
    sample_rate: int
    channels: int
    n_samples: int
    duration_s: float
    origin: str
    tempo_bpm: float | None
    created_at: float
    provenance: dict[str, Any]
    blob: str


def check_name(name: str, *, what: str = "name", max_chars: int = MAX_NAME_CHARS) -> str:
    """Strip ``name`` and check it has 1..``max_chars`` characters, none of them control ones."""
    if not isinstance(name, str):
        raise ParameterError(f"{what} must be a string, got {type(name).__name__}")
    stripped = name.strip()
    if not 1 <= len(stripped) <= max_chars:
        raise ParameterError(
            f"{what} must have 1 to {max_chars} characters after stripping spaces, "
            f"got {len(stripped)}"
        )
    if not stripped.isprintable():
        raise ParameterError(f"{what} {stripped!r} must not contain control characters")
    return stripped


def check_origin(origin: str) -> str:
    """Check an origin tag such as "upload" or "demo"."""
    if not isinstance(origin, str) or _ORIGIN.fullmatch(origin) is None:
        raise ParameterError(
            f"origin={origin!r} must be 1 to 32 lowercase letters, digits, '-' or '_', "
            "starting with a letter"
        )
    return origin


def _record(row: Any) -> SoundRecord:
    return SoundRecord(
        sound_id=row["sound_id"],
        name=row["name"],
        sample_rate=int(row["sample_rate"]),
        channels=int(row["channels"]),
        n_samples=int(row["n_samples"]),
        duration_s=int(row["n_samples"]) / int(row["sample_rate"]),
        origin=row["origin"],
        tempo_bpm=None if row["tempo_bpm"] is None else float(row["tempo_bpm"]),
        created_at=float(row["created_at"]),
        provenance=from_json(row["provenance"]),
        blob=row["blob"],
    )


class SoundStore:
    """Add, find, load and delete the sounds of one session.

    Parameters
    ----------
    db : Database
    blobs : BlobStore
    session_id : str
        Every read and write is confined to this session's sounds; a sound of another session
        is reported as absent.
    """

    def __init__(
        self, db: Database, blobs: BlobStore, *, session_id: str = DEFAULT_SESSION
    ) -> None:
        self._db = db
        self._blobs = blobs
        self.session_id = check_id("session", session_id)

    def add(
        self,
        y: np.ndarray,
        *,
        sr: int,
        name: str,
        origin: str,
        tempo_bpm: float | None = None,
        provenance: dict[str, Any] | None = None,
    ) -> SoundRecord:
        """Store audio and return its record.

        The blob is written and fsynced before the row is committed, so a row never names a
        missing blob.

        Parameters
        ----------
        y : np.ndarray [shape=(channels, n_samples) or (n_samples,)]
            Finite real audio; stored as float32. A 1-D array is one channel.
        sr : int
            Sample rate in Hz.
        name : str
            Display name, 1 to 255 characters after stripping.
        origin : str
            "upload", "demo", "render", ...
        tempo_bpm : float or None
        provenance : dict or None
            JSON-serialisable description of where the sound came from.

        Returns
        -------
        SoundRecord

        Raises
        ------
        ParameterError
            If any argument is out of range.
        """
        y32 = check_audio(y)
        if y32.ndim == 1:
            y32 = y32[np.newaxis]
        if y32.ndim != 2:
            raise ParameterError(f"y must have shape (channels, n_samples), got {y.shape}")
        channels, n_samples = y32.shape
        check_int("channels", channels, lo=1, hi=MAX_CHANNELS)
        sr = check_int("sr", sr, lo=MIN_SAMPLE_RATE, hi=MAX_SAMPLE_RATE)
        name = check_name(name)
        origin = check_origin(origin)
        if tempo_bpm is not None:
            tempo_bpm = check_float("tempo_bpm", tempo_bpm, lo=MIN_TEMPO_BPM, hi=MAX_TEMPO_BPM)
        prov = to_json("provenance", {} if provenance is None else provenance)

        data = array_to_bytes(np.ascontiguousarray(y32))
        digest = self._blobs.put(data)  # the slow, durable write happens outside the lock
        sound_id = new_id()
        created_at = time.time()
        try:
            with self._db.transaction():
                # A sweep or delete may have removed an identical unreferenced blob meanwhile;
                # under the lock nothing else can, so check and rewrite before committing.
                if not self._blobs.exists(digest):
                    self._blobs.put(data)
                self._db.execute(
                    "INSERT INTO sounds (sound_id, name, sample_rate, channels, n_samples, origin,"
                    " tempo_bpm, created_at, provenance, blob, session_id)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (sound_id, name, sr, channels, n_samples, origin, tempo_bpm, created_at, prov,
                     digest, self.session_id),
                )
        except BaseException:
            with self._db.locked():
                self._blobs.release([digest], referenced=self._db.blob_referenced)
            raise
        return SoundRecord(
            sound_id=sound_id,
            name=name,
            sample_rate=sr,
            channels=channels,
            n_samples=n_samples,
            duration_s=n_samples / sr,
            origin=origin,
            tempo_bpm=tempo_bpm,
            created_at=created_at,
            provenance=from_json(prov),
            blob=digest,
        )

    def get(self, sound_id: str) -> SoundRecord:
        """Return the record of ``sound_id``.

        Raises
        ------
        NotFound
            If there is no such sound.
        """
        check_id("sound", sound_id)
        row = self._db.query_one(
            "SELECT * FROM sounds WHERE sound_id = ? AND session_id = ?",
            (sound_id, self.session_id),
        )
        if row is None:
            raise NotFound(f"no sound {sound_id!r}")
        return _record(row)

    def list(self) -> builtins.list[SoundRecord]:
        """Every sound, newest first."""
        rows = self._db.query(
            "SELECT * FROM sounds WHERE session_id = ? ORDER BY created_at DESC, rowid DESC",
            (self.session_id,),
        )
        return [_record(row) for row in rows]

    def load(self, sound_id: str) -> tuple[np.ndarray, int]:
        """Return the samples and sample rate of ``sound_id``.

        Returns
        -------
        y : np.ndarray [shape=(channels, n_samples), dtype=float32]
            A fresh array the caller may modify.
        sr : int

        Raises
        ------
        NotFound
            If there is no such sound (or its blob is missing).
        """
        record = self.get(sound_id)
        y = bytes_to_array(self._blobs.get(record.blob))
        if y.dtype != np.float32 or y.shape != (record.channels, record.n_samples):
            raise NotFound(
                f"the samples of sound {sound_id!r} are damaged: got {y.dtype} {y.shape}, "
                f"expected float32 {(record.channels, record.n_samples)}"
            )
        return y, record.sample_rate

    def find_by_origin_name(self, origin: str, name: str) -> SoundRecord | None:
        """Return the newest sound of this exact origin and name, or None."""
        row = self._db.query_one(
            "SELECT * FROM sounds WHERE origin = ? AND name = ? AND session_id = ?"
            " ORDER BY created_at DESC, rowid DESC LIMIT 1",
            (origin, name, self.session_id),
        )
        return None if row is None else _record(row)

    def delete(self, sound_id: str) -> None:
        """Delete a sound, its decompositions, and their blobs that nothing else names.

        Raises
        ------
        NotFound
            If there is no such sound.
        """
        check_id("sound", sound_id)
        with self._db.locked():
            with self._db.transaction():
                row = self._db.query_one(
                    "SELECT blob FROM sounds WHERE sound_id = ? AND session_id = ?",
                    (sound_id, self.session_id),
                )
                if row is None:
                    raise NotFound(f"no sound {sound_id!r}")
                digests = [row["blob"]] + [
                    r["blob"]
                    for r in self._db.query(
                        "SELECT blob FROM decompositions WHERE sound_id = ?", (sound_id,)
                    )
                ]
                self._db.execute("DELETE FROM sounds WHERE sound_id = ?", (sound_id,))
            self._blobs.release(digests, referenced=self._db.blob_referenced)
