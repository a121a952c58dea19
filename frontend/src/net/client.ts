/**
 * The client API the page calls: typed requests over the socket worker, with correlation.
 *
 * Requests made before the server's `welcome` wait for it (and, when the page enters a session,
 * for `joined`: `join` is the first request after `hello`, so nothing else reaches the server
 * before the socket is in its session); when the socket closes, pending requests fail with
 * {@link ConnectionLost} and the worker reconnects (the page is told through `status`), which says
 * hello and joins again.
 */
import {
  PROTOCOL_VERSION,
  type Assignment,
  type ClientFrame,
  type ComponentRef,
  type Decomposition,
  type InviteInfo,
  type InviteRevoked,
  type Joined,
  type LibraryChanged,
  type LibraryItem,
  type LibraryOps,
  type Presence,
  type RemixPlan,
  type RenderSpec,
  type ServerFrame,
  type ServerFrameOf,
  type ServerFrameType,
  type SessionInfo,
  type SoundAdded,
  type SoundRemoved,
  type SoundInfo,
  type SpectrogramInfo,
  type SpectrogramTile,
  type Welcome,
} from "@shared/protocol";
import { Emitter } from "../util/emitter";
import type { AudioSink, ConnectionState, FromWorker, StreamEvent, StreamFrame, ToWorker, WholeClip } from "../workers/messages";
import { ConnectionLost, Correlator, ServerError } from "./correlate";

/** What the client needs of a Worker (a fake in tests). */
export interface WorkerPort {
  postMessage(message: ToWorker, transfer?: Transferable[]): void;
  onmessage: ((event: MessageEvent<FromWorker>) => void) | null;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** A client frame without its request id (the client assigns one). */
export type RequestFrame = DistributiveOmit<ClientFrame, "request_id">;
export type StreamRequest = DistributiveOmit<StreamFrame, "request_id">;

/** A request in flight. */
export interface Pending<T> {
  readonly requestId: number;
  readonly done: Promise<T>;
}

/** What `join` sends: the session (null: the default one), its token, a display name. */
export interface JoinArgs {
  readonly sessionId: string | null;
  readonly token: string | null;
  readonly name: string;
}

export interface ClientEvents {
  status: { state: ConnectionState; attempt: number };
  /** The socket is ready for requests (after `joined` when the page joins a session). */
  welcome: Welcome;
  joined: Joined;
  /** The server refused to let this tab into the session (a bad link, a limit). */
  refused: ServerError;
  presence: Presence;
  inviteRevoked: InviteRevoked;
  soundAdded: SoundAdded;
  soundRemoved: SoundRemoved;
  libraryChanged: LibraryChanged;
  stream: StreamEvent;
  /** Every event frame (request_id 0), for rooms that follow kinds of their own. */
  event: ServerFrame;
  /** A frame the page did not understand, or an error frame for no pending request. */
  problem: { message: string; error: ServerError | null };
}

export class ResidueClient extends Emitter<ClientEvents> {
  readonly #port: WorkerPort;
  readonly #correlator = new Correlator();
  /** Pages waiting for a whole clip, by key. */
  readonly #clips = new Map<string, { resolve: (clip: WholeClip) => void; reject: (err: Error) => void }[]>();
  #state: ConnectionState = "connecting";
  #welcome: Welcome | null = null;
  #ready = false;
  #join: (() => JoinArgs) | null = null;
  #waiting: (() => void)[] = [];

  constructor(port: WorkerPort) {
    super();
    this.#port = port;
    port.onmessage = (event) => this.#receive(event.data);
  }

  get state(): ConnectionState {
    return this.#state;
  }
  get welcome(): Welcome | null {
    return this.#welcome;
  }

  connect(url: string): void {
    this.#post({ type: "connect", url });
  }

  /** Join a session after every hello (`args` is read each time: the name may have changed). */
  joinWith(args: () => JoinArgs): void {
    this.#join = args;
  }

  /** Give the worker the player's PCM sink (ring or port; a port is transferred). */
  attachSink(sink: AudioSink): void {
    this.#post({ type: "sink", sink }, sink.kind === "port" ? [sink.port] : []);
  }

