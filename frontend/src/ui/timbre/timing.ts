/**
 * Rate limits for requests the pointer and the keyboard make (pure, with injectable timers):
 * a throttle (hover previews: at most one per interval, the last position always sent) and a
 * debounce (grammar checks: once the typing pauses).
 */

export interface Timers {
  now(): number;
  setTimeout(fn: () => void, ms: number): number;
  clearTimeout(handle: number): void;
}

export const BROWSER_TIMERS: Timers = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms) as unknown as number,
  clearTimeout: (handle) => globalThis.clearTimeout(handle),
};

/** Leading and trailing throttle: the first value goes at once, then at most one per `intervalMs`. */
export class Throttle<T> {
  readonly #intervalMs: number;
  readonly #fn: (value: T) => void;
  readonly #timers: Timers;
  #last = -Infinity;
  #pending: { value: T } | null = null;
  #timer: number | null = null;

  constructor(intervalMs: number, fn: (value: T) => void, timers: Timers = BROWSER_TIMERS) {
    this.#intervalMs = intervalMs;
    this.#fn = fn;
    this.#timers = timers;
  }

  push(value: T): void {
    const now = this.#timers.now();
    const wait = this.#last + this.#intervalMs - now;
    if (wait <= 0 && this.#timer === null) {
      this.#fire(value, now);
      return;
    }
    this.#pending = { value };
    if (this.#timer === null) this.#timer = this.#timers.setTimeout(() => this.#flush(), Math.max(0, wait));
  }

  /** Drop a value not sent yet (the pointer left). */
  cancel(): void {
    this.#pending = null;
    if (this.#timer !== null) this.#timers.clearTimeout(this.#timer);
    this.#timer = null;
  }

  get pending(): boolean {
    return this.#pending !== null;
  }

  #flush(): void {
    this.#timer = null;
    const p = this.#pending;
    this.#pending = null;
    if (p) this.#fire(p.value, this.#timers.now());
  }

  #fire(value: T, now: number): void {
    this.#last = now;
    this.#fn(value);
  }
}

/** Call `fn` with the last value once `delayMs` pass without a new one. */
export class Debounce<T> {
  readonly #delayMs: number;
  readonly #fn: (value: T) => void;
  readonly #timers: Timers;
  #timer: number | null = null;

  constructor(delayMs: number, fn: (value: T) => void, timers: Timers = BROWSER_TIMERS) {
    this.#delayMs = delayMs;
    this.#fn = fn;
    this.#timers = timers;
  }

  push(value: T): void {
    this.cancel();
    this.#timer = this.#timers.setTimeout(() => {
      this.#timer = null;
      this.#fn(value);
    }, this.#delayMs);
  }

  cancel(): void {
    if (this.#timer !== null) this.#timers.clearTimeout(this.#timer);
    this.#timer = null;
  }

  get pending(): boolean {
    return this.#timer !== null;
  }
}
