/**
 * The MIDI room: its state and every action (transcribe, edit notes with undo, play the source, the
 * resynthesis or both, export, keep the render). Views read the store and call these methods.
 *
 * It shares the tab's socket client and the studio's audio engine (one AudioContext per page); a
 * play here stops whatever the studio plays.
 */
import { encode } from "@msgpack/msgpack";
import type { MidiChoices, NoteRender, SoundInfo } from "@shared/protocol";
import type { AudioEngine, StreamSource } from "../../engine/engine";
import type { ResidueClient, StreamRequest } from "../../net/client";
import { ServerError } from "../../net/correlate";
import { authHeaders } from "../../net/auth";
import { filenameOf, parseErrorBody } from "../../net/http";
import { downloadBlob } from "../dom";
import { History } from "../model/history";
import { Store } from "../store";
import { plain, type Studio } from "../studio";
import type { Toasts } from "../toast";
import {
  DEFAULT_CLEANUP,
  DEFAULT_RENDER,
  fileStem,
  noteRender,
  renderKey,
  sourceKey,
  transcribeSettings,
  wireSource,
  type CleanupForm,
  type RenderForm,
  type SourceRef,
} from "./forms";
import {
  addNote,
  deleteNotes,
  emptyDoc,
  existing,
  flattenBends,
  fromPart,
  fromParts,
  moveNotes,
  resizeNotes,
  setVelocity,
  span,
  type NewNote,
  type NoteDoc,
} from "./notes";
import { SourceSpectrograms } from "./spectrogram";

export type PlayKind = "source" | "render" | "both";
export type Tool = "select" | "draw" | "erase";

export interface Origin {
  /** The sound under the source (its spectrogram, its tempo). */
  readonly soundId: string | null;
  /** Where the source starts in that sound. */
  readonly startS: number;
  readonly durationS: number;
  readonly backend: string | null;
  readonly key: string | null;
  readonly seconds: number | null;
  /** The source the notes were transcribed from, or null (imported, drawn). */
  readonly source: SourceRef | null;
}

export interface MidiState {
  readonly choices: MidiChoices | null;
  readonly source: SourceRef | null;
  readonly backend: string | null;
  readonly cleanup: CleanupForm;
  readonly render: RenderForm;
  readonly job: { readonly requestId: number; readonly fraction: number; readonly stage: string } | null;
  readonly doc: NoteDoc;
  readonly origin: Origin | null;
  readonly selected: ReadonlySet<number>;
  readonly tool: Tool;
  readonly snap: boolean;
  readonly canUndo: boolean;
  readonly canRedo: boolean;
  readonly playing: { readonly kind: PlayKind; readonly gen: number; readonly status: "loading" | "playing" } | null;
  readonly position: { readonly seconds: number; readonly totalSeconds: number } | null;
  readonly busy: string | null;
  /** Renders started (tests). */
  readonly renders: number;
}

const INITIAL: MidiState = {
  choices: null,
  source: null,
  backend: null,
  cleanup: DEFAULT_CLEANUP,
  render: DEFAULT_RENDER,
  job: null,
  doc: emptyDoc(),
  origin: null,
  selected: new Set(),
  tool: "select",
  snap: true,
  canUndo: false,
  canRedo: false,
  playing: null,
  position: null,
  busy: null,
  renders: 0,
};

const NO_SELECTION: ReadonlySet<number> = new Set();

export class MidiRoom {
  readonly store = new Store<MidiState>(INITIAL);
  readonly spectrograms: SourceSpectrograms;
  readonly studio: Studio;
  readonly #client: ResidueClient;
  readonly #toasts: Toasts;
  #history = new History<NoteDoc>(INITIAL.doc);
  #engineHooked: AudioEngine | null = null;

  constructor(client: ResidueClient, studio: Studio, toasts: Toasts) {
    this.#client = client;
    this.studio = studio;
    this.#toasts = toasts;
    this.spectrograms = new SourceSpectrograms(client);
    client.on("welcome", () => void this.loadChoices());
    if (client.welcome) void this.loadChoices();
    client.on("stream", (ev) => {
      // errors are shown by the studio (one toast per failed stream); here playback just ends
      if (ev.event === "error" && this.state.playing?.gen === ev.gen) this.store.set({ playing: null, position: null });
    });
  }

  get state(): MidiState {
    return this.store.state;
  }
  /** What plays here, for the others in the session (null: nothing). */
  nowPlaying(): string | null {
    const p = this.state.playing;
    if (!p) return null;
    const what = p.kind === "source" ? "the source" : p.kind === "render" ? "notes" : "notes over the source";
    return `MIDI: ${what}${this.state.source ? ` of ${this.state.source.label}` : ""}`;
  }


  // --- choices and forms -----------------------------------------------------------------------

