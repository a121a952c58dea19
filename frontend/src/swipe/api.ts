/**
 * The swipe page's requests over the shared {@link ResidueClient}, and the events it follows.
 *
 * Other tabs' `decided`, `song_added` and `song_removed` arrive as the client's `event`s.
 */
import type {
  AlbumExported,
  Decided,
  ServerFrame,
  SongAdded,
  SongRemoved,
  SwipeDeck,
  TimbreState,
} from "@shared/protocol";
import type { ResidueClient } from "../net/client";
import { Emitter } from "../util/emitter";
import type { Decision, ItemKind } from "./deck";

export interface SwipeEvents {
  decided: Decided;
  songAdded: SongAdded;
  songRemoved: SongRemoved;
}

export interface ExportArgs {
  readonly albumId: string | null;
  readonly songIds: readonly string[] | null;
  readonly format: "flac" | "wav";
  readonly title: string | null;
}

/** What the swipe page asks of the server (a fake in tests). */
export interface SwipeApi {
  timbreState(): Promise<TimbreState>;
  deck(kind: ItemKind, albumId: string | null, setId: string | null): Promise<SwipeDeck>;
  decide(kind: ItemKind, itemId: string, decision: Decision): Promise<Decided>;
  undo(kind: ItemKind): Promise<Decided>;
  exportAlbum(args: ExportArgs, onProgress: (fraction: number, stage: string) => void): Promise<AlbumExported>;
}

/** {@link SwipeApi} on the page's client. */
export function clientApi(client: ResidueClient): SwipeApi {
  return {
    timbreState: () => client.request({ type: "get_timbre_state" }, "timbre_state").done,
    deck: (kind, albumId, setId) => client.request({ type: "get_swipe_deck", kind, album_id: albumId, set_id: setId }, "swipe_deck").done,
    decide: (kind, itemId, decision) => client.request({ type: "decide", kind, item_id: itemId, decision }, "decided").done,
    undo: (kind) => client.request({ type: "undo_decision", kind }, "decided").done,
    exportAlbum: (args, onProgress) =>
      client.request(
        {
          type: "export_album",
          album_id: args.songIds ? null : args.albumId,
          song_ids: args.songIds ? [...args.songIds] : null,
          format: args.format,
          title: args.title,
        },
        "album_exported",
        { onFrame: (f) => (f.type === "job_progress" ? onProgress(f.fraction, f.stage) : undefined) },
      ).done,
  };
}

/** The swipe page's events, from the client's event frames (request id 0). */
export function swipeEvents(client: Pick<ResidueClient, "on">): Emitter<SwipeEvents> {
  const events = new Emitter<SwipeEvents>();
  client.on("event", (frame) => routeEvent(events, frame));
  return events;
}

/** Emit the frame if it is one of the swipe page's events (request id 0). */
export function routeEvent(events: Emitter<SwipeEvents>, frame: ServerFrame): void {
  if (frame.request_id !== 0) return;
  if (frame.type === "decided") events.emit("decided", frame);
  else if (frame.type === "song_added") events.emit("songAdded", frame);
  else if (frame.type === "song_removed") events.emit("songRemoved", frame);
}
