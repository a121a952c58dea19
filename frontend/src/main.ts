/**
 * Entry point: the socket worker, the client, the studio, the page.
 */
import "./ui/styles.css";
import { loadCredentials } from "./net/auth";
import { ResidueClient } from "./net/client";
import { mountApp } from "./ui/app";
import { installDebugHook } from "./ui/debug";
import { installMidiDebugHook } from "./ui/midi/debug";
import { onToMidi } from "./ui/midi/events";
import { MidiRoom } from "./ui/midi/room";
import { midiRoomView } from "./ui/midi/view";
import { installSeparationsDebugHook } from "./ui/separations/debug";
import { SeparationsRoom } from "./ui/separations/room";
import { separationsView } from "./ui/separations/view";
import { SessionController } from "./ui/session";
import { installTimbreDebugHook } from "./ui/timbre/debug";
import { TimbreRoom } from "./ui/timbre/room";
import { timbreView } from "./ui/timbre/view";
import { Studio } from "./ui/studio";
import { Toasts } from "./ui/toast";
import { sessionBar } from "./ui/views/session-bar";

// a sharing link in the address bar is read (and taken out of it) before the rooms read the hash
loadCredentials();

const worker = new Worker(new URL("./workers/socket.worker.ts", import.meta.url), { type: "module", name: "residue-socket" });
const client = new ResidueClient(worker);
const toasts = new Toasts();
const studio = new Studio(client, toasts);
const session = new SessionController(client, studio, toasts);

const root = document.getElementById("app");
if (!root) throw new Error("index.html has no #app");
const midi = new MidiRoom(client, studio, toasts);
const separations = new SeparationsRoom(client, studio, toasts);
const timbre = new TimbreRoom(client, studio, toasts);
const rooms = mountApp(root, studio, toasts, [
  { id: "midi", label: "MIDI", elements: [midiRoomView(midi)], onHide: () => midi.stop() },
  { id: "separations", label: "Separations", elements: [separationsView(separations)], onHide: () => separations.stop() },
  { id: "timbre", label: "Timbre", elements: [timbreView(timbre)], onShow: () => void timbre.open(), onHide: () => timbre.hide() },
]);
root.insertBefore(sessionBar(session), root.children[1] ?? null);
// what each room plays is shown to the others in the session
for (const room of [midi, separations, timbre]) {
  session.addPlaySource({ nowPlaying: () => room.nowPlaying(), onChange: (fn) => void room.store.watch(["playing"], fn) });
}
onToMidi(({ decompositionId, unit, label }) => {
  rooms.show("midi");
  midi.openUnit(decompositionId, unit, label);
});
installDebugHook(studio, session);
installMidiDebugHook(midi);
installSeparationsDebugHook(separations);
installTimbreDebugHook(timbre);

const scheme = location.protocol === "https:" ? "wss:" : "ws:";
client.connect(`${scheme}//${location.host}/ws`);

window.addEventListener("error", (e) => toasts.show(`Something went wrong: ${e.message}`, "error"));
window.addEventListener("unhandledrejection", (e) => {
  const reason: unknown = e.reason;
  toasts.show(`Something went wrong: ${reason instanceof Error ? reason.message : String(reason)}`, "error");
});
