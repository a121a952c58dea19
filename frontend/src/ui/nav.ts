/**
 * The rooms of the page ("Studio", "MIDI", ...): a small list, one shown at a time, remembered in
 * the URL hash. A new room is one more entry in the list given to {@link Rooms}.
 */
import { h } from "./dom";
import { Emitter } from "../util/emitter";

export interface RoomSpec {
  readonly id: string;
  readonly label: string;
  /** What the room shows (hidden while another room is shown). */
  readonly elements: readonly HTMLElement[];
  onShow?(): void;
  onHide?(): void;
}

export class Rooms extends Emitter<{ change: string }> {
  readonly nav: HTMLElement;
  readonly #specs: readonly RoomSpec[];
  readonly #tabs = new Map<string, HTMLButtonElement>();
  #active = "";

  constructor(specs: readonly RoomSpec[]) {
    super();
    this.#specs = specs;
    this.nav = h(
      "nav",
      { class: "rooms", "aria-label": "Rooms" },
      specs.map((spec) => {
        const tab = h("button", { class: "room-tab", "data-testid": `room-${spec.id}`, onclick: () => this.show(spec.id) }, spec.label);
        this.#tabs.set(spec.id, tab);
        return tab;
      }),
    );
    const wanted = location.hash.slice(1);
    this.show(specs.some((s) => s.id === wanted) ? wanted : (specs[0]?.id ?? ""));
    window.addEventListener("hashchange", () => {
      const id = location.hash.slice(1);
      if (specs.some((s) => s.id === id)) this.show(id);
    });
  }

  get active(): string {
    return this.#active;
  }

  show(id: string): void {
    if (id === this.#active || !this.#specs.some((s) => s.id === id)) return;
    const before = this.#specs.find((s) => s.id === this.#active);
    before?.onHide?.();
    this.#active = id;
    for (const spec of this.#specs) {
      const on = spec.id === id;
      for (const el of spec.elements) el.hidden = !on;
      this.#tabs.get(spec.id)?.setAttribute("aria-current", on ? "page" : "false");
    }
    const first = this.#specs[0]?.id;
    const hash = id === first ? "" : `#${id}`;
    if (location.hash !== hash) history.replaceState(null, "", `${location.pathname}${location.search}${hash}`);
    this.#specs.find((s) => s.id === id)?.onShow?.();
    this.emit("change", id);
  }
}
