/// <reference types="vite/client" />
// (room.ts reaches the engine, which imports the worklet through a Vite `?worker&url` import)
import { describe, expect, it } from "vitest";
import type { GridDone, SeparationCatalog, ServerFrame, SoundInfo } from "@shared/protocol";
import type { RequestFrame, ResidueClient } from "../../net/client";
import { ServerError } from "../../net/correlate";
import type { Studio } from "../studio";
import type { Toasts } from "../toast";
import { DRAFT_KEY, SeparationsRoom } from "./room";

const CATALOG: SeparationCatalog = {
  type: "separation_catalog",
  request_id: 1,
  backends: [
    {
      name: "hpss",
      kind: "weightless",
      doc: "",
      params: [{ name: "margin", kind: "float", default: 1, min: 1, max: 16, choices: [], optional: false, doc: "", odd: false, below: null }],
    },
    { name: "bands", kind: "weightless", doc: "", params: [] },
  ],
  stems: ["drums", "bass", "vocals", "other", "low"],
  models: [],
  presets: [{ name: "quick", n_cells: 6, sweeps: [{ backend: "bands", params: {}, stems: ["drums", "bass"] }, { backend: "hpss", params: { margin: [1, 3] }, stems: ["drums", "bass"] }] }],
  max_cells: 10,
  max_sweeps: 8,
  max_values: 8,
  max_stems: 8,
  models_dir: "/m",
};

const SOUND: SoundInfo = { sound_id: "s1", name: "demo drums" } as SoundInfo;

/** A client that answers the catalog and records (and refuses or finishes) every grid. */
class FakeClient {
  readonly sent: RequestFrame[] = [];
  refuse: string | null = null;
  #welcome: (() => void) | null = null;

  on(event: string, fn: () => void): () => void {
    if (event === "welcome") this.#welcome = fn;
    return () => undefined;
  }

  welcome(): void {
    this.#welcome?.();
  }

  request(frame: RequestFrame, _expect: string, _options: { onFrame?: (f: ServerFrame) => void } = {}): { requestId: number; done: Promise<unknown> } {
    this.sent.push(frame);
    const requestId = this.sent.length;
    if (frame.type === "get_separation_catalog") return { requestId, done: Promise.resolve({ ...CATALOG, request_id: requestId }) };
    if (this.refuse) return { requestId, done: Promise.reject(new ServerError({ code: "bad_parameter", message: this.refuse, error_id: null, request_id: requestId })) };
    const done: GridDone = { type: "grid_done", request_id: requestId, done: 0, failed: 0, cancelled: 0, grid_cancelled: false, elapsed_s: 0 };
    return { requestId, done: Promise.resolve(done) };
  }
}

class FakeToasts {
  readonly shown: string[] = [];
  show(message: string): void {
    this.shown.push(message);
  }
}

class MemoryStorage {
  readonly items = new Map<string, string>();
  getItem(k: string): string | null {
    return this.items.get(k) ?? null;
  }
  setItem(k: string, v: string): void {
    this.items.set(k, v);
  }
}

async function setup(storage = new MemoryStorage()): Promise<{ room: SeparationsRoom; client: FakeClient; toasts: FakeToasts; storage: MemoryStorage }> {
  Object.defineProperty(globalThis, "localStorage", { value: storage, configurable: true });
  const client = new FakeClient();
  const toasts = new FakeToasts();
  const studio = { state: { sounds: [SOUND] }, engine: null, stop: () => undefined } as unknown as Studio;
  const room = new SeparationsRoom(client as unknown as ResidueClient, studio, toasts as unknown as Toasts);
  client.welcome();
  await new Promise((r) => setTimeout(r, 0));
  return { room, client, toasts, storage };
}

const grids = (c: FakeClient): RequestFrame[] => c.sent.filter((f) => f.type === "start_grid");

describe("the room's custom grid", () => {
  it("loads the catalog at every welcome", async () => {
    const { room, client } = await setup();
    expect(room.state.catalog?.presets[0]?.name).toBe("quick");
    client.welcome();
    await new Promise((r) => setTimeout(r, 0));
    expect(client.sent.filter((f) => f.type === "get_separation_catalog")).toHaveLength(2);
  });

  it("Edit preset copies the preset's sweeps and Run sends them (preset null)", async () => {
    const { room, client } = await setup();
    expect(room.editPreset("quick")).toBe(true);
    expect(room.state.mode).toBe("custom");
    expect(room.check()?.cells).toBe(6);
    await room.run();
    expect(grids(client)).toEqual([
      { type: "start_grid", sound_id: "s1", preset: null, sweeps: CATALOG.presets[0]?.sweeps },
    ]);
    room.setMode("quick");
    await room.run();
    expect(grids(client)[1]).toEqual({ type: "start_grid", sound_id: "s1", preset: "quick", sweeps: null });
  });

  it("a grid the editor finds wrong is not sent; the reason is shown", async () => {
    const { room, client, toasts } = await setup();
    room.editPreset("quick");
    room.edit((d) => ({ ...d, sweeps: d.sweeps.map((s, i) => (i === 1 ? { ...s, params: { margin: "2, 0.5" } } : s)) }));
    await room.run();
    expect(grids(client)).toEqual([]);
    expect(room.state.gridError).toEqual({ message: "Sweep 2: margin: 0.5 is below the minimum 1", sweep: 1 });
    expect(toasts.shown).toContain("Sweep 2: margin: 0.5 is below the minimum 1");
    room.edit((d) => ({ ...d, sweeps: d.sweeps.map((s, i) => (i === 1 ? { ...s, params: { margin: "1 2 3 4 5" } } : s)) }));
    expect(room.state.gridError).toBeNull(); // an edit clears the last refusal
    await room.run();
    expect(room.state.gridError).toEqual({ message: "12 cells; the server's limit is 10: remove values or stems", sweep: null });
    expect(grids(client)).toEqual([]);
  });

  it("the server's refusal stays beside the sweep it names", async () => {
    const { room, client, toasts } = await setup();
    room.editPreset("quick");
    client.refuse = "sweep 2 (hpss): stem='kazoo' must be one of [...]";
    await room.run();
    expect(grids(client)).toHaveLength(1);
    expect(room.state.gridError).toEqual({ message: "The server refused the grid: sweep 2 (hpss): stem='kazoo' must be one of [...]", sweep: 1 });
    expect(toasts.shown.at(-1)).toMatch(/^The server refused the grid/);
    expect(room.state.job).toBeNull();
  });

  it("keeps the draft and the mode in localStorage", async () => {
    const first = await setup();
    first.room.editPreset("quick");
    first.room.edit((d) => ({ ...d, sweeps: d.sweeps.map((s, i) => (i === 1 ? { ...s, params: { margin: "2, 0." } } : s)) }));
    expect(first.storage.getItem(DRAFT_KEY)).toContain("2, 0.");
    const again = await setup(first.storage);
    expect(again.room.state.mode).toBe("custom");
    expect(again.room.state.draft).toEqual(first.room.state.draft);
  });

  it("imports a grid file, or says why not", async () => {
    const { room } = await setup();
    expect(room.importGridFile('{"sweeps": [{"backend": "bands", "stems": ["low"]}]}')).toBe(true);
    expect(room.state.draft.sweeps).toEqual([{ backend: "bands", params: {}, stems: ["low"], models: [] }]);
    expect(room.gridFile()).toContain('"format": "residue-grid"');
    expect(room.importGridFile("[1]")).toBe(false);
    expect(room.state.gridError?.message).toBe("Not a grid file: a grid must be a JSON object with a 'sweeps' list");
  });
});
