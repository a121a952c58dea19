import { describe, expect, it } from "vitest";
import type { ClientFrame, ServerFrame } from "@shared/protocol";
import { ResidueClient } from "../net/client";
import { FakeWorker } from "../net/fake-worker";
import type { FromWorker, ToWorker } from "../workers/messages";
import { clientApi, swipeEvents, type SwipeEvents } from "./api";
import { previewRequest } from "./deck";

function open() {
  const worker = new FakeWorker();
  const client = new ResidueClient(worker);
  const events = swipeEvents(client);
  client.connect("ws://x/ws");
  worker.deliver({ type: "status", state: "open", attempt: 0 });
  const hello = worker.frames()[0];
  if (!hello) throw new Error("no hello");
  worker.reply({ type: "welcome", request_id: hello.request_id, protocol_version: 1, server_version: "t", max_upload_bytes: 1, max_duration_s: 1, max_frame_bytes: 1 });
  return { worker, client, events, api: clientApi(client) };
}

describe("clientApi", () => {
  it("sends get_swipe_deck and resolves with the deck", async () => {
    const { worker, api } = open();
    const p = api.deck("clip", null, "set1");
    const sent = worker.lastFrame();
    expect(sent).toMatchObject({ type: "get_swipe_deck", kind: "clip", album_id: null, set_id: "set1" });
    worker.reply({ type: "swipe_deck", request_id: sent.request_id, kind: "clip", cards: [], undo: false });
    await expect(p).resolves.toMatchObject({ kind: "clip", cards: [] });
  });

  it("sends decide and undo_decision; an error frame rejects", async () => {
    const { worker, api } = open();
    const d = api.decide("song", "s1", "keep");
    const sent = worker.lastFrame();
    expect(sent).toMatchObject({ type: "decide", kind: "song", item_id: "s1", decision: "keep" });
    worker.reply({ type: "decided", request_id: sent.request_id, kind: "song", item_id: "s1", decision: "keep" });
    await expect(d).resolves.toMatchObject({ decision: "keep" });
    const u = api.undo("song");
    const undo = worker.lastFrame();
    expect(undo).toMatchObject({ type: "undo_decision", kind: "song" });
    worker.reply({ type: "error", request_id: undo.request_id, code: "not_found", message: "nothing to undo" });
    await expect(u).rejects.toMatchObject({ code: "not_found" });
  });

  it("export_album reports progress and resolves with the export", async () => {
    const { worker, api } = open();
    const progress: number[] = [];
    const p = api.exportAlbum({ albumId: "al1", songIds: null, format: "wav", title: "Night" }, (f) => progress.push(f));
    const sent = worker.lastFrame();
    expect(sent).toMatchObject({ type: "export_album", album_id: "al1", song_ids: null, format: "wav", title: "Night" });
    worker.reply({ type: "job_progress", request_id: sent.request_id, fraction: 0.25, stage: "loudness" });
    worker.reply({ type: "album_exported", request_id: sent.request_id, title: "Night", folder: "/f", url: "/u.zip", files: [], loudness_lufs: -14 });
    await expect(p).resolves.toMatchObject({ url: "/u.zip" });
    expect(progress).toEqual([0.25]);
  });

  it("asks for the timbre state", async () => {
    const { worker, api } = open();
    void api.timbreState();
    expect(worker.lastFrame().type).toBe("get_timbre_state");
  });
});

describe("swipeEvents", () => {
  it("sees other tabs' decided, song_added and song_removed, not replies", () => {
    const { worker, client, events } = open();
    const seen: (keyof SwipeEvents)[] = [];
    events.on("decided", () => seen.push("decided"));
    events.on("songAdded", () => seen.push("songAdded"));
    events.on("songRemoved", () => seen.push("songRemoved"));
    const sounds: string[] = [];
    client.on("soundAdded", (f) => sounds.push(f.sound.sound_id));
    worker.reply({ type: "decided", request_id: 0, kind: "song", item_id: "s1", decision: "reject" });
    worker.reply({ type: "song_removed", request_id: 0, song_id: "s1" });
    // a reply to a request is not an event
    worker.reply({ type: "decided", request_id: 77, kind: "song", item_id: "s1", decision: "reject" });
    worker.reply({ type: "sound_added", request_id: 0, sound: { sound_id: "x", name: "x", sample_rate: 44100, channels: 1, duration_s: 1, n_samples: 1 } });
    worker.reply({
      type: "song_added",
      request_id: 0,
      song: {
        song_id: "s2", name: "Warm", album_id: "al1", position: 1, seed: 1, model_id: "m", created_at: 0, duration_s: 60,
        loudness_lufs: -16, structure: "XYXZ", thumbnail: new Uint8Array(1), thumb_rows: 1, thumb_cols: 1, decision: null, settings: "{}",
      },
    });
    expect(seen).toEqual(["decided", "songRemoved", "songAdded"]);
    expect(sounds).toEqual(["x"]);
  });
});

describe("previewRequest", () => {
  it("asks for 30 s from a third of a song, keyed by its window", () => {
    const r = previewRequest({ kind: "song", item_id: "s1", duration_s: 180 });
    expect(r.frame).toEqual({ type: "play_item", kind: "song", item_id: "s1", start_s: 60, max_s: 30 });
    expect(r.key).toBe("swipe:song:s1:60:30");
  });

  it("asks for a clip whole", () => {
    expect(previewRequest({ kind: "clip", item_id: "set-3", duration_s: 2 }).frame).toEqual({ type: "play_item", kind: "clip", item_id: "set-3", start_s: 0, max_s: null });
  });
});
