/**
 * A read-only hook on `window.residue.swipe` for end-to-end tests: the deck, what plays, the meter.
 */
import type { SwipeController } from "./controller";
import type { PreviewAudio } from "./audio";
import { canUndo, counts, current, isDone } from "./deck";

export interface SwipeDebugState {
  connection: string;
  kind: string;
  albumId: string | null;
  setId: string | null;
  loading: boolean;
  error: string | null;
  audio: "off" | "on";
  engine: "none" | "ring" | "port" | "buffer";
  /** The card in front (null: done or loading). */
  current: { itemId: string; title: string; decision: string | null } | null;
  /** Item ids in showing order, from the card in front on. */
  waiting: string[];
  decisions: Record<string, "keep" | "reject" | null>;
  kept: number;
  rejected: number;
  left: number;
  total: number;
  done: boolean;
  canUndo: boolean;
  pending: number;
  playing: string | null;
  exporting: { status: string; fraction: number | null; url: string | null; folder: string | null };
}

export interface SwipeDebug {
  state(): SwipeDebugState;
  /** RMS of the output right now, and the highest since resetMeter(): did sound really play. */
  rms(): number;
  peakRms(): number;
  resetMeter(): void;
  lastClickToSoundMs(): number | null;
  /** Every decision and undo sent so far has its answer. */
  settled(): Promise<void>;
}

export function swipeDebugState(ctl: SwipeController, audio: PreviewAudio): SwipeDebugState {
  const s = ctl.state;
  const deck = s.deck;
  const c = deck ? counts(deck) : { kept: 0, rejected: 0, left: 0, total: 0 };
  const front = deck ? current(deck) : null;
  const decisions: Record<string, "keep" | "reject" | null> = {};
  if (deck) for (const [id, card] of deck.cards) decisions[id] = card.decision;
  const ex = s.exporting;
  return {
    connection: s.connection,
    kind: s.kind,
    albumId: s.albumId,
    setId: s.setId,
    loading: s.loading,
    error: s.error,
    audio: s.audio,
    engine: audio.meter ? audio.meter.mode : "none",
    current: front ? { itemId: front.item_id, title: front.title, decision: front.decision } : null,
    waiting: deck ? deck.queue.slice(deck.index) : [],
    decisions,
    ...c,
    done: deck ? isDone(deck) : false,
    canUndo: deck ? canUndo(deck) : false,
    pending: deck ? deck.pending.size : 0,
    playing: s.playing,
    exporting: {
      status: ex.status,
      fraction: ex.status === "running" ? ex.fraction : null,
      url: ex.status === "done" ? ex.result.url : null,
      folder: ex.status === "done" ? ex.result.folder : null,
    },
  };
}

/**
 * Install `window.residue = { swipe }` (this page has no studio: `window.residue` is only this).
 */
export function installSwipeDebugHook(ctl: SwipeController, audio: PreviewAudio): void {
  const swipe: SwipeDebug = {
    state: () => swipeDebugState(ctl, audio),
    rms: () => audio.meter?.rms() ?? 0,
    peakRms: () => audio.meter?.peakRms() ?? 0,
    resetMeter: () => audio.meter?.resetMeter(),
    lastClickToSoundMs: () => audio.meter?.lastClickToSoundMs() ?? null,
    settled: () => ctl.settled(),
  };
  Object.defineProperty(window, "residue", { value: Object.freeze({ swipe: Object.freeze(swipe) }), configurable: false, writable: false });
}
