import { describe, expect, it } from "vitest";
import { Emitter } from "./emitter";

describe("Emitter", () => {
  it("on() returns a function that unsubscribes", () => {
    const e = new Emitter<{ level: number }>();
    const seen: number[] = [];
    const off = e.on("level", (v) => seen.push(v));
    e.emit("level", 1);
    off();
    e.emit("level", 2);
    expect(seen).toEqual([1]);
    expect(e.listenerCount("level")).toBe(0);
  });

  it("once() fires a single time", () => {
    const e = new Emitter<{ ended: { gen: number } }>();
    let n = 0;
    e.once("ended", () => n++);
    e.emit("ended", { gen: 1 });
    e.emit("ended", { gen: 2 });
    expect(n).toBe(1);
  });

  it("a listener may unsubscribe others while being called", () => {
    const e = new Emitter<{ x: null }>();
    const calls: string[] = [];
    const offB = e.on("x", () => calls.push("b"));
    e.on("x", () => {
      calls.push("a");
      offB();
    });
    e.emit("x", null);
    e.emit("x", null);
    expect(calls).toEqual(["b", "a", "a"]);
  });
});