  /**
   * Send a request; `done` resolves with the frame of type `expect` (or the frame `isLast` accepts),
   * rejects with {@link ServerError} on an `error` frame or {@link ConnectionLost}.
   */
  request<K extends ServerFrameType>(
    frame: RequestFrame,
    expect: K,
    options: { onFrame?: (frame: ServerFrame) => void; isLast?: (frame: ServerFrame) => boolean } = {},
  ): Pending<ServerFrameOf<K>> {
    let resolve!: (value: ServerFrameOf<K>) => void;
    let reject!: (reason: Error) => void;
    const done = new Promise<ServerFrameOf<K>>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const requestId = this.#correlator.register({
      onFrame: (f) => {
        options.onFrame?.(f);
        const last = options.isLast ? options.isLast(f) : f.type === expect;
        if (last) {
          if (f.type === expect) resolve(f as ServerFrameOf<K>);
          else reject(new Error(`expected ${expect}, got ${f.type}`));
        }
        return last;
      },
      onError: reject,
    });
    const full = { ...frame, request_id: requestId } as ClientFrame;
    this.#whenReady(() => this.#post({ type: "send", frame: full }));
    return { requestId, done };
  }

  // --- typed requests ------------------------------------------------------------------------

  listSounds(): Promise<SoundInfo[]> {
    return this.request({ type: "list_sounds" }, "sounds").done.then((f) => f.sounds);
  }

  deleteSound(soundId: string): Promise<void> {
    return this.request({ type: "delete_sound", sound_id: soundId }, "ok").done.then(() => undefined);
  }

  /** Stream a spectrogram: `onInfo` once, `onTile` per tile; resolves after the last tile. */
  spectrogram(
    soundId: string,
    onInfo: (info: SpectrogramInfo) => void,
    onTile: (tile: SpectrogramTile) => void,
  ): Pending<SpectrogramTile> {
    return this.request({ type: "get_spectrogram", sound_id: soundId }, "spectrogram_tile", {
      onFrame: (f) => {
        if (f.type === "spectrogram_info") onInfo(f);
        else if (f.type === "spectrogram_tile") onTile(f);
      },
      isLast: (f) => f.type === "spectrogram_tile" && f.last,
    });
  }

  decompose(
    args: {
      soundId: string;
      nComponents: number;
      startS?: number | null;
      endS?: number | null;
      seed?: number;
    },
    onProgress: (fraction: number, stage: string) => void,
  ): Pending<Decomposition> {
    return this.request(
      {
        type: "decompose",
        sound_id: args.soundId,
        n_components: Math.round(args.nComponents),
        start_s: args.startS ?? null,
        end_s: args.endS ?? null,
        seed: args.seed ?? 0,
      },
      "decomposition",
      { onFrame: (f) => (f.type === "job_progress" ? onProgress(f.fraction, f.stage) : undefined) },
    );
  }

  getDecomposition(decompositionId: string): Promise<Decomposition> {
    return this.request({ type: "get_decomposition", decomposition_id: decompositionId }, "decomposition").done;
  }

  /** Ask the server to cancel `target`'s work; the target's own promise rejects with its error. */
  cancel(target: number): Promise<void> {
    return this.request({ type: "cancel", target_request_id: target }, "ok").done.then(() => undefined);
  }

  planRemix(
    decompositionId: string,
    strategy: "nearest" | "random" | "weird",
    seed: number,
    tag: string | null = null,
  ): Promise<RemixPlan> {
    return this.request(
      { type: "plan_remix", decomposition_id: decompositionId, strategy, seed, tag },
      "remix_plan",
    ).done;
  }

  saveComponent(decompositionId: string, unit: number, name: string, tags: string[]): Promise<LibraryChanged> {
    return this.request(
      { type: "save_component", decomposition_id: decompositionId, unit, name, tags },
      "library_changed",
    ).done;
  }

  listLibrary(query = "", tag: string | null = null): Promise<LibraryItem[]> {
    return this.request({ type: "list_library", query, tag }, "library").done.then((f) => f.items);
  }

  findSimilar(component: ComponentRef, limit = 8): Promise<LibraryItem[]> {
    return this.request({ type: "find_similar", component, limit }, "library").done.then((f) => f.items);
  }

  /** Rename from the version seen: a rename by someone else meanwhile makes it a `conflict`. */
  renameComponent(componentId: string, name: string, baseVersion: number | null = null): Promise<LibraryChanged> {
    return this.request({ type: "rename_component", component_id: componentId, name, base_version: baseVersion }, "library_changed").done;
  }

  addTag(componentId: string, tag: string): Promise<LibraryChanged> {
    return this.request({ type: "add_tag", component_id: componentId, tag }, "library_changed").done;
  }

  removeTag(componentId: string, tag: string): Promise<LibraryChanged> {
    return this.request({ type: "remove_tag", component_id: componentId, tag }, "library_changed").done;
  }

  /** The library ops after `since` (0: the whole library). */
  resume(since: number): Promise<LibraryOps> {
    return this.request({ type: "resume", since }, "library_ops").done;
  }

  /** Tell the session what this tab is listening to (null: nothing). */
  setPresence(playing: string | null, name: string | null = null): Promise<void> {
    return this.request({ type: "set_presence", playing, name }, "ok").done.then(() => undefined);
  }

  createSession(name: string): Promise<SessionInfo> {
    return this.request({ type: "create_session", name }, "session_created").done.then((f) => f.session);
  }

  listSessions(): Promise<SessionInfo[]> {
    return this.request({ type: "list_sessions" }, "session_list").done.then((f) => f.sessions);
  }

  /** A new sharing link of this session: its id and token (shown this once). */
  createInvite(label = ""): Promise<{ sessionId: string; invite: InviteInfo; token: string }> {
    return this.request({ type: "create_invite", label }, "invite").done.then((f) => ({ sessionId: f.session_id, invite: f.invite, token: f.token }));
  }

  listInvites(): Promise<InviteInfo[]> {
    return this.request({ type: "list_invites" }, "invites").done.then((f) => f.invites);
  }

  revokeInvite(inviteId: string): Promise<void> {
    return this.request({ type: "revoke_invite", invite_id: inviteId }, "invite_revoked").done.then(() => undefined);
  }

  tagComponent(componentId: string, tags: string[]): Promise<LibraryChanged> {
    return this.request({ type: "tag_component", component_id: componentId, tags }, "library_changed").done;
  }

  deleteComponent(componentId: string): Promise<LibraryChanged> {
    return this.request({ type: "delete_component", component_id: componentId }, "library_changed").done;
  }

  /**
   * Play a PCM request as stream `gen` through the sink (from the worker's cache under `key` when
   * there). Progress comes as `stream` events.
   */
  stream(gen: number, key: string, frame: StreamRequest): void {
    const requestId = this.#correlator.reserve();
    const full = { ...frame, request_id: requestId } as StreamFrame;
    this.#whenReady(() => this.#post({ type: "stream", gen, key, frame: full }));
  }

  /**
   * A PCM request's whole audio (from the worker's clip cache under `key` when there), for a page
   * that cannot stream into a worklet (a phone over plain http). Several asks of one key share it.
   */
  fetchClip(key: string, frame: StreamRequest): Promise<WholeClip> {
    return new Promise<WholeClip>((resolve, reject) => {
      const waiting = this.#clips.get(key);
      if (waiting) {
        waiting.push({ resolve, reject });
        return;
      }
      this.#clips.set(key, [{ resolve, reject }]);
      const requestId = this.#correlator.reserve();
      const full = { ...frame, request_id: requestId } as StreamFrame;
      this.#whenReady(() => this.#post({ type: "fetch", key, frame: full }));
    });
  }

  /** Fetch a PCM request into the worker's clip cache under `key`, so a later `stream` starts at once. */
  prefetch(key: string, frame: StreamRequest): void {
    const requestId = this.#correlator.reserve();
    const full = { ...frame, request_id: requestId } as StreamFrame;
    this.#whenReady(() => this.#post({ type: "prefetch", key, frame: full }));
  }

  stopStream(gen: number): void {
    this.#post({ type: "stop", gen });
  }

  // --- plumbing --------------------------------------------------------------------------------

  #post(msg: ToWorker, transfer: Transferable[] = []): void {
    this.#port.postMessage(msg, transfer);
  }

  #whenReady(fn: () => void): void {
    if (this.#ready && this.#state === "open") fn();
    else this.#waiting.push(fn);
  }

  #receive(msg: FromWorker): void {
    switch (msg.type) {
      case "status":
        this.#state = msg.state;
        if (msg.state === "open") this.#hello();
        if (msg.state === "closed") {
          this.#welcome = null;
          this.#ready = false;
          this.#correlator.failAll(new ConnectionLost("The connection to the server was lost."));
          // requests waiting for a welcome would carry ids that are no longer routed: drop them
          this.#waiting = [];
          const lost = new ConnectionLost("The connection to the server was lost.");
          for (const waiting of this.#clips.values()) for (const w of waiting) w.reject(lost);
          this.#clips.clear();
        }
        this.emit("status", { state: msg.state, attempt: msg.attempt });
        break;
      case "frame":
        this.#frame(msg.frame);
        break;
      case "stream":
        this.emit("stream", msg);
        break;
      case "protocol-error":
        this.emit("problem", { message: msg.message, error: null });
        break;
      case "clip": {
        const { type: _, key, ...clip } = msg;
        for (const w of this.#clips.get(key) ?? []) w.resolve(clip);
        this.#clips.delete(key);
        break;
      }
      case "clip-error":
        for (const w of this.#clips.get(msg.key) ?? []) w.reject(new Error(msg.message));
        this.#clips.delete(msg.key);
        break;
    }
  }

  #hello(): void {
    const requestId = this.#correlator.register({
      onFrame: (f) => {
        if (f.type === "welcome") {
          this.#welcome = f;
          if (this.#join) this.#sendJoin(f, this.#join());
          else this.#open(f);
        }
        return true;
      },
      onError: (err) => this.emit("problem", { message: err.message, error: err instanceof ServerError ? err : null }),
    });
    this.#post({
      type: "send",
      frame: { type: "hello", request_id: requestId, protocol_version: PROTOCOL_VERSION, client: "residue-web" },
    });
  }

  #sendJoin(welcome: Welcome, args: JoinArgs): void {
    const requestId = this.#correlator.register({
      onFrame: (f) => {
        if (f.type === "joined") {
          this.emit("joined", f);
          this.#open(welcome);
        }
        return true;
      },
      onError: (err) => {
        if (err instanceof ServerError) this.emit("refused", err);
        else this.emit("problem", { message: err.message, error: null });
      },
    });
    this.#post({
      type: "send",
      frame: { type: "join", request_id: requestId, session_id: args.sessionId, token: args.token, name: args.name.slice(0, 40) },
    });
  }

  /** The socket may carry requests now: tell the page, send what waited. */
  #open(welcome: Welcome): void {
    this.#ready = true;
    this.emit("welcome", welcome);
    for (const fn of this.#waiting.splice(0)) fn();
  }

  #frame(frame: ServerFrame): void {
    const result = this.#correlator.dispatch(frame);
    if (result === "event") {
      this.emit("event", frame);
      if (frame.type === "sound_added") this.emit("soundAdded", frame);
      else if (frame.type === "sound_removed") this.emit("soundRemoved", frame);
      else if (frame.type === "library_changed") this.emit("libraryChanged", frame);
      else if (frame.type === "presence") this.emit("presence", frame);
      else if (frame.type === "invite_revoked") this.emit("inviteRevoked", frame);
      else if (frame.type === "error" && frame.code === "not_authorized") this.emit("refused", new ServerError(frame));
      else if (frame.type === "error") this.emit("problem", { message: frame.message, error: new ServerError(frame) });
    } else if (result === "orphan" && frame.type === "error") {
      this.emit("problem", { message: frame.message, error: new ServerError(frame) });
    }
  }
}

export type { Assignment, AudioSink, RenderSpec };
