/**
 * The library panel: keep the selected unit, search, filter by tag, find similar, preview, rename,
 * delete, and drag an item onto a unit to give it that sound.
 */
import type { LibraryItem } from "@shared/protocol";
import { float32View } from "../../dsp/aligned";
import { h, icon, ICONS, replaceChildren } from "../dom";
import { dragHandle } from "../drag";
import type { Studio } from "../studio";
import { drawCurve } from "./curves";

/** Split typed tags: commas or spaces; each tag without spaces or commas, at most 40 characters. */
export function parseTags(text: string): string[] {
  const tags = text
    .split(/[\s,]+/)
    .map((t) => t.trim().slice(0, 40))
    .filter((t) => t.length > 0);
  return [...new Set(tags)].slice(0, 16);
}

export function libraryPanel(studio: Studio): HTMLElement {
  // --- keep ------------------------------------------------------------------------------------
  const name = h("input", { type: "text", maxLength: 120, placeholder: "name", "aria-label": "Name for the library", "data-testid": "save-name" });
  const tags = h("input", { type: "text", placeholder: "tags, e.g. bass warm", "aria-label": "Tags (separated by spaces or commas)", "data-testid": "save-tags" });
  const save = h("button", { class: "button primary", type: "submit", "data-testid": "save-button" }, "Keep");
  const keepTitle = h("span", { class: "small muted" });
  const keep = h(
    "form",
    {
      class: "keep-form",
      onsubmit: (e: SubmitEvent) => {
        e.preventDefault();
        const unit = studio.state.selectedUnit;
        if (unit === null) return;
        const n = name.value.trim() || defaultName(studio, unit);
        save.disabled = true;
        void studio.saveUnit(unit, n, parseTags(tags.value)).then((ok) => {
          save.disabled = false;
          if (ok) {
            name.value = "";
            tags.value = "";
          }
        });
      },
    },
    keepTitle,
    h("div", { class: "keep-fields" }, name, tags, save),
  );

  // --- search ----------------------------------------------------------------------------------
  const search = h("input", { type: "search", placeholder: "Search by name", "aria-label": "Search the library by name", "data-testid": "library-search", oninput: () => studio.search(search.value) });
  const tagFilter = h("select", { "aria-label": "Filter by tag", "data-testid": "library-tag", onchange: () => studio.filterTag(tagFilter.value || null) });
  const similarOfUnit = h(
    "button",
    {
      class: "button small",
      "data-testid": "similar-to-unit",
      title: "Library sounds closest to the selected unit",
      onclick: () => {
        const unit = studio.state.selectedUnit;
        const at = unit === null ? null : studio.at(unit);
        if (at) void studio.findSimilar({ kind: "unit", decomposition_id: at.decompositionId, unit: at.unit }, studio.label(at));
      },
    },
    icon(ICONS.similar),
    h("span", {}, "Like selected unit"),
  );
  const similarBanner = h("div", { class: "similar-banner", hidden: true });
  const list = h("ul", { class: "library-list", "aria-label": "Library", "data-testid": "library-list" });

  const renderItem = (item: LibraryItem): HTMLElement => {
    const curve = h("canvas", { class: "lib-curve", "aria-hidden": "true" });
    const handle = h("button", { class: "grip", "aria-label": `Drag ${item.name} onto a unit to give it this sound`, "data-testid": "library-handle" }, icon(ICONS.grip));
    dragHandle(handle, studio, () => ({ kind: "library", item }), () => item.name);
    const nameEl = h("span", { class: "lib-name" }, item.name);
    const meta = h(
      "span",
      { class: "lib-meta" },
      item.tags.map((t) => h("span", { class: "tag" }, t)),
      item.distance !== null && item.distance !== undefined ? h("span", { class: "distance" }, `distance ${item.distance.toFixed(2)}`) : null,
      h("span", { class: "provenance", title: `from unit ${item.provenance.unit + 1} of ${item.provenance.sound_name}, ${item.provenance.n_components} units` }, `from ${item.provenance.sound_name}`),
    );
    const previewing = studio.state.playing?.kind === "preview" && studio.state.playing.componentId === item.component_id;
    const preview = h(
      "button",
      {
        class: `icon-button${previewing ? " active" : ""}`,
        "aria-label": previewing ? `Stop preview of ${item.name}` : `Preview ${item.name} as the selected unit`,
        "data-testid": "library-preview",
        onclick: () => (previewing ? studio.stop() : studio.preview(item, performance.now())),
      },
      icon(previewing ? ICONS.stop : ICONS.play),
    );
    const similar = h("button", { class: "icon-button", "aria-label": `Find sounds like ${item.name}`, "data-testid": "library-similar", onclick: () => void studio.findSimilar({ kind: "library", component_id: item.component_id }, item.name) }, icon(ICONS.similar));
    const rename = h("button", { class: "icon-button", "aria-label": `Rename or retag ${item.name}`, "data-testid": "library-rename", onclick: () => startEdit() }, icon(ICONS.edit));
    const del = h("button", { class: "icon-button danger", "aria-label": `Delete ${item.name}`, "data-testid": "library-delete", onclick: () => confirmDelete() }, icon(ICONS.trash));
    const body = h("div", { class: "lib-body" }, nameEl, meta);
    const li = h(
      "li",
      { class: "library-item", "data-testid": "library-item", "data-component-id": item.component_id, "data-name": item.name },
      handle,
      curve,
      body,
      h("div", { class: "lib-buttons" }, preview, similar, rename, del),
    );
    const startEdit = (): void => {
      const n = h("input", { type: "text", value: item.name, maxLength: 120, "aria-label": "New name", "data-testid": "rename-input" });
      const t = h("input", { type: "text", value: item.tags.join(" "), "aria-label": "Tags", "data-testid": "retag-input" });
      const form = h(
        "form",
        {
          class: "inline-edit",
          onsubmit: (e: SubmitEvent) => {
            e.preventDefault();
            const newName = n.value.trim();
            const newTags = parseTags(t.value);
            if (newName && newName !== item.name) void studio.rename(item, newName);
            if (newTags.join(" ") !== item.tags.join(" ")) void studio.retag(item, newTags);
            replaceChildren(body, nameEl, meta);
          },
        },
        n,
        t,
        h("button", { class: "button small", type: "submit", "data-testid": "rename-save" }, "Save"),
        h("button", { class: "button small", type: "button", onclick: () => replaceChildren(body, nameEl, meta) }, "Cancel"),
      );
      replaceChildren(body, form);
      n.focus();
    };
    const confirmDelete = (): void => {
      replaceChildren(
        body,
        h(
          "div",
          { class: "inline-edit" },
          h("span", {}, `Delete “${item.name}”?`),
          h("button", { class: "button small danger", "data-testid": "confirm-delete", onclick: () => void studio.deleteItem(item) }, "Delete"),
          h("button", { class: "button small", onclick: () => replaceChildren(body, nameEl, meta) }, "Keep it"),
        ),
      );
    };
    requestAnimationFrame(() => drawCurve(curve, float32View(item.curve), "#5ad1c4"));
    return li;
  };

  interface Rendered {
    item: LibraryItem;
    previewing: boolean;
    el: HTMLElement;
  }
  let rendered = new Map<string, Rendered>();

  studio.store.watch(["library", "playing"], (s) => {
    const lib = s.library;
    const allTags = [...new Set(lib.all.flatMap((i) => i.tags))].sort();
    const current = lib.tag ?? "";
    replaceChildren(tagFilter, h("option", { value: "" }, "all tags"), allTags.map((t) => h("option", { value: t }, t)));
    tagFilter.value = current;
    similarBanner.hidden = lib.similarTo === null;
    if (lib.similarTo) {
      replaceChildren(similarBanner, h("span", {}, `Closest to ${lib.similarTo}`), h("button", { class: "button small", "data-testid": "clear-similar", onclick: () => studio.clearSimilar() }, "Show all"));
    }
    if (lib.shown.length === 0) {
      rendered.clear();
      replaceChildren(list, h("li", { class: "empty muted" }, lib.all.length === 0 ? "Nothing kept yet. Select a unit you like and press Keep." : "Nothing matches."));
      return;
    }
    // keyed: an item that did not change keeps its element (and any rename or delete in progress)
    const previewId = s.playing?.kind === "preview" ? s.playing.componentId : null;
    const next = new Map<string, Rendered>();
    const els = lib.shown.map((item) => {
      const previewing = item.component_id === previewId;
      const old = rendered.get(item.component_id);
      const r = old && old.item === item && old.previewing === previewing ? old : { item, previewing, el: renderItem(item) };
      next.set(item.component_id, r);
      return r.el;
    });
    rendered = next;
    if (els.length !== list.children.length || els.some((el, i) => list.children[i] !== el)) replaceChildren(list, els);
  });
  studio.store.watch(["selectedUnit", "decompositions", "currentBySound", "soundId"], (s) => {
    const d = studio.current();
    const unit = s.selectedUnit;
    const ok = d !== null && unit !== null;
    save.disabled = !ok;
    similarOfUnit.disabled = !ok;
    keepTitle.textContent = ok ? `Keep unit ${unit + 1} of ${d.soundName}` : "Select a unit to keep it";
    name.placeholder = ok ? defaultName(studio, unit) : "name";
  });

  return h(
    "section",
    { class: "panel library-panel", "aria-labelledby": "library-title" },
    h("div", { class: "panel-head" }, h("h2", { id: "library-title" }, "Library")),
    keep,
    h("div", { class: "toolbar" }, search, tagFilter, similarOfUnit),
    similarBanner,
    list,
  );
}

function defaultName(studio: Studio, unit: number): string {
  const d = studio.current();
  const base = d ? d.soundName.replace(/\.[^.]+$/, "") : "sound";
  return `${base} unit ${unit + 1}`;
}
