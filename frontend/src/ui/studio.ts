/**
 * The studio: the page's state and every action a musician can take. Views read the store and call
 * these methods; nothing here touches the DOM except downloads.
 */
import type {
  ComponentRef,
  Decomposition,
  LibraryChanged,
  LibraryItem,
  RenderSpec,
  SoundInfo,
} from "@shared/protocol";
import { float32Rows } from "../dsp/aligned";
import { normalizeRegion, type Region } from "../dsp/snap";
import { AudioEngine, type StreamSource } from "../engine/engine";
import type { ResidueClient, StreamRequest } from "../net/client";
import { ServerError } from "../net/correlate";
import { fetchFile, renderWav, uploadSound, type UploadError } from "../net/http";
import type { ConnectionState } from "../workers/messages";
import { downloadBlob } from "./dom";
import {
  applyPlan,
  assign,
  dropLibraryComponent,
  isEdited,
  openDecomposition,
  renderSpec,
  setUnit,
  specKey,
  swapComponents,
  unitState,
  type Edits,
  type UnitAddress,
  type UnitState,
} from "./model/edits";
import { History } from "./model/history";
import { applyChange, applyOps, EMPTY_SYNC, explainRefusal, itemsOf, tagEdits, type Applied, type LibrarySync } from "./model/library-sync";
import { Spectrograms } from "./spectrograms";
import { Store } from "./store";
import type { Toasts } from "./toast";

export const DEFAULT_K = 6;
export const MAX_K = 16;

export interface OpenDecomposition {
  readonly frame: Decomposition;
  /** Display curves, K x n_rows, max 1. */
  readonly components: readonly Float32Array[];
  /** K x n_frames, max 1, on the spectrogram's frames from `frame.frame_offset`. */
  readonly activations: readonly Float32Array[];
  readonly soundName: string;
}

export type PlayKind = "edit" | "original" | "unit" | "preview";

export interface Playing {
  readonly kind: PlayKind;
  /** What plays, in words ("unit 3 of demo drums"): others in the session see it. */
  readonly label: string;
  readonly gen: number;
  readonly unit: number | null;
  readonly componentId: string | null;
  readonly status: "loading" | "playing";
}

/** Something being dragged or picked for a swap. */
export type Pick =
  | { readonly kind: "unit"; readonly at: UnitAddress }
  | { readonly kind: "library"; readonly item: LibraryItem };

export interface LibraryState {
  /** Everything in the library (kept live by the session's op events). */
  readonly all: readonly LibraryItem[];
  /** What the panel shows: a search, a tag filter or a similarity list. */
  readonly shown: readonly LibraryItem[];
  readonly query: string;
  readonly tag: string | null;
  /** "similar to ..." when `shown` is a similarity search. */
  readonly similarTo: string | null;
}

export interface StudioState {
  readonly connection: ConnectionState;
  readonly sounds: readonly SoundInfo[];
  readonly soundId: string | null;
  readonly regions: Readonly<Record<string, Region | null>>;
  readonly tempos: Readonly<Record<string, number | null>>;
  readonly snap: boolean;
  readonly decompositions: Readonly<Record<string, OpenDecomposition>>;
  readonly currentBySound: Readonly<Record<string, string>>;
  readonly job: { readonly requestId: number; readonly soundId: string; readonly fraction: number; readonly stage: string } | null;
  readonly k: number;
  readonly edits: Edits;
  readonly canUndo: boolean;
  readonly canRedo: boolean;
  readonly selectedUnit: number | null;
  readonly solo: number | null;
  readonly playing: Playing | null;
  readonly loop: boolean;
  readonly ab: "A" | "B";
  readonly library: LibraryState;
  readonly upload: { readonly name: string; readonly fraction: number } | null;
  readonly pick: Pick | null;
  readonly position: { readonly seconds: number; readonly totalSeconds: number } | null;
}

const INITIAL: StudioState = {
  connection: "connecting",
  sounds: [],
  soundId: null,
  regions: {},
  tempos: {},
  snap: true,
  decompositions: {},
  currentBySound: {},
  job: null,
  k: DEFAULT_K,
  edits: {},
  canUndo: false,
  canRedo: false,
  selectedUnit: null,
  solo: null,
  playing: null,
  loop: true,
  ab: "B",
  library: { all: [], shown: [], query: "", tag: null, similarTo: null },
  upload: null,
  pick: null,
  position: null,
};

