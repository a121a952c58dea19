import { describe, expect, it } from "vitest";
import { formatLoss, lossCurve } from "./loss";

const BOX = { width: 200, height: 100, pad: 10 };

describe("lossCurve", () => {
  it("maps the highest loss to the top and the lowest to the bottom, epochs left to right", () => {
    const c = lossCurve([4, 3, 2.5, 2], BOX);
    expect(c.log).toBe(false);
    expect(c.points).toHaveLength(4);
    expect(c.points[0]).toEqual([10, 10]);
    expect(c.points[3]).toEqual([190, 90]);
    const xs = c.points.map(([x]) => x);
    expect([...xs].sort((a, b) => a - b)).toEqual(xs);
    // linear scale: 3 is a third of the way down from 4 to 2... of the (4 - 2) range: halfway
    expect(c.points[1]?.[1]).toBeCloseTo(50);
  });

  it("uses a log scale when the losses span more than a decade", () => {
    const c = lossCurve([100, 10, 1], BOX);
    expect(c.log).toBe(true);
    expect(c.points[1]?.[1]).toBeCloseTo(50);
    expect(lossCurve([100, 10, 0], BOX).log).toBe(false);
  });

  it("leaves room for the planned epochs while training", () => {
    const c = lossCurve([5, 4], BOX, 11);
    expect(c.epochs).toBe(11);
    expect(c.points[1]?.[0]).toBeCloseTo(10 + 180 / 10);
  });

  it("skips non-finite losses, draws a flat curve in the middle, survives empty input", () => {
    const c = lossCurve([3, Number.NaN, 2], BOX);
    expect(c.points).toHaveLength(2);
    expect(c.points[1]?.[0]).toBe(190);
    expect(lossCurve([2, 2, 2], BOX).points.every(([, y]) => y === 50)).toBe(true);
    expect(lossCurve([], BOX).points).toEqual([]);
    expect(lossCurve([7], BOX).points).toEqual([[100, 50]]);
  });
});

describe("formatLoss", () => {
  it("gives three significant digits, exponents for extremes", () => {
    expect(formatLoss(0.012345)).toBe("0.0123");
    expect(formatLoss(12.345)).toBe("12.3");
    expect(formatLoss(123456)).toBe("1.23e+5");
    expect(formatLoss(0.00001234)).toBe("1.23e-5");
    expect(formatLoss(Number.NaN)).toBe("–");
  });
});
