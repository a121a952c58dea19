import { afterEach, describe, expect, it, vi } from "vitest";
import type { AlbumExported, Decided, SwipeCard, SwipeDeck, TimbreState } from "@shared/protocol";
import { ServerError } from "../net/correlate";
import type { ExportArgs, SwipeApi } from "./api";
import { formatQuery, parseQuery, SwipeController, type Notifier, type PreviewPlayer } from "./controller";
import { counts, current, type Decision, type ItemKind } from "./deck";

function card(id: string, decision: Decision | null = null, kind: ItemKind = "song"): SwipeCard {
  return { kind, item_id: id, title: `t ${id}`, subtitle: "", duration_s: 90, thumbnail: new Uint8Array(1), thumb_rows: 1, thumb_cols: 1, decision };
}

function timbreState(albums: string[] = ["al1"], sets: string[] = ["set1"]): TimbreState {
  return {
    type: "timbre_state",
    request_id: 1,
    models: [],
    default_model_id: null,
    sets: sets.map((s) => ({ set_id: s, name: s, created_at: 0, n_clips: 3, n_usable: 3 })),
    albums: albums.map((a) => ({ album_id: a, name: `album ${a}`, created_at: 0, n_songs: 2, model_id: "m" })),
    defaults: { seed: 0 },
    criteria: [],
    ambiences: [],
    map_methods: [],
    max_album_songs: 500,
  };
}

/** A server in memory: decks per kind, the session's undo stack. */
class FakeApi implements SwipeApi {
  decks: Record<ItemKind, SwipeCard[]> = { song: [], cell: [], clip: [] };
  undoStack: { kind: ItemKind; itemId: string }[] = [];
  calls: string[] = [];
  refuse: Error | null = null;
  state: TimbreState = timbreState();
  exported: ExportArgs[] = [];

  timbreState(): Promise<TimbreState> {
    this.calls.push("timbre_state");
    return Promise.resolve(this.state);
  }
  deck(kind: ItemKind, albumId: string | null, setId: string | null): Promise<SwipeDeck> {
    this.calls.push(`deck ${kind} ${albumId ?? "-"} ${setId ?? "-"}`);
    return Promise.resolve({ type: "swipe_deck", request_id: 2, kind, cards: this.decks[kind].map((c) => ({ ...c })), undo: this.undoStack.length > 0 });
  }
  decide(kind: ItemKind, itemId: string, decision: Decision): Promise<Decided> {
    this.calls.push(`decide ${itemId} ${decision}`);
    if (this.refuse) return Promise.reject(this.refuse);
    this.set(kind, itemId, decision);
    this.undoStack.push({ kind, itemId });
    return Promise.resolve({ type: "decided", request_id: 3, kind, item_id: itemId, decision });
  }
  undo(kind: ItemKind): Promise<Decided> {
    this.calls.push(`undo ${kind}`);
    const last = this.undoStack.pop();
    if (!last) return Promise.reject(new ServerError({ code: "not_found", message: "nothing to undo", error_id: null, request_id: 4 }));
    this.set(kind, last.itemId, null);
    return Promise.resolve({ type: "decided", request_id: 4, kind, item_id: last.itemId, decision: null, undone: true });
  }
  exportAlbum(args: ExportArgs, onProgress: (fraction: number, stage: string) => void): Promise<AlbumExported> {
    this.exported.push(args);
    onProgress(0.5, "rendering");
    return Promise.resolve({ type: "album_exported", request_id: 5, title: args.title ?? "kept", folder: "/data/albums/x", url: "/api/albums/x.zip", files: ["01.flac"], loudness_lufs: -14 });
  }
  set(kind: ItemKind, itemId: string, decision: Decision | null): void {
    this.decks[kind] = this.decks[kind].map((c) => (c.item_id === itemId ? { ...c, decision } : c));
  }
}

