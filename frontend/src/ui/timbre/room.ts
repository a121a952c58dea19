/**
 * The timbre room: a map of the user's timbres (a VAE's latent space in 2-D), hover to hear,
 * click to place a looping marker, lasso a region; songs drawn as paths through that space
 * (one, or an album), curated with keep/reject; NSynth-style manipulations of sounds.
 *
 * It shares the tab's socket client and the studio's audio engine (one AudioContext per page): a
 * play here stops whatever the studio plays. Every audio request goes through the socket
 * worker's clip cache, keyed so that hovering the same point again starts at once.
 */
import type {
  AlbumInfo,
  MapPointInfo,
  PinRef,
  ServerFrame,
  SongInfo,
  SongParams,
  SoundInfo,
  TimbreMapFrame,
  TimbreModelInfo,
  TrainingSetInfo,
} from "@shared/protocol";
import type { ResidueClient, StreamRequest } from "../../net/client";
import { ServerError } from "../../net/correlate";
import { Store } from "../store";
import type { Toasts } from "../toast";
import { FALLBACK_FORM, formFromDefaults, formProblem, randomSeed, songParams, type SongForm } from "./form";
import { DEFAULT_MANIP, manipRequest, type ManipSettings } from "./manip";
import {
  fitView,
  nearestPoint,
  pan,
  pinch,
  pointsInPolygon,
  simplifyPolygon,
  toMap,
  toScreen,
  zoomAt,
  type Size,
  type Vec,
  type View,
} from "./map";
import { credentials } from "../../net/auth";
import { applyDecision, removeSong, sortSongs, swipeLink, upsertSong } from "./songs";
import { BROWSER_TIMERS, Debounce, Throttle, type Timers } from "./timing";

/** What the room needs of the page's toasts. */
export type ToastPort = Pick<Toasts, "show">;

/** One request per this many ms while the pointer moves over the map. */
export const PREVIEW_INTERVAL_MS = 120;
/** Grammar checks wait for this pause in typing. */
export const GRAMMAR_DEBOUNCE_MS = 250;
/** Seconds of drone a preview asks for (it loops). */
export const PREVIEW_SECONDS = 2;
/** Hover radius around a point, in CSS pixels. */
export const HIT_RADIUS_PX = 9;
export const DEFAULT_ALBUM_SONGS = 50;

export type JobKind = "map" | "clips" | "train" | "song" | "album";

export interface Job {
  readonly kind: JobKind;
  readonly requestId: number;
  readonly fraction: number;
  readonly stage: string;
}

/** What a preview plays: a point of the map exactly, or the latent under a map position. */
export type Target = { readonly point: number } | { readonly x: number; readonly y: number };

/** A song point placed on the map: where, and what it is called. */
export interface Pin {
  readonly target: Target;
  readonly at: Vec;
  readonly label: string;
}

/** Points a song has (A-E): the most that can be pinned. */
export const MAX_PINS = 5;
/** The letter of pin `i`. */
export const PIN_LETTERS = "ABCDE";

export type Playing =
  | { readonly what: "preview"; readonly target: Target; readonly gen: number }
  | { readonly what: "marker"; readonly gen: number }
  | { readonly what: "song"; readonly songId: string; readonly gen: number }
  | { readonly what: "manipulation"; readonly key: string; readonly gen: number };

export interface GrammarStatus {
  readonly status: "idle" | "checking" | "ok" | "error";
  readonly error: string | null;
  readonly example: string | null;
}

export interface TimbreRoomState {
  readonly loaded: boolean;
  readonly models: readonly TimbreModelInfo[];
  readonly defaultModelId: string | null;
  readonly sets: readonly TrainingSetInfo[];
  readonly albums: readonly AlbumInfo[];
  readonly criteria: readonly string[];
  readonly ambiences: readonly string[];
  readonly mapMethods: readonly string[];
  readonly maxAlbumSongs: number;
  readonly defaults: SongParams;
  /** The chosen model (null: the server's default) and training set (null: none, anchors only). */
  readonly modelId: string | null;
  readonly setId: string | null;
  readonly method: string;
  readonly epochs: number | null;
  readonly map: TimbreMapFrame | null;
  readonly modelJob: Job | null;
  /** The loss curve shown: the live one while training, else the chosen model's. */
  readonly loss: readonly number[];
  readonly lossEpochs: number;
  readonly size: Size;
  readonly view: View | null;
  readonly fitScale: number;
  readonly hover: { readonly target: Target; readonly label: string } | null;
  readonly hearOnHover: boolean;
  readonly marker: { readonly target: Target; readonly at: Vec; readonly label: string } | null;
  /** Points pinned as the song's A, B, ... (up to five), in order. */
  readonly pins: readonly Pin[];
  readonly lassoOn: boolean;
  /** The lasso's polygon in map coordinates, and the points inside it. */
  readonly region: readonly Vec[] | null;
  readonly selected: readonly number[];
  readonly form: SongForm;
  readonly grammar: GrammarStatus;
  readonly songJob: Job | null;
  readonly albumSongs: number;
  readonly albumName: string;
  readonly albumFilter: string | null;
  readonly songs: readonly SongInfo[];
  readonly playing: Playing | null;
  /** What space plays again. */
  readonly last: Playing | null;
  readonly manip: ManipSettings;
  /** Songs made by this tab (tests). */
  readonly made: number;
}

