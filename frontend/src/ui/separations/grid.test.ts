import { describe, expect, it } from "vitest";
import type { GridCell, GridCellInfo } from "@shared/protocol";
import { keepName, layout, move, shown, sortRow, type CardState } from "./grid";

const info = (cell_id: string, stem: string, setting: string): GridCellInfo => ({ cell_id, stem, backend: setting.split(" ")[0] ?? setting, setting });

const CELLS: GridCellInfo[] = [info("a", "drums", "bands"), info("b", "bass", "bands"), info("c", "drums", "hpss margin=2"), info("d", "bass", "hpss margin=2"), info("e", "drums", "nmf")];

function done(id: string, bleed: number, loud: number, rejected = false): CardState {
  const cell = CELLS.find((c) => c.cell_id === id);
  if (!cell) throw new Error(id);
  const result: GridCell = {
    type: "grid_cell",
    request_id: 1,
    cell_id: id,
    status: "done",
    elapsed_s: 0.1,
    hints: { loudness_lufs: loud, flatness: 0.2, bleed, transients_per_s: 1, loudness_method: "lufs" },
    residual_hints: null,
    provenance: "{}",
    error: null,
    error_code: null,
    result_id: `r${id}`,
    residual_result_id: `q${id}`,
  };
  return { info: cell, status: "done", result, rejected };
}

describe("layout", () => {
  it("puts stems in rows and settings in columns, with holes", () => {
    const l = layout(CELLS);
    expect(l.rows).toEqual(["drums", "bass"]);
    expect(l.columns).toEqual(["bands", "hpss margin=2", "nmf"]);
    expect(l.cells).toEqual([
      ["a", "c", "e"],
      ["b", "d", null],
    ]);
  });
});

describe("sorting by a hint", () => {
  const cards = new Map<string, CardState>([
    ["a", done("a", 0.5, -20)],
    ["c", done("c", 0.1, -30)],
    ["e", done("e", 0.3, -10)],
  ]);
  it("orders least bleed first", () => {
    expect(sortRow(["a", "c", "e"], cards, "bleed")).toEqual(["c", "e", "a"]);
  });
  it("orders loudest first", () => {
    expect(sortRow(["a", "c", "e"], cards, "loudness_lufs")).toEqual(["e", "a", "c"]);
  });
  it("puts pending and rejected cards last, in grid order", () => {
    const more = new Map(cards);
    more.set("c", done("c", 0.1, -30, true));
    expect(sortRow(["b", "a", "c", "e", null], more, "bleed")).toEqual(["e", "a", "b", "c", null]);
  });
  it("keeps the grid order unsorted", () => {
    expect(shown(layout(CELLS), cards, "grid").cells).toEqual(layout(CELLS).cells);
  });
});

describe("keyboard moves", () => {
  const l = layout(CELLS);
  it("starts at the first cell", () => expect(move(l, null, "right")).toBe("a"));
  it("moves across and down", () => {
    expect(move(l, "a", "right")).toBe("c");
    expect(move(l, "a", "down")).toBe("b");
    expect(move(l, "d", "up")).toBe("c");
  });
  it("stays at an edge and skips nothing into a hole", () => {
    expect(move(l, "a", "left")).toBe("a");
    expect(move(l, "d", "right")).toBe("d");
    expect(move(l, "e", "down")).toBe("e");
  });
});

describe("keepName", () => {
  it("names the stem and setting, or the residual", () => {
    expect(keepName("demo drums", CELLS[2] as GridCellInfo, false)).toBe("demo drums - drums (hpss margin=2)");
    expect(keepName("demo drums", CELLS[0] as GridCellInfo, true)).toBe("demo drums - no drums (bands)");
    expect(keepName("x".repeat(200), CELLS[0] as GridCellInfo, false)).toHaveLength(120);
  });
});
