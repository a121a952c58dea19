/**
 * The MIDI room's page: the source and transcription settings, the piano roll under the source's
 * spectrogram, and how the notes sound (synth, preset, SoundFont program, tuning), with export.
 */
import "./midi.css";
import type { MidiChoices } from "@shared/protocol";
import { h, icon, ICONS, replaceChildren } from "../dom";
import { customProblem, parseField, PITCH_CLASSES, sourceKey, type Instrument, type KeyMode, type SourceRef, type TuningKind } from "./forms";
import { pitchName } from "./notes";
import { pianoRoll } from "./roll-view";
import type { MidiRoom, PlayKind, Tool } from "./room";

const GRIDS: readonly [number, string][] = [
  [1, "1/4"],
  [2, "1/8"],
  [4, "1/16"],
  [8, "1/32"],
];

function field(label: string, control: HTMLElement, hint: string | null = null): HTMLElement {
  return h("label", { class: "mfield" }, h("span", { class: "mfield-label" }, label), control, hint ? h("small", { class: "muted" }, hint) : null);
}

function numberInput(testid: string, attrs: { min: number; max: number; step: number; placeholder: string; label: string }, onchange: (value: number | null) => void): HTMLInputElement {
  const input = h("input", {
    type: "number",
    inputMode: "decimal",
    min: attrs.min,
    max: attrs.max,
    step: attrs.step,
    placeholder: attrs.placeholder,
    "aria-label": attrs.label,
    "data-testid": testid,
    onchange: () => onchange(parseField(input.value, attrs.min, attrs.max)),
  });
  return input;
}

function check(testid: string, label: string, checked: boolean, onchange: (on: boolean) => void): { el: HTMLElement; input: HTMLInputElement } {
  const input = h("input", { type: "checkbox", checked, "data-testid": testid, onchange: () => onchange(input.checked) });
  return { el: h("label", { class: "field check mcheck" }, input, h("span", {}, label)), input };
}

