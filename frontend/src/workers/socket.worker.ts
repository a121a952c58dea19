/**
 * The socket worker: owns the tab's one WebSocket, decodes frames, and moves PCM straight to the
 * player worklet (ring or port) without passing through the main thread.
 *
 * It also keeps a cache of rendered clips keyed by the page's edit key, so that playing the same
 * edit again starts at once, without a round trip.
 */
/// <reference lib="webworker" />
import { decodeFrame, encodeClientFrame, ProtocolError } from "../net/codec";
import { attachRing, ringBeginStream, ringEndStream, ringWrite, type Ring } from "../dsp/ring";
import type { PlayerFeed } from "../worklets/messages";
import type { AudioSink, FromWorker, StreamEvent, StreamFrame, ToWorker } from "./messages";
import type { ClientFrame, ServerFrame } from "@shared/protocol";

declare const self: DedicatedWorkerGlobalScope;

const CACHE_MAX_BYTES = 192 * 1024 * 1024;
const FEED_CHUNK_SAMPLES = 16384;
const RETRY_MS = 4;
const RECONNECT_MS = [250, 500, 1000, 2000, 4000];

function post(msg: FromWorker, transfer: Transferable[] = []): void {
  self.postMessage(msg, transfer);
}

// ----------------------------------------------------------------------------------------------
// clip cache

interface Clip {
  readonly key: string;
  readonly sampleRate: number;
  readonly channels: number;
  totalFrames: number;
  readonly pcm: Float32Array;
  filled: number;
  complete: boolean;
}

class ClipCache {
  readonly #clips = new Map<string, Clip>();
  #bytes = 0;

  get(key: string): Clip | undefined {
    const clip = this.#clips.get(key);
    if (clip) {
      // most recently used last
      this.#clips.delete(key);
      this.#clips.set(key, clip);
    }
    return clip;
  }

  put(clip: Clip): void {
    const old = this.#clips.get(clip.key);
    if (old) this.#bytes -= old.pcm.byteLength;
    this.#clips.set(clip.key, clip);
    this.#bytes += clip.pcm.byteLength;
    for (const [key, c] of this.#clips) {
      if (this.#bytes <= CACHE_MAX_BYTES) break;
      this.#clips.delete(key);
      this.#bytes -= c.pcm.byteLength;
    }
  }
}

// ----------------------------------------------------------------------------------------------
// sinks: where PCM goes

interface Sink {
  begin(gen: number, channels: number, sampleRate: number, totalFrames: number): void;
  write(gen: number, samples: Float32Array, channels: number, owned: boolean): void;
  end(gen: number): void;
  /** Forget queued samples of older streams. */
  drop(): void;
}

/** SharedArrayBuffer ring; samples that do not fit wait in a queue and are retried. */
class RingSink implements Sink {
  readonly #ring: Ring;
  #queue: { gen: number; samples: Float32Array; offset: number; channels: number }[] = [];
  #endGen = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #gen = 0;

  constructor(buffer: SharedArrayBuffer) {
    this.#ring = attachRing(buffer);
  }

