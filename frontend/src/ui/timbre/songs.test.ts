import { describe, expect, it } from "vitest";
import type { SongInfo } from "@shared/protocol";
import { applyDecision, formatDuration, removeSong, shortStructure, sortSongs, swipeLink, tally, upsertSong } from "./songs";

function song(id: string, patch: Partial<SongInfo> = {}): SongInfo {
  return {
    song_id: id,
    name: `song ${id}`,
    album_id: null,
    position: 0,
    seed: 1,
    model_id: "m",
    created_at: 100,
    duration_s: 240,
    loudness_lufs: -16,
    structure: "AABB",
    thumbnail: new Uint8Array(4),
    thumb_rows: 2,
    thumb_cols: 2,
    decision: null,
    settings: "{}",
    ...patch,
  };
}

describe("songs list", () => {
  it("orders all songs newest first and an album's in track order", () => {
    const a = song("a", { created_at: 3, position: 0, album_id: "x" });
    const b = song("b", { created_at: 1, position: 1, album_id: "x" });
    const c = song("c", { created_at: 2, position: 2, album_id: "x" });
    expect(sortSongs([b, a, c], null).map((s) => s.song_id)).toEqual(["a", "c", "b"]);
    expect(sortSongs([c, b, a], "x").map((s) => s.song_id)).toEqual(["a", "b", "c"]);
  });

  it("adds, replaces and leaves out songs of other albums", () => {
    const list = [song("a", { created_at: 1 })];
    const added = upsertSong(list, song("b", { created_at: 2 }), null);
    expect(added.map((s) => s.song_id)).toEqual(["b", "a"]);
    const replaced = upsertSong(added, song("a", { created_at: 1, name: "renamed" }), null);
    expect(replaced).toHaveLength(2);
    expect(replaced.find((s) => s.song_id === "a")?.name).toBe("renamed");
    const other = upsertSong(list, song("z", { album_id: "y" }), "x");
    expect(other).toBe(list);
    const mine = upsertSong([], song("z", { album_id: "x" }), "x");
    expect(mine).toHaveLength(1);
  });

  it("removes and applies decisions (unknown ids leave the list as it was)", () => {
    const list = [song("a"), song("b")];
    expect(removeSong(list, "a").map((s) => s.song_id)).toEqual(["b"]);
    expect(removeSong(list, "q")).toBe(list);
    const kept = applyDecision(list, { kind: "song", item_id: "b", decision: "keep" });
    expect(kept.find((s) => s.song_id === "b")?.decision).toBe("keep");
    expect(applyDecision(list, { kind: "clip", item_id: "b", decision: "keep" })).toBe(list);
    expect(applyDecision(list, { kind: "song", item_id: "q", decision: "keep" })).toBe(list);
    const undone = applyDecision(kept, { kind: "song", item_id: "b", decision: null });
    expect(undone.find((s) => s.song_id === "b")?.decision).toBeNull();
    expect(tally(kept)).toEqual({ keep: 1, reject: 0, open: 1 });
  });

  it("links the swipe page of an album, with the session's token when there is one", () => {
    expect(swipeLink("http://h:8123/", "alb_1", { sessionId: null, token: null })).toBe("http://h:8123/swipe/?album=alb_1");
    expect(swipeLink("http://h:8123", null, { sessionId: null, token: null })).toBe("http://h:8123/swipe/");
    expect(swipeLink("http://h", "a b", { sessionId: "s1", token: "t".repeat(20) })).toBe(`http://h/swipe/?album=a%20b#s=s1&t=${"t".repeat(20)}`);
  });

  it("formats durations and shortens structures", () => {
    expect(formatDuration(0)).toBe("0:00");
    expect(formatDuration(61.4)).toBe("1:01");
    expect(formatDuration(3725)).toBe("1:02:05");
    expect(formatDuration(Number.NaN)).toBe("0:00");
    expect(shortStructure("AB")).toBe("AB");
    expect(shortStructure("A".repeat(40), 10)).toBe(`${"A".repeat(9)}…`);
  });
});
