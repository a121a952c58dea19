/**
 * The separations room: run a grid of separations over a sound and audition its cells as they
 * finish (estimate, residual, or the mix for A/B), keep the good ones as sounds, reject the rest.
 *
 * It shares the tab's socket client and the studio's audio engine (one AudioContext per page); a
 * play here stops whatever the studio plays. Results are played through the socket worker's
 * clip cache (keyed by result id), so a second play starts at once.
 */
import type { GridCell, GridStarted, SoundInfo } from "@shared/protocol";
import type { AudioEngine, StreamSource } from "../../engine/engine";
import type { ResidueClient, StreamRequest } from "../../net/client";
import { ServerError } from "../../net/correlate";
import { Store } from "../store";
import type { Studio } from "../studio";
import type { Toasts } from "../toast";
import { keepName, layout, type CardState, type Layout, type SortKey } from "./grid";

export type Preset = "quick" | "deep";
export type Candidate = "estimate" | "residual";
export type PlayWhat = Candidate | "mix";

export interface SeparationsState {
  readonly soundId: string | null;
  readonly preset: Preset;
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

const INITIAL: SeparationsState = {
  soundId: null,
  preset: "quick",
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
  readonly store = new Store<SeparationsState>(INITIAL);
  readonly studio: Studio;
  readonly #client: ResidueClient;
  readonly #toasts: Toasts;
  #engineHooked: AudioEngine | null = null;

  constructor(client: ResidueClient, studio: Studio, toasts: Toasts) {
    this.#client = client;
    this.studio = studio;
    this.#toasts = toasts;
    client.on("stream", (ev) => {
      if (ev.event === "error" && this.state.playing?.gen === ev.gen) this.store.set({ playing: null });
    });
  }

  get state(): SeparationsState {
    return this.store.state;
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
    this.store.set({ preset });
  }

  setSort(sort: SortKey): void {
    this.store.set({ sort });
  }

  focus(cellId: string | null): void {
    this.store.set({ focus: cellId });
  }

  // --- the grid --------------------------------------------------------------------------------

  /** Run the chosen preset over the chosen sound; cards fill in as cells finish. */
  async run(): Promise<void> {
    const sound = this.sound();
    if (!sound || this.state.job) return;
    this.stop();
    this.store.set({ soundId: sound.sound_id, grid: null, layout: EMPTY_LAYOUT, cards: new Map(), focus: null });
    const pending = this.#client.request({ type: "start_grid", sound_id: sound.sound_id, preset: this.state.preset, sweeps: null }, "grid_done", {
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
      this.#toasts.show(err instanceof Error ? err.message : String(err), "error");
    } finally {
      if (this.#jobId() === pending.requestId) this.store.set({ job: null });
    }
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
