/**
 * Timbre map geometry (pure): the view (which part of the map the canvas shows), screen <-> map
 * transforms, pan and zoom (wheel, buttons, pinch), the nearest point under the pointer, and the
 * lasso (simplified to what the wire takes, point-in-polygon).
 *
 * Map coordinates grow to the right and upwards; screen pixels (CSS pixels of the canvas) grow to
 * the right and downwards. A view is the map point at the canvas centre and a scale in pixels per
 * map unit.
 */

export interface Vec {
  readonly x: number;
  readonly y: number;
}

export interface Size {
  readonly width: number;
  readonly height: number;
}

export interface View {
  /** Map coordinates shown at the canvas centre. */
  readonly cx: number;
  readonly cy: number;
  /** CSS pixels per map unit. */
  readonly scale: number;
}

/** Zoom bounds, relative to the view that fits every point. */
export const MIN_ZOOM = 0.25;
export const MAX_ZOOM = 64;
/** The wire's limit on a region's vertices (`MAX_REGION_POINTS` in protocol.py). */
export const MAX_REGION_POINTS = 256;

/** A view that shows every point with `marginPx` around them (a unit square when there are none). */
export function fitView(points: readonly Vec[], size: Size, marginPx = 24): View {
  let minX = Infinity;
  let maxX = -Infinity;
  let minY = Infinity;
  let maxY = -Infinity;
  for (const p of points) {
    if (!Number.isFinite(p.x) || !Number.isFinite(p.y)) continue;
    minX = Math.min(minX, p.x);
    maxX = Math.max(maxX, p.x);
    minY = Math.min(minY, p.y);
    maxY = Math.max(maxY, p.y);
  }
  if (minX > maxX) {
    minX = -1;
    maxX = 1;
    minY = -1;
    maxY = 1;
  }
  // one point, or points on a line: give the flat axis the other's span (or 1)
  const span = Math.max(maxX - minX, maxY - minY, 1e-9);
  const spanX = Math.max(maxX - minX, span * 0.05);
  const spanY = Math.max(maxY - minY, span * 0.05);
  const w = Math.max(1, size.width - 2 * marginPx);
  const h = Math.max(1, size.height - 2 * marginPx);
  const scale = Math.min(w / spanX, h / spanY);
  return { cx: (minX + maxX) / 2, cy: (minY + maxY) / 2, scale: Number.isFinite(scale) && scale > 0 ? scale : 1 };
}

export function toScreen(view: View, size: Size, p: Vec): Vec {
  return { x: size.width / 2 + (p.x - view.cx) * view.scale, y: size.height / 2 - (p.y - view.cy) * view.scale };
}

export function toMap(view: View, size: Size, s: Vec): Vec {
  return { x: view.cx + (s.x - size.width / 2) / view.scale, y: view.cy - (s.y - size.height / 2) / view.scale };
}

/** Move the map with the pointer: a drag of (dx, dy) pixels. */
export function pan(view: View, dxPx: number, dyPx: number): View {
  return { cx: view.cx - dxPx / view.scale, cy: view.cy + dyPx / view.scale, scale: view.scale };
}

/** Clamp a scale to [MIN_ZOOM, MAX_ZOOM] times `fitScale`. */
export function clampScale(scale: number, fitScale: number): number {
  return Math.min(fitScale * MAX_ZOOM, Math.max(fitScale * MIN_ZOOM, scale));
}

/** Zoom by `factor` keeping the map point under `anchor` (screen) where it is. */
export function zoomAt(view: View, size: Size, anchor: Vec, factor: number, fitScale: number = view.scale): View {
  if (!Number.isFinite(factor) || factor <= 0) return view;
  const under = toMap(view, size, anchor);
  const scale = clampScale(view.scale * factor, fitScale);
  // solve toScreen(view', under) === anchor for the new centre
  return {
    cx: under.x - (anchor.x - size.width / 2) / scale,
    cy: under.y + (anchor.y - size.height / 2) / scale,
    scale,
  };
}

/** The zoom factor of a wheel event's deltaY (pixels): smooth for trackpads, ~1.2x per notch. */
export function wheelFactor(deltaY: number): number {
  return Math.exp(-Math.max(-500, Math.min(500, deltaY)) * 0.0015);
}

/**
 * Two-finger pinch: the view that keeps the two map points first under `a0`, `b0` under `a1`,
 * `b1` (as well as a uniform scale can): zoom by the change of distance about the midpoint, pan by
 * the midpoint's move.
 */
export function pinch(view: View, size: Size, a0: Vec, b0: Vec, a1: Vec, b1: Vec, fitScale: number = view.scale): View {
  const d0 = Math.hypot(b0.x - a0.x, b0.y - a0.y);
  const d1 = Math.hypot(b1.x - a1.x, b1.y - a1.y);
  const m0 = { x: (a0.x + b0.x) / 2, y: (a0.y + b0.y) / 2 };
  const m1 = { x: (a1.x + b1.x) / 2, y: (a1.y + b1.y) / 2 };
  const zoomed = d0 > 1 && d1 > 1 ? zoomAt(view, size, m0, d1 / d0, fitScale) : view;
  return pan(zoomed, m1.x - m0.x, m1.y - m0.y);
}

