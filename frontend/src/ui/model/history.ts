/**
 * Undo/redo over immutable snapshots: every edit replaces the present with a new value.
 */
export interface HistoryEntry<T> {
  readonly value: T;
  readonly label: string;
}

export class History<T> {
  #past: HistoryEntry<T>[] = [];
  #present: HistoryEntry<T>;
  #future: HistoryEntry<T>[] = [];
  readonly #limit: number;

  constructor(initial: T, limit = 500) {
    this.#present = { value: initial, label: "start" };
    this.#limit = limit;
  }

  get value(): T {
    return this.#present.value;
  }
  get canUndo(): boolean {
    return this.#past.length > 0;
  }
  get canRedo(): boolean {
    return this.#future.length > 0;
  }
  /** Label of the edit that undo would revert. */
  get undoLabel(): string | null {
    return this.#past.length > 0 ? this.#present.label : null;
  }
  get redoLabel(): string | null {
    return this.#future[this.#future.length - 1]?.label ?? null;
  }
  get depth(): number {
    return this.#past.length;
  }

  /** Record an edit; a value identical to the present (===) records nothing. Returns true if recorded. */
  push(value: T, label: string): boolean {
    if (value === this.#present.value) return false;
    this.#past.push(this.#present);
    if (this.#past.length > this.#limit) this.#past.shift();
    this.#present = { value, label };
    this.#future = [];
    return true;
  }

  /** Replace the present without an undo step (state that is not an edit, such as a new decomposition). */
  replace(value: T): void {
    this.#present = { value, label: this.#present.label };
  }

  /**
   * Apply `fn` to every snapshot, past and future too, without an undo step: for facts that are
   * not edits (a decomposition was opened, a library component was deleted), so that undo and redo
   * never travel to a state that contradicts them.
   */
  rebase(fn: (value: T) => T): void {
    const map = (e: HistoryEntry<T>): HistoryEntry<T> => ({ value: fn(e.value), label: e.label });
    this.#past = this.#past.map(map);
    this.#future = this.#future.map(map);
    this.#present = map(this.#present);
  }

  undo(): boolean {
    const prev = this.#past.pop();
    if (!prev) return false;
    this.#future.push(this.#present);
    this.#present = prev;
    return true;
  }

  redo(): boolean {
    const next = this.#future.pop();
    if (!next) return false;
    this.#past.push(this.#present);
    this.#present = next;
    return true;
  }
}
