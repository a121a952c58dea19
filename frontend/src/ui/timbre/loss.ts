/**
 * The training loss curve (pure): losses per epoch -> a polyline in a box, on a log scale when
 * the losses span more than a decade (a VAE's loss falls fast, then slowly).
 */

export interface LossBox {
  readonly width: number;
  readonly height: number;
  /** Inner padding in pixels (labels go there). */
  readonly pad: number;
}

export interface LossCurve {
  /** Vertices in box pixels, one per finite loss, left to right (y down). */
  readonly points: readonly (readonly [number, number])[];
  readonly min: number;
  readonly max: number;
  readonly log: boolean;
  /** Epochs the x axis spans (at least the number of losses). */
  readonly epochs: number;
}

/**
 * Lay out `losses` (epoch 1 first) in `box`. The x axis spans `epochs` (the planned count, so the
 * curve grows to the right while training); non-finite losses are skipped.
 */
export function lossCurve(losses: readonly number[], box: LossBox, epochs: number = losses.length): LossCurve {
  const finite = losses.map((v, i) => [i, v] as const).filter(([, v]) => Number.isFinite(v));
  const span = Math.max(1, epochs, losses.length);
  if (finite.length === 0) return { points: [], min: 0, max: 0, log: false, epochs: span };
  let min = Infinity;
  let max = -Infinity;
  for (const [, v] of finite) {
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  const log = min > 0 && max / min > 10;
  const f = (v: number): number => (log ? Math.log10(v) : v);
  const lo = f(min);
  const hi = f(max);
  const w = Math.max(1, box.width - 2 * box.pad);
  const h = Math.max(1, box.height - 2 * box.pad);
  const points = finite.map(([i, v]) => {
    const x = box.pad + (span > 1 ? (i / (span - 1)) * w : w / 2);
    // a flat curve sits in the middle
    const t = hi > lo ? (f(v) - lo) / (hi - lo) : 0.5;
    return [x, box.pad + (1 - t) * h] as const;
  });
  return { points, min, max, log, epochs: span };
}

/** A loss for a label: 3 significant digits. */
export function formatLoss(v: number): string {
  if (!Number.isFinite(v)) return "–";
  return Math.abs(v) >= 1000 || (Math.abs(v) < 0.001 && v !== 0) ? v.toExponential(2) : v.toPrecision(3);
}
