"""Sessions (named workspaces) and the capability tokens that open them.

A token is ``secrets.token_urlsafe(32)`` (256 random bits). Only its sha256 is stored, and a
presented token is compared with the stored hash in constant time, so a copy of the database
opens nothing. Two roles:

* ``admin``: the owner of the server (the local user). An admin token is issued for the default
  session at first start and kept in ``<data>/owner-token``; it opens every session and may
  create sessions, invite and revoke.
* ``guest``: a capability link to one session; the owner can revoke it.
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import hmac
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from residue.errors import LimitExceeded, NotFound, ParameterError
from residue.store.db import DEFAULT_SESSION, Database, check_id, new_id
from residue.store.sounds import check_name

Role = Literal["admin", "guest"]

#: Random bytes of a token (its text is 43 URL-safe characters).
TOKEN_BYTES = 32
#: The admin token's file in the data folder (mode 0600).
OWNER_TOKEN_FILE = "owner-token"
MAX_SESSION_NAME_CHARS = 60
MAX_LABEL_CHARS = 60

_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,128}")


def hash_token(token: str) -> str:
    """The stored form of a token: its sha256, hex."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def well_formed_token(token: object) -> bool:
    """Whether ``token`` looks like a token at all (16 to 128 URL-safe characters)."""
    return isinstance(token, str) and _TOKEN.fullmatch(token) is not None


@dataclass(frozen=True)
class SessionRecord:
    """A named workspace."""

    session_id: str
    name: str
    created_at: float


@dataclass(frozen=True)
class TokenRecord:
    """A token as stored (never the token itself).

    Attributes
    ----------
    token_id : str
        Public id, to list and revoke it.
    session_id : str
        The session it opens (an admin token opens every session).
    role : str
        "admin" or "guest".
    label : str
    created_at : float
    revoked_at : float or None
    """

    token_id: str
    session_id: str
    role: Role
    label: str
    created_at: float
    revoked_at: float | None

    @property
    def revoked(self) -> bool:
        """Whether the owner revoked it."""
        return self.revoked_at is not None

    def opens(self, session_id: str) -> bool:
        """Whether this token lets its holder into ``session_id``."""
        return not self.revoked and (self.role == "admin" or self.session_id == session_id)


def _session(row: Any) -> SessionRecord:
    return SessionRecord(
        session_id=row["session_id"], name=row["name"], created_at=float(row["created_at"])
    )


def _token(row: Any) -> TokenRecord:
    return TokenRecord(
        token_id=row["token_id"],
        session_id=row["session_id"],
        role=row["role"],
        label=row["label"],
        created_at=float(row["created_at"]),
        revoked_at=None if row["revoked_at"] is None else float(row["revoked_at"]),
    )


