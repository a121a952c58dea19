/**
 * The notes the MIDI room edits: an immutable document and pure edit operations on it.
 *
 * Every operation returns a new document (or the same one when nothing changed, so that the undo
 * history records nothing). Notes keep the bends they came with: a bend curve is relative to the
 * note's key and start, so it travels with the note when the note moves.
 */
import type { MidiNote, NotePart } from "@shared/protocol";
import { float32View } from "../../dsp/aligned";

export const MIN_PITCH = 0;
export const MAX_PITCH = 127;
export const DEFAULT_VELOCITY = 100;
/** The shortest note an edit may leave, in seconds. */
export const MIN_NOTE_S = 0.02;
/** Latest time a note may reach (the server's bound on seconds). */
export const MAX_TIME_S = 24 * 3600;

export interface EditNote {
  /** Stable within a document (selection and drags refer to it). */
  readonly id: number;
  readonly pitch: number;
  readonly start: number;
  readonly end: number;
  readonly velocity: number;
  /** float32 LE pairs (time_s after start, semitones off the key), as on the wire. */
  readonly bends: Uint8Array;
}

export interface NoteDoc {
  readonly notes: readonly EditNote[];
  readonly nextId: number;
  readonly program: number;
  readonly isDrum: boolean;
  readonly name: string;
  readonly tempoBpm: number | null;
}

export const EMPTY_BENDS: Uint8Array = new Uint8Array(0);

export function emptyDoc(name = "notes"): NoteDoc {
  return { notes: [], nextId: 1, program: 0, isDrum: false, name, tempoBpm: null };
}

/** A document from a part as the server sends it. */
export function fromPart(part: NotePart): NoteDoc {
  const notes = part.notes.map((n, i) => fromWire(n, i + 1));
  return {
    notes: sortNotes(notes),
    nextId: notes.length + 1,
    program: part.program ?? 0,
    isDrum: part.is_drum ?? false,
    name: part.name ?? "",
    tempoBpm: part.tempo_bpm ?? null,
  };
}

/** Merge several parts into one document (an imported file with many tracks). */
export function fromParts(parts: readonly NotePart[], name: string): NoteDoc {
  const melodic = parts.filter((p) => !(p.is_drum ?? false));
  const chosen = melodic.length > 0 ? melodic : parts;
  const first = chosen[0];
  if (!first) return emptyDoc(name);
  const merged: NotePart = {
    notes: chosen.flatMap((p) => p.notes),
    program: first.program ?? 0,
    is_drum: first.is_drum ?? false,
    name,
    tempo_bpm: chosen.find((p) => p.tempo_bpm !== undefined && p.tempo_bpm !== null)?.tempo_bpm ?? null,
  };
  return fromPart(merged);
}

function fromWire(n: MidiNote, id: number): EditNote {
  return { id, pitch: n.pitch, start: n.start_s, end: n.end_s, velocity: n.velocity ?? DEFAULT_VELOCITY, bends: n.bends ?? EMPTY_BENDS };
}

