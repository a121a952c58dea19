/**
 * A socket worker for tests: records what the client posts and delivers what the test says the
 * server sent, so that the real ResidueClient runs without a socket.
 */
import type { ClientFrame, ServerFrame, Welcome } from "@shared/protocol";
import type { FromWorker, StreamFrame, ToWorker } from "../workers/messages";
import type { WorkerPort } from "./client";

export class FakeWorker implements WorkerPort {
  onmessage: ((event: MessageEvent<FromWorker>) => void) | null = null;
  readonly sent: ToWorker[] = [];

  postMessage(message: ToWorker): void {
    this.sent.push(message);
  }

  deliver(msg: FromWorker): void {
    this.onmessage?.({ data: msg } as MessageEvent<FromWorker>);
  }

  /** Every control frame sent, in order. */
  frames(): ClientFrame[] {
    return this.sent.flatMap((m) => (m.type === "send" ? [m.frame] : []));
  }

  /** The last frame sent. */
  lastFrame(): ClientFrame {
    const f = this.frames().at(-1);
    if (!f) throw new Error("nothing sent");
    return f;
  }

  /** The last frame of `type` sent. */
  last<T extends ClientFrame["type"]>(type: T): Extract<ClientFrame, { type: T }> {
    const f = this.frames().filter((x): x is Extract<ClientFrame, { type: T }> => x.type === type).at(-1);
    if (!f) throw new Error(`no ${type} sent`);
    return f;
  }

  count(type: ClientFrame["type"]): number {
    return this.frames().filter((x) => x.type === type).length;
  }

  /** Frames asked for as streams (played through the sink). */
  streams(): StreamFrame[] {
    return this.sent.flatMap((m) => (m.type === "stream" ? [m.frame] : []));
  }

  reply(frame: ServerFrame): void {
    this.deliver({ type: "frame", frame });
  }

  /** Answer the client's hello (with optional extra fields of the welcome). */
  welcome(extra: Partial<Omit<Welcome, "type" | "request_id">> = {}): void {
    const hello = this.frames().find((f) => f.type === "hello");
    if (!hello) throw new Error("no hello sent");
    this.reply({
      type: "welcome",
      request_id: hello.request_id,
      protocol_version: 1,
      server_version: "test",
      max_upload_bytes: 1,
      max_duration_s: 1,
      max_frame_bytes: 1,
      ...extra,
    });
  }
}
