/**
 * Embedding manipulations (NSynth-style, pure): the panel's settings -> a `manipulate` frame and
 * the clip-cache key of its audio, or what is missing, in words.
 */
import type { Manipulate } from "@shared/protocol";

export type ManipOp = Manipulate["op"];

export interface ManipSettings {
  readonly op: ManipOp;
  readonly soundId: string | null;
  readonly otherSoundId: string | null;
  /** Time-stretch factor (stretch, nmf_stretch): 2 = twice as long. */
  readonly factor: number;
  /** Blend: 0 = the first sound, 1 = the other. */
  readonly mix: number;
  /** Crossfade: seconds from the first sound to the other. */
  readonly crossfadeS: number;
}

export const DEFAULT_MANIP: ManipSettings = { op: "stretch", soundId: null, otherSoundId: null, factor: 2, mix: 0.5, crossfadeS: 4 };

export const MANIP_OPS: readonly (readonly [ManipOp, string])[] = [
  ["stretch", "Stretch (same pitch)"],
  ["blend", "Blend two sounds"],
  ["crossfade", "Crossfade in latent space"],
  ["nmf_stretch", "Stretch rhythm (NMF)"],
];

export const FACTOR_RANGE = [0.125, 8] as const;
export const CROSSFADE_RANGE = [0, 60] as const;

const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));

export type ManipRequest =
  | { readonly ok: true; readonly frame: Omit<Manipulate, "request_id">; readonly key: string; readonly label: string }
  | { readonly ok: false; readonly problem: string };

/**
 * The frame to audition `s` with model `modelId`; `decompositionOf` gives the studio's open
 * decomposition of a sound (for `nmf_stretch`), `nameOf` a sound's name.
 */
export function manipRequest(
  s: ManipSettings,
  modelId: string | null,
  decompositionOf: (soundId: string) => string | null,
  nameOf: (soundId: string) => string = (id) => id,
): ManipRequest {
  if (s.soundId === null) return { ok: false, problem: "Pick a sound first." };
  const needsOther = s.op === "blend" || s.op === "crossfade";
  if (needsOther && s.otherSoundId === null) return { ok: false, problem: "Pick the second sound." };
  const factor = clamp(Number.isFinite(s.factor) ? s.factor : 1, FACTOR_RANGE[0], FACTOR_RANGE[1]);
  const mix = clamp(Number.isFinite(s.mix) ? s.mix : 0.5, 0, 1);
  const crossfadeS = clamp(Number.isFinite(s.crossfadeS) ? s.crossfadeS : 4, CROSSFADE_RANGE[0], CROSSFADE_RANGE[1]);
  const name = nameOf(s.soundId);
  if (s.op === "nmf_stretch") {
    const d = decompositionOf(s.soundId);
    if (d === null) return { ok: false, problem: `Split “${name}” into units in the Studio first: this stretch resamples its activations.` };
    return {
      ok: true,
      frame: { type: "manipulate", op: "nmf_stretch", decomposition_id: d, factor },
      key: `manip:nmf_stretch:${d}:${factor}`,
      label: `${name} stretched ×${factor} (NMF)`,
    };
  }
  const base = { type: "manipulate" as const, sound_id: s.soundId, model_id: modelId };
  const model = modelId ?? "default";
  if (s.op === "stretch") {
    return { ok: true, frame: { ...base, op: "stretch", factor }, key: `manip:stretch:${model}:${s.soundId}:${factor}`, label: `${name} stretched ×${factor}` };
  }
  const other = s.otherSoundId ?? "";
  const otherName = nameOf(other);
  if (s.op === "blend") {
    return {
      ok: true,
      frame: { ...base, op: "blend", other_sound_id: other, mix },
      key: `manip:blend:${model}:${s.soundId}:${other}:${mix}`,
      label: `${name} + ${otherName} (${Math.round(mix * 100)}%)`,
    };
  }
  return {
    ok: true,
    frame: { ...base, op: "crossfade", other_sound_id: other, crossfade_s: crossfadeS },
    key: `manip:crossfade:${model}:${s.soundId}:${other}:${crossfadeS}`,
    label: `${name} → ${otherName} over ${crossfadeS} s`,
  };
}
