/**
 * The separations room: run a grid of separations over a sound and audition its cells as they
 * finish (estimate, residual, or the mix for A/B), keep the good ones as sounds, reject the rest.
 * The grid is a preset or a custom grid edited here (see `editor.ts`), checked against the
 * server's catalog before it is sent and kept in localStorage.
 *
 * It shares the tab's socket client and the studio's audio engine (one AudioContext per page); a
 * play here stops whatever the studio plays. Results are played through the socket worker's
 * clip cache (keyed by result id), so a second play starts at once.
 */
import type { GridCell, GridStarted, GridSweep, SeparationCatalog, SoundInfo } from "@shared/protocol";
import type { AudioEngine, StreamSource } from "../../engine/engine";
import type { ResidueClient, StreamRequest } from "../../net/client";
import { ServerError } from "../../net/correlate";
import { Store } from "../store";
import type { Studio } from "../studio";
import type { Toasts } from "../toast";
import * as editor from "./editor";
import { keepName, layout, type CardState, type Layout, type SortKey } from "./grid";

export type Preset = "quick" | "deep";
/** What Run runs: a preset, or the custom grid of the editor. */
export type GridMode = Preset | "custom";
export type Candidate = "estimate" | "residual";
export type PlayWhat = Candidate | "mix";

export interface SeparationsState {
  readonly soundId: string | null;
  readonly preset: Preset;
  readonly mode: GridMode;
  /** Backends, stems, models, presets and limits (from the server; null until it answers). */
  readonly catalog: SeparationCatalog | null;
  /** The custom grid being edited (kept in localStorage). */
  readonly draft: editor.GridDraft;
  /** The last refusal of a custom grid (here or by the server), and the sweep it is about. */
  readonly gridError: { readonly message: string; readonly sweep: number | null } | null;
  readonly job: { readonly requestId: number; readonly fraction: number; readonly stage: string } | null;
  readonly grid: GridStarted | null;
  readonly layout: Layout;
  readonly cards: ReadonlyMap<string, CardState>;
  readonly focus: string | null;
  readonly sort: SortKey;
  readonly playing: { readonly cellId: string | null; readonly what: PlayWhat; readonly gen: number } | null;
  readonly loop: boolean;
  /** Results kept as sounds (tests). */
  readonly kept: number;
}

const EMPTY_LAYOUT: Layout = { rows: [], columns: [], cells: [] };

/** Where the custom grid and the chosen mode are kept between visits. */
export const DRAFT_KEY = "residue.separations.grid";
const MODE_KEY = "residue.separations.mode";

function loadDraft(): { draft: editor.GridDraft; mode: GridMode } {
  try {
    const draft = editor.parseDraft(localStorage.getItem(DRAFT_KEY)) ?? editor.EMPTY_DRAFT;
    const saved = localStorage.getItem(MODE_KEY);
    const mode: GridMode = saved === "custom" || saved === "deep" ? saved : "quick";
    return { draft, mode };
  } catch {
    return { draft: editor.EMPTY_DRAFT, mode: "quick" }; // storage blocked: the editor still works
  }
}

const INITIAL: SeparationsState = {
  soundId: null,
  preset: "quick",
  mode: "quick",
  catalog: null,
  draft: editor.EMPTY_DRAFT,
  gridError: null,
  job: null,
  grid: null,
  layout: EMPTY_LAYOUT,
  cards: new Map(),
  focus: null,
  sort: "grid",
  playing: null,
  loop: true,
  kept: 0,
};

export class SeparationsRoom {
  readonly store: Store<SeparationsState>;
  readonly studio: Studio;
  readonly #client: ResidueClient;
  readonly #toasts: Toasts;
  #engineHooked: AudioEngine | null = null;

