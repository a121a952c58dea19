import { describe, expect, it } from "vitest";
import type { SwipeCard } from "@shared/protocol";
import {
  applyRemote,
  canUndo,
  confirm,
  counts,
  current,
  decide,
  isDone,
  keptIds,
  lastDecided,
  makeDeck,
  merge,
  preloadIds,
  previewWindow,
  removeCard,
  reopen,
  reshuffle,
  revert,
  upcoming,
  type Deck,
  type Decision,
} from "./deck";

function card(id: string, decision: Decision | null = null, extra: Partial<SwipeCard> = {}): SwipeCard {
  return {
    kind: "song",
    item_id: id,
    title: `song ${id}`,
    subtitle: "XYXZ",
    duration_s: 240,
    thumbnail: new Uint8Array(6),
    thumb_rows: 2,
    thumb_cols: 3,
    decision,
    ...extra,
  };
}

function ids(deck: Deck): string[] {
  return deck.queue.slice(deck.index);
}

function decisionOf(deck: Deck, id: string): Decision | null | undefined {
  return deck.cards.get(id)?.decision;
}

describe("makeDeck", () => {
  it("deals the undecided cards first, in the server's order, and counts all", () => {
    const deck = makeDeck("song", [card("a", "keep"), card("b"), card("c", "reject"), card("d")]);
    expect(ids(deck)).toEqual(["b", "d"]);
    expect(current(deck)?.item_id).toBe("b");
    expect(counts(deck)).toEqual({ kept: 1, rejected: 1, left: 2, total: 4 });
  });

  it("in review mode deals the decided ones after the undecided", () => {
    const deck = makeDeck("song", [card("a", "keep"), card("b"), card("c", "reject")], { mode: "all" });
    expect(ids(deck)).toEqual(["b", "a", "c"]);
  });

  it("drops duplicate ids and is done at once when empty", () => {
    expect(makeDeck("song", [card("a"), card("a", "keep")]).order).toEqual(["a"]);
    const empty = makeDeck("clip", []);
    expect(isDone(empty)).toBe(true);
    expect(current(empty)).toBeNull();
    expect(canUndo(empty)).toBe(false);
  });

  it("takes the server's undo hint", () => {
    expect(canUndo(makeDeck("song", [card("a")], { serverUndo: true }))).toBe(true);
  });
});

describe("decide, confirm, revert", () => {
  it("decides the card in front, moves on and can undo", () => {
    const deck = decide(makeDeck("song", [card("a"), card("b")]), "keep");
    expect(decisionOf(deck, "a")).toBe("keep");
    expect(current(deck)?.item_id).toBe("b");
    expect(deck.pending.has("a")).toBe(true);
    expect(lastDecided(deck)).toBe("a");
    expect(canUndo(deck)).toBe(true);
    expect(counts(deck)).toMatchObject({ kept: 1, left: 1 });
  });

  it("does not mutate the deck it was given", () => {
    const before = makeDeck("song", [card("a"), card("b")]);
    decide(before, "reject");
    expect(decisionOf(before, "a")).toBeNull();
    expect(before.index).toBe(0);
    expect(before.undo).toEqual([]);
  });

  it("leaves a done deck alone", () => {
    const done = decide(makeDeck("song", [card("a")]), "keep");
    expect(isDone(done)).toBe(true);
    expect(decide(done, "reject")).toBe(done);
  });

  it("confirm clears pending and takes the server's decision", () => {
    const deck = confirm(decide(makeDeck("song", [card("a"), card("b")]), "keep"), "a", "keep");
    expect(deck.pending.size).toBe(0);
    expect(decisionOf(deck, "a")).toBe("keep");
  });

  it("revert restores the previous decision and shows the card again", () => {
    let deck = makeDeck("song", [card("a"), card("b"), card("c")]);
    deck = decide(deck, "keep");
    deck = decide(deck, "reject");
    deck = revert(deck, "a");
    expect(current(deck)?.item_id).toBe("a");
    expect(decisionOf(deck, "a")).toBeNull();
    expect(decisionOf(deck, "b")).toBe("reject");
    expect(deck.undo.map((e) => e.itemId)).toEqual(["b"]);
    expect(ids(deck)).toEqual(["a", "c"]);
  });

  it("revert in review mode restores the old decision", () => {
    let deck = makeDeck("song", [card("a", "keep")], { mode: "all" });
    deck = decide(deck, "reject");
    deck = revert(deck, "a");
    expect(decisionOf(deck, "a")).toBe("keep");
    expect(current(deck)?.item_id).toBe("a");
  });

  it("keptIds follows the server's order", () => {
    let deck = makeDeck("song", [card("a"), card("b"), card("c")]);
    deck = decide(decide(decide(deck, "keep"), "reject"), "keep");
    expect(keptIds(deck)).toEqual(["a", "c"]);
  });
});

