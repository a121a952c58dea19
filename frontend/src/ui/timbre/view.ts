/**
 * The timbre room's page: the model bar (model, training set, cut clips, train with a live loss
 * curve), the map with its tools and legend, the song form (grammar checked as you type), songs
 * and albums with keep/reject, and the manipulations panel. One column at phone width.
 * Keys: Space play/stop, M make a song, L lasso, P pin the marker as a song point, Esc stop (then
 * clear the marker, the region).
 */
import "./timbre.css";
import type { SongInfo } from "@shared/protocol";
import { credentials } from "../../net/auth";
import { copyText, h, icon, ICONS, replaceChildren } from "../dom";
import { drawQr } from "../views/qr";
import { paintThumbnail, thumbnailImage } from "../views/thumbnail";
import { MAX_SEED, type Direction } from "./form";
import { formatLoss, lossCurve } from "./loss";
import { FACTOR_RANGE, MANIP_OPS, type ManipOp } from "./manip";
import { KIND_COLORS, KIND_LABELS, mapCanvas } from "./map-view";
import { MAX_PINS, PIN_LETTERS, pointLabel, sameTarget, type Job, type TimbreRoom } from "./room";
import { formatDuration, shortStructure, swipeLink, tally } from "./songs";

const num = (input: HTMLInputElement, fallback: number): number => {
  const v = Number.parseFloat(input.value);
  return Number.isFinite(v) ? v : fallback;
};

/** Set an input's value unless the user is typing in it. */
const setValue = (input: HTMLInputElement | HTMLTextAreaElement, value: string): void => {
  if (document.activeElement !== input && input.value !== value) input.value = value;
};

function jobRow(testid: string, label: string, onCancel: () => void): { el: HTMLElement; update: (job: Job | null) => void } {
  const progress = h("progress", { max: 1, value: 0, "aria-label": label, "data-testid": testid, class: "timbre-progress" });
  const stage = h("span", { class: "muted small timbre-stage", "aria-live": "polite", "data-testid": `${testid}-stage` });
  const cancel = h("button", { class: "button small", "data-testid": `${testid}-cancel`, onclick: onCancel }, "Cancel");
  const el = h("div", { class: "timbre-job", hidden: true }, progress, stage, cancel);
  return {
    el,
    update: (job) => {
      el.hidden = job === null;
      progress.value = job?.fraction ?? 0;
      stage.textContent = job ? job.stage : "";
    },
  };
}

function drawLoss(canvas: HTMLCanvasElement, losses: readonly number[], epochs: number): void {
  const ctx = canvas.getContext("2d");
  if (!ctx) return;
  const rect = canvas.getBoundingClientRect();
  const w = Math.max(40, rect.width || 240);
  const hgt = Math.max(30, rect.height || 64);
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(hgt * dpr);
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.fillStyle = "#0b0d12";
  ctx.fillRect(0, 0, w, hgt);
  const curve = lossCurve(losses, { width: w, height: hgt, pad: 6 }, epochs);
  if (curve.points.length === 0) return;
  ctx.strokeStyle = "#5ad1c4";
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  curve.points.forEach(([x, y], i) => (i === 0 ? ctx.moveTo(x, y) : ctx.lineTo(x, y)));
  ctx.stroke();
  const last = curve.points[curve.points.length - 1];
  if (last) {
    ctx.fillStyle = "#5ad1c4";
    ctx.beginPath();
    ctx.arc(last[0], last[1], 2.5, 0, Math.PI * 2);
    ctx.fill();
  }
}

