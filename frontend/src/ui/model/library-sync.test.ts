import { describe, expect, it } from "vitest";
import type { LibraryChanged, LibraryItem, LibraryOps } from "@shared/protocol";
import { applyChange, applyOps, EMPTY_SYNC, explainRefusal, itemsOf, tagEdits, type LibrarySync } from "./library-sync";

function item(id: string, name: string, extra: Partial<LibraryItem> = {}): LibraryItem {
  return {
    component_id: id,
    name,
    tags: [],
    creator: "ana",
    created_at: 1000 + id.charCodeAt(0),
    provenance: { sound_id: "s", sound_name: "loop", decomposition_id: "d", unit: 0, n_components: 4, beta: 1, sample_rate: 44100, n_fft: 2048 },
    curve: new Uint8Array(4),
    version: 1,
    ...extra,
  };
}

function change(seq: number, op: LibraryChanged["op"], id: string, it: LibraryItem | null, requestId = 0): LibraryChanged {
  return { type: "library_changed", request_id: requestId, seq, op, component_id: id, item: it, actor: "bo", tag: null };
}

function run(changes: LibraryChanged[], from: LibrarySync = EMPTY_SYNC): { sync: LibrarySync; gaps: number } {
  let sync = from;
  let gaps = 0;
  for (const c of changes) {
    const r = applyChange(sync, c);
    sync = r.sync;
    if (r.gap) gaps++;
  }
  return { sync, gaps };
}

const names = (s: LibrarySync): string[] => itemsOf(s).map((i) => i.name);

describe("applying the op log", () => {
  it("applies changes in order and ignores the duplicate of an own reply", () => {
    const a = item("a", "kick");
    const { sync, gaps } = run([change(1, "add", "a", a, 7), change(1, "add", "a", a), change(2, "rename", "a", { ...a, name: "sub", version: 2 })]);
    expect(gaps).toBe(0);
    expect(sync.seq).toBe(2);
    expect(names(sync)).toEqual(["sub"]);
  });

  it("holds changes that arrive early and applies them once the missing one comes", () => {
    const a = item("a", "kick");
    const early = run([change(1, "add", "a", a), change(3, "tag", "a", { ...a, tags: ["x"] }), change(4, "rename", "a", { ...a, tags: ["x"], name: "k2", version: 2 })]);
    expect(early.gaps).toBe(2);
    expect(early.sync.seq).toBe(1);
    expect(names(early.sync)).toEqual(["kick"]);
    const filled = applyChange(early.sync, change(2, "untag", "a", a));
    expect(filled.gap).toBe(false);
    expect(filled.sync.seq).toBe(4);
    expect(itemsOf(filled.sync)[0]).toMatchObject({ name: "k2", tags: ["x"] });
  });

  it("a delete removes the item, and later changes of it do not bring it back", () => {
    const a = item("a", "kick");
    const { sync } = run([change(1, "add", "a", a), change(2, "delete", "a", null), change(2, "rename", "a", { ...a, name: "late" })]);
    expect(itemsOf(sync)).toEqual([]);
  });

  it("two tabs that receive the same ops in different chunks end equal", () => {
    const a = item("a", "a");
    const b = item("b", "b");
    const log = [
      change(1, "add", "a", a),
      change(2, "add", "b", b),
      change(3, "tag", "a", { ...a, tags: ["warm"] }),
      change(4, "rename", "b", { ...b, name: "bee", version: 2 }),
      change(5, "delete", "a", null),
      change(6, "tag", "b", { ...b, name: "bee", version: 2, tags: ["dark"] }),
    ];
    const inOrder = run(log).sync;
    const shuffled = run([log[1], log[0], log[4], log[3], log[2], log[5], log[2]].filter((c): c is LibraryChanged => c !== undefined)).sync;
    expect(itemsOf(shuffled)).toEqual(itemsOf(inOrder));
    expect(shuffled.seq).toBe(6);
    expect(itemsOf(inOrder).map((i) => [i.name, i.tags])).toEqual([["bee", ["dark"]]]);
  });

  it("a resume fills the gap with the missed ops, then applies what waited", () => {
    const a = item("a", "a");
    const waiting = run([change(1, "add", "a", a), change(4, "tag", "a", { ...a, name: "a3", tags: ["t"] })]).sync;
    const reply: LibraryOps = {
      type: "library_ops",
      request_id: 9,
      since: 1,
      last_seq: 3,
      ops: [
        { seq: 2, op: "rename", component_id: "a", actor: "bo", detail: "a3", item: { ...a, name: "a3" } },
        { seq: 3, op: "add", component_id: "c", actor: "bo", detail: "c", item: null },
      ],
      snapshot: null,
    };
    const { sync, gap } = applyOps(waiting, reply);
    expect(gap).toBe(false);
    expect(sync.seq).toBe(4);
    expect(itemsOf(sync).map((i) => [i.name, i.tags])).toEqual([["a3", ["t"]]]);
  });

  it("a snapshot replaces everything and drops older waiting changes", () => {
    const a = item("a", "a");
    const b = item("b", "b");
    const waiting = run([change(1, "add", "a", a), change(3, "add", "x", item("x", "x"))]).sync;
    const { sync } = applyOps(waiting, { type: "library_ops", request_id: 1, since: 1, last_seq: 10, ops: [], snapshot: [b] });
    expect(sync.seq).toBe(10);
    expect(names(sync)).toEqual(["b"]);
    expect(sync.pending.size).toBe(0);
  });
});

describe("conflict rules, as the page applies them", () => {
  it("turns a tag form into single tag edits that commute with others'", () => {
    expect(tagEdits(["bass", "warm"], ["warm", "dark"])).toEqual({ add: ["dark"], remove: ["bass"] });
    expect(tagEdits([], [])).toEqual({ add: [], remove: [] });
  });

  it("explains refusals in words", () => {
    expect(explainRefusal("rename", "conflict", "“kick” was renamed to “sub” by bo while you were editing it; your name “k2” was not applied (try again on the new name)")).toBe(
      "Not renamed: “kick” was renamed to “sub” by bo while you were editing it; your name “k2” was not applied (try again on the new name).",
    );
    expect(explainRefusal("rename", "not_found", "“kick” was deleted by bo; the change was not applied")).toBe("Not renamed: “kick” was deleted by bo meanwhile.");
    expect(explainRefusal("tag", "not_found", "no component 'x'")).toBe("Tags not changed: it is no longer in the library.");
  });
});
