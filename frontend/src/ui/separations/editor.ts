/**
 * The custom grid editor as plain data: a draft of sweeps (what the person typed, kept even when
 * invalid), its validation against the server's catalog, its cell count, and the conversions
 * draft <-> wire sweeps <-> grid file JSON (the format `residue separate --grid FILE` reads) and
 * draft <-> localStorage text. Pure functions, tested with vitest; the DOM is in `editor-view.ts`.
 *
 * The checks mirror the server's (`expand` in services/separation.py, the specs' bounds, odd
 * kernels, crossovers that must stay ordered) so that Run is refused here, with the reason,
 * before a frame is sent; the server checks everything again and its error frame is shown too.
 */
import type { GridBackendInfo, GridModelInfo, GridParamInfo, GridSweep, SeparationCatalog } from "@shared/protocol";

export type GridValue = number | string;

/** One sweep as edited: parameter values are the raw text typed ("1, 2, 4"). */
export interface SweepDraft {
  readonly backend: string;
  /** Raw text per parameter; empty or absent means the parameter's default. */
  readonly params: Readonly<Record<string, string>>;
  readonly stems: readonly string[];
  /** The demucs models of the sweep (the `model` parameter); empty for other backends. */
  readonly models: readonly string[];
}

export interface GridDraft {
  readonly name: string;
  readonly sweeps: readonly SweepDraft[];
}

export const EMPTY_DRAFT: GridDraft = { name: "custom", sweeps: [] };

/** The grid file format's tag (services/separation.py `GRID_FORMAT`). */
export const GRID_FORMAT = "residue-grid";
const DRAFT_FORMAT = "residue-grid-draft";
export const MODEL_BACKEND = "demucs";
const DEFAULT_STEMS: readonly string[] = ["drums", "bass", "vocals", "other"];

// --- values -------------------------------------------------------------------------------------

export interface ParsedValues {
  readonly values: readonly GridValue[];
  /** The first problem, worded for the person ("margin: 0.1 is below the minimum 1"), or null. */
  readonly error: string | null;
}

/** Split what was typed into values: commas, semicolons or spaces separate them. */
export function tokens(text: string): string[] {
  return text
    .split(/[,;\s]+/)
    .map((t) => t.trim())
    .filter((t) => t.length > 0);
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
}

/** A short description of what a parameter accepts: "3 to 255, odd", "one of a, b". */
export function accepts(spec: GridParamInfo): string {
  if (spec.kind === "choice") return spec.choices.length ? `one of ${spec.choices.join(", ")}` : "no choice available";
  const whole = spec.kind === "int" ? (spec.odd ? "odd whole numbers" : "whole numbers") : "numbers";
  if (spec.min !== null && spec.max !== null) return `${whole} ${fmt(spec.min)} to ${fmt(spec.max)}`;
  if (spec.min !== null) return `${whole} from ${fmt(spec.min)}`;
  if (spec.max !== null) return `${whole} up to ${fmt(spec.max)}`;
  return whole;
}

/** The default as shown in an empty field ("31", "the model's own"). */
export function defaultText(spec: GridParamInfo): string {
  if (spec.default === null || spec.default === undefined) return spec.optional ? "the backend's own" : "none";
  return typeof spec.default === "number" ? fmt(spec.default) : spec.default;
}

type Checked = { readonly value: GridValue; readonly error?: undefined } | { readonly error: string };

function checkValue(token: string, spec: GridParamInfo): Checked {
  const name = spec.name;
  if (spec.kind === "choice") {
    if (spec.choices.includes(token)) return { value: token };
    return { error: spec.choices.length ? `${name}: "${token}" is not one of ${spec.choices.join(", ")}` : `${name}: nothing to choose from` };
  }
  const v = Number(token);
  if (!Number.isFinite(v) || !/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(token)) return { error: `${name}: "${token}" is not a number` };
  if (spec.kind === "int" && !Number.isInteger(v)) return { error: `${name}: ${token} is not a whole number` };
  if (spec.min !== null && v < spec.min) return { error: `${name}: ${fmt(v)} is below the minimum ${fmt(spec.min)}` };
  if (spec.max !== null && v > spec.max) return { error: `${name}: ${fmt(v)} is above the maximum ${fmt(spec.max)}` };
  if (spec.odd && Math.abs(v) % 2 !== 1) return { error: `${name}: ${fmt(v)} must be odd` };
  return { value: v };
}

