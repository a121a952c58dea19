/**
 * Regions in time: snapping to bars at a tempo, clamping to a sound.
 *
 * A bar is 4 beats (4/4); the grid starts at time 0 of the sound.
 */

/** A span of a sound in seconds, `start_s < end_s`. */
export interface Region {
  readonly start_s: number;
  readonly end_s: number;
}

export const BEATS_PER_BAR = 4;
export const MIN_BPM = 20;
export const MAX_BPM = 400;

/** Seconds in one bar at `bpm`. Throws RangeError outside [MIN_BPM, MAX_BPM]. */
export function barSeconds(bpm: number, beatsPerBar: number = BEATS_PER_BAR): number {
  if (!Number.isFinite(bpm) || bpm < MIN_BPM || bpm > MAX_BPM) {
    throw new RangeError(`tempo ${bpm} bpm must be in [${MIN_BPM}, ${MAX_BPM}]`);
  }
  return (beatsPerBar * 60) / bpm;
}

/** Nearest bar line to `t_s` (seconds), at `bpm`. */
export function snapTime(t_s: number, bpm: number): number {
  const bar = barSeconds(bpm);
  return Math.round(t_s / bar) * bar + 0; // + 0 turns -0 into 0
}

/**
 * Order and clamp a dragged span to `[0, duration_s]`, snapping both ends to bars when `bpm` is given.
 *
 * A snapped region is at least one bar long and ends at or before the end of the sound when a whole
 * bar fits; a region shorter than one bar that could not be snapped keeps its unsnapped ends.
 *
 * @returns the region, or null when it is empty (a click rather than a drag).
 */
export function normalizeRegion(
  a_s: number,
  b_s: number,
  duration_s: number,
  bpm: number | null,
  minLength_s = 0.01,
): Region | null {
  if (!(duration_s > 0)) return null;
  const clamp = (t: number): number => Math.min(duration_s, Math.max(0, t));
  let start = clamp(Math.min(a_s, b_s));
  let end = clamp(Math.max(a_s, b_s));
  if (bpm !== null) {
    const bar = barSeconds(bpm);
    const lastBar = Math.floor(duration_s / bar + 1e-9) * bar;
    if (lastBar < bar) return end - start >= minLength_s ? { start_s: start, end_s: end } : null;
    start = Math.min(snapTime(start, bpm), lastBar - bar);
    end = Math.min(Math.max(snapTime(end, bpm), start + bar), lastBar);
    return { start_s: roundMicro(start), end_s: roundMicro(end) };
  }
  return end - start >= minLength_s ? { start_s: start, end_s: end } : null;
}

/** Times of the bar lines inside `[from_s, to_s]`. */
export function barLines(from_s: number, to_s: number, bpm: number): number[] {
  const bar = barSeconds(bpm);
  const out: number[] = [];
  for (let k = Math.ceil(from_s / bar - 1e-9) + 0; k * bar <= to_s + 1e-9; k++) out.push(k * bar);
  return out;
}

/** Parse a typed tempo: a number in [MIN_BPM, MAX_BPM], else null. */
export function parseBpm(text: string): number | null {
  const v = Number.parseFloat(text.trim());
  return Number.isFinite(v) && v >= MIN_BPM && v <= MAX_BPM ? v : null;
}

function roundMicro(t: number): number {
  return Math.round(t * 1e6) / 1e6;
}
