/**
 * Drag and drop with pointer events (mouse, pen and touch alike): a drag handle carries a
 * {@link Pick}; elements with `data-drop-decomposition` and `data-drop-unit` receive it.
 *
 * A press without movement is a click: the studio treats it as "pick, then tap a target", which
 * also serves the keyboard.
 */
import { h } from "./dom";
import type { Pick, Studio } from "./studio";
import type { UnitAddress } from "./model/edits";

const THRESHOLD_PX = 6;

/** Mark `el` as a place where a unit or library component may be dropped. */
export function dropTarget(el: HTMLElement, at: UnitAddress): void {
  el.dataset["dropDecomposition"] = at.decompositionId;
  el.dataset["dropUnit"] = String(at.unit);
}

function targetAt(x: number, y: number): { el: HTMLElement; at: UnitAddress } | null {
  const hit = document.elementFromPoint(x, y);
  const el = hit instanceof Element ? hit.closest<HTMLElement>("[data-drop-unit]") : null;
  if (!el) return null;
  const decompositionId = el.dataset["dropDecomposition"];
  const unit = Number(el.dataset["dropUnit"]);
  if (!decompositionId || !Number.isInteger(unit)) return null;
  return { el, at: { decompositionId, unit } };
}

/** Make `handle` drag `pick()`; a plain click picks it for a tap-to-drop. */
export function dragHandle(handle: HTMLElement, studio: Studio, pick: () => Pick, label: () => string): void {
  handle.style.touchAction = "none";
  handle.addEventListener("pointerdown", (down: PointerEvent) => {
    if (down.button !== 0) return;
    down.preventDefault();
    handle.setPointerCapture(down.pointerId);
    let ghost: HTMLElement | null = null;
    let over: HTMLElement | null = null;
    const move = (e: PointerEvent): void => {
      if (!ghost) {
        if (Math.hypot(e.clientX - down.clientX, e.clientY - down.clientY) < THRESHOLD_PX) return;
        ghost = h("div", { class: "drag-ghost", "aria-hidden": "true" }, label());
        document.body.append(ghost);
        document.body.classList.add("dragging");
      }
      ghost.style.transform = `translate(${e.clientX + 12}px, ${e.clientY + 12}px)`;
      const t = targetAt(e.clientX, e.clientY);
      if (t?.el !== over) {
        over?.classList.remove("drop-over");
        over = t?.el ?? null;
        over?.classList.add("drop-over");
      }
    };
    const up = (e: PointerEvent): void => {
      handle.removeEventListener("pointermove", move);
      handle.removeEventListener("pointerup", up);
      handle.removeEventListener("pointercancel", cancel);
      over?.classList.remove("drop-over");
      document.body.classList.remove("dragging");
      if (!ghost) {
        studio.pickOrDrop(pick());
        return;
      }
      ghost.remove();
      const t = targetAt(e.clientX, e.clientY);
      if (t) studio.drop(pick(), t.at);
    };
    const cancel = (): void => {
      handle.removeEventListener("pointermove", move);
      handle.removeEventListener("pointerup", up);
      handle.removeEventListener("pointercancel", cancel);
      over?.classList.remove("drop-over");
      ghost?.remove();
      document.body.classList.remove("dragging");
    };
    handle.addEventListener("pointermove", move);
    handle.addEventListener("pointerup", up);
    handle.addEventListener("pointercancel", cancel);
  });
  // keyboard: Enter/Space on the handle button picks or drops
  handle.addEventListener("keydown", (e: KeyboardEvent) => {
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      e.stopPropagation();
      studio.pickOrDrop(pick());
    }
  });
}
