import { describe, expect, it } from "vitest";
import { deinterleave } from "./buffer-player";

describe("deinterleave", () => {
  it("splits interleaved PCM into one array per channel, dropping a torn last frame", () => {
    const pcm = new Float32Array([0.1, -0.1, 0.2, -0.2, 0.3, -0.3, 0.9]);
    const [left, right] = deinterleave({ sampleRate: 44100, channels: 2, pcm });
    expect(Array.from(left ?? [])).toEqual([0.1, 0.2, 0.3].map(Math.fround));
    expect(Array.from(right ?? [])).toEqual([-0.1, -0.2, -0.3].map(Math.fround));
    expect(deinterleave({ sampleRate: 8000, channels: 1, pcm: new Float32Array([1, 2]) })).toHaveLength(1);
  });
});
