import { describe, expect, it } from "vitest";
import { filenameOf, parseErrorBody, UploadError } from "./http";

describe("filenameOf", () => {
  it("reads the RFC 5987 form the server sends", () => {
    expect(filenameOf("attachment; filename*=UTF-8''drums%20unit%2003.wav")).toBe("drums unit 03.wav");
  });
  it("reads a plain filename and copes with nothing", () => {
    expect(filenameOf('attachment; filename="a.zip"')).toBe("a.zip");
    expect(filenameOf(null)).toBeNull();
  });
});

describe("parseErrorBody", () => {
  it("keeps the server's plain message, code and error id", () => {
    const err = parseErrorBody(400, JSON.stringify({ code: "bad_audio", message: "notes.txt is not audio residue can read", error_id: null }));
    expect(err).toBeInstanceOf(UploadError);
    expect(err.message).toBe("notes.txt is not audio residue can read");
    expect(err.code).toBe("bad_audio");
    expect(err.status).toBe(400);
    expect(err.errorId).toBeNull();
  });
  it("describes a body that is not JSON", () => {
    expect(parseErrorBody(502, "<html>").message).toBe("the server answered 502");
    expect(parseErrorBody(0, "").message).toMatch(/could not be reached/);
  });
});
