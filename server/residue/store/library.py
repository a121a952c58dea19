"""The component library: spectra worth keeping, with names, tags and descriptors.

A component is one NMF spectrum ``w`` (F,) with the sample rate and FFT size it was made with,
stored as an ``.npy`` blob. Its row carries a small descriptor vector (for "sounds like" search)
and a 256-point display curve, so listing and searching never read blob files.

Every change (add, rename, tags, delete) appends a row to ``library_ops`` in the same
transaction, so the ordered log is exactly the committed history of the library.
"""

from __future__ import annotations

import builtins
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from residue.dsp._validate import check_int, check_nonnegative
from residue.errors import NotFound, ParameterError
from residue.store.blobs import BlobStore, array_to_bytes, bytes_to_array
from residue.store.db import Database, check_id, from_json, new_id, to_json
from residue.store.sounds import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, check_name

#: Limits of names, tags, creators and arrays.
MAX_NAME_CHARS = 120
MAX_TAG_CHARS = 40
MAX_TAGS = 16
MAX_CREATOR_CHARS = 120
MIN_N_FFT = 16
MAX_N_FFT = 1 << 16
MAX_DESCRIPTOR_DIM = 4096
CURVE_POINTS = 256
MAX_NEAREST = 10_000

Op = Literal["add", "rename", "tags", "delete"]

_TAG_FORBIDDEN = re.compile(r"[\s,]")


@dataclass(frozen=True, eq=False)
class ComponentRecord:
    """One component of the library (its spectrum is in ``blob``).

    Records hold numpy arrays, so they compare by identity; compare fields instead.

    Attributes
    ----------
    component_id : str
    name : str
    tags : tuple of str
        In the order given, without duplicates.
    creator : str
        Who kept it (may be empty).
    created_at : float
        Seconds since the epoch.
    provenance : dict
        JSON object: source sound, decomposition, unit.
    sample_rate : int
    n_fft : int
        The spectrum has ``n_fft // 2 + 1`` bins.
    descriptor : np.ndarray [shape=(D,), dtype=float32]
        Read-only feature vector for nearest-neighbour search.
    curve : np.ndarray [shape=(256,), dtype=float32]
        Read-only display curve.
    blob : str
        sha256 digest of the ``.npy`` float32 spectrum.
    """

    component_id: str
    name: str
    tags: tuple[str, ...]
    creator: str
    created_at: float
    provenance: dict[str, Any]
    sample_rate: int
    n_fft: int
    descriptor: np.ndarray = field(repr=False)
    curve: np.ndarray = field(repr=False)
    blob: str


@dataclass(frozen=True)
class LibraryOp:
    """One entry of the library's change log: ``seq`` grows by one per committed change."""

    seq: int
    op: str
    component_id: str
    at: float


def check_tags(tags: Iterable[str]) -> tuple[str, ...]:
    """Check tags and return them deduplicated in their first-seen order.

    Each tag has 1 to 40 characters, no whitespace and no commas; at most 16 tags. Tags are
    compared exactly (case matters).

    Examples
    --------
    >>> check_tags(["kick", "dark", "kick"])
    ('kick', 'dark')
    """
    if isinstance(tags, (str, bytes)):
        raise ParameterError(f"tags must be a list of strings, not one string ({tags!r})")
    try:
        items = list(tags)
    except TypeError:
        raise ParameterError(f"tags must be a list of strings, got {type(tags).__name__}") from None
    out: list[str] = []
    for tag in items:
        check_tag(tag)
        if tag not in out:
            out.append(tag)
    if len(out) > MAX_TAGS:
        raise ParameterError(f"at most {MAX_TAGS} tags are allowed, got {len(out)}")
    return tuple(out)


def check_tag(tag: str) -> str:
    """Check one tag: 1 to 40 printable characters, no whitespace, no commas."""
    if not isinstance(tag, str):
        raise ParameterError(f"tag {tag!r} must be a string")
    if not 1 <= len(tag) <= MAX_TAG_CHARS:
        raise ParameterError(f"tag {tag!r} must have 1 to {MAX_TAG_CHARS} characters")
    if _TAG_FORBIDDEN.search(tag) or not tag.isprintable():
        raise ParameterError(f"tag {tag!r} must not contain spaces, commas or control characters")
    return tag


def _check_vector(name: str, v: np.ndarray, *, lo: int, hi: int) -> np.ndarray:
    if not isinstance(v, np.ndarray):
        raise ParameterError(f"{name} must be a numpy array, got {type(v).__name__}")
    if v.ndim != 1 or not lo <= v.shape[0] <= hi:
        span = f"{lo}" if lo == hi else f"{lo} to {hi}"
        raise ParameterError(f"{name} must be 1-D with {span} values, got shape {v.shape}")
    if v.dtype.kind not in "biuf":
        raise ParameterError(f"{name} must be real-valued, got dtype {v.dtype}")
    out = np.asarray(v, dtype=np.float32)
    if not np.all(np.isfinite(out)):
        raise ParameterError(f"{name} contains NaN or infinite values")
    return out


