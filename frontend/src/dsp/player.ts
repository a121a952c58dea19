/**
 * The playback core of the audio worklet, as plain code so that it can be tested in Node.
 *
 * It keeps the current stream on a preallocated stereo "tape" (so that a fully received region can
 * loop), plays it at a fractional position (linear interpolation when the stream's sample rate
 * differs from the output's), and never allocates after construction.
 *
 * Why the worklet resamples rather than the context: the AudioContext is created once, at the
 * first sound's rate, and stays (recreating it needs a gesture and costs start-up latency). A sound
 * at another rate is linearly interpolated here; for the usual case (same rate) the step is 1 and
 * samples are copied unchanged.
 */

/** Output below this magnitude counts as silence for "first sound" detection. */
export const SOUNDING_THRESHOLD = 1e-4;

export type PlayerState = "idle" | "playing" | "ended";

export class PlayerCore {
  /** Stereo interleaved samples, `tapeFrames` frames. */
  readonly #tape: Float32Array;
  readonly #tapeFrames: number;
  #gen = 0;
  #channels = 2;
  #totalFrames = 0;
  /** Frames received so far (absolute, may exceed the tape for long streams). */
  #written = 0;
  #complete = false;
  #pos = 0;
  #step = 1;
  #state: PlayerState = "idle";
  #loop = false;
  #sounded = false;
  #soundingOffset = -1;
  #endedNow = false;
  #underruns = 0;
  /** Partial frame carried between pushes (a push may split a frame). */
  readonly #carry = new Float32Array(64);
  #carryLen = 0;

  constructor(tapeFrames: number) {
    if (!Number.isInteger(tapeFrames) || tapeFrames < 16) {
      throw new RangeError(`tapeFrames=${tapeFrames} must be an integer >= 16`);
    }
    this.#tapeFrames = tapeFrames;
    this.#tape = new Float32Array(tapeFrames * 2);
  }

  get gen(): number {
    return this.#gen;
  }
  get state(): PlayerState {
    return this.#state;
  }
  /** Play position in stream frames. */
  get position(): number {
    return this.#pos;
  }
  get totalFrames(): number {
    return this.#totalFrames;
  }
  get receivedFrames(): number {
    return this.#written;
  }
  get underruns(): number {
    return this.#underruns;
  }
  get loop(): boolean {
    return this.#loop;
  }
  set loop(on: boolean) {
    this.#loop = on;
  }
  /** True when the whole stream fits on the tape, so that it can loop. */
  get loopable(): boolean {
    return this.#totalFrames > 0 && this.#totalFrames <= this.#tapeFrames;
  }

  /**
   * Start a new stream (drops the old one).
   *
   * @param channels interleaved channels of the pushed samples (1 or more; the first two play).
   * @param streamRate sample rate of the stream, Hz.
   * @param outputRate sample rate of the output, Hz.
   * @param totalFrames frames the stream will have.
   */
  begin(gen: number, channels: number, streamRate: number, outputRate: number, totalFrames: number): void {
    this.#gen = gen;
    this.#channels = Math.max(1, Math.min(32, Math.floor(channels)));
    this.#step = streamRate > 0 && outputRate > 0 ? streamRate / outputRate : 1;
    this.#totalFrames = Math.max(0, Math.floor(totalFrames));
    this.#written = 0;
    this.#complete = this.#totalFrames === 0;
    this.#pos = 0;
    this.#state = "playing";
    this.#sounded = false;
    this.#soundingOffset = -1;
    this.#endedNow = false;
    this.#underruns = 0;
    this.#carryLen = 0;
  }

  /** Stop at once: the output is silent until the next {@link begin}. */
  stop(): void {
    this.#state = "idle";
    this.#gen = 0;
  }

