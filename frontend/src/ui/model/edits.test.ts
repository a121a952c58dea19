import { describe, expect, it } from "vitest";
import {
  applyPlan,
  assign,
  canonical,
  DEFAULT_UNIT,
  dropLibraryComponent,
  effectiveComponent,
  isEdited,
  openDecomposition,
  renderSpec,
  setUnit,
  specKey,
  swapComponents,
  type Edits,
} from "./edits";

const label = (at: { decompositionId: string; unit: number }): string => `${at.decompositionId}#${at.unit}`;

function twoOpen(): Edits {
  return openDecomposition(openDecomposition({}, "d1", 3), "d2", 2);
}

describe("edits", () => {
  it("opens a decomposition unedited and keeps edits when reopened", () => {
    const e = twoOpen();
    expect(e["d1"]).toHaveLength(3);
    expect(isEdited(e["d1"] ?? [])).toBe(false);
    const edited = setUnit(e, { decompositionId: "d1", unit: 1 }, { gain_db: -6 });
    expect(openDecomposition(edited, "d1", 3)).toBe(edited);
  });

  it("returns the same value when nothing changes (no empty undo steps)", () => {
    const e = twoOpen();
    expect(setUnit(e, { decompositionId: "d1", unit: 0 }, { gain_db: 0 })).toBe(e);
  });

  it("never mutates its input", () => {
    const e = twoOpen();
    const before = canonical(e);
    setUnit(e, { decompositionId: "d1", unit: 0 }, { reverse: true });
    expect(canonical(e)).toBe(before);
  });

  it("rejects units that are not open", () => {
    expect(() => setUnit(twoOpen(), { decompositionId: "d1", unit: 7 }, { muted: true })).toThrow(RangeError);
    expect(() => setUnit(twoOpen(), { decompositionId: "zz", unit: 0 }, { muted: true })).toThrow(/not open/);
  });

  it("swaps two units of one decomposition", () => {
    const a = { decompositionId: "d1", unit: 0 };
    const b = { decompositionId: "d1", unit: 2 };
    const e = swapComponents(twoOpen(), a, b, label);
    expect(effectiveComponent(e, a)).toEqual({ kind: "unit", decomposition_id: "d1", unit: 2 });
    expect(effectiveComponent(e, b)).toEqual({ kind: "unit", decomposition_id: "d1", unit: 0 });
    expect(e["d1"]?.[0]?.source).toBe("d1#2");
    // swapping back restores both units to their own sound
    const back = swapComponents(e, a, b, label);
    expect(back["d1"]?.[0]).toEqual(DEFAULT_UNIT);
    expect(back["d1"]?.[2]).toEqual(DEFAULT_UNIT);
  });

  it("swaps across decompositions", () => {
    const a = { decompositionId: "d2", unit: 1 };
    const b = { decompositionId: "d1", unit: 0 };
    const e = swapComponents(twoOpen(), a, b, label);
    expect(effectiveComponent(e, b)).toEqual({ kind: "unit", decomposition_id: "d2", unit: 1 });
    expect(effectiveComponent(e, a)).toEqual({ kind: "unit", decomposition_id: "d1", unit: 0 });
  });

  it("a unit swapped with itself is unchanged", () => {
    const e = twoOpen();
    const a = { decompositionId: "d1", unit: 1 };
    expect(swapComponents(e, a, a, label)).toBe(e);
  });

  it("applies a remix plan and drops deleted library components", () => {
    const e = applyPlan(twoOpen(), "d1", [
      { unit: 0, component_id: "c1", name: "kick", distance: 0.1 },
      { unit: 2, component_id: "c2", name: "pad", distance: 0.3 },
      { unit: 9, component_id: "c3", name: "ghost", distance: 0.3 },
    ]);
    expect(e["d1"]?.[0]?.component).toEqual({ kind: "library", component_id: "c1" });
    expect(e["d1"]?.[0]?.source).toBe("library: kick");
    const dropped = dropLibraryComponent(e, "c1");
    expect(dropped["d1"]?.[0]?.component).toBeNull();
    expect(dropped["d1"]?.[2]?.component).toEqual({ kind: "library", component_id: "c2" });
  });

  it("assigning a unit its own component clears it", () => {
    const at = { decompositionId: "d1", unit: 1 };
    const e = assign(twoOpen(), at, { kind: "library", component_id: "c" }, "x");
    expect(assign(e, at, { kind: "unit", decomposition_id: "d1", unit: 1 }, "own")["d1"]?.[1]).toEqual(DEFAULT_UNIT);
  });
});

describe("renderSpec", () => {
  const units = [
    DEFAULT_UNIT,
    { ...DEFAULT_UNIT, gain_db: -3.14159, reverse: true },
    { ...DEFAULT_UNIT, muted: true },
    { ...DEFAULT_UNIT, stretch: 0.5, component: { kind: "library" as const, component_id: "c" } },
  ];

  it("lists every unit as null when none is muted, and sends only changed fields", () => {
    const spec = renderSpec("d1", [DEFAULT_UNIT, { ...DEFAULT_UNIT, gain_db: 2 }]);
    expect(spec).toEqual({ decomposition_id: "d1", units: null, edits: [{ unit: 1, gain_db: 2 }] });
  });

  it("leaves muted units out", () => {
    const spec = renderSpec("d1", units);
    expect(spec.units).toEqual([0, 1, 3]);
    expect(spec.edits).toEqual([
      { unit: 1, gain_db: -3.1, reverse: true },
      { unit: 3, component: { kind: "library", component_id: "c" }, stretch: 0.5 },
    ]);
  });

  it("solo plays one unit, even a muted one; `only` overrides both", () => {
    expect(renderSpec("d1", units, { solo: 2 }).units).toEqual([2]);
    expect(renderSpec("d1", units, { solo: 2, only: [3, 1] })).toMatchObject({ units: [1, 3] });
  });

  it("keys are equal for equal renders and differ otherwise", () => {
    const a = specKey(renderSpec("d1", units));
    const b = specKey({ ...renderSpec("d1", units) });
    expect(a).toBe(b);
    expect(specKey(renderSpec("d1", units, { solo: 1 }))).not.toBe(a);
    expect(canonical({ b: 1, a: [2, { d: null, c: undefined }] })).toBe('{"a":[2,{"d":null}],"b":1}');
  });
});