  async loadChoices(): Promise<void> {
    try {
      const choices = await this.#client.request({ type: "get_midi_choices" }, "midi_choices").done;
      const backend = this.state.backend ?? choices.default_backend;
      const synth = choices.synths.find((s) => s.name === this.state.render.synth && s.available) ? this.state.render.synth : "subtractive";
      const font = this.state.render.soundfont ?? choices.soundfonts[0] ?? null;
      this.store.set({ choices, backend, render: { ...this.state.render, synth, soundfont: font } });
    } catch (err) {
      this.#fail("Could not load the MIDI options", err);
    }
  }

  setBackend(name: string): void {
    this.store.set({ backend: name });
  }

  setCleanup(patch: Partial<CleanupForm>): void {
    this.store.set({ cleanup: { ...this.state.cleanup, ...patch } });
  }

  setRender(patch: Partial<RenderForm>): void {
    this.store.set({ render: { ...this.state.render, ...patch } });
    this.#follow();
  }

  setPreset(synth: string, preset: string): void {
    this.setRender({ presets: { ...this.state.render.presets, [synth]: preset } });
  }

  setTool(tool: Tool): void {
    this.store.set({ tool });
  }

  setSnap(on: boolean): void {
    this.store.set({ snap: on });
  }

  // --- sources ---------------------------------------------------------------------------------

  /** Choose what to transcribe and play (its spectrogram starts streaming). */
  setSource(source: SourceRef | null): void {
    if (this.state.source && source && sourceKey(this.state.source) === sourceKey(source)) return;
    if (this.state.playing) this.stop();
    this.store.set({ source });
    if (source) this.spectrograms.load(sourceKey(source), wireSource(source));
  }

  /** A sound as the source (its loop region from the studio when it has one). */
  sourceFromSound(sound: SoundInfo): SourceRef {
    return { kind: "sound", sound_id: sound.sound_id, start_s: null, end_s: null, label: sound.name };
  }

  /** The studio's "to MIDI" on a unit: open it here and transcribe it at once. */
  openUnit(decompositionId: string, unit: number, label: string): void {
    this.setSource({ kind: "unit", decomposition_id: decompositionId, unit, label });
    void this.transcribe();
  }

  /** The sound the source sits in (for its tempo and name). */
  sourceSound(): SoundInfo | undefined {
    const s = this.state.source;
    if (!s) return undefined;
    const id = s.kind === "sound" ? s.sound_id : this.studio.state.decompositions[s.decomposition_id]?.frame.sound_id;
    return this.studio.state.sounds.find((x) => x.sound_id === id);
  }

  // --- transcription ---------------------------------------------------------------------------

