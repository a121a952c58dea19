import { describe, expect, it } from "vitest";
import { float32Bytes, float32Rows, float32View } from "./aligned";

function bytesAt(values: number[], offset: number): Uint8Array {
  const raw = new Uint8Array(new Float32Array(values).buffer);
  const host = new Uint8Array(offset + raw.length + 3);
  host.set(raw, offset);
  return host.subarray(offset, offset + raw.length);
}

describe("float32View", () => {
  it("returns a zero-copy view when the bytes are aligned", () => {
    const bytes = bytesAt([1.5, -2, 3.25], 8);
    const view = float32View(bytes);
    expect(Array.from(view)).toEqual([1.5, -2, 3.25]);
    expect(view.buffer).toBe(bytes.buffer);
    expect(view.byteOffset).toBe(8);
  });

  it.each([1, 2, 3, 5, 7])("copies when the byte offset is %i (not a multiple of 4)", (offset) => {
    const bytes = bytesAt([0.25, -0.5, 1e-7, 42], offset);
    expect(bytes.byteOffset % 4).not.toBe(0);
    const view = float32View(bytes);
    expect(Array.from(view)).toEqual([0.25, -0.5, Math.fround(1e-7), 42]);
    expect(view.buffer).not.toBe(bytes.buffer);
    // the copy does not alias the source
    bytes.fill(0);
    expect(view[3]).toBe(42);
  });

  it("accepts empty input", () => {
    expect(float32View(new Uint8Array(0)).length).toBe(0);
  });

  it("rejects a length that is not whole floats", () => {
    expect(() => float32View(new Uint8Array(6))).toThrow(/not a multiple of 4/);
  });
});

describe("float32Rows", () => {
  it("splits a row-major matrix, also from unaligned bytes", () => {
    const rows = float32Rows(bytesAt([1, 2, 3, 4, 5, 6], 3), 2, 3);
    expect(rows.map((r) => Array.from(r))).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
  });

  it("rejects a shape that does not match", () => {
    expect(() => float32Rows(bytesAt([1, 2, 3], 0), 2, 2)).toThrow(/expected 2 x 2/);
  });
});

describe("float32Bytes", () => {
  it("round-trips through float32View", () => {
    expect(Array.from(float32View(float32Bytes([0.5, -1, 2])))).toEqual([0.5, -1, 2]);
  });
});