/**
 * Parse a parameter's text into its values, checked against its spec: kind, bounds, choices,
 * odd, and at most `maxValues` of them. Repeats are dropped (they would only repeat a cell).
 * Empty text gives no values (the parameter takes its default).
 */
export function parseValues(text: string, spec: GridParamInfo, maxValues: number): ParsedValues {
  const values: GridValue[] = [];
  for (const token of tokens(text)) {
    const checked = checkValue(token, spec);
    if (checked.error !== undefined) return { values, error: checked.error };
    if (!values.includes(checked.value)) values.push(checked.value);
  }
  if (values.length > maxValues) return { values, error: `${spec.name}: ${values.length} values; at most ${maxValues} per parameter` };
  return { values, error: null };
}

/** Values as editable text: "1, 2, 4". */
export function formatValues(values: readonly GridValue[]): string {
  return values.map((v) => (typeof v === "number" ? fmt(v) : v)).join(", ");
}

// --- sweeps and the grid ------------------------------------------------------------------------

export interface SweepCheck {
  /** The sweep on the wire, or null when it has an error. */
  readonly sweep: GridSweep | null;
  /** Cells it expands to (as the server counts them: stems x every list, models included). */
  readonly cells: number;
  /** Problems per parameter name (shown beside its field). */
  readonly paramErrors: Readonly<Record<string, string>>;
  /** Problems of the sweep as a whole (backend, models, stems, crossovers). */
  readonly errors: readonly string[];
}

export interface GridCheck {
  readonly sweeps: readonly SweepCheck[];
  readonly cells: number;
  /** Problems of the grid as a whole (empty, too many sweeps or cells). */
  readonly errors: readonly string[];
  /** What Run sends, when nothing is wrong. */
  readonly wire: GridSweep[] | null;
}

export function backendOf(catalog: SeparationCatalog, name: string): GridBackendInfo | undefined {
  return catalog.backends.find((b) => b.name === name);
}

/** The parameters a person types values for (a model backend's `model` is chosen by ticks). */
export function editableParams(backend: GridBackendInfo): GridParamInfo[] {
  return backend.kind === "model" ? backend.params.filter((p) => p.name !== "model") : [...backend.params];
}

function numbers(values: readonly GridValue[] | undefined, spec: GridParamInfo | undefined): number[] {
  if (values && values.length) return values.filter((v): v is number => typeof v === "number");
  return typeof spec?.default === "number" ? [spec.default] : [];
}

