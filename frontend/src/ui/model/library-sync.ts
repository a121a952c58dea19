/**
 * The session's library as this tab knows it, kept in step with the server's op log (pure).
 *
 * Every change the server commits has a number (`seq`: 1, 2, 3, ... per session) and carries the
 * component's state right after it (`item`, null after a delete). A tab applies changes strictly
 * in order: a number it has seen is a duplicate (its own reply and the event of the same op), a
 * number past the next one means it missed something, so the change waits in `pending` and the tab
 * asks the server for what it missed (`resume` since its last number). Because every tab applies
 * the same log in the same order, every tab ends with the server's library.
 *
 * The conflict rules live on the server (tags are added and removed one at a time, a rename names
 * the version it was based on, a delete wins); {@link explainRefusal} puts its refusals in words.
 */
import type { LibraryChanged, LibraryItem, LibraryOps } from "@shared/protocol";

export interface LibrarySync {
  /** The last op applied (0: nothing yet). */
  readonly seq: number;
  readonly items: ReadonlyMap<string, LibraryItem>;
  /** Changes that arrived ahead of a missing one, by seq. */
  readonly pending: ReadonlyMap<number, LibraryChanged>;
}

export const EMPTY_SYNC: LibrarySync = { seq: 0, items: new Map(), pending: new Map() };

export interface Applied {
  readonly sync: LibrarySync;
  /** A change is missing: ask for the ops after `sync.seq`. */
  readonly gap: boolean;
}

function put(items: Map<string, LibraryItem>, id: string, item: LibraryItem | null | undefined): void {
  if (item) items.set(id, item);
  else items.delete(id);
}

/** Apply one change (a reply or an event) under the ordering rules above. */
export function applyChange(sync: LibrarySync, change: LibraryChanged): Applied {
  const seq = change.seq ?? 0;
  if (seq === 0) {
    // an unnumbered change (an old server): apply as is, order unknown
    const items = new Map(sync.items);
    put(items, change.component_id, change.op === "delete" ? null : change.item);
    return { sync: { ...sync, items }, gap: false };
  }
  if (seq <= sync.seq) return { sync, gap: false };
  if (seq > sync.seq + 1) {
    const pending = new Map(sync.pending);
    pending.set(seq, change);
    return { sync: { ...sync, pending }, gap: true };
  }
  const items = new Map(sync.items);
  put(items, change.component_id, change.op === "delete" ? null : change.item);
  return drain({ seq, items, pending: sync.pending });
}

/** Apply the reply to `resume`: a whole library (snapshot) or the missed ops, then what waited. */
export function applyOps(sync: LibrarySync, reply: LibraryOps): Applied {
  let items: Map<string, LibraryItem>;
  let seq = sync.seq;
  if (reply.snapshot !== null && reply.snapshot !== undefined) {
    items = new Map(reply.snapshot.map((i) => [i.component_id, i]));
    seq = reply.last_seq;
  } else {
    items = new Map(sync.items);
    for (const op of reply.ops) {
      if (op.seq <= seq) continue;
      put(items, op.component_id, op.op === "delete" ? null : op.item);
      seq = op.seq;
    }
    seq = Math.max(seq, reply.last_seq);
  }
  const pending = new Map([...sync.pending].filter(([s]) => s > seq));
  return drain({ seq, items, pending });
}

/** Apply pending changes that follow on now. */
function drain(sync: { seq: number; items: Map<string, LibraryItem>; pending: ReadonlyMap<number, LibraryChanged> }): Applied {
  let { seq } = sync;
  const items = sync.items;
  const pending = new Map(sync.pending);
  for (let next = pending.get(seq + 1); next; next = pending.get(seq + 1)) {
    pending.delete(seq + 1);
    put(items, next.component_id, next.op === "delete" ? null : next.item);
    seq += 1;
  }
  return { sync: { seq, items, pending }, gap: pending.size > 0 };
}

/** The library newest first (as the server lists it). */
export function itemsOf(sync: LibrarySync): LibraryItem[] {
  return [...sync.items.values()].sort((a, b) => b.created_at - a.created_at || (a.component_id < b.component_id ? -1 : 1));
}

/** The tag edits that turn `before` into `after`, one tag at a time (they commute with others'). */
export function tagEdits(before: readonly string[], after: readonly string[]): { add: string[]; remove: string[] } {
  return { add: after.filter((t) => !before.includes(t)), remove: before.filter((t) => !after.includes(t)) };
}

/** A library edit the server refused, in words for a toast. */
export function explainRefusal(action: "rename" | "tag" | "delete", code: string, message: string): string {
  const what = { rename: "Not renamed", tag: "Tags not changed", delete: "Not deleted" }[action];
  const m = message.trim().replace(/\.$/, "");
  if (code === "conflict") return `${what}: ${m}.`;
  if (code === "not_found" && /was deleted/.test(m)) return `${what}: ${m.replace(/; the change was not applied$/, "")} meanwhile.`;
  if (code === "not_found") return `${what}: it is no longer in the library.`;
  return `${what}: ${m}.`;
}
