/**
 * A small observable store: `set(patch)` notifies the subscribers of the keys that changed.
 */
export class Store<S extends object> {
  #state: S;
  readonly #subs = new Set<{ keys: ReadonlySet<keyof S> | null; fn: (state: S) => void }>();

  constructor(initial: S) {
    this.#state = initial;
  }

  get state(): Readonly<S> {
    return this.#state;
  }

  /** Merge `patch`; subscribers of a changed key (!==) run once, after the merge. */
  set(patch: Partial<S>): void {
    const changed = new Set<keyof S>();
    for (const key of Object.keys(patch) as (keyof S)[]) {
      if (this.#state[key] !== patch[key]) changed.add(key);
    }
    if (changed.size === 0) return;
    this.#state = { ...this.#state, ...patch };
    for (const sub of [...this.#subs]) {
      if (sub.keys === null || [...sub.keys].some((k) => changed.has(k))) sub.fn(this.#state);
    }
  }

  /** Run `fn` now and whenever one of `keys` changes (all keys when empty); returns unsubscribe. */
  watch(keys: readonly (keyof S)[], fn: (state: S) => void): () => void {
    const sub = { keys: keys.length ? new Set(keys) : null, fn };
    this.#subs.add(sub);
    fn(this.#state);
    return () => {
      this.#subs.delete(sub);
    };
  }
}