class FakePlayer implements PreviewPlayer {
  played: string[] = [];
  prefetched: string[] = [];
  stops = 0;
  play(card: SwipeCard): void {
    this.played.push(card.item_id);
  }
  prefetch(card: SwipeCard): void {
    this.prefetched.push(card.item_id);
  }
  stop(): void {
    this.stops++;
  }
}

class FakeNotes implements Notifier {
  messages: { text: string; kind: string }[] = [];
  show(message: string, kind: "info" | "error" = "info"): void {
    this.messages.push({ text: message, kind });
  }
}

async function setup(cards: SwipeCard[], search = "") {
  const api = new FakeApi();
  api.decks.song = cards;
  const player = new FakePlayer();
  const notes = new FakeNotes();
  const ctl = new SwipeController(api, player, notes, parseQuery(search));
  await ctl.ready();
  return { api, player, notes, ctl };
}

function front(ctl: SwipeController): string | null {
  const deck = ctl.state.deck;
  return deck ? (current(deck)?.item_id ?? null) : null;
}

afterEach(() => {
  vi.useRealTimers();
});

describe("query", () => {
  it("reads and writes the selection", () => {
    expect(parseQuery("?album=al_1")).toEqual({ kind: "song", albumId: "al_1", setId: null });
    expect(parseQuery("?kind=clip&set=s1")).toEqual({ kind: "clip", albumId: null, setId: "s1" });
    expect(parseQuery("?kind=bogus&album=../x")).toEqual({ kind: "song", albumId: null, setId: null });
    expect(formatQuery({ kind: "song", albumId: "a", setId: "s" })).toBe("?album=a");
    expect(formatQuery({ kind: "clip", albumId: "a", setId: "s" })).toBe("?kind=clip&set=s");
    expect(formatQuery({ kind: "song", albumId: null, setId: null })).toBe("");
    for (const sel of [{ kind: "cell", albumId: null, setId: null }, { kind: "song", albumId: "a1", setId: null }] as const) {
      expect(parseQuery(formatQuery(sel))).toEqual(sel);
    }
  });
});

