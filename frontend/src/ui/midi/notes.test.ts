import { describe, expect, it } from "vitest";
import type { NotePart } from "@shared/protocol";
import { float32Bytes } from "../../dsp/aligned";
import {
  addNote,
  bendPoints,
  deleteNotes,
  existing,
  flattenBends,
  fromPart,
  fromParts,
  MIN_NOTE_S,
  moveNotes,
  pitchName,
  resizeNotes,
  setEnd,
  setVelocity,
  span,
  toPart,
  type NoteDoc,
} from "./notes";

const PART: NotePart = {
  notes: [
    { pitch: 64, start_s: 0.5, end_s: 1.0, velocity: 80 },
    { pitch: 60, start_s: 0.0, end_s: 0.5, velocity: 100, bends: float32Bytes([0, 0, 0.25, 0.5]) },
    { pitch: 67, start_s: 1.0, end_s: 2.0 },
  ],
  program: 33,
  name: "bass",
  tempo_bpm: 120,
};

function doc(): NoteDoc {
  return fromPart(PART);
}

const ids = (...xs: number[]): Set<number> => new Set(xs);

describe("the note document", () => {
  it("sorts by start and keeps every field, bends as bytes", () => {
    const d = doc();
    expect(d.notes.map((n) => n.pitch)).toEqual([60, 64, 67]);
    expect(d.notes[2]?.velocity).toBe(100); // the default
    expect(d.program).toBe(33);
    expect(d.tempoBpm).toBe(120);
    expect(bendPoints(d.notes[0]!)).toEqual([[0, 0], [0.25, 0.5]]);
    expect(bendPoints(d.notes[1]!)).toEqual([]);
  });

  it("round-trips through the wire part", () => {
    const back = toPart(doc());
    expect(back.notes.map((n) => [n.pitch, n.start_s, n.end_s, n.velocity])).toEqual([
      [60, 0, 0.5, 100],
      [64, 0.5, 1, 80],
      [67, 1, 2, 100],
    ]);
    expect(Array.from(back.notes[0]?.bends ?? [])).toEqual(Array.from(PART.notes[1]?.bends ?? []));
    expect(back.program).toBe(33);
    expect(toPart(doc(), 5).program).toBe(5);
  });

  it("merges the melodic parts of an imported file and leaves drums out", () => {
    const drums: NotePart = { notes: [{ pitch: 36, start_s: 0, end_s: 0.1 }], is_drum: true };
    const d = fromParts([drums, PART, { notes: [{ pitch: 72, start_s: 3, end_s: 4 }] }], "song");
    expect(d.notes.map((n) => n.pitch)).toEqual([60, 64, 67, 72]);
    expect(d.isDrum).toBe(false);
    expect(new Set(d.notes.map((n) => n.id)).size).toBe(4);
    expect(fromParts([drums], "beat").isDrum).toBe(true);
    expect(fromParts([], "none").notes).toEqual([]);
  });

  it("spans its notes", () => {
    expect(span(doc())).toEqual({ start: 0, end: 2 });
    expect(span(fromParts([], "x"))).toEqual({ start: 0, end: 0 });
  });
});

describe("edits", () => {
  it("delete removes only the chosen notes and is a no-op otherwise", () => {
    const d = doc();
    const first = d.notes[0]!.id;
    const after = deleteNotes(d, ids(first));
    expect(after.notes.map((n) => n.pitch)).toEqual([64, 67]);
    expect(d.notes).toHaveLength(3); // never mutated
    expect(deleteNotes(d, ids(999))).toBe(d);
    expect(deleteNotes(d, ids())).toBe(d);
  });

  it("move shifts time and pitch, carries bends, and re-sorts", () => {
    const d = doc();
    const c = d.notes[0]!;
    const moved = moveNotes(d, ids(c.id), 1.25, 2);
    const m = moved.notes.find((n) => n.id === c.id)!;
    expect([m.pitch, m.start, m.end]).toEqual([62, 1.25, 1.75]);
    expect(m.bends).toBe(c.bends);
    expect(moved.notes.map((n) => n.id)).toEqual([2, 3, 1].map((i) => d.notes[i - 1]!.id));
  });

  it("move clamps the block at time 0 and the MIDI range, keeping its shape", () => {
    const d = doc();
    const all = ids(...d.notes.map((n) => n.id));
    const early = moveNotes(d, all, -5, 0);
    expect(early.notes.map((n) => n.start)).toEqual([0, 0.5, 1]); // the first note already at 0
    expect(early).toBe(d);
    const up = moveNotes(d, all, 0, 100);
    expect(Math.max(...up.notes.map((n) => n.pitch))).toBe(127);
    expect(up.notes.map((n) => n.pitch)).toEqual([120, 124, 127]);
    const down = moveNotes(d, all, 0, -100);
    expect(down.notes.map((n) => n.pitch)).toEqual([0, 4, 7]);
    expect(moveNotes(d, all, 0, 0.3)).toBe(d); // rounds to whole semitones
  });

  it("resize never makes a note shorter than the minimum", () => {
    const d = doc();
    const id = d.notes[2]!.id;
    const longer = resizeNotes(d, ids(id), 0.5);
    expect(longer.notes[2]?.end).toBe(2.5);
    const tiny = resizeNotes(d, ids(id), -10);
    expect(tiny.notes[2]!.end - tiny.notes[2]!.start).toBeCloseTo(MIN_NOTE_S);
    expect(resizeNotes(d, ids(id), 0)).toBe(d);
    expect(setEnd(d, id, 3).notes[2]?.end).toBe(3);
  });

  it("add clamps the new note and gives it a fresh id", () => {
    const d = doc();
    const { doc: added, id } = addNote(d, { pitch: 130.4, start: -1, end: -0.5 });
    const n = added.notes.find((x) => x.id === id)!;
    expect(n.pitch).toBe(127);
    expect(n.start).toBe(0);
    expect(n.end).toBeCloseTo(MIN_NOTE_S);
    expect(n.velocity).toBe(100);
    expect(d.notes.some((x) => x.id === id)).toBe(false);
    const again = addNote(added, { pitch: 50, start: 3, end: 4, velocity: 20 });
    expect(again.id).toBe(id + 1);
  });

  it("velocity and bend edits touch only the chosen notes", () => {
    const d = doc();
    const a = d.notes[0]!.id;
    const soft = setVelocity(d, ids(a), 300);
    expect(soft.notes[0]?.velocity).toBe(127);
    expect(soft.notes[1]?.velocity).toBe(80);
    expect(setVelocity(d, ids(a), 100)).toBe(d);
    const flat = flattenBends(d, ids(a));
    expect(flat.notes[0]?.bends.byteLength).toBe(0);
    expect(flattenBends(flat, ids(a))).toBe(flat);
  });

  it("a selection keeps only the notes that still exist", () => {
    const d = doc();
    const gone = deleteNotes(d, ids(d.notes[0]!.id));
    expect([...existing(gone, ids(...d.notes.map((n) => n.id)))]).toEqual(gone.notes.map((n) => n.id));
  });

  it("names pitches", () => {
    expect(pitchName(60)).toBe("C4");
    expect(pitchName(69)).toBe("A4");
    expect(pitchName(0)).toBe("C-1");
  });
});
