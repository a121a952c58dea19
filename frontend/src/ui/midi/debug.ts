/**
 * A read-only hook on `window.residueMidi` for end-to-end tests: the MIDI room's state and where its
 * notes are on screen. (The level meter is `window.residue.rms()`/`peakRms()`: one engine.)
 */
import { noteBoxes, type NoteBox } from "./roll-view";
import type { MidiRoom } from "./room";

export interface MidiDebug {
  state(): MidiDebugState;
  /** Every note's box in page CSS px (centre x, y), for clicks and drags. */
  noteBoxes(): NoteBox[];
}

export interface MidiDebugState {
  source: string | null;
  backend: string | null;
  notes: number;
  selected: number[];
  job: { fraction: number; stage: string } | null;
  playing: { kind: string; status: string } | null;
  canUndo: boolean;
  canRedo: boolean;
  synth: string;
  tuning: string;
  renders: number;
  choicesLoaded: boolean;
  key: string | null;
}

declare global {
  interface Window {
    residueMidi?: MidiDebug;
  }
}

export function installMidiDebugHook(room: MidiRoom): void {
  const hook: MidiDebug = {
    state: () => {
      const s = room.state;
      return {
        source: s.source ? s.source.label : null,
        backend: s.backend,
        notes: s.doc.notes.length,
        selected: [...s.selected],
        job: s.job ? { fraction: s.job.fraction, stage: s.job.stage } : null,
        playing: s.playing ? { kind: s.playing.kind, status: s.playing.status } : null,
        canUndo: s.canUndo,
        canRedo: s.canRedo,
        synth: s.render.synth,
        tuning: s.render.tuning.kind,
        renders: s.renders,
        choicesLoaded: s.choices !== null,
        key: s.origin?.key ?? null,
      };
    },
    noteBoxes,
  };
  Object.defineProperty(window, "residueMidi", { value: Object.freeze(hook), configurable: false, writable: false });
}
