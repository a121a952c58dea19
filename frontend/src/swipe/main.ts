/**
 * The swipe page's entry (`/swipe/`): the same socket worker, client, session credentials and audio
 * engine as the studio, and one card at a time to keep or reject.
 */
import "./swipe.css";
import { credentials, displayName, loadCredentials } from "../net/auth";
import { ResidueClient } from "../net/client";
import { Toasts } from "../ui/toast";
import { clientApi, swipeEvents } from "./api";
import { PreviewAudio } from "./audio";
import { formatQuery, parseQuery, SwipeController } from "./controller";
import { installSwipeDebugHook } from "./debug";
import { swipeView } from "./view";

// a sharing link (`/swipe/#s=..&t=..`) opens the session on a phone; it is kept and taken out of the bar
loadCredentials();

const worker = new Worker(new URL("../workers/socket.worker.ts", import.meta.url), { type: "module", name: "residue-socket" });
const client = new ResidueClient(worker);
const events = swipeEvents(client);
client.joinWith(() => ({ ...credentials(), name: displayName() }));

const toasts = new Toasts();
const audio = new PreviewAudio(client);
const ctl = new SwipeController(clientApi(client), audio, toasts, parseQuery(location.search));

client.on("status", ({ state }) => ctl.setConnection(state));
client.on("welcome", () => void ctl.ready());
client.on("refused", (err) => toasts.show(`This link does not open the session: ${err.message}`, "error"));
client.on("problem", ({ message, error }) => toasts.show(message, "error", error?.errorId ?? null));
events.on("decided", (f) => ctl.onDecided(f.kind, f.item_id, f.decision, f.undone === true));
events.on("songAdded", (f) => ctl.onSongAdded(f.song.album_id));
events.on("songRemoved", (f) => ctl.onSongRemoved(f.song_id));
audio.on("error", ({ message, errorId }) => {
  ctl.stopped();
  toasts.show(`Could not play: ${message}`, "error", errorId);
});

const root = document.getElementById("swipe");
if (!root) throw new Error("swipe/index.html has no #swipe");
const view = swipeView(ctl, audio, toasts);
root.replaceChildren(view.element);
installSwipeDebugHook(ctl, audio);

// the address bar says what is curated (a reload or a shared link comes back to it)
ctl.store.watch(["kind", "albumId", "setId"], (s) => {
  const query = formatQuery({ kind: s.kind, albumId: s.albumId, setId: s.setId });
  if (query !== location.search) history.replaceState(null, "", `${location.pathname}${query}${location.hash}`);
});

const scheme = location.protocol === "https:" ? "wss:" : "ws:";
client.connect(`${scheme}//${location.host}/ws`);

window.addEventListener("error", (e) => toasts.show(`Something went wrong: ${e.message}`, "error"));
window.addEventListener("unhandledrejection", (e) => {
  const reason: unknown = e.reason;
  toasts.show(`Something went wrong: ${reason instanceof Error ? reason.message : String(reason)}`, "error");
});