  async transcribe(): Promise<void> {
    const source = this.state.source;
    if (!source || this.state.job) return;
    const req = this.#client.request(
      { type: "transcribe", source: wireSource(source), backend: this.state.backend, settings: transcribeSettings(this.state.cleanup) },
      "transcription",
      {
        onFrame: (f) => {
          const job = this.state.job;
          if (f.type === "job_progress" && job?.requestId === req.requestId) this.store.set({ job: { ...job, fraction: f.fraction, stage: f.stage } });
        },
      },
    );
    this.store.set({ job: { requestId: req.requestId, fraction: 0, stage: "starting" } });
    try {
      const t = await req.done;
      const doc = fromPart(t.part);
      this.#reset(doc, {
        soundId: t.sound_id,
        startS: t.start_s,
        durationS: t.duration_s,
        backend: t.backend,
        key: t.key ?? null,
        seconds: t.seconds ?? null,
        source,
      });
      const n = doc.notes.length;
      this.#toasts.show(n === 0 ? "No notes found: try lower thresholds or another backend." : `${n} notes from ${source.label} (${t.backend}).`);
    } catch (err) {
      if (err instanceof ServerError && err.code === "cancelled") this.#toasts.show("Stopped.");
      else this.#fail("Could not transcribe", err);
    } finally {
      if (this.#jobId() === req.requestId) this.store.set({ job: null });
    }
  }

  #jobId(): number | null {
    return this.store.state.job?.requestId ?? null;
  }

  async cancelTranscribe(): Promise<void> {
    const job = this.state.job;
    if (!job) return;
    try {
      await this.#client.cancel(job.requestId);
    } catch (err) {
      this.#fail("Could not stop", err);
    }
  }

  async importMidi(file: File): Promise<void> {
    try {
      const data = new Uint8Array(await file.arrayBuffer());
      const reply = await this.#client.request({ type: "import_midi", data, name: file.name.slice(0, 120) }, "midi_parts").done;
      const doc = fromParts(reply.parts, fileStem(file.name));
      const sound = this.sourceSound();
      const duration = Math.max(reply.duration_s, this.state.origin?.durationS ?? 0);
      this.#reset(doc, {
        soundId: this.state.origin?.soundId ?? sound?.sound_id ?? null,
        startS: this.state.origin?.startS ?? 0,
        durationS: duration,
        backend: null,
        key: null,
        seconds: null,
        source: null,
      });
      const dropped = reply.parts.length - (reply.parts.filter((p) => !(p.is_drum ?? false)).length || reply.parts.length);
      this.#toasts.show(`Opened ${file.name}: ${doc.notes.length} notes${dropped > 0 ? " (drum parts left out)" : ""}.`);
    } catch (err) {
      this.#fail(`Could not open ${file.name}`, err);
    }
  }

  #reset(doc: NoteDoc, origin: Origin): void {
    this.#history = new History<NoteDoc>(doc);
    this.store.set({ doc, origin, selected: NO_SELECTION, canUndo: false, canRedo: false });
    this.#follow();
  }

  /** Seconds the piano roll spans: the source, or the notes when they run longer. */
  duration(): number {
    const end = span(this.state.doc).end;
    return Math.max(this.state.origin?.durationS ?? 0, end + 0.5, 1);
  }

  /** Tempo for the grid: the cleanup's, the notes', the sound's, else 120. */
  tempo(): number {
    return this.state.cleanup.tempoBpm ?? this.state.doc.tempoBpm ?? this.sourceSound()?.tempo_bpm ?? 120;
  }

  // --- edits -----------------------------------------------------------------------------------

  /** Record an edit of the notes (undoable); a playing render follows it. */
  edit(label: string, fn: (doc: NoteDoc) => NoteDoc, selected?: ReadonlySet<number>): void {
    const next = fn(this.#history.value);
    if (!this.#history.push(next, label)) {
      if (selected) this.store.set({ selected });
      return;
    }
    this.store.set({ doc: next, selected: selected ?? existing(next, this.state.selected) });
    this.#syncHistory();
    this.#follow();
  }

  undo(): void {
    if (this.#history.undo()) this.#afterTimeTravel();
  }

  redo(): void {
    if (this.#history.redo()) this.#afterTimeTravel();
  }

  #afterTimeTravel(): void {
    const doc = this.#history.value;
    this.store.set({ doc, selected: existing(doc, this.state.selected) });
    this.#syncHistory();
    this.#follow();
  }

  #syncHistory(): void {
    this.store.set({ canUndo: this.#history.canUndo, canRedo: this.#history.canRedo });
  }

  select(ids: ReadonlySet<number>): void {
    this.store.set({ selected: ids });
  }

  selectAll(): void {
    this.select(new Set(this.state.doc.notes.map((n) => n.id)));
  }

  deleteSelected(): void {
    const ids = this.state.selected;
    if (ids.size === 0) return;
    this.edit(ids.size === 1 ? "delete a note" : `delete ${ids.size} notes`, (d) => deleteNotes(d, ids), NO_SELECTION);
  }

  deleteNote(id: number): void {
    this.edit("delete a note", (d) => deleteNotes(d, new Set([id])));
  }

  move(ids: ReadonlySet<number>, dt: number, dp: number): void {
    this.edit(ids.size === 1 ? "move a note" : `move ${ids.size} notes`, (d) => moveNotes(d, ids, dt, dp), ids);
  }

  resize(ids: ReadonlySet<number>, dEnd: number): void {
    this.edit(ids.size === 1 ? "lengthen a note" : `lengthen ${ids.size} notes`, (d) => resizeNotes(d, ids, dEnd), ids);
  }

  add(note: NewNote): void {
    let id = 0;
    this.edit("draw a note", (d) => {
      const out = addNote(d, note);
      id = out.id;
      return out.doc;
    });
    if (id) this.select(new Set([id]));
  }

  setVelocity(velocity: number): void {
    const ids = this.state.selected;
    if (ids.size > 0) this.edit("velocity", (d) => setVelocity(d, ids, velocity), ids);
  }

  flattenSelected(): void {
    const ids = this.state.selected;
    if (ids.size > 0) this.edit("remove bends", (d) => flattenBends(d, ids), ids);
  }

  /** Arrow keys: move the selection by grid steps and semitones. */
  nudge(steps: number, semitones: number, stepS: number): void {
    const ids = this.state.selected;
    if (ids.size > 0) this.move(ids, steps * stepS, semitones);
  }

  // --- listening -------------------------------------------------------------------------------

  /** The render request for the current notes and sound settings. */
  renderRequest(withSource = false): NoteRender {
    const s = this.state;
    return noteRender(s.doc, s.render, { withSource: withSource ? s.source : null, notesFrom: s.origin?.source ?? null });
  }

  play(kind: PlayKind, clickAt: number = performance.now()): void {
    const s = this.state;
    const source = s.source;
    let frame: StreamRequest;
    let key: string;
    let label: string;
    if (kind === "source") {
      if (!source) return;
      const w = wireSource(source);
      frame = w.kind === "sound"
        ? { type: "play_sound", sound_id: w.sound_id, start_s: w.start_s ?? null, end_s: w.end_s ?? null }
        : { type: "audition", spec: { decomposition_id: w.decomposition_id, units: [w.unit], edits: [] } };
      key = `midi-source:${sourceKey(source)}`;
      label = source.label;
    } else {
      if (s.doc.notes.length === 0 && kind === "render") {
        this.#toasts.show("There are no notes to play: transcribe a source or draw some.", "error");
        return;
      }
      if (kind === "both" && !source) return;
      const render = this.renderRequest(kind === "both");
      frame = { type: "render_notes", render };
      key = renderKey(render);
      label = kind === "both" ? "notes and source" : "notes";
      this.store.set({ renders: s.renders + 1 });
    }
    const client = this.#client;
    const stream: StreamSource = { label, open: (gen) => client.stream(gen, key, frame), close: (gen) => client.stopStream(gen) };
    this.studio.stop();
    this.store.set({ playing: { kind, gen: -1, status: "loading" }, position: null });
    void this.studio.warmUp().then((engine) => {
      this.#hook(engine);
      const current = this.state.playing;
      if (!current || current.gen !== -1 || current.kind !== kind) return;
      const gen = engine.play(stream, clickAt);
      this.store.set({ playing: { ...current, gen } });
    });
  }

  stop(): void {
    if (this.state.playing) this.studio.engine?.stop();
    this.store.set({ playing: null, position: null });
  }

  /** Space: play the resynthesis, or stop. */
  togglePlay(clickAt: number = performance.now()): void {
    if (this.state.playing) this.stop();
    else this.play(this.state.doc.notes.length > 0 ? "render" : "source", clickAt);
  }

  setLoop(on: boolean): void {
    this.studio.setLoop(on);
  }

  #hook(engine: AudioEngine): void {
    if (this.#engineHooked === engine) return;
    this.#engineHooked = engine;
    engine.on("state", ({ status, gen }) => {
      const playing = this.state.playing;
      if (!playing || playing.gen !== gen) return;
      if (status === "idle") this.store.set({ playing: null, position: null });
      else this.store.set({ playing: { ...playing, status } });
    });
    engine.on("position", ({ gen, seconds, totalSeconds }) => {
      if (this.state.playing?.gen === gen) this.store.set({ position: { seconds, totalSeconds } });
    });
  }

  /** After an edit or a sound change: a playing render plays the new one. */
  #follow(): void {
    const p = this.state.playing;
    if (p && p.kind !== "source") {
      if (this.state.doc.notes.length === 0 && p.kind === "render") this.stop();
      else this.play(p.kind);
    }
  }

  // --- export and keep -------------------------------------------------------------------------

  async exportMidi(): Promise<void> {
    await this.#download("/api/midi/export.mid", "export-mid", `${fileStem(this.state.doc.name)}.mid`);
  }

  async exportWav(): Promise<void> {
    await this.#download("/api/midi/render.wav", "export-wav", `${fileStem(this.state.doc.name)}.wav`);
  }

  async #download(url: string, busy: string, fallback: string): Promise<void> {
    if (this.state.doc.notes.length === 0) {
      this.#toasts.show("There are no notes to export.", "error");
      return;
    }
    this.store.set({ busy });
    try {
      const res = await fetch(url, { method: "POST", headers: { "Content-Type": "application/msgpack", ...authHeaders() }, body: encode(this.renderRequest(false)) });
      if (!res.ok) throw parseErrorBody(res.status, await res.text());
      downloadBlob(await res.blob(), filenameOf(res.headers.get("Content-Disposition")) ?? fallback);
    } catch (err) {
      this.#fail("Could not export", err);
    } finally {
      this.store.set({ busy: null });
    }
  }

  /** Keep the render as a new sound: it appears in the studio's sound list. */
  async sendToLibrary(name: string): Promise<boolean> {
    if (this.state.doc.notes.length === 0) {
      this.#toasts.show("There are no notes to render.", "error");
      return false;
    }
    this.store.set({ busy: "save" });
    try {
      const added = await this.#client.request({ type: "save_render", render: this.renderRequest(false), name: name.trim().slice(0, 120) || "render" }, "sound_added").done;
      this.#toasts.show(`Added “${added.sound.name}” to your sounds.`);
      return true;
    } catch (err) {
      this.#fail("Could not keep the render", err);
      return false;
    } finally {
      this.store.set({ busy: null });
    }
  }

  #fail(what: string, err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    const id = err instanceof ServerError ? err.errorId : null;
    this.#toasts.show(`${what}: ${plain(message)}`, "error", id ? `error ${id}` : null);
  }
}
