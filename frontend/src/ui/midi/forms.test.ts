import { describe, expect, it } from "vitest";
import {
  customProblem,
  DEFAULT_CLEANUP,
  DEFAULT_RENDER,
  DEFAULT_TUNING,
  fileStem,
  keyName,
  noteRender,
  parseField,
  renderKey,
  sourceKey,
  transcribeSettings,
  tuningSpec,
  wireSource,
  type SourceRef,
} from "./forms";
import { fromPart, moveNotes } from "./notes";

const DOC = fromPart({ notes: [{ pitch: 60, start_s: 0, end_s: 0.5 }], program: 3, name: "lead" });
const SOUND: SourceRef = { kind: "sound", sound_id: "s1", start_s: 1, end_s: null, label: "demo" };
const UNIT: SourceRef = { kind: "unit", decomposition_id: "d1", unit: 2, label: "unit 3" };

describe("transcription settings", () => {
  it("leave backend defaults alone by default", () => {
    const s = transcribeSettings(DEFAULT_CLEANUP);
    expect(s.min_note_ms).toBeNull();
    expect(s.key).toBeNull();
    expect(s.merge_gap_ms).toBe(40);
    expect(s.tempo_bpm).toBeNull();
    expect(s.max_notes_per_s).toBeNull();
  });

  it("carry each clean-up the form turns on", () => {
    const s = transcribeSettings({ ...DEFAULT_CLEANUP, merge: false, quantize: true, tempoBpm: 96, stepsPerBeat: 2, keyMode: "fixed", tonic: 9, scale: "minor", budget: 4, minNoteMs: 80 });
    expect(s.merge_gap_ms).toBeNull();
    expect(s.quantize).toBe(true);
    expect(s.tempo_bpm).toBe(96);
    expect(s.steps_per_beat).toBe(2);
    expect(s.key).toBe("A minor");
    expect(s.max_notes_per_s).toBe(4);
    expect(s.min_note_ms).toBe(80);
    expect(transcribeSettings({ ...DEFAULT_CLEANUP, keyMode: "auto" }).key).toBe("auto");
    // a typed tempo only matters when quantizing
    expect(transcribeSettings({ ...DEFAULT_CLEANUP, tempoBpm: 96 }).tempo_bpm).toBeNull();
  });

  it("names keys and parses typed numbers", () => {
    expect(keyName(1, "dorian")).toBe("C# dorian");
    expect(keyName(-1, "major")).toBe("B major");
    expect(parseField("", 0, 1)).toBeNull();
    expect(parseField("abc", 0, 1)).toBeNull();
    expect(parseField(" 0.5 ", 0, 1)).toBe(0.5);
    expect(parseField("7", 0, 1)).toBe(1);
  });
});

describe("tunings", () => {
  it("name every kind as the server reads it", () => {
    expect(tuningSpec(DEFAULT_TUNING)).toBe("12-tet");
    expect(tuningSpec({ ...DEFAULT_TUNING, kind: "24-tet" })).toBe("24-tet");
    expect(tuningSpec({ ...DEFAULT_TUNING, kind: "edo", edo: 31.4 })).toBe("31-edo");
    expect(tuningSpec({ ...DEFAULT_TUNING, kind: "edo", edo: 0 })).toBe("1-edo");
    expect(tuningSpec({ ...DEFAULT_TUNING, kind: "just" })).toBe("just");
    expect(tuningSpec({ ...DEFAULT_TUNING, kind: "custom", custom: " 9/8 386.3 2/1 " })).toBe("9/8 386.3 2/1");
  });

  it("explain what is wrong with a custom scale", () => {
    expect(customProblem("9/8, 5/4, 2/1")).toBeNull();
    expect(customProblem("100. 700. 1200.")).toBeNull();
    expect(customProblem("")).toMatch(/ratios/);
    expect(customProblem("9/8 banana 2/1")).toMatch(/banana/);
  });
});

describe("render requests", () => {
  it("send only what the chosen synth uses", () => {
    const form = { ...DEFAULT_RENDER, synth: "fm", presets: { fm: "bell", sampler: "grain" }, program: 33, soundfont: "TimGM6mb", instrument: { kind: "library" as const, component_id: "c1" } };
    const r = noteRender(DOC, form);
    expect(r.preset).toBe("bell");
    expect(r.soundfont).toBeNull();
    expect(r.instrument).toBeNull();
    expect(r.program).toBe(33);
    expect(r.parts[0]?.program).toBe(33);
    const sampler = noteRender(DOC, { ...form, synth: "sampler" });
    expect(sampler.preset).toBe("grain");
    expect(sampler.instrument).toEqual({ kind: "library", component_id: "c1" });
    const font = noteRender(DOC, { ...form, synth: "soundfont" });
    expect(font.preset).toBeNull();
    expect(font.soundfont).toBe("TimGM6mb");
  });

  it("mix the source and say where the notes came from", () => {
    const r = noteRender(DOC, DEFAULT_RENDER, { withSource: UNIT, notesFrom: SOUND });
    expect(r.with_source).toEqual({ kind: "unit", decomposition_id: "d1", unit: 2 });
    expect(r.notes_from).toEqual({ kind: "sound", sound_id: "s1", start_s: 1, end_s: null });
  });

  it("have a cache key that changes with the sound, not with provenance", () => {
    const a = noteRender(DOC, DEFAULT_RENDER);
    expect(renderKey(a)).toBe(renderKey(noteRender(DOC, DEFAULT_RENDER)));
    expect(renderKey(a)).toBe(renderKey(noteRender(DOC, DEFAULT_RENDER, { notesFrom: SOUND })));
    const moved = moveNotes(DOC, new Set([DOC.notes[0]!.id]), 0, 1);
    expect(renderKey(noteRender(moved, DEFAULT_RENDER))).not.toBe(renderKey(a));
    expect(renderKey(noteRender(DOC, { ...DEFAULT_RENDER, tuning: { ...DEFAULT_TUNING, kind: "just" } }))).not.toBe(renderKey(a));
    expect(renderKey(noteRender(DOC, DEFAULT_RENDER, { withSource: SOUND }))).not.toBe(renderKey(a));
  });
});

describe("sources and names", () => {
  it("key and wire sources", () => {
    expect(sourceKey(SOUND)).toBe("sound:s1:1:");
    expect(sourceKey(UNIT)).toBe("unit:d1:2");
    expect(wireSource(SOUND)).toEqual({ kind: "sound", sound_id: "s1", start_s: 1, end_s: null });
  });

  it("make file stems", () => {
    expect(fileStem("demo chords (nmf).wav")).toBe("demo chords (nmf)");
    expect(fileStem("a/b:c")).toBe("a_b_c");
    expect(fileStem("...")).toBe("notes");
  });
});
