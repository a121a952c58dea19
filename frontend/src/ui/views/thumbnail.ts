/**
 * A card's mini spectrogram: the server's uint8 picture (rows x cols, row 0 lowest) in the
 * studio's colour map. Songs, swipe cards and separation cells all carry one.
 */
import { tilePixels } from "../../dsp/colormap";

/** What a frame with a picture carries (a grid cell that failed has none). */
export interface Thumbnail {
  readonly thumbnail?: Uint8Array;
  readonly thumb_rows?: number;
  readonly thumb_cols?: number;
}

/** The picture as ImageData (row 0 at the bottom), or null when the frame has none. */
export function thumbnailImage(t: Thumbnail): ImageData | null {
  const rows = t.thumb_rows ?? 0;
  const cols = t.thumb_cols ?? 0;
  const data = t.thumbnail;
  if (!data || rows < 1 || cols < 1 || data.length !== rows * cols) return null;
  return new ImageData(tilePixels(data, rows, cols), cols, rows);
}

/** Draw `image` into `canvas` at its own size (CSS stretches it); a 1x1 blank when null. */
export function paintThumbnail(canvas: HTMLCanvasElement, image: ImageData | null): void {
  canvas.width = image?.width ?? 1;
  canvas.height = image?.height ?? 1;
  if (image) canvas.getContext("2d")?.putImageData(image, 0, 0);
}
