/**
 * Messages between the page and the socket worker (types only).
 */
import type { Audition, ClientFrame, Manipulate, PlayItem, PlayResult, PlaySound, PreviewPoint, RenderNotes, ServerFrame } from "@shared/protocol";

/** Where the socket worker puts PCM for the player worklet. */
export type AudioSink =
  | { readonly kind: "ring"; readonly buffer: SharedArrayBuffer }
  | { readonly kind: "port"; readonly port: MessagePort };

/** A request whose reply is PCM: played through the sink and kept in the worker's clip cache. */
export type StreamFrame = PlaySound | Audition | RenderNotes | PlayResult | PreviewPoint | PlayItem | Manipulate;

/** Page -> worker. */
export type ToWorker =
  | { readonly type: "connect"; readonly url: string }
  | { readonly type: "send"; readonly frame: ClientFrame }
  | { readonly type: "sink"; readonly sink: AudioSink }
  /** Play `frame`'s audio as stream `gen`, from the cache under `key` when it is there. */
  | { readonly type: "stream"; readonly gen: number; readonly key: string; readonly frame: StreamFrame }
  /** Download `frame`'s audio into the clip cache under `key` without playing it. */
  | { readonly type: "prefetch"; readonly key: string; readonly frame: StreamFrame }
  /** Send `frame`'s whole audio back as a `clip` message (for pages that cannot stream to a worklet). */
  | { readonly type: "fetch"; readonly key: string; readonly frame: StreamFrame }
  /** Stop feeding streams up to `gen` (their downloads go on, to fill the cache). */
  | { readonly type: "stop"; readonly gen: number };

export type ConnectionState = "connecting" | "open" | "closed";

export type StreamEvent =
  | {
      readonly type: "stream";
      readonly event: "start";
      readonly gen: number;
      readonly cached: boolean;
      readonly sampleRate: number;
      readonly channels: number;
      readonly totalFrames: number;
    }
  | { readonly type: "stream"; readonly event: "end"; readonly gen: number; readonly cached: boolean }
  | {
      readonly type: "stream";
      readonly event: "error";
      readonly gen: number;
      readonly code: string;
      readonly message: string;
      readonly errorId: string | null;
    };

/** Worker -> page. */
/** A whole clip: interleaved float32 PCM. */
export interface WholeClip {
  readonly sampleRate: number;
  readonly channels: number;
  readonly pcm: Float32Array<ArrayBuffer>;
}

export type FromWorker =
  | { readonly type: "status"; readonly state: ConnectionState; readonly attempt: number }
  | ({ readonly type: "clip"; readonly key: string } & WholeClip)
  | { readonly type: "clip-error"; readonly key: string; readonly code: string; readonly message: string }
  | { readonly type: "frame"; readonly frame: ServerFrame }
  | { readonly type: "protocol-error"; readonly message: string }
  | StreamEvent;
