/**
 * The shared time axis of the sound view and the units' activation lanes: which spectrogram frames
 * are visible and how wide a frame is.
 */
import { Emitter } from "../util/emitter";

export const MAX_PX_PER_FRAME = 12;

export class Viewport extends Emitter<{ change: Viewport }> {
  /** Frames of the whole sound. */
  totalFrames = 1;
  /** Seconds per frame. */
  hopS = 0.01;
  /** CSS px width of the lanes. */
  width = 600;
  /** CSS px per frame. */
  pxPerFrame = 1;
  /** First visible frame (fractional). */
  start = 0;
  #fitted = true;

  get minPxPerFrame(): number {
    return this.width / Math.max(1, this.totalFrames);
  }
  get visibleFrames(): number {
    return this.width / this.pxPerFrame;
  }

  /** A new sound: its frames and hop; the view fits it whole. */
  setSound(totalFrames: number, hopS: number): void {
    this.totalFrames = Math.max(1, totalFrames);
    this.hopS = hopS > 0 ? hopS : 0.01;
    this.fit();
  }

  setWidth(width: number): void {
    if (width <= 0 || Math.abs(width - this.width) < 0.5) return;
    this.width = width;
    if (this.#fitted) this.fit();
    else this.#clampAndEmit();
  }

  fit(): void {
    this.#fitted = true;
    this.pxPerFrame = this.minPxPerFrame;
    this.start = 0;
    this.emit("change", this);
  }

  /** Zoom by `factor` keeping the frame under `anchorPx` in place. */
  zoom(factor: number, anchorPx = this.width / 2): void {
    const anchorFrame = this.start + anchorPx / this.pxPerFrame;
    const next = Math.min(MAX_PX_PER_FRAME, Math.max(this.minPxPerFrame, this.pxPerFrame * factor));
    this.#fitted = next <= this.minPxPerFrame + 1e-9;
    this.pxPerFrame = next;
    this.start = anchorFrame - anchorPx / this.pxPerFrame;
    this.#clampAndEmit();
  }

  scrollTo(frame: number): void {
    this.start = frame;
    this.#clampAndEmit();
  }

  scrollBy(px: number): void {
    this.scrollTo(this.start + px / this.pxPerFrame);
  }

  frameToX(frame: number): number {
    return (frame - this.start) * this.pxPerFrame;
  }
  xToFrame(x: number): number {
    return this.start + x / this.pxPerFrame;
  }
  secondsToX(s: number): number {
    return this.frameToX(s / this.hopS);
  }
  xToSeconds(x: number): number {
    return this.xToFrame(x) * this.hopS;
  }

  #clampAndEmit(): void {
    const maxStart = Math.max(0, this.totalFrames - this.visibleFrames);
    this.start = Math.min(maxStart, Math.max(0, this.start));
    this.emit("change", this);
  }
}
