/**
 * The swipe page's state and actions (no DOM): what is curated, the deck, the preview, the export.
 *
 * Decisions apply at once and go to the server in order (a decide and the undo after it never
 * overtake each other); a refusal puts the card back and says why. Other tabs' decisions and new
 * or deleted songs arrive as events and update the deck live.
 */
import type { AlbumExported, AlbumInfo, SwipeCard, TrainingSetInfo } from "@shared/protocol";
import { ServerError } from "../net/correlate";
import { Store } from "../ui/store";
import type { ConnectionState } from "../workers/messages";
import type { SwipeApi } from "./api";
import {
  applyRemote,
  canUndo,
  confirm,
  current,
  decide,
  lastDecided,
  makeDeck,
  merge,
  removeCard,
  reopen,
  reshuffle,
  revert,
  upcoming,
  type Deck,
  type DeckMode,
  type Decision,
  type ItemKind,
} from "./deck";

/** Cards behind the one in front whose previews are fetched while it plays. */
export const PREFETCH_AHEAD = 1;

/** Plays a card's preview (looping) through the page's audio engine; a fake in tests. */
export interface PreviewPlayer {
  play(card: SwipeCard, clickAt: number | null): void;
  /** Fetch a card's preview ahead, so that it starts at once when it comes to the front. */
  prefetch(card: SwipeCard): void;
  stop(): void;
}

/** Where messages for people go (the page's toasts). */
export interface Notifier {
  show(message: string, kind?: "info" | "error", detail?: string | null): void;
}

export type ExportState =
  | { readonly status: "idle" }
  | { readonly status: "running"; readonly fraction: number; readonly stage: string; readonly format: "flac" | "wav" }
  | { readonly status: "done"; readonly result: AlbumExported }
  | { readonly status: "failed"; readonly message: string };

export interface SwipeState {
  readonly connection: ConnectionState;
  readonly kind: ItemKind;
  readonly albums: readonly AlbumInfo[];
  readonly sets: readonly TrainingSetInfo[];
  /** The album curated (songs); null: all songs. */
  readonly albumId: string | null;
  /** The training set curated (clips); null: none chosen (or none exists). */
  readonly setId: string | null;
  /** null while loading (or when nothing can be loaded: see `error`). */
  readonly deck: Deck | null;
  readonly loading: boolean;
  /** Why the deck could not be loaded. */
  readonly error: string | null;
  /** Sound starts after the first tap (an AudioContext needs a gesture). */
  readonly audio: "off" | "on";
  /** The card whose preview plays (null: silence). */
  readonly playing: string | null;
  readonly exporting: ExportState;
}

export const KINDS: readonly ItemKind[] = ["song", "cell", "clip"];

const INITIAL: SwipeState = {
  connection: "connecting",
  kind: "song",
  albums: [],
  sets: [],
  albumId: null,
  setId: null,
  deck: null,
  loading: false,
  error: null,
  audio: "off",
  playing: null,
  exporting: { status: "idle" },
};

/** What the address bar says: `?kind=clip&set=..` / `?album=..`. */
export interface Selection {
  readonly kind: ItemKind;
  readonly albumId: string | null;
  readonly setId: string | null;
}

const ID = /^[A-Za-z0-9_-]{1,200}$/;

/** The selection in a query string (unknown or malformed values are ignored). */
export function parseQuery(search: string): Selection {
  const q = new URLSearchParams(search);
  const kindText = q.get("kind");
  const kind = KINDS.find((k) => k === kindText) ?? "song";
  const album = q.get("album");
  const set = q.get("set");
  return { kind, albumId: album && ID.test(album) ? album : null, setId: set && ID.test(set) ? set : null };
}

/** The query string of a selection ("" for all songs). */
export function formatQuery(sel: Selection): string {
  const q = new URLSearchParams();
  if (sel.kind !== "song") q.set("kind", sel.kind);
  if (sel.kind === "song" && sel.albumId) q.set("album", sel.albumId);
  if (sel.kind === "clip" && sel.setId) q.set("set", sel.setId);
  const text = q.toString();
  return text ? `?${text}` : "";
}

/** A new song belongs in the deck when it is in the album curated (or all songs are). */
const REFRESH_MS = 400;

