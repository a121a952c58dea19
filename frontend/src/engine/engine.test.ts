/// <reference types="vite/client" />
import { describe, expect, it } from "vitest";
import { AudioEngine, InsecurePageError } from "./engine";

describe("AudioEngine.create", () => {
  it("on a page that is not secure (a phone over plain http) says what to do instead of failing obscurely", async () => {
    // node has no secure context and no AudioWorkletNode: exactly a phone's view of http://192.168.x.x
    const made = AudioEngine.create();
    await expect(made).rejects.toBeInstanceOf(InsecurePageError);
    await expect(made).rejects.toThrow(/RESIDUE_HTTPS=1/);
  });
});
