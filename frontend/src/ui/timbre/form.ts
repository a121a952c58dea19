/**
 * The song form (pure): its values, the server's defaults, what is wrong with it in words, and
 * the `SongParams` it sends.
 */
import type { SongParams } from "@shared/protocol";
import type { Vec } from "./map";

export type Direction = "high" | "low";

export interface SongForm {
  readonly seed: number;
  readonly minutes: number;
  readonly criterion: string;
  readonly direction: Direction;
  readonly wiggleAmplitude: number;
  readonly wiggleRateHz: number;
  readonly ambience: string;
  /** Effect sounds (sound ids) for the "sounds" ambience. */
  readonly effects: readonly string[];
  readonly grammar: string;
}

export const MAX_SEED = 2 ** 31 - 1;
export const MAX_MINUTES = 60;
export const MAX_WIGGLE_AMPLITUDE = 10;
export const MAX_WIGGLE_RATE_HZ = 2;
export const MAX_EFFECTS = 16;
export const MAX_GRAMMAR_CHARS = 4000;

/** Used until the server's defaults arrive (the same values as dsp/compose.py). */
export const FALLBACK_FORM: SongForm = {
  seed: 0,
  minutes: 4,
  criterion: "weirdness",
  direction: "high",
  wiggleAmplitude: 0.6,
  wiggleRateHz: 0.05,
  ambience: "off",
  effects: [],
  grammar: "",
};

/** The form the server's defaults (`timbre_state.defaults`) describe. */
export function formFromDefaults(d: SongParams, fallback: SongForm = FALLBACK_FORM): SongForm {
  return {
    seed: d.seed ?? fallback.seed,
    minutes: d.minutes ?? fallback.minutes,
    criterion: d.criterion ?? fallback.criterion,
    direction: d.direction ?? fallback.direction,
    wiggleAmplitude: d.wiggle_amplitude ?? fallback.wiggleAmplitude,
    wiggleRateHz: d.wiggle_rate_hz ?? fallback.wiggleRateHz,
    ambience: d.ambience ?? fallback.ambience,
    effects: d.effects ?? fallback.effects,
    grammar: d.grammar ?? fallback.grammar,
  };
}

/** A fresh random seed in [0, 2^31 - 1] (`random` in [0, 1)). */
export function randomSeed(random: () => number = Math.random): number {
  return Math.min(MAX_SEED, Math.floor(random() * (MAX_SEED + 1)));
}

/** What stops the form from making a song, in words (null: nothing). The grammar is checked apart. */
export function formProblem(form: SongForm, region: readonly Vec[] | null): string | null {
  if (!Number.isInteger(form.seed) || form.seed < 0 || form.seed > MAX_SEED) return `Seed must be a whole number from 0 to ${MAX_SEED}.`;
  if (!Number.isFinite(form.minutes) || form.minutes <= 0 || form.minutes > MAX_MINUTES) return `Minutes must be more than 0 and at most ${MAX_MINUTES}.`;
  if (!Number.isFinite(form.wiggleAmplitude) || form.wiggleAmplitude < 0 || form.wiggleAmplitude > MAX_WIGGLE_AMPLITUDE) {
    return `Wiggle amplitude must be from 0 to ${MAX_WIGGLE_AMPLITUDE}.`;
  }
  if (!Number.isFinite(form.wiggleRateHz) || form.wiggleRateHz < 0 || form.wiggleRateHz > MAX_WIGGLE_RATE_HZ) {
    return `Wiggle rate must be from 0 to ${MAX_WIGGLE_RATE_HZ} Hz.`;
  }
  if (form.criterion === "region" && (!region || region.length < 3)) return "Draw a region on the map first (Lasso), or pick another criterion.";
  if (form.ambience === "sounds" && form.effects.length === 0) return "Pick at least one effect sound for the “sounds” ambience.";
  if (form.effects.length > MAX_EFFECTS) return `At most ${MAX_EFFECTS} effect sounds.`;
  if (form.grammar.length > MAX_GRAMMAR_CHARS) return `The grammar is longer than ${MAX_GRAMMAR_CHARS} characters.`;
  return null;
}

/**
 * The wire's `SongParams` of a form. The region goes only with the "region" criterion, effect
 * sounds only with the "sounds" ambience; an empty grammar means the server's default.
 */
export function songParams(form: SongForm, region: readonly Vec[] | null): SongParams {
  const params: SongParams = {
    seed: form.seed,
    minutes: form.minutes,
    criterion: form.criterion,
    direction: form.direction,
    wiggle_amplitude: form.wiggleAmplitude,
    wiggle_rate_hz: form.wiggleRateHz,
    ambience: form.ambience,
    grammar: form.grammar.trim() ? form.grammar : null,
  };
  if (form.criterion === "region" && region && region.length >= 3) params.region = region.map((p) => [p.x, p.y]);
  if (form.ambience === "sounds") params.effects = [...form.effects];
  return params;
}
