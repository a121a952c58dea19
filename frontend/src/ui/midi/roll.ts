/**
 * Piano-roll geometry: seconds and pitches to CSS pixels and back, hit tests, the grid, zoom.
 *
 * Pure functions over a {@link RollView}; the canvas view and the tests share them.
 */
import { clamp, type EditNote } from "./notes";

export interface RollView {
  /** Seconds at x = 0 of the note area. */
  readonly t0: number;
  readonly pxPerSecond: number;
  /** Lowest pitch shown (the bottom row). */
  readonly low: number;
  /** Highest pitch shown (the top row). */
  readonly high: number;
  /** CSS px of the note area. */
  readonly width: number;
  readonly height: number;
}

export interface Rect {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

/** Most pixels per second (a 16th at 120 BPM is 300 px wide). */
export const MAX_PX_PER_SECOND = 2400;
/** Fewest rows a fitted view shows (two octaves). */
export const MIN_ROWS = 24;

export function rows(v: RollView): number {
  return v.high - v.low + 1;
}

export function rowHeight(v: RollView): number {
  return v.height / rows(v);
}

export function timeToX(v: RollView, t: number): number {
  return (t - v.t0) * v.pxPerSecond;
}

export function xToTime(v: RollView, x: number): number {
  return v.t0 + x / v.pxPerSecond;
}

/** Top of the row of `pitch`. */
export function pitchToY(v: RollView, pitch: number): number {
  return (v.high - pitch) * rowHeight(v);
}

/** The pitch whose row contains `y` (clamped to the shown rows). */
export function yToPitch(v: RollView, y: number): number {
  return clamp(v.high - Math.floor(y / rowHeight(v)), v.low, v.high);
}

export function noteRect(v: RollView, n: EditNote): Rect {
  const x = timeToX(v, n.start);
  return { x, y: pitchToY(v, n.pitch), w: Math.max(2, timeToX(v, n.end) - x), h: rowHeight(v) };
}

export type Zone = "body" | "end";

/**
 * The note under (x, y), the topmost (latest drawn) first. Near a note's right edge (within
 * `edgePx`, but never more than its right two thirds) the zone is "end": a drag there resizes.
 */
export function hitTest(v: RollView, notes: readonly EditNote[], x: number, y: number, edgePx = 8): { id: number; zone: Zone } | null {
  for (let i = notes.length - 1; i >= 0; i--) {
    const n = notes[i];
    if (!n) continue;
    const r = noteRect(v, n);
    // rows can be thin on a phone: a note is hit within its row plus a little
    const slack = Math.max(0, (12 - r.h) / 2);
    if (y < r.y - slack || y > r.y + r.h + slack) continue;
    const right = r.x + r.w;
    if (x < r.x - 2 || x > right + Math.min(edgePx, 6)) continue;
    const edge = Math.min(edgePx, (r.w * 2) / 3);
    return { id: n.id, zone: x >= right - edge ? "end" : "body" };
  }
  return null;
}

/** Ids of the notes whose rectangles meet `rect` (any corner order). */
export function notesInRect(v: RollView, notes: readonly EditNote[], rect: Rect): Set<number> {
  const x0 = Math.min(rect.x, rect.x + rect.w);
  const x1 = Math.max(rect.x, rect.x + rect.w);
  const y0 = Math.min(rect.y, rect.y + rect.h);
  const y1 = Math.max(rect.y, rect.y + rect.h);
  const out = new Set<number>();
  for (const n of notes) {
    const r = noteRect(v, n);
    if (r.x <= x1 && r.x + r.w >= x0 && r.y <= y1 && r.y + r.h >= y0) out.add(n.id);
  }
  return out;
}

/** The pitch range that shows every note with `pad` rows around, at least `minRows` rows. */
export function fitPitch(notes: readonly EditNote[], pad = 2, minRows = MIN_ROWS): { low: number; high: number } {
  let lo = 60;
  let hi = 60;
  if (notes.length > 0) {
    lo = Math.min(...notes.map((n) => n.pitch));
    hi = Math.max(...notes.map((n) => n.pitch));
  }
  lo -= pad;
  hi += pad;
  const missing = minRows - (hi - lo + 1);
  if (missing > 0) {
    lo -= Math.floor(missing / 2);
    hi += Math.ceil(missing / 2);
  }
  if (lo < 0) {
    hi -= lo;
    lo = 0;
  }
  if (hi > 127) {
    lo = Math.max(0, lo - (hi - 127));
    hi = 127;
  }
  return { low: lo, high: hi };
}

/** Seconds of one grid step: `stepsPerBeat` steps per beat at `bpm`. */
export function gridStep(bpm: number, stepsPerBeat: number): number {
  return 60 / bpm / Math.max(1, stepsPerBeat);
}

/** Snap `t` to the nearest multiple of `step` (no snapping when step <= 0). */
export function snap(t: number, step: number): number {
  return step > 0 ? Math.round(t / step) * step : t;
}

export interface GridLine {
  readonly t: number;
  /** 0 bar, 1 beat, 2 step. */
  readonly level: 0 | 1 | 2;
}

/**
 * Grid lines between `t0` and `t1`: bars, beats and steps at `bpm` (4 beats a bar), leaving out
 * levels whose lines would be closer than `minPx`.
 */
export function gridLines(t0: number, t1: number, bpm: number, stepsPerBeat: number, pxPerSecond: number, minPx = 6): GridLine[] {
  const beat = 60 / bpm;
  const step = beat / Math.max(1, stepsPerBeat);
  const finest = step * pxPerSecond >= minPx ? step : beat * pxPerSecond >= minPx ? beat : beat * 4;
  if (finest * pxPerSecond < minPx / 4) return [];
  const out: GridLine[] = [];
  const first = Math.ceil(t0 / finest - 1e-9);
  for (let i = first; i * finest <= t1 + 1e-9 && out.length < 4000; i++) {
    const t = i * finest + 0; // never -0
    const beats = t / beat;
    const onBeat = Math.abs(beats - Math.round(beats)) < 1e-6;
    const onBar = onBeat && Math.round(beats) % 4 === 0;
    out.push({ t, level: onBar ? 0 : onBeat ? 1 : 2 });
  }
  return out;
}

/** A view that fits `duration` seconds into `width` px. */
export function fitTime(duration: number, width: number): { t0: number; pxPerSecond: number } {
  return { t0: 0, pxPerSecond: Math.min(MAX_PX_PER_SECOND, width / Math.max(0.1, duration)) };
}

/** Zoom by `factor` around `anchorX`, never wider than the whole `duration`. */
export function zoomAt(v: RollView, factor: number, anchorX: number, duration: number): { t0: number; pxPerSecond: number } {
  const minPx = v.width / Math.max(0.1, duration);
  const px = clamp(v.pxPerSecond * factor, minPx, MAX_PX_PER_SECOND);
  const anchorT = xToTime(v, anchorX);
  return { t0: clampStart(anchorT - anchorX / px, px, v.width, duration), pxPerSecond: px };
}

/** Keep the visible window inside [0, duration]. */
export function clampStart(t0: number, pxPerSecond: number, width: number, duration: number): number {
  const visible = width / pxPerSecond;
  return clamp(t0, 0, Math.max(0, duration - visible));
}

/**
 * Where `pitch` (fractional) sits on a log-frequency spectrogram whose `nRows` rows are centred
 * geometrically from `fMinHz` (row 0) to `fMaxHz` (the last row): a fractional row index.
 */
export function pitchToSpectrogramRow(pitch: number, nRows: number, fMinHz: number, fMaxHz: number): number {
  const hz = 440 * Math.pow(2, (pitch - 69) / 12);
  return ((nRows - 1) * Math.log(hz / fMinHz)) / Math.log(fMaxHz / fMinHz);
}
