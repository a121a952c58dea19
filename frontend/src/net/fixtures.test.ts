/**
 * The contract, both ways:
 * - every golden frame the Python side wrote (shared/fixtures/NAME.msgpack + NAME.json, bytes as
 *   base64 in the JSON) decodes here to the same value;
 * - the page's own client frames are encoded here and written to shared/fixtures/ts/ by
 *   `npm run fixtures`, for the Python tests to decode (tests/test_protocol.py).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { ClientFrame, UnitEdit } from "@shared/protocol";
import { PROTOCOL_VERSION } from "@shared/protocol";
import { renderSpec, DEFAULT_UNIT, type UnitState } from "../ui/model/edits";
import { decodeClientFrame, decodeFrame, decodePcm, encodeClientFrame, isServerFrameType } from "./codec";
import { decode } from "@msgpack/msgpack";

const here = dirname(fileURLToPath(import.meta.url));
const FIXTURES = resolve(here, "../../../shared/fixtures");
const TS_FIXTURES = join(FIXTURES, "ts");
const WRITE = process.env["RESIDUE_WRITE_FIXTURES"] === "1";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Decoded msgpack -> the JSON form Python writes (bytes as base64). */
function toJson(value: unknown): Json {
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  if (Array.isArray(value)) return value.map(toJson);
  if (value !== null && typeof value === "object") {
    const out: { [key: string]: Json } = {};
    for (const [k, v] of Object.entries(value)) out[k] = toJson(v);
    return out;
  }
  if (typeof value === "number" || typeof value === "string" || typeof value === "boolean" || value === null) return value;
  throw new Error(`not JSON-able: ${String(value)}`);
}

const golden = existsSync(FIXTURES)
  ? readdirSync(FIXTURES)
      .filter((f) => f.endsWith(".msgpack") && existsSync(join(FIXTURES, f.replace(/\.msgpack$/, ".json"))))
      .sort()
  : [];

describe("golden frames from the server side", () => {
  it("exist", () => {
    expect(golden.length).toBeGreaterThan(0);
  });

  it.each(golden)("%s decodes to its JSON", (file) => {
    const bytes = new Uint8Array(readFileSync(join(FIXTURES, file)));
    const expected = JSON.parse(readFileSync(join(FIXTURES, file.replace(/\.msgpack$/, ".json")), "utf8")) as Json;
    const raw = decode(bytes) as { type?: unknown };
    if (typeof raw.type === "string" && isServerFrameType(raw.type)) {
      const decoded = decodeFrame(bytes);
      expect(decoded.kind).toBe("control");
      if (decoded.kind === "control") expect(toJson(decoded.frame)).toEqual(expected);
    } else {
      expect(toJson(decodeClientFrame(bytes))).toEqual(expected);
    }
  });

  it("every golden frame is also readable at an unaligned offset", () => {
    for (const file of golden) {
      const bytes = new Uint8Array(readFileSync(join(FIXTURES, file)));
      const host = new Uint8Array(bytes.length + 3);
      host.set(bytes, 3);
      expect(toJson(decode(host.subarray(3)))).toEqual(toJson(decode(bytes)));
    }
  });

  it("pcm.bin has the audio header and float32 payload", () => {
    const path = join(FIXTURES, "pcm.bin");
    if (!existsSync(path)) return;
    const frame = decodePcm(new Uint8Array(readFileSync(path)));
    expect(frame.header).toEqual({ kind: 1, channels: 2, requestId: 7, chunkIndex: 0, sampleRate: 44100 });
    expect(Array.from(frame.samples)).toEqual([0.5, -0.5, 0.25, -0.25]);
  });

  it("decomposition float32 blobs decode through the aligned helper", async () => {
    const path = join(FIXTURES, "decomposition.msgpack");
    if (!existsSync(path)) return;
    const decoded = decodeFrame(new Uint8Array(readFileSync(path)));
    if (decoded.kind !== "control" || decoded.frame.type !== "decomposition") throw new Error("not a decomposition");
    const { float32Rows } = await import("../dsp/aligned");
    const f = decoded.frame;
    const components = float32Rows(f.components, f.n_components, f.n_rows).map((r) => Array.from(r));
    const activations = float32Rows(f.activations, f.n_components, f.n_frames).map((r) => Array.from(r));
    expect(components).toEqual([
      [1, 0.5],
      [0.25, 1],
    ]);
    expect(activations).toEqual([
      [0, 1, 0.5],
      [1, 0, 0.75],
    ]);
  });
});

// ------------------------------------------------------------------------------------------------
// client frames encoded here

/** What msgspec fills in for a UnitEdit's defaults (to_builtins lists every field). */
function fullEdit(e: UnitEdit): Json {
  return {
    unit: e.unit,
    component: (e.component as Json | undefined) ?? null,
    gain_db: e.gain_db ?? 0,
    reverse: e.reverse ?? false,
    stretch: e.stretch ?? 1,
    shift_frames: e.shift_frames ?? 0,
  };
}