describe("reopen (undo)", () => {
  it("a local undo brings the last card back in front with no decision", () => {
    let deck = makeDeck("song", [card("a"), card("b"), card("c")]);
    deck = decide(decide(deck, "keep"), "reject");
    deck = reopen(deck, "b", true);
    expect(current(deck)?.item_id).toBe("b");
    expect(decisionOf(deck, "b")).toBeNull();
    expect(ids(deck)).toEqual(["b", "c"]);
    expect(deck.undo.map((e) => e.itemId)).toEqual(["a"]);
    deck = reopen(deck, "a", true);
    expect(ids(deck)).toEqual(["a", "b", "c"]);
    expect(canUndo(deck)).toBe(false);
  });

  it("a local undo of a card decided before this visit brings it in front", () => {
    let deck = makeDeck("song", [card("a", "keep"), card("b")], { serverUndo: true });
    deck = reopen(deck, "a", true);
    expect(ids(deck)).toEqual(["a", "b"]);
    expect(deck.serverUndo).toBe(false);
    expect(counts(deck).left).toBe(2);
  });

  it("another tab's undo puts its card after the one in front", () => {
    let deck = makeDeck("song", [card("a"), card("b"), card("c")]);
    deck = decide(deck, "keep");
    deck = reopen(deck, "a", false);
    expect(ids(deck)).toEqual(["b", "a", "c"]);
    expect(deck.undo.map((e) => e.itemId)).toEqual(["a"]);
  });

  it("another tab's undo on a done deck puts the card in front", () => {
    let deck = decide(makeDeck("song", [card("a")]), "keep");
    deck = reopen(deck, "a", false);
    expect(current(deck)?.item_id).toBe("a");
  });

  it("another tab's undo of a waiting card changes nothing but its decision", () => {
    const deck = makeDeck("song", [card("a"), card("b")], { mode: "all" });
    const next = reopen(deck, "b", false);
    expect(ids(next)).toEqual(["a", "b"]);
  });

  it("ignores unknown cards", () => {
    const deck = makeDeck("song", [card("a")]);
    expect(reopen(deck, "zz", true)).toBe(deck);
  });
});

describe("applyRemote (another tab decided)", () => {
  it("a waiting card decided elsewhere leaves the waiting part", () => {
    const deck = applyRemote(makeDeck("song", [card("a"), card("b"), card("c")]), "c", "keep");
    expect(ids(deck)).toEqual(["a", "b"]);
    expect(current(deck)?.item_id).toBe("a");
    expect(counts(deck).kept).toBe(1);
    expect(deck.undo).toEqual([]);
  });

  it("the card in front decided elsewhere moves the deck on", () => {
    const deck = applyRemote(makeDeck("song", [card("a"), card("b")]), "a", "reject");
    expect(current(deck)?.item_id).toBe("b");
  });

  it("is idempotent and keeps a pending decision of this tab", () => {
    const once = applyRemote(makeDeck("song", [card("a"), card("b")]), "b", "keep");
    expect(applyRemote(once, "b", "keep")).toBe(once);
    const mine = decide(makeDeck("song", [card("a"), card("b")]), "keep");
    expect(applyRemote(mine, "a", "reject")).toBe(mine);
  });

  it("in review mode only the decision changes", () => {
    const deck = applyRemote(makeDeck("song", [card("a"), card("b")], { mode: "all" }), "b", "keep");
    expect(ids(deck)).toEqual(["a", "b"]);
    expect(decisionOf(deck, "b")).toBe("keep");
  });

  it("an undone decision (null) reopens the card", () => {
    let deck = decide(makeDeck("song", [card("a"), card("b")]), "keep");
    deck = confirm(deck, "a", "keep");
    deck = applyRemote(deck, "a", null);
    expect(ids(deck)).toEqual(["b", "a"]);
  });
});