/**
 * The point nearest to screen position `s` within `radiusPx`, or null. Ties go to the later point
 * (drawn on top).
 */
export function nearestPoint(points: readonly Vec[], view: View, size: Size, s: Vec, radiusPx = 10): number | null {
  let best: number | null = null;
  let bestD = radiusPx * radiusPx;
  for (let i = 0; i < points.length; i++) {
    const p = points[i];
    if (!p) continue;
    const q = toScreen(view, size, p);
    const d = (q.x - s.x) ** 2 + (q.y - s.y) ** 2;
    if (d <= bestD) {
      bestD = d;
      best = i;
    }
  }
  return best;
}

/** Even-odd point-in-polygon (the server's `inside_polygon`); fewer than 3 vertices: false. */
export function pointInPolygon(p: Vec, polygon: readonly Vec[]): boolean {
  const n = polygon.length;
  if (n < 3) return false;
  let inside = false;
  for (let i = 0, j = n - 1; i < n; j = i++) {
    const a = polygon[i];
    const b = polygon[j];
    if (!a || !b) continue;
    if (a.y > p.y !== b.y > p.y) {
      const at = a.x + ((p.y - a.y) * (b.x - a.x)) / (b.y - a.y);
      if (p.x < at) inside = !inside;
    }
  }
  return inside;
}

/** Indices of the points inside `polygon`. */
export function pointsInPolygon(points: readonly Vec[], polygon: readonly Vec[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < points.length; i++) {
    const p = points[i];
    if (p && pointInPolygon(p, polygon)) out.push(i);
  }
  return out;
}

/** Absolute area of a polygon (shoelace). */
export function polygonArea(polygon: readonly Vec[]): number {
  let sum = 0;
  for (let i = 0; i < polygon.length; i++) {
    const a = polygon[i];
    const b = polygon[(i + 1) % polygon.length];
    if (a && b) sum += a.x * b.y - b.x * a.y;
  }
  return Math.abs(sum) / 2;
}

function segmentDistance(p: Vec, a: Vec, b: Vec): number {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const len2 = dx * dx + dy * dy;
  const t = len2 > 0 ? Math.max(0, Math.min(1, ((p.x - a.x) * dx + (p.y - a.y) * dy) / len2)) : 0;
  return Math.hypot(p.x - (a.x + t * dx), p.y - (a.y + t * dy));
}

/** Douglas-Peucker on an open path: the vertices kept (first and last always). */
function douglasPeucker(path: readonly Vec[], tolerance: number): Vec[] {
  const n = path.length;
  if (n <= 2) return [...path];
  const keep = new Uint8Array(n);
  keep[0] = 1;
  keep[n - 1] = 1;
  const stack: [number, number][] = [[0, n - 1]];
  while (stack.length) {
    const [lo, hi] = stack.pop() ?? [0, 0];
    const a = path[lo];
    const b = path[hi];
    if (!a || !b) continue;
    let worst = -1;
    let worstD = tolerance;
    for (let i = lo + 1; i < hi; i++) {
      const p = path[i];
      if (!p) continue;
      const d = segmentDistance(p, a, b);
      if (d > worstD) {
        worstD = d;
        worst = i;
      }
    }
    if (worst >= 0) {
      keep[worst] = 1;
      stack.push([lo, worst], [worst, hi]);
    }
  }
  return path.filter((_, i) => keep[i] === 1);
}

/**
 * A lasso stroke as a polygon of at most `maxPoints` vertices: repeated and collinear points
 * dropped (Douglas-Peucker at `tolerance`, doubled until it fits). The polygon is implicitly closed.
 * Fewer than 3 distinct vertices: an empty list (no region).
 */
export function simplifyPolygon(stroke: readonly Vec[], tolerance: number, maxPoints: number = MAX_REGION_POINTS): Vec[] {
  const clean: Vec[] = [];
  for (const p of stroke) {
    if (!Number.isFinite(p.x) || !Number.isFinite(p.y)) continue;
    const last = clean[clean.length - 1];
    if (!last || last.x !== p.x || last.y !== p.y) clean.push(p);
  }
  const first = clean[0];
  const last = clean[clean.length - 1];
  if (clean.length > 1 && first && last && first.x === last.x && first.y === last.y) clean.pop();
  if (clean.length < 3 || maxPoints < 3) return [];
  let tol = Math.max(tolerance, 0);
  let out = douglasPeucker(clean, tol);
  let span = 0;
  for (const p of clean) span = Math.max(span, Math.abs(p.x - (first?.x ?? 0)), Math.abs(p.y - (first?.y ?? 0)));
  while (out.length > maxPoints) {
    tol = tol > 0 ? tol * 2 : Math.max(span * 1e-6, 1e-12);
    out = douglasPeucker(clean, tol);
  }
  return out.length >= 3 && polygonArea(out) > 0 ? out : [];
}
