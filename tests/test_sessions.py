"""Sessions: tokens, who may enter, isolation, the library's op log, presence, limits."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar.testing import TestClient
from wsclient import ENC, Socket, wav_bytes

from residue import protocol
from residue.config import Settings
from residue.errors import Conflict, LimitExceeded, NotFound
from residue.store import Store
from residue.store.sessions import OWNER_TOKEN_FILE, hash_token
from residue.transport import auth
from residue.transport.app import create_app

# ---------------------------------------------------------------------------------------------
# the store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path)
    yield s
    s.close()


def test_tokens_are_stored_hashed_and_verified(store: Store) -> None:
    s = store.sessions.create("duo")
    token, record = store.sessions.issue(s.session_id, role="guest", label="for bo")
    assert len(token) == 43 and record.role == "guest"
    raw = store.db.query("SELECT * FROM session_tokens")
    dump = repr([tuple(r) for r in raw])
    assert token not in dump and hash_token(token) in dump
    got = store.sessions.verify(token)
    assert got is not None and got.opens(s.session_id) and not got.opens("default")
    assert store.sessions.verify(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert store.sessions.verify("../../etc/passwd") is None
    assert store.sessions.verify(None) is None
    store.sessions.revoke(record.token_id, session_id=s.session_id)
    assert store.sessions.verify(token) is None
    with pytest.raises(NotFound, match="no link"):
        store.sessions.revoke(record.token_id, session_id="default")


def test_owner_token_file_is_private_and_stable(store: Store, tmp_path: Path) -> None:
    first = store.sessions.ensure_owner_token(tmp_path)
    path = tmp_path / OWNER_TOKEN_FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert store.sessions.ensure_owner_token(tmp_path) == first
    record = store.sessions.verify(first)
    assert record is not None and record.role == "admin"
    other = store.sessions.create("other")
    assert record.opens(other.session_id)
    path.unlink()  # deleting the file changes the owner link and revokes the old one
    second = store.sessions.ensure_owner_token(tmp_path)
    assert second != first and store.sessions.verify(first) is None


def test_session_limit(store: Store) -> None:
    store.sessions.create("a", max_sessions=3)
    store.sessions.create("b", max_sessions=3)
    with pytest.raises(LimitExceeded, match="at most 3 sessions"):
        store.sessions.create("c", max_sessions=3)


def test_stores_are_scoped_by_session(store: Store) -> None:
    import numpy as np

    other = store.scoped(store.sessions.create("other").session_id)
    rec = store.sounds.add(np.zeros((1, 2000), np.float32), sr=8000, name="mine", origin="upload")
    assert [r.sound_id for r in store.sounds.list()] == [rec.sound_id]
    assert other.sounds.list() == []
    with pytest.raises(NotFound):
        other.sounds.get(rec.sound_id)
    with pytest.raises(NotFound):
        other.sounds.delete(rec.sound_id)
    assert store.sounds.get(rec.sound_id).name == "mine"


def _component(store: Store, name: str = "c") -> Any:
    import numpy as np

    rng = np.random.default_rng(0)
    return store.library.add(
        rng.random(33).astype(np.float32), sr=8000, n_fft=64, name=name, provenance={},
        descriptor=rng.random(5).astype(np.float32), curve=rng.random(256).astype(np.float32),
        creator="ana",
    )


def test_op_log_per_session_and_conflict_rules(store: Store) -> None:
    lib = store.library
    other = store.scoped(store.sessions.create("other").session_id).library
    a = _component(store, "a")
    b = _component(store.scoped(other.session_id), "b")
    assert (a.seq, b.seq) == (1, 1)  # each session counts its own ops
    assert lib.get(a.component_id).version == 1
    with pytest.raises(NotFound):
        other.rename(a.component_id, "theirs")
    r1 = lib.rename(a.component_id, "a1", base_version=1, actor="ana")
    assert (r1.name, r1.version, r1.seq) == ("a1", 2, 2)
    with pytest.raises(Conflict, match="renamed to “a1” by ana"):
        lib.rename(a.component_id, "stale", base_version=1, actor="bo")
    t1 = lib.add_tag(a.component_id, "x", actor="bo")
    t2 = lib.add_tag(a.component_id, "y", actor="ana")
    t3 = lib.remove_tag(a.component_id, "x", actor="ana")
    assert (t1.tags, t2.tags, t3.tags) == (("x",), ("x", "y"), ("y",))
    assert lib.add_tag(a.component_id, "y").tags == ("y",)  # idempotent, still an op
    seq = lib.delete(a.component_id, actor="bo")
    with pytest.raises(NotFound, match="“a1” was deleted by bo"):
        lib.rename(a.component_id, "late", base_version=2, actor="ana")
    with pytest.raises(NotFound, match="deleted by bo"):
        lib.add_tag(a.component_id, "z")
    ops = lib.ops_since(0)
    assert [o.seq for o in ops] == list(range(1, seq + 1))
    assert [o.op for o in ops] == ["add", "rename", "tag", "tag", "untag", "tag", "delete"]
    assert [o.seq for o in other.ops_since(0)] == [1]


def test_sync_sends_missed_ops_or_a_snapshot(store: Store) -> None:
    lib = store.library
    a, b = _component(store, "a"), _component(store, "b")
    lib.rename(a.component_id, "a2")
    lib.delete(b.component_id)
    sync = lib.sync(2)
    assert sync.snapshot is None and sync.last_seq == 4
    assert [o.op for o in sync.ops] == ["rename", "delete"]
    assert set(sync.current) == {a.component_id} and sync.current[a.component_id].name == "a2"
    full = lib.sync(0)
    assert full.snapshot is not None and [r.name for r in full.snapshot] == ["a2"]
    assert lib.sync(1, max_ops=1).snapshot is not None
    assert lib.sync(99).snapshot is not None  # ahead of the log (another database): start over


# ---------------------------------------------------------------------------------------------
# who may enter


def _headers(**h: str) -> dict[str, str]:
    return {k.replace("_", "-"): v for k, v in h.items()}


def test_local_access_rules() -> None:
    local = Settings(host="127.0.0.1")
    ok = {"host": "127.0.0.1:8000"}
    assert auth.local_access(local, ok, ("127.0.0.1", 5000))
    assert auth.local_access(local, {"host": "localhost:8000"}, ("::1", 5000))
    assert auth.local_access(local, ok, ("testclient", 50000))  # in-process client
    assert not auth.local_access(Settings(host="0.0.0.0"), ok, ("127.0.0.1", 5000))
    assert not auth.local_access(Settings(local_access=False), ok, ("127.0.0.1", 5000))
    assert not auth.local_access(local, ok, ("192.168.1.9", 5000))
    assert not auth.local_access(local, {**ok, "x-forwarded-for": "1.2.3.4"}, ("127.0.0.1", 1))
    # a DNS-rebinding page reaches 127.0.0.1 but names its own host
    assert not auth.local_access(local, {"host": "evil.example:8000"}, ("127.0.0.1", 1))
    assert not auth.local_access(local, ok, None)


def test_origin_rules() -> None:
    s = Settings(allowed_origins=("http://localhost:5173",))
    host = {"host": "127.0.0.1:8000"}
    assert auth.origin_allowed(s, host)  # no Origin: a command-line client
    assert auth.origin_allowed(s, {**host, "origin": "http://127.0.0.1:8000"})
    assert auth.origin_allowed(s, {**host, "origin": "http://localhost:5173"})
    assert not auth.origin_allowed(s, {**host, "origin": "http://evil.example"})
    assert not auth.origin_allowed(s, {**host, "origin": "null"})
    assert not auth.origin_allowed(s, {**host, "origin": "http://127.0.0.1:8001"})
    assert auth.bearer({"authorization": "Bearer abc"}) == "abc"
    assert auth.bearer({"authorization": "Basic abc"}) is None


# ---------------------------------------------------------------------------------------------
# over the socket


def _app(tmp: Path, **kw: Any) -> TestClient[Any]:
    settings = Settings(
        data_dir=tmp, static_dir=Path("/nonexistent"), demo=False, max_frame_bytes=64_000, **kw
    )
    return TestClient(app=create_app(settings))


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient[Any]]:
    with _app(tmp_path_factory.mktemp("sessions"), max_frames_per_s=200.0, frame_burst=400) as c:
        yield c


def _store(client: TestClient[Any]) -> Store:
    store: Store = client.app.state.ctx.store
    return store


@pytest.fixture(scope="module")
def shared(app: TestClient[Any]) -> dict[str, str]:
    """A session with a guest link, and a decomposition in it to save components from."""
    store = _store(app)
    session = store.sessions.create("duo")
    guest, record = store.sessions.issue(session.session_id, role="guest")
    admin = store.sessions.ensure_owner_token(store.db.path.parent)
    r = app.post(
        "/api/sounds", params={"name": "loop.wav"}, content=wav_bytes(),
        headers={"Authorization": f"Bearer {guest}"},
    )
    assert r.status_code == 201, r.text
    with app.websocket_connect("/ws") as ws:
        s = Socket(ws)
        s.hello()
        joined = s.request(
            protocol.Join(request_id=2, session_id=session.session_id, token=guest, name="setup"),
            protocol.Joined,
        )
        assert isinstance(joined, protocol.Joined), joined
        dec = s.request(
            protocol.Decompose(request_id=3, sound_id=r.json()["sound_id"], n_components=3,
                               n_iter=10),
            protocol.Decomposition,
        )
        assert isinstance(dec, protocol.Decomposition), dec
    return {
        "session": session.session_id, "guest": guest, "guest_id": record.token_id,
        "admin": admin, "decomposition": dec.decomposition_id, "sound": r.json()["sound_id"],
    }


def _joined(app: TestClient[Any], ws: Any, shared: dict[str, str], name: str) -> Socket:
    s = Socket(ws)
    s.hello()
    j = s.request(
        protocol.Join(request_id=2, session_id=shared["session"], token=shared["guest"], name=name),
        protocol.Joined,
    )
    assert isinstance(j, protocol.Joined), j
    return s


def test_wrong_token_is_refused_and_leaves_the_socket_outside(
    app: TestClient[Any], shared: dict[str, str]
) -> None:
    with app.websocket_connect("/ws") as ws:
        s = Socket(ws)
        s.hello()  # local: in the default session without a token
        assert isinstance(s.request(protocol.ListSounds(request_id=3), protocol.Sounds),
                          protocol.Sounds)
        bad = s.request(
            protocol.Join(request_id=4, session_id=shared["session"], token="A" * 43),
            protocol.Joined,
        )
        assert isinstance(bad, protocol.Error) and bad.code == "not_authorized"
        assert "not valid" in bad.message
        after = s.request(protocol.ListSounds(request_id=5), protocol.Sounds)
        assert isinstance(after, protocol.Error) and after.code == "not_authorized"
        lib = s.request(protocol.Resume(request_id=6, since=0), protocol.LibraryOps)
        assert isinstance(lib, protocol.Error) and lib.code == "not_authorized"


def test_guest_sees_only_its_session(app: TestClient[Any], shared: dict[str, str]) -> None:
    with app.websocket_connect("/ws") as ws:
        s = _joined(app, ws, shared, "bo")
        sounds = s.request(protocol.ListSounds(request_id=3), protocol.Sounds)
        assert [x.sound_id for x in sounds.sounds] == [shared["sound"]]
        # a guest link does not open the default session
        other = s.request(
            protocol.Join(request_id=4, session_id="default", token=shared["guest"]),
            protocol.Joined,
        )
        assert isinstance(other, protocol.Error) and other.code == "not_authorized"
    with app.websocket_connect("/ws") as ws:
        s = Socket(ws)
        s.hello()  # the default session cannot see the shared session's sound or decomposition
        reply = s.request(protocol.GetDecomposition(request_id=3,
                                                    decomposition_id=shared["decomposition"]),
                          protocol.Decomposition)
        assert isinstance(reply, protocol.Error) and reply.code == "not_found"
        spec = protocol.RenderSpec(decomposition_id=shared["decomposition"])
        reply = s.request(protocol.Audition(request_id=4, spec=spec), protocol.AudioEnd)
        assert isinstance(reply, protocol.Error) and reply.code == "not_found"


def test_http_is_scoped_by_token(app: TestClient[Any], shared: dict[str, str]) -> None:
    url = f"/api/sounds/{shared['sound']}/audio.wav"
    assert app.get(url).status_code == 404  # local, default session: not there
    ok = app.get(url, headers={"Authorization": f"Bearer {shared['guest']}"})
    assert ok.status_code == 200 and ok.content[:4] == b"RIFF"
    bad = app.get(url, headers={"Authorization": "Bearer " + "B" * 43})
    assert bad.status_code == 401 and bad.json()["code"] == "not_authorized"
    admin = app.get(url, headers={"Authorization": f"Bearer {shared['admin']}",
                                  "X-Residue-Session": shared["session"]})
    assert admin.status_code == 200
    cross = app.post("/api/sounds", params={"name": "x.wav"}, content=wav_bytes(),
                     headers={"Origin": "http://evil.example"})
    assert cross.status_code == 401


def test_remote_server_needs_a_token(tmp_path: Path) -> None:
    with _app(tmp_path, host="0.0.0.0") as c:
        with c.websocket_connect("/ws") as ws:
            s = Socket(ws)
            s.hello()
            refused = s.request(protocol.ListSounds(request_id=3), protocol.Sounds)
            assert isinstance(refused, protocol.Error) and refused.code == "not_authorized"
            join = s.request(protocol.Join(request_id=4), protocol.Joined)
            assert isinstance(join, protocol.Error) and "needs a link" in join.message
            admin = _store(c).sessions.ensure_owner_token(tmp_path)
            ok = s.request(protocol.Join(request_id=5, token=admin, name="me"), protocol.Joined)
            assert isinstance(ok, protocol.Joined) and ok.role == "admin"
        assert c.get("/api/sounds/abc/audio.wav").status_code == 401
        assert c.get("/api/health").status_code == 200


def test_handshake_from_another_origin_is_refused(app: TestClient[Any]) -> None:
    from litestar.exceptions import WebSocketDisconnect

    with pytest.raises(WebSocketDisconnect):
        with app.websocket_connect("/ws", headers={"Origin": "http://evil.example"}) as ws:
            ws.receive_bytes()
    with app.websocket_connect("/ws", headers={"Origin": "http://testserver.local"}) as ws:
        Socket(ws).hello()


# ---------------------------------------------------------------------------------------------
# live state


def test_ops_reach_everyone_in_order_and_conflicts_are_explained(
    app: TestClient[Any], shared: dict[str, str]
) -> None:
    with app.websocket_connect("/ws") as wa, app.websocket_connect("/ws") as wb:
        a = _joined(app, wa, shared, "ana")
        b = _joined(app, wb, shared, "bo")
        presence = a.event(protocol.Presence)
        while "bo" not in [m.name for m in presence.members]:
            presence = a.event(protocol.Presence)
        saved = a.request(
            protocol.SaveComponent(request_id=10, decomposition_id=shared["decomposition"], unit=1,
                                   name="low", tags=["bass"]),
            protocol.LibraryChanged,
        )
        assert isinstance(saved, protocol.LibraryChanged) and saved.seq >= 1, saved
        assert saved.item is not None
        cid, v = saved.component_id, saved.item.version
        seen = b.event(protocol.LibraryChanged)
        assert (seen.op, seen.seq, seen.actor, seen.item.name) == ("add", saved.seq, "ana", "low")
        # bo renames from the version both saw; ana's rename from the same version is stale
        ok = b.request(protocol.RenameComponent(request_id=11, component_id=cid, name="sub",
                                                base_version=v), protocol.LibraryChanged)
        assert ok.item.version == v + 1
        stale = a.request(protocol.RenameComponent(request_id=12, component_id=cid, name="boom",
                                                   base_version=v), protocol.LibraryChanged)
        assert isinstance(stale, protocol.Error) and stale.code == "conflict"
        assert "renamed to “sub” by bo" in stale.message
        # tags commute: both add one, neither replaces the other's
        a.request(protocol.AddTag(request_id=13, component_id=cid, tag="warm"),
                  protocol.LibraryChanged)
        last = b.request(protocol.AddTag(request_id=13, component_id=cid, tag="dark"),
                         protocol.LibraryChanged)
        assert sorted(last.item.tags) == ["bass", "dark", "warm"]
        # delete wins over a later rename
        gone = b.request(protocol.DeleteComponent(request_id=14, component_id=cid),
                         protocol.LibraryChanged)
        late = a.request(protocol.RenameComponent(request_id=15, component_id=cid, name="x",
                                                  base_version=v + 1), protocol.LibraryChanged)
        assert isinstance(late, protocol.Error) and late.code == "not_found"
        assert "was deleted by bo" in late.message
        # both saw every op, in order, without gaps
        want = list(range(saved.seq, gone.seq + 1))
        for sock in (a, b):
            def seqs_of(sock: Socket) -> list[int]:
                return [e.seq for e in sock.log if isinstance(e, protocol.LibraryChanged)]

            while gone.seq not in seqs_of(sock):
                sock.event(protocol.LibraryChanged)
            seqs = seqs_of(sock)
            assert [s for s in seqs if s >= saved.seq] == want
        # a reconnecting client catches up from its last op
        missed = a.request(protocol.Resume(request_id=16, since=saved.seq), protocol.LibraryOps)
        assert [o.seq for o in missed.ops] == want[1:] and missed.snapshot is None
        assert all(o.item is None for o in missed.ops)  # the component is gone now
        full = a.request(protocol.Resume(request_id=17, since=0), protocol.LibraryOps)
        assert full.snapshot is not None and cid not in [i.component_id for i in full.snapshot]
        # presence: what someone listens to, then leaving
        a.request(protocol.SetPresence(request_id=18, playing="unit 2 of loop"), protocol.Ok)
        heard = b.event(protocol.Presence)
        while not any(m.playing == "unit 2 of loop" for m in heard.members):
            heard = b.event(protocol.Presence)
    with app.websocket_connect("/ws") as wc:
        c = _joined(app, wc, shared, "cy")
        assert "ana" not in [m.name for m in c.request(
            protocol.Join(request_id=3, session_id=shared["session"], token=shared["guest"],
                          name="cy"), protocol.Joined).members]


def test_revoked_link_lets_its_holders_out(app: TestClient[Any], shared: dict[str, str]) -> None:
    store = _store(app)
    token, record = store.sessions.issue(shared["session"], role="guest")
    with app.websocket_connect("/ws") as wo, app.websocket_connect("/ws") as wg:
        owner = Socket(wo)
        owner.hello()
        owner.request(protocol.Join(request_id=2, session_id=shared["session"], name="owner"),
                      protocol.Joined)  # local user: admin without a token
        guest = Socket(wg)
        guest.hello()
        guest.request(protocol.Join(request_id=2, session_id=shared["session"], token=token,
                                    name="guest"), protocol.Joined)
        invites = owner.request(protocol.ListInvites(request_id=3), protocol.Invites)
        assert record.token_id in [i.invite_id for i in invites.invites]
        refused = guest.request(protocol.RevokeInvite(request_id=3, invite_id=record.token_id),
                                protocol.InviteRevoked)
        assert isinstance(refused, protocol.Error) and "owner" in refused.message
        done = owner.request(protocol.RevokeInvite(request_id=4, invite_id=record.token_id),
                             protocol.InviteRevoked)
        assert isinstance(done, protocol.InviteRevoked)
        kicked = guest.event(protocol.Error)
        assert kicked.code == "not_authorized" and "revoked" in kicked.message
    assert store.sessions.verify(token) is None


def test_owner_creates_a_session_and_shares_it(app: TestClient[Any]) -> None:
    with app.websocket_connect("/ws") as ws:
        s = Socket(ws)
        s.hello()
        made = s.request(protocol.CreateSession(request_id=2, name="class"),
                         protocol.SessionCreated)
        sid = made.session.session_id
        s.request(protocol.Join(request_id=3, session_id=sid, name="teacher"), protocol.Joined)
        invite = s.request(protocol.CreateInvite(request_id=4, label="students"), protocol.Invite)
        assert invite.session_id == sid and len(invite.token) == 43
        listed = s.request(protocol.ListSessions(request_id=5), protocol.SessionList)
        assert sid in [x.session_id for x in listed.sessions]
    with app.websocket_connect("/ws") as ws:
        s = Socket(ws)
        s.hello()
        j = s.request(protocol.Join(request_id=2, token=invite.token, name="kid"), protocol.Joined)
        assert j.session.session_id == sid and j.role == "guest"
        no = s.request(protocol.CreateInvite(request_id=3), protocol.Invite)
        assert isinstance(no, protocol.Error) and no.code == "not_authorized"


# ---------------------------------------------------------------------------------------------
# limits


def test_frames_per_second_limit_keeps_the_socket(tmp_path: Path) -> None:
    with _app(tmp_path, max_frames_per_s=5.0, frame_burst=5) as c:
        with c.websocket_connect("/ws") as ws:
            s = Socket(ws)
            s.hello()
            for i in range(12):
                s.send(protocol.ListSounds(request_id=10 + i))
            replies = list(s.collect({10 + i for i in range(12)}, protocol.Sounds).values())
            limited = [r for r in replies if isinstance(r, protocol.Error)]
            assert limited and all(r.code == "limit_exceeded" for r in limited)
            assert "frames per second" in limited[0].message
            import time

            time.sleep(1.2)
            again = s.request(protocol.ListSounds(request_id=50), protocol.Sounds)
            assert isinstance(again, protocol.Sounds)


def test_live_session_limit(tmp_path: Path) -> None:
    with _app(tmp_path, max_live_sessions=1) as c:
        sid = _store(c).sessions.create("second").session_id
        with c.websocket_connect("/ws") as wa, c.websocket_connect("/ws") as wb:
            a = Socket(wa)
            a.hello()  # the default session is in use now
            b = Socket(wb)
            b.hello()
            full = b.request(protocol.Join(request_id=2, session_id=sid, name="x"),
                             protocol.Joined)
            assert isinstance(full, protocol.Error) and full.code == "limit_exceeded"
            assert "RESIDUE_MAX_LIVE_SESSIONS" in full.message


def test_jobs_per_session_limit(tmp_path: Path) -> None:
    with _app(tmp_path, max_jobs_per_session=1) as c:
        r = c.post("/api/sounds", params={"name": "a.wav"}, content=wav_bytes(seconds=3.0))
        sound = r.json()["sound_id"]
        with c.websocket_connect("/ws") as ws:
            s = Socket(ws)
            s.hello()
            s.send(protocol.Decompose(request_id=10, sound_id=sound, n_components=8, n_iter=2000))
            s.send(protocol.Decompose(request_id=11, sound_id=sound, n_components=4, n_iter=20,
                                      seed=1))
            second = s.until(11, protocol.Decomposition)
            assert isinstance(second, protocol.Error) and second.code == "limit_exceeded"
            assert "heavy jobs" in second.message
            s.request(protocol.Cancel(request_id=12, target_request_id=10), protocol.Ok)
            first = s.until(10, protocol.Decomposition)
            assert isinstance(first, protocol.Error) and first.code == "cancelled"


def test_unknown_field_in_join_is_a_bad_frame(app: TestClient[Any]) -> None:
    with app.websocket_connect("/ws") as ws:
        s = Socket(ws)
        s.hello()
        ws.send_bytes(ENC.encode({"type": "join", "request_id": 9, "session_id": "../x"}))
        reply = s.until(9)
        assert isinstance(reply, protocol.Error) and reply.code == "bad_frame"
        ws.send_bytes(msgspec.msgpack.encode({"type": "join", "request_id": 8, "token": "a b"}))
        assert s.until(8).code == "bad_frame"


def test_sockets_per_session_limit(tmp_path: Path) -> None:
    with _app(tmp_path, max_session_sockets=1) as c:
        with c.websocket_connect("/ws") as wa, c.websocket_connect("/ws") as wb:
            Socket(wa).hello()  # in the default session
            b = Socket(wb)
            b.hello()  # the local hello cannot enter a full session: it says so, stays outside
            full = b.request(protocol.Join(request_id=2, name="x"), protocol.Joined)
            assert isinstance(full, protocol.Error) and full.code == "limit_exceeded"
            assert "RESIDUE_MAX_SESSION_SOCKETS" in full.message
            outside = b.request(protocol.ListSounds(request_id=3), protocol.Sounds)
            assert isinstance(outside, protocol.Error) and outside.code == "not_authorized"
