/**
 * Small canvas drawings: a component's spectrum curve and a unit's activation lane.
 */
import type { Viewport } from "../viewport";

export const UNIT_COLORS = [
  "#ff7a59", "#5ad1c4", "#ffc857", "#a78bfa", "#7cc4ff", "#ff5d8f", "#9be564", "#f59e0b",
  "#60a5fa", "#f472b6", "#34d399", "#fb923c", "#c084fc", "#facc15", "#2dd4bf", "#e879f9",
] as const;

export function unitColor(unit: number): string {
  return UNIT_COLORS[unit % UNIT_COLORS.length] ?? "#ffffff";
}

function prepare(canvas: HTMLCanvasElement): CanvasRenderingContext2D | null {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth;
  const hgt = canvas.clientHeight;
  if (w === 0 || hgt === 0) return null;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(hgt * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(hgt * dpr);
  }
  const ctx = canvas.getContext("2d");
  if (!ctx) return null;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, hgt);
  return ctx;
}

/**
 * A spectrum curve (low frequencies left); `ghost` is drawn faint behind it (the unit's own
 * component when it plays another).
 */
export function drawCurve(canvas: HTMLCanvasElement, curve: Float32Array | null, color: string, ghost: Float32Array | null = null): void {
  const ctx = prepare(canvas);
  if (!ctx) return;
  const w = canvas.clientWidth;
  const hgt = canvas.clientHeight;
  const path = (c: Float32Array): void => {
    const n = c.length;
    ctx.beginPath();
    ctx.moveTo(0, hgt);
    for (let i = 0; i < n; i++) {
      const v = Math.max(0, Math.min(1, c[i] ?? 0));
      ctx.lineTo((i / Math.max(1, n - 1)) * w, hgt - Math.sqrt(v) * (hgt - 2));
    }
    ctx.lineTo(w, hgt);
    ctx.closePath();
  };
  if (ghost) {
    path(ghost);
    ctx.fillStyle = "rgba(255,255,255,0.12)";
    ctx.fill();
  }
  if (curve) {
    path(curve);
    ctx.fillStyle = color;
    ctx.globalAlpha = 0.85;
    ctx.fill();
    ctx.globalAlpha = 1;
  }
}

/** An activation curve on the shared time axis: frame `j` of `act` is spectrogram frame `offset + j`. */
export function drawActivation(
  canvas: HTMLCanvasElement,
  act: Float32Array,
  offset: number,
  viewport: Viewport,
  color: string,
  dim: boolean,
  shiftPx = 0,
): void {
  const ctx = prepare(canvas);
  if (!ctx) return;
  const w = canvas.clientWidth;
  const hgt = canvas.clientHeight;
  // the lane may start `shiftPx` to the right of the spectrogram: draw in the spectrogram's x
  ctx.translate(-shiftPx, 0);
  ctx.fillStyle = color;
  ctx.globalAlpha = dim ? 0.25 : 0.9;
  const x0 = Math.max(shiftPx, Math.floor(viewport.frameToX(offset)));
  const x1 = Math.min(w + shiftPx, Math.ceil(viewport.frameToX(offset + act.length)));
  for (let x = x0; x < x1; x++) {
    const f0 = Math.floor(viewport.xToFrame(x) - offset);
    const f1 = Math.max(f0 + 1, Math.floor(viewport.xToFrame(x + 1) - offset));
    let m = 0;
    for (let f = Math.max(0, f0); f < Math.min(act.length, f1); f++) m = Math.max(m, act[f] ?? 0);
    const bar = Math.sqrt(Math.min(1, m)) * (hgt - 1);
    ctx.fillRect(x, hgt - bar, 1, bar);
  }
  ctx.globalAlpha = 1;
}