describe("removeCard and merge", () => {
  it("removes a card wherever it is, keeping the one in front", () => {
    let deck = decide(makeDeck("song", [card("a"), card("b"), card("c")]), "keep");
    deck = removeCard(deck, "a");
    expect(current(deck)?.item_id).toBe("b");
    expect(deck.undo).toEqual([]);
    expect(counts(deck).total).toBe(2);
    deck = removeCard(deck, "b");
    expect(current(deck)?.item_id).toBe("c");
  });

  it("merge appends new cards, drops gone ones and follows the server's decisions", () => {
    let deck = makeDeck("song", [card("a"), card("b"), card("c")]);
    deck = decide(deck, "keep"); // a, pending
    deck = merge(deck, [card("a"), card("b"), card("d"), card("e", "keep")]);
    expect(deck.order).toEqual(["a", "b", "d", "e"]);
    expect(ids(deck)).toEqual(["b", "d"]);
    expect(decisionOf(deck, "a")).toBe("keep"); // pending here: ours stays
    expect(counts(deck)).toEqual({ kept: 2, rejected: 0, left: 2, total: 4 });
  });

  it("merge moves on when the card in front was decided meanwhile", () => {
    const deck = merge(makeDeck("song", [card("a"), card("b")]), [card("a", "reject"), card("b")]);
    expect(current(deck)?.item_id).toBe("b");
    expect(decisionOf(deck, "a")).toBe("reject");
  });

  it("merge takes new titles", () => {
    const deck = merge(makeDeck("song", [card("a")]), [card("a", null, { title: "renamed" })]);
    expect(current(deck)?.title).toBe("renamed");
  });
});

describe("preloading and review", () => {
  it("preloads the card in front and the next two", () => {
    const deck = decide(makeDeck("song", ["a", "b", "c", "d", "e"].map((id) => card(id))), "keep");
    expect(preloadIds(deck)).toEqual(["b", "c", "d"]);
    expect(upcoming(deck, 1).map((c) => c.item_id)).toEqual(["c"]);
    expect(preloadIds(decide(decide(decide(decide(deck, "keep"), "keep"), "keep"), "keep"))).toEqual([]);
  });

  it("reshuffle deals again from the start", () => {
    let deck = makeDeck("song", [card("a"), card("b")]);
    deck = decide(decide(deck, "keep"), "reject");
    expect(isDone(deck)).toBe(true);
    const all = reshuffle(deck, "all");
    expect(ids(all)).toEqual(["a", "b"]);
    expect(ids(reshuffle(all, "undecided"))).toEqual([]);
  });
});

describe("previewWindow", () => {
  it("plays 30 s of a song from a third of the way in", () => {
    expect(previewWindow({ kind: "song", duration_s: 240 })).toEqual({ startS: 80, maxS: 30 });
  });

  it("keeps the window inside a song shorter than a third plus 30 s", () => {
    expect(previewWindow({ kind: "song", duration_s: 40 })).toEqual({ startS: 10, maxS: 30 });
    expect(previewWindow({ kind: "song", duration_s: 20 })).toEqual({ startS: 0, maxS: 20 });
  });

  it("plays cells and clips whole, up to the loop limit", () => {
    expect(previewWindow({ kind: "clip", duration_s: 2 })).toEqual({ startS: 0, maxS: null });
    expect(previewWindow({ kind: "cell", duration_s: 300 })).toEqual({ startS: 0, maxS: 60 });
  });

  it("survives a missing duration", () => {
    expect(previewWindow({ kind: "song", duration_s: Number.NaN })).toEqual({ startS: 0, maxS: 30 });
  });
});
