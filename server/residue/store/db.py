"""One SQLite connection shared by threads, the schema and its migrations.

The connection is opened with ``check_same_thread=False`` and every use of it goes through one
re-entrant lock, because services call the store from worker threads and from the event loop.
Transactions are explicit (``BEGIN IMMEDIATE``); outside of one every statement commits on its own.

The whole schema lives in :data:`MIGRATIONS`, applied in order and recorded in
``PRAGMA user_version``, so opening a database twice applies nothing the second time.
"""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from residue.errors import NotFound, ParameterError, UnsupportedError

#: How long a statement waits for a lock held by another connection before failing.
BUSY_TIMEOUT_MS = 10_000

#: The schema, one script per version. Append new scripts; never edit an applied one.
MIGRATIONS: tuple[str, ...] = (
    # 1: sounds, decompositions, the component library and its change log.
    """
    CREATE TABLE sounds (
        sound_id    TEXT PRIMARY KEY,
        name        TEXT NOT NULL,
        sample_rate INTEGER NOT NULL,
        channels    INTEGER NOT NULL,
        n_samples   INTEGER NOT NULL,
        origin      TEXT NOT NULL,
        tempo_bpm   REAL,
        created_at  REAL NOT NULL,
        provenance  TEXT NOT NULL,
        blob        TEXT NOT NULL
    );
    CREATE INDEX sounds_by_origin_name ON sounds (origin, name);
    CREATE INDEX sounds_by_blob ON sounds (blob);

    CREATE TABLE decompositions (
        decomposition_id TEXT PRIMARY KEY,
        sound_id         TEXT NOT NULL REFERENCES sounds (sound_id) ON DELETE CASCADE,
        key              TEXT NOT NULL,
        settings         TEXT NOT NULL,
        created_at       REAL NOT NULL,
        blob             TEXT NOT NULL,
        UNIQUE (sound_id, key)
    );
    CREATE INDEX decompositions_by_blob ON decompositions (blob);

    CREATE TABLE components (
        component_id TEXT PRIMARY KEY,
        name         TEXT NOT NULL,
        creator      TEXT NOT NULL,
        created_at   REAL NOT NULL,
        provenance   TEXT NOT NULL,
        sample_rate  INTEGER NOT NULL,
        n_fft        INTEGER NOT NULL,
        descriptor   BLOB NOT NULL,
        curve        BLOB NOT NULL,
        blob         TEXT NOT NULL
    );
    CREATE INDEX components_by_blob ON components (blob);

    CREATE TABLE component_tags (
        component_id TEXT NOT NULL REFERENCES components (component_id) ON DELETE CASCADE,
        position     INTEGER NOT NULL,
        tag          TEXT NOT NULL,
        PRIMARY KEY (component_id, tag)
    );
    CREATE INDEX component_tags_by_tag ON component_tags (tag);

    CREATE TABLE library_ops (
        seq          INTEGER PRIMARY KEY AUTOINCREMENT,
        op           TEXT NOT NULL,
        component_id TEXT NOT NULL,
        at           REAL NOT NULL
    );
    """,
    # 2: sessions and their capability tokens (stored hashed); every sound, decomposition,
    # component and library op belongs to a session ('default' for what existed before). The
    # op log gets a per-session sequence number, who did it, and what (a name, a tag).
    """
    CREATE TABLE sessions (
        session_id TEXT PRIMARY KEY,
        name       TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    INSERT INTO sessions (session_id, name, created_at) VALUES ('default', 'studio', 0);

    CREATE TABLE session_tokens (
        token_id   TEXT PRIMARY KEY,
        token_hash TEXT NOT NULL UNIQUE,
        session_id TEXT NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE,
        role       TEXT NOT NULL,
        label      TEXT NOT NULL,
        created_at REAL NOT NULL,
        revoked_at REAL
    );
    CREATE INDEX session_tokens_by_session ON session_tokens (session_id);

    ALTER TABLE sounds ADD COLUMN session_id TEXT NOT NULL DEFAULT 'default';
    CREATE INDEX sounds_by_session ON sounds (session_id, created_at);
    ALTER TABLE decompositions ADD COLUMN session_id TEXT NOT NULL DEFAULT 'default';
    ALTER TABLE components ADD COLUMN session_id TEXT NOT NULL DEFAULT 'default';
    ALTER TABLE components ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
    CREATE INDEX components_by_session ON components (session_id, created_at);

    ALTER TABLE library_ops ADD COLUMN session_id TEXT NOT NULL DEFAULT 'default';
    ALTER TABLE library_ops ADD COLUMN session_seq INTEGER;
    ALTER TABLE library_ops ADD COLUMN actor TEXT NOT NULL DEFAULT '';
    ALTER TABLE library_ops ADD COLUMN detail TEXT NOT NULL DEFAULT '';
    UPDATE library_ops SET session_seq = (
        SELECT COUNT(*) FROM library_ops AS o WHERE o.seq <= library_ops.seq
    );
    CREATE UNIQUE INDEX library_ops_by_session ON library_ops (session_id, session_seq);
    """,
    # 3: generated songs and their albums (audio in data_dir/songs, rebuilt from the recipe if
    # missing), and keep/reject decisions of the swipe page (songs, separation cells, clips).
    """
    CREATE TABLE IF NOT EXISTS albums (
        album_id   TEXT PRIMARY KEY,
        name       TEXT NOT NULL,
        created_at REAL NOT NULL,
        settings   TEXT NOT NULL,
        model_id   TEXT NOT NULL,
        n_songs    INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS songs (
        song_id     TEXT PRIMARY KEY,
        name        TEXT NOT NULL,
        album_id    TEXT REFERENCES albums (album_id) ON DELETE CASCADE,
        position    INTEGER NOT NULL,
        seed        INTEGER NOT NULL,
        settings    TEXT NOT NULL,
        model_id    TEXT NOT NULL,
        created_at  REAL NOT NULL,
        sample_rate INTEGER NOT NULL,
        n_samples   INTEGER NOT NULL,
        loudness    REAL,
        structure   TEXT NOT NULL,
        thumbnail   BLOB NOT NULL,
        audio_file  TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS songs_by_album ON songs (album_id, position);
    CREATE TABLE IF NOT EXISTS decisions (
        kind       TEXT NOT NULL,
        item_id    TEXT NOT NULL,
        decision   TEXT NOT NULL CHECK (decision IN ('keep', 'reject')),
        decided_at REAL NOT NULL,
        seq        INTEGER NOT NULL,
        PRIMARY KEY (kind, item_id)
    );
    CREATE INDEX IF NOT EXISTS decisions_by_seq ON decisions (kind, seq);
    """,
    # 4: songs, albums and decisions belong to a session ('default' for what existed before);
    # a decision is unique per (session, kind, item), so the table is rebuilt with that key.
    """
    ALTER TABLE albums ADD COLUMN session_id TEXT NOT NULL DEFAULT 'default';
    CREATE INDEX albums_by_session ON albums (session_id, created_at);
    ALTER TABLE songs ADD COLUMN session_id TEXT NOT NULL DEFAULT 'default';
    CREATE INDEX songs_by_session ON songs (session_id, created_at);

    CREATE TABLE decisions_v4 (
        session_id TEXT NOT NULL DEFAULT 'default',
        kind       TEXT NOT NULL,
        item_id    TEXT NOT NULL,
        decision   TEXT NOT NULL CHECK (decision IN ('keep', 'reject')),
        decided_at REAL NOT NULL,
        seq        INTEGER NOT NULL,
        PRIMARY KEY (session_id, kind, item_id)
    );
    INSERT INTO decisions_v4 (session_id, kind, item_id, decision, decided_at, seq)
        SELECT 'default', kind, item_id, decision, decided_at, seq FROM decisions;
    DROP TABLE decisions;
    ALTER TABLE decisions_v4 RENAME TO decisions;
    CREATE INDEX decisions_by_seq ON decisions (session_id, kind, seq);
    """,
)

