/**
 * The audio engine: one AudioContext, one player worklet, a level meter after it.
 *
 * Driven through {@link AudioEngine.play} / {@link AudioEngine.stop} / {@link AudioEngine.setLoop}
 * and observed through a typed emitter. It knows nothing of the page or the socket: a
 * {@link StreamSource} is anything that can feed generation `gen` of PCM into the engine's
 * {@link AudioEngine.sink} (the socket worker does).
 */
import workletUrl from "../worklets/player.worklet.ts?worker&url";
import { CONTROL_SLOTS } from "../dsp/ring";
import { Emitter } from "../util/emitter";
import type { AudioSink } from "../workers/messages";
import {
  PLAYER_PROCESSOR,
  STATUS_ENDED_GEN,
  STATUS_GEN,
  STATUS_PLAYING,
  STATUS_POS,
  STATUS_RATE,
  STATUS_RECEIVED,
  STATUS_SLOTS,
  STATUS_SOUNDING_GEN,
  STATUS_SOUNDING_TIME,
  STATUS_TOTAL,
  STATUS_UNDERRUNS,
  type PlayerControl,
  type PlayerOptions,
  type PlayerStatusMessage,
} from "../worklets/messages";

/** Something that plays as stream `gen` once opened (a request to the server, a cached clip). */
export interface StreamSource {
  readonly label: string;
  open(gen: number): void;
  close(gen: number): void;
}

export type EngineStatus = "idle" | "loading" | "playing";

export interface EngineEvents {
  state: { status: EngineStatus; gen: number; label: string };
  level: { rms: number; peak: number };
  /** The first audible sample of `gen` left the worklet; `latencyMs` counts from the click. */
  sounding: { gen: number; latencyMs: number | null };
  ended: { gen: number };
  position: { gen: number; seconds: number; totalSeconds: number; receivedSeconds: number; underruns: number };
}

export interface EngineOptions {
  /** Rate of the AudioContext (the first sound's rate; others are resampled in the worklet). */
  sampleRate?: number;
  /** Longest stream, in seconds, that can loop (the worklet's tape). */
  tapeSeconds?: number;
  /** Samples of the PCM ring (power of two). */
  ringSamples?: number;
}

const POLL_MS = 16;

/** The page was opened over plain http from another machine: no audio worklets there. */
export class InsecurePageError extends Error {
  constructor() {
    super(
      "this browser plays sound only on a secure page. Start residue with RESIDUE_HTTPS=1 (or `residue serve --https`) and open the https:// address it prints (accept its certificate once), or open the page on the computer residue runs on.",
    );
    this.name = "InsecurePageError";
  }
}

export class AudioEngine extends Emitter<EngineEvents> {
  readonly context: AudioContext;
  readonly #node: AudioWorkletNode;
  readonly #analyser: AnalyserNode;
  readonly #meterBuf: Float32Array<ArrayBuffer>;
  readonly #status: Float64Array;
  readonly #sink: AudioSink;
  readonly mode: "ring" | "port";
  #gen = 0;
  #source: StreamSource | null = null;
  #label = "";
  #clickAt: number | null = null;
  #lastLatency: number | null = null;
  #reportedSounding = 0;
  #reportedEnded = 0;
  #peakRms = 0;
  #loop = false;
  #statusValue: EngineStatus = "idle";
  #timer: ReturnType<typeof setInterval>;

