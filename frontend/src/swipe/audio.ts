/**
 * The swipe page's sound: the page's one audio engine, created at the first tap, playing a card's
 * preview (a `play_item` stream through the socket worker) in a loop. On a page that is not secure
 * (a phone over plain http) there are no audio worklets: the preview is fetched whole and looped
 * by a {@link BufferPlayer} instead.
 */
import type { SwipeCard } from "@shared/protocol";
import { AudioEngine, type StreamSource } from "../engine/engine";
import type { ResidueClient } from "../net/client";
import { Emitter } from "../util/emitter";
import { BufferPlayer, type Meter } from "./buffer-player";
import { LOOP_LIMIT_S, previewRequest } from "./deck";
import type { PreviewPlayer } from "./controller";

/** What plays: the worklet engine (streaming), or the buffer player (whole clips). */
type Backend = { readonly kind: "engine"; readonly engine: AudioEngine } | { readonly kind: "buffer"; readonly player: BufferPlayer };

/** Whether this page may use audio worklets (https, or http on this machine). */
export function worklets(): boolean {
  return globalThis.isSecureContext === true && typeof AudioWorkletNode !== "undefined";
}

export interface PreviewEvents {
  /** Where the preview is, 0..1 of its window (the progress line). */
  position: { itemId: string; fraction: number };
  /** The preview could not play (the message is for people). */
  error: { itemId: string | null; message: string; errorId: string | null };
}

export class PreviewAudio extends Emitter<PreviewEvents> implements PreviewPlayer {
  readonly #client: ResidueClient;
  #backend: Promise<Backend> | null = null;
  #ready: Backend | null = null;
  /** The card playing: its stream generation (engine) or its fetch number (buffer). */
  #playing: { gen: number; itemId: string } | null = null;
  #want: { card: SwipeCard; clickAt: number | null } | null = null;
  #fetches = 0;
  #positionTimer: ReturnType<typeof setInterval> | null = null;

  constructor(client: ResidueClient) {
    super();
    this.#client = client;
    client.on("stream", (ev) => {
      if (ev.event !== "error" || this.#ready?.kind !== "engine" || ev.gen !== this.#playing?.gen) return;
      const itemId = this.#playing.itemId;
      this.#playing = null;
      if (ev.code !== "cancelled") this.emit("error", { itemId, message: ev.message, errorId: ev.errorId });
    });
  }

  /** The level meter of what plays (null before the first tap). */
  get meter(): Meter | null {
    const b = this.#ready;
    return b === null ? null : b.kind === "engine" ? b.engine : b.player;
  }

  /** Create the engine (call inside a user gesture, so that its context may start). */
  start(): Promise<Backend> {
    if (!this.#backend) {
      this.#backend = (worklets() ? this.#startEngine() : Promise.resolve(this.#startBuffer())).then((b) => {
        this.#ready = b;
        return b;
      });
      this.#backend.catch((err: unknown) => {
        this.#backend = null;
        this.emit("error", { itemId: null, message: `Sound could not start in this browser: ${err instanceof Error ? err.message : String(err)}`, errorId: null });
      });
    }
    void this.#backend.then((b) => (b.kind === "engine" ? b.engine.resume() : b.player.resume())).catch(() => undefined);
    return this.#backend;
  }

  async #startEngine(): Promise<Backend> {
    const engine = await AudioEngine.create({ tapeSeconds: LOOP_LIMIT_S + 1 });
    this.#client.attachSink(engine.sink);
    engine.setLoop(true);
    engine.on("position", ({ gen, seconds, totalSeconds }) => {
      const p = this.#playing;
      if (!p || p.gen !== gen || totalSeconds <= 0) return;
      this.emit("position", { itemId: p.itemId, fraction: Math.min(1, (seconds % totalSeconds) / totalSeconds) });
    });
    return { kind: "engine", engine };
  }

  #startBuffer(): Backend {
    const player = new BufferPlayer();
    this.#positionTimer = setInterval(() => {
      const p = this.#playing;
      const at = player.position();
      if (p && at !== null) this.emit("position", { itemId: p.itemId, fraction: at });
    }, 100);
    return { kind: "buffer", player };
  }

  play(card: SwipeCard, clickAt: number | null): void {
    this.#want = { card, clickAt };
    const backend = this.#ready;
    if (backend) {
      this.#playNow(backend);
      return;
    }
    void this.start()
      .then((b) => this.#playNow(b))
      .catch(() => undefined);
  }

  prefetch(card: SwipeCard): void {
    const { key, frame } = previewRequest(card);
    this.#client.prefetch(key, frame);
  }

  stop(): void {
    this.#want = null;
    this.#playing = null;
    const b = this.#ready;
    if (b?.kind === "engine") b.engine.stop();
    else if (b?.kind === "buffer") b.player.stop();
  }

  #playNow(backend: Backend): void {
    const want = this.#want;
    if (!want) return;
    this.#want = null;
    const { key, frame } = previewRequest(want.card);
    const client = this.#client;
    if (backend.kind === "buffer") {
      const gen = ++this.#fetches;
      const itemId = want.card.item_id;
      backend.player.stop();
      this.#playing = { gen, itemId };
      client.fetchClip(key, frame).then(
        (clip) => {
          if (this.#playing?.gen === gen) backend.player.play(clip, want.clickAt);
        },
        (err: unknown) => {
          if (this.#playing?.gen !== gen) return;
          this.#playing = null;
          this.emit("error", { itemId, message: err instanceof Error ? err.message : String(err), errorId: null });
        },
      );
      return;
    }
    const source: StreamSource = {
      label: want.card.title,
      open: (gen) => client.stream(gen, key, frame),
      close: (gen) => client.stopStream(gen),
    };
    backend.engine.setLoop(true);
    const gen = backend.engine.play(source, want.clickAt);
    this.#playing = { gen, itemId: want.card.item_id };
  }
}
