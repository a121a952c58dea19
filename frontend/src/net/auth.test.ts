import { describe, expect, it } from "vitest";
import { hashWithoutLink, linkFor, parseLink, readStored } from "./auth";

const T = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-AbCd";

describe("sharing links", () => {
  it("round-trips a link", () => {
    const link = linkFor("http://127.0.0.1:8000/", "f00d42", T);
    expect(link).toBe(`http://127.0.0.1:8000/#s=f00d42&t=${T}`);
    expect(parseLink(link)).toEqual({ sessionId: "f00d42", token: T });
    expect(parseLink(`#t=${T}`)).toEqual({ sessionId: null, token: T });
  });

  it("refuses links without a well-formed token or with a strange session", () => {
    expect(parseLink("http://x/#s=abc")).toBeNull();
    expect(parseLink("http://x/#s=abc&t=short")).toBeNull();
    expect(parseLink(`http://x/#s=../etc&t=${T}`)).toBeNull();
    expect(parseLink("#midi")).toBeNull();
  });

  it("keeps the room in the hash and drops the link", () => {
    expect(hashWithoutLink(`#s=a&t=${T}`)).toBe("");
    expect(hashWithoutLink("#midi")).toBe("#midi");
    expect(hashWithoutLink(`#s=a&t=${T}&room=midi`)).toBe("#room=midi");
  });

  it("reads stored credentials defensively", () => {
    expect(readStored(JSON.stringify({ sessionId: "abc", token: T }))).toEqual({ sessionId: "abc", token: T });
    expect(readStored(JSON.stringify({ sessionId: "abc", token: null }))).toEqual({ sessionId: "abc", token: null });
    expect(readStored(JSON.stringify({ sessionId: "a/b", token: T }))).toEqual({ sessionId: null, token: null });
    expect(readStored("{not json")).toEqual({ sessionId: null, token: null });
    expect(readStored(null)).toEqual({ sessionId: null, token: null });
  });
});
