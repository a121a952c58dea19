import { describe, expect, it } from "vitest";
import {
  MAX_REGION_POINTS,
  MAX_ZOOM,
  MIN_ZOOM,
  fitView,
  nearestPoint,
  pan,
  pinch,
  pointInPolygon,
  pointsInPolygon,
  polygonArea,
  simplifyPolygon,
  toMap,
  toScreen,
  wheelFactor,
  zoomAt,
  type Vec,
} from "./map";

/** A seeded generator (mulberry32): the same numbers every run. */
function rng(seed = 0): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SIZE = { width: 640, height: 400 };

function cloud(n: number, r: () => number): Vec[] {
  return Array.from({ length: n }, () => ({ x: (r() - 0.3) * 17, y: (r() - 0.8) * 3 }));
}

describe("fitView", () => {
  it("shows every point inside the margin and touches it on one axis", () => {
    const pts = cloud(200, rng(1));
    const view = fitView(pts, SIZE, 24);
    const s = pts.map((p) => toScreen(view, SIZE, p));
    const xs = s.map((q) => q.x);
    const ys = s.map((q) => q.y);
    const eps = 1e-6;
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(24 - eps);
    expect(Math.max(...xs)).toBeLessThanOrEqual(SIZE.width - 24 + eps);
    expect(Math.min(...ys)).toBeGreaterThanOrEqual(24 - eps);
    expect(Math.max(...ys)).toBeLessThanOrEqual(SIZE.height - 24 + eps);
    const touchesX = Math.abs(Math.min(...xs) - 24) < 1e-6 && Math.abs(Math.max(...xs) - (SIZE.width - 24)) < 1e-6;
    const touchesY = Math.abs(Math.min(...ys) - 24) < 1e-6 && Math.abs(Math.max(...ys) - (SIZE.height - 24)) < 1e-6;
    expect(touchesX || touchesY).toBe(true);
  });

  it("handles no points, one point and non-finite coordinates", () => {
    expect(fitView([], SIZE).scale).toBeGreaterThan(0);
    const one = fitView([{ x: 3, y: -2 }], SIZE);
    expect(one).toMatchObject({ cx: 3, cy: -2 });
    expect(Number.isFinite(one.scale) && one.scale > 0).toBe(true);
    const v = fitView([{ x: Number.NaN, y: 0 }, { x: 1, y: 1 }, { x: 2, y: 3 }], SIZE);
    expect(v.cx).toBeCloseTo(1.5);
    expect(v.cy).toBeCloseTo(2);
  });
});

describe("transforms", () => {
  it("toMap inverts toScreen, y grows upwards on the map", () => {
    const r = rng(2);
    for (let i = 0; i < 200; i++) {
      const view = { cx: (r() - 0.5) * 100, cy: (r() - 0.5) * 100, scale: 0.01 + r() * 500 };
      const p = { x: (r() - 0.5) * 50, y: (r() - 0.5) * 50 };
      const back = toMap(view, SIZE, toScreen(view, SIZE, p));
      expect(back.x).toBeCloseTo(p.x, 6);
      expect(back.y).toBeCloseTo(p.y, 6);
    }
    const view = { cx: 0, cy: 0, scale: 10 };
    expect(toScreen(view, SIZE, { x: 0, y: 1 }).y).toBeLessThan(SIZE.height / 2);
  });

  it("pan moves every point by the drag", () => {
    const view = { cx: 1, cy: 2, scale: 37 };
    const p = { x: 4, y: -1 };
    const before = toScreen(view, SIZE, p);
    const after = toScreen(pan(view, 13, -7), SIZE, p);
    expect(after.x - before.x).toBeCloseTo(13);
    expect(after.y - before.y).toBeCloseTo(-7);
  });

  it("zoomAt keeps the point under the anchor and clamps the scale", () => {
    const view = { cx: 1, cy: 2, scale: 40 };
    const anchor = { x: 100, y: 333 };
    const under = toMap(view, SIZE, anchor);
    const z = zoomAt(view, SIZE, anchor, 1.7);
    expect(z.scale).toBeCloseTo(68);
    const q = toScreen(z, SIZE, under);
    expect(q.x).toBeCloseTo(anchor.x);
    expect(q.y).toBeCloseTo(anchor.y);
    expect(zoomAt(view, SIZE, anchor, 1e9, 40).scale).toBeCloseTo(40 * MAX_ZOOM);
    expect(zoomAt(view, SIZE, anchor, 1e-9, 40).scale).toBeCloseTo(40 * MIN_ZOOM);
    expect(zoomAt(view, SIZE, anchor, 0)).toBe(view);
    expect(zoomAt(view, SIZE, anchor, Number.NaN)).toBe(view);
  });

  it("wheel up zooms in, down zooms out, bounded per event", () => {
    expect(wheelFactor(-100)).toBeGreaterThan(1);
    expect(wheelFactor(100)).toBeLessThan(1);
    expect(wheelFactor(0)).toBe(1);
    expect(wheelFactor(1e6)).toBeCloseTo(wheelFactor(500));
  });

  it("pinch follows two fingers: spread zooms in about their midpoint, moving both pans", () => {
    const view = { cx: 0, cy: 0, scale: 50 };
    const a0 = { x: 200, y: 200 };
    const b0 = { x: 300, y: 200 };
    const z = pinch(view, SIZE, a0, b0, { x: 150, y: 200 }, { x: 350, y: 200 });
    expect(z.scale).toBeCloseTo(100);
    const mid = toMap(view, SIZE, { x: 250, y: 200 });
    const q = toScreen(z, SIZE, mid);
    expect(q.x).toBeCloseTo(250);
    expect(q.y).toBeCloseTo(200);
    const moved = pinch(view, SIZE, a0, b0, { x: 210, y: 190 }, { x: 310, y: 190 });
    expect(moved.scale).toBeCloseTo(50);
    const p = toScreen(moved, SIZE, toMap(view, SIZE, a0));
    expect(p.x).toBeCloseTo(210);
    expect(p.y).toBeCloseTo(190);
  });
});