export class Studio {
  readonly store = new Store<StudioState>(INITIAL);
  readonly spectrograms: Spectrograms;
  readonly #client: ResidueClient;
  readonly #toasts: Toasts;
  readonly #history = new History<Edits>({});
  #engine: Promise<AudioEngine> | null = null;
  #engineReady: AudioEngine | null = null;
  #libraryTimer: ReturnType<typeof setTimeout> | null = null;
  #remixSeed = 1;
  /** The library as the op log made it here; `library.all` is its view. */
  #sync: LibrarySync = EMPTY_SYNC;
  #resumeTimer: ReturnType<typeof setTimeout> | null = null;
  #resuming = false;

  constructor(client: ResidueClient, toasts: Toasts) {
    this.#client = client;
    this.#toasts = toasts;
    this.spectrograms = new Spectrograms(client);
    client.on("status", ({ state }) => {
      this.store.set({ connection: state });
      if (state === "closed") this.store.set({ job: null });
    });
    client.on("welcome", () => void this.#refresh());
    client.on("soundAdded", (f) => this.#addSound(f.sound, false));
    client.on("soundRemoved", (f) => this.#removeSound(f.sound_id));
    client.on("libraryChanged", (f) => this.#libraryChanged(f));
    client.on("problem", ({ message, error }) => this.#toasts.show(plain(message), "error", error?.errorId ?? null));
    client.on("stream", (ev) => {
      if (ev.event !== "error") return;
      const playing = this.store.state.playing;
      if (playing?.gen === ev.gen) {
        this.#engineReady?.stop();
        this.store.set({ playing: null });
      }
      if (ev.code !== "cancelled") this.#toasts.show(`Could not play: ${plain(ev.message)}`, "error", ev.errorId);
    });
  }

  get state(): StudioState {
    return this.store.state;
  }

  get engine(): AudioEngine | null {
    return this.#engineReady;
  }

  // --- start-up --------------------------------------------------------------------------------

  async #refresh(): Promise<void> {
    try {
      // a reconnect catches up on the ops it missed (a first start gets the whole library)
      const [sounds, ops] = await Promise.all([this.#client.listSounds(), this.#client.resume(this.#sync.seq)]);
      this.store.set({ sounds });
      this.#applied(applyOps(this.#sync, ops));
      const current = this.state.soundId;
      if (current === null || !sounds.some((s) => s.sound_id === current)) {
        const first = sounds[0];
        if (first) this.selectSound(first.sound_id);
      } else {
        this.spectrograms.load(current);
      }
      // the context runs at the first sound's rate (it starts suspended until a gesture resumes it)
      if (sounds.length > 0) void this.warmUp();
    } catch (err) {
      this.#fail("Could not load the sounds", err);
    }
  }

  /**
   * Create the audio engine once, at the selected sound's rate. The context may start suspended;
   * {@link resumeAudio} (from a gesture) and every play resume it.
   */
  warmUp(): Promise<AudioEngine> {
    if (!this.#engine) {
      const rate = this.#sound()?.sample_rate;
      this.#engine = AudioEngine.create(rate ? { sampleRate: rate } : {})
        .catch(() => AudioEngine.create({}))
        .then((engine) => {
          this.#engineReady = engine;
          this.#client.attachSink(engine.sink);
          engine.setLoop(this.state.loop);
          engine.on("state", ({ status, gen }) => {
            const playing = this.state.playing;
            if (!playing || playing.gen !== gen) return;
            if (status === "idle") this.store.set({ playing: null, position: null });
            else this.store.set({ playing: { ...playing, status } });
          });
          engine.on("position", ({ gen, seconds, totalSeconds }) => {
            if (this.state.playing?.gen === gen) this.store.set({ position: { seconds, totalSeconds } });
          });
          return engine;
        });
      this.#engine.catch((err: unknown) => {
        this.#engine = null;
        this.#fail("Sound could not start in this browser", err);
      });
    }
    return this.#engine;
  }

  /** From a gesture: make sure the engine exists and its context runs. */
  resumeAudio(): void {
    void this.warmUp().then((engine) => engine.resume());
  }

  // --- sounds ----------------------------------------------------------------------------------

  selectSound(soundId: string): void {
    if (this.state.soundId === soundId) return;
    const current = this.state.currentBySound[soundId];
    this.store.set({ soundId, selectedUnit: null, solo: null, pick: null, k: current ? (this.state.decompositions[current]?.frame.n_components ?? this.state.k) : this.state.k });
    this.spectrograms.load(soundId);
    if (this.state.playing) this.stop();
  }

  async upload(file: File): Promise<void> {
    this.store.set({ upload: { name: file.name, fraction: 0 } });
    try {
      const info = await uploadSound(file, (fraction) => this.store.set({ upload: { name: file.name, fraction } }));
      this.#addSound(info, true);
      this.#toasts.show(`Added ${info.name}`);
    } catch (err) {
      const e = err as UploadError;
      this.#toasts.show(plain(e.message), "error", e.errorId ?? null);
    } finally {
      this.store.set({ upload: null });
    }
  }

  /** Delete a sound (its decompositions go with it; library components stay). */
  async deleteSound(soundId: string): Promise<void> {
    const name = this.state.sounds.find((s) => s.sound_id === soundId)?.name ?? "the sound";
    try {
      await this.#client.deleteSound(soundId);
      this.#removeSound(soundId);
      this.#toasts.show(`Deleted ${name}. Components you kept from it stay in the library.`);
    } catch (err) {
      this.#toasts.show(plain(err instanceof Error ? err.message : String(err)), "error");
    }
  }

  #removeSound(soundId: string): void {
    if (!this.state.sounds.some((s) => s.sound_id === soundId)) return;
    const sounds = this.state.sounds.filter((s) => s.sound_id !== soundId);
    const currentBySound = { ...this.state.currentBySound };
    delete currentBySound[soundId];
    const wasSelected = this.state.soundId === soundId;
    if (wasSelected && this.state.playing) this.stop();
    this.store.set({ sounds, currentBySound, ...(wasSelected ? { soundId: null, selectedUnit: null, solo: null, pick: null } : {}) });
    this.spectrograms.forget(soundId);
    const next = sounds[0];
    if (wasSelected && next) this.selectSound(next.sound_id);
  }

  #addSound(sound: SoundInfo, select: boolean): void {
    const rest = this.state.sounds.filter((s) => s.sound_id !== sound.sound_id);
    this.store.set({ sounds: [sound, ...rest] });
    if (select) this.selectSound(sound.sound_id);
  }

  #sound(): SoundInfo | undefined {
    return this.state.sounds.find((s) => s.sound_id === this.state.soundId);
  }

  /** The tempo the grid uses for a sound: typed, else detected, else null. */
  tempoOf(soundId: string | null): number | null {
    if (soundId === null) return null;
    const typed = this.state.tempos[soundId];
    if (typed !== undefined && typed !== null) return typed;
    return this.state.sounds.find((s) => s.sound_id === soundId)?.tempo_bpm ?? null;
  }

  setTempo(bpm: number | null): void {
    const id = this.state.soundId;
    if (id === null) return;
    this.store.set({ tempos: { ...this.state.tempos, [id]: bpm } });
  }

  setSnap(on: boolean): void {
    this.store.set({ snap: on });
  }

  /** Set the loop region from a drag (seconds, either order); snaps when snapping is on. */
  setRegionFromDrag(a_s: number, b_s: number): void {
    const sound = this.#sound();
    if (!sound) return;
    const bpm = this.state.snap ? this.tempoOf(sound.sound_id) : null;
    const region = normalizeRegion(a_s, b_s, sound.duration_s, bpm);
    this.store.set({ regions: { ...this.state.regions, [sound.sound_id]: region } });
  }

  clearRegion(): void {
    const id = this.state.soundId;
    if (id !== null) this.store.set({ regions: { ...this.state.regions, [id]: null } });
  }

  region(): Region | null {
    const id = this.state.soundId;
    return id === null ? null : (this.state.regions[id] ?? null);
  }

  // --- decomposition ---------------------------------------------------------------------------

  setK(k: number): void {
    this.store.set({ k: Math.max(1, Math.min(MAX_K, Math.round(k))) });
  }

  /** The decomposition shown for the selected sound. */
  current(): OpenDecomposition | null {
    const id = this.state.soundId;
    const did = id === null ? undefined : this.state.currentBySound[id];
    return did ? (this.state.decompositions[did] ?? null) : null;
  }

  async decompose(): Promise<void> {
    const sound = this.#sound();
    if (!sound || this.state.job) return;
    const region = this.region();
    const req = this.#client.decompose(
      { soundId: sound.sound_id, nComponents: this.state.k, startS: region?.start_s ?? null, endS: region?.end_s ?? null },
      (fraction, stage) => {
        const job = this.store.state.job;
        if (job !== null && job.requestId === req.requestId) this.store.set({ job: { ...job, fraction, stage } });
      },
    );
    this.store.set({ job: { requestId: req.requestId, soundId: sound.sound_id, fraction: 0, stage: "starting" } });
    try {
      const frame = await req.done;
      this.#open(frame, sound.name);
    } catch (err) {
      if (err instanceof ServerError && err.code === "cancelled") this.#toasts.show("Stopped.");
      else this.#fail("Could not split the sound into units", err);
    } finally {
      if (this.store.state.job?.requestId === req.requestId) this.store.set({ job: null });
    }
  }