  private constructor(context: AudioContext, node: AudioWorkletNode, sink: AudioSink, status: Float64Array, mode: "ring" | "port") {
    super();
    this.context = context;
    this.#node = node;
    this.#sink = sink;
    this.#status = status;
    this.mode = mode;
    this.#analyser = context.createAnalyser();
    this.#analyser.fftSize = 2048;
    this.#meterBuf = new Float32Array(this.#analyser.fftSize);
    node.connect(this.#analyser);
    this.#analyser.connect(context.destination);
    if (mode === "port") {
      node.port.onmessage = (event: MessageEvent<PlayerStatusMessage>) => {
        if (event.data.type === "status") this.#status.set(event.data.status);
      };
    }
    this.#timer = setInterval(() => this.#poll(), POLL_MS);
  }

  /** Create the context (inside a user gesture, so that it may start) and load the worklet. */
  static async create(options: EngineOptions = {}): Promise<AudioEngine> {
    // Browsers give audio worklets only to secure pages: https, or http on this very machine.
    if (!globalThis.isSecureContext || typeof AudioWorkletNode === "undefined") throw new InsecurePageError();
    const context = options.sampleRate
      ? new AudioContext({ sampleRate: options.sampleRate, latencyHint: "interactive" })
      : new AudioContext({ latencyHint: "interactive" });
    await context.audioWorklet.addModule(workletUrl);
    const shared = typeof SharedArrayBuffer !== "undefined" && globalThis.crossOriginIsolated === true;
    const tapeFrames = Math.ceil((options.tapeSeconds ?? 60) * context.sampleRate);
    const ringSamples = options.ringSamples ?? 1 << 18;
    let ring: SharedArrayBuffer | null = null;
    let statusBuf: SharedArrayBuffer | null = null;
    let port: MessagePort | null = null;
    if (shared) {
      ring = new SharedArrayBuffer(CONTROL_SLOTS * 4 + ringSamples * 4);
      statusBuf = new SharedArrayBuffer(STATUS_SLOTS * 8);
    }
    const node = new AudioWorkletNode(context, PLAYER_PROCESSOR, {
      numberOfInputs: 0,
      numberOfOutputs: 1,
      outputChannelCount: [2],
      processorOptions: { ring, status: statusBuf, tapeFrames } satisfies PlayerOptions,
    });
    let sink: AudioSink;
    if (ring) {
      sink = { kind: "ring", buffer: ring };
    } else {
      const channel = new MessageChannel();
      node.port.postMessage({ type: "feed", port: channel.port1 } satisfies PlayerControl, [channel.port1]);
      port = channel.port2;
      sink = { kind: "port", port };
    }
    const status = statusBuf ? new Float64Array(statusBuf) : new Float64Array(STATUS_SLOTS);
    return new AudioEngine(context, node, sink, status, ring ? "ring" : "port");
  }

  /** Where a stream source must put PCM (hand it to the socket worker once). */
  get sink(): AudioSink {
    return this.#sink;
  }
  get sampleRate(): number {
    return this.context.sampleRate;
  }
  get status(): EngineStatus {
    return this.#statusValue;
  }
  get gen(): number {
    return this.#gen;
  }
  get loop(): boolean {
    return this.#loop;
  }
  get label(): string {
    return this.#label;
  }

  /**
   * Play `source` as a new stream (stopping the current one).
   *
   * @param clickAt `performance.now()` of the gesture, to measure click-to-sound latency.
   * @returns the stream's generation.
   */
  play(source: StreamSource, clickAt: number | null = null): number {
    this.#closeSource();
    void this.resume();
    this.#gen += 1;
    this.#source = source;
    this.#label = source.label;
    this.#clickAt = clickAt;
    this.#setStatus("loading");
    source.open(this.#gen);
    return this.#gen;
  }

  /** Silence at once. */
  stop(): void {
    this.#closeSource();
    this.#post({ type: "stop", gen: this.#gen });
    this.#setStatus("idle");
  }

  setLoop(on: boolean): void {
    this.#loop = on;
    this.#post({ type: "loop", on });
  }

  async resume(): Promise<void> {
    if (this.context.state !== "running") await this.context.resume();
  }

  /** RMS of the last ~40 ms of output. */
  rms(): number {
    this.#analyser.getFloatTimeDomainData(this.#meterBuf);
    let sum = 0;
    for (let i = 0; i < this.#meterBuf.length; i++) {
      const v = this.#meterBuf[i] ?? 0;
      sum += v * v;
    }
    return Math.sqrt(sum / this.#meterBuf.length);
  }

  /** Highest RMS seen since {@link resetMeter}. */
  peakRms(): number {
    return this.#peakRms;
  }

  resetMeter(): void {
    this.#peakRms = 0;
    this.#lastLatency = null;
  }

  /** Milliseconds from the last play click to its first audible output, or null. */
  lastClickToSoundMs(): number | null {
    return this.#lastLatency;
  }

  async dispose(): Promise<void> {
    clearInterval(this.#timer);
    this.stop();
    await this.context.close();
  }

  #closeSource(): void {
    if (this.#source) this.#source.close(this.#gen);
    this.#source = null;
  }

  #post(msg: PlayerControl): void {
    this.#node.port.postMessage(msg);
  }

  #setStatus(status: EngineStatus): void {
    if (status === this.#statusValue && status !== "loading") return;
    this.#statusValue = status;
    this.emit("state", { status, gen: this.#gen, label: this.#label });
  }

  #poll(): void {
    const s = this.#status;
    const rms = this.rms();
    if (rms > this.#peakRms) this.#peakRms = rms;
    this.emit("level", { rms, peak: this.#peakRms });
    const gen = this.#gen;
    const soundingGen = s[STATUS_SOUNDING_GEN] ?? 0;
    if (soundingGen === gen && gen !== 0 && this.#reportedSounding !== gen) {
      this.#reportedSounding = gen;
      // when that block was rendered, on the performance.now() clock
      const renderedAgoMs = Math.max(0, (this.context.currentTime - (s[STATUS_SOUNDING_TIME] ?? 0)) * 1000);
      const latency = this.#clickAt === null ? null : Math.max(0, performance.now() - renderedAgoMs - this.#clickAt);
      if (latency !== null) this.#lastLatency = latency;
      this.emit("sounding", { gen, latencyMs: latency });
      if (this.#statusValue === "loading") this.#setStatus("playing");
    }
    if ((s[STATUS_GEN] ?? 0) === gen && gen !== 0) {
      const rate = s[STATUS_RATE] || this.context.sampleRate;
      this.emit("position", {
        gen,
        seconds: (s[STATUS_POS] ?? 0) / rate,
        totalSeconds: (s[STATUS_TOTAL] ?? 0) / rate,
        receivedSeconds: (s[STATUS_RECEIVED] ?? 0) / rate,
        underruns: s[STATUS_UNDERRUNS] ?? 0,
      });
      if ((s[STATUS_PLAYING] ?? 0) === 1 && this.#statusValue === "loading" && soundingGen === gen) {
        this.#setStatus("playing");
      }
    }
    const endedGen = s[STATUS_ENDED_GEN] ?? 0;
    if (endedGen === gen && gen !== 0 && this.#reportedEnded !== gen) {
      this.#reportedEnded = gen;
      this.#source = null;
      this.emit("ended", { gen });
      this.#setStatus("idle");
    }
  }
}