/** The page's frames, as sent (sparse) and as Python will see them (every field). */
function pageFrames(): { name: string; frame: ClientFrame; full: Json }[] {
  const units: UnitState[] = [
    DEFAULT_UNIT,
    { ...DEFAULT_UNIT, component: { kind: "library", component_id: "c0ffee" }, source: "library: warm pad", gain_db: -3.5 },
    { ...DEFAULT_UNIT, muted: true },
    { ...DEFAULT_UNIT, component: { kind: "unit", decomposition_id: "d2", unit: 1 }, source: "unit 2", reverse: true, stretch: 2 },
  ];
  const spec = renderSpec("d1", units, { solo: null });
  const explicit: ClientFrame[] = [
    { type: "hello", request_id: 1, protocol_version: PROTOCOL_VERSION, client: "residue-web" },
    { type: "list_sounds", request_id: 2 },
    { type: "delete_sound", request_id: 3, sound_id: "s1" },
    { type: "get_spectrogram", request_id: 4, sound_id: "s1" },
    { type: "decompose", request_id: 5, sound_id: "s1", n_components: 6, beta: 1, n_iter: 200, start_s: 2, end_s: 6.5, seed: 0 },
    { type: "get_decomposition", request_id: 6, decomposition_id: "d1" },
    { type: "cancel", request_id: 7, target_request_id: 5 },
    { type: "play_sound", request_id: 8, sound_id: "s1", start_s: null, end_s: null },
    { type: "plan_remix", request_id: 10, decomposition_id: "d1", strategy: "weird", seed: 3, tag: null },
    { type: "save_component", request_id: 11, decomposition_id: "d1", unit: 2, name: "warm pad", tags: ["pad", "keep"] },
    { type: "list_library", request_id: 12, query: "pad", tag: "keep" },
    { type: "find_similar", request_id: 13, component: { kind: "unit", decomposition_id: "d1", unit: 0 }, limit: 8 },
    { type: "find_similar", request_id: 14, component: { kind: "library", component_id: "c0ffee" }, limit: 12 },
    { type: "rename_component", request_id: 15, component_id: "c0ffee", name: "warmer pad", base_version: 3 },
    { type: "tag_component", request_id: 16, component_id: "c0ffee", tags: ["pad"] },
    { type: "delete_component", request_id: 17, component_id: "c0ffee" },
    { type: "join", request_id: 19, session_id: "f00d42", token: "q".repeat(43), name: "ana" },
    { type: "resume", request_id: 20, since: 41 },
    { type: "add_tag", request_id: 21, component_id: "c0ffee", tag: "dark" },
    { type: "remove_tag", request_id: 22, component_id: "c0ffee", tag: "pad" },
    { type: "set_presence", request_id: 23, playing: "unit 3 of demo drums", name: null },
    { type: "create_session", request_id: 24, name: "tuesday duo" },
    { type: "create_invite", request_id: 25, label: "for bo" },
    { type: "revoke_invite", request_id: 26, invite_id: "beef01" },
  ];
  const frames = explicit.map((frame) => ({ name: frame.type === "find_similar" ? `find_similar_${frame.request_id}` : frame.type, frame, full: frame as unknown as Json }));
  frames.push({
    name: "audition",
    frame: { type: "audition", request_id: 9, spec },
    full: { type: "audition", request_id: 9, spec: { decomposition_id: "d1", units: spec.units ?? null, edits: (spec.edits ?? []).map(fullEdit) } },
  });
  frames.push({
    name: "audition_solo",
    frame: { type: "audition", request_id: 18, spec: renderSpec("d1", units, { solo: 3 }) },
    full: {
      type: "audition",
      request_id: 18,
      spec: { decomposition_id: "d1", units: [3], edits: [fullEdit({ unit: 3, component: { kind: "unit", decomposition_id: "d2", unit: 1 }, reverse: true, stretch: 2 })] },
    },
  });
  return frames;
}

describe("client frames encoded by the page", () => {
  const frames = pageFrames();

  it("the audition spec leaves out the muted unit and default fields", () => {
    const a = frames.find((f) => f.name === "audition");
    expect(a?.frame).toMatchObject({ spec: { units: [0, 1, 3] } });
  });

  it.each(frames.map((f) => [f.name, f] as const))("%s round-trips", (_name, f) => {
    const bytes = encodeClientFrame(f.frame);
    expect(bytes[0]).toBeGreaterThanOrEqual(0x80);
    expect(decodeClientFrame(bytes)).toEqual(JSON.parse(JSON.stringify(f.frame)));
  });

  it(WRITE ? "writes shared/fixtures/ts/" : "shared/fixtures/ts/ is current (npm run fixtures)", () => {
    if (WRITE) mkdirSync(TS_FIXTURES, { recursive: true });
    for (const f of frames) {
      const bytes = encodeClientFrame(f.frame);
      const json = `${JSON.stringify(f.full, null, 2)}\n`;
      const bin = join(TS_FIXTURES, `${f.name}.msgpack`);
      if (WRITE) {
        writeFileSync(bin, bytes);
        writeFileSync(join(TS_FIXTURES, `${f.name}.json`), json);
      } else if (existsSync(bin)) {
        expect(Buffer.from(readFileSync(bin)).equals(Buffer.from(bytes)), `${f.name}: run npm run fixtures`).toBe(true);
        expect(readFileSync(join(TS_FIXTURES, `${f.name}.json`), "utf8")).toBe(json);
      }
    }
  });
});
