/**
 * A small read-only hook on `window.residue` for end-to-end tests: did sound really play, how fast.
 */
import type { SessionController } from "./session";
import type { Studio } from "./studio";

export interface ResidueDebug {
  /** RMS of the output right now (AnalyserNode after the player). */
  rms(): number;
  /** Highest RMS since resetMeter(). */
  peakRms(): number;
  resetMeter(): void;
  /** Milliseconds from the last play click to its first audible output. */
  lastClickToSoundMs(): number | null;
  state(): DebugState;
}

export interface DebugState {
  connection: string;
  engine: "none" | "ring" | "port";
  sampleRate: number | null;
  crossOriginIsolated: boolean;
  soundId: string | null;
  sounds: number;
  decompositionId: string | null;
  units: number;
  selectedUnit: number | null;
  solo: number | null;
  playing: { kind: string; status: string; unit: number | null } | null;
  loop: boolean;
  ab: "A" | "B";
  canUndo: boolean;
  canRedo: boolean;
  edited: boolean;
  library: number;
  /** Library names, newest first, and the last op applied: two tabs of a session compare these. */
  libraryNames: string[];
  librarySeq: number;
  session: { id: string | null; name: string; joined: boolean; refused: string | null; members: { name: string; playing: string | null }[] };
  region: { start_s: number; end_s: number } | null;
  job: { fraction: number; stage: string } | null;
}

declare global {
  interface Window {
    residue?: ResidueDebug;
  }
}

export function installDebugHook(studio: Studio, session: SessionController): void {
  const hook: ResidueDebug = {
    rms: () => studio.engine?.rms() ?? 0,
    peakRms: () => studio.engine?.peakRms() ?? 0,
    resetMeter: () => studio.engine?.resetMeter(),
    lastClickToSoundMs: () => studio.engine?.lastClickToSoundMs() ?? null,
    state: () => {
      const s = studio.state;
      const d = studio.current();
      const engine = studio.engine;
      return {
        connection: s.connection,
        engine: engine ? engine.mode : "none",
        sampleRate: engine ? engine.sampleRate : null,
        crossOriginIsolated: globalThis.crossOriginIsolated === true,
        soundId: s.soundId,
        sounds: s.sounds.length,
        decompositionId: d?.frame.decomposition_id ?? null,
        units: d?.frame.n_components ?? 0,
        selectedUnit: s.selectedUnit,
        solo: s.solo,
        playing: s.playing ? { kind: s.playing.kind, status: s.playing.status, unit: s.playing.unit } : null,
        loop: s.loop,
        ab: s.ab,
        canUndo: s.canUndo,
        canRedo: s.canRedo,
        edited: studio.edited(),
        library: s.library.all.length,
        libraryNames: s.library.all.map((i) => i.name),
        librarySeq: studio.librarySync().seq,
        session: {
          id: session.state.sessionId,
          name: session.state.sessionName,
          joined: session.state.joined,
          refused: session.state.refused,
          members: session.state.members.map((m) => ({ name: m.name, playing: m.playing ?? null })),
        },
        region: studio.region(),
        job: s.job ? { fraction: s.job.fraction, stage: s.job.stage } : null,
      };
    },
  };
  Object.defineProperty(window, "residue", { value: Object.freeze(hook), configurable: false, writable: false });
}
