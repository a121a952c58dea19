"""Who may enter which session: tokens, the local user, and the Origin allowlist.

* A request carries a token (``Authorization: Bearer <token>`` over HTTP, ``join`` on the
  socket). A guest token opens its own session; the owner's (admin) token opens every session,
  the one named by ``X-Residue-Session`` (HTTP) or ``join.session_id``.
* The local user needs no token for the default session, but only while the server listens on a
  loopback address (127.0.0.1, ::1, localhost) and the request comes from this machine directly:
  from a loopback address (or an in-process test client), through no proxy (no ``Forwarded`` /
  ``X-Forwarded-For`` headers), naming a loopback ``Host`` (a DNS-rebinding page names its own
  host). Bound to 0.0.0.0 every request needs a token. ``RESIDUE_LOCAL_ACCESS=0`` turns the
  exception off.
* A browser's ``Origin`` must be the server's own host (or one of ``RESIDUE_ALLOWED_ORIGINS``):
  the WebSocket handshake is refused otherwise, and so is any HTTP request that carries another
  origin. Requests without an ``Origin`` (command-line clients) are judged by their token alone.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from residue.config import Settings
from residue.errors import NotAuthorized, NotFound
from residue.services.context import Context

#: The default session: the local user's studio.
DEFAULT_SESSION = "default"
_PROXY_HEADERS = ("forwarded", "x-forwarded-for", "x-forwarded-host", "x-real-ip")


@dataclass(frozen=True)
class Grant:
    """What a request may do: enter ``session_id`` as ``role`` (with link ``token_id``)."""

    session_id: str
    role: str
    token_id: str | None


def _hostname(netloc: str) -> str:
    """The host part of ``host[:port]`` or ``[v6]:port``, lowercased, without brackets."""
    netloc = netloc.strip().lower()
    if netloc.startswith("["):
        return netloc[1 : netloc.find("]")] if "]" in netloc else netloc[1:]
    return netloc.rsplit(":", 1)[0] if netloc.count(":") == 1 else netloc


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address, no port) is this machine's loopback."""
    host = host.strip().lower().strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def local_access(
    settings: Settings, headers: Mapping[str, str], client: tuple[str, int] | Any
) -> bool:
    """Whether a request may enter the default session without a token (see the module)."""
    if not settings.local_access or not is_loopback(settings.host):
        return False
    if any(h in headers for h in _PROXY_HEADERS):
        return False
    address = client[0] if isinstance(client, tuple) and client else None
    if not isinstance(address, str) or not address:
        return False
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return True  # not a network address at all: an in-process (test) client
    return is_loopback(address) and is_loopback(_hostname(headers.get("host", "")))


def origin_allowed(settings: Settings, headers: Mapping[str, str]) -> bool:
    """Whether the request's ``Origin`` (if any) is the server's own host or allowlisted."""
    origin = headers.get("origin")
    if origin is None:
        return True
    origin = origin.strip().rstrip("/")
    if origin in settings.allowed_origins:
        return True
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False  # "null" (sandboxed frames, files) and anything odd
    host = headers.get("host", "").strip().lower()
    return bool(host) and parts.netloc.lower() == host


def bearer(headers: Mapping[str, str]) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, if any."""
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def grant(ctx: Context, *, session_id: str | None, token: str | None, local: bool) -> Grant:
    """Check a token (or local access) against the session asked for.

    Parameters
    ----------
    ctx : Context
        Any context (the sessions table is shared).
    session_id : str or None
        The session asked for; None: the token's own session (the default one without token).
    token : str or None
    local : bool
        Whether the request qualifies for tokenless local access.

    Raises
    ------
    NotAuthorized
        For a missing, unknown, revoked or foreign token, or an unknown session.
    """
    sessions = ctx.store.sessions
    if token is not None:
        record = sessions.verify(token)
        if record is None:
            raise NotAuthorized(
                "this link is not valid: it was revoked or mistyped (ask for a new one)"
            )
        wanted = session_id or record.session_id
        if not record.opens(wanted):
            raise NotAuthorized("this link does not open that session")
        _require_session(ctx, wanted)
        return Grant(session_id=wanted, role=record.role, token_id=record.token_id)
    if not local:
        raise NotAuthorized(
            "this server needs a link to enter: open the link its owner shared "
            "(the owner's own link is printed when the server starts)"
        )
    wanted = session_id or DEFAULT_SESSION
    _require_session(ctx, wanted)
    return Grant(session_id=wanted, role="admin", token_id=None)


def _require_session(ctx: Context, session_id: str) -> None:
    try:
        ctx.store.sessions.get(session_id)
    except NotFound:
        raise NotAuthorized(f"there is no session {session_id!r} on this server") from None


def http_grant(ctx: Context, headers: Mapping[str, str], client: Any) -> Grant:
    """The grant of an HTTP request (its bearer token, or local access)."""
    if not origin_allowed(ctx.settings, headers):
        raise NotAuthorized("requests from another site's page are not accepted")
    session_id = headers.get("x-residue-session") or None
    return grant(
        ctx,
        session_id=session_id,
        token=bearer(headers),
        local=local_access(ctx.settings, headers, client),
    )
