/**
 * The page: layout, keyboard, file drops anywhere, and the debug hook for tests.
 */
import { h } from "./dom";
import { Rooms, type RoomSpec } from "./nav";
import type { Studio } from "./studio";
import type { Toasts } from "./toast";
import { libraryPanel } from "./views/library";
import { soundView } from "./views/sound-view";
import { soundsPanel } from "./views/sounds";
import { transportBar } from "./views/transport";
import { unitsPanel } from "./views/units";
import { Viewport } from "./viewport";

/** Mount the page: the studio, then the other `rooms` (each in the nav); returns the rooms. */
export function mountApp(root: HTMLElement, studio: Studio, toasts: Toasts, rooms: readonly RoomSpec[] = []): Rooms {
  const viewport = new Viewport();
  const dropOverlay = h("div", { class: "drop-overlay", hidden: true, "aria-hidden": "true" }, h("div", {}, "Drop audio files to add them"));
  const header = h(
    "header",
    { class: "top" },
    h("h1", { class: "brand" }, "residue"),
    h("span", { class: "tagline muted" }, "split loops into units, swap their sounds, keep what you like"),
    h("button", { class: "link small", "aria-label": "Keyboard shortcuts", "data-testid": "shortcuts-button", onclick: () => (help.hidden = !help.hidden) }, "Keys"),
  );
  const help = h(
    "div",
    { class: "help panel", hidden: true, role: "note" },
    h("p", {}, "Space play/stop · 1–9 solo a unit (again to unsolo) · M mute the selected unit · A switch original/edit · Z undo · Y or Shift+Z redo · Esc cancel a swap"),
  );
  const main = h(
    "main",
    { class: "layout" },
    h("div", { class: "side" }, soundsPanel(studio), libraryPanel(studio)),
    h("div", { class: "work" }, soundView(studio, viewport), unitsPanel(studio, viewport)),
  );
  const transport = transportBar(studio);
  const nav = new Rooms([{ id: "studio", label: "Studio", elements: [main, transport], onHide: () => {
    studio.stop();
    help.hidden = true;
  } }, ...rooms]);
  header.insertBefore(nav.nav, header.children[1] ?? null);
  root.replaceChildren(header, help, main, transport, ...rooms.flatMap((r) => r.elements), toasts.element, dropOverlay);

  // the AudioContext may only start from a gesture: resume it on the first one
  const warm = (): void => {
    studio.resumeAudio();
    window.removeEventListener("pointerdown", warm, { capture: true });
    window.removeEventListener("keydown", warm, { capture: true });
  };
  window.addEventListener("pointerdown", warm, { capture: true });
  window.addEventListener("keydown", warm, { capture: true });

  window.addEventListener("keydown", (e) => {
    if (nav.active === "studio") onKey(e, studio);
  });

  // files dropped anywhere
  let depth = 0;
  const hasFiles = (e: DragEvent): boolean => Array.from(e.dataTransfer?.types ?? []).includes("Files");
  window.addEventListener("dragenter", (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth++;
    dropOverlay.hidden = false;
  });
  window.addEventListener("dragover", (e) => {
    if (hasFiles(e)) e.preventDefault();
  });
  window.addEventListener("dragleave", (e) => {
    if (!hasFiles(e)) return;
    depth = Math.max(0, depth - 1);
    if (depth === 0) dropOverlay.hidden = true;
  });
  window.addEventListener("drop", (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth = 0;
    dropOverlay.hidden = true;
    const files = Array.from(e.dataTransfer?.files ?? []);
    if (files.length === 0) toasts.show("Nothing to add: drop audio files.", "error");
    for (const file of files) void studio.upload(file);
  });
  return nav;
}

function onKey(e: KeyboardEvent, studio: Studio): void {
  const target = e.target;
  const typing =
    target instanceof HTMLInputElement && !["range", "checkbox", "button"].includes(target.type)
      ? true
      : target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement || (target instanceof HTMLElement && target.isContentEditable);
  if (e.key === "Escape") {
    studio.cancelPick();
    return;
  }
  if (typing) return;
  const mod = e.ctrlKey || e.metaKey;
  const key = e.key.toLowerCase();
  if (mod && key === "z") {
    e.preventDefault();
    if (e.shiftKey) studio.redo();
    else studio.undo();
    return;
  }
  if (mod && key === "y") {
    e.preventDefault();
    studio.redo();
    return;
  }
  if (mod || e.altKey) return;
  const now = performance.now();
  if (e.key === " ") {
    // a focused button would also "click" on space: the shortcut wins
    e.preventDefault();
    studio.togglePlay(now);
  } else if (/^[1-9]$/.test(e.key)) {
    e.preventDefault();
    studio.toggleSolo(Number(e.key) - 1, now);
  } else if (key === "m") {
    const unit = studio.state.solo ?? studio.state.selectedUnit;
    if (unit !== null) studio.toggleMute(unit);
  } else if (key === "a") {
    studio.toggleAB(now);
  } else if (key === "z") {
    if (e.shiftKey) studio.redo();
    else studio.undo();
  } else if (key === "y") {
    studio.redo();
  }
}