  /** Interleaved samples (of the stream's channel count) the tape can take now. */
  spaceSamples(): number {
    if (this.#state !== "playing") return 0;
    const ahead = this.#written - Math.floor(this.#pos);
    const frames = this.loopable
      ? this.#totalFrames - this.#written
      : Math.min(this.#tapeFrames - 2 - ahead, this.#totalFrames - this.#written);
    return Math.max(0, frames) * this.#channels;
  }

  /**
   * Append interleaved samples of the current stream.
   *
   * @returns samples taken (fewer than `count` when the tape is full; the rest must be pushed later).
   */
  push(src: Float32Array, offset = 0, count: number = src.length - offset): number {
    if (this.#state !== "playing") return 0;
    const ch = this.#channels;
    const n = Math.min(count, this.spaceSamples() - this.#carryLen, src.length - offset);
    if (n <= 0) return 0;
    let i = 0;
    // complete a frame split across pushes
    while (this.#carryLen > 0 && i < n) {
      this.#carry[this.#carryLen++] = src[offset + i++] ?? 0;
      if (this.#carryLen === ch) {
        this.#putFrame(this.#carry, 0);
        this.#carryLen = 0;
      }
    }
    while (i + ch <= n) {
      this.#putFrame(src, offset + i);
      i += ch;
    }
    while (i < n) this.#carry[this.#carryLen++] = src[offset + i++] ?? 0;
    if (this.#written >= this.#totalFrames) this.#complete = true;
    return n;
  }

  /** Every frame of the stream was pushed (also for a stream shorter than announced). */
  markComplete(): void {
    if (this.#state === "idle") return;
    this.#complete = true;
    this.#totalFrames = this.#written;
  }

  /**
   * Render one block.
   *
   * @returns true when the output is not silent.
   */
  render(left: Float32Array, right: Float32Array | null): boolean {
    const n = left.length;
    let loud = false;
    this.#soundingOffset = -1;
    this.#endedNow = false;
    if (this.#state !== "playing") {
      left.fill(0);
      right?.fill(0);
      return false;
    }
    const total = this.#totalFrames;
    const canLoop = this.#loop && this.#complete && this.loopable && total > 0;
    for (let k = 0; k < n; k++) {
      if (canLoop && this.#pos >= total) this.#pos -= total * Math.floor(this.#pos / total);
      const i = Math.floor(this.#pos);
      let l = 0;
      let r = 0;
      if (i < this.#written) {
        const frac = this.#pos - i;
        const t0 = (i % this.#tapeFrames) * 2;
        l = this.#tape[t0] ?? 0;
        r = this.#tape[t0 + 1] ?? 0;
        if (frac > 0) {
          let j = i + 1;
          if (j >= total && canLoop) j = 0;
          if (j < this.#written) {
            const t1 = (j % this.#tapeFrames) * 2;
            l += ((this.#tape[t1] ?? 0) - l) * frac;
            r += ((this.#tape[t1 + 1] ?? 0) - r) * frac;
          }
        }
        this.#pos += this.#step;
      } else if (this.#complete) {
        this.#state = "ended";
        this.#endedNow = true;
        for (let m = k; m < n; m++) {
          left[m] = 0;
          if (right) right[m] = 0;
        }
        break;
      } else {
        this.#underruns++;
      }
      left[k] = l;
      if (right) right[k] = r;
      if (!loud && (l > SOUNDING_THRESHOLD || l < -SOUNDING_THRESHOLD || r > SOUNDING_THRESHOLD || r < -SOUNDING_THRESHOLD)) {
        loud = true;
        if (!this.#sounded) {
          this.#sounded = true;
          this.#soundingOffset = k;
        }
      }
    }
    return loud;
  }

  /** Offset (frames into the last block) of the stream's first audible sample, or -1. */
  get soundingOffset(): number {
    return this.#soundingOffset;
  }
  /** True when the stream ended during the last block. */
  get endedNow(): boolean {
    return this.#endedNow;
  }

  #putFrame(src: Float32Array, at: number): void {
    const t = (this.#written % this.#tapeFrames) * 2;
    const l = src[at] ?? 0;
    const r = this.#channels > 1 ? (src[at + 1] ?? 0) : l;
    // NaN and infinities would poison the output bus: write silence instead.
    this.#tape[t] = Number.isFinite(l) ? l : 0;
    this.#tape[t + 1] = Number.isFinite(r) ? r : 0;
    this.#written++;
  }
}