class SessionStore:
    """Create sessions, issue, verify and revoke tokens.

    Parameters
    ----------
    db : Database

    Examples
    --------
    >>> from pathlib import Path
    >>> sessions = SessionStore(Database.open(Path(":memory:")))
    >>> s = sessions.create("duo")
    >>> token, record = sessions.issue(s.session_id, role="guest")
    >>> sessions.verify(token).opens(s.session_id)
    True
    >>> sessions.verify("x" * 43) is None
    True
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    # -- sessions ------------------------------------------------------------------------------

    def create(self, name: str, *, max_sessions: int | None = None) -> SessionRecord:
        """Create a session named ``name`` (1 to 60 characters).

        Raises
        ------
        LimitExceeded
            If ``max_sessions`` sessions exist already.
        """
        name = check_name(name, what="session name", max_chars=MAX_SESSION_NAME_CHARS)
        record = SessionRecord(session_id=new_id(), name=name, created_at=time.time())
        with self._db.transaction():
            if max_sessions is not None and self.count() >= max_sessions:
                raise LimitExceeded(
                    f"this server keeps at most {max_sessions} sessions; ask its owner to raise "
                    "RESIDUE_MAX_SESSIONS"
                )
            self._db.execute(
                "INSERT INTO sessions (session_id, name, created_at) VALUES (?,?,?)",
                (record.session_id, record.name, record.created_at),
            )
        return record

    def get(self, session_id: str) -> SessionRecord:
        """Return the session ``session_id``.

        Raises
        ------
        NotFound
            If there is no such session.
        """
        check_id("session", session_id)
        row = self._db.query_one("SELECT * FROM sessions WHERE session_id = ?", (session_id,))
        if row is None:
            raise NotFound(f"no session {session_id!r}")
        return _session(row)

    def list(self) -> builtins.list[SessionRecord]:
        """Every session, oldest first (the default session first)."""
        rows = self._db.query("SELECT * FROM sessions ORDER BY created_at, rowid")
        return [_session(r) for r in rows]

    def count(self) -> int:
        """How many sessions exist."""
        row = self._db.query_one("SELECT COUNT(*) FROM sessions")
        return 0 if row is None else int(row[0])

    # -- tokens --------------------------------------------------------------------------------

    def issue(
        self, session_id: str, *, role: Role, label: str = ""
    ) -> tuple[str, TokenRecord]:
        """Make a new token for ``session_id``; returns the token (shown once) and its record."""
        if role not in ("admin", "guest"):
            raise ParameterError(f"role={role!r} must be 'admin' or 'guest'")
        label = label.strip() if isinstance(label, str) else ""
        if len(label) > MAX_LABEL_CHARS or not label.isprintable():
            raise ParameterError(f"label must have at most {MAX_LABEL_CHARS} printable characters")
        self.get(session_id)
        token = secrets.token_urlsafe(TOKEN_BYTES)
        record = TokenRecord(
            token_id=new_id(),
            session_id=session_id,
            role=role,
            label=label,
            created_at=time.time(),
            revoked_at=None,
        )
        with self._db.transaction():
            self._db.execute(
                "INSERT INTO session_tokens (token_id, token_hash, session_id, role, label,"
                " created_at, revoked_at) VALUES (?,?,?,?,?,?,NULL)",
                (record.token_id, hash_token(token), session_id, role, label, record.created_at),
            )
        return token, record

    def verify(self, token: object) -> TokenRecord | None:
        """The record of a valid (known, not revoked) token, or None."""
        if not isinstance(token, str) or not well_formed_token(token):
            return None
        digest = hash_token(token)
        row = self._db.query_one("SELECT * FROM session_tokens WHERE token_hash = ?", (digest,))
        if row is None or not hmac.compare_digest(str(row["token_hash"]), digest):
            return None
        record = _token(row)
        return None if record.revoked else record

    def token(self, token_id: str) -> TokenRecord:
        """The record of ``token_id``.

        Raises
        ------
        NotFound
            If there is no such token.
        """
        check_id("link", token_id)
        row = self._db.query_one("SELECT * FROM session_tokens WHERE token_id = ?", (token_id,))
        if row is None:
            raise NotFound(f"no link {token_id!r}")
        return _token(row)

    def tokens(self, session_id: str, *, role: Role | None = None) -> builtins.list[TokenRecord]:
        """The tokens of a session (revoked ones too), newest first."""
        check_id("session", session_id)
        sql = "SELECT * FROM session_tokens WHERE session_id = ?"
        params: tuple[str, ...] = (session_id,)
        if role is not None:
            sql += " AND role = ?"
            params = (session_id, role)
        rows = self._db.query(sql + " ORDER BY created_at DESC, rowid DESC", params)
        return [_token(r) for r in rows]

    def revoke(self, token_id: str, *, session_id: str) -> TokenRecord:
        """Revoke a token of ``session_id`` (revoking twice keeps the first time).

        Raises
        ------
        NotFound
            If the session has no such token.
        """
        check_id("link", token_id)
        with self._db.transaction():
            row = self._db.query_one(
                "SELECT * FROM session_tokens WHERE token_id = ? AND session_id = ?",
                (token_id, session_id),
            )
            if row is None:
                raise NotFound(f"no link {token_id!r} in this session")
            if row["revoked_at"] is None:
                self._db.execute(
                    "UPDATE session_tokens SET revoked_at = ? WHERE token_id = ?",
                    (time.time(), token_id),
                )
        return self.token(token_id)

    def ensure_owner_token(self, data_dir: Path) -> str:
        """The admin token kept in ``data_dir/owner-token``, made at first start.

        When the file is missing or names no valid admin token, every older admin token is
        revoked and a new one is written (so deleting the file and restarting is how the owner
        link is changed).
        """
        path = Path(data_dir) / OWNER_TOKEN_FILE
        with contextlib.suppress(OSError, UnicodeDecodeError):
            token = path.read_text(encoding="ascii").strip()
            record = self.verify(token)
            if record is not None and record.role == "admin":
                return token
        with self._db.transaction():
            self._db.execute(
                "UPDATE session_tokens SET revoked_at = ? WHERE role = 'admin'"
                " AND revoked_at IS NULL",
                (time.time(),),
            )
            token, _ = self.issue(DEFAULT_SESSION, role="admin", label="owner")
        _write_private(path, token + "\n")
        return token


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by the owner only, atomically and durably."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
