import { describe, expect, it } from "vitest";
import type { ServerFrame } from "@shared/protocol";
import { ResidueClient } from "./client";
import { FakeWorker } from "./fake-worker";
import { ConnectionLost, ServerError } from "./correlate";

function open(): { worker: FakeWorker; client: ResidueClient } {
  const worker = new FakeWorker();
  const client = new ResidueClient(worker);
  client.connect("ws://x/ws");
  worker.deliver({ type: "status", state: "open", attempt: 0 });
  return { worker, client };
}

describe("ResidueClient", () => {
  it("says hello with the protocol version when the socket opens", () => {
    const { worker } = open();
    expect(worker.sent[0]).toEqual({ type: "connect", url: "ws://x/ws" });
    const hello = worker.frames()[0];
    expect(hello).toMatchObject({ type: "hello", protocol_version: 1 });
    expect(hello?.request_id).toBeGreaterThanOrEqual(1);
  });

  it("holds requests until the welcome, then sends them with fresh ids", async () => {
    const { worker, client } = open();
    const sounds = client.listSounds();
    expect(worker.frames().map((f) => f.type)).toEqual(["hello"]);
    worker.welcome();
    const list = worker.frames()[1];
    expect(list?.type).toBe("list_sounds");
    expect(list?.request_id).not.toBe(worker.frames()[0]?.request_id);
    worker.reply({ type: "sounds", request_id: list?.request_id ?? -1, sounds: [] });
    await expect(sounds).resolves.toEqual([]);
  });

  it("streams progress and resolves with the decomposition", async () => {
    const { worker, client } = open();
    worker.welcome();
    const progress: number[] = [];
    const req = client.decompose({ soundId: "s1", nComponents: 6.4 }, (f) => progress.push(f));
    const sent = worker.frames().at(-1);
    expect(sent).toMatchObject({ type: "decompose", sound_id: "s1", n_components: 6, request_id: req.requestId });
    worker.reply({ type: "job_progress", request_id: req.requestId, fraction: 0.5, stage: "nmf" });
    const frame: ServerFrame = {
      type: "decomposition",
      request_id: req.requestId,
      decomposition_id: "d1",
      sound_id: "s1",
      n_components: 1,
      beta: 1,
      n_rows: 1,
      n_frames: 1,
      frame_offset: 0,
      hop_s: 0.01,
      start_s: 0,
      end_s: 1,
      components: new Uint8Array(4),
      activations: new Uint8Array(4),
      unit_rms_db: [0],
      loss: [1],
      cached: false,
    };
    worker.reply(frame);
    await expect(req.done).resolves.toMatchObject({ decomposition_id: "d1" });
    expect(progress).toEqual([0.5]);
  });

  it("collects spectrogram tiles until the last one", async () => {
    const { worker, client } = open();
    worker.welcome();
    const tiles: number[] = [];
    let rows = 0;
    const req = client.spectrogram("s1", (info) => (rows = info.n_rows), (t) => tiles.push(t.frame_start));
    const id = req.requestId;
    worker.reply({ type: "spectrogram_info", request_id: id, sound_id: "s1", n_rows: 2, n_frames: 4, hop_s: 0.01, f_min_hz: 20, f_max_hz: 20000, top_db: 80 });
    worker.reply({ type: "spectrogram_tile", request_id: id, frame_start: 0, n_frames: 2, n_rows: 2, data: new Uint8Array(4), last: false });
    worker.reply({ type: "spectrogram_tile", request_id: id, frame_start: 2, n_frames: 2, n_rows: 2, data: new Uint8Array(4), last: true });
    await expect(req.done).resolves.toMatchObject({ last: true });
    expect(rows).toBe(2);
    expect(tiles).toEqual([0, 2]);
  });

  it("rejects with a ServerError carrying the plain message", async () => {
    const { worker, client } = open();
    worker.welcome();
    const p = client.deleteComponent("c1");
    const id = worker.frames().at(-1)?.request_id ?? -1;
    worker.reply({ type: "error", request_id: id, code: "not_found", message: "no component c1", error_id: null });
    await expect(p).rejects.toBeInstanceOf(ServerError);
  });

  it("fails pending requests when the socket closes, and greets again on reopen", async () => {
    const { worker, client } = open();
    worker.welcome();
    const p = client.listLibrary();
    worker.deliver({ type: "status", state: "closed", attempt: 1 });
    await expect(p).rejects.toBeInstanceOf(ConnectionLost);
    worker.deliver({ type: "status", state: "open", attempt: 0 });
    expect(worker.frames().filter((f) => f.type === "hello")).toHaveLength(2);
  });

  it("emits events from other tabs", () => {
    const { worker, client } = open();
    worker.welcome();
    const seen: string[] = [];
    const off = client.on("libraryChanged", (f) => seen.push(f.component_id));
    client.on("soundAdded", (f) => seen.push(f.sound.sound_id));
    worker.reply({ type: "library_changed", request_id: 0, op: "delete", component_id: "c9" });
    worker.reply({
      type: "sound_added",
      request_id: 0,
      sound: { sound_id: "s9", name: "x", sample_rate: 44100, channels: 2, n_samples: 1, duration_s: 1 },
    });
    off();
    worker.reply({ type: "library_changed", request_id: 0, op: "delete", component_id: "c10" });
    expect(seen).toEqual(["c9", "s9"]);
  });

  it("reports an error frame that answers nothing as a problem", () => {
    const { worker, client } = open();
    worker.welcome();
    const problems: string[] = [];
    client.on("problem", (p) => problems.push(p.message));
    worker.reply({ type: "error", request_id: 0, code: "bad_parameter", message: "the first frame must be 'hello'", error_id: null });
    expect(problems).toEqual(["the first frame must be 'hello'"]);
  });

  it("sends PCM requests to the worker as streams with their own ids", () => {
    const { worker, client } = open();
    worker.welcome();
    client.stream(3, "k", { type: "audition", spec: { decomposition_id: "d1" } });
    const msg = worker.sent.at(-1);
    expect(msg?.type).toBe("stream");
    if (msg?.type === "stream") {
      expect(msg.gen).toBe(3);
      expect(msg.key).toBe("k");
      expect(msg.frame.request_id).toBeGreaterThanOrEqual(1);
    }
  });

  it("fetches a whole clip once for several asks, and fails them when the connection is lost", async () => {
    const { worker, client } = open();
    worker.welcome();
    const frame = { type: "play_item", kind: "song", item_id: "s1", start_s: 0, max_s: 30 } as const;
    const a = client.fetchClip("k1", frame);
    const b = client.fetchClip("k1", frame);
    const asks = worker.sent.filter((m) => m.type === "fetch");
    expect(asks).toHaveLength(1);
    expect(asks[0]).toMatchObject({ type: "fetch", key: "k1", frame: { type: "play_item", item_id: "s1" } });
    const pcm = new Float32Array([0.5, -0.5, 0.25, -0.25]);
    worker.deliver({ type: "clip", key: "k1", sampleRate: 44100, channels: 2, pcm });
    expect(await a).toEqual({ sampleRate: 44100, channels: 2, pcm });
    expect(await b).toEqual({ sampleRate: 44100, channels: 2, pcm });

    const c = client.fetchClip("k2", frame);
    worker.deliver({ type: "clip-error", key: "k2", code: "not_found", message: "no song 's1'" });
    await expect(c).rejects.toThrow("no song 's1'");
    const d = client.fetchClip("k3", frame);
    worker.deliver({ type: "status", state: "closed", attempt: 1 });
    await expect(d).rejects.toBeInstanceOf(ConnectionLost);
  });
});
