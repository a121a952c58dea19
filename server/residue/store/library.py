"""The component library: spectra worth keeping, with names, tags and descriptors.

A component is one NMF spectrum ``w`` (F,) with the sample rate and FFT size it was made with,
stored as an ``.npy`` blob. Its row carries a small descriptor vector (for "sounds like" search)
and a 256-point display curve, so listing and searching never read blob files.

Every change (add, rename, tags, tag, untag, delete) appends a row to ``library_ops`` in the same
transaction, so the ordered log is exactly the committed history of the library. Each session has
its own library and its own sequence of ops (1, 2, 3, ... without gaps), so a client that saw op
``n`` knows exactly what it missed.

Concurrent edits resolve predictably: tags are added and removed one at a time (they commute), a
rename names the version it was based on and is refused when the name moved on meanwhile, and a
delete wins over anything that comes after it.
"""

from __future__ import annotations

import builtins
import dataclasses
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from residue.dsp._validate import check_int, check_nonnegative
from residue.errors import Conflict, NotFound, ParameterError
from residue.store.blobs import BlobStore, array_to_bytes, bytes_to_array
from residue.store.db import DEFAULT_SESSION, Database, check_id, from_json, new_id, to_json
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
MAX_ACTOR_CHARS = 120

Op = Literal["add", "rename", "tags", "tag", "untag", "delete"]

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
    version : int
        Version of the name: 1 when kept, one more with every rename.
    seq : int
        The op sequence number of the change that returned this record (0 when only read).
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
    version: int = 1
    seq: int = 0


@dataclass(frozen=True)
class LibraryOp:
    """One entry of a session's change log: ``seq`` grows by one per committed change.

    ``actor`` is who made it; ``detail`` the new name (rename), the tag (tag, untag) or the
    name it had (delete).
    """

    seq: int
    op: str
    component_id: str
    at: float
    actor: str = ""
    detail: str = ""


