/**
 * Spectrograms of MIDI-room sources (a sound region, a unit sounding alone), streamed as the studio
 * streams a sound's: uint8 tiles, coloured by the shared colormap, kept as ImageBitmaps.
 */
import type { SoundSource, UnitComponent } from "@shared/protocol";
import { tilePixels } from "../../dsp/colormap";
import type { ResidueClient } from "../../net/client";
import type { Spectrogram } from "../spectrograms";
import { Emitter } from "../../util/emitter";

const KEEP = 6;

export class SourceSpectrograms extends Emitter<{ changed: string }> {
  readonly #client: ResidueClient;
  readonly #byKey = new Map<string, Spectrogram>();

  constructor(client: ResidueClient) {
    super();
    this.#client = client;
  }

  get(key: string): Spectrogram | undefined {
    return this.#byKey.get(key);
  }

  /** Stream the spectrogram of `source` under `key` unless it is here or on its way. */
  load(key: string, source: SoundSource | UnitComponent): void {
    const existing = this.#byKey.get(key);
    if (existing && !existing.error) return;
    const spec: Spectrogram = { info: null, tiles: [], complete: false, error: null };
    this.#byKey.set(key, spec);
    this.#evict();
    let pending = Promise.resolve();
    const req = this.#client.request({ type: "get_source_spectrogram", source }, "spectrogram_tile", {
      onFrame: (f) => {
        if (f.type === "spectrogram_info") {
          spec.info = f;
          this.emit("changed", key);
        } else if (f.type === "spectrogram_tile") {
          pending = pending.then(async () => {
            const pixels = tilePixels(f.data, f.n_rows, f.n_frames);
            const bitmap = await createImageBitmap(new ImageData(pixels, f.n_frames, f.n_rows));
            spec.tiles.push({ frameStart: f.frame_start, nFrames: f.n_frames, bitmap });
            this.emit("changed", key);
          });
        }
      },
      isLast: (f) => f.type === "spectrogram_tile" && f.last,
    });
    req.done
      .then(() => pending)
      .then(() => {
        spec.complete = true;
        this.emit("changed", key);
      })
      .catch((err: unknown) => {
        spec.error = err instanceof Error ? err.message : String(err);
        this.emit("changed", key);
      });
  }

  #evict(): void {
    while (this.#byKey.size > KEEP) {
      const oldest = this.#byKey.keys().next().value;
      if (oldest === undefined) return;
      for (const t of this.#byKey.get(oldest)?.tiles ?? []) t.bitmap.close();
      this.#byKey.delete(oldest);
    }
  }
}
