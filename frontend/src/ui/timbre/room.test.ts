import { describe, expect, it } from "vitest";
import type { ClientFrame, MapPointInfo, ServerFrame, SongInfo, SoundInfo, TimbreState } from "@shared/protocol";
import { ResidueClient } from "../../net/client";
import { FakeWorker } from "../../net/fake-worker";
import type { FromWorker, StreamFrame, ToWorker } from "../../workers/messages";
import { toScreen } from "./map";
import { GRAMMAR_DEBOUNCE_MS, PREVIEW_INTERVAL_MS, TimbreRoom, type EnginePort, type StreamSource, type StudioPort, type ToastPort } from "./room";
import { FakeTimers } from "../../util/fake-timers";

class FakeEngine implements EnginePort {
  gen = 0;
  loop: boolean | null = null;
  readonly labels: string[] = [];
  stops = 0;
  readonly #listeners: ((p: { status: "idle" | "loading" | "playing"; gen: number; label: string }) => void)[] = [];
  play(source: StreamSource): number {
    this.gen++;
    this.labels.push(source.label);
    source.open(this.gen);
    return this.gen;
  }
  stop(): void {
    this.stops++;
    for (const l of this.#listeners) l({ status: "idle", gen: this.gen, label: "" });
  }
  setLoop(on: boolean): void {
    this.loop = on;
  }
  on(_event: "state", listener: (p: { status: "idle" | "loading" | "playing"; gen: number; label: string }) => void): () => void {
    this.#listeners.push(listener);
    return () => undefined;
  }
}

const SOUNDS: SoundInfo[] = [
  { sound_id: "s1", name: "pad", channels: 1, duration_s: 4, n_samples: 4, sample_rate: 44100 },
  { sound_id: "s2", name: "rain", channels: 1, duration_s: 4, n_samples: 4, sample_rate: 44100 },
];

const GRAMMAR = "S -> XYXZ\nX -> AABB\nY -> CD\nZ -> E";

function timbreState(requestId: number, patch: Partial<TimbreState> = {}): TimbreState {
  return {
    type: "timbre_state",
    request_id: requestId,
    models: [{ model_id: "m0", is_default: true, latent_dim: 32, training_set: "default", n_clips: 300, loss: [3, 2, 1.5] }],
    default_model_id: "m0",
    sets: [{ set_id: "set1", name: "library", created_at: 1, n_clips: 40, n_usable: 30 }],
    albums: [],
    defaults: { seed: 0, minutes: 4, criterion: "weirdness", direction: "high", grammar: GRAMMAR, ambience: "off", wiggle_amplitude: 0.6, wiggle_rate_hz: 0.05 },
    criteria: ["centroid", "loudness", "weirdness", "region", "random"],
    ambiences: ["off", "wind", "rain", "waves", "sounds"],
    map_methods: ["pca"],
    max_album_songs: 500,
    ...patch,
  };
}

const POINTS: MapPointInfo[] = [
  { kind: "anchor", item_id: "a0", label: "sine", x: -1, y: -1 },
  { kind: "clip", item_id: "set1-0", label: "pad 0 s", x: 1, y: 1 },
  { kind: "clip", item_id: "set1-1", label: "kick", x: 1, y: -1, flagged: true },
  { kind: "component", item_id: "c1", label: "warm", x: -1, y: 1 },
];

function song(id: string, patch: Partial<SongInfo> = {}): SongInfo {
  return {
    song_id: id,
    name: `song ${id}`,
    album_id: null,
    position: 0,
    seed: 1,
    model_id: "m0",
    created_at: 100,
    duration_s: 240,
    loudness_lufs: -16,
    structure: "AABB",
    thumbnail: new Uint8Array(4),
    thumb_rows: 2,
    thumb_cols: 2,
    decision: null,
    settings: "{}",
    ...patch,
  };
}

const flush = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

interface Setup {
  worker: FakeWorker;
  room: TimbreRoom;
  timers: FakeTimers;
  engine: FakeEngine;
  toasts: { message: string; kind: string }[];
}

function setup(phone: { phone_url?: string | null; phone_note?: string } = {}): Setup {
  const worker = new FakeWorker();
  const client = new ResidueClient(worker);
  client.connect("ws://x/ws");
  worker.deliver({ type: "status", state: "open", attempt: 0 });
  worker.welcome(phone);
  const engine = new FakeEngine();
  const studio: StudioPort = {
    state: { sounds: SOUNDS, currentBySound: { s1: "d1" }, loop: true },
    store: { watch: () => () => undefined },
    engine,
    warmUp: () => Promise.resolve(engine),
    stop: () => undefined,
  };
  const toasts: { message: string; kind: string }[] = [];
  const toastPort: ToastPort = { show: (message, kind = "info") => void toasts.push({ message, kind }) };
  const timers = new FakeTimers();
  const room = new TimbreRoom(client, studio, toastPort, timers);
  return { worker, room, timers, engine, toasts };
}

/** Open the room: state, map (m0, set none), songs; grammar checked ok. */
async function opened(): Promise<Setup> {
  const s = setup();
  const { worker, room } = s;
  const opening = room.open();
  worker.reply(timbreState(worker.last("get_timbre_state").request_id));
  await flush();
  const check = worker.last("check_grammar");
  worker.reply({ type: "grammar_checked", request_id: check.request_id, ok: true, example: "AABBCDAABBE", symbols: ["S", "X", "Y", "Z"] });
  const map = worker.last("get_timbre_map");
  worker.reply({ type: "timbre_map", request_id: map.request_id, map_id: "map1", model_id: "m0", set_id: "set1", method: "pca", points: POINTS });
  worker.reply({ type: "song_list", request_id: worker.last("list_songs").request_id, songs: [song("old", { created_at: 1 })], albums: [] });
  await opening;
  return s;
}

describe("TimbreRoom: loading", () => {
  it("loads the lists, takes the server's defaults, checks the grammar, maps the default model, lists songs", async () => {
    const { room, worker } = await opened();
    expect(room.state.form).toMatchObject({ grammar: GRAMMAR, criterion: "weirdness", minutes: 4 });
    expect(worker.last("get_timbre_map")).toMatchObject({ model_id: "m0", set_id: null, method: "pca" });
    expect(worker.last("check_grammar")).toMatchObject({ grammar: GRAMMAR, seed: 0 });
    expect(room.state.grammar).toEqual({ status: "ok", error: null, example: "AABBCDAABBE" });
    expect(room.state.map?.points).toHaveLength(4);
    expect(room.state.view).not.toBeNull();
    expect(room.state.loss).toEqual([3, 2, 1.5]);
    expect(room.state.songs.map((s) => s.song_id)).toEqual(["old"]);
    expect(room.state.modelJob).toBeNull();
  });

  it("a fresh install: the map request trains the default model, shows its stage, then lists the new model", async () => {
    const { room, worker } = setup();
    const opening = room.open();
    worker.reply(timbreState(worker.last("get_timbre_state").request_id, { models: [], default_model_id: null }));
    await flush();
    const map = worker.last("get_timbre_map");
    expect(map.model_id).toBeNull();
    worker.reply({ type: "job_progress", request_id: map.request_id, fraction: 0.3, stage: "training the default model" });
    expect(room.state.modelJob).toMatchObject({ kind: "map", fraction: 0.3, stage: "training the default model" });
    const states = worker.count("get_timbre_state");
    worker.reply({ type: "timbre_map", request_id: map.request_id, map_id: "map0", model_id: "m0", set_id: null, method: "pca", points: POINTS });
    await flush();
    expect(worker.count("get_timbre_state")).toBe(states + 1);
    worker.reply(timbreState(worker.last("get_timbre_state").request_id));
    worker.reply({ type: "song_list", request_id: worker.last("list_songs").request_id, songs: [], albums: [] });
    await opening;
    expect(room.state.models.map((m) => m.model_id)).toEqual(["m0"]);
    expect(room.state.modelId).toBe("m0");
  });

  it("cancel stops the map job and says so without an error", async () => {
    const { room, worker, toasts } = setup();
    const opening = room.open();
    worker.reply(timbreState(worker.last("get_timbre_state").request_id, { models: [], default_model_id: null }));
    await flush();
    const map = worker.last("get_timbre_map");
    room.cancelModelJob();
    expect(worker.last("cancel").target_request_id).toBe(map.request_id);
    worker.reply({ type: "ok", request_id: worker.last("cancel").request_id });
    worker.reply({ type: "error", request_id: map.request_id, code: "cancelled", message: "cancelled" });
    worker.reply({ type: "song_list", request_id: worker.last("list_songs").request_id, songs: [], albums: [] });
    await opening;
    expect(room.state.modelJob).toBeNull();
    expect(toasts.filter((t) => t.kind === "error")).toEqual([]);
    expect(toasts.at(-1)?.message).toMatch(/Stopped/);
  });
});

describe("TimbreRoom: training", () => {
  it("cuts clips, trains with a growing loss curve, then maps the new model", async () => {
    const { room, worker } = await opened();
    const build = room.buildTrainingSet();
    const b = worker.last("build_training_set");
    worker.reply({ type: "job_progress", request_id: b.request_id, fraction: 0.5, stage: "cutting clips" });
    expect(room.state.modelJob).toMatchObject({ kind: "clips", fraction: 0.5 });
    worker.reply({ type: "training_set_built", request_id: b.request_id, set: { set_id: "set2", name: "library", created_at: 2, n_clips: 10, n_usable: 8 } });
    await build;
    expect(room.state.setId).toBe("set2");
    const remap = worker.last("get_timbre_map");
    expect(remap.set_id).toBe("set2");
    worker.reply({ type: "timbre_map", request_id: remap.request_id, map_id: "map2", model_id: "m0", set_id: "set2", method: "pca", points: POINTS });
    await flush();

    room.setEpochs(3);
    const training = room.train();
    const t = worker.last("train_model");
    expect(t).toMatchObject({ set_id: "set2", epochs: 3 });
    expect(room.state.loss).toEqual([]);
    worker.reply({ type: "training_epoch", request_id: t.request_id, epoch: 1, epochs: 3, loss: 0.9 });
    worker.reply({ type: "training_epoch", request_id: t.request_id, epoch: 2, epochs: 3, loss: 0.5 });
    expect(room.state.loss).toEqual([0.9, 0.5]);
    expect(room.state.lossEpochs).toBe(3);
    worker.reply({ type: "model_trained", request_id: t.request_id, model: { model_id: "m9", is_default: false, latent_dim: 32, training_set: "library", n_clips: 8, loss: [0.9, 0.5, 0.4] } });
    await training;
    expect(room.state.modelId).toBe("m9");
    expect(room.state.loss).toEqual([0.9, 0.5, 0.4]);
    expect(worker.last("get_timbre_map")).toMatchObject({ model_id: "m9", set_id: "set2" });
  });

  it("will not train without a training set", async () => {
    const { room, worker, toasts } = await opened();
    expect(await room.train()).toBeNull();
    expect(worker.count("train_model")).toBe(0);
    expect(toasts.at(-1)?.kind).toBe("error");
  });
});

describe("TimbreRoom: listening on the map", () => {
  it("hovering a point asks for that point; moving about sends one request per interval; leaving stops", async () => {
    const { room, worker, timers, engine } = await opened();
    const view = room.state.view;
    if (!view) throw new Error("no view");
    const at = toScreen(view, room.state.size, { x: 1, y: 1 });
    room.hoverAt(at);
    await flush();
    expect(worker.streams().at(-1)).toMatchObject({ type: "preview_point", map_id: "map1", point: 1 });
    expect(engine.loop).toBe(true);
    expect(room.state.hover?.label).toMatch(/pad 0 s/);
    const before = worker.streams().length;
    // 40 moves, 5 ms apart, over empty space: 200 ms -> the first at once was the point; then ~2
    for (let i = 0; i < 40; i++) {
      room.hoverAt({ x: 10 + i * 3, y: room.state.size.height / 2 + 7 });
      timers.advance(5);
      await flush();
    }
    timers.advance(PREVIEW_INTERVAL_MS);
    await flush();
    const sent = worker.streams().slice(before);
    expect(sent.length).toBeGreaterThanOrEqual(1);
    expect(sent.length).toBeLessThanOrEqual(Math.ceil((40 * 5) / PREVIEW_INTERVAL_MS) + 1);
    const lastFrame = sent.at(-1);
    expect(lastFrame).toMatchObject({ type: "preview_point", point: null });
    expect(lastFrame && "x" in lastFrame && typeof lastFrame.x === "number").toBe(true);
    room.leave();
    expect(room.state.playing).toBeNull();
    expect(room.state.hover).toBeNull();
    const n = worker.streams().length;
    timers.advance(1000);
    await flush();
    expect(worker.streams().length).toBe(n);
  });

  it("a click places a looping marker; leaving the map goes back to it", async () => {
    const { room, worker } = await opened();
    const view = room.state.view;
    if (!view) throw new Error("no view");
    room.placeMarker(toScreen(view, room.state.size, { x: -1, y: 1 }));
    await flush();
    expect(room.state.marker?.label).toMatch(/warm/);
    expect(room.state.playing).toMatchObject({ what: "marker" });
    expect(worker.streams().at(-1)).toMatchObject({ point: 3 });
    room.hoverAt(toScreen(view, room.state.size, { x: 1, y: -1 }));
    await flush();
    expect(worker.streams().at(-1)).toMatchObject({ point: 2 });
    room.leave();
    await flush();
    expect(room.state.playing).toMatchObject({ what: "marker" });
    expect(worker.streams().at(-1)).toMatchObject({ point: 3 });
    room.escape();
    expect(room.state.playing).toBeNull();
    room.escape();
    expect(room.state.marker).toBeNull();
  });
});

describe("TimbreRoom: songs", () => {
  it("pinned markers become the song's A, B, ...: pin, unpin, a limit of five, sent with the map", async () => {
    const { room, worker, toasts } = await opened();
    const view = room.state.view;
    if (!view) throw new Error("no view");
    const at = (x: number, y: number): void => room.placeMarker(toScreen(view, room.state.size, { x, y }));
    at(-1, 1); // point 3 exactly
    room.pinMarker();
    at(0.1, 0.05); // empty space: a position
    room.pinMarker();
    expect(room.state.pins.map((p) => p.target)).toEqual([{ point: 3 }, expect.objectContaining({ x: expect.any(Number) })]);
    room.pinMarker(); // the same marker again: unpinned
    expect(room.state.pins).toHaveLength(1);
    for (const [x, y] of [[1, 1], [1, -1], [-1, -1], [0.3, 0.3]] as const) {
      at(x, y);
      room.pinMarker();
    }
    expect(room.state.pins).toHaveLength(5);
    at(-0.4, 0.6);
    room.pinMarker();
    expect(room.state.pins).toHaveLength(5);
    expect(toasts.at(-1)?.message).toContain("unpin one first");
    room.unpin(4);
    const making = room.makeSong();
    const f = worker.last("create_song");
    expect(f.map_id).toBe("map1");
    expect(f.params?.pins).toEqual([{ point: 3 }, { point: 1 }, { point: 2 }, { point: 0 }]);
    worker.reply({ type: "song_added", request_id: f.request_id, song: song("pinned") });
    await making;
    room.clearPins();
    void room.makeSong();
    const g = worker.last("create_song");
    expect(g.params?.pins ?? null).toBeNull();
    expect(g.map_id ?? null).toBeNull();
  });

  it("on a UMAP map a lasso selects points but draws no song region (UMAP has no way back)", async () => {
    const { room, toasts } = await opened();
    const map = room.state.map;
    const view = room.state.view;
    if (!map || !view) throw new Error("no map");
    room.store.set({ map: { ...map, method: "umap" } });
    const box = [
      { x: 0.5, y: -1.5 },
      { x: 1.5, y: -1.5 },
      { x: 1.5, y: 1.5 },
      { x: 0.5, y: 1.5 },
    ].map((p) => toScreen(view, room.state.size, p));
    room.lassoDone(box.flatMap((c, i) => {
      const d = box[(i + 1) % box.length] ?? c;
      return Array.from({ length: 20 }, (_, k) => ({ x: c.x + ((d.x - c.x) * k) / 20, y: c.y + ((d.y - c.y) * k) / 20 }));
    }));
    expect(room.state.selected).toEqual([1, 2]);
    expect(room.state.region).toBeNull();
    expect(room.state.form.criterion).not.toBe("region");
    expect(toasts.at(-1)?.message).toContain("PCA map");
  });

  it("a lasso becomes the song's region: criterion, polygon and the map's set go to create_song", async () => {
    const { room, worker } = await opened();
    const view = room.state.view;
    if (!view) throw new Error("no view");
    const size = room.state.size;
    // a box around the two points on the right (x = 1)
    const corners = [
      { x: 0.5, y: -1.5 },
      { x: 1.5, y: -1.5 },
      { x: 1.5, y: 1.5 },
      { x: 0.5, y: 1.5 },
    ].map((p) => toScreen(view, size, p));
    const stroke = corners.flatMap((c, i) => {
      const d = corners[(i + 1) % corners.length] ?? c;
      return Array.from({ length: 50 }, (_, k) => ({ x: c.x + ((d.x - c.x) * k) / 50, y: c.y + ((d.y - c.y) * k) / 50 }));
    });
    room.lassoDone(stroke);
    expect(room.state.selected).toEqual([1, 2]);
    expect(room.state.form.criterion).toBe("region");
    const region = room.state.region ?? [];
    expect(region.length).toBeGreaterThanOrEqual(4);
    expect(region.length).toBeLessThanOrEqual(8);
    const making = room.makeSong();
    const f = worker.last("create_song");
    expect(f.params?.criterion).toBe("region");
    expect(f.params?.region).toHaveLength(region.length);
    expect(f.set_id).toBe("set1");
    expect(f.model_id).toBe("m0");
    worker.reply({ type: "job_progress", request_id: f.request_id, fraction: 0.4, stage: "decoding" });
    expect(room.state.songJob).toMatchObject({ kind: "song", fraction: 0.4, stage: "decoding" });
    worker.reply({ type: "song_added", request_id: f.request_id, song: song("new", { created_at: 5 }) });
    await making;
    expect(room.state.songs.map((s) => s.song_id)).toEqual(["new", "old"]);
    expect(room.state.songJob).toBeNull();
    room.clearRegion();
    expect(room.state.form.criterion).toBe("weirdness");
  });

  it("checks the grammar as the user types (debounced, stale replies dropped) and blocks an invalid one", async () => {
    const { room, worker, timers, toasts } = await opened();
    const checks = worker.count("check_grammar");
    room.setForm({ grammar: "S -> Q" });
    room.setForm({ grammar: "S -> QQ" });
    expect(room.state.grammar.status).toBe("checking");
    timers.advance(GRAMMAR_DEBOUNCE_MS - 1);
    expect(worker.count("check_grammar")).toBe(checks);
    timers.advance(1);
    expect(worker.count("check_grammar")).toBe(checks + 1);
    const first = worker.last("check_grammar");
    expect(first.grammar).toBe("S -> QQ");
    room.setForm({ grammar: "S -> QQQ" });
    timers.advance(GRAMMAR_DEBOUNCE_MS);
    const second = worker.last("check_grammar");
    worker.reply({ type: "grammar_checked", request_id: second.request_id, ok: false, error: "unknown symbol Q", symbols: [] });
    await flush();
    worker.reply({ type: "grammar_checked", request_id: first.request_id, ok: true, example: "AB", symbols: [] });
    await flush();
    expect(room.state.grammar).toMatchObject({ status: "error", error: "unknown symbol Q" });
    expect(room.problem()).toMatch(/unknown symbol Q/);
    expect(await room.makeSong()).toBeNull();
    expect(worker.count("create_song")).toBe(0);
    expect(toasts.at(-1)?.kind).toBe("error");
    room.resetGrammar();
    timers.advance(GRAMMAR_DEBOUNCE_MS);
    expect(worker.last("check_grammar").grammar).toBe(GRAMMAR);
  });

  it("an album's songs appear one by one, then the album is listed", async () => {
    const { room, worker } = await opened();
    room.setAlbumSongs(3);
    room.setAlbumName("night");
    const making = room.makeAlbum();
    const f = worker.last("generate_album");
    expect(f).toMatchObject({ n_songs: 3, name: "night", model_id: "m0", set_id: null });
    expect(f.params?.region).toBeUndefined();
    for (let i = 0; i < 3; i++) {
      worker.reply({ type: "song_added", request_id: f.request_id, song: song(`al${i}`, { album_id: "alb", position: i, created_at: 10 + i }) });
      expect(room.state.songs.filter((s) => s.album_id === "alb")).toHaveLength(i + 1);
    }
    expect(room.state.songJob?.stage).toMatch(/song 3 of 3/);
    worker.reply({ type: "album_made", request_id: f.request_id, album: { album_id: "alb", name: "night", created_at: 20, n_songs: 3, model_id: "m0" } });
    await making;
    expect(room.state.albums.map((a) => a.album_id)).toEqual(["alb"]);
    expect(room.state.made).toBe(3);
    // the new album is shown, in track order
    expect(room.state.albumFilter).toBe("alb");
    expect(worker.last("list_songs").album_id).toBe("alb");
    worker.reply({ type: "song_list", request_id: worker.last("list_songs").request_id, songs: [song("al2", { album_id: "alb", position: 2 }), song("al0", { album_id: "alb", position: 0 })], albums: [] });
    await flush();
    expect(room.state.songs.map((s) => s.song_id)).toEqual(["al0", "al2"]);
    // a song of another album (another tab's) stays out of this list
    worker.reply({ type: "song_added", request_id: 0, song: song("elsewhere", { album_id: "other" }) });
    expect(room.state.songs.map((s) => s.song_id)).toEqual(["al0", "al2"]);
  });

  it("follows other tabs: song_added, decided and song_removed events (request_id 0)", async () => {
    const { room, worker } = await opened();
    worker.reply({ type: "song_added", request_id: 0, song: song("theirs", { created_at: 50 }) });
    expect(room.state.songs.map((s) => s.song_id)).toEqual(["theirs", "old"]);
    worker.reply({ type: "decided", request_id: 0, kind: "song", item_id: "theirs", decision: "keep" });
    expect(room.state.songs[0]?.decision).toBe("keep");
    worker.reply({ type: "song_removed", request_id: 0, song_id: "theirs" });
    expect(room.state.songs.map((s) => s.song_id)).toEqual(["old"]);
  });

  it("plays a song once (no loop), keeps, rejects and deletes it", async () => {
    const { room, worker, engine } = await opened();
    room.playSong("old");
    await flush();
    expect(worker.streams().at(-1)).toMatchObject({ type: "play_item", kind: "song", item_id: "old" });
    expect(engine.loop).toBe(false);
    expect(room.state.playing).toMatchObject({ what: "song", songId: "old", gen: engine.gen });
    room.togglePlay();
    expect(room.state.playing).toBeNull();
    room.togglePlay();
    await flush();
    expect(room.state.playing).toMatchObject({ what: "song", songId: "old" });

    const keeping = room.decide("old", "keep");
    const d = worker.last("decide");
    expect(d).toMatchObject({ kind: "song", item_id: "old", decision: "keep" });
    worker.reply({ type: "decided", request_id: d.request_id, kind: "song", item_id: "old", decision: "keep" });
    await keeping;
    expect(room.state.songs[0]?.decision).toBe("keep");

    const deleting = room.deleteSong("old");
    expect(room.state.playing).toBeNull();
    worker.reply({ type: "ok", request_id: worker.last("delete_song").request_id });
    await deleting;
    expect(room.state.songs).toEqual([]);
  });
});

describe("TimbreRoom: manipulations", () => {
  it("auditions a blend of two sounds with the map's model, and stops on a second press", async () => {
    const { room, worker } = await opened();
    room.setManip({ op: "blend", mix: 0.3 });
    room.audition();
    await flush();
    expect(worker.streams().at(-1)).toMatchObject({ type: "manipulate", op: "blend", sound_id: "s1", other_sound_id: "s2", mix: 0.3, model_id: "m0" });
    expect(room.state.playing).toMatchObject({ what: "manipulation" });
    room.audition();
    expect(room.state.playing).toBeNull();
    room.setManip({ op: "nmf_stretch", factor: 2 });
    room.audition();
    await flush();
    expect(worker.streams().at(-1)).toMatchObject({ type: "manipulate", op: "nmf_stretch", decomposition_id: "d1", factor: 2 });
  });
});

describe("TimbreRoom: the view", () => {
  it("refits on resize until the user pans or zooms, then keeps their view", async () => {
    const { room } = await opened();
    room.setSize({ width: 300, height: 900 });
    const fitted = room.state.view;
    expect(room.screenPoints().every((q) => q.x >= 0 && q.x <= 300 && q.y >= 0 && q.y <= 900)).toBe(true);
    room.zoomBy(2);
    const zoomed = room.state.view;
    expect(zoomed?.scale).toBeCloseTo((fitted?.scale ?? 0) * 2);
    room.setSize({ width: 500, height: 500 });
    expect(room.state.view).toBe(zoomed);
    room.fit();
    room.setSize({ width: 800, height: 600 });
    expect(room.state.view).not.toBe(zoomed);
    expect(room.screenPoints().every((q) => q.x >= 0 && q.x <= 800 && q.y >= 0 && q.y <= 600)).toBe(true);
  });
});

describe("TimbreRoom: curating on a phone", () => {
  it("makes a swipe link on the server's phone address with a fresh sharing token", async () => {
    const { room, worker } = setup({ phone_url: "https://192.168.1.5:8000" });
    room.store.set({ albumFilter: "alb1" });
    const making = room.phoneLink();
    const invite = worker.last("create_invite");
    expect(invite.label).toBe("phone");
    worker.reply({
      type: "invite",
      request_id: invite.request_id,
      session_id: "default",
      token: "T".repeat(43),
      invite: { invite_id: "i1", label: "phone", created_at: 1, revoked: false },
    });
    const link = await making;
    expect(link.url).toBe(`https://192.168.1.5:8000/swipe/?album=alb1#s=default&t=${"T".repeat(43)}`);
  });

  it("says why when no phone can reach this server", async () => {
    const { room, worker } = setup({ phone_url: null, phone_note: "residue listens on this computer only: start it with RESIDUE_HOST=0.0.0.0 RESIDUE_HTTPS=1" });
    const link = await room.phoneLink();
    expect(link.url).toBeNull();
    expect(link.note).toContain("RESIDUE_HTTPS=1");
    expect(worker.frames().some((f) => f.type === "create_invite")).toBe(false);
  });
});
