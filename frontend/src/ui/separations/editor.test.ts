import { describe, expect, it } from "vitest";
import type { GridParamInfo, GridSweep, SeparationCatalog } from "@shared/protocol";
import {
  EMPTY_DRAFT,
  accepts,
  addSweep,
  checkGrid,
  checkSweep,
  countCells,
  draftFromSweeps,
  gridFile,
  parseDraft,
  parseGridFile,
  parseValues,
  removeSweep,
  serializeDraft,
  setBackend,
  setParam,
  sweepOfMessage,
  toggleModel,
  toggleStem,
  unavailableText,
  type GridDraft,
  type SweepDraft,
} from "./editor";

const num = (name: string, kind: "int" | "float", def: number, min: number, max: number, extra: Partial<GridParamInfo> = {}): GridParamInfo => ({
  name,
  kind,
  default: def,
  min,
  max,
  choices: [],
  optional: false,
  doc: "",
  odd: false,
  below: null,
  ...extra,
});

const QUICK: GridSweep[] = [
  { backend: "bands", params: {}, stems: ["drums", "bass", "vocals", "other"] },
  { backend: "hpss", params: { margin: [1, 3] }, stems: ["drums", "bass", "vocals", "other"] },
  { backend: "repet", params: { margin: [0.5, 2] }, stems: ["drums", "bass", "vocals", "other"] },
  { backend: "nmf", params: {}, stems: ["drums", "bass", "vocals", "other"] },
];

/** A catalog as the server sends it (the specs of services/separation.py, abridged). */
const CATALOG: SeparationCatalog = {
  type: "separation_catalog",
  request_id: 1,
  backends: [
    { name: "hpss", kind: "weightless", doc: "", params: [num("kernel", "int", 31, 3, 255, { odd: true }), num("margin", "float", 1, 1, 16), num("power", "float", 2, 0.5, 8)] },
    { name: "repet", kind: "weightless", doc: "", params: [num("margin", "float", 0.5, 0.1, 20), num("width_s", "float", 4, 0.1, 20)] },
    { name: "nmf", kind: "weightless", doc: "", params: [num("n_components", "int", 24, 2, 64)] },
    { name: "bands", kind: "weightless", doc: "", params: [num("low_hz", "float", 200, 20, 4000, { below: "high_hz" }), num("high_hz", "float", 4000, 200, 20000)] },
    {
      name: "demucs",
      kind: "model",
      doc: "",
      params: [
        { name: "model", kind: "choice", default: null, min: null, max: null, choices: ["htdemucs"], optional: false, doc: "" },
        num("shifts", "int", 1, 0, 20),
        { ...num("segment", "float", 0, 1, 600), default: null, optional: true },
      ],
    },
  ],
  stems: ["drums", "bass", "vocals", "other", "piano", "guitar", "harmonic", "percussive", "residual", "low", "mid", "high"],
  models: [
    { name: "htdemucs", available: true, reason: null, folder: "/data/models", stems: ["drums", "bass", "other", "vocals"] },
    { name: "mdx_extra", available: false, reason: "mdx_extra is not installed: put a.th in /data/models (RESIDUE_MODELS_DIR)", folder: "/data/models", stems: ["drums", "bass", "other", "vocals"] },
  ],
  presets: [{ name: "quick", sweeps: QUICK, n_cells: 24 }],
  max_cells: 200,
  max_sweeps: 8,
  max_values: 8,
  max_stems: 8,
  models_dir: "/data/models",
};

const spec = (backend: string, name: string): GridParamInfo => {
  const p = CATALOG.backends.find((b) => b.name === backend)?.params.find((q) => q.name === name);
  if (!p) throw new Error(`${backend}.${name}`);
  return p;
};

const sweep = (backend: string, stems: string[], params: Record<string, string> = {}, models: string[] = []): SweepDraft => ({ backend, stems, params, models });
const grid = (...sweeps: SweepDraft[]): GridDraft => ({ name: "t", sweeps });

