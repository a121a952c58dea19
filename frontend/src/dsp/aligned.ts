/**
 * Typed-array views of wire bytes.
 *
 * @msgpack/msgpack hands back `bin` values as Uint8Array views into the frame at whatever offset
 * they sit, and a Float32Array needs a byte offset that is a multiple of 4. Every float32 array that
 * comes from the wire goes through {@link float32View}: a zero-copy view when aligned, a copy when not.
 */

/**
 * Little-endian float32 values of `bytes`.
 *
 * @param bytes raw bytes, length a multiple of 4.
 * @returns a view sharing memory with `bytes` when `byteOffset % 4 === 0`, else a copy.
 * @throws RangeError when the length is not a multiple of 4.
 */
export function float32View(bytes: Uint8Array): Float32Array<ArrayBuffer> {
  if (bytes.byteLength % 4 !== 0) {
    throw new RangeError(`float32 data has ${bytes.byteLength} bytes, not a multiple of 4`);
  }
  if (!IS_LITTLE_ENDIAN) return decodeSlow(bytes);
  if (bytes.byteOffset % 4 === 0 && bytes.buffer instanceof ArrayBuffer) {
    return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  }
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return new Float32Array(copy.buffer);
}

/**
 * Split a row-major float32 matrix into its rows (views into one array).
 *
 * @param bytes float32 little-endian, `nRows * nCols` values.
 * @throws RangeError when the size does not match.
 */
export function float32Rows(
  bytes: Uint8Array,
  nRows: number,
  nCols: number,
): Float32Array<ArrayBuffer>[] {
  const all = float32View(bytes);
  if (all.length !== nRows * nCols) {
    throw new RangeError(`matrix has ${all.length} values, expected ${nRows} x ${nCols}`);
  }
  const rows: Float32Array<ArrayBuffer>[] = [];
  for (let r = 0; r < nRows; r++) rows.push(all.subarray(r * nCols, (r + 1) * nCols));
  return rows;
}

/** Encode float32 values as little-endian bytes (a copy). */
export function float32Bytes(values: ArrayLike<number>): Uint8Array<ArrayBuffer> {
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = values[i] ?? 0;
  if (IS_LITTLE_ENDIAN) return new Uint8Array(out.buffer);
  const bytes = new Uint8Array(out.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < out.length; i++) view.setFloat32(i * 4, out[i] ?? 0, true);
  return bytes;
}

const IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function decodeSlow(bytes: Uint8Array): Float32Array<ArrayBuffer> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(bytes.byteLength / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}
