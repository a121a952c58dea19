import { describe, expect, it } from "vitest";
import { PlayerCore } from "./player";

const block = (n = 8): [Float32Array, Float32Array] => [new Float32Array(n), new Float32Array(n)];
const stereo = (frames: [number, number][]): Float32Array => Float32Array.from(frames.flat());

describe("PlayerCore", () => {
  it("is silent before a stream begins", () => {
    const p = new PlayerCore(64);
    const [l, r] = block();
    l.fill(9);
    expect(p.render(l, r)).toBe(false);
    expect(Array.from(l)).toEqual(new Array(8).fill(0));
  });

  it("plays pushed stereo frames at the same rate unchanged", () => {
    const p = new PlayerCore(64);
    p.begin(1, 2, 48000, 48000, 4);
    p.push(stereo([[0.1, -0.1], [0.2, -0.2], [0.3, -0.3], [0.4, -0.4]]));
    const [l, r] = block(4);
    expect(p.render(l, r)).toBe(true);
    expect(Array.from(l)).toEqual([0.1, 0.2, 0.3, 0.4].map(Math.fround));
    expect(Array.from(r)).toEqual([-0.1, -0.2, -0.3, -0.4].map(Math.fround));
  });

  it("duplicates mono to both channels", () => {
    const p = new PlayerCore(64);
    p.begin(1, 1, 44100, 44100, 2);
    p.push(Float32Array.from([0.5, 0.25]));
    const [l, r] = block(2);
    p.render(l, r);
    expect(Array.from(l)).toEqual([0.5, 0.25]);
    expect(Array.from(r)).toEqual([0.5, 0.25]);
  });

  it("writes silence for NaN and infinite samples", () => {
    const p = new PlayerCore(64);
    p.begin(1, 2, 8000, 8000, 2);
    p.push(stereo([[Number.NaN, 0.5], [Infinity, -Infinity]]));
    const [l, r] = block(2);
    p.render(l, r);
    expect(Array.from(l)).toEqual([0, 0]);
    expect(Array.from(r)).toEqual([0.5, 0]);
  });

  it("accepts frames split across pushes", () => {
    const p = new PlayerCore(64);
    p.begin(1, 2, 8000, 8000, 2);
    p.push(Float32Array.from([0.1]));
    p.push(Float32Array.from([0.2, 0.3, 0.4]));
    const [l, r] = block(2);
    p.render(l, r);
    expect(Array.from(l)).toEqual([0.1, 0.3].map(Math.fround));
    expect(Array.from(r)).toEqual([0.2, 0.4].map(Math.fround));
  });

  it("holds its position on underrun and resumes where it stopped", () => {
    const p = new PlayerCore(64);
    p.begin(1, 1, 8000, 8000, 6);
    p.push(Float32Array.from([1, 2]));
    const [l, r] = block(4);
    p.render(l, r);
    expect(Array.from(l)).toEqual([1, 2, 0, 0]);
    expect(p.underruns).toBe(2);
    p.push(Float32Array.from([3, 4, 5, 6]));
    p.render(l, r);
    expect(Array.from(l)).toEqual([3, 4, 5, 6]);
    expect(p.state).toBe("playing");
  });

  it("ends after the last frame when not looping", () => {
    const p = new PlayerCore(64);
    p.begin(3, 1, 8000, 8000, 3);
    p.push(Float32Array.from([1, 2, 3]));
    const [l, r] = block(5);
    p.render(l, r);
    expect(Array.from(l)).toEqual([1, 2, 3, 0, 0]);
    expect(p.state).toBe("ended");
    expect(p.endedNow).toBe(true);
    p.render(l, r);
    expect(p.endedNow).toBe(false);
  });

  it("loops a fully received stream when loop is on", () => {
    const p = new PlayerCore(64);
    p.loop = true;
    p.begin(1, 1, 8000, 8000, 3);
    p.push(Float32Array.from([1, 2, 3]));
    const [l, r] = block(8);
    p.render(l, r);
    expect(Array.from(l)).toEqual([1, 2, 3, 1, 2, 3, 1, 2]);
    expect(p.state).toBe("playing");
  });

  it("does not loop before the whole stream arrived (it waits instead)", () => {
    const p = new PlayerCore(64);
    p.loop = true;
    p.begin(1, 1, 8000, 8000, 4);
    p.push(Float32Array.from([1, 2, 3]));
    const [l, r] = block(5);
    p.render(l, r);
    expect(Array.from(l)).toEqual([1, 2, 3, 0, 0]);
    p.push(Float32Array.from([4]));
    p.render(l, r);
    expect(Array.from(l)).toEqual([4, 1, 2, 3, 4]);
  });

  it("a stream shorter than announced ends when marked complete", () => {
    const p = new PlayerCore(64);
    p.begin(1, 1, 8000, 8000, 100);
    p.push(Float32Array.from([1, 2]));
    p.markComplete();
    expect(p.totalFrames).toBe(2);
    const [l, r] = block(4);
    p.render(l, r);
    expect(Array.from(l)).toEqual([1, 2, 0, 0]);
    expect(p.state).toBe("ended");
  });

  it("resamples linearly when the stream rate differs from the output's", () => {
    const p = new PlayerCore(64);
    p.begin(1, 1, 4000, 8000, 3);
    p.push(Float32Array.from([0, 1, 0]));
    const [l, r] = block(6);
    p.render(l, r);
    expect(Array.from(l)).toEqual([0, 0.5, 1, 0.5, 0, 0]);
  });

  it("reports the offset of the first audible sample once per stream", () => {
    const p = new PlayerCore(64);
    p.begin(1, 1, 8000, 8000, 8);
    p.push(Float32Array.from([0, 0, 0, 0.5, 0.5, 0, 0, 0]));
    const [l, r] = block(4);
    p.render(l, r);
    expect(p.soundingOffset).toBe(3);
    p.render(l, r);
    expect(p.soundingOffset).toBe(-1);
  });

  it("limits how far ahead a stream longer than the tape may be pushed", () => {
    const p = new PlayerCore(16);
    p.begin(1, 1, 8000, 8000, 100);
    expect(p.loopable).toBe(false);
    expect(p.spaceSamples()).toBe(14);
    expect(p.push(Float32Array.from({ length: 40 }, (_, i) => i + 1))).toBe(14);
    const [l, r] = block(10);
    p.render(l, r);
    expect(Array.from(l)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(p.spaceSamples()).toBe(10);
    // the tape wraps: later frames land on played ones
    expect(p.push(Float32Array.from({ length: 10 }, (_, i) => i + 15))).toBe(10);
    p.render(l, r);
    expect(Array.from(l)).toEqual([11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
  });

  it("stop silences at once and refuses samples", () => {
    const p = new PlayerCore(64);
    p.begin(1, 1, 8000, 8000, 4);
    p.stop();
    expect(p.push(Float32Array.from([1, 1]))).toBe(0);
    const [l, r] = block(2);
    expect(p.render(l, r)).toBe(false);
    expect(p.state).toBe("idle");
  });

  it("allocates its memory up front", () => {
    expect(() => new PlayerCore(4)).toThrow(/>= 16/);
  });
});