describe("parseValues", () => {
  it("reads comma-, space- or semicolon-separated numbers and drops repeats", () => {
    expect(parseValues("1, 2 4;8", spec("hpss", "margin"), 8)).toEqual({ values: [1, 2, 4, 8], error: null });
    expect(parseValues(" 2, 2.0 ,, 3 ", spec("hpss", "margin"), 8)).toEqual({ values: [2, 3], error: null });
    expect(parseValues("", spec("hpss", "margin"), 8)).toEqual({ values: [], error: null });
    expect(parseValues("1e1 .5e1", spec("hpss", "margin"), 8).values).toEqual([10, 5]);
  });

  it("says which value is wrong and why", () => {
    const margin = spec("hpss", "margin");
    expect(parseValues("2, 0.1", margin, 8).error).toBe("margin: 0.1 is below the minimum 1");
    expect(parseValues("17", margin, 8).error).toBe("margin: 17 is above the maximum 16");
    expect(parseValues("2, loud", margin, 8).error).toBe('margin: "loud" is not a number');
    expect(parseValues("0x10", margin, 8).error).toBe('margin: "0x10" is not a number');
    const kernel = spec("hpss", "kernel");
    expect(parseValues("9, 2.5", kernel, 8).error).toBe("kernel: 2.5 is not a whole number");
    expect(parseValues("16", kernel, 8).error).toBe("kernel: 16 must be odd");
    expect(parseValues("3, 255", kernel, 8)).toEqual({ values: [3, 255], error: null });
    expect(parseValues("1 2 3 4 5 6 7 8 9", margin, 8).error).toBe("margin: 9 values; at most 8 per parameter");
  });

  it("checks choices", () => {
    const model = spec("demucs", "model");
    expect(parseValues("htdemucs", model, 8)).toEqual({ values: ["htdemucs"], error: null });
    expect(parseValues("umx", model, 8).error).toBe('model: "umx" is not one of htdemucs');
  });

  it("describes what a parameter accepts", () => {
    expect(accepts(spec("hpss", "kernel"))).toBe("odd whole numbers 3 to 255");
    expect(accepts(spec("hpss", "margin"))).toBe("numbers 1 to 16");
    expect(accepts(spec("demucs", "model"))).toBe("one of htdemucs");
  });
});

describe("checkSweep", () => {
  it("turns a valid sweep into wire form and counts stems x every list", () => {
    const c = checkSweep(sweep("hpss", ["drums", "bass"], { margin: "1, 2, 4", kernel: "17 31", power: "" }), CATALOG);
    expect(c.errors).toEqual([]);
    expect(c.paramErrors).toEqual({});
    expect(c.sweep).toEqual({ backend: "hpss", params: { margin: [1, 2, 4], kernel: [17, 31] }, stems: ["drums", "bass"] });
    expect(c.cells).toBe(2 * 3 * 2);
  });

  it("lets any backend target any stem (wrong targets are a feature)", () => {
    const c = checkSweep(sweep("bands", ["vocals", "piano", "percussive"]), CATALOG);
    expect(c.sweep?.stems).toEqual(["vocals", "piano", "percussive"]);
    expect(c.cells).toBe(3);
  });

  it("reports every problem in its place", () => {
    const c = checkSweep(sweep("hpss", [], { margin: "0.5", kernel: "8" }), CATALOG);
    expect(c.sweep).toBeNull();
    expect(c.errors).toEqual(["tick at least one target stem"]);
    expect(c.paramErrors).toEqual({ margin: "margin: 0.5 is below the minimum 1", kernel: "kernel: 8 must be odd" });
    expect(c.cells).toBe(0); // no stem, no cell
    const typed = checkSweep(sweep("hpss", ["drums", "bass"], { margin: "2, 0.5, 3" }), CATALOG);
    expect(typed.cells).toBe(2 * 3); // a wrong value still counts as typed
    expect(checkSweep(sweep("warp", ["drums"]), CATALOG).errors[0]).toMatch(/^backend "warp" is not one of hpss, repet/);
    expect(checkSweep(sweep("bands", ["kazoo"]), CATALOG).errors).toEqual(['stem "kazoo" is not one of the stems']);
    const many = checkSweep(sweep("bands", CATALOG.stems.slice(0, 9)), CATALOG);
    expect(many.errors).toEqual(["9 stems; at most 8 per sweep"]);
  });

  it("keeps a crossover below its partner in every cell, defaults included", () => {
    expect(checkSweep(sweep("bands", ["low"], { low_hz: "100, 3000", high_hz: "2000, 6000" }), CATALOG).paramErrors).toEqual({
      low_hz: "low_hz: 3000 must be below high_hz 2000 in every cell",
    });
    expect(checkSweep(sweep("bands", ["low"], { low_hz: "3999" }), CATALOG).paramErrors).toEqual({});
    expect(checkSweep(sweep("bands", ["low"], { low_hz: "4000" }), CATALOG).paramErrors).toEqual({
      low_hz: "low_hz: 4000 must be below high_hz 4000 (its default) in every cell",
    });
  });

  it("demucs: models are ticked, unavailable ones say where their files go", () => {
    const ok = checkSweep(sweep("demucs", ["vocals", "drums"], { shifts: "0, 2" }, ["htdemucs"]), CATALOG);
    expect(ok.sweep).toEqual({ backend: "demucs", params: { model: ["htdemucs"], shifts: [0, 2] }, stems: ["vocals", "drums"] });
    expect(ok.cells).toBe(2 * 2);
    const noModel = checkSweep(sweep("demucs", ["vocals"]), CATALOG);
    expect(noModel.errors).toEqual(["tick at least one model"]);
    expect(noModel.cells).toBe(0);
    const off = checkSweep(sweep("demucs", ["vocals"], {}, ["mdx_extra"]), CATALOG);
    expect(off.sweep).toBeNull();
    expect(off.errors).toEqual(["mdx_extra is unavailable: mdx_extra is not installed: put a.th in /data/models (RESIDUE_MODELS_DIR)"]);
    expect(unavailableText({ name: "x", available: false, reason: null, folder: "/m", stems: [] })).toBe("unavailable: put x's files in /m");
    const none: SeparationCatalog = { ...CATALOG, models: CATALOG.models.map((m) => ({ ...m, available: false })) };
    expect(checkSweep(sweep("demucs", ["vocals"]), none).errors).toEqual(["no demucs model is available: put model files in /data/models"]);
  });
});

