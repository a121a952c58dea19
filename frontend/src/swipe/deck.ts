/**
 * The swipe deck as a pure state machine: the cards, the one in front, decisions, undo.
 *
 * Every function takes a {@link Deck} and returns a new one (never mutating it), so the page, the
 * server's replies and other tabs' events all go through the same few transitions:
 *
 * - `queue` is the order cards are shown in; `queue[0..index)` were dealt with here, `queue[index]`
 *   is in front, the rest wait. In `"undecided"` mode the waiting part holds only undecided cards
 *   (a card decided elsewhere leaves it); in `"all"` mode (reviewing) every card is dealt again,
 *   undecided first.
 * - A decision here is optimistic: it applies at once and stays `pending` until the server
 *   confirms it ({@link confirm}) or refuses it ({@link revert}).
 * - Undo is the server's (`undo_decision` undoes this session's last decision of the kind): the
 *   reply names the card, and {@link reopen} brings it back in front with no decision. The local
 *   stack only says whether there is something to undo and which card it probably is.
 */
import type { PlayItem, SwipeCard } from "@shared/protocol";

export type ItemKind = SwipeCard["kind"];
export type Decision = "keep" | "reject";
export type DeckMode = "undecided" | "all";

export interface UndoEntry {
  readonly itemId: string;
  /** The card's decision before (restored if the server refuses the new one). */
  readonly previous: Decision | null;
}

export interface Deck {
  readonly kind: ItemKind;
  readonly mode: DeckMode;
  /** Cards by item id (decisions here are the latest known, optimistic ones included). */
  readonly cards: ReadonlyMap<string, SwipeCard>;
  /** The order of the server's deck (counts and merges keep it). */
  readonly order: readonly string[];
  /** The order of showing: dealt `[0, index)`, in front `index`, waiting after. */
  readonly queue: readonly string[];
  readonly index: number;
  readonly undo: readonly UndoEntry[];
  /** The server said there was a decision to undo when the deck was loaded. */
  readonly serverUndo: boolean;
  /** Item ids whose decision was sent and not yet confirmed. */
  readonly pending: ReadonlySet<string>;
}

export interface Counts {
  readonly kept: number;
  readonly rejected: number;
  readonly left: number;
  readonly total: number;
}

/** How many cards after the one in front are prepared ahead (thumbnails drawn). */
export const PRELOAD_AHEAD = 2;

/** A deck from the server's cards (in its order), undecided ones first. */
export function makeDeck(kind: ItemKind, cards: readonly SwipeCard[], options: { mode?: DeckMode; serverUndo?: boolean } = {}): Deck {
  const mode = options.mode ?? "undecided";
  const map = new Map<string, SwipeCard>();
  for (const card of cards) if (!map.has(card.item_id)) map.set(card.item_id, card);
  const order = [...map.keys()];
  return {
    kind,
    mode,
    cards: map,
    order,
    queue: initialQueue(order, map, mode),
    index: 0,
    undo: [],
    serverUndo: options.serverUndo ?? false,
    pending: new Set(),
  };
}

function initialQueue(order: readonly string[], cards: ReadonlyMap<string, SwipeCard>, mode: DeckMode): string[] {
  const undecided = order.filter((id) => cards.get(id)?.decision === null);
  if (mode === "undecided") return undecided;
  return [...undecided, ...order.filter((id) => cards.get(id)?.decision !== null)];
}

/** The card in front, or null when the deck is done. */
export function current(deck: Deck): SwipeCard | null {
  const id = deck.queue[deck.index];
  return id === undefined ? null : (deck.cards.get(id) ?? null);
}

/** The next `n` cards after the one in front (the first peeks behind it). */
export function upcoming(deck: Deck, n: number = PRELOAD_AHEAD): SwipeCard[] {
  const out: SwipeCard[] = [];
  for (let i = deck.index + 1; i < deck.queue.length && out.length < n; i++) {
    const card = deck.cards.get(deck.queue[i] ?? "");
    if (card) out.push(card);
  }
  return out;
}

/** Item ids to prepare now: the card in front and the next {@link PRELOAD_AHEAD}. */
export function preloadIds(deck: Deck, n: number = PRELOAD_AHEAD): string[] {
  const front = current(deck);
  return [...(front ? [front.item_id] : []), ...upcoming(deck, n).map((c) => c.item_id)];
}

export function isDone(deck: Deck): boolean {
  return deck.index >= deck.queue.length;
}

export function canUndo(deck: Deck): boolean {
  return deck.undo.length > 0 || deck.serverUndo;
}

export function counts(deck: Deck): Counts {
  let kept = 0;
  let rejected = 0;
  for (const card of deck.cards.values()) {
    if (card.decision === "keep") kept++;
    else if (card.decision === "reject") rejected++;
  }
  const total = deck.cards.size;
  return { kept, rejected, left: total - kept - rejected, total };
}

