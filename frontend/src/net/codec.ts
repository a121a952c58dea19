/**
 * Frames on the one WebSocket: msgpack control maps and raw PCM audio frames.
 *
 * Pure code shared by the socket worker and tests; frame types come from shared/protocol.ts only.
 */
import { decode, encode } from "@msgpack/msgpack";
import {
  CLIENT_FRAME_REQUIRED,
  SERVER_FRAME_REQUIRED,
  type ClientFrame,
  type ServerFrame,
  type ServerFrameType,
} from "@shared/protocol";
import { float32View } from "../dsp/aligned";

/** Bytes of the audio-frame header `<2sBBIII`. */
export const PCM_HEADER_BYTES = 16;
/** "RS" */
export const PCM_MAGIC_0 = 0x52;
export const PCM_MAGIC_1 = 0x53;
export const PCM_KIND_F32 = 1;

/** The header of an audio frame. */
export interface PcmHeader {
  readonly kind: number;
  readonly channels: number;
  readonly requestId: number;
  readonly chunkIndex: number;
  readonly sampleRate: number;
}

/** A decoded audio frame: interleaved float32 samples (`frames * channels`). */
export interface PcmFrame {
  readonly kind: "pcm";
  readonly header: PcmHeader;
  readonly samples: Float32Array<ArrayBuffer>;
}

export interface ControlFrame {
  readonly kind: "control";
  readonly frame: ServerFrame;
}

export type DecodedFrame = PcmFrame | ControlFrame;

/** A frame that does not follow the contract. */
export class ProtocolError extends Error {
  override readonly name = "ProtocolError";
}

/** Encode a client frame as a msgpack map (absent optional fields are left out, not sent as nil). */
export function encodeClientFrame(frame: ClientFrame): Uint8Array<ArrayBuffer> {
  // @msgpack/msgpack encodes into a plain ArrayBuffer (never shared memory)
  return encode(frame, { ignoreUndefined: true }) as Uint8Array<ArrayBuffer>;
}

/**
 * Decode one binary WebSocket message.
 *
 * @throws ProtocolError for anything that is neither a known server frame nor a valid audio frame.
 */
export function decodeFrame(message: ArrayBuffer | Uint8Array): DecodedFrame {
  const bytes = message instanceof Uint8Array ? message : new Uint8Array(message);
  const first = bytes[0];
  if (first === undefined) throw new ProtocolError("empty frame");
  if (first === PCM_MAGIC_0) return decodePcm(bytes);
  if ((first >= 0x80 && first <= 0x8f) || first === 0xde || first === 0xdf) {
    return { kind: "control", frame: decodeServerFrame(bytes) };
  }
  throw new ProtocolError(`frame starts with byte 0x${first.toString(16)}: neither a map nor audio`);
}

/** Parse the 16-byte audio header (little-endian `<2sBBIII`). */
export function parsePcmHeader(bytes: Uint8Array): PcmHeader {
  if (bytes.byteLength < PCM_HEADER_BYTES) {
    throw new ProtocolError(`audio frame of ${bytes.byteLength} bytes is shorter than its header`);
  }
  if (bytes[0] !== PCM_MAGIC_0 || bytes[1] !== PCM_MAGIC_1) throw new ProtocolError("bad audio magic");
  const view = new DataView(bytes.buffer, bytes.byteOffset, PCM_HEADER_BYTES);
  return {
    kind: view.getUint8(2),
    channels: view.getUint8(3),
    requestId: view.getUint32(4, true),
    chunkIndex: view.getUint32(8, true),
    sampleRate: view.getUint32(12, true),
  };
}

/** Decode an audio frame: header, then interleaved float32 PCM (copied only when unaligned). */
export function decodePcm(bytes: Uint8Array): PcmFrame {
  const header = parsePcmHeader(bytes);
  if (header.kind !== PCM_KIND_F32) throw new ProtocolError(`unknown audio kind ${header.kind}`);
  if (header.channels < 1) throw new ProtocolError("audio frame with 0 channels");
  const payload = bytes.subarray(PCM_HEADER_BYTES);
  if (payload.byteLength % (4 * header.channels) !== 0) {
    throw new ProtocolError(
      `audio payload of ${payload.byteLength} bytes is not whole ${header.channels}-channel float32 frames`,
    );
  }
  return { kind: "pcm", header, samples: float32View(payload) };
}

/** Build an audio frame (the server's `pack_pcm`); used by tests and fixtures. */
export function encodePcm(header: Omit<PcmHeader, "kind">, samples: Float32Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(PCM_HEADER_BYTES + samples.length * 4);
  const view = new DataView(out.buffer);
  out[0] = PCM_MAGIC_0;
  out[1] = PCM_MAGIC_1;
  view.setUint8(2, PCM_KIND_F32);
  view.setUint8(3, header.channels);
  view.setUint32(4, header.requestId, true);
  view.setUint32(8, header.chunkIndex, true);
  view.setUint32(12, header.sampleRate, true);
  for (let i = 0; i < samples.length; i++) view.setFloat32(PCM_HEADER_BYTES + i * 4, samples[i] ?? 0, true);
  return out;
}

/**
 * Decode a msgpack control frame and check its tag and required fields against the contract.
 *
 * @throws ProtocolError when it is not a map, has an unknown `type`, or lacks a required field.
 */
export function decodeServerFrame(bytes: Uint8Array): ServerFrame {
  let value: unknown;
  try {
    value = decode(bytes);
  } catch (err) {
    throw new ProtocolError(`undecodable msgpack: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!isRecord(value)) throw new ProtocolError("control frame is not a map");
  const type = value["type"];
  if (typeof type !== "string" || !isServerFrameType(type)) {
    throw new ProtocolError(`unknown frame type ${JSON.stringify(type)}`);
  }
  for (const field of SERVER_FRAME_REQUIRED[type]) {
    if (!(field in value)) throw new ProtocolError(`${type} frame lacks ${field}`);
  }
  if (typeof value["request_id"] !== "number") throw new ProtocolError(`${type} frame has no numeric request_id`);
  // The tag and required fields are checked; field types are the server's contract (msgspec).
  return value as unknown as ServerFrame;
}

/** Decode a msgpack client frame (tests and fixtures: the reverse direction). */
export function decodeClientFrame(bytes: Uint8Array): ClientFrame {
  const value: unknown = decode(bytes);
  if (!isRecord(value)) throw new ProtocolError("client frame is not a map");
  const type = value["type"];
  if (typeof type !== "string" || !(type in CLIENT_FRAME_REQUIRED)) {
    throw new ProtocolError(`unknown client frame type ${JSON.stringify(type)}`);
  }
  return value as unknown as ClientFrame;
}

export function isServerFrameType(type: string): type is ServerFrameType {
  return Object.prototype.hasOwnProperty.call(SERVER_FRAME_REQUIRED, type);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}
