/**
 * Spectrograms of sounds, streamed as uint8 tiles and kept as ImageBitmaps (one per tile), so that
 * the view draws only what is visible on a bounded canvas.
 */
import type { SpectrogramInfo, SpectrogramTile } from "@shared/protocol";
import { tilePixels } from "../dsp/colormap";
import type { ResidueClient } from "../net/client";
import { Emitter } from "../util/emitter";

export interface Tile {
  readonly frameStart: number;
  readonly nFrames: number;
  readonly bitmap: ImageBitmap;
}

export interface Spectrogram {
  info: SpectrogramInfo | null;
  tiles: Tile[];
  complete: boolean;
  error: string | null;
}

export class Spectrograms extends Emitter<{ changed: string }> {
  readonly #client: ResidueClient;
  readonly #byId = new Map<string, Spectrogram>();

  constructor(client: ResidueClient) {
    super();
    this.#client = client;
  }

  get(soundId: string): Spectrogram | undefined {
    return this.#byId.get(soundId);
  }

  /** Start streaming `soundId`'s spectrogram unless it is here or on its way. */
  load(soundId: string): void {
    const existing = this.#byId.get(soundId);
    if (existing && !existing.error) return;
    const spec: Spectrogram = { info: null, tiles: [], complete: false, error: null };
    this.#byId.set(soundId, spec);
    let pending = Promise.resolve();
    const req = this.#client.spectrogram(
      soundId,
      (info) => {
        spec.info = info;
        this.emit("changed", soundId);
      },
      (tile) => {
        // keep tiles in order even though bitmaps resolve asynchronously
        pending = pending.then(() => this.#addTile(soundId, spec, tile));
      },
    );
    req.done
      .then(() => pending)
      .then(() => {
        spec.complete = true;
        this.emit("changed", soundId);
      })
      .catch((err: unknown) => {
        spec.error = err instanceof Error ? err.message : String(err);
        this.emit("changed", soundId);
      });
  }

  forget(soundId: string): void {
    const spec = this.#byId.get(soundId);
    if (spec) for (const t of spec.tiles) t.bitmap.close();
    this.#byId.delete(soundId);
  }

  async #addTile(soundId: string, spec: Spectrogram, tile: SpectrogramTile): Promise<void> {
    const pixels = tilePixels(tile.data, tile.n_rows, tile.n_frames);
    const bitmap = await createImageBitmap(new ImageData(pixels, tile.n_frames, tile.n_rows));
    spec.tiles.push({ frameStart: tile.frame_start, nFrames: tile.n_frames, bitmap });
    this.emit("changed", soundId);
  }
}
