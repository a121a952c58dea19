/**
 * Spectrogram colouring: a 256-entry RGBA lookup table and uint8 tile -> RGBA pixels.
 *
 * Pure functions: usable on the main thread, in workers and in tests.
 */

/** Control points of the default map (dark violet -> magenta -> orange -> pale yellow), 0..1. */
const EMBER: readonly (readonly [number, number, number, number])[] = [
  [0.0, 0, 0, 4],
  [0.13, 28, 16, 68],
  [0.25, 79, 18, 123],
  [0.38, 129, 37, 129],
  [0.5, 181, 54, 122],
  [0.63, 229, 80, 100],
  [0.75, 251, 135, 97],
  [0.88, 254, 194, 135],
  [1.0, 252, 253, 191],
];

/** Bytes per entry of a lookup table (R, G, B, A). */
export const LUT_STRIDE = 4;

/**
 * Build a 256-entry RGBA lookup table by linear interpolation between control points.
 *
 * @param points `[position 0..1, r, g, b]`, positions strictly increasing from 0 to 1.
 * @returns Uint8ClampedArray of length 1024: entry `v` is at `4 * v`, alpha 255.
 */
export function buildColormap(
  points: readonly (readonly [number, number, number, number])[] = EMBER,
): Uint8ClampedArray {
  const first = points[0];
  const last = points[points.length - 1];
  if (points.length < 2 || !first || !last || first[0] !== 0 || last[0] !== 1) {
    throw new RangeError("colormap needs at least 2 points spanning positions 0..1");
  }
  const lut = new Uint8ClampedArray(256 * LUT_STRIDE);
  let seg = 0;
  for (let v = 0; v < 256; v++) {
    const x = v / 255;
    while (seg < points.length - 2 && x > (points[seg + 1]?.[0] ?? 1)) seg++;
    const a = points[seg];
    const b = points[seg + 1];
    if (!a || !b) throw new RangeError("colormap points are malformed");
    const t = b[0] > a[0] ? Math.min(1, Math.max(0, (x - a[0]) / (b[0] - a[0]))) : 0;
    lut[v * 4] = a[1] + (b[1] - a[1]) * t;
    lut[v * 4 + 1] = a[2] + (b[2] - a[2]) * t;
    lut[v * 4 + 2] = a[3] + (b[3] - a[3]) * t;
    lut[v * 4 + 3] = 255;
  }
  return lut;
}

/** The page's colormap, built once. */
export const DEFAULT_COLORMAP: Uint8ClampedArray = buildColormap();

/**
 * Colour one spectrogram tile.
 *
 * @param data uint8 dB values, row-major `(nRows, nFrames)`, row 0 = lowest frequency.
 * @param nRows rows (frequency bins) of the tile.
 * @param nFrames frames (columns) of the tile.
 * @param lut 256-entry RGBA table from {@link buildColormap}.
 * @returns RGBA pixels of an image `nFrames` wide and `nRows` tall, top row = highest frequency
 *   (ready for `new ImageData(pixels, nFrames, nRows)`).
 * @throws RangeError when `data` does not hold `nRows * nFrames` values.
 */
export function tilePixels(
  data: Uint8Array,
  nRows: number,
  nFrames: number,
  lut: Uint8ClampedArray = DEFAULT_COLORMAP,
): Uint8ClampedArray<ArrayBuffer> {
  if (!Number.isInteger(nRows) || !Number.isInteger(nFrames) || nRows < 1 || nFrames < 1) {
    throw new RangeError(`tile shape (${nRows}, ${nFrames}) must be positive integers`);
  }
  if (data.length !== nRows * nFrames) {
    throw new RangeError(`tile has ${data.length} values, expected ${nRows} x ${nFrames}`);
  }
  if (lut.length !== 256 * LUT_STRIDE) throw new RangeError("lut must have 256 RGBA entries");
  const out = new Uint8ClampedArray(nRows * nFrames * 4);
  for (let row = 0; row < nRows; row++) {
    const src = row * nFrames;
    const dst = (nRows - 1 - row) * nFrames * 4;
    for (let f = 0; f < nFrames; f++) {
      const v = (data[src + f] ?? 0) * 4;
      const o = dst + f * 4;
      out[o] = lut[v] ?? 0;
      out[o + 1] = lut[v + 1] ?? 0;
      out[o + 2] = lut[v + 2] ?? 0;
      out[o + 3] = 255;
    }
  }
  return out;
}

/** CSS colour of a lookup-table entry, for legends and curves. */
export function lutCss(v: number, lut: Uint8ClampedArray = DEFAULT_COLORMAP): string {
  const i = Math.max(0, Math.min(255, Math.round(v))) * 4;
  return `rgb(${lut[i] ?? 0}, ${lut[i + 1] ?? 0}, ${lut[i + 2] ?? 0})`;
}