@dataclass(frozen=True)
class LibrarySync:
    """What a client that saw ops up to ``since`` needs to catch up, read in one transaction.

    Either ``ops`` (each missed op, oldest first) with ``current`` (the state now of every
    component they touch that still exists), or, when ``snapshot`` is set, the whole library
    as of ``last_seq`` (too much was missed, or ``since`` was 0).
    """

    since: int
    last_seq: int
    ops: list[LibraryOp]
    current: dict[str, ComponentRecord]
    snapshot: list[ComponentRecord] | None


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
    """The component library of one session.

    Parameters
    ----------
    db : Database
    blobs : BlobStore
    session_id : str
        Every read and write is confined to this session's components and ops.
    """

    def __init__(
        self, db: Database, blobs: BlobStore, *, session_id: str = DEFAULT_SESSION
    ) -> None:
        self._db = db
        self._blobs = blobs
        self.session_id = check_id("session", session_id)

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
                    " sample_rate, n_fft, descriptor, curve, blob, session_id)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (component_id, name, creator, now, prov, sr, n_fft, _to_blob(d32),
                     _to_blob(c32), digest, self.session_id),
                )
                self._write_tags(component_id, tag_tuple)
                seq = self._log("add", component_id, now, creator, name)
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
            seq=seq,
        )

    def rename(
        self,
        component_id: str,
        name: str,
        *,
        base_version: int | None = None,
        actor: str = "",
    ) -> ComponentRecord:
        """Give a component a new name (1 to 120 characters after stripping).

        Parameters
        ----------
        component_id : str
        name : str
        base_version : int or None
            The name's version the person saw; when the name has moved on since, nothing is
            changed and :class:`Conflict` says who renamed it to what. None renames anyway.
        actor : str
            Who renames (for the log and for others' conflict messages).

        Returns
        -------
        ComponentRecord
            The state right after this change; its ``seq`` is the op's number.

        Raises
        ------
        NotFound
            If there is no such component (the message says who deleted it, when someone did).
        Conflict
            If ``base_version`` is stale.
        """
        check_id("component", component_id)
        name = check_name(name, max_chars=MAX_NAME_CHARS)
        actor = self._check_creator(actor)
        if base_version is not None:
            base_version = check_int("base_version", base_version, lo=1)
        with self._db.transaction():
            row = self._db.query_one(
                "SELECT name, version FROM components WHERE component_id = ? AND session_id = ?",
                (component_id, self.session_id),
            )
            if row is None:
                raise NotFound(self._gone(component_id))
            if base_version is not None and int(row["version"]) != base_version:
                who = self._last_actor(component_id, "rename")
                raise Conflict(
                    f"it was renamed{who} while you were editing it; your name “{name}” was not "
                    "applied (try again on the new name)"
                )
            self._db.execute(
                "UPDATE components SET name = ?, version = version + 1 WHERE component_id = ?",
                (name, component_id),
            )
            seq = self._log("rename", component_id, time.time(), actor, name)
            record = self.get(component_id)
        return dataclasses.replace(record, seq=seq)

    def set_tags(
        self, component_id: str, tags: Iterable[str], *, actor: str = ""
    ) -> ComponentRecord:
        """Replace a component's tags (see :func:`check_tags`).

        Replacing the whole list does not commute with another person's change: prefer
        :meth:`add_tag` and :meth:`remove_tag` for live edits.
        """
        check_id("component", component_id)
        tag_tuple = check_tags(tags)
        actor = self._check_creator(actor)
        with self._db.transaction():
            self._require(component_id)
            self._db.execute("DELETE FROM component_tags WHERE component_id = ?", (component_id,))
            self._write_tags(component_id, tag_tuple)
            seq = self._log(
                "tags", component_id, time.time(), actor, " ".join(tag_tuple)
            )
            record = self.get(component_id)
        return dataclasses.replace(record, seq=seq)

    def add_tag(self, component_id: str, tag: str, *, actor: str = "") -> ComponentRecord:
        """Add one tag (a tag already there stays where it is); the op is logged either way.

        Raises
        ------
        NotFound
            If there is no such component.
        ParameterError
            If the tag is malformed or the component already has 16 tags.
        """
        return self._tag_op("tag", component_id, tag, actor=actor)

    def remove_tag(self, component_id: str, tag: str, *, actor: str = "") -> ComponentRecord:
        """Remove one tag (absent: nothing changes); the op is logged either way."""
        return self._tag_op("untag", component_id, tag, actor=actor)

    def _tag_op(
        self, op: Literal["tag", "untag"], component_id: str, tag: str, *, actor: str
    ) -> ComponentRecord:
        check_id("component", component_id)
        check_tag(tag)
        actor = self._check_creator(actor)
        with self._db.transaction():
            if self._db.query_one(
                "SELECT 1 FROM components WHERE component_id = ? AND session_id = ?",
                (component_id, self.session_id),
            ) is None:
                raise NotFound(self._gone(component_id))
            present = self._db.query_one(
                "SELECT 1 FROM component_tags WHERE component_id = ? AND tag = ?",
                (component_id, tag),
            )
            if op == "tag" and present is None:
                row = self._db.query_one(
                    "SELECT COUNT(*), COALESCE(MAX(position), -1) FROM component_tags"
                    " WHERE component_id = ?",
                    (component_id,),
                )
                count, last = (0, -1) if row is None else (int(row[0]), int(row[1]))
                if count >= MAX_TAGS:
                    raise ParameterError(f"at most {MAX_TAGS} tags are allowed, got {count + 1}")
                self._db.execute(
                    "INSERT INTO component_tags (component_id, position, tag) VALUES (?,?,?)",
                    (component_id, last + 1, tag),
                )
            elif op == "untag" and present is not None:
                self._db.execute(
                    "DELETE FROM component_tags WHERE component_id = ? AND tag = ?",
                    (component_id, tag),
                )
            seq = self._log(op, component_id, time.time(), actor, tag)
            record = self.get(component_id)
        return dataclasses.replace(record, seq=seq)

    def delete(self, component_id: str, *, actor: str = "") -> int:
        """Remove a component (and its spectrum blob if nothing else names it).

        Returns
        -------
        int
            The op's sequence number.

        Raises
        ------
        NotFound
            If there is no such component (the message says who deleted it, when someone did).
        """
        check_id("component", component_id)
        actor = self._check_creator(actor)
        with self._db.locked():
            with self._db.transaction():
                row = self._db.query_one(
                    "SELECT blob, name FROM components WHERE component_id = ? AND session_id = ?",
                    (component_id, self.session_id),
                )
                if row is None:
                    raise NotFound(self._gone(component_id))
                self._db.execute("DELETE FROM components WHERE component_id = ?", (component_id,))
                seq = self._log(
                    "delete", component_id, time.time(), actor, row["name"]
                )
            self._blobs.release([row["blob"]], referenced=self._db.blob_referenced)
        return seq

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
                "SELECT * FROM components WHERE component_id = ? AND session_id = ?",
                (component_id, self.session_id),
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
        where, params = self._filter(query=query.strip(), tag=tag, session_id=self.session_id)
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
        where, params = self._filter(query="", tag=tag, session_id=self.session_id)
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
        """Return this session's changes with a sequence number above ``seq``, oldest first."""
        seq = check_int("seq", seq, lo=0)
        sql = (
            "SELECT * FROM library_ops WHERE session_id = ? AND session_seq > ?"
            " ORDER BY session_seq"
        )
        params: tuple[str | int, ...] = (self.session_id, seq)
        if limit is not None:
            sql += " LIMIT ?"
            params = (*params, check_int("limit", limit, lo=1))
        return [
            LibraryOp(
                seq=int(r["session_seq"]),
                op=r["op"],
                component_id=r["component_id"],
                at=r["at"],
                actor=r["actor"],
                detail=r["detail"],
            )
            for r in self._db.query(sql, params)
        ]

    def last_seq(self) -> int:
        """Return the sequence number of this session's latest change (0 if none)."""
        row = self._db.query_one(
            "SELECT COALESCE(MAX(session_seq), 0) FROM library_ops WHERE session_id = ?",
            (self.session_id,),
        )
        return 0 if row is None else int(row[0])

    def sync(self, since: int, *, max_ops: int = 500) -> LibrarySync:
        """What a client that saw ops up to ``since`` needs, read in one transaction.

        Parameters
        ----------
        since : int
            The last op the client applied (0: it has nothing).
        max_ops : int
            Past this many missed ops (or when ``since`` is 0, or ahead of the log) the whole
            library is sent instead.

        Returns
        -------
        LibrarySync
        """
        since = check_int("since", since, lo=0)
        max_ops = check_int("max_ops", max_ops, lo=1)
        with self._db.transaction():
            last = self.last_seq()
            ops = [] if since == 0 or since > last else self.ops_since(since, limit=max_ops + 1)
            if since == 0 or since > last or len(ops) > max_ops:
                return LibrarySync(
                    since=since, last_seq=last, ops=[], current={}, snapshot=self.list()
                )
            touched = {op.component_id for op in ops}
            current = {r.component_id: r for r in self.list() if r.component_id in touched}
        return LibrarySync(since=since, last_seq=last, ops=ops, current=current, snapshot=None)

    def __len__(self) -> int:
        row = self._db.query_one(
            "SELECT COUNT(*) FROM components WHERE session_id = ?", (self.session_id,)
        )
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
    def _filter(*, query: str, tag: str | None, session_id: str) -> tuple[str, tuple[str, ...]]:
        """Build a WHERE clause over ``components c`` of one session and its parameters."""
        clauses: builtins.list[str] = ["c.session_id = ?"]
        params: builtins.list[str] = [session_id]
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
        return f"WHERE {' AND '.join(clauses)}", tuple(params)

    def _dimension(self) -> int | None:
        row = self._db.query_one(
            "SELECT length(descriptor) FROM components WHERE session_id = ? LIMIT 1",
            (self.session_id,),
        )
        return None if row is None else int(row[0]) // 4

    def _require(self, component_id: str) -> Any:
        row = self._db.query_one(
            "SELECT blob FROM components WHERE component_id = ? AND session_id = ?",
            (component_id, self.session_id),
        )
        if row is None:
            raise NotFound(self._gone(component_id))
        return row

    def _gone(self, component_id: str) -> str:
        """Why a component is not there: who deleted it (and its name), when someone did."""
        row = self._db.query_one(
            "SELECT actor, detail FROM library_ops WHERE session_id = ? AND component_id = ?"
            " AND op = 'delete' ORDER BY session_seq DESC LIMIT 1",
            (self.session_id, component_id),
        )
        if row is None:
            return f"no component {component_id!r}"
        who = f" by {row['actor']}" if row["actor"] else ""
        return f"“{row['detail']}” was deleted{who}; the change was not applied"

    def _last_actor(self, component_id: str, op: str) -> str:
        row = self._db.query_one(
            "SELECT actor, detail FROM library_ops WHERE session_id = ? AND component_id = ?"
            " AND op = ? ORDER BY session_seq DESC LIMIT 1",
            (self.session_id, component_id, op),
        )
        if row is None:
            return ""
        who = f" by {row['actor']}" if row["actor"] else ""
        return f" to “{row['detail']}”{who}"

    def _write_tags(self, component_id: str, tags: tuple[str, ...]) -> None:
        for position, tag in enumerate(tags):
            self._db.execute(
                "INSERT INTO component_tags (component_id, position, tag) VALUES (?,?,?)",
                (component_id, position, tag),
            )

    def _log(self, op: Op, component_id: str, at: float, actor: str, detail: str) -> int:
        """Append an op inside the caller's transaction; return its sequence number."""
        row = self._db.query_one(
            "SELECT COALESCE(MAX(session_seq), 0) + 1 FROM library_ops WHERE session_id = ?",
            (self.session_id,),
        )
        seq = 1 if row is None else int(row[0])
        self._db.execute(
            "INSERT INTO library_ops (op, component_id, at, session_id, session_seq, actor,"
            " detail) VALUES (?,?,?,?,?,?,?)",
            (op, component_id, at, self.session_id, seq, actor, detail),
        )
        return seq

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
            version=int(row["version"]),
        )