describe("checkGrid", () => {
  it("counts cells over sweeps and sends what the server expects", () => {
    const c = checkGrid(grid(sweep("bands", ["low", "high"]), sweep("hpss", ["drums"], { margin: "1 2 3" })), CATALOG);
    expect(c.cells).toBe(2 + 3);
    expect(c.errors).toEqual([]);
    expect(c.wire).toEqual([
      { backend: "bands", params: {}, stems: ["low", "high"] },
      { backend: "hpss", params: { margin: [1, 2, 3] }, stems: ["drums"] },
    ]);
  });

  it("refuses more cells than the server allows, before sending", () => {
    const big = sweep("hpss", ["drums", "bass", "vocals", "other"], { margin: "1 2 3 4 5 6 7 8", power: "1 2 3 4 5 6 7" });
    const c = checkGrid(grid(big), CATALOG);
    expect(c.cells).toBe(4 * 8 * 7);
    expect(c.wire).toBeNull();
    expect(c.errors).toEqual(["224 cells; the server's limit is 200: remove values or stems"]);
  });

  it("refuses an empty grid, too many sweeps, and a grid with a bad sweep", () => {
    expect(checkGrid(EMPTY_DRAFT, CATALOG).errors).toEqual(["the grid has no sweeps: add one, or edit a preset"]);
    const nine = grid(...Array.from({ length: 9 }, () => sweep("bands", ["low"])));
    expect(checkGrid(nine, CATALOG).errors).toEqual(["9 sweeps; a custom grid has at most 8: remove 1"]);
    const bad = checkGrid(grid(sweep("bands", ["low"]), sweep("hpss", ["drums"], { kernel: "4" })), CATALOG);
    expect(bad.wire).toBeNull();
    expect(bad.errors).toEqual(["sweep 2 has a problem (see above)"]);
  });

  it("mirrors the server's cell count (before duplicates are dropped)", () => {
    expect(countCells(QUICK)).toBe(24);
    expect(countCells([{ backend: "demucs", params: { model: ["a", "b"], shifts: [0, 1, 2] }, stems: ["vocals"] }])).toBe(6);
    const check = checkGrid(draftFromSweeps(QUICK), CATALOG);
    expect(check.cells).toBe(24);
    expect(check.wire && countCells(check.wire)).toBe(24);
  });
});

