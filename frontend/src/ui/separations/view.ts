/**
 * The separations room's page: a sound and a grid (a preset, or the custom grid editor of
 * `editor-view.ts`; "Edit preset" copies a preset into it), Run (progress, cancel), then a grid of cards
 * (rows = stems, columns = backend settings) filled in as cells finish. Each card plays its
 * estimate or residual (looped), A/Bs against the mix, keeps the result as a sound or rejects it.
 * Keys: arrows move, Space plays, A switches to the mix and back, K keeps, X rejects.
 * At phone width the grid is one column.
 */
import "./separations.css";
import type { GridCell } from "@shared/protocol";
import { h, icon, ICONS, replaceChildren } from "../dom";
import { paintThumbnail, thumbnailImage } from "../views/thumbnail";
import { gridEditorView } from "./editor-view";
import { columnOf, HINT_LABELS, shown, move, type CardState, type HintKey, type Move, type SortKey } from "./grid";
import type { GridMode, SeparationsRoom } from "./room";

/** Pictures made once per cell frame (the grid is redrawn on every change). */
const THUMBS = new WeakMap<GridCell, ImageData | null>();

function thumbnailOf(cell: GridCell): ImageData | null {
  if (!THUMBS.has(cell)) THUMBS.set(cell, thumbnailImage(cell));
  return THUMBS.get(cell) ?? null;
}

const SORTS: readonly [SortKey, string][] = [
  ["grid", "grid order"],
  ["bleed", "least bleed"],
  ["loudness_lufs", "loudest"],
  ["flatness", "least noisy"],
  ["transients_per_s", "most transients"],
];

function hintText(card: CardState): string {
  const hints = card.result?.hints;
  if (!hints) return "";
  const keys: HintKey[] = ["loudness_lufs", "bleed", "flatness"];
  return keys
    .map((k) => `${HINT_LABELS[k]} ${k === "loudness_lufs" ? `${hints[k].toFixed(1)} ${hints.loudness_method === "lufs" ? "LUFS" : "dB"}` : hints[k].toFixed(2)}`)
    .join(" · ");
}

