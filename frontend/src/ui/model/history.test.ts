import { describe, expect, it } from "vitest";
import { History } from "./history";

describe("History", () => {
  it("undoes and redoes edits in order", () => {
    const h = new History(0);
    h.push(1, "one");
    h.push(2, "two");
    expect(h.value).toBe(2);
    expect(h.undoLabel).toBe("two");
    expect(h.undo()).toBe(true);
    expect(h.value).toBe(1);
    expect(h.redoLabel).toBe("two");
    expect(h.undo()).toBe(true);
    expect(h.value).toBe(0);
    expect(h.undo()).toBe(false);
    expect(h.redo()).toBe(true);
    expect(h.redo()).toBe(true);
    expect(h.value).toBe(2);
    expect(h.redo()).toBe(false);
  });

  it("a new edit after undo drops the redo branch", () => {
    const h = new History("a");
    h.push("b", "b");
    h.undo();
    h.push("c", "c");
    expect(h.canRedo).toBe(false);
    h.undo();
    expect(h.value).toBe("a");
  });

  it("records nothing for an identical value", () => {
    const h = new History({ x: 1 });
    expect(h.push(h.value, "same")).toBe(false);
    expect(h.canUndo).toBe(false);
  });

  it("replace changes the present without an undo step", () => {
    const h = new History(1);
    h.push(2, "two");
    h.replace(3);
    expect(h.value).toBe(3);
    h.undo();
    expect(h.value).toBe(1);
  });

  it("rebase changes every snapshot and keeps the steps", () => {
    const h = new History<number[]>([]);
    h.push([1], "one");
    h.push([1, 2], "two");
    h.undo();
    h.rebase((v) => [...v, 9]);
    expect(h.value).toEqual([1, 9]);
    h.undo();
    expect(h.value).toEqual([9]);
    h.redo();
    h.redo();
    expect(h.value).toEqual([1, 2, 9]);
  });

  it("forgets the oldest steps past its limit", () => {
    const h = new History(0, 3);
    for (let i = 1; i <= 5; i++) h.push(i, String(i));
    expect(h.depth).toBe(3);
    while (h.undo());
    expect(h.value).toBe(2);
  });
});
