"""Persistent state: one SQLite database and a folder of content-addressed blobs.

Rows describe things (sounds, decompositions, library components); blobs hold their arrays.
Everything but the sessions themselves belongs to one session: :meth:`Store.scoped` gives the view
of one session, and the plain store is the default session's.
A blob is always durable before a row naming it is committed, and a blob no row names is an
orphan that :meth:`Store.sweep_orphans` removes.
"""

from __future__ import annotations

from pathlib import Path

from residue.store.blobs import BlobStore
from residue.store.db import DEFAULT_SESSION, Database
from residue.store.decompositions import DecompositionStore
from residue.store.library import Library
from residue.store.sessions import SessionStore
from residue.store.sounds import SoundStore

__all__ = [
    "BlobStore",
    "Database",
    "DecompositionStore",
    "Library",
    "SessionStore",
    "SoundStore",
    "Store",
]

#: File and folder names inside the data folder.
DB_NAME = "residue.db"
BLOBS_NAME = "blobs"


class Store:
    """Everything residue keeps, under one data folder.

    Examples
    --------
    >>> import tempfile
    >>> store = Store.open(Path(tempfile.mkdtemp()))
    >>> store.sounds.list()
    []
    >>> store.close()
    """

    def __init__(
        self, db: Database, blobs: BlobStore, *, session_id: str = DEFAULT_SESSION
    ) -> None:
        self.db = db
        self.blobs = blobs
        self.session_id = session_id
        self.sounds = SoundStore(db, blobs, session_id=session_id)
        self.decompositions = DecompositionStore(db, blobs, session_id=session_id)
        self.library = Library(db, blobs, session_id=session_id)
        self.sessions = SessionStore(db)

    def scoped(self, session_id: str) -> Store:
        """The same store seen from one session (sharing the database and the blobs)."""
        if session_id == self.session_id:
            return self
        return Store(self.db, self.blobs, session_id=session_id)

    @classmethod
    def open(cls, data_dir: Path) -> Store:
        """Open (creating if needed) ``data_dir/residue.db`` and ``data_dir/blobs``."""
        data_dir = Path(data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        blobs = BlobStore(data_dir / BLOBS_NAME)
        return cls(Database.open(data_dir / DB_NAME), blobs)

    def sweep_orphans(self, *, min_age_s: float = 0.0) -> int:
        """Remove blobs that no row names, and stray temporary files; return how many.

        Run it at start-up. It is also safe while this process writes: the stores write a blob
        before taking the database lock and check it again under the lock before committing, and
        this sweep holds that lock. ``min_age_s`` spares files younger than that.
        """
        with self.db.locked():
            return self.blobs.sweep(self.db.referenced_blobs(), min_age_s=min_age_s)

    def close(self) -> None:
        """Close the database."""
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
