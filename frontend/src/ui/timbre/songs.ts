/**
 * The songs list (pure): songs in the order the list shows (an album's in track order, all songs
 * newest first), kept up to date by `song_added` / `song_removed` / `decided`; the link that opens
 * an album on the swipe page; durations for cards.
 */
import type { Decided, SongInfo } from "@shared/protocol";
import type { Credentials } from "../../net/auth";

export type Decision = "keep" | "reject";

/** Order songs for the list: `albumId` given: track order; else newest first. */
export function sortSongs(songs: readonly SongInfo[], albumId: string | null): SongInfo[] {
  const out = [...songs];
  if (albumId !== null) out.sort((a, b) => a.position - b.position || a.created_at - b.created_at);
  else out.sort((a, b) => b.created_at - a.created_at || b.position - a.position);
  return out;
}

/** Add a song (or replace the one with its id); a song of another album than the one shown is left out. */
export function upsertSong(list: readonly SongInfo[], song: SongInfo, albumId: string | null): readonly SongInfo[] {
  if (albumId !== null && song.album_id !== albumId) return list;
  return sortSongs([...list.filter((s) => s.song_id !== song.song_id), song], albumId);
}

export function removeSong(list: readonly SongInfo[], songId: string): readonly SongInfo[] {
  return list.some((s) => s.song_id === songId) ? list.filter((s) => s.song_id !== songId) : list;
}

/** Apply a `decided` frame to the list (only song decisions matter here). */
export function applyDecision(list: readonly SongInfo[], d: Pick<Decided, "kind" | "item_id" | "decision">): readonly SongInfo[] {
  if (d.kind !== "song" || !list.some((s) => s.song_id === d.item_id && s.decision !== d.decision)) return list;
  return list.map((s) => (s.song_id === d.item_id ? { ...s, decision: d.decision } : s));
}

/** Kept, rejected and undecided songs of a list. */
export function tally(list: readonly SongInfo[]): { keep: number; reject: number; open: number } {
  let keep = 0;
  let reject = 0;
  for (const s of list) {
    if (s.decision === "keep") keep++;
    else if (s.decision === "reject") reject++;
  }
  return { keep, reject, open: list.length - keep - reject };
}

/**
 * The swipe page for an album (all songs when `albumId` is null), with this tab's session and
 * token in the fragment (the way sharing links carry them, see net/auth.ts) so that a phone opens
 * the same session; without a token (the local user) the bare page.
 */
export function swipeLink(origin: string, albumId: string | null, creds: Credentials): string {
  const base = `${origin.replace(/\/+$/, "")}/swipe/`;
  const query = albumId !== null ? `?album=${encodeURIComponent(albumId)}` : "";
  const fragment =
    creds.token !== null && creds.sessionId !== null ? `#s=${encodeURIComponent(creds.sessionId)}&t=${encodeURIComponent(creds.token)}` : "";
  return `${base}${query}${fragment}`;
}

/** m:ss (h:mm:ss from an hour). */
export function formatDuration(seconds: number): string {
  const total = Math.max(0, Math.round(Number.isFinite(seconds) ? seconds : 0));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** A song's structure for a card: long structures are shortened with an ellipsis. */
export function shortStructure(structure: string, max = 32): string {
  return structure.length > max ? `${structure.slice(0, max - 1)}…` : structure;
}