export class SwipeController {
  readonly store: Store<SwipeState>;
  readonly #api: SwipeApi;
  readonly #player: PreviewPlayer;
  readonly #notify: Notifier;
  /** Decisions and undos reach the server one after another, in the order they were made. */
  #serial: Promise<unknown> = Promise.resolve();
  /** Bumped by every deck load: a late reply of an older load is dropped. */
  #loadGen = 0;
  #refreshTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(api: SwipeApi, player: PreviewPlayer, notify: Notifier, selection: Selection = parseQuery("")) {
    this.#api = api;
    this.#player = player;
    this.#notify = notify;
    this.store = new Store<SwipeState>({ ...INITIAL, ...selection });
  }

  get state(): SwipeState {
    return this.store.state;
  }

  get selection(): Selection {
    const s = this.state;
    return { kind: s.kind, albumId: s.albumId, setId: s.setId };
  }

  // --- connection and events -------------------------------------------------------------------

  setConnection(state: ConnectionState): void {
    this.store.set({ connection: state });
  }

  /** The socket is ready (first time or after a reconnect): list albums and sets, (re)load the deck. */
  async ready(): Promise<void> {
    const before = this.selection;
    try {
      const ts = await this.#api.timbreState();
      let { albumId, setId } = this.state;
      if (albumId && !ts.albums.some((a) => a.album_id === albumId)) {
        this.#notify.show("That album is not here any more: showing all songs.", "error");
        albumId = null;
      }
      if (!setId || !ts.sets.some((s) => s.set_id === setId)) setId = ts.sets[0]?.set_id ?? null;
      this.store.set({ albums: ts.albums, sets: ts.sets, albumId, setId });
    } catch (err) {
      this.#fail("Could not list the albums", err);
    }
    const after = this.selection;
    const moved = before.albumId !== after.albumId || before.setId !== after.setId;
    if (this.state.deck && !moved) await this.refresh();
    else await this.load();
  }

  onDecided(itemKind: ItemKind, itemId: string, decision: Decision | null, undone: boolean): void {
    const deck = this.state.deck;
    if (!deck || deck.kind !== itemKind) return;
    this.#setDeck(undone ? applyRemote(deck, itemId, null) : applyRemote(deck, itemId, decision));
  }

  onSongAdded(albumId: string | null): void {
    if (this.state.kind !== "song") return;
    if (this.state.albumId !== null && albumId !== this.state.albumId) return;
    // an album job adds many songs quickly: one refresh for a burst
    if (this.#refreshTimer !== null) clearTimeout(this.#refreshTimer);
    this.#refreshTimer = setTimeout(() => {
      this.#refreshTimer = null;
      void this.refresh();
    }, REFRESH_MS);
  }

  onSongRemoved(songId: string): void {
    const deck = this.state.deck;
    if (deck?.kind === "song") this.#setDeck(removeCard(deck, songId));
  }

  // --- what is curated -------------------------------------------------------------------------

  setKind(kind: ItemKind): void {
    if (kind === this.state.kind) return;
    this.store.set({ kind, exporting: { status: "idle" } });
    void this.load();
  }

  setAlbum(albumId: string | null): void {
    if (albumId === this.state.albumId) return;
    this.store.set({ albumId, exporting: { status: "idle" } });
    if (this.state.kind === "song") void this.load();
  }

  setSet(setId: string | null): void {
    if (setId === this.state.setId) return;
    this.store.set({ setId });
    if (this.state.kind === "clip") void this.load();
  }

  /** Load the deck of the current selection from scratch. */
  async load(): Promise<void> {
    const gen = ++this.#loadGen;
    const { kind, albumId, setId } = this.state;
    this.#player.stop();
    this.store.set({ deck: null, loading: true, error: null, playing: null });
    if (kind === "clip" && setId === null) {
      this.store.set({ deck: makeDeck(kind, []), loading: false });
      return;
    }
    try {
      const reply = await this.#api.deck(kind, kind === "song" ? albumId : null, kind === "clip" ? setId : null);
      if (gen !== this.#loadGen) return;
      this.store.set({ loading: false });
      this.#setDeck(makeDeck(kind, reply.cards, { serverUndo: reply.undo }));
    } catch (err) {
      if (gen !== this.#loadGen) return;
      this.store.set({ loading: false, error: messageOf(err) });
      this.#fail("Could not load the cards", err);
    }
  }

  /** Fetch the deck again and merge it into the one shown (new cards wait at the end). */
  async refresh(): Promise<void> {
    const deck = this.state.deck;
    if (!deck) return this.load();
    const gen = this.#loadGen;
    const { kind, albumId, setId } = this.state;
    if (kind === "clip" && setId === null) return;
    try {
      const reply = await this.#api.deck(kind, kind === "song" ? albumId : null, kind === "clip" ? setId : null);
      const now = this.state.deck;
      if (gen !== this.#loadGen || !now || now.kind !== reply.kind) return;
      this.#setDeck(merge(now, reply.cards, reply.undo));
    } catch (err) {
      this.#fail("Could not refresh the cards", err);
    }
  }

  /** Deal every card again (decided ones too), or only the undecided ones. */
  review(mode: DeckMode): void {
    const deck = this.state.deck;
    if (deck) this.#setDeck(reshuffle(deck, mode));
  }

  // --- decisions -------------------------------------------------------------------------------

  /** Keep or reject the card in front. */
  decide(decision: Decision): void {
    const deck = this.state.deck;
    const card = deck ? current(deck) : null;
    if (!deck || !card) return;
    this.#setDeck(decide(deck, decision));
    const kind = deck.kind;
    this.#queue(async () => {
      try {
        const reply = await this.#api.decide(kind, card.item_id, decision);
        this.#withDeck(kind, (d) => confirm(d, reply.item_id, reply.decision));
      } catch (err) {
        this.#withDeck(kind, (d) => revert(d, card.item_id));
        this.#fail(`Could not ${decision} “${card.title}”`, err);
      }
    });
  }

  /** Bring back the last decided card with no decision (the server's undo of this session). */
  undo(): void {
    const deck = this.state.deck;
    if (!deck) return;
    if (!canUndo(deck)) {
      this.#notify.show("Nothing to undo.");
      return;
    }
    const kind = deck.kind;
    // the card this tab decided last comes back at once; the server's reply says which it undid
    const guess = lastDecided(deck);
    const guessed = guess ? deck.cards.get(guess)?.decision ?? null : null;
    if (guess) this.#setDeck(reopen(deck, guess, true));
    this.#queue(async () => {
      try {
        const reply = await this.#api.undo(kind);
        this.#withDeck(kind, (d) => {
          let next = d;
          // the server undid another card (another tab decided after us): ours keeps its decision
          if (guess && reply.item_id !== guess && guessed) next = applyRemote(next, guess, guessed);
          return reopen(next, reply.item_id, true);
        });
      } catch (err) {
        if (guess && guessed) this.#withDeck(kind, (d) => applyRemote(d, guess, guessed));
        if (err instanceof ServerError && err.code === "not_found") {
          this.#withDeck(kind, (d) => ({ ...d, undo: [], serverUndo: false }));
          this.#notify.show("Nothing to undo.");
        } else {
          this.#fail("Could not undo", err);
        }
      }
    });
  }

  // --- sound -----------------------------------------------------------------------------------

  /** The first tap: sound may start; the card in front plays. */
  audioOn(clickAt: number | null = null): void {
    this.store.set({ audio: "on" });
    this.#autoplay(clickAt);
  }

  /** Tap on the card: pause or play its preview. */
  togglePlay(clickAt: number | null = null): void {
    if (this.state.audio === "off") return this.audioOn(clickAt);
    if (this.state.playing) {
      this.#player.stop();
      this.store.set({ playing: null });
    } else {
      this.#autoplay(clickAt, true);
    }
  }

  /** The player stopped by itself (an error): nothing plays. */
  stopped(): void {
    this.store.set({ playing: null });
  }

  // --- export ----------------------------------------------------------------------------------

  async exportKept(format: "flac" | "wav"): Promise<AlbumExported | null> {
    if (this.state.exporting.status === "running") return null;
    const { albumId, albums } = this.state;
    const album = albums.find((a) => a.album_id === albumId);
    this.store.set({ exporting: { status: "running", fraction: 0, stage: "starting", format } });
    try {
      const result = await this.#api.exportAlbum({ albumId, songIds: null, format, title: album ? album.name : null }, (fraction, stage) => {
        if (this.state.exporting.status === "running") this.store.set({ exporting: { status: "running", fraction, stage, format } });
      });
      this.store.set({ exporting: { status: "done", result } });
      return result;
    } catch (err) {
      this.store.set({ exporting: { status: "failed", message: messageOf(err) } });
      this.#fail("Could not export the album", err);
      return null;
    }
  }

  // --- plumbing --------------------------------------------------------------------------------

  #queue(op: () => Promise<void>): void {
    this.#serial = this.#serial.then(op, op);
  }

  /** Settles when every decision and undo sent so far has its answer (tests, debug). */
  settled(): Promise<void> {
    return this.#serial.then(
      () => undefined,
      () => undefined,
    );
  }

  #withDeck(kind: ItemKind, fn: (deck: Deck) => Deck): void {
    const deck = this.state.deck;
    if (deck && deck.kind === kind) this.#setDeck(fn(deck));
  }

  /** Set the deck; when another card comes to the front, its preview plays. */
  #setDeck(deck: Deck): void {
    const before = this.state.deck ? current(this.state.deck)?.item_id ?? null : null;
    this.store.set({ deck });
    const after = current(deck)?.item_id ?? null;
    if (after !== before || (after !== null && this.state.playing !== after && this.state.playing !== null)) this.#autoplay(null);
  }

  #autoplay(clickAt: number | null, force = false): void {
    if (this.state.audio !== "on") return;
    const deck = this.state.deck;
    const card = deck ? current(deck) : null;
    if (!card) {
      if (this.state.playing !== null) this.#player.stop();
      this.store.set({ playing: null });
      return;
    }
    if (!force && this.state.playing === card.item_id) return;
    this.store.set({ playing: card.item_id });
    this.#player.play(card, clickAt);
    if (deck) for (const next of upcoming(deck, PREFETCH_AHEAD)) this.#player.prefetch(next);
  }

  #fail(what: string, err: unknown): void {
    this.#notify.show(`${what}: ${messageOf(err)}`, "error", err instanceof ServerError ? err.errorId : null);
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