describe("nearestPoint", () => {
  const view = { cx: 0, cy: 0, scale: 100 };
  const pts = [
    { x: 0, y: 0 },
    { x: 0.05, y: 0 },
    { x: 1, y: 1 },
  ];
  it("finds the closest point within the radius, else null", () => {
    const s0 = toScreen(view, SIZE, { x: 0.01, y: 0 });
    expect(nearestPoint(pts, view, SIZE, s0, 10)).toBe(0);
    const s1 = toScreen(view, SIZE, { x: 0.04, y: 0.01 });
    expect(nearestPoint(pts, view, SIZE, s1, 10)).toBe(1);
    const far = toScreen(view, SIZE, { x: 0.5, y: 0.5 });
    expect(nearestPoint(pts, view, SIZE, far, 10)).toBeNull();
    expect(nearestPoint([], view, SIZE, far)).toBeNull();
  });
  it("agrees with brute force on random clouds", () => {
    const r = rng(3);
    const cloudPts = cloud(300, r);
    const v = fitView(cloudPts, SIZE);
    for (let k = 0; k < 50; k++) {
      const s = { x: r() * SIZE.width, y: r() * SIZE.height };
      const got = nearestPoint(cloudPts, v, SIZE, s, 15);
      const d = cloudPts.map((p) => {
        const q = toScreen(v, SIZE, p);
        return Math.hypot(q.x - s.x, q.y - s.y);
      });
      const best = Math.min(...d);
      if (best > 15) expect(got).toBeNull();
      else expect(d[got ?? -1]).toBeCloseTo(best, 9);
    }
  });
});

describe("polygons", () => {
  const square = [
    { x: 0, y: 0 },
    { x: 2, y: 0 },
    { x: 2, y: 2 },
    { x: 0, y: 2 },
  ];
  // a "C": the notch (x in 1..3, y in 1..2) is outside
  const cShape = [
    { x: 0, y: 0 },
    { x: 3, y: 0 },
    { x: 3, y: 1 },
    { x: 1, y: 1 },
    { x: 1, y: 2 },
    { x: 3, y: 2 },
    { x: 3, y: 3 },
    { x: 0, y: 3 },
  ];

  it("point in polygon: inside, outside, concave notch, degenerate", () => {
    expect(pointInPolygon({ x: 1, y: 1 }, square)).toBe(true);
    expect(pointInPolygon({ x: 3, y: 1 }, square)).toBe(false);
    expect(pointInPolygon({ x: 0.5, y: 1.5 }, cShape)).toBe(true);
    expect(pointInPolygon({ x: 2, y: 1.5 }, cShape)).toBe(false);
    expect(pointInPolygon({ x: 2, y: 2.5 }, cShape)).toBe(true);
    expect(pointInPolygon({ x: 0, y: 0 }, square.slice(0, 2))).toBe(false);
    expect(pointsInPolygon([{ x: 1, y: 1 }, { x: 5, y: 5 }, { x: 0.1, y: 1.9 }], square)).toEqual([0, 2]);
  });

  it("area by the shoelace formula, either winding", () => {
    expect(polygonArea(square)).toBeCloseTo(4);
    expect(polygonArea([...square].reverse())).toBeCloseTo(4);
    expect(polygonArea(cShape)).toBeCloseTo(7);
  });

  it("simplifies a dense lasso to the wire's limit and keeps its shape", () => {
    const n = 5000;
    const r = rng(4);
    const stroke = Array.from({ length: n }, (_, i) => {
      const t = (i / n) * Math.PI * 2;
      const rad = 1 + 0.002 * (r() - 0.5);
      return { x: 3 + rad * Math.cos(t), y: -1 + rad * Math.sin(t) };
    });
    const poly = simplifyPolygon(stroke, 0.0001);
    expect(poly.length).toBeLessThanOrEqual(MAX_REGION_POINTS);
    expect(poly.length).toBeGreaterThanOrEqual(16);
    expect(polygonArea(poly)).toBeGreaterThan(Math.PI * 0.97);
    expect(polygonArea(poly)).toBeLessThan(Math.PI * 1.01);
    expect(pointInPolygon({ x: 3, y: -1 }, poly)).toBe(true);
    expect(pointInPolygon({ x: 4.5, y: -1 }, poly)).toBe(false);
    const tight = simplifyPolygon(stroke, 0, 20);
    expect(tight.length).toBeLessThanOrEqual(20);
    expect(tight.length).toBeGreaterThanOrEqual(3);
  });

  it("drops repeats and the closing vertex; a stroke with no area is no region", () => {
    const closed = [...square, square[0] ?? { x: 0, y: 0 }, square[0] ?? { x: 0, y: 0 }];
    expect(simplifyPolygon(closed, 0)).toEqual(square);
    expect(simplifyPolygon([{ x: 0, y: 0 }, { x: 1, y: 1 }], 0)).toEqual([]);
    expect(simplifyPolygon([{ x: 0, y: 0 }, { x: 1, y: 1 }, { x: 2, y: 2 }, { x: 3, y: 3 }], 0)).toEqual([]);
    expect(simplifyPolygon([{ x: 0, y: 0 }, { x: 0, y: 0 }, { x: 0, y: 0 }], 0)).toEqual([]);
    expect(simplifyPolygon([{ x: Number.NaN, y: 0 }, ...square], 0)).toEqual(square);
  });
});
