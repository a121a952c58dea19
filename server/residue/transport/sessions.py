"""Socket handlers of sessions: join by link, catch up on the library, presence, sharing."""

from __future__ import annotations

from typing import Any

from residue import protocol
from residue.dsp.progress import CancelToken
from residue.errors import NotAuthorized
from residue.services import library as library_service
from residue.services import sessions as session_service
from residue.services.context import Context
from residue.transport import auth
from residue.transport.peer import Handler, Hub, Peer


def _require_admin(peer: Peer, what: str) -> None:
    if peer.role != "admin":
        raise NotAuthorized(f"only the session's owner can {what}")


async def _join(ctx: Context, hub: Hub, peer: Peer, f: protocol.Join, cancel: CancelToken) -> None:
    # A failed join leaves the socket outside of every session (also the one it was in).
    await hub.leave(peer)
    grant = auth.grant(ctx, session_id=f.session_id, token=f.token, local=peer.local)
    scoped = ctx.scoped(grant.session_id)
    record = ctx.store.sessions.get(grant.session_id)
    name = session_service.display_name(f.name, fallback=f"guest {peer.peer_id[:4]}")
    await hub.enter(peer, scoped, role=grant.role, token_id=grant.token_id, name=name)
    member = peer.member
    if member is None:  # pragma: no cover - enter() with a name always makes one
        raise NotAuthorized("could not enter the session")
    peer.send(
        protocol.Joined(
            request_id=f.request_id,
            session=session_service.session_info(record),
            role=member.role,
            member_id=member.member_id,
            name=member.name,
            colour=member.colour,
            members=hub.members(grant.session_id),
            last_seq=scoped.store.library.last_seq(),
        )
    )


async def _resume(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.Resume, cancel: CancelToken
) -> None:
    peer.send(library_service.sync_frame(ctx, since=f.since, request_id=f.request_id))


async def _set_presence(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.SetPresence, cancel: CancelToken
) -> None:
    name = None if f.name is None else session_service.display_name(f.name, fallback=peer.name)
    playing = None if f.playing is None else session_service.clean_text(f.playing, 200) or None
    hub.set_presence(peer, playing=playing, name=name)
    peer.send(protocol.Ok(request_id=f.request_id))


async def _create_session(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.CreateSession, cancel: CancelToken
) -> None:
    _require_admin(peer, "make new sessions")
    record = await ctx.executor.run(lambda p, t: session_service.create_session(ctx, f.name))
    peer.send(
        protocol.SessionCreated(
            request_id=f.request_id, session=session_service.session_info(record)
        )
    )


async def _list_sessions(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.ListSessions, cancel: CancelToken
) -> None:
    _require_admin(peer, "list the sessions")
    peer.send(
        protocol.SessionList(
            request_id=f.request_id,
            sessions=[session_service.session_info(r) for r in ctx.store.sessions.list()],
        )
    )


async def _create_invite(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.CreateInvite, cancel: CancelToken
) -> None:
    _require_admin(peer, "share the session")
    token, record = ctx.store.sessions.issue(ctx.session_id, role="guest", label=f.label)
    peer.send(
        protocol.Invite(
            request_id=f.request_id,
            session_id=ctx.session_id,
            invite=session_service.invite_info(record),
            token=token,
        )
    )


async def _list_invites(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.ListInvites, cancel: CancelToken
) -> None:
    _require_admin(peer, "see the session's links")
    records = ctx.store.sessions.tokens(ctx.session_id, role="guest")
    peer.send(
        protocol.Invites(
            request_id=f.request_id, invites=[session_service.invite_info(r) for r in records]
        )
    )


async def _revoke_invite(
    ctx: Context, hub: Hub, peer: Peer, f: protocol.RevokeInvite, cancel: CancelToken
) -> None:
    _require_admin(peer, "revoke links")
    record = ctx.store.sessions.revoke(f.invite_id, session_id=ctx.session_id)
    hub.revoke(ctx.session_id, record.token_id)
    peer.send(protocol.InviteRevoked(request_id=f.request_id, invite_id=record.token_id))
    hub.publish(ctx.session_id, protocol.InviteRevoked(request_id=0, invite_id=record.token_id))


HANDLERS: dict[type[Any], Handler] = {
    protocol.Join: _join,
    protocol.Resume: _resume,
    protocol.SetPresence: _set_presence,
    protocol.CreateSession: _create_session,
    protocol.ListSessions: _list_sessions,
    protocol.CreateInvite: _create_invite,
    protocol.ListInvites: _list_invites,
    protocol.RevokeInvite: _revoke_invite,
}
