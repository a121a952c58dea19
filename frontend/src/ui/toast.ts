/**
 * Toasts: short messages in plain words (errors never crash the page, they land here).
 */
import { h } from "./dom";

export type ToastKind = "info" | "error";

export class Toasts {
  readonly element: HTMLElement;

  constructor() {
    this.element = h("div", { class: "toasts", role: "status", "aria-live": "polite", "data-testid": "toasts" });
  }

  show(message: string, kind: ToastKind = "info", detail: string | null = null, ms = kind === "error" ? 7000 : 3500): void {
    const close = h("button", { class: "toast-close", "aria-label": "Dismiss", onclick: () => el.remove() }, "×");
    const el = h(
      "div",
      { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : null, "data-testid": `toast-${kind}` },
      h("span", { class: "toast-text" }, message),
      detail ? h("small", { class: "toast-detail" }, detail) : null,
      close,
    );
    this.element.append(el);
    while (this.element.childElementCount > 4) this.element.firstElementChild?.remove();
    setTimeout(() => el.remove(), ms);
  }
}
