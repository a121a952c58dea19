/**
 * Sound for a page that is not secure (a phone at http://192.168.x.x): browsers give audio
 * worklets only to secure pages, but an AudioBufferSourceNode plays anywhere. A preview is
 * fetched whole, then looped; the first sound comes when the clip has arrived, not with its first
 * chunk, which for a 30 s preview is a fraction of a second on a home network.
 */
import type { WholeClip } from "../workers/messages";

/** The level meter and latency a test reads (the same questions the worklet engine answers). */
export interface Meter {
  readonly mode: "ring" | "port" | "buffer";
  rms(): number;
  peakRms(): number;
  resetMeter(): void;
  lastClickToSoundMs(): number | null;
}

/** Interleaved PCM -> one array per channel. */
export function deinterleave(clip: WholeClip): Float32Array<ArrayBuffer>[] {
  const frames = Math.floor(clip.pcm.length / clip.channels);
  const out = Array.from({ length: clip.channels }, () => new Float32Array(frames));
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < clip.channels; c++) {
      const channel = out[c];
      if (channel) channel[i] = clip.pcm[i * clip.channels + c] ?? 0;
    }
  }
  return out;
}

export class BufferPlayer implements Meter {
  readonly mode = "buffer" as const;
  readonly #context: AudioContext;
  readonly #analyser: AnalyserNode;
  readonly #samples: Float32Array<ArrayBuffer>;
  #source: AudioBufferSourceNode | null = null;
  #startedAt = 0;
  #duration = 0;
  #peak = 0;
  #lastClickMs: number | null = null;
  readonly #meterTimer: ReturnType<typeof setInterval>;

  constructor(context: AudioContext = new AudioContext({ latencyHint: "interactive" })) {
    this.#context = context;
    this.#analyser = context.createAnalyser();
    this.#analyser.fftSize = 2048;
    this.#analyser.connect(context.destination);
    this.#samples = new Float32Array(this.#analyser.fftSize);
    // the peak is sampled as it plays, so that a test sees a sound that has already ended
    this.#meterTimer = setInterval(() => void this.rms(), 50);
  }

  resume(): Promise<void> {
    return this.#context.resume();
  }

  /** Loop `clip` from its start (what played before stops). */
  play(clip: WholeClip, clickAt: number | null): void {
    this.stop();
    const channels = deinterleave(clip);
    const frames = channels[0]?.length ?? 0;
    if (frames === 0) return;
    const buffer = this.#context.createBuffer(clip.channels, frames, clip.sampleRate);
    channels.forEach((data, c) => buffer.copyToChannel(data, c));
    const source = this.#context.createBufferSource();
    source.buffer = buffer;
    source.loop = true;
    source.connect(this.#analyser);
    source.start();
    this.#source = source;
    this.#startedAt = this.#context.currentTime;
    this.#duration = buffer.duration;
    if (clickAt !== null) {
      const outputMs = (this.#context.outputLatency || this.#context.baseLatency || 0) * 1000;
      this.#lastClickMs = performance.now() - clickAt + outputMs;
    }
  }

  stop(): void {
    if (!this.#source) return;
    this.#source.stop();
    this.#source.disconnect();
    this.#source = null;
  }

  /** Where the loop is: 0..1 of the clip, or null when nothing plays. */
  position(): number | null {
    if (!this.#source || this.#duration <= 0) return null;
    const t = this.#context.currentTime - this.#startedAt;
    return (t % this.#duration) / this.#duration;
  }

  rms(): number {
    this.#analyser.getFloatTimeDomainData(this.#samples);
    let sum = 0;
    for (const v of this.#samples) sum += v * v;
    const rms = Math.sqrt(sum / this.#samples.length);
    this.#peak = Math.max(this.#peak, rms);
    return rms;
  }

  peakRms(): number {
    return this.#peak;
  }

  resetMeter(): void {
    this.#peak = 0;
  }

  lastClickToSoundMs(): number | null {
    return this.#lastClickMs;
  }

  close(): void {
    clearInterval(this.#meterTimer);
    this.stop();
    void this.#context.close();
  }
}
