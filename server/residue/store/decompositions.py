"""Stored decompositions of sounds: named arrays (W, H, loss, ...) as one ``.npz`` blob each.

A decomposition is found again by its sound and a canonical ``key`` string of its settings, so
asking twice for the same settings reuses the first result.
"""

from __future__ import annotations

import builtins
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from residue.errors import NotFound, ParameterError
from residue.store.blobs import BlobStore, arrays_to_bytes, bytes_to_arrays
from residue.store.db import DEFAULT_SESSION, Database, check_id, from_json, new_id, to_json

#: Longest accepted settings key.
MAX_KEY_CHARS = 4096


@dataclass(frozen=True)
class DecompositionRecord:
    """What the store knows about one decomposition.

    Attributes
    ----------
    decomposition_id : str
    sound_id : str
        The sound it decomposes; deleting the sound deletes it.
    key : str
        Canonical string of ``settings``, for cache lookup.
    settings : dict
        JSON object of the settings.
    created_at : float
        Seconds since the epoch.
    blob : str
        sha256 digest of the ``.npz`` of its arrays.
    """

    decomposition_id: str
    sound_id: str
    key: str
    settings: dict[str, Any]
    created_at: float
    blob: str


def _record(row: Any) -> DecompositionRecord:
    return DecompositionRecord(
        decomposition_id=row["decomposition_id"],
        sound_id=row["sound_id"],
        key=row["key"],
        settings=from_json(row["settings"]),
        created_at=float(row["created_at"]),
        blob=row["blob"],
    )


def _check_arrays(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    if not isinstance(arrays, dict) or not arrays:
        raise ParameterError("arrays must be a non-empty dict of name -> numpy array")
    for name, a in arrays.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ParameterError(f"array name {name!r} must be a Python identifier")
        if not isinstance(a, np.ndarray):
            raise ParameterError(f"arrays[{name!r}] must be a numpy array, got {type(a).__name__}")
        if a.dtype.kind not in "biufc":
            raise ParameterError(f"arrays[{name!r}] has dtype {a.dtype}; only numbers are stored")
    return arrays


class DecompositionStore:
    """Add, find and load the decompositions of one session's sounds.

    Parameters
    ----------
    db : Database
    blobs : BlobStore
    session_id : str
        Every read and write is confined to this session; another session's decomposition is
        reported as absent.
    """

    def __init__(
        self, db: Database, blobs: BlobStore, *, session_id: str = DEFAULT_SESSION
    ) -> None:
        self._db = db
        self._blobs = blobs
        self.session_id = check_id("session", session_id)

    def find(self, sound_id: str, key: str) -> DecompositionRecord | None:
        """Return the decomposition of ``sound_id`` with settings ``key``, or None."""
        row = self._db.query_one(
            "SELECT * FROM decompositions WHERE sound_id = ? AND key = ? AND session_id = ?",
            (sound_id, key, self.session_id),
        )
        return None if row is None else _record(row)

    def add(
        self,
        sound_id: str,
        *,
        key: str,
        settings: dict[str, Any],
        arrays: dict[str, np.ndarray],
    ) -> DecompositionRecord:
        """Store a decomposition of ``sound_id`` and return its record.

        If one with the same sound and key is already stored (two identical requests raced),
        that one is kept and returned, so ids handed out earlier stay valid.

        Parameters
        ----------
        sound_id : str
        key : str
            Canonical settings string, 1 to 4096 characters.
        settings : dict
            JSON-serialisable settings.
        arrays : dict of str -> np.ndarray
            Numeric arrays such as ``W`` (F, K), ``H`` (C, K, T), ``loss`` (n_iter,); stored
            with their dtypes and shapes.

        Returns
        -------
        DecompositionRecord

        Raises
        ------
        NotFound
            If there is no such sound.
        ParameterError
            If the key, settings or arrays are malformed.
        """
        check_id("sound", sound_id)
        if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY_CHARS:
            raise ParameterError(f"key must be a string of 1 to {MAX_KEY_CHARS} characters")
        settings_json = to_json("settings", settings)
        data = arrays_to_bytes(**_check_arrays(arrays))
        digest = self._blobs.put(data)
        decomposition_id = new_id()
        created_at = time.time()
        existing: DecompositionRecord | None = None
        try:
            with self._db.transaction():
                found = self._db.query_one(
                    "SELECT 1 FROM sounds WHERE sound_id = ? AND session_id = ?",
                    (sound_id, self.session_id),
                )
                if found is None:
                    raise NotFound(f"no sound {sound_id!r}")
                existing = self.find(sound_id, key)
                if existing is None:
                    if not self._blobs.exists(digest):
                        self._blobs.put(data)
                    self._db.execute(
                        "INSERT INTO decompositions (decomposition_id, sound_id, key, settings,"
                        " created_at, blob, session_id) VALUES (?,?,?,?,?,?,?)",
                        (decomposition_id, sound_id, key, settings_json, created_at, digest,
                         self.session_id),
                    )
        except BaseException:
            with self._db.locked():
                self._blobs.release([digest], referenced=self._db.blob_referenced)
            raise
        if existing is not None:
            with self._db.locked():
                self._blobs.release([digest], referenced=self._db.blob_referenced)
            return existing
        return DecompositionRecord(
            decomposition_id=decomposition_id,
            sound_id=sound_id,
            key=key,
            settings=from_json(settings_json),
            created_at=created_at,
            blob=digest,
        )

    def get(self, decomposition_id: str) -> DecompositionRecord:
        """Return the record of ``decomposition_id``.

        Raises
        ------
        NotFound
            If there is no such decomposition.
        """
        check_id("decomposition", decomposition_id)
        row = self._db.query_one(
            "SELECT * FROM decompositions WHERE decomposition_id = ? AND session_id = ?",
            (decomposition_id, self.session_id),
        )
        if row is None:
            raise NotFound(f"no decomposition {decomposition_id!r}")
        return _record(row)

    def load(self, decomposition_id: str) -> tuple[DecompositionRecord, dict[str, np.ndarray]]:
        """Return the record and the arrays of ``decomposition_id`` (fresh, free to modify).

        Raises
        ------
        NotFound
            If there is no such decomposition (or its blob is missing).
        """
        record = self.get(decomposition_id)
        return record, bytes_to_arrays(self._blobs.get(record.blob))

    def for_sound(self, sound_id: str) -> builtins.list[DecompositionRecord]:
        """Every decomposition of ``sound_id``, newest first (empty if there is none)."""
        rows = self._db.query(
            "SELECT * FROM decompositions WHERE sound_id = ? AND session_id = ?"
            " ORDER BY created_at DESC, rowid DESC",
            (sound_id, self.session_id),
        )
        return [_record(row) for row in rows]

    def delete(self, decomposition_id: str) -> None:
        """Delete one decomposition and its blob if nothing else names it.

        Raises
        ------
        NotFound
            If there is no such decomposition.
        """
        check_id("decomposition", decomposition_id)
        with self._db.locked():
            with self._db.transaction():
                row = self._db.query_one(
                    "SELECT blob FROM decompositions WHERE decomposition_id = ? AND session_id = ?",
                    (decomposition_id, self.session_id),
                )
                if row is None:
                    raise NotFound(f"no decomposition {decomposition_id!r}")
                self._db.execute(
                    "DELETE FROM decompositions WHERE decomposition_id = ?", (decomposition_id,)
                )
            self._blobs.release([row["blob"]], referenced=self._db.blob_referenced)
