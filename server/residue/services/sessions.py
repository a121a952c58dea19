"""Sessions: making one (with the demo loops, so that it is never empty), names, wire views."""

from __future__ import annotations

import logging

from residue import protocol
from residue.services import sounds as sound_service
from residue.services.context import Context
from residue.store.sessions import SessionRecord, TokenRecord

log = logging.getLogger(__name__)

#: Longest display name of a person in a session.
MAX_DISPLAY_NAME_CHARS = 40


def clean_text(text: str, max_chars: int) -> str:
    """``text`` without control characters, spaces collapsed, cut to ``max_chars``."""
    kept = "".join(ch if ch.isprintable() else " " for ch in text)
    return " ".join(kept.split())[:max_chars]


def display_name(name: str, *, fallback: str) -> str:
    """A person's display name: cleaned, 1 to 40 characters, else ``fallback``."""
    return clean_text(name, MAX_DISPLAY_NAME_CHARS) or clean_text(fallback, MAX_DISPLAY_NAME_CHARS)


def session_info(record: SessionRecord) -> protocol.SessionInfo:
    """The wire view of a session."""
    return protocol.SessionInfo(
        session_id=record.session_id, name=record.name, created_at=record.created_at
    )


def invite_info(record: TokenRecord) -> protocol.InviteInfo:
    """The wire view of a sharing link (never its token)."""
    return protocol.InviteInfo(
        invite_id=record.token_id,
        label=record.label,
        created_at=record.created_at,
        revoked=record.revoked,
    )


def create_session(ctx: Context, name: str) -> SessionRecord:
    """Make a session named ``name`` with the demo loops in it (when demos are on)."""
    record = ctx.store.sessions.create(name, max_sessions=ctx.settings.max_sessions)
    if ctx.settings.demo:
        made = sound_service.ensure_demo(ctx.scoped(record.session_id))
        log.info("session %s: made %d demo loops", record.session_id, len(made))
    return record