describe("edits", () => {
  it("adds sweeps like the last one, removes, toggles, sets values", () => {
    let d = addSweep(EMPTY_DRAFT, CATALOG);
    expect(d.sweeps).toEqual([{ backend: "hpss", params: {}, stems: ["drums"], models: [] }]);
    d = toggleStem(d, 0, "bass");
    d = toggleStem(d, 0, "drums");
    d = setParam(d, 0, "margin", "2, 4");
    d = addSweep(d, CATALOG);
    expect(d.sweeps[1]).toEqual({ backend: "hpss", params: {}, stems: ["bass"], models: [] });
    d = toggleStem(d, 1, "bass", true); // already on: unchanged
    expect(d.sweeps[1]?.stems).toEqual(["bass"]);
    d = removeSweep(d, 1);
    expect(d.sweeps).toEqual([{ backend: "hpss", params: { margin: "2, 4" }, stems: ["bass"], models: [] }]);
  });

  it("switching backend keeps the values the new backend shares", () => {
    let d = grid(sweep("hpss", ["drums"], { margin: "2", kernel: "9" }));
    d = setBackend(d, 0, "repet", CATALOG);
    expect(d.sweeps[0]?.params).toEqual({ margin: "2" });
    d = setBackend(d, 0, "demucs", CATALOG);
    d = toggleModel(d, 0, "htdemucs");
    expect(d.sweeps[0]).toEqual({ backend: "demucs", params: {}, stems: ["drums"], models: ["htdemucs"] });
    d = setBackend(d, 0, "bands", CATALOG);
    expect(d.sweeps[0]?.models).toEqual([]);
  });
});

describe("conversions", () => {
  it("a preset becomes an editable draft and goes back unchanged", () => {
    const d = draftFromSweeps(QUICK, "quick");
    expect(d.sweeps[1]).toEqual({ backend: "hpss", params: { margin: "1, 3" }, stems: ["drums", "bass", "vocals", "other"], models: [] });
    expect(checkGrid(d, CATALOG).wire).toEqual(QUICK);
    const demucs: GridSweep[] = [{ backend: "demucs", params: { model: ["htdemucs"], shifts: [0], overlap: [0.25] }, stems: ["vocals"] }];
    expect(draftFromSweeps(demucs).sweeps[0]).toEqual({ backend: "demucs", params: { shifts: "0", overlap: "0.25" }, stems: ["vocals"], models: ["htdemucs"] });
  });

  it("grid files round-trip and follow the server's structural rules", () => {
    const text = gridFile("mine", QUICK);
    expect(JSON.parse(text)).toMatchObject({ format: "residue-grid", name: "mine" });
    expect(parseGridFile(text)).toEqual({ ok: true, name: "mine", sweeps: QUICK });
    // a single value stands for a list; stems default to the four preset stems
    expect(parseGridFile('{"sweeps": [{"backend": "hpss", "params": {"margin": 2}}]}')).toEqual({
      ok: true,
      name: "custom",
      sweeps: [{ backend: "hpss", params: { margin: [2] }, stems: ["drums", "bass", "vocals", "other"] }],
    });
    expect(parseGridFile("{")).toMatchObject({ ok: false });
    expect(parseGridFile("[]")).toEqual({ ok: false, error: "a grid must be a JSON object with a 'sweeps' list" });
    expect(parseGridFile('{"format": "other", "sweeps": []}')).toEqual({ ok: false, error: 'format must be "residue-grid"' });
    expect(parseGridFile('{"sweeps": [{"params": {}}]}')).toEqual({ ok: false, error: "sweep 1 needs a backend name" });
    expect(parseGridFile('{"sweeps": [{"backend": "hpss", "params": {"margin": [true]}}]}')).toEqual({ ok: false, error: "sweep 1: margin values must be numbers or strings" });
    expect(parseGridFile('{"sweeps": [{"backend": "hpss", "stems": [1]}]}')).toEqual({ ok: false, error: "sweep 1: stems must be a list of stem names" });
  });

  it("saved drafts keep half-typed text and survive garbage", () => {
    const d = grid(sweep("hpss", ["drums"], { margin: "2, 0." }), sweep("demucs", ["vocals"], {}, ["htdemucs"]));
    expect(parseDraft(serializeDraft(d))).toEqual(d);
    expect(parseDraft(null)).toBeNull();
    expect(parseDraft("not json")).toBeNull();
    expect(parseDraft('{"format": "residue-grid", "sweeps": []}')).toBeNull();
    expect(parseDraft('{"format": "residue-grid-draft", "sweeps": [{"backend": 3}, {"backend": "bands", "stems": ["low", 2], "params": {"low_hz": 5}}]}')).toEqual({
      name: "custom",
      sweeps: [{ backend: "bands", params: {}, stems: ["low"], models: [] }],
    });
  });

  it("finds the sweep a server message is about", () => {
    expect(sweepOfMessage("sweep 2 (hpss): stem='kazoo' must be one of [...]")).toBe(1);
    expect(sweepOfMessage("sweep 1: hpss: margin=0.1 must be in [1, 16]")).toBe(0);
    expect(sweepOfMessage("the grid has 256 cells; the limit is 200")).toBeNull();
  });
});
