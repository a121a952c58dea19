import { describe, expect, it } from "vitest";
import { buildColormap, DEFAULT_COLORMAP, lutCss, tilePixels } from "./colormap";

describe("buildColormap", () => {
  it("has 256 opaque RGBA entries whose ends are the first and last control points", () => {
    const lut = buildColormap([
      [0, 10, 20, 30],
      [1, 250, 240, 230],
    ]);
    expect(lut.length).toBe(1024);
    expect(Array.from(lut.subarray(0, 4))).toEqual([10, 20, 30, 255]);
    expect(Array.from(lut.subarray(1020, 1024))).toEqual([250, 240, 230, 255]);
    for (let v = 0; v < 256; v++) expect(lut[v * 4 + 3]).toBe(255);
  });

  it("interpolates linearly between points", () => {
    const lut = buildColormap([
      [0, 0, 0, 0],
      [1, 255, 0, 255],
    ]);
    expect(lut[128 * 4]).toBe(128);
    expect(lut[128 * 4 + 1]).toBe(0);
    expect(lut[64 * 4 + 2]).toBe(64);
  });

  it("the default map gets brighter from quiet to loud", () => {
    const luma = (v: number): number =>
      0.2126 * (DEFAULT_COLORMAP[v * 4] ?? 0) + 0.7152 * (DEFAULT_COLORMAP[v * 4 + 1] ?? 0) + 0.0722 * (DEFAULT_COLORMAP[v * 4 + 2] ?? 0);
    for (let v = 16; v < 256; v += 16) expect(luma(v)).toBeGreaterThan(luma(v - 16));
  });

  it("rejects points that do not span 0..1", () => {
    expect(() => buildColormap([[0, 0, 0, 0]])).toThrow(RangeError);
    expect(() => buildColormap([[0.1, 0, 0, 0], [1, 1, 1, 1]])).toThrow(/spanning/);
  });

  it("formats an entry as CSS", () => {
    const lut = buildColormap([
      [0, 1, 2, 3],
      [1, 4, 5, 6],
    ]);
    expect(lutCss(0, lut)).toBe("rgb(1, 2, 3)");
    expect(lutCss(999, lut)).toBe("rgb(4, 5, 6)");
  });
});

describe("tilePixels", () => {
  // a LUT where entry v is (v, 255 - v, v / 2)
  const lut = new Uint8ClampedArray(1024);
  for (let v = 0; v < 256; v++) lut.set([v, 255 - v, v >> 1, 255], v * 4);

  it("maps each value through the LUT and puts row 0 (lowest frequency) at the bottom", () => {
    // 3 rows x 2 frames, row-major: row 0 = [0, 1], row 1 = [2, 3], row 2 = [4, 5]
    const data = Uint8Array.from([0, 1, 2, 3, 4, 5]);
    const px = tilePixels(data, 3, 2, lut);
    expect(px.length).toBe(3 * 2 * 4);
    // top image row is data row 2
    expect(Array.from(px.subarray(0, 4))).toEqual([4, 251, 2, 255]);
    expect(Array.from(px.subarray(4, 8))).toEqual([5, 250, 2, 255]);
    // bottom image row is data row 0
    expect(Array.from(px.subarray(16, 20))).toEqual([0, 255, 0, 255]);
    expect(Array.from(px.subarray(20, 24))).toEqual([1, 254, 0, 255]);
  });

  it("uses the full 0..255 range", () => {
    const data = Uint8Array.from([255]);
    expect(Array.from(tilePixels(data, 1, 1, lut))).toEqual([255, 0, 127, 255]);
  });

  it("rejects a size mismatch and bad shapes", () => {
    expect(() => tilePixels(new Uint8Array(5), 3, 2, lut)).toThrow(/expected 3 x 2/);
    expect(() => tilePixels(new Uint8Array(0), 0, 2, lut)).toThrow(RangeError);
    expect(() => tilePixels(new Uint8Array(1), 1, 1, new Uint8ClampedArray(10))).toThrow(/256/);
  });
});
