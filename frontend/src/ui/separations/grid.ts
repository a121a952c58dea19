/**
 * The separations grid as plain data: rows are stems, columns backend settings; cells fill in as
 * they finish. Pure functions (layout, sorting by a hint, keyboard moves), tested with vitest.
 */
import type { GridCell, GridCellInfo, GridHints } from "@shared/protocol";

export type CellStatus = "pending" | "done" | "failed" | "cancelled";
export type HintKey = "loudness_lufs" | "flatness" | "bleed" | "transients_per_s";
export type SortKey = "grid" | HintKey;

export interface CardState {
  readonly info: GridCellInfo;
  readonly status: CellStatus;
  readonly result: GridCell | null;
  readonly rejected: boolean;
}

export interface Layout {
  readonly rows: readonly string[];
  readonly columns: readonly string[];
  /** cards[row][column]: the card's cell id, or null where the grid has no such cell. */
  readonly cells: readonly (readonly (string | null)[])[];
}

export const HINT_LABELS: Readonly<Record<HintKey, string>> = {
  loudness_lufs: "loudness",
  flatness: "noisiness",
  bleed: "bleed",
  transients_per_s: "transients",
};

/** A column's label: the backend setting ("hpss margin=3"). */
export function columnOf(info: GridCellInfo): string {
  return info.setting || info.backend;
}

/** Rows (stems) and columns (settings) in first-seen order. */
export function layout(cells: readonly GridCellInfo[]): Layout {
  const rows: string[] = [];
  const columns: string[] = [];
  for (const c of cells) {
    if (!rows.includes(c.stem)) rows.push(c.stem);
    const col = columnOf(c);
    if (!columns.includes(col)) columns.push(col);
  }
  const grid = rows.map(() => columns.map((): string | null => null));
  for (const c of cells) {
    const row = grid[rows.indexOf(c.stem)];
    if (row) row[columns.indexOf(columnOf(c))] = c.cell_id;
  }
  return { rows, columns, cells: grid };
}

/** The value a card sorts by (lower first for bleed and flatness, louder first otherwise). */
export function hintValue(hints: GridHints | null | undefined, key: HintKey): number | null {
  return hints ? hints[key] : null;
}

const LOWER_IS_BETTER: ReadonlySet<HintKey> = new Set<HintKey>(["bleed", "flatness"]);

/**
 * Sort a row's columns by a hint: each row keeps its stem, its cards are ordered best first;
 * unfinished, failed and rejected cards go last (in grid order).
 */
export function sortRow(ids: readonly (string | null)[], cards: ReadonlyMap<string, CardState>, key: SortKey): (string | null)[] {
  if (key === "grid") return [...ids];
  const score = (id: string | null): number | null => {
    if (id === null) return null;
    const card = cards.get(id);
    if (!card || card.status !== "done" || card.rejected) return null;
    const v = hintValue(card.result?.hints, key);
    if (v === null) return null;
    return LOWER_IS_BETTER.has(key) ? v : -v;
  };
  return ids
    .map((id, index) => ({ id, index, s: score(id) }))
    .sort((a, b) => {
      if (a.s === null && b.s === null) return a.index - b.index;
      if (a.s === null) return 1;
      if (b.s === null) return -1;
      return a.s - b.s || a.index - b.index;
    })
    .map((x) => x.id);
}

/** The layout as shown: every row sorted by `key`. */
export function shown(l: Layout, cards: ReadonlyMap<string, CardState>, key: SortKey): Layout {
  return { ...l, cells: l.cells.map((row) => sortRow(row, cards, key)) };
}

export type Move = "up" | "down" | "left" | "right";

/** The cell an arrow key moves the focus to (skipping holes; stays put at an edge). */
export function move(l: Layout, from: string | null, dir: Move): string | null {
  const first = l.cells.flat().find((id) => id !== null) ?? null;
  if (from === null) return first;
  let r = l.cells.findIndex((row) => row.includes(from));
  if (r < 0) return first;
  let c = l.cells[r]?.indexOf(from) ?? 0;
  const dr = dir === "up" ? -1 : dir === "down" ? 1 : 0;
  const dc = dir === "left" ? -1 : dir === "right" ? 1 : 0;
  for (;;) {
    r += dr;
    c += dc;
    const row = l.cells[r];
    if (!row || c < 0 || c >= row.length) return from;
    const id = row[c];
    if (id !== null && id !== undefined) return id;
  }
}

/** A default name for a kept result: "demo drums - drums (hpss margin=3)". */
export function keepName(soundName: string, info: GridCellInfo, residual: boolean): string {
  const what = residual ? `no ${info.stem}` : info.stem;
  return `${soundName} - ${what} (${columnOf(info)})`.slice(0, 120);
}
