import { describe, expect, it } from "vitest";
import { fromPart } from "./notes";
import {
  clampStart,
  fitPitch,
  fitTime,
  gridLines,
  gridStep,
  hitTest,
  noteRect,
  notesInRect,
  pitchToSpectrogramRow,
  pitchToY,
  rowHeight,
  snap,
  timeToX,
  xToTime,
  yToPitch,
  zoomAt,
  type RollView,
} from "./roll";

// 24 rows of 10 px, 100 px per second from t = 1 s
const VIEW: RollView = { t0: 1, pxPerSecond: 100, low: 48, high: 71, width: 400, height: 240 };

const DOC = fromPart({
  notes: [
    { pitch: 60, start_s: 1.0, end_s: 1.5 },
    { pitch: 62, start_s: 2.0, end_s: 2.05 },
    { pitch: 60, start_s: 1.2, end_s: 1.4 },
  ],
});

describe("coordinates", () => {
  it("map time and pitch to pixels and back", () => {
    expect(rowHeight(VIEW)).toBe(10);
    expect(timeToX(VIEW, 1.5)).toBe(50);
    expect(xToTime(VIEW, 50)).toBe(1.5);
    expect(pitchToY(VIEW, 71)).toBe(0);
    expect(pitchToY(VIEW, 48)).toBe(230);
    expect(yToPitch(VIEW, 0)).toBe(71);
    expect(yToPitch(VIEW, 235)).toBe(48);
    expect(yToPitch(VIEW, 9999)).toBe(48);
    expect(yToPitch(VIEW, -50)).toBe(71);
    for (const p of [48, 60, 71]) expect(yToPitch(VIEW, pitchToY(VIEW, p) + 5)).toBe(p);
  });

  it("gives notes rectangles at least 2 px wide", () => {
    const [a, , b] = DOC.notes;
    expect(noteRect(VIEW, a!)).toEqual({ x: 0, y: 110, w: 50, h: 10 });
    expect(noteRect(VIEW, b!).w).toBeCloseTo(5);
    const tiny = { ...a!, end: a!.start + 0.001 };
    expect(noteRect(VIEW, tiny).w).toBe(2);
  });
});

describe("hit tests", () => {
  it("find the topmost note and tell body from end", () => {
    // notes sorted by start: (60, 1.0), (60, 1.2), (62, 2.0): the later-drawn 1.2 s note is on top
    const top = DOC.notes[1]!;
    expect(hitTest(VIEW, DOC.notes, 30, 115)).toEqual({ id: top.id, zone: "body" });
    expect(hitTest(VIEW, DOC.notes, 5, 115)).toEqual({ id: DOC.notes[0]!.id, zone: "body" });
    expect(hitTest(VIEW, DOC.notes, 48, 115)).toEqual({ id: DOC.notes[0]!.id, zone: "end" });
    expect(hitTest(VIEW, DOC.notes, 48, 60)).toBeNull(); // another row
    expect(hitTest(VIEW, DOC.notes, 300, 115)).toBeNull();
  });

  it("leave a short note movable: its end zone is at most two thirds of it", () => {
    const short = DOC.notes[2]!; // 5 px wide at x = 100
    expect(hitTest(VIEW, DOC.notes, 100.5, 95, 8)).toEqual({ id: short.id, zone: "body" });
    expect(hitTest(VIEW, DOC.notes, 104.5, 95, 8)).toEqual({ id: short.id, zone: "end" });
  });

  it("thin rows still catch a finger", () => {
    const thin: RollView = { ...VIEW, height: 48 }; // 2 px rows
    const n = DOC.notes[0]!;
    const r = noteRect(thin, n);
    expect(hitTest(thin, [n], r.x + 10, r.y + r.h + 4)?.id).toBe(n.id);
  });

  it("select the notes a rectangle meets, in any drag direction", () => {
    const ids = notesInRect(VIEW, DOC.notes, { x: 95, y: 100, w: -60, h: 20 });
    expect([...ids].sort()).toEqual([DOC.notes[0]!.id, DOC.notes[1]!.id].sort());
    expect(notesInRect(VIEW, DOC.notes, { x: 300, y: 0, w: 10, h: 10 }).size).toBe(0);
  });
});

describe("fitting, grid and zoom", () => {
  it("fits pitches with padding, a minimum of rows, inside the MIDI range", () => {
    expect(fitPitch(DOC.notes)).toEqual({ low: 50, high: 73 });
    expect(fitPitch(DOC.notes, 2, 4)).toEqual({ low: 58, high: 64 });
    expect(fitPitch([])).toEqual({ low: 49, high: 72 });
    const low = fromPart({ notes: [{ pitch: 1, start_s: 0, end_s: 1 }] });
    expect(fitPitch(low.notes)).toEqual({ low: 0, high: 23 });
    const high = fromPart({ notes: [{ pitch: 126, start_s: 0, end_s: 1 }] });
    expect(fitPitch(high.notes)).toEqual({ low: 104, high: 127 });
  });

  it("snaps to the grid", () => {
    expect(gridStep(120, 4)).toBe(0.125);
    expect(snap(0.3, 0.125)).toBe(0.25);
    expect(snap(0.3, 0)).toBe(0.3);
  });

  it("draws bars, beats and steps, dropping levels that would crowd", () => {
    const lines = gridLines(0, 2, 120, 4, 100);
    expect(lines[0]).toEqual({ t: 0, level: 0 });
    expect(lines.filter((l) => l.level === 0).map((l) => l.t)).toEqual([0, 2]);
    expect(lines.filter((l) => l.level === 1)).toHaveLength(3);
    expect(lines).toHaveLength(17);
    const coarse = gridLines(0, 8, 120, 4, 10);
    expect(coarse.every((l) => l.level <= 1)).toBe(true);
    expect(gridLines(0, 600, 120, 4, 0.5)).toEqual(gridLines(0, 600, 120, 4, 0.5).filter((l) => l.level === 0));
  });

  it("fits and zooms time inside the sound", () => {
    expect(fitTime(4, 400)).toEqual({ t0: 0, pxPerSecond: 100 });
    const v: RollView = { ...VIEW, t0: 0 };
    const z = zoomAt(v, 2, 200, 4);
    expect(z.pxPerSecond).toBe(200);
    expect(xToTime({ ...v, ...z }, 200)).toBeCloseTo(2); // the anchor stays put
    expect(zoomAt(v, 0.1, 200, 4)).toEqual({ t0: 0, pxPerSecond: 100 }); // never wider than the sound
    expect(clampStart(3.5, 200, 400, 4)).toBe(2);
    expect(clampStart(-1, 200, 400, 4)).toBe(0);
  });
});

describe("the spectrogram behind the notes", () => {
  it("puts a pitch on the row of its frequency", () => {
    // rows geometric from 30 Hz to 22050 Hz, as the server draws them
    const rowsHz = (r: number): number => 30 * Math.pow(22050 / 30, r / 255);
    const a4 = pitchToSpectrogramRow(69, 256, 30, 22050);
    expect(rowsHz(a4)).toBeCloseTo(440, 6);
    expect(pitchToSpectrogramRow(81, 256, 30, 22050) - a4).toBeCloseTo((255 * Math.log(2)) / Math.log(22050 / 30), 6);
    expect(pitchToSpectrogramRow(69 - 12 * Math.log2(440 / 30), 256, 30, 22050)).toBeCloseTo(0, 6);
  });
});
