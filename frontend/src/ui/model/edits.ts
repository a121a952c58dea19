/**
 * The edit model: how each unit of each open decomposition is changed, and the RenderSpec it makes.
 *
 * Values are immutable; every function returns a new value (or the same one when nothing changed),
 * so that {@link History} can keep snapshots.
 */
import type { Assignment, ComponentRef, RenderSpec, UnitEdit } from "@shared/protocol";

export const STRETCHES = [0.5, 1, 2] as const;
export const MIN_GAIN_DB = -60;
export const MAX_GAIN_DB = 12;

export interface UnitState {
  /** The component this unit plays with; null = its own. */
  readonly component: ComponentRef | null;
  /** Where the component came from, in words ("unit 3 of drums", "library: warm pad"). */
  readonly source: string | null;
  readonly gain_db: number;
  readonly reverse: boolean;
  readonly stretch: number;
  readonly muted: boolean;
}

/** Unit states by decomposition id. */
export type Edits = Readonly<Record<string, readonly UnitState[]>>;

/** A unit of an open decomposition. */
export interface UnitAddress {
  readonly decompositionId: string;
  readonly unit: number;
}

export const DEFAULT_UNIT: UnitState = {
  component: null,
  source: null,
  gain_db: 0,
  reverse: false,
  stretch: 1,
  muted: false,
};

/** Open a decomposition of `n` units (unedited); an already open one keeps its edits. */
export function openDecomposition(edits: Edits, decompositionId: string, n: number): Edits {
  if (edits[decompositionId]?.length === n) return edits;
  return { ...edits, [decompositionId]: Array.from({ length: n }, () => DEFAULT_UNIT) };
}

export function unitState(edits: Edits, at: UnitAddress): UnitState {
  const units = edits[at.decompositionId];
  const state = units?.[at.unit];
  if (!state) throw new RangeError(`unit ${at.unit} of ${at.decompositionId} is not open`);
  return state;
}

/** Change some fields of one unit. */
export function setUnit(edits: Edits, at: UnitAddress, patch: Partial<UnitState>): Edits {
  const units = edits[at.decompositionId];
  const old = units?.[at.unit];
  if (!units || !old) throw new RangeError(`unit ${at.unit} of ${at.decompositionId} is not open`);
  const next = { ...old, ...patch };
  if (sameUnit(old, next)) return edits;
  const copy = units.slice();
  copy[at.unit] = next;
  return { ...edits, [at.decompositionId]: copy };
}

/** The component a unit sounds with now (its own when not replaced). */
export function effectiveComponent(edits: Edits, at: UnitAddress): ComponentRef {
  return unitState(edits, at).component ?? { kind: "unit", decomposition_id: at.decompositionId, unit: at.unit };
}

/**
 * Swap the components of two units (of one decomposition or of two).
 *
 * @param label how to name a unit's component in words.
 */
export function swapComponents(
  edits: Edits,
  a: UnitAddress,
  b: UnitAddress,
  label: (at: UnitAddress) => string,
): Edits {
  if (a.decompositionId === b.decompositionId && a.unit === b.unit) return edits;
  const ca = effectiveComponent(edits, a);
  const cb = effectiveComponent(edits, b);
  const sa = unitState(edits, a).source ?? label(a);
  const sb = unitState(edits, b).source ?? label(b);
  let next = assign(edits, a, cb, sb);
  next = assign(next, b, ca, sa);
  return next;
}

/** Give a unit a component (null or its own = back to its own). */
export function assign(edits: Edits, at: UnitAddress, component: ComponentRef | null, source: string | null): Edits {
  const own =
    component === null ||
    (component.kind === "unit" && component.decomposition_id === at.decompositionId && component.unit === at.unit);
  return setUnit(edits, at, own ? { component: null, source: null } : { component, source });
}

/** Apply a remix plan: every listed unit takes its library component. */
export function applyPlan(edits: Edits, decompositionId: string, assignments: readonly Assignment[]): Edits {
  let next = edits;
  for (const a of assignments) {
    if (!edits[decompositionId]?.[a.unit]) continue;
    next = assign(next, { decompositionId, unit: a.unit }, { kind: "library", component_id: a.component_id }, `library: ${a.name}`);
  }
  return next;
}

/** Replace every reference to a deleted library component with the unit's own. */
export function dropLibraryComponent(edits: Edits, componentId: string): Edits {
  let next = edits;
  for (const [decompositionId, units] of Object.entries(edits)) {
    units.forEach((u, unit) => {
      if (u.component?.kind === "library" && u.component.component_id === componentId) {
        next = setUnit(next, { decompositionId, unit }, { component: null, source: null });
      }
    });
  }
  return next;
}

export interface Listen {
  /** Only this unit sounds (solo), or null. */
  readonly solo: number | null;
  /** Exactly these units sound (auditioning one unit), overriding solo and mute. */
  readonly only?: readonly number[] | null;
}

/**
 * The RenderSpec of a decomposition's current edit: the units that sound (mute/solo) and the edits
 * that differ from the default.
 */
export function renderSpec(decompositionId: string, units: readonly UnitState[], listen: Listen = { solo: null }): RenderSpec {
  let sounding: number[] | null;
  if (listen.only) sounding = [...listen.only].sort((x, y) => x - y);
  else if (listen.solo !== null) sounding = [listen.solo];
  else {
    const on = units.flatMap((u, i) => (u.muted ? [] : [i]));
    sounding = on.length === units.length ? null : on;
  }
  const edits: UnitEdit[] = [];
  units.forEach((u, unit) => {
    if (sounding !== null && !sounding.includes(unit)) return;
    if (u.component === null && u.gain_db === 0 && !u.reverse && u.stretch === 1) return;
    const edit: UnitEdit = { unit };
    if (u.component !== null) edit.component = u.component;
    if (u.gain_db !== 0) edit.gain_db = roundGain(u.gain_db);
    if (u.reverse) edit.reverse = true;
    if (u.stretch !== 1) edit.stretch = u.stretch;
    edits.push(edit);
  });
  return { decomposition_id: decompositionId, units: sounding, edits };
}

/** A stable key of a render (same sound => same key): the cache key of rendered audio. */
export function specKey(spec: RenderSpec): string {
  return `render:${canonical(spec)}`;
}

/** Stable JSON: object keys sorted, undefined dropped. */
export function canonical(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
}

/** True when at least one unit differs from the default (the edit is not the plain decomposition). */
export function isEdited(units: readonly UnitState[]): boolean {
  return units.some((u) => !sameUnit(u, DEFAULT_UNIT));
}

function sameUnit(a: UnitState, b: UnitState): boolean {
  return (
    a.gain_db === b.gain_db &&
    a.reverse === b.reverse &&
    a.stretch === b.stretch &&
    a.muted === b.muted &&
    a.source === b.source &&
    canonical(a.component) === canonical(b.component)
  );
}

function roundGain(db: number): number {
  return Math.round(Math.max(MIN_GAIN_DB, Math.min(MAX_GAIN_DB, db)) * 10) / 10;
}