  async cancelDecompose(): Promise<void> {
    const job = this.state.job;
    if (!job) return;
    try {
      await this.#client.cancel(job.requestId);
    } catch (err) {
      this.#fail("Could not stop", err);
    }
  }

  #open(frame: Decomposition, soundName: string): void {
    const open: OpenDecomposition = {
      frame,
      components: float32Rows(frame.components, frame.n_components, frame.n_rows),
      activations: float32Rows(frame.activations, frame.n_components, frame.n_frames),
      soundName,
    };
    this.#history.rebase((e) => openDecomposition(e, frame.decomposition_id, frame.n_components));
    const edits = this.#history.value;
    this.store.set({
      decompositions: { ...this.state.decompositions, [frame.decomposition_id]: open },
      currentBySound: { ...this.state.currentBySound, [frame.sound_id]: frame.decomposition_id },
      edits,
      selectedUnit: 0,
      solo: null,
      ab: "B",
    });
    this.#syncHistory();
  }

  // --- edits -----------------------------------------------------------------------------------

  /** Record an edit (undoable); playback of the edit follows it. */
  edit(label: string, fn: (edits: Edits) => Edits): void {
    let next: Edits;
    try {
      next = fn(this.#history.value);
    } catch (err) {
      this.#fail("That edit is not possible", err);
      return;
    }
    if (this.#history.push(next, label)) {
      this.store.set({ edits: next });
      this.#syncHistory();
      this.#followEdit();
    }
  }

  undo(): void {
    const label = this.#history.undoLabel;
    if (this.#history.undo()) {
      this.#afterTimeTravel();
      if (label) this.#toasts.show(`Undone: ${label}`);
    }
  }

  redo(): void {
    const label = this.#history.redoLabel;
    if (this.#history.redo()) {
      this.#afterTimeTravel();
      if (label) this.#toasts.show(`Redone: ${label}`);
    }
  }

  #afterTimeTravel(): void {
    this.store.set({ edits: this.#history.value });
    this.#syncHistory();
    this.#followEdit();
  }

  #syncHistory(): void {
    this.store.set({ canUndo: this.#history.canUndo, canRedo: this.#history.canRedo });
  }

  /** The address of unit `unit` of the current decomposition. */
  at(unit: number): UnitAddress | null {
    const d = this.current();
    return d ? { decompositionId: d.frame.decomposition_id, unit } : null;
  }

  unitState(at: UnitAddress): UnitState | null {
    try {
      return unitState(this.state.edits, at);
    } catch {
      return null;
    }
  }

  selectUnit(unit: number | null): void {
    this.store.set({ selectedUnit: unit });
  }

  setGain(unit: number, gain_db: number): void {
    const at = this.at(unit);
    if (at) this.edit(`gain of unit ${unit + 1}`, (e) => setUnit(e, at, { gain_db }));
  }

  toggleReverse(unit: number): void {
    const at = this.at(unit);
    const s = at && this.unitState(at);
    if (at && s) this.edit(`reverse unit ${unit + 1}`, (e) => setUnit(e, at, { reverse: !s.reverse }));
  }

  setStretch(unit: number, stretch: number): void {
    const at = this.at(unit);
    if (at) this.edit(`stretch unit ${unit + 1}`, (e) => setUnit(e, at, { stretch }));
  }

  toggleMute(unit: number): void {
    const at = this.at(unit);
    const s = at && this.unitState(at);
    if (at && s) this.edit(`${s.muted ? "unmute" : "mute"} unit ${unit + 1}`, (e) => setUnit(e, at, { muted: !s.muted }));
  }

  /** Solo unit `unit` (again: unsolo). Starts playing the edit when nothing plays. */
  toggleSolo(unit: number, clickAt: number = performance.now()): void {
    const d = this.current();
    if (!d || unit < 0 || unit >= d.frame.n_components) return;
    const solo = this.state.solo === unit ? null : unit;
    this.store.set({ solo, selectedUnit: unit });
    const playing = this.state.playing;
    if (!playing || playing.kind === "edit" || playing.kind === "unit") this.play(clickAt, "B");
  }

  resetUnit(unit: number): void {
    const at = this.at(unit);
    if (at) this.edit(`reset unit ${unit + 1}`, (e) => assign(setUnit(e, at, { gain_db: 0, reverse: false, stretch: 1, muted: false }), at, null, null));
  }

  /** A unit's name in words: "unit 3 of drums". */
  label(at: UnitAddress): string {
    const d = this.state.decompositions[at.decompositionId];
    return `unit ${at.unit + 1} of ${d?.soundName ?? "another sound"}`;
  }

  swap(a: UnitAddress, b: UnitAddress): void {
    if (a.decompositionId === b.decompositionId && a.unit === b.unit) return;
    this.edit(`swap ${this.label(a)} and ${this.label(b)}`, (e) => swapComponents(e, a, b, (x) => this.label(x)));
    this.#toasts.show(`Swapped ${this.label(a)} and ${this.label(b)}`);
  }

  replaceWithLibrary(target: UnitAddress, item: LibraryItem): void {
    this.edit(`${this.label(target)} takes ${item.name}`, (e) =>
      assign(e, target, { kind: "library", component_id: item.component_id }, `library: ${item.name}`),
    );
    this.#toasts.show(`Unit ${target.unit + 1} now plays ${item.name}`);
  }

  /** Pick-then-tap swapping (touch and keyboard): the first call picks, the second drops. */
  pickOrDrop(pick: Pick): void {
    const held = this.state.pick;
    if (!held) {
      this.store.set({ pick });
      return;
    }
    this.store.set({ pick: null });
    if (pick.kind !== "unit") {
      if (held.kind === "unit" && pick.kind === "library") this.replaceWithLibrary(held.at, pick.item);
      return;
    }
    this.drop(held, pick.at);
  }

  cancelPick(): void {
    this.store.set({ pick: null });
  }

  /** Something was dropped on a unit. */
  drop(what: Pick, target: UnitAddress): void {
    if (what.kind === "library") this.replaceWithLibrary(target, what.item);
    else this.swap(what.at, target);
  }

  async remixAll(strategy: "nearest" | "random" | "weird"): Promise<void> {
    const d = this.current();
    if (!d) return;
    if (this.state.library.all.length === 0) {
      this.#toasts.show("The library is empty: keep a few units first.", "error");
      return;
    }
    try {
      const plan = await this.#client.planRemix(d.frame.decomposition_id, strategy, this.#remixSeed++);
      this.edit(`remix all (${strategy})`, (e) => applyPlan(e, d.frame.decomposition_id, plan.assignments));
      this.#toasts.show(`Every unit now plays a library sound (${strategy}).`);
    } catch (err) {
      this.#fail("Could not remix", err);
    }
  }

  // --- listening -------------------------------------------------------------------------------

  /** The RenderSpec of the current edit (mute and solo applied unless `asEdit`). */
  spec(options: { only?: number[]; withSolo?: boolean } = {}): RenderSpec | null {
    const d = this.current();
    if (!d) return null;
    const units = this.state.edits[d.frame.decomposition_id];
    if (!units) return null;
    return renderSpec(d.frame.decomposition_id, units, {
      solo: options.withSolo === false ? null : this.state.solo,
      only: options.only ?? null,
    });
  }

  /**
   * Play the current edit (B) or the original region (A).
   *
   * @param clickAt performance.now() of the click, for the click-to-sound measure.
   */
  play(clickAt: number = performance.now(), ab: "A" | "B" = this.state.ab): void {
    const d = this.current();
    const sound = this.#sound();
    if (!sound) return;
    if (!d || ab === "A") {
      const span = d ? { start_s: d.frame.start_s, end_s: d.frame.end_s } : this.region();
      const frame: StreamRequest = { type: "play_sound", sound_id: sound.sound_id, start_s: span?.start_s ?? null, end_s: span?.end_s ?? null };
      this.#start("original", null, null, `original: ${sound.name}`, `sound:${sound.sound_id}:${span?.start_s ?? ""}:${span?.end_s ?? ""}`, frame, clickAt);
      return;
    }
    const spec = this.spec();
    if (!spec) return;
    this.#start("edit", null, null, `edit of ${sound.name}`, specKey(spec), { type: "audition", spec }, clickAt);
  }

  /** Play one unit as edited. */
  playUnit(unit: number, clickAt: number = performance.now()): void {
    const spec = this.spec({ only: [unit] });
    if (!spec) return;
    this.store.set({ selectedUnit: unit });
    const at = this.at(unit);
    this.#start("unit", unit, null, at ? this.label(at) : `unit ${unit + 1}`, specKey(spec), { type: "audition", spec }, clickAt);
  }

  /** Hear the selected unit with a library component in place of its own. */
  preview(item: LibraryItem, clickAt: number = performance.now()): void {
    const d = this.current();
    if (!d) {
      this.#toasts.show("Split a sound into units first: a preview plays a unit with this sound.", "error");
      return;
    }
    const unit = this.state.selectedUnit ?? this.state.solo ?? 0;
    const units = this.state.edits[d.frame.decomposition_id];
    if (!units) return;
    const component: ComponentRef = { kind: "library", component_id: item.component_id };
    const edited = assign({ [d.frame.decomposition_id]: units }, { decompositionId: d.frame.decomposition_id, unit }, component, item.name);
    const spec = renderSpec(d.frame.decomposition_id, edited[d.frame.decomposition_id] ?? units, { solo: null, only: [unit] });
    this.#start("preview", unit, item.component_id, `${item.name} as unit ${unit + 1}`, specKey(spec), { type: "audition", spec }, clickAt);
  }

  /** Play the sound itself (a sound list item). */
  playOriginal(clickAt: number = performance.now()): void {
    this.play(clickAt, "A");
  }

  stop(): void {
    this.#engineReady?.stop();
    this.store.set({ playing: null, position: null });
  }

  /** Space: play the edit, or stop. */
  togglePlay(clickAt: number = performance.now()): void {
    if (this.state.playing) this.stop();
    else this.play(clickAt);
  }

  setLoop(on: boolean): void {
    this.store.set({ loop: on });
    this.#engineReady?.setLoop(on);
  }

  toggleAB(clickAt: number = performance.now()): void {
    const ab = this.state.ab === "A" ? "B" : "A";
    this.store.set({ ab });
    const playing = this.state.playing;
    if (playing && (playing.kind === "edit" || playing.kind === "original")) this.play(clickAt, ab);
  }

  /** After an edit: if the edit is playing, play the new one. */
  #followEdit(): void {
    const playing = this.state.playing;
    if (playing?.kind === "edit") this.play(performance.now(), "B");
    else if (playing?.kind === "unit" && playing.unit !== null) this.playUnit(playing.unit);
  }

  #start(kind: PlayKind, unit: number | null, componentId: string | null, label: string, key: string, frame: StreamRequest, clickAt: number): void {
    const client = this.#client;
    const source: StreamSource = {
      label,
      open: (gen) => client.stream(gen, key, frame),
      close: (gen) => client.stopStream(gen),
    };
    // a placeholder until the engine assigns the generation
    this.store.set({ playing: { kind, label, gen: -1, unit, componentId, status: "loading" }, position: null });
    void this.warmUp().then((engine) => {
      const current = this.state.playing;
      if (!current || current.gen !== -1 || current.kind !== kind || current.unit !== unit || current.componentId !== componentId) return;
      const gen = engine.play(source, clickAt);
      this.store.set({ playing: { ...current, gen } });
    });
  }

  // --- library ---------------------------------------------------------------------------------

  async saveUnit(unit: number, name: string, tags: string[]): Promise<boolean> {
    const d = this.current();
    if (!d) return false;
    try {
      const changed = await this.#client.saveComponent(d.frame.decomposition_id, unit, name, tags);
      this.#libraryChanged(changed);
      this.#toasts.show(`Kept “${name}” in the library`);
      return true;
    } catch (err) {
      this.#fail("Could not keep it", err);
      return false;
    }
  }

  search(query: string): void {
    this.#setLibrary({ query, similarTo: null });
    this.#scheduleLibrary();
  }

  filterTag(tag: string | null): void {
    this.#setLibrary({ tag, similarTo: null });
    this.#scheduleLibrary(0);
  }

  async findSimilar(component: ComponentRef, label: string): Promise<void> {
    try {
      const items = await this.#client.findSimilar(component, 12);
      this.#setLibrary({ shown: items, similarTo: label });
    } catch (err) {
      this.#fail("Could not search the library", err);
    }
  }

  clearSimilar(): void {
    this.#setLibrary({ similarTo: null });
    this.#scheduleLibrary(0);
  }

  /** Rename from the version this tab saw: if someone renamed it meanwhile, theirs stays. */
  async rename(item: LibraryItem, name: string): Promise<void> {
    try {
      this.#libraryChanged(await this.#client.renameComponent(item.component_id, name, item.version ?? null));
    } catch (err) {
      this.#refused("rename", err);
    }
  }

  /** Change tags one at a time, so that others' tag edits at the same moment all stay. */
  async retag(item: LibraryItem, tags: string[]): Promise<void> {
    const { add, remove } = tagEdits(item.tags, tags);
    try {
      for (const tag of remove) this.#libraryChanged(await this.#client.removeTag(item.component_id, tag));
      for (const tag of add) this.#libraryChanged(await this.#client.addTag(item.component_id, tag));
    } catch (err) {
      this.#refused("tag", err);
    }
  }

  async deleteItem(item: LibraryItem): Promise<void> {
    try {
      this.#libraryChanged(await this.#client.deleteComponent(item.component_id));
      this.#toasts.show(`Deleted ${item.name}`);
    } catch (err) {
      this.#refused("delete", err);
    }
  }

  /** A library edit the server refused (a conflict with someone else's edit): say why. */
  #refused(action: "rename" | "tag" | "delete", err: unknown): void {
    if (err instanceof ServerError && (err.code === "conflict" || err.code === "not_found")) {
      this.#toasts.show(explainRefusal(action, err.code, err.message), "error");
      return;
    }
    this.#fail({ rename: "Could not rename", tag: "Could not change the tags", delete: "Could not delete" }[action], err);
  }

  #libraryChanged(f: LibraryChanged): void {
    const before = this.#sync.items;
    this.#applied(applyChange(this.#sync, f));
    // units that played a component that is gone go back to their own (not an undo step)
    const gone = [...before.keys()].filter((id) => !this.#sync.items.has(id));
    if (gone.length > 0) {
      this.#history.rebase((e) => gone.reduce((acc, id) => dropLibraryComponent(acc, id), e));
      this.store.set({ edits: this.#history.value });
    }
  }

  /** Show the library the op log made, and ask for missed ops when there is a gap. */
  #applied({ sync, gap }: Applied): void {
    const changed = sync.items !== this.#sync.items;
    this.#sync = sync;
    if (gap) this.#scheduleResume();
    if (!changed) return;
    const lib = this.state.library;
    const all = itemsOf(sync);
    const fresh = (items: readonly LibraryItem[]): LibraryItem[] =>
      items.flatMap((i) => {
        const now = sync.items.get(i.component_id);
        return now ? [i.distance === undefined || i.distance === null ? now : { ...now, distance: i.distance }] : [];
      });
    this.#setLibrary({ all, shown: fresh(lib.shown) });
    if (lib.query || lib.tag) this.#scheduleLibrary(0);
  }

  /** A change is missing: wait a moment for it (events may cross), then ask for what was missed. */
  #scheduleResume(): void {
    if (this.#resumeTimer !== null || this.#resuming) return;
    this.#resumeTimer = setTimeout(() => {
      this.#resumeTimer = null;
      if (this.#sync.pending.size === 0) return;
      this.#resuming = true;
      this.#client
        .resume(this.#sync.seq)
        .then((ops) => this.#applied(applyOps(this.#sync, ops)))
        .catch((err: unknown) => this.#fail("Could not catch up with the library", err))
        .finally(() => {
          this.#resuming = false;
        });
    }, 300);
  }

  /** The library as this tab has it, for tests: the last op applied and the items. */
  librarySync(): LibrarySync {
    return this.#sync;
  }

  #setLibrary(patch: Partial<LibraryState>): void {
    const prev = this.state.library;
    const next = { ...prev, ...patch };
    if (!next.query && !next.tag && !next.similarTo) next.shown = next.all;
    const same = (Object.keys(next) as (keyof LibraryState)[]).every((k) => next[k] === prev[k]);
    if (!same) this.store.set({ library: next });
  }

  #scheduleLibrary(ms = 200): void {
    if (this.#libraryTimer !== null) clearTimeout(this.#libraryTimer);
    this.#libraryTimer = setTimeout(() => void this.#queryLibrary(), ms);
  }

  async #queryLibrary(): Promise<void> {
    const { query, tag, similarTo } = this.state.library;
    if (similarTo) return;
    if (!query && !tag) {
      this.#setLibrary({});
      return;
    }
    try {
      const items = await this.#client.listLibrary(query, tag);
      const now = this.state.library;
      if (now.query === query && now.tag === tag && !now.similarTo) this.#setLibrary({ shown: items });
    } catch (err) {
      this.#fail("Could not search the library", err);
    }
  }

  // --- export ----------------------------------------------------------------------------------

  async exportEdit(): Promise<void> {
    const spec = this.spec({ withSolo: false });
    const d = this.current();
    if (!spec || !d) return;
    try {
      const { blob, filename } = await renderWav(spec);
      downloadBlob(blob, filename ?? `${stem(d.soundName)} edit.wav`);
    } catch (err) {
      this.#fail("Could not export the edit", err);
    }
  }

  /** Download a file of this session (a unit, the zip) with the session's token. */
  async download(url: string): Promise<void> {
    try {
      const { blob, filename } = await fetchFile(url);
      downloadBlob(blob, filename ?? "residue.wav");
    } catch (err) {
      this.#fail("Could not download", err);
    }
  }

  unitWavUrl(unit: number): string | null {
    const d = this.current();
    return d ? `/api/decompositions/${encodeURIComponent(d.frame.decomposition_id)}/units/${unit}.wav` : null;
  }

  zipUrl(): string | null {
    const d = this.current();
    return d ? `/api/decompositions/${encodeURIComponent(d.frame.decomposition_id)}/units.zip` : null;
  }

  /** True when the current decomposition has edits. */
  edited(): boolean {
    const d = this.current();
    const units = d ? this.state.edits[d.frame.decomposition_id] : undefined;
    return units ? isEdited(units) : false;
  }

  #fail(what: string, err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    const id = err instanceof ServerError ? err.errorId : null;
    this.#toasts.show(`${what}: ${plain(message)}`, "error", id ? `error ${id}` : null);
  }
}

/** Make a server or browser message read as a sentence. */
export function plain(message: string): string {
  const m = message.trim() || "something went wrong";
  return /[.!?]$/.test(m) ? m : `${m}.`;
}

function stem(name: string): string {
  return name.replace(/\.[^.]+$/, "") || "sound";
}
