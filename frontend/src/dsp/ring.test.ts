import { describe, expect, it } from "vitest";
import {
  attachRing,
  createRing,
  ringAvailable,
  ringBeginStream,
  ringBytes,
  ringEndStream,
  ringJumpToStream,
  ringRead,
  ringSpace,
  ringWrite,
  SLOT_CHANNELS,
  SLOT_ENDED,
  SLOT_GEN,
  SLOT_RATE,
  SLOT_READ,
  SLOT_TOTAL,
  SLOT_WRITE,
} from "./ring";

const seq = (from: number, n: number): Float32Array => Float32Array.from({ length: n }, (_, i) => from + i);

describe("ring buffer", () => {
  it("starts empty with full space", () => {
    const ring = createRing(8, false);
    expect(ringAvailable(ring)).toBe(0);
    expect(ringSpace(ring)).toBe(8);
  });

  it("reads back what was written, in order", () => {
    const ring = createRing(8, false);
    expect(ringWrite(ring, seq(1, 5))).toBe(5);
    const out = new Float32Array(5);
    expect(ringRead(ring, out)).toBe(5);
    expect(Array.from(out)).toEqual([1, 2, 3, 4, 5]);
    expect(ringAvailable(ring)).toBe(0);
  });

  it("wraps around the end of the memory", () => {
    const ring = createRing(8, false);
    ringWrite(ring, seq(1, 6));
    ringRead(ring, new Float32Array(6));
    // write index at 6: the next 5 samples wrap to 0..2
    expect(ringWrite(ring, seq(10, 5))).toBe(5);
    expect(Array.from(ring.data.subarray(0, 3))).toEqual([12, 13, 14]);
    const out = new Float32Array(5);
    expect(ringRead(ring, out)).toBe(5);
    expect(Array.from(out)).toEqual([10, 11, 12, 13, 14]);
  });

  it("underrun: reads only what is there and leaves the rest of dst alone", () => {
    const ring = createRing(8, false);
    ringWrite(ring, seq(1, 3));
    const out = new Float32Array(6).fill(-1);
    expect(ringRead(ring, out)).toBe(3);
    expect(Array.from(out)).toEqual([1, 2, 3, -1, -1, -1]);
    expect(ringRead(ring, out)).toBe(0);
  });

  it("overrun: never overwrites unread samples", () => {
    const ring = createRing(8, false);
    expect(ringWrite(ring, seq(1, 6))).toBe(6);
    expect(ringWrite(ring, seq(100, 6))).toBe(2);
    expect(ringSpace(ring)).toBe(0);
    expect(ringWrite(ring, seq(200, 1))).toBe(0);
    const out = new Float32Array(8);
    ringRead(ring, out);
    expect(Array.from(out)).toEqual([1, 2, 3, 4, 5, 6, 100, 101]);
  });

  it("writes whole frames only when given a granule", () => {
    const ring = createRing(8, false);
    ringWrite(ring, seq(1, 3));
    // 5 free samples, stereo frames: 4 go in
    expect(ringWrite(ring, seq(10, 6), 0, 6, 2)).toBe(4);
    expect(ringAvailable(ring)).toBe(7);
  });

  it("writes from an offset", () => {
    const ring = createRing(8, false);
    expect(ringWrite(ring, seq(0, 10), 7)).toBe(3);
    const out = new Float32Array(3);
    ringRead(ring, out);
    expect(Array.from(out)).toEqual([7, 8, 9]);
  });

  it("keeps working when the 32-bit counters wrap", () => {
    const ring = createRing(8, false);
    Atomics.store(ring.control, SLOT_WRITE, -3);
    Atomics.store(ring.control, SLOT_READ, -3);
    expect(ringAvailable(ring)).toBe(0);
    expect(ringWrite(ring, seq(1, 7))).toBe(7);
    expect(Atomics.load(ring.control, SLOT_WRITE)).toBe(4);
    expect(ringAvailable(ring)).toBe(7);
    const out = new Float32Array(7);
    expect(ringRead(ring, out)).toBe(7);
    expect(Array.from(out)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it("works on shared memory seen from two views", () => {
    const sab = new SharedArrayBuffer(ringBytes(16));
    const producer = attachRing(sab);
    const consumer = attachRing(sab);
    ringWrite(producer, seq(1, 4));
    expect(ringAvailable(consumer)).toBe(4);
    const out = new Float32Array(4);
    ringRead(consumer, out);
    expect(ringSpace(producer)).toBe(16);
  });

  it("announces a stream and lets the reader skip older samples", () => {
    const ring = createRing(16, false);
    ringWrite(ring, seq(1, 5)); // an old stream, never read
    ringBeginStream(ring, 7, 2, 44100, 1000);
    ringWrite(ring, seq(50, 4));
    expect(Atomics.load(ring.control, SLOT_GEN)).toBe(7);
    expect(Atomics.load(ring.control, SLOT_CHANNELS)).toBe(2);
    expect(Atomics.load(ring.control, SLOT_RATE)).toBe(44100);
    expect(Atomics.load(ring.control, SLOT_TOTAL)).toBe(1000);
    ringJumpToStream(ring);
    const out = new Float32Array(8);
    expect(ringRead(ring, out)).toBe(4);
    expect(Array.from(out.subarray(0, 4))).toEqual([50, 51, 52, 53]);
    ringEndStream(ring, 7);
    expect(Atomics.load(ring.control, SLOT_ENDED)).toBe(7);
  });

  it("rejects capacities that are not powers of two", () => {
    expect(() => createRing(12, false)).toThrow(/power of two/);
    expect(() => attachRing(new ArrayBuffer(64 + 12 * 4))).toThrow(/power of two/);
  });
});
