/**
 * A read-only hook on `window.residueTimbre` for end-to-end tests: the room's state, and where its
 * points are on the page (so a test can hover one, or the space between them).
 * (The level meter is `window.residue.rms()`/`peakRms()`: one engine. `window.residue` is frozen,
 * so each room has a hook of its own, as `residueMidi` and `residueSeparations` do.)
 */
import { toScreen } from "./map";
import type { TimbreRoom } from "./room";

export interface TimbreDebugState {
  loaded: boolean;
  modelId: string | null;
  models: number;
  sets: number;
  setId: string | null;
  mapId: string | null;
  points: number;
  job: { kind: string; fraction: number; stage: string } | null;
  songJob: { kind: string; fraction: number; stage: string } | null;
  loss: number[];
  hover: string | null;
  marker: string | null;
  lasso: boolean;
  region: [number, number][] | null;
  selected: number[];
  criterion: string;
  grammar: { status: string; error: string | null; example: string | null };
  problem: string | null;
  songs: { id: string; name: string; decision: string | null; album: string | null }[];
  albumFilter: string | null;
  playing: { what: string; gen: number; song: string | null } | null;
  made: number;
}

export interface TimbreDebugPoint {
  index: number;
  kind: string;
  label: string;
  flagged: boolean;
  /** Viewport (client) coordinates, for `page.mouse.move(x, y)`. */
  x: number;
  y: number;
  visible: boolean;
}

export interface TimbreDebug {
  state(): TimbreDebugState;
  /** Every point of the map where it is drawn, in viewport coordinates. */
  points(): TimbreDebugPoint[];
  /** A viewport position on the map far from every point (to hover the space between). */
  emptySpot(): { x: number; y: number } | null;
  /** The viewport position of map coordinates `(x, y)`. */
  mapToClient(x: number, y: number): { x: number; y: number } | null;
}

declare global {
  interface Window {
    residueTimbre?: TimbreDebug;
  }
}

export function installTimbreDebugHook(room: TimbreRoom): void {
  const origin = (): { left: number; top: number } => room.canvas?.getBoundingClientRect() ?? { left: 0, top: 0 };
  const hook: TimbreDebug = {
    state: () => {
      const s = room.state;
      const job = (j: typeof s.modelJob): TimbreDebugState["job"] => (j ? { kind: j.kind, fraction: j.fraction, stage: j.stage } : null);
      return {
        loaded: s.loaded,
        modelId: s.modelId,
        models: s.models.length,
        sets: s.sets.length,
        setId: s.setId,
        mapId: s.map?.map_id ?? null,
        points: s.map?.points.length ?? 0,
        job: job(s.modelJob),
        songJob: job(s.songJob),
        loss: [...s.loss],
        hover: s.hover?.label ?? null,
        marker: s.marker?.label ?? null,
        lasso: s.lassoOn,
        region: s.region ? s.region.map((p) => [p.x, p.y]) : null,
        selected: [...s.selected],
        criterion: s.form.criterion,
        grammar: { status: s.grammar.status, error: s.grammar.error, example: s.grammar.example },
        problem: room.problem(),
        songs: s.songs.map((x) => ({ id: x.song_id, name: x.name, decision: x.decision, album: x.album_id })),
        albumFilter: s.albumFilter,
        playing: s.playing ? { what: s.playing.what, gen: s.playing.gen, song: s.playing.what === "song" ? s.playing.songId : null } : null,
        made: s.made,
      };
    },
    points: () => {
      const o = origin();
      const size = room.state.size;
      const pts = room.points();
      return room.screenPoints().map((q, index) => {
        const p = pts[index];
        return {
          index,
          kind: p?.kind ?? "clip",
          label: p?.label ?? "",
          flagged: p?.flagged ?? false,
          x: o.left + q.x,
          y: o.top + q.y,
          visible: q.x >= 0 && q.y >= 0 && q.x <= size.width && q.y <= size.height,
        };
      });
    },
    emptySpot: () => {
      const size = room.state.size;
      if (!room.state.view) return null;
      const pts = room.screenPoints();
      let best: { x: number; y: number; d: number } | null = null;
      for (let gx = 1; gx < 16; gx++) {
        for (let gy = 1; gy < 12; gy++) {
          const x = (gx / 16) * size.width;
          const y = (gy / 12) * size.height;
          let d = Infinity;
          for (const q of pts) d = Math.min(d, Math.hypot(q.x - x, q.y - y));
          if (!best || d > best.d) best = { x, y, d };
        }
      }
      const o = origin();
      return best ? { x: o.left + best.x, y: o.top + best.y } : null;
    },
    mapToClient: (x, y) => {
      const view = room.state.view;
      if (!view) return null;
      const q = toScreen(view, room.state.size, { x, y });
      const o = origin();
      return { x: o.left + q.x, y: o.top + q.y };
    },
  };
  Object.defineProperty(window, "residueTimbre", { value: Object.freeze(hook), configurable: false, writable: false });
}