/** The part to send back: notes sorted by start, then pitch. */
export function toPart(doc: NoteDoc, program: number = doc.program): NotePart {
  return {
    notes: doc.notes.map((n) => ({
      pitch: n.pitch,
      start_s: round6(n.start),
      end_s: round6(n.end),
      velocity: n.velocity,
      bends: n.bends,
    })),
    program,
    is_drum: doc.isDrum,
    name: doc.name.slice(0, 120),
    tempo_bpm: doc.tempoBpm,
  };
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

export function sortNotes(notes: readonly EditNote[]): EditNote[] {
  return [...notes].sort((a, b) => a.start - b.start || a.pitch - b.pitch || a.id - b.id);
}

/** A note's bend curve as `[time_s, semitones]` points (empty for a steady note). */
export function bendPoints(note: EditNote): [number, number][] {
  if (note.bends.byteLength < 8) return [];
  const values = float32View(note.bends);
  const out: [number, number][] = [];
  for (let i = 0; i + 1 < values.length; i += 2) out.push([values[i] ?? 0, values[i + 1] ?? 0]);
  return out;
}

export function byId(doc: NoteDoc, id: number): EditNote | undefined {
  return doc.notes.find((n) => n.id === id);
}

/** The time span of the notes: [first start, last end] (0, 0 when empty). */
export function span(doc: NoteDoc): { start: number; end: number } {
  if (doc.notes.length === 0) return { start: 0, end: 0 };
  let start = Infinity;
  let end = 0;
  for (const n of doc.notes) {
    start = Math.min(start, n.start);
    end = Math.max(end, n.end);
  }
  return { start, end };
}

// --- edits ---------------------------------------------------------------------------------------

/** Delete the notes in `ids`. */
export function deleteNotes(doc: NoteDoc, ids: ReadonlySet<number>): NoteDoc {
  if (ids.size === 0 || !doc.notes.some((n) => ids.has(n.id))) return doc;
  return { ...doc, notes: doc.notes.filter((n) => !ids.has(n.id)) };
}

/**
 * Move the notes in `ids` by `dt` seconds and `dp` semitones as one block: the move is clamped so
 * that no note starts before 0 or leaves the MIDI range, and the block keeps its shape.
 */
export function moveNotes(doc: NoteDoc, ids: ReadonlySet<number>, dt: number, dp: number): NoteDoc {
  const moving = doc.notes.filter((n) => ids.has(n.id));
  if (moving.length === 0) return doc;
  const earliest = Math.min(...moving.map((n) => n.start));
  const lowest = Math.min(...moving.map((n) => n.pitch));
  const highest = Math.max(...moving.map((n) => n.pitch));
  const latest = Math.max(...moving.map((n) => n.end));
  const t = clamp(dt, -earliest, MAX_TIME_S - latest);
  const p = clamp(Math.round(dp), MIN_PITCH - lowest, MAX_PITCH - highest);
  if (Math.abs(t) < 1e-9 && p === 0) return doc;
  const notes = doc.notes.map((n) => (ids.has(n.id) ? { ...n, start: n.start + t, end: n.end + t, pitch: n.pitch + p } : n));
  return { ...doc, notes: sortNotes(notes) };
}

/** Change the end of the notes in `ids` by `dEnd` seconds (never shorter than {@link MIN_NOTE_S}). */
export function resizeNotes(doc: NoteDoc, ids: ReadonlySet<number>, dEnd: number): NoteDoc {
  if (Math.abs(dEnd) < 1e-9) return doc;
  let changed = false;
  const notes = doc.notes.map((n) => {
    if (!ids.has(n.id)) return n;
    const end = clamp(n.end + dEnd, n.start + MIN_NOTE_S, MAX_TIME_S);
    if (Math.abs(end - n.end) < 1e-9) return n;
    changed = true;
    return { ...n, end };
  });
  return changed ? { ...doc, notes } : doc;
}

/** Set one note's end to `end` (for a drag that draws a note). */
export function setEnd(doc: NoteDoc, id: number, end: number): NoteDoc {
  const n = byId(doc, id);
  return n ? resizeNotes(doc, new Set([id]), end - n.end) : doc;
}

export interface NewNote {
  readonly pitch: number;
  readonly start: number;
  readonly end: number;
  readonly velocity?: number;
}

/** Add a note; returns the document and the new note's id. */
export function addNote(doc: NoteDoc, note: NewNote): { doc: NoteDoc; id: number } {
  const start = clamp(note.start, 0, MAX_TIME_S - MIN_NOTE_S);
  const added: EditNote = {
    id: doc.nextId,
    pitch: clamp(Math.round(note.pitch), MIN_PITCH, MAX_PITCH),
    start,
    end: clamp(note.end, start + MIN_NOTE_S, MAX_TIME_S),
    velocity: clamp(Math.round(note.velocity ?? DEFAULT_VELOCITY), 1, 127),
    bends: EMPTY_BENDS,
  };
  return { doc: { ...doc, notes: sortNotes([...doc.notes, added]), nextId: doc.nextId + 1 }, id: added.id };
}

/** Set the velocity of the notes in `ids` (1..127). */
export function setVelocity(doc: NoteDoc, ids: ReadonlySet<number>, velocity: number): NoteDoc {
  const v = clamp(Math.round(velocity), 1, 127);
  if (!doc.notes.some((n) => ids.has(n.id) && n.velocity !== v)) return doc;
  return { ...doc, notes: doc.notes.map((n) => (ids.has(n.id) ? { ...n, velocity: v } : n)) };
}

/** Drop the bend curves of the notes in `ids` (steady notes at their keys). */
export function flattenBends(doc: NoteDoc, ids: ReadonlySet<number>): NoteDoc {
  if (!doc.notes.some((n) => ids.has(n.id) && n.bends.byteLength > 0)) return doc;
  return { ...doc, notes: doc.notes.map((n) => (ids.has(n.id) ? { ...n, bends: EMPTY_BENDS } : n)) };
}

/** Ids of the notes that still exist (a selection after undo). */
export function existing(doc: NoteDoc, ids: ReadonlySet<number>): Set<number> {
  const out = new Set<number>();
  for (const n of doc.notes) if (ids.has(n.id)) out.add(n.id);
  return out;
}

export function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

const NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"] as const;

/** "C4" for 60. */
export function pitchName(pitch: number): string {
  return `${NAMES[((pitch % 12) + 12) % 12] ?? "?"}${Math.floor(pitch / 12) - 1}`;
}

/** The General MIDI drum names residue's drum backend writes (others by number). */
export function drumName(pitch: number): string {
  const names: Record<number, string> = { 35: "kick 2", 36: "kick", 38: "snare", 40: "snare 2", 42: "closed hat", 44: "pedal hat", 46: "open hat", 49: "crash", 51: "ride" };
  return names[pitch] ?? `drum ${pitch}`;
}
