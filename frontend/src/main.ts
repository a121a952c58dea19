/**
 * Entry point: the socket worker, the client, the studio, the page.
 */
import "./ui/styles.css";
import { ResidueClient } from "./net/client";
import { mountApp } from "./ui/app";
import { installDebugHook } from "./ui/debug";
import { Studio } from "./ui/studio";
import { Toasts } from "./ui/toast";

const worker = new Worker(new URL("./workers/socket.worker.ts", import.meta.url), { type: "module", name: "residue-socket" });
const client = new ResidueClient(worker);
const toasts = new Toasts();
const studio = new Studio(client, toasts);

const root = document.getElementById("app");
if (!root) throw new Error("index.html has no #app");
mountApp(root, studio, toasts);
installDebugHook(studio);

const scheme = location.protocol === "https:" ? "wss:" : "ws:";
client.connect(`${scheme}//${location.host}/ws`);

window.addEventListener("error", (e) => toasts.show(`Something went wrong: ${e.message}`, "error"));
window.addEventListener("unhandledrejection", (e) => {
  const reason: unknown = e.reason;
  toasts.show(`Something went wrong: ${reason instanceof Error ? reason.message : String(reason)}`, "error");
});
