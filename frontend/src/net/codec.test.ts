import { encode } from "@msgpack/msgpack";
import { describe, expect, it } from "vitest";
import type { ClientFrame, ServerFrame } from "@shared/protocol";
import { float32View } from "../dsp/aligned";
import {
  decodeClientFrame,
  decodeFrame,
  decodePcm,
  encodeClientFrame,
  encodePcm,
  parsePcmHeader,
  PCM_HEADER_BYTES,
  ProtocolError,
} from "./codec";

describe("audio frames", () => {
  it("parses the 16-byte little-endian header <2sBBIII", () => {
    const bytes = new Uint8Array(PCM_HEADER_BYTES);
    bytes.set([0x52, 0x53, 1, 2]);
    const view = new DataView(bytes.buffer);
    view.setUint32(4, 0xdeadbeef, true);
    view.setUint32(8, 3, true);
    view.setUint32(12, 48000, true);
    expect(parsePcmHeader(bytes)).toEqual({ kind: 1, channels: 2, requestId: 0xdeadbeef, chunkIndex: 3, sampleRate: 48000 });
  });

  it("round-trips header and interleaved samples", () => {
    const samples = Float32Array.from([0.5, -0.5, 0.25, -0.25]);
    const frame = decodePcm(encodePcm({ channels: 2, requestId: 7, chunkIndex: 1, sampleRate: 44100 }, samples));
    expect(frame.header).toEqual({ kind: 1, channels: 2, requestId: 7, chunkIndex: 1, sampleRate: 44100 });
    expect(Array.from(frame.samples)).toEqual([0.5, -0.5, 0.25, -0.25]);
  });

  it("decodes a frame that sits at an unaligned offset in a bigger buffer", () => {
    const frame = encodePcm({ channels: 1, requestId: 1, chunkIndex: 0, sampleRate: 8000 }, Float32Array.from([1, 2, 3]));
    const host = new Uint8Array(frame.length + 1);
    host.set(frame, 1);
    const decoded = decodeFrame(host.subarray(1));
    expect(decoded.kind).toBe("pcm");
    if (decoded.kind === "pcm") expect(Array.from(decoded.samples)).toEqual([1, 2, 3]);
  });

  it("is a zero-copy view when the frame is a whole ArrayBuffer", () => {
    const frame = encodePcm({ channels: 1, requestId: 1, chunkIndex: 0, sampleRate: 8000 }, Float32Array.from([1, 2]));
    const decoded = decodeFrame(frame.buffer);
    expect(decoded.kind === "pcm" && decoded.samples.buffer === frame.buffer).toBe(true);
  });

  it("rejects a payload that is not whole frames, a bad magic, a bad kind, no channels", () => {
    const frame = encodePcm({ channels: 2, requestId: 1, chunkIndex: 0, sampleRate: 8000 }, Float32Array.from([1, 2, 3]));
    expect(() => decodePcm(frame)).toThrow(/whole 2-channel/);
    const bad = encodePcm({ channels: 1, requestId: 1, chunkIndex: 0, sampleRate: 8000 }, Float32Array.from([1]));
    bad[1] = 0x58;
    expect(() => decodePcm(bad)).toThrow(/magic/);
    const kind = encodePcm({ channels: 1, requestId: 1, chunkIndex: 0, sampleRate: 8000 }, Float32Array.from([1]));
    kind[2] = 9;
    expect(() => decodePcm(kind)).toThrow(/kind 9/);
    const none = encodePcm({ channels: 0, requestId: 1, chunkIndex: 0, sampleRate: 8000 }, new Float32Array(0));
    expect(() => decodePcm(none)).toThrow(/0 channels/);
    expect(() => parsePcmHeader(new Uint8Array([0x52, 0x53]))).toThrow(ProtocolError);
  });
});

describe("control frames", () => {
  it("tells a msgpack map from audio by its first byte", () => {
    const bytes = encode({ type: "ok", request_id: 3 });
    expect(bytes[0]).toBeGreaterThanOrEqual(0x80);
    expect(decodeFrame(bytes)).toEqual({ kind: "control", frame: { type: "ok", request_id: 3 } });
  });

  it("decodes a map16 frame (0xde) too", () => {
    const big: Record<string, unknown> = { type: "ok", request_id: 1 };
    const bytes = encode(big);
    // re-encode as map16 by hand: 0xde, count (2 bytes), then the same body
    const body = bytes.subarray(1);
    const map16 = new Uint8Array(3 + body.length);
    map16.set([0xde, 0, 2]);
    map16.set(body, 3);
    expect(decodeFrame(map16)).toEqual({ kind: "control", frame: { type: "ok", request_id: 1 } });
  });

  it("rejects frames that are neither", () => {
    expect(() => decodeFrame(new Uint8Array([0x01, 0x02]))).toThrow(/neither a map nor audio/);
    expect(() => decodeFrame(new Uint8Array(0))).toThrow(/empty/);
    expect(() => decodeFrame(encode([1, 2]))).toThrow(ProtocolError);
  });

  it("rejects an unknown type and a missing required field", () => {
    expect(() => decodeFrame(encode({ type: "nope", request_id: 1 }))).toThrow(/unknown frame type "nope"/);
    expect(() => decodeFrame(encode({ type: "audio_end", request_id: 1, n_frames: 3 }))).toThrow(/lacks peak/);
    expect(() => decodeFrame(encode({ type: "ok", request_id: "x" }))).toThrow(/numeric request_id/);
  });

  it("hands bin fields back as bytes; float arrays come out right even when unaligned", () => {
    const curve = new Uint8Array(new Float32Array([0.25, 1]).buffer);
    const frame: ServerFrame = {
      type: "spectrogram_tile",
      request_id: 2,
      frame_start: 0,
      n_frames: 1,
      n_rows: 1,
      data: curve,
      last: true,
    };
    const decoded = decodeFrame(encode(frame));
    if (decoded.kind !== "control" || decoded.frame.type !== "spectrogram_tile") throw new Error("wrong frame");
    expect(decoded.frame.data).toBeInstanceOf(Uint8Array);
    expect(Array.from(float32View(decoded.frame.data))).toEqual([0.25, 1]);
  });

  it("encodes client frames without undefined fields and decodes them back", () => {
    const frame: ClientFrame = { type: "list_library", request_id: 5, query: "pad", tag: undefined };
    const bytes = encodeClientFrame(frame);
    expect(decodeClientFrame(bytes)).toEqual({ type: "list_library", request_id: 5, query: "pad" });
    expect(() => decodeClientFrame(encode({ type: "welcome", request_id: 1 }))).toThrow(/unknown client frame/);
  });
});
