/**
 * The MIDI room's forms as plain values, and the wire values built from them: transcription
 * settings, tunings, the render request and its cache key. Pure: the tests run them in Node.
 */
import { encode } from "@msgpack/msgpack";
import type { LibraryComponent, NoteRender, SoundSource, TranscribeSettings, UnitComponent } from "@shared/protocol";
import { toPart, type NoteDoc } from "./notes";

export const PITCH_CLASSES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"] as const;

// --- sources ------------------------------------------------------------------------------------

/** What the room transcribes and plays: a sound (region) or a unit of a decomposition. */
export type SourceRef =
  | { readonly kind: "sound"; readonly sound_id: string; readonly start_s: number | null; readonly end_s: number | null; readonly label: string }
  | { readonly kind: "unit"; readonly decomposition_id: string; readonly unit: number; readonly label: string };

export function wireSource(s: SourceRef): SoundSource | UnitComponent {
  return s.kind === "sound"
    ? { kind: "sound", sound_id: s.sound_id, start_s: s.start_s, end_s: s.end_s }
    : { kind: "unit", decomposition_id: s.decomposition_id, unit: s.unit };
}

/** A stable key of a source (same source, same key). */
export function sourceKey(s: SourceRef): string {
  return s.kind === "sound" ? `sound:${s.sound_id}:${s.start_s ?? ""}:${s.end_s ?? ""}` : `unit:${s.decomposition_id}:${s.unit}`;
}

export type Instrument = UnitComponent | LibraryComponent | SoundSource;

export function instrumentKey(i: Instrument | null): string {
  if (!i) return "";
  if (i.kind === "unit") return `unit:${i.decomposition_id}:${i.unit}`;
  if (i.kind === "library") return `library:${i.component_id}`;
  return `sound:${i.sound_id}`;
}

// --- transcription --------------------------------------------------------------------------------

export type KeyMode = "off" | "auto" | "fixed";

export interface CleanupForm {
  /** Minimum note length, ms (null: the backend's default). */
  readonly minNoteMs: number | null;
  readonly onsetThreshold: number | null;
  readonly frameThreshold: number | null;
  readonly bends: boolean;
  readonly merge: boolean;
  readonly mergeGapMs: number;
  /** Note budget, notes per second (null: no budget). */
  readonly budget: number | null;
  readonly minVelocity: number | null;
  readonly quantize: boolean;
  /** Grid tempo (null: the sound's or detected). */
  readonly tempoBpm: number | null;
  readonly stepsPerBeat: number;
  readonly strength: number;
  readonly keyMode: KeyMode;
  readonly tonic: number;
  readonly scale: string;
}

export const DEFAULT_CLEANUP: CleanupForm = {
  minNoteMs: null,
  onsetThreshold: null,
  frameThreshold: null,
  bends: true,
  merge: true,
  mergeGapMs: 40,
  budget: null,
  minVelocity: null,
  quantize: false,
  tempoBpm: null,
  stepsPerBeat: 4,
  strength: 1,
  keyMode: "off",
  tonic: 0,
  scale: "major",
};

/** "A minor" */
export function keyName(tonic: number, scale: string): string {
  return `${PITCH_CLASSES[((tonic % 12) + 12) % 12] ?? "C"} ${scale}`;
}

export function transcribeSettings(f: CleanupForm): TranscribeSettings {
  return {
    onset_threshold: f.onsetThreshold,
    frame_threshold: f.frameThreshold,
    min_note_ms: f.minNoteMs,
    bends: f.bends,
    min_velocity: f.minVelocity,
    merge_gap_ms: f.merge ? f.mergeGapMs : null,
    key: f.keyMode === "off" ? null : f.keyMode === "auto" ? "auto" : keyName(f.tonic, f.scale),
    quantize: f.quantize,
    tempo_bpm: f.quantize ? f.tempoBpm : null,
    steps_per_beat: f.stepsPerBeat,
    quantize_strength: f.strength,
    max_notes_per_s: f.budget,
  };
}

/** A number typed in a field: null when blank, clamped to [lo, hi], NaN-free. */
export function parseField(text: string, lo: number, hi: number): number | null {
  const t = text.trim();
  if (t === "") return null;
  const x = Number(t);
  if (!Number.isFinite(x)) return null;
  return Math.min(hi, Math.max(lo, x));
}

