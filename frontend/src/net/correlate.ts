/**
 * Request correlation: fresh request ids, and routing of server frames to the request they answer.
 *
 * Replies echo the request's `request_id`; events carry 0; an `error` frame ends its request.
 */
import type { Error as ErrorFrame, ServerFrame } from "@shared/protocol";

export const MAX_REQUEST_ID = 2 ** 32 - 1;

/** A request failed on the server: `code` is stable, `message` is for people. */
export class ServerError extends Error {
  override readonly name = "ServerError";
  readonly code: string;
  readonly errorId: string | null;
  readonly requestId: number;

  constructor(frame: Pick<ErrorFrame, "code" | "message" | "error_id" | "request_id">) {
    super(frame.message);
    this.code = frame.code;
    this.errorId = frame.error_id ?? null;
    this.requestId = frame.request_id;
  }
}

/** The socket closed before the reply came. */
export class ConnectionLost extends Error {
  override readonly name = "ConnectionLost";
}

/** Request ids: 1, 2, ... up to 2^32 - 1, then 1 again (skipping ids still pending). */
export class RequestIds {
  #next: number;

  constructor(start = 1) {
    if (!Number.isInteger(start) || start < 1 || start > MAX_REQUEST_ID) {
      throw new RangeError(`start=${start} must be in [1, ${MAX_REQUEST_ID}]`);
    }
    this.#next = start;
  }

  next(inUse: (id: number) => boolean = () => false): number {
    for (;;) {
      const id = this.#next;
      this.#next = id >= MAX_REQUEST_ID ? 1 : id + 1;
      if (!inUse(id)) return id;
    }
  }
}

/** What a pending request does with its frames. */
export interface Handler {
  /** A frame with this request's id; return true when it is the last one. */
  onFrame(frame: ServerFrame): boolean;
  /** An `error` frame (ServerError) or a lost connection. */
  onError(error: Error): void;
}

export type DispatchResult = "reply" | "done" | "event" | "error" | "orphan";

export class Correlator {
  readonly #ids: RequestIds;
  readonly #pending = new Map<number, Handler>();

  constructor(ids: RequestIds = new RequestIds()) {
    this.#ids = ids;
  }

  /** Register a handler under a fresh id; returns the id to put in the frame. */
  register(handler: Handler): number {
    const id = this.#ids.next((candidate) => this.#pending.has(candidate));
    this.#pending.set(id, handler);
    return id;
  }

  /** A fresh id that is not routed here (for streams handled elsewhere). */
  reserve(): number {
    return this.#ids.next((candidate) => this.#pending.has(candidate));
  }

  /** Route a frame: to its request (which may end), or report it as an event or an orphan. */
  dispatch(frame: ServerFrame): DispatchResult {
    if (frame.request_id === 0) return "event";
    const handler = this.#pending.get(frame.request_id);
    if (!handler) return "orphan";
    if (frame.type === "error") {
      this.#pending.delete(frame.request_id);
      handler.onError(new ServerError(frame));
      return "error";
    }
    let last: boolean;
    try {
      last = handler.onFrame(frame);
    } catch (err) {
      this.#pending.delete(frame.request_id);
      handler.onError(err instanceof Error ? err : new Error(String(err)));
      return "error";
    }
    if (last) {
      this.#pending.delete(frame.request_id);
      return "done";
    }
    return "reply";
  }

  /** Drop a request without calling it (after a cancel, say). */
  forget(id: number): boolean {
    return this.#pending.delete(id);
  }

  /** Fail every pending request (the socket closed). */
  failAll(error: Error): void {
    const handlers = [...this.#pending.values()];
    this.#pending.clear();
    for (const handler of handlers) handler.onError(error);
  }

  has(id: number): boolean {
    return this.#pending.has(id);
  }

  get size(): number {
    return this.#pending.size;
  }
}