  constructor(client: ResidueClient, studio: Studio, toasts: Toasts) {
    this.#client = client;
    this.studio = studio;
    this.#toasts = toasts;
    const saved = loadDraft();
    this.store = new Store<SeparationsState>({ ...INITIAL, ...saved, preset: saved.mode === "deep" ? "deep" : "quick" });
    client.on("stream", (ev) => {
      if (ev.event === "error" && this.state.playing?.gen === ev.gen) this.store.set({ playing: null });
    });
    // every (re)connection: the model folder may have been filled in meanwhile
    client.on("welcome", () => void this.loadCatalog());
    this.store.watch(["draft", "mode"], (st) => {
      try {
        localStorage.setItem(DRAFT_KEY, editor.serializeDraft(st.draft));
        localStorage.setItem(MODE_KEY, st.mode);
      } catch {
        // storage full or blocked: the draft lives until the page closes
      }
    });
  }

  get state(): SeparationsState {
    return this.store.state;
  }
  /** What plays here, for the others in the session (null: nothing). */
  nowPlaying(): string | null {
    const p = this.state.playing;
    if (!p) return null;
    if (p.what === "mix") return `separations: the mix of ${this.sound()?.name ?? "a sound"}`;
    const card = p.cellId === null ? undefined : this.state.cards.get(p.cellId);
    if (!card) return "separations";
    return `separations: ${p.what === "residual" ? "all but " : ""}${card.info.stem} (${card.info.setting})`;
  }


  /** The sounds the studio lists (the grid's possible sources). */
  get sounds(): readonly SoundInfo[] {
    return this.studio.state.sounds;
  }

  sound(): SoundInfo | null {
    const id = this.state.soundId ?? this.sounds[0]?.sound_id ?? null;
    return this.sounds.find((s) => s.sound_id === id) ?? null;
  }

  setSound(soundId: string): void {
    this.store.set({ soundId });
  }

  setPreset(preset: Preset): void {
    this.store.set({ preset, mode: preset });
  }

  /** Choose what Run runs: a preset or the custom grid. */
  setMode(mode: GridMode): void {
    this.store.set(mode === "custom" ? { mode } : { mode, preset: mode });
  }

  // --- the custom grid editor --------------------------------------------------------------------

  /** Ask the server for backends, models and presets (again after every reconnection). */
  async loadCatalog(): Promise<SeparationCatalog | null> {
    try {
      const catalog = await this.#client.request({ type: "get_separation_catalog" }, "separation_catalog").done;
      this.store.set({ catalog });
      return catalog;
    } catch (err) {
      if (err instanceof ServerError) this.#toasts.show(`Separations: ${err.message}`, "error");
      return null;
    }
  }

  /** The editor's checks of the current draft (null until the catalog is in). */
  check(): editor.GridCheck | null {
    const catalog = this.state.catalog;
    return catalog ? editor.checkGrid(this.state.draft, catalog) : null;
  }

  /** Replace the draft with an edit of it (the last refusal no longer applies). */
  edit(fn: (draft: editor.GridDraft, catalog: SeparationCatalog | null) => editor.GridDraft): void {
    this.store.set({ draft: fn(this.state.draft, this.state.catalog), gridError: null });
  }

  /** Copy a preset's sweeps into the editor as a starting point, and switch to the custom grid. */
  editPreset(name: Preset = this.state.preset): boolean {
    const preset = this.state.catalog?.presets.find((p) => p.name === name);
    if (!preset) return false;
    this.store.set({ draft: editor.draftFromSweeps(preset.sweeps, name), mode: "custom", gridError: null });
    return true;
  }

  /** The custom grid as a grid file (`residue separate SONG --grid FILE`), or null if invalid. */
  gridFile(): string | null {
    const wire = this.check()?.wire;
    return wire ? editor.gridFile(this.state.draft.name, wire) : null;
  }

  /** Load a grid file into the editor; false (and the reason shown) when it is not one. */
  importGridFile(text: string): boolean {
    const parsed = editor.parseGridFile(text);
    if (!parsed.ok) {
      this.store.set({ gridError: { message: `Not a grid file: ${parsed.error}`, sweep: null } });
      return false;
    }
    this.store.set({ draft: editor.draftFromSweeps(parsed.sweeps, parsed.name), mode: "custom", gridError: null });
    return true;
  }

  setSort(sort: SortKey): void {
    this.store.set({ sort });
  }