/** Check one sweep against the catalog; `index` is 0-based (messages say "sweep 1"). */
export function checkSweep(draft: SweepDraft, catalog: SeparationCatalog): SweepCheck {
  const errors: string[] = [];
  const paramErrors: Record<string, string> = {};
  const backend = backendOf(catalog, draft.backend);
  const stems = draft.stems.filter((s, i) => draft.stems.indexOf(s) === i);
  const unknownStem = stems.find((s) => !catalog.stems.includes(s));
  if (unknownStem !== undefined) errors.push(`stem "${unknownStem}" is not one of the stems`);
  if (stems.length === 0) errors.push("tick at least one target stem");
  if (stems.length > catalog.max_stems) errors.push(`${stems.length} stems; at most ${catalog.max_stems} per sweep`);
  if (!backend) {
    errors.push(`backend "${draft.backend}" is not one of ${catalog.backends.map((b) => b.name).join(", ")}`);
    return { sweep: null, cells: 0, paramErrors, errors };
  }
  const params: Record<string, GridValue[]> = {};
  let cells = stems.length;
  if (backend.kind === "model") {
    const models = draft.models.filter((m, i) => draft.models.indexOf(m) === i);
    const known = new Map(catalog.models.map((m) => [m.name, m]));
    for (const m of models) {
      const info = known.get(m);
      if (!info) errors.push(`model "${m}" is not one this server knows`);
      else if (!info.available) errors.push(`${m} is ${unavailableText(info)}`);
    }
    if (models.length === 0) {
      const any = catalog.models.some((m) => m.available);
      errors.push(any ? "tick at least one model" : `no ${backend.name} model is available: ${folderText(catalog)}`);
    }
    if (models.length > catalog.max_values) errors.push(`${models.length} models; at most ${catalog.max_values} per sweep`);
    params["model"] = [...models];
    cells *= models.length;
  }
  const specs = editableParams(backend);
  for (const name of Object.keys(draft.params)) {
    if (!specs.some((s) => s.name === name) && tokens(draft.params[name] ?? "").length) {
      paramErrors[name] = `${backend.name} has no parameter ${name}`;
    }
  }
  for (const spec of specs) {
    const parsed = parseValues(draft.params[spec.name] ?? "", spec, catalog.max_values);
    if (parsed.error) paramErrors[spec.name] = parsed.error;
    if (parsed.values.length) params[spec.name] = [...parsed.values];
    // while a field is wrong, count what was typed (the count follows the fingers)
    const n = parsed.error ? new Set(tokens(draft.params[spec.name] ?? "")).size : parsed.values.length;
    if (n) cells *= n;
  }
  // A crossover below its partner in every cell (bands: low_hz < high_hz).
  for (const spec of specs) {
    if (!spec.below || paramErrors[spec.name] || paramErrors[spec.below]) continue;
    const upper = specs.find((s) => s.name === spec.below);
    const lows = numbers(params[spec.name], spec);
    const highs = numbers(params[spec.below], upper);
    if (lows.length && highs.length && Math.max(...lows) >= Math.min(...highs)) {
      const low = Math.max(...lows);
      const high = Math.min(...highs);
      const given = params[spec.below] ? "" : " (its default)";
      paramErrors[spec.name] = `${spec.name}: ${fmt(low)} must be below ${spec.below} ${fmt(high)}${given} in every cell`;
    }
  }
  const ok = errors.length === 0 && Object.keys(paramErrors).length === 0;
  return { sweep: ok ? { backend: backend.name, params, stems } : null, cells, paramErrors, errors };
}

/** Check the whole draft: every sweep, their number, and the cell limit. */
export function checkGrid(draft: GridDraft, catalog: SeparationCatalog): GridCheck {
  const sweeps = draft.sweeps.map((s) => checkSweep(s, catalog));
  const cells = sweeps.reduce((n, s) => n + s.cells, 0);
  const errors: string[] = [];
  if (draft.sweeps.length === 0) errors.push("the grid has no sweeps: add one, or edit a preset");
  if (draft.sweeps.length > catalog.max_sweeps) {
    errors.push(`${draft.sweeps.length} sweeps; a custom grid has at most ${catalog.max_sweeps}: remove ${draft.sweeps.length - catalog.max_sweeps}`);
  }
  if (cells > catalog.max_cells) errors.push(`${cells} cells; the server's limit is ${catalog.max_cells}: remove values or stems`);
  const bad = sweeps.findIndex((s) => s.sweep === null);
  if (bad >= 0) errors.push(`sweep ${bad + 1} has a problem (see above)`);
  const ok = errors.length === 0;
  return { sweeps, cells, errors, wire: ok ? sweeps.map((s) => s.sweep).filter((s): s is GridSweep => s !== null) : null };
}

