/**
 * The transport bar: play/stop the edit, loop, A/B (original region vs the edit), undo/redo and a
 * level meter fed by the engine's AnalyserNode.
 */
import { formatTime, h, icon, ICONS, replaceChildren } from "../dom";
import type { Studio } from "../studio";

export function transportBar(studio: Studio): HTMLElement {
  const play = h("button", { class: "transport-play", "aria-label": "Play", "data-testid": "transport-play", onclick: () => studio.togglePlay(performance.now()) }, icon(ICONS.play));
  const loop = h("button", { class: "toggle wide", "aria-label": "Loop", "data-testid": "loop-toggle", onclick: () => studio.setLoop(!studio.state.loop) }, icon(ICONS.loop));
  const ab = h(
    "button",
    { class: "ab-toggle", "aria-label": "Switch between the original (A) and the edit (B)", "data-testid": "ab-toggle", onclick: () => studio.toggleAB(performance.now()) },
    h("span", { class: "ab-a" }, "A"),
    h("span", { class: "ab-b" }, "B"),
  );
  const undo = h("button", { class: "icon-button", "aria-label": "Undo", "data-testid": "undo", onclick: () => studio.undo() }, icon(ICONS.undo));
  const redo = h("button", { class: "icon-button", "aria-label": "Redo", "data-testid": "redo", onclick: () => studio.redo() }, icon(ICONS.redo));
  const meterFill = h("div", { class: "meter-fill" });
  const meter = h("div", { class: "meter", role: "meter", "aria-label": "Output level", "aria-valuemin": "0", "aria-valuemax": "1", "aria-valuenow": "0", "data-testid": "level-meter" }, meterFill);
  const what = h("span", { class: "now-playing", "aria-live": "polite", "data-testid": "now-playing" });
  const time = h("span", { class: "time small muted" });
  const conn = h("span", { class: "connection", "data-testid": "connection" });

  studio.store.watch(["playing", "ab", "loop", "canUndo", "canRedo", "decompositions", "currentBySound", "soundId"], (s) => {
    const playing = s.playing;
    replaceChildren(play, icon(playing ? ICONS.stop : ICONS.play));
    play.setAttribute("aria-label", playing ? "Stop" : "Play");
    play.classList.toggle("active", playing !== null);
    loop.setAttribute("aria-pressed", s.loop ? "true" : "false");
    ab.dataset["side"] = s.ab;
    ab.setAttribute("aria-pressed", s.ab === "A" ? "true" : "false");
    ab.disabled = studio.current() === null;
    undo.disabled = !s.canUndo;
    redo.disabled = !s.canRedo;
    if (!playing) what.textContent = s.soundId ? (studio.current() ? (s.ab === "A" ? "A: original" : "B: your edit") : "original") : "";
    else what.textContent = `${playing.status === "loading" ? "Starting " : ""}${labelOf(studio, playing.kind, playing.unit)}`;
  });
  studio.store.watch(["position"], (s) => {
    time.textContent = s.position ? `${formatTime(s.position.seconds % Math.max(0.001, s.position.totalSeconds))} / ${formatTime(s.position.totalSeconds)}` : "";
  });
  studio.store.watch(["connection"], (s) => {
    conn.textContent = s.connection === "open" ? "" : s.connection === "connecting" ? "Connecting…" : "Offline, retrying…";
    conn.dataset["state"] = s.connection;
  });

  // the meter follows the engine once it exists
  let hooked = false;
  const hook = (): void => {
    const engine = studio.engine;
    if (!engine || hooked) return;
    hooked = true;
    let level = 0;
    engine.on("level", ({ rms }) => {
      level = rms;
    });
    const tick = (): void => {
      const db = level > 0 ? 20 * Math.log10(level) : -100;
      const frac = Math.max(0, Math.min(1, (db + 60) / 60));
      meterFill.style.transform = `scaleX(${frac})`;
      meter.setAttribute("aria-valuenow", level.toFixed(3));
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  };
  studio.store.watch(["playing"], () => hook());

  return h(
    "footer",
    { class: "transport", "aria-label": "Transport" },
    h("div", { class: "transport-main" }, play, loop, ab, what, time),
    h("div", { class: "transport-side" }, undo, redo, meter, conn),
  );
}

function labelOf(studio: Studio, kind: string, unit: number | null): string {
  switch (kind) {
    case "edit":
      return studio.state.solo !== null ? `B: your edit, unit ${studio.state.solo + 1} solo` : "B: your edit";
    case "original":
      return "A: original";
    case "unit":
      return `unit ${(unit ?? 0) + 1}`;
    default:
      return `preview as unit ${(unit ?? 0) + 1}`;
  }
}