export function midiRoomView(room: MidiRoom): HTMLElement {
  const studio = room.studio;

  // --- source ----------------------------------------------------------------------------------
  const sourceSelect = h("select", {
    class: "grow",
    "aria-label": "What to transcribe",
    "data-testid": "midi-source",
    onchange: () => room.setSource(sourceByValue.get(sourceSelect.value) ?? null),
  });
  const sourceByValue = new Map<string, SourceRef>();
  const useRegion = check("midi-use-region", "Only the loop region", false, () => rebuildSources());
  const importInput = h("input", {
    type: "file",
    accept: ".mid,.midi,audio/midi,audio/x-midi",
    class: "visually-hidden",
    "data-testid": "midi-import-input",
    onchange: () => {
      const file = importInput.files?.[0];
      if (file) void room.importMidi(file);
      importInput.value = "";
    },
  });
  const importButton = h("button", { class: "button", "data-testid": "midi-import", onclick: () => importInput.click() }, icon(ICONS.upload), h("span", {}, "Open .mid"));

  const rebuildSources = (): void => {
    const s = studio.state;
    const current = room.state.source;
    sourceByValue.clear();
    const sounds = s.sounds.map((sound) => {
      const region = useRegion.input.checked ? (s.regions[sound.sound_id] ?? null) : null;
      const ref: SourceRef = { kind: "sound", sound_id: sound.sound_id, start_s: region?.start_s ?? null, end_s: region?.end_s ?? null, label: sound.name };
      const value = `sound:${sound.sound_id}`;
      sourceByValue.set(value, ref);
      return h("option", { value }, sound.name);
    });
    const groups = Object.values(s.decompositions).map((d) => {
      const name = d.soundName;
      return h(
        "optgroup",
        { label: `Units of ${name}` },
        d.components.map((_, unit) => {
          const value = `unit:${d.frame.decomposition_id}:${unit}`;
          sourceByValue.set(value, { kind: "unit", decomposition_id: d.frame.decomposition_id, unit, label: `${name} unit ${unit + 1}` });
          return h("option", { value }, `${name} · unit ${unit + 1}`);
        }),
      );
    });
    // a unit sent from the studio stays listed even if its decomposition is not open here
    if (current?.kind === "unit" && !sourceByValue.has(`unit:${current.decomposition_id}:${current.unit}`)) {
      sourceByValue.set(`unit:${current.decomposition_id}:${current.unit}`, current);
      groups.push(h("optgroup", { label: "From the studio" }, h("option", { value: `unit:${current.decomposition_id}:${current.unit}` }, current.label)));
    }
    replaceChildren(sourceSelect, h("option", { value: "", disabled: true }, s.sounds.length ? "Choose a sound or a unit" : "No sounds yet"), h("optgroup", { label: "Sounds" }, sounds), groups);
    const value = current ? (current.kind === "sound" ? `sound:${current.sound_id}` : `unit:${current.decomposition_id}:${current.unit}`) : "";
    sourceSelect.value = sourceByValue.has(value) ? value : "";
    if (current?.kind === "sound" && !sourceByValue.has(value) && s.sounds.length > 0) {
      room.setSource(null); // the sound was deleted: start again from the studio's (this runs again)
      return;
    }
    if (!current) {
      // start with the studio's sound, so that the room is never empty
      const first = sourceByValue.get(`sound:${s.soundId ?? ""}`) ?? sourceByValue.get(`sound:${s.sounds[0]?.sound_id ?? ""}`);
      if (first) room.setSource(first);
    } else if (current.kind === "sound") {
      const fresh = sourceByValue.get(value);
      if (fresh && sourceKey(fresh) !== sourceKey(current)) room.setSource(fresh);
    }
    const region = current?.kind === "sound" ? s.regions[current.sound_id] : null;
    useRegion.el.hidden = !region && !useRegion.input.checked;
  };
  studio.store.watch(["sounds", "decompositions", "regions", "soundId"], rebuildSources);
  room.store.watch(["source"], rebuildSources);

  const sourcePanel = h(
    "section",
    { class: "panel midi-source-panel", "aria-labelledby": "midi-source-title" },
    h("div", { class: "panel-head" }, h("h2", { id: "midi-source-title" }, "Source")),
    h("div", { class: "mrow" }, sourceSelect),
    useRegion.el,
    h("div", { class: "mrow" }, playButton(room, "source", "Play source", "midi-play-source"), importButton, importInput),
  );

  // --- transcription -----------------------------------------------------------------------------
  const backend = h("select", { class: "grow", "aria-label": "Transcription backend", "data-testid": "midi-backend", onchange: () => room.setBackend(backend.value) });
  const backendNote = h("small", { class: "muted backend-note", "data-testid": "midi-backend-note" });
  const c0 = room.state.cleanup;
  const minNote = numberInput("midi-min-note", { min: 0, max: 5000, step: 10, placeholder: "default", label: "Minimum note length in ms" }, (v) => room.setCleanup({ minNoteMs: v }));
  const onset = numberInput("midi-onset", { min: 0, max: 1, step: 0.05, placeholder: "default", label: "Onset threshold, 0 to 1" }, (v) => room.setCleanup({ onsetThreshold: v }));
  const frameThr = numberInput("midi-frame", { min: 0, max: 1, step: 0.05, placeholder: "default", label: "Frame threshold, 0 to 1" }, (v) => room.setCleanup({ frameThreshold: v }));
  const budget = numberInput("midi-budget", { min: 0.1, max: 200, step: 0.5, placeholder: "none", label: "Note budget, notes per second" }, (v) => room.setCleanup({ budget: v }));
  const minVel = numberInput("midi-min-velocity", { min: 1, max: 127, step: 1, placeholder: "none", label: "Quietest note kept, velocity 1 to 127" }, (v) => room.setCleanup({ minVelocity: v === null ? null : Math.round(v) }));
  const bends = check("midi-bends", "Keep pitch bends", c0.bends, (on) => room.setCleanup({ bends: on }));
  const merge = check("midi-merge", "Merge repeated notes", c0.merge, (on) => room.setCleanup({ merge: on }));
  const mergeGap = numberInput("midi-merge-gap", { min: 0, max: 2000, step: 10, placeholder: "40", label: "Merge gaps up to, ms" }, (v) => room.setCleanup({ mergeGapMs: v ?? 40 }));
  mergeGap.value = String(c0.mergeGapMs);
  const quantize = check("midi-quantize", "Quantize", c0.quantize, (on) => room.setCleanup({ quantize: on }));
  const tempo = numberInput("midi-tempo", { min: 30, max: 300, step: 0.1, placeholder: "detect", label: "Tempo for the grid, BPM" }, (v) => room.setCleanup({ tempoBpm: v }));
  const grid = h(
    "select",
    { "aria-label": "Grid", "data-testid": "midi-grid", onchange: () => room.setCleanup({ stepsPerBeat: Number(grid.value) }) },
    GRIDS.map(([steps, label]) => h("option", { value: String(steps), selected: steps === c0.stepsPerBeat }, label)),
  );
  const strength = h("input", { type: "range", min: 0, max: 1, step: 0.05, value: c0.strength, "aria-label": "Quantize strength", "data-testid": "midi-strength", onchange: () => room.setCleanup({ strength: Number(strength.value) }) });
  const keyMode = h(
    "select",
    { "aria-label": "Snap to a key", "data-testid": "midi-key-mode", onchange: () => room.setCleanup({ keyMode: keyMode.value as KeyMode }) },
    h("option", { value: "off" }, "no key snap"),
    h("option", { value: "auto" }, "detected key"),
    h("option", { value: "fixed" }, "this key:"),
  );
  const tonic = h("select", { "aria-label": "Key tonic", "data-testid": "midi-key-tonic", onchange: () => room.setCleanup({ tonic: Number(tonic.value) }) }, PITCH_CLASSES.map((n, i) => h("option", { value: String(i) }, n)));
  const scale = h("select", { "aria-label": "Key scale", "data-testid": "midi-key-scale", onchange: () => room.setCleanup({ scale: scale.value }) });
  const transcribe = h("button", { class: "button primary", "data-testid": "midi-transcribe", onclick: () => void room.transcribe() }, "Transcribe");
  const progress = h("progress", { max: 1, value: 0, class: "job-progress", "aria-label": "Transcription progress" });
  const stage = h("span", { class: "muted small" });
  const cancel = h("button", { class: "button small", "data-testid": "midi-cancel", onclick: () => void room.cancelTranscribe() }, "Cancel");
  const jobRow = h("div", { class: "job-row", hidden: true }, progress, stage, cancel);

  const transcribePanel = h(
    "section",
    { class: "panel midi-transcribe-panel", "aria-labelledby": "midi-transcribe-title" },
    h("div", { class: "panel-head" }, h("h2", { id: "midi-transcribe-title" }, "To notes")),
    h("div", { class: "mrow" }, backend, transcribe),
    backendNote,
    jobRow,
    h(
      "details",
      { class: "mdetails", open: true },
      h("summary", {}, "Clean-up"),
      h(
        "div",
        { class: "mgrid" },
        field("Min note length (ms)", minNote),
        field("Note budget (per s)", budget),
        field("Onset threshold", onset),
        field("Frame threshold", frameThr),
        field("Quietest velocity", minVel),
        field("Merge gap (ms)", mergeGap),
      ),
      h("div", { class: "mrow wrap" }, merge.el, bends.el),
      h("div", { class: "mrow wrap" }, quantize.el, field("Tempo", tempo), field("Grid", grid), field("Strength", strength)),
      h("div", { class: "mrow wrap" }, field("Key snap", keyMode), field("Tonic", tonic), field("Scale", scale)),
    ),
  );

  room.store.watch(["choices", "backend"], (s) => {
    const c = s.choices;
    if (!c) {
      replaceChildren(backend, h("option", {}, "loading…"));
      return;
    }
    replaceChildren(
      backend,
      c.backends.map((b) => h("option", { value: b.name, disabled: !b.available, title: b.available ? b.description : b.reason }, b.available ? `${b.name}${b.polyphonic ? "" : " (monophonic)"}` : `${b.name} (unavailable)`)),
    );
    backend.value = s.backend ?? c.default_backend;
    const chosen = c.backends.find((b) => b.name === backend.value);
    const off = c.backends.filter((b) => !b.available);
    backendNote.textContent = [chosen?.description ?? "", ...off.map((b) => `${b.name} is unavailable: ${b.reason}`)].filter(Boolean).join(" · ");
    if (scale.childElementCount === 0) {
      replaceChildren(scale, c.scales.map((name) => h("option", { value: name }, name.replace(/_/g, " "))));
      scale.value = s.cleanup.scale;
    }
  });
  room.store.watch(["cleanup"], (s) => {
    const f = s.cleanup;
    tempo.disabled = grid.disabled = strength.disabled = !f.quantize;
    mergeGap.disabled = !f.merge;
    tonic.disabled = scale.disabled = f.keyMode !== "fixed";
    keyMode.value = f.keyMode;
    tonic.value = String(f.tonic);
    if (scale.childElementCount > 0) scale.value = f.scale;
    if (document.activeElement !== tempo) tempo.placeholder = `${Math.round(room.tempo() * 10) / 10}`;
  });
  room.store.watch(["job", "source"], (s) => {
    jobRow.hidden = s.job === null;
    transcribe.disabled = s.job !== null || s.source === null;
    if (s.job) {
      progress.value = s.job.fraction;
      stage.textContent = `${s.job.stage} ${Math.round(s.job.fraction * 100)}%`;
    }
  });

  // --- the notes ---------------------------------------------------------------------------------
  const roll = pianoRoll(room);
  const title = h("h2", { id: "midi-notes-title", "data-testid": "midi-notes-title" }, "Notes");
  const origin = h("span", { class: "muted small", "data-testid": "midi-origin" });
  const toolButton = (tool: Tool, label: string, hint: string): HTMLButtonElement =>
    h("button", { class: "toggle wide", "aria-pressed": "false", title: hint, "data-testid": `midi-tool-${tool}`, onclick: () => room.setTool(tool) }, label);
  const tools = [toolButton("select", "Select", "Tap to select, drag to move, drag a note's end to lengthen, drag on space to select a box (S)"), toolButton("draw", "Draw", "Drag on space to draw a note (D)"), toolButton("erase", "Erase", "Tap or sweep notes to remove them (E)")];
  const snapToggle = h("button", { class: "toggle wide", "aria-pressed": "true", title: "Snap moves and drawn notes to the grid", "data-testid": "midi-snap", onclick: () => room.setSnap(!room.state.snap) }, "Snap");
  const undo = h("button", { class: "icon-button", "aria-label": "Undo note edit", "data-testid": "midi-undo", onclick: () => room.undo() }, icon(ICONS.undo));
  const redo = h("button", { class: "icon-button", "aria-label": "Redo note edit", "data-testid": "midi-redo", onclick: () => room.redo() }, icon(ICONS.redo));
  const del = h("button", { class: "icon-button", "aria-label": "Delete the selected notes", "data-testid": "midi-delete", onclick: () => room.deleteSelected() }, icon(ICONS.trash));
  const velocityOut = h("output", { class: "small muted vel-out" });
  const velocity = h("input", {
    type: "range",
    min: 1,
    max: 127,
    step: 1,
    value: 100,
    class: "vel",
    "aria-label": "Velocity of the selected notes",
    "data-testid": "midi-velocity",
    oninput: () => (velocityOut.textContent = velocity.value),
    onchange: () => room.setVelocity(Number(velocity.value)),
  });
  const flatten = h("button", { class: "button small", title: "Remove the pitch bends of the selected notes", "data-testid": "midi-flatten", onclick: () => room.flattenSelected() }, "Unbend");
  const notesPanel = h(
    "section",
    { class: "panel midi-notes-panel", "aria-labelledby": "midi-notes-title" },
    h("div", { class: "panel-head" }, title, origin),
    h(
      "div",
      { class: "toolbar roll-tools" },
      h("div", { class: "seg", role: "group", "aria-label": "Tool" }, tools),
      snapToggle,
      h("button", { class: "icon-button", "aria-label": "Zoom out", "data-testid": "midi-zoom-out", onclick: () => roll.zoom(1 / 1.6) }, icon(ICONS.zoomOut)),
      h("button", { class: "icon-button", "aria-label": "Zoom in", "data-testid": "midi-zoom-in", onclick: () => roll.zoom(1.6) }, icon(ICONS.zoomIn)),
      h("button", { class: "button small", "data-testid": "midi-fit", onclick: () => roll.fit() }, "Fit"),
      undo,
      redo,
      del,
      h("label", { class: "field vel-field" }, h("span", {}, "Velocity"), velocity, velocityOut),
      flatten,
    ),
    roll,
  );
  room.store.watch(["tool", "snap", "canUndo", "canRedo", "selected", "doc", "origin"], (s) => {
    for (const b of tools) b.setAttribute("aria-pressed", b.dataset["testid"] === `midi-tool-${s.tool}` ? "true" : "false");
    snapToggle.setAttribute("aria-pressed", s.snap ? "true" : "false");
    undo.disabled = !s.canUndo;
    redo.disabled = !s.canRedo;
    del.disabled = s.selected.size === 0;
    velocity.disabled = flatten.disabled = s.selected.size === 0;
    const sel = s.doc.notes.filter((n) => s.selected.has(n.id));
    if (sel.length > 0 && document.activeElement !== velocity) {
      const v = Math.round(sel.reduce((a, n) => a + n.velocity, 0) / sel.length);
      velocity.value = String(v);
      velocityOut.textContent = String(v);
    } else if (sel.length === 0) velocityOut.textContent = "";
    title.textContent = s.doc.name || "Notes";
    const o = s.origin;
    const range = s.doc.notes.length ? `${pitchName(Math.min(...s.doc.notes.map((n) => n.pitch)))}–${pitchName(Math.max(...s.doc.notes.map((n) => n.pitch)))}` : "";
    origin.textContent = [
      `${s.doc.notes.length} notes`,
      range,
      o?.key ? `sounds like ${o.key}` : "",
      o?.backend && o.seconds !== null ? `${o.backend} in ${o.seconds.toFixed(2)} s` : "",
    ].filter(Boolean).join(" · ");
  });

  // --- the sound ---------------------------------------------------------------------------------
  const synth = h("select", { "aria-label": "Synth", "data-testid": "midi-synth", onchange: () => room.setRender({ synth: synth.value }) });
  const preset = h("select", { "aria-label": "Preset", "data-testid": "midi-preset", onchange: () => room.setPreset(room.state.render.synth, preset.value) });
  const font = h("select", { "aria-label": "SoundFont", "data-testid": "midi-soundfont", onchange: () => room.setRender({ soundfont: font.value }) });
  const program = h("select", { "aria-label": "General MIDI program", "data-testid": "midi-program", onchange: () => room.setRender({ program: Number(program.value) }) });
  const instrument = h("select", { class: "grow", "aria-label": "Sampler instrument", "data-testid": "midi-instrument", onchange: () => room.setRender({ instrument: instrumentByValue.get(instrument.value) ?? null }) });
  const instrumentByValue = new Map<string, Instrument>();
  const synthNote = h("small", { class: "muted", "data-testid": "midi-synth-note" });
  const tuning = h(
    "select",
    { "aria-label": "Tuning", "data-testid": "midi-tuning", onchange: () => room.setRender({ tuning: { ...room.state.render.tuning, kind: tuning.value as TuningKind } }) },
    h("option", { value: "12-tet" }, "12-TET"),
    h("option", { value: "24-tet" }, "24-TET (quarter tones)"),
    h("option", { value: "edo" }, "N-EDO"),
    h("option", { value: "just" }, "Just intonation"),
    h("option", { value: "custom" }, "Custom ratios"),
  );
  const edo = numberInput("midi-edo", { min: 1, max: 1200, step: 1, placeholder: "19", label: "Steps per octave" }, (v) => room.setRender({ tuning: { ...room.state.render.tuning, edo: v ?? 19 } }));
  const customNote = h("small", { class: "muted", "data-testid": "midi-custom-note" });
  const custom = h("input", {
    type: "text",
    class: "grow",
    spellcheck: false,
    "aria-label": "Custom scale: ratios or cents, the period last",
    "data-testid": "midi-custom",
    onchange: () => {
      const problem = customProblem(custom.value);
      customNote.textContent = problem ?? "";
      if (!problem) room.setRender({ tuning: { ...room.state.render.tuning, custom: custom.value } });
    },
  });
  const tonicKey = h(
    "select",
    { "aria-label": "Tonic of the scale", "data-testid": "midi-tonic", onchange: () => room.setRender({ tuning: { ...room.state.render.tuning, tonicKey: Number(tonicKey.value) } }) },
    Array.from({ length: 12 }, (_, i) => h("option", { value: String(60 + i) }, pitchName(60 + i))),
  );
  const edoField = field("Steps", edo);
  const customField = field("Scale", custom);
  const tonicField = field("Tonic", tonicKey);
  const presetField = field("Preset", preset);
  const fontField = field("SoundFont", font);
  const instrumentField = field("Instrument", instrument);

  const rebuildInstruments = (): void => {
    const s = studio.state;
    instrumentByValue.clear();
    const opts: HTMLElement[] = [];
    for (const d of Object.values(s.decompositions)) {
      opts.push(
        h(
          "optgroup",
          { label: `Units of ${d.soundName}` },
          d.components.map((_, unit) => {
            const value = `unit:${d.frame.decomposition_id}:${unit}`;
            instrumentByValue.set(value, { kind: "unit", decomposition_id: d.frame.decomposition_id, unit });
            return h("option", { value }, `${d.soundName} · unit ${unit + 1}`);
          }),
        ),
      );
    }
    const src = room.state.source;
    if (src?.kind === "unit" && !instrumentByValue.has(`unit:${src.decomposition_id}:${src.unit}`)) {
      const value = `unit:${src.decomposition_id}:${src.unit}`;
      instrumentByValue.set(value, { kind: "unit", decomposition_id: src.decomposition_id, unit: src.unit });
      opts.push(h("optgroup", { label: "The source" }, h("option", { value }, src.label)));
    }
    if (s.library.all.length) {
      opts.push(
        h(
          "optgroup",
          { label: "Library" },
          s.library.all.map((item) => {
            const value = `library:${item.component_id}`;
            instrumentByValue.set(value, { kind: "library", component_id: item.component_id });
            return h("option", { value }, item.name);
          }),
        ),
      );
    }
    opts.push(
      h(
        "optgroup",
        { label: "Sounds (played as a sample)" },
        s.sounds.map((sound) => {
          const value = `sound:${sound.sound_id}`;
          instrumentByValue.set(value, { kind: "sound", sound_id: sound.sound_id });
          return h("option", { value }, sound.name);
        }),
      ),
    );
    replaceChildren(instrument, h("option", { value: "" }, instrumentByValue.size ? "Choose an instrument" : "Split a sound or keep a component first"), opts);
    const chosen = room.state.render.instrument;
    const value = chosen ? (chosen.kind === "unit" ? `unit:${chosen.decomposition_id}:${chosen.unit}` : chosen.kind === "library" ? `library:${chosen.component_id}` : `sound:${chosen.sound_id}`) : "";
    instrument.value = instrumentByValue.has(value) ? value : "";
    if (!chosen && room.state.render.synth === "sampler" && instrumentByValue.size > 0) {
      // a sampler needs something to play: the first unit (or library sound) until one is chosen
      const first = instrumentByValue.entries().next().value;
      if (first) {
        instrument.value = first[0];
        room.setRender({ instrument: first[1] });
      }
    }
  };
  studio.store.watch(["decompositions", "library", "sounds"], rebuildInstruments);
  room.store.watch(["source"], rebuildInstruments);

  const fillChoices = (c: MidiChoices): void => {
    replaceChildren(
      synth,
      c.synths.map((s) => h("option", { value: s.name, disabled: !s.available, title: s.available ? "" : s.reason }, s.available ? label(s.name) : `${label(s.name)} (unavailable)`)),
    );
    replaceChildren(program, c.programs.map((name, i) => h("option", { value: String(i) }, `${i + 1} ${name}`)));
    replaceChildren(font, c.soundfonts.map((name) => h("option", { value: name }, name)));
  };
  let filledFor: MidiChoices | null = null;
  room.store.watch(["choices", "render"], (s) => {
    const c = s.choices;
    if (!c) return;
    if (filledFor !== c) {
      fillChoices(c);
      filledFor = c;
    }
    const r = s.render;
    synth.value = r.synth;
    const sc = c.synths.find((x) => x.name === r.synth);
    const isFont = r.synth === "soundfont";
    const presets = isFont ? [] : (sc?.presets ?? []);
    replaceChildren(preset, presets.map((p) => h("option", { value: p }, p)));
    preset.value = r.presets[r.synth] ?? presets[0] ?? "";
    presetField.hidden = presets.length === 0;
    fontField.hidden = !isFont;
    instrumentField.hidden = r.synth !== "sampler";
    if (r.soundfont) font.value = r.soundfont;
    program.value = String(r.program);
    const off = c.synths.filter((x) => !x.available);
    synthNote.textContent = [
      r.synth === "sampler" ? "The sampler plays a unit's or a library component's spectrum (harmonic: as a pitched tone; grain: as textured noise), or a sound as a one-shot." : "",
      isFont ? "General MIDI through FluidSynth; the program also goes into the exported .mid." : "",
      ...off.map((x) => `${label(x.name)} is unavailable: ${x.reason}`),
    ].filter(Boolean).join(" ");
    tuning.value = r.tuning.kind;
    edoField.hidden = r.tuning.kind !== "edo";
    customField.hidden = r.tuning.kind !== "custom";
    tonicField.hidden = r.tuning.kind !== "just" && r.tuning.kind !== "custom";
    if (document.activeElement !== edo) edo.value = String(r.tuning.edo);
    if (document.activeElement !== custom) custom.value = r.tuning.custom;
    tonicKey.value = String(r.tuning.tonicKey);
    if (r.synth === "sampler" && !r.instrument) rebuildInstruments();
  });

  // listening and export
  const loop = h("button", { class: "toggle wide", "aria-label": "Loop", "data-testid": "midi-loop", onclick: () => room.setLoop(!studio.state.loop) }, icon(ICONS.loop));
  studio.store.watch(["loop"], (s) => loop.setAttribute("aria-pressed", s.loop ? "true" : "false"));
  const nowPlaying = h("span", { class: "now-playing small", "aria-live": "polite", "data-testid": "midi-now-playing" });
  const meterFill = h("div", { class: "meter-fill" });
  const meter = h("div", { class: "meter", role: "meter", "aria-label": "Output level", "data-testid": "midi-level" }, meterFill);
  const stop = h("button", { class: "button", "data-testid": "midi-stop", onclick: () => room.stop() }, icon(ICONS.stop), h("span", {}, "Stop"));
  const exportMid = h("button", { class: "button", "data-testid": "midi-export-mid", onclick: () => void room.exportMidi() }, icon(ICONS.download), h("span", {}, ".mid"));
  const exportWav = h("button", { class: "button", "data-testid": "midi-export-wav", onclick: () => void room.exportWav() }, icon(ICONS.download), h("span", {}, "WAV"));
  const saveName = h("input", { type: "text", class: "grow", maxLength: 120, placeholder: "name of the new sound", "aria-label": "Name of the new sound", "data-testid": "midi-save-name" });
  const save = h("button", {
    class: "button",
    "data-testid": "midi-save",
    title: "Render and add the result to your sounds",
    onclick: () => void room.sendToLibrary(saveName.value || defaultName()).then((ok) => ok && (saveName.value = "")),
  }, "Send to sounds");
  const defaultName = (): string => {
    const r = room.state.render;
    const how = r.synth === "soundfont" ? (filledFor?.programs[r.program] ?? "soundfont") : `${r.synth}${r.presets[r.synth] ? ` ${r.presets[r.synth] ?? ""}` : ""}`;
    return `${room.state.doc.name || "notes"} as ${how}`.slice(0, 120);
  };
  room.store.watch(["doc", "render"], () => (saveName.placeholder = defaultName()));

  room.store.watch(["playing", "busy", "doc", "source"], (s) => {
    const p = s.playing;
    nowPlaying.textContent = p ? `${p.status === "loading" ? "Starting " : "Playing "}${p.kind === "source" ? "the source" : p.kind === "both" ? "notes and source" : "the notes"}` : "";
    stop.disabled = p === null;
    const empty = s.doc.notes.length === 0;
    exportMid.disabled = exportWav.disabled = save.disabled = empty || s.busy !== null;
  });
  // the meter follows the shared engine
  let level = 0;
  let hooked = false;
  const tick = (): void => {
    const engine = studio.engine;
    if (engine && !hooked) {
      hooked = true;
      engine.on("level", ({ rms }) => (level = rms));
    }
    const db = level > 0 ? 20 * Math.log10(level) : -100;
    meterFill.style.transform = `scaleX(${Math.max(0, Math.min(1, (db + 60) / 60))})`;
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);

  const soundPanel = h(
    "section",
    { class: "panel midi-sound-panel", "aria-labelledby": "midi-sound-title" },
    h("div", { class: "panel-head" }, h("h2", { id: "midi-sound-title" }, "Back to sound")),
    h("div", { class: "mgrid" }, field("Synth", synth), presetField, fontField, field("Program", program), instrumentField, field("Tuning", tuning), edoField, customField, tonicField),
    customNote,
    synthNote,
    h(
      "div",
      { class: "mrow wrap listen-row" },
      playButton(room, "render", "Play notes", "midi-play-render", true),
      playButton(room, "both", "Both", "midi-play-both"),
      stop,
      loop,
      meter,
      nowPlaying,
    ),
    h("div", { class: "mrow wrap" }, exportMid, exportWav, saveName, save),
  );

  // --- keys ----------------------------------------------------------------------------------------
  const el = h(
    "div",
    { class: "midi-room", "data-testid": "midi-room" },
    h("div", { class: "midi-side" }, sourcePanel, transcribePanel),
    h("div", { class: "midi-work" }, notesPanel, soundPanel),
  );
  window.addEventListener("keydown", (e) => {
    if (el.offsetParent === null) return; // another room is shown
    const t = e.target;
    const typing = (t instanceof HTMLInputElement && !["range", "checkbox", "button"].includes(t.type)) || t instanceof HTMLTextAreaElement || t instanceof HTMLSelectElement;
    if (typing) return;
    const mod = e.ctrlKey || e.metaKey;
    const key = e.key.toLowerCase();
    const step = 60 / room.tempo() / room.state.cleanup.stepsPerBeat;
    if (mod && key === "z") {
      e.preventDefault();
      if (e.shiftKey) room.redo();
      else room.undo();
    } else if (mod && key === "y") {
      e.preventDefault();
      room.redo();
    } else if (mod && key === "a") {
      e.preventDefault();
      room.selectAll();
    } else if (mod || e.altKey) {
      return;
    } else if (e.key === "Delete" || e.key === "Backspace") {
      e.preventDefault();
      room.deleteSelected();
    } else if (e.key === "Escape") {
      room.select(new Set());
    } else if (e.key === " ") {
      e.preventDefault();
      room.togglePlay(performance.now());
    } else if (e.key === "ArrowUp" || e.key === "ArrowDown") {
      e.preventDefault();
      room.nudge(0, (e.key === "ArrowUp" ? 1 : -1) * (e.shiftKey ? 12 : 1), step);
    } else if (e.key === "ArrowLeft" || e.key === "ArrowRight") {
      e.preventDefault();
      room.nudge(e.key === "ArrowRight" ? 1 : -1, 0, step);
    } else if (key === "s") {
      room.setTool("select");
    } else if (key === "d") {
      room.setTool("draw");
    } else if (key === "e") {
      room.setTool("erase");
    }
  });
  return el;
}

function playButton(room: MidiRoom, kind: PlayKind, text: string, testid: string, primary = false): HTMLButtonElement {
  const b = h("button", { class: primary ? "button primary" : "button", "data-testid": testid, onclick: () => room.play(kind, performance.now()) }, icon(ICONS.play), h("span", {}, text));
  room.store.watch(["playing", "source", "doc"], (s) => {
    b.classList.toggle("active", s.playing?.kind === kind);
    b.disabled = (kind !== "render" && s.source === null) || (kind !== "source" && s.doc.notes.length === 0);
  });
  return b;
}

function label(synth: string): string {
  const names: Record<string, string> = { additive: "Additive", subtractive: "Subtractive", fm: "FM", sampler: "Sampler", soundfont: "SoundFont (GM)" };
  return names[synth] ?? synth;
}
