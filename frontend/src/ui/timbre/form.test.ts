import { describe, expect, it } from "vitest";
import { FALLBACK_FORM, MAX_SEED, formFromDefaults, formProblem, randomSeed, songParams, type SongForm } from "./form";

const TRI = [
  { x: 0, y: 0 },
  { x: 1, y: 0 },
  { x: 0, y: 1 },
];

describe("song form", () => {
  it("takes the server's defaults, falling back where one is missing", () => {
    const f = formFromDefaults({ seed: 7, minutes: 2.5, criterion: "centroid", grammar: "S -> A", ambience: null });
    expect(f).toMatchObject({ seed: 7, minutes: 2.5, criterion: "centroid", grammar: "S -> A", ambience: "off", direction: "high" });
  });

  it("random seeds stay in range", () => {
    expect(randomSeed(() => 0)).toBe(0);
    expect(randomSeed(() => 0.999999999999)).toBe(MAX_SEED);
    const s = randomSeed();
    expect(Number.isInteger(s) && s >= 0 && s <= MAX_SEED).toBe(true);
  });

  it.each<[Partial<SongForm>, RegExp]>([
    [{ seed: -1 }, /Seed/],
    [{ seed: 1.5 }, /Seed/],
    [{ minutes: 0 }, /Minutes/],
    [{ minutes: 61 }, /Minutes/],
    [{ wiggleAmplitude: -0.1 }, /amplitude/],
    [{ wiggleRateHz: 3 }, /rate/],
    [{ criterion: "region" }, /region/],
    [{ ambience: "sounds" }, /effect sound/],
    [{ effects: Array.from({ length: 17 }, (_, i) => `s${i}`) }, /16/],
    [{ grammar: "S -> A\n".repeat(700) }, /longer/],
  ])("names what is wrong: %j", (patch, message) => {
    expect(formProblem({ ...FALLBACK_FORM, ...patch }, null)).toMatch(message);
  });

  it("a region and an effect sound make those choices valid", () => {
    expect(formProblem({ ...FALLBACK_FORM, criterion: "region" }, TRI)).toBeNull();
    expect(formProblem({ ...FALLBACK_FORM, ambience: "sounds", effects: ["s1"] }, null)).toBeNull();
  });

  it("sends the region only with the region criterion and effects only with the sounds ambience", () => {
    const plain = songParams({ ...FALLBACK_FORM, effects: ["s1"], grammar: "S -> AB" }, TRI);
    expect(plain.region).toBeUndefined();
    expect(plain.effects).toBeUndefined();
    expect(plain.grammar).toBe("S -> AB");
    const p = songParams({ ...FALLBACK_FORM, criterion: "region", ambience: "sounds", effects: ["s1", "s2"], seed: 9 }, TRI);
    expect(p).toMatchObject({ seed: 9, criterion: "region", region: [[0, 0], [1, 0], [0, 1]], ambience: "sounds", effects: ["s1", "s2"], grammar: null });
  });
});