/** Cells of wire sweeps, counted as the server's `count_cells` does (before removing duplicates). */
export function countCells(sweeps: readonly GridSweep[]): number {
  let total = 0;
  for (const s of sweeps) {
    let n = s.stems.length;
    for (const values of Object.values(s.params ?? {})) n *= values?.length ?? 1;
    total += n;
  }
  return total;
}

/** The 0-based sweep a server message is about ("sweep 2 (hpss): ..." -> 1), or null. */
export function sweepOfMessage(message: string): number | null {
  const m = /\bsweep (\d+)\b/.exec(message);
  return m ? Number(m[1]) - 1 : null;
}

/** Why a model cannot be used and where its files go (the server's reason, when it gave one). */
export function unavailableText(model: GridModelInfo): string {
  if (model.reason) return `unavailable: ${model.reason}`;
  return `unavailable: put ${model.name}'s files in ${model.folder ?? "the model folder (RESIDUE_MODELS_DIR)"}`;
}

function folderText(catalog: SeparationCatalog): string {
  return catalog.models_dir ? `put model files in ${catalog.models_dir}` : "set RESIDUE_MODELS_DIR to a model folder";
}

// --- edits (pure: each returns a new draft) ------------------------------------------------------

export function newSweep(catalog: SeparationCatalog | null, backend = "hpss"): SweepDraft {
  const stems = DEFAULT_STEMS.filter((s) => !catalog || catalog.stems.includes(s)).slice(0, 1);
  return { backend, params: {}, stems, models: [] };
}

export function addSweep(draft: GridDraft, catalog: SeparationCatalog | null): GridDraft {
  const last = draft.sweeps[draft.sweeps.length - 1];
  const sweep = last ? { ...newSweep(catalog, last.backend), stems: [...last.stems] } : newSweep(catalog);
  return { ...draft, sweeps: [...draft.sweeps, sweep] };
}

export function removeSweep(draft: GridDraft, index: number): GridDraft {
  return { ...draft, sweeps: draft.sweeps.filter((_, i) => i !== index) };
}

function update(draft: GridDraft, index: number, fn: (s: SweepDraft) => SweepDraft): GridDraft {
  return { ...draft, sweeps: draft.sweeps.map((s, i) => (i === index ? fn(s) : s)) };
}

/** Switch a sweep's backend: values of parameters the new backend shares are kept. */
export function setBackend(draft: GridDraft, index: number, backend: string, catalog: SeparationCatalog | null): GridDraft {
  return update(draft, index, (s) => {
    const info = catalog ? backendOf(catalog, backend) : undefined;
    const names = new Set(info ? editableParams(info).map((p) => p.name) : []);
    const params = Object.fromEntries(Object.entries(s.params).filter(([k]) => names.has(k)));
    const models = info?.kind === "model" ? s.models : [];
    return { ...s, backend, params, models };
  });
}

function toggle(list: readonly string[], item: string, on: boolean | undefined): string[] {
  const has = list.includes(item);
  const want = on ?? !has;
  if (want === has) return [...list];
  return want ? [...list, item] : list.filter((x) => x !== item);
}

export function toggleStem(draft: GridDraft, index: number, stem: string, on?: boolean): GridDraft {
  return update(draft, index, (s) => ({ ...s, stems: toggle(s.stems, stem, on) }));
}

export function toggleModel(draft: GridDraft, index: number, model: string, on?: boolean): GridDraft {
  return update(draft, index, (s) => ({ ...s, models: toggle(s.models, model, on) }));
}

export function setParam(draft: GridDraft, index: number, name: string, text: string): GridDraft {
  return update(draft, index, (s) => ({ ...s, params: { ...s.params, [name]: text } }));
}

// --- conversions ---------------------------------------------------------------------------------

