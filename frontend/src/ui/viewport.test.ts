import { describe, expect, it } from "vitest";
import { MAX_PX_PER_FRAME, Viewport } from "./viewport";

function view(): Viewport {
  const v = new Viewport();
  v.setWidth(500);
  v.setSound(1000, 0.01);
  return v;
}

describe("Viewport", () => {
  it("fits a new sound to the width", () => {
    const v = view();
    expect(v.pxPerFrame).toBe(0.5);
    expect(v.start).toBe(0);
    expect(v.visibleFrames).toBe(1000);
    expect(v.secondsToX(10)).toBe(500);
  });

  it("zooms around the anchor and clamps to the sound", () => {
    const v = view();
    v.zoom(4, 250);
    expect(v.pxPerFrame).toBe(2);
    // the frame under x = 250 (frame 500) stays there
    expect(v.xToFrame(250)).toBeCloseTo(500, 9);
    v.scrollTo(10_000);
    expect(v.start).toBe(750);
    v.zoom(1000);
    expect(v.pxPerFrame).toBe(MAX_PX_PER_FRAME);
    v.zoom(1e-6);
    expect(v.pxPerFrame).toBe(0.5);
    expect(v.start).toBe(0);
  });

  it("stays fitted when the width changes, keeps the zoom otherwise", () => {
    const v = view();
    v.setWidth(1000);
    expect(v.pxPerFrame).toBe(1);
    v.zoom(2);
    v.setWidth(800);
    expect(v.pxPerFrame).toBe(2);
  });

  it("maps x and seconds both ways", () => {
    const v = view();
    v.zoom(2, 0);
    v.scrollBy(100);
    expect(v.xToSeconds(v.secondsToX(3.3))).toBeCloseTo(3.3, 9);
  });
});