  focus(cellId: string | null): void {
    this.store.set({ focus: cellId });
  }

  // --- the grid --------------------------------------------------------------------------------

  /**
   * Run the chosen preset, or the custom grid, over the chosen sound; cards fill in as cells
   * finish. A custom grid the editor finds wrong is not sent: the reason is shown instead.
   */
  async run(): Promise<void> {
    const sound = this.sound();
    if (!sound || this.state.job) return;
    let sweeps: GridSweep[] | null = null;
    if (this.state.mode === "custom") {
      const check = this.check();
      if (!check) {
        this.#refuse("The grid editor is still waiting for the server's list of backends.", null);
        return;
      }
      if (!check.wire) {
        const bad = check.sweeps.findIndex((s) => s.sweep === null);
        const first = check.sweeps[bad];
        const detail = first ? [...first.errors, ...Object.values(first.paramErrors)][0] : undefined;
        const overall = check.errors.find((e) => !e.startsWith("sweep ")) ?? null;
        this.#refuse(overall ?? (detail ? `Sweep ${bad + 1}: ${detail}` : check.errors[0] ?? "the grid is not valid"), bad >= 0 && !overall ? bad : null);
        return;
      }
      sweeps = check.wire;
    }
    this.stop();
    this.store.set({ soundId: sound.sound_id, grid: null, layout: EMPTY_LAYOUT, cards: new Map(), focus: null, gridError: null });
    const frame = sweeps ? { type: "start_grid" as const, sound_id: sound.sound_id, preset: null, sweeps } : { type: "start_grid" as const, sound_id: sound.sound_id, preset: this.state.preset, sweeps: null };
    const pending = this.#client.request(frame, "grid_done", {
      onFrame: (f) => {
        if (f.type === "grid_started") this.#started(f);
        else if (f.type === "grid_cell") this.#cell(f);
        else if (f.type === "job_progress" && this.#jobId() === pending.requestId) {
          this.store.set({ job: { requestId: pending.requestId, fraction: f.fraction, stage: f.stage } });
        }
      },
    });
    this.store.set({ job: { requestId: pending.requestId, fraction: 0, stage: "starting" } });
    try {
      const done = await pending.done;
      const parts = [`${done.done} done`];
      if (done.failed) parts.push(`${done.failed} failed`);
      if (done.cancelled) parts.push(`${done.cancelled} cancelled`);
      this.#toasts.show(`Separations: ${parts.join(", ")}.`);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      // a refused custom grid: the server's words stay beside the editor, on the sweep they name
      if (sweeps && err instanceof ServerError && this.state.grid === null) this.#refuse(`The server refused the grid: ${message}`, editor.sweepOfMessage(message));
      else this.#toasts.show(message, "error");
    } finally {
      if (this.#jobId() === pending.requestId) this.store.set({ job: null });
    }
  }

  #refuse(message: string, sweep: number | null): void {
    this.store.set({ gridError: { message, sweep } });
    this.#toasts.show(message, "error");
  }

  /** Cancel the whole grid (finished cells stay). */
  cancel(): void {
    const job = this.state.job;
    if (job) void this.#client.cancel(job.requestId).catch(() => undefined);
  }

  /** Cancel one cell that has not finished. */
  cancelCell(cellId: string): void {
    const job = this.state.job;
    const card = this.state.cards.get(cellId);
    if (!job || !card || card.status !== "pending") return;
    void this.#client
      .request({ type: "cancel_cell", target_request_id: job.requestId, cell_id: cellId }, "ok")
      .done.catch((err: unknown) => this.#toasts.show(err instanceof Error ? err.message : String(err), "error"));
  }

  #jobId(): number | null {
    return this.state.job?.requestId ?? null;
  }

  #started(f: GridStarted): void {
    const cards = new Map<string, CardState>();
    for (const info of f.cells) cards.set(info.cell_id, { info, status: "pending", result: null, rejected: false });
    this.store.set({ grid: f, layout: layout(f.cells), cards, focus: f.cells[0]?.cell_id ?? null });
  }

  #cell(f: GridCell): void {
    const card = this.state.cards.get(f.cell_id);
    if (!card) return;
    const cards = new Map(this.state.cards);
    cards.set(f.cell_id, { ...card, status: f.status, result: f });
    this.store.set({ cards });
  }

  reject(cellId: string): void {
    const card = this.state.cards.get(cellId);
    if (!card) return;
    const cards = new Map(this.state.cards);
    cards.set(cellId, { ...card, rejected: !card.rejected });
    this.store.set({ cards });
  }

  /** Keep a result as a new sound: it appears in the studio's sound list. */
  async keep(cellId: string, name: string | null = null, candidate: Candidate = "estimate"): Promise<SoundInfo | null> {
    const card = this.state.cards.get(cellId);
    const resultId = candidate === "estimate" ? card?.result?.result_id : card?.result?.residual_result_id;
    if (!card || !resultId) return null;
    const label = (name ?? keepName(this.sound()?.name ?? "sound", card.info, candidate === "residual")).trim() || "separation";
    try {
      const added = await this.#client.request({ type: "keep_cell", result_id: resultId, name: label.slice(0, 120) }, "sound_added").done;
      this.store.set({ kept: this.state.kept + 1 });
      this.#toasts.show(`Kept "${added.sound.name}": it is in the Studio's sounds.`);
      return added.sound;
    } catch (err) {
      const message = err instanceof ServerError ? err.message : err instanceof Error ? err.message : String(err);
      this.#toasts.show(message, "error");
      return null;
    }
  }

  // --- listening -------------------------------------------------------------------------------

  /** Play a cell's estimate or residual, or the mix (A/B); the same again stops. */
  play(cellId: string | null, what: PlayWhat, clickAt: number = performance.now()): void {
    const p = this.state.playing;
    if (p && p.cellId === cellId && p.what === what) {
      this.stop();
      return;
    }
    let frame: StreamRequest;
    let key: string;
    let label: string;
    if (what === "mix") {
      const sound = this.sound();
      if (!sound) return;
      frame = { type: "play_sound", sound_id: sound.sound_id, start_s: null, end_s: null };
      key = `sound:${sound.sound_id}::`;
      label = `mix: ${sound.name}`;
    } else {
      const card = cellId === null ? undefined : this.state.cards.get(cellId);
      const resultId = what === "estimate" ? card?.result?.result_id : card?.result?.residual_result_id;
      if (!card || !resultId) return;
      frame = { type: "play_result", result_id: resultId };
      key = `result:${resultId}`;
      label = `${what === "residual" ? "no " : ""}${card.info.stem} (${card.info.setting})`;
    }
    const client = this.#client;
    const stream: StreamSource = { label, open: (gen) => client.stream(gen, key, frame), close: (gen) => client.stopStream(gen) };
    this.studio.stop();
    this.store.set({ playing: { cellId, what, gen: -1 } });
    void this.studio.warmUp().then((engine) => {
      this.#hook(engine);
      engine.setLoop(this.state.loop);
      const current = this.state.playing;
      if (!current || current.gen !== -1 || current.cellId !== cellId || current.what !== what) return;
      const gen = engine.play(stream, clickAt);
      this.store.set({ playing: { ...current, gen } });
    });
  }

  /** A/B: switch what plays between the focused card and the mix. */
  toggleAB(clickAt: number = performance.now()): void {
    const p = this.state.playing;
    const cell = p?.cellId ?? this.state.focus;
    if (p?.what === "mix") this.play(cell, "estimate", clickAt);
    else this.play(cell, "mix", clickAt);
  }

  setLoop(on: boolean): void {
    this.store.set({ loop: on });
    this.studio.engine?.setLoop(on);
  }

  stop(): void {
    if (this.state.playing) this.studio.engine?.stop();
    this.store.set({ playing: null });
  }

  #hook(engine: AudioEngine): void {
    if (this.#engineHooked === engine) return;
    this.#engineHooked = engine;
    engine.on("state", ({ status, gen }) => {
      if (status === "idle" && this.state.playing?.gen === gen) this.store.set({ playing: null });
    });
  }
}
