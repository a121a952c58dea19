/**
 * A read-only hook on `window.residueSeparations` for end-to-end tests: the room's state.
 * (The level meter is `window.residue.rms()`/`peakRms()`: one engine.)
 */
import type { SeparationsRoom } from "./room";

export interface SeparationsDebugState {
  running: boolean;
  cells: number;
  done: number;
  playing: { cell: string | null; what: string } | null;
  focus: string | null;
  kept: number;
}

export interface SeparationsDebug {
  state(): SeparationsDebugState;
}

declare global {
  interface Window {
    residueSeparations?: SeparationsDebug;
  }
}

export function installSeparationsDebugHook(room: SeparationsRoom): void {
  const hook: SeparationsDebug = {
    state: () => {
      const s = room.state;
      return {
        running: s.job !== null,
        cells: s.cards.size,
        done: [...s.cards.values()].filter((c) => c.status === "done").length,
        playing: s.playing ? { cell: s.playing.cellId, what: s.playing.what } : null,
        focus: s.focus,
        kept: s.kept,
      };
    },
  };
  Object.defineProperty(window, "residueSeparations", { value: Object.freeze(hook), configurable: false, writable: false });
}