def _to_blob(v: np.ndarray) -> bytes:
    return np.ascontiguousarray(v, dtype="<f4").tobytes()


def _from_blob(b: bytes) -> np.ndarray:
    v = np.frombuffer(b, dtype="<f4").astype(np.float32)
    v.flags.writeable = False
    return v


class Library:
    """The shared library of components.

    Parameters
    ----------
    db : Database
    blobs : BlobStore
    """

    def __init__(self, db: Database, blobs: BlobStore) -> None:
        self._db = db
        self._blobs = blobs

    # -- changes -------------------------------------------------------------------------------

    def add(
        self,
        w: np.ndarray,
        *,
        sr: int,
        n_fft: int,
        name: str,
        tags: Iterable[str] = (),
        creator: str = "",
        provenance: dict[str, Any],
        descriptor: np.ndarray,
        curve: np.ndarray,
    ) -> ComponentRecord:
        """Keep a component and return its record.

        Parameters
        ----------
        w : np.ndarray [shape=(n_fft // 2 + 1,)]
            Non-negative, finite magnitude spectrum; stored as float32.
        sr : int
            Sample rate in Hz of the sound it came from.
        n_fft : int
            FFT size of the spectrum.
        name : str
            1 to 120 characters after stripping.
        tags : iterable of str
            At most 16 tags of 1 to 40 characters without whitespace or commas.
        creator : str
            Who kept it, up to 120 characters (may be empty).
        provenance : dict
            JSON-serialisable description of where it came from.
        descriptor : np.ndarray [shape=(D,)]
            Finite feature vector; every component of a library has the same D.
        curve : np.ndarray [shape=(256,)]
            Finite display curve.

        Returns
        -------
        ComponentRecord

        Raises
        ------
        ParameterError
            If any argument is malformed, or ``descriptor`` has another length than the
            library's other descriptors.
        """
        sr = check_int("sr", sr, lo=MIN_SAMPLE_RATE, hi=MAX_SAMPLE_RATE)
        n_fft = check_int("n_fft", n_fft, lo=MIN_N_FFT, hi=MAX_N_FFT)
        w32 = check_nonnegative(w, name="w", ndim_min=1)
        if w32.shape != (n_fft // 2 + 1,):
            raise ParameterError(
                f"w must have shape ({n_fft // 2 + 1},) for n_fft={n_fft}, got {w.shape}"
            )
        name = check_name(name, max_chars=MAX_NAME_CHARS)
        tag_tuple = check_tags(tags)
        creator = self._check_creator(creator)
        prov = to_json("provenance", provenance)
        d32 = _check_vector("descriptor", descriptor, lo=1, hi=MAX_DESCRIPTOR_DIM)
        c32 = _check_vector("curve", curve, lo=CURVE_POINTS, hi=CURVE_POINTS)

        data = array_to_bytes(np.ascontiguousarray(w32))
        digest = self._blobs.put(data)
        component_id = new_id()
        now = time.time()
        try:
            with self._db.transaction():
                dim = self._dimension()
                if dim is not None and dim != d32.shape[0]:
                    raise ParameterError(
                        f"descriptor has {d32.shape[0]} values but the library's descriptors "
                        f"have {dim}"
                    )
                if not self._blobs.exists(digest):
                    self._blobs.put(data)
                self._db.execute(
                    "INSERT INTO components (component_id, name, creator, created_at, provenance,"
                    " sample_rate, n_fft, descriptor, curve, blob) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (component_id, name, creator, now, prov, sr, n_fft, _to_blob(d32),
                     _to_blob(c32), digest),
                )
                self._write_tags(component_id, tag_tuple)
                self._log("add", component_id, now)
        except BaseException:
            with self._db.locked():
                self._blobs.release([digest], referenced=self._db.blob_referenced)
            raise
        return ComponentRecord(
            component_id=component_id,
            name=name,
            tags=tag_tuple,
            creator=creator,
            created_at=now,
            provenance=from_json(prov),
            sample_rate=sr,
            n_fft=n_fft,
            descriptor=_from_blob(_to_blob(d32)),
            curve=_from_blob(_to_blob(c32)),
            blob=digest,
        )

    def rename(self, component_id: str, name: str) -> ComponentRecord:
        """Give a component a new name (1 to 120 characters after stripping)."""
        check_id("component", component_id)
        name = check_name(name, max_chars=MAX_NAME_CHARS)
        with self._db.transaction():
            cur = self._db.execute(
                "UPDATE components SET name = ? WHERE component_id = ?", (name, component_id)
            )
            if cur.rowcount == 0:
                raise NotFound(f"no component {component_id!r}")
            self._log("rename", component_id, time.time())
        return self.get(component_id)

    def set_tags(self, component_id: str, tags: Iterable[str]) -> ComponentRecord:
        """Replace a component's tags (see :func:`check_tags`)."""
        check_id("component", component_id)
        tag_tuple = check_tags(tags)
        with self._db.transaction():
            self._require(component_id)
            self._db.execute("DELETE FROM component_tags WHERE component_id = ?", (component_id,))
            self._write_tags(component_id, tag_tuple)
            self._log("tags", component_id, time.time())
        return self.get(component_id)

    def delete(self, component_id: str) -> None:
        """Remove a component (and its spectrum blob if nothing else names it).

        Raises
        ------
        NotFound
            If there is no such component.
        """
        check_id("component", component_id)
        with self._db.locked():
            with self._db.transaction():
                row = self._require(component_id)
                self._db.execute("DELETE FROM components WHERE component_id = ?", (component_id,))
                self._log("delete", component_id, time.time())
            self._blobs.release([row["blob"]], referenced=self._db.blob_referenced)

    # -- reading -------------------------------------------------------------------------------

    def get(self, component_id: str) -> ComponentRecord:
        """Return the record of ``component_id``.

        Raises
        ------
        NotFound
            If there is no such component.
        """
        check_id("component", component_id)
        with self._db.locked():
            row = self._db.query_one(
                "SELECT * FROM components WHERE component_id = ?", (component_id,)
            )
            if row is None:
                raise NotFound(f"no component {component_id!r}")
            tags = self._db.query(
                "SELECT tag FROM component_tags WHERE component_id = ? ORDER BY position",
                (component_id,),
            )
        return self._record(row, tuple(t["tag"] for t in tags))

    def list(self, *, query: str = "", tag: str | None = None) -> builtins.list[ComponentRecord]:
        """Components whose name contains ``query`` (ignoring case) and that carry ``tag``.

        Parameters
        ----------
        query : str
            Case-insensitive substring of the name; empty (or spaces) matches every name.
        tag : str or None
            Exact tag to require; None or "" requires none.

        Returns
        -------
        list of ComponentRecord
            Newest first.
        """
        if not isinstance(query, str):
            raise ParameterError(f"query must be a string, got {type(query).__name__}")
        where, params = self._filter(query=query.strip(), tag=tag)
        with self._db.locked():
            rows = self._db.query(
                f"SELECT * FROM components c {where} ORDER BY c.created_at DESC, c.rowid DESC",
                params,
            )
            tag_rows = self._db.query(
                f"SELECT t.component_id, t.tag FROM component_tags t JOIN components c"
                f" USING (component_id) {where} ORDER BY t.component_id, t.position",
                params,
            )
        tags: dict[str, list[str]] = {}
        for t in tag_rows:
            tags.setdefault(t["component_id"], []).append(t["tag"])
        return [self._record(r, tuple(tags.get(r["component_id"], ()))) for r in rows]

    def load_spectrum(self, component_id: str) -> tuple[np.ndarray, int, int]:
        """Return the spectrum of a component.

        Returns
        -------
        w : np.ndarray [shape=(n_fft // 2 + 1,), dtype=float32]
            A fresh array the caller may modify.
        sr : int
        n_fft : int

        Raises
        ------
        NotFound
            If there is no such component (or its blob is missing).
        """
        record = self.get(component_id)
        w = bytes_to_array(self._blobs.get(record.blob))
        return w, record.sample_rate, record.n_fft

    def descriptor_matrix(self, *, tag: str | None = None) -> tuple[builtins.list[str], np.ndarray]:
        """Ids and stacked descriptors of the components (carrying ``tag``), newest first.

        Returns
        -------
        ids : list of str
        X : np.ndarray [shape=(N, D), dtype=float32]
            Row ``i`` is the descriptor of ``ids[i]``; shape (0, 0) for an empty library.
        """
        where, params = self._filter(query="", tag=tag)
        rows = self._db.query(
            f"SELECT c.component_id, c.descriptor FROM components c {where}"
            " ORDER BY c.created_at DESC, c.rowid DESC",
            params,
        )
        if not rows:
            return [], np.zeros((0, 0), dtype=np.float32)
        X = np.stack([np.frombuffer(r["descriptor"], dtype="<f4") for r in rows])
        return [r["component_id"] for r in rows], X.astype(np.float32)

    def nearest(
        self, vector: np.ndarray, *, limit: int, exclude: str | None = None
    ) -> builtins.list[tuple[ComponentRecord, float]]:
        """Return the ``limit`` components whose descriptors are nearest ``vector`` (Euclidean).

        Parameters
        ----------
        vector : np.ndarray [shape=(D,)]
            A descriptor of the library's length D.
        limit : int
            At most this many results, 1 to 10000.
        exclude : str or None
            A component id to leave out (typically the one searched from).

        Returns
        -------
        list of (ComponentRecord, float)
            Nearest first; equal distances keep the newest first.
        """
        limit = check_int("limit", limit, lo=1, hi=MAX_NEAREST)
        v = _check_vector("vector", vector, lo=1, hi=MAX_DESCRIPTOR_DIM)
        ids, X = self.descriptor_matrix()
        if not ids:
            return []
        if X.shape[1] != v.shape[0]:
            raise ParameterError(
                f"vector has {v.shape[0]} values but the library's descriptors have {X.shape[1]}"
            )
        dist = np.sqrt(np.sum((X.astype(np.float64) - v.astype(np.float64)) ** 2, axis=1))
        out: builtins.list[tuple[ComponentRecord, float]] = []
        for i in np.argsort(dist, kind="stable"):
            if ids[i] == exclude:
                continue
            try:
                out.append((self.get(ids[i]), float(dist[i])))
            except NotFound:  # deleted meanwhile
                continue
            if len(out) == limit:
                break
        return out

    def ops_since(self, seq: int = 0, *, limit: int | None = None) -> builtins.list[LibraryOp]:
        """Return the changes with a sequence number above ``seq``, oldest first."""
        seq = check_int("seq", seq, lo=0)
        sql = "SELECT * FROM library_ops WHERE seq > ? ORDER BY seq"
        params: tuple[int, ...] = (seq,)
        if limit is not None:
            sql += " LIMIT ?"
            params = (seq, check_int("limit", limit, lo=1))
        return [
            LibraryOp(seq=int(r["seq"]), op=r["op"], component_id=r["component_id"], at=r["at"])
            for r in self._db.query(sql, params)
        ]

    def last_seq(self) -> int:
        """Return the sequence number of the latest change (0 if none)."""
        row = self._db.query_one("SELECT COALESCE(MAX(seq), 0) FROM library_ops")
        return 0 if row is None else int(row[0])

    def __len__(self) -> int:
        row = self._db.query_one("SELECT COUNT(*) FROM components")
        return 0 if row is None else int(row[0])

    # -- helpers -------------------------------------------------------------------------------

    @staticmethod
    def _check_creator(creator: str) -> str:
        if not isinstance(creator, str):
            raise ParameterError(f"creator must be a string, got {type(creator).__name__}")
        creator = creator.strip()
        if len(creator) > MAX_CREATOR_CHARS or not creator.isprintable():
            raise ParameterError(
                f"creator must have at most {MAX_CREATOR_CHARS} printable characters"
            )
        return creator

    @staticmethod
    def _filter(*, query: str, tag: str | None) -> tuple[str, tuple[str, ...]]:
        """Build a WHERE clause over ``components c`` and its parameters."""
        clauses: builtins.list[str] = []
        params: builtins.list[str] = []
        if query:
            clauses.append("residue_icontains(c.name, ?)")
            params.append(query)
        if tag is not None and tag != "":
            check_tag(tag)
            clauses.append(
                "EXISTS (SELECT 1 FROM component_tags f"
                " WHERE f.component_id = c.component_id AND f.tag = ?)"
            )
            params.append(tag)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        return where, tuple(params)

    def _dimension(self) -> int | None:
        row = self._db.query_one("SELECT length(descriptor) FROM components LIMIT 1")
        return None if row is None else int(row[0]) // 4

    def _require(self, component_id: str) -> Any:
        row = self._db.query_one(
            "SELECT blob FROM components WHERE component_id = ?", (component_id,)
        )
        if row is None:
            raise NotFound(f"no component {component_id!r}")
        return row

    def _write_tags(self, component_id: str, tags: tuple[str, ...]) -> None:
        for position, tag in enumerate(tags):
            self._db.execute(
                "INSERT INTO component_tags (component_id, position, tag) VALUES (?,?,?)",
                (component_id, position, tag),
            )

    def _log(self, op: Op, component_id: str, at: float) -> None:
        self._db.execute(
            "INSERT INTO library_ops (op, component_id, at) VALUES (?,?,?)",
            (op, component_id, at),
        )

    @staticmethod
    def _record(row: Any, tags: tuple[str, ...]) -> ComponentRecord:
        return ComponentRecord(
            component_id=row["component_id"],
            name=row["name"],
            tags=tags,
            creator=row["creator"],
            created_at=float(row["created_at"]),
            provenance=from_json(row["provenance"]),
            sample_rate=int(row["sample_rate"]),
            n_fft=int(row["n_fft"]),
            descriptor=_from_blob(row["descriptor"]),
            curve=_from_blob(row["curve"]),
            blob=row["blob"],
        )