const INITIAL: TimbreRoomState = {
  loaded: false,
  models: [],
  defaultModelId: null,
  sets: [],
  albums: [],
  criteria: ["centroid", "loudness", "weirdness", "region", "random"],
  ambiences: ["off", "wind", "rain", "waves", "sounds"],
  mapMethods: ["pca"],
  maxAlbumSongs: 500,
  defaults: {},
  modelId: null,
  setId: null,
  method: "pca",
  epochs: null,
  map: null,
  modelJob: null,
  loss: [],
  lossEpochs: 0,
  size: { width: 600, height: 400 },
  view: null,
  fitScale: 1,
  hover: null,
  hearOnHover: true,
  marker: null,
  pins: [],
  lassoOn: false,
  region: null,
  selected: [],
  form: FALLBACK_FORM,
  grammar: { status: "idle", error: null, example: null },
  songJob: null,
  albumSongs: DEFAULT_ALBUM_SONGS,
  albumName: "",
  albumFilter: null,
  songs: [],
  playing: null,
  last: null,
  manip: DEFAULT_MANIP,
  made: 0,
};

/**
 * Something the engine plays as stream `gen` (the engine's `StreamSource`, restated so that
 * tests of this room need not load the engine and its worklet).
 */
export interface StreamSource {
  readonly label: string;
  open(gen: number): void;
  close(gen: number): void;
}

/** What the room needs of the engine (the studio's AudioEngine). */
export interface EnginePort {
  play(source: StreamSource, clickAt?: number | null): number;
  stop(): void;
  setLoop(on: boolean): void;
  on(event: "state", listener: (payload: { status: "idle" | "loading" | "playing"; gen: number; label: string }) => void): () => void;
}

/** What the room needs of the studio: its sounds, its open decompositions, its engine. */
export interface StudioPort {
  readonly state: { readonly sounds: readonly SoundInfo[]; readonly currentBySound: Readonly<Record<string, string>>; readonly loop: boolean };
  readonly store: { watch(keys: readonly "sounds"[], fn: (state: { readonly sounds: readonly SoundInfo[] }) => void): () => void };
  readonly engine: EnginePort | null;
  warmUp(): Promise<EnginePort>;
  stop(): void;
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function isCancel(err: unknown): boolean {
  return err instanceof ServerError && err.code === "cancelled";
}

/** A label for a point: its name and kind. */
export function pointLabel(p: MapPointInfo): string {
  const kind = p.kind === "clip" ? "clip" : p.kind === "component" ? "library component" : "model sound";
  return `${p.label} (${kind}${p.flagged ? ", transient" : ""})`;
}

export class TimbreRoom {
  readonly store = new Store<TimbreRoomState>(INITIAL);
  readonly studio: StudioPort;
  readonly #client: ResidueClient;
  readonly #toasts: ToastPort;
  readonly #preview: Throttle<Target>;
  readonly #grammarCheck: Debounce<string>;
  #grammarSeq = 0;
  #engineHooked: EnginePort | null = null;
  #playSeq = 0;
  #opening: Promise<void> | null = null;
  /** The view still shows the whole map (no pan or zoom since): a resize fits it again. */
  #autoFit = true;
  /** The canvas the map is drawn on (for page coordinates in the debug hook). */
  canvas: { getBoundingClientRect(): { left: number; top: number } } | null = null;

  constructor(client: ResidueClient, studio: StudioPort, toasts: ToastPort, timers: Timers = BROWSER_TIMERS) {
    this.#client = client;
    this.studio = studio;
    this.#toasts = toasts;
    this.#preview = new Throttle(PREVIEW_INTERVAL_MS, (t) => this.#playPreview(t), timers);
    this.#grammarCheck = new Debounce(GRAMMAR_DEBOUNCE_MS, (g) => void this.#checkGrammar(g), timers);
    client.on("stream", (ev) => {
      if (ev.event === "error" && this.state.playing?.gen === ev.gen) this.store.set({ playing: null });
    });
    client.on("event", (f) => this.#event(f));
    client.on("welcome", () => {
      // a reconnect: catch up on what changed meanwhile (a restarted server forgot its maps)
      if (this.state.loaded) void this.refresh().then(() => Promise.all([this.loadMap(), this.listSongs(this.state.albumFilter)]));
    });
  }

  get state(): TimbreRoomState {
    return this.store.state;
  }
  /** What plays here, for the others in the session (null: nothing). */
  nowPlaying(): string | null {
    const p = this.state.playing;
    if (!p) return null;
    switch (p.what) {
      case "preview":
      case "marker":
        return "timbre map";
      case "song":
        return `song: ${this.state.songs.find((s) => s.song_id === p.songId)?.name ?? "a song"}`;
      case "manipulation":
        return "timbre manipulation";
    }
  }


  get sounds(): readonly SoundInfo[] {
    return this.studio.state.sounds;
  }

  // --- loading ---------------------------------------------------------------------------------

  /** The first time the room is shown: lists, the map (training the default model if needed), songs. */
  open(): Promise<void> {
    if (this.state.loaded) return Promise.resolve();
    this.#opening ??= this.#open().finally(() => {
      this.#opening = null;
    });
    return this.#opening;
  }