describe("SwipeController", () => {
  it("loads the albums, the sets and the deck; ?album preselects", async () => {
    const { api, ctl } = await setup([card("a"), card("b")], "?album=al1");
    expect(api.calls).toEqual(["timbre_state", "deck song al1 -"]);
    expect(ctl.state.albums).toHaveLength(1);
    expect(ctl.state.setId).toBe("set1");
    expect(front(ctl)).toBe("a");
  });

  it("an album that is gone falls back to all songs, with a message", async () => {
    const { api, ctl, notes } = await setup([card("a")], "?album=gone");
    expect(ctl.state.albumId).toBeNull();
    expect(api.calls).toContain("deck song - -");
    expect(notes.messages[0]?.kind).toBe("error");
  });

  it("plays nothing before the first tap, then the card in front and each new one", async () => {
    const { ctl, player } = await setup([card("a"), card("b")]);
    expect(player.played).toEqual([]);
    ctl.decide("keep");
    expect(player.played).toEqual([]);
    ctl.audioOn();
    expect(player.played).toEqual(["b"]);
    expect(ctl.state.playing).toBe("b");
    ctl.decide("reject");
    expect(ctl.state.playing).toBeNull();
    expect(player.stops).toBeGreaterThan(0);
  });

  it("fetches the next card's preview while one plays, and nothing before the first tap", async () => {
    const { ctl, player } = await setup([card("a"), card("b"), card("c")]);
    expect(player.prefetched).toEqual([]);
    ctl.audioOn();
    expect(player.played).toEqual(["a"]);
    expect(player.prefetched).toEqual(["b"]);
    ctl.decide("keep");
    expect(player.played).toEqual(["a", "b"]);
    expect(player.prefetched).toEqual(["b", "c"]);
  });

  it("decisions reach the server and persist there", async () => {
    const { api, ctl } = await setup([card("a"), card("b")]);
    ctl.decide("keep");
    ctl.decide("reject");
    await ctl.settled();
    expect(api.calls.filter((c) => c.startsWith("decide"))).toEqual(["decide a keep", "decide b reject"]);
    expect(ctl.state.deck?.pending.size).toBe(0);
    // a reload shows the same decisions
    const again = new SwipeController(api, new FakePlayer(), new FakeNotes());
    await again.ready();
    expect(counts(again.state.deck!)).toEqual({ kept: 1, rejected: 1, left: 0, total: 2 });
  });

  it("undo brings back the last card with its decision removed, on the server too", async () => {
    const { api, ctl, player } = await setup([card("a"), card("b"), card("c")]);
    ctl.audioOn();
    ctl.decide("keep");
    ctl.decide("reject");
    ctl.undo();
    expect(front(ctl)).toBe("b"); // at once
    await ctl.settled();
    expect(api.calls.slice(-1)).toEqual(["undo song"]);
    expect(api.decks.song.find((c) => c.item_id === "b")?.decision).toBeNull();
    expect(ctl.state.deck?.cards.get("b")?.decision).toBeNull();
    expect(front(ctl)).toBe("b");
    expect(player.played.slice(-1)).toEqual(["b"]);
  });

  it("undo follows the server when it undid another card", async () => {
    const { api, ctl } = await setup([card("a"), card("b"), card("c")]);
    ctl.decide("keep"); // a
    await ctl.settled();
    // another tab decided c after us: the session's last decision is c's
    api.set("song", "c", "reject");
    api.undoStack.push({ kind: "song", itemId: "c" });
    ctl.onDecided("song", "c", "reject", false);
    ctl.undo();
    await ctl.settled();
    const deck = ctl.state.deck!;
    expect(deck.cards.get("a")?.decision).toBe("keep");
    expect(deck.cards.get("c")?.decision).toBeNull();
    expect(front(ctl)).toBe("c");
  });

  it("says so when there is nothing to undo", async () => {
    const { api, ctl, notes } = await setup([card("a")]);
    ctl.undo();
    expect(api.calls).not.toContain("undo song");
    expect(notes.messages.at(-1)?.text).toMatch(/Nothing to undo/);
  });

  it("a server that finds nothing to undo clears the hint", async () => {
    const { api, ctl, notes } = await setup([card("a", "keep"), card("b")]);
    expect(ctl.state.deck?.serverUndo).toBe(false);
    // the deck says there is a decision to undo, but it is gone by the time we ask
    api.undoStack.push({ kind: "song", itemId: "a" });
    await ctl.load();
    expect(ctl.state.deck?.serverUndo).toBe(true);
    api.undoStack = [];
    ctl.undo();
    await ctl.settled();
    expect(notes.messages.at(-1)?.text).toMatch(/Nothing to undo/);
    expect(ctl.state.deck?.serverUndo).toBe(false);
  });

  it("a refused decision puts the card back and says why", async () => {
    const { api, ctl, notes } = await setup([card("a"), card("b")]);
    api.refuse = new ServerError({ code: "not_found", message: "no such song", error_id: null, request_id: 3 });
    ctl.decide("keep");
    expect(front(ctl)).toBe("b");
    await ctl.settled();
    expect(front(ctl)).toBe("a");
    expect(ctl.state.deck?.cards.get("a")?.decision).toBeNull();
    expect(notes.messages.at(-1)).toEqual({ text: "Could not keep “t a”: no such song", kind: "error" });
  });

  it("another tab's decision updates the deck live; other kinds are ignored", async () => {
    const { ctl } = await setup([card("a"), card("b")]);
    ctl.onDecided("song", "a", "keep", false);
    expect(front(ctl)).toBe("b");
    ctl.onDecided("clip", "b", "keep", false);
    expect(front(ctl)).toBe("b");
    ctl.onDecided("song", "a", null, true);
    expect(counts(ctl.state.deck!).left).toBe(2);
  });

  it("new songs of the album join the deck after a short wait; deleted ones leave", async () => {
    vi.useFakeTimers();
    const { api, ctl } = await setup([card("a")], "?album=al1");
    api.decks.song = [card("a"), card("n1"), card("n2")];
    ctl.onSongAdded("other-album");
    ctl.onSongAdded("al1");
    ctl.onSongAdded("al1");
    await vi.advanceTimersByTimeAsync(500);
    expect(api.calls.filter((c) => c.startsWith("deck"))).toHaveLength(2);
    expect(ctl.state.deck?.queue).toEqual(["a", "n1", "n2"]);
    ctl.onSongRemoved("n1");
    expect(ctl.state.deck?.queue).toEqual(["a", "n2"]);
  });

  it("switches to clips of the first training set, and back", async () => {
    const { api, ctl } = await setup([card("a")]);
    api.decks.clip = [card("set1-0", null, "clip")];
    ctl.setKind("clip");
    await vi.waitFor(() => expect(ctl.state.deck?.kind).toBe("clip"));
    expect(api.calls.at(-1)).toBe("deck clip - set1");
    expect(front(ctl)).toBe("set1-0");
  });

  it("clips without any training set show an empty deck without asking", async () => {
    const api = new FakeApi();
    api.state = timbreState([], []);
    const ctl = new SwipeController(api, new FakePlayer(), new FakeNotes(), parseQuery("?kind=clip"));
    await ctl.ready();
    expect(ctl.state.deck?.cards.size).toBe(0);
    expect(api.calls).toEqual(["timbre_state"]);
  });

  it("a failed load says why and keeps no deck", async () => {
    const api = new FakeApi();
    api.deck = () => Promise.reject(new Error("the server is busy"));
    const notes = new FakeNotes();
    const ctl = new SwipeController(api, new FakePlayer(), notes);
    await ctl.ready();
    expect(ctl.state.deck).toBeNull();
    expect(ctl.state.error).toBe("the server is busy");
    expect(notes.messages.at(-1)?.text).toMatch(/Could not load the cards: the server is busy/);
  });

  it("exports the kept songs of the album with progress", async () => {
    const { api, ctl } = await setup([card("a")], "?album=al1");
    const seen: string[] = [];
    ctl.store.watch(["exporting"], (s) => seen.push(s.exporting.status === "running" ? `running ${s.exporting.fraction}` : s.exporting.status));
    const result = await ctl.exportKept("wav");
    expect(api.exported).toEqual([{ albumId: "al1", songIds: null, format: "wav", title: "album al1" }]);
    expect(result?.folder).toBe("/data/albums/x");
    expect(seen).toEqual(["idle", "running 0", "running 0.5", "done"]);
  });

  it("a failed export says why", async () => {
    const { api, ctl, notes } = await setup([card("a")]);
    api.exportAlbum = () => Promise.reject(new Error("disk full"));
    expect(await ctl.exportKept("flac")).toBeNull();
    expect(ctl.state.exporting).toEqual({ status: "failed", message: "disk full" });
    expect(notes.messages.at(-1)?.text).toBe("Could not export the album: disk full");
  });

  it("a tap pauses and plays again", async () => {
    const { ctl, player } = await setup([card("a")]);
    ctl.togglePlay(); // the first tap starts sound
    expect(player.played).toEqual(["a"]);
    ctl.togglePlay();
    expect(ctl.state.playing).toBeNull();
    ctl.togglePlay();
    expect(player.played).toEqual(["a", "a"]);
  });

  it("a reconnect merges the deck instead of starting over", async () => {
    const { api, ctl } = await setup([card("a"), card("b"), card("c")]);
    ctl.decide("keep");
    await ctl.settled();
    api.set("song", "c", "reject"); // decided elsewhere while we were away
    await ctl.ready();
    expect(front(ctl)).toBe("b");
    expect(ctl.state.deck?.queue.slice(ctl.state.deck.index)).toEqual(["b"]);
  });
});
