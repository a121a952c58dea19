/**
 * The timbre map's canvas: points coloured by kind (flagged clips dimmed), the lasso's region and
 * selection, the hovered point and the marker. Drag pans, the wheel or two fingers zoom, hovering
 * plays (throttled by the room), a click places a looping marker, Shift-drag (or the Lasso
 * toggle, for touch) draws a region. Drawn at the device's pixel ratio.
 */
import type { MapPointInfo } from "@shared/protocol";
import { h } from "../dom";
import { toScreen, wheelFactor, type Vec } from "./map";
import { PIN_LETTERS, type TimbreRoom } from "./room";

export const KIND_COLORS: Readonly<Record<MapPointInfo["kind"], string>> = {
  clip: "#5ad1c4",
  component: "#ff7a59",
  anchor: "#ffd166",
};

export const KIND_LABELS: Readonly<Record<MapPointInfo["kind"], string>> = {
  clip: "training clip",
  component: "library component",
  anchor: "model sound",
};

/** Pixels a press may move and still be a click. */
const CLICK_SLOP_PX = 5;

export function mapCanvas(room: TimbreRoom): HTMLCanvasElement {
  const canvas = h("canvas", {
    class: "timbre-map",
    "data-testid": "timbre-map",
    tabindex: 0,
    role: "application",
    "aria-label": "Timbre map: hover to hear, click to place a marker, drag to pan, wheel to zoom, Shift-drag to lasso",
  });
  room.canvas = canvas;
  let stroke: Vec[] | null = null;
  let frame = 0;

  // points, region and axes change with the view; hover, marker and the lasso with the pointer:
  // the first are drawn once into a layer, the second on top of it every frame
  const layer = document.createElement("canvas");
  let layerKey: readonly unknown[] = [];

  const pointRadius = (scale: number, fitScale: number): number => Math.max(2.5, Math.min(5, 3 + Math.log2(scale / fitScale)));

  const drawLayer = (ctx: CanvasRenderingContext2D, dpr: number): void => {
    const s = room.state;
    const w = s.size.width;
    const hgt = s.size.height;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.globalAlpha = 1;
    ctx.fillStyle = "#07070b";
    ctx.fillRect(0, 0, w, hgt);
    const view = s.view;
    if (!view || !s.map) return;
    const size = s.size;
    // the origin, faintly: "weirdness" is the distance from it
    const o = toScreen(view, size, { x: 0, y: 0 });
    ctx.strokeStyle = "#1d2230";
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(0, o.y);
    ctx.lineTo(w, o.y);
    ctx.moveTo(o.x, 0);
    ctx.lineTo(o.x, hgt);
    ctx.stroke();

    if (s.region && s.region.length >= 3) {
      ctx.beginPath();
      s.region.forEach((p, i) => {
        const q = toScreen(view, size, p);
        if (i === 0) ctx.moveTo(q.x, q.y);
        else ctx.lineTo(q.x, q.y);
      });
      ctx.closePath();
      ctx.fillStyle = "rgba(90, 209, 196, 0.12)";
      ctx.fill();
      ctx.strokeStyle = "rgba(90, 209, 196, 0.8)";
      ctx.setLineDash([5, 4]);
      ctx.stroke();
      ctx.setLineDash([]);
    }

    // one path per kind and dimming: tens of thousands of points stay one fill each
    const r = pointRadius(view.scale, s.fitScale);
    const groups = new Map<string, Path2D>();
    const ring = new Path2D();
    const selected = new Set(s.selected);
    const points = s.map.points;
    for (let i = 0; i < points.length; i++) {
      const p = points[i];
      if (!p) continue;
      const q = toScreen(view, size, p);
      if (q.x < -10 || q.y < -10 || q.x > w + 10 || q.y > hgt + 10) continue;
      const key = `${p.kind}:${p.flagged ? 1 : 0}`;
      let path = groups.get(key);
      if (!path) {
        path = new Path2D();
        groups.set(key, path);
      }
      const pr = p.kind === "component" ? r + 1 : r;
      if (p.kind === "anchor") path.rect(q.x - r, q.y - r, 2 * r, 2 * r);
      else {
        path.moveTo(q.x + pr, q.y);
        path.arc(q.x, q.y, pr, 0, Math.PI * 2);
      }
      if (selected.has(i)) {
        ring.moveTo(q.x + pr + 1.5, q.y);
        ring.arc(q.x, q.y, pr + 1.5, 0, Math.PI * 2);
      }
    }
    for (const kind of ["anchor", "clip", "component"] as const) {
      for (const flagged of [1, 0]) {
        const path = groups.get(`${kind}:${flagged}`);
        if (!path) continue;
        ctx.globalAlpha = flagged ? 0.28 : 0.9;
        ctx.fillStyle = KIND_COLORS[kind];
        ctx.fill(path);
      }
    }
    ctx.globalAlpha = 1;
    if (selected.size) {
      ctx.strokeStyle = "#ffffff";
      ctx.lineWidth = 1.2;
      ctx.stroke(ring);
    }
  };

  const draw = (): void => {
    frame = 0;
    const ctx = canvas.getContext("2d");
    if (!ctx) return;
    const s = room.state;
    const dpr = window.devicePixelRatio || 1;
    const pw = Math.max(1, Math.round(s.size.width * dpr));
    const ph = Math.max(1, Math.round(s.size.height * dpr));
    if (canvas.width !== pw || canvas.height !== ph) {
      canvas.width = pw;
      canvas.height = ph;
    }
    const key = [s.map, s.view, s.size, s.region, s.selected, s.fitScale, dpr];
    if (key.length !== layerKey.length || key.some((k, i) => k !== layerKey[i])) {
      layer.width = pw;
      layer.height = ph;
      const lctx = layer.getContext("2d");
      if (lctx) drawLayer(lctx, dpr);
      layerKey = key;
    }
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.drawImage(layer, 0, 0);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const view = s.view;
    if (!view || !s.map) return;
    const size = s.size;
    const points = s.map.points;
    const r = pointRadius(view.scale, s.fitScale);
    const hover = s.hover?.target;
    if (hover) {
      const at = "point" in hover ? points[hover.point] : hover;
      if (at) {
        const q = toScreen(view, size, at);
        ctx.strokeStyle = "#e8eaf0";
        ctx.lineWidth = 1.5;
        ctx.beginPath();
        ctx.arc(q.x, q.y, r + 5, 0, Math.PI * 2);
        ctx.stroke();
      }
    }
    if (s.marker) {
      const q = toScreen(view, size, s.marker.at);
      ctx.strokeStyle = s.playing?.what === "marker" ? "#ff7a59" : "#e8eaf0";
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.moveTo(q.x - 9, q.y);
      ctx.lineTo(q.x + 9, q.y);
      ctx.moveTo(q.x, q.y - 9);
      ctx.lineTo(q.x, q.y + 9);
      ctx.stroke();
      ctx.beginPath();
      ctx.arc(q.x, q.y, 6, 0, Math.PI * 2);
      ctx.stroke();
    }
    // pins: the song's A, B, ... as lettered rings
    ctx.font = "bold 11px system-ui, sans-serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    s.pins.forEach((pin, i) => {
      const q = toScreen(view, size, pin.at);
      ctx.fillStyle = "#ff7a59";
      ctx.beginPath();
      ctx.arc(q.x, q.y - 14, 8, 0, Math.PI * 2);
      ctx.fill();
      ctx.strokeStyle = "#ff7a59";
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      ctx.moveTo(q.x, q.y - 6);
      ctx.lineTo(q.x, q.y);
      ctx.stroke();
      ctx.fillStyle = "#1a0d08";
      ctx.fillText(PIN_LETTERS[i] ?? "?", q.x, q.y - 14);
    });
    if (stroke && stroke.length > 1) {
      ctx.strokeStyle = "#5ad1c4";
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      stroke.forEach((p, i) => (i === 0 ? ctx.moveTo(p.x, p.y) : ctx.lineTo(p.x, p.y)));
      ctx.stroke();
    }
  };
  const redraw = (): void => {
    if (frame === 0) frame = requestAnimationFrame(draw);
  };
  room.store.watch(["map", "view", "size", "hover", "marker", "pins", "region", "selected", "playing", "fitScale"], redraw);

  new ResizeObserver(() => {
    const rect = canvas.getBoundingClientRect();
    if (rect.width > 0 && rect.height > 0) room.setSize({ width: rect.width, height: rect.height });
  }).observe(canvas);
  // the page moved to a screen of another pixel ratio (or zoomed): draw at the new one
  const watchRatio = (): void => {
    window.matchMedia(`(resolution: ${window.devicePixelRatio || 1}dppx)`).addEventListener(
      "change",
      () => {
        redraw();
        watchRatio();
      },
      { once: true },
    );
  };
  watchRatio();

  // --- pointers --------------------------------------------------------------------------------
  const local = (e: { clientX: number; clientY: number }): Vec => {
    const rect = canvas.getBoundingClientRect();
    return { x: e.clientX - rect.left, y: e.clientY - rect.top };
  };
  const down = new Map<number, Vec>();
  let press: { start: Vec; last: Vec; moved: boolean; lasso: boolean; at: number } | null = null;

  canvas.addEventListener("pointerdown", (e) => {
    if (e.button !== 0 && e.pointerType === "mouse") return;
    canvas.setPointerCapture(e.pointerId);
    canvas.focus({ preventScroll: true });
    const p = local(e);
    down.set(e.pointerId, p);
    if (down.size === 2) {
      // a second finger: a pinch, not a lasso or a click
      press = null;
      stroke = null;
      redraw();
      return;
    }
    const lasso = room.state.lassoOn || e.shiftKey;
    press = { start: p, last: p, moved: false, lasso, at: performance.now() };
    if (lasso) {
      stroke = [p];
      redraw();
    }
  });

  canvas.addEventListener("pointermove", (e) => {
    const p = local(e);
    const before = down.get(e.pointerId);
    if (before && down.size === 2) {
      const other = [...down.entries()].find(([id]) => id !== e.pointerId)?.[1];
      if (other) room.pinch(before, other, p, other);
      down.set(e.pointerId, p);
      return;
    }
    if (before) down.set(e.pointerId, p);
    if (press) {
      if (Math.hypot(p.x - press.start.x, p.y - press.start.y) > CLICK_SLOP_PX) press.moved = true;
      if (press.lasso && stroke) {
        stroke.push(p);
        redraw();
      } else if (press.moved) {
        room.panBy(p.x - press.last.x, p.y - press.last.y);
        canvas.style.cursor = "grabbing";
      }
      press.last = p;
      return;
    }
    if (e.pointerType === "mouse") room.hoverAt(p);
  });

  const end = (e: PointerEvent, cancelled: boolean): void => {
    down.delete(e.pointerId);
    const p = press;
    press = null;
    canvas.style.cursor = "";
    if (!p) return;
    if (p.lasso) {
      const s = stroke;
      stroke = null;
      if (s && !cancelled) room.lassoDone(s);
      redraw();
    } else if (!p.moved && !cancelled) {
      room.placeMarker(local(e), p.at);
    }
  };
  canvas.addEventListener("pointerup", (e) => end(e, false));
  canvas.addEventListener("pointercancel", (e) => end(e, true));
  canvas.addEventListener("pointerleave", (e) => {
    if (e.pointerType === "mouse" && !press) room.leave();
  });
  canvas.addEventListener(
    "wheel",
    (e) => {
      e.preventDefault();
      room.zoomBy(wheelFactor(e.deltaMode === 1 ? e.deltaY * 16 : e.deltaY), local(e));
    },
    { passive: false },
  );
  canvas.addEventListener("keydown", (e) => {
    const step = 40;
    const moves: Record<string, [number, number]> = { ArrowLeft: [step, 0], ArrowRight: [-step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] };
    const m = moves[e.key];
    if (m) {
      e.preventDefault();
      room.panBy(m[0], m[1]);
    } else if (e.key === "+" || e.key === "=") room.zoomBy(1.25);
    else if (e.key === "-") room.zoomBy(0.8);
  });
  return canvas;
}
