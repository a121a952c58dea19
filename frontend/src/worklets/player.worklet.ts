/**
 * The one AudioWorkletProcessor: plays the PCM stream that the socket worker feeds it.
 *
 * Feed: a SharedArrayBuffer ring (dsp/ring.ts) when the page is cross-origin isolated, else
 * {@link PlayerFeed} messages on a MessagePort from the socket worker. In ring mode the audio thread
 * allocates nothing after construction: status goes to a shared Float64 block that the main thread
 * polls. In port mode, messages are the transport, so status is posted a few times a second.
 */
import { PlayerCore } from "../dsp/player";
import {
  attachRing,
  ringAvailable,
  ringJumpToStream,
  ringRead,
  SLOT_CHANNELS,
  SLOT_ENDED,
  SLOT_GEN,
  SLOT_RATE,
  SLOT_TOTAL,
  type Ring,
} from "../dsp/ring";
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
  type PlayerFeed,
  type PlayerOptions,
  type PlayerStatusMessage,
} from "./messages";

const SCRATCH_SAMPLES = 16384;
const PORT_STATUS_EVERY_BLOCKS = 16;

class ResiduePlayer extends AudioWorkletProcessor implements AudioWorkletProcessorImpl {
  readonly #core: PlayerCore;
  readonly #ring: Ring | null;
  readonly #status: Float64Array;
  readonly #shared: boolean;
  readonly #scratch = new Float32Array(SCRATCH_SAMPLES);
  /** Streams with a generation at or below this one are silenced. */
  #stoppedGen = 0;
  #blocks = 0;
  #streamRate = 0;

  constructor(options: { processorOptions?: unknown }) {
    super();
    const opts = options.processorOptions as PlayerOptions;
    this.#core = new PlayerCore(opts.tapeFrames);
    this.#ring = opts.ring ? attachRing(opts.ring) : null;
    this.#shared = opts.status !== null;
    this.#status = opts.status ? new Float64Array(opts.status) : new Float64Array(STATUS_SLOTS);
    this.port.onmessage = (event: MessageEvent<PlayerControl>) => this.#control(event.data);
  }

  #control(msg: PlayerControl): void {
    switch (msg.type) {
      case "stop":
        this.#stoppedGen = Math.max(this.#stoppedGen, msg.gen);
        if (this.#core.gen <= this.#stoppedGen) this.#core.stop();
        this.#publish(true);
        break;
      case "loop":
        this.#core.loop = msg.on;
        break;
      case "feed":
        msg.port.onmessage = (event: MessageEvent<PlayerFeed>) => this.#feed(event.data);
        break;
    }
  }

  /** Port mode: a message from the socket worker. */
  #feed(msg: PlayerFeed): void {
    if (msg.type === "begin") {
      if (msg.gen > this.#stoppedGen && msg.gen >= this.#core.gen) {
        this.#begin(msg.gen, msg.channels, msg.sampleRate, msg.totalFrames);
      }
    } else if (msg.gen === this.#core.gen) {
      if (msg.type === "chunk") this.#core.push(msg.data);
      else this.#core.markComplete();
    }
  }

  #begin(gen: number, channels: number, rate: number, total: number): void {
    this.#core.begin(gen, channels, rate, sampleRate, total);
    this.#streamRate = rate;
  }

  /** Ring mode: follow the stream header and move what arrived onto the tape. */
  #drainRing(ring: Ring): void {
    const c = ring.control;
    const gen = Atomics.load(c, SLOT_GEN);
    if (gen !== this.#core.gen && gen > this.#stoppedGen && gen > this.#core.gen) {
      ringJumpToStream(ring);
      this.#begin(gen, Atomics.load(c, SLOT_CHANNELS), Atomics.load(c, SLOT_RATE), Atomics.load(c, SLOT_TOTAL));
    }
    if (gen !== this.#core.gen || this.#core.state !== "playing") return;
    for (;;) {
      const want = Math.min(ringAvailable(ring), this.#core.spaceSamples(), SCRATCH_SAMPLES);
      if (want <= 0) break;
      const got = ringRead(ring, this.#scratch, 0, want);
      this.#core.push(this.#scratch, 0, got);
    }
    if (Atomics.load(c, SLOT_ENDED) === gen && ringAvailable(ring) === 0) this.#core.markComplete();
  }

  process(_inputs: Float32Array[][], outputs: Float32Array[][]): boolean {
    if (this.#ring) this.#drainRing(this.#ring);
    const out = outputs[0];
    const left = out?.[0];
    if (left) this.#core.render(left, out[1] ?? null);
    const s = this.#status;
    const offset = this.#core.soundingOffset;
    if (offset >= 0) {
      s[STATUS_SOUNDING_TIME] = currentTime + offset / sampleRate;
      s[STATUS_SOUNDING_GEN] = this.#core.gen;
    }
    if (this.#core.endedNow) s[STATUS_ENDED_GEN] = this.#core.gen;
    this.#blocks++;
    this.#publish(offset >= 0 || this.#core.endedNow || this.#blocks % PORT_STATUS_EVERY_BLOCKS === 0);
    return true;
  }

  #publish(post: boolean): void {
    const s = this.#status;
    const core = this.#core;
    s[STATUS_GEN] = core.gen;
    s[STATUS_POS] = core.position;
    s[STATUS_TOTAL] = core.totalFrames;
    s[STATUS_RATE] = this.#streamRate;
    s[STATUS_UNDERRUNS] = core.underruns;
    s[STATUS_RECEIVED] = core.receivedFrames;
    s[STATUS_PLAYING] = core.state === "playing" ? 1 : 0;
    if (!this.#shared && post) {
      this.port.postMessage({ type: "status", status: s.slice() } satisfies PlayerStatusMessage);
    }
  }
}

registerProcessor(PLAYER_PROCESSOR, ResiduePlayer);
