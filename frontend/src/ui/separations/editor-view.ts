/**
 * The custom grid editor's DOM: sweeps (backend, demucs models, target stems, values per
 * parameter), a live cell count against the server's limit, the reasons a grid cannot run, grid
 * files in and out. The logic is in `editor.ts`; this file only draws it and forwards edits.
 *
 * Everything is a native control (select, checkbox, text field, button), so Tab, Space and
 * Enter work as everywhere. The structure is redrawn when it changes (a sweep added, a stem
 * ticked) with the focus put back on the same control; typing in a value field only refreshes
 * messages, chips and counts, so the caret never jumps.
 */
import type { GridModelInfo, SeparationCatalog } from "@shared/protocol";
import { downloadBlob, h, icon, ICONS, replaceChildren } from "../dom";
import * as editor from "./editor";
import type { SeparationsRoom, SeparationsState } from "./room";

interface ParamRefs {
  readonly input: HTMLInputElement;
  readonly chips: HTMLElement;
  readonly error: HTMLElement;
}

interface SweepRefs {
  readonly box: HTMLElement;
  readonly cells: HTMLElement;
  readonly errors: HTMLElement;
  readonly params: Map<string, ParamRefs>;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** Everything but the typed values: when it changes, the sweeps are drawn again. */
function structure(s: SeparationsState): string {
  return JSON.stringify([s.catalog?.request_id ?? null, s.draft.sweeps.map((w) => [w.backend, w.stems, w.models])]);
}

export function gridEditorView(room: SeparationsRoom): HTMLElement {
  const cells = h("span", { class: "sep-cells", "data-testid": "sep-cells", "aria-live": "polite" });
  const addButton = h("button", { class: "button small", "data-testid": "sep-add-sweep", "data-key": "add", onclick: () => room.edit(editor.addSweep) }, "Add sweep");
  const exportButton = h(
    "button",
    {
      class: "button small",
      "data-testid": "sep-export",
      title: "Save as a grid file (residue separate SONG --grid FILE)",
      onclick: () => {
        const text = room.gridFile();
        if (text) downloadBlob(new Blob([text], { type: "application/json" }), "residue-grid.json");
      },
    },
    icon(ICONS.download),
    "Grid file",
  );
  const importInput = h("input", {
    type: "file",
    accept: ".json,application/json",
    class: "visually-hidden",
    "data-testid": "sep-import",
    onchange: () => {
      const file = importInput.files?.[0];
      importInput.value = "";
      if (file) void file.text().then((text) => room.importGridFile(text));
    },
  });
  const importLabel = h("label", { class: "button small", title: "Load a grid file" }, importInput, icon(ICONS.upload), "Load");
  const sweepsBox = h("div", { class: "sep-sweeps", "data-testid": "sep-sweeps" });
  const hint = h("p", { class: "muted small sep-editor-hint" });
  const gridErrors = h("div", { class: "sep-grid-error", role: "alert", "data-testid": "sep-grid-error" });
  const root = h(
    "section",
    { class: "sep-editor panel", "aria-label": "Custom grid", "data-testid": "sep-editor", hidden: true },
    h("div", { class: "sep-editor-head" }, h("h2", {}, "Custom grid"), cells, addButton, exportButton, importLabel),
    hint,
    sweepsBox,
    gridErrors,
  );

  let refs: SweepRefs[] = [];
  let drawn = "";

  const modelRow = (i: number, m: GridModelInfo, ticked: boolean): HTMLElement => {
    const key = `s${i}-model-${m.name}`;
    const reason = m.available ? null : editor.unavailableText(m);
    return h(
      "label",
      { class: `sep-model${m.available ? "" : " sep-unavailable"}` },
      h("input", {
        type: "checkbox",
        checked: ticked,
        disabled: !m.available && !ticked,
        "data-testid": "sep-model",
        "data-model": m.name,
        "data-key": key,
        "aria-describedby": reason ? `${key}-why` : null,
        onchange: (e: Event) => room.edit((d) => editor.toggleModel(d, i, m.name, (e.target as HTMLInputElement).checked)),
      }),
      h("span", {}, m.name),
      reason ? h("span", { class: "muted small sep-model-reason", id: `${key}-why`, "data-testid": "sep-model-reason" }, reason) : null,
    );
  };

  const sweepView = (i: number, sweep: editor.SweepDraft, catalog: SeparationCatalog): { el: HTMLElement; refs: SweepRefs } => {
    const backend = editor.backendOf(catalog, sweep.backend);
    const anyModel = catalog.models.some((m) => m.available);
    const backendSelect = h(
      "select",
      {
        "aria-label": `Sweep ${i + 1} backend`,
        "data-testid": "sep-sweep-backend",
        "data-key": `s${i}-backend`,
        onchange: () => room.edit((d, c) => editor.setBackend(d, i, backendSelect.value, c)),
      },
      catalog.backends.map((b) =>
        h("option", { value: b.name, selected: b.name === sweep.backend }, b.kind === "model" ? `${b.name} (models${anyModel ? "" : ": none available"})` : b.name),
      ),
      backend ? null : h("option", { value: sweep.backend, selected: true, disabled: true }, `${sweep.backend} (unknown)`),
    );
    const sweepCells = h("span", { class: "muted small", "data-testid": "sep-sweep-cells" });
    const remove = h(
      "button",
      { class: "button small", "aria-label": `Remove sweep ${i + 1}`, "data-testid": "sep-sweep-remove", "data-key": `s${i}-remove`, onclick: () => room.edit((d) => editor.removeSweep(d, i)) },
      icon(ICONS.close),
    );
    // stems the ticked models were built for; others are "wrong target" separations (allowed)
    const native = new Set(backend?.kind === "model" ? catalog.models.filter((m) => sweep.models.includes(m.name)).flatMap((m) => m.stems) : []);
    const stems = h(
      "div",
      { class: "sep-stems", role: "group", "aria-label": `Sweep ${i + 1} target stems` },
      catalog.stems.map((stem) => {
        const wrong = native.size > 0 && !native.has(stem);
        return h(
          "label",
          { class: `sep-stem-chip${wrong ? " sep-wrong" : ""}`, title: wrong ? "not a stem the model makes: a wrong-target separation" : null },
          h("input", {
            type: "checkbox",
            checked: sweep.stems.includes(stem),
            "data-testid": "sep-stem",
            "data-stem": stem,
            "data-key": `s${i}-stem-${stem}`,
            onchange: (e: Event) => room.edit((d) => editor.toggleStem(d, i, stem, (e.target as HTMLInputElement).checked)),
          }),
          h("span", {}, stem),
        );
      }),
    );
    const params = new Map<string, ParamRefs>();
    const fields = (backend ? editor.editableParams(backend) : []).map((spec) => {
      const key = `s${i}-param-${spec.name}`;
      const error = h("span", { class: "sep-param-error", id: `${key}-error`, "data-testid": "sep-param-error" });
      const chips = h("span", { class: "sep-chips", "aria-hidden": "true" });
      const input = h("input", {
        type: "text",
        inputMode: spec.kind === "choice" ? "text" : "decimal",
        autocomplete: "off",
        spellcheck: false,
        id: key,
        value: sweep.params[spec.name] ?? "",
        placeholder: `default ${editor.defaultText(spec)}`,
        "aria-label": `Sweep ${i + 1} ${spec.name}: values to try, separated by commas`,
        "aria-describedby": `${key}-help ${key}-error`,
        "data-testid": "sep-param",
        "data-param": spec.name,
        "data-key": key,
        oninput: () => room.edit((d) => editor.setParam(d, i, spec.name, input.value)),
      });
      params.set(spec.name, { input, chips, error });
      return h(
        "div",
        { class: "sep-param" },
        h("label", { class: "sep-param-name", for: key }, spec.name),
        input,
        chips,
        h("span", { class: "muted small", id: `${key}-help` }, `${editor.accepts(spec)}${spec.doc ? `: ${spec.doc}` : ""}`),
        error,
      );
    });
    const errors = h("div", { class: "sep-sweep-error", role: "alert", "data-testid": "sep-sweep-error" });
    const box = h(
      "fieldset",
      { class: "sep-sweep", "data-testid": "sep-sweep", "data-index": i },
      h("legend", {}, `Sweep ${i + 1}`),
      h("div", { class: "sep-sweep-head" }, backendSelect, sweepCells, remove),
      backend?.kind === "model"
        ? h("div", { class: "sep-models", role: "group", "aria-label": `Sweep ${i + 1} models`, "data-testid": "sep-sweep-models" }, catalog.models.map((m) => modelRow(i, m, sweep.models.includes(m.name))))
        : null,
      stems,
      h("div", { class: "sep-params" }, fields),
      errors,
    );
    return { el: box, refs: { box, cells: sweepCells, errors, params } };
  };

  /** Messages, chips and counts (cheap; every keystroke). */
  const refresh = (s: SeparationsState): void => {
    const catalog = s.catalog;
    const check = catalog ? editor.checkGrid(s.draft, catalog) : null;
    if (!catalog || !check) {
      cells.textContent = "";
      return;
    }
    const over = check.cells > catalog.max_cells;
    cells.textContent = `${plural(check.cells, "cell")} (limit ${catalog.max_cells})`;
    cells.classList.toggle("sep-over", over);
    exportButton.disabled = check.wire === null;
    addButton.disabled = s.draft.sweeps.length >= catalog.max_sweeps;
    refs.forEach((r, i) => {
      const c = check.sweeps[i];
      const sweep = s.draft.sweeps[i];
      if (!c || !sweep) return;
      r.cells.textContent = plural(c.cells, "cell");
      const serverSaid = s.gridError && s.gridError.sweep === i ? [s.gridError.message] : [];
      replaceChildren(r.errors, [...c.errors, ...serverSaid].map((e) => h("div", {}, e)));
      r.box.classList.toggle("sep-bad", c.sweep === null || serverSaid.length > 0);
      const backend = editor.backendOf(catalog, sweep.backend);
      for (const [name, p] of r.params) {
        const text = sweep.params[name] ?? "";
        if (p.input.value !== text && document.activeElement !== p.input) p.input.value = text;
        const error = c.paramErrors[name] ?? null;
        p.error.textContent = error ?? "";
        p.input.setAttribute("aria-invalid", String(error !== null));
        const spec = backend?.params.find((q) => q.name === name);
        const parsed = spec ? editor.parseValues(text, spec, catalog.max_values).values : [];
        replaceChildren(p.chips, parsed.map((v) => h("span", { class: "sep-chip", "data-testid": "sep-chip" }, editor.formatValues([v]))));
      }
    });
    const grid = check.errors.filter((e) => !e.startsWith("sweep "));
    const serverGrid = s.gridError && (s.gridError.sweep === null || !refs[s.gridError.sweep]) ? [s.gridError.message] : [];
    replaceChildren(gridErrors, [...grid, ...serverGrid].map((e) => h("div", {}, e)));
  };

  /** Draw the sweeps again, and put the focus back where it was. */
  const rebuild = (s: SeparationsState): void => {
    const active = document.activeElement;
    const key = active instanceof HTMLElement && root.contains(active) ? (active.dataset["key"] ?? null) : null;
    const caret = active instanceof HTMLInputElement && active.type === "text" ? active.selectionStart : null;
    const catalog = s.catalog;
    refs = [];
    if (!catalog) {
      replaceChildren(sweepsBox, h("p", { class: "muted" }, "Loading the backends and models from the server…"));
    } else {
      const built = s.draft.sweeps.map((w, i) => sweepView(i, w, catalog));
      refs = built.map((b) => b.refs);
      replaceChildren(sweepsBox, built.map((b) => b.el));
    }
    hint.textContent =
      s.draft.sweeps.length === 0
        ? "No sweeps yet: Add sweep, or choose Quick or Deep above and press Edit preset to start from it."
        : "Each sweep runs every combination of its values for each ticked stem. Any backend may target any stem.";
    if (key) {
      const next = root.querySelector<HTMLElement>(`[data-key="${CSS.escape(key)}"]`) ?? (key.endsWith("-remove") ? addButton : null);
      next?.focus();
      if (next instanceof HTMLInputElement && next.type === "text" && caret !== null) next.setSelectionRange(caret, caret);
    }
  };

  room.store.watch(["draft", "catalog", "gridError", "mode"], (s) => {
    root.hidden = s.mode !== "custom";
    const now = structure(s);
    if (now !== drawn) {
      drawn = now;
      rebuild(s);
    }
    refresh(s);
  });
  return root;
}