  begin(gen: number, channels: number, sampleRate: number, totalFrames: number): void {
    this.drop();
    this.#gen = gen;
    ringBeginStream(this.#ring, gen, channels, sampleRate, totalFrames);
  }

  write(gen: number, samples: Float32Array, channels: number): void {
    if (gen !== this.#gen) return;
    this.#queue.push({ gen, samples, offset: 0, channels });
    this.#pump();
  }

  end(gen: number): void {
    if (gen !== this.#gen) return;
    this.#endGen = gen;
    this.#pump();
  }

  drop(): void {
    this.#queue = [];
    this.#endGen = 0;
    this.#gen = 0;
  }

  #pump = (): void => {
    this.#timer = null;
    while (this.#queue.length > 0) {
      const head = this.#queue[0];
      if (!head) break;
      const n = ringWrite(this.#ring, head.samples, head.offset, head.samples.length - head.offset, head.channels);
      head.offset += n;
      if (head.offset < head.samples.length) {
        this.#timer ??= setTimeout(this.#pump, RETRY_MS);
        return;
      }
      this.#queue.shift();
    }
    if (this.#endGen !== 0 && this.#endGen === this.#gen) {
      ringEndStream(this.#ring, this.#endGen);
      this.#endGen = 0;
    }
  };
}

/** MessagePort to the worklet (no cross-origin isolation): chunks are transferred. */
class PortSink implements Sink {
  readonly #port: MessagePort;
  #gen = 0;

  constructor(port: MessagePort) {
    this.#port = port;
  }

  begin(gen: number, channels: number, sampleRate: number, totalFrames: number): void {
    this.#gen = gen;
    this.#send({ type: "begin", gen, channels, sampleRate, totalFrames });
  }

  write(gen: number, samples: Float32Array, _channels: number, owned: boolean): void {
    if (gen !== this.#gen) return;
    const data = owned ? samples : samples.slice();
    this.#port.postMessage({ type: "chunk", gen, data } satisfies PlayerFeed, [data.buffer as ArrayBuffer]);
  }

  end(gen: number): void {
    if (gen === this.#gen) this.#send({ type: "end", gen });
  }

  drop(): void {
    this.#gen = 0;
  }

  #send(msg: PlayerFeed): void {
    this.#port.postMessage(msg);
  }
}

// ----------------------------------------------------------------------------------------------
// streams

interface Download {
  /** The stream it feeds; {@link PREFETCH} for a download only meant for the cache. */
  gen: number;
  readonly key: string;
  clip: Clip | null;
}

/** The generation of prefetches: never the one playing. */
const PREFETCH = -1;

const cache = new ClipCache();
/** Streams being downloaded, by request id. */
const downloads = new Map<number, Download>();
let sink: Sink | null = null;
/** The stream the sink currently plays (0 = none). */
let currentGen = 0;
let cacheFeed: ReturnType<typeof setTimeout> | null = null;

function streamEvent(msg: StreamEvent): void {
  post(msg);
}

function startStream(gen: number, key: string, frame: StreamFrame): void {
  currentGen = gen;
  stopCacheFeed();
  sink?.drop();
  const clip = cache.get(key);
  if (clip?.complete) {
    feedFromCache(gen, clip);
    return;
  }
  // the same clip may already be downloading (a second click, a prefetch): follow it
  for (const [, d] of downloads) {
    if (d.key !== key) continue;
    if (d.clip) feedFromCache(gen, d.clip);
    else d.gen = gen; // nothing has arrived yet: it starts the sink when it does
    return;
  }
  downloads.set(frame.request_id, { gen, key, clip: null });
  send(frame);
}

/** Keys whose whole clip a page asked for (`fetch`): sent back when complete. */
const wanted = new Set<string>();

function sendClip(clip: Clip): void {
  wanted.delete(clip.key);
  const pcm = clip.pcm.slice(0, clip.filled);
  post({ type: "clip", key: clip.key, sampleRate: clip.sampleRate, channels: clip.channels, pcm }, [pcm.buffer]);
}

/** Send a clip back whole (downloading it first unless it is cached). */
function fetchClip(key: string, frame: StreamFrame): void {
  const cached = cache.get(key);
  if (cached?.complete) {
    sendClip(cached);
    return;
  }
  wanted.add(key);
  prefetch(key, frame);
}

/** Download a clip into the cache without playing it (the next card of a deck), unless it is there. */
function prefetch(key: string, frame: StreamFrame): void {
  if (cache.get(key)?.complete) return;
  for (const [, d] of downloads) if (d.key === key) return;
  downloads.set(frame.request_id, { gen: PREFETCH, key, clip: null });
  send(frame);
}

/** Feed a cached (or still downloading) clip into the sink, as fast as the sink takes it. */
function feedFromCache(gen: number, clip: Clip): void {
  sink?.begin(gen, clip.channels, clip.sampleRate, clip.totalFrames);
  streamEvent({
    type: "stream",
    event: "start",
    gen,
    cached: clip.complete,
    sampleRate: clip.sampleRate,
    channels: clip.channels,
    totalFrames: clip.totalFrames,
  });
  let at = 0;
  const step = (): void => {
    cacheFeed = null;
    if (currentGen !== gen) return;
    while (at < clip.filled) {
      const n = Math.min(FEED_CHUNK_SAMPLES, clip.filled - at);
      sink?.write(gen, clip.pcm.subarray(at, at + n), clip.channels, false);
      at += n;
    }
    if (clip.complete && at >= clip.filled) {
      sink?.end(gen);
      streamEvent({ type: "stream", event: "end", gen, cached: true });
      return;
    }
    cacheFeed = setTimeout(step, 10);
  };
  step();
}

function stopCacheFeed(): void {
  if (cacheFeed !== null) clearTimeout(cacheFeed);
  cacheFeed = null;
}

/** Control frames of stream requests are handled here; returns true when consumed. */
function onStreamFrame(frame: ServerFrame): boolean {
  const d = downloads.get(frame.request_id);
  if (!d) return false;
  switch (frame.type) {
    case "audio_start": {
      const samples = frame.n_frames * frame.channels;
      d.clip = {
        key: d.key,
        sampleRate: frame.sample_rate,
        channels: frame.channels,
        totalFrames: frame.n_frames,
        pcm: new Float32Array(samples),
        filled: 0,
        complete: false,
      };
      if (d.gen === currentGen) {
        sink?.begin(d.gen, frame.channels, frame.sample_rate, frame.n_frames);
        streamEvent({
          type: "stream",
          event: "start",
          gen: d.gen,
          cached: false,
          sampleRate: frame.sample_rate,
          channels: frame.channels,
          totalFrames: frame.n_frames,
        });
      }
      return true;
    }
    case "audio_end": {
      downloads.delete(frame.request_id);
      const clip = d.clip;
      if (clip) {
        clip.complete = true;
        clip.totalFrames = Math.min(clip.totalFrames, clip.filled / clip.channels);
        cache.put(clip);
        if (wanted.has(clip.key)) sendClip(clip);
      }
      if (d.gen === currentGen && cacheFeed === null) {
        sink?.end(d.gen);
        streamEvent({ type: "stream", event: "end", gen: d.gen, cached: false });
      }
      return true;
    }
    case "error":
      downloads.delete(frame.request_id);
      if (wanted.delete(d.key)) post({ type: "clip-error", key: d.key, code: frame.code, message: frame.message });
      if (d.gen === PREFETCH) return true; // asked again when it is played, with its error then
      streamEvent({
        type: "stream",
        event: "error",
        gen: d.gen,
        code: frame.code,
        message: frame.message,
        errorId: frame.error_id ?? null,
      });
      return true;
    default:
      return false;
  }
}

function onPcm(requestId: number, samples: Float32Array<ArrayBuffer>, channels: number): void {
  const d = downloads.get(requestId);
  if (!d?.clip) return;
  const clip = d.clip;
  const room = clip.pcm.length - clip.filled;
  const n = Math.min(room, samples.length);
  clip.pcm.set(n === samples.length ? samples : samples.subarray(0, n), clip.filled);
  clip.filled += n;
  if (d.gen === currentGen && cacheFeed === null) sink?.write(d.gen, samples, channels, true);
}

// ----------------------------------------------------------------------------------------------
// the socket

let socket: WebSocket | null = null;
let url = "";
let attempt = 0;
const outbox: Uint8Array<ArrayBuffer>[] = [];

function send(frame: ClientFrame): void {
  const bytes = encodeClientFrame(frame);
  if (socket?.readyState === WebSocket.OPEN) socket.send(bytes);
  else outbox.push(bytes);
}

function connect(): void {
  post({ type: "status", state: "connecting", attempt });
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  socket = ws;
  ws.onopen = () => {
    attempt = 0;
    for (const bytes of outbox.splice(0)) ws.send(bytes);
    post({ type: "status", state: "open", attempt });
  };
  ws.onmessage = (event: MessageEvent<ArrayBuffer | string>) => {
    if (typeof event.data === "string") {
      post({ type: "protocol-error", message: "text frame on a binary socket" });
      return;
    }
    let decoded;
    try {
      decoded = decodeFrame(event.data);
    } catch (err) {
      post({ type: "protocol-error", message: err instanceof ProtocolError ? err.message : String(err) });
      return;
    }
    if (decoded.kind === "pcm") {
      onPcm(decoded.header.requestId, decoded.samples, decoded.header.channels);
      return;
    }
    if (!onStreamFrame(decoded.frame)) post({ type: "frame", frame: decoded.frame });
  };
  ws.onclose = () => {
    if (socket !== ws) return;
    socket = null;
    // frames queued while closed are dropped: their requests fail on the page
    outbox.length = 0;
    for (const key of wanted) post({ type: "clip-error", key, code: "connection_lost", message: "The connection to the server was lost." });
    wanted.clear();
    for (const [, d] of downloads) {
      if (d.gen === PREFETCH) continue;
      streamEvent({ type: "stream", event: "error", gen: d.gen, code: "connection_lost", message: "The connection to the server was lost.", errorId: null });
    }
    downloads.clear();
    post({ type: "status", state: "closed", attempt });
    const delay = RECONNECT_MS[Math.min(attempt, RECONNECT_MS.length - 1)] ?? 4000;
    attempt++;
    setTimeout(connect, delay);
  };
}

self.onmessage = (event: MessageEvent<ToWorker>) => {
  const msg = event.data;
  switch (msg.type) {
    case "connect":
      url = msg.url;
      if (!socket) connect();
      break;
    case "send":
      send(msg.frame);
      break;
    case "sink":
      sink = makeSink(msg.sink);
      break;
    case "stream":
      startStream(msg.gen, msg.key, msg.frame);
      break;
    case "prefetch":
      prefetch(msg.key, msg.frame);
      break;
    case "fetch":
      fetchClip(msg.key, msg.frame);
      break;
    case "stop":
      if (currentGen <= msg.gen) {
        currentGen = 0;
        stopCacheFeed();
        sink?.drop();
      }
      break;
  }
};

function makeSink(desc: AudioSink): Sink {
  return desc.kind === "ring" ? new RingSink(desc.buffer) : new PortSink(desc.port);
}