/** Wire sweeps (a preset's, an imported file's) as an editable draft. */
export function draftFromSweeps(sweeps: readonly GridSweep[], name = "custom"): GridDraft {
  return {
    name,
    sweeps: sweeps.map((s) => {
      const params: Record<string, string> = {};
      let models: string[] = [];
      for (const [k, values] of Object.entries(s.params ?? {})) {
        if (!values) continue;
        if (s.backend === MODEL_BACKEND && k === "model") models = values.map(String);
        else params[k] = formatValues(values);
      }
      return { backend: s.backend, params, stems: [...s.stems], models };
    }),
  };
}

/** A grid file (the CLI's `--grid FILE` format) of wire sweeps. */
export function gridFile(name: string, sweeps: readonly GridSweep[]): string {
  return `${JSON.stringify({ format: GRID_FORMAT, name, sweeps }, null, 2)}\n`;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export type ParsedGridFile = { readonly ok: true; readonly name: string; readonly sweeps: GridSweep[] } | { readonly ok: false; readonly error: string };

/**
 * Read a grid file's text into wire sweeps, with the server's structural rules (a value may
 * stand for a one-value list, stems default to the four preset stems). Values are checked
 * later, in the editor, against the catalog.
 */
export function parseGridFile(text: string): ParsedGridFile {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: `not JSON: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (!isRecord(data)) return { ok: false, error: "a grid must be a JSON object with a 'sweeps' list" };
  if ("format" in data && data["format"] !== GRID_FORMAT) return { ok: false, error: `format must be "${GRID_FORMAT}"` };
  const raw = data["sweeps"];
  if (!Array.isArray(raw)) return { ok: false, error: "a grid needs a 'sweeps' list" };
  const sweeps: GridSweep[] = [];
  for (const [i, s] of raw.entries()) {
    const where = `sweep ${i + 1}`;
    if (!isRecord(s) || typeof s["backend"] !== "string") return { ok: false, error: `${where} needs a backend name` };
    const params: Record<string, GridValue[]> = {};
    const rawParams = s["params"] ?? {};
    if (!isRecord(rawParams)) return { ok: false, error: `${where}: params must be an object` };
    for (const [k, v] of Object.entries(rawParams)) {
      const list: unknown[] = Array.isArray(v) ? v : [v];
      const values = list.filter((x): x is GridValue => typeof x === "number" || typeof x === "string");
      if (values.length !== list.length) return { ok: false, error: `${where}: ${k} values must be numbers or strings` };
      params[k] = values;
    }
    const rawStems = s["stems"] ?? [...DEFAULT_STEMS];
    const stems: unknown[] = typeof rawStems === "string" ? [rawStems] : Array.isArray(rawStems) ? rawStems : [0];
    if (!stems.every((x): x is string => typeof x === "string")) return { ok: false, error: `${where}: stems must be a list of stem names` };
    sweeps.push({ backend: s["backend"], params, stems });
  }
  const name = typeof data["name"] === "string" ? data["name"] : "custom";
  return { ok: true, name, sweeps };
}

/** The draft as saved in localStorage (raw texts included: a half-typed value survives a reload). */
export function serializeDraft(draft: GridDraft): string {
  return JSON.stringify({ format: DRAFT_FORMAT, version: 1, ...draft });
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

/** A saved draft, or null when the text is not one (never throws). */
export function parseDraft(text: string | null): GridDraft | null {
  if (!text) return null;
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isRecord(data) || data["format"] !== DRAFT_FORMAT || !Array.isArray(data["sweeps"])) return null;
  const sweeps: SweepDraft[] = [];
  for (const s of data["sweeps"] as unknown[]) {
    if (!isRecord(s) || typeof s["backend"] !== "string") continue;
    const params: Record<string, string> = {};
    if (isRecord(s["params"])) {
      for (const [k, v] of Object.entries(s["params"])) if (typeof v === "string") params[k] = v;
    }
    sweeps.push({ backend: s["backend"], params, stems: strings(s["stems"]), models: strings(s["models"]) });
  }
  return { name: typeof data["name"] === "string" ? data["name"] : "custom", sweeps };
}
