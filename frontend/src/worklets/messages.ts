/**
 * Messages and shared memory of the player worklet (types and constants only: imported by the
 * worklet, the engine and the socket worker, each with different globals).
 */

/** Name the processor registers under. */
export const PLAYER_PROCESSOR = "residue-player";

/** Main thread -> worklet (node.port). */
export type PlayerControl =
  /** Silence every stream up to and including `gen`. */
  | { readonly type: "stop"; readonly gen: number }
  | { readonly type: "loop"; readonly on: boolean }
  /** Port mode only: the socket worker's end of a MessageChannel that carries {@link PlayerFeed}. */
  | { readonly type: "feed"; readonly port: MessagePort };

/** Socket worker -> worklet when there is no SharedArrayBuffer (port mode). */
export type PlayerFeed =
  | {
      readonly type: "begin";
      readonly gen: number;
      readonly channels: number;
      readonly sampleRate: number;
      readonly totalFrames: number;
    }
  | { readonly type: "chunk"; readonly gen: number; readonly data: Float32Array }
  | { readonly type: "end"; readonly gen: number };

/** Worklet -> main thread in port mode (with a SharedArrayBuffer it writes the status block instead). */
export interface PlayerStatusMessage {
  readonly type: "status";
  readonly status: Float64Array;
}

/** `processorOptions` of the player node. */
export interface PlayerOptions {
  /** The PCM ring (see dsp/ring.ts), or null in port mode. */
  readonly ring: SharedArrayBuffer | null;
  /** The status block (Float64Array of STATUS_SLOTS), or null in port mode. */
  readonly status: SharedArrayBuffer | null;
  /** Frames of the tape (the longest stream that can loop). */
  readonly tapeFrames: number;
}

// Status block slots (Float64). Written by the worklet only.
export const STATUS_GEN = 0;
export const STATUS_POS = 1;
export const STATUS_TOTAL = 2;
export const STATUS_RATE = 3;
export const STATUS_SOUNDING_GEN = 4;
/** AudioContext time (s) of the first audible sample of STATUS_SOUNDING_GEN. */
export const STATUS_SOUNDING_TIME = 5;
export const STATUS_ENDED_GEN = 6;
export const STATUS_UNDERRUNS = 7;
export const STATUS_RECEIVED = 8;
/** 1 while a stream is playing, else 0. */
export const STATUS_PLAYING = 9;
export const STATUS_SLOTS = 12;