// --- tuning ---------------------------------------------------------------------------------------

export type TuningKind = "12-tet" | "24-tet" | "edo" | "just" | "custom";

export interface TuningForm {
  readonly kind: TuningKind;
  /** Steps per octave for "edo". */
  readonly edo: number;
  /** Ratios or cents, the period last: "9/8 5/4 4/3 3/2 5/3 15/8 2/1". */
  readonly custom: string;
  /** MIDI key of degree 0 for just and custom scales. */
  readonly tonicKey: number;
}

export const DEFAULT_TUNING: TuningForm = { kind: "12-tet", edo: 19, custom: "9/8 5/4 4/3 3/2 5/3 15/8 2/1", tonicKey: 60 };

const RATIO = /^\d+(\/\d+)?$/;
const CENTS = /^[+-]?(\d+\.\d*|\.\d+|\d+\.)$/;

/** What is wrong with a custom scale as typed, or null when it reads well. */
export function customProblem(text: string): string | null {
  const entries = text.split(/[\s,]+/).filter(Boolean);
  if (entries.length === 0) return "type ratios (5/4) or cents (386.3), the period last (2/1)";
  const bad = entries.find((e) => !RATIO.test(e) && !CENTS.test(e));
  return bad ? `“${bad}” is neither a ratio (5/4) nor cents with a dot (386.3)` : null;
}

/** The tuning name the server reads. */
export function tuningSpec(t: TuningForm): string {
  switch (t.kind) {
    case "12-tet":
    case "24-tet":
    case "just":
      return t.kind;
    case "edo":
      return `${Math.max(1, Math.min(1200, Math.round(t.edo)))}-edo`;
    case "custom":
      return t.custom.trim() || "12-tet";
  }
}

// --- render ---------------------------------------------------------------------------------------

export interface RenderForm {
  readonly synth: string;
  /** The preset chosen per synth (a sampler's preset is its mode). */
  readonly presets: Readonly<Record<string, string>>;
  readonly program: number;
  readonly soundfont: string | null;
  readonly tuning: TuningForm;
  readonly instrument: Instrument | null;
}

export const DEFAULT_RENDER: RenderForm = {
  synth: "subtractive",
  presets: {},
  program: 0,
  soundfont: null,
  tuning: DEFAULT_TUNING,
  instrument: null,
};

export interface RenderExtras {
  readonly withSource?: SourceRef | null;
  readonly notesFrom?: SourceRef | null;
}

/** The render request for the notes of `doc` played as `form` asks. */
export function noteRender(doc: NoteDoc, form: RenderForm, extras: RenderExtras = {}): NoteRender {
  const preset = form.presets[form.synth] ?? null;
  const sampler = form.synth === "sampler";
  const font = form.synth === "soundfont";
  return {
    parts: [toPart(doc, form.program)],
    synth: form.synth,
    preset: font ? null : preset,
    program: form.program,
    soundfont: font ? form.soundfont : null,
    tuning: tuningSpec(form.tuning),
    tonic_key: form.tuning.tonicKey,
    mapping: "nearest",
    instrument: sampler ? form.instrument : null,
    with_source: extras.withSource ? wireSource(extras.withSource) : null,
    notes_from: extras.notesFrom ? wireSource(extras.notesFrom) : null,
    sample_rate: 44100,
  };
}

/**
 * A key for the socket worker's clip cache: two 32-bit hashes of the request's msgpack bytes
 * (where the notes came from does not change the sound, so it is left out).
 */
export function renderKey(r: NoteRender): string {
  const bytes = encode({ ...r, notes_from: null }, { ignoreUndefined: true });
  let a = 0x811c9dc5; // FNV-1a
  let b = 5381; // djb2
  for (let i = 0; i < bytes.length; i++) {
    const x = bytes[i] ?? 0;
    a = Math.imul(a ^ x, 0x01000193) >>> 0;
    b = (Math.imul(b, 33) + x) >>> 0;
  }
  return `notes:${bytes.length}:${a.toString(16)}:${b.toString(16)}`;
}

/** A file-name stem: letters, digits, spaces, dashes. */
export function fileStem(name: string): string {
  const stem = name.replace(/\.[^.]+$/, "").replace(/[^\p{L}\p{N} _()-]+/gu, "_").trim().slice(0, 80);
  return /[\p{L}\p{N}]/u.test(stem) ? stem : "notes";
}
