import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const shared = fileURLToPath(new URL("../shared", import.meta.url));
const server = process.env["RESIDUE_SERVER"] ?? "http://127.0.0.1:8123";

// Cross-origin isolation lets the socket worker and the worklet share a SharedArrayBuffer ring.
// The Litestar server sends the same two headers on the built files.
const isolation = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
};

export default defineConfig({
  resolve: { alias: { "@shared": shared } },
  server: {
    headers: isolation,
    fs: { allow: [".", shared] },
    proxy: {
      "/api": server,
      "/ws": { target: server.replace(/^http/, "ws"), ws: true },
    },
  },
  preview: { headers: isolation },
  worker: { format: "es" },
  build: {
    outDir: "dist",
    target: "es2022",
    sourcemap: true,
    // two pages: the studio at / and the swipe curation page at /swipe/
    rollupOptions: {
      input: {
        main: fileURLToPath(new URL("index.html", import.meta.url)),
        swipe: fileURLToPath(new URL("swipe/index.html", import.meta.url)),
      },
    },
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
