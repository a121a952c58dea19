import { describe, expect, it } from "vitest";
import { FakeTimers } from "../../util/fake-timers";
import { Debounce, Throttle } from "./timing";

describe("Throttle", () => {
  it("sends the first value at once, then at most one per interval, always the last", () => {
    const timers = new FakeTimers();
    const sent: [number, number][] = [];
    const th = new Throttle<number>(120, (v) => sent.push([timers.t, v]), timers);
    // the pointer moves every 10 ms for a second
    for (let i = 0; i < 100; i++) {
      th.push(i);
      timers.advance(10);
    }
    timers.advance(500);
    expect(sent[0]).toEqual([0, 0]);
    expect(sent.length).toBeLessThanOrEqual(Math.ceil(1000 / 120) + 1);
    expect(sent.length).toBeGreaterThanOrEqual(8);
    for (let i = 1; i < sent.length; i++) expect((sent[i]?.[0] ?? 0) - (sent[i - 1]?.[0] ?? 0)).toBeGreaterThanOrEqual(120);
    expect(sent.at(-1)?.[1]).toBe(99);
  });

  it("cancel drops the pending value (the pointer left)", () => {
    const timers = new FakeTimers();
    const sent: number[] = [];
    const th = new Throttle<number>(120, (v) => sent.push(v), timers);
    th.push(1);
    th.push(2);
    expect(th.pending).toBe(true);
    th.cancel();
    timers.advance(1000);
    expect(sent).toEqual([1]);
  });
});

describe("Debounce", () => {
  it("sends once the typing pauses, with the last value", () => {
    const timers = new FakeTimers();
    const sent: string[] = [];
    const d = new Debounce<string>(250, (v) => sent.push(v), timers);
    for (const text of ["S", "S ", "S -", "S ->"]) {
      d.push(text);
      timers.advance(100);
    }
    expect(sent).toEqual([]);
    timers.advance(200);
    expect(sent).toEqual(["S ->"]);
    d.push("x");
    d.cancel();
    timers.advance(1000);
    expect(sent).toEqual(["S ->"]);
  });
});
