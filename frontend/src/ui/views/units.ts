/**
 * The units panel: split the sound (K, progress, cancel), then one row per unit with its spectrum,
 * its activation on the sound's time axis and its controls; remix-all, export and the units of other
 * open sounds to swap with.
 */
import { credentials } from "../../net/auth";
import { float32View } from "../../dsp/aligned";
import { h, icon, ICONS, replaceChildren } from "../dom";
import { dragHandle, dropTarget } from "../drag";
import { requestToMidi } from "../midi/events";
import { MAX_GAIN_DB, STRETCHES, type UnitAddress } from "../model/edits";
import { MAX_K, type OpenDecomposition, type Studio } from "../studio";
import type { Viewport } from "../viewport";
import { drawActivation, drawCurve, unitColor } from "./curves";

const GAIN_MIN = -24;

export function unitsPanel(studio: Studio, viewport: Viewport): HTMLElement {
  // --- split controls --------------------------------------------------------------------------
  const kValue = h("output", { class: "k-value", "data-testid": "k-value" });
  const k = h("input", {
    type: "range",
    min: 1,
    max: MAX_K,
    step: 1,
    value: studio.state.k,
    class: "k-slider",
    "aria-label": "Number of units",
    "data-testid": "k-slider",
    oninput: () => studio.setK(Number(k.value)),
  });
  const decompose = h("button", { class: "button primary", "data-testid": "decompose-button", onclick: () => void studio.decompose() }, "Split into units");
  const progress = h("progress", { max: 1, value: 0, class: "job-progress", "aria-label": "Splitting progress", "data-testid": "decompose-progress" });
  const stage = h("span", { class: "muted small job-stage" });
  const cancel = h("button", { class: "button small", "data-testid": "cancel-decompose", onclick: () => void studio.cancelDecompose() }, "Cancel");
  const jobRow = h("div", { class: "job-row", hidden: true }, progress, stage, cancel);

  // --- tools -----------------------------------------------------------------------------------
  const strategy = h(
    "select",
    { "aria-label": "How to pick library sounds", "data-testid": "remix-strategy" },
    h("option", { value: "nearest" }, "nearest"),
    h("option", { value: "random" }, "random"),
    h("option", { value: "weird" }, "weird"),
  );
  const remix = h(
    "button",
    { class: "button", "data-testid": "remix-all", title: "Give every unit a sound from the library, keeping the rhythm", onclick: () => void studio.remixAll(strategy.value as "nearest" | "random" | "weird") },
    "Remix all",
  );
  const exportEdit = h(
    "button",
    { class: "button", "data-testid": "export-edit", title: "Download the current edit as a WAV", onclick: () => void studio.exportEdit() },
    icon(ICONS.download),
    h("span", {}, "Edit WAV"),
  );
  const exportZip = h("a", { class: "button", "data-testid": "export-zip", download: "", title: "Download every unit as WAVs in a zip", onclick: tokenDownload(studio) }, icon(ICONS.download), h("span", {}, "All units"));
  const tools = h("div", { class: "toolbar units-tools", hidden: true }, h("label", { class: "field" }, h("span", {}, "Remix"), strategy), remix, exportEdit, exportZip);

  const pickBanner = h("div", { class: "pick-banner", role: "status", hidden: true });
  const rows = h("div", { class: "unit-rows", "data-testid": "unit-rows" });
  const others = h("div", { class: "other-units" });
  const empty = h("p", { class: "muted empty" }, "Choose a sound, then split it into units.");

  // --- rows ------------------------------------------------------------------------------------
  interface Row {
    unit: number;
    el: HTMLElement;
    name: HTMLButtonElement;
    source: HTMLElement;
    curve: HTMLCanvasElement;
    lane: HTMLCanvasElement;
    play: HTMLButtonElement;
    solo: HTMLButtonElement;
    mute: HTMLButtonElement;
    gain: HTMLInputElement;
    gainOut: HTMLOutputElement;
    reverse: HTMLButtonElement;
    stretch: HTMLSelectElement;
    wav: HTMLAnchorElement;
  }
  let built: { id: string; rows: Row[] } | null = null;

  const buildRows = (d: OpenDecomposition): Row[] => {
    const did = d.frame.decomposition_id;
    return d.components.map((_, unit) => {
      const at: UnitAddress = { decompositionId: did, unit };
      const color = unitColor(unit);
      const handle = h("button", { class: "grip", "aria-label": `Move unit ${unit + 1}'s sound: drag it onto another unit to swap`, "data-testid": `unit-handle-${unit}` }, icon(ICONS.grip));
      dragHandle(handle, studio, () => ({ kind: "unit", at }), () => `unit ${unit + 1}`);
      const name = h("button", { class: "unit-name", style: `--unit-color:${color}`, "aria-label": `Select unit ${unit + 1}`, "data-testid": `unit-select-${unit}`, onclick: () => studio.selectUnit(unit) }, String(unit + 1));
      const source = h("span", { class: "unit-source" });
      const curve = h("canvas", { class: "unit-curve", "aria-label": `Sound of unit ${unit + 1} (drop here to swap)`, role: "img", "data-testid": `swap-target-${unit}` });
      const play = h(
        "button",
        {
          class: "icon-button",
          "aria-label": `Play unit ${unit + 1}`,
          "data-testid": `unit-play-${unit}`,
          onclick: () => {
            const p = studio.state.playing;
            if (p?.kind === "unit" && p.unit === unit) studio.stop();
            else studio.playUnit(unit, performance.now());
          },
        },
        icon(ICONS.play),
      );
      const solo = h("button", { class: "toggle", "aria-label": `Solo unit ${unit + 1}`, "data-testid": `unit-solo-${unit}`, onclick: () => studio.toggleSolo(unit, performance.now()) }, "S");
      const mute = h("button", { class: "toggle", "aria-label": `Mute unit ${unit + 1}`, "data-testid": `unit-mute-${unit}`, onclick: () => studio.toggleMute(unit) }, "M");
      const gainOut = h("output", { class: "gain-out" });
      const gain = h("input", {
        type: "range",
        min: GAIN_MIN,
        max: MAX_GAIN_DB,
        step: 0.5,
        value: 0,
        class: "gain",
        "aria-label": `Level of unit ${unit + 1} in dB`,
        "data-testid": `unit-gain-${unit}`,
        oninput: () => (gainOut.textContent = formatDb(Number(gain.value))),
        onchange: () => studio.setGain(unit, Number(gain.value)),
      });
      const reverse = h("button", { class: "toggle", "aria-label": `Reverse unit ${unit + 1}`, "data-testid": `unit-reverse-${unit}`, onclick: () => studio.toggleReverse(unit) }, "Rev");
      const stretch = h(
        "select",
        { "aria-label": `Stretch unit ${unit + 1}`, "data-testid": `unit-stretch-${unit}`, onchange: () => studio.setStretch(unit, Number(stretch.value)) },
        STRETCHES.map((s) => h("option", { value: String(s) }, `${s}×`)),
      );
      const wav = h("a", { class: "icon-button", download: "", "aria-label": `Download unit ${unit + 1} as WAV`, "data-testid": `export-unit-${unit}`, onclick: tokenDownload(studio) }, icon(ICONS.download));
      const toMidi = h(
        "button",
        { class: "toggle", "aria-label": `Turn unit ${unit + 1} into notes (MIDI room)`, title: "To MIDI: transcribe this unit into notes", "data-testid": `unit-to-midi-${unit}`, onclick: () => requestToMidi({ decompositionId: did, unit, label: `${d.soundName} unit ${unit + 1}` }) },
        "MIDI",
      );
      const lane = h("canvas", { class: "activation", "aria-hidden": "true", "data-testid": `activation-${unit}` });
      const el = h(
        "div",
        { class: "unit-row", style: `--unit-color:${color}`, "data-testid": `unit-${unit}`, role: "group", "aria-label": `Unit ${unit + 1}` },
        h(
          "div",
          { class: "unit-head" },
          handle,
          name,
          curve,
          h("div", { class: "unit-label" }, source),
          h("div", { class: "unit-buttons" }, play, solo, mute, reverse, stretch, wav, toMidi),
          h("label", { class: "gain-field" }, h("span", { class: "visually-hidden" }, "Level"), gain, gainOut),
        ),
        lane,
      );
      dropTarget(el, at);
      el.addEventListener("click", (e) => {
        // a tap on the row drops a picked unit or library sound here
        const target = e.target instanceof Element ? e.target : null;
        if (!target || target.closest(".grip")) return; // handles pick and drop by themselves
        if (studio.state.pick && !(target instanceof HTMLInputElement) && !(target instanceof HTMLSelectElement)) {
          const held = studio.state.pick;
          studio.cancelPick();
          studio.drop(held, at);
          e.stopPropagation();
        }
      }, true);
      return { unit, el, name, source, curve, lane, play, solo, mute, gain, gainOut, reverse, stretch, wav };
    });
  };

  const componentCurve = (did: string, unit: number): { curve: Float32Array | null; ghost: Float32Array | null } => {
    const d = studio.state.decompositions[did];
    const own = d?.components[unit] ?? null;
    const s = studio.unitState({ decompositionId: did, unit });
    const c = s?.component;
    if (!c) return { curve: own, ghost: null };
    if (c.kind === "unit") return { curve: studio.state.decompositions[c.decomposition_id]?.components[c.unit] ?? null, ghost: own };
    const item = studio.state.library.all.find((i) => i.component_id === c.component_id);
    return { curve: item ? float32View(item.curve) : null, ghost: own };
  };

  const updateRows = (): void => {
    const d = studio.current();
    if (!d || !built) return;
    const s = studio.state;
    for (const row of built.rows) {
      const at = { decompositionId: d.frame.decomposition_id, unit: row.unit };
      const u = studio.unitState(at);
      if (!u) continue;
      const selected = s.selectedUnit === row.unit;
      const soloed = s.solo === row.unit;
      const playingThis = s.playing !== null && s.playing.kind === "unit" && s.playing.unit === row.unit;
      row.el.classList.toggle("selected", selected);
      row.el.classList.toggle("muted-unit", u.muted || (s.solo !== null && !soloed));
      row.el.classList.toggle("picked", s.pick?.kind === "unit" && s.pick.at.decompositionId === at.decompositionId && s.pick.at.unit === row.unit);
      row.name.setAttribute("aria-pressed", selected ? "true" : "false");
      row.solo.setAttribute("aria-pressed", soloed ? "true" : "false");
      row.mute.setAttribute("aria-pressed", u.muted ? "true" : "false");
      row.reverse.setAttribute("aria-pressed", u.reverse ? "true" : "false");
      row.play.classList.toggle("active", playingThis);
      replaceChildren(row.play, icon(playingThis ? ICONS.stop : ICONS.play));
      row.play.setAttribute("aria-label", playingThis ? `Stop unit ${row.unit + 1}` : `Play unit ${row.unit + 1}`);
      if (document.activeElement !== row.gain) row.gain.value = String(u.gain_db);
      row.gainOut.textContent = formatDb(u.gain_db);
      row.stretch.value = String(u.stretch);
      const rms = d.frame.unit_rms_db[row.unit];
      row.source.textContent = u.source ? `plays ${u.source}` : rms !== undefined ? `own sound · ${Math.round(rms)} dB` : "own sound";
      row.wav.href = studio.unitWavUrl(row.unit) ?? "#";
      const { curve, ghost } = componentCurve(at.decompositionId, row.unit);
      drawCurve(row.curve, curve, unitColor(row.unit), ghost);
    }
  };

  const drawLanes = (): void => {
    const d = studio.current();
    if (!d || !built) return;
    const spectrogram = document.querySelector<HTMLElement>("[data-testid=spectrogram]");
    const left = spectrogram?.getBoundingClientRect().left ?? 0;
    for (const row of built.rows) {
      const act = d.activations[row.unit];
      const shift = spectrogram ? row.lane.getBoundingClientRect().left - left : 0;
      const u = studio.unitState({ decompositionId: d.frame.decomposition_id, unit: row.unit });
      if (act) drawActivation(row.lane, act, d.frame.frame_offset, viewport, unitColor(row.unit), Boolean(u?.muted), shift);
    }
  };

  const rebuild = (): void => {
    const d = studio.current();
    if (!d) {
      built = null;
      replaceChildren(rows, empty);
      tools.hidden = true;
      return;
    }
    if (built?.id !== d.frame.decomposition_id) {
      built = { id: d.frame.decomposition_id, rows: buildRows(d) };
      replaceChildren(rows, built.rows.map((r) => r.el));
    }
    tools.hidden = false;
    exportZip.href = studio.zipUrl() ?? "#";
    requestAnimationFrame(() => {
      updateRows();
      drawLanes();
    });
  };

  // units of other open decompositions: drag sources and drop targets for cross-sound swaps
  const rebuildOthers = (): void => {
    const s = studio.state;
    const current = studio.current()?.frame.decomposition_id;
    const open = Object.values(s.decompositions).filter((d) => d.frame.decomposition_id !== current);
    if (open.length === 0) {
      replaceChildren(others);
      return;
    }
    replaceChildren(
      others,
      h("h3", { class: "small-title" }, "Units of other sounds (drag onto a unit to swap)"),
      open.map((d) =>
        h(
          "div",
          { class: "other-decomposition", "data-testid": "other-decomposition", "data-decomposition-id": d.frame.decomposition_id },
          h("span", { class: "other-name" }, d.soundName),
          d.components.map((_, unit) => {
            const at = { decompositionId: d.frame.decomposition_id, unit };
            const chip = h(
              "button",
              { class: "chip", style: `--unit-color:${unitColor(unit)}`, "aria-label": `Unit ${unit + 1} of ${d.soundName}: drag onto a unit to swap`, "data-testid": `other-unit-${unit}` },
              String(unit + 1),
            );
            dragHandle(chip, studio, () => ({ kind: "unit", at }), () => `unit ${unit + 1} of ${d.soundName}`);
            dropTarget(chip, at);
            return chip;
          }),
        ),
      ),
    );
  };

  studio.store.watch(["k"], (s) => {
    k.value = String(s.k);
    kValue.textContent = `${s.k} units`;
  });
  studio.store.watch(["job", "soundId", "connection"], (s) => {
    const job = s.job;
    jobRow.hidden = job === null;
    decompose.disabled = job !== null || s.soundId === null || s.connection !== "open";
    if (job) {
      progress.value = job.fraction;
      stage.textContent = `${job.stage} ${Math.round(job.fraction * 100)}%`;
    }
  });
  studio.store.watch(["soundId", "currentBySound", "decompositions"], () => {
    rebuild();
    rebuildOthers();
  });
  studio.store.watch(["edits", "solo", "selectedUnit", "playing", "pick", "library"], () => {
    updateRows();
    drawLanes();
  });
  studio.store.watch(["pick"], (s) => {
    pickBanner.hidden = s.pick === null;
    document.body.classList.toggle("picking", s.pick !== null);
    if (s.pick) {
      const what = s.pick.kind === "unit" ? studio.label(s.pick.at) : `library sound “${s.pick.item.name}”`;
      replaceChildren(
        pickBanner,
        h("span", {}, `Holding ${what}: tap a unit to ${s.pick.kind === "unit" ? "swap with it" : "give it this sound"}.`),
        h("button", { class: "button small", onclick: () => studio.cancelPick() }, "Cancel"),
      );
    }
  });
  viewport.on("change", () => drawLanes());
  new ResizeObserver(() => {
    updateRows();
    drawLanes();
  }).observe(rows);

  return h(
    "section",
    { class: "panel units-panel", "aria-labelledby": "units-title" },
    h("div", { class: "panel-head" }, h("h2", { id: "units-title" }, "Units")),
    h("div", { class: "toolbar split-row" }, h("label", { class: "field k-field" }, h("span", {}, "Units"), k, kValue), decompose),
    jobRow,
    tools,
    pickBanner,
    rows,
    others,
  );
}

function formatDb(db: number): string {
  return `${db > 0 ? "+" : ""}${db.toFixed(1)} dB`;
}

/** In a session opened by a token, a plain link would download without it: fetch with it. */
function tokenDownload(studio: Studio): (e: MouseEvent) => void {
  return (e) => {
    const a = e.currentTarget;
    if (!(a instanceof HTMLAnchorElement) || !credentials().token || a.getAttribute("href") === "#") return;
    e.preventDefault();
    void studio.download(a.href);
  };
}
