import { describe, expect, it } from "vitest";
import { DEFAULT_GESTURE, flyOffX, rotationFor, SwipeRecognizer } from "./gesture";

const WIDTH = 300; // threshold: max(60, 0.3 * 300) = 90 px

/** Press at (100, 100), move in steps to dx/dy over `ms`, release. */
function drag(rec: SwipeRecognizer, dx: number, dy: number, ms: number, steps = 10) {
  rec.down(100, 100, 0, WIDTH);
  for (let i = 1; i <= steps; i++) rec.move(100 + (dx * i) / steps, 100 + (dy * i) / steps, (ms * i) / steps);
  return rec.up(100 + dx, 100 + dy, ms);
}

describe("SwipeRecognizer", () => {
  it("a slow drag past the threshold to the right is keep, to the left reject", () => {
    expect(drag(new SwipeRecognizer(), 120, 5, 2000).outcome).toBe("keep");
    expect(drag(new SwipeRecognizer(), -120, -5, 2000).outcome).toBe("reject");
  });

  it("a slow drag under the threshold springs back", () => {
    const r = drag(new SwipeRecognizer(), 80, 0, 2000);
    expect(r.outcome).toBe("none");
    expect(Math.abs(r.velocity)).toBeLessThan(DEFAULT_GESTURE.flickVelocity);
  });

  it("a fast short flick is a swipe in its direction", () => {
    const r = drag(new SwipeRecognizer(), -50, 0, 50);
    expect(r.velocity).toBeLessThan(-DEFAULT_GESTURE.flickVelocity);
    expect(r.outcome).toBe("reject");
  });

  it("a flick shorter than the minimum is not a swipe", () => {
    expect(drag(new SwipeRecognizer(), 20, 0, 10).outcome).toBe("none");
  });

  it("a drag out and a fast flick back is not a swipe the other way", () => {
    const rec = new SwipeRecognizer();
    rec.down(100, 100, 0, WIDTH);
    rec.move(150, 100, 500);
    rec.move(180, 100, 1000);
    rec.move(140, 100, 1030); // flicking back left, still right of the start
    expect(rec.up(140, 100, 1040).outcome).toBe("none");
  });

  it("velocity only counts recent movement (a hold before release is slow)", () => {
    const rec = new SwipeRecognizer();
    rec.down(100, 100, 0, WIDTH);
    rec.move(130, 100, 20);
    rec.move(150, 100, 40);
    rec.move(150, 100, 600);
    const r = rec.up(150, 100, 620);
    expect(r.velocity).toBeCloseTo(0, 5);
    expect(r.outcome).toBe("none");
  });

  it("mostly vertical movement is a scroll, never a swipe", () => {
    const rec = new SwipeRecognizer();
    rec.down(100, 100, 0, WIDTH);
    expect(rec.move(104, 130, 50).phase).toBe("scrolling");
    // going sideways afterwards does not turn it into a drag
    const later = rec.move(300, 140, 100);
    expect(later.phase).toBe("scrolling");
    expect(later.dx).toBe(0);
    expect(rec.up(300, 140, 120).outcome).toBe("none");
  });

  it("movement within the slop is still a press (a tap)", () => {
    const rec = new SwipeRecognizer();
    rec.down(100, 100, 0, WIDTH);
    const v = rec.move(105, 103, 30);
    expect(v.phase).toBe("pressed");
    expect(v.dx).toBe(0);
    const r = rec.up(105, 103, 60);
    expect(r.outcome).toBe("none");
    expect(r.phase).toBe("pressed");
  });

  it("the card follows the finger, tilts and shows the stamp past the threshold", () => {
    const rec = new SwipeRecognizer();
    rec.down(100, 100, 0, WIDTH);
    const half = rec.move(145, 102, 100);
    expect(half.phase).toBe("dragging");
    expect(half.dx).toBe(45);
    expect(half.progress).toBeCloseTo(0.5);
    expect(half.rotationDeg).toBeCloseTo((45 / WIDTH) * DEFAULT_GESTURE.maxRotationDeg);
    expect(half.hint).toBe("none");
    const past = rec.move(-20, 102, 200);
    expect(past.progress).toBe(-1);
    expect(past.hint).toBe("reject");
    expect(past.rotationDeg).toBeLessThan(0);
  });

  it("is idle after a release or a cancel, and moves without a press do nothing", () => {
    const rec = new SwipeRecognizer();
    expect(rec.move(500, 100, 0).phase).toBe("idle");
    drag(rec, 200, 0, 100);
    expect(rec.phase).toBe("idle");
    rec.down(0, 0, 0, WIDTH);
    rec.move(50, 0, 10);
    rec.cancel();
    expect(rec.up(300, 0, 20).outcome).toBe("none");
  });

  it("the threshold is a fraction of the width, never under the minimum", () => {
    const rec = new SwipeRecognizer();
    expect(rec.threshold(1000)).toBe(300);
    expect(rec.threshold(100)).toBe(DEFAULT_GESTURE.minDistancePx);
    expect(new SwipeRecognizer({ distanceFraction: 0.5 }).threshold(400)).toBe(200);
  });
});

describe("rotationFor and flyOffX", () => {
  it("clamps the tilt", () => {
    expect(rotationFor(0, 300)).toBe(0);
    expect(rotationFor(3000, 300)).toBe(DEFAULT_GESTURE.maxRotationDeg);
    expect(rotationFor(-3000, 300, 10)).toBe(-10);
  });

  it("flies past the viewport's edge on the swipe's side", () => {
    expect(flyOffX("keep", 360, 330)).toBeGreaterThan(360 / 2 + 330 / 2);
    expect(flyOffX("reject", 360, 330)).toBeLessThan(-(360 / 2 + 330 / 2));
  });
});
