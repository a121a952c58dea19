import { describe, expect, it, vi } from "vitest";
import type { ServerFrame } from "@shared/protocol";
import { ConnectionLost, Correlator, MAX_REQUEST_ID, RequestIds, ServerError, type Handler } from "./correlate";

function recorder(lastType: string): Handler & { frames: ServerFrame[]; errors: Error[] } {
  const frames: ServerFrame[] = [];
  const errors: Error[] = [];
  return {
    frames,
    errors,
    onFrame: (f) => {
      frames.push(f);
      return f.type === lastType;
    },
    onError: (e) => errors.push(e),
  };
}

describe("RequestIds", () => {
  it("counts from 1", () => {
    const ids = new RequestIds();
    expect([ids.next(), ids.next(), ids.next()]).toEqual([1, 2, 3]);
  });

  it("wraps after 2^32 - 1 back to 1, never 0", () => {
    const ids = new RequestIds(MAX_REQUEST_ID);
    expect(ids.next()).toBe(MAX_REQUEST_ID);
    expect(ids.next()).toBe(1);
  });

  it("skips ids still in use", () => {
    const ids = new RequestIds();
    expect(ids.next((id) => id < 3)).toBe(3);
  });

  it("rejects a start outside the id range", () => {
    expect(() => new RequestIds(0)).toThrow(RangeError);
  });
});

describe("Correlator", () => {
  it("routes replies by request id until the last one", () => {
    const c = new Correlator();
    const a = recorder("decomposition");
    const b = recorder("sounds");
    const ida = c.register(a);
    const idb = c.register(b);
    expect(ida).not.toBe(idb);
    expect(c.dispatch({ type: "job_progress", request_id: ida, fraction: 0.5, stage: "nmf" })).toBe("reply");
    expect(c.dispatch({ type: "sounds", request_id: idb, sounds: [] })).toBe("done");
    expect(a.frames.map((f) => f.type)).toEqual(["job_progress"]);
    expect(b.frames.map((f) => f.type)).toEqual(["sounds"]);
    expect(c.has(idb)).toBe(false);
    expect(c.has(ida)).toBe(true);
  });

  it("turns an error frame into a ServerError and ends the request", () => {
    const c = new Correlator();
    const a = recorder("ok");
    const id = c.register(a);
    expect(c.dispatch({ type: "error", request_id: id, code: "bad_parameter", message: "n_components=0 must be in [1, 64]", error_id: "e1" })).toBe("error");
    const err = a.errors[0];
    expect(err).toBeInstanceOf(ServerError);
    expect(err?.message).toBe("n_components=0 must be in [1, 64]");
    expect(err instanceof ServerError && err.code).toBe("bad_parameter");
    expect(err instanceof ServerError && err.errorId).toBe("e1");
    expect(c.size).toBe(0);
  });

  it("reports events (request id 0) and orphans", () => {
    const c = new Correlator();
    expect(c.dispatch({ type: "library_changed", request_id: 0, op: "delete", component_id: "x" })).toBe("event");
    expect(c.dispatch({ type: "ok", request_id: 99 })).toBe("orphan");
  });

  it("fails every pending request when the connection is lost", () => {
    const c = new Correlator();
    const a = recorder("ok");
    const b = recorder("ok");
    c.register(a);
    c.register(b);
    c.failAll(new ConnectionLost("gone"));
    expect(a.errors[0]).toBeInstanceOf(ConnectionLost);
    expect(b.errors[0]).toBeInstanceOf(ConnectionLost);
    expect(c.size).toBe(0);
  });

  it("a handler that throws fails its own request only", () => {
    const c = new Correlator();
    const onError = vi.fn();
    const id = c.register({
      onFrame: () => {
        throw new Error("boom");
      },
      onError,
    });
    expect(c.dispatch({ type: "ok", request_id: id })).toBe("error");
    expect(onError).toHaveBeenCalledOnce();
  });

  it("reserves ids that are not routed and forgets requests", () => {
    const c = new Correlator();
    const id = c.register(recorder("ok"));
    const reserved = c.reserve();
    expect(reserved).not.toBe(id);
    expect(c.dispatch({ type: "ok", request_id: reserved })).toBe("orphan");
    expect(c.forget(id)).toBe(true);
    expect(c.dispatch({ type: "ok", request_id: id })).toBe("orphan");
  });
});