  async #open(): Promise<void> {
    await this.refresh();
    if (!this.state.loaded) return;
    this.checkGrammarNow();
    await Promise.all([this.loadMap(), this.listSongs(this.state.albumFilter)]);
  }

  /** Models, training sets, albums and the song defaults. */
  async refresh(): Promise<void> {
    try {
      const first = !this.state.loaded;
      const s = await this.#client.request({ type: "get_timbre_state" }, "timbre_state").done;
      const modelKnown = s.models.some((m) => m.model_id === this.state.modelId);
      const setKnown = s.sets.some((x) => x.set_id === this.state.setId);
      this.store.set({
        loaded: true,
        models: s.models,
        defaultModelId: s.default_model_id,
        sets: s.sets,
        albums: s.albums,
        criteria: s.criteria.length ? s.criteria : INITIAL.criteria,
        ambiences: s.ambiences.length ? s.ambiences : INITIAL.ambiences,
        mapMethods: s.map_methods.length ? s.map_methods : INITIAL.mapMethods,
        maxAlbumSongs: s.max_album_songs,
        defaults: s.defaults,
        modelId: modelKnown ? this.state.modelId : s.default_model_id,
        setId: setKnown ? this.state.setId : null,
        albumFilter: s.albums.some((a) => a.album_id === this.state.albumFilter) ? this.state.albumFilter : null,
        ...(first ? { form: formFromDefaults(s.defaults), albumSongs: Math.min(DEFAULT_ALBUM_SONGS, s.max_album_songs) } : {}),
      });
      if (!this.state.modelJob || this.state.modelJob.kind === "map") this.#showModelLoss();
    } catch (err) {
      this.#toasts.show(`Could not load the timbre room: ${messageOf(err)}`, "error");
    }
  }

  /** The map of the chosen model and set (a fresh install trains the default model first). */
  async loadMap(): Promise<void> {
    if (this.state.modelJob) return;
    const pending = this.#client.request(
      { type: "get_timbre_map", model_id: this.state.modelId, set_id: this.state.setId, method: this.#method() },
      "timbre_map",
      { onFrame: (f) => this.#progress("modelJob", f) },
    );
    this.store.set({ modelJob: { kind: "map", requestId: pending.requestId, fraction: 0, stage: "loading the map" } });
    try {
      const map = await pending.done;
      const same = this.state.map?.map_id === map.map_id;
      this.store.set({
        map,
        ...(same ? {} : { region: null, selected: [], marker: null, pins: [], hover: null, view: null }),
        modelId: map.model_id,
      });
      if (!same) {
        this.fit();
        if (this.state.form.criterion === "region") this.#setForm({ criterion: this.#defaultCriterion() });
      }
      // a fresh install has just trained the default model: list it
      if (!this.state.models.some((m) => m.model_id === map.model_id)) {
        this.#endJob("modelJob", pending.requestId);
        await this.refresh();
      }
    } catch (err) {
      if (isCancel(err)) this.#toasts.show("Stopped: the map was not made.");
      else this.#toasts.show(`Could not make the map: ${messageOf(err)}`, "error");
    } finally {
      this.#endJob("modelJob", pending.requestId);
      this.#showModelLoss();
    }
  }

  setModel(modelId: string): void {
    if (modelId === this.state.modelId) return;
    this.store.set({ modelId });
    this.#showModelLoss();
    void this.loadMap();
  }

  setSet(setId: string | null): void {
    if (setId === this.state.setId) return;
    this.store.set({ setId });
    void this.loadMap();
  }

  setMethod(method: string): void {
    if (method === this.state.method) return;
    this.store.set({ method });
    void this.loadMap();
  }

  setEpochs(epochs: number | null): void {
    this.store.set({ epochs: epochs !== null && Number.isFinite(epochs) ? Math.max(1, Math.min(1000, Math.round(epochs))) : null });
  }

  #method(): "pca" | "umap" {
    return this.state.method === "umap" ? "umap" : "pca";
  }

  #showModelLoss(): void {
    const m = this.state.models.find((x) => x.model_id === this.state.modelId);
    this.store.set({ loss: m?.loss ?? [], lossEpochs: m?.loss.length ?? 0 });
  }

  /** Cut clips from every sound of the session (drums and abrupt starts are flagged). */
  async buildTrainingSet(name = "library"): Promise<TrainingSetInfo | null> {
    if (this.state.modelJob) return null;
    const pending = this.#client.request({ type: "build_training_set", name: name.trim().slice(0, 120) || "library", sound_ids: null }, "training_set_built", {
      onFrame: (f) => this.#progress("modelJob", f),
    });
    this.store.set({ modelJob: { kind: "clips", requestId: pending.requestId, fraction: 0, stage: "cutting clips" } });
    try {
      const built = await pending.done;
      this.store.set({ sets: [built.set, ...this.state.sets.filter((s) => s.set_id !== built.set.set_id)], setId: built.set.set_id });
      this.#toasts.show(`Cut ${built.set.n_clips} clips (${built.set.n_usable} usable): train a model on them, or see them on the map.`);
      this.#endJob("modelJob", pending.requestId);
      void this.loadMap();
      return built.set;
    } catch (err) {
      if (isCancel(err)) this.#toasts.show("Stopped cutting clips.");
      else this.#toasts.show(`Could not cut clips: ${messageOf(err)}`, "error");
      return null;
    } finally {
      this.#endJob("modelJob", pending.requestId);
    }
  }

  /** Train a model on the chosen training set; the loss curve grows per epoch; then it is chosen. */
  async train(): Promise<TimbreModelInfo | null> {
    const setId = this.state.setId;
    if (this.state.modelJob) return null;
    if (setId === null) {
      this.#toasts.show("Cut clips from your sounds first (or choose a training set): a model learns from them.", "error");
      return null;
    }
    const loss: number[] = [];
    const pending = this.#client.request({ type: "train_model", set_id: setId, epochs: this.state.epochs, seed: 0 }, "model_trained", {
      onFrame: (f) => {
        if (f.type === "training_epoch") {
          loss[f.epoch - 1] = f.loss;
          this.store.set({ loss: loss.map((v) => v ?? Number.NaN), lossEpochs: f.epochs });
        } else this.#progress("modelJob", f);
      },
    });
    this.store.set({ modelJob: { kind: "train", requestId: pending.requestId, fraction: 0, stage: "training" }, loss: [], lossEpochs: this.state.epochs ?? 0 });
    try {
      const done = await pending.done;
      this.store.set({ models: [done.model, ...this.state.models.filter((m) => m.model_id !== done.model.model_id)], modelId: done.model.model_id });
      this.#toasts.show(`Trained a model on ${done.model.n_clips} clips.`);
      this.#endJob("modelJob", pending.requestId);
      this.#showModelLoss();
      void this.loadMap();
      return done.model;
    } catch (err) {
      if (isCancel(err)) this.#toasts.show("Training stopped.");
      else this.#toasts.show(`Could not train: ${messageOf(err)}`, "error");
      return null;
    } finally {
      if (this.#endJob("modelJob", pending.requestId)) this.#showModelLoss();
    }
  }

  cancelModelJob(): void {
    this.#cancel(this.state.modelJob);
  }

  #cancel(job: Job | null): void {
    if (job) void this.#client.cancel(job.requestId).catch(() => undefined);
  }

  #progress(slot: "modelJob" | "songJob", f: ServerFrame): void {
    const job = this.state[slot];
    if (f.type === "job_progress" && job && job.requestId === f.request_id) {
      this.store.set({ [slot]: { ...job, fraction: f.fraction, stage: f.stage } });
    }
  }

  /** Clear a job slot if it still holds `requestId`; true if it did. */
  #endJob(slot: "modelJob" | "songJob", requestId: number): boolean {
    if (this.state[slot]?.requestId !== requestId) return false;
    this.store.set({ [slot]: null });
    return true;
  }

  // --- the map view ----------------------------------------------------------------------------

  /** Map coordinates of the points (in the map's order). */
  points(): readonly MapPointInfo[] {
    return this.state.map?.points ?? [];
  }

  setSize(size: Size): void {
    const old = this.state.size;
    if (old.width === size.width && old.height === size.height) return;
    this.store.set({ size });
    if (this.state.view === null || this.#autoFit) this.fit();
  }

  /** Show every point. */
  fit(): void {
    const view = fitView(this.points(), this.state.size);
    this.#autoFit = true;
    this.store.set({ view, fitScale: view.scale });
  }

  zoomBy(factor: number, anchor: Vec | null = null): void {
    const view = this.state.view;
    if (!view) return;
    const size = this.state.size;
    this.#autoFit = false;
    this.store.set({ view: zoomAt(view, size, anchor ?? { x: size.width / 2, y: size.height / 2 }, factor, this.state.fitScale) });
  }

  panBy(dxPx: number, dyPx: number): void {
    const view = this.state.view;
    if (!view) return;
    this.#autoFit = false;
    this.store.set({ view: pan(view, dxPx, dyPx) });
  }

  pinch(a0: Vec, b0: Vec, a1: Vec, b1: Vec): void {
    const view = this.state.view;
    if (!view) return;
    this.#autoFit = false;
    this.store.set({ view: pinch(view, this.state.size, a0, b0, a1, b1, this.state.fitScale) });
  }

  /** Screen position (canvas CSS pixels) of every point. */
  screenPoints(): Vec[] {
    const view = this.state.view;
    if (!view) return [];
    return this.points().map((p) => toScreen(view, this.state.size, p));
  }

  /** What is under screen position `s`: the nearest point within the hit radius, else that map position. */
  targetAt(s: Vec): { target: Target; at: Vec; label: string } | null {
    const view = this.state.view;
    if (!view || !this.state.map) return null;
    const points = this.points();
    const i = nearestPoint(points, view, this.state.size, s, HIT_RADIUS_PX);
    const p = i === null ? undefined : points[i];
    if (i !== null && p) return { target: { point: i }, at: { x: p.x, y: p.y }, label: pointLabel(p) };
    const m = toMap(view, this.state.size, s);
    // two-pixel steps: a small wobble of the hand asks for the same (cached) drone
    const step = 2 / view.scale;
    const at = { x: Math.round(m.x / step) * step, y: Math.round(m.y / step) * step };
    return { target: at, at, label: `between points (${at.x.toFixed(2)}, ${at.y.toFixed(2)})` };
  }

  // --- listening on the map --------------------------------------------------------------------

  setHearOnHover(on: boolean): void {
    this.store.set({ hearOnHover: on });
    if (!on) this.leave();
  }

  /** The pointer is over screen position `s` (canvas pixels): label it, hear it (throttled). */
  hoverAt(s: Vec): void {
    const t = this.targetAt(s);
    if (!t) return;
    const prev = this.state.hover?.target;
    this.store.set({ hover: { target: t.target, label: t.label } });
    if (!this.state.hearOnHover) return;
    if (prev && sameTarget(prev, t.target)) return;
    this.#preview.push(t.target);
  }

  /** The pointer left the map: stop hearing it (back to the marker's loop if there is one). */
  leave(): void {
    this.#preview.cancel();
    this.store.set({ hover: null });
    if (this.state.playing?.what !== "preview") return;
    const marker = this.state.marker;
    if (marker) this.#playTarget(marker.target, "marker", performance.now());
    else this.stop();
  }

  /** Click: place a marker there and hear it looping (again on the marker: stop). */
  placeMarker(s: Vec, clickAt: number = performance.now()): void {
    const t = this.targetAt(s);
    if (!t) return;
    this.#preview.cancel();
    this.store.set({ marker: { target: t.target, at: t.at, label: t.label } });
    this.#playTarget(t.target, "marker", clickAt);
  }

  /** Hear a point of the map (the lasso's list). */
  playPoint(index: number, clickAt: number = performance.now()): void {
    const p = this.points()[index];
    if (!p) return;
    this.store.set({ marker: { target: { point: index }, at: { x: p.x, y: p.y }, label: pointLabel(p) } });
    this.#playTarget({ point: index }, "marker", clickAt);
  }

  clearMarker(): void {
    if (this.state.playing?.what === "marker") this.stop();
    this.store.set({ marker: null });
  }

  /** Pin the marker as the song's next point (A, then B, ...); pinned again: unpinned. */
  pinMarker(): void {
    const marker = this.state.marker;
    if (!marker) return;
    const same = this.state.pins.findIndex((p) => sameTarget(p.target, marker.target));
    if (same >= 0) {
      this.unpin(same);
      return;
    }
    if (this.state.pins.length >= MAX_PINS) {
      this.#toasts.show(`A song has ${MAX_PINS} points: unpin one first.`, "error");
      return;
    }
    this.store.set({ pins: [...this.state.pins, marker] });
  }

  unpin(index: number): void {
    this.store.set({ pins: this.state.pins.filter((_, i) => i !== index) });
  }

  clearPins(): void {
    this.store.set({ pins: [] });
  }

  #playPreview(target: Target): void {
    if (!this.state.hover) return; // the pointer left before the throttle fired
    this.#playTarget(target, "preview", performance.now());
  }

  #playTarget(target: Target, what: "preview" | "marker", clickAt: number): void {
    const map = this.state.map;
    if (!map) return;
    const frame: StreamRequest =
      "point" in target
        ? { type: "preview_point", map_id: map.map_id, point: target.point, seconds: PREVIEW_SECONDS }
        : { type: "preview_point", map_id: map.map_id, x: target.x, y: target.y, point: null, seconds: PREVIEW_SECONDS };
    const key = "point" in target ? `timbre:${map.map_id}:p${target.point}` : `timbre:${map.map_id}:${target.x.toPrecision(6)},${target.y.toPrecision(6)}`;
    const label = "point" in target ? (map.points[target.point]?.label ?? "point") : "timbre";
    this.#play(what === "preview" ? { what, target, gen: -1 } : { what, gen: -1 }, key, frame, label, true, clickAt);
  }

  // --- the lasso -------------------------------------------------------------------------------

  setLasso(on: boolean): void {
    this.store.set({ lassoOn: on });
  }

  /**
   * A lasso stroke (canvas pixels) ends: its polygon (simplified to the wire's limit) becomes the
   * region, the points inside it are selected, and the song criterion becomes "region".
   */
  lassoDone(stroke: readonly Vec[]): void {
    const view = this.state.view;
    if (!view || !this.state.map) return;
    const polygon = simplifyPolygon(
      stroke.map((s) => toMap(view, this.state.size, s)),
      1.5 / view.scale,
    );
    if (polygon.length < 3) return;
    const selected = pointsInPolygon(this.points(), polygon);
    if (this.state.map.method !== "pca") {
      // UMAP places points with no way back to the latent space: a region cannot steer a song
      this.store.set({ region: null, selected });
      this.#toasts.show("Selected. A song region needs the PCA map: switch Map to PCA to draw one.");
      return;
    }
    this.store.set({ region: polygon, selected });
    if (this.state.criteria.includes("region")) this.#setForm({ criterion: "region" });
  }

  clearRegion(): void {
    this.store.set({ region: null, selected: [] });
    if (this.state.form.criterion === "region") this.#setForm({ criterion: this.#defaultCriterion() });
  }

  #defaultCriterion(): string {
    const d = this.state.defaults.criterion;
    return d && d !== "region" ? d : (this.state.criteria.find((c) => c !== "region") ?? "weirdness");
  }

  // --- the song form ---------------------------------------------------------------------------

  setForm(patch: Partial<SongForm>): void {
    this.#setForm(patch);
  }

  #setForm(patch: Partial<SongForm>): void {
    const before = this.state.form;
    this.store.set({ form: { ...before, ...patch } });
    if (patch.grammar !== undefined && patch.grammar !== before.grammar) this.#queueGrammar();
    else if (patch.seed !== undefined && patch.seed !== before.seed) this.#queueGrammar();
  }

  rollSeed(random: () => number = Math.random): void {
    this.#setForm({ seed: randomSeed(random) });
  }

  resetGrammar(): void {
    this.#setForm({ grammar: this.state.defaults.grammar ?? "" });
  }

  toggleEffect(soundId: string, on: boolean): void {
    const effects = this.state.form.effects.filter((id) => id !== soundId);
    this.#setForm({ effects: on ? [...effects, soundId] : effects });
  }

  /** What stops "Make song", in words (null: it may go). */
  problem(): string | null {
    if (this.state.grammar.status === "error") return `The grammar is not valid: ${this.state.grammar.error ?? "see above"}.`;
    return formProblem(this.state.form, this.state.region);
  }

  #queueGrammar(): void {
    this.store.set({ grammar: { ...this.state.grammar, status: "checking" } });
    this.#grammarCheck.push(this.state.form.grammar);
  }

  /** Check the grammar now (not debounced). */
  checkGrammarNow(): void {
    this.#grammarCheck.cancel();
    void this.#checkGrammar(this.state.form.grammar);
  }

  async #checkGrammar(grammar: string): Promise<void> {
    const seq = ++this.#grammarSeq;
    // an empty grammar is the server's default
    const text = grammar.trim() ? grammar : (this.state.defaults.grammar ?? "");
    if (!text.trim()) {
      this.store.set({ grammar: { status: "idle", error: null, example: null } });
      return;
    }
    this.store.set({ grammar: { ...this.state.grammar, status: "checking" } });
    try {
      const r = await this.#client.request({ type: "check_grammar", grammar: text, seed: this.state.form.seed }, "grammar_checked").done;
      if (seq !== this.#grammarSeq) return; // a newer check is under way
      this.store.set({ grammar: { status: r.ok ? "ok" : "error", error: r.ok ? null : (r.error ?? "invalid grammar"), example: r.example ?? null } });
    } catch (err) {
      if (seq !== this.#grammarSeq) return;
      // the server checks again when the song is made: do not block on a failed check
      this.store.set({ grammar: { status: "idle", error: null, example: null } });
      this.#toasts.show(`Could not check the grammar: ${messageOf(err)}`, "error");
    }
  }

  // --- curating on a phone ---------------------------------------------------------------------

  /**
   * A link a phone on the same network opens the swipe page with (the shown album), carrying a
   * fresh sharing token of this session; or why there is none (the server says where a phone
   * finds it, see `welcome.phone_url`).
   */
  async phoneLink(): Promise<{ readonly url: string | null; readonly note: string }> {
    const welcome = this.#client.welcome;
    const base = welcome?.phone_url ?? null;
    if (!base) return { url: null, note: welcome?.phone_note || "This server did not say where a phone can reach it." };
    let creds = credentials();
    try {
      const made = await this.#client.createInvite("phone");
      creds = { sessionId: made.sessionId, token: made.token };
    } catch (err) {
      // not this session's owner: the link this tab entered with still works on a phone
      if (creds.token === null) return { url: null, note: `Only the session's owner can make a phone link: ${err instanceof Error ? err.message : String(err)}` };
    }
    return { url: swipeLink(base, this.state.albumFilter, creds), note: welcome?.phone_note ?? "" };
  }

  // --- songs -----------------------------------------------------------------------------------

  #songRequest(): { params: SongParams; model_id: string | null; set_id: string | null; map_id: string | null } | null {
    const problem = this.problem();
    if (problem) {
      this.#toasts.show(problem, "error");
      return null;
    }
    const region = this.state.form.criterion === "region" ? this.state.region : null;
    const pins = this.state.pins.map((p): PinRef => ("point" in p.target ? { point: p.target.point } : { point: null, x: p.target.x, y: p.target.y }));
    return {
      params: { ...songParams(this.state.form, region), pins: pins.length ? pins : null },
      model_id: this.state.map?.model_id ?? this.state.modelId,
      // the training set of the map the region was drawn on
      set_id: region ? (this.state.map?.set_id ?? null) : null,
      // the map the pins were placed on
      map_id: pins.length ? (this.state.map?.map_id ?? null) : null,
    };
  }

  /** Render one song with the form's settings; it appears in the list. */
  async makeSong(): Promise<SongInfo | null> {
    if (this.state.songJob) return null;
    const req = this.#songRequest();
    if (!req) return null;
    const pending = this.#client.request({ type: "create_song", ...req }, "song_added", { onFrame: (f) => this.#progress("songJob", f) });
    this.store.set({ songJob: { kind: "song", requestId: pending.requestId, fraction: 0, stage: "starting" } });
    try {
      const added = await pending.done;
      this.#added(added.song);
      this.store.set({ made: this.state.made + 1 });
      this.#toasts.show(`Made “${added.song.name}”.`);
      return added.song;
    } catch (err) {
      if (isCancel(err)) this.#toasts.show("Stopped: no song was made.");
      else this.#toasts.show(`Could not make the song: ${messageOf(err)}`, "error");
      return null;
    } finally {
      this.#endJob("songJob", pending.requestId);
    }
  }

  setAlbumSongs(n: number): void {
    this.store.set({ albumSongs: Number.isFinite(n) ? Math.max(1, Math.min(this.state.maxAlbumSongs, Math.round(n))) : DEFAULT_ALBUM_SONGS });
  }

  setAlbumName(name: string): void {
    this.store.set({ albumName: name.slice(0, 120) });
  }

  /** Generate an album: its songs appear one by one as they are made. */
  async makeAlbum(): Promise<AlbumInfo | null> {
    if (this.state.songJob) return null;
    const req = this.#songRequest();
    if (!req) return null;
    const n = this.state.albumSongs;
    const name = this.state.albumName.trim();
    let made = 0;
    const pending = this.#client.request({ type: "generate_album", n_songs: n, name: name || null, ...req }, "album_made", {
      onFrame: (f) => {
        if (f.type === "song_added") {
          made++;
          this.#added(f.song);
          this.store.set({ made: this.state.made + 1 });
          const job = this.state.songJob;
          if (job) this.store.set({ songJob: { ...job, stage: `song ${made} of ${n}: ${f.song.name}` } });
        } else this.#progress("songJob", f);
      },
    });
    this.store.set({ songJob: { kind: "album", requestId: pending.requestId, fraction: 0, stage: `album of ${n} songs` } });
    try {
      const done = await pending.done;
      this.store.set({ albums: [done.album, ...this.state.albums.filter((a) => a.album_id !== done.album.album_id)] });
      this.#toasts.show(`Album “${done.album.name}”: ${done.album.n_songs} songs. Curate it on a phone from the Songs panel.`);
      // show the new album (track order) with its swipe link
      void this.listSongs(done.album.album_id);
      return done.album;
    } catch (err) {
      if (isCancel(err)) this.#toasts.show(`Stopped the album after ${made} songs.`);
      else this.#toasts.show(`Could not make the album: ${messageOf(err)}`, "error");
      // songs made before a cancel are kept: list the album they went into
      if (made > 0) void this.refresh();
      return null;
    } finally {
      this.#endJob("songJob", pending.requestId);
    }
  }

  cancelSongJob(): void {
    this.#cancel(this.state.songJob);
  }

  /** The songs of an album (track order), or all songs (newest first) for null. */
  async listSongs(albumId: string | null): Promise<void> {
    this.store.set({ albumFilter: albumId });
    try {
      const r = await this.#client.request({ type: "list_songs", album_id: albumId }, "song_list").done;
      if (this.state.albumFilter !== albumId) return;
      this.store.set({ songs: sortSongs(r.songs, albumId), albums: r.albums.length || this.state.albums.length === 0 ? r.albums : this.state.albums });
    } catch (err) {
      this.#toasts.show(`Could not list the songs: ${messageOf(err)}`, "error");
    }
  }

  #added(song: SongInfo): void {
    this.store.set({ songs: upsertSong(this.state.songs, song, this.state.albumFilter) });
  }

  async decide(songId: string, decision: "keep" | "reject"): Promise<void> {
    try {
      const d = await this.#client.request({ type: "decide", kind: "song", item_id: songId, decision }, "decided").done;
      this.store.set({ songs: applyDecision(this.state.songs, d) });
    } catch (err) {
      this.#toasts.show(`Could not ${decision} the song: ${messageOf(err)}`, "error");
    }
  }

  async deleteSong(songId: string): Promise<void> {
    const p = this.state.playing;
    if (p?.what === "song" && p.songId === songId) this.stop();
    try {
      await this.#client.request({ type: "delete_song", song_id: songId }, "ok").done;
      this.store.set({ songs: removeSong(this.state.songs, songId) });
    } catch (err) {
      this.#toasts.show(`Could not delete the song: ${messageOf(err)}`, "error");
    }
  }

  /** Play a song from its start (the same song again: stop). */
  playSong(songId: string, clickAt: number = performance.now()): void {
    const p = this.state.playing;
    if (p?.what === "song" && p.songId === songId) {
      this.stop();
      return;
    }
    const song = this.state.songs.find((s) => s.song_id === songId);
    if (!song) return;
    this.#play({ what: "song", songId, gen: -1 }, `song:${songId}`, { type: "play_item", kind: "song", item_id: songId, start_s: 0, max_s: null }, song.name, false, clickAt);
  }

  #event(f: ServerFrame): void {
    if (f.type === "song_added") this.#added(f.song);
    else if (f.type === "song_removed") {
      const p = this.state.playing;
      if (p?.what === "song" && p.songId === f.song_id) this.stop();
      this.store.set({ songs: removeSong(this.state.songs, f.song_id) });
    } else if (f.type === "decided") this.store.set({ songs: applyDecision(this.state.songs, f) });
    else if (f.type === "album_made") this.store.set({ albums: [f.album, ...this.state.albums.filter((a) => a.album_id !== f.album.album_id)] });
  }

  // --- manipulations ---------------------------------------------------------------------------

  setManip(patch: Partial<ManipSettings>): void {
    this.store.set({ manip: { ...this.state.manip, ...patch } });
  }

  /** The manipulation's sound: the chosen one, else the studio's first. */
  manipSettings(): ManipSettings {
    const m = this.state.manip;
    const ids = this.sounds.map((s) => s.sound_id);
    const soundId = m.soundId !== null && ids.includes(m.soundId) ? m.soundId : (ids[0] ?? null);
    const otherSoundId = m.otherSoundId !== null && ids.includes(m.otherSoundId) ? m.otherSoundId : (ids.find((id) => id !== soundId) ?? null);
    return { ...m, soundId, otherSoundId };
  }

  /** Audition the manipulation (again while it plays: stop). */
  audition(clickAt: number = performance.now()): void {
    if (this.state.playing?.what === "manipulation") {
      this.stop();
      return;
    }
    const names = new Map(this.sounds.map((s) => [s.sound_id, s.name]));
    const r = manipRequest(
      this.manipSettings(),
      this.state.map?.model_id ?? this.state.modelId,
      (id) => this.studio.state.currentBySound[id] ?? null,
      (id) => names.get(id) ?? id,
    );
    if (!r.ok) {
      this.#toasts.show(r.problem, "error");
      return;
    }
    this.#play({ what: "manipulation", key: r.key, gen: -1 }, r.key, r.frame, r.label, true, clickAt);
  }

  // --- playing ---------------------------------------------------------------------------------

  #play(playing: Playing, key: string, frame: StreamRequest, label: string, loop: boolean, clickAt: number): void {
    const client = this.#client;
    const stream: StreamSource = { label, open: (gen) => client.stream(gen, key, frame), close: (gen) => client.stopStream(gen) };
    if (playing.what !== "preview" || this.state.playing === null) this.studio.stop();
    const seq = ++this.#playSeq;
    this.store.set({ playing, last: playing.what === "preview" ? this.state.last : playing });
    void this.studio.warmUp().then((engine) => {
      this.#hook(engine);
      if (seq !== this.#playSeq || this.state.playing !== playing) return;
      engine.setLoop(loop);
      const gen = engine.play(stream, clickAt);
      this.store.set({ playing: { ...playing, gen } });
    });
  }

  /** Space: stop, or play again what played last. */
  togglePlay(clickAt: number = performance.now()): void {
    if (this.state.playing) {
      this.stop();
      return;
    }
    const last = this.state.last;
    if (last?.what === "song") this.playSong(last.songId, clickAt);
    else if (last?.what === "manipulation") this.audition(clickAt);
    else if (this.state.marker) this.#playTarget(this.state.marker.target, "marker", clickAt);
  }

  stop(): void {
    this.#preview.cancel();
    this.#playSeq++;
    if (this.state.playing) this.studio.engine?.stop();
    this.store.set({ playing: null });
  }

  /** Escape: stop; with nothing playing, clear the marker and the region. */
  escape(): void {
    if (this.state.playing) {
      this.stop();
      return;
    }
    if (this.state.marker) this.store.set({ marker: null });
    else if (this.state.region) this.clearRegion();
    else if (this.state.lassoOn) this.setLasso(false);
  }

  /** The room is hidden: stop, and give the engine back the studio's loop setting. */
  hide(): void {
    this.stop();
    this.studio.engine?.setLoop(this.studio.state.loop);
  }

  #hook(engine: EnginePort): void {
    if (this.#engineHooked === engine) return;
    this.#engineHooked = engine;
    engine.on("state", ({ status, gen }) => {
      if (status === "idle" && this.state.playing?.gen === gen) this.store.set({ playing: null });
    });
  }
}

export function sameTarget(a: Target, b: Target): boolean {
  if ("point" in a) return "point" in b && a.point === b.point;
  return !("point" in b) && a.x === b.x && a.y === b.y;
}
