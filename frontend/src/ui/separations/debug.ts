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
  /** What Run runs: "quick", "deep" or "custom". */
  mode: string;
  /** Cells of the custom grid as the editor counts them (null before the catalog is in). */
  editorCells: number | null;
  /** The last refusal of a custom grid (the editor's or the server's). */
  gridError: string | null;
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
        mode: s.mode,
        editorCells: room.check()?.cells ?? null,
        gridError: s.gridError?.message ?? null,
      };
    },
  };
  Object.defineProperty(window, "residueSeparations", { value: Object.freeze(hook), configurable: false, writable: false });
}
