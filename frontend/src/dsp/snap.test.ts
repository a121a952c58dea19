import { describe, expect, it } from "vitest";
import { barLines, barSeconds, normalizeRegion, parseBpm, snapTime } from "./snap";

describe("bars", () => {
  it("a 4/4 bar at 120 bpm lasts 2 s", () => {
    expect(barSeconds(120)).toBe(2);
    expect(barSeconds(90)).toBeCloseTo(8 / 3, 12);
  });

  it("rejects tempos outside 20..400", () => {
    expect(() => barSeconds(0)).toThrow(/tempo 0 bpm/);
    expect(() => barSeconds(Number.NaN)).toThrow(RangeError);
    expect(() => barSeconds(500)).toThrow(RangeError);
  });

  it("snaps to the nearest bar line", () => {
    expect(snapTime(0.9, 120)).toBe(0);
    expect(snapTime(1.1, 120)).toBe(2);
    expect(snapTime(5.2, 120)).toBe(6);
  });

  it("lists the bar lines in a span", () => {
    expect(barLines(1, 7, 120)).toEqual([2, 4, 6]);
    expect(barLines(0, 4, 120)).toEqual([0, 2, 4]);
  });
});

describe("normalizeRegion", () => {
  it("orders the ends of a backwards drag", () => {
    expect(normalizeRegion(3, 1, 10, null)).toEqual({ start_s: 1, end_s: 3 });
  });

  it("clamps to the sound", () => {
    expect(normalizeRegion(-2, 12, 10, null)).toEqual({ start_s: 0, end_s: 10 });
  });

  it("snaps both ends to bars", () => {
    expect(normalizeRegion(1.2, 5.1, 16, 120)).toEqual({ start_s: 2, end_s: 6 });
  });

  it("makes a snapped region at least one bar long", () => {
    expect(normalizeRegion(2.1, 2.4, 16, 120)).toEqual({ start_s: 2, end_s: 4 });
  });

  it("keeps a snapped region inside the last whole bar", () => {
    expect(normalizeRegion(13, 15.9, 15, 120)).toEqual({ start_s: 12, end_s: 14 });
    expect(normalizeRegion(14.5, 15, 15, 120)).toEqual({ start_s: 12, end_s: 14 });
  });

  it("treats a click as no region", () => {
    expect(normalizeRegion(2, 2, 10, null)).toBeNull();
  });

  it("does not snap a sound shorter than a bar", () => {
    expect(normalizeRegion(0.1, 0.5, 1, 120)).toEqual({ start_s: 0.1, end_s: 0.5 });
  });
});

describe("parseBpm", () => {
  it("reads a typed tempo", () => {
    expect(parseBpm(" 128 ")).toBe(128);
    expect(parseBpm("92.5")).toBe(92.5);
  });
  it("refuses nonsense", () => {
    expect(parseBpm("")).toBeNull();
    expect(parseBpm("fast")).toBeNull();
    expect(parseBpm("5")).toBeNull();
  });
});