export function separationsView(room: SeparationsRoom): HTMLElement {
  const soundSelect = h("select", { "aria-label": "Sound to separate", "data-testid": "sep-sound", onchange: () => room.setSound(soundSelect.value) });
  const MODES: Readonly<Record<string, GridMode>> = { quick: "quick", deep: "deep", custom: "custom" };
  const presetSelect = h(
    "select",
    { "aria-label": "Grid preset", "data-testid": "sep-preset", onchange: () => room.setMode(MODES[presetSelect.value] ?? "quick") },
    h("option", { value: "quick" }, "Quick (no models)"),
    h("option", { value: "deep" }, "Deep (demucs models)"),
    h("option", { value: "custom" }, "Custom grid"),
  );
  const editPreset = h(
    "button",
    {
      class: "small",
      "data-testid": "sep-edit-preset",
      title: "Copy this preset's sweeps into the custom grid editor",
      onclick: () => {
        if (room.editPreset()) root.querySelector<HTMLElement>('[data-testid="sep-editor"] select, [data-testid="sep-add-sweep"]')?.focus();
      },
    },
    "Edit preset",
  );
  const runButton = h("button", { class: "button primary", "data-testid": "sep-run", onclick: () => void room.run() }, "Run");
  const cancelButton = h("button", { class: "button", "data-testid": "sep-cancel", onclick: () => room.cancel() }, "Cancel");
  const progress = h("progress", { max: 1, value: 0, "aria-label": "Grid progress", "data-testid": "sep-progress" });
  const stage = h("span", { class: "muted small", "aria-live": "polite" });
  const sortSelect = h(
    "select",
    { "aria-label": "Sort cards by", "data-testid": "sep-sort", onchange: () => room.setSort(SORTS.find(([k]) => k === sortSelect.value)?.[0] ?? "grid") },
    SORTS.map(([k, label]) => h("option", { value: k }, label)),
  );
  const loopBox = h("input", { type: "checkbox", checked: true, "data-testid": "sep-loop", onchange: () => room.setLoop(loopBox.checked) });
  const mixButton = h("button", { class: "button", "data-testid": "sep-mix", "aria-label": "Play the mix (A/B)", onclick: () => room.toggleAB() }, "A/B mix");
  const grid = h("div", { class: "sep-grid", role: "grid", "aria-label": "Separations", "data-testid": "sep-grid" });
  const empty = h("p", { class: "muted sep-empty" }, "Choose a sound and a grid (a preset, or your own: Custom grid), then Run: each separation appears here as it finishes.");

  const controls = h(
    "div",
    { class: "sep-controls panel" },
    h("label", { class: "field" }, h("span", {}, "Sound"), soundSelect),
    h("label", { class: "field" }, h("span", {}, "Grid"), presetSelect),
    editPreset,
    runButton,
    cancelButton,
    h("span", { class: "sep-progress" }, progress, stage),
    h("label", { class: "field" }, h("span", {}, "Sort"), sortSelect),
    h("label", { class: "field check" }, loopBox, h("span", {}, "Loop")),
    mixButton,
  );
  const root = h("section", { class: "sep-room", "aria-label": "Separations", "data-testid": "sep-room", hidden: true }, controls, gridEditorView(room), empty, grid);

  room.store.watch(["mode", "catalog", "preset"], (s) => {
    presetSelect.value = s.mode;
    editPreset.hidden = s.mode === "custom";
    editPreset.disabled = !s.catalog?.presets.some((p) => p.name === s.preset);
  });

  const fillSounds = (): void => {
    const current = room.sound()?.sound_id ?? "";
    replaceChildren(soundSelect, room.sounds.map((s) => h("option", { value: s.sound_id, selected: s.sound_id === current }, s.name)));
  };
  room.studio.store.watch(["sounds"], fillSounds);
  room.store.watch(["soundId"], fillSounds);

  room.store.watch(["job"], (s) => {
    runButton.disabled = s.job !== null;
    cancelButton.disabled = s.job === null;
    progress.value = s.job?.fraction ?? 0;
    progress.hidden = s.job === null;
    stage.textContent = s.job ? s.job.stage : "";
  });

  const card = (id: string, c: CardState, focused: boolean, playing: string | null): HTMLElement => {
    const done = c.status === "done";
    const name = h("input", { type: "text", class: "sep-name", "aria-label": "Name to keep as", placeholder: "name", "data-testid": "sep-keep-name", maxLength: 120 });
    const classes = ["sep-card", `sep-${c.status}`, c.rejected ? "sep-rejected" : "", focused ? "sep-focus" : ""].filter(Boolean).join(" ");
    const btn = (label: string, testid: string, onclick: () => void, child: Node | string, disabled = !done, pressed: boolean | null = null): HTMLButtonElement =>
      h("button", { class: "button small", "aria-label": label, "data-testid": testid, disabled, "aria-pressed": pressed === null ? null : String(pressed), onclick }, child);
    const thumb = h("canvas", { class: "sep-thumb", "data-testid": "sep-thumb", "aria-hidden": "true" });
    paintThumbnail(thumb, c.result ? thumbnailOf(c.result) : null);
    const el = h(
      "div",
      {
        class: classes,
        role: "gridcell",
        tabindex: focused ? 0 : -1,
        "data-testid": "sep-card",
        "data-cell": id,
        "data-status": c.status,
        "aria-label": `${c.info.stem}, ${columnOf(c.info)}, ${c.status}${c.rejected ? ", rejected" : ""}`,
        onfocus: () => {
          if (room.state.focus !== id) room.focus(id);
        },
      },
      h("div", { class: "sep-card-head" }, h("strong", {}, c.info.stem), h("span", { class: "muted small" }, columnOf(c.info))),
      thumb,
      h("div", { class: "sep-hints small muted" }, c.status === "failed" ? (c.result?.error ?? "failed") : c.status === "pending" ? "running…" : hintText(c)),
      h(
        "div",
        { class: "sep-actions" },
        btn("Play", "sep-play", () => room.play(id, "estimate"), icon(playing === "estimate" ? ICONS.stop : ICONS.play), !done, playing === "estimate"),
        btn("Play the residual (the mix without it)", "sep-play-residual", () => room.play(id, "residual"), "rest", !done, playing === "residual"),
        btn("A/B against the mix", "sep-ab", () => room.play(id, playing === "mix" ? "estimate" : "mix"), "A/B", !done, playing === "mix"),
        name,
        btn("Keep as a sound", "sep-keep", () => void room.keep(id, name.value.trim() || null), "Keep", !done || c.rejected),
        btn(c.rejected ? "Restore" : "Reject", "sep-reject", () => room.reject(id), c.rejected ? "Restore" : "Reject", !done),
        c.status === "pending" ? btn("Cancel this cell", "sep-cancel-cell", () => room.cancelCell(id), icon(ICONS.close), false) : null,
      ),
    );
    return el;
  };

  const render = (): void => {
    const s = room.state;
    empty.hidden = s.grid !== null;
    const hadFocus = grid.contains(document.activeElement);
    const l = shown(s.layout, s.cards, s.sort);
    grid.style.setProperty("--sep-cols", String(Math.max(1, l.columns.length)));
    const head = h("div", { class: "sep-row sep-head", role: "row" }, h("span", { class: "sep-stem" }), l.columns.map((c) => h("span", { class: "sep-col muted small", role: "columnheader" }, s.sort === "grid" ? c : "")));
    const rows = l.rows.map((stem, r) =>
      h(
        "div",
        { class: "sep-row", role: "row" },
        h("span", { class: "sep-stem", role: "rowheader" }, stem),
        (l.cells[r] ?? []).map((id) => {
          const c = id === null ? undefined : s.cards.get(id);
          if (id === null || !c) return h("div", { class: "sep-hole", "aria-hidden": "true" });
          const playing = s.playing && s.playing.cellId === id ? s.playing.what : null;
          return card(id, c, s.focus === id, playing);
        }),
      ),
    );
    replaceChildren(grid, s.grid ? head : null, rows);
    if (hadFocus && s.focus) grid.querySelector<HTMLElement>(`[data-cell="${CSS.escape(s.focus)}"]`)?.focus();
  };
  room.store.watch(["layout", "cards", "sort", "focus", "playing", "grid"], render);

  const ARROWS: Readonly<Record<string, Move>> = { ArrowUp: "up", ArrowDown: "down", ArrowLeft: "left", ArrowRight: "right" };
  window.addEventListener("keydown", (e) => {
    if (root.hidden || e.ctrlKey || e.metaKey || e.altKey) return;
    const t = e.target;
    // form controls keep their own keys (Space ticks a stem, arrows move in a select)
    if (t instanceof HTMLInputElement || t instanceof HTMLSelectElement || t instanceof HTMLTextAreaElement) return;
    if (t instanceof Element && t.closest(".sep-editor")) return;
    const s = room.state;
    const dir = ARROWS[e.key];
    if (dir) {
      e.preventDefault();
      const next = move(shown(s.layout, s.cards, s.sort), s.focus, dir);
      room.focus(next);
      if (next) grid.querySelector<HTMLElement>(`[data-cell="${CSS.escape(next)}"]`)?.focus();
      return;
    }
    const key = e.key.toLowerCase();
    if (e.key === " ") {
      e.preventDefault();
      if (s.playing) room.stop();
      else if (s.focus) room.play(s.focus, "estimate", performance.now());
    } else if (key === "a") {
      room.toggleAB();
    } else if (key === "k" && s.focus) {
      void room.keep(s.focus);
    } else if (key === "x" && s.focus) {
      room.reject(s.focus);
    } else if (e.key === "Escape") {
      room.stop();
    }
  });
  return root;
}