/** Item ids of kept cards, in the server's order (what an album export takes). */
export function keptIds(deck: Deck): string[] {
  return deck.order.filter((id) => deck.cards.get(id)?.decision === "keep");
}

function withDecision(cards: ReadonlyMap<string, SwipeCard>, itemId: string, decision: Decision | null): Map<string, SwipeCard> {
  const next = new Map(cards);
  const card = next.get(itemId);
  if (card) next.set(itemId, { ...card, decision });
  return next;
}

function without<T>(set: ReadonlySet<T>, value: T): Set<T> {
  const next = new Set(set);
  next.delete(value);
  return next;
}

/** Decide the card in front (optimistic: pending until {@link confirm}); a done deck is unchanged. */
export function decide(deck: Deck, decision: Decision): Deck {
  const card = current(deck);
  if (!card) return deck;
  return {
    ...deck,
    cards: withDecision(deck.cards, card.item_id, decision),
    index: deck.index + 1,
    undo: [...deck.undo, { itemId: card.item_id, previous: card.decision }],
    pending: new Set([...deck.pending, card.item_id]),
  };
}

/** The server confirmed the decision of `itemId` (its reply carries the decision it stored). */
export function confirm(deck: Deck, itemId: string, decision: Decision | null): Deck {
  if (!deck.cards.has(itemId)) return { ...deck, pending: without(deck.pending, itemId) };
  return { ...deck, cards: withDecision(deck.cards, itemId, decision), pending: without(deck.pending, itemId) };
}

/** The server refused the decision of `itemId`: restore what it was and show the card again. */
export function revert(deck: Deck, itemId: string): Deck {
  const { undo, entry } = dropLast(deck.undo, itemId);
  const restored = { ...deck, undo, pending: without(deck.pending, itemId), cards: withDecision(deck.cards, itemId, entry?.previous ?? null) };
  return bringToFront(restored, itemId);
}

/** The stack without the last entry of `itemId` (and that entry). */
function dropLast(stack: readonly UndoEntry[], itemId: string): { undo: UndoEntry[]; entry: UndoEntry | undefined } {
  const undo = [...stack];
  for (let i = undo.length - 1; i >= 0; i--) {
    if (undo[i]?.itemId === itemId) return { undo, entry: undo.splice(i, 1)[0] };
  }
  return { undo, entry: undefined };
}

/** The item the next undo will most probably bring back (the last decided here), or null. */
export function lastDecided(deck: Deck): string | null {
  return deck.undo[deck.undo.length - 1]?.itemId ?? null;
}

/**
 * A decision was undone (here or in another tab): the card has no decision and is in front again.
 *
 * @param local true when this tab asked for the undo (it pops this tab's stack and clears the
 *   server's hint); another tab's undo only puts its card in front if it is not already waiting.
 */
export function reopen(deck: Deck, itemId: string, local: boolean): Deck {
  if (!deck.cards.has(itemId)) return deck;
  const undo = local ? dropLast(deck.undo, itemId).undo : deck.undo;
  const cleared: Deck = {
    ...deck,
    cards: withDecision(deck.cards, itemId, null),
    undo,
    serverUndo: local && undo.length === 0 ? false : deck.serverUndo,
    pending: without(deck.pending, itemId),
  };
  if (local) return bringToFront(cleared, itemId);
  const pos = cleared.queue.indexOf(itemId);
  if (pos >= cleared.index) return cleared; // already waiting (or in front)
  // dealt earlier: it waits right after the card in front (or comes to the front of a done deck)
  const queue = cleared.queue.filter((id) => id !== itemId);
  const index = pos >= 0 ? cleared.index - 1 : cleared.index;
  const at = Math.min(queue.length, isDoneAt(queue, index) ? index : index + 1);
  queue.splice(at, 0, itemId);
  return { ...cleared, queue, index };
}

function isDoneAt(queue: readonly string[], index: number): boolean {
  return index >= queue.length;
}

/** Put `itemId` in front (taking it out of wherever it was in the queue). */
function bringToFront(deck: Deck, itemId: string): Deck {
  if (!deck.cards.has(itemId)) return deck;
  const pos = deck.queue.indexOf(itemId);
  const queue = deck.queue.filter((id) => id !== itemId);
  const index = pos >= 0 && pos < deck.index ? deck.index - 1 : deck.index;
  queue.splice(index, 0, itemId);
  return { ...deck, queue, index };
}

/**
 * Another tab decided `itemId` (or the server's list says so): record it; in `"undecided"` mode a
 * waiting card leaves the waiting part (the one in front moves on). Idempotent, and a card with
 * a decision pending here keeps this tab's.
 */