#: The session every existing row belongs to, and the one the local user owns.
DEFAULT_SESSION = "default"

#: Every (table, column) holding a blob digest: what keeps a blob alive.
BLOB_COLUMNS: tuple[tuple[str, str], ...] = (
    ("sounds", "blob"),
    ("decompositions", "blob"),
    ("components", "blob"),
)


_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def new_id() -> str:
    """Return a short random id: 12 hex characters (48 random bits)."""
    return secrets.token_hex(6)


def check_id(kind: str, value: str) -> str:
    """Return ``value`` if it is a well-formed id, else raise NotFound naming ``kind``.

    A malformed id names nothing, so it is reported like an absent one (and never reaches SQL
    or the file system as anything but a bound parameter).
    """
    if not isinstance(value, str) or _ID.fullmatch(value) is None:
        raise NotFound(f"no {kind} {value!r}")
    return value


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray) and value.size <= 4096:
        return value.tolist()
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def to_json(name: str, value: dict[str, Any]) -> str:
    """Serialise a JSON object for a TEXT column, raising ParameterError if it is not one.

    numpy scalars and small arrays become plain numbers and lists; NaN and infinity are refused.
    """
    if not isinstance(value, dict):
        raise ParameterError(f"{name} must be a dict, got {type(value).__name__}")
    try:
        return json.dumps(value, allow_nan=False, default=_json_default, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"{name} must be JSON-serialisable: {exc}") from None


