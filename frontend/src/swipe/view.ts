/**
 * The swipe page's DOM: header (what is curated, counts), the card stack, the buttons, the done
 * screen with the album export, the "tap to start listening" overlay.
 *
 * It renders from the controller's store and sends the user's gestures back to it; the card in
 * front is rebuilt only when another card comes to the front (never during a drag).
 */
import type { AlbumExported, SwipeCard } from "@shared/protocol";
import { paintThumbnail, thumbnailImage } from "../ui/views/thumbnail";
import { fetchFile } from "../net/http";
import { h, ICONS, icon, replaceChildren } from "../ui/dom";
import type { Toasts } from "../ui/toast";
import type { PreviewAudio } from "./audio";
import { canUndo, counts, current, isDone, preloadIds, upcoming, type ItemKind } from "./deck";
import { KINDS, type SwipeController, type SwipeState } from "./controller";
import { flyOffX, SwipeRecognizer, type DragView, type SwipeOutcome } from "./gesture";

const KIND_LABEL: Record<ItemKind, string> = { song: "Songs", cell: "Separations", clip: "Clips" };
const KIND_NOUN: Record<ItemKind, string> = { song: "songs", cell: "separations", clip: "clips" };

const EMPTY: Record<ItemKind, { text: string; link: string; label: string }> = {
  song: { text: "No songs yet: make an album in the Timbre room.", link: "/#timbre", label: "Open the Timbre room" },
  cell: { text: "No separations yet: run a grid in the Separations room.", link: "/#separations", label: "Open the Separations room" },
  clip: { text: "No training clips yet: build a training set in the Timbre room.", link: "/#timbre", label: "Open the Timbre room" },
};

const FLY_MS = 280;

export function reducedMotion(): boolean {
  return typeof matchMedia === "function" && matchMedia("(prefers-reduced-motion: reduce)").matches;
}

/** m:ss */
export function formatDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return "–";
  const total = Math.round(s);
  return `${Math.floor(total / 60)}:${String(total % 60).padStart(2, "0")}`;
}

export interface SwipeView {
  readonly element: HTMLElement;
  /** Keep or reject the card in front with its fly-off (buttons, keys, debug). */
  swipe(outcome: Exclude<SwipeOutcome, "none">): void;
}

