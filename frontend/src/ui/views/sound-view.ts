/**
 * The sound view: the streamed spectrogram on one bounded canvas (tiles are ImageBitmaps drawn
 * where visible), zoom and scroll, bar lines, and the loop region chosen by dragging.
 */
import { barLines, barSeconds, parseBpm } from "../../dsp/snap";
import { formatTime, h, icon, ICONS } from "../dom";
import type { Studio } from "../studio";
import type { Viewport } from "../viewport";

export function soundView(studio: Studio, viewport: Viewport): HTMLElement {
  const canvas = h("canvas", {
    class: "spectrogram",
    "aria-label": "Spectrogram of the selected sound. Drag across it to choose a loop region.",
    role: "img",
    "data-testid": "spectrogram",
  });
  const wrap = h("div", { class: "spectrogram-wrap" }, canvas);
  const title = h("h2", { class: "sound-title", id: "sound-title" }, "No sound");
  const status = h("span", { class: "muted small", "data-testid": "spectrogram-status" });
  const tempo = h("input", {
    type: "number",
    min: 20,
    max: 400,
    step: 0.1,
    class: "tempo-input",
    inputMode: "decimal",
    "aria-label": "Tempo in beats per minute",
    "data-testid": "tempo-input",
    onchange: () => studio.setTempo(tempo.value.trim() === "" ? null : parseBpm(tempo.value)),
  });
  const snap = h("input", { type: "checkbox", checked: true, "data-testid": "snap-toggle", onchange: () => studio.setSnap(snap.checked) });
  const regionText = h("span", { class: "region-text", "data-testid": "region-text" });
  const clear = h("button", { class: "button small", "aria-label": "Clear the loop region", onclick: () => studio.clearRegion() }, "Whole sound");
  const scroll = h("input", {
    type: "range",
    min: 0,
    max: 1000,
    step: 1,
    value: 0,
    class: "scroll",
    "aria-label": "Scroll in time",
    "data-testid": "time-scroll",
    oninput: () => viewport.scrollTo((Number(scroll.value) / 1000) * Math.max(0, viewport.totalFrames - viewport.visibleFrames)),
  });

  const toolbar = h(
    "div",
    { class: "toolbar" },
    h("button", { class: "icon-button", "aria-label": "Zoom out", "data-testid": "zoom-out", onclick: () => viewport.zoom(1 / 1.6) }, icon(ICONS.zoomOut)),
    h("button", { class: "icon-button", "aria-label": "Zoom in", "data-testid": "zoom-in", onclick: () => viewport.zoom(1.6) }, icon(ICONS.zoomIn)),
    h("button", { class: "button small", "aria-label": "Show the whole sound", onclick: () => viewport.fit() }, "Fit"),
    h("label", { class: "field" }, h("span", {}, "Tempo"), tempo),
    h("label", { class: "field check" }, snap, h("span", {}, "Snap to bars")),
    regionText,
    clear,
  );

  // --- drawing ---------------------------------------------------------------------------------
  let dragging: { a: number; b: number } | null = null;
  let frame = 0;
  const redraw = (): void => {
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      draw();
    });
  };

  const draw = (): void => {
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth;
    const hgt = canvas.clientHeight;
    if (w === 0 || hgt === 0) return;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(hgt * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(hgt * dpr);
    }
    const ctx = canvas.getContext("2d");
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = "#07070b";
    ctx.fillRect(0, 0, w, hgt);
    const id = studio.state.soundId;
    const spec = id ? studio.spectrograms.get(id) : undefined;
    const axisH = 16;
    const plotH = hgt - axisH;
    if (spec) {
      ctx.imageSmoothingEnabled = viewport.pxPerFrame < 1;
      const v0 = viewport.start;
      const v1 = viewport.start + viewport.visibleFrames;
      for (const tile of spec.tiles) {
        const t0 = tile.frameStart;
        const t1 = tile.frameStart + tile.nFrames;
        if (t1 <= v0 || t0 >= v1) continue;
        const s0 = Math.max(t0, v0);
        const s1 = Math.min(t1, v1);
        ctx.drawImage(
          tile.bitmap,
          s0 - t0,
          0,
          s1 - s0,
          tile.bitmap.height,
          viewport.frameToX(s0),
          0,
          (s1 - s0) * viewport.pxPerFrame,
          plotH,
        );
      }
    }
    // bar lines
    const bpm = studio.tempoOf(id);
    const t0 = viewport.xToSeconds(0);
    const t1 = viewport.xToSeconds(w);
    if (bpm) {
      const barPx = barSeconds(bpm) / viewport.hopS * viewport.pxPerFrame;
      if (barPx >= 6) {
        ctx.strokeStyle = "rgba(255,255,255,0.18)";
        ctx.lineWidth = 1;
        for (const t of barLines(t0, t1, bpm)) {
          const x = Math.round(viewport.secondsToX(t)) + 0.5;
          ctx.beginPath();
          ctx.moveTo(x, 0);
          ctx.lineTo(x, plotH);
          ctx.stroke();
        }
      }
    }
    // region (or the drag in progress)
    const region = dragging ? { start_s: Math.min(dragging.a, dragging.b), end_s: Math.max(dragging.a, dragging.b) } : studio.region();
    if (region) {
      const x0 = viewport.secondsToX(region.start_s);
      const x1 = viewport.secondsToX(region.end_s);
      ctx.fillStyle = "rgba(0,0,0,0.55)";
      ctx.fillRect(0, 0, Math.max(0, x0), plotH);
      ctx.fillRect(x1, 0, Math.max(0, w - x1), plotH);
      ctx.strokeStyle = "#ffb454";
      ctx.lineWidth = 2;
      ctx.strokeRect(x0, 1, x1 - x0, plotH - 2);
    }
    // the span of the shown units
    const d = studio.current();
    if (d) {
      const x0 = viewport.secondsToX(d.frame.start_s);
      const x1 = viewport.secondsToX(d.frame.end_s);
      ctx.fillStyle = "#5ad1c4";
      ctx.fillRect(x0, 0, x1 - x0, 3);
    }
    // playhead
    const pos = studio.state.position;
    const playing = studio.state.playing;
    if (pos && playing && pos.totalSeconds > 0) {
      // every stream starts at the shown units' span, or at the region when there are no units
      const span0 = d ? d.frame.start_s : (studio.region()?.start_s ?? 0);
      const x = viewport.secondsToX(span0 + (pos.seconds % pos.totalSeconds));
      ctx.fillStyle = "#ffffff";
      ctx.fillRect(Math.round(x), 0, 2, plotH);
    }
    // time axis
    ctx.fillStyle = "#101218";
    ctx.fillRect(0, plotH, w, axisH);
    ctx.fillStyle = "#8a90a0";
    ctx.font = "11px system-ui, sans-serif";
    const span = t1 - t0;
    const stepS = niceStep(span / Math.max(1, w / 90));
    for (let t = Math.ceil(t0 / stepS) * stepS; t <= t1; t += stepS) {
      const x = viewport.secondsToX(t);
      ctx.fillRect(Math.round(x), plotH, 1, 4);
      ctx.fillText(stepS < 0.5 ? `${t.toFixed(2)}s` : formatTime(t), x + 3, plotH + 12);
    }
    if (spec && !spec.complete && spec.info) {
      const doneFrames = spec.tiles.reduce((m, t) => Math.max(m, t.frameStart + t.nFrames), 0);
      status.textContent = `Drawing ${Math.round((doneFrames / Math.max(1, spec.info.n_frames)) * 100)}%`;
    } else if (spec?.error) {
      status.textContent = `Spectrogram unavailable: ${spec.error}`;
    } else {
      status.textContent = "";
    }
  };

  // --- interaction -----------------------------------------------------------------------------
  const xOf = (e: PointerEvent | WheelEvent): number => e.clientX - canvas.getBoundingClientRect().left;
  canvas.addEventListener("pointerdown", (e) => {
    if (e.button !== 0 || !studio.state.soundId) return;
    canvas.setPointerCapture(e.pointerId);
    const t = viewport.xToSeconds(xOf(e));
    dragging = { a: t, b: t };
    redraw();
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!dragging) return;
    dragging.b = viewport.xToSeconds(xOf(e));
    redraw();
  });
  const finish = (e: PointerEvent): void => {
    if (!dragging) return;
    const { a } = dragging;
    const b = viewport.xToSeconds(xOf(e));
    dragging = null;
    if (Math.abs(viewport.secondsToX(a) - viewport.secondsToX(b)) > 4) studio.setRegionFromDrag(a, b);
    redraw();
  };
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointercancel", () => {
    dragging = null;
    redraw();
  });
  canvas.addEventListener(
    "wheel",
    (e) => {
      if (e.ctrlKey || e.metaKey) {
        e.preventDefault();
        viewport.zoom(Math.exp(-e.deltaY * 0.002), xOf(e));
      } else if (Math.abs(e.deltaX) > Math.abs(e.deltaY) || e.shiftKey) {
        e.preventDefault();
        viewport.scrollBy(e.shiftKey ? e.deltaY : e.deltaX);
      }
    },
    { passive: false },
  );

  new ResizeObserver(() => {
    viewport.setWidth(wrap.clientWidth);
    redraw();
  }).observe(wrap);

  viewport.on("change", () => {
    const maxStart = Math.max(0, viewport.totalFrames - viewport.visibleFrames);
    scroll.value = String(maxStart > 0 ? Math.round((viewport.start / maxStart) * 1000) : 0);
    scroll.disabled = maxStart <= 0;
    redraw();
  });

  let shownInfoFor: string | null = null;
  const syncViewport = (): void => {
    const id = studio.state.soundId;
    const info = id ? studio.spectrograms.get(id)?.info : null;
    if (id && info && shownInfoFor !== id) {
      shownInfoFor = id;
      viewport.setSound(info.n_frames, info.hop_s);
    }
  };
  studio.spectrograms.on("changed", (id) => {
    if (id === studio.state.soundId) {
      syncViewport();
      redraw();
    }
  });

  studio.store.watch(["soundId", "sounds"], (s) => {
    const sound = s.sounds.find((x) => x.sound_id === s.soundId);
    title.textContent = sound ? sound.name : "No sound";
    tempo.placeholder = sound?.tempo_bpm ? String(Math.round(sound.tempo_bpm * 10) / 10) : "bpm";
    const typed = sound ? s.tempos[sound.sound_id] : null;
    tempo.value = typed ? String(typed) : "";
    if (sound && shownInfoFor !== sound.sound_id) {
      // until the spectrogram says otherwise, assume a 10 ms hop
      viewport.setSound(Math.max(1, Math.round(sound.duration_s / 0.01)), 0.01);
      shownInfoFor = null;
      syncViewport();
    }
    redraw();
  });
  studio.store.watch(["regions", "tempos", "snap", "soundId", "sounds"], (s) => {
    const region = studio.region();
    const bpm = studio.tempoOf(s.soundId);
    snap.checked = s.snap;
    if (region) {
      const bars = bpm ? (region.end_s - region.start_s) / barSeconds(bpm) : null;
      regionText.textContent = `Loop ${formatTime(region.start_s)}–${formatTime(region.end_s)}${bars !== null ? ` · ${Math.round(bars * 100) / 100} ${Math.abs(bars - 1) < 1e-6 ? "bar" : "bars"}` : ""}`;
    } else {
      regionText.textContent = s.soundId ? "Whole sound · drag to choose a loop" : "";
    }
    clear.hidden = region === null;
    redraw();
  });
  studio.store.watch(["position", "playing", "decompositions", "currentBySound"], () => redraw());

  return h(
    "section",
    { class: "panel sound-view", "aria-labelledby": "sound-title" },
    h("div", { class: "panel-head" }, title, status),
    toolbar,
    wrap,
    scroll,
  );
}

function niceStep(raw: number): number {
  const steps = [0.1, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300];
  return steps.find((s) => s >= raw) ?? 600;
}