def from_json(text: str) -> dict[str, Any]:
    """Read a JSON object written by :func:`to_json`."""
    value = json.loads(text)
    return value if isinstance(value, dict) else {}


def split_sql(script: str) -> list[str]:
    """Split an SQL script into complete statements (semicolons inside literals are kept).

    Examples
    --------
    >>> split_sql("CREATE TABLE t (x TEXT DEFAULT ';'); DROP TABLE t;")
    ["CREATE TABLE t (x TEXT DEFAULT ';');", 'DROP TABLE t;']
    """
    statements: list[str] = []
    current = ""
    for line in script.splitlines(keepends=True):
        for piece in line.split(";")[:-1]:
            current += piece + ";"
            if sqlite3.complete_statement(current):
                statements.append(current.strip())
                current = ""
        current += line.split(";")[-1]
    if current.strip():
        statements.append(current.strip())
    return statements


def _icontains(haystack: str | None, needle: str | None) -> bool:
    """Unicode case-insensitive containment, for ``WHERE residue_icontains(name, ?)``."""
    if haystack is None or needle is None:
        return False
    return needle.casefold() in haystack.casefold()


class Database:
    """One SQLite connection guarded by a re-entrant lock.

    Use :meth:`open`; the constructor takes an already configured connection.

    Examples
    --------
    >>> db = Database.open(Path(":memory:"))
    >>> with db.transaction():
    ...     _ = db.execute("INSERT INTO library_ops (op, component_id, at) VALUES (?, ?, ?)",
    ...                    ("add", "c1", 0.0))
    >>> db.query_one("SELECT op FROM library_ops")["op"]
    'add'
    >>> db.close()
    """

    def __init__(self, connection: sqlite3.Connection, *, path: Path) -> None:
        self._conn = connection
        self._lock = threading.RLock()
        self._depth = 0  # nesting of transaction(), guarded by _lock
        self._closed = False
        self.path = path

    @classmethod
    def open(cls, path: Path) -> Database:
        """Open (creating if needed) the database at ``path`` and bring its schema up to date.

        Parameters
        ----------
        path : Path
            The database file; ``Path(":memory:")`` gives a private in-memory database.

        Returns
        -------
        Database

        Raises
        ------
        UnsupportedError
            If the file was written by a newer residue (its schema version is unknown here).
        """
        conn = sqlite3.connect(
            str(path),
            check_same_thread=False,
            isolation_level=None,  # explicit BEGIN/COMMIT only
            timeout=BUSY_TIMEOUT_MS / 1000,
        )
        try:
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.create_function("residue_icontains", 2, _icontains, deterministic=True)
            db = cls(conn, path=path)
            db.migrate()
        except BaseException:
            conn.close()
            raise
        return db

    @property
    def schema_version(self) -> int:
        """The applied schema version (``PRAGMA user_version``)."""
        row = self.query_one("PRAGMA user_version")
        return 0 if row is None else int(row[0])

    def migrate(self, migrations: Sequence[str] = MIGRATIONS) -> int:
        """Apply the scripts of ``migrations`` past the stored version, each in one transaction.

        Idempotent: a second call applies nothing. Returns the number of scripts applied.
        """
        applied = 0
        with self._lock:
            for version, script in enumerate(migrations, start=1):
                with self.transaction():
                    current = self.schema_version
                    if current > len(migrations):
                        raise UnsupportedError(
                            f"the database {self.path} has schema version {current}, newer than "
                            f"this residue understands ({len(migrations)}); upgrade residue"
                        )
                    if current >= version:
                        continue
                    for statement in split_sql(script):
                        self._conn.execute(statement)
                    self._conn.execute(f"PRAGMA user_version = {version}")
                    applied += 1
        return applied

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the connection's lock (no transaction): for work that must not interleave."""
        with self._lock:
            yield

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Run the block in one transaction: committed if it returns, rolled back if it raises.

        The lock is held throughout, so no other thread's statement lands inside. Nested use in
        the same thread becomes a savepoint: an inner failure undoes only the inner block.
        """
        with self._lock:
            if self._depth == 0:
                self._conn.execute("BEGIN IMMEDIATE")
                begin, commit, rollback = "", "COMMIT", "ROLLBACK"
            else:
                name = f"residue_sp{self._depth}"
                self._conn.execute(f"SAVEPOINT {name}")
                begin, commit, rollback = name, f"RELEASE {name}", f"ROLLBACK TO {name}"
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                self._conn.execute(rollback)
                if begin:
                    self._conn.execute(f"RELEASE {begin}")
                raise
            self._depth -= 1
            try:
                self._conn.execute(commit)
            except BaseException:
                if self._depth == 0 and self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    @property
    def in_transaction(self) -> bool:
        """Whether the calling thread is inside :meth:`transaction`.

        (Another thread's transaction holds the lock, so this waits for it to end.)
        """
        with self._lock:
            return self._depth > 0

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Cursor:
        """Run one statement; outside a transaction it commits on its own."""
        with self._lock:
            return self._conn.execute(sql, params)

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        """Run a query and return all its rows."""
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def query_one(
        self, sql: str, params: Sequence[Any] | dict[str, Any] = ()
    ) -> sqlite3.Row | None:
        """Run a query and return its first row, or None."""
        with self._lock:
            row: sqlite3.Row | None = self._conn.execute(sql, params).fetchone()
            return row

    def integrity_ok(self) -> bool:
        """Whether ``PRAGMA integrity_check`` and ``PRAGMA foreign_key_check`` find nothing."""
        with self._lock:
            rows = self._conn.execute("PRAGMA integrity_check").fetchall()
            fk = self._conn.execute("PRAGMA foreign_key_check").fetchall()
        return [tuple(r) for r in rows] == [("ok",)] and not fk

    def blob_referenced(self, digest: str) -> bool:
        """Whether any row of any table in :data:`BLOB_COLUMNS` names ``digest``."""
        union = " UNION ALL ".join(
            f"SELECT 1 FROM {table} WHERE {column} = ?" for table, column in BLOB_COLUMNS
        )
        row = self.query_one(f"SELECT EXISTS ({union})", (digest,) * len(BLOB_COLUMNS))
        return row is not None and row[0] == 1

    def referenced_blobs(self) -> set[str]:
        """Every blob digest some row names."""
        union = " UNION ".join(f"SELECT {column} FROM {table}" for table, column in BLOB_COLUMNS)
        return {str(row[0]) for row in self.query(union)}

    def close(self) -> None:
        """Checkpoint and close the connection (a second call does nothing)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._conn.execute("PRAGMA optimize")
            finally:
                self._conn.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
