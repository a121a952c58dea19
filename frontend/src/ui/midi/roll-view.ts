/**
 * The piano roll under the source's spectrogram: a spectrogram strip, then the notes over a
 * pitch-aligned copy of the same spectrogram, with velocity as brightness and bends as curves.
 *
 * Pointer events (mouse, pen and touch alike): with Select, tap a note to select it (Shift or
 * Ctrl adds), drag it to move the selection, drag its right edge to lengthen, drag on empty space
 * to select a box; with Draw, drag on empty space to draw a note; with Erase, tap or sweep notes.
 */
import type { Spectrogram } from "../spectrograms";
import { formatTime, h } from "../dom";
import { sourceKey } from "./forms";
import { bendPoints, drumName, moveNotes, pitchName, resizeNotes, type EditNote, type NoteDoc } from "./notes";
import type { MidiRoom } from "./room";
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

/** Width of the keyboard column, CSS px. */
export const GUTTER = 44;
const DRAG_PX = 4;

export interface NoteBox {
  readonly id: number;
  readonly pitch: number;
  readonly start: number;
  readonly end: number;
  readonly velocity: number;
  readonly selected: boolean;
  /** Centre and size in page (client) CSS px. */
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

type Drag =
  | { readonly kind: "move"; readonly ids: ReadonlySet<number>; readonly x0: number; readonly y0: number; readonly anchor: EditNote; moved: boolean; dt: number; dp: number }
  | { readonly kind: "resize"; readonly ids: ReadonlySet<number>; readonly x0: number; readonly anchor: EditNote; dEnd: number }
  | { readonly kind: "box"; readonly x0: number; readonly y0: number; x1: number; y1: number; readonly additive: boolean }
  | { readonly kind: "draw"; readonly pitch: number; readonly start: number; end: number; readonly minLen: number }
  | { readonly kind: "erase"; readonly ids: Set<number> };

/** The roll's boxes for tests (set by the mounted view). */
let probe: (() => NoteBox[]) | null = null;
export function noteBoxes(): NoteBox[] {
  return probe ? probe() : [];
}

/** The roll's element, with its view controls. */
export type RollElement = HTMLElement & { fit(): void; zoom(factor: number): void };

export function pianoRoll(room: MidiRoom): RollElement {
  const strip = h("canvas", { class: "midi-strip", role: "img", "aria-label": "Spectrogram of the source", "data-testid": "midi-spectrogram" });
  const canvas = h("canvas", {
    class: "piano-roll",
    role: "application",
    tabIndex: 0,
    "aria-label": "Piano roll: notes by time and pitch. Select, move, lengthen, draw or erase notes; Delete removes the selection.",
    "data-testid": "piano-roll",
  });
  const scroll = h("input", { type: "range", min: 0, max: 1000, step: 1, value: 0, class: "scroll", "aria-label": "Scroll the notes in time", "data-testid": "roll-scroll" });
  const info = h("div", { class: "roll-info small muted", "aria-live": "polite", "data-testid": "roll-info" });
  const wrap = h("div", { class: "roll-wrap" }, strip, canvas);

  let t0 = 0;
  let pxPerSecond = 100;
  let fitted = true;
  let pitches = { low: 48, high: 72 };
  let pitchDocRef: NoteDoc | null = null;
  let drag: Drag | null = null;
  let preview: NoteDoc | null = null;

  const size = (c: HTMLCanvasElement): { w: number; h: number } => ({ w: c.clientWidth, h: c.clientHeight });
  const view = (): RollView => {
    const { w, h: hgt } = size(canvas);
    return { t0, pxPerSecond, low: pitches.low, high: pitches.high, width: Math.max(1, w - GUTTER), height: Math.max(1, hgt) };
  };
  const duration = (): number => room.duration();

  const fit = (): void => {
    const v = view();
    ({ t0, pxPerSecond } = fitTime(duration(), v.width));
    pitches = fitPitch(room.state.doc.notes);
    pitchDocRef = room.state.doc;
    fitted = true;
    redraw();
  };
  const zoom = (factor: number, anchorX = view().width / 2): void => {
    ({ t0, pxPerSecond } = zoomAt(view(), factor, anchorX, duration()));
    fitted = pxPerSecond <= view().width / duration() + 1e-9;
    redraw();
  };

  // --- drawing ---------------------------------------------------------------------------------
  let frame = 0;
  const redraw = (): void => {
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      draw();
    });
  };

  const prepare = (c: HTMLCanvasElement): CanvasRenderingContext2D | null => {
    const dpr = window.devicePixelRatio || 1;
    const { w, h: hgt } = size(c);
    if (w === 0 || hgt === 0) return null;
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(hgt * dpr)) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(hgt * dpr);
    }
    const ctx = c.getContext("2d");
    ctx?.setTransform(dpr, 0, 0, dpr, 0, 0);
    return ctx;
  };

  const spectrogram = (): Spectrogram | undefined => {
    const s = room.state.source;
    return s ? room.spectrograms.get(sourceKey(s)) : undefined;
  };

  /** Draw the tiles of `spec` between times of the view into the rectangle (x from GUTTER). */
  const drawTiles = (ctx: CanvasRenderingContext2D, spec: Spectrogram, v: RollView, y: number, hgt: number, rowSpan: { sy: number; sh: number } | null): void => {
    const info = spec.info;
    if (!info) return;
    ctx.imageSmoothingEnabled = true;
    const f0 = v.t0 / info.hop_s;
    const f1 = xToTime(v, v.width) / info.hop_s;
    for (const tile of spec.tiles) {
      const a = Math.max(tile.frameStart, f0);
      const b = Math.min(tile.frameStart + tile.nFrames, f1);
      if (b <= a) continue;
      const sy = rowSpan ? rowSpan.sy : 0;
      const sh = rowSpan ? rowSpan.sh : tile.bitmap.height;
      const x = GUTTER + timeToX(v, a * info.hop_s);
      const w = (b - a) * info.hop_s * v.pxPerSecond;
      ctx.drawImage(tile.bitmap, a - tile.frameStart, sy, b - a, sh, x, y, w, hgt);
    }
  };

  const draw = (): void => {
    const s = room.state;
    if (s.doc !== pitchDocRef) {
      // a new document fits; an edit only widens the range when a note leaves it
      const fresh = pitchDocRef === null || s.doc.notes.length === 0 || !sameLineage(pitchDocRef, s.doc);
      const want = fitPitch(s.doc.notes);
      pitches = fresh ? want : { low: Math.min(pitches.low, want.low + 2), high: Math.max(pitches.high, want.high - 2) };
      pitchDocRef = s.doc;
    }
    const v0 = view();
    if (fitted) ({ t0, pxPerSecond } = fitTime(duration(), v0.width));
    t0 = clampStart(t0, pxPerSecond, v0.width, duration());
    const v = view();
    const spec = spectrogram();
    const shown = preview ?? s.doc;

    // the strip: the whole spectrogram
    const sctx = prepare(strip);
    if (sctx) {
      const { w, h: sh } = size(strip);
      sctx.fillStyle = "#07070b";
      sctx.fillRect(0, 0, w, sh);
      if (spec) drawTiles(sctx, spec, v, 0, sh, null);
      sctx.fillStyle = "#101218";
      sctx.fillRect(0, 0, GUTTER, sh);
      sctx.fillStyle = "#8a90a0";
      sctx.font = "10px system-ui, sans-serif";
      sctx.fillText(spec?.info ? "Hz" : s.source ? "…" : "", 6, 14);
      drawPlayhead(sctx, v, sh);
    }

    const ctx = prepare(canvas);
    if (!ctx) return;
    const { w, h: hgt } = size(canvas);
    const rh = rowHeight(v);
    ctx.fillStyle = "#0b0d12";
    ctx.fillRect(0, 0, w, hgt);
    // rows: black keys darker
    for (let p = v.low; p <= v.high; p++) {
      const y = pitchToY(v, p);
      const black = [1, 3, 6, 8, 10].includes(((p % 12) + 12) % 12);
      ctx.fillStyle = black ? "#0e1016" : "#13161e";
      ctx.fillRect(GUTTER, y, w - GUTTER, rh);
      if (p % 12 === 0) {
        ctx.fillStyle = "#262b38";
        ctx.fillRect(GUTTER, y + rh - 1, w - GUTTER, 1);
      }
    }
    // the spectrogram behind the notes, aligned in pitch
    if (spec?.info && spec.tiles.length > 0) {
      const info = spec.info;
      const top = pitchToSpectrogramRow(v.high + 0.5, info.n_rows, info.f_min_hz, info.f_max_hz);
      const bottom = pitchToSpectrogramRow(v.low - 0.5, info.n_rows, info.f_min_hz, info.f_max_hz);
      const sy = info.n_rows - 1 - top;
      const sh = top - bottom;
      if (sh > 0) {
        ctx.save();
        ctx.globalAlpha = 0.5;
        drawTiles(ctx, spec, v, 0, hgt, { sy: Math.max(0, sy), sh });
        ctx.restore();
      }
    }
    // grid
    const bpm = room.tempo();
    const step = gridStep(bpm, s.cleanup.stepsPerBeat);
    for (const line of gridLines(v.t0, xToTime(v, v.width), bpm, s.cleanup.stepsPerBeat, v.pxPerSecond)) {
      ctx.fillStyle = line.level === 0 ? "rgba(255,255,255,0.22)" : line.level === 1 ? "rgba(255,255,255,0.10)" : "rgba(255,255,255,0.04)";
      ctx.fillRect(Math.round(GUTTER + timeToX(v, line.t)), 0, 1, hgt);
    }
    // notes
    ctx.save();
    ctx.beginPath();
    ctx.rect(GUTTER, 0, w - GUTTER, hgt);
    ctx.clip();
    const erasing = drag?.kind === "erase" ? drag.ids : null;
    for (const n of shown.notes) {
      const r = noteRect(v, n);
      if (r.x + r.w < 0 || r.x > v.width) continue;
      const x = GUTTER + r.x;
      const selected = s.selected.has(n.id);
      const light = 30 + (n.velocity / 127) * 38;
      ctx.globalAlpha = erasing?.has(n.id) ? 0.25 : 1;
      ctx.fillStyle = s.doc.isDrum ? `hsl(190, 70%, ${light}%)` : `hsl(16, 92%, ${light}%)`;
      ctx.fillRect(x, r.y + 0.5, r.w, Math.max(1, r.h - 1));
      if (selected) {
        ctx.strokeStyle = "#ffffff";
        ctx.lineWidth = 2;
        ctx.strokeRect(x + 1, r.y + 1, Math.max(1, r.w - 2), Math.max(1, r.h - 2));
      }
      const bends = bendPoints(n);
      if (bends.length > 1) {
        ctx.strokeStyle = "#5ad1c4";
        ctx.lineWidth = 1.5;
        ctx.beginPath();
        bends.forEach(([bt, semis], i) => {
          const bx = GUTTER + timeToX(v, n.start + bt);
          const by = r.y + r.h / 2 - semis * rh;
          if (i === 0) ctx.moveTo(bx, by);
          else ctx.lineTo(bx, by);
        });
        ctx.stroke();
      }
    }
    ctx.globalAlpha = 1;
    if (drag?.kind === "draw") {
      const x = GUTTER + timeToX(v, drag.start);
      ctx.fillStyle = "rgba(255,122,89,0.7)";
      ctx.fillRect(x, pitchToY(v, drag.pitch), Math.max(2, (drag.end - drag.start) * v.pxPerSecond), rh);
    }
    if (drag?.kind === "box") {
      ctx.strokeStyle = "#5ad1c4";
      ctx.setLineDash([4, 3]);
      ctx.lineWidth = 1;
      ctx.strokeRect(GUTTER + drag.x0, drag.y0, drag.x1 - drag.x0, drag.y1 - drag.y0);
      ctx.setLineDash([]);
    }
    ctx.restore();
    drawPlayhead(ctx, v, hgt);
    // keyboard column
    ctx.fillStyle = "#101218";
    ctx.fillRect(0, 0, GUTTER, hgt);
    ctx.font = `${Math.min(11, Math.max(8, rh - 1))}px system-ui, sans-serif`;
    for (let p = v.low; p <= v.high; p++) {
      const y = pitchToY(v, p);
      const black = [1, 3, 6, 8, 10].includes(((p % 12) + 12) % 12);
      ctx.fillStyle = black ? "#05060a" : "#d8dbe4";
      ctx.fillRect(black ? 0 : 0, y + 0.5, black ? GUTTER * 0.6 : GUTTER - 2, Math.max(1, rh - 1));
      const label = s.doc.isDrum ? drumName(p) : pitchName(p);
      if ((p % 12 === 0 && !s.doc.isDrum) || rh >= 14) {
        ctx.fillStyle = black ? "#8a90a0" : "#1a1d25";
        ctx.fillText(s.doc.isDrum ? label.slice(0, 7) : label, 3, y + Math.min(rh - 2, 11));
      }
    }
    info.textContent = describe(s.doc, s.selected, step);
    const maxStart = Math.max(0, duration() - v.width / v.pxPerSecond);
    scroll.disabled = maxStart <= 0;
    scroll.value = String(maxStart > 0 ? Math.round((t0 / maxStart) * 1000) : 0);
  };

  const drawPlayhead = (ctx: CanvasRenderingContext2D, v: RollView, hgt: number): void => {
    const pos = room.state.position;
    if (!pos || !room.state.playing || pos.totalSeconds <= 0) return;
    const x = GUTTER + timeToX(v, pos.seconds % pos.totalSeconds);
    if (x < GUTTER) return;
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(Math.round(x), 0, 2, hgt);
  };

  // --- pointer ---------------------------------------------------------------------------------
  const local = (e: PointerEvent | WheelEvent): { x: number; y: number } => {
    const r = canvas.getBoundingClientRect();
    return { x: e.clientX - r.left - GUTTER, y: e.clientY - r.top };
  };
  const stepS = (): number => gridStep(room.tempo(), room.state.cleanup.stepsPerBeat);
  const snapT = (t: number): number => (room.state.snap ? snap(t, stepS()) : t);

  canvas.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    const { x, y } = local(e);
    if (x < 0) return;
    canvas.focus({ preventScroll: true });
    canvas.setPointerCapture(e.pointerId);
    const v = view();
    const s = room.state;
    const hit = hitTest(v, s.doc.notes, x, y, e.pointerType === "touch" ? 14 : 8);
    const additive = e.shiftKey || e.ctrlKey || e.metaKey;
    if (s.tool === "erase") {
      drag = { kind: "erase", ids: new Set(hit ? [hit.id] : []) };
    } else if (hit) {
      const anchor = s.doc.notes.find((n) => n.id === hit.id);
      if (!anchor) return;
      let ids = s.selected;
      if (additive) {
        const next = new Set(ids);
        if (next.has(hit.id)) next.delete(hit.id);
        else next.add(hit.id);
        room.select(next);
        drag = null;
        redraw();
        return;
      }
      if (!ids.has(hit.id)) {
        ids = new Set([hit.id]);
        room.select(ids);
      }
      drag = hit.zone === "end"
        ? { kind: "resize", ids, x0: x, anchor, dEnd: 0 }
        : { kind: "move", ids, x0: x, y0: y, anchor, moved: false, dt: 0, dp: 0 };
    } else if (s.tool === "draw") {
      const start = Math.max(0, room.state.snap ? Math.floor(xToTime(v, x) / stepS()) * stepS() : xToTime(v, x));
      const minLen = room.state.snap ? stepS() : 0.25;
      drag = { kind: "draw", pitch: yToPitch(v, y), start, end: start + minLen, minLen };
    } else {
      drag = { kind: "box", x0: x, y0: y, x1: x, y1: y, additive };
    }
    redraw();
  });

  canvas.addEventListener("pointermove", (e) => {
    if (!drag) return;
    const { x, y } = local(e);
    const v = view();
    const doc = room.state.doc;
    switch (drag.kind) {
      case "move": {
        if (!drag.moved && Math.hypot(x - drag.x0, y - drag.y0) < DRAG_PX) return;
        drag.moved = true;
        const rawT = (x - drag.x0) / v.pxPerSecond;
        drag.dt = snapT(drag.anchor.start + rawT) - drag.anchor.start;
        drag.dp = Math.round(-(y - drag.y0) / rowHeight(v));
        preview = moveNotes(doc, drag.ids, drag.dt, drag.dp);
        break;
      }
      case "resize": {
        const end = snapT(drag.anchor.end + (x - drag.x0) / v.pxPerSecond);
        drag.dEnd = end - drag.anchor.end;
        preview = resizeNotes(doc, drag.ids, drag.dEnd);
        break;
      }
      case "box":
        drag.x1 = x;
        drag.y1 = y;
        break;
      case "draw": {
        const t = xToTime(v, x);
        drag.end = Math.max(drag.start + drag.minLen, room.state.snap ? Math.ceil(t / stepS()) * stepS() : t);
        break;
      }
      case "erase": {
        const hit = hitTest(v, doc.notes, x, y, 0);
        if (hit) drag.ids.add(hit.id);
        break;
      }
    }
    redraw();
  });

  const finish = (): void => {
    const d = drag;
    drag = null;
    preview = null;
    if (!d) return;
    const v = view();
    switch (d.kind) {
      case "move":
        if (d.moved && (Math.abs(d.dt) > 1e-9 || d.dp !== 0)) room.move(d.ids, d.dt, d.dp);
        break;
      case "resize":
        if (Math.abs(d.dEnd) > 1e-9) room.resize(d.ids, d.dEnd);
        break;
      case "box": {
        const rect = { x: d.x0, y: d.y0, w: d.x1 - d.x0, h: d.y1 - d.y0 };
        if (Math.abs(rect.w) < DRAG_PX && Math.abs(rect.h) < DRAG_PX) {
          room.select(new Set());
        } else {
          const found = notesInRect(v, room.state.doc.notes, rect);
          if (d.additive) for (const id of room.state.selected) found.add(id);
          room.select(found);
        }
        break;
      }
      case "draw":
        room.add({ pitch: d.pitch, start: d.start, end: d.end, velocity: 100 });
        break;
      case "erase":
        if (d.ids.size > 0) room.edit(d.ids.size === 1 ? "erase a note" : `erase ${d.ids.size} notes`, (doc) => ({ ...doc, notes: doc.notes.filter((n) => !d.ids.has(n.id)) }), new Set());
        break;
    }
    redraw();
  };
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointercancel", () => {
    drag = null;
    preview = null;
    redraw();
  });
  canvas.addEventListener(
    "wheel",
    (e) => {
      const { x } = local(e);
      if (e.ctrlKey || e.metaKey) {
        e.preventDefault();
        zoom(Math.exp(-e.deltaY * 0.002), Math.max(0, x));
      } else if (Math.abs(e.deltaX) > Math.abs(e.deltaY) || e.shiftKey) {
        e.preventDefault();
        t0 = clampStart(t0 + (e.shiftKey ? e.deltaY : e.deltaX) / pxPerSecond, pxPerSecond, view().width, duration());
        fitted = false;
        redraw();
      }
    },
    { passive: false },
  );
  scroll.addEventListener("input", () => {
    const v = view();
    const maxStart = Math.max(0, duration() - v.width / v.pxPerSecond);
    t0 = (Number(scroll.value) / 1000) * maxStart;
    fitted = false;
    redraw();
  });

  new ResizeObserver(() => redraw()).observe(wrap);
  room.store.watch(["doc", "selected", "source", "playing", "position", "origin", "cleanup", "snap"], () => redraw());
  room.store.watch(["origin"], () => fit());
  room.spectrograms.on("changed", () => redraw());

  probe = () => {
    const v = view();
    const r = canvas.getBoundingClientRect();
    const s = room.state;
    return s.doc.notes.map((n) => {
      const b = noteRect(v, n);
      return {
        id: n.id,
        pitch: n.pitch,
        start: n.start,
        end: n.end,
        velocity: n.velocity,
        selected: s.selected.has(n.id),
        x: r.left + GUTTER + b.x + b.w / 2,
        y: r.top + b.y + b.h / 2,
        w: b.w,
        h: b.h,
      };
    });
  };

  const el = h("div", { class: "roll" }, wrap, scroll, info);
  return Object.assign(el, { fit, zoom: (f: number) => zoom(f) });
}

/** A line about the notes: how many, and the selection's details. */
function describe(doc: NoteDoc, selected: ReadonlySet<number>, step: number): string {
  const n = doc.notes.length;
  if (n === 0) return "No notes yet: transcribe a source, open a .mid, or draw with the Draw tool.";
  const sel = doc.notes.filter((x) => selected.has(x.id));
  if (sel.length === 1) {
    const x = sel[0];
    if (x) return `${doc.isDrum ? drumName(x.pitch) : pitchName(x.pitch)} · ${formatTime(x.start)} · ${Math.round((x.end - x.start) * 1000)} ms · velocity ${x.velocity}${x.bends.byteLength ? " · bent" : ""}`;
  }
  if (sel.length > 1) return `${sel.length} of ${n} notes selected`;
  return `${n} notes · grid ${Math.round(step * 1000)} ms`;
}

/** True when `b` came from `a` by edits (notes keep their ids; a new transcription starts over). */
function sameLineage(a: NoteDoc, b: NoteDoc): boolean {
  return b.nextId >= a.nextId && a.notes.some((n) => b.notes.some((m) => m.id === n.id)) && a.name === b.name;
}
