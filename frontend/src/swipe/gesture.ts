/**
 * A pointer-swipe recognizer, pure: positions and times go in, a drag offset and an outcome come out.
 *
 * A press becomes a horizontal drag once it has moved past a small slop mostly sideways; mostly
 * vertical movement is a scroll and never a swipe. On release a drag is a swipe when it went far
 * enough (a fraction of the card's width) or was flicked fast enough in the direction it went;
 * otherwise the card springs back. Right is keep, left is reject.
 */

export type SwipeOutcome = "keep" | "reject" | "none";
export type GesturePhase = "idle" | "pressed" | "dragging" | "scrolling";

export interface GestureConfig {
  /** Movement (px) before a press is a drag or a scroll. */
  readonly slopPx: number;
  /** A release past this fraction of the card's width is a swipe. */
  readonly distanceFraction: number;
  /** ...but never less than this many pixels (narrow cards). */
  readonly minDistancePx: number;
  /** A flick this fast (px/ms, horizontal) is a swipe even when short... */
  readonly flickVelocity: number;
  /** ...once it went at least this far. */
  readonly flickMinPx: number;
  /** The card's tilt at a full card-width of drag, degrees. */
  readonly maxRotationDeg: number;
  /** Only movement this recent (ms) counts for the release velocity. */
  readonly velocityWindowMs: number;
}

export const DEFAULT_GESTURE: GestureConfig = {
  slopPx: 10,
  distanceFraction: 0.3,
  minDistancePx: 60,
  flickVelocity: 0.6,
  flickMinPx: 30,
  maxRotationDeg: 15,
  velocityWindowMs: 100,
};

/** What the card shows while it moves. */
export interface DragView {
  readonly phase: GesturePhase;
  /** Horizontal offset of the card, px (0 unless dragging). */
  readonly dx: number;
  /** Tilt, degrees (positive: clockwise, to the right). */
  readonly rotationDeg: number;
  /** -1..1: how far towards a swipe (|1| = past the threshold); the stamps' opacity. */
  readonly progress: number;
  /** The swipe a release here would make. */
  readonly hint: SwipeOutcome;
}

export interface Release extends DragView {
  readonly outcome: SwipeOutcome;
  /** Horizontal velocity at release, px/ms. */
  readonly velocity: number;
}

const IDLE: DragView = { phase: "idle", dx: 0, rotationDeg: 0, progress: 0, hint: "none" };

interface Sample {
  readonly x: number;
  readonly t: number;
}

export class SwipeRecognizer {
  readonly config: GestureConfig;
  #phase: GesturePhase = "idle";
  #x0 = 0;
  #y0 = 0;
  #width = 1;
  #dx = 0;
  #samples: Sample[] = [];

  constructor(config: Partial<GestureConfig> = {}) {
    this.config = { ...DEFAULT_GESTURE, ...config };
  }

  get phase(): GesturePhase {
    return this.#phase;
  }

  /** The distance (px) past which a release is a swipe, for a card `width` px wide. */
  threshold(width: number = this.#width): number {
    return Math.max(this.config.minDistancePx, this.config.distanceFraction * Math.max(1, width));
  }

  /** A press at (x, y), time `t` ms, on a card `width` px wide. */
  down(x: number, y: number, t: number, width: number): DragView {
    this.#phase = "pressed";
    this.#x0 = x;
    this.#y0 = y;
    this.#width = Math.max(1, width);
    this.#dx = 0;
    this.#samples = [{ x, t }];
    return IDLE_PRESSED;
  }

  move(x: number, y: number, t: number): DragView {
    if (this.#phase === "idle" || this.#phase === "scrolling") return this.#phase === "idle" ? IDLE : SCROLLING;
    const dx = x - this.#x0;
    const dy = y - this.#y0;
    if (this.#phase === "pressed") {
      if (Math.hypot(dx, dy) < this.config.slopPx) return IDLE_PRESSED;
      if (Math.abs(dy) > Math.abs(dx)) {
        this.#phase = "scrolling";
        return SCROLLING;
      }
      this.#phase = "dragging";
    }
    this.#dx = dx;
    this.#samples.push({ x, t });
    const cutoff = t - this.config.velocityWindowMs;
    while (this.#samples.length > 2 && (this.#samples[0]?.t ?? t) < cutoff) this.#samples.shift();
    return this.#view();
  }

  /** The release: the outcome, and where the card was. The recognizer is idle afterwards. */
  up(x: number, y: number, t: number): Release {
    const view = this.#phase === "dragging" ? this.move(x, y, t) : this.#phase === "idle" ? IDLE : { ...IDLE, phase: this.#phase };
    const velocity = this.#phase === "dragging" ? this.#velocity(t) : 0;
    let outcome: SwipeOutcome = "none";
    if (this.#phase === "dragging") {
      const dx = this.#dx;
      const far = Math.abs(dx) >= this.threshold();
      const flick = Math.abs(velocity) >= this.config.flickVelocity && Math.abs(dx) >= this.config.flickMinPx && Math.sign(velocity) === Math.sign(dx);
      if (far || flick) outcome = dx > 0 ? "keep" : "reject";
    }
    this.cancel();
    return { ...view, outcome, velocity };
  }

  /** Forget the press (pointercancel, a lost capture). */
  cancel(): void {
    this.#phase = "idle";
    this.#dx = 0;
    this.#samples = [];
  }

  #velocity(t: number): number {
    const first = this.#samples[0];
    const last = this.#samples[this.#samples.length - 1];
    if (!first || !last) return 0;
    const dt = Math.max(1, Math.max(last.t, t) - first.t);
    return (last.x - first.x) / dt;
  }

  #view(): DragView {
    const dx = this.#dx;
    const progress = clamp(dx / this.threshold(), -1, 1);
    return {
      phase: this.#phase,
      dx,
      rotationDeg: rotationFor(dx, this.#width, this.config.maxRotationDeg),
      progress,
      hint: Math.abs(progress) >= 1 ? (dx > 0 ? "keep" : "reject") : "none",
    };
  }
}

const IDLE_PRESSED: DragView = { ...IDLE, phase: "pressed" };
const SCROLLING: DragView = { ...IDLE, phase: "scrolling" };

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

/** The card's tilt for a drag of `dx` px on a card `width` px wide (clamped to ±max). */
export function rotationFor(dx: number, width: number, maxDeg: number = DEFAULT_GESTURE.maxRotationDeg): number {
  return clamp((dx / Math.max(1, width)) * maxDeg, -maxDeg, maxDeg);
}

/** Where a card flies off to for `outcome` (px right of its place): past the viewport's edge. */
export function flyOffX(outcome: Exclude<SwipeOutcome, "none">, viewportWidth: number, cardWidth: number): number {
  const distance = viewportWidth / 2 + cardWidth;
  return outcome === "keep" ? distance : -distance;
}
