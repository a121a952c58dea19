/**
 * A single-producer single-consumer ring of float32 samples, plus the header of the PCM stream that
 * flows through it.
 *
 * Memory: one (Shared)ArrayBuffer = an Int32Array of {@link CONTROL_SLOTS} control slots followed by
 * `capacity` float32 samples. The socket worker writes, the audio worklet reads; neither allocates.
 *
 * Indices are free-running 32-bit counters (`write`, `read`), so `write - read` (mod 2^32) is the
 * fill level and the capacity must be a power of two. Only the producer stores `write` and the
 * stream slots; only the consumer stores `read`. Atomics order the data against the counters.
 */

export const SLOT_WRITE = 0;
export const SLOT_READ = 1;
/** Generation of the stream being written (0 = none). Stored last when a stream begins. */
export const SLOT_GEN = 2;
export const SLOT_CHANNELS = 3;
export const SLOT_RATE = 4;
/** Total frames the stream will have (from `audio_start`). */
export const SLOT_TOTAL = 5;
/** Value of the write counter when the stream began: the consumer jumps its read counter there. */
export const SLOT_START = 6;
/** Generation whose last sample was written. */
export const SLOT_ENDED = 7;
export const CONTROL_SLOTS = 16;

/** A ring over some memory. */
export interface Ring {
  readonly control: Int32Array;
  readonly data: Float32Array;
  readonly capacity: number;
  readonly mask: number;
}

/** Bytes a ring of `capacity` samples needs. */
export function ringBytes(capacity: number): number {
  checkCapacity(capacity);
  return CONTROL_SLOTS * 4 + capacity * 4;
}

/**
 * A view of a ring laid out in `buffer` (which both sides may share).
 *
 * @throws RangeError when the buffer size is not `ringBytes(capacity)` for a power-of-two capacity.
 */
export function attachRing(buffer: ArrayBuffer | SharedArrayBuffer): Ring {
  const capacity = (buffer.byteLength - CONTROL_SLOTS * 4) / 4;
  checkCapacity(capacity);
  return {
    control: new Int32Array(buffer, 0, CONTROL_SLOTS),
    data: new Float32Array(buffer, CONTROL_SLOTS * 4, capacity),
    capacity,
    mask: capacity - 1,
  };
}

/** A new ring on a SharedArrayBuffer when `shared` (needs cross-origin isolation), else an ArrayBuffer. */
export function createRing(capacity: number, shared: boolean): Ring {
  const bytes = ringBytes(capacity);
  return attachRing(shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
}

/** Samples written and not yet read. */
export function ringAvailable(ring: Ring): number {
  return (Atomics.load(ring.control, SLOT_WRITE) - Atomics.load(ring.control, SLOT_READ)) >>> 0;
}

/** Samples that can be written without overwriting unread ones. */
export function ringSpace(ring: Ring): number {
  return ring.capacity - ringAvailable(ring);
}

/**
 * Write up to `count` samples of `src` from `offset`; never overruns the reader.
 *
 * @param granule write a multiple of this many samples (the channel count: whole frames only).
 * @returns samples written (0 when full).
 */
export function ringWrite(
  ring: Ring,
  src: Float32Array,
  offset = 0,
  count: number = src.length - offset,
  granule = 1,
): number {
  const write = Atomics.load(ring.control, SLOT_WRITE);
  const free = ring.capacity - ((write - Atomics.load(ring.control, SLOT_READ)) >>> 0);
  let n = Math.min(count, free, src.length - offset);
  n -= n % granule;
  if (n <= 0) return 0;
  const at = write & ring.mask;
  const first = Math.min(n, ring.capacity - at);
  ring.data.set(src.subarray(offset, offset + first), at);
  if (n > first) ring.data.set(src.subarray(offset + first, offset + n), 0);
  Atomics.store(ring.control, SLOT_WRITE, (write + n) | 0);
  return n;
}

/**
 * Read up to `count` samples into `dst` at `offset`; never reads past the writer.
 *
 * @returns samples read (0 on underrun).
 */
export function ringRead(
  ring: Ring,
  dst: Float32Array,
  offset = 0,
  count: number = dst.length - offset,
): number {
  const read = Atomics.load(ring.control, SLOT_READ);
  const avail = (Atomics.load(ring.control, SLOT_WRITE) - read) >>> 0;
  const n = Math.min(count, avail, dst.length - offset);
  if (n <= 0) return 0;
  const at = read & ring.mask;
  const first = Math.min(n, ring.capacity - at);
  // copyWithin-free copy without allocating: plain loops (subarray would allocate a view).
  for (let i = 0; i < first; i++) dst[offset + i] = ring.data[at + i] ?? 0;
  for (let i = first; i < n; i++) dst[offset + i] = ring.data[i - first] ?? 0;
  Atomics.store(ring.control, SLOT_READ, (read + n) | 0);
  return n;
}

/** Producer: announce a new stream; samples written from now on belong to generation `gen`. */
export function ringBeginStream(
  ring: Ring,
  gen: number,
  channels: number,
  sampleRate: number,
  totalFrames: number,
): void {
  const c = ring.control;
  Atomics.store(c, SLOT_START, Atomics.load(c, SLOT_WRITE));
  Atomics.store(c, SLOT_CHANNELS, channels);
  Atomics.store(c, SLOT_RATE, sampleRate);
  Atomics.store(c, SLOT_TOTAL, totalFrames);
  Atomics.store(c, SLOT_GEN, gen);
}

/** Producer: every sample of generation `gen` was written. */
export function ringEndStream(ring: Ring, gen: number): void {
  Atomics.store(ring.control, SLOT_ENDED, gen);
}

/** Consumer: skip to the first sample of the stream now announced (drops older samples). */
export function ringJumpToStream(ring: Ring): void {
  Atomics.store(ring.control, SLOT_READ, Atomics.load(ring.control, SLOT_START));
}

function checkCapacity(capacity: number): void {
  if (!Number.isInteger(capacity) || capacity < 2 || capacity > 2 ** 28 || (capacity & (capacity - 1)) !== 0) {
    throw new RangeError(`ring capacity ${capacity} must be a power of two in [2, 2^28]`);
  }
}
