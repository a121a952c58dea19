/**
 * The session this tab is in: who else is here and what they listen to, sharing links, joining by
 * link, the display name. The studio's library follows the session's op log (see studio.ts); this
 * is everything else of being several people in one studio.
 */
import type { InviteInfo, Member } from "@shared/protocol";
import { clearCredentials, credentials, displayName, linkFor, parseLink, saveCredentials, saveDisplayName } from "../net/auth";
import type { ResidueClient } from "../net/client";
import { ServerError } from "../net/correlate";
import { copyText } from "./dom";
import { Store } from "./store";
import type { Studio } from "./studio";
import type { Toasts } from "./toast";

export interface SessionState {
  readonly joined: boolean;
  readonly sessionId: string | null;
  readonly sessionName: string;
  readonly role: "admin" | "guest" | null;
  readonly memberId: string | null;
  readonly name: string;
  readonly colour: string;
  /** Everyone here, this tab included, in the order of their colours. */
  readonly members: readonly Member[];
  readonly invites: readonly InviteInfo[];
  /** The link made last (shown so it can be copied by hand when the clipboard is refused). */
  readonly link: string | null;
  /** Why this tab was not let in (a revoked or mistyped link), or null. */
  readonly refused: string | null;
}

const INITIAL: SessionState = {
  joined: false,
  sessionId: null,
  sessionName: "",
  role: null,
  memberId: null,
  name: "",
  colour: "#888888",
  members: [],
  invites: [],
  link: null,
  refused: null,
};

/** Presence updates are sent at most this often (a scrubbing user changes what plays quickly). */
const PRESENCE_MS = 150;

/** A room that plays sound: what it plays now (null: nothing), and news of changes. */
export interface PlaySource {
  nowPlaying(): string | null;
  onChange(fn: () => void): void;
}

export class SessionController {
  readonly store = new Store<SessionState>({ ...INITIAL, name: displayName() });
  readonly #client: ResidueClient;
  readonly #toasts: Toasts;
  #presenceTimer: ReturnType<typeof setTimeout> | null = null;
  #sentPlaying: string | null = null;
  #studio: Studio;
  readonly #sources: PlaySource[] = [];

  constructor(client: ResidueClient, studio: Studio, toasts: Toasts) {
    this.#client = client;
    this.#toasts = toasts;
    client.joinWith(() => ({ ...credentials(), name: this.store.state.name }));
    client.on("joined", (f) => {
      this.store.set({
        joined: true,
        refused: null,
        sessionId: f.session.session_id,
        sessionName: f.session.name,
        role: f.role,
        memberId: f.member_id,
        name: f.name,
        colour: f.colour,
        members: f.members,
      });
      this.#sentPlaying = null;
      this.#presenceSoon(studio);
      if (f.role === "admin") void this.refreshInvites();
    });
    client.on("refused", (err) => {
      this.store.set({ joined: false, refused: err.message, members: [] });
    });
    client.on("status", ({ state }) => {
      if (state === "closed") this.store.set({ joined: false, members: [] });
    });
    client.on("presence", (f) => {
      const left = new Set(f.left ?? []);
      const changed = new Map(f.members.map((m) => [m.member_id, m]));
      const kept = this.store.state.members.filter((m) => !left.has(m.member_id)).map((m) => changed.get(m.member_id) ?? m);
      const added = f.members.filter((m) => !kept.some((k) => k.member_id === m.member_id) && !left.has(m.member_id));
      this.store.set({ members: [...kept, ...added] });
    });
    client.on("inviteRevoked", () => {
      if (this.store.state.role === "admin") void this.refreshInvites();
    });
    studio.store.watch(["playing"], () => this.#presenceSoon(studio));
    this.#studio = studio;
  }

  /** Another room that plays: the others see its label while it does (the studio's first). */
  addPlaySource(source: PlaySource): void {
    this.#sources.push(source);
    source.onChange(() => this.#presenceSoon(this.#studio));
  }

  get state(): SessionState {
    return this.store.state;
  }

  /** Tell the others what plays here (throttled; only changes are sent). */
  #presenceSoon(studio: Studio): void {
    if (this.#presenceTimer !== null) return;
    this.#presenceTimer = setTimeout(() => {
      this.#presenceTimer = null;
      if (!this.state.joined) return;
      const playing = studio.state.playing?.label ?? this.#sources.map((src) => src.nowPlaying()).find((label) => label !== null) ?? null;
      if (playing === this.#sentPlaying) return;
      this.#sentPlaying = playing;
      this.#client.setPresence(playing).catch(() => undefined);
    }, PRESENCE_MS);
  }

  /** Make a sharing link for this session and copy it; returns the link. */
  async share(): Promise<string | null> {
    const sessionId = this.state.sessionId;
    if (!sessionId) return null;
    try {
      const made = await this.#client.createInvite(`link ${this.state.invites.length + 1}`);
      const link = linkFor(location.origin, made.sessionId, made.token);
      this.store.set({ link, invites: [made.invite, ...this.state.invites] });
      const copied = await copyText(link);
      this.#toasts.show(copied ? "Link copied: whoever opens it joins this session." : "Here is the link: copy it and send it.");
      return link;
    } catch (err) {
      this.#fail("Could not make a link", err);
      return null;
    }
  }

  async refreshInvites(): Promise<void> {
    try {
      this.store.set({ invites: await this.#client.listInvites() });
    } catch (err) {
      this.#fail("Could not list the links", err);
    }
  }

  async revoke(invite: InviteInfo): Promise<void> {
    try {
      await this.#client.revokeInvite(invite.invite_id);
      this.store.set({ invites: this.state.invites.map((i) => (i.invite_id === invite.invite_id ? { ...i, revoked: true } : i)) });
      this.#toasts.show(`Revoked “${invite.label || invite.invite_id}”: whoever joined with it is out.`);
    } catch (err) {
      this.#fail("Could not revoke the link", err);
    }
  }

  /** Make a new session (the owner) and move this tab into it. */
  async newSession(name: string): Promise<void> {
    try {
      const made = await this.#client.createSession(name.trim() || "session");
      saveCredentials({ sessionId: made.session_id, token: credentials().token });
      location.reload();
    } catch (err) {
      this.#fail("Could not make a session", err);
    }
  }

  /** Join by a pasted link: returns false (and says why) when it is not a link. */
  joinLink(text: string): boolean {
    const parsed = parseLink(text);
    if (!parsed) {
      this.#toasts.show("That is not a residue link: it should end in #s=…&t=…", "error");
      return false;
    }
    saveCredentials(parsed);
    location.reload();
    return true;
  }

  /** Back to the default session (the local studio). */
  leave(): void {
    clearCredentials();
    location.reload();
  }

  rename(name: string): void {
    const clean = name.trim().slice(0, 40);
    if (!clean || clean === this.state.name) return;
    saveDisplayName(clean);
    this.store.set({ name: clean });
    if (this.state.joined) {
      this.#client.setPresence(this.#sentPlaying, clean).catch((err: unknown) => this.#fail("Could not change your name", err));
    }
  }

  #fail(what: string, err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    this.#toasts.show(`${what}: ${message}`, "error", err instanceof ServerError ? err.errorId : null);
  }
}
