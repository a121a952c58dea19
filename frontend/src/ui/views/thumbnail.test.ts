import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { thumbnailImage } from "./thumbnail";

class FakeImageData {
  constructor(
    readonly data: Uint8ClampedArray,
    readonly width: number,
    readonly height: number,
  ) {}
}

describe("thumbnailImage", () => {
  const had = "ImageData" in globalThis;
  beforeAll(() => {
    if (!had) Object.assign(globalThis, { ImageData: FakeImageData });
  });
  afterAll(() => {
    if (!had) Reflect.deleteProperty(globalThis, "ImageData");
  });

  it("puts row 0 (the lowest frequency) at the bottom of the picture", () => {
    // 2 rows x 3 cols: row 0 silent, row 1 loud
    const image = thumbnailImage({ thumbnail: Uint8Array.from([0, 0, 0, 255, 255, 255]), thumb_rows: 2, thumb_cols: 3 });
    expect(image).not.toBeNull();
    expect([image?.width, image?.height]).toEqual([3, 2]);
    const px = image?.data ?? new Uint8ClampedArray();
    const brightness = (i: number): number => (px[i * 4] ?? 0) + (px[i * 4 + 1] ?? 0) + (px[i * 4 + 2] ?? 0);
    expect(brightness(0)).toBeGreaterThan(brightness(3)); // top row loud, bottom row silent
  });

  it("gives null for a frame without a picture or with a wrong size", () => {
    expect(thumbnailImage({})).toBeNull();
    expect(thumbnailImage({ thumbnail: new Uint8Array(0), thumb_rows: 0, thumb_cols: 0 })).toBeNull();
    expect(thumbnailImage({ thumbnail: new Uint8Array(5), thumb_rows: 2, thumb_cols: 3 })).toBeNull();
  });
});