export function timbreView(room: TimbreRoom): HTMLElement {
  // --- the model bar ---------------------------------------------------------------------------
  const modelSelect = h("select", { "aria-label": "Timbre model", "data-testid": "timbre-model", onchange: () => room.setModel(modelSelect.value) });
  const setSelect = h("select", {
    "aria-label": "Training set shown on the map",
    "data-testid": "timbre-set",
    onchange: () => room.setSet(setSelect.value === "" ? null : setSelect.value),
  });
  const methodSelect = h("select", { "aria-label": "Map method", "data-testid": "timbre-method", onchange: () => room.setMethod(methodSelect.value) });
  const buildButton = h(
    "button",
    { class: "button", "data-testid": "timbre-build-set", title: "Cut 2 s clips from every sound of this session (drums and abrupt starts are flagged)", onclick: () => void room.buildTrainingSet() },
    "Cut clips from my sounds",
  );
  const epochsInput = h("input", {
    type: "number",
    min: 1,
    max: 1000,
    step: 1,
    placeholder: "auto",
    class: "timbre-epochs",
    "aria-label": "Training epochs (empty: the server's choice)",
    "data-testid": "timbre-epochs",
    onchange: () => room.setEpochs(epochsInput.value.trim() === "" ? null : num(epochsInput, 0)),
  });
  const trainButton = h("button", { class: "button primary", "data-testid": "timbre-train", onclick: () => void room.train() }, "Train");
  const modelJob = jobRow("timbre-progress", "Model progress", () => room.cancelModelJob());
  const lossCanvas = h("canvas", { class: "timbre-loss", "data-testid": "timbre-loss", "aria-label": "Training loss per epoch" });
  const lossText = h("span", { class: "muted small", "data-testid": "timbre-loss-text" });
  const modelBar = h(
    "section",
    { class: "panel timbre-models", "aria-label": "Timbre model" },
    h(
      "div",
      { class: "timbre-row" },
      h("label", { class: "field" }, h("span", {}, "Model"), modelSelect),
      h("label", { class: "field" }, h("span", {}, "Clips"), setSelect),
      h("label", { class: "field" }, h("span", {}, "Map"), methodSelect),
      buildButton,
      h("label", { class: "field" }, h("span", {}, "Epochs"), epochsInput),
      trainButton,
    ),
    modelJob.el,
    h("div", { class: "timbre-loss-row" }, lossCanvas, lossText),
  );

  const fillModels = (): void => {
    const s = room.state;
    const current = s.modelId ?? s.defaultModelId ?? "";
    replaceChildren(
      modelSelect,
      s.models.length === 0 ? h("option", { value: "" }, s.loaded ? "default (trained on first use)" : "loading…") : null,
      s.models.map((m) =>
        h(
          "option",
          { value: m.model_id, selected: m.model_id === current },
          `${m.is_default || m.model_id === s.defaultModelId ? "★ default · " : ""}${m.training_set} · ${m.n_clips} clips`,
        ),
      ),
    );
    replaceChildren(
      setSelect,
      h("option", { value: "", selected: s.setId === null }, "none (the model's own sounds)"),
      s.sets.map((x) => h("option", { value: x.set_id, selected: x.set_id === s.setId }, `${x.name} · ${x.n_usable}/${x.n_clips} usable`)),
    );
    replaceChildren(methodSelect, s.mapMethods.map((m) => h("option", { value: m, selected: m === s.method }, m.toUpperCase())));
  };
  room.store.watch(["models", "sets", "modelId", "setId", "defaultModelId", "mapMethods", "method", "loaded"], fillModels);
  room.store.watch(["modelJob", "setId"], (s) => {
    modelJob.update(s.modelJob);
    const busy = s.modelJob !== null;
    for (const el of [modelSelect, setSelect, methodSelect, buildButton]) el.disabled = busy;
    trainButton.disabled = busy || s.setId === null;
    trainButton.title = s.setId === null ? "Cut clips from your sounds (or choose a set of clips) first" : "Train a model on the chosen clips";
  });
  const paintLoss = (): void => {
    const s = room.state;
    drawLoss(lossCanvas, s.loss, s.lossEpochs);
    const last = s.loss[s.loss.length - 1];
    const training = s.modelJob?.kind === "train";
    lossText.textContent =
      last === undefined
        ? training
          ? "waiting for the first epoch…"
          : ""
        : `${training ? "training: " : ""}epoch ${s.loss.length}${s.lossEpochs > s.loss.length ? ` of ${s.lossEpochs}` : ""} · loss ${formatLoss(last)}`;
  };
  room.store.watch(["loss", "lossEpochs", "modelJob"], paintLoss);
  new ResizeObserver(paintLoss).observe(lossCanvas);

  // --- the map ---------------------------------------------------------------------------------
  const canvas = mapCanvas(room);
  const zoomOut = h("button", { class: "icon-button", "aria-label": "Zoom out", "data-testid": "timbre-zoom-out", onclick: () => room.zoomBy(0.8) }, icon(ICONS.zoomOut));
  const zoomIn = h("button", { class: "icon-button", "aria-label": "Zoom in", "data-testid": "timbre-zoom-in", onclick: () => room.zoomBy(1.25) }, icon(ICONS.zoomIn));
  const fitButton = h("button", { class: "button small", "data-testid": "timbre-fit", onclick: () => room.fit() }, "Fit");
  const lassoButton = h("button", { class: "toggle", "aria-pressed": "false", "data-testid": "timbre-lasso", title: "Draw a region (or Shift-drag); L", onclick: () => room.setLasso(!room.state.lassoOn) }, "Lasso");
  const hearBox = h("input", { type: "checkbox", checked: true, "data-testid": "timbre-hear-hover", onchange: () => room.setHearOnHover(hearBox.checked) });
  const clearRegion = h("button", { class: "button small", "data-testid": "timbre-clear-region", onclick: () => room.clearRegion() }, "Clear region");
  const stopButton = h("button", { class: "icon-button", "aria-label": "Stop", "data-testid": "timbre-stop", onclick: () => room.stop() }, icon(ICONS.stop));
  const pointCount = h("span", { class: "muted small", "data-testid": "timbre-point-count" });
  const hoverLabel = h("div", { class: "timbre-hover small", "data-testid": "timbre-hover-label", "aria-live": "off" });
  const markerText = h("span", { "data-testid": "timbre-marker-label" });
  const pinButton = h("button", { class: "button small", "data-testid": "timbre-pin", title: "Make the marker one of the song's points (P)", onclick: () => room.pinMarker() }, "Pin");
  const markerLabel = h("div", { class: "timbre-marker small muted" }, markerText, pinButton);
  const pinList = h("ul", { class: "timbre-pins", "data-testid": "timbre-pins", "aria-label": "The song's pinned points" });
  const clearPins = h("button", { class: "button small", "data-testid": "timbre-clear-pins", onclick: () => room.clearPins() }, "Clear pins");
  const pinsRow = h("div", { class: "timbre-pins-row small" }, h("span", { class: "muted" }, "Song points:"), pinList, clearPins);
  const legend = h(
    "div",
    { class: "timbre-legend small", "data-testid": "timbre-legend" },
    (["clip", "component", "anchor"] as const).map((k) => h("span", { class: "timbre-key" }, h("i", { class: `dot dot-${k}`, style: `--dot:${KIND_COLORS[k]}` }), KIND_LABELS[k])),
    h("span", { class: "timbre-key" }, h("i", { class: "dot dot-flagged", style: `--dot:${KIND_COLORS.clip}` }), "transient (dimmed)"),
  );
  const selection = h("ul", { class: "timbre-selection", "data-testid": "timbre-selection", "aria-label": "Points in the region" });
  const selectionHead = h("div", { class: "small muted" });
  const emptyMap = h("p", { class: "muted timbre-empty" }, "The map appears here: every clip, library component and model sound as a point.");
  const mapPanel = h(
    "section",
    { class: "panel timbre-map-panel", "aria-label": "Timbre map" },
    h(
      "div",
      { class: "toolbar" },
      h("h2", {}, "Map"),
      pointCount,
      h("span", { class: "grow" }),
      zoomOut,
      zoomIn,
      fitButton,
      lassoButton,
      clearRegion,
      h("label", { class: "field check" }, hearBox, h("span", {}, "hear on hover")),
      stopButton,
    ),
    h("div", { class: "timbre-canvas-wrap" }, canvas, emptyMap),
    hoverLabel,
    markerLabel,
    pinsRow,
    legend,
    h("div", { class: "timbre-keys small muted" }, "Keys: Space play/stop · M make a song · L lasso · P pin the marker · Esc stop, then clear · arrows pan, +/− zoom (map focused)"),
    selectionHead,
    selection,
  );
  room.store.watch(["map"], (s) => {
    const pts = s.map?.points ?? [];
    const flagged = pts.filter((p) => p.flagged).length;
    pointCount.textContent = s.map ? `${pts.length} points${flagged ? ` (${flagged} transient)` : ""}` : "";
    pointCount.dataset["count"] = String(pts.length);
    emptyMap.hidden = s.map !== null;
  });
  room.store.watch(["hover", "marker"], (s) => {
    hoverLabel.textContent = s.hover ? s.hover.label : "Hover a point (or the space between) to hear it; click to place a marker.";
    markerText.textContent = s.marker ? `Marker: ${s.marker.label}` : "";
    pinButton.hidden = s.marker === null;
  });
  room.store.watch(["lassoOn", "region"], (s) => {
    lassoButton.setAttribute("aria-pressed", String(s.lassoOn));
    canvas.classList.toggle("lasso", s.lassoOn);
    clearRegion.disabled = s.region === null;
  });
  room.store.watch(["pins", "marker"], (s) => {
    const marker = s.marker;
    const pinned = marker ? s.pins.findIndex((p) => sameTarget(p.target, marker.target)) : -1;
    pinButton.textContent = pinned >= 0 ? `Unpin ${PIN_LETTERS[pinned] ?? ""}` : s.pins.length >= MAX_PINS ? "5 pinned" : `Pin as ${PIN_LETTERS[s.pins.length] ?? ""}`;
    pinButton.disabled = pinned < 0 && s.pins.length >= MAX_PINS;
    pinsRow.hidden = s.pins.length === 0;
    replaceChildren(
      pinList,
      s.pins.map((pin, i) =>
        h(
          "li",
          { class: "timbre-pin", "data-testid": "timbre-pin-item", "data-letter": PIN_LETTERS[i] ?? "" },
          h("strong", {}, PIN_LETTERS[i] ?? "?"),
          h("span", { class: "timbre-pin-label" }, pin.label),
          h("button", { class: "icon-button", "aria-label": `Unpin ${PIN_LETTERS[i] ?? ""}`, "data-testid": "timbre-unpin", onclick: () => room.unpin(i) }, icon(ICONS.close)),
        ),
      ),
    );
  });

  room.store.watch(["selected", "region", "map", "playing", "marker"], (s) => {
    const pts = s.map?.points ?? [];
    selectionHead.textContent = s.region ? `Region: ${s.selected.length} points (the song's region)` : "";
    const markerPoint = s.marker && "point" in s.marker.target ? s.marker.target.point : null;
    replaceChildren(
      selection,
      s.selected.slice(0, 200).map((i) => {
        const p = pts[i];
        if (!p) return null;
        const on = markerPoint === i && s.playing?.what === "marker";
        return h(
          "li",
          {},
          h(
            "button",
            { class: "link small", "data-testid": "timbre-selected-point", "data-point": i, "aria-pressed": String(on), onclick: () => (on ? room.stop() : room.playPoint(i)) },
            h("i", { class: "dot", style: `--dot:${KIND_COLORS[p.kind]}` }),
            pointLabel(p),
          ),
        );
      }),
      s.selected.length > 200 ? h("li", { class: "muted small" }, `…and ${s.selected.length - 200} more`) : null,
    );
  });
  room.store.watch(["playing"], (s) => {
    stopButton.disabled = s.playing === null;
  });

  // --- the song form ---------------------------------------------------------------------------
  const seedInput = h("input", {
    type: "number",
    min: 0,
    max: MAX_SEED,
    step: 1,
    class: "timbre-seed",
    "aria-label": "Seed",
    "data-testid": "song-seed",
    oninput: () => room.setForm({ seed: Math.round(num(seedInput, 0)) }),
  });
  const dice = h("button", { class: "icon-button", "aria-label": "Random seed", title: "Random seed", "data-testid": "song-dice", onclick: () => room.rollSeed() }, "⚄");
  const minutesInput = h("input", { type: "number", min: 0.1, max: 60, step: 0.5, "aria-label": "Minutes", "data-testid": "song-minutes", oninput: () => room.setForm({ minutes: num(minutesInput, 0) }) });
  const criterionSelect = h("select", { "aria-label": "Criterion", "data-testid": "song-criterion", onchange: () => room.setForm({ criterion: criterionSelect.value }) });
  const directionSelect = h(
    "select",
    { "aria-label": "Direction", "data-testid": "song-direction", onchange: () => room.setForm({ direction: (directionSelect.value === "low" ? "low" : "high") satisfies Direction }) },
    h("option", { value: "high" }, "high"),
    h("option", { value: "low" }, "low"),
  );
  const ampInput = h("input", { type: "number", min: 0, max: 10, step: 0.1, "aria-label": "Wiggle amplitude", "data-testid": "song-wiggle-amplitude", oninput: () => room.setForm({ wiggleAmplitude: num(ampInput, 0) }) });
  const rateInput = h("input", { type: "number", min: 0, max: 2, step: 0.01, "aria-label": "Wiggle rate (Hz)", "data-testid": "song-wiggle-rate", oninput: () => room.setForm({ wiggleRateHz: num(rateInput, 0) }) });
  const ambienceSelect = h("select", { "aria-label": "Ambience", "data-testid": "song-ambience", onchange: () => room.setForm({ ambience: ambienceSelect.value }) });
  const effects = h("div", { class: "timbre-effects", "data-testid": "song-effects", role: "group", "aria-label": "Effect sounds" });
  const grammarBox = h("textarea", {
    class: "timbre-grammar",
    rows: 5,
    spellcheck: false,
    maxLength: 4000,
    "aria-label": "Song grammar",
    "data-testid": "song-grammar",
    oninput: () => room.setForm({ grammar: grammarBox.value }),
  });
  const grammarReset = h("button", { class: "button small", "data-testid": "grammar-reset", onclick: () => room.resetGrammar() }, "Default grammar");
  const grammarError = h("div", { class: "timbre-grammar-error small", role: "alert", "data-testid": "grammar-error" });
  const grammarExample = h("div", { class: "timbre-grammar-example small muted", "data-testid": "grammar-example" });
  const problemText = h("div", { class: "timbre-problem small", "data-testid": "song-problem" });
  const makeSong = h("button", { class: "button primary", "data-testid": "make-song", title: "Make a song (M)", onclick: () => void room.makeSong() }, "Make song");
  const albumSongs = h("input", { type: "number", min: 1, step: 1, class: "timbre-album-n", "aria-label": "Songs in the album", "data-testid": "album-songs", onchange: () => room.setAlbumSongs(num(albumSongs, 1)) });
  const albumName = h("input", { type: "text", maxLength: 120, placeholder: "album name (optional)", "aria-label": "Album name", "data-testid": "album-name", oninput: () => room.setAlbumName(albumName.value) });
  const makeAlbum = h("button", { class: "button", "data-testid": "make-album", onclick: () => void room.makeAlbum() }, "Make album");
  const songJob = jobRow("timbre-song-progress", "Song progress", () => room.cancelSongJob());
  const field = (label: string, control: HTMLElement, ...more: HTMLElement[]): HTMLElement => h("label", { class: "tfield" }, h("span", {}, label), h("span", { class: "tfield-row" }, control, ...more));
  const formPanel = h(
    "section",
    { class: "panel timbre-form", "aria-label": "Song" },
    h("div", { class: "panel-head" }, h("h2", {}, "Song")),
    h(
      "div",
      { class: "tgrid" },
      field("Seed", seedInput, dice),
      field("Minutes", minutesInput),
      field("Criterion", criterionSelect),
      field("Direction", directionSelect),
      field("Wiggle amplitude", ampInput),
      field("Wiggle rate (Hz)", rateInput),
      field("Ambience", ambienceSelect),
    ),
    effects,
    h("div", { class: "tfield" }, h("span", { class: "tfield-head" }, h("span", {}, "Grammar"), grammarReset), grammarBox),
    grammarError,
    grammarExample,
    problemText,
    h("div", { class: "timbre-row" }, makeSong),
    h("div", { class: "timbre-row" }, h("label", { class: "field" }, h("span", {}, "Songs"), albumSongs), albumName, makeAlbum),
    songJob.el,
  );

  room.store.watch(["form", "criteria", "ambiences"], (s) => {
    const f = s.form;
    setValue(seedInput, String(f.seed));
    setValue(minutesInput, String(f.minutes));
    setValue(ampInput, String(f.wiggleAmplitude));
    setValue(rateInput, String(f.wiggleRateHz));
    setValue(grammarBox, f.grammar);
    replaceChildren(criterionSelect, s.criteria.map((c) => h("option", { value: c, selected: c === f.criterion }, c)));
    directionSelect.value = f.direction;
    replaceChildren(ambienceSelect, s.ambiences.map((a) => h("option", { value: a, selected: a === f.ambience }, a === "sounds" ? "my effect sounds" : a)));
  });
  const fillEffects = (): void => {
    const f = room.state.form;
    effects.hidden = f.ambience !== "sounds";
    if (effects.hidden) return;
    const sounds = room.sounds;
    replaceChildren(
      effects,
      h("div", { class: "small muted" }, "Effect sounds (looped under the song):"),
      sounds.length === 0 ? h("div", { class: "small muted" }, "No sounds yet: add some in the Studio.") : null,
      sounds.map((snd) => {
        const box = h("input", {
          type: "checkbox",
          checked: f.effects.includes(snd.sound_id),
          "data-testid": "song-effect",
          "data-sound": snd.sound_id,
          onchange: () => room.toggleEffect(snd.sound_id, box.checked),
        });
        return h("label", { class: "field check" }, box, h("span", {}, snd.name));
      }),
    );
  };
  room.store.watch(["form"], fillEffects);
  room.studio.store.watch(["sounds"], fillEffects);

  room.store.watch(["grammar", "form", "region", "songJob", "albumSongs", "albumName", "maxAlbumSongs"], (s) => {
    const g = s.grammar;
    grammarError.textContent = g.status === "error" ? (g.error ?? "invalid grammar") : "";
    grammarError.hidden = g.status !== "error";
    grammarBox.classList.toggle("invalid", g.status === "error");
    grammarBox.setAttribute("aria-invalid", String(g.status === "error"));
    grammarExample.textContent = g.status === "ok" && g.example ? `For example: ${g.example}` : g.status === "checking" ? "checking…" : "";
    const problem = room.problem();
    problemText.textContent = g.status === "error" ? "" : (problem ?? "");
    const busy = s.songJob !== null;
    makeSong.disabled = busy || problem !== null;
    makeAlbum.disabled = busy || problem !== null;
    albumSongs.max = String(s.maxAlbumSongs);
    setValue(albumSongs, String(s.albumSongs));
    setValue(albumName, s.albumName);
    songJob.update(s.songJob);
  });

  // --- songs -----------------------------------------------------------------------------------
  const albumFilter = h("select", {
    "aria-label": "Album",
    "data-testid": "songs-album",
    onchange: () => void room.listSongs(albumFilter.value === "" ? null : albumFilter.value),
  });
  const swipe = h(
    "a",
    { class: "button small", "data-testid": "swipe-link", target: "_blank", rel: "noopener", title: "Keep or reject songs one by one, with a swipe" },
    "Swipe page",
  );
  // a phone on the same Wi-Fi: a QR code of the swipe page's link with a fresh sharing token
  const phoneQr = h("canvas", { class: "phone-qr", "data-testid": "phone-qr", role: "img", "aria-label": "QR code of the phone link", hidden: true });
  const phoneUrl = h("a", { class: "phone-url small", "data-testid": "phone-url", target: "_blank", rel: "noopener" });
  const phoneNote = h("p", { class: "small muted", "data-testid": "phone-note" });
  const phoneCopy = h("button", { class: "button small", "data-testid": "phone-copy", hidden: true, onclick: () => void copyText(phoneUrl.href).then((ok) => (phoneCopy.textContent = ok ? "Copied" : "Copy the link by hand")) }, "Copy link");
  const phonePanel = h(
    "div",
    { class: "phone-panel", "data-testid": "phone-panel", hidden: true },
    phoneQr,
    h("div", { class: "phone-text" }, h("strong", {}, "Curate on a phone"), phoneNote, phoneUrl, phoneCopy),
  );
  const phoneButton = h(
    "button",
    {
      class: "button small",
      "data-testid": "phone-button",
      "aria-expanded": "false",
      onclick: async () => {
        const open = phonePanel.hidden;
        phonePanel.hidden = !open;
        phoneButton.setAttribute("aria-expanded", String(open));
        if (!open) return;
        phoneNote.textContent = "Making a link…";
        phoneQr.hidden = true;
        phoneCopy.hidden = true;
        phoneUrl.textContent = "";
        const link = await room.phoneLink();
        if (link.url === null) {
          phoneNote.textContent = link.note;
          return;
        }
        drawQr(phoneQr, link.url);
        phoneQr.hidden = false;
        phoneUrl.href = link.url;
        phoneUrl.textContent = link.url.replace(/#.*/, "#…");
        phoneCopy.hidden = false;
        phoneCopy.textContent = "Copy link";
        phoneNote.textContent = `Scan it with the phone's camera (on the same Wi-Fi). The link lets the phone into this session; revoke it under Links.${link.note ? ` Note: ${link.note}.` : ""}`;
      },
    },
    "On a phone…",
  );
  const songCount = h("span", { class: "muted small", "data-testid": "song-count" });
  const cards = h("div", { class: "timbre-songs", "data-testid": "song-list", role: "list" });
  const songsPanel = h(
    "section",
    { class: "panel timbre-songs-panel", "aria-label": "Songs" },
    h("div", { class: "toolbar" }, h("h2", {}, "Songs"), songCount, h("span", { class: "grow" }), h("label", { class: "field" }, h("span", {}, "Album"), albumFilter), swipe, phoneButton),
    phonePanel,
    cards,
  );
  room.store.watch(["albums", "albumFilter"], (s) => {
    replaceChildren(
      albumFilter,
      h("option", { value: "", selected: s.albumFilter === null }, "all songs"),
      s.albums.map((a) => h("option", { value: a.album_id, selected: a.album_id === s.albumFilter }, `${a.name} (${a.n_songs})`)),
    );
    swipe.href = swipeLink(location.origin, s.albumFilter, credentials());
  });
  const thumbs = new Map<string, HTMLCanvasElement>();
  const card = (song: SongInfo, playing: boolean): HTMLElement => {
    let thumb = thumbs.get(song.song_id);
    if (!thumb) {
      thumb = h("canvas", { class: "song-thumb", "data-testid": "song-thumb", "aria-hidden": "true" });
      paintThumbnail(thumb, thumbnailImage(song));
      thumbs.set(song.song_id, thumb);
    }
    const d = song.decision;
    const albumInfo = song.album_id === null ? undefined : room.state.albums.find((a) => a.album_id === song.album_id);
    // album positions are 1-based (the server numbers tracks from 1; a single has 0)
    const album = song.album_id === null ? null : `track ${song.position}${albumInfo ? ` of “${albumInfo.name}”` : ""}`;
    return h(
      "div",
      { class: `song-card${d ? ` song-${d}` : ""}${playing ? " song-playing" : ""}`, role: "listitem", "data-testid": "song-card", "data-song": song.song_id, "data-decision": d ?? "" },
      thumb,
      h(
        "div",
        { class: "song-body" },
        h("div", { class: "song-name", title: song.name }, song.name),
        h(
          "div",
          { class: "small muted" },
          [
            formatDuration(song.duration_s),
            // album songs carry 63-bit seeds a JS number cannot hold exactly: only small ones are shown
            Number.isSafeInteger(song.seed) && song.seed <= MAX_SEED ? `seed ${song.seed}` : null,
            song.loudness_lufs !== null ? `${song.loudness_lufs.toFixed(1)} LUFS` : null,
          ]
            .filter((x) => x !== null)
            .join(" · "),
        ),
        album ? h("div", { class: "small muted song-album", title: album }, album) : null,
        h("div", { class: "small muted song-structure", title: song.structure }, shortStructure(song.structure)),
        h(
          "div",
          { class: "song-actions" },
          h("button", { class: "icon-button", "aria-label": playing ? "Stop" : `Play ${song.name}`, "aria-pressed": String(playing), "data-testid": "song-play", onclick: () => room.playSong(song.song_id) }, icon(playing ? ICONS.stop : ICONS.play)),
          h("button", { class: "toggle", "aria-pressed": String(d === "keep"), "data-testid": "song-keep", onclick: () => void room.decide(song.song_id, "keep") }, "Keep"),
          h("button", { class: "toggle", "aria-pressed": String(d === "reject"), "data-testid": "song-reject", onclick: () => void room.decide(song.song_id, "reject") }, "Reject"),
          h(
            "button",
            {
              class: "icon-button danger",
              "aria-label": `Delete ${song.name}`,
              "data-testid": "song-delete",
              onclick: () => {
                if (confirm(`Delete “${song.name}” and its audio?`)) void room.deleteSong(song.song_id);
              },
            },
            icon(ICONS.trash),
          ),
        ),
      ),
    );
  };
  room.store.watch(["songs", "playing", "albums"], (s) => {
    const playingId = s.playing?.what === "song" ? s.playing.songId : null;
    const ids = new Set(s.songs.map((x) => x.song_id));
    for (const id of [...thumbs.keys()]) if (!ids.has(id)) thumbs.delete(id);
    replaceChildren(
      cards,
      s.songs.length === 0 ? h("p", { class: "muted" }, "No songs yet: set up a song and press Make song (or Make album).") : null,
      s.songs.map((song) => card(song, song.song_id === playingId)),
    );
    const t = tally(s.songs);
    songCount.textContent = s.songs.length ? `${s.songs.length} · ${t.keep} kept · ${t.reject} rejected` : "";
  });

  // --- manipulations ---------------------------------------------------------------------------
  const manipSound = h("select", { "aria-label": "Sound", "data-testid": "manip-sound", onchange: () => room.setManip({ soundId: manipSound.value || null }) });
  const manipOp = h(
    "select",
    { "aria-label": "Manipulation", "data-testid": "manip-op", onchange: () => room.setManip({ op: (MANIP_OPS.find(([k]) => k === manipOp.value)?.[0] ?? "stretch") satisfies ManipOp }) },
    MANIP_OPS.map(([k, label]) => h("option", { value: k }, label)),
  );
  const manipOther = h("select", { "aria-label": "Second sound", "data-testid": "manip-other", onchange: () => room.setManip({ otherSoundId: manipOther.value || null }) });
  const manipFactor = h("input", { type: "number", min: FACTOR_RANGE[0], max: FACTOR_RANGE[1], step: 0.25, "aria-label": "Stretch factor", "data-testid": "manip-factor", oninput: () => room.setManip({ factor: num(manipFactor, 1) }) });
  const manipMix = h("input", { type: "range", min: 0, max: 1, step: 0.05, "aria-label": "Blend mix", "data-testid": "manip-mix", oninput: () => room.setManip({ mix: num(manipMix, 0.5) }) });
  const manipXfade = h("input", { type: "number", min: 0, max: 60, step: 0.5, "aria-label": "Crossfade seconds", "data-testid": "manip-crossfade", oninput: () => room.setManip({ crossfadeS: num(manipXfade, 4) }) });
  const manipPlay = h("button", { class: "button", "data-testid": "manip-play", onclick: () => room.audition() });
  const factorField = field("Factor", manipFactor);
  const otherField = field("With", manipOther);
  const mixField = field("Mix", manipMix);
  const xfadeField = field("Seconds", manipXfade);
  const manipPanel = h(
    "section",
    { class: "panel timbre-manip", "aria-label": "Manipulations" },
    h("div", { class: "panel-head" }, h("h2", {}, "Manipulations")),
    h("p", { class: "small muted" }, "Stretch a sound without changing its pitch, blend two, or morph one into the other, through the model's latent space."),
    h("div", { class: "tgrid" }, field("Sound", manipSound), field("Do", manipOp), factorField, otherField, mixField, xfadeField),
    h("div", { class: "timbre-row" }, manipPlay),
  );
  const fillManip = (): void => {
    const m = room.manipSettings();
    const options = (selected: string | null): HTMLOptionElement[] => room.sounds.map((snd) => h("option", { value: snd.sound_id, selected: snd.sound_id === selected }, snd.name));
    replaceChildren(manipSound, room.sounds.length ? options(m.soundId) : h("option", { value: "" }, "no sounds yet"));
    replaceChildren(manipOther, room.sounds.length ? options(m.otherSoundId) : h("option", { value: "" }, "no sounds yet"));
    manipOp.value = m.op;
    setValue(manipFactor, String(m.factor));
    setValue(manipMix, String(m.mix));
    setValue(manipXfade, String(m.crossfadeS));
    factorField.hidden = m.op !== "stretch" && m.op !== "nmf_stretch";
    otherField.hidden = m.op !== "blend" && m.op !== "crossfade";
    mixField.hidden = m.op !== "blend";
    xfadeField.hidden = m.op !== "crossfade";
    const on = room.state.playing?.what === "manipulation";
    replaceChildren(manipPlay, icon(on ? ICONS.stop : ICONS.play), on ? "Stop" : "Audition");
    manipPlay.setAttribute("aria-pressed", String(on));
    manipPlay.disabled = room.sounds.length === 0;
  };
  room.store.watch(["manip", "playing"], fillManip);
  room.studio.store.watch(["sounds"], fillManip);

  const root = h(
    "section",
    { class: "timbre-room", "aria-label": "Timbre", "data-testid": "timbre-room", hidden: true },
    modelBar,
    h("div", { class: "timbre-main" }, mapPanel, h("div", { class: "timbre-side" }, formPanel, manipPanel)),
    songsPanel,
  );

  window.addEventListener("keydown", (e) => {
    if (root.hidden || e.ctrlKey || e.metaKey || e.altKey) return;
    const t = e.target;
    const typing =
      (t instanceof HTMLInputElement && !["range", "checkbox", "button"].includes(t.type)) || t instanceof HTMLTextAreaElement || t instanceof HTMLSelectElement;
    if (e.key === "Escape") {
      if (t instanceof HTMLElement && typing) t.blur();
      room.escape();
      return;
    }
    if (typing) return;
    const key = e.key.toLowerCase();
    if (e.key === " ") {
      e.preventDefault();
      room.togglePlay(performance.now());
    } else if (key === "m") {
      void room.makeSong();
    } else if (key === "l") {
      room.setLasso(!room.state.lassoOn);
    } else if (key === "p") {
      room.pinMarker();
    }
  });
  return root;
}
