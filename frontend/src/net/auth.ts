/**
 * Which session this tab is in, and the token that opens it.
 *
 * A sharing link is `http://host:port/#s=<session>&t=<token>`. At start-up the page reads the link
 * from the address bar, keeps it in localStorage (so a reload stays in the session) and takes it
 * out of the address bar (so it is not shown over a shoulder or copied by accident). Without a link
 * the page asks for the default session, which the server opens without a token only for the
 * local user (see the server's transport/auth.py).
 */

export interface Credentials {
  /** null: the default session. */
  readonly sessionId: string | null;
  /** null: no token (the local user). */
  readonly token: string | null;
}

export const NO_CREDENTIALS: Credentials = { sessionId: null, token: null };
const KEY = "residue.session";
const NAME_KEY = "residue.name";
const ID = /^[A-Za-z0-9_-]{1,64}$/;
const TOKEN = /^[A-Za-z0-9_-]{16,128}$/;

/** The session and token of a link (or of a bare `#s=..&t=..` fragment); null if it has none. */
export function parseLink(text: string): Credentials | null {
  const trimmed = text.trim();
  const hash = trimmed.includes("#") ? trimmed.slice(trimmed.indexOf("#") + 1) : trimmed;
  const params = new URLSearchParams(hash);
  const s = params.get("s");
  const t = params.get("t");
  if (t === null || !TOKEN.test(t)) return null;
  if (s !== null && !ID.test(s)) return null;
  return { sessionId: s, token: t };
}

/** The link that opens `sessionId` with `token` on the server at `origin`. */
export function linkFor(origin: string, sessionId: string, token: string): string {
  return `${origin.replace(/\/+$/, "")}/#s=${encodeURIComponent(sessionId)}&t=${encodeURIComponent(token)}`;
}

/** `hash` without the link's `s` and `t` (what the rooms of the page keep in the hash). */
export function hashWithoutLink(hash: string): string {
  const body = hash.startsWith("#") ? hash.slice(1) : hash;
  if (!body.includes("=")) return hash;
  const params = new URLSearchParams(body);
  params.delete("s");
  params.delete("t");
  const rest = params.toString();
  return rest ? `#${rest}` : "";
}

/** Credentials kept as JSON by {@link saveCredentials}; anything malformed means none. */
export function readStored(raw: string | null): Credentials {
  if (!raw) return NO_CREDENTIALS;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return NO_CREDENTIALS;
  }
  if (typeof value !== "object" || value === null) return NO_CREDENTIALS;
  const { sessionId, token } = value as { sessionId?: unknown; token?: unknown };
  const sOk = sessionId === null || (typeof sessionId === "string" && ID.test(sessionId));
  const tOk = token === null || (typeof token === "string" && TOKEN.test(token));
  if (!sOk || !tOk) return NO_CREDENTIALS;
  return { sessionId: sessionId as string | null, token: token as string | null };
}

interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

function storage(): StorageLike | null {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null; // storage disabled
  }
}

let current: Credentials = NO_CREDENTIALS;

/** Read the link from the address bar (then remove it) or from storage. Call once at start-up. */
export function loadCredentials(): Credentials {
  const fromUrl = parseLink(location.hash);
  if (fromUrl) {
    saveCredentials(fromUrl);
    history.replaceState(null, "", `${location.pathname}${location.search}${hashWithoutLink(location.hash)}`);
    return current;
  }
  current = readStored(storage()?.getItem(KEY) ?? null);
  return current;
}

/** Remember credentials (a joined link, or a session the owner made). */
export function saveCredentials(c: Credentials): void {
  current = c;
  storage()?.setItem(KEY, JSON.stringify(c));
}

/** Forget the session: the next start opens the default one. */
export function clearCredentials(): void {
  current = NO_CREDENTIALS;
  storage()?.removeItem(KEY);
}

export function credentials(): Credentials {
  return current;
}

/** Headers an HTTP request of this session carries. */
export function authHeaders(): Record<string, string> {
  const out: Record<string, string> = {};
  if (current.token) out["Authorization"] = `Bearer ${current.token}`;
  if (current.sessionId) out["X-Residue-Session"] = current.sessionId;
  return out;
}

/** The display name this browser uses (kept between visits). */
export function displayName(): string {
  const kept = storage()?.getItem(NAME_KEY)?.trim();
  if (kept) return kept.slice(0, 40);
  const made = `listener ${Math.floor(Math.random() * 9000 + 1000)}`;
  storage()?.setItem(NAME_KEY, made);
  return made;
}

export function saveDisplayName(name: string): void {
  const clean = name.trim().slice(0, 40);
  if (clean) storage()?.setItem(NAME_KEY, clean);
}