export function applyRemote(deck: Deck, itemId: string, decision: Decision | null): Deck {
  const card = deck.cards.get(itemId);
  if (!card || deck.pending.has(itemId)) return deck;
  if (decision === null) return card.decision === null ? deck : reopen(deck, itemId, false);
  const cards = card.decision === decision ? deck.cards : withDecision(deck.cards, itemId, decision);
  const pos = deck.queue.indexOf(itemId);
  if (deck.mode === "all" || pos < deck.index) return cards === deck.cards ? deck : { ...deck, cards };
  // waiting or in front: it counts as dealt now (it goes just before the one in front)
  const queue = deck.queue.filter((id) => id !== itemId);
  queue.splice(deck.index, 0, itemId);
  return { ...deck, cards, queue, index: deck.index + 1 };
}

/** Take a card out (a song deleted elsewhere). */
export function removeCard(deck: Deck, itemId: string): Deck {
  if (!deck.cards.has(itemId)) return deck;
  const cards = new Map(deck.cards);
  cards.delete(itemId);
  const pos = deck.queue.indexOf(itemId);
  return {
    ...deck,
    cards,
    order: deck.order.filter((id) => id !== itemId),
    queue: deck.queue.filter((id) => id !== itemId),
    index: pos >= 0 && pos < deck.index ? deck.index - 1 : deck.index,
    undo: deck.undo.filter((e) => e.itemId !== itemId),
    pending: without(deck.pending, itemId),
  };
}

/**
 * Merge a fresh list of the server's cards (after a reconnect, or new songs): new cards wait at
 * the end, gone ones leave, decisions follow the server except where one is pending here. The
 * card in front stays in front when it is still there and still undecided.
 */
export function merge(deck: Deck, fresh: readonly SwipeCard[], serverUndo: boolean = deck.serverUndo): Deck {
  const freshIds = new Set(fresh.map((c) => c.item_id));
  let next: Deck = deck;
  for (const id of deck.order) if (!freshIds.has(id)) next = removeCard(next, id);
  const cards = new Map(next.cards);
  const order = [...next.order];
  const queue = [...next.queue];
  for (const card of fresh) {
    const known = cards.get(card.item_id);
    if (!known) {
      cards.set(card.item_id, card);
      order.push(card.item_id);
      if (next.mode === "all" || card.decision === null) queue.push(card.item_id);
    } else {
      // the new text and thumbnail, this tab's decision for now (applyRemote below moves it)
      cards.set(card.item_id, { ...card, decision: known.decision });
    }
  }
  next = { ...next, cards, order, queue, serverUndo: serverUndo || next.serverUndo };
  for (const card of fresh) {
    const known = next.cards.get(card.item_id);
    if (known && known.decision !== card.decision) next = applyRemote(next, card.item_id, card.decision);
  }
  return next;
}

/** Deal again from the start, in another mode (review all, or only the undecided). */
export function reshuffle(deck: Deck, mode: DeckMode): Deck {
  return { ...deck, mode, queue: initialQueue(deck.order, deck.cards, mode), index: 0 };
}

/** Where a preview starts and how long it lasts, in seconds (null: to the end). */
export interface PreviewWindow {
  readonly startS: number;
  readonly maxS: number | null;
}

/** A song's preview: the longest part of 30 s from a third of the way in. */
export const SONG_PREVIEW_S = 30;
/** The longest item the player can loop whole (its tape). */
export const LOOP_LIMIT_S = 60;

/**
 * What of an item plays when its card comes up: a song from a third of the way in for
 * {@link SONG_PREVIEW_S} (or all of a short song), a cell or a clip whole (up to the loop limit).
 */
export function previewWindow(card: Pick<SwipeCard, "kind" | "duration_s">): PreviewWindow {
  const d = Number.isFinite(card.duration_s) && card.duration_s > 0 ? card.duration_s : 0;
  if (card.kind === "song") {
    if (d <= SONG_PREVIEW_S) return { startS: 0, maxS: d > 0 ? d : SONG_PREVIEW_S };
    const start = Math.min(d / 3, d - SONG_PREVIEW_S);
    return { startS: Math.round(start * 1000) / 1000, maxS: SONG_PREVIEW_S };
  }
  return { startS: 0, maxS: d > LOOP_LIMIT_S ? LOOP_LIMIT_S : null };
}

/** The `play_item` request (without its id) and the worker's clip-cache key of a card's preview. */
export function previewRequest(card: Pick<SwipeCard, "kind" | "item_id" | "duration_s">): { key: string; frame: Omit<PlayItem, "request_id"> } {
  const w = previewWindow(card);
  return {
    key: `swipe:${card.kind}:${card.item_id}:${w.startS}:${w.maxS ?? "all"}`,
    frame: { type: "play_item", kind: card.kind, item_id: card.item_id, start_s: w.startS, max_s: w.maxS },
  };
}
