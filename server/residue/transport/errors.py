"""The one place where exceptions become error frames and HTTP error responses."""

from __future__ import annotations

import logging
import secrets

import msgspec

from residue import protocol
from residue.errors import Conflict, LimitExceeded, NotAuthorized, NotFound, ResidueError

log = logging.getLogger("residue.transport")


def describe(exc: BaseException) -> tuple[str, str, str | None]:
    """``(code, message, error_id)`` for any exception.

    Our own errors carry their message to the person; a malformed frame says what is wrong with
    it; anything else is logged with its traceback under a fresh id, and only the id and a plain
    sentence leave the server.
    """
    if isinstance(exc, ResidueError):
        return exc.code, str(exc), None
    if isinstance(exc, msgspec.ValidationError):
        return "bad_frame", f"invalid frame: {exc}", None
    if isinstance(exc, msgspec.DecodeError):
        return "bad_frame", "the frame is not valid msgpack", None
    error_id = secrets.token_hex(4)
    log.error("unexpected error %s", error_id, exc_info=exc)
    return "internal", f"something went wrong on the server (error {error_id})", error_id


def error_frame(exc: BaseException, *, request_id: int) -> protocol.Error:
    """The error frame that answers ``request_id``."""
    code, message, error_id = describe(exc)
    return protocol.Error(request_id=request_id, code=code, message=message, error_id=error_id)


def http_status(exc: BaseException) -> int:
    """HTTP status for an exception: 401, 404, 409, 413, 400 for our errors, 500 for the rest."""
    if isinstance(exc, NotAuthorized):
        return 401
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Conflict):
        return 409
    if isinstance(exc, LimitExceeded):
        return 413
    if isinstance(exc, (ResidueError, msgspec.ValidationError, msgspec.DecodeError)):
        return 400
    return 500