export function swipeView(ctl: SwipeController, audio: PreviewAudio, toasts: Toasts): SwipeView {
  const thumbs = new Map<string, ImageData>();
  let frontEl: HTMLElement | null = null;
  let frontId: string | null = null;
  let nextId: string | null = null;
  let nextEl: HTMLElement | null = null;
  let download: { href: string; filename: string; forUrl: string } | null = null;

  // --- header ----------------------------------------------------------------------------------
  const tabs = KINDS.map((kind) =>
    h(
      "button",
      { class: "sw-tab", role: "tab", type: "button", "data-testid": `swipe-tab-${kind}`, "data-kind": kind, onclick: () => ctl.setKind(kind) },
      KIND_LABEL[kind],
    ),
  );
  const albumSelect = h("select", {
    class: "sw-select",
    "data-testid": "swipe-album",
    "aria-label": "Album",
    onchange: () => ctl.setAlbum(albumSelect.value || null),
  });
  const setSelect = h("select", {
    class: "sw-select",
    "data-testid": "swipe-set",
    "aria-label": "Training set",
    onchange: () => ctl.setSet(setSelect.value || null),
  });
  const kept = h("span", { class: "sw-count sw-count-keep", "data-testid": "swipe-kept" }, "0");
  const rejected = h("span", { class: "sw-count sw-count-reject", "data-testid": "swipe-rejected" }, "0");
  const left = h("span", { class: "sw-count", "data-testid": "swipe-left" }, "0");
  const connection = h("span", { class: "sw-connection", "data-testid": "swipe-connection", role: "status" });
  const header = h(
    "header",
    { class: "sw-header" },
    h(
      "div",
      { class: "sw-topline" },
      h("a", { class: "sw-home", href: "/", "aria-label": "residue studio" }, "residue"),
      h("span", { class: "sw-title" }, "Curate"),
      connection,
    ),
    h("div", { class: "sw-tabs", role: "tablist", "aria-label": "What to curate" }, tabs),
    h("div", { class: "sw-pickers" }, albumSelect, setSelect),
    h(
      "p",
      { class: "sw-counts", "data-testid": "swipe-counts", "aria-live": "polite" },
      kept,
      " kept · ",
      rejected,
      " rejected · ",
      left,
      " left",
    ),
  );

  // --- the stage -------------------------------------------------------------------------------
  const stack = h("div", { class: "sw-stack", "data-testid": "swipe-stack" });
  const panel = h("div", { class: "sw-panel" });
  const stage = h("main", { class: "sw-stage", "data-testid": "swipe-stage" }, stack, panel);

  const rejectBtn = h(
    "button",
    { class: "sw-action sw-reject", type: "button", "data-testid": "swipe-reject", "aria-label": "Reject (left arrow)", onclick: () => swipe("reject") },
    icon(ICONS.close),
    h("span", {}, "Reject"),
  );
  const undoBtn = h(
    "button",
    { class: "sw-action sw-undo", type: "button", "data-testid": "swipe-undo", "aria-label": "Undo (Backspace)", onclick: () => ctl.undo() },
    icon(ICONS.undo),
    h("span", {}, "Undo"),
  );
  const keepBtn = h(
    "button",
    { class: "sw-action sw-keep", type: "button", "data-testid": "swipe-keep", "aria-label": "Keep (right arrow)", onclick: () => swipe("keep") },
    icon("M9 16.2 4.8 12l-1.4 1.4L9 19 21 7l-1.4-1.4z"),
    h("span", {}, "Keep"),
  );
  const actions = h(
    "footer",
    { class: "sw-actions" },
    rejectBtn,
    undoBtn,
    keepBtn,
    h("p", { class: "sw-keys", "aria-hidden": "true" }, "← reject · → keep · Backspace or Z undo · Space pause"),
  );

  const overlay = h(
    "button",
    {
      class: "sw-overlay",
      type: "button",
      "data-testid": "swipe-start",
      onclick: () => startAudio(),
    },
    h("span", { class: "sw-overlay-icon" }, icon(ICONS.play)),
    h("span", { class: "sw-overlay-text" }, "Tap to start listening"),
    h("span", { class: "sw-overlay-hint" }, "Swipe right to keep, left to reject"),
  );

  const element = h("div", { class: "swipe-page", "data-testid": "swipe-page" }, header, stage, actions, overlay, toasts.element);

  function startAudio(clickAt: number = performance.now()): void {
    if (ctl.state.audio === "on") return;
    void audio.start();
    ctl.audioOn(clickAt);
  }

  // --- cards -----------------------------------------------------------------------------------
  function thumbFor(card: SwipeCard): ImageData | null {
    const cached = thumbs.get(card.item_id);
    if (cached) return cached;
    const image = thumbnailImage(card);
    if (image) thumbs.set(card.item_id, image);
    return image;
  }

  function cardElement(card: SwipeCard, front: boolean): HTMLElement {
    const canvas = h("canvas", { class: "sw-thumb", "data-testid": front ? "swipe-thumb" : null, "aria-hidden": "true" });
    paintThumbnail(canvas, thumbFor(card));
    const badge = card.decision ? h("span", { class: `sw-badge sw-badge-${card.decision}` }, card.decision === "keep" ? "kept" : "rejected") : null;
    const el = h(
      "article",
      {
        class: `sw-card ${front ? "sw-front" : "sw-next"}`,
        "data-testid": front ? "swipe-card" : "swipe-next",
        "data-item-id": card.item_id,
        "aria-label": front ? `${card.title}: swipe right to keep, left to reject, tap to pause` : null,
        "aria-hidden": front ? null : "true",
        tabindex: front ? 0 : null,
      },
      h("span", { class: "sw-stamp sw-stamp-keep", "aria-hidden": "true" }, "KEEP"),
      h("span", { class: "sw-stamp sw-stamp-reject", "aria-hidden": "true" }, "REJECT"),
      h("div", { class: "sw-thumb-wrap" }, canvas, h("div", { class: "sw-progress", "data-testid": front ? "swipe-progress" : null }, h("div", { class: "sw-progress-fill" }))),
      h(
        "div",
        { class: "sw-card-text" },
        h("h2", { class: "sw-card-title", "data-testid": front ? "swipe-title" : null }, card.title),
        h("p", { class: "sw-card-sub" }, card.subtitle),
        h("p", { class: "sw-card-meta" }, h("span", { "data-testid": front ? "swipe-duration" : null }, formatDuration(card.duration_s)), badge ? " · " : null, badge),
      ),
    );
    if (front) attachGesture(el);
    return el;
  }

  function renderCards(state: SwipeState): void {
    const deck = state.deck;
    const front = deck ? current(deck) : null;
    const next = deck ? (upcoming(deck, 1)[0] ?? null) : null;
    // draw ahead what comes next; forget the rest
    if (deck) {
      const keep = new Set(preloadIds(deck));
      for (const id of [...thumbs.keys()]) if (!keep.has(id)) thumbs.delete(id);
      for (const id of keep) {
        const card = deck.cards.get(id);
        if (card) thumbFor(card);
      }
    }
    const frontKey = front ? `${front.item_id}:${front.decision ?? ""}` : null;
    const nextKey = next ? `${next.item_id}:${next.decision ?? ""}` : null;
    if (nextKey !== nextId) {
      nextEl?.remove();
      nextEl = next ? cardElement(next, false) : null;
      if (nextEl) stack.prepend(nextEl);
      nextId = nextKey;
    }
    if (frontKey !== frontId) {
      frontEl?.remove();
      frontEl = front ? cardElement(front, true) : null;
      if (frontEl) {
        stack.append(frontEl);
        if (!reducedMotion()) frontEl.classList.add("sw-enter");
      }
      frontId = frontKey;
    }
  }

  // --- gestures --------------------------------------------------------------------------------
  function applyDrag(el: HTMLElement, view: DragView): void {
    el.style.transform = view.dx === 0 ? "" : `translateX(${view.dx}px) rotate(${view.rotationDeg}deg)`;
    el.style.setProperty("--keep-amt", String(Math.max(0, view.progress)));
    el.style.setProperty("--reject-amt", String(Math.max(0, -view.progress)));
    nextEl?.style.setProperty("--lift", String(Math.abs(view.progress)));
    el.dataset["hint"] = view.hint;
  }

  function attachGesture(el: HTMLElement): void {
    const rec = new SwipeRecognizer();
    let pointer: number | null = null;
    let moved = false;
    el.addEventListener("pointerdown", (e) => {
      if (pointer !== null || (e.pointerType === "mouse" && e.button !== 0)) return;
      pointer = e.pointerId;
      moved = false;
      rec.down(e.clientX, e.clientY, e.timeStamp, el.getBoundingClientRect().width);
      el.classList.add("sw-held");
    });
    el.addEventListener("pointermove", (e) => {
      if (e.pointerId !== pointer) return;
      const view = rec.move(e.clientX, e.clientY, e.timeStamp);
      if (view.phase === "dragging") {
        if (!moved) {
          moved = true;
          el.classList.add("sw-dragging");
          try {
            el.setPointerCapture(e.pointerId);
          } catch {
            // the pointer is gone already
          }
        }
        applyDrag(el, view);
      } else if (view.phase === "scrolling") {
        end(el);
      }
    });
    const release = (e: PointerEvent): void => {
      if (e.pointerId !== pointer) return;
      const wasDrag = rec.phase === "dragging";
      const result = rec.up(e.clientX, e.clientY, e.timeStamp);
      end(el);
      if (result.outcome !== "none") {
        swipe(result.outcome, result.dx, result.rotationDeg);
      } else {
        springBack(el);
        // a tap (no drag): pause or play
        if (!wasDrag && !moved && e.type === "pointerup") tap();
      }
    };
    el.addEventListener("pointerup", release);
    el.addEventListener("pointercancel", (e) => {
      if (e.pointerId !== pointer) return;
      rec.cancel();
      end(el);
      springBack(el);
    });
    const end = (target: HTMLElement): void => {
      pointer = null;
      target.classList.remove("sw-held", "sw-dragging");
    };
  }

  function tap(): void {
    if (ctl.state.audio === "off") startAudio();
    else ctl.togglePlay(performance.now());
  }

  function springBack(el: HTMLElement): void {
    el.classList.add("sw-spring");
    applyDrag(el, { phase: "idle", dx: 0, rotationDeg: 0, progress: 0, hint: "none" });
    setTimeout(() => el.classList.remove("sw-spring"), reducedMotion() ? 0 : 250);
  }

  /** The card in front flies off (from where the drag left it) and the decision is made. */
  function swipe(outcome: Exclude<SwipeOutcome, "none">, fromDx = 0, fromRotation = 0): void {
    const deck = ctl.state.deck;
    if (!deck || !current(deck)) return;
    const el = frontEl;
    if (el) {
      // the element leaves the renderer's hands: it is removed when its flight ends
      frontEl = null;
      frontId = null;
      el.removeAttribute("data-testid");
      el.setAttribute("aria-hidden", "true");
      el.classList.add("sw-gone", `sw-gone-${outcome}`);
      if (reducedMotion()) {
        el.remove();
      } else {
        const width = el.getBoundingClientRect().width;
        const x = flyOffX(outcome, stage.getBoundingClientRect().width || window.innerWidth, width);
        el.style.transform = `translateX(${fromDx}px) rotate(${fromRotation}deg)`;
        el.style.setProperty(outcome === "keep" ? "--keep-amt" : "--reject-amt", "1");
        requestAnimationFrame(() => {
          el.classList.add("sw-flying");
          el.style.transform = `translateX(${x}px) rotate(${outcome === "keep" ? 20 : -20}deg)`;
        });
        setTimeout(() => el.remove(), FLY_MS + 60);
      }
    }
    ctl.decide(outcome);
  }

  // --- panels: loading, error, empty, done --------------------------------------------------------
  function renderPanel(state: SwipeState): void {
    const deck = state.deck;
    if (state.loading) {
      replaceChildren(panel, h("p", { class: "sw-note", "data-testid": "swipe-loading" }, "Loading the cards…"));
      return;
    }
    if (state.error && !deck) {
      replaceChildren(
        panel,
        h(
          "div",
          { class: "sw-message", "data-testid": "swipe-error" },
          h("p", {}, `The cards could not be loaded: ${state.error}`),
          h("button", { class: "sw-button", type: "button", "data-testid": "swipe-retry", onclick: () => void ctl.load() }, "Try again"),
        ),
      );
      return;
    }
    if (!deck) {
      replaceChildren(panel);
      return;
    }
    if (deck.cards.size === 0) {
      const empty = EMPTY[state.kind];
      const noSet = state.kind === "clip" && state.sets.length > 0 && state.setId === null;
      replaceChildren(
        panel,
        h(
          "div",
          { class: "sw-message", "data-testid": "swipe-empty" },
          h("p", {}, noSet ? "Choose a training set above." : empty.text),
          noSet ? null : h("a", { class: "sw-button", href: empty.link, "data-testid": "swipe-empty-link" }, empty.label),
        ),
      );
      return;
    }
    if (isDone(deck)) {
      replaceChildren(panel, donePanel(state));
      return;
    }
    replaceChildren(panel);
  }

  function donePanel(state: SwipeState): HTMLElement {
    const deck = state.deck;
    const c = deck ? counts(deck) : { kept: 0, rejected: 0, left: 0, total: 0 };
    const noun = KIND_NOUN[state.kind];
    const children: (HTMLElement | null)[] = [
      h("h2", {}, c.left === 0 ? `All ${c.total} ${noun} decided` : `Done for now: ${c.left} ${noun} left undecided`),
      h("p", { class: "sw-summary", "data-testid": "swipe-summary" }, `${c.kept} kept, ${c.rejected} rejected.`),
    ];
    if (state.kind === "song") children.push(exportBlock(state, c.kept));
    if (state.kind === "clip") {
      children.push(h("p", { class: "sw-note", "data-testid": "swipe-clip-note" }, "The next training of a timbre model uses the kept clips of this set and skips the rejected ones."));
    }
    if (state.kind === "cell") {
      children.push(h("p", { class: "sw-note" }, "Kept separations are marked as kept in the Separations room."));
    }
    const undecided = deck?.mode === "undecided";
    children.push(
      h(
        "div",
        { class: "sw-row" },
        h(
          "button",
          { class: "sw-button secondary", type: "button", "data-testid": "swipe-review", onclick: () => ctl.review(undecided && c.left === 0 ? "all" : "undecided") },
          undecided && c.left === 0 ? "Go through all again" : c.left > 0 ? "Show the undecided" : "Go through all again",
        ),
      ),
    );
    return h("div", { class: "sw-message sw-done", "data-testid": "swipe-done" }, children);
  }

  let exportFormat: "flac" | "wav" = "flac";

  function exportBlock(state: SwipeState, nKept: number): HTMLElement {
    const ex = state.exporting;
    const formats = (["flac", "wav"] as const).map((f) =>
      h(
        "label",
        { class: "sw-radio" },
        h("input", {
          type: "radio",
          name: "sw-format",
          value: f,
          checked: f === exportFormat,
          "data-testid": `swipe-format-${f}`,
          disabled: ex.status === "running",
          onchange: () => {
            exportFormat = f;
          },
        }),
        f.toUpperCase(),
      ),
    );
    const button = h(
      "button",
      {
        class: "sw-button",
        type: "button",
        "data-testid": "swipe-export",
        disabled: nKept === 0 || ex.status === "running",
        onclick: () => void ctl.exportKept(exportFormat).then((r) => (r ? prepareDownload(r) : undefined)),
      },
      nKept === 0 ? "Nothing kept to export" : `Export ${nKept} kept song${nKept === 1 ? "" : "s"}`,
    );
    const parts: (HTMLElement | null)[] = [h("fieldset", { class: "sw-formats" }, h("legend", {}, "Format"), formats), button];
    if (ex.status === "running") {
      const pct = Math.round(ex.fraction * 100);
      parts.push(
        h(
          "div",
          { class: "sw-bar", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": pct, "data-testid": "swipe-export-progress" },
          h("div", { class: "sw-bar-fill", style: `width: ${pct}%` }),
        ),
        h("p", { class: "sw-note" }, `${ex.stage} · ${pct}%`),
      );
    } else if (ex.status === "done") {
      parts.push(exportedBlock(ex.result));
    } else if (ex.status === "failed") {
      parts.push(h("p", { class: "sw-note sw-error-text" }, `The export failed: ${ex.message}`));
    }
    return h("section", { class: "sw-export", "aria-label": "Export the kept songs" }, parts);
  }

  function exportedBlock(r: AlbumExported): HTMLElement {
    const link =
      download && download.forUrl === r.url
        ? h("a", { class: "sw-button", href: download.href, download: download.filename, "data-testid": "swipe-download" }, icon(ICONS.download), ` Download ${download.filename}`)
        : h("p", { class: "sw-note", "data-testid": "swipe-download-wait" }, "Preparing the download…");
    return h(
      "div",
      { class: "sw-exported", "data-testid": "swipe-exported" },
      h("p", {}, `“${r.title}”: ${r.files.length} file${r.files.length === 1 ? "" : "s"}, matched to ${r.loudness_lufs.toFixed(1)} LUFS.`),
      link,
      h("p", { class: "sw-note" }, "On the server, in ", h("code", { class: "sw-folder", "data-testid": "swipe-folder" }, r.folder)),
    );
  }

  /** Fetch the zip with this session's token and offer it as a link (a tap saves it on a phone). */
  async function prepareDownload(r: AlbumExported): Promise<void> {
    try {
      const { blob, filename } = await fetchFile(r.url);
      if (download) URL.revokeObjectURL(download.href);
      download = { href: URL.createObjectURL(blob), filename: filename ?? `${safeName(r.title)}.zip`, forUrl: r.url };
      renderPanel(ctl.state);
    } catch (err) {
      toasts.show(`Could not download the album: ${err instanceof Error ? err.message : String(err)}`, "error");
    }
  }

  // --- header, buttons -------------------------------------------------------------------------
  function renderHeader(state: SwipeState): void {
    for (const tab of tabs) {
      const on = tab.dataset["kind"] === state.kind;
      tab.setAttribute("aria-selected", String(on));
      tab.classList.toggle("on", on);
    }
    replaceChildren(
      albumSelect,
      h("option", { value: "" }, "All songs"),
      state.albums.map((a) => h("option", { value: a.album_id }, `${a.name} (${a.n_songs})`)),
    );
    albumSelect.value = state.albumId ?? "";
    albumSelect.hidden = state.kind !== "song";
    replaceChildren(
      setSelect,
      state.sets.length === 0 ? h("option", { value: "" }, "No training sets") : null,
      state.sets.map((s) => h("option", { value: s.set_id }, `${s.name} (${s.n_clips} clips)`)),
    );
    setSelect.value = state.setId ?? "";
    setSelect.disabled = state.sets.length === 0;
    setSelect.hidden = state.kind !== "clip";
    connection.textContent = state.connection === "open" ? "" : state.connection === "connecting" ? "Connecting…" : "Reconnecting…";
  }

  function renderCounts(state: SwipeState): void {
    const c = state.deck ? counts(state.deck) : { kept: 0, rejected: 0, left: 0, total: 0 };
    kept.textContent = String(c.kept);
    rejected.textContent = String(c.rejected);
    left.textContent = String(c.left);
    const active = state.deck !== null && current(state.deck) !== null;
    keepBtn.disabled = !active;
    rejectBtn.disabled = !active;
    undoBtn.disabled = !state.deck || !canUndo(state.deck);
  }

  ctl.store.watch(["kind", "albums", "sets", "albumId", "setId", "connection"], renderHeader);
  ctl.store.watch(["deck"], (s) => {
    renderCards(s);
    renderCounts(s);
  });
  ctl.store.watch(["deck", "loading", "error", "exporting", "kind"], renderPanel);
  ctl.store.watch(["audio"], (s) => {
    overlay.hidden = s.audio === "on";
  });
  ctl.store.watch(["playing"], (s) => {
    element.classList.toggle("sw-paused", s.audio === "on" && s.playing === null);
    if (s.playing === null) setProgress(0);
  });

  function setProgress(fraction: number): void {
    frontEl?.style.setProperty("--progress", String(fraction));
  }
  audio.on("position", ({ itemId, fraction }) => {
    if (frontEl?.dataset["itemId"] === itemId) setProgress(fraction);
  });

  // --- keys ------------------------------------------------------------------------------------
  window.addEventListener("keydown", (e) => {
    const target = e.target;
    if (target instanceof HTMLInputElement || target instanceof HTMLSelectElement || target instanceof HTMLTextAreaElement) return;
    if (e.altKey || e.metaKey) return;
    const key = e.key;
    const undoKey = key === "Backspace" || ((key === "z" || key === "Z") && !e.shiftKey);
    if (ctl.state.audio === "off" && (key === "Enter" || key === " ")) {
      startAudio();
      e.preventDefault();
      return;
    }
    // an arrow is a gesture too: sound starts with the first decision made by key
    if (ctl.state.audio === "off" && (key === "ArrowLeft" || key === "ArrowRight")) startAudio();
    if (e.ctrlKey && !(key === "z" || key === "Z")) return;
    if (key === "ArrowRight") swipe("keep");
    else if (key === "ArrowLeft") swipe("reject");
    else if (undoKey) ctl.undo();
    else if (key === " " && target === document.body) ctl.togglePlay(performance.now());
    else return;
    e.preventDefault();
  });

  return { element, swipe: (outcome) => swipe(outcome) };
}

function safeName(title: string): string {
  return title.replace(/[^A-Za-z0-9 _.-]+/g, "").trim() || "album";
}
