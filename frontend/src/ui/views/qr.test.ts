import { describe, expect, it } from "vitest";
import { qrModules } from "./qr";

describe("qrModules", () => {
  it("makes a square code with the three finder patterns, bigger for a longer link", () => {
    const link = "https://192.168.1.5:8000/swipe/?album=abc123#s=default&t=" + "x".repeat(43);
    const m = qrModules(link);
    const n = m.length;
    expect((n - 17) % 4).toBe(0); // versions are 21, 25, 29, ... modules wide
    expect(m.every((row) => row.length === n)).toBe(true);
    // a finder: a dark 7x7 ring, a light ring inside, a dark 3x3 core
    const finder = (r0: number, c0: number): boolean =>
      [0, 6].every((i) => [0, 1, 2, 3, 4, 5, 6].every((j) => m[r0 + i]?.[c0 + j] && m[r0 + j]?.[c0 + i])) &&
      m[r0 + 1]?.[c0 + 1] === false &&
      [2, 3, 4].every((i) => [2, 3, 4].every((j) => m[r0 + i]?.[c0 + j]));
    expect(finder(0, 0) && finder(0, n - 7) && finder(n - 7, 0)).toBe(true);
    expect(finder(n - 7, n - 7)).toBe(false);
    expect(qrModules("https://x/").length).toBeLessThan(n);
  });
});
