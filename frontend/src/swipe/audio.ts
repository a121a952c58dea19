/**
 * The swipe page's sound: the page's one audio engine, created at the first tap, playing a card's
 * preview (a `play_item` stream through the socket worker) in a loop.
 */
import type { SwipeCard } from "@shared/protocol";
import { AudioEngine, type StreamSource } from "../engine/engine";
import type { ResidueClient } from "../net/client";
import { Emitter } from "../util/emitter";
import { LOOP_LIMIT_S, previewRequest } from "./deck";
import type { PreviewPlayer } from "./controller";

export interface PreviewEvents {
  /** Where the preview is, 0..1 of its window (the progress line). */
  position: { itemId: string; fraction: number };
  /** The preview could not play (the message is for people). */
  error: { itemId: string | null; message: string; errorId: string | null };
}

export class PreviewAudio extends Emitter<PreviewEvents> implements PreviewPlayer {
  readonly #client: ResidueClient;
  #engine: Promise<AudioEngine> | null = null;
  #ready: AudioEngine | null = null;
  /** The stream generation of each playing card (to match position and error events). */
  #playing: { gen: number; itemId: string } | null = null;
  #want: { card: SwipeCard; clickAt: number | null } | null = null;

  constructor(client: ResidueClient) {
    super();
    this.#client = client;
    client.on("stream", (ev) => {
      if (ev.event !== "error" || ev.gen !== this.#playing?.gen) return;
      const itemId = this.#playing.itemId;
      this.#playing = null;
      if (ev.code !== "cancelled") this.emit("error", { itemId, message: ev.message, errorId: ev.errorId });
    });
  }

  get engine(): AudioEngine | null {
    return this.#ready;
  }

  /** Create the engine (call inside a user gesture, so that its context may start). */
  start(): Promise<AudioEngine> {
    if (!this.#engine) {
      this.#engine = AudioEngine.create({ tapeSeconds: LOOP_LIMIT_S + 1 }).then((engine) => {
        this.#ready = engine;
        this.#client.attachSink(engine.sink);
        engine.setLoop(true);
        engine.on("position", ({ gen, seconds, totalSeconds }) => {
          const p = this.#playing;
          if (!p || p.gen !== gen || totalSeconds <= 0) return;
          this.emit("position", { itemId: p.itemId, fraction: Math.min(1, (seconds % totalSeconds) / totalSeconds) });
        });
        return engine;
      });
      this.#engine.catch((err: unknown) => {
        this.#engine = null;
        this.emit("error", { itemId: null, message: `Sound could not start in this browser: ${err instanceof Error ? err.message : String(err)}`, errorId: null });
      });
    }
    void this.#engine.then((engine) => engine.resume()).catch(() => undefined);
    return this.#engine;
  }

  play(card: SwipeCard, clickAt: number | null): void {
    this.#want = { card, clickAt };
    const engine = this.#ready;
    if (engine) {
      this.#playNow(engine);
      return;
    }
    void this.start()
      .then((e) => this.#playNow(e))
      .catch(() => undefined);
  }

  prefetch(card: SwipeCard): void {
    const { key, frame } = previewRequest(card);
    this.#client.prefetch(key, frame);
  }

  stop(): void {
    this.#want = null;
    this.#playing = null;
    this.#ready?.stop();
  }

  #playNow(engine: AudioEngine): void {
    const want = this.#want;
    if (!want) return;
    this.#want = null;
    const { key, frame } = previewRequest(want.card);
    const client = this.#client;
    const source: StreamSource = {
      label: want.card.title,
      open: (gen) => client.stream(gen, key, frame),
      close: (gen) => client.stopStream(gen),
    };
    engine.setLoop(true);
    const gen = engine.play(source, want.clickAt);
    this.#playing = { gen, itemId: want.card.item_id };
  }
}
